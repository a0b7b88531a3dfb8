# SPDX-License-Identifier: MIT
"""fwstore as the real ESP updaters see it (issue 5, PROTOCOL.md section 2): the exact
ESP8266httpUpdate request and its older-core variant, the ESP32 HTTPUpdate request,
Edgent's, query strings, 304 by MD5, SHA-256 and version, HEAD, ranges, keep-alive,
refusals recorded on the delivery, aborted and stalled downloads, the download limit,
canceled tickets, the /update poll endpoint and the HTTPS listener.

Delivery states are read from the database file (read-only) as the jobs API would
show them."""

import hashlib
import os
import socket
import sqlite3
import ssl
import struct
import time
import uuid

import pytest

import blynk
import checks
import conftest
import esphttp
import images

STALL = 2           # [fwstore] stall_timeout of the test server, seconds
MAX_DOWNLOADS = 2
BIG = 8 * 1024 * 1024   # more than the socket buffers hold: stalls are seen


@pytest.fixture(scope="module")
def fw():
    """otad with a short stall timeout, a download limit of 2 and the HTTPS listener
    (with the self-signed certificate otad init made for admind)."""
    conftest.require_binaries()
    srv = conftest.OtadServer(name="otad-fwstore")
    srv.tls_port = conftest.free_ports(1)[0]
    # max_downloads is each worker's: one worker makes the limit exact
    srv.config = {"fwstore": {
        "workers": "1",
        "stall_timeout": str(STALL), "max_downloads": str(MAX_DOWNLOADS),
        "tls_listen": "127.0.0.1:%d" % srv.tls_port,
        "tls_cert": os.path.join(srv.dir, "admin.crt"),
        "tls_key": os.path.join(srv.dir, "admin.key")}}
    try:
        srv.start()
        yield srv
    finally:
        srv.finish()


@pytest.fixture(scope="module")
def adm(fw):
    return fw.admin()


# -- helpers -------------------------------------------------------------------

def image(tag, size=96 * 1024, **kw):
    return images.esp8266_image(version="0.3.%s" % tag, build="Dec 02 2026 %s" % tag,
                                size=size, **kw)


def esp32_image(tag, size=96 * 1024):
    """A structurally plausible ESP32 app image: header, chip id 0 (ESP32) and the app
    descriptor at 32 (PROTOCOL.md 3.2)."""
    hdr = struct.pack("<BBBBI", 0xE9, 4, 2, 0x20, 0x400D1234)
    hdr += bytes([0xEE, 0, 0, 0]) + struct.pack("<H", 0) + bytes(9) + b"\x01"
    assert len(hdr) == 24
    desc = b"\x32\x54\xcd\xab" + bytes(12)
    desc += ("1.4.%s" % tag).encode().ljust(32, b"\0")
    desc += b"e2e-esp32".ljust(32, b"\0")
    desc += b"12:00:00".ljust(16, b"\0") + b"Dec 02 2026".ljust(16, b"\0")
    desc += b"v4.4.4".ljust(32, b"\0")
    body = hdr + bytes(8) + desc
    rng = hashlib.sha256(("esp32-" + tag).encode()).digest()
    filler = (rng * (size // len(rng) + 1))[:size - len(body)]
    return body + filler


def db(srv):
    path = os.path.join(checks.state_dir(srv), "otad.db")
    return sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=5)


def delivery(srv, dev_id):
    with db(srv) as c:
        row = c.execute("SELECT state, last_error, bytes_sent, ticket FROM deliveries"
                        " WHERE device_id = ? ORDER BY id DESC LIMIT 1",
                        (dev_id,)).fetchone()
    assert row is not None, "device %d has no delivery" % dev_id
    return {"state": row[0], "last_error": row[1] or "", "bytes_sent": row[2],
            "ticket": row[3]}


def wait_state(srv, dev_id, states, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        d = delivery(srv, dev_id)
        if d["state"] in states or time.monotonic() > deadline:
            return d
        time.sleep(0.05)


def upload(adm, img, token):
    r = adm.ota_start(img, token=token)
    assert r.status in (200, 201), "upload -> %r" % r
    return r


def ota_url(srv, adm, img):
    """A device, an upload for it, and the URL its ota command carried."""
    dev = adm.create_device()
    with blynk.device("127.0.0.1", srv.hwd_port, dev["token"]) as c:
        upload(adm, img, dev["token"])
        f = c.wait_for_ota_frame(timeout=10)
        assert f is not None, "no ota command within 10 s of the upload"
        url = blynk.ota_url(f)
    assert wait_state(srv, dev["id"], ("sent",))["state"] == "sent"
    return dev, url


def exchange(url, data, timeout=15.0):
    return esphttp.esp8266_get(url, timeout=timeout, request=data)


def one_line_body(r):
    text = r.body.decode("ascii")
    assert text.endswith("\n") and text.count("\n") == 1 and len(text) > 1, \
        "body is not one line of text: %r" % r.body
    assert r.header("Content-Type") == "text/plain", r
    return text


def check_image(r, img):
    d = images.digests(img)
    assert r.status == 200, "%r %r" % (r, r.body[:200])
    assert r.all("Content-Length") == [str(len(img))], r
    assert r.header("Content-Type") == "application/octet-stream", r
    assert r.header("x-MD5") == d["md5"], r
    assert r.header("X-SHA256") == d["sha256_b64"] and len(d["sha256_b64"]) == 44, r
    assert r.header("ETag") == '"%s"' % d["sha256"], r
    assert r.header("Last-Modified", ) and r.header("Last-Modified").endswith(" GMT"), r
    assert r.header("Transfer-Encoding") is None, r
    assert r.body == img, "body (%d bytes) differs from the image (%d)" % (
        len(r.body), len(img))
    assert b"\r\n\r\n" in r.first_chunk, "header split over segments: %r" % (
        r.first_chunk[:200],)


def small_rcvbuf_socket(srv, port=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    s.settimeout(10)
    s.connect(("127.0.0.1", port or srv.fw_port))
    return s


def read_head(s):
    data = b""
    while b"\r\n\r\n" not in data:
        c = s.recv(4096)
        assert c, "closed before the head: %r" % data
        data += c
    return data


# -- the requests of PROTOCOL.md 2.1-2.3 --------------------------------------

def test_exact_esp8266_request(fw, adm):
    img = image("01")
    dev, url = ota_url(fw, adm, img)
    r = exchange(url, esphttp.esp8266_request(url))
    check_image(r, img)
    assert r.header("Connection") == "close", r
    d = wait_state(fw, dev["id"], ("downloaded",))
    assert d["state"] == "downloaded" and d["bytes_sent"] == len(img), d


def test_old_core_request_without_md5_and_chip_id(fw, adm):
    img = image("02")
    dev, url = ota_url(fw, adm, img)
    req = esphttp.esp8266_request_with(url, drop=("x-ESP8266-Chip-ID",
                                                  "x-ESP8266-sketch-md5"))
    assert b"sketch-md5" not in req and b"Chip-ID" not in req
    check_image(exchange(url, req), img)
    assert wait_state(fw, dev["id"], ("downloaded",))["state"] == "downloaded"


def test_esp32_request(fw, adm):
    img = esp32_image("03")
    dev, url = ota_url(fw, adm, img)
    r = exchange(url, esphttp.esp32_request(url))
    check_image(r, img)
    assert wait_state(fw, dev["id"], ("downloaded",))["state"] == "downloaded"


def test_edgent_request_host_without_port(fw, adm):
    img = image("04")
    dev, url = ota_url(fw, adm, img)
    req = esphttp.raw_request(url, host="127.0.0.1")
    assert b"Host: 127.0.0.1\r\n" in req
    check_image(exchange(url, req), img)


@pytest.mark.parametrize("query", ["?auth=%s", "?auth=%s&s=1", "?s=1&x"])
def test_query_string_tolerated(fw, adm, query):
    img = image("05%d" % len(query))
    dev, url = ota_url(fw, adm, img)
    q = query % dev["token"] if "%s" in query else query
    check_image(exchange(url + q, esphttp.esp8266_request(url + q)), img)


def test_auth_of_another_device_is_refused(fw, adm):
    img = image("06")
    dev, url = ota_url(fw, adm, img)
    other = adm.create_device()
    r = exchange(url, esphttp.esp8266_request(url + "?auth=" + other["token"]))
    assert r.status == 403, r
    assert "another device" in one_line_body(r)


# -- 304 ---------------------------------------------------------------------

@pytest.mark.parametrize("by", ["md5", "sha256", "version"])
def test_304_when_device_runs_image(fw, adm, by):
    img = esp32_image("07" + by) if by == "sha256" else image("07" + by)
    dev, url = ota_url(fw, adm, img)
    d = images.digests(img)
    if by == "md5":
        req = esphttp.esp8266_request(url, sketch_md5=d["md5"])
    elif by == "sha256":
        req = esphttp.esp32_request(url, sha256=d["sha256"].upper())
    else:
        req = esphttp.esp8266_request(url, version=images.parse_tag(img)["mcu"])
    r = exchange(url, req)
    assert r.status == 304 and r.body == b"", r
    assert wait_state(fw, dev["id"], ("already-current",))["state"] == "already-current"
    # asked again with the same ticket: still "no updates", not an error
    assert exchange(url, req).status == 304


# -- HEAD, version checks, ranges, keep-alive --------------------------------------

def test_head(fw, adm):
    img = image("08")
    dev, url = ota_url(fw, adm, img)
    r = exchange(url, esphttp.esp8266_request_with(url, method="HEAD"))
    assert r.status == 200 and r.body == b"", r
    assert r.header("Content-Length") == str(len(img)), r
    assert r.header("x-MD5") == images.digests(img)["md5"], r
    assert delivery(fw, dev["id"])["state"] == "sent"


def test_version_mode_headers_only(fw, adm):
    img = image("09")
    dev, url = ota_url(fw, adm, img)
    r = exchange(url, esphttp.esp8266_request_with(url, set_=[("x-ESP8266-mode",
                                                               "version")]))
    assert r.status == 200 and r.body == b"", r
    assert r.header("Content-Length") == "0", r
    assert r.header("x-MD5") == images.digests(img)["md5"], r
    assert r.header("x-version") == "0.3.09", r
    assert delivery(fw, dev["id"])["state"] == "sent"


def test_keep_alive_ranges_and_416(fw, adm):
    img = image("10")
    dev, url = ota_url(fw, adm, img)
    d = images.digests(img)
    etag = '"%s"' % d["sha256"]
    host, port, path = esphttp.split_url(url)
    with socket.create_connection((host, port), timeout=10) as s:
        def ask(method="GET", extra=()):
            s.sendall(esphttp.raw_request(url, method=method, version="HTTP/1.1",
                                          headers=list(extra)))
            return esphttp.read_response(s, head_only=method == "HEAD")
        r = ask("HEAD")
        assert r.status == 200 and r.header("Connection") == "keep-alive", r
        assert r.header("Accept-Ranges") == "bytes", r
        r = ask(extra=[("Range", "bytes=100-1123")])
        assert r.status == 206, r
        assert r.header("Content-Range") == "bytes 100-1123/%d" % len(img), r
        assert r.body == img[100:1124]
        r = ask(extra=[("Range", "bytes=-50"), ("If-Range", etag)])
        assert r.status == 206 and r.body == img[-50:], r
        r = ask(extra=[("Range", "bytes=%d-" % len(img))])
        assert r.status == 416, r
        assert r.header("Content-Range") == "bytes */%d" % len(img), r
        r = ask(extra=[("Range", "bytes=0-9"), ("If-Range", '"%s"' % ("0" * 64))])
        assert r.status == 200 and r.body == img, "If-Range of another image: %r" % r
        # the whole image went through a kept connection, which stays usable
        r = ask("HEAD")
        assert r.status == 200, r
    assert wait_state(fw, dev["id"], ("downloaded",))["state"] == "downloaded"


def test_resume_with_range_completes_delivery(fw, adm):
    img = image("11")
    dev, url = ota_url(fw, adm, img)
    half = len(img) // 2
    r = exchange(url, esphttp.esp8266_request_with(url, set_=[
        ("Range", "bytes=%d-" % half)]))
    assert r.status == 206 and r.body == img[half:], r
    # the second half alone is no download (issue 13, item 7) ...
    assert wait_state(fw, dev["id"], ("downloaded",), timeout=1.0)["state"] != "downloaded"
    r = exchange(url, esphttp.esp8266_request_with(url, set_=[
        ("Range", "bytes=0-%d" % (half - 1))]))
    assert r.status == 206 and r.body == img[:half], r
    # ... the first half resumed before it completes the delivery
    assert wait_state(fw, dev["id"], ("downloaded",))["state"] == "downloaded"


# -- refusals --------------------------------------------------------------------

@pytest.mark.parametrize("case", ["free-space", "esp8266-for-esp32", "esp32-for-esp8266",
                                  "spiffs"])
def test_refusals_recorded(fw, adm, case):
    if case == "esp8266-for-esp32":
        img = esp32_image("12" + case)
    else:
        img = image("12" + case)
    dev, url = ota_url(fw, adm, img)
    if case == "free-space":
        req = esphttp.esp8266_request_with(url, set_=[("x-ESP8266-free-space", "4096")])
        status, words = 413, "free"
    elif case == "esp32-for-esp8266":
        req = esphttp.esp32_request(url)
        status, words = 409, "esp8266"
    elif case == "esp8266-for-esp32":
        req = esphttp.esp8266_request(url)
        status, words = 409, "esp32"
    else:
        req = esphttp.esp8266_request_with(url, set_=[("x-ESP8266-mode", "spiffs")])
        status, words = 409, "file-system"
    r = exchange(url, req)
    assert r.status == status, r
    assert words in one_line_body(r)
    d = wait_state(fw, dev["id"], ("incompatible",))
    assert d["state"] == "incompatible" and words in d["last_error"], d


def test_unknown_ticket_404(fw):
    url = "http://127.0.0.1:%d/ota/%s" % (fw.fw_port, uuid.uuid4().hex)
    r = exchange(url, esphttp.esp8266_request(url))
    assert r.status == 404, r
    one_line_body(r)


def test_canceled_ticket_403(fw, adm):
    img = image("13")
    dev, url = ota_url(fw, adm, img)
    assert adm.ota_stop().status == 200
    assert wait_state(fw, dev["id"], ("canceled",))["state"] == "canceled"
    r = exchange(url, esphttp.esp8266_request(url))
    assert r.status == 403, r
    assert "canceled" in one_line_body(r)


# -- aborted, stalled, too many ------------------------------------------------

@pytest.fixture(scope="module")
def big(fw, adm):
    """One 8 MiB image with the URLs of three devices' deliveries of it."""
    img = image("14", size=BIG)
    urls = [ota_url(fw, adm, img) for _ in range(3)]
    return img, urls


def big_request(url, method="GET"):
    return esphttp.esp8266_request_with(url, method=method, set_=[
        ("x-ESP8266-free-space", str(2 * BIG))])


def start_download(srv, url):
    s = small_rcvbuf_socket(srv)
    s.sendall(big_request(url))
    head = read_head(s)
    assert head.startswith(b"HTTP/1.1 200 "), head[:200]
    return s


def test_aborted_download_back_to_sent(fw, big):
    img, urls = big
    dev, url = urls[0]
    s = start_download(fw, url)
    got = 0
    while got < 256 * 1024:
        got += len(s.recv(65536))
    assert wait_state(fw, dev["id"], ("downloading",))["state"] == "downloading"
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    d = wait_state(fw, dev["id"], ("sent",), timeout=STALL + 5)
    assert d["state"] == "sent", d
    assert "stopped after" in d["last_error"], d


def test_stalled_client_closed(fw, big):
    img, urls = big
    dev, url = urls[1]
    s = start_download(fw, url)
    t0 = time.monotonic()
    assert wait_state(fw, dev["id"], ("downloading",))["state"] == "downloading"
    d = wait_state(fw, dev["id"], ("sent",), timeout=STALL + 8)
    waited = time.monotonic() - t0
    assert d["state"] == "sent" and "stopped after" in d["last_error"], d
    assert 0 < d["bytes_sent"] < len(img), "progress of the stalled download: %r" % d
    assert STALL - 0.5 <= waited, "aborted after %.1f s, stall timeout is %d s" % (
        waited, STALL)
    # the client then reads what was in flight and sees the end, short of the image
    got = 0
    s.settimeout(10)
    while True:
        c = s.recv(1 << 16)
        if not c:
            break
        got += len(c)
    s.close()
    assert got < len(img), "got the whole image from a stalled download"


def test_more_downloads_than_limit_get_503(fw, big):
    img, urls = big
    held = [start_download(fw, urls[i][1]) for i in range(MAX_DOWNLOADS)]
    try:
        url = urls[2][1]
        r = exchange(url, big_request(url))
        assert r.status == 503, r
        assert r.header("Retry-After"), r
        one_line_body(r)
        # HEAD takes no download slot
        r = exchange(url, big_request(url, method="HEAD"))
        assert r.status == 200, r
    finally:
        for s in held:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
    # the slots come back once the clients are gone
    deadline = time.monotonic() + 5
    while True:
        r = exchange(url, big_request(url))
        if r.status != 503 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    check_image(r, img)


def test_answered_clients_that_linger_leave_room_for_new_ones(fw):
    """A client that has its whole answer but has not closed yet (its FIN on the
    way, or lost) holds a descriptor for the lingering close, not one of the
    max_downloads + 256 connections: were it counted, a burst of finished
    downloads would make fwstore close new devices' connections unanswered."""
    url = "http://127.0.0.1:%d/no/such/file.bin" % fw.fw_port
    request = ("GET /no/such/file.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               "Connection: close\r\n\r\n").encode()
    answered = []
    try:
        for i in range(300):   # past 2 + 256, spread under the 256 per address
            s = socket.create_connection(("127.0.0.1", fw.fw_port), timeout=10,
                                         source_address=("127.0.0.%d" % (2 + i % 3), 0))
            s.sendall(request)
            answered.append(s)
        for s in answered:     # each one's answer, up to fwstore's FIN
            r = esphttp.read_response(s)
            assert r.status == 404, r
        # fwstore lingers on all of them (2 s) while a device comes for its image
        r = exchange(url, esphttp.esp8266_request(url))
        assert r.status == 404, r
    finally:
        for s in answered:
            s.close()


# -- the /update poll endpoint ---------------------------------------------------

def poll_url(srv, token):
    return "http://127.0.0.1:%d/update?auth=%s" % (srv.fw_port, token)


def test_poll_without_delivery_304_and_records_info(fw, adm):
    dev = adm.create_device()
    url = poll_url(fw, dev["token"])
    r = exchange(url, esphttp.esp8266_request(url, version="7.7.7"))
    assert r.status == 304 and r.body == b"", r
    d = adm.device(dev["id"])
    assert d["fw_version"] == "7.7.7", d
    assert "ESP8266-http-Update" in d["lib_version"], d
    bad = poll_url(fw, "nosuchtoken0123456789")
    r = exchange(bad, esphttp.esp8266_request(bad))
    assert r.status == 403, r
    one_line_body(r)


def test_poll_with_delivery(fw, adm):
    dev = adm.create_device()
    img = image("15")
    upload(adm, img, dev["token"])       # the device is never online on hwd
    assert wait_state(fw, dev["id"], ("queued",))["state"] == "queued"
    url = poll_url(fw, dev["token"])
    r = exchange(url, esphttp.esp8266_request(url, version="0.1.0"))
    check_image(r, img)
    assert wait_state(fw, dev["id"], ("downloaded",))["state"] == "downloaded"
    # rebooted into the image: the next poll says no updates, the update took
    r = exchange(url, esphttp.esp8266_request(url, sketch_md5=images.digests(img)["md5"]))
    assert r.status == 304, r
    assert wait_state(fw, dev["id"], ("succeeded",))["state"] == "succeeded"


# -- HTTPS ---------------------------------------------------------------------

def test_https_listener(fw, adm):
    img = esp32_image("16")
    dev, url = ota_url(fw, adm, img)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    tls_url = url.replace(":%d/" % fw.fw_port, ":%d/" % fw.tls_port)
    with socket.create_connection(("127.0.0.1", fw.tls_port), timeout=10) as raw:
        with ctx.wrap_socket(raw) as s:
            s.sendall(esphttp.esp32_request(tls_url))
            r = esphttp.read_response(s)
    assert r.status == 200 and r.body == img, r
    assert r.header("X-SHA256") == images.digests(img)["sha256_b64"], r
    assert wait_state(fw, dev["id"], ("downloaded",))["state"] == "downloaded"


def test_poll_keeps_the_jobs_pacing(fw, adm):
    """A poll fleet is paced like a Blynk fleet: with max_parallel 1, a device that
    polls while another downloads hears 304 (ask again later), then gets the image."""
    first, second = adm.create_device(), adm.create_device()
    img = image("17", size=BIG)        # more than the sockets hold: the first stays busy
    fw_id = upload(adm, img, adm.create_device()["token"]).json()["firmware"]["id"]
    r = adm.json_request("POST", "/admin/jobs", {
        "firmware_id": fw_id, "devices": [first["id"], second["id"]], "max_parallel": 1})
    assert r.status == 201, r
    url_a, url_b = poll_url(fw, first["token"]), poll_url(fw, second["token"])
    room = [("x-ESP8266-free-space", str(2 * BIG))]
    with socket.create_connection(("127.0.0.1", fw.fw_port), timeout=10) as s:
        s.sendall(esphttp.esp8266_request_with(url_a, set_=room))
        head = esphttp.read_response(s, head_only=True)
        assert head.status == 200, head
        assert wait_state(fw, first["id"], ("downloading",))["state"] == "downloading"
        r = exchange(url_b, esphttp.esp8266_request_with(url_b, set_=room))
        assert r.status == 304, r
        assert delivery(fw, second["id"])["state"] == "queued"
        while s.recv(65536):
            pass
    assert wait_state(fw, first["id"], ("downloaded",))["state"] == "downloaded"
    r = exchange(url_b, esphttp.esp8266_request_with(url_b, set_=room))
    check_image(r, img)
