# SPDX-License-Identifier: MIT
"""Issue 14, items 6 to 9, as an attacker would try them: the login throttle reset by
256 other addresses, a stranger on the control socket, a decorated ?auth= of another
device, and loose admin API input.  Each test asserts what a user sees (status and
error codes, the log line, a peer closed while admind keeps serving) and fails on the
code before the fix."""

import base64
import http.client
import os
import signal
import socket
import struct
import time

import pytest

import admin as admin_mod
import conftest
import esphttp
import lifecycle as lc
from lifecycle import Device, login_until_accepted
from test_faults import _ctl as ctl, _ctl_str as ctl_str, _dropped as dropped
from test_fwstore_download import exchange, image, one_line_body, ota_url


@pytest.fixture(scope="module")
def srv():
    s = conftest.start_server(name="otad-hostile-admin")
    yield s
    s.finish()


@pytest.fixture(scope="module")
def adm(srv):
    return srv.admin()


TLS = admin_mod._ctx()


def log_text(srv):
    with open(srv.log_path, "rb") as f:
        return f.read().decode(errors="replace")


def wait_log(srv, text, timeout=5.0):
    deadline = time.monotonic() + timeout
    while text not in log_text(srv):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


# -- item 6: the login throttle --------------------------------------------------------

def login(srv, src, auth):
    """One request from source address src with the Authorization header auth."""
    conn = http.client.HTTPSConnection(srv.host, srv.admin_port, timeout=10,
                                       source_address=(src, 0), context=TLS)
    try:
        conn.request("GET", "/admin/devices", headers={"Authorization": auth})
        r = conn.getresponse()
        r.read()
        return r.status
    finally:
        conn.close()


def basic(srv, password):
    return "Basic " + base64.b64encode(("%s:%s" % (srv.user, password)).encode()).decode()


def test_login_throttle_is_not_reset_by_other_addresses(srv, adm):
    good, bad = basic(srv, srv.password), "Bearer not-a-token"
    victim = "127.0.0.2"
    for _ in range(10):
        assert login(srv, victim, bad) == 401
    assert login(srv, victim, good) == 429
    # 256 other addresses fail once each: on the old code they evicted the victim
    for i in range(256):
        assert login(srv, "127.1.%d.%d" % (i // 250, 1 + i % 250), bad) == 401
    assert login(srv, victim, good) == 429, "the throttle was reset by other addresses"
    # every client together past 1,000 failures a minute: one log line
    n = 10 + 256
    for i in range(1001 - n):
        assert login(srv, "127.2.%d.%d" % (i // 250, 1 + i % 250), bad) == 401
    assert wait_log(srv, "failed logins within a minute from all addresses together")
    assert login(srv, "127.0.0.1", good) == 200


# -- item 7: the control socket --------------------------------------------------------

CTL_HELLO, CTL_AUTH, CTL_OFFLINE, CTL_ONLINE_DONE, CTL_FW_CHECK = 1, 10, 14, 17, 30
CTL_OTA_SEND = 20
CTL_OK, CTL_ERROR, CTL_FW_GRANT = 0x8001, 0x8002, 0x8004


def ctl_hello(srv, role=b"hwd"):
    """A fake peer after its hello: (socket, reply type)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(os.path.join(srv.dir, "control.sock"))
    s.sendall(ctl(CTL_HELLO, 1, struct.pack(">I", 2) + ctl_str(role) +
                  struct.pack(">I", 9)))
    head = b""
    while len(head) < 12:
        chunk = s.recv(12 - len(head))
        if not chunk:
            break
        head += chunk
    return s, struct.unpack(">HHII", head)[0] if len(head) == 12 else None


def test_uid_check_impossible_is_said_once(srv, adm):
    assert log_text(srv).count("a peer's role cannot be checked against its uid") == 1


def test_second_hello_does_not_displace_the_real_peer(srv, adm):
    """A hello past [section] workers (2 each here) is refused while the
    workers are connected: a stranger cannot pose as one."""
    pid = lc.daemon_pid(srv, "admind")
    for role in (b"hwd", b"fwstore"):
        s, reply = ctl_hello(srv, role)
        try:
            assert reply == CTL_ERROR, "a second %s hello was answered %r" % (role, reply)
            assert dropped(s)
        finally:
            s.close()
        assert wait_log(srv, "said it is %s worker 9, but 2 %s workers ([%s] workers) "
                        "are connected already" % ((role.decode(),) * 3))
    assert lc.daemon_pid(srv, "admind") == pid
    health = adm.request("GET", "/admin/health").json()
    assert health["hwd_connected"] and health["fwstore_connected"], health
    dev = login_until_accepted(Device(srv, adm))
    assert dev.client.ping(timeout=3) == 200
    dev.close()


BAD_AFTER_HELLO = [
    ("notification with an id", ctl(CTL_ONLINE_DONE, 5),
     "refused online-done (request id 5): a notification with a request id"),
    ("request without an id", ctl(CTL_AUTH, 0, ctl_str(b"tok") + ctl_str(b"1.2.3.4:5")),
     "refused auth (request id 0): a request without a request id"),
    ("fwstore's request from hwd", ctl(CTL_FW_CHECK, 3, ctl_str(b"t")),
     "refused fw-check (request id 3): a message this role may not send"),
    ("admind's command from hwd", ctl(CTL_OTA_SEND, 0, b"\0" * 16 + ctl_str(b"/ota/x")),
     "refused ota-send (request id 0): a message this role may not send"),
    ("reply nobody asked for", ctl(CTL_OK, 9),
     "refused ok (request id 9): a reply to no request"),
    ("grant nobody asked for", ctl(CTL_FW_GRANT, 7, b"\0" * 200),
     "refused fw-grant (request id 7): a reply to no request"),
    ("malformed offline", ctl(CTL_OFFLINE, 0, b"\0" * 15),
     "bad or unexpected offline message, closing"),
]


def wait_hwd(adm, timeout=15.0):
    """Until `otad run` has restarted hwd and it is back on the control socket."""
    deadline = time.monotonic() + timeout
    while not adm.request("GET", "/admin/health").json()["hwd_connected"]:
        assert time.monotonic() < deadline, "hwd did not come back"
        time.sleep(0.1)


def test_control_messages_refused_before_any_handler(srv, adm):
    """With hwd gone (its supervisor stopped, so it stays gone), a fake hwd is let in;
    each message the protocol forbids (the wrong role, a request without an id, a
    reply to no request, a malformed payload) closes it with one log line naming
    why, and only it: fwstore stays connected and admind keeps serving."""
    hwd = lc.daemon_pid(srv, "hwd")
    os.kill(srv.proc.pid, signal.SIGSTOP)
    try:
        os.kill(hwd, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while adm.request("GET", "/admin/health").json()["hwd_connected"]:
            assert time.monotonic() < deadline, "admind did not see hwd go"
            time.sleep(0.05)
        for what, frame, line in BAD_AFTER_HELLO:
            s, reply = ctl_hello(srv)
            try:
                assert reply == CTL_OK, what
                s.sendall(frame)
                assert dropped(s), "admind kept a peer that sent a %s" % what
            finally:
                s.close()
            assert wait_log(srv, line), "no log line %r" % line
            # only that peer: fwstore stays connected, nothing restarted
            assert adm.request("GET", "/admin/health").json()["fwstore_connected"], what
        assert adm.request("GET", "/admin/devices").status == 200
    finally:
        os.kill(srv.proc.pid, signal.SIGCONT)
        wait_hwd(adm)
    dev = login_until_accepted(Device(srv, adm))
    assert dev.client.ping(timeout=3) == 200
    dev.close()


# -- item 8: ?auth= parsed strictly -----------------------------------------------------

def test_decorated_auth_of_another_device_is_403(srv, adm):
    dev, url = ota_url(srv, adm, image("h8"))
    other = adm.create_device()["token"]
    for q in ("?auth=%s%%00" % other, "?auth=%s." % other, "?auth=%s&auth=%s" % (
            dev["token"], other), "?auth="):
        r = exchange(url + q, esphttp.esp8266_request(url + q))
        assert r.status == 403, (q, r)
        assert "malformed ?auth=" in one_line_body(r), q
    q = "?auth=%s" % dev["token"]
    assert exchange(url + q, esphttp.esp8266_request(url + q)).status == 200
    q = "?auth=no-device-has-this-token"
    r = exchange(url + q, esphttp.esp8266_request(url + q))
    assert r.status == 403 and "no device's token" in one_line_body(r), r


# -- item 9: loose admin API input ------------------------------------------------------

BAD_QUERIES = [
    ("/admin/devices?tags=floor-1", "request.unknown_parameter", "?tags="),
    ("/admin/jobs?limit=-1", "request.bad_paging", "?limit="),
    ("/admin/firmware?format=bogus", "request.bad_filter", "?format="),
    ("/admin/events?job=abc", "request.bad_filter", "?job="),
    ("/admin/jobs/1/deliveries?device=abc", "request.bad_filter", "?device="),
    ("/admin/tokens?all=1", "request.unknown_parameter", "?all="),
]


@pytest.mark.parametrize("path,code,names", BAD_QUERIES)
def test_bad_query_is_400_naming_the_parameter(srv, path, code, names):
    r = srv.admin(timeout=3).request("GET", path)
    assert r.status == 400, r
    err = r.json()["error"]
    assert err["code"] == code and names in err["message"], err


BAD_JOBS = [
    ({"firmware_id": 1.5, "all": True}, "request.bad_number", "firmware_id"),
    ({"firmware_id": 1, "devices": [1e300]}, "request.bad_number", "devices"),
    ({"firmware_id": 1, "devices": [2.5]}, "request.bad_number", "devices"),
    ({"firmware_id": 1, "all": True, "colour": "red"}, "request.unknown_field", "colour"),
]


@pytest.mark.parametrize("body,code,names", BAD_JOBS)
def test_bad_job_body_is_400_naming_the_field(srv, adm, body, code, names):
    r = adm.json_request("POST", "/admin/jobs", body)
    assert r.status == 400, r
    err = r.json()["error"]
    assert err["code"] == code and names in err["message"], err
