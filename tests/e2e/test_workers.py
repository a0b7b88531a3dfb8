# SPDX-License-Identifier: MIT
"""Issue 17: hwd and fwstore as several workers ([hwd] workers = 2 and
[fwstore] workers = 2, as the whole suite runs them).  A device on each hwd
worker gets its OTA and updates; kill -9 of one worker leaves the other's
devices untouched, its own devices go offline in admind at once and come
back as they log in again to the worker its supervisor started anew; a
killed fwstore worker costs no download.
"""
import os
import time

import pytest

import lifecycle as lc
from lifecycle import Device, NEW_VERSION, login_until_accepted, worker_pids


@pytest.fixture(scope="module")
def image():
    return lc.new_image(seed="workers")


def hwd_workers_of(admin, dev):
    d = admin.wait_device(dev.id, lambda j: j.get("hwd_workers"))
    return d.get("hwd_workers") if d else None


def a_device_on_each_worker(srv, admin, tries=48):
    """Devices logged in until each of the two hwd workers holds one (the
    kernel spreads connections by their addresses): {worker: Device}."""
    on = {}
    for _ in range(tries):
        dev = login_until_accepted(Device(srv, admin))
        workers = hwd_workers_of(admin, dev)
        assert workers and len(workers) == 1, "device %d: hwd_workers %r" % (dev.id, workers)
        if workers[0] in on:
            dev.close()
            continue
        on[workers[0]] = dev
        if len(on) == 2:
            return on
    pytest.fail("%d logins all landed on hwd worker(s) %s" % (tries, sorted(on)))


def test_each_daemon_runs_its_workers(otad, admin):
    """`otad run` starts two workers of hwd and of fwstore under one
    supervisor each, and admind hears all four."""
    for name in ("hwd", "fwstore"):
        pids = worker_pids(otad, name)
        assert sorted(pids) == [1, 2], "otad-%s workers: %r" % (name, pids)
        sup = lc.daemon_pid(otad, name)
        for pid in pids.values():
            with open("/proc/%d/stat" % pid) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            assert ppid == sup, "worker %d of otad-%s: parent %d, not %d" % (pid, name, ppid, sup)
    h = admin.request("GET", "/admin/health").json()
    assert h["hwd_workers"] == 2 and h["fwstore_workers"] == 2, h
    m = admin.request("GET", "/metrics").body.decode()
    assert 'otad_hwd_worker_connections{worker="1"}' in m, m
    assert 'otad_hwd_worker_connections{worker="2"}' in m, m


def test_an_ota_reaches_a_device_on_each_worker(otad, admin, image):
    on = a_device_on_each_worker(otad, admin)
    try:
        fw = lc.upload_firmware(admin, image)
        job = lc.create_job(admin, fw["id"], devices=[d.id for d in on.values()])
        for dev in on.values():
            dev.update(image)
        for dev in on.values():
            d = lc.wait_delivery(admin, job["id"], dev.id, "succeeded", timeout=15)
            assert d["state"] == "succeeded", d
        for dev in on.values():
            assert admin.device(dev.id)["fw_version"] == NEW_VERSION
    finally:
        for dev in on.values():
            dev.close()


def test_kill_9_of_one_worker(otad, admin, image):
    """kill -9 of hwd worker 1: its device is offline in admind at once, the
    device on worker 2 keeps its connection and its state; the supervisor
    starts worker 1 again and the device logs in again."""
    on = a_device_on_each_worker(otad, admin)
    victim, keeper = on[1], on[2]
    try:
        old = worker_pids(otad, "hwd")
        os.kill(old[1], 9)
        d = admin.wait_device(victim.id, lambda j: not j["online"], timeout=3)
        assert not d["online"], "device on the killed worker still online: %r" % d
        assert victim.client.closes_within(3), "the killed worker's connection stayed open"
        # the other worker's device: same connection, still online, answered
        assert admin.device(keeper.id)["online"]
        assert admin.device(keeper.id)["hwd_workers"] == [2]
        assert keeper.client.ping() == 200
        deadline = time.monotonic() + 10
        while worker_pids(otad, "hwd").get(1) in (None, old[1]):
            assert time.monotonic() < deadline, "hwd worker 1 was not started again"
            time.sleep(0.05)
        assert worker_pids(otad, "hwd")[2] == old[2]
        login_until_accepted(victim.reboot())
        d = admin.wait_device(victim.id, lambda j: j["online"], timeout=5)
        assert d["online"], d
        # a job after the restart still reaches both
        fw = lc.upload_firmware(admin, lc.new_image(seed="workers-after-kill"), force=True)
        job = lc.create_job(admin, fw["id"], devices=[victim.id, keeper.id])
        for dev in (victim, keeper):
            assert dev.wait_ota(10) is not None, "device %d: no ota after the kill" % dev.id
        lc.wait_job(admin, job["id"], lambda j: True)
    finally:
        victim.close()
        keeper.close()


def test_a_killed_fwstore_worker_costs_no_download(otad, admin, image):
    """kill -9 of fwstore worker 2: downloads go on (the other worker, then
    both again)."""
    dev = login_until_accepted(Device(otad, admin))
    try:
        fw = lc.upload_firmware(admin, lc.new_image(seed="workers-fw"), force=True)
        lc.create_job(admin, fw["id"], devices=[dev.id])
        url = dev.wait_ota(10)
        assert url is not None
        old = worker_pids(otad, "fwstore")
        os.kill(old[2], 9)
        r = lc.download_until_served(dev, url, lc.new_image(seed="workers-fw"))
        assert r.status == 200
        deadline = time.monotonic() + 10
        while worker_pids(otad, "fwstore").get(2) in (None, old[2]):
            assert time.monotonic() < deadline, "fwstore worker 2 was not started again"
            time.sleep(0.05)
    finally:
        dev.close()
