# SPDX-License-Identifier: MIT
"""Access to the admin API (issue 4): API tokens (Authorization: Bearer), Prometheus
metrics, the IPv4-only allow-list seen from ::1, the failed-login throttle (its own
server, so that its 429s turn no other test away), and the certificate reloaded on
SIGHUP."""

import base64
import hashlib
import os
import re
import signal
import socket
import subprocess
import time

import pytest

import admin as admin_mod
import blynk
import checks
from conftest import ipv6_loopback, start_server


_err = checks.api_error




def bearer(srv, token):
    return srv.admin(user=None), {"Authorization": "Bearer " + token}


metrics = checks.metrics


def test_api_tokens(otad, admin):
    r = admin.json_request("POST", "/admin/tokens", {"name": "ci-deploy"})
    assert r.status == 201, r
    tok = r.json()
    assert r.header("Location") == "/admin/tokens/%d" % tok["id"]
    assert len(tok["token"]) == 40 and tok["created_by"] == "admin"
    lst = admin.request("GET", "/admin/tokens").json()
    mine = [t for t in lst["tokens"] if t["id"] == tok["id"]]
    assert mine and "token" not in mine[0] and mine[0]["last_used_at"] is None

    client, h = bearer(otad, tok["token"])
    r = client.request("GET", "/admin/devices", headers=h)
    assert r.status == 200, r
    h2 = dict(h, **{"Content-Type": "application/json"})
    r = client.request("POST", "/admin/devices", body=b'{"name": "by-script"}', headers=h2)
    assert r.status == 201, r
    dev = r.json()
    lst = admin.request("GET", "/admin/tokens").json()
    assert [t for t in lst["tokens"] if t["id"] == tok["id"]][0]["last_used_at"]

    [(stored,)] = checks.db_rows(otad, "SELECT token_sha256 FROM api_tokens"
                                 " WHERE id = ?", (tok["id"],))
    [(actor,)] = checks.db_rows(otad, "SELECT actor FROM events WHERE kind ="
                                " 'device.created' AND device_id = ?", (dev["id"],))
    assert stored == hashlib.sha256(tok["token"].encode()).hexdigest()
    assert actor == "token:ci-deploy"
    if not checks.on_postgresql(otad):      # the hash is checked above either way
        with open(os.path.join(checks.state_dir(otad), "otad.db"), "rb") as f:
            assert tok["token"].encode() not in f.read()

    assert admin.request("DELETE", "/admin/tokens/%d" % tok["id"]).status == 204
    r = client.request("GET", "/admin/devices", headers=h)
    assert r.status == 401 and r.header("WWW-Authenticate"), r
    _err(admin.request("DELETE", "/admin/tokens/%d" % tok["id"]), 404, "token.not_found")
    _err(admin.json_request("POST", "/admin/tokens", {"name": ""}), 400, "token.bad_name")
    _err(admin.json_request("POST", "/admin/tokens", {"name": "x" * 49}), 400,
         "token.bad_name")
    r = client.request("GET", "/admin/tokens", headers={"Authorization": "Bearer nope"})
    assert r.status == 401, r


def test_metrics(otad, admin):
    before = metrics(otad)
    for name in ("otad_devices", "otad_devices_online", "otad_firmware",
                 'otad_deliveries{state="queued"}', 'otad_deliveries{state="succeeded"}',
                 'otad_jobs{state="active"}', "otad_admin_requests_authenticated_total",
                 "otad_admin_login_failures_total", "otad_admin_logins_throttled_total",
                 "otad_hwd_connected", "otad_fwstore_connected"):
        assert name in before, (name, before)
    admin.create_device()
    assert admin.request("GET", "/admin/devices", password="wrong").status == 401
    with blynk.BlynkClient("127.0.0.1", otad.hwd_port).connect() as c:
        assert c.login("no-such-token-" + "0" * 20) == blynk.INVALID_TOKEN
    after = metrics(otad)
    assert after["otad_device_logins_refused_total"] == \
        before["otad_device_logins_refused_total"] + 1
    assert after["otad_devices"] == before["otad_devices"] + 1
    assert after["otad_admin_login_failures_total"] == \
        before["otad_admin_login_failures_total"] + 1
    assert after["otad_admin_requests_authenticated_total"] >= before["otad_admin_requests_authenticated_total"] + 1
    assert after["otad_hwd_connected"] == 2       # [hwd] workers = 2


def test_eleven_bad_logins():
    srv = start_server(name="otad-throttle")
    try:
        adm = srv.admin()
        for i in range(10):
            r = adm.request("GET", "/admin/devices", password="guess%d" % i)
            assert r.status == 401, (i, r)
        r = adm.request("GET", "/admin/devices", password="guess10")
        msg = _err(r, 429, "auth.too_many_failures")
        retry = int(r.header("Retry-After"))
        assert 1 <= retry <= 60, r.headers
        assert "127.0.0.1" in msg
        # the right password waits too: the address is throttled, not the guess
        assert adm.request("GET", "/admin/devices").status == 429
        m = metrics(srv)
        assert m["otad_admin_login_failures_total"] == 10
        assert m["otad_admin_logins_throttled_total"] == 2
        with open(srv.log_path, "rb") as f:
            log = f.read().decode("utf-8", "replace")
        assert re.search(r"10 failed logins from 127\.0\.0\.1", log), srv.log_tail()
    finally:
        srv.finish()


def _admind_pid(srv):
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % pid) as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        if comm == "otad-admind" and ppid == srv.proc.pid:
            return int(pid)
    pytest.fail("no otad-admind child of otad run (pid %d)" % srv.proc.pid)


def _cert_files(srv):
    """[admind] tls_cert and tls_key, or admind's own in state_dir."""
    import configparser
    c = configparser.ConfigParser(inline_comment_prefixes=(";",))
    c.read(srv.conf)
    state = checks.state_dir(srv)
    crt = c.get("admind", "tls_cert", fallback="") or os.path.join(state, "admin.crt")
    key = c.get("admind", "tls_key", fallback="") or os.path.join(state, "admin.key")
    return crt, key


def _served_cert(port):
    ctx = admin_mod._ctx()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        with ctx.wrap_socket(s) as ss:
            return ss.getpeercert(binary_form=True)


@pytest.fixture(scope="module")
def otad_v4only():
    """admind on [::1] and 127.0.0.1 with allowed_ips = 127.0.0.0/8."""
    if not ipv6_loopback():
        pytest.skip("no IPv6 loopback (::1) on this machine")
    srv = start_server(admind_hosts=("[::1]", "127.0.0.1"), name="otad-v4only",
                       config={"admind": {"allowed_ips": "127.0.0.0/8"}})
    yield srv
    srv.finish()


def test_ipv6_loopback_with_ipv4_only_allow_list(otad_v4only):
    """Loopback is loopback: the rule 127.0.0.0/8 admits ::1 too (issue 14)."""
    srv = otad_v4only
    adm6 = admin_mod.Admin("::1", srv.admin_port, user=srv.user, password=srv.password)
    for path in ("/admin/devices", "/admin/health", "/metrics"):
        assert adm6.request("GET", path).status == 200, path
    assert srv.admin().request("GET", "/admin/devices").status == 200
    assert metrics(srv)["otad_devices"] >= 1


def test_sighup_reloads_the_certificate(otad_v4only, workdir):
    srv = otad_v4only
    crt, key = _cert_files(srv)
    old = _served_cert(srv.admin_port)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=renewed.example",
                    "-days", "2", "-keyout", key + ".new", "-out", crt + ".new"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.replace(key + ".new", key)
    os.replace(crt + ".new", crt)
    pid = _admind_pid(srv)
    os.kill(pid, signal.SIGHUP)
    with open(crt) as f:
        pem = f.read()
    want = base64.b64decode("".join(pem.strip().splitlines()[1:-1]))
    deadline = time.monotonic() + 5
    while _served_cert(srv.admin_port) != want and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _served_cert(srv.admin_port) == want != old
    assert srv.admin().request("GET", "/admin/devices").status == 200

    # a broken certificate: the old one stays, the log says why
    with open(crt, "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n")
    os.kill(pid, signal.SIGHUP)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with open(srv.log_path, "rb") as f:
            if b"kept the current TLS certificate" in f.read():
                break
        time.sleep(0.05)
    else:
        pytest.fail("no log line for the failed reload\n" + srv.log_tail())
    assert _served_cert(srv.admin_port) == want
    assert srv.proc.poll() is None and _admind_pid(srv) == pid
    assert srv.admin().request("GET", "/admin/devices").status == 200


def test_metrics_count_logins_and_downloads(otad, admin):
    import blynk
    import esphttp
    import images
    before = metrics(otad)
    dev = admin.create_device()
    c = blynk.device(otad.host, otad.hwd_port, dev["token"])
    img = images.esp8266_image(size=64 * 1024, seed="metrics")
    assert admin.ota_start(img, token=dev["token"]).status == 201
    r = esphttp.esp8266_get(c.wait_for_ota())
    assert r.status == 200 and r.body == img
    c.close()
    deadline = time.monotonic() + 5
    while True:
        after = metrics(otad)
        if after["otad_bytes_served_total"] >= before["otad_bytes_served_total"] + \
                len(img) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert after["otad_device_logins_total"] == before["otad_device_logins_total"] + 1
    assert after["otad_downloads_total"] == before["otad_downloads_total"] + 1
    assert after["otad_bytes_served_total"] == before["otad_bytes_served_total"] + len(img)
    assert after["otad_downloads_in_flight"] == 0
