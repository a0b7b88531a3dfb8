# SPDX-License-Identifier: MIT
"""hwd speaks the Blynk protocol as every library since 2017 expects it and does not fall
over on bad input (issue 3): each hardware-info key set, frames split into single bytes
or packed into one segment, PING, the messages a sketch sends (HARDWARE kept and returned
by HARDWARE_SYNC, BRIDGE, PROPERTY, notifications, EVENT_LOG), the rate limit, oversized
lengths, garbage, a device that stops reading, two connections with one token, and an
OTA command that does not fit the device's buff-in."""

import random
import socket
import struct
import time
import uuid

import pytest

import blynk
import images

PROPERTY, BRIDGE, EVENT_LOG = 19, 15, 64
TWEET, EMAIL, NOTIFY, SMS = 12, 13, 14, 18
QUOTA_LIMIT, NOT_ALLOWED, NOT_IN_NETWORK = 1, 6, 7

# PROTOCOL.md 1.4, one dict per client generation, keys in the order each sends them
KEY_SETS = {
    "arduino-1.3": [("mcu", "0.3.1"), ("fw-type", "TMPL13"), ("build", "Jan 10 2025 08:00:00"),
                    ("blynk", "1.3.2"), ("h-beat", "45"), ("buff-in", "1024"),
                    ("dev", "NodeMCU"), ("cpu", "ESP8266"), ("con", "WiFi"),
                    ("tmpl", "TMPL13")],
    "arduino-0.6": [("ver", "0.6.1"), ("h-beat", "10"), ("buff-in", "256"),
                    ("dev", "Arduino Uno"), ("cpu", "ATmega328P"), ("con", "W5100"),
                    ("fw-type", "TMPL06"), ("fw", "2.0.1"), ("build", "Feb  2 2020 10:00:00"),
                    ("tmpl", "TMPL06")],
    "linux": [("ver", "0.6.1"), ("h-beat", "10"), ("buff-in", "4096"), ("dev", "Linux"),
              ("cpu", "x86"), ("con", "Socket"), ("fw-type", "TMPLLX"), ("fw", "1.1.0"),
              ("build", "Mar  1 2021 12:00:00"), ("tmpl", "TMPLLX"), ("conn", "TCP")],
    "python": [("ver", "0.2.6"), ("h-beat", "50"), ("buff-in", "1024"), ("dev", "python"),
               ("tmpl", "TMPLPY"), ("fw-type", "TMPLPY"), ("fw", "0.9.0")],
}
# what GET /admin/devices must show for each
EXPECTED = {
    "arduino-1.3": dict(fw_version="0.3.1", build="Jan 10 2025 08:00:00", fw_type="TMPL13",
                        board="NodeMCU", lib_version="1.3.2"),
    "arduino-0.6": dict(fw_version="2.0.1", build="Feb  2 2020 10:00:00", fw_type="TMPL06",
                        board="Arduino Uno", lib_version="0.6.1"),
    "linux": dict(fw_version="1.1.0", build="Mar  1 2021 12:00:00", fw_type="TMPLLX",
                  board="Linux", lib_version="0.6.1"),
    "python": dict(fw_version="0.9.0", fw_type="TMPLPY", board="python", lib_version="0.2.6"),
}


def new_device(admin):
    return admin.create_device()


def connect(otad):
    return blynk.BlynkClient("127.0.0.1", otad.hwd_port).connect()


def logged_in(otad, token, **info):
    return blynk.device("127.0.0.1", otad.hwd_port, token, **info)


def info_body(pairs, trailing_nul):
    body = b"\0".join(b"%s\0%s" % (k.encode(), v.encode()) for k, v in pairs)
    return body + (b"\0" if trailing_nul else b"")


def still_serving(otad, admin):
    """Another device logs in and is answered: the daemon did not fall over."""
    dev = new_device(admin)
    with logged_in(otad, dev["token"]) as c:
        assert c.ping() == 200, "hwd stopped answering other devices"


def upload_for(admin, token, tag):
    img = images.esp8266_image(version="0.9.%s" % tag, build="Dec 02 2026 09:%s" % tag)
    r = admin.ota_start(img, token=token)
    assert r.status in (200, 201), "upload -> %r" % r
    return img


# -- hardware info ------------------------------------------------------------------

@pytest.mark.parametrize("trailing_nul", [False, True], ids=["no-nul", "trailing-nul"])
@pytest.mark.parametrize("keyset", sorted(KEY_SETS))
def test_info_key_set(otad, admin, keyset, trailing_nul):
    dev = new_device(admin)
    with connect(otad) as c:
        assert c.login(dev["token"]) == 200
        mid = c.send(blynk.INTERNAL, info_body(KEY_SETS[keyset], trailing_nul), msg_id=2)
        assert c.wait_response(mid) == 200, "hardware info not answered 200"
        want = EXPECTED[keyset]
        d = admin.wait_device(dev["id"], lambda d: d.get("online") and all(
            d.get(k) == v for k, v in want.items()))
        assert d is not None and d.get("online"), d
        for k, v in want.items():
            assert d.get(k) == v, "%s: %s is %r, expected %r (%r)" % (keyset, k, d.get(k), v, d)
        assert c.ping() == 200


# -- framing ------------------------------------------------------------------------

def test_ping_answered_with_same_msg_id(otad, admin):
    dev = new_device(admin)
    with logged_in(otad, dev["token"]) as c:
        c.send(blynk.PING, msg_id=0x1234)
        f = c.recv_frame()
        assert f is not None and f.encode() == b"\x00\x12\x34\x00\xc8", f


def test_frame_split_into_single_bytes(otad, admin):
    dev = new_device(admin)
    data = (blynk.frame(blynk.HW_LOGIN, 1, dev["token"]) +
            blynk.frame(blynk.INTERNAL, 2, blynk.encode_info(blynk.DEFAULT_INFO)) +
            blynk.frame(blynk.PING, 3))
    with connect(otad) as c:
        for i in range(len(data)):
            c.send_raw(data[i:i + 1])
            time.sleep(0.001)
        assert c.wait_response(1) == 200, "login sent byte by byte not answered 200"
        assert c.wait_response(2) == 200, "info sent byte by byte not answered 200"
        assert c.wait_response(3) == 200, "ping sent byte by byte not answered 200"


def test_several_frames_in_one_segment(otad, admin):
    dev = new_device(admin)
    data = (blynk.frame(blynk.HW_LOGIN, 1, dev["token"]) +
            blynk.frame(blynk.INTERNAL, 2, blynk.encode_info(blynk.DEFAULT_INFO)) +
            blynk.frame(blynk.PING, 3) + blynk.frame(PROPERTY, 4, b"1\0color\0#ff0000") +
            blynk.frame(blynk.PING, 5))
    with connect(otad) as c:
        c.send_raw(data)
        got = [c.recv_frame() for _ in range(5)]
        assert [(f.cmd, f.msg_id, f.status) for f in got if f is not None] == \
            [(0, i, 200) for i in range(1, 6)], got


def test_oversized_declared_length_closes_before_body(otad, admin):
    dev = new_device(admin)
    with logged_in(otad, dev["token"]) as c:
        # 60000 > max_body (4096): only the header is sent, the body never comes
        c.send_raw(struct.pack(">BHH", blynk.HARDWARE, 9, 60000))
        t0 = time.monotonic()
        assert c.closes_within(3.0), "oversized frame did not close the connection"
        assert time.monotonic() - t0 < 2.0
    with connect(otad) as c:
        # before login the limit is the token's size
        c.send_raw(struct.pack(">BHH", blynk.HW_LOGIN, 1, 2000))
        assert c.closes_within(3.0), "oversized login did not close the connection"
    still_serving(otad, admin)


def test_command_before_login_closes(otad, admin):
    with connect(otad) as c:
        c.send(blynk.PING, msg_id=1)
        assert c.closes_within(3.0)


def test_msg_id_zero_closes(otad, admin):
    dev = new_device(admin)
    with logged_in(otad, dev["token"]) as c:
        c.send_raw(blynk.frame(blynk.PING, 0))
        assert c.closes_within(3.0)


def test_random_garbage(otad, admin):
    rnd = random.Random(20260423)
    dev = new_device(admin)
    for i in range(20):
        blob = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 600)))
        with connect(otad) as c:
            if i % 2:
                assert c.login(dev["token"]) == 200
            try:
                c.send_raw(blob)
                c.recv_frame(timeout=0.05)
            except (blynk.Closed, ConnectionResetError, BrokenPipeError):
                pass
    # garbage that is not a login closes at once
    with connect(otad) as c:
        c.send_raw(b"\xff\x00\x01\x00\x05hello")
        assert c.closes_within(3.0)
    still_serving(otad, admin)
    assert admin.request("GET", "/admin/devices").status == 200


# -- the messages a sketch sends --------------------------------------------------------

def test_property_notifications_and_events_answered(otad, admin):
    dev = new_device(admin)
    with logged_in(otad, dev["token"]) as c:
        for cmd, body in ((PROPERTY, b"1\0label\0x"), (NOTIFY, b"hello"),
                          (EMAIL, b"a@b.c\0subj\0text"), (TWEET, b"hi"), (SMS, b"hi"),
                          (EVENT_LOG, b"door_open\0front door"),
                          (EVENT_LOG, b"no_description")):
            mid = c.send(cmd, body)
            assert c.wait_response(mid) == 200, "command %d not answered 200" % cmd
        # HARDWARE gets no reply and the device stays connected
        c.send(blynk.HARDWARE, b"vw\x003\x00on")
        c.send(blynk.HARDWARE, b"pm\x0013\x00out")
        assert c.ping() == 200


def test_sys_ota_event_reaches_admind(otad, admin):
    dev = new_device(admin)
    with logged_in(otad, dev["token"]) as c:
        text = "Firmware updated from 0.1.0 to 0.2.%d" % random.randrange(10**6)
        mid = c.send(EVENT_LOG, b"sys_ota\0" + text.encode())
        assert c.wait_response(mid) == 200
    want = 'device %d "%s" event sys_ota: %s' % (dev["id"], dev["name"], text)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with open(otad.log_path, "rb") as f:
            if want.encode() in f.read():
                return
        time.sleep(0.1)
    pytest.fail("admind did not record %r" % want)


def hardware_bodies(c, msg_id, n, timeout=2.0):
    out = []
    for _ in range(n):
        f = c.wait_for(lambda f: f.cmd == blynk.HARDWARE and f.msg_id == msg_id, timeout)
        if f is None:
            break
        out.append(f.body)
    return out


def test_sync_returns_stored_pins(otad, admin):
    dev = new_device(admin)
    writes = [b"vw\x001\x0042", b"vw\x002\x00a\x00b\x00c", b"dw\x0013\x001",
              b"aw\x000\x00512", b"vw\x001\x0043"]         # V1 written twice: last wins
    want = {b"vw\x001\x0043", b"vw\x002\x00a\x00b\x00c", b"dw\x0013\x001",
            b"aw\x000\x00512"}
    with logged_in(otad, dev["token"]) as c:
        for w in writes:
            c.send(blynk.HARDWARE, w)
        mid = c.send(blynk.HARDWARE_SYNC, b"")
        assert set(hardware_bodies(c, mid, 4)) == want
        mid = c.send(blynk.HARDWARE_SYNC, b"vr\x002\x0099\x001")
        got = hardware_bodies(c, mid, 3, timeout=1.0)
        assert got == [b"vw\x002\x00a\x00b\x00c", b"vw\x001\x0043"], got
        # a pin never written sends nothing; the device is still answered
        mid = c.send(blynk.HARDWARE_SYNC, b"vr\x0077")
        assert hardware_bodies(c, mid, 1, timeout=0.5) == []
        assert c.ping() == 200
    # a device that reboots gets its values back
    with logged_in(otad, dev["token"]) as c:
        mid = c.send(blynk.HARDWARE_SYNC, b"")
        assert set(hardware_bodies(c, mid, 4)) == want
        mid = c.send(blynk.HARDWARE_SYNC, b"dr\x0013")
        assert hardware_bodies(c, mid, 1) == [b"dw\x0013\x001"]


def test_sync_respects_buff_in(otad, admin):
    dev = new_device(admin)
    with logged_in(otad, dev["token"], buff_in="64") as c:
        c.send(blynk.HARDWARE, b"vw\x001\x00" + b"x" * 100)
        c.send(blynk.HARDWARE, b"vw\x002\x00small")
        mid = c.send(blynk.HARDWARE_SYNC, b"")
        assert hardware_bodies(c, mid, 2, timeout=1.0) == [b"vw\x002\x00small"]


def test_bridge(otad, admin):
    a, b = new_device(admin), new_device(admin)
    with logged_in(otad, a["token"]) as ca, logged_in(otad, b["token"]) as cb:
        # a write on a channel never opened
        mid = ca.send(BRIDGE, b"65\x00vw\x005\x00x")
        assert ca.wait_response(mid) == NOT_ALLOWED
        mid = ca.send(BRIDGE, b"64\x00i\x00" + b["token"].encode())
        assert ca.wait_response(mid) == 200, "bridge to a known token not answered 200"
        mid = ca.send(BRIDGE, b"66\x00i\x00" + uuid.uuid4().hex.encode())
        assert ca.wait_response(mid) == blynk.INVALID_TOKEN
        mid = ca.send(BRIDGE, b"64\x00vw\x005\x00hello")
        f = cb.wait_for(lambda f: f.cmd == blynk.HARDWARE, 3.0)
        assert f is not None and f.body == b"vw\x005\x00hello", f
        assert cb.arrived_in_one_piece(f)
        mid = cb.send(blynk.HARDWARE_SYNC, b"vr\x005")
        assert hardware_bodies(cb, mid, 1) == [b"vw\x005\x00hello"]
        assert ca.ping() == 200
    with logged_in(otad, a["token"]) as ca:
        mid = ca.send(BRIDGE, b"64\x00i\x00" + b["token"].encode())
        assert ca.wait_response(mid) == 200
        mid = ca.send(BRIDGE, b"64\x00dw\x009\x001")
        assert ca.wait_response(mid) == NOT_IN_NETWORK, "target offline: expected 7"


# -- limits -------------------------------------------------------------------------

def count_statuses(c, seconds):
    got = {}
    deadline = time.monotonic() + seconds
    while True:
        f = c.recv_frame(timeout=max(0.0, deadline - time.monotonic()))
        if f is None:
            return got
        if f.cmd == blynk.RESPONSE:
            got[f.status] = got.get(f.status, 0) + 1


def test_rate_limit(otad, admin):
    """Legacy 100 messages a second per connection; past it messages are dropped and
    RESPONSE 1 comes at most once a minute."""
    dev = new_device(admin)
    with logged_in(otad, dev["token"]) as c:
        c.send_raw(b"".join(blynk.frame(blynk.PING, 10 + i) for i in range(300)))
        got = count_statuses(c, 1.0)
        assert got.get(QUOTA_LIMIT) == 1, got
        assert 95 <= got.get(200, 0) <= 200, got  # the info frame may share the second
        time.sleep(1.1)
        c.send_raw(b"".join(blynk.frame(blynk.PING, 400 + i) for i in range(300)))
        got = count_statuses(c, 1.0)
        assert QUOTA_LIMIT not in got, "RESPONSE 1 twice within a minute: %r" % got
        assert 95 <= got.get(200, 0) <= 200, got  # the info frame may share the second
        time.sleep(1.1)
        assert c.ping() == 200, "device not answered after the burst"


def test_device_that_stops_reading_is_closed(otad, admin):
    dev = new_device(admin)
    c = blynk.BlynkClient("127.0.0.1", otad.hwd_port)
    c.sock = socket.socket(socket.AF_INET)
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    c.sock.settimeout(5)
    c.sock.connect(("127.0.0.1", otad.hwd_port))
    with c:
        assert c.login(dev["token"]) == 200
        assert c.send_info(buff_in="4096") == 200
        for pin in range(4):
            c.send(blynk.HARDWARE, b"vw\x00%d\x00" % pin + b"v" * 1000)
        # each sync-all sends 4 KB back; the device never reads them
        try:
            for _ in range(3):
                c.send_raw(b"".join(blynk.frame(blynk.HARDWARE_SYNC, 100 + i)
                                    for i in range(30)))
                time.sleep(0.3)
        except (BrokenPipeError, ConnectionResetError):
            pass
        d = admin.wait_device(dev["id"], lambda d: d.get("online") is False, timeout=5)
        assert d.get("online") is False, "device that stopped reading still online: %r" % d
        assert c.closes_within(5.0), "hwd kept the connection of a device that stopped reading"
    still_serving(otad, admin)


# -- OTA ----------------------------------------------------------------------------

def test_two_connections_one_token_both_get_ota(otad, admin):
    dev = new_device(admin)
    with logged_in(otad, dev["token"]) as a, logged_in(otad, dev["token"]) as b:
        d = admin.wait_device(dev["id"], lambda d: d.get("connections") == 2)
        assert d.get("online") is True and d.get("connections") == 2, d
        upload_for(admin, dev["token"], "01")
        fa, fb = a.wait_for_ota_frame(10), b.wait_for_ota_frame(10)
        assert fa is not None and fb is not None, "not every connection got the OTA"
        assert blynk.ota_url(fa) == blynk.ota_url(fb)
        assert a.ping() == 200 and b.ping() == 200


def test_ota_too_big_for_buff_in_is_reported(otad, admin):
    dev = new_device(admin)
    with logged_in(otad, dev["token"], buff_in="20") as c:
        upload_for(admin, dev["token"], "02")
        assert c.wait_for_ota_frame(2) is None, "ota frame over buff-in sent anyway"
        assert c.ping() == 200
    want = b'device %d "%s" job' % (dev["id"], dev["name"].encode())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with open(otad.log_path, "rb") as f:
            lines = [l for l in f.read().splitlines() if want in l and b"-> failed" in l]
        if lines:
            assert b"buff-in 20" in lines[-1], lines[-1]
            return
        time.sleep(0.1)
    pytest.fail("admind recorded no failed delivery with the reason for device %d"
                % dev["id"])
