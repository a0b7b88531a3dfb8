#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Soak test (not in CI): thousands of simulated devices connect, disconnect and update
for N minutes while the daemons are killed (-9) at random; then every delivery's state
must be true to what its device did, and no device row, firmware row or file is lost.

    OTAD_BUILD=build tests/soak/soak.py                  # 30 minutes, 2000 devices
    OTAD_BUILD=build tests/soak/soak.py --minutes 3 --devices 500

Devices are of three kinds, as the clients report themselves (PROTOCOL.md 1.4): most
are Arduino 1.x (firmware version and build), some Python BlynkLib 1.0 (version only),
some blynklib 0.2.6 (nothing: their updates can only succeed unverified).

Standard library only (asyncio for the devices); the e2e helpers start the server.
Exits 0 and prints "soak: PASS ..." when everything holds.
"""
import argparse
import asyncio
import hashlib
import os
import random
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import conftest  # noqa: E402
import lifecycle as lc  # noqa: E402

OLD = ("0.1.0", "Jan 01 2026 00:00:00")
NEW = ("0.9.9", "Feb 02 2026 02:02:02")


KINDS = (("arduino", 0.7), ("blynklib-1.0", 0.15), ("blynklib-0.2.6", 0.15))


class Dev:
    def __init__(self, id_, token, kind="arduino"):
        self.id, self.token, self.kind = id_, token, kind
        self.version, self.build = OLD
        self.downloads = 0          # complete, verified downloads
        self.flashed = False        # rebooted into the new image
        self.urls = set()           # every ota URL it was sent
        self.sent_while_current = []    # commands that came after it reported NEW

    def reports(self):
        return self.kind != "blynklib-0.2.6"

    def info(self):
        return lc.client_info(self.kind, self.version, self.build)


def frame(cmd, mid, body=b""):
    return struct.pack(">BHH", cmd, mid, len(body)) + body


async def read_frame(r):
    h = await r.readexactly(5)
    cmd, mid, ln = struct.unpack(">BHH", h)
    body = b"" if cmd == 0 else await r.readexactly(ln)
    return cmd, mid, ln, body


async def session(srv, dev, image_sha, stats):
    """One connection: login, info, then wait for the ota command or leave early."""
    r, w = await asyncio.wait_for(asyncio.open_connection(srv.host, srv.hwd_port), 5)
    try:
        w.write(frame(29, 1, dev.token.encode()))
        cmd, mid, st, _ = await asyncio.wait_for(read_frame(r), 6)
        if st != 200:
            stats["login_refused"] += 1
            return
        info = b"\0".join(b"%s\0%s" % (k.encode(), v.encode())
                           for k, v in dev.info().items()) + b"\0"
        w.write(frame(17, 2, info))
        current = dev.reports() and (dev.version, dev.build) == NEW
        stay = random.expovariate(1 / 20.0)
        deadline = time.monotonic() + stay
        while time.monotonic() < deadline:
            try:
                cmd, mid, ln, body = await asyncio.wait_for(
                    read_frame(r), max(0.1, min(10, deadline - time.monotonic())))
            except asyncio.TimeoutError:
                w.write(frame(6, 3))
                continue
            if cmd == 17 and body[:4] == b"ota\0":
                url = body[4:].rstrip(b"\0").decode()
                dev.urls.add(url)
                if current:
                    dev.sent_while_current.append(url)
                w.close()
                await download(dev, url, image_sha, stats)
                return
        stats["left_early"] += 1
    finally:
        w.close()


async def download(dev, url, image_sha, stats):
    host, port, path = url.split("/", 3)[2].rsplit(":", 1)[0], \
        int(url.split("/", 3)[2].rsplit(":", 1)[1]), "/" + url.split("/", 3)[3]
    r, w = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
    try:
        # only the Arduino sketch's updater says what it runs
        version = "x-ESP8266-version: %s\r\n" % dev.version if dev.kind == "arduino" \
            else ""
        w.write(("GET %s HTTP/1.0\r\nHost: %s:%d\r\nUser-Agent: ESP8266-http-Update\r\n"
                 "x-ESP8266-free-space: 4194304\r\nx-ESP8266-chip-size: 4194304\r\n"
                 "x-ESP8266-mode: sketch\r\n%s\r\n"
                 % (path, host, port, version)).encode())
        data = await asyncio.wait_for(r.read(), 30)
    finally:
        w.close()
    head, _, body = data.partition(b"\r\n\r\n")
    if head.startswith(b"HTTP/1.1 200") and hashlib.sha256(body).hexdigest() == image_sha:
        dev.downloads += 1
        if random.random() < 0.9:   # 10 % fail to flash and stay on the old build
            dev.version, dev.build = NEW
            dev.flashed = True
        stats["downloads"] += 1
    else:
        stats["bad_downloads" if head.startswith(b"HTTP/1.1 200") else "refused"] += 1


async def device_loop(srv, dev, image_sha, stats, stop):
    await asyncio.sleep(random.uniform(0, 10))
    while not stop.is_set():
        try:
            await session(srv, dev, image_sha, stats)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
            stats["conn_errors"] += 1
        await asyncio.sleep(random.uniform(0.5, 5))


async def killer(srv, interval, stop, stats):
    while not stop.is_set():
        await asyncio.sleep(random.uniform(interval / 2, interval * 1.5))
        if stop.is_set():
            break
        name = random.choice(("hwd", "admind", "fwstore"))
        if lc.daemon_pid(srv, name) is not None:
            lc.kill9(srv, name, wait_back=False)
            stats["kill_" + name] += 1


async def main_async(srv, devs, image_sha, args, stats):
    stop = asyncio.Event()
    tasks = [asyncio.create_task(device_loop(srv, d, image_sha, stats, stop)) for d in devs]
    k = asyncio.create_task(killer(srv, args.kill_interval, stop, stats))
    await asyncio.sleep(args.minutes * 60)
    stop.set()
    await k
    # calm: every daemon back, devices finish what they are doing
    await asyncio.sleep(args.settle)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def wait_api(srv, admin, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if admin.request("GET", "/admin/devices").status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("soak: admind did not answer GET /admin/devices for %d s\n%s"
                     % (timeout, srv.log_tail()))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--devices", type=int, default=2000)
    ap.add_argument("--kill-interval", type=float, default=20, help="mean seconds")
    ap.add_argument("--settle", type=float, default=40, help="seconds without kills "
                    "at the end before checking")
    args = ap.parse_args()
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    srv = conftest.start_server(name="otad-soak", config={
        "admind": {"sent_timeout": "60"}, "hwd": {"max_connections": str(args.devices * 3),
                                        "max_connections_per_address": "0"},
        "fwstore": {"max_downloads": "500"}})
    try:
        admin = srv.admin(timeout=30)
        devs = []
        rng = random.Random(args.devices)
        for i in range(args.devices):
            d = admin.create_device("soak-%05d" % i)
            x, kind = rng.random(), KINDS[-1][0]
            for k, share in KINDS:
                if x < share:
                    kind = k
                    break
                x -= share
            devs.append(Dev(d["id"], d["token"], kind))
        # no board in the tag: Python clients report theirs as linux-py or python
        img = lc.tagged_image([("mcu", NEW[0]), ("build", NEW[1]), ("blynk", "1.3.2")],
                              size=256 * 1024, seed="soak")
        sha = hashlib.sha256(img).hexdigest()
        fw = lc.upload(admin, img)          # every device
        job_id = fw["job"]["id"]
        stats = {k: 0 for k in ("login_refused", "left_early", "downloads", "bad_downloads",
                                "refused", "conn_errors", "kill_hwd", "kill_admind",
                                "kill_fwstore")}
        t0 = time.monotonic()
        asyncio.run(main_async(srv, devs, sha, args, stats))
        wait_api(srv, admin)
        problems = check(srv, admin, devs, job_id, sha)
        print("soak: %d devices, %.1f min, %s" % (len(devs), (time.monotonic() - t0) / 60,
                                                 ", ".join("%s %d" % kv for kv in stats.items())))
        if problems:
            print("soak: FAIL, %d problems:" % len(problems))
            for p in problems[:40]:
                print("  " + p)
            return 1
        print("soak: PASS: every delivery's state is true, no row or file lost")
        return 0
    finally:
        srv.finish()


def check(srv, admin, devs, job_id, sha):
    problems = []
    attempt_limit = lc.job(admin, job_id)["attempt_limit"]
    byid = {d.id: d for d in devs}
    have = {d["id"] for d in admin.devices()["devices"]}
    problems += ["device row %d lost" % i for i in byid if i not in have]
    r = admin.request("GET", "/admin/firmware")
    if sha not in r.body.decode():
        problems.append("firmware row %s lost" % sha)
    if not os.path.exists(os.path.join(srv.dir, "state", "firmware", sha)):
        problems.append("firmware file %s lost" % sha)
    seen = {d["device_id"]: d for d in lc.deliveries(admin, job_id)}
    for i in byid:          # the list may be paged: ask for the missing ones
        if i not in seen:
            for d in lc.deliveries(admin, job_id, device=i):
                seen[d["device_id"]] = d
    problems += ["delivery of device %d lost" % i for i in byid if i not in seen]
    for i, d in seen.items():
        dev = byid.get(i)
        if dev is None:
            continue
        st = d["state"]
        # true: succeeded only for a device that runs the new build (or, for one
        # that reports nothing, unverified after a complete download); a device that
        # runs it was told so (succeeded) or has not reconnected since flashing
        if st == "succeeded" and dev.reports() and not dev.flashed:
            problems.append("device %d: succeeded, but it never flashed" % i)
        if st == "succeeded" and not dev.reports() and "unverified" not in d["last_error"]:
            problems.append("device %d reports nothing, yet succeeded verified: %r" % (i, d))
        if st in ("downloaded", "succeeded") and dev.downloads == 0:
            problems.append("device %d: %s, but it never downloaded the image" % (i, st))
        if dev.flashed and st not in ("succeeded", "downloaded"):
            problems.append("device %d runs the new build, delivery says %s" % (i, st))
        if d["attempts"] > attempt_limit:
            problems.append("device %d: %d attempts, the job's limit is %d" % (
                i, d["attempts"], attempt_limit))
        for url in sorted(dev.sent_while_current):
            problems.append("device %d reported the new image and was sent its ota "
                            "command %s" % (i, url))
    problems += check_jobs(admin)
    problems += check_urls(admin, devs, job_id, seen)
    return problems


def check_jobs(admin):
    """No device-list or tag job is active with every delivery ended."""
    return ["job %d (%s) is active with every delivery ended: %r" % (
        j["id"], j["target_kind"], j["counts"]) for j in lc.jobs(admin, "active")
        if j["target_kind"] != "all" and all(s in lc.ENDED for s in j["counts"])]


def check_urls(admin, devs, job_id, seen):
    """A download URL answers 200 only while its delivery is unfinished: as things
    are, then with the job stopped (every delivery ended)."""
    problems = []
    for dev in devs:
        st = seen.get(dev.id, {}).get("state")
        if st in lc.ENDED:
            problems += ["device %d: %s answers 200 though its delivery is %s" % (
                dev.id, url, st) for url in sorted(dev.urls) if lc.head_status(url) == 200]
    r = admin.json_request("POST", "/admin/jobs/%d/stop" % job_id, {})
    if r.status != 200:
        problems.append("stopping job %d: %r" % (job_id, r))
    for dev in devs:
        problems += ["device %d: %s answers 200 with its job stopped" % (dev.id, url)
                     for url in sorted(dev.urls) if lc.head_status(url) == 200]
    return problems


if __name__ == "__main__":
    sys.exit(main())
