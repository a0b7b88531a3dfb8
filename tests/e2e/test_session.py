# SPDX-License-Identifier: MIT
"""The web page's sign-in (issue 20), as a browser and curl see it: POST /admin/session
sets an HttpOnly, Secure, SameSite=Strict cookie with an expiry; the cookie opens the
API; a request that changes something with it must carry this server's Origin; sign-out
ends the session and clears the cookie; a wrong password says so (401, no Basic
challenge, so the browser shows no prompt) and counts towards the login throttle; Basic
auth and API tokens keep working for scripts. Sign-in and sign-out are in the audit log.
"""
import base64
import http.client
import json
import re
import ssl
import time

import admin as admin_mod
from conftest import start_server

ORIGIN_HOST = "127.0.0.1"


def anonymous(admin):
    """A client that sends no Authorization header."""
    return admin_mod.Admin(admin.host, admin.port, user=None)


def sign_in(admin, user=None, password=None, headers=None):
    body = {"user": user or admin.user, "password": admin.password if password is None
            else password}
    h = {"Content-Type": "application/json", "Sec-Fetch-Mode": "cors"}
    h.update(headers or {})
    return anonymous(admin).request("POST", "/admin/session",
                                    body=json.dumps(body).encode(), headers=h)


def cookie_of(r):
    v = r.header("Set-Cookie")
    assert v is not None, r.headers
    m = re.match(r"otad_session=([A-Za-z0-9]{44});", v)
    assert m, v
    return m.group(1), v


def with_cookie(admin, method, path, sid, origin=None, body=None):
    h = {"Cookie": "otad_session=" + sid, "Sec-Fetch-Mode": "cors"}
    if origin:
        h["Origin"] = origin
    if body is not None:
        h["Content-Type"] = "application/json"
        body = json.dumps(body).encode()
    return anonymous(admin).request(method, path, body=body, headers=h)


def origin(otad):
    return "https://%s:%d" % (ORIGIN_HOST, otad.admin_port)


def test_sign_in_sets_a_strict_cookie_that_opens_the_api(otad, admin):
    r = sign_in(admin)
    assert r.status == 200, r
    sid, cookie = cookie_of(r)
    attrs = [a.strip() for a in cookie.split(";")[1:]]
    assert "HttpOnly" in attrs and "Secure" in attrs and "SameSite=Strict" in attrs, cookie
    assert "Path=/admin" in attrs and "Max-Age=43200" in attrs, cookie
    me = r.json()
    assert me["user"] == otad.user and me["via"] == "session", me
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", me["expires_at"]), me

    r = with_cookie(admin, "GET", "/admin/session", sid)
    assert r.status == 200 and r.json()["user"] == otad.user, r
    m = admin.request("GET", "/metrics").body.decode()
    assert re.search(r"^otad_admin_sessions [1-9]\d*$", m, re.M), m
    assert r.json()["via"] == "session" and r.json()["expires_at"] == me["expires_at"]
    assert with_cookie(admin, "GET", "/admin/devices", sid).status == 200
    # Basic keeps working and says so
    r = admin.request("GET", "/admin/session")
    assert r.status == 200 and r.json() == {"user": otad.user, "via": "basic",
                                            "expires_at": None}, r


def test_changes_with_the_cookie_need_this_origin(otad, admin):
    sid, _ = cookie_of(sign_in(admin))
    for org in (None, "https://evil.example", "https://%s:%d.evil" % (ORIGIN_HOST,
                                                                      otad.admin_port)):
        r = with_cookie(admin, "POST", "/admin/devices", sid, origin=org,
                        body={"name": "cross-site"})
        assert r.status == 403, (org, r)
        assert r.json()["error"]["code"] == "auth.cross_origin", r
    assert not [d for d in admin.devices()["devices"] if d["name"] == "cross-site"]
    r = with_cookie(admin, "POST", "/admin/devices", sid, origin=origin(otad),
                    body={"name": "same-site"})
    assert r.status == 201, r
    # the audit log names the admin of the session
    ev = admin.request("GET", "/admin/audit?kind=device.created&limit=1").json()["events"]
    assert ev[0]["actor"] == otad.user and ev[0]["text"] == "same-site", ev


def test_sign_in_from_another_site_is_refused(otad, admin):
    """Login CSRF: another site's page cannot sign a browser in to this otad."""
    r = sign_in(admin, headers={"Origin": "https://evil.example"})
    assert r.status == 403 and r.json()["error"]["code"] == "auth.cross_origin", r
    assert r.header("Set-Cookie") is None
    r = sign_in(admin, headers={"Origin": origin(otad)})
    assert r.status == 200 and r.header("Set-Cookie"), r


def test_sign_out_ends_the_session(otad, admin):
    sid, _ = cookie_of(sign_in(admin))
    r = with_cookie(admin, "DELETE", "/admin/session", sid, origin=origin(otad))
    assert r.status == 200 and r.json() == {"signed_out": True}, r
    cleared = r.header("Set-Cookie")
    assert cleared.startswith("otad_session=;") and "Max-Age=0" in cleared, cleared
    r = with_cookie(admin, "GET", "/admin/devices", sid)
    assert r.status == 401 and r.json()["error"]["code"] == "auth.session_ended", r
    assert r.header("WWW-Authenticate") is None
    assert "Sign in again" in r.json()["error"]["message"]
    # Basic has no session to end
    r = admin.request("DELETE", "/admin/session")
    assert r.status == 409 and r.json()["error"]["code"] == "session.none", r
    # a made-up cookie opens nothing
    r = with_cookie(admin, "GET", "/admin/devices", "A" * 44)
    assert r.status == 401 and r.json()["error"]["code"] == "auth.session_ended", r
    kinds = [e["kind"] for e in admin.request(
        "GET", "/admin/audit?kind=admin.&limit=5").json()["events"]]
    assert kinds[0] == "admin.signed_out" and "admin.signed_in" in kinds, kinds


def test_no_basic_prompt_for_the_pages_scripts(otad, admin):
    nobody = otad.admin(user=None)
    r = nobody.request("GET", "/admin/devices", headers={"Sec-Fetch-Mode": "cors"})
    assert r.status == 401 and r.header("WWW-Authenticate") is None, r
    assert r.json()["error"]["message"].startswith("You are not signed in"), r
    # curl and a typed URL still get the challenge
    for h in ({}, {"Sec-Fetch-Mode": "navigate"}):
        r = nobody.request("GET", "/admin/devices", headers=h)
        assert r.status == 401 and r.header("WWW-Authenticate").startswith("Basic"), r
    # the page itself and its files need no login: it shows the sign-in form
    for path in ("/admin/", "/admin/ui/app.js", "/admin/ui/chart.min.js"):
        r = nobody.request("GET", path)
        assert r.status == 200, (path, r)
    assert 'id="signin"' in nobody.request("GET", "/admin/").body.decode()


def test_bad_sign_ins_say_why_and_are_throttled():
    srv = start_server(name="otad-signin")
    try:
        adm = srv.admin()
        r = sign_in(adm, password="")
        assert r.status == 401, r
        r = sign_in(adm, password="wrong")
        assert r.status == 401 and r.header("WWW-Authenticate") is None, r
        err = r.json()["error"]
        assert err["code"] == "auth.wrong_password", err
        assert err["message"].startswith("Wrong user or password."), err
        assert r.header("Set-Cookie") is None
        r = anonymous(adm).request("POST", "/admin/session", body=b" " * 5000,
                                   headers={"Content-Type": "application/json"})
        assert r.status == 413 and r.json()["error"]["code"] == "request.too_large", r
        r = anonymous(adm).request("POST", "/admin/session", body=b"{",
                                   headers={"Content-Type": "application/json"})
        assert r.status == 400 and r.json()["error"]["code"] == "session.bad_request", r
        for i in range(8):
            assert sign_in(adm, password="guess%d" % i).status == 401
        r = sign_in(adm)        # the 11th try, right or wrong, waits
        assert r.status == 429 and r.json()["error"]["code"] == "auth.too_many_failures", r
        assert 1 <= int(r.header("Retry-After")) <= 60
        assert r.header("Set-Cookie") is None
    finally:
        srv.finish()


def test_api_tokens_still_work_and_sessions_are_bounded(otad, admin):
    r = admin.json_request("POST", "/admin/tokens", {"name": "script"})
    token = r.json()["token"]
    r = anonymous(admin).request("GET", "/admin/session",
                                 headers={"Authorization": "Bearer " + token})
    assert r.status == 200 and r.json()["via"] == "token", r
    assert r.json()["user"] == "token:script"
    # 70 sign-ins (64 live at most): the first sessions give way, the newest work
    sids = [cookie_of(sign_in(admin))[0] for _ in range(70)]
    assert len(set(sids)) == 70
    assert with_cookie(admin, "GET", "/admin/session", sids[-1]).status == 200
    assert with_cookie(admin, "GET", "/admin/session", sids[0]).status == 401


def test_readme_curl_sign_in_and_out(otad, workdir):
    """The README's curl lines, with this server's port and password; the server
    answers as 127.0.0.1, which curl then names in Host (and the README's Origin)."""
    base = "https://127.0.0.1:%d" % otad.admin_port
    lines = [
        "curl -v -k -c jar -H 'Content-Type: application/json' -d "
        "'{\"user\":\"%s\",\"password\":\"%s\"}' %s/admin/session"
        % (otad.user, otad.password, base),
        "curl -v -k -b jar %s/admin/session" % base,
        "curl -v -k -b jar -X DELETE -H 'Origin: %s' %s/admin/session" % (base, base),
        "curl -v -k -b jar %s/admin/session" % base,
    ]
    res = [admin_mod.run_curl(line, cwd=workdir) for line in lines]
    assert [r.status for r in res] == [200, 200, 200, 401], [r.describe() for r in res]
    assert json.loads(res[1].stdout)["via"] == "session"
    assert json.loads(res[2].stdout) == {"signed_out": True}


def test_sign_out_ends_the_sessions_event_streams(otad, admin):
    """A stream opened with the cookie ends at sign-out; one opened with Basic
    goes on (and hears the sign-out in the audit stream)."""
    sid, _ = cookie_of(sign_in(admin))
    ctx = ssl._create_unverified_context()
    basic = "Basic " + base64.b64encode(("%s:%s" % (admin.user, admin.password))
                                        .encode()).decode()
    streams = []
    for h in ({"Cookie": "otad_session=" + sid}, {"Authorization": basic}):
        conn = http.client.HTTPSConnection(otad.host, otad.admin_port, timeout=5,
                                           context=ctx)
        conn.request("GET", "/admin/events", headers=h)
        r = conn.getresponse()
        assert r.status == 200 and r.readline() == b": otad events\n", r.status
        streams.append((conn, r))
    (conn, r), (bconn, br) = streams
    try:
        t0 = time.monotonic()
        assert with_cookie(admin, "DELETE", "/admin/session", sid,
                           origin=origin(otad)).status == 200
        r.read()                # to the end: the stream was closed
        assert time.monotonic() - t0 < 3, "the stream outlived the sign-out"
        heard = b""
        while b"admin.signed_out" not in heard:
            heard += br.readline()
        assert b"event: audit" in heard, heard
    finally:
        conn.close()
        bconn.close()
