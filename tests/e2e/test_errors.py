# SPDX-License-Identifier: MIT
"""Mistakes users and devices make, and the answers they must get (issue 2 item 7,
test 4; PROTOCOL.md section 5 "Fix").

The failed-login tests come last: admind throttles failed logins, and that must not
turn the other tests' good requests away."""

import pytest

import admin as admin_mod
import blynk
import checks
import esphttp
import images


def test_unknown_token_gets_invalid_token(otad):
    with blynk.BlynkClient("127.0.0.1", otad.hwd_port).connect() as c:
        assert c.login("x" * 32) == blynk.INVALID_TOKEN


def test_command_before_login_closes(otad):
    with blynk.BlynkClient("127.0.0.1", otad.hwd_port).connect() as c:
        c.send(blynk.PING, msg_id=1)
        with pytest.raises(blynk.Closed):
            f = c.recv_frame(timeout=3)
            pytest.fail("expected the connection closed, got %r" % (f,))


def test_form_field_without_at_gets_400_naming_it(otad, admin, workdir):
    dev = admin.create_device()
    img = images.esp8266_image(build="Dec 10 2026 10:10:10")
    checks.write_seed_image(workdir, img)
    # the seed line with the "@" forgotten: curl sends the file name as a text field
    line = ("curl -v -F file=%s --insecure -u admin:%s "
            "https://127.0.0.1:%d/admin/ota/start?token=%s"
            % (checks.SEED_FILE, otad.password, otad.admin_port, dev["token"]))
    res = admin_mod.run_curl(line, cwd=workdir)
    assert res.returncode == 0, res.describe()
    assert res.status == 400, "expected 400\n" + res.describe()
    err = res.json().get("error")
    assert isinstance(err, dict) and err.get("code"), res.describe()
    assert "@" in err.get("message", ""), \
        "400 message does not name the missing '@'\n" + res.describe()


def test_guessed_ticket_gets_no_firmware(otad, admin, workdir):
    """PROTOCOL.md section 5: firmware only for a device with a delivery for it."""
    img = images.esp8266_image(build="Dec 11 2026 11:11:11")
    checks.write_seed_image(workdir, img)
    res = admin_mod.run_curl(admin_mod.seed_curl_line(
        "127.0.0.1", otad.admin_port, otad.password,
        token=admin.create_device()["token"]), cwd=workdir)
    assert res.status in (200, 201), res.describe()
    for path in ("/ota/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "/ota/",
                 "/" + images.digests(img)["sha256"],
                 "/firmware/" + images.digests(img)["sha256"],
                 "/static/ota/" + checks.SEED_FILE):
        r = esphttp.esp8266_get("http://127.0.0.1:%d%s" % (otad.fw_port, path))
        assert r.status in (403, 404), "GET %s -> %r" % (path, r)
        assert r.body != img


def _devices_snapshot(adm):
    obj = adm.devices()
    return obj["total"], sorted((d["id"], d["name"]) for d in obj["devices"])


@pytest.mark.parametrize("who", ["wrong-password", "unknown-user", "no-credentials"])
def test_wrong_credentials_store_and_send_nothing(otad, admin, workdir, who):
    dev = admin.create_device()
    before = _devices_snapshot(admin)
    img = images.esp8266_image(version="0.9.0", build="Dec 09 2026 09:09:%02d"
                               % ["wrong-password", "unknown-user", "no-credentials"].index(who))
    checks.write_seed_image(workdir, img)
    user, pw = {"wrong-password": ("admin", otad.password + "x"),
                "unknown-user": ("admin@blynk.cc", "admin"),
                "no-credentials": (None, None)}[who]
    with blynk.device("127.0.0.1", otad.hwd_port, dev["token"]) as c:
        if user is None:
            line = ("curl -v -F file=@%s --insecure https://127.0.0.1:%d/admin/ota/start"
                    "?token=%s" % (checks.SEED_FILE, otad.admin_port, dev["token"]))
        else:
            line = admin_mod.seed_curl_line("127.0.0.1", otad.admin_port, pw,
                                            token=dev["token"], user=user)
        res = admin_mod.run_curl(line, cwd=workdir)
        # exit 0: curl got the answer, not a reset (PROTOCOL.md section 6)
        assert res.returncode == 0, "curl failed\n" + res.describe()
        assert res.status == 401, "expected 401\n" + res.describe()
        www = res.header("WWW-Authenticate")
        assert www is not None and www.lower().startswith("basic"), \
            "401 without WWW-Authenticate: Basic\n" + res.describe()
        if res.stdout.strip():
            err = res.json().get("error")
            assert isinstance(err, dict) and err.get("code") and err.get("message"), \
                "error body is not {\"error\":{code,message}}\n" + res.describe()
        f = c.wait_for_ota_frame(timeout=2)
        assert f is None, "rejected upload still sent the OTA: %r" % f
    assert _devices_snapshot(admin) == before, "device list changed after a rejected upload"
    assert checks.stored_copies(otad, img) == [], "rejected upload was stored"


def test_wrong_credentials_on_json_api(otad, admin):
    r = admin.request("GET", "/admin/devices", password=otad.password + "x")
    assert r.status == 401, r
    assert r.header("WWW-Authenticate"), r
    err = r.json().get("error")
    assert isinstance(err, dict) and err.get("code") and err.get("message"), r
    r = admin.json_request("POST", "/admin/devices", {"name": "intruder"},
                           password="wrong")
    assert r.status == 401, r
    assert all(d["name"] != "intruder" for d in admin.devices()["devices"])
