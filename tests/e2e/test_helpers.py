# SPDX-License-Identifier: MIT
"""Self-tests of the image generator, the ESP8266 request builder and the INI rewriter
(no otad needed)."""

import base64
import hashlib
import socket
import struct
import threading

import conftest
import ports as ports_mod
import esphttp
import images


def test_image_header_and_tag():
    img = images.esp8266_image(version="0.3.1", build="Jan 02 2027 03:04:05")
    assert len(img) == 300 * 1024
    magic, segs, mode, sizefreq, entry = struct.unpack_from("<BBBBI", img, 0)
    assert magic == 0xE9 and segs >= 1 and mode in (0, 1, 2, 3)
    assert sizefreq >> 4 == 4                      # 4M flash
    assert 0x40000000 <= entry < 0x41000000
    assert img.count(images.BLYNK_TAG) == 1
    pos = img.find(images.BLYNK_TAG)
    assert 100 * 1024 < pos < 200 * 1024           # in the middle
    assert images.parse_tag(img) == {"mcu": "0.3.1", "fw-type": "TMPL",
                                     "build": "Jan 02 2027 03:04:05", "blynk": "1.3.2",
                                     "dev": "NodeMCU"}
    tag = images.blynk_tag("0.3.1", "Jan 02 2027 03:04:05")
    assert tag.endswith(b"NodeMCU\0\0")
    assert img[pos:pos + len(tag)] == tag


def test_image_deterministic_and_builds_differ():
    a = images.esp8266_image()
    assert a == images.esp8266_image()
    b = images.esp8266_image(build="Dec 02 2026 12:00:00")
    assert a != b
    assert images.parse_tag(b)["build"] == "Dec 02 2026 12:00:00"
    assert b"\0build\0" not in a.replace(images.BLYNK_TAG, b"")[:a.find(images.BLYNK_TAG)]


def test_digests():
    img = images.esp8266_image(size=4096)
    d = images.digests(img)
    assert d["md5"] == hashlib.md5(img).hexdigest() and len(d["md5"]) == 32
    assert len(d["sha256_b64"]) == 44
    assert base64.b64decode(d["sha256_b64"]) == hashlib.sha256(img).digest()


def test_esp8266_request_bytes():
    req = esphttp.esp8266_request("http://10.0.0.5:8080/ota/abc?auth=tok")
    lines = req.decode().split("\r\n")
    assert lines[0] == "GET /ota/abc?auth=tok HTTP/1.0"
    assert lines[1] == "Host: 10.0.0.5:8080"
    assert "User-Agent: ESP8266-http-Update" in lines
    assert "Connection: close" in lines
    assert "x-ESP8266-mode: sketch" in lines
    assert "x-ESP8266-free-space: 4194304" in lines
    assert lines[-3] == "Content-Length: 0"
    assert req.endswith(b"\r\n\r\n") and not req.endswith(b"\r\n\r\n\r\n")
    assert not any(line.startswith("x-ESP8266-version") for line in lines)
    # no port in Host for 80
    req80 = esphttp.esp8266_request("http://example.invalid/fw.bin").decode()
    assert "\r\nHost: example.invalid\r\n" in req80


def test_esp8266_get_against_fake_server():
    body = images.esp8266_image(size=20000)
    seen = {}
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    port = ls.getsockname()[1]

    def serve():
        c, _ = ls.accept()
        with c:
            data = b""
            while b"\r\n\r\n" not in data:
                data += c.recv(4096)
            seen["req"] = data
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nx-MD5: %s\r\n\r\n"
                      % (len(body), hashlib.md5(body).hexdigest().encode()))
            c.sendall(body)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    url = "http://127.0.0.1:%d/ota/xyz" % port
    r = esphttp.esp8266_get(url, timeout=5)
    t.join(5)
    ls.close()
    assert seen["req"] == esphttp.esp8266_request(url)
    assert r.status == 200
    assert r.header("X-md5") == hashlib.md5(body).hexdigest()
    assert r.body == body


def test_rewrite_ini(tmp_path):
    p = tmp_path / "otad.conf"
    p.write_text("; comment\n[otad]\nstate_dir = /x\ncontrol_socket = /run/otad/c.sock\n"
                 "[hwd]\nlisten = [::]:8442\n[admind]\nlisten = [::]:9443\n"
                 "tls_cert = /x/c.pem\n")
    conftest.rewrite_ini(str(p), {
        "otad": {"control_socket": "/tmp/c.sock"},
        "hwd": {"listen": "127.0.0.1:1"},
        "admind": {"listen": "127.0.0.1:2", "new_key": "v"},
        "fwstore": {"listen": "127.0.0.1:3", "public_url": ""},
    })
    text = p.read_text()
    assert "; comment\n[otad]\nstate_dir = /x\ncontrol_socket = /tmp/c.sock\n" in text
    assert "[hwd]\nlisten = 127.0.0.1:1\n" in text
    assert "[admind]\nlisten = 127.0.0.1:2\ntls_cert = /x/c.pem\nnew_key = v\n" in text
    assert text.endswith("[fwstore]\nlisten = 127.0.0.1:3\npublic_url = \n")


def test_free_ports_distinct():
    ports = conftest.free_ports(3)
    assert len(set(ports)) == 3


def test_free_ports_below_the_ephemeral_range(monkeypatch):
    """A port chosen for a daemon is one no outgoing connection can take first."""
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        ephemeral_low = int(f.read().split()[0])
    low = ports_mod.port_range()[0]
    monkeypatch.setenv("OTAD_TEST_PORTS", "%d-%d" % (low, low + 19))
    ports = conftest.free_ports(5, dual=(0,) if conftest.ipv6_loopback() else ())
    assert len(set(ports)) == 5
    assert all(low <= p <= low + 19 < ephemeral_low for p in ports)
