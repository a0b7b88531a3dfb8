"""Webhooks ([admind] webhook_url): every selected event of the event stream is POSTed
as signed JSON to a receiver, retried until it answers 2xx, in order per URL, queued in
the database so that kill -9 of admind loses none, bounded by webhook_queue_max, and a
slow receiver costs the admin API nothing. The receiver is a Python http.server on
127.0.0.1 started by the test.
"""
import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import lifecycle as lc
from conftest import free_ports, start_server
from lifecycle import Device, login_until_accepted

SECRET = "e2e-webhook-secret-" + uuid.uuid4().hex
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


class Receiver:
    """A webhook receiver on 127.0.0.1:port that records every POST. statuses: the
    answers to give, in turn (then 200); delay: seconds to wait before answering."""

    def __init__(self, port):
        self.port = port
        self.url = "http://127.0.0.1:%d/hook" % port
        self.posts = []             # (headers dict, body bytes, status answered)
        self.statuses = []
        self.delay = 0.0
        self.started = 0            # POSTs whose body was read
        self.lock = threading.Lock()
        self.server = None

    def start(self):
        rec = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with rec.lock:
                    rec.started += 1
                if rec.delay:
                    time.sleep(rec.delay)
                with rec.lock:
                    status = rec.statuses.pop(0) if rec.statuses else 200
                    rec.posts.append(({k.lower(): v for k, v in self.headers.items()},
                                      body, status, self.path))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def delivered(self):
        """The events answered 2xx, parsed, in the order they arrived."""
        with self.lock:
            return [json.loads(b) for h, b, s, p in self.posts if 200 <= s < 300]

    def wait(self, predicate, timeout=15.0, what="the events"):
        deadline = time.monotonic() + timeout
        while True:
            got = self.delivered()
            if predicate(got):
                return got
            assert time.monotonic() < deadline, "%s did not arrive: %r" % (
                what, [(e["kind"], e["data"].get("kind"), e["data"].get("text"))
                       for e in got])
            time.sleep(0.05)


def audit_texts(events, kind):
    """The texts of the audit events of that audit kind, in arrival order."""
    return [e["data"]["text"] for e in events
            if e["kind"] == "audit" and e["data"]["kind"] == kind]


def metrics(admin):
    r = admin.request("GET", "/metrics", user=None)
    assert r.status == 200, r
    out = {}
    for line in r.body.decode().splitlines():
        if line.startswith("otad_webhook_"):
            name, value = line.split()
            out[name] = int(value)
    return out


def wait_metric(admin, name, predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        m = metrics(admin)
        if predicate(m[name]):
            return m
        assert time.monotonic() < deadline, "%s stayed at %d" % (name, m[name])
        time.sleep(0.05)


def signature_ok(headers, body):
    want = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers.get("x-otad-signature", ""), want)


@pytest.fixture(scope="module")
def receiver():
    rec = Receiver(free_ports(1)[0])
    yield rec
    rec.stop()


@pytest.fixture(scope="module")
def otad(receiver):
    srv = start_server(config={"admind": {"webhook_url": receiver.url,
                                          "webhook_secret": SECRET}})
    yield srv
    srv.finish()


@pytest.fixture
def admin(otad):
    return otad.admin()


@pytest.fixture
def up(receiver):
    """The receiver, listening, answering 200 at once."""
    receiver.statuses, receiver.delay = [], 0.0
    if receiver.server is None:
        receiver.start()
    return receiver


def test_events_arrive_signed(otad, admin, up):
    name = "wh-" + uuid.uuid4().hex[:8]
    dev = admin.create_device(name=name)
    got = up.wait(lambda ev: name in audit_texts(ev, "device.created"))
    e = [e for e in got if e["kind"] == "audit" and e["data"]["text"] == name][0]
    assert set(e) == {"kind", "device_id", "job_id", "data", "id", "time"}, e
    assert e["device_id"] == dev["id"] and e["job_id"] == 0, e
    assert isinstance(e["id"], int) and e["id"] > 0, e
    assert RFC3339.match(e["time"]), e
    assert e["data"]["kind"] == "device.created" and e["data"]["actor"] == "admin", e
    with up.lock:
        posts = [(h, b, p) for h, b, s, p in up.posts if json.loads(b)["id"] == e["id"]]
    headers, body, path = posts[-1]
    assert path == "/hook"
    assert headers["content-type"] == "application/json"
    assert headers["x-otad-event"] == "audit"
    assert signature_ok(headers, body), (headers, body)
    assert not signature_ok({"x-otad-signature": headers["x-otad-signature"]},
                            body + b" ")

    # a device's life: online, then a delivery's transitions
    d = login_until_accepted(Device(otad, admin))
    fw = lc.upload(admin, lc.new_image(seed="webhooks"), token=d.token)
    d.wait_ota()
    got = up.wait(lambda ev: any(e["kind"] == "delivery" and e["device_id"] == d.id
                                 and e["data"]["state"] == "sent" for e in ev))
    online = [e for e in got if e["kind"] == "device.online" and e["device_id"] == d.id]
    assert online and online[0]["data"]["device_id"] == d.id, got
    sent = [e for e in got if e["kind"] == "delivery" and e["device_id"] == d.id][-1]
    assert sent["job_id"] == fw["job"]["id"], sent
    assert sent["data"]["from"] == "queued" and sent["data"]["attempts"] == 1, sent
    ids = [e["id"] for e in got]
    assert ids == sorted(ids), "not in order: %r" % ids
    d.close()


def test_receiver_down_then_up(otad, admin, receiver):
    receiver.stop()                                 # connection refused
    before = metrics(admin)
    names = ["down-%d-%s" % (i, uuid.uuid4().hex[:6]) for i in range(3)]
    for n in names:
        admin.create_device(name=n)
    wait_metric(admin, "otad_webhook_failed_attempts_total",
                lambda v: v >= before["otad_webhook_failed_attempts_total"] + 1)
    receiver.statuses = [500]                       # then a 500, then 200
    receiver.start()
    got = receiver.wait(lambda ev: set(names) <= set(audit_texts(ev, "device.created")),
                        timeout=20)
    assert [t for t in audit_texts(got, "device.created") if t in names] == names
    with receiver.lock:
        refused = [json.loads(b) for h, b, s, p in receiver.posts if s == 500]
    assert len(refused) == 1, refused
    again = [e for e in got if e["id"] == refused[0]["id"]]
    assert again == refused, "the event answered 500 came back changed: %r" % again
    after = wait_metric(admin, "otad_webhook_queued", lambda v: v == 0)
    assert after["otad_webhook_failed_attempts_total"] >= \
        before["otad_webhook_failed_attempts_total"] + 2, after
    assert after["otad_webhook_delivered_total"] >= \
        before["otad_webhook_delivered_total"] + 3, after


def test_kill9_loses_nothing(otad, admin, receiver):
    """Queued events survive kill -9 of admind; the devices hwd still holds, replayed
    to the new admind, are no new device.online: they never went away."""
    receiver.stop()
    d = login_until_accepted(Device(otad, admin))  # device.online, queued
    names = ["kill-%d-%s" % (i, uuid.uuid4().hex[:6]) for i in range(4)]
    for n in names:
        admin.create_device(name=n)
    wait_metric(admin, "otad_webhook_queued", lambda v: v >= len(names) + 1)
    lc.kill9(otad, "admind")
    receiver.statuses, receiver.delay = [], 0.0
    receiver.start()
    got = receiver.wait(lambda ev: set(names) <= set(audit_texts(ev, "device.created")),
                        timeout=30)
    assert [t for t in audit_texts(got, "device.created") if t in names] == names
    admin = otad.admin()
    admin.wait_device(d.id, lambda dev: dev["online"])  # hwd's replay is in
    marker = "after-" + uuid.uuid4().hex[:6]       # queued after any replay
    admin.create_device(name=marker)
    got = receiver.wait(lambda ev: marker in audit_texts(ev, "device.created"))
    online = [e for e in got if e["kind"] == "device.online" and e["device_id"] == d.id]
    assert len(online) == 1, online
    d.close()


def test_slow_receiver_does_not_delay_the_api(otad, admin, up):
    up.delay = 5.0
    started = up.started
    name = "slow-" + uuid.uuid4().hex[:6]
    admin.create_device(name=name)
    deadline = time.monotonic() + 5
    while up.started == started:                    # the POST is in flight
        assert time.monotonic() < deadline, "no POST reached the receiver"
        time.sleep(0.02)
    for _ in range(3):
        t0 = time.monotonic()
        r = admin.request("GET", "/admin/devices")
        took = time.monotonic() - t0
        assert r.status == 200 and took < 1.0, "GET /admin/devices took %.2f s" % took
    assert name not in audit_texts(up.delivered(), "device.created")
    up.wait(lambda ev: name in audit_texts(ev, "device.created"), timeout=30)
    up.delay = 0.0


# --- a second otad: only some kinds, a small queue ---------------------------------

@pytest.fixture(scope="module")
def receiver2():
    rec = Receiver(free_ports(1)[0])
    yield rec
    rec.stop()


@pytest.fixture(scope="module")
def otad2(receiver2):
    srv = start_server(name="otad-webhooks-small", config={"admind": {
        "webhook_url": receiver2.url, "webhook_secret": SECRET,
        "webhook_events": "delivery token", "webhook_queue_max": "3"}})
    yield srv
    srv.finish()


def create_token(admin, name):
    r = admin.json_request("POST", "/admin/tokens", {"name": name})
    assert r.status == 201, r


def test_events_filter_kinds(otad2, receiver2):
    receiver2.start()
    admin = otad2.admin()
    admin.create_device(name="not-sent")            # audit device.created
    d = login_until_accepted(Device(otad2, admin))  # device.online
    name = "tok-" + uuid.uuid4().hex[:6]
    create_token(admin, name)                       # audit token.created
    got = receiver2.wait(lambda ev: name in audit_texts(ev, "token.created"))
    kinds = {(e["kind"], e["data"].get("kind")) for e in got}
    assert kinds == {("audit", "token.created")}, kinds
    d.close()


def test_queue_bound_drops_the_oldest(otad2, receiver2):
    admin = otad2.admin()
    receiver2.stop()
    before = metrics(admin)
    names = ["bound-%d-%s" % (i, uuid.uuid4().hex[:6]) for i in range(5)]
    for n in names:
        create_token(admin, n)
    m = wait_metric(admin, "otad_webhook_dropped_total",
                    lambda v: v == before["otad_webhook_dropped_total"] + 2)
    assert m["otad_webhook_queued"] == 3, m
    with open(otad2.log_path, "rb") as f:
        log = f.read().decode("utf-8", "replace")
    assert "webhook_queue_max): dropped the oldest" in log, log[-2000:]
    assert SECRET not in log
    receiver2.start()
    got = receiver2.wait(lambda ev: names[-1] in audit_texts(ev, "token.created"))
    texts = [t for t in audit_texts(got, "token.created") if t in names]
    assert texts == names[2:], texts
    wait_metric(admin, "otad_webhook_queued", lambda v: v == 0)


def test_https_receiver_is_verified(otad):
    """An https:// URL is checked against the system's CA store: the admin API's
    self-signed certificate is refused, so nothing is delivered to it."""
    srv = start_server(name="otad-webhooks-tls", config={"admind": {
        "webhook_url": "https://127.0.0.1:%d/admin/health" % otad.admin_port,
        "webhook_secret": SECRET}})
    try:
        admin = srv.admin()
        admin.create_device(name="tls-" + uuid.uuid4().hex[:6])
        m = wait_metric(admin, "otad_webhook_failed_attempts_total", lambda v: v >= 1)
        assert m["otad_webhook_delivered_total"] == 0, m
        with open(srv.log_path, "rb") as f:
            log = f.read().decode("utf-8", "replace")
        assert re.search(r"webhook https://127\.0\.0\.1:\d+: event \d+ not delivered "
                         r"\(attempt 1\): SSL certificate problem", log), log[-3000:]
    finally:
        srv.finish()
