"""The OTA lifecycle (DESIGN.md section 4, issue 6): every device's update tracked
from request to verified success, with devices that really download, "reboot" and
report the build they run.  Each test uses its own devices and jobs.
"""
import time

import pytest

import lifecycle as lc
from lifecycle import Device, NEW_BUILD, NEW_VERSION, OLD_BUILD


@pytest.fixture(scope="module")
def image():
    return lc.new_image()


@pytest.fixture(scope="module")
def firmware_id(otad, image):
    """The image uploaded once (a job for a throw-away device, stopped)."""
    return lc.upload_stopped(otad, image)


def test_success_is_verified_by_the_new_build(otad, admin, image, firmware_id):
    dev = Device(otad, admin).connect()
    job = lc.create_job(admin, firmware_id, devices=[dev.id])
    assert job["state"] == "active" and job["deliveries"] == 1, job
    dev.update(image)
    d = lc.wait_delivery(admin, job["id"], dev.id, "succeeded")
    assert d["state"] == "succeeded", d
    assert d["attempts"] == 1 and d["bytes_sent"] == len(image) and d["percent"] == 100
    j = lc.wait_job(admin, job["id"], lambda j: j["state"] == "finished")
    assert j["state"] == "finished" and j["counts"] == {"succeeded": 1}
    got = admin.device(dev.id)
    assert got["fw_version"] == NEW_VERSION and got["build"] == NEW_BUILD
    dev.close()


def test_already_current_gets_no_command(otad, admin, firmware_id):
    dev = Device(otad, admin, version=NEW_VERSION, build=NEW_BUILD).connect()
    job = lc.create_job(admin, firmware_id, devices=[dev.id])
    d = lc.wait_delivery(admin, job["id"], dev.id, "already-current")
    assert d["state"] == "already-current", d
    assert dev.wait_ota(timeout=1.0) is None
    dev.close()


def test_incompatible_board_unless_forced(otad, admin, image, firmware_id):
    dev = Device(otad, admin, dev="ESP32-DevKit").connect()
    job = lc.create_job(admin, firmware_id, devices=[dev.id])
    d = lc.wait_delivery(admin, job["id"], dev.id, "incompatible")
    assert d["state"] == "incompatible", d
    assert "board NodeMCU" in d["last_error"] and "ESP32-DevKit" in d["last_error"]
    assert dev.wait_ota(timeout=1.0) is None
    forced = lc.create_job(admin, firmware_id, devices=[dev.id], force=True)
    assert dev.wait_ota() is not None
    assert lc.delivery_of(admin, forced["id"], dev.id)["state"] == "sent"
    dev.close()


def test_failed_flash_is_retried_then_succeeds(otad, admin, image, firmware_id):
    dev = Device(otad, admin).connect()
    job = lc.create_job(admin, firmware_id, devices=[dev.id], attempt_limit=3)
    dev.update(image, flash_ok=False)           # came back on the old build
    url = dev.wait_ota()                        # attempt 2 follows at once
    assert url is not None
    d = lc.delivery_of(admin, job["id"], dev.id)
    assert d["state"] == "sent" and d["attempts"] == 2, d
    assert "came back on build %s after downloading; attempt 1 of 3" % OLD_BUILD \
        == d["last_error"], d
    assert dev.download(url).body == image
    dev.reboot(NEW_VERSION, NEW_BUILD)
    d = lc.wait_delivery(admin, job["id"], dev.id, "succeeded")
    assert d["state"] == "succeeded" and d["attempts"] == 2, d
    dev.close()


def test_retries_stop_at_the_attempt_limit(otad, admin, image, firmware_id):
    dev = Device(otad, admin).connect()
    job = lc.create_job(admin, firmware_id, devices=[dev.id], attempt_limit=2)
    dev.update(image, flash_ok=False)
    dev.update(image, flash_ok=False)
    d = lc.wait_delivery(admin, job["id"], dev.id, "failed")
    assert d["state"] == "failed" and d["attempts"] == 2, d
    assert d["last_error"] == ("came back on build %s after downloading; attempt 2 of 2, "
                               "giving up" % OLD_BUILD)
    dev.reboot()                                # no endless re-flash loop
    assert dev.wait_ota(timeout=1.5) is None
    dev.close()


def test_pacing_keeps_at_most_max_parallel_in_flight(otad, admin, image, firmware_id):
    devs = [Device(otad, admin).connect() for _ in range(20)]
    job = lc.create_job(admin, firmware_id, devices=[d.id for d in devs],
                        max_parallel=5)
    try:
        done = set()
        while len(done) < 20:
            time.sleep(0.3)
            counts = lc.job(admin, job["id"])["counts"]
            assert counts.get("sent", 0) + counts.get("downloading", 0) <= 5, counts
            got = [d for d in devs if d.id not in done and d.wait_ota(timeout=0.2)]
            assert got or len(done) == 20, "no device got a command: %r" % counts
            assert len(got) <= 5
            for d in got:
                assert d.download(d.last_url).status == 200
                d.reboot(NEW_VERSION, NEW_BUILD)
                done.add(d.id)
        j = lc.wait_job(admin, job["id"], lambda j: j["state"] == "finished")
        assert j["counts"] == {"succeeded": 20}, j
    finally:
        for d in devs:
            d.close()


def test_failure_threshold_pauses_the_job(otad, admin, image, firmware_id):
    devs = [Device(otad, admin).connect() for _ in range(3)]
    job = lc.create_job(admin, firmware_id, devices=[d.id for d in devs],
                        max_parallel=1, attempt_limit=1, failure_threshold=60)
    first = next(d for d in devs if d.wait_ota(timeout=3.0))
    url = first.last_url
    assert first.download(url).status == 200
    first.reboot()                              # old build: the only attempt failed
    j = lc.wait_job(admin, job["id"], lambda j: j["state"] == "paused")
    assert j["state"] == "paused", j
    # the slot freed by the first download went to a second device; the
    # third waits while the job is paused
    assert j["counts"].get("failed") == 1 and j["counts"].get("queued") == 1, j
    second = next(d for d in devs if d is not first and d.wait_ota(timeout=2.0))
    third = next(d for d in devs if d not in (first, second))
    assert third.wait_ota(timeout=0.5) is None
    r = admin.json_request("POST", "/admin/jobs/%d/resume" % job["id"], {})
    assert r.status == 200 and r.json()["state"] == "active", r
    assert second.download(second.last_url).status == 200
    second.reboot(NEW_VERSION, NEW_BUILD)     # 1 of 2 failed: under 60 %
    assert third.wait_ota(timeout=3.0) is not None
    r = admin.json_request("POST", "/admin/jobs/%d/resume" % job["id"], {})
    assert r.status == 409 and r.json()["error"]["code"] == "job.state"
    for d in devs:
        d.close()


def test_stop_cancels_mid_download_and_the_ticket_dies(otad, admin, image, firmware_id):
    dev = Device(otad, admin).connect()
    job = lc.create_job(admin, firmware_id, devices=[dev.id])
    url = dev.wait_ota()
    r = admin.json_request("POST", "/admin/jobs/%d/stop" % job["id"], {})
    assert r.status == 200 and r.json()["state"] == "stopped"
    assert r.json()["deliveries_canceled"] == 1
    assert lc.delivery_of(admin, job["id"], dev.id)["state"] == "canceled"
    assert dev.download(url).status in (403, 404)
    r = admin.json_request("POST", "/admin/jobs/%d/resume" % job["id"], {})
    assert r.status == 409 and r.json()["error"]["code"] == "job.state"
    dev.close()


def test_newer_job_supersedes_the_older(otad, admin, image, firmware_id):
    dev = Device(otad, admin).connect()
    older = lc.create_job(admin, firmware_id, devices=[dev.id])
    old_url = dev.wait_ota()
    newer = lc.create_job(admin, firmware_id, devices=[dev.id])
    assert lc.delivery_of(admin, older["id"], dev.id)["state"] == "canceled"
    assert dev.download(old_url).status in (403, 404)
    dev.reboot()                                # logs in again: the newer job sends
    new_url = dev.wait_ota()
    assert new_url is not None and new_url != old_url
    assert dev.download(new_url).body == image
    dev.reboot(NEW_VERSION, NEW_BUILD)
    assert lc.wait_delivery(admin, newer["id"], dev.id, "succeeded")["state"] == \
        "succeeded"
    dev.close()


def test_offline_device_waits_then_updates(otad, admin, image, firmware_id):
    dev = Device(otad, admin)
    job = lc.create_job(admin, firmware_id, tokens=[dev.token])
    assert lc.delivery_of(admin, job["id"], dev.id)["state"] == "queued"
    dev.connect()
    dev.update(image)
    assert lc.wait_delivery(admin, job["id"], dev.id, "succeeded")["state"] == "succeeded"
    dev.close()


def test_event_stream_shows_each_transition(otad, admin, image, firmware_id):
    dev = Device(otad, admin)
    conn, resp = lc.events(admin, "/admin/events?device=%d" % dev.id)
    try:
        assert resp.status == 200
        assert resp.getheader("Content-Type") == "text/event-stream"
        dev.connect()
        job = lc.create_job(admin, firmware_id, devices=[dev.id])
        dev.update(image)
        seen, percents = [], []
        while "succeeded" not in seen:
            ev = lc.read_event(resp)
            assert ev is not None, seen
            kind, data = ev
            assert data["device_id"] == dev.id
            if kind == "delivery":
                assert data["job_id"] == job["id"]
                if data["from"] == data["state"]:   # progress, every 10 %
                    assert data["state"] == "downloading" and \
                        0 < data["percent"] <= 100, data
                    percents.append(data["percent"])
                else:
                    seen.append(data["state"])
        assert seen == ["sent", "downloading", "downloaded", "succeeded"], seen
        assert percents == sorted(percents) and percents, percents
    finally:
        conn.close()
        dev.close()


def test_job_api_errors(otad, admin, firmware_id):
    r = admin.json_request("POST", "/admin/jobs", {"firmware_id": firmware_id})
    assert r.status == 400 and r.json()["error"]["code"] == "job.target"
    r = admin.json_request("POST", "/admin/jobs", {"firmware_id": 999999, "all": True})
    assert r.status == 404 and r.json()["error"]["code"] == "firmware.not_found"
    r = admin.json_request("POST", "/admin/jobs", {"firmware_id": firmware_id,
                                                    "devices": [999999]})
    assert r.status == 404 and r.json()["error"]["code"] == "device.not_found"
    r = admin.json_request("POST", "/admin/jobs", {"firmware_id": firmware_id,
                                                    "all": True, "max_parallel": 0})
    assert r.status == 400 and "max_parallel" in r.json()["error"]["message"]
    r = admin.request("GET", "/admin/jobs/999999")
    assert r.status == 404 and r.json()["error"]["code"] == "job.not_found"
    r = admin.request("DELETE", "/admin/jobs/1")
    assert r.status == 405
    r = admin.request("GET", "/admin/jobs?state=stopped")
    assert r.status == 200 and all(j["state"] == "stopped" for j in r.json()["jobs"])


def test_state_names_come_from_one_table(otad, admin):
    """GET /admin/lifecycle serves the daemon's own tables; the web page and
    /metrics name the same states (issue 13)."""
    r = admin.request("GET", "/admin/lifecycle")
    assert r.status == 200, r
    lc_ = r.json()
    states = ["queued", "scheduled", "awaiting-consent", "sent", "downloading",
              "downloaded", "succeeded", "failed", "already-current", "incompatible",
              "canceled", "declined"]
    assert lc_["delivery"]["states"] == states
    assert lc_["delivery"]["ended"] == states[6:]
    assert lc_["delivery"]["in_flight"] == ["sent", "downloading"]   # max_parallel's
    moves = {(t["from"], t["event"]): t["to"] for t in lc_["delivery"]["transitions"]}
    assert moves[("queued", "send")] == "sent"
    assert moves[("downloaded", "unverified")] == "succeeded"
    # issue 16: the updates that wait
    assert moves[("queued", "wait")] == "scheduled"
    assert moves[("scheduled", "open")] == "queued"
    assert moves[("queued", "ask")] == "awaiting-consent"
    assert moves[("awaiting-consent", "accept")] == "queued"
    assert moves[("awaiting-consent", "defer")] == "awaiting-consent"
    assert moves[("awaiting-consent", "decline")] == "declined"
    assert ("sent", "wait") not in moves and ("downloading", "wait") not in moves
    assert not any(f in states[6:] for f, _ in moves)
    assert lc_["job"]["states"] == ["active", "paused", "stopped", "finished"]
    assert lc_["job"]["ended"] == ["stopped", "finished"]
    metrics = admin.request("GET", "/metrics").body.decode()
    for s in states:
        assert 'otad_deliveries{state="%s"}' % s in metrics
    for s in lc_["job"]["states"]:
        assert 'otad_jobs{state="%s"}' % s in metrics
    js = "".join(admin.request("GET", "/admin/ui/%s.js" % f).body.decode()
                 for f in ("core", "devices", "updates", "jobs", "admin", "app"))
    assert "'already-current'" not in js and "/admin/lifecycle" in js
