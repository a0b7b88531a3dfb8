"""Updates that wait for the right moment (issue 16): a job's start_at and
maintenance window hold its deliveries in `scheduled` until the moment comes,
`confirm` holds them in `awaiting-consent`, and every bad option is a 400
job.option naming the field, through POST /admin/jobs and the legacy upload.

Windows are whole minutes: the tests that need one to open or close share one
minute (the `minute` fixture): a few seconds before it starts they make windows
that open and one that closes with it.
"""
import datetime
import time
import uuid
import zoneinfo

import pytest

import lifecycle as lc
from lifecycle import Device, NEW_BUILD, NEW_VERSION


@pytest.fixture(scope="module")
def image():
    return lc.new_image()


@pytest.fixture(scope="module")
def firmware_id(otad, image):
    return lc.upload_stopped(otad, image)


def rfc3339(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def hhmm(t, zone="UTC"):
    return datetime.datetime.fromtimestamp(t, zoneinfo.ZoneInfo(zone)).strftime("%H:%M")


def before_a_minute(lead=6.0):
    """Sleeps until `lead` seconds before the next minute; returns that minute."""
    now = time.time()
    minute = (int(now) // 60 + 1) * 60
    if minute - now < lead + 1.0:       # too close: take the one after
        minute += 60
    time.sleep(max(0.0, minute - lead - now))
    return minute


def ota_start(admin, image, query):
    """The legacy upload with query parameters."""
    boundary = "----e2e" + uuid.uuid4().hex
    body = (("--%s\r\nContent-Disposition: form-data; name=\"file\"; "
             "filename=\"fw.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n")
            % boundary).encode() + image + ("\r\n--%s--\r\n" % boundary).encode()
    return admin.request("POST", "/admin/ota/start?" + query, body=body, headers={
        "Content-Type": "multipart/form-data; boundary=" + boundary})


@pytest.fixture(scope="module")
def minute(otad, firmware_id):
    """One minute for both window tests: before it starts, two jobs whose window
    opens with it (UTC, and a named zone with a half-hour offset) and one whose
    window closes with it, its first command already sent (max_parallel 1)."""
    admin = otad.admin()
    opening = [Device(otad, admin).connect() for _ in range(2)]
    busy, waiting = Device(otad, admin).connect(), Device(otad, admin).connect()
    at = before_a_minute(lead=10.0)
    zones = ("UTC", "Asia/Kolkata")
    jobs = []
    for dev, zone in zip(opening, zones):
        window = {"start": hhmm(at, zone), "end": hhmm(at + 3600, zone), "timezone": zone}
        if zone == "UTC":
            del window["timezone"]          # the default
        jobs.append(lc.create_job(admin, firmware_id, devices=[dev.id], window=window))
    window = {"start": hhmm(at - 3600), "end": hhmm(at)}
    closing = lc.create_job(admin, firmware_id, devices=[busy.id, waiting.id],
                            max_parallel=1, window=window)
    url = None
    for dev in (busy, waiting):
        url = dev.wait_ota(timeout=2.0)
        if url is not None:
            busy, waiting = dev, (waiting if dev is busy else busy)
            break
    assert lc.delivery_of(admin, closing["id"], waiting.id)["state"] == "queued"
    assert time.time() < at, "the setup took past the minute: the machine is slow"
    yield {"at": at, "opening": list(zip(opening, jobs, zones)), "closing": closing,
           "busy": busy, "waiting": waiting, "url": url}
    for dev in opening + [busy, waiting]:
        dev.close()


def test_window_closed_now_then_opens(admin, image, minute):
    """A window closed now: `scheduled` with next_at its opening, nothing sent;
    at the opening (a few seconds later) the command goes out.  In UTC and in
    a named zone with a half-hour offset."""
    opening = minute["at"]
    for dev, job, zone in minute["opening"]:
        assert job["window"]["timezone"] == zone, job
        assert job["window"]["days"] == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        assert job["window_open"] is False and job["next_change"] == rfc3339(opening)
        assert job["start_at"] is None and job["confirm"] is None
        d = lc.delivery_of(admin, job["id"], dev.id)
        assert d["state"] == "scheduled" and d["next_at"] == rfc3339(opening), d
        assert d["consented"] is False and d["attempts"] == 0
    devs = [dev for dev, _, _ in minute["opening"]]
    assert devs[0].wait_ota(timeout=max(0.5, opening - time.time() - 1.5)) is None
    for dev, job, _ in minute["opening"]:
        url = dev.wait_ota(timeout=10.0)
        assert url is not None, "no command after the window opened"
        assert time.time() >= opening
        d = lc.delivery_of(admin, job["id"], dev.id)
        assert d["state"] == "sent" and d["next_at"] is None, d
        j = lc.job(admin, job["id"])
        assert j["window_open"] is True and j["next_change"] == rfc3339(opening + 3600)
    # the rest of the update as always
    dev, job, _ = minute["opening"][0]
    r = dev.download(dev.last_url)
    assert r.status == 200 and r.body == image
    dev.reboot(NEW_VERSION, NEW_BUILD)
    assert lc.wait_delivery(admin, job["id"], dev.id, "succeeded")["state"] \
        == "succeeded"


def test_start_at_a_few_seconds_ahead(otad, admin, firmware_id):
    """start_at in an offset form: scheduled until then, sent after."""
    dev = Device(otad, admin).connect()
    start = int(time.time()) + 4
    local = datetime.datetime.fromtimestamp(
        start, datetime.timezone(datetime.timedelta(hours=2))).isoformat()
    job = lc.create_job(admin, firmware_id, devices=[dev.id], start_at=local)
    assert job["start_at"] == rfc3339(start) and job["window"] is None, job
    assert "window_open" not in job
    d = lc.delivery_of(admin, job["id"], dev.id)
    assert d["state"] == "scheduled" and d["next_at"] == rfc3339(start), d
    assert dev.wait_ota(timeout=max(0.5, start - time.time() - 1.0)) is None
    assert dev.wait_ota(timeout=10.0) is not None
    assert time.time() >= start
    assert lc.delivery_of(admin, job["id"], dev.id)["state"] == "sent"
    dev.close()


def test_start_at_past_sends_at_once(otad, admin, firmware_id):
    dev = Device(otad, admin).connect()
    job = lc.create_job(admin, firmware_id, devices=[dev.id],
                        start_at=rfc3339(int(time.time()) - 60))
    assert dev.wait_ota(timeout=10.0) is not None
    assert lc.delivery_of(admin, job["id"], dev.id)["state"] == "sent"
    dev.close()


def test_window_closes_queued_back_sent_finishes(admin, image, minute):
    """The window closes: a delivery still queued (waiting for a slot) goes back
    to scheduled with the next opening; the one already sent is not touched and
    its download finishes."""
    closing, job = minute["at"], minute["closing"]
    busy, waiting, url = minute["busy"], minute["waiting"], minute["url"]
    assert job["window_open"] is True and job["next_change"] == rfc3339(closing)
    assert url is not None
    d = lc.wait_delivery(admin, job["id"], waiting.id, "scheduled",
                         timeout=closing - time.time() + 5)
    assert d["state"] == "scheduled", d
    assert d["next_at"] == rfc3339(closing - 3600 + 86400), d
    assert lc.delivery_of(admin, job["id"], busy.id)["state"] == "sent"
    # the download under way finishes, the window closed or not
    r = busy.download(url)
    assert r.status == 200 and r.body == image
    busy.reboot(NEW_VERSION, NEW_BUILD)
    assert lc.wait_delivery(admin, job["id"], busy.id, "succeeded")["state"] \
        == "succeeded"
    assert waiting.wait_ota(timeout=1.0) is None
    j = lc.job(admin, job["id"])
    assert j["window_open"] is False and j["state"] == "active"
    assert j["counts"] == {"scheduled": 1, "succeeded": 1}, j


def test_confirm_waits_for_consent(otad, admin, firmware_id):
    """confirm: the delivery waits in awaiting-consent; no command is sent."""
    for confirm in ("admin", "device"):
        dev = Device(otad, admin).connect()
        job = lc.create_job(admin, firmware_id, devices=[dev.id], confirm=confirm)
        assert job["confirm"] == confirm, job
        d = lc.wait_delivery(admin, job["id"], dev.id, "awaiting-consent")
        assert d["state"] == "awaiting-consent" and d["consented"] is False, d
        assert dev.wait_ota(timeout=1.5) is None
        assert lc.delivery_of(admin, job["id"], dev.id)["state"] == "awaiting-consent"
        dev.close()


def test_window_and_confirm_through_the_legacy_upload(otad, admin, image):
    dev = Device(otad, admin).connect()
    now = int(time.time())
    r = ota_start(admin, image, "token=%s&window_start=%s&window_end=%s"
                  "&window_timezone=Europe/Berlin&window_days=mon,wed&confirm=admin"
                  % (dev.token, hhmm(now + 7200, "Europe/Berlin"),
                     hhmm(now + 10800, "Europe/Berlin")))
    assert r.status == 201, r
    job = r.json()["job"]
    assert job["window"]["timezone"] == "Europe/Berlin" and \
        job["window"]["days"] == ["mon", "wed"], job
    assert job["confirm"] == "admin" and job["window_open"] is False
    d = lc.delivery_of(admin, job["id"], dev.id)
    assert d["state"] == "scheduled" and d["next_at"] == job["next_change"], d
    assert dev.wait_ota(timeout=1.0) is None
    dev.close()


BAD_JSON = [
    ({"start_at": "tomorrow"}, '"start_at"', "2026-12-03T02:00:00+01:00"),
    ({"start_at": "2026-12-03T02:00:00"}, '"start_at"', "RFC 3339"),
    ({"start_at": 1796000000}, '"start_at"', "RFC 3339"),
    ({"window": "02:00-05:00"}, '"window"', '"start": "02:00"'),
    ({"window": {"start": "2:00", "end": "05:00"}}, '"window.start"', '"02:00"'),
    ({"window": {"end": "05:00"}}, '"window.start"', "HH:MM"),
    ({"window": {"start": "02:00", "end": "25:00"}}, '"window.end"', '"05:00"'),
    ({"window": {"start": "02:00", "end": "02:00"}}, '"window.end"', "past midnight"),
    ({"window": {"start": "02:00", "end": "05:00", "timezone": "Mars/Base"}},
     '"window.timezone"', '"Europe/Berlin"'),
    ({"window": {"start": "02:00", "end": "05:00", "timezone": "../../etc/passwd"}},
     '"window.timezone"', "tz database"),
    ({"window": {"start": "02:00", "end": "05:00", "days": ["monday"]}},
     '"window.days"', '["mon", "tue"'),
    ({"window": {"start": "02:00", "end": "05:00", "days": []}},
     '"window.days"', "from mon to sun"),
    ({"window": {"start": "02:00", "end": "05:00", "at": 1}}, '"window.at"',
     "start, end, timezone and days"),
    ({"confirm": "user"}, '"confirm"', '"device" or "admin"'),
    ({"confirm": True}, '"confirm"', '"device" or "admin"'),
]


@pytest.mark.parametrize("body,field,example", BAD_JSON)
def test_bad_option_json(otad, admin, firmware_id, body, field, example):
    dev = Device(otad, admin)
    body = dict(body, firmware_id=firmware_id, devices=[dev.id])
    r = admin.json_request("POST", "/admin/jobs", body)
    assert r.status == 400, r
    err = r.json()["error"]
    assert err["code"] == "job.option", err
    assert field in err["message"] and example in err["message"], err


BAD_QUERY = [
    ("start_at=2026-12-03", "?start_at=", "2026-12-03T02:00:00+01:00"),
    ("window_start=02:00", "?window_end=", "window_start=02:00&window_end=05:00"),
    ("window_start=2&window_end=05:00", "?window_start=", '"02:00"'),
    ("window_start=02:00&window_end=0500", "?window_end=", "HH:MM"),
    ("window_start=02:00&window_end=02:00", "?window_end=", "past midnight"),
    ("window_start=02:00&window_end=05:00&window_timezone=Mars/Base",
     "?window_timezone=", "Europe/Berlin"),
    ("window_start=02:00&window_end=05:00&window_days=mon,funday", "?window_days=",
     "mon,tue,wed,thu,fri"),
    ("confirm=yes", "?confirm=", '"device" or "admin"'),
]


@pytest.mark.parametrize("query,field,example", BAD_QUERY)
def test_bad_option_legacy_query(otad, admin, image, query, field, example):
    before = admin.request("GET", "/admin/jobs").json()["total"]
    r = ota_start(admin, image, query)
    assert r.status == 400, r
    err = r.json()["error"]
    assert err["code"] == "job.option", err
    assert field in err["message"] and example in err["message"], err
    assert admin.request("GET", "/admin/jobs").json()["total"] == before


def test_new_states_in_metrics_and_lifecycle(otad, admin):
    states = admin.request("GET", "/admin/lifecycle").json()["delivery"]
    for s in ("scheduled", "awaiting-consent", "declined"):
        assert s in states["states"]
    assert "declined" in states["ended"]
    assert "scheduled" not in states["ended"] and "awaiting-consent" not in states["ended"]
    metrics = admin.request("GET", "/metrics").body.decode()
    for s in ("scheduled", "awaiting-consent", "declined"):
        assert 'otad_deliveries{state="%s"}' % s in metrics
