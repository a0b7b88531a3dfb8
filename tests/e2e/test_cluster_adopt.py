# SPDX-License-Identifier: MIT
"""Issue 18, "a node dies": three otad nodes sharing one PostgreSQL; the whole of
node X (its `otad run`, hwd, admind and fwstore) is killed with -9 while its devices
hold an `ota` command they have not acted on.  Its devices reconnect, as a load
balancer would send them, to the surviving nodes; once X has been silent for
CLUSTER_SILENT_S the node running the shared chores forgets X's sessions and adopts
its deliveries in flight, so sent_timeout applies to them: each is retried with its
attempt counted, the device hears exactly one new command from the node it is
connected to, downloads from that node's fwstore, and the delivery succeeds.  The
devices that stayed on the surviving nodes are sent nothing twice, not even one still
downloading (slowly, its progress reported to its own node) when X's deliveries are
adopted.
"""
import os
import signal
import time
from urllib.parse import urlsplit

import pytest

import esphttp
import lifecycle as lc
from conftest import nodes_sharing
from lifecycle import Device, health, login_until_accepted, wait_until

NODES = ("a", "b", "c")
SENT_TIMEOUT = 4            # [admind] sent_timeout, seconds
SILENT = 15                 # admind/cluster.c CLUSTER_SILENT_S
TICK = 2                    # admind/cluster.c CLUSTER_TICK_MS, seconds
# from the kill to the retry: X found silent at the chores node's next heartbeat
# after SILENT, then sent_timeout and one sweep; the rest is room for a loaded machine
ADOPTED_WITHIN = SILENT + 2 * TICK + SENT_TIMEOUT + 15


@pytest.fixture(scope="module")
def cluster(postgres):
    with nodes_sharing(postgres, NODES, "otad-adopt-",
                       {"admind": {"sent_timeout": str(SENT_TIMEOUT)}}) as nodes:
        yield nodes


class Ears:
    """Every ota command each device hears, as (node, URL), while the test waits;
    the devices answer the server's pings meanwhile."""

    def __init__(self):
        self.heard = {}
        self.node = {}          # device id: the node it is connected to now
        self.tick = None

    def connected(self, dev, node):
        self.node[dev.id] = node
        self.heard.setdefault(dev.id, [])

    def listen(self, devs, until, timeout, act=None):
        """Records what devs hear until until() holds; its last value.  act(dev,
        url) is called for each command with a ticket the device has not heard;
        self.tick(), when set, once a round."""
        deadline = time.monotonic() + timeout
        while True:
            if self.tick is not None:
                self.tick()
            for dev in devs:
                if dev.client is not None:
                    url = dev.client.wait_for_ota(0.02)
                    if url is None:
                        continue
                    known = {ticket(u) for _, u in self.heard[dev.id]}
                    self.heard[dev.id].append((self.node[dev.id], url))
                    if act is not None and ticket(url) not in known:
                        act(dev, url)
            value = until()
            if value or time.monotonic() > deadline:
                return value

    def since(self, dev, n):
        """What dev heard after its first n commands."""
        return self.heard[dev.id][n:]


class SlowDownload:
    """A device downloading its image slowly, CHUNK bytes every EVERY seconds
    (ranged GETs): each one is progress its node's admind hears."""
    CHUNK, EVERY = 500, 0.5         # 64 KiB last a minute

    def __init__(self, url, image):
        self.url, self.image, self.got, self.last = url, image, 0, 0.0

    def get(self, first, last):
        req = esphttp.esp8266_request_with(
            self.url, set_=[("Range", "bytes=%d-%d" % (first, last))])
        r = esphttp.esp8266_get(self.url, request=req)
        assert r.status == 206 and r.body == self.image[first:last + 1], \
            "bytes %d-%d of %s: %r" % (first, last, self.url, r)
        self.got = last + 1

    def step(self):
        if time.monotonic() - self.last >= self.EVERY and \
                self.got + self.CHUNK < len(self.image):
            self.get(self.got, self.got + self.CHUNK - 1)
            self.last = time.monotonic()

    def finish(self):
        self.get(self.got, len(self.image) - 1)


def ticket(url):
    return urlsplit(url).path + "?" + urlsplit(url).query


def port(url):
    return urlsplit(url).port


def kill_node(srv):
    """kill -9 of the whole node at once: `otad run` (so nothing restarts) and
    every daemon and worker it started (they share its process group)."""
    assert {"otad-hwd", "otad-admind", "otad-fwstore"} <= set(lc.node_procs(srv)), \
        lc.node_procs(srv)
    os.killpg(srv.proc.pid, signal.SIGKILL)
    srv.proc.wait(5)
    assert wait_until(lambda: not lc.node_procs(srv), 5), \
        "node %s: still running after kill -9: %r" % (srv.node, lc.node_procs(srv))


def job_heard(cluster, api, ears, devs, seed):
    """A new image and a job for devs: (image, job, {device id: the URL of the
    one command each hears, from its node, for its node's fwstore})."""
    image = lc.new_image(seed=seed)
    fw = lc.upload_firmware(api, image)
    job = lc.create_job(api, fw["id"], devices=[d.id for d in devs], max_parallel=100)
    assert ears.listen(devs, lambda: all(ears.heard[d.id] for d in devs), 15), \
        "no ota command within 15 s: %r" % ears.heard
    for dev in devs:
        heard = ears.heard[dev.id]
        assert len(heard) == 1, "device %d: %r" % (dev.id, heard)
        node, url = heard[0]
        assert node == ears.node[dev.id] and port(url) == cluster[node].fw_port, heard
    return image, job, {dev.id: ears.heard[dev.id][0][1] for dev in devs}


def test_a_dead_nodes_devices_finish_on_the_others_with_attempts_counted(cluster):
    admins = {n: srv.admin() for n, srv in cluster.items()}
    leads = wait_until(lambda: [n for n in NODES if health(admins[n])["scheduler"]], 15)
    assert len(leads) == 1, "nodes running the shared chores: %r" % leads
    [lead] = leads
    # X is not the chores node: its deliveries are adopted when it falls silent
    dead, other = [n for n in NODES if n != lead]
    api = admins[lead]
    ears = Ears()

    def on(node, name):
        dev = Device(cluster[node], api, name=name)
        login_until_accepted(dev)
        ears.connected(dev, node)
        return dev

    # on X: two that reconnect at once (to the chores node, to the other node),
    # one that comes back only after its delivery was retried
    to_lead, to_other, late = (on(dead, "x-to-" + lead), on(dead, "x-to-" + other),
                               on(dead, "x-late"))
    # on the surviving nodes: one updates at once, one downloads slowly all along
    stay, slow = on(lead, "stay-" + lead), on(other, "slow-" + other)
    devs = [to_lead, to_other, late, stay, slow]
    try:
        for dev in devs:
            d = api.wait_device(dev.id, lambda j: j["online"] and
                                j["node"] == ears.node[dev.id], timeout=10)
            assert d["node"] == ears.node[dev.id], d
        image, job, first = job_heard(cluster, api, ears, devs, "cluster-adopt")
        # the surviving nodes' devices: one updates now, as usual ...
        r = stay.download(first[stay.id])
        assert r.status == 200 and r.body == image, r
        stay.reboot(lc.NEW_VERSION, lc.NEW_BUILD)
        d = lc.wait_delivery(api, job["id"], stay.id, "succeeded", timeout=15)
        assert d["state"] == "succeeded" and d["attempts"] == 1, d
        # ... one is still downloading when X's deliveries are adopted: its
        # progress keeps it from sent_timeout, on every node
        slowly = SlowDownload(first[slow.id], image)

        def downloading():
            assert len(ears.heard[slow.id]) == 1, \
                "device %d, downloading from node %s, was sent the command again: " \
                "%r; its delivery: %r" % (slow.id, other, ears.heard[slow.id],
                                          lc.delivery_of(api, job["id"], slow.id))
            slowly.step()
        ears.tick = downloading
        slowly.step()
        assert lc.wait_delivery(api, job["id"], slow.id, "downloading", timeout=5)[
            "state"] == "downloading"
        for dev in (to_lead, to_other, late):
            d = lc.delivery_of(api, job["id"], dev.id)
            assert d["state"] == "sent" and d["attempts"] == 1, d

        kill_node(cluster[dead])
        killed = time.monotonic()
        for dev in (to_lead, to_other, late):
            assert dev.client.closes_within(5), \
                "node %s was killed, device %d's connection not" % (dead, dev.id)
            dev.close()
        # through the load balancer to the surviving nodes, at once
        for dev, node in ((to_lead, lead), (to_other, other)):
            dev.srv = cluster[node]
            login_until_accepted(dev)
            ears.connected(dev, node)
        back = [to_lead, to_other]

        # X falls silent: the chores node forgets its sessions ...
        def x_forgotten():
            d = admins[other].device(late.id)
            return not d["online"] and d["node"] is None and d
        assert ears.listen(devs, x_forgotten, SILENT + 4 * TICK + 15), \
            "node %s's session of device %d not forgotten: %r" % (
                dead, late.id, admins[other].device(late.id))
        for dev, node, ask in ((to_lead, lead, other), (to_other, other, lead)):
            d = admins[ask].device(dev.id)
            assert d["online"] and d["node"] == node, (node, d)

        # ... and its deliveries in flight run into sent_timeout: the attempt
        # counts, and the devices connected now hear the next one and update
        def new_commands(dev):
            return [(n, u) for n, u in ears.since(dev, 1)
                    if ticket(u) != ticket(first[dev.id])]

        def update(dev, url):
            if dev not in back:
                return
            r = dev.download(url)
            assert r.status == 200 and r.body == image, (url, r)
            dev.reboot(lc.NEW_VERSION, lc.NEW_BUILD)

        def finished(dev):
            return lc.delivery_of(api, job["id"], dev.id)["state"] in lc.ENDED

        def late_requeued():
            d = lc.delivery_of(api, job["id"], late.id)
            return d["state"] == "queued" and d
        left = ADOPTED_WITHIN - (time.monotonic() - killed)
        ears.listen(devs, lambda: all(finished(d) for d in back) and late_requeued(),
                    left, update)
        ds = {dev.id: lc.delivery_of(api, job["id"], dev.id) for dev in back + [late]}
        for dev in back:
            assert ds[dev.id]["state"] == "succeeded" and ds[dev.id]["attempts"] == 2, \
                "%.0f s after node %s's kill, device %d's delivery: %r (heard %r)" % (
                    time.monotonic() - killed, dead, dev.id, ds[dev.id],
                    ears.heard[dev.id])
        d = ds[late.id]
        assert d["state"] == "queued" and d["attempts"] == 1 and d["last_error"] == (
            "no download within %d s of the command; attempt 1 of 3" % SENT_TIMEOUT), d

        # the late device comes back, to the other node: the next attempt
        late.srv = cluster[other]
        login_until_accepted(late)
        ears.connected(late, other)
        back.append(late)
        assert ears.listen(devs, lambda: finished(late), 15, update), \
            "device %d: %r (heard %r)" % (late.id, lc.delivery_of(api, job["id"], late.id),
                                          ears.heard[late.id])
        d = lc.delivery_of(admins[other], job["id"], late.id)
        assert d["state"] == "succeeded" and d["attempts"] == 2, d
        assert len(ears.since(late, 1)) == 1, ears.heard[late.id]

        # a quiet while: nothing more for anyone
        ears.listen(devs, lambda: False, 2)
        for dev in back:
            heard = ears.since(dev, 1)
            new = new_commands(dev)
            assert len(new) == 1, "device %d heard after node %s died: %r" % (
                dev.id, dead, heard)
            # the same command again at its login is allowed, a new one only once
            assert all(ticket(u) == ticket(first[dev.id]) for n, u in heard
                       if (n, u) not in new), heard
            # each from the node it is connected to, for that node's fwstore
            for node, url in heard:
                assert node == ears.node[dev.id] and \
                    port(url) == cluster[node].fw_port, (dev.id, heard)
        ears.tick = None
        slowly.finish()
        slow.reboot(lc.NEW_VERSION, lc.NEW_BUILD)
        for dev in (stay, slow):
            assert len(ears.heard[dev.id]) == 1, \
                "device %d stayed on node %s: %r" % (dev.id, ears.node[dev.id],
                                                     ears.heard[dev.id])
            d = lc.wait_delivery(admins[other], job["id"], dev.id, "succeeded")
            assert d["state"] == "succeeded" and d["attempts"] == 1, d
        j = lc.job(admins[lead], job["id"])
        assert j["state"] == "finished" and j["counts"] == {"succeeded": len(devs)}, j
    finally:
        for dev in devs:
            dev.close()


def test_the_chores_node_dies_and_the_next_one_adopts_at_once(cluster):
    """The whole node running the shared chores is killed: another node takes
    them over within seconds and adopts the deliveries in flight then, without
    waiting for the dead node to fall silent.  Its device, reconnected to a
    surviving node (the one that took over, or with three nodes maybe not), that
    missed the command again is sent the next attempt after sent_timeout, the
    attempt counted, and updates; that node's own device hears one command."""
    alive = [n for n in NODES if cluster[n].proc.poll() is None]
    admins = {n: cluster[n].admin() for n in alive}
    leads = wait_until(lambda: [n for n in alive if health(admins[n])["scheduler"]], 15)
    assert len(leads) == 1 and len(alive) >= 2, (alive, leads)
    [dead] = leads
    heir = [n for n in alive if n != dead][0]
    api = admins[heir]
    ears = Ears()
    moving, stay = Device(cluster[dead], api), Device(cluster[heir], api)
    devs = [moving, stay]
    try:
        for dev, node in ((moving, dead), (stay, heir)):
            login_until_accepted(dev)
            ears.connected(dev, node)
            d = api.wait_device(dev.id, lambda j: j["online"] and j["node"] == node)
            assert d["node"] == node, d
        image, job, firsts = job_heard(cluster, api, ears, devs, "cluster-adopt-chores")
        first = firsts[moving.id]
        r = stay.download(firsts[stay.id])
        assert r.status == 200 and r.body == image, r
        stay.reboot(lc.NEW_VERSION, lc.NEW_BUILD)

        kill_node(cluster[dead])
        killed = time.monotonic()
        assert moving.client.closes_within(5), "node %s was killed, the connection not" % dead
        moving.close()
        moving.srv = cluster[heir]
        login_until_accepted(moving)
        ears.connected(moving, heir)
        took = wait_until(lambda: [n for n in alive if n != dead and
                                   health(admins[n])["scheduler"]], 4 * TICK + 5)
        assert len(took) == 1, "after the kill of node %s, the chores run on %r" % (
            dead, took)

        def update(dev, url):
            r = dev.download(url)
            assert r.status == 200 and r.body == image, (url, r)
            dev.reboot(lc.NEW_VERSION, lc.NEW_BUILD)

        def finished():
            return lc.delivery_of(api, job["id"], moving.id)["state"] in lc.ENDED
        # before X could have been found silent and its deliveries adopted then
        assert ears.listen(devs, finished, SILENT + SENT_TIMEOUT - (
            time.monotonic() - killed), update), \
            "%.0f s after the kill of node %s: %r (heard %r)" % (
                time.monotonic() - killed, dead,
                lc.delivery_of(api, job["id"], moving.id), ears.heard[moving.id])
        d = lc.delivery_of(api, job["id"], moving.id)
        assert d["state"] == "succeeded" and d["attempts"] == 2, d
        ears.listen(devs, lambda: False, 1)
        heard = ears.since(moving, 1)
        assert [ticket(u) != ticket(first) for _, u in heard].count(True) == 1, heard
        assert all(n == heir and port(u) == cluster[heir].fw_port for n, u in heard), heard
        assert len(ears.heard[stay.id]) == 1, ears.heard[stay.id]
        d = lc.wait_delivery(api, job["id"], stay.id, "succeeded")
        assert d["state"] == "succeeded" and d["attempts"] == 1, d
    finally:
        for dev in devs:
            dev.close()
