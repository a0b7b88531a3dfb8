# SPDX-License-Identifier: MIT
"""The read endpoints behind the web page's device history, audit log and charts
(issue 20), as curl sees them: GET /admin/audit (filters by actor, kind or kind family,
since/until, paging, refusals), GET /admin/fleet/versions (devices per firmware version,
in all and per tag), GET /admin/jobs/{id}/progress (a job's deliveries per state over
time) and GET /admin/stats/throughput (bytes sent per 10 s, the last hour).
"""
import re
import time

import lifecycle as lc

ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def get(admin, path, status=200):
    r = admin.request("GET", path)
    assert r.status == status, (path, r)
    assert r.header("Content-Type") == "application/json", r.headers
    return r.json()


def test_an_update_shows_in_every_chart_and_the_history(otad, admin):
    image = lc.new_image()
    fw_id = lc.upload_firmware(admin, image)["id"]
    dev = lc.Device(otad, admin, name="insight-kitchen")
    admin.json_request("PATCH", "/admin/devices/%d" % dev.id, {"tags": "insight, floor-2"})
    idle = lc.Device(otad, admin, name="insight-idle")       # never logs in
    admin.json_request("PATCH", "/admin/devices/%d" % idle.id, {"tags": "insight"})
    dev.connect()
    try:
        admin.wait_device(dev.id, lambda d: d["fw_version"] == lc.OLD_VERSION)
        before = get(admin, "/admin/stats/throughput")
        job = lc.create_job(admin, fw_id, devices=[dev.id, idle.id])
        dev.update(image)
        lc.wait_delivery(admin, job["id"], dev.id, ["succeeded"])
        admin.json_request("POST", "/admin/jobs/%d/stop" % job["id"], {})
        lc.wait_job(admin, job["id"], lambda j: j["state"] == "stopped")

        # a delivery says whether its device is connected (why a queued one waits)
        on = {d["device_id"]: d["device_online"] for d in lc.deliveries(admin, job["id"])}
        assert on == {dev.id: True, idle.id: False}, on

        # the device's page: every delivery, with its job and image
        d = get(admin, "/admin/devices/%d" % dev.id)
        assert d["online"] is True and d["connections"] == 1, d
        assert re.fullmatch(r"127\.0\.0\.1:\d+", d["address"]), d
        assert [(h["job_id"], h["state"], h["fw_version"]) for h in d["deliveries"]] == \
            [(job["id"], "succeeded", lc.NEW_VERSION)], d

        # versions: the fleet and per tag
        v = get(admin, "/admin/fleet/versions")
        assert v["truncated"] is False
        tagged = {(t["tag"], t["fw_version"]): t["count"] for t in v["tags"]
                  if t["tag"] in ("insight", "floor-2")}
        assert tagged == {("insight", lc.NEW_VERSION): 1, ("insight", ""): 1,
                          ("floor-2", lc.NEW_VERSION): 1}, v
        fleet = {x["fw_version"]: x["count"] for x in v["versions"]}
        assert fleet[lc.NEW_VERSION] >= 1 and sum(fleet.values()) == \
            get(admin, "/admin/devices?limit=0")["total"], v

        # the job over time: all queued at first, the counts now at last
        p = get(admin, "/admin/jobs/%d/progress" % job["id"])
        assert p["job_id"] == job["id"]
        s = p["samples"]
        assert s[0]["counts"] == {"queued": 2} and ISO.fullmatch(s[0]["at"]), s
        assert s[-1]["counts"] == {"succeeded": 1, "canceled": 1}, s
        # (one sample a second at most: this job's moves fell within one or two)
        assert all(sum(x["counts"].values()) == 2 for x in s), s
        assert [x["at"] for x in s] == sorted(x["at"] for x in s)

        # throughput: the image's bytes in the last hour's buckets
        t = get(admin, "/admin/stats/throughput")
        assert t["step_s"] == 10 and len(t["samples"]) == 360, t["step_s"]
        assert all(ISO.fullmatch(x["at"]) for x in t["samples"])
        sent = sum(x["bytes"] for x in t["samples"]) - sum(x["bytes"] for x in before["samples"])
        assert sent >= len(image), (sent, len(image))
    finally:
        dev.close()
    assert get(admin, "/admin/jobs/999999/progress", 404)["error"]["code"] == "job.not_found"


def test_audit_log_filters_and_pages(otad, admin):
    for i in range(3):
        admin.json_request("POST", "/admin/devices", {"name": "audit-%d" % i})
    r = admin.json_request("POST", "/admin/tokens", {"name": "audit-script"})
    token = r.json()["token"]
    bearer = otad.admin(user=None)
    r = bearer.request("POST", "/admin/devices", body=b'{"name": "by-token"}',
                       headers={"Authorization": "Bearer " + token,
                                "Content-Type": "application/json"})
    assert r.status == 201, r

    a = get(admin, "/admin/audit?kind=device.created&limit=2")
    assert a["limit"] == 2 and a["offset"] == 0 and a["total"] >= 4, a
    e = a["events"]
    assert [x["text"] for x in e] == ["by-token", "audit-2"], e
    assert e[0]["actor"] == "token:audit-script" and e[1]["actor"] == otad.user, e
    assert e[1]["remote"] == "127.0.0.1" and e[1]["device_id"] > 0 and e[1]["job_id"] == 0
    assert ISO.fullmatch(e[0]["at"]) and e[0]["id"] > e[1]["id"], e
    page2 = get(admin, "/admin/audit?kind=device.created&limit=2&offset=2")["events"]
    assert [x["text"] for x in page2] == ["audit-1", "audit-0"], page2

    fam = get(admin, "/admin/audit?kind=token.")["events"]
    assert fam and all(x["kind"].startswith("token.") for x in fam), fam
    assert get(admin, "/admin/audit?kind=token")["total"] == 0   # a family ends in a dot
    mine = get(admin, "/admin/audit?actor=token:audit-script")["events"]
    assert [x["kind"] for x in mine] == ["device.created"], mine

    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 5))
    assert get(admin, "/admin/audit?since=" + now)["total"] == 0
    assert get(admin, "/admin/audit?until=2020-01-01T00:00:00Z")["total"] == 0
    assert get(admin, "/admin/audit?since=2020-01-01T00:00:00%2B05:30&kind=device.created"
               )["total"] == a["total"]
    assert get(admin, "/admin/audit?limit=100000")["limit"] == 500
    assert get(admin, "/admin/audit")["limit"] == 50

    dev = [x["device_id"] for x in e][1]
    one = get(admin, "/admin/audit?device=%d" % dev)["events"]
    assert [(x["kind"], x["device_id"]) for x in one] == [("device.created", dev)], one
    assert get(admin, "/admin/audit?device=x", 400)["error"]["code"] == "request.bad_filter"

    err = get(admin, "/admin/audit?since=yesterday", 400)["error"]
    assert err["code"] == "audit.bad_time" and "2026-12-03T00:00:00Z" in err["message"], err
    err = get(admin, "/admin/audit?who=admin", 400)["error"]
    assert err["code"] == "request.unknown_parameter" and "?actor" in err["message"], err
    assert get(admin, "/admin/audit?limit=x", 400)["error"]["code"] == "request.bad_paging"


def test_progress_replays_moves_of_many_deliveries_at_once(otad, admin):
    """A window closed now moves the job's deliveries to scheduled in one audit row,
    Stop cancels them in one more: the replay follows both."""
    image = lc.new_image(build="Dec 02 2026 08:00:00")
    fw_id = lc.upload_firmware(admin, image, filename="insight-window.bin")["id"]
    ids = [lc.Device(otad, admin, name="insight-window-%d" % i).id for i in range(3)]
    hm = lambda h: time.strftime("%H:%M", time.gmtime(time.time() + h * 3600))
    job = lc.create_job(admin, fw_id, devices=ids,
                        window={"start": hm(2), "end": hm(3), "timezone": "UTC"})
    for i in ids:
        lc.wait_delivery(admin, job["id"], i, ["scheduled"])
    time.sleep(1.2)             # the next row falls in a later second
    admin.json_request("POST", "/admin/jobs/%d/stop" % job["id"], {})
    lc.wait_job(admin, job["id"], lambda j: j["state"] == "stopped")
    s = get(admin, "/admin/jobs/%d/progress" % job["id"])["samples"]
    counts = [x["counts"] for x in s]
    assert counts[0] == {"queued": 3} and counts[-1] == {"canceled": 3}, counts
    assert {"scheduled": 3} in counts, counts
