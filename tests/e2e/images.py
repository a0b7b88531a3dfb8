# SPDX-License-Identifier: MIT
"""Synthetic firmware images for the end-to-end tests (PROTOCOL.md section 3).

esp8266_image() builds what the Arduino core writes for a NodeMCU sketch, as far as
otad looks at it: the 8-byte ESP8266 header, then deterministic pseudo-random bytes
with the Blynk info tag (3.3) in the middle. version/build select "old" and "new"
builds; the same arguments always give the same bytes.
"""

import base64
import hashlib
import random
import struct

BLYNK_TAG = b"blnkinf\0"

# flash modes and the size/frequency byte (high nibble: size, low: frequency)
QIO, QOUT, DIO, DOUT = 0, 1, 2, 3
SIZE_4M_40MHZ = 0x40

DEFAULT_VERSION = "0.2.0"
DEFAULT_BUILD = "Dec 01 2026 12:00:00"


def blynk_tag(version, build, fw_type="TMPL", blynk="1.3.2", dev="NodeMCU", extra=None):
    """blnkinf NUL, key NUL value NUL pairs, ended by an empty key."""
    pairs = [("mcu", version), ("fw-type", fw_type), ("build", build),
             ("blynk", blynk), ("dev", dev)]
    if extra:
        pairs += list(extra.items())
    out = bytearray(BLYNK_TAG)
    for k, v in pairs:
        out += k.encode() + b"\0" + v.encode() + b"\0"
    out += b"\0"
    return bytes(out)


def esp8266_header(segments=3, flash_mode=DIO, size_freq=SIZE_4M_40MHZ,
                   entry=0x40100000 | 0x7A8):
    return struct.pack("<BBBBI", 0xE9, segments, flash_mode, size_freq, entry)


def esp8266_image(version=DEFAULT_VERSION, build=DEFAULT_BUILD, size=300 * 1024,
                  fw_type="TMPL", dev="NodeMCU", seed=None, tag=True):
    """A deterministic ESP8266 image of exactly size bytes."""
    header = esp8266_header()
    t = blynk_tag(version, build, fw_type=fw_type, dev=dev) if tag else b""
    if size < len(header) + len(t) + 16:
        raise ValueError("image size too small for the header and the tag")
    if seed is None:
        seed = "%s|%s|%s|%s|%d" % (version, build, fw_type, dev, size)
    rng = random.Random(seed)
    filler = bytearray(rng.randbytes(size - len(header) - len(t)))
    # keep stray copies of the markers out of the random bytes
    for marker in (BLYNK_TAG, b"\0build\0"):
        i = filler.find(marker)
        while i >= 0:
            filler[i] ^= 0xFF
            i = filler.find(marker)
    mid = len(filler) // 2
    img = header + bytes(filler[:mid]) + t + bytes(filler[mid:])
    assert len(img) == size
    return img


def parse_tag(img):
    """The key/value pairs of the first Blynk tag in img (a test helper)."""
    i = img.find(BLYNK_TAG)
    if i < 0:
        return None
    parts = img[i + len(BLYNK_TAG):].split(b"\0")
    info = {}
    for j in range(0, len(parts) - 1, 2):
        if parts[j] == b"":
            break
        info[parts[j].decode()] = parts[j + 1].decode()
    return info


def digests(img):
    """What fwstore must send for img: x-MD5 hex, X-SHA256 base64, sha256 hex."""
    return {
        "md5": hashlib.md5(img).hexdigest(),
        "sha256": hashlib.sha256(img).hexdigest(),
        "sha256_b64": base64.b64encode(hashlib.sha256(img).digest()).decode(),
        "size": len(img),
    }
