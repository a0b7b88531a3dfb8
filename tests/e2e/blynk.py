# SPDX-License-Identifier: MIT
"""A small Blynk hardware-protocol client for the end-to-end tests.

It speaks what a device speaks to hwd (PROTOCOL.md section 1): 5-byte big-endian
headers, RESPONSE frames whose third field is a status, NUL-separated bodies.
Frames are reassembled from a byte buffer, so they may arrive split over any number
of recv() calls or several in one; frames that arrive while the client waits for
something else are kept in order and handed out later.
"""

import socket
import struct
import time

RESPONSE = 0
LOGIN = 2
PING = 6
HARDWARE_SYNC = 16
INTERNAL = 17
HARDWARE = 20
HW_LOGIN = 29

OK = 200
ALREADY_REGISTERED = 4
INVALID_TOKEN = 9

HEADER = struct.Struct(">BHH")

DEFAULT_INFO = {
    "mcu": "0.1.0",
    "fw-type": "TMPL",
    "build": "Nov 23 2026 10:00:00",
    "blynk": "1.3.2",
    "h-beat": "45",
    "buff-in": "1024",
    "dev": "NodeMCU",
}


class ProtocolError(Exception):
    pass


class Closed(ProtocolError):
    """The server closed the connection."""


class Frame:
    __slots__ = ("cmd", "msg_id", "length", "body")

    def __init__(self, cmd, msg_id, length, body=b""):
        self.cmd = cmd
        self.msg_id = msg_id
        self.length = length      # body length, or the status for RESPONSE
        self.body = body

    @property
    def status(self):
        return self.length if self.cmd == RESPONSE else None

    def encode(self):
        return HEADER.pack(self.cmd, self.msg_id, self.length) + self.body

    def __eq__(self, other):
        return (isinstance(other, Frame) and
                (self.cmd, self.msg_id, self.length, self.body) ==
                (other.cmd, other.msg_id, other.length, other.body))

    def __repr__(self):
        if self.cmd == RESPONSE:
            return "Frame(RESPONSE, msg_id=%d, status=%d)" % (self.msg_id, self.length)
        return "Frame(cmd=%d, msg_id=%d, len=%d, body=%r)" % (
            self.cmd, self.msg_id, self.length, self.body)


def frame(cmd, msg_id, body=b""):
    """Encode a non-RESPONSE frame."""
    if isinstance(body, str):
        body = body.encode()
    return HEADER.pack(cmd, msg_id, len(body)) + body


def response(msg_id, status):
    return HEADER.pack(RESPONSE, msg_id, status)


def encode_info(info):
    """Key/value pairs NUL-separated, no trailing NUL (as library 1.3 sends it)."""
    parts = []
    for k, v in info.items():
        parts += [k.encode(), str(v).encode()]
    return b"\0".join(parts)


class FrameParser:
    """Incremental decoder: feed() bytes, pop complete frames."""

    def __init__(self):
        self.buf = bytearray()

    def feed(self, data):
        self.buf += data

    def pop(self):
        if len(self.buf) < HEADER.size:
            return None
        cmd, msg_id, length = HEADER.unpack_from(self.buf, 0)
        if cmd == RESPONSE:
            del self.buf[:HEADER.size]
            return Frame(cmd, msg_id, length)
        if len(self.buf) < HEADER.size + length:
            return None
        body = bytes(self.buf[HEADER.size:HEADER.size + length])
        del self.buf[:HEADER.size + length]
        return Frame(cmd, msg_id, length, body)


class BlynkClient:
    def __init__(self, host, port, timeout=5.0):
        self.host = host
        self.port = port
        self.timeout = timeout
        self.sock = None
        self.parser = FrameParser()
        self.pending = []         # frames received but not yet consumed
        self.next_id = 1
        self.closed = False
        self.segments = []        # every recv() result, to check single writes

    # -- connection ---------------------------------------------------------
    def connect(self):
        self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self

    def connect_tls(self, context=None):
        """Like connect(), over TLS (hwd's tls_listen); the certificate is not
        checked unless a context says so."""
        import ssl
        if context is None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        raw = socket.create_connection((self.host, self.port), timeout=self.timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = context.wrap_socket(raw)
        return self

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _msg_id(self):
        mid = self.next_id
        self.next_id = self.next_id % 0xFFFF + 1      # never 0
        return mid

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, cmd, body=b"", msg_id=None):
        """Send one frame in a single write; returns its msg_id."""
        if msg_id is None:
            msg_id = self._msg_id()
        self.sock.sendall(frame(cmd, msg_id, body))
        return msg_id

    # -- receiving ----------------------------------------------------------
    def _fill(self, deadline):
        """Read once from the socket into the parser; False on timeout."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return False
        except ConnectionResetError:
            data = b""
        if not data:
            self.closed = True
            raise Closed("server closed the connection")
        self.segments.append(data)
        self.parser.feed(data)
        return True

    def recv_frame(self, timeout=None):
        """Next frame, or None when none arrives within timeout seconds.

        Raises Closed when the server closes the connection first.
        """
        if self.pending:
            return self.pending.pop(0)
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            f = self.parser.pop()
            if f is not None:
                return f
            if self.closed:
                raise Closed("server closed the connection")
            if not self._fill(deadline):
                return None

    def wait_for(self, predicate, timeout=None, what="frame"):
        """First frame matching predicate; other frames stay pending in order.

        Server PINGs are answered on the way, as a device would.
        """
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        skipped = []
        try:
            # frames received earlier first
            while self.pending:
                f = self.pending.pop(0)
                if predicate(f):
                    return f
                skipped.append(f)
            while True:
                f = self.parser.pop()
                if f is None:
                    if self.closed:
                        raise Closed("server closed the connection while waiting for %s"
                                     " (other frames: %r)" % (what, skipped))
                    if not self._fill(deadline):
                        return None
                    continue
                if f.cmd == PING:
                    self.send_raw(response(f.msg_id, OK))
                    continue
                if predicate(f):
                    return f
                skipped.append(f)
        finally:
            self.pending[:0] = skipped

    def wait_response(self, msg_id, timeout=None):
        """Status of the RESPONSE to msg_id, or None on timeout."""
        f = self.wait_for(lambda f: f.cmd == RESPONSE and f.msg_id == msg_id,
                          timeout, "RESPONSE to msg_id %d" % msg_id)
        return None if f is None else f.status

    # -- device actions -----------------------------------------------------
    def login(self, token, timeout=None, cmd=HW_LOGIN):
        """HW_LOGIN with msg_id 1 (as the library does); returns the status."""
        if isinstance(token, str):
            token = token.encode()
        self.next_id = 1
        mid = self.send(cmd, token)
        return self.wait_response(mid, timeout)

    def send_info(self, info=None, timeout=None, **overrides):
        """INTERNAL hardware info (msg_id 2 right after login); returns the status."""
        fields = dict(DEFAULT_INFO if info is None else info)
        fields.update({k.replace("_", "-"): v for k, v in overrides.items()})
        mid = self.send(INTERNAL, encode_info(fields))
        return self.wait_response(mid, timeout)

    def closes_within(self, timeout=3.0):
        """True when the server closes the connection within timeout (frames before
        the close are skipped)."""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                self.recv_frame(timeout=deadline - time.monotonic())
        except Closed:
            return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        return False

    def ping(self, timeout=None):
        mid = self.send(PING)
        return self.wait_response(mid, timeout)

    def wait_for_ota_frame(self, timeout=10.0):
        """The INTERNAL ota frame, or None when none arrives in time."""
        return self.wait_for(lambda f: f.cmd == INTERNAL and f.body[:4] == b"ota\0",
                             timeout, "ota command")

    def virtual_write(self, pin, *values):
        """HARDWARE "vw\\0<pin>\\0<value>[\\0<value>...]" as Blynk.virtualWrite()
        sends it (never answered); returns its msg_id."""
        parts = [b"vw", str(pin).encode()]
        parts += [v if isinstance(v, bytes) else str(v).encode() for v in values]
        return self.send(HARDWARE, b"\0".join(parts))

    def wait_pin_write(self, pin, timeout=10.0):
        """The next HARDWARE frame the server writes to virtual pin `pin` (what
        BLYNK_WRITE(Vpin) gets), or None when none arrives in time."""
        head = b"vw\0%d\0" % pin
        return self.wait_for(lambda f: f.cmd == HARDWARE and f.body.startswith(head),
                             timeout, "a write to V%d" % pin)

    def arrived_in_one_piece(self, f):
        """True when frame f's header and body came in a single recv()."""
        return any(f.encode() in seg for seg in self.segments)

    def wait_for_ota(self, timeout=10.0):
        """The URL of the next ota command, or None when none arrives in time."""
        f = self.wait_for_ota_frame(timeout)
        if f is None:
            return None
        return ota_url(f)


def ota_url(f):
    """The URL in an ota frame's body (text after "ota\\0", trailing NUL tolerated)."""
    assert f.body[:4] == b"ota\0", f
    url = f.body[4:]
    if url.endswith(b"\0"):
        url = url[:-1]
    return url.decode("ascii")


def device(host, port, token, info=None, timeout=5.0, **overrides):
    """Connected, logged-in client that has sent its hardware info."""
    c = BlynkClient(host, port, timeout).connect()
    try:
        st = c.login(token)
        if st != OK:
            raise ProtocolError("login answered %r, expected 200" % (st,))
        st = c.send_info(info, **overrides)
        if st != OK:
            raise ProtocolError("hardware info answered %r, expected 200" % (st,))
    except BaseException:
        c.close()
        raise
    return c
