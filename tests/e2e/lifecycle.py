"""Helpers for the OTA lifecycle tests: a device that really updates (takes the
ota command, downloads the image as ESP8266httpUpdate does, "reboots" by logging in
again with the build it now runs), jobs through the JSON API, and the daemons'
process ids so a test can kill one of them.
"""
import json
import os
import time
import uuid

import blynk
import esphttp
import images

OLD_VERSION = "0.1.0"
OLD_BUILD = "Nov 23 2026 10:00:00"      # what blynk.DEFAULT_INFO reports
NEW_VERSION = "0.2.0"
NEW_BUILD = "Dec 01 2026 12:00:00"


def new_image(version=NEW_VERSION, build=NEW_BUILD, **kw):
    kw.setdefault("size", 64 * 1024)
    return images.esp8266_image(version=version, build=build, **kw)


class Device:
    """One simulated device with its token; reconnects as a rebooted board would."""

    def __init__(self, srv, admin, name=None, version=OLD_VERSION, build=OLD_BUILD,
                 **info):
        self.srv = srv
        d = admin.create_device(name or "dev-" + uuid.uuid4().hex[:8])
        self.id, self.token = d["id"], d["token"]
        self.version, self.build, self.info = version, build, info
        self.client = None
        self.last_url = None

    def connect(self):
        self.client = blynk.device(self.srv.host, self.srv.hwd_port, self.token,
                                   mcu=self.version, build=self.build, **self.info)
        return self

    def close(self):
        if self.client is not None:
            self.client.close()
            self.client = None

    def wait_ota(self, timeout=10.0):
        """The URL of the next ota command (kept in last_url), or None."""
        url = self.client.wait_for_ota(timeout)
        if url is not None:
            self.last_url = url
        return url

    def download(self, url, **kw):
        return esphttp.esp8266_get(url, **kw)

    def reboot(self, version=None, build=None):
        """Disconnect and log in again, now running version/build."""
        self.close()
        if version is not None:
            self.version, self.build = version, build
        return self.connect()

    def update(self, image, timeout=10.0, flash_ok=True):
        """The whole OTA as the sketch does it: command, download, reboot."""
        url = self.wait_ota(timeout)
        assert url is not None, "device %d got no ota command" % self.id
        r = self.download(url)
        assert r.status == 200 and r.body == image, "download of %s: %r" % (url, r)
        self.reboot(NEW_VERSION if flash_ok else self.version,
                    NEW_BUILD if flash_ok else self.build)
        return url


def create_job(admin, firmware_id, **body):
    body["firmware_id"] = firmware_id
    r = admin.json_request("POST", "/admin/jobs", body)
    assert r.status == 201, "POST /admin/jobs %r -> %r" % (body, r)
    return r.json()


def upload(admin, image, token=None):
    r = admin.ota_start(image, token=token)
    assert r.status == 201, r
    return r.json()


def job(admin, job_id):
    r = admin.request("GET", "/admin/jobs/%d" % job_id)
    assert r.status == 200, r
    return r.json()


def deliveries(admin, job_id, **filters):
    q = "&".join("%s=%s" % kv for kv in filters.items())
    r = admin.request("GET", "/admin/jobs/%d/deliveries%s" % (job_id, "?" + q if q else ""))
    assert r.status == 200, r
    return r.json()["deliveries"]


def delivery_of(admin, job_id, device_id):
    ds = deliveries(admin, job_id, device=device_id)
    assert len(ds) == 1, ds
    return ds[0]


def wait_delivery(admin, job_id, device_id, states, timeout=10.0):
    """Poll until the device's delivery is in one of states; returns it."""
    if isinstance(states, str):
        states = (states,)
    deadline = time.monotonic() + timeout
    while True:
        d = delivery_of(admin, job_id, device_id)
        if d["state"] in states or time.monotonic() > deadline:
            return d
        time.sleep(0.05)


def wait_job(admin, job_id, predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        j = job(admin, job_id)
        if predicate(j) or time.monotonic() > deadline:
            return j
        time.sleep(0.05)


def daemon_pid(srv, name):
    """Pid of the running otad-<name> child of this server's `otad run`."""
    want = "otad-" + name
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and os.path.basename(argv[0]).decode(errors="replace") == want \
                and srv.conf.encode() in argv:
            return int(pid)
    return None


def kill9(srv, name, wait_back=True, timeout=10.0):
    """kill -9 one daemon; `otad run` restarts it after its backoff."""
    pid = daemon_pid(srv, name)
    assert pid is not None, "no running otad-%s" % name
    os.kill(pid, 9)
    if not wait_back:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        new = daemon_pid(srv, name)
        if new is not None and new != pid:
            return new
        time.sleep(0.05)
    raise AssertionError("otad-%s did not come back after kill -9" % name)


def events(admin, path="/admin/events", count=1, timeout=5.0, until=None):
    """Reads server-sent events until count arrived (or until(event) holds)."""
    import http.client
    import base64
    import ssl
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection(admin.host, admin.port, timeout=timeout,
                                       context=ctx)
    auth = base64.b64encode(("%s:%s" % (admin.user, admin.password)).encode()).decode()
    conn.request("GET", path, headers={"Authorization": "Basic " + auth})
    return conn, conn.getresponse()


def read_event(resp):
    """Next event from an SSE response: (kind, data dict)."""
    kind, data = None, None
    while True:
        line = resp.fp.readline().decode()
        if line == "":
            return None
        line = line.rstrip("\n")
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            data = json.loads(line[6:])
        elif line == "" and kind is not None:
            return kind, data


def download_status(url):
    return esphttp.esp8266_get(url).status


def login_until_accepted(dev, timeout=15.0):
    """A device retries its login (19 while admind or hwd restarts)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return dev.connect()
        except (OSError, blynk.ProtocolError):
            dev.close()
        assert time.monotonic() < deadline, "device %d could not log in" % dev.id
        time.sleep(0.2)


def download_until_served(dev, url, image, timeout=15.0):
    """A device retries its download while a daemon restarts."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            r = dev.download(url, timeout=5.0)
            if r.status == 200:
                assert r.body == image
                return r
        except (OSError, ValueError):
            pass
        assert time.monotonic() < deadline, "download of %s never succeeded" % url
        time.sleep(0.2)


def read_body(sock, data=b""):
    """Reads a raw HTTP response to the server's close; returns its body."""
    while True:
        c = sock.recv(1 << 16)
        if not c:
            break
        data += c
    sock.close()
    return data.partition(b"\r\n\r\n")[2]
