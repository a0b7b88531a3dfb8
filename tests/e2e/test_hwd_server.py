# SPDX-License-Identifier: MIT
"""hwd's listeners and limits (issue 3), on one otad started with a small login_timeout,
a small max_connections, a TLS listener and an IPv6 listener beside the IPv4 one: a
connection that never logs in is closed after login_timeout, connections past
max_connections are closed at once, the TLS port speaks the same protocol (TLS 1.2 or
later), IPv6 devices get an OTA URL they can reach, and devices stay connected while
admind restarts (kill -9; `otad run` restarts it) and still receive OTA commands."""

import os
import re
import signal
import socket
import ssl
import subprocess
import time

import pytest

import blynk
import checks
import conftest
import images

LOGIN_TIMEOUT = 2
MAX_CONNECTIONS = 6


def make_cert(d):
    cert, key = os.path.join(d, "hwd-cert.pem"), os.path.join(d, "hwd-key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-keyout", key, "-out", cert],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=30)
    return cert, key


class HwdServer(conftest.OtadServer):
    """otad whose hwd also listens with TLS on port1 and on [::1]:port2."""

    def configure(self):
        super().configure()
        self.v6 = conftest.ipv6_loopback()
        self.tls_port, self.v6_port = conftest.free_ports(2, dual=(1,) if self.v6 else ())
        cert, key = make_cert(self.dir)
        listen = "127.0.0.1:%d" % self.hwd_port
        if self.v6:
            listen += ", [::1]:%d" % self.v6_port
        conftest.rewrite_ini(self.conf, {"hwd": {
            "listen": listen,
            "tls_listen": "127.0.0.1:%d" % self.tls_port,
            "tls_cert": cert, "tls_key": key,
            "login_timeout": str(LOGIN_TIMEOUT),
            # max_connections is each worker's: one worker makes it exact
            "workers": "1",
            "max_connections": str(MAX_CONNECTIONS)}})


@pytest.fixture(scope="module")
def srv():
    conftest.require_binaries()
    s = HwdServer(name="otad-hwd-server")
    try:
        s.start()
    except BaseException:
        s.stop()
        raise
    yield s
    s.finish()


def closed_within(sock, seconds):
    """Seconds until the server closed sock, or None."""
    t0 = time.monotonic()
    sock.settimeout(seconds)
    try:
        while True:
            if sock.recv(4096) == b"":
                return time.monotonic() - t0
    except (ConnectionResetError, BrokenPipeError):
        return time.monotonic() - t0
    except socket.timeout:
        return None


def wait_conns_settled():
    time.sleep(0.3)


def test_never_logs_in_closed_after_login_timeout(srv):
    s = socket.create_connection(("127.0.0.1", srv.hwd_port))
    with s:
        took = closed_within(s, LOGIN_TIMEOUT + 4)
    assert took is not None, "connection without login still open after %d s" % (
        LOGIN_TIMEOUT + 4)
    assert LOGIN_TIMEOUT - 0.5 <= took <= LOGIN_TIMEOUT + 3, took


def test_tls_port(srv):
    admin = srv.admin()
    dev = admin.create_device()
    c = blynk.BlynkClient("127.0.0.1", srv.tls_port).connect_tls()
    with c:
        assert c.sock.version() in ("TLSv1.2", "TLSv1.3"), c.sock.version()
        assert c.login(dev["token"]) == 200
        assert c.send_info() == 200
        assert c.ping() == 200
        d = admin.wait_device(dev["id"], lambda d: d.get("online") is True)
        assert d.get("online") is True
        img = images.esp8266_image(version="0.5.1", build="Dec 03 2026 10:00:01")
        assert admin.ota_start(img, token=dev["token"]).status in (200, 201)
        f = c.wait_for_ota_frame(10)
        assert f is not None, "no ota frame over TLS"
        assert blynk.ota_url(f).startswith("http://127.0.0.1:%d/" % srv.fw_port)


def test_tls_refuses_old_versions(srv):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    except (ValueError, AttributeError):
        pytest.skip("this Python cannot offer TLS 1.1")
    raw = socket.create_connection(("127.0.0.1", srv.tls_port), timeout=5)
    with pytest.raises((ssl.SSLError, ConnectionResetError, OSError)):
        ctx.wrap_socket(raw).close()
    raw.close()


def test_ipv6_and_ipv4(srv):
    if not srv.v6:
        pytest.skip("no IPv6 loopback (::1) on this machine")
    admin = srv.admin()
    dev = admin.create_device()
    with blynk.BlynkClient("::1", srv.v6_port).connect() as c6, \
            blynk.BlynkClient("127.0.0.1", srv.hwd_port).connect() as c4:
        assert c6.login(dev["token"]) == 200 and c6.send_info() == 200
        assert c4.login(dev["token"]) == 200 and c4.send_info() == 200
        d = admin.wait_device(dev["id"], lambda d: d.get("connections") == 2)
        assert d.get("connections") == 2, d
        img = images.esp8266_image(version="0.5.2", build="Dec 03 2026 10:00:02")
        assert admin.ota_start(img, token=dev["token"]).status in (200, 201)
        f6, f4 = c6.wait_for_ota_frame(10), c4.wait_for_ota_frame(10)
        assert f6 is not None and f4 is not None
        # the URL names the address each device connected to
        assert blynk.ota_url(f6).startswith("http://[::1]:%d/ota/" % srv.fw_port), f6
        assert blynk.ota_url(f4).startswith("http://127.0.0.1:%d/ota/" % srv.fw_port), f4


def test_max_connections(srv):
    admin = srv.admin()
    # a device each: one token holds at most max_device_connections
    devs = [admin.create_device() for _ in range(MAX_CONNECTIONS)]
    dev = devs[-1]
    wait_conns_settled()
    held = []
    try:
        for d in devs:
            c = blynk.BlynkClient("127.0.0.1", srv.hwd_port).connect()
            held.append(c)
            assert c.login(d["token"]) == 200
        extra = socket.create_connection(("127.0.0.1", srv.hwd_port))
        with extra:
            took = closed_within(extra, 2.0)
        assert took is not None and took < 1.0, \
            "connection past max_connections (%d) not closed at once" % MAX_CONNECTIONS
        # /metrics has hwd's count within its 2 s report
        deadline = time.monotonic() + 5
        while True:
            m = checks.metrics(srv)
            if m["otad_hwd_connections_refused_total"] >= 1 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert m["otad_hwd_connections_refused_total"] >= 1, m
        assert m["otad_hwd_connections"] == MAX_CONNECTIONS, m
        for c in held:
            assert c.ping() == 200, "a connection within the limit was dropped"
        held.pop().close()
        wait_conns_settled()
        with blynk.BlynkClient("127.0.0.1", srv.hwd_port).connect() as c:
            assert c.login(dev["token"]) == 200, "a free slot was not given again"
    finally:
        for c in held:
            c.close()
    with open(srv.log_path, "rb") as f:
        log = f.read()
    assert re.search(rb"max_connections \(%d\) reached: refusing devices \(\d+ refused"
                     % MAX_CONNECTIONS, log), "refusal not logged and counted"


def child_pid(parent, name):
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        if ppid == parent and comm == name:
            return int(p)
    return None


def test_admind_restart_keeps_devices(srv):
    """Last in this module: kills admind."""
    admin = srv.admin()
    dev = admin.create_device()
    with blynk.device("127.0.0.1", srv.hwd_port, dev["token"]) as c:
        d = admin.wait_device(dev["id"], lambda d: d.get("online") is True)
        assert d.get("online") is True
        pid = child_pid(srv.proc.pid, "otad-admind")
        assert pid is not None, "no otad-admind child of otad run"
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 15
        d = None
        while time.monotonic() < deadline:
            np = child_pid(srv.proc.pid, "otad-admind")
            if np is not None and np != pid:
                try:
                    d = admin.device(dev["id"])
                    if d is not None and d.get("online") is True:
                        break
                except (OSError, AssertionError):
                    pass
            time.sleep(0.2)
        assert d is not None and d.get("online") is True, \
            "device not online again after admind restarted: %r" % (d,)
        # the same connection, never closed
        assert c.ping() == 200
        assert not c.closed
        img = images.esp8266_image(version="0.5.3", build="Dec 03 2026 10:00:03")
        assert admin.ota_start(img, token=dev["token"]).status in (200, 201)
        f = c.wait_for_ota_frame(10)
        assert f is not None, "no OTA on the connection that survived the admind restart"
