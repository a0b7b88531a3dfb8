# SPDX-License-Identifier: MIT
"""The web admin page (issues 9 and 20), served by admind at /admin/.

The first tests read the page as a client: the page and its files need no login
(they hold nothing of the fleet; the page signs in with its own form), the
headers (Content-Type, Cache-Control, Content-Security-Policy default-src 'self',
nosniff), ETag revalidation, nothing fetched from another origin.

test_browser_update_reaches_succeeded runs tests/web/web_test.js: Debian's chromium,
headless, driven by playwright-core (both installed here when missing: apt-get as root,
npm into a cache outside the repo). The page creates a device and prints its token; this
wrapper's simulated device (blynk.py) logs in with it. The job (tag porch) waits for an
admin's yes (issue 16): the page confirms the device's delivery, the device takes the
ota command, downloads (esphttp.py) and comes back with the new build, while the page
watches its delivery reach "succeeded". Four more devices tagged porch show
incompatible, already-current, declined (with a reason, from the page) and queued
(then canceled by Stop). Then a job from a browser in Asia/Kolkata with a start time
and a maintenance window: the window on the job's page, the offline device's delivery
scheduled. Screenshots: $OTAD_BUILD/web-artifacts/.
Set OTAD_WEB_README_SHOT=docs/job-view.png to refresh the README's screenshots (the others
go beside it: devices, device, jobs, audit, signin).
"""
import json
import os
import re
import shutil
import subprocess
import threading
import time

import pytest

import blynk
import esphttp
import images
import lifecycle as lc
from conftest import BUILD

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WEB_TEST = os.path.join(ROOT, "tests", "web", "web_test.js")
CACHE = os.path.join(os.environ.get("OTAD_TEST_CACHE", "/var/cache/otad-test"), "node")
CHROMIUM = os.environ.get("OTAD_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = os.path.join(BUILD, "web-artifacts")
PAUSE = 0.7        # seconds the device lingers in sent and downloaded
ASSETS = {"ui/app.js": "text/javascript; charset=utf-8",
          "ui/core.js": "text/javascript; charset=utf-8",
          "ui/devices.js": "text/javascript; charset=utf-8",
          "ui/updates.js": "text/javascript; charset=utf-8",
          "ui/jobs.js": "text/javascript; charset=utf-8",
          "ui/admin.js": "text/javascript; charset=utf-8",
          "ui/chart.min.js": "text/javascript; charset=utf-8",
          "ui/style.css": "text/css; charset=utf-8",
          "ui/icon.svg": "image/svg+xml"}
CHARTJS = "/usr/share/javascript/chart.js/chart.min.js"


def header(r, name):
    v = r.header(name)
    assert v is not None, "no %s header: %r %r" % (name, r.headers, r)
    return v


def check_page_headers(r, ctype):
    assert r.status == 200, r
    assert header(r, "Content-Type") == ctype
    assert header(r, "X-Content-Type-Options") == "nosniff"
    assert "default-src 'self'" in header(r, "Content-Security-Policy")
    assert header(r, "Cache-Control") == "no-cache"
    assert re.fullmatch(r'"[0-9a-f]{16}"', header(r, "ETag"))


def test_page_and_files_are_served_with_their_headers(otad, admin):
    r = admin.request("GET", "/admin/")
    check_page_headers(r, "text/html; charset=utf-8")
    html = r.body.decode()
    assert "<title>otad</title>" in html
    for path in ASSETS:
        assert '"%s"' % path in html, "the page does not load %s" % path
    for path, ctype in ASSETS.items():
        r = admin.request("GET", "/admin/" + path)
        check_page_headers(r, ctype)
        assert len(r.body) > 100, r


def test_page_opens_on_its_sign_in_form_and_the_api_needs_a_login(otad, admin):
    nobody = otad.admin(user=None)
    for path in ("/admin/", "/admin/ui/app.js", "/admin/ui/chart.min.js"):
        r = nobody.request("GET", path)
        assert r.status == 200, (path, r)
        assert "default-src 'self'" in header(r, "Content-Security-Policy")
    assert 'id="signin-form"' in nobody.request("GET", "/admin/").body.decode()
    for path in ("/admin/devices", "/admin/session", "/admin/audit"):
        r = nobody.request("GET", path)
        assert r.status == 401 and r.json()["error"]["code"] == "auth.required", r
    r = admin.request("GET", "/admin/devices", password="wrong-" + otad.password)
    assert r.status == 401 and r.json()["error"]["code"] == "auth.required", r


def test_chart_library_is_debians(otad, admin):
    """ui/chart.min.js is libjs-chart.js's file, byte for byte, embedded at build time."""
    with open(CHARTJS, "rb") as f:
        assert admin.request("GET", "/admin/ui/chart.min.js").body == f.read()


def test_nothing_comes_from_another_origin(otad, admin):
    for path in ["/admin/"] + ["/admin/" + p for p in ASSETS]:
        body = admin.request("GET", path).body.decode()
        if path.endswith("chart.min.js"):
            # its licence comments name home pages; the SVG namespace is a name
            body = re.sub(r"/\*!.*?\*/", "", body, flags=re.S)
            body = body.replace("http://www.w3.org/2000/svg", "")
        if path.endswith(".svg"):
            body = body.replace('xmlns="http://www.w3.org/2000/svg"', "")
        assert not re.search(r"https?://|\b(src|href)\s*=\s*[\"']//|@import", body), \
            "%s names another origin" % path


def test_revalidation_redirects_and_unknown_files(otad, admin):
    etag = admin.request("GET", "/admin/ui/app.js").header("ETag")
    r = admin.request("GET", "/admin/ui/app.js", headers={"If-None-Match": etag})
    assert r.status == 304 and r.body == b"" and r.header("ETag") == etag, r
    for path in ("/", "/admin"):
        r = admin.request("GET", path)
        assert r.status == 302 and r.header("Location") == "/admin/", r
    r = admin.request("GET", "/admin/ui/nothing.js")
    assert r.status == 404 and r.json()["error"]["code"] == "not_found", r
    r = admin.request("POST", "/admin/ui/app.js", body=b"")
    assert r.status == 405, r
    # the API next to it is unchanged
    assert admin.request("GET", "/admin/devices").status == 200


# -- the browser test ------------------------------------------------------------

def _run(cmd, timeout, **kw):
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout, **kw)
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, str(e)
    return r.returncode == 0, r.stdout.decode("utf-8", "replace")[-2000:]


def ensure_chromium():
    if os.access(CHROMIUM, os.X_OK):
        return
    if os.geteuid() != 0:
        pytest.skip("%s is missing and this user cannot apt-get install chromium" % CHROMIUM)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    ok, out = _run(["apt-get", "install", "-y", "-q", "chromium"], 600, env=env)
    if not ok:
        _run(["apt-get", "update", "-q"], 300, env=env)
        ok, out = _run(["apt-get", "install", "-y", "-q", "chromium"], 600, env=env)
    if not ok or not os.access(CHROMIUM, os.X_OK):
        pytest.skip("chromium could not be installed (apt-get install chromium): %s" % out)


def ensure_playwright():
    """node_modules holding playwright-core, installed into CACHE when missing."""
    modules = os.path.join(CACHE, "node_modules")
    if os.path.exists(os.path.join(modules, "playwright-core", "package.json")):
        return modules
    if shutil.which("node") is None or shutil.which("npm") is None:
        if os.geteuid() == 0:
            _run(["apt-get", "install", "-y", "-q", "nodejs", "npm"], 600,
                 env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        if shutil.which("node") is None or shutil.which("npm") is None:
            pytest.skip("node and npm are not installed and could not be")
    try:
        os.makedirs(CACHE, exist_ok=True)
    except OSError as e:
        pytest.skip("cannot create the npm cache directory %s: %s" % (CACHE, e))
    pkg = os.path.join(CACHE, "package.json")
    if not os.path.exists(pkg):
        with open(pkg, "w") as f:
            f.write('{"name": "otad-web-test", "private": true}\n')
    ok, out = _run(["npm", "install", "--no-audit", "--no-fund", "--prefix", CACHE,
                    "playwright-core@1"], 300)
    if not ok or not os.path.exists(os.path.join(modules, "playwright-core")):
        pytest.skip("npm install playwright-core failed: %s" % out)
    return modules


class KitchenDevice(threading.Thread):
    """The device the page creates: logs in with the token the page showed, takes
    the ota command, downloads the image and comes back on the new build."""

    def __init__(self, srv, image):
        super().__init__(daemon=True)
        self.srv, self.image = srv, image
        self.token = None
        self.ready = threading.Event()
        self.bounce = threading.Event()
        self.stop = False
        self.clients = []
        self.error = None
        self.done = False

    def connect(self, version, build):
        c = blynk.device(self.srv.host, self.srv.hwd_port, self.token,
                         mcu=version, build=build)
        self.clients.append(c)
        return c

    def run(self):
        try:
            self.ready.wait(60)
            c = self.connect(lc.OLD_VERSION, lc.OLD_BUILD)
            url = c.wait_for_ota(timeout=45)
            assert url is not None, "the device got no ota command"
            time.sleep(PAUSE)       # the page shows "sent" a moment
            r = esphttp.esp8266_get(url)
            assert r.status == 200 and r.body == self.image, "download: %r" % r
            time.sleep(PAUSE)       # "downloaded", then the reboot
            c.close()
            self.connect(lc.NEW_VERSION, lc.NEW_BUILD)     # rebooted into it
            self.done = True
            self.bounce.wait(90)
            if self.bounce.is_set() and not self.stop:    # offline, online again
                self.clients.pop().close()
                time.sleep(0.5)
                self.connect(lc.NEW_VERSION, lc.NEW_BUILD)
        except Exception as e:      # reported by the test
            self.error = e

    def close(self):
        for c in self.clients:
            c.close()


def porch_devices(srv, admin):
    """Four devices tagged porch besides the page's: one with another board
    (incompatible), one on the image's build (already-current), one that waits for
    consent (the page declines it), one offline."""
    ids, clients = {}, []
    for name, info in (("porch-esp32", {"dev": "ESP32-DevKit"}),
                       ("porch-current", {"mcu": lc.NEW_VERSION, "build": lc.NEW_BUILD}),
                       ("porch-waiting", {}),
                       ("porch-offline", None)):
        r = admin.json_request("POST", "/admin/devices", {"name": name, "tags": "porch"})
        assert r.status == 201, r
        d = r.json()
        ids[name] = d["id"]
        if info is not None:
            clients.append(blynk.device(srv.host, srv.hwd_port, d["token"], **info))
    return ids, clients


def test_browser_update_reaches_succeeded(otad, admin, tmp_path):
    ensure_chromium()
    modules = ensure_playwright()
    os.makedirs(ARTIFACTS, exist_ok=True)
    image = lc.new_image()
    img_path = os.path.join(str(tmp_path), "kitchen-%s.bin" % lc.NEW_VERSION)
    with open(img_path, "wb") as f:
        f.write(image)
    ids, clients = porch_devices(otad, admin)
    kitchen = KitchenDevice(otad, image)
    kitchen.start()
    env = dict(os.environ, NODE_PATH=modules, CHROMIUM=CHROMIUM,
               OTAD_URL="https://%s:%d" % (otad.host, otad.admin_port),
               OTAD_USER=otad.user, OTAD_PASSWORD=otad.password,
               WEB_IMAGE=img_path, WEB_SHA256=images.digests(image)["sha256"],
               WEB_VERSION=lc.NEW_VERSION, WEB_BUILD=lc.NEW_BUILD,
               WEB_DEVICES=json.dumps(ids), WEB_ARTIFACTS=ARTIFACTS)
    shot = os.environ.get("OTAD_WEB_README_SHOT")
    if shot:
        env["WEB_README_SHOT"] = os.path.abspath(shot)
    log_path = os.path.join(ARTIFACTS, "web_test.log")
    out, facts = [], None
    t0 = time.monotonic()
    try:
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(["node", WEB_TEST], stdout=subprocess.PIPE,
                                    stderr=log, stdin=subprocess.DEVNULL, env=env,
                                    cwd=str(tmp_path))
            timer = threading.Timer(240, proc.kill)
            timer.start()
            for raw in proc.stdout:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                out.append(line)
                if line.startswith("TOKEN "):
                    kitchen.token = line.split()[2]
                    kitchen.ready.set()
                elif line.startswith("BOUNCE "):
                    kitchen.bounce.set()
                elif line.startswith("OK "):
                    facts = json.loads(line[3:])
            rc = proc.wait()
            timer.cancel()
        kitchen.stop = True
        kitchen.bounce.set()
        kitchen.join(10)
        with open(log_path, "rb") as f:
            log_text = f.read().decode("utf-8", "replace")
        assert rc == 0 and facts is not None, \
            "the browser test failed (exit %r); screenshots in %s\n%s\n%s" % (
                rc, ARTIFACTS, "\n".join(out), log_text[-4000:])
        assert kitchen.error is None and kitchen.done, kitchen.error
        # what the page showed is what the API says
        d = lc.delivery_of(admin, facts["job_id"], facts["device_id"])
        assert d["state"] == "succeeded" and d["attempts"] == 1 and d["consented"], d
        j = lc.job(admin, facts["job_id"])
        assert j["confirm"] == "admin", j
        assert j["state"] == "stopped" and j["counts"] == {
            "succeeded": 1, "incompatible": 1, "already-current": 1, "declined": 1,
            "canceled": 1}, j
        d = lc.delivery_of(admin, facts["job_id"], ids["porch-waiting"])
        assert d["state"] == "declined" and d["consented"] is False, d
        assert d["last_error"] == "declined by %s: after the harvest" % otad.user, d
        # the job from the browser in Asia/Kolkata
        j = lc.job(admin, facts["window_job_id"])
        assert j["window"]["timezone"] == "Asia/Kolkata" and j["confirm"] == "device", j
        d = lc.delivery_of(admin, j["id"], ids["porch-offline"])
        assert d["state"] == "scheduled" and d["next_at"] is not None, d
        assert '"window.timezone"' in facts["option_error_shown"], facts
        # the page followed the delivery through the event stream
        seen = [s.split(":", 1)[1] for s in facts["delivery_states_seen"]
                if s.split(":")[0] == str(facts["device_id"])]
        for state in ("downloaded:event", "succeeded:event"):
            assert state in seen, (state, seen)
        # the page's EventSource authenticated with the browser's credentials
        assert facts["transport"] == "eventsource", facts
        assert facts["events"] and all(e.startswith("200 ") for e in facts["events"]), facts
        # and so did the one of a second browser signed in by keyboard
        assert facts["session_events"] and all(
            e.startswith("200 ") for e in facts["session_events"]), facts
        # the charts had data; the device page, tokens and audit log were walked
        assert all(facts["charts"][c] > 0 for c in
                   ("chart-versions", "chart-job", "chart-throughput")), facts
        assert "%d:succeeded" % facts["job_id"] in facts["device_history"], facts
        d = admin.request("GET", "/admin/devices/%d" % facts["device_id"]).json()
        assert d["name"] == "kitchen-1", d
        assert admin.request("GET", "/admin/tokens").json()["tokens"] == [], "revoked"
        for name in ("devices", "firmware", "confirm", "consent", "job-view", "job-stopped",
                     "jobs", "device", "tokens", "audit", "signin",
                     "devices-fetch-stream", "job-view-phone", "devices-phone",
                     "firmware-phone", "jobs-phone", "tokens-phone", "audit-phone",
                     "device-phone",
                     "new-update-phone", "job-window-phone"):
            assert os.path.getsize(os.path.join(ARTIFACTS, name + ".png")) > 1000, name
        print("browser test: %.1f s, facts %s" % (time.monotonic() - t0, json.dumps(facts)))
    finally:
        kitchen.stop = True
        kitchen.ready.set()
        kitchen.bounce.set()
        kitchen.join(5)
        kitchen.close()
        for c in clients:
            c.close()
