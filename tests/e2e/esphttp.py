# SPDX-License-Identifier: MIT
"""The firmware download exactly as ESP8266httpUpdate sends it (PROTOCOL.md 2.1).

esp8266_request() builds the request bytes; esp8266_get() sends them over a raw socket
in one write, reads until the server closes (HTTP/1.0, Connection: close) and returns
the parsed response. Header names are kept as sent and also looked up without case,
as the device's HTTP client does.
"""

import socket
import time
import urllib.parse

ESP8266_HEADERS = [
    ("User-Agent", "ESP8266-http-Update"),
    ("Connection", "close"),
    ("x-ESP8266-Chip-ID", "15602487"),
    ("x-ESP8266-STA-MAC", "DE:BA:7A:B1:E0:42"),
    ("x-ESP8266-AP-MAC", "DE:BA:7A:B1:E0:42"),
    ("x-ESP8266-free-space", "4194304"),
    ("x-ESP8266-sketch-size", "400000"),
    ("x-ESP8266-sketch-md5", "00112233445566778899aabbccddeeff"),
    ("x-ESP8266-chip-size", "4194304"),
    ("x-ESP8266-sdk-version", "2.2.2-dev(38a443e)"),
    ("x-ESP8266-mode", "sketch"),
]


def split_url(url):
    u = urllib.parse.urlsplit(url)
    if u.scheme != "http":
        raise ValueError("not an http URL: %r" % url)
    port = u.port or 80
    path = u.path or "/"
    if u.query:
        path += "?" + u.query
    return u.hostname, port, path


def esp8266_request(url, version=None, sketch_md5=None):
    host, port, path = split_url(url)
    hosthdr = host if port in (80, 443) else "%s:%d" % (host, port)
    if ":" in host and port not in (80, 443):
        hosthdr = "[%s]:%d" % (host, port)
    lines = ["GET %s HTTP/1.0" % path, "Host: %s" % hosthdr]
    for k, v in ESP8266_HEADERS:
        if k == "x-ESP8266-sketch-md5" and sketch_md5 is not None:
            v = sketch_md5
        lines.append("%s: %s" % (k, v))
    if version is not None:
        lines.append("x-ESP8266-version: %s" % version)
    lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


class Response:
    def __init__(self, raw, first_chunk):
        self.raw = raw
        self.first_chunk = first_chunk    # what the first recv() returned
        head, sep, self.body = raw.partition(b"\r\n\r\n")
        if not sep:
            raise ValueError("no end of header in response: %r" % raw[:300])
        self.head = head
        lines = head.decode("iso-8859-1").split("\r\n")
        self.status_line = lines[0]
        parts = self.status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/"):
            raise ValueError("bad status line %r" % self.status_line)
        self.version = parts[0]
        self.status = int(parts[1])
        self.headers = []
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon:
                raise ValueError("bad header line %r" % line)
            self.headers.append((name, value.strip()))

    def header(self, name):
        """Value of a header (case-insensitive name), None when absent."""
        vals = self.all(name)
        return vals[0] if vals else None

    def all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def __repr__(self):
        return "Response(%r, headers=%r, body=%d bytes)" % (
            self.status_line, self.headers, len(self.body))


def esp8266_get(url, timeout=10.0, request=None, **kw):
    host, port, _ = split_url(url)
    data = request if request is not None else esp8266_request(url, **kw)
    deadline = time.monotonic() + timeout
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("download of %s did not finish in %.0f s (%d bytes so far)"
                                   % (url, timeout, sum(map(len, chunks))))
            s.settimeout(remaining)
            try:
                c = s.recv(1 << 16)
            except ConnectionResetError:
                break
            if not c:
                break
            chunks.append(c)
    if not chunks:
        raise ValueError("server closed %s without a response" % url)
    return Response(b"".join(chunks), chunks[0])


# -- more updaters and raw exchanges (fwstore tests) ---------------------------

ESP32_HEADERS = [
    ("User-Agent", "ESP32-http-Update"),
    ("Connection", "close"),
    ("x-ESP32-STA-MAC", "24:0A:C4:00:01:10"),
    ("x-ESP32-AP-MAC", "24:0A:C4:00:01:11"),
    ("x-ESP32-free-space", "1310720"),
    ("x-ESP32-sketch-size", "800000"),
    ("x-ESP32-sketch-md5", "00112233445566778899aabbccddeeff"),
    ("x-ESP32-sketch-sha256",
     "0011223344556677889900AABBCCDDEEFF0011223344556677889900AABBCCDD"),
    ("x-ESP32-chip-size", "4194304"),
    ("x-ESP32-sdk-version", "v4.4.4"),
    ("x-ESP32-mode", "sketch"),
]


def raw_request(url, method="GET", version="HTTP/1.0", headers=(), host=None):
    """A request for url with exactly the given header lines (list of pairs), in
    order; host=None writes Host as ESP8266HTTPClient does, host="" leaves it out."""
    h, port, path = split_url(url)
    if host is None:
        host = h if port in (80, 443) else "%s:%d" % (h, port)
    lines = ["%s %s %s" % (method, path, version)]
    if host:
        lines.append("Host: %s" % host)
    lines += ["%s: %s" % kv for kv in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


def esp8266_request_with(url, drop=(), set_=(), method="GET"):
    """The PROTOCOL.md 2.1 request with some headers dropped or replaced."""
    hdrs = [(k, v) for k, v in ESP8266_HEADERS if k not in drop]
    for k, v in set_:
        hdrs = [(a, b) for a, b in hdrs if a.lower() != k.lower()] + [(k, v)]
    return raw_request(url, method=method, headers=hdrs + [("Content-Length", "0")])


def esp32_request(url, sha256=None, version=None, method="GET"):
    hdrs = list(ESP32_HEADERS)
    if sha256 is not None:
        hdrs = [(k, sha256 if k == "x-ESP32-sketch-sha256" else v) for k, v in hdrs]
    if version is not None:
        hdrs.append(("x-ESP32-version", version))
    return raw_request(url, method=method, version="HTTP/1.1", headers=hdrs)


def read_response(sock, head_only=False, timeout=10.0):
    """One response off a kept connection: the head, then Content-Length bytes
    (none when head_only, as for HEAD and 304)."""
    deadline = time.monotonic() + timeout
    data = b""
    while b"\r\n\r\n" not in data:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        c = sock.recv(65536)
        if not c:
            raise ValueError("connection closed inside a response head: %r" % data[:300])
        data += c
    head, _, rest = data.partition(b"\r\n\r\n")
    r = Response(head + b"\r\n\r\n", data)
    n = 0 if head_only or r.status in (204, 304) else int(r.header("Content-Length") or 0)
    while len(rest) < n:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        c = sock.recv(65536)
        if not c:
            break
        rest += c
    r.body = rest[:n]
    r.extra = rest[n:]
    return r
