# SPDX-License-Identifier: MIT
"""The seed's curl commands (PROTOCOL.md section 4) run with the real curl binary, and
what the device then sees: one `ota\\0<url>` frame, and a download that ESP8266httpUpdate
accepts (issue 2 item 7, tests 2, 3 and 5)."""

import pytest

import admin as admin_mod
import blynk
import checks
import esphttp
import images


def logged_in(srv, token, **info):
    return blynk.device("127.0.0.1", srv.hwd_port, token, **info)


def seed_upload(srv, workdir, img, token=None, host="127.0.0.1"):
    checks.write_seed_image(workdir, img)
    line = admin_mod.seed_curl_line(host, srv.admin_port, srv.password, token=token)
    return admin_mod.run_curl(line, cwd=workdir)


def new_image(tag):
    """A "new" build, distinct per test so no two tests share an image."""
    return images.esp8266_image(version="0.2.0", build="Dec 01 2026 12:%s" % tag)


@pytest.fixture
def stop_jobs(otad):
    """Jobs for all devices would reach later tests' devices: stop them after."""
    yield
    otad.admin().ota_stop()


@pytest.mark.parametrize("auth_query", [False, True], ids=["plain", "auth-query"])
def test_seed_curl_with_token(otad, admin, workdir, auth_query):
    dev = admin.create_device()
    img = new_image("00:0%d" % auth_query)
    with logged_in(otad, dev["token"]) as c:
        res = seed_upload(otad, workdir, img, token=dev["token"])
        checks.check_upload_answer(res, img, targeted=1)
        # DESIGN.md 3: the bytes live in the firmware directory (the negative
        # checks in test_errors.py rely on this finding them)
        assert checks.stored_copies(otad, img), "uploaded image not found under state_dir"
        f = c.wait_for_ota_frame(timeout=10)
        assert f is not None, "device got no ota frame within 10 s of the upload"
        url = checks.check_ota_frame(f, "127.0.0.1", otad.fw_port)
        # PROTOCOL.md 1.1: one write per frame (the Linux client drops a split frame)
        assert c.arrived_in_one_piece(f), "ota frame split over several segments: %r" % (
            c.segments[-4:],)
    # like the sketch: disconnect, then download
    if auth_query:
        url += "?auth=" + dev["token"]
    checks.check_download(url, img)


@pytest.mark.parametrize("created", ["before", "after"])
def test_no_token_device_connecting_after_upload(otad, admin, workdir, stop_jobs, created):
    """The job without ?token= is for all devices, also those that connect later
    (created before the upload but offline, or created after it)."""
    dev = admin.create_device() if created == "before" else None
    img = new_image("01:0%d" % (created == "after"))
    res = seed_upload(otad, workdir, img)
    obj = checks.check_upload_answer(res, img)
    if dev is not None:
        assert obj["devices_targeted"] >= 1, \
            "job for all devices targets %r devices, device %d exists" % (
                obj["devices_targeted"], dev["id"])
    else:
        dev = admin.create_device()
    with blynk.BlynkClient("127.0.0.1", otad.hwd_port).connect() as c:
        assert c.login(dev["token"]) == 200
        assert c.send_info(checks.OLD_INFO) == 200
        f = c.wait_for_ota_frame(timeout=10)
        assert f is not None, "device with another build got no ota frame within 10 s"
        url = checks.check_ota_frame(f, "127.0.0.1", otad.fw_port)
    checks.check_download(url, img)


def test_no_token_device_already_on_image_gets_nothing(otad, admin, workdir, stop_jobs):
    dev = admin.create_device()
    img = new_image("02:00")
    tag = images.parse_tag(img)
    checks.check_upload_answer(seed_upload(otad, workdir, img), img)
    with logged_in(otad, dev["token"], mcu=tag["mcu"], build=tag["build"]) as c:
        f = c.wait_for_ota_frame(timeout=2)
        assert f is None, "device already running the image got %r" % f


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_ota_stop(otad, admin, workdir, method):
    dev = admin.create_device()
    img = new_image("03:0%d" % (method == "POST"))
    checks.check_upload_answer(seed_upload(otad, workdir, img), img)
    r = admin.ota_stop(method)
    assert r.status == 200, "%s /admin/ota/stop -> %r" % (method, r)
    assert isinstance(r.json(), dict)
    with logged_in(otad, dev["token"]) as c:
        f = c.wait_for_ota_frame(timeout=2)
        assert f is None, "device got %r after /admin/ota/stop" % f


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]"])
def test_seed_curl_localhost_dual_stack(otad_dual, workdir, host):
    srv = otad_dual
    adm = srv.admin()
    dev = adm.create_device()
    img = new_image("04:%02d" % ["localhost", "127.0.0.1", "[::1]"].index(host))
    with logged_in(srv, dev["token"]) as c:
        res = seed_upload(srv, workdir, img, token=dev["token"], host=host)
        checks.check_upload_answer(res, img, targeted=1)
        url = checks.check_ota_frame(c.wait_for_ota_frame(timeout=10), "127.0.0.1",
                                     srv.fw_port)
    checks.check_download(url, img)


@pytest.mark.parametrize("runs", ["sketch-md5", "version"])
def test_device_already_running_image_gets_304(otad, admin, workdir, runs):
    """PROTOCOL.md 2.1: 304 when the updater's sketch MD5 or version is the image's."""
    dev = admin.create_device()
    img = new_image("05:0%d" % (runs == "version"))
    with logged_in(otad, dev["token"]) as c:
        checks.check_upload_answer(seed_upload(otad, workdir, img, token=dev["token"]), img)
        url = checks.check_ota_frame(c.wait_for_ota_frame(timeout=10), "127.0.0.1",
                                     otad.fw_port)
    if runs == "sketch-md5":
        r = esphttp.esp8266_get(url, sketch_md5=images.digests(img)["md5"])
    else:
        r = esphttp.esp8266_get(url, version=images.parse_tag(img)["mcu"])
    assert r.status == 304, "expected 304 (no updates), got %r" % r
    assert r.body == b""
