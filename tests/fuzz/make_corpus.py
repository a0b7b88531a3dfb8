#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Writes the seed corpora of tests/fuzz/corpus/<harness>/ (small real inputs, a few KB
each).  The seeds are in the repository; run this again only to regenerate them.  Files
named crash-* are regression inputs kept by hand and never touched here."""

import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import images  # noqa: E402

OUT = os.path.join(HERE, "corpus")


def put(harness, name, data):
    d = os.path.join(OUT, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def blynk_frame(cmd, msg_id, body=b""):
    return struct.pack(">BHH", cmd, msg_id, len(body)) + body


def blynk():
    tok = b"0123456789abcdef0123456789abcdef"
    info13 = b"\0".join([b"mcu", b"0.2.0", b"fw-type", b"TMPL", b"build",
                         b"Dec 01 2026 12:00:00", b"blynk", b"1.3.2", b"h-beat", b"45",
                         b"buff-in", b"1024", b"dev", b"NodeMCU", b"cpu", b"ESP8266",
                         b"con", b"ESP8266", b"tmpl", b"TMPL1234"]) + b"\0"
    info06 = b"\0".join([b"ver", b"0.6.1", b"h-beat", b"10", b"buff-in", b"256",
                         b"dev", b"Arduino", b"fw-type", b"TMPL", b"fw", b"1.0.0",
                         b"build", b"Jan 02 2020 03:04:05"])
    infopy = b"\0".join([b"ver", b"0.2.6", b"h-beat", b"50", b"buff-in", b"4096",
                         b"dev", b"python"])
    infolinux = info06 + b"\0conn\0Socket"
    put("fuzz_blynk", "login_info_13",
        blynk_frame(29, 1, tok) + blynk_frame(17, 2, info13) + blynk_frame(6, 3))
    put("fuzz_blynk", "login_info_06", blynk_frame(2, 1, tok) + blynk_frame(17, 2, info06))
    put("fuzz_blynk", "info_python", blynk_frame(29, 1, tok) + blynk_frame(17, 2, infopy))
    put("fuzz_blynk", "info_linux", blynk_frame(29, 1, tok) + blynk_frame(17, 2, infolinux))
    put("fuzz_blynk", "pins", blynk_frame(20, 4, b"vw\x001\x00hello") +
        blynk_frame(20, 5, b"vr\x001\x002\x00255") +
        blynk_frame(16, 6, b"dr\x0013") + blynk_frame(15, 7, b"i\x00V1"))
    put("fuzz_blynk", "events", blynk_frame(64, 8, b"sys_ota\0OTA started") +
        blynk_frame(14, 9, b"hello") + blynk_frame(19, 10, b"1\0label\0x") +
        blynk_frame(0, 11) + blynk_frame(6, 0))
    put("fuzz_blynk", "ota_cmd", blynk_frame(17, 7777, b"ota\0http://127.0.0.1:8080/ota/x"))
    put("fuzz_blynk", "toobig", b"\x14\x00\x02\xff\xff")


MP_BOUNDARY = "------------------------d74496d66958873e"


def multipart():
    ct = "multipart/form-data; boundary=" + MP_BOUNDARY
    img = images.esp8266_image(size=1024)
    body = ("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"fw.bin\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n" % MP_BOUNDARY).encode()
    body += img + ("\r\n--%s--\r\n" % MP_BOUNDARY).encode()
    put("fuzz_multipart", "curl_file", ct.encode() + b"\n" + body)
    body2 = ("--%s\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nnew build\r\n"
             "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a b.bin\"\r\n"
             "\r\n\xe9\x03\x02\x40abc\r\n--%s--\r\n" % ((MP_BOUNDARY,) * 3)).encode("latin-1")
    put("fuzz_multipart", "two_parts", ct.encode() + b"\n" + body2)
    put("fuzz_multipart", "quoted_boundary",
        b'multipart/form-data; boundary="a b"\n--a b\r\n'
        b'Content-Disposition: form-data; name=file; filename="x"\r\n\r\nxyz\r\n--a b--')
    put("fuzz_multipart", "truncated", ct.encode() + b"\n" + body[:200])


def image():
    put("fuzz_image", "esp8266_blnkinf", images.esp8266_image(size=2048))
    put("fuzz_image", "esp8266_oldbuild",
        images.esp8266_header() + b"\0" * 40 + b"\0build\0Aug 14 2017 20:31:49\0" + b"\xff" * 64)
    put("fuzz_image", "esp8266_gzip", b"\x1f\x8b\x08\x00" + b"\0" * 60)
    esp32 = bytearray(512)
    esp32[0] = 0xE9
    esp32[12] = 0x05          # esp32c3
    esp32[32:36] = b"\x32\x54\xcd\xab"
    esp32[48:48 + 5] = b"1.2.3"
    esp32[80:80 + 7] = b"blinker"
    esp32 += images.blynk_tag("1.2.3", "Mar 03 2025 10:11:12")
    put("fuzz_image", "esp32c3_desc_blnkinf", bytes(esp32))


HTTP_ESP = ("GET /ota/0123456789abcdef HTTP/1.0\r\nHost: 10.0.0.5:8080\r\n"
            "User-Agent: ESP8266-http-Update\r\nConnection: close\r\n"
            "x-ESP8266-Chip-ID: 15602487\r\nx-ESP8266-STA-MAC: DE:BA:7A:B1:E0:42\r\n"
            "x-ESP8266-AP-MAC: DE:BA:7A:B1:E0:42\r\nx-ESP8266-free-space: 4194304\r\n"
            "x-ESP8266-sketch-size: 400000\r\n"
            "x-ESP8266-sketch-md5: 00112233445566778899aabbccddeeff\r\n"
            "x-ESP8266-chip-size: 4194304\r\nx-ESP8266-sdk-version: 2.2.2-dev(38a443e)\r\n"
            "x-ESP8266-mode: sketch\r\nx-ESP8266-version: 0.1.0\r\nContent-Length: 0\r\n\r\n")


def http():
    put("fuzz_http", "esp8266_update", HTTP_ESP)
    put("fuzz_http", "esp32_update",
        "GET /update?auth=abc HTTP/1.1\r\nHost: h\r\nUser-Agent: ESP32-http-Update\r\n"
        "x-ESP32-STA-MAC: 24:0A:C4:00:00:01\r\nx-ESP32-sketch-md5: 0011\r\n"
        "Range: bytes=100-\r\nConnection: close\r\n\r\n")
    put("fuzz_http", "curl_upload",
        "POST /admin/ota/start?token=T HTTP/1.1\r\nHost: localhost:9443\r\n"
        "Authorization: Basic YWRtaW46cHc=\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n"
        "Content-Length: 180\r\nContent-Type: multipart/form-data; boundary=" + MP_BOUNDARY +
        "\r\nExpect: 100-continue\r\n\r\n" + "x" * 180)
    put("fuzz_http", "pipelined_keepalive",
        "GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /later?x=%41 HTTP/1.1\r\nHost: h\r\n\r\n"
        "GET /b HTTP/1.1\r\nHost: h\r\n\r\nHEAD /stream HTTP/1.1\r\nHost: h\r\n\r\n")
    put("fuzz_http", "chunked",
        "POST /admin/devices HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
        "Content-Type: application/json\r\n\r\n5\r\n{\"a\":\r\n3\r\n1}\n\r\n0\r\n\r\n")
    put("fuzz_http", "refused_body",
        "POST /refuse HTTP/1.1\r\nHost: h\r\nContent-Length: 40\r\n\r\n" + "y" * 40)
    put("fuzz_http", "fail_body",
        "PUT /fail HTTP/1.1\r\nHost: h\r\nContent-Length: 64\r\n\r\n" + "z" * 64)
    put("fuzz_http", "absolute_form",
        "GET http://example.com/ota/a%2Fb?x#f HTTP/1.1\r\nHost: example.com\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n")


def ctl_str(s):
    s = s.encode() if isinstance(s, str) else s
    return struct.pack(">I", len(s)) + s


def ctl_frame(t, reqid, payload=b""):
    return struct.pack(">HHII", t, 0, reqid, len(payload)) + payload


def ctl():
    u8, u16, u32, u64 = (lambda v: struct.pack(">B", v), lambda v: struct.pack(">H", v),
                         lambda v: struct.pack(">I", v), lambda v: struct.pack(">Q", v))
    hdrs = u32(2) + ctl_str("user-agent") + ctl_str("ESP8266-http-Update") + \
        ctl_str("x-esp8266-version") + ctl_str("0.1.0")
    frames = {
        "hello": ctl_frame(1, 1, u32(1) + ctl_str("hwd")),
        "auth": ctl_frame(10, 2, ctl_str("0123456789abcdef") + ctl_str("127.0.0.1:5555")),
        "online": ctl_frame(11, 0) + ctl_frame(12, 0, u64(1) + u64(7) + ctl_str("1.2.3.4:5")
                                               + ctl_str("127.0.0.1:8442")) +
        ctl_frame(13, 0, u64(1) + u64(7) + u32(2) + ctl_str("mcu") + ctl_str("0.2.0") +
                  ctl_str("build") + ctl_str("Dec 01 2026 12:00:00")) + ctl_frame(17, 0),
        "offline_event": ctl_frame(14, 0, u64(1) + u64(7)) +
        ctl_frame(16, 0, u64(1) + ctl_str("sys_ota") + ctl_str("OTA started")),
        "ota": ctl_frame(20, 0, u64(1) + u64(9) + ctl_str("/ota/abc")) +
        ctl_frame(15, 0, u64(1) + u64(9) + u32(1) + ctl_str("")),
        "fw_check": ctl_frame(30, 3, ctl_str("ticket") + ctl_str("127.0.0.1:4000") + u8(0) +
                              hdrs) +
        ctl_frame(31, 0, u64(9) + u8(1) + u64(1000) + u64(4000)),
        "fw_poll": ctl_frame(32, 4, ctl_str("tok") + ctl_str("127.0.0.1:4001") + u8(1) + hdrs),
        "replies": ctl_frame(0x8001, 1) + ctl_frame(0x8002, 2, ctl_str("no")) +
        ctl_frame(0x8003, 3, u8(0) + u64(1) + ctl_str("dev")) +
        ctl_frame(0x8004, 4, u16(200) + ctl_str("OK") + u64(9) + ctl_str("ab" * 32) +
                  u64(4096) + ctl_str("cd" * 16) + ctl_str("q83v") + ctl_str("0.2.0") +
                  u64(1700000000)),
        "oversized": struct.pack(">HHII", 1, 0, 1, 0x7fffffff),
    }
    for name, data in frames.items():
        put("fuzz_ctl", name, data)


def cfg():
    put("fuzz_cfg", "full",
        "[otad]\nstate_dir = /var/lib/otad\ncontrol_socket = /run/otad/control.sock\n\n"
        "[hwd]\nlisten = [::]:8442, 0.0.0.0:8442\ntls_listen =\nmax_connections = 20000\n"
        "login_timeout = 10\nidle_timeout = 23\nmax_body = 1024\nrate_limit = 100\n\n"
        "[admind]\nlisten = 127.0.0.1:9443\nadmins_file = /etc/otad/admins\n"
        "allowed_ips = 127.0.0.0/8, ::1\nmax_firmware_size = 16M\nsent_timeout = 300\n\n"
        "[fwstore]\nlisten = [::]:8080\npublic_url = http://ota.example.com:8080\n"
        "max_downloads = 200\nstall_timeout = 30\n")
    put("fuzz_cfg", "odd", "; comment\n[hwd]\nmax_body=99999999999\n[nope]\nx=1\n"
        "[admind]\nmax_firmware_size = 1G\nmax_firmware_size = 12x\nbad line\n")


def admins():
    # real hashes of "password" (python3 crypt, openssl passwd -6)
    put("fuzz_admins", "sha512",
        "# admins\nadmin:$6$6cHMZyLdJO4QSlip$sFrDzojjV71BNv.Id.ToHqZ6uZhSPkD5xLSiSBvILoVxF78"
        "T6p9DWeUYssgWw0wi.8O53iF7BanQmcMDrgGmQ0\n\n")
    put("fuzz_admins", "yescrypt",
        "admin:$y$j9T$F5Jx5fExrKuJYZL2kDpMi/$3hkhGhsyLwmlqGTYN.gbkUYx2QLQj7n.xfTmDVDjio/\n"
        "ops:$2b$05$LZ3Q4nNrP3DpjhgWfxfJP.AxMjkB2k.lm5mVEMHzm2ZSm9ZCr4X7W\n")
    put("fuzz_admins", "bad", "nocolon\n:empty\nu:plain\n")


def json():
    put("fuzz_json", "start", '{"token":"abc","firmware":"ab12","note":null,"force":true}')
    put("fuzz_json", "nested", '{"a":[1,-2.5e3,"x\\u00e9\\ud83d\\ude00",[],{}],"b":{"c":false}}')
    put("fuzz_json", "escapes", '["\\"\\\\\\/\\b\\f\\n\\r\\t", 0, 1e400, -0]')


def peers():
    """fuzz_peers: a role byte (0 hwd, 1 fwstore), then what that peer sends after its
    hello; the token is the harness's seeded device's."""
    u8, u32, u64 = (lambda v: struct.pack(">B", v), lambda v: struct.pack(">I", v),
                    lambda v: struct.pack(">Q", v))
    tok = "fuzz-token-0123456789"
    hdrs = u32(1) + ctl_str("x-esp8266-version") + ctl_str("0.1.0")
    hwd = (ctl_frame(10, 2, ctl_str(tok) + ctl_str("1.2.3.4:5")) + ctl_frame(11, 0) +
           ctl_frame(12, 0, u64(1) + u64(7) + ctl_str("1.2.3.4:5") + ctl_str("127.0.0.1:8442"))
           + ctl_frame(17, 0) +
           ctl_frame(13, 0, u64(1) + u64(7) + u32(2) + ctl_str("mcu") + ctl_str("0.2.0") +
                     ctl_str("build") + ctl_str("Dec 01 2026 12:00:00")) +
           ctl_frame(16, 0, u64(1) + ctl_str("sys_ota") + ctl_str("OTA started")) +
           ctl_frame(15, 0, u64(1) + u64(9) + u32(1) + ctl_str("")) +
           ctl_frame(18, 0, u64(3) + u64(0)) +
           ctl_frame(19, 0, u64(1) + ctl_str("defer") + u32(30)) +
           ctl_frame(19, 0, u64(1) + ctl_str("accept") + u32(0)) +
           ctl_frame(14, 0, u64(1) + u64(7)))
    fw = (ctl_frame(30, 3, ctl_str("ticket") + ctl_str("127.0.0.1:4000") + u8(0) + hdrs) +
          ctl_frame(32, 4, ctl_str(tok) + ctl_str("127.0.0.1:4001") + u8(1) + hdrs) +
          ctl_frame(31, 0, u64(9) + u8(1) + u64(1000) + u64(4000)))
    put("fuzz_peers", "hwd", u8(0) + hwd)
    put("fuzz_peers", "fwstore", u8(1) + fw)
    put("fuzz_peers", "wrong_role", u8(1) + hwd[:40])


for fn in (blynk, multipart, image, http, ctl, cfg, admins, json, peers):
    fn()
