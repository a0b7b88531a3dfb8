# SPDX-License-Identifier: MIT
"""Issue 14, the device side: what one device token, or the text a device sends, can
do to otad. One token flooding EVENT_LOG over eight connections must not fill the
disk, a bridge opened with a token ends when that token is rotated or its device
deleted, device text cannot forge or colour a line of the `otad run` log, and the
frames blynk-library 1.4 sends (EVENT_CLEAR, GROUP, sendInternal "utc" and "meta")
get the answers the library expects.
"""
import glob
import os
import re
import socket
import sqlite3
import threading
import time

import pytest

import blynk
import checks
from conftest import start_server

BRIDGE, GROUP, EVENT_LOG, EVENT_CLEAR = 15, 21, 64, 65
QUOTA_LIMIT, NOT_ALLOWED, ILLEGAL_BODY, NO_DATA = 1, 6, 11, 17


def logged_in(srv, token, **info):
    return blynk.device(srv.host, srv.hwd_port, token, **info)


def db_bytes(srv):
    """Bytes of the database and its WAL, as `du` would count them."""
    return sum(os.path.getsize(p) for p in
               glob.glob(os.path.join(checks.state_dir(srv), "otad.db*")))


def event_rows(srv, device_id):
    """(kind, text) of the device's rows in the events table, read as an operator
    would with sqlite3 while otad runs."""
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(checks.state_dir(srv),
                                                          "otad.db"), uri=True)
    try:
        return db.execute("SELECT kind, text FROM events WHERE device_id = ?"
                          " AND actor = 'device' ORDER BY id", (device_id,)).fetchall()
    finally:
        db.close()


def wait_until(predicate, timeout, step=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


@pytest.fixture(scope="module")
def srv():
    s = start_server(name="otad-hostile-devices")
    yield s
    s.finish()


@pytest.fixture
def admin(srv):
    return srv.admin()


# -- item 3: one token fills the disk -------------------------------------------------

def flood(c, seconds, rate, statuses, tag):
    """EVENT_LOG at rate frames/s for seconds, 4,000-byte descriptions that differ each
    time; the answers are read on the way and counted in statuses."""
    pad = b"d" * 4000
    sent, start = 0, time.monotonic()
    try:
        while time.monotonic() - start < seconds:
            body = b"flood\0%s-%06d-" % (tag, sent) + pad
            c.sock.sendall(blynk.frame(EVENT_LOG, sent % 0xFFFE + 2, body))
            sent += 1
            try:
                data = c.sock.recv(65536, socket.MSG_DONTWAIT)
                if not data:
                    raise ConnectionResetError("closed by otad")
                c.parser.feed(data)
            except BlockingIOError:
                pass
            while (f := c.parser.pop()) is not None:
                if f.cmd == blynk.RESPONSE:
                    statuses[f.status] = statuses.get(f.status, 0) + 1
            time.sleep(max(0.0, start + sent / rate - time.monotonic()))
    except OSError:
        statuses["closed"] = statuses.get("closed", 0) + 1


def test_one_token_cannot_fill_the_disk(srv, admin):
    """8 connections of one token, 100 EVENT_LOG frames/s each with 4,000-byte
    descriptions, for 10 s: today the database grows by ~35 MB. Now the rate limit
    counts the device, not the connection; descriptions are kept to 512 bytes; and
    admind holds the device's rows to rate_limit a second over both hwd workers (each
    worker counts only the connections it holds, so two workers let 200 a second
    through to admind)."""
    dev = admin.create_device()
    conns = [logged_in(srv, dev["token"]) for _ in range(8)]
    try:
        both = len(admin.device(dev["id"]).get("hwd_workers", [])) == 2
        before = db_bytes(srv)
        statuses = [dict() for _ in conns]
        threads = [threading.Thread(target=flood, args=(c, 10.0, 100, st, b"%d" % i))
                   for i, (c, st) in enumerate(zip(conns, statuses))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        time.sleep(1.5)                      # the last batch is committed
        growth = db_bytes(srv) - before
        # the WAL alone may hold up to 4 MB before SQLite's checkpoint; the
        # rows themselves are counted below
        assert growth < 8 * 1024 * 1024, \
            "database grew by %.1f MB in 10 s of one token's events" % (growth / 2**20)
        # what the devices saw: QUOTA_LIMIT past 100 messages a second for the device
        assert any(st.get(QUOTA_LIMIT) for st in statuses), statuses
        rows = event_rows(srv, dev["id"])
        assert len(rows) <= 1100, "%d event rows in 10 s at 100 messages/s" % len(rows)
        assert max(len(t) for _, t in rows) <= 512
        dropped = [t for k, t in rows if k == "otad"]
        assert (dropped or not both) and all(re.match(r"dropped \d+ events? over \[hwd\] rate_limit "
                                        r"\(100 a second\)$", t) for t in dropped), dropped
    finally:
        for c in conns:
            c.close()


def test_connections_per_device_are_capped():
    """A sixth login of one token closes the device's least recently heard
    connection: four stay, and the newest always gets in.  The cap is each
    hwd worker's: one worker here makes it exact."""
    srv = start_server(name="otad-device-cap", config={"hwd": {"workers": "1"}})
    admin = srv.admin()
    dev = admin.create_device()
    conns = []
    try:
        for _ in range(6):
            conns.append(logged_in(srv, dev["token"]))
            time.sleep(1.05)                 # each one heard a second later
        closed = [c.closes_within(0.5) for c in conns]
        assert closed == [True, True, False, False, False, False], closed
        for c in conns[2:]:
            assert c.ping() == 200
    finally:
        for c in conns:
            c.close()
        srv.finish()


def test_identical_events_coalesce(srv, admin):
    """100 identical events, then another: three rows and three log lines (the first,
    "repeated 99 times", the other), not 101."""
    dev = admin.create_device()
    with logged_in(srv, dev["token"]) as c:
        for i in range(100):
            c.send(EVENT_LOG, b"door\0opened twice")
            if i % 25 == 24:
                time.sleep(0.55)             # under the device's rate limit
        assert c.wait_response(c.send(EVENT_LOG, b"door\0closed")) == 200
        assert c.ping() == 200
    assert wait_until(lambda: len(event_rows(srv, dev["id"])) >= 3, 5)
    time.sleep(0.5)
    rows = event_rows(srv, dev["id"])
    assert rows == [("door", "opened twice"),
                    ("door", "repeated 99 times: opened twice"),
                    ("door", "closed")], rows
    log = open(srv.log_path, "rb").read().decode("utf-8", "replace")
    lines = [l for l in log.splitlines() if 'device %d "%s" event door' % (dev["id"], dev["name"]) in l]
    assert len(lines) == 3, lines


def test_events_retention_by_row_count():
    """event_max_rows = 50: 200 events leave at most 50 rows, pruned by admind's timer
    in small batches while it keeps serving."""
    s = start_server(name="otad-retention", config={"admind": {"event_max_rows": "50"}})
    try:
        dev = s.admin().create_device()
        with logged_in(s, dev["token"]) as c:
            for i in range(200):
                c.send(EVENT_LOG, b"n%d\0event %d" % (i, i))
                if i % 40 == 39:
                    time.sleep(0.55)         # under the device's rate limit
            assert c.ping() == 200
        assert wait_until(lambda: len(event_rows(s, dev["id"])) <= 50, 5), \
            len(event_rows(s, dev["id"]))
        rows = event_rows(s, dev["id"])
        assert rows and rows[-1] == ("n199", "event 199"), rows[-3:]
    finally:
        s.finish()


# -- item 4: a revoked token keeps a bridge -------------------------------------------

def test_rotated_or_deleted_token_ends_bridges(srv, admin):
    a, b = admin.create_device(), admin.create_device()
    with logged_in(srv, a["token"]) as ca:
        with logged_in(srv, b["token"]) as cb:
            assert ca.wait_response(ca.send(BRIDGE, b"b1\0i\0" + b["token"].encode())) \
                == 200
            ca.send(BRIDGE, b"b1\0vw\x005\0before")
            f = cb.wait_for(lambda f: f.cmd == blynk.HARDWARE, 3.0)
            assert f is not None and f.body == b"vw\x005\0before", f
            r = admin.request("POST", "/admin/devices/%d/token" % b["id"])
            assert r.status in (200, 201), r
            new_token = r.json()["token"]
            assert cb.closes_within(3.0), "B's own connection stayed after rotation"
        with logged_in(srv, new_token) as cb:
            mid = ca.send(BRIDGE, b"b1\0vw\x005\0after")
            assert ca.wait_response(mid) == NOT_ALLOWED, \
                "a bridge opened with B's old token still forwards"
            assert cb.wait_for(lambda f: f.cmd == blynk.HARDWARE, 1.0) is None
            # with the new token the sketch opens it again
            assert ca.wait_response(ca.send(BRIDGE, b"b1\0i\0" + new_token.encode())) \
                == 200
        # deletion: the channel ends too (6, not 7 "offline")
        assert admin.request("DELETE", "/admin/devices/%d" % b["id"]).status == 204
        time.sleep(0.3)
        assert ca.wait_response(ca.send(BRIDGE, b"b1\0vw\x005\0x")) == NOT_ALLOWED
        assert ca.ping() == 200


# -- item 5: log forging --------------------------------------------------------------

def test_device_text_cannot_forge_log_lines(srv, admin):
    dev = admin.create_device()
    forged = b"otad-admind: info: FAKE admin login from 10.6.6.6"
    with logged_in(srv, dev["token"]) as c:
        mid = c.send(EVENT_LOG, b"evil\n" + forged + b"\0\x1b[2J\x1b[31mred\xff\xc0end")
        assert c.wait_response(mid) == 200
    marker = 'device %d "%s" event evil' % (dev["id"], dev["name"])
    assert wait_until(lambda: marker.encode() in open(srv.log_path, "rb").read(), 5)
    log = open(srv.log_path, "rb").read()
    assert b"\x1b" not in log, "an ANSI escape reached the log"
    for line in log.split(b"\n"):
        assert not line.startswith(b"otad-admind: info: FAKE"), line
    line = [l for l in log.split(b"\n") if marker.encode() in l][0]
    assert b"evil\\x0aotad-admind: info: FAKE" in line, line
    assert b"\\x1b[2J\\x1b[31mred\\xff\\xc0end" in line, line


# -- item 11: what blynk-library 1.4 sends --------------------------------------------

def internal_reply(c, body):
    mid = c.send(blynk.INTERNAL, body)
    f = c.wait_for(lambda f: f.msg_id == mid, 3.0, "answer to %r" % body)
    assert f is not None, "no answer to INTERNAL %r" % body
    return f


def test_library_1_4_frames_are_answered(srv, admin):
    dev = admin.create_device()
    with logged_in(srv, dev["token"]) as c:
        # resolveEvent/clearEvent and beginGroup/endGroup: 200, not ILLEGAL_COMMAND
        assert c.wait_response(c.send(EVENT_CLEAR, b"door")) == 200
        assert c.wait_response(c.send(GROUP, b"b\x001733140000000")) == 200
        assert c.wait_response(c.send(GROUP, b"e")) == 200
        # sendInternal("utc", "time"): InternalPinUTC gets param[0] "time",
        # param[1] the Unix time in ms
        f = internal_reply(c, b"utc\0time")
        assert f.cmd == blynk.INTERNAL, f
        word, what, ms = f.body.split(b"\0")
        assert (word, what) == (b"utc", b"time"), f
        assert abs(int(ms) / 1000 - time.time()) < 5, f
        f = internal_reply(c, b"utc\0iso")
        assert re.fullmatch(rb"utc\0iso\0\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", f.body), f
        assert internal_reply(c, b"utc\0tz_rule").body == b"utc\0tz_rule\0UTC0"
        assert internal_reply(c, b"utc\0tz").body == b"utc\0tz\x000"
        f = internal_reply(c, b"utc\0bogus")
        assert (f.cmd, f.status) == (blynk.RESPONSE, ILLEGAL_BODY), f
        # sendInternal("meta", ...): otad keeps no metadata
        f = internal_reply(c, b"meta\0get\0Serial")
        assert (f.cmd, f.status) == (blynk.RESPONSE, NO_DATA), f
        f = internal_reply(c, b"meta\0set\0Serial\0x1")
        assert (f.cmd, f.status) == (blynk.RESPONSE, 200), f
        # rtc still as before
        f = internal_reply(c, b"rtc\0sync")
        assert f.cmd == blynk.INTERNAL and f.body.startswith(b"rtc\0"), f
        assert abs(int(f.body[4:]) - time.time()) < 5, f
        assert c.ping() == 200
