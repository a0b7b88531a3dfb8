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
