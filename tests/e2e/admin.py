# SPDX-License-Identifier: MIT
"""Admin API helpers: a JSON-over-HTTPS client (self-signed certificate, Basic auth)
and a runner for curl command lines typed exactly as users type them.
"""

import base64
import http.client
import json
import os
import re
import shlex
import ssl
import subprocess
import time
import uuid


def _ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class HTTPResult:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers          # list of (name, value)
        self.body = body

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError as e:
            raise AssertionError("response is not JSON (%s): %r" % (e, self.body[:500]))

    def __repr__(self):
        return "HTTPResult(%d, %r)" % (self.status, self.body[:500])


class Admin:
    def __init__(self, host, port, user="admin", password="", timeout=10.0):
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.timeout = timeout

    def request(self, method, path, body=None, headers=None, user=None, password=None):
        conn = http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout,
                                           context=_ctx())
        h = dict(headers or {})
        u = self.user if user is None else user
        p = self.password if password is None else password
        if u is not None:
            h["Authorization"] = "Basic " + base64.b64encode(
                ("%s:%s" % (u, p)).encode()).decode()
        try:
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            data = r.read()
            return HTTPResult(r.status, r.getheaders(), data)
        finally:
            conn.close()

    def json_request(self, method, path, obj=None, **kw):
        body = None
        headers = {}
        if obj is not None:
            body = json.dumps(obj).encode()
            headers["Content-Type"] = "application/json"
        return self.request(method, path, body=body, headers=headers, **kw)

    # -- devices ------------------------------------------------------------
    def create_device(self, name=None, token=None):
        """POST /admin/devices; returns the created device object (with token)."""
        obj = {"name": name or "e2e-" + uuid.uuid4().hex[:10]}
        if token is not None:
            obj["token"] = token
        r = self.json_request("POST", "/admin/devices", obj)
        assert r.status == 201, "POST /admin/devices %r -> %r" % (obj, r)
        dev = r.json()
        assert isinstance(dev.get("id"), int), "device without int id: %r" % dev
        assert isinstance(dev.get("token"), str) and dev["token"], \
            "device without token: %r" % dev
        return dev

    def devices(self):
        r = self.request("GET", "/admin/devices")
        assert r.status == 200, "GET /admin/devices -> %r" % r
        obj = r.json()
        assert isinstance(obj.get("devices"), list), "no devices list: %r" % obj
        return obj

    def device(self, dev_id):
        for d in self.devices()["devices"]:
            if d.get("id") == dev_id:
                return d
        return None

    def wait_device(self, dev_id, predicate, timeout=5.0):
        """Poll the device list until predicate(device) holds; returns the last seen."""
        deadline = time.monotonic() + timeout
        d = None
        while True:
            d = self.device(dev_id)
            if d is not None and predicate(d):
                return d
            if time.monotonic() > deadline:
                return d
            time.sleep(0.1)

    # -- OTA ----------------------------------------------------------------
    def ota_start(self, image, token=None, filename="firmware.bin"):
        """The legacy upload from Python (multipart field "file")."""
        boundary = "----e2e" + uuid.uuid4().hex
        body = (("--%s\r\nContent-Disposition: form-data; name=\"file\"; "
                 "filename=\"%s\"\r\nContent-Type: application/octet-stream\r\n\r\n")
                % (boundary, filename)).encode() + image + \
            ("\r\n--%s--\r\n" % boundary).encode()
        path = "/admin/ota/start"
        if token is not None:
            path += "?token=" + token
        return self.request("POST", path, body=body, headers={
            "Content-Type": "multipart/form-data; boundary=" + boundary})

    def ota_stop(self, method="GET"):
        return self.request(method, "/admin/ota/stop")


class CurlResult:
    def __init__(self, cmdline, proc):
        self.cmdline = cmdline
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr.decode("utf-8", "replace")
        # the status of the last response curl -v printed
        st = re.findall(r"^< HTTP/[\d.]+ (\d{3})", self.stderr, re.M)
        self.status = int(st[-1]) if st else None
        # headers of the final response only
        last = self.stderr.rfind("< HTTP/")
        self.resp_headers = []
        if last >= 0:
            for line in self.stderr[last:].splitlines()[1:]:
                if not line.startswith("< "):
                    continue
                name, colon, value = line[2:].partition(":")
                if colon:
                    self.resp_headers.append((name.strip(), value.strip()))

    def header(self, name):
        for k, v in self.resp_headers:
            if k.lower() == name.lower():
                return v
        return None

    def json(self):
        try:
            return json.loads(self.stdout)
        except ValueError as e:
            raise AssertionError("curl output is not JSON (%s): %r\n%s"
                                 % (e, self.stdout[:500], self.describe()))

    def describe(self):
        return "$ %s\nexit %d\n--- stdout\n%s\n--- stderr (-v)\n%s" % (
            self.cmdline, self.returncode,
            self.stdout[:2000].decode("utf-8", "replace"), self.stderr[-4000:])


def run_curl(cmdline, cwd, timeout=30):
    """Run a curl command line (a string, split as a shell would) in cwd."""
    argv = shlex.split(cmdline)
    assert argv[0] == "curl"
    env = dict(os.environ)
    for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
              "all_proxy"):
        env.pop(k, None)
    env["NO_PROXY"] = "*"
    proc = subprocess.run(["curl"] + argv[1:], cwd=cwd, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout, env=env)
    return CurlResult(cmdline, proc)


def seed_curl_line(host, port, password, token=None, user="admin",
                   filename="Template_ESP8266.ino.nodemcu.bin"):
    """The seed's command (PROTOCOL.md section 4) with our credentials and port."""
    url = "https://%s:%d/admin/ota/start" % (host, port)
    if token is not None:
        url += "?token=" + token
    cred = shlex.quote("%s:%s" % (user, password))   # unchanged for plain passwords
    return "curl -v -F file=@%s --insecure -u %s %s" % (filename, cred, url)
