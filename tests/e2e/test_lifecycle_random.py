"""The delivery lifecycle under random events (issue 13): simulated devices of four
kinds update while jobs are created, superseded, paused, resumed and stopped and each
daemon is killed with -9 at random moments; at the end every fact the API states must
agree with what the devices did.

    OTAD_RANDOM_SECONDS=600 OTAD_RANDOM_SEED=1234 pytest -s tests/e2e/test_lifecycle_random.py

OTAD_RANDOM_SECONDS (default 60) is the whole run, settling and checks included;
OTAD_RANDOM_SEED replays the same random choices (each device, the job controller and
the killer have their own generator; thread timing still differs between runs).
"""
import hashlib
import http.client
import os
import random
import socket
import struct
import threading
import time

import blynk
import conftest
import esphttp
import lifecycle as lc

SECONDS = float(os.environ.get("OTAD_RANDOM_SECONDS", "60"))
SEED = int(os.environ.get("OTAD_RANDOM_SEED") or random.SystemRandom().randrange(1 << 31))

KINDS = ("arduino", "blynklib-1.0", "blynklib-0.2.6", "poll")
PER_KIND = 3
N_IMAGES = 4
OLD = {"key": None, "version": lc.OLD_VERSION, "build": lc.OLD_BUILD,
       "md5": "00112233445566778899aabbccddeeff"}
DUMMY_MD5 = "ffeeddccbbaa99887766554433221100"
API_ERRORS = (OSError, http.client.HTTPException, ValueError)


class Image:
    def __init__(self, k):
        self.key = k
        self.version = "7.%d.0" % k
        self.build = "Apr %02d 2027 07:%02d:00" % (k + 1, k)
        # no dev and no fw-type in the tag: every kind of client may take it
        self.data = lc.tagged_image([("mcu", self.version), ("build", self.build),
                                     ("blynk", "1.3.2")], size=64 * 1024,
                                    seed="random-%d" % k)
        self.md5 = hashlib.md5(self.data).hexdigest()
        self.sha = hashlib.sha256(self.data).hexdigest()
        self.id = None


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.n = {}

    def add(self, key, k=1):
        with self.lock:
            self.n[key] = self.n.get(key, 0) + k


def fetch(url, request, partial=None, timeout=10.0):
    """One HTTP exchange as a device's updater does it: (response, body, complete).
    partial: 0 hangs up (a reset) right after sending the request, before any byte
    can arrive; a share (0..1) reads only that much of a 200's body, then hangs up.
    The second kind reads through a receive buffer as small as a device's; still,
    the kernel may have acknowledged more than was read, so fwstore may count it as
    delivered: the device then dropped bytes it received."""
    host, port, _ = esphttp.split_url(url)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    if partial:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    with s:
        s.connect((host, port))
        s.sendall(request)
        if partial == 0:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return None, b"", False
        data = b""
        while b"\r\n\r\n" not in data:
            c = s.recv(65536)
            if not c:
                raise ValueError("no response head from %s: %r" % (url, data[:200]))
            data += c
        head, _, body = data.partition(b"\r\n\r\n")
        r = esphttp.Response(head + b"\r\n\r\n", data)
        if r.status != 200 or request.startswith(b"HEAD "):
            return r, b"", False
        n = int(r.header("Content-Length") or 0)
        want = n if partial is None else int(n * partial)
        while len(body) < want:
            c = s.recv(65536)
            if not c:
                break
            body += c
        if partial is not None:
            return r, body[:want], False
        return r, body, len(body) == n


class SimDevice:
    """One device: what it runs, what it reported, which commands and downloads it
    got; a thread runs it until stop is set."""

    def __init__(self, srv, admin, kind, i, images, stats, stop, seed):
        self.srv, self.kind, self.images, self.stats, self.stop = \
            srv, kind, images, stats, stop
        self.rng = random.Random(seed)
        d = admin.create_device("rnd-%s-%d" % (kind, i))
        self.id, self.token = d["id"], d["token"]
        self.tags = ["k-" + kind, "g-" + "ab"[i % 2]]
        r = admin.json_request("PATCH", "/admin/devices/%d" % self.id, {"tags": self.tags})
        assert r.status == 200, r
        self.runs = OLD                 # the image it runs
        self.reported = set()           # image keys it reported running
        self.delivered = set()          # image keys whose every byte reached it
        self.urls = set()               # every ota URL it was sent
        self.problems = []
        self.thread = threading.Thread(target=self.main, daemon=True,
                                       name="dev-%d" % self.id)

    # what it says about itself ------------------------------------------------------
    def reports(self):
        return self.kind != "blynklib-0.2.6"

    def report_now(self):
        if self.reports() and self.runs["key"] is not None:
            self.reported.add(self.runs["key"])

    def image_by_md5(self, md5):
        for im in self.images:
            if im.md5 == md5:
                return im
        return None

    # the device's life ---------------------------------------------------------------
    def main(self):
        while not self.stop.is_set():
            try:
                if self.kind == "poll":
                    self.poll_once()
                    self.stop.wait(self.rng.uniform(0.3, 1.5))
                else:
                    self.session()
                    self.stop.wait(self.rng.uniform(0.05, 0.8))
            except (OSError, blynk.ProtocolError, ValueError):
                self.stats.add("device_errors")
                self.stop.wait(0.3)
            except Exception as e:      # a bug in the simulation itself
                self.problems.append("device %d (%s) crashed: %r" % (self.id, self.kind, e))
                return

    def session(self):
        info = lc.client_info(self.kind, self.runs["version"], self.runs["build"])
        c = blynk.BlynkClient(self.srv.host, self.srv.hwd_port, 5.0).connect()
        try:
            st = c.login(self.token)
            if st != blynk.OK:
                self.stats.add("login_%s" % st)
                return
            if c.send_info(info) != blynk.OK:
                return
            self.report_now()
            said = self.runs if self.reports() else None
            end = time.monotonic() + self.rng.uniform(0.5, 5.0)
            while not self.stop.is_set() and time.monotonic() < end:
                f = c.wait_for_ota_frame(timeout=min(1.0, max(0.05, end - time.monotonic())))
                if f is None:
                    continue
                url = blynk.ota_url(f)
                self.urls.add(url)
                self.stats.add("commands")
                im = self.identify(url)
                if said is not None and im is not None and said["key"] == im.key:
                    what = ("build " + said["build"]) if self.kind == "arduino" else \
                        ("version " + said["version"])
                    self.problems.append("device %d (%s) reported %s and was sent that "
                                         "image's ota command %s" % (self.id, self.kind,
                                                                     what, url))
                c.close()                       # the sketch hangs up, then downloads
                self.download(url, self.request_for(url))
                return
        finally:
            c.close()

    def identify(self, url):
        """Which image a download URL serves (a HEAD moves nothing in admind)."""
        try:
            r, _, _ = fetch(url, esphttp.esp8266_request_with(
                url, drop=("x-ESP8266-sketch-md5",), method="HEAD"), timeout=5)
        except (OSError, ValueError):
            return None
        return self.image_by_md5(r.header("x-MD5")) if r.status == 200 else None

    def request_for(self, url):
        if self.kind == "arduino":
            sets = []
            if self.rng.random() < 0.5:
                sets.append(("x-ESP8266-sketch-md5", self.runs["md5"]))
            else:
                sets.append(("x-ESP8266-sketch-md5", DUMMY_MD5))
            return esphttp.esp8266_request_with(url, set_=sets)
        # a Python client's download says nothing about what it runs
        return esphttp.esp8266_request_with(url, drop=("x-ESP8266-sketch-md5",))

    def download(self, url, request, polled=None):
        partial = None
        if self.rng.random() < 0.15:
            partial = 0 if self.rng.random() < 0.5 else self.rng.uniform(0.05, 0.9)
        try:
            r, body, complete = fetch(url, request, partial=partial)
        except (OSError, ValueError):
            self.stats.add("download_errors")
            return
        if r is None:
            self.stats.add("hung_up")
            return
        self.stats.add("http_%d" % r.status)
        if r.status != 200:
            return
        im = self.image_by_md5(r.header("x-MD5"))
        if im is None:
            self.problems.append("device %d: 200 with x-MD5 %r of no uploaded image"
                                 % (self.id, r.header("x-MD5")))
            return
        if polled is not None and polled["key"] == im.key:
            self.problems.append("device %d (poll) reported version %s and was served "
                                 "that image" % (self.id, polled["version"]))
        if partial is not None:
            # every byte may have reached its kernel: the server may count it whole
            self.delivered.add(im.key)
            self.stats.add("partial_downloads")
            return
        if not complete or hashlib.sha256(body).hexdigest() != im.sha:
            self.problems.append("device %d: download of %s is not image %d (%d bytes)"
                                 % (self.id, url, im.key, len(body)))
            return
        self.delivered.add(im.key)
        self.stats.add("complete_downloads")
        if self.rng.random() < 0.8:
            self.runs = {"key": im.key, "version": im.version, "build": im.build,
                         "md5": im.md5}
            self.stats.add("flashed")
        else:
            self.stats.add("flash_failed")

    def poll_once(self):
        url = lc.poll_url(self.srv, self.token)
        md5 = self.runs["md5"] if self.rng.random() < 0.5 else DUMMY_MD5
        req = esphttp.esp8266_request(url, version=self.runs["version"], sketch_md5=md5)
        self.report_now()
        self.stats.add("polls")
        self.download(url, req, polled=self.runs)


def controller(admin, devices, images, stats, stop, rng):
    """Creates, supersedes, pauses, resumes and stops jobs at random."""
    tags = sorted({t for d in devices for t in d.tags})
    while not stop.wait(rng.uniform(0.5, 1.8)):
        try:
            x = rng.random()
            if x < 0.55:
                im = rng.choice(images)
                body = {"firmware_id": im.id, "attempt_limit": rng.randint(1, 3),
                        "max_parallel": rng.randint(1, 4)}
                if rng.random() < 0.2:
                    body["force"] = True
                y = rng.random()
                if y < 0.05:
                    body["all"] = True
                elif y < 0.5:
                    body["tag"] = rng.choice(tags)
                else:
                    body["devices"] = [d.id for d in rng.sample(devices,
                                                                rng.randint(1, 5))]
                r = admin.json_request("POST", "/admin/jobs", body)
                if r.status == 201:
                    stats.add("jobs_" + r.json()["target_kind"])
                else:
                    stats.add("job_refused_%d" % r.status)
                continue
            want = "active" if x < 0.85 else "paused"
            r = admin.request("GET", "/admin/jobs?limit=500&state=" + want)
            if r.status != 200 or not r.json()["jobs"]:
                continue
            j = rng.choice(r.json()["jobs"])
            verb = ("pause" if x < 0.7 else "stop") if want == "active" else \
                ("resume" if x < 0.95 else "stop")
            r = admin.json_request("POST", "/admin/jobs/%d/%s" % (j["id"], verb), {})
            stats.add("%s_%d" % (verb, r.status))
        except API_ERRORS:
            stats.add("api_errors")


def wait_daemon(srv, name, timeout=40.0):
    deadline = time.monotonic() + timeout
    while lc.daemon_pid(srv, name) is None:
        assert time.monotonic() < deadline, "otad-%s did not come back" % name
        time.sleep(0.1)


def killer(srv, kills, stop, rng, errors):
    """kill -9 of a daemon every few seconds, each once a round in a random order.
    `otad run` restarts a daemon after 1 s, doubling that for each death until it ran
    a minute: a daemon is killed at most twice in a row before it has run a minute
    again, so that it is up most of the time (restarts of 1 and 2 s) however long the
    run."""
    streak = {"admind": 0, "hwd": 0, "fwstore": 0}
    up_since = {name: time.monotonic() for name in streak}
    round_ = []
    try:
        while not stop.wait(rng.uniform(3.0, 8.0)):
            now = time.monotonic()
            for name in streak:
                if now - up_since[name] >= 60:
                    streak[name] = 0
            if not round_:             # each daemon once a round, in random order
                round_ = sorted(streak)
                rng.shuffle(round_)
            names = [n for n in round_ if streak[n] < 2]
            if not names:
                continue
            name = names[0]
            round_.remove(name)
            wait_daemon(srv, name)
            lc.kill9(srv, name, wait_back=True, timeout=40)
            up_since[name] = time.monotonic()
            streak[name] += 1
            kills[name] = kills.get(name, 0) + 1
    except Exception as e:
        errors.append("killer: %r" % e)


def wait_healthy(admin, timeout=40.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            r = admin.request("GET", "/admin/health", user=None)
            if r.status == 200:
                h = r.json()
                if h.get("hwd_connected") and h.get("fwstore_connected"):
                    return
        except API_ERRORS:
            pass
        assert time.monotonic() < deadline, "otad did not become healthy"
        time.sleep(0.2)


def all_deliveries(admin, job_list):
    out = {}
    for j in job_list:
        out[j["id"]] = lc.deliveries(admin, j["id"])
    return out


def lingering_jobs(admin):
    """Active device-list or tag jobs whose deliveries all ended."""
    bad = []
    for j in lc.jobs(admin, "active"):
        if j["target_kind"] != "all" and all(s in lc.ENDED for s in j["counts"]):
            bad.append((j["id"], j["target_kind"], j["counts"]))
    return bad


def test_random_lifecycle():
    print("\nrandom lifecycle: seed %d, %.0f s (OTAD_RANDOM_SEED=%d OTAD_RANDOM_SECONDS=%g "
          "reproduce it)" % (SEED, SECONDS, SEED, SECONDS))
    t_start = time.monotonic()
    srv = conftest.start_server(name="otad-random", config={
        "admind": {"sent_timeout": "4"}, "fwstore": {"stall_timeout": "3"}})
    stop_devices, stop_chaos = threading.Event(), threading.Event()
    devices = []
    try:
        admin = srv.admin(timeout=15)
        images = [Image(k) for k in range(N_IMAGES)]
        for im in images:
            im.id = lc.upload_firmware(admin, im.data, filename="img-%d.bin" % im.key)["id"]
        stats, kills, errors = Stats(), {}, []
        for ki, kind in enumerate(KINDS):
            for i in range(PER_KIND):
                devices.append(SimDevice(srv, admin, kind, i, images, stats, stop_devices,
                                         SEED * 1000 + ki * 100 + i))
        for d in devices:
            d.thread.start()
        chaos = max(15.0, SECONDS - 25.0)
        threads = [
            threading.Thread(target=controller, daemon=True, args=(
                admin, devices, images, stats, stop_chaos,
                random.Random(SEED + 1))),
            threading.Thread(target=killer, daemon=True, args=(
                srv, kills, stop_chaos, random.Random(SEED + 2), errors)),
        ]
        for t in threads:
            t.start()
        stop_chaos.wait(chaos)
        stop_chaos.set()
        for t in threads:
            t.join(60)
        assert not errors, errors
        # settle: every daemon back, the devices finish what they started
        for name in ("admind", "hwd", "fwstore"):
            wait_daemon(srv, name)
        wait_healthy(admin)
        time.sleep(6)
        stop_devices.set()
        for d in devices:
            d.thread.join(30)
        problems = [p for d in devices for p in d.problems]
        byid = {d.id: d for d in devices}
        by_fw = {im.id: im for im in images}

        # no active device-list or tag job with every delivery ended
        deadline = time.monotonic() + 5
        while lingering_jobs(admin) and time.monotonic() < deadline:
            time.sleep(0.2)
        problems += ["job %d (%s) is active with every delivery ended: %r" % b
                     for b in lingering_jobs(admin)]
        job_list = lc.jobs(admin)
        dels = all_deliveries(admin, job_list)
        states = {}
        for j in job_list:
            for d in dels[j["id"]]:
                states[d["state"]] = states.get(d["state"], 0) + 1
                if d["attempts"] > j["attempt_limit"]:
                    problems.append("job %d device %d: %d attempts, limit %d (%s)" % (
                        j["id"], d["device_id"], d["attempts"], j["attempt_limit"], d))
                dev = byid.get(d["device_id"])
                im = by_fw.get(j["firmware_id"])
                if d["state"] != "succeeded" or dev is None or im is None:
                    continue
                if im.key in dev.reported:
                    continue
                if not dev.reports() and "unverified" in d["last_error"] and \
                        im.key in dev.delivered:
                    continue
                problems.append(
                    "job %d device %d (%s) succeeded with image %d, but the device never "
                    "reported it%s: %r" % (
                        j["id"], dev.id, dev.kind, im.key,
                        "" if im.key in dev.delivered else " nor downloaded it whole", d))
        # a download URL answers 200 only while its delivery is unfinished: first as
        # things are, then with every job stopped (every delivery ended)
        unfinished = {}
        for j in job_list:
            for d in dels[j["id"]]:
                if d["state"] not in lc.ENDED:
                    unfinished.setdefault(d["device_id"], []).append(by_fw[j["firmware_id"]])
        for dev in devices:
            for url in sorted(dev.urls):
                r = None
                try:
                    r, _, _ = fetch(url, esphttp.esp8266_request_with(
                        url, drop=("x-ESP8266-sketch-md5",), method="HEAD"), timeout=5)
                except (OSError, ValueError):
                    pass
                if r is None or r.status != 200:
                    continue
                live = [im.md5 for im in unfinished.get(dev.id, [])]
                if r.header("x-MD5") not in live:
                    problems.append("device %d: %s still answers 200 (image md5 %s), but "
                                    "no unfinished delivery of the device has that image"
                                    % (dev.id, url, r.header("x-MD5")))
        for j in lc.jobs(admin):
            if j["state"] in ("active", "paused"):
                r = admin.json_request("POST", "/admin/jobs/%d/stop" % j["id"], {})
                assert r.status == 200, r
        for dev in devices:
            for url in sorted(dev.urls):
                st = lc.head_status(url)
                if st == 200:
                    problems.append("device %d: %s answers 200 with every job stopped"
                                    % (dev.id, url))
        took = time.monotonic() - t_start
        jstates = {}
        for j in job_list:
            k = "%s %s" % (j["target_kind"], j["state"])
            jstates[k] = jstates.get(k, 0) + 1
        print("random lifecycle: seed %d, %.0f s (chaos %.0f s), %d devices, %d jobs (%s); "
              "kills %s; deliveries %s; %s" % (
                  SEED, took, chaos, len(devices), len(job_list),
                  ", ".join("%s %d" % kv for kv in sorted(jstates.items())),
                  ", ".join("%s %d" % kv for kv in sorted(kills.items())) or "none",
                  ", ".join("%s %d" % kv for kv in sorted(states.items())),
                  ", ".join("%s %d" % kv for kv in sorted(stats.n.items()))))
        assert not problems, "seed %d: %d problems:\n  %s" % (
            SEED, len(problems), "\n  ".join(problems[:40]))
    finally:
        stop_chaos.set()
        stop_devices.set()
        srv.finish()
