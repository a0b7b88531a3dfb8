# SPDX-License-Identifier: MIT
"""Updates that wait for a yes (issue 16): with "confirm": "device" otad writes the
device's consent pin (`vw\\0127\\0pending\\0<version>\\0<size>\\0<job id>`) and sends
no OTA command until the sketch writes "accept"; "defer" asks again later,
"decline" ends the delivery `declined` without failing the job. With "confirm":
"admin" an admin confirms or declines through the API."""
import calendar
import time

import pytest

import lifecycle as lc
from conftest import start_server
from lifecycle import Device

PIN = 127


@pytest.fixture(scope="module")
def srv():
    s = start_server(name="otad-consent")
    yield s
    s.finish()


@pytest.fixture(scope="module")
def image():
    return lc.new_image()


@pytest.fixture(scope="module")
def firmware(srv, image):
    """(id, version, size) of the image, uploaded once for the module."""
    admin = srv.admin()
    fw_id = lc.upload_stopped(srv, image)
    r = admin.request("GET", "/admin/firmware/%d" % fw_id)
    assert r.status == 200, r
    fw = r.json()
    assert fw["size"] == len(image) and fw["version"] == lc.NEW_VERSION, fw
    return fw_id, fw["version"], fw["size"]


def pending_body(pin, firmware, job_id):
    _, version, size = firmware
    return b"vw\0%d\0pending\0%s\0%d\0%d" % (pin, version.encode(), size, job_id)


def asked(dev, firmware, job_id, pin=PIN, timeout=5.0):
    """The device got the exact pin write of the pending update."""
    f = dev.client.wait_pin_write(pin, timeout)
    assert f is not None, "device %d: no write to V%d" % (dev.id, pin)
    assert f.body == pending_body(pin, firmware, job_id), f
    return f


def no_ota(dev, timeout=1.5):
    url = dev.client.wait_for_ota(timeout)
    assert url is None, "device %d got an OTA command: %s" % (dev.id, url)


def consent_job(srv, admin, firmware, devs, confirm="device", **kw):
    return lc.create_job(admin, firmware[0], devices=[d.id for d in devs],
                         confirm=confirm, **kw)["id"]


def unix(rfc3339):
    return calendar.timegm(time.strptime(rfc3339, "%Y-%m-%dT%H:%M:%SZ"))


def deferred(admin, job_id, dev, timeout=5.0):
    """The delivery once its defer shows (next_at set), or as it is at the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        d = lc.delivery_of(admin, job_id, dev.id)
        if d["next_at"] is not None or time.monotonic() > deadline:
            return d
        time.sleep(0.05)


def test_accept_then_full_delivery(srv, firmware, image):
    """The pin write, no OTA until "accept", then the whole delivery."""
    admin = srv.admin()
    dev = Device(srv, admin).connect()
    job_id = consent_job(srv, admin, firmware, [dev])
    asked(dev, firmware, job_id)
    d = lc.wait_delivery(admin, job_id, dev.id, "awaiting-consent")
    assert d["state"] == "awaiting-consent" and d["consented"] is False, d
    assert d["next_at"] is None, d
    no_ota(dev)
    dev.client.virtual_write(PIN, "accept")
    dev.update(image)
    d = lc.wait_delivery(admin, job_id, dev.id, "succeeded")
    assert d["state"] == "succeeded" and d["consented"] is True, d
    assert lc.wait_job(admin, job_id, lambda j: j["state"] == "finished")["state"] == \
        "finished"
    dev.close()


def test_defer_then_accept(srv, firmware, image):
    """A defer keeps the delivery waiting with next_at N minutes ahead (not asked
    again at a login before then); an accept afterwards sends it."""
    admin = srv.admin()
    dev = Device(srv, admin).connect()
    job_id = consent_job(srv, admin, firmware, [dev])
    asked(dev, firmware, job_id)
    before = int(time.time())
    dev.client.virtual_write(PIN, "defer", 2)
    d = deferred(admin, job_id, dev)
    assert d["state"] == "awaiting-consent", d
    assert d["last_error"] == "deferred by the device for 2 minutes", d
    assert before + 120 <= unix(d["next_at"]) <= int(time.time()) + 120, d
    no_ota(dev, 1.0)
    # a login while the defer runs: not asked again, nothing sent
    dev.reboot()
    assert dev.client.wait_pin_write(PIN, 1.5) is None
    no_ota(dev, 0.5)
    dev.client.virtual_write(PIN, "accept")
    dev.update(image)
    d = lc.wait_delivery(admin, job_id, dev.id, "succeeded")
    assert d["state"] == "succeeded" and d["next_at"] is None, d
    dev.close()


def test_defer_is_capped(srv, firmware):
    """A defer longer than consent_defer_max (1440 minutes) waits that long."""
    admin = srv.admin()
    dev = Device(srv, admin).connect()
    job_id = consent_job(srv, admin, firmware, [dev])
    asked(dev, firmware, job_id)
    dev.client.virtual_write(PIN, "defer", 100000)
    d = deferred(admin, job_id, dev)
    assert d["last_error"] == "deferred by the device for 1440 minutes", d
    assert abs(unix(d["next_at"]) - time.time() - 1440 * 60) < 10, d
    dev.close()


def test_decline_ends_declined_and_job_finishes(srv, firmware):
    """decline -> declined; the job (failure_threshold 1 %) finishes instead of
    pausing: a decline is no failure."""
    admin = srv.admin()
    dev = Device(srv, admin).connect()
    job_id = consent_job(srv, admin, firmware, [dev], failure_threshold=1)
    asked(dev, firmware, job_id)
    dev.client.virtual_write(PIN, "decline")
    d = lc.wait_delivery(admin, job_id, dev.id, "declined")
    assert d["state"] == "declined", d
    assert d["last_error"] == "declined by the device", d
    j = lc.wait_job(admin, job_id, lambda j: j["state"] != "active")
    assert j["state"] == "finished", j
    no_ota(dev, 1.0)
    dev.close()


def test_junk_answers_are_ignored(srv, firmware, image):
    """Anything but the three answers leaves the delivery waiting."""
    admin = srv.admin()
    dev = Device(srv, admin).connect()
    job_id = consent_job(srv, admin, firmware, [dev])
    asked(dev, firmware, job_id)
    for values in (("yes",), ("defer",), ("defer", "soon"), ("defer", 0),
                   ("accept", 1), ("Accept",)):
        dev.client.virtual_write(PIN, *values)
    no_ota(dev, 1.5)
    d = lc.delivery_of(admin, job_id, dev.id)
    assert d["state"] == "awaiting-consent" and d["next_at"] is None, d
    dev.client.virtual_write(PIN, "accept")
    assert dev.wait_ota() is not None
    dev.close()


def test_login_repeats_the_pin_write(srv, firmware):
    """A job created while the device is offline asks it at its login, and again at
    each login while it waits; no OTA command meanwhile."""
    admin = srv.admin()
    dev = Device(srv, admin)
    job_id = consent_job(srv, admin, firmware, [dev])
    assert lc.delivery_of(admin, job_id, dev.id)["state"] == "queued"
    dev.connect()
    first = asked(dev, firmware, job_id)
    assert dev.client.wait_pin_write(PIN, 1.0) is None      # once per login
    for _ in range(2):
        dev.reboot()
        again = asked(dev, firmware, job_id)
        assert again.body == first.body
        assert dev.client.wait_pin_write(PIN, 0.5) is None
    no_ota(dev, 0.5)
    assert lc.delivery_of(admin, job_id, dev.id)["state"] == "awaiting-consent"
    dev.close()


def test_answer_without_a_question_is_ignored(srv, firmware):
    """A write to V127 when nothing waits is an ordinary pin write."""
    admin = srv.admin()
    dev = Device(srv, admin).connect()
    dev.client.virtual_write(PIN, "accept")
    assert dev.client.ping() == 200
    no_ota(dev, 1.0)
    dev.close()


def post(admin, job_id, device_id, what, body=None):
    return admin.json_request("POST", "/admin/jobs/%d/deliveries/%d/%s"
                              % (job_id, device_id, what), body)


def test_admin_confirm_and_decline(srv, firmware, image):
    """confirm "admin": no pin write; confirm sends it, decline ends it; 409 for a
    delivery in another state, 404 for no such job or delivery."""
    admin = srv.admin()
    yes, no = Device(srv, admin).connect(), Device(srv, admin).connect()
    job_id = consent_job(srv, admin, firmware, [yes, no], confirm="admin")
    for dev in (yes, no):
        d = lc.wait_delivery(admin, job_id, dev.id, "awaiting-consent")
        assert d["state"] == "awaiting-consent", d
        assert dev.client.wait_pin_write(PIN, 0.5) is None
    no_ota(yes, 1.0)

    r = post(admin, job_id, yes.id, "confirm", {})
    assert r.status == 200, r
    assert r.json()["state"] in ("queued", "sent") and r.json()["consented"] is True, r
    yes.update(image)
    assert lc.wait_delivery(admin, job_id, yes.id, "succeeded")["state"] == "succeeded"
    r = post(admin, job_id, yes.id, "confirm")
    assert r.status == 409 and r.json()["error"]["code"] == "delivery.state", r
    assert "succeeded" in r.json()["error"]["message"], r
    r = post(admin, job_id, yes.id, "decline")
    assert r.status == 409 and r.json()["error"]["code"] == "delivery.state", r

    r = post(admin, job_id, no.id, "decline", {"reason": "after the harvest"})
    assert r.status == 200 and r.json()["state"] == "declined", r
    assert r.json()["last_error"] == "declined by %s: after the harvest" % srv.user, r
    r = post(admin, job_id, no.id, "confirm")
    assert r.status == 409, r
    no_ota(no, 1.0)
    assert lc.wait_job(admin, job_id, lambda j: j["state"] == "finished")["state"] == \
        "finished"

    r = post(admin, job_id, 999999, "confirm")
    assert r.status == 404 and r.json()["error"]["code"] == "delivery.not_found", r
    r = post(admin, 999999, yes.id, "decline")
    assert r.status == 404 and r.json()["error"]["code"] == "job.not_found", r
    r = post(admin, job_id, no.id, "confirm", {"bogus": 1})
    assert r.status == 400, r
    r = admin.request("GET", "/admin/jobs/%d/deliveries/%d/confirm" % (job_id, no.id))
    assert r.status == 405, r
    yes.close()
    no.close()


def test_device_cannot_answer_for_an_admin(srv, firmware):
    """A device that was asked before (hwd knows its pin) cannot accept a delivery
    of a job whose confirm is "admin"."""
    admin = srv.admin()
    dev = Device(srv, admin).connect()
    first = consent_job(srv, admin, firmware, [dev])
    asked(dev, firmware, first)
    dev.client.virtual_write(PIN, "defer", 5)
    job_id = consent_job(srv, admin, firmware, [dev], confirm="admin")   # supersedes
    assert lc.wait_delivery(admin, job_id, dev.id, "awaiting-consent")["state"] == \
        "awaiting-consent"
    dev.client.virtual_write(PIN, "accept")
    no_ota(dev, 1.5)
    d = lc.delivery_of(admin, job_id, dev.id)
    assert d["state"] == "awaiting-consent" and d["consented"] is False, d
    dev.close()


def test_admin_decides_for_a_device_job(srv, firmware):
    """The admin endpoints work on confirm "device" jobs too, and decline a queued
    delivery (its device offline)."""
    admin = srv.admin()
    online, offline = Device(srv, admin).connect(), Device(srv, admin)
    job_id = consent_job(srv, admin, firmware, [online, offline])
    asked(online, firmware, job_id)
    r = post(admin, job_id, online.id, "confirm")
    assert r.status == 200, r
    assert online.wait_ota() is not None
    r = post(admin, job_id, offline.id, "decline")
    assert r.status == 200 and r.json()["state"] == "declined", r
    online.close()


@pytest.fixture(scope="module")
def srv5():
    s = start_server(name="otad-consent-pin", config={"admind": {"consent_pin": "5"}})
    yield s
    s.finish()


def test_consent_pin_is_configurable(srv5, image):
    """[admind] consent_pin = 5: the question and the answer are on V5; V127 is an
    ordinary pin there.  The answer is kept as any pin write (HARDWARE_SYNC)."""
    admin = srv5.admin()
    fw_id = lc.upload_stopped(srv5, image)
    fw = admin.request("GET", "/admin/firmware/%d" % fw_id).json()
    firmware = (fw_id, fw["version"], fw["size"])
    dev = Device(srv5, admin).connect()
    job_id = consent_job(srv5, admin, firmware, [dev])
    asked(dev, firmware, job_id, pin=5)
    dev.client.virtual_write(127, "accept")
    no_ota(dev, 1.5)
    dev.client.virtual_write(5, "accept")
    assert dev.wait_ota() is not None
    mid = dev.client.send(16, b"vr\x005")          # HARDWARE_SYNC
    f = dev.client.wait_for(lambda f: f.cmd == 20 and f.body.endswith(b"accept"), 5.0)
    assert f is not None and f.msg_id == mid and f.body == b"vw\x005\x00accept", f
    dev.close()
