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


def upload_stopped(srv, image):
    """The image uploaded once, through a job for a throw-away device that is
    stopped at once: its firmware id, for the tests' own jobs."""
    admin = srv.admin()
    dev = Device(srv, admin)
    fw = upload(admin, image, token=dev.token)
    admin.json_request("POST", "/admin/jobs/%d/stop" % fw["job"]["id"])
    return fw["firmware"]["id"]


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


def wait_until(predicate, timeout, step=0.1):
    """Polls predicate until it returns something true, or timeout seconds
    passed; its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


def health(admin):
    """GET /admin/health, decoded."""
    return admin.request("GET", "/admin/health").json()


def _daemon_procs(srv, name):
    """{comm: pid} of this server's otad-<name> processes: the daemon itself
    ("otad-hwd") and, with several workers, each worker ("otad-hwd/1", ...)."""
    want = "otad-" + name
    procs = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                argv = f.read().split(b"\0")
            with open("/proc/%s/comm" % pid) as f:
                comm = f.read().strip()
            with open("/proc/%s/stat" % pid) as f:
                zombie = f.read().rsplit(")", 1)[1].split()[0] == "Z"
        except OSError:
            continue
        if argv and os.path.basename(argv[0]).decode(errors="replace") == want \
                and srv.conf.encode() in argv and not zombie:
            procs[comm] = int(pid)
    return procs


def node_procs(srv):
    """{comm: pid} of every daemon and worker this server's `otad run` started."""
    procs = {}
    for name in ("hwd", "admind", "fwstore"):
        procs.update(_daemon_procs(srv, name))
    return procs


def daemon_pid(srv, name):
    """Pid of the running otad-<name> child of this server's `otad run` (with
    several workers: their supervisor)."""
    return _daemon_procs(srv, name).get("otad-" + name)


def worker_pids(srv, name):
    """{worker number: pid} of otad-<name>'s workers."""
    prefix = "otad-%s/" % name
    return {int(comm[len(prefix):]): pid
            for comm, pid in _daemon_procs(srv, name).items() if comm.startswith(prefix)}


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


# -- issue 13: clients that report different things, firmware without a job ----------

# What each kind of Blynk client says after login (PROTOCOL.md 1.4), for a device that
# runs firmware version `version` built at `build`.  Only the Arduino library reports
# the build; Python BlynkLib 1.0 reports the app version when the sketch sets one;
# blynklib 0.2.6 reports neither; blynk-library 0.5.x puts the firmware version in
# "ver" and its own version in "blynk".
def client_info(kind, version, build):
    if kind == "arduino":           # Arduino library 1.x
        return dict(blynk.DEFAULT_INFO, mcu=version, build=build)
    if kind == "blynklib-1.0":      # Python BlynkLib 1.0
        info = {"ver": "1.0.0", "h-beat": "50", "buff-in": "1024", "dev": "linux-py"}
        if version:
            info["fw"] = version
        return info
    if kind == "blynklib-0.2.6":    # Python blynklib 0.2.6: nothing about the firmware
        return {"ver": "0.2.6", "buff-in": "1024", "h-beat": "10", "dev": "python"}
    if kind == "arduino-0.5":       # blynk-library 0.5.x
        return {"ver": version, "blynk": "0.5.4", "h-beat": "10", "buff-in": "256",
                "dev": "NodeMCU", "cpu": "ESP8266", "con": "ESP8266", "build": build}
    raise ValueError("unknown client kind %r" % kind)


CLIENT_LOGIN = {"arduino-0.5": blynk.LOGIN}     # the others send HW_LOGIN (29)


class ClientDevice(Device):
    """A Device whose hardware info is exactly what one kind of client sends
    (client_info); version/build are what it runs now."""

    def __init__(self, srv, admin, kind, name=None, version=OLD_VERSION,
                 build=OLD_BUILD, tags=None):
        self.kind = kind
        Device.__init__(self, srv, admin, name=name, version=version, build=build)
        if tags:
            r = admin.json_request("PATCH", "/admin/devices/%d" % self.id,
                                   {"tags": list(tags)})
            assert r.status == 200, r

    def info_frame(self):
        return client_info(self.kind, self.version, self.build)

    def connect(self):
        c = blynk.BlynkClient(self.srv.host, self.srv.hwd_port, 5.0).connect()
        try:
            st = c.login(self.token, cmd=CLIENT_LOGIN.get(self.kind, blynk.HW_LOGIN))
            if st != blynk.OK:
                raise blynk.ProtocolError("login answered %r, expected 200" % (st,))
            st = c.send_info(self.info_frame())
            if st != blynk.OK:
                raise blynk.ProtocolError("hardware info answered %r, expected 200"
                                          % (st,))
        except BaseException:
            c.close()
            raise
        self.client = c
        return self


def tagged_image(pairs, size=64 * 1024, seed=None):
    """An ESP8266 image whose Blynk info tag holds exactly pairs (a list of (key,
    value)), e.g. a blynk-library 0.5.x image with "ver" and "blynk" but no "mcu"."""
    tag = bytearray(images.BLYNK_TAG)
    for k, v in pairs:
        tag += k.encode() + b"\0" + v.encode() + b"\0"
    tag += b"\0"
    base = images.esp8266_image(size=size, tag=False,
                                seed=seed if seed is not None else repr(pairs))
    mid = len(base) // 2
    img = base[:mid] + bytes(tag) + base[mid + len(tag):]
    assert len(img) == size
    return img


def upload_firmware(admin, image, filename="fw.bin", force=False):
    """POST /admin/firmware (no job); returns the firmware object."""
    boundary = "----e2e" + uuid.uuid4().hex
    body = (("--%s\r\nContent-Disposition: form-data; name=\"file\"; "
             "filename=\"%s\"\r\nContent-Type: application/octet-stream\r\n\r\n")
            % (boundary, filename)).encode() + image + \
        ("\r\n--%s--\r\n" % boundary).encode()
    r = admin.request("POST", "/admin/firmware" + ("?force=true" if force else ""),
                      body=body,
                      headers={"Content-Type": "multipart/form-data; boundary=" + boundary})
    assert r.status in (200, 201), "POST /admin/firmware -> %r" % r
    return r.json()


def jobs(admin, state=None):
    """Every job (GET /admin/jobs, paged through)."""
    out, offset = [], 0
    while True:
        q = "?limit=500&offset=%d" % offset + ("&state=" + state if state else "")
        r = admin.request("GET", "/admin/jobs" + q)
        assert r.status == 200, r
        page = r.json()["jobs"]
        out += page
        offset += len(page)
        if not page or offset >= r.json()["total"]:
            return out


ENDED = ("succeeded", "failed", "already-current", "incompatible", "canceled",
         "declined")


def head_status(url, timeout=10.0):
    """HEAD of a download URL as ESP8266httpUpdate would send it (no transition in
    admind: a HEAD is quiet); the status, or None when nothing answered."""
    try:
        r = esphttp.esp8266_get(url, timeout=timeout, request=esphttp.esp8266_request_with(
            url, drop=("x-ESP8266-sketch-md5",), method="HEAD"))
    except (OSError, ValueError):
        return None
    return r.status


def poll_url(srv, token):
    """The plain ESP8266httpUpdate poll of a device that never connects to hwd."""
    return "http://%s:%d/update?auth=%s" % (srv.host, srv.fw_port, token)
