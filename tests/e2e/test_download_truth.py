# SPDX-License-Identifier: MIT
"""The delivery lifecycle never lies about downloads (issue 13, items 7 and 8): a
delivery is `downloaded` only when every byte of the image reached the device, and its
percentage counts the bytes the device acknowledged, not those handed to the kernel.

Each test uses its own device and job; what is asserted is what a user sees through
the JSON admin API and the live event stream."""

import socket
import time

import pytest

import esphttp
import lifecycle as lc
from lifecycle import Device

SIZE = 600 * 1024
SLOW_RCVBUF = 4096      # the reader's receive buffer: what it acknowledges ahead


@pytest.fixture(scope="module")
def image():
    return lc.new_image(version="0.2.13", build="Dec 13 2026 13:00:00", size=SIZE)


@pytest.fixture(scope="module")
def firmware_id(otad, image):
    """The image uploaded once (a job for a throw-away device, stopped)."""
    return lc.upload_stopped(otad, image)


# -- helpers -------------------------------------------------------------------

def ota_for_new_device(otad, admin, firmware_id):
    """A device online on hwd, a job for it, and the URL its ota command carried."""
    dev = Device(otad, admin).connect()
    job = lc.create_job(admin, firmware_id, devices=[dev.id])
    url = dev.wait_ota()
    assert url is not None, "device %d got no ota command" % dev.id
    return dev, job["id"], url


def get_range(url, spec):
    """The ESP8266httpUpdate request with a Range header, over a raw socket."""
    req = esphttp.esp8266_request_with(url, set_=[("Range", "bytes=" + spec)])
    return esphttp.esp8266_get(url, request=req)


def settled(admin, job_id, dev_id, wait=1.5):
    """The delivery once fwstore's reports had time to arrive (or it is downloaded)."""
    return lc.wait_delivery(admin, job_id, dev_id, "downloaded", timeout=wait)


def slow_socket(url):
    """A client whose small receive buffer makes its kernel acknowledge little more
    than the application read (set before connect, so the window is small)."""
    host, port, _ = esphttp.split_url(url)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SLOW_RCVBUF)
    s.settimeout(10)
    s.connect((host, port))
    s.sendall(esphttp.esp8266_request(url))
    return s


def read_paced(s, rate, until=None, limit=None):
    """Reads at about rate bytes/s until the time `until` (monotonic), `limit` bytes
    or the server's close; returns the bytes read."""
    data = bytearray()
    t0 = time.monotonic()
    while limit is None or len(data) < limit:
        now = time.monotonic()
        if until is not None and now >= until:
            break
        ahead = len(data) / rate - (now - t0)
        if ahead > 0:
            time.sleep(min(ahead, 0.05))
            continue
        c = s.recv(1024)
        if not c:
            break
        data += c
    return bytes(data)


def read_all(s, data=b""):
    data = bytearray(data)
    while True:
        c = s.recv(1 << 16)
        if not c:
            return bytes(data)
        data += c


def body_of(raw):
    head, sep, body = raw.partition(b"\r\n\r\n")
    assert sep and head.startswith(b"HTTP/1.1 200 "), raw[:200]
    return body


# -- item 7: a byte is not a download ------------------------------------------

def test_one_byte_is_not_a_download(otad, admin, image, firmware_id):
    dev, job_id, url = ota_for_new_device(otad, admin, firmware_id)
    try:
        r = get_range(url, "-1")
        assert r.status == 206 and r.body == image[-1:], r
        assert r.header("Content-Range") == "bytes %d-%d/%d" % (
            SIZE - 1, SIZE - 1, SIZE), r
        d = settled(admin, job_id, dev.id)
        assert d["state"] in ("sent", "downloading"), \
            "one byte (the last) made the delivery %r" % d
        assert d["percent"] < 100, d

        r = get_range(url, "0-999")
        assert r.status == 206 and r.body == image[:1000], r
        d = settled(admin, job_id, dev.id)
        assert d["state"] in ("sent", "downloading") and d["percent"] < 100, \
            "the first 1000 bytes and the last one made the delivery %r" % d

        r = get_range(url, "1000-")
        assert r.status == 206 and r.body == image[1000:], r
        d = lc.wait_delivery(admin, job_id, dev.id, "downloaded")
        assert d["state"] == "downloaded", \
            "ranges covering the whole image left the delivery %r" % d
        assert d["bytes_sent"] == SIZE and d["percent"] == 100, d
    finally:
        dev.close()


# -- item 8: 100 % only once the device has it ---------------------------------

def test_slow_reader_percent_follows_what_it_read(otad, admin, image, firmware_id):
    dev, job_id, url = ota_for_new_device(otad, admin, firmware_id)
    s = slow_socket(url)
    try:
        t0 = time.monotonic()
        got = read_paced(s, 30 * 1024, until=t0 + 2.0)
        d = settled(admin, job_id, dev.id, wait=0.3)
        assert d["state"] != "downloaded", \
            "downloaded after the device read %d of %d bytes: %r" % (len(got), SIZE, d)
        assert d["percent"] < 60, \
            "%d %% after the device read %d of %d bytes: %r" % (
                d["percent"], len(got), SIZE, d)
        body = body_of(read_all(s, got))
        assert body == image, "body of %d bytes differs from the image" % len(body)
    finally:
        s.close()
        dev.close()
    d = lc.wait_delivery(admin, job_id, dev.id, "downloaded")
    assert d["state"] == "downloaded", d
    assert d["bytes_sent"] == SIZE and d["percent"] == 100, d


def test_live_events_show_each_ten_percent_once(otad, admin, image, firmware_id):
    dev, job_id, url = ota_for_new_device(otad, admin, firmware_id)
    conn, resp = lc.events(admin, "/admin/events?job=%d" % job_id, timeout=20)
    try:
        assert resp.status == 200, resp.status
        s = slow_socket(url)
        try:
            body = body_of(read_paced(s, 200 * 1024))
        finally:
            s.close()
        assert body == image, "body of %d bytes differs from the image" % len(body)
        percents, states = [], []
        while "downloaded" not in states:
            ev = lc.read_event(resp)
            assert ev is not None, (states, percents)
            kind, data = ev
            if kind != "delivery" or data["device_id"] != dev.id:
                continue
            if data["from"] == data["state"]:       # progress
                assert data["state"] == "downloading", data
                percents.append(data["percent"])
            else:
                states.append(data["state"])
        steps = [p for p in percents if p < 100]
        assert steps == list(range(10, 100, 10)), \
            "progress events before `downloaded`: %r" % percents
    finally:
        conn.close()
        dev.close()


# -- a body that went into the kernel at once ----------------------------------

SMALL = 10 * 1024        # fits in a fresh socket's send buffer: one sendfile takes it


def test_body_in_the_kernel_at_once_waits_for_the_slow_reader(otad, admin):
    """fwstore hands a small image to the kernel in one sendfile and ends the answer
    with its FIN; the device still reads it for 4 s, twice the short linger of a
    closed answer. The delivery stays short of downloaded while the device reads,
    and becomes downloaded once it has every byte."""
    small = lc.new_image(version="0.2.14", build="Dec 14 2026 14:00:00", size=SMALL)
    dev, job_id, url = ota_for_new_device(otad, admin, lc.upload_stopped(otad, small))
    s = slow_socket(url)
    try:
        t0 = time.monotonic()
        got = read_paced(s, 2500, until=t0 + 2.5)
        d = settled(admin, job_id, dev.id, wait=0.3)
        assert d["state"] != "downloaded" and d["percent"] < 100, \
            "after the device read %d bytes of the answer: %r" % (len(got), d)
        got += read_paced(s, 2500)
    finally:
        s.close()
        dev.close()
    assert body_of(got) == small, "the body differs from the image"
    d = lc.wait_delivery(admin, job_id, dev.id, "downloaded")
    assert d["state"] == "downloaded", d
    assert d["bytes_sent"] == SMALL and d["percent"] == 100, d
