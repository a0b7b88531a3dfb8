# SPDX-License-Identifier: MIT
"""Self-tests of blynk.py against a tiny in-test fake server (no otad needed).

They pin down what the client sends (PROTOCOL.md 1.3, 1.4) and that it reassembles
frames split over many recv() calls or packed several into one segment.
"""

import socket
import struct
import threading
import time

import pytest

import blynk

TOKEN = "0123456789abcdef0123456789abcdef"
URL = "http://127.0.0.1:8080/ota/Zm9vYmFyYmF6"


class FakeServer:
    """Accepts one connection and runs handler(conn) in a thread."""

    def __init__(self, handler):
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(1)
        self.port = self.lsock.getsockname()[1]
        self.handler = handler
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            self.lsock.settimeout(5)
            conn, _ = self.lsock.accept()
            conn.settimeout(5)
            with conn:
                self.handler(conn)
        except BaseException as e:     # reported by join()
            self.error = e

    def join(self):
        self.thread.join(10)
        self.lsock.close()
        if self.error is not None:
            raise self.error


def read_exact(conn, n):
    buf = b""
    while len(buf) < n:
        c = conn.recv(n - len(buf))
        if not c:
            raise EOFError("client closed after %r" % buf)
        buf += c
    return buf


def read_frame(conn):
    cmd, mid, ln = struct.unpack(">BHH", read_exact(conn, 5))
    body = b"" if cmd == 0 else read_exact(conn, ln)
    return cmd, mid, ln, body


def dribble(conn, data, delay=0.002):
    """Send one byte at a time so the client sees every split."""
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for i in range(len(data)):
        conn.sendall(data[i:i + 1])
        time.sleep(delay)


def test_login_frame_bytes_and_split_reply():
    seen = {}

    def handler(conn):
        seen["login"] = read_exact(conn, 5 + 32)
        dribble(conn, blynk.response(1, 200))
        seen["info"] = read_frame(conn)
        dribble(conn, blynk.response(seen["info"][1], 200))

    srv = FakeServer(handler)
    with blynk.BlynkClient("127.0.0.1", srv.port).connect() as c:
        assert c.login(TOKEN) == 200
        assert c.send_info() == 200
    srv.join()
    # PROTOCOL.md 1.3: a 32-character token gives the header 1d 00 01 00 20
    assert seen["login"] == bytes.fromhex("1d00010020") + TOKEN.encode()
    cmd, mid, ln, body = seen["info"]
    assert (cmd, mid) == (17, 2)
    assert ln == len(body)
    kv = body.split(b"\0")
    info = dict(zip(kv[0::2], kv[1::2]))
    assert info[b"mcu"] == b"0.1.0"
    assert info[b"build"] == b"Nov 23 2026 10:00:00"
    assert info[b"dev"] == b"NodeMCU"


def test_invalid_token_status():
    def handler(conn):
        read_frame(conn)
        conn.sendall(blynk.response(1, 9))

    srv = FakeServer(handler)
    with blynk.BlynkClient("127.0.0.1", srv.port).connect() as c:
        assert c.login("nope") == blynk.INVALID_TOKEN
    srv.join()


def test_response_and_ota_in_one_segment():
    ota = blynk.frame(17, 7777, b"ota\0" + URL.encode())

    def handler(conn):
        read_frame(conn)
        conn.sendall(blynk.response(1, 200))
        _, mid, _, _ = read_frame(conn)
        conn.sendall(blynk.response(mid, 200) + ota)     # both in one write

    srv = FakeServer(handler)
    with blynk.BlynkClient("127.0.0.1", srv.port).connect() as c:
        assert c.login(TOKEN) == 200
        assert c.send_info() == 200
        f = c.wait_for_ota_frame(timeout=2)
        assert f is not None and f.msg_id == 7777
        assert blynk.ota_url(f) == URL
    srv.join()


def test_ota_split_over_many_reads_and_ping_answered():
    got = {}

    def handler(conn):
        read_frame(conn)
        conn.sendall(blynk.response(1, 200))
        conn.sendall(blynk.frame(6, 500))                # server ping first
        got["pong"] = read_frame(conn)
        dribble(conn, blynk.frame(17, 100, b"ota\0" + URL.encode()))

    srv = FakeServer(handler)
    with blynk.BlynkClient("127.0.0.1", srv.port).connect() as c:
        assert c.login(TOKEN) == 200
        assert c.wait_for_ota(timeout=5) == URL
    srv.join()
    assert got["pong"] == (0, 500, 200, b"")


def test_other_frames_kept_in_order():
    def handler(conn):
        read_frame(conn)
        conn.sendall(blynk.frame(20, 3, b"vw\x001\x00a") + blynk.frame(20, 4, b"vw\x001\x00b")
                     + blynk.response(1, 200))
        read_frame(conn)      # ping
        conn.sendall(blynk.response(2, 200))
        conn.recv(1)          # stay open until the client closes

    srv = FakeServer(handler)
    with blynk.BlynkClient("127.0.0.1", srv.port).connect() as c:
        assert c.login(TOKEN) == 200
        assert c.ping() == 200
        assert c.recv_frame(1).body == b"vw\x001\x00a"
        assert c.recv_frame(1).body == b"vw\x001\x00b"
        assert c.recv_frame(0.2) is None
    srv.join()


def test_timeout_and_close():
    ev = threading.Event()

    def handler(conn):
        read_frame(conn)
        ev.wait(5)            # no reply until the client gave up, then close

    srv = FakeServer(handler)
    with blynk.BlynkClient("127.0.0.1", srv.port).connect() as c:
        t = time.monotonic()
        assert c.login(TOKEN, timeout=0.3) is None
        assert time.monotonic() - t < 2
        ev.set()
        with pytest.raises(blynk.Closed):
            c.recv_frame(3)
    srv.join()


def test_msg_id_never_zero():
    c = blynk.BlynkClient("127.0.0.1", 1)
    c.next_id = 0xFFFF
    assert c._msg_id() == 0xFFFF
    assert c._msg_id() == 1


def test_arrived_in_one_piece():
    ota = blynk.frame(17, 9, b"ota\0" + URL.encode())

    def handler(conn):
        read_frame(conn)
        conn.sendall(blynk.response(1, 200))
        time.sleep(0.05)
        conn.sendall(ota)
        time.sleep(0.05)
        dribble(conn, blynk.frame(17, 10, b"ota\0" + URL.encode()))
        conn.recv(1)

    srv = FakeServer(handler)
    with blynk.BlynkClient("127.0.0.1", srv.port).connect() as c:
        assert c.login(TOKEN) == 200
        f1 = c.wait_for_ota_frame(2)
        f2 = c.wait_for_ota_frame(2)
        assert c.arrived_in_one_piece(f1)
        assert not c.arrived_in_one_piece(f2)
    srv.join()
