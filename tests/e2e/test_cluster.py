# SPDX-License-Identifier: MIT
"""Issue 18: three otad nodes (a, b, c) sharing one PostgreSQL database that the
test starts itself (tests/e2e/pg.py).  A job for every device, spread over the
three nodes, sends exactly one `ota` to each; max_parallel holds for the whole
cluster; exactly one node runs the scheduler's shared chores, and another takes
them over when its admind is killed, with nothing sent twice; a device deleted on
one node is dropped by the node holding it; the event stream of one node shows
the others' events; PostgreSQL stopped and started again loses nothing, and the
API says 503 with a sentence meanwhile.  Devices are test clients that connect to
the node's hwd port a load balancer would give them.
"""
import time

import pytest

import lifecycle as lc
from conftest import nodes_sharing
from lifecycle import Device, health, login_until_accepted, wait_until

NODES = ("a", "b", "c")


@pytest.fixture(scope="module")
def cluster(postgres):
    with nodes_sharing(postgres, NODES, "otad-cluster-") as nodes:
        yield nodes


@pytest.fixture(scope="module")
def admins(cluster):
    return {name: srv.admin() for name, srv in cluster.items()}


def stop_job(admin, job_id):
    r = admin.json_request("POST", "/admin/jobs/%d/stop" % job_id)
    assert r.status == 200, r


def schedulers(admins):
    return [n for n, a in admins.items() if health(a)["scheduler"]]


def devices_on_each_node(cluster, admins, per_node=2):
    """per_node devices logged in on each node, created through node a's API."""
    devs = []
    for name in NODES:
        for _ in range(per_node):
            dev = Device(cluster["a"], admins["a"])
            dev.srv = cluster[name]
            devs.append((name, login_until_accepted(dev)))
    for name, dev in devs:
        d = admins["a"].wait_device(dev.id, lambda j: j["online"] and j["node"] == name)
        assert d and d["node"] == name, "device %d: %r, not online on %s" % (dev.id, d, name)
    return devs


def ota_frames(devs, first=8.0, quiet=2.0):
    """{device id: the ota commands it heard}: each device's first within first
    seconds, then whatever else all of them hear in quiet more seconds."""
    heard = {}
    deadline = time.monotonic() + first
    for dev in devs:
        url = dev.client.wait_for_ota(max(0.0, deadline - time.monotonic()))
        heard[dev.id] = [url] if url else []
    time.sleep(quiet)
    for dev in devs:
        while (url := dev.client.wait_for_ota(0.05)) is not None:
            heard[dev.id].append(url)
    return heard


def test_the_nodes_share_one_database(cluster, admins):
    for name, admin in admins.items():
        h = health(admin)
        assert h["database"] == "postgresql" and h["node"] == name, h
        assert h["database_reachable"], h
    assert wait_until(lambda: len(schedulers(admins)) == 1, 10), \
        "nodes running the scheduler: %r" % schedulers(admins)
    # a device created on one node is seen, with its token, by every node
    dev = Device(cluster["b"], admins["b"])
    dev.srv = cluster["c"]
    try:
        login_until_accepted(dev)
        for admin in admins.values():
            d = admin.wait_device(dev.id, lambda j: j["online"])
            assert d["online"] and d["node"] == "c", d
    finally:
        dev.close()


def test_a_job_for_all_sends_one_ota_per_device(cluster, admins):
    devs = devices_on_each_node(cluster, admins)
    try:
        fw = lc.upload_firmware(admins["b"], lc.new_image(seed="cluster-all"))
        job = lc.create_job(admins["b"], fw["id"], all=True, max_parallel=1000)
        heard = ota_frames([dev for _, dev in devs])
        for name, dev in devs:
            urls = heard[dev.id]
            assert len(urls) == 1, "device %d on node %s heard %d ota commands: %r" % (
                dev.id, name, len(urls), urls)
            assert ":%d/" % cluster[name].fw_port in urls[0], (name, urls)
        for _, dev in devs:
            d = lc.delivery_of(admins["c"], job["id"], dev.id)
            assert d["state"] == "sent" and d["attempts"] == 1, d
        stop_job(admins["a"], job["id"])
    finally:
        for _, dev in devs:
            dev.close()


def test_max_parallel_holds_for_the_cluster(cluster, admins):
    devs = devices_on_each_node(cluster, admins)
    try:
        fw = lc.upload_firmware(admins["a"], lc.new_image(seed="cluster-pace"))
        job = lc.create_job(admins["a"], fw["id"], devices=[d.id for _, d in devs],
                            max_parallel=2)
        heard = ota_frames([dev for _, dev in devs], first=3, quiet=0)
        got = [i for i, urls in heard.items() if urls]
        assert len(got) == 2, "max_parallel 2 over three nodes: %d devices got a " \
            "command: %r" % (len(got), heard)
        j = lc.job(admins["c"], job["id"])
        assert j["counts"].get("sent", 0) == 2, j
        stop_job(admins["a"], job["id"])
    finally:
        for _, dev in devs:
            dev.close()


def test_a_slot_freed_on_one_node_goes_to_a_device_on_another(cluster, admins):
    """max_parallel 1: the device on node a updates; the slot its success frees
    reaches node b (a kick, sent with that turn's notice), whose device then
    hears its command."""
    image = lc.new_image(seed="cluster-kick")
    devs = [Device(cluster["a"], admins["a"]), Device(cluster["a"], admins["a"])]
    devs[1].srv = cluster["b"]
    try:
        for dev in devs:
            login_until_accepted(dev)
        fw = lc.upload_firmware(admins["a"], image)
        job = lc.create_job(admins["a"], fw["id"], devices=[d.id for d in devs],
                            max_parallel=1)
        # whichever node decided first has the slot; the other device waits
        first = wait_until(lambda: next((d for d in devs if d.wait_ota(0.2)), None), 10)
        assert first is not None, "neither device got the one slot"
        second = devs[1] if first is devs[0] else devs[0]
        r = first.download(first.last_url)
        assert r.status == 200 and r.body == image, r
        first.reboot(lc.NEW_VERSION, lc.NEW_BUILD)
        assert lc.wait_delivery(admins["c"], job["id"], first.id, "succeeded",
                                timeout=15)["state"] == "succeeded"
        assert second.wait_ota(10) is not None, \
            "the slot freed on node %s never reached the device on the other" % \
            first.srv.node
        stop_job(admins["a"], job["id"])
    finally:
        for dev in devs:
            dev.close()


def test_a_device_deleted_on_one_node_is_dropped_by_another(cluster, admins):
    dev = Device(cluster["a"], admins["a"])
    dev.srv = cluster["b"]
    try:
        login_until_accepted(dev)
        admins["a"].wait_device(dev.id, lambda j: j["online"])
        assert admins["a"].request("DELETE", "/admin/devices/%d" % dev.id).status == 204
        assert dev.client.closes_within(5), "node b kept the deleted device's connection"
    finally:
        dev.close()


def test_the_event_stream_shows_the_whole_cluster(cluster, admins):
    """A stream opened on node a hears a device log in on node c."""
    dev = Device(cluster["a"], admins["a"])
    dev.srv = cluster["c"]
    conn, resp = lc.events(admins["a"], "/admin/events?device=%d" % dev.id, timeout=10)
    try:
        assert resp.status == 200, resp.status
        time.sleep(0.3)                       # the stream is subscribed
        login_until_accepted(dev)
        ev = lc.read_event(resp)
        assert ev is not None and ev[0] == "device.online", ev
        assert ev[1]["device_id"] == dev.id, ev
    finally:
        conn.close()
        dev.close()


def test_the_scheduler_moves_when_its_admind_is_killed(cluster, admins):
    assert wait_until(lambda: len(schedulers(admins)) == 1, 10)
    [old] = schedulers(admins)
    devs = devices_on_each_node(cluster, admins, per_node=1)
    try:
        lc.kill9(cluster[old], "admind")
        others = [n for n in NODES if n != old]
        took = wait_until(lambda: [n for n in others if health(admins[n])["scheduler"]], 10)
        assert len(took) == 1, "after kill -9 of node %s's admind: %r" % (old, took)
        # a job after the takeover: still one command per device
        for name, dev in devs:
            dev.close()
            login_until_accepted(dev)
        fw = lc.upload_firmware(admins[took[0]], lc.new_image(seed="cluster-takeover"))
        job = lc.create_job(admins[took[0]], fw["id"], devices=[d.id for _, d in devs],
                            max_parallel=100)
        heard = ota_frames([dev for _, dev in devs])
        for name, dev in devs:
            urls = heard[dev.id]
            assert len(urls) == 1, "device %d on node %s: %r" % (dev.id, name, urls)
        stop_job(admins[took[0]], job["id"])
    finally:
        for _, dev in devs:
            dev.close()


def test_a_nodes_hwd_killed_its_devices_finish_on_another(cluster, admins):
    """kill -9 of node a's hwd while its device has the command: the device
    reconnects (through the load balancer) to node b, hears the command again
    from b, downloads the image (uploaded on a) from b's fwstore and finishes."""
    image = lc.new_image(seed="cluster-hwd-kill")
    dev = Device(cluster["a"], admins["a"])
    try:
        login_until_accepted(dev)
        fw = lc.upload_firmware(admins["a"], image)
        job = lc.create_job(admins["a"], fw["id"], devices=[dev.id])
        assert dev.wait_ota(10) is not None, "no ota from node a"
        lc.kill9(cluster["a"], "hwd", wait_back=False)
        assert dev.client.closes_within(5), "node a's hwd was killed, its connection not"
        dev.close()
        dev.srv = cluster["b"]
        login_until_accepted(dev)
        dev.update(image)                     # command, download from b, reboot on b
        d = lc.wait_delivery(admins["c"], job["id"], dev.id, "succeeded", timeout=15)
        assert d["state"] == "succeeded", d
        assert d["attempts"] == 1, d          # sent again, not a new attempt
        assert admins["a"].wait_device(dev.id, lambda j: j["node"] == "b")["node"] == "b"
    finally:
        dev.close()


def test_postgresql_stopped_and_started_loses_nothing(cluster, admins, postgres):
    devs = devices_on_each_node(cluster, admins, per_node=1)
    try:
        fw = lc.upload_firmware(admins["a"], lc.new_image(seed="cluster-pg-restart"))
        job = lc.create_job(admins["a"], fw["id"], devices=[d.id for _, d in devs],
                            max_parallel=100)
        heard = ota_frames([dev for _, dev in devs], quiet=0)
        assert all(heard.values()), "devices without an ota: %r" % heard
        # every node sees each delivery's device online, wherever it is
        for name in NODES:
            for d in lc.deliveries(admins[name], job["id"]):
                assert d["device_online"] is True, (name, d)
        before = lc.job(admins["b"], job["id"])
        postgres.stop()
        try:
            r = admins["b"].request("GET", "/admin/jobs/%d" % job["id"])
            assert r.status == 503, r
            err = r.json()["error"]
            assert err["code"] == "database.unreachable", err
            assert "cannot be reached" in err["message"], err
            # devices stay connected to their nodes
            for _, dev in devs:
                assert dev.client.ping() == 200
        finally:
            postgres.start()
        for name in NODES:                    # each node connects again by itself
            after = wait_until(lambda: (lambda r: r.status == 200 and r.json())(
                admins[name].request("GET", "/admin/jobs/%d" % job["id"])), 15, step=0.5)
            assert after, "node %s's API did not come back after PostgreSQL did" % name
            assert after["counts"] == before["counts"], (name, before, after)
        for name, dev in devs:
            d = lc.delivery_of(admins[name], job["id"], dev.id)
            assert d["state"] == "sent", d
        stop_job(admins["a"], job["id"])
    finally:
        for _, dev in devs:
            dev.close()


def timed(admin, path):
    t = time.monotonic()
    r = admin.request("GET", path)
    return r, time.monotonic() - t


def test_postgresql_frozen_admind_stops_waiting(cluster, admins, postgres):
    """A server that answers nothing (SIGSTOP: the connections stay open, so TCP
    alone would wait on) holds a node's loop 10 s at most: then the API answers
    503 at once, the health page says so, and all resumes when it answers again."""
    devs = devices_on_each_node(cluster, admins, per_node=1)
    try:
        fw = lc.upload_firmware(admins["a"], lc.new_image(seed="cluster-pg-frozen"))
        job = lc.create_job(admins["a"], fw["id"], devices=[d.id for _, d in devs],
                            max_parallel=100)
        before = lc.job(admins["b"], job["id"])
        b = cluster["b"].admin(timeout=40)   # the first answer may take 10 + 5 s
        postgres.freeze()
        try:
            r, took = timed(b, "/admin/jobs/%d" % job["id"])
            assert r.status == 503 and took < 20, (r.status, took)
            assert r.json()["error"]["code"] == "database.unreachable", r.json()
            # the frozen connections are closed, the new attempts never wait
            fast = wait_until(lambda: timed(b, "/admin/devices")[1] < 1.0, 20, step=0.2)
            assert fast, "node b's API still waits on the frozen database"
            r, took = timed(b, "/admin/devices")
            assert r.status == 503 and took < 2, (r.status, took)
            h, took = timed(b, "/admin/health")
            assert h.status == 200 and took < 2, (h.status, took)
            assert h.json()["database_reachable"] is False, h.json()
            for _, dev in devs:
                assert dev.client.ping() == 200
        finally:
            postgres.thaw()
        for name in NODES:
            after = wait_until(lambda: (lambda r: r.status == 200 and r.json())(
                admins[name].request("GET", "/admin/jobs/%d" % job["id"])), 20, step=0.5)
            assert after, "node %s's API did not come back after PostgreSQL did" % name
            assert after["counts"] == before["counts"], (name, before, after)
        stop_job(admins["a"], job["id"])
    finally:
        for _, dev in devs:
            dev.close()
