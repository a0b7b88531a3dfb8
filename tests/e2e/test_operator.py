# SPDX-License-Identifier: MIT
"""The operator's toolkit (issue 19), driven as an operator drives it.

`otad admin add|passwd|remove|list` with the password on stdin or typed at a
terminal, then SIGHUP (`systemctl reload otad-admind` sends it to admind, `otad
run` passes it on) and curl logging in without a restart; the daemons' --help;
`otad run` giving up on a daemon that cannot start; `otad init --no-start-hint`.
"""

import os
import pty
import re
import select
import signal
import socket
import stat
import subprocess
import time

import pytest

import admin as admin_mod
from conftest import BINARIES, OtadServer, require_binaries, start_server

OTAD = BINARIES["otad"]


def otad_admin(srv, *args, password=None):
    """`otad admin -c CONF args...`, password (if any) as stdin's first line."""
    r = subprocess.run([OTAD, "admin", "-c", srv.conf] + list(args),
                       input=(password + "\n").encode() if password is not None else b"",
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def curl_status(srv, user, password):
    """The status curl gets for GET /admin/devices as user:password."""
    r = subprocess.run(["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}",
                        "-u", "%s:%s" % (user, password),
                        "https://127.0.0.1:%d/admin/devices" % srv.admin_port],
                       stdout=subprocess.PIPE, timeout=30)
    return int(r.stdout.decode() or 0)


def wait_log(srv, pattern, timeout=5.0, start=0):
    """The first match of pattern in the otad run log after byte start."""
    deadline = time.monotonic() + timeout
    while True:
        with open(srv.log_path, "rb") as f:
            f.seek(start)
            m = re.search(pattern, f.read().decode("utf-8", "replace"))
        if m:
            return m
        if time.monotonic() > deadline:
            pytest.fail("no log line matching %r\n%s" % (pattern, srv.log_tail()))
        time.sleep(0.05)


def log_size(srv):
    return os.path.getsize(srv.log_path)


@pytest.fixture(scope="module")
def otad():
    srv = start_server(name="otad-operator")
    yield srv
    srv.finish()


def test_admin_add_reload_remove(otad):
    """add bob, SIGHUP to otad run: bob logs in; remove bob, SIGHUP: 401."""
    admins = os.path.join(otad.dir, "admins")
    os.chmod(admins, 0o640)
    rc, out, err = otad_admin(otad, "add", "bob", password="bob's secret 1")
    assert rc == 0, err
    assert "added admin bob" in out and "systemctl reload otad-admind" in out
    with open(admins) as f:
        text = f.read()
    assert re.search(r"^bob:\$y\$\S+$", text, re.M), text
    assert "bob's secret" not in text
    assert stat.S_IMODE(os.stat(admins).st_mode) == 0o640   # mode kept
    assert curl_status(otad, "bob", "bob's secret 1") == 401  # not yet reloaded

    at = log_size(otad)
    otad.proc.send_signal(signal.SIGHUP)            # otad run passes it to admind
    wait_log(otad, r"reloaded \S+admins: added bob \(2 admin\(s\)\)", start=at)
    assert curl_status(otad, "bob", "bob's secret 1") == 200
    assert curl_status(otad, otad.user, otad.password) == 200
    assert otad.proc.poll() is None

    rc, out, err = otad_admin(otad, "list")
    assert rc == 0 and out.split() == ["admin", "bob"], (out, err)

    rc, out, err = otad_admin(otad, "passwd", "bob", password="bob's secret 2")
    assert rc == 0, err
    at = log_size(otad)
    otad.proc.send_signal(signal.SIGHUP)
    wait_log(otad, r"reloaded \S+admins: new password for bob", start=at)
    assert curl_status(otad, "bob", "bob's secret 1") == 401   # cached login gone
    assert curl_status(otad, "bob", "bob's secret 2") == 200

    rc, out, err = otad_admin(otad, "remove", "bob")
    assert rc == 0 and "removed admin bob" in out, err
    at = log_size(otad)
    otad.proc.send_signal(signal.SIGHUP)
    wait_log(otad, r"reloaded \S+admins: removed bob \(1 admin\(s\)\)", start=at)
    assert curl_status(otad, "bob", "bob's secret 2") == 401
    assert curl_status(otad, otad.user, otad.password) == 200
    # the log names users, never hashes or passwords
    with open(otad.log_path, "rb") as f:
        log = f.read().decode("utf-8", "replace")
    assert "$y$" not in log and "secret" not in log


def test_admin_errors(otad):
    rc, out, err = otad_admin(otad, "add", otad.user, password="x")
    assert rc == 1 and "already exists" in err and "otad admin passwd" in err
    rc, out, err = otad_admin(otad, "passwd", "nobody", password="x")
    assert rc == 1 and "no admin nobody" in err
    rc, out, err = otad_admin(otad, "remove", "nobody")
    assert rc == 1 and "no admin nobody" in err
    for bad in ("b o", "a:b", "-x", "x" * 65, ""):
        rc, out, err = otad_admin(otad, "add", bad, password="x")
        assert rc == 1 and "is not a valid admin name" in err, (bad, err)
    rc, out, err = otad_admin(otad, "add", "carol", password="")
    assert rc == 1 and "empty" in err
    rc, out, err = otad_admin(otad, "add", "carol")          # nothing on stdin
    assert rc == 1 and "no password on stdin" in err
    rc, out, err = otad_admin(otad, "add", "carol", password="x" * 300)
    assert rc == 1 and "longer than 256" in err
    # the last admin stays: admind would not start without one
    rc, out, err = otad_admin(otad, "remove", otad.user)
    assert rc == 1 and "no admin defined" in err and "not changed" in err
    rc, out, err = otad_admin(otad, "frobnicate", "x")
    assert rc == 2 and "usage:" in err
    rc, out, err = otad_admin(otad, "list")
    assert rc == 0 and out.split() == [otad.user]


def test_bad_admins_file_keeps_the_old_list(otad):
    admins = os.path.join(otad.dir, "admins")
    with open(admins) as f:
        good = f.read()
    try:
        with open(admins, "a") as f:
            f.write("mallory:not-a-hash\n")
        at = log_size(otad)
        otad.proc.send_signal(signal.SIGHUP)
        m = wait_log(otad, r"kept the current 1 admin\(s\): (.*)", start=at)
        assert "line 2" in m.group(1) and "mallory" in m.group(1)
        assert curl_status(otad, otad.user, otad.password) == 200
        # and otad admin refuses to build on a broken file
        rc, out, err = otad_admin(otad, "add", "dave", password="pw")
        assert rc == 1 and "not a crypt hash" in err and "not changed" in err
    finally:
        with open(admins, "w") as f:
            f.write(good)


def test_admin_password_typed_at_a_terminal(otad):
    """On a terminal the password is asked twice and never echoed."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(OTAD, [OTAD, "admin", "-c", otad.conf, "add", "erin"])
    seen = b""

    def expect(what):
        nonlocal seen
        deadline = time.monotonic() + 10
        while what not in seen:
            r, _, _ = select.select([fd], [], [], max(0, deadline - time.monotonic()))
            if not r:
                pytest.fail("no %r on the terminal; saw %r" % (what, seen))
            try:
                seen += os.read(fd, 1024)
            except OSError:
                pytest.fail("terminal closed before %r; saw %r" % (what, seen))

    answered = False
    try:
        expect(b"New password for erin: ")
        os.write(fd, b"typed secret\n")
        expect(b"Again: ")
        os.write(fd, b"typed secret\n")
        expect(b"added admin erin")
        answered = True
    finally:
        if not answered:            # it may wait for a line forever
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0, seen
    assert b"typed secret" not in seen
    at = log_size(otad)
    os.kill(otad.proc.pid, signal.SIGHUP)
    wait_log(otad, r"added erin", start=at)
    assert curl_status(otad, "erin", "typed secret") == 200
    assert otad_admin(otad, "remove", "erin")[0] == 0


@pytest.mark.parametrize("daemon", ["otad-hwd", "otad-admind", "otad-fwstore"])
def test_daemon_help(daemon):
    require_binaries()
    for flag in ("-h", "--help"):
        r = subprocess.run([BINARIES[daemon], flag], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=10)
        out = r.stdout.decode()
        assert r.returncode == 0 and out.startswith("usage: %s " % daemon), (r, out)
        assert "-c file" in out and "%s(8)" % daemon in out
    r = subprocess.run([BINARIES[daemon], "--bogus"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=10)
    assert r.returncode == 2 and b"usage:" in r.stderr


def test_init_no_start_hint(tmp_path):
    require_binaries()
    r = subprocess.run([OTAD, "init", str(tmp_path / "a")], stdout=subprocess.PIPE,
                       timeout=30)
    assert r.returncode == 0 and b"Start it:" in r.stdout
    r = subprocess.run([OTAD, "init", "--no-start-hint", str(tmp_path / "b")],
                       stdout=subprocess.PIPE, timeout=30)
    assert r.returncode == 0 and b"Start it:" not in r.stdout
    assert b"admin password:" in r.stdout
    with open(os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__)))), "scripts", "run.sh")) as f:
        assert "otad init --no-start-hint" in f.read()


def run_to_end(srv, timeout):
    """`otad run` on srv until it exits by itself, which must be with status 1; its
    output."""
    r = subprocess.run([OTAD, "run", "-c", srv.conf], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, env=srv._env(), timeout=timeout,
                       start_new_session=True)
    out = r.stdout.decode("utf-8", "replace")
    assert r.returncode == 1, out
    return out


def test_run_gives_up_on_an_address_in_use():
    require_binaries()
    srv = OtadServer(name="otad-busy")
    srv.prepare()
    squatter = socket.socket()
    try:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", srv.admin_port))
        squatter.listen()
        t0 = time.monotonic()
        out = run_to_end(srv, 30)
        assert time.monotonic() - t0 < 10, out
        assert re.search(r"admin API listen .*%d" % srv.admin_port, out), out
        assert re.search(r"admind \(pid \d+\) exited with status 69; not restarting it: "
                         r"it cannot open what it needs", out), out
        assert "restarting it in" not in out
    finally:
        squatter.close()
        srv.cleanup()


def test_run_gives_up_on_a_bad_admins_file():
    require_binaries()
    srv = OtadServer(name="otad-badadmins")
    srv.prepare()
    try:
        with open(os.path.join(srv.dir, "admins"), "w") as f:
            f.write("# nobody\n")
        out = run_to_end(srv, 30)
        assert "no admin defined" in out
        assert re.search(r"admind \(pid \d+\) exited with status 78; not restarting it: "
                         r"it cannot start with this configuration", out), out
        assert "restarting it in" not in out
    finally:
        srv.cleanup()


# -- [admind] trusted_proxies ---------------------------------------------------

class ForwardedAdmin(admin_mod.Admin):
    """An admin client behind a proxy: X-Forwarded-For 198.51.100.1 unless the call
    names another (None: no header)."""

    def request(self, method, path, body=None, headers=None, **kw):
        h = {"X-Forwarded-For": "198.51.100.1"}
        h.update(headers or {})
        return super().request(method, path, body=body,
                               headers={k: v for k, v in h.items() if v is not None}, **kw)


class ProxiedServer(OtadServer):
    def admin(self, **kw):
        kw.setdefault("password", self.password)
        kw.setdefault("user", self.user)
        return ForwardedAdmin(self.host, self.admin_port, **kw)


@pytest.fixture(scope="module")
def proxied():
    """admind behind a "reverse proxy" on loopback: only 198.51.100.0/24 may use the
    API, and loopback (this test, as the proxy) is a trusted proxy."""
    srv = start_server(ProxiedServer, name="otad-proxied", config={"admind": {
        "allowed_ips": "198.51.100.0/24", "trusted_proxies": "127.0.0.0/8"}})
    yield srv
    srv.finish()


def xff(srv, value, path="/admin/devices", password=None, method="GET", body=None):
    h = {"X-Forwarded-For": value}
    if body is not None:
        h["Content-Type"] = "application/json"
    return srv.admin().request(method, path, headers=h, body=body,
                               password=srv.password if password is None else password)


def test_forwarded_client_is_checked_against_allowed_ips(proxied):
    assert xff(proxied, "198.51.100.7").status == 200
    assert xff(proxied, "198.51.100.7, 127.0.0.1").status == 200   # a chain of proxies
    # the proxy itself is not allowed, nor a client it forwards from elsewhere
    r = xff(proxied, None)
    assert r.status == 403 and b"127.0.0.1" in r.body
    r = xff(proxied, "203.0.113.9")
    assert r.status == 403 and b"203.0.113.9" in r.body
    # a forged left-most entry is not believed: the proxy appended the real client
    r = xff(proxied, "198.51.100.7, 203.0.113.9")
    assert r.status == 403 and b"203.0.113.9" in r.body
    r = xff(proxied, "not an address")
    assert r.status == 400 and r.json()["error"]["code"] == "request.bad_forwarded_for"


def test_forwarded_client_in_throttle_and_audit(proxied):
    for _ in range(12):
        last = xff(proxied, "198.51.100.66", password="wrong")
    assert last.status == 429
    # another client behind the same proxy is not throttled
    assert xff(proxied, "198.51.100.67").status == 200
    at = log_size(proxied)
    r = xff(proxied, "198.51.100.67", path="/admin/devices", method="POST",
            body=b'{"name": "behind-proxy"}')
    assert r.status == 201, r
    wait_log(proxied, r"device\.created: .*behind-proxy.* from 198\.51\.100\.67", start=at)


def test_forwarded_for_from_an_untrusted_peer_is_ignored(otad):
    """Without trusted_proxies (the default) the header changes nothing."""
    at = log_size(otad)
    r = otad.admin().request("POST", "/admin/devices", body=b'{"name": "direct"}',
                             headers={"X-Forwarded-For": "203.0.113.9",
                                      "Content-Type": "application/json"})
    assert r.status == 201, r
    wait_log(otad, r"device\.created: .*direct.* from 127\.0\.0\.1", start=at)


def test_device_lines_name_the_device(otad):
    """hwd's and admind's lines about a device say which one in their text."""
    import blynk
    import images
    adm = otad.admin()
    dev = adm.create_device(name="kitchen-%d" % os.getpid())
    label = 'device %d "%s"' % (dev["id"], dev["name"])
    at = log_size(otad)
    c = blynk.device(otad.host, otad.hwd_port, dev["token"])
    try:
        wait_log(otad, re.escape(label) + r" logged in \(1 connection\)", start=at)
        assert adm.ota_start(images.esp8266_image(size=4096, seed="label"),
                             token=dev["token"]).status == 201
        c.wait_for_ota()
        wait_log(otad, re.escape(label) + r" job \d+: \w+ -> sent", start=at)
        wait_log(otad, re.escape(label) + r": OTA command for delivery \d+ sent",
                 start=at)
    finally:
        c.close()
    wait_log(otad, re.escape(label) + r" logged out", start=at)


def test_plain_http_on_the_https_port_gets_a_hint(otad):
    """curl http://HOST:9443/ gets one line saying to use https://, not an empty reply."""
    r = subprocess.run(["curl", "-s", "-i", "http://127.0.0.1:%d/admin/devices"
                        % otad.admin_port], stdout=subprocess.PIPE, timeout=30)
    out = r.stdout.decode("utf-8", "replace")
    assert r.returncode == 0, (r.returncode, out)
    assert out.startswith("HTTP/1.1 400 "), out
    assert out.endswith("\r\n\r\nThis is an HTTPS port: use https://127.0.0.1:%d/\n"
                        % otad.admin_port), out
    # HTTPS on the same port is unaffected
    assert curl_status(otad, otad.user, otad.password) == 200


def test_admin_keeps_owner(otad):
    """As root, the rewritten admins file keeps its owner and group (the package's is
    root:otad-admin 0640, which admind reads through its group)."""
    if os.geteuid() != 0:
        pytest.skip("changing a file's owner needs root")
    admins = os.path.join(otad.dir, "admins")
    os.chown(admins, 65534, 65534)
    os.chmod(admins, 0o640)
    try:
        assert otad_admin(otad, "add", "frank", password="pw")[0] == 0
        st = os.stat(admins)
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (65534, 65534, 0o640)
        assert not os.path.exists(admins + ".tmp")
        assert otad_admin(otad, "remove", "frank")[0] == 0
    finally:
        os.chown(admins, 0, 0)


def test_run_gives_up_on_a_daemon_that_keeps_failing():
    """A daemon that dies at once, again and again, for a reason it does not name:
    `otad run` gives up after 5 quick failures instead of restarting it forever."""
    require_binaries()
    srv = OtadServer(name="otad-flaky")
    srv.prepare()
    try:
        fake = os.path.join(srv.sbindir, "otad-fwstore")
        os.unlink(fake)
        with open(fake, "w") as f:
            f.write("#!/bin/sh\necho 'otad-fwstore: something is wrong' >&2\nexit 1\n")
        os.chmod(fake, 0o755)
        t0 = time.monotonic()
        out = run_to_end(srv, 60)
        assert out.count("something is wrong") == 5, out
        assert re.search(r"fwstore \(pid \d+\) exited with status 1; not restarting it: "
                         r"it failed 5 times in a row within 5 s of its start", out), out
        assert "stopping the other daemons" in out
        assert time.monotonic() - t0 < 30
    finally:
        srv.cleanup()


@pytest.mark.parametrize("daemon", ["otad-hwd", "otad-admind", "otad-fwstore"])
def test_daemon_says_a_bad_configuration_cannot_be_restarted_away(daemon, tmp_path):
    """A configuration that does not load: exit 78 (EX_CONFIG), which otad run and
    systemd (RestartPreventExitStatus=78) do not restart; -t still exits 1."""
    require_binaries()
    conf = tmp_path / "otad.conf"
    conf.write_text("[hwd]\nlisten = nowhere\n")
    r = subprocess.run([BINARIES[daemon], "-c", str(conf)], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=10)
    assert r.returncode == 78, r
    assert b"[hwd] listen" in r.stderr
    r = subprocess.run([BINARIES[daemon], "-t", "-c", str(conf)], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=10)
    assert r.returncode == 1, r
