"""The delivery lifecycle as one state machine that is always true (issue 13).

Each test names the item of the issue it checks.  What is asserted is what a user
sees: the JSON admin API, the frames a device receives and the answers fwstore gives
to a device's HTTP updater.
"""
import os
import re
import socket
import sqlite3
import struct
import threading
import time
import uuid

import pytest

import admin as admin_mod
import blynk
import checks
import conftest
import esphttp
import images
import lifecycle as lc
import smalldisk
from lifecycle import ClientDevice, Device, login_until_accepted


def image(seed, version="3.0.0", build="Mar 03 2027 03:00:00", dev="NodeMCU",
          size=64 * 1024):
    return images.esp8266_image(version=version, build=build, dev=dev, size=size,
                                seed="truth-" + seed)


def stop_job(admin, job_id):
    r = admin.json_request("POST", "/admin/jobs/%d/stop" % job_id, {})
    assert r.status in (200, 409), r


def active_ids(admin):
    return [j["id"] for j in lc.jobs(admin, "active")]


def wait_health(admin, timeout=20.0, what=lambda h: True):
    """GET /admin/health until it answers 200 (and what(health) holds)."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            r = admin.request("GET", "/admin/health", user=None)
            last = r
            if r.status == 200 and what(r.json()):
                return r.json()
        except OSError as e:
            last = e
        assert time.monotonic() < deadline, "admind not healthy: %r" % (last,)
        time.sleep(0.1)


# -- item 1: jobs that never end --------------------------------------------------------

def test_superseded_job_finishes_and_frees_its_firmware(otad, admin):
    """Item 1: a newer job for the only device of job A cancels A's delivery, and A,
    a device-list job with nothing left to do, is finished: no longer listed as
    active, and its firmware can be deleted."""
    fa = lc.upload_firmware(admin, image("1a", version="1.1.1"))
    fb = lc.upload_firmware(admin, image("1b", version="1.1.2"))
    dev = Device(otad, admin).connect()
    try:
        a = lc.create_job(admin, fa["id"], devices=[dev.id])
        assert dev.wait_ota() is not None
        assert lc.delivery_of(admin, a["id"], dev.id)["state"] == "sent"
        b = lc.create_job(admin, fb["id"], devices=[dev.id])
        assert lc.delivery_of(admin, a["id"], dev.id)["state"] == "canceled"
        j = lc.wait_job(admin, a["id"], lambda j: j["state"] != "active", timeout=3)
        assert j["state"] == "finished", \
            "job %d's only delivery was canceled by job %d, yet the job is %s: %r" % (
                a["id"], b["id"], j["state"], j)
        assert a["id"] not in active_ids(admin), "GET /admin/jobs?state=active lists %d" \
            % a["id"]
        r = admin.request("DELETE", "/admin/firmware/%d" % fa["id"])
        assert r.status == 204, "firmware %d is used by no unfinished job: %r" % (
            fa["id"], r)
        stop_job(admin, b["id"])
    finally:
        dev.close()


def test_job_whose_devices_were_deleted_finishes(otad, admin):
    """Item 1: a job whose devices were all deleted is finished (one device left: still
    active).  A job for "all" devices stays active, even with every delivery ended,
    until it is stopped."""
    f = lc.upload_firmware(admin, image("1c", version="1.1.3"))
    e1, e2 = Device(otad, admin), Device(otad, admin)        # offline: queued
    j = lc.create_job(admin, f["id"], devices=[e1.id, e2.id])
    assert j["deliveries"] == 2, j
    assert admin.request("DELETE", "/admin/devices/%d" % e1.id).status == 204
    assert lc.job(admin, j["id"])["state"] == "active"
    assert admin.request("DELETE", "/admin/devices/%d" % e2.id).status == 204
    got = lc.wait_job(admin, j["id"], lambda j: j["state"] != "active", timeout=3)
    assert got["state"] == "finished", \
        "every device of job %d was deleted, yet it is %s: %r" % (j["id"], got["state"],
                                                                  got)
    assert j["id"] not in active_ids(admin)
    # "all": a newer job for every device cancels every delivery of the older one,
    # which still stays active for devices added later
    Device(otad, admin)
    x = lc.create_job(admin, f["id"], all=True)
    y = lc.create_job(admin, f["id"], all=True)
    try:
        xs = lc.job(admin, x["id"])
        assert xs["counts"] and set(xs["counts"]) == {"canceled"}, xs
        time.sleep(0.5)
        assert lc.job(admin, x["id"])["state"] == "active", lc.job(admin, x["id"])
        assert x["id"] in active_ids(admin)
    finally:
        stop_job(admin, x["id"])
        stop_job(admin, y["id"])
    assert lc.job(admin, x["id"])["state"] == "stopped"


# -- item 2: a job for nothing ----------------------------------------------------------

def _legacy_upload(admin, img, query):
    boundary = "----e2e" + uuid.uuid4().hex
    body = (("--%s\r\nContent-Disposition: form-data; name=\"file\"; "
             "filename=\"fw.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n")
            % boundary).encode() + img + ("\r\n--%s--\r\n" % boundary).encode()
    return admin.request("POST", "/admin/ota/start" + query, body=body, headers={
        "Content-Type": "multipart/form-data; boundary=" + boundary})


def test_job_for_a_tag_nobody_has_is_refused(otad, admin):
    """Item 2: a job for a tag no device has is 404 tag.no_devices, as the legacy
    upload's ?tag= answers, and creates no job; an empty device list is 400
    job.target."""
    img = image("2")
    f = lc.upload_firmware(admin, img)
    before = len(lc.jobs(admin))
    tag = "no-such-tag-" + uuid.uuid4().hex[:6]
    legacy = _legacy_upload(admin, img, "?tag=" + tag)
    checks.api_error(legacy, 404, "tag.no_devices")
    r = admin.json_request("POST", "/admin/jobs", {"firmware_id": f["id"], "tag": tag})
    if r.status == 201:
        stop_job(admin, r.json()["id"])
    checks.api_error(r, 404, "tag.no_devices")
    r = admin.json_request("POST", "/admin/jobs", {"firmware_id": f["id"], "devices": []})
    checks.api_error(r, 400, "job.target")
    assert len(lc.jobs(admin)) == before, "a refused job was stored"


# -- item 3: half-created jobs ----------------------------------------------------------

BULK = int(os.environ.get("OTAD_TRUTH_BULK", "3000"))


def import_tagged(admin, n, tag):
    """n devices with the tag, in one POST /admin/devices/import."""
    rows = [{"name": "%s-%05d" % (tag, i), "tags": [tag]} for i in range(n)]
    r = admin.json_request("POST", "/admin/devices/import", rows)
    assert r.status in (200, 201), r
    assert r.json()["imported"] == n, r
    return [d["id"] for d in r.json()["devices"]]


def post_job_async(admin, body):
    """POST /admin/jobs from a thread; returns (thread, sent event, result dict): the
    event is set once the whole request was written."""
    out, sent = {}, threading.Event()

    def run():
        import base64
        import http.client
        import json
        try:
            conn = http.client.HTTPSConnection(admin.host, admin.port, timeout=30,
                                               context=admin_mod._ctx())
            auth = base64.b64encode(("%s:%s" % (admin.user, admin.password)).encode())
            conn.request("POST", "/admin/jobs", body=json.dumps(body).encode(), headers={
                "Content-Type": "application/json", "Authorization": "Basic " +
                auth.decode()})
            sent.set()
            r = conn.getresponse()
            out["r"] = admin_mod.HTTPResult(r.status, r.getheaders(), r.read())
            conn.close()
        except Exception as e:      # the server may die under it
            out["e"] = e
        finally:
            sent.set()
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, sent, out


def max_job_id(db):
    """The newest job row as a reader of the database sees it (only to time a kill)."""
    try:
        with sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=0.05) as c:
            return c.execute("SELECT coalesce(max(id), 0) FROM jobs").fetchone()[0]
    except sqlite3.Error:
        return None


def partial_jobs(admin, n):
    """Jobs whose deliveries are not exactly the n targets."""
    return [(j["id"], j["deliveries"]) for j in lc.jobs(admin) if j["deliveries"] != n]


def test_kill9_while_a_job_is_created_leaves_all_or_nothing():
    """Item 3a: kill -9 admind while it creates a job for a tag of BULK devices, at
    several moments (the first the instant the job row becomes visible to a reader
    of the database, the others at fractions of the time a POST takes); after each
    restart every job has a delivery for every device with the tag: never a job
    with none or some of them."""
    srv = conftest.start_server(name="otad-truth-kill")
    try:
        admin = srv.admin(timeout=60)
        import_tagged(admin, BULK, "bulk")
        f = lc.upload_firmware(admin, image("3a"))
        body = {"firmware_id": f["id"], "tag": "bulk"}
        t0 = time.monotonic()
        r = admin.json_request("POST", "/admin/jobs", body)
        took = time.monotonic() - t0
        assert r.status == 201 and r.json()["deliveries"] == BULK, r
        db = os.path.join(checks.state_dir(srv), "otad.db")
        rounds = []
        # (trigger, delay): "row" waits until the job row is visible to a reader of
        # the database, "post" starts once the request was written
        for trigger, delay in (("row", 0.0), ("row", 0.005), ("post", 0.002),
                               ("post", took / 3)):
            when = "%s+%.0fms" % (trigger, delay * 1000)
            base = max_job_id(db)
            t, sent, out = post_job_async(admin, body)
            sent.wait(10)
            if trigger == "row" and base is not None:
                deadline = time.monotonic() + max(10.0, 20 * took)
                while time.monotonic() < deadline:
                    m = max_job_id(db)
                    if m is not None and m > base:
                        break
            time.sleep(delay)
            lc.kill9(srv, "admind", wait_back=False)
            t.join(30)
            wait_health(admin, timeout=40)
            r = out.get("r")
            rounds.append("%s: %s" % (when, r.status if r is not None else
                                      type(out.get("e")).__name__))
            bad = partial_jobs(admin, BULK)
            assert not bad, ("after kill -9 at %s (POST took %.2f s unkilled; rounds "
                             "%s): jobs (id, deliveries) without exactly %d deliveries: "
                             "%r" % (when, took, rounds, BULK, bad))
            if r is not None and r.status == 201:
                assert r.json()["deliveries"] == BULK, r
        print("kill rounds (moment: answer): %s; an unkilled POST took %.2f s"
              % (", ".join(rounds), took))
    finally:
        srv.finish()


DISK_KEEP = 48 * 1024       # room for a job row, not for thousands of deliveries


def test_disk_too_full_for_the_deliveries_creates_no_job():
    """Item 3b: the state directory has room for a job row but not for its BULK
    deliveries: the API does not answer 201, and no job exists with fewer deliveries
    than targets.  With the room back, the same request creates the whole job."""
    srv = smalldisk.small_disk("otad-truth-fulljob", "24m")
    try:
        admin = srv.admin(timeout=30)
        import_tagged(admin, BULK, "bulk")
        f = lc.upload_firmware(admin, image("3b"))
        body = {"firmware_id": f["id"], "tag": "bulk"}
        srv.fill(keep=DISK_KEEP)
        try:
            r = admin.json_request("POST", "/admin/jobs", body)
            listed = lc.jobs(admin)
        finally:
            srv.free()
        assert r.status != 201, ("with %d KiB free the job for %d devices was answered "
                                 "201: %r" % (DISK_KEEP // 1024, BULK, r))
        assert r.status == 507 and r.json()["error"]["code"] == "storage.full", r
        assert "nothing of the job was kept" in r.json()["error"]["message"], r
        bad = [(j["id"], j["deliveries"]) for j in listed if j["deliveries"] != BULK]
        assert not bad, "jobs (id, deliveries) with fewer than %d deliveries: %r" % (
            BULK, bad)
        r = admin.json_request("POST", "/admin/jobs", body)
        assert r.status == 201 and r.json()["deliveries"] == BULK, r
        assert partial_jobs(admin, BULK) == []
    finally:
        srv.finish()


# -- item 4: unchecked transitions ------------------------------------------------------

def test_nothing_is_sent_when_sent_cannot_be_stored():
    """Item 4: with the disk full a queued delivery cannot become `sent`, so its device
    gets no ota command when it logs in; with the space back, a new login gets the
    command and the delivery is `sent`."""
    srv = smalldisk.small_disk("otad-truth-full", "8m")
    try:
        admin = srv.admin()
        f = lc.upload_firmware(admin, image("4"))
        dev = Device(srv, admin)
        job = lc.create_job(admin, f["id"], devices=[dev.id])
        assert lc.delivery_of(admin, job["id"], dev.id)["state"] == "queued"
        srv.fill(keep=0)
        try:
            try:
                dev.connect()
                url = dev.wait_ota(timeout=5)
            except (OSError, blynk.ProtocolError):
                url = None          # a refused login sends nothing either
            d = lc.delivery_of(admin, job["id"], dev.id)
        finally:
            srv.free()
            dev.close()
        assert url is None, ("with the disk full the device got the ota command %s "
                             "although its delivery is still %r" % (url, d))
        assert d["state"] == "queued", d
        login_until_accepted(dev)
        url = dev.wait_ota(timeout=10)
        assert url is not None, "no ota command once the disk had room again"
        d = lc.wait_delivery(admin, job["id"], dev.id, "sent", timeout=3)
        assert d["state"] == "sent" and d["attempts"] == 1, d
        dev.close()
    finally:
        srv.finish()


# -- item 5: verification that fits what each client can report ---------------------------

def _update_once(dev, img, flash_ok):
    """Command, complete hash-checked download, reboot (into img, or not)."""
    url = dev.wait_ota(timeout=10)
    assert url is not None, "device %d (%s) got no ota command" % (dev.id, dev.kind)
    r = dev.download(url)
    assert r.status == 200 and r.body == img, r
    assert r.header("x-MD5") == images.digests(img)["md5"], r
    tag = images.parse_tag(img)
    if flash_ok:
        dev.reboot(tag["mcu"], tag["build"])
    else:
        dev.reboot(dev.version, dev.build)
    return url


CLIENTS = {
    # kind: the board the client reports (the image is made for it)
    "arduino": "NodeMCU",
    "blynklib-1.0": "linux-py",
    "blynklib-0.2.6": "python",
}


@pytest.mark.parametrize("kind", sorted(CLIENTS))
def test_verification_fits_what_the_client_reports(otad, admin, kind):
    """Item 5: after a complete, hash-checked download the device logs in again.  An
    Arduino 1.x client reports its build: the image's build succeeds, another is a
    failed attempt (sent again, then failed at the attempt limit).  Python BlynkLib
    1.0 reports only its app version: the image's version succeeds (verified by
    version), another is a failed attempt.  blynklib 0.2.6 reports neither: the
    update succeeds unverified and the image is never sent again."""
    img = image("5-" + kind, version="5.0.%d" % sorted(CLIENTS).index(kind),
                dev=CLIENTS[kind])
    f = lc.upload_firmware(admin, img)
    good = ClientDevice(otad, admin, kind).connect()
    bad = ClientDevice(otad, admin, kind).connect()
    try:
        job = lc.create_job(admin, f["id"], devices=[good.id, bad.id], attempt_limit=2)
        _update_once(good, img, flash_ok=True)
        d = lc.wait_delivery(admin, job["id"], good.id, "succeeded", timeout=5)
        assert d["state"] == "succeeded", "%s client came back on the image: %r" % (
            kind, d)
        if kind == "blynklib-1.0":
            assert "version" in d["last_error"], d
        if kind == "blynklib-0.2.6":
            assert "unverified" in d["last_error"], d
            assert good.wait_ota(timeout=3) is None, "the image was sent again"
            good.reboot()
            assert good.wait_ota(timeout=3) is None, "the image was sent again"
            d = lc.delivery_of(admin, job["id"], good.id)
            assert d["state"] == "succeeded" and d["attempts"] == 1, d
            return
        _update_once(bad, img, flash_ok=False)          # still the old image
        url = bad.wait_ota(timeout=10)
        assert url is not None, "no second attempt after coming back on the old image"
        d = lc.delivery_of(admin, job["id"], bad.id)
        assert d["state"] == "sent" and d["attempts"] == 2, d
        r = bad.download(url)
        assert r.status == 200 and r.body == img, r
        bad.reboot(bad.version, bad.build)
        d = lc.wait_delivery(admin, job["id"], bad.id, "failed", timeout=5)
        assert d["state"] == "failed" and d["attempts"] == 2, d
        assert bad.wait_ota(timeout=1.5) is None
    finally:
        good.close()
        bad.close()


# -- item 6: legacy info ----------------------------------------------------------------

LEGACY_BUILD = "Aug 14 2017 20:31:49"


def test_library_05_reports_its_firmware_version_in_ver(otad, admin):
    """Item 6: blynk-library 0.5.x sends the firmware version as `ver` and its own
    version as `blynk`: the device shows fw_version 1.2.3 and lib_version 0.5.4."""
    dev = ClientDevice(otad, admin, "arduino-0.5", version="1.2.3",
                       build=LEGACY_BUILD).connect()
    try:
        deadline = time.monotonic() + 5
        while True:
            r = admin.request("GET", "/admin/devices/%d" % dev.id)
            assert r.status == 200, r
            got = r.json()
            if got["build"] == LEGACY_BUILD or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert got["build"] == LEGACY_BUILD, got
        assert (got["fw_version"], got["lib_version"]) == ("1.2.3", "0.5.4"), \
            "info ver 1.2.3, blynk 0.5.4 shows fw_version %r, lib_version %r: %r" % (
                got["fw_version"], got["lib_version"], got)
    finally:
        dev.close()


def test_image_tag_with_ver_and_blynk_has_version_ver(otad, admin):
    """Item 6: an image whose Blynk tag holds `ver` and `blynk` but no `mcu` or `fw`
    (blynk-library 0.5.x) has firmware version = `ver`."""
    img = lc.tagged_image([("ver", "1.2.3"), ("blynk", "0.5.4"), ("h-beat", "10"),
                           ("buff-in", "256"), ("dev", "NodeMCU"), ("cpu", "ESP8266"),
                           ("con", "ESP8266"), ("build", LEGACY_BUILD)], seed="truth-6")
    f = lc.upload_firmware(admin, img)
    assert f["build"] == LEGACY_BUILD, f
    assert f["version"] == "1.2.3", \
        "a tag with ver 1.2.3 and blynk 0.5.4 gives version %r: %r" % (f["version"], f)


# -- item 9: finished tickets -----------------------------------------------------------

def _check_ended_ticket(url, img, why):
    r = esphttp.esp8266_get(url)
    body = r.body.decode("utf-8", "replace").strip()
    assert r.status == 403, "GET of the download URL after the update %s: %r %r" % (
        why, r, body)
    assert re.search(r"ended|finished|over|no longer|already", body, re.I) and \
        len(body) > 15, "403 without a sentence saying the update ended: %r" % body
    tag = images.parse_tag(img)
    r = esphttp.esp8266_get(url, version=tag["mcu"])
    assert r.status == 304, "x-ESP8266-version of the image after it %s: %r" % (why, r)
    r = esphttp.esp8266_get(url, sketch_md5=images.digests(img)["md5"])
    assert r.status == 304, "x-ESP8266-sketch-md5 of the image after it %s: %r" % (why, r)


def test_ticket_of_a_succeeded_delivery(otad, admin):
    """Item 9: after a delivery succeeded, its download URL answers 403 with a sentence
    saying the update ended, and 304 to an updater that reports the image's version
    or MD5; the delivery stays succeeded."""
    img = lc.new_image(seed="truth-9a")
    f = lc.upload_firmware(admin, img)
    dev = Device(otad, admin).connect()
    try:
        job = lc.create_job(admin, f["id"], devices=[dev.id])
        url = dev.update(img)
        assert lc.wait_delivery(admin, job["id"], dev.id, "succeeded")["state"] == \
            "succeeded"
        _check_ended_ticket(url, img, "succeeded")
        assert lc.delivery_of(admin, job["id"], dev.id)["state"] == "succeeded"
    finally:
        dev.close()


def test_ticket_of_a_canceled_delivery(otad, admin):
    """Item 9: after the job was stopped (delivery canceled), its download URL answers
    403 with a sentence saying the update ended, and 304 to an updater that reports
    the image's version or MD5; the delivery stays canceled."""
    img = lc.new_image(seed="truth-9b")
    f = lc.upload_firmware(admin, img)
    dev = Device(otad, admin).connect()
    try:
        job = lc.create_job(admin, f["id"], devices=[dev.id])
        url = dev.wait_ota()
        assert url is not None
        stop_job(admin, job["id"])
        assert lc.delivery_of(admin, job["id"], dev.id)["state"] == "canceled"
        _check_ended_ticket(url, img, "was canceled")
        assert lc.delivery_of(admin, job["id"], dev.id)["state"] == "canceled"
    finally:
        dev.close()


# -- item 10: a free() of garbage ---------------------------------------------------------

CTL_HELLO, CTL_FW_CHECK, CTL_FW_POLL = 1, 30, 32


def _ctl(t, reqid, payload=b""):
    return struct.pack(">HHII", t, 0, reqid, len(payload)) + payload


def _ctl_str(s):
    return struct.pack(">I", len(s)) + s


def _fw_request(ticket):
    headers = [(b"user-agent", b"ESP8266-http-Update"), (b"x-esp8266-version", b"0.0.1"),
               (b"x-esp8266-mode", b"sketch")]
    p = _ctl_str(ticket) + _ctl_str(b"127.0.0.1:4242") + b"\0" + \
        struct.pack(">I", len(headers))
    for k, v in headers:
        p += _ctl_str(k) + _ctl_str(v)
    return p


@pytest.mark.parametrize("msg", [CTL_FW_CHECK, CTL_FW_POLL], ids=["check", "poll"])
def test_fwstore_request_without_request_id(otad, admin, msg):
    """Item 10: a peer that says hello as fwstore and sends a download check (or poll)
    with request id 0, right after a valid one, is closed; admind stays up and the
    real fwstore serves again."""
    wait_health(admin, what=lambda h: h.get("fwstore_connected"))
    dev = admin.create_device()
    pid = lc.daemon_pid(otad, "admind")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(os.path.join(otad.dir, "control.sock"))
    ticket = dev["token"].encode() if msg == CTL_FW_POLL else b"x" * 32
    try:
        s.sendall(_ctl(CTL_HELLO, 1, struct.pack(">I", 1) + _ctl_str(b"fwstore")) +
                  _ctl(msg, 2, _fw_request(ticket)) + _ctl(msg, 0, _fw_request(ticket)))
    except (BrokenPipeError, ConnectionResetError):
        pass
    s.settimeout(5)
    dropped = False
    try:
        while s.recv(65536):
            pass
        dropped = True
    except ConnectionResetError:
        dropped = True
    except socket.timeout:
        pass
    s.close()
    time.sleep(0.3)         # a crash takes a moment to show
    assert lc.daemon_pid(otad, "admind") == pid, \
        "admind died on a request with id 0 (otad run restarted it)"
    assert dropped, "admind kept a peer that sent a request with id 0"
    wait_health(admin, timeout=10, what=lambda h: h.get("fwstore_connected"))
    deadline = time.monotonic() + 10
    while True:
        r = esphttp.esp8266_get(lc.poll_url(otad, dev["token"]))
        if r.status == 304 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert r.status == 304, "the real fwstore does not serve polls again: %r" % r
