#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The otad benchmark: otad against mosquitto and nginx, side by side, in one run.

Starts otad (`otad init` in a temporary directory, then `otad run` on free loopback
ports), mosquitto and nginx (Debian packages, installed with apt-get when missing, each
on a free loopback port with its own temporary configuration), drives all of them with
the same load generator (build/bench/otad-loadgen) and prints a table of numbers,
targets and ratios. Numbers, not assertions: the exit status is 1 only when something
broke (a device not logged in or dropped, a corrupted download, a daemon that did not
start). Standard library only.

    bench/run.py               quick mode (small N, under a minute)
    bench/run.py --full        100,000 online devices over 6 hwd workers, logins/s with
                               1 and 2 workers at 19,000, 1,000 downloaders, 100,000
                               devices for the scheduler, 1,000,000 for scenario 6
    bench/run.py --full --only million     scenario 6 alone
    bench/run.py --full --cluster          all, then scenario 7: three nodes on a
                               throwaway PostgreSQL 15, 3 x 19,000 devices
    bench/run.py --full --only cluster     scenario 7 alone
    bench/run.py --help        every knob

Scenarios: 1 idle fleet (logins/s, RSS per connection, CPU at rest; peer mosquitto),
2 OTA fan-out, 3 firmware download (peer nginx), 4 upload, 5 scheduler, 6 a million
devices (bulk import, a job for all, the device list paged; --only million runs it alone),
7 cluster (--cluster or --only cluster: three otad nodes sharing PostgreSQL, beside the
single node's figures of the same run).
"""

import argparse
import base64
import http.client
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
import images  # noqa: E402  (tests/e2e/images.py: ESP8266 images with a Blynk tag)
from ports import free_ports  # noqa: E402  (tests/e2e/ports.py: below the ephemeral range)
from ini import rewrite_ini  # noqa: E402  (tests/e2e/ini.py: the same edits as the tests)

MiB = 1024 * 1024
TOKEN_FMT = "bench%027d"        # the generator logs device i in with this token
UPLOAD_TOKEN = "bench-upload-device-token-0000"
START_TIMEOUT = 15.0


class Broken(Exception):
    """Something the benchmark measures did not work: exit 1."""


class Done(Exception):
    """The scenarios asked for (--only) ran."""


def log(msg):
    sys.stderr.write("[bench %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


# -- processes and /proc --------------------------------------------------------

def proc_status(pid, key):
    """A kB field of /proc/PID/status (VmRSS, VmHWM) in bytes, or None."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def proc_cpu(pid):
    """utime + stime of PID, in seconds."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def proc_comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return ""


def reset_hwm(pid):
    try:
        with open("/proc/%d/clear_refs" % pid, "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def children(ppid):
    """{comm: pid} of the children of ppid."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                s = f.read()
        except OSError:
            continue
        comm = s[s.index("(") + 1:s.rindex(")")]
        if int(s.rsplit(")", 1)[1].split()[1]) == ppid:
            out[comm] = int(d)
    return out


def family(pid):
    """pid and its descendants (a daemon's worker processes)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in os.listdir("/proc/%d/task" % p) if os.path.isdir("/proc/%d" % p) \
                else ():
            try:
                with open("/proc/%d/task/%s/children" % (p, task)) as f:
                    todo.extend(int(c) for c in f.read().split())
            except OSError:
                pass
    return out


def wait_port(port, proc, what, timeout=START_TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise Broken("%s exited %d before it listened on %d" % (what, proc.returncode,
                                                                    port))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise Broken("%s not listening on %d after %.0f s" % (what, port, timeout))


def stop_proc(proc, sig=signal.SIGTERM, group=False):
    if proc is None or proc.poll() is not None:
        return
    try:
        if group:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
        proc.wait(10)
    except subprocess.TimeoutExpired:
        if group:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
        proc.wait()
    except ProcessLookupError:
        pass


# -- otad ---------------------------------------------------------------------------

class Otad:
    def __init__(self, build, workdir, name, hwd_workers=1, fw_workers=1, database=None,
                 node=None):
        """database: a PostgreSQL URI several nodes share ([otad] database, given to
        otad init with node as --node); None: SQLite in the node's directory."""
        self.build = build
        self.database, self.node = database, node
        self.hwd_workers, self.fw_workers = hwd_workers, fw_workers
        self.dir = os.path.join(workdir, name)
        os.mkdir(self.dir)
        os.chmod(self.dir, 0o755)
        self.conf = os.path.join(self.dir, "otad.conf")
        self.proc = None
        self.pids = {}

    def start(self):
        sbin = os.path.join(self.dir, "sbin")
        os.mkdir(sbin)
        for d, name in (("hwd", "otad-hwd"), ("admind", "otad-admind"),
                        ("fwstore", "otad-fwstore")):
            os.symlink(os.path.join(self.build, d, name), os.path.join(sbin, name))
        env = dict(os.environ, OTAD_SBINDIR=sbin)
        shared = ["--database", self.database, "--node", self.node] if self.database \
            else []
        r = subprocess.run([os.path.join(self.build, "otad", "otad"), "init"] + shared +
                           [self.dir],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                           timeout=30)
        out = r.stdout.decode("utf-8", "replace")
        m = re.search(r"admin password:[ \t]+(\S+)", out)
        if r.returncode != 0 or not m:
            raise Broken("otad init failed:\n" + out)
        self.password = m.group(1)
        self.hwd_port, self.admin_port, self.fw_port = free_ports(3)
        # a few loopback source addresses stand for a fleet all over the
        # internet: no limit per client address
        rewrite_ini(self.conf, {
            "otad": {"control_socket": os.path.join(self.dir, "control.sock")},
            "hwd": {"listen": "127.0.0.1:%d" % self.hwd_port,
                    "max_connections_per_address": "0",
                    "workers": str(self.hwd_workers)},
            "admind": {"listen": "127.0.0.1:%d" % self.admin_port},
            "fwstore": {"listen": "127.0.0.1:%d" % self.fw_port, "public_url": "",
                        "workers": str(self.fw_workers)},
        })
        return self.run()

    def accepts(self, edits):
        """Whether the daemons take the configuration with edits (otad-fwstore -t):
        a key this build does not know is refused."""
        path = self.conf + ".try"
        shutil.copy(self.conf, path)
        rewrite_ini(path, edits)
        r = subprocess.run([os.path.join(self.build, "fwstore", "otad-fwstore"), "-t",
                            "-c", path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        return r.returncode == 0

    def restart(self, edits):
        """Stops otad, edits its configuration and runs it again (same database,
        ports and tickets)."""
        self.stop()
        rewrite_ini(self.conf, edits)
        self.hwd_workers = int(edits.get("hwd", {}).get("workers", self.hwd_workers))
        self.fw_workers = int(edits.get("fwstore", {}).get("workers", self.fw_workers))
        return self.run()

    def run(self):
        env = dict(os.environ, OTAD_SBINDIR=os.path.join(self.dir, "sbin"))
        self.log = open(os.path.join(self.dir, "otad-run.log"), "ab")
        self.proc = subprocess.Popen([os.path.join(self.build, "otad", "otad"), "run",
                                      "-c", self.conf], stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                     cwd=self.dir, start_new_session=True)
        for port, what in ((self.hwd_port, "otad-hwd"), (self.admin_port, "otad-admind"),
                           (self.fw_port, "otad-fwstore")):
            wait_port(port, self.proc, what)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            self.pids = children(self.proc.pid)
            ok = all(n in self.pids for n in ("otad-hwd", "otad-admind", "otad-fwstore"))
            if ok:
                try:
                    st, data = self.admin().request("GET", "/admin/health")
                    h = json.loads(data) if st == 200 else {}
                    if h.get("hwd_workers") == self.hwd_workers and \
                            h.get("fwstore_workers") == self.fw_workers:
                        break
                except (OSError, ValueError):
                    pass
            if time.monotonic() > deadline:
                raise Broken("otad not ready: daemons %r\n%s" % (self.pids, self.log_tail()))
            time.sleep(0.1)
        # hwd answers logins only once its control link is up: wait for that too
        time.sleep(0.3)
        return self

    def pid(self, name):
        return self.pids["otad-" + name]

    def procs(self, name):
        """otad-<name>'s processes: the daemon, and its workers when it has several."""
        pid = self.pid(name)
        return [pid] + sorted(children(pid).values())

    def rss(self, name):
        return sum(proc_status(p, "VmRSS") or 0 for p in self.procs(name))

    def cpu(self, name):
        """CPU seconds of the daemon and of its worker processes: every process
        under otad run named otad-NAME (or a longer name starting so)."""
        return sum(proc_cpu(p) for p in family(self.proc.pid)
                   if proc_comm(p).startswith("otad-" + name))

    def admin(self):
        return Admin("127.0.0.1", self.admin_port, "admin", self.password)

    def db_size(self):
        """Bytes of the database as its readers see it (WAL included)."""
        import sqlite3
        total = 0
        for root, _, files in os.walk(self.dir):
            for f in files:
                if f.endswith(".db"):
                    c = sqlite3.connect("file:%s?mode=ro" % os.path.join(root, f),
                                        uri=True, timeout=10)
                    try:
                        total += c.execute("PRAGMA page_count").fetchone()[0] * \
                            c.execute("PRAGMA page_size").fetchone()[0]
                    finally:
                        c.close()
        return total

    def log_tail(self, n=30):
        try:
            with open(os.path.join(self.dir, "otad-run.log"), "rb") as f:
                return "\n".join(f.read().decode("utf-8", "replace").splitlines()[-n:])
        except OSError:
            return ""

    def log_warnings(self, n=8):
        """The n most frequent warnings of the log, numbers masked, with their
        counts (a fault repeated for every device shows once)."""
        counts = {}
        try:
            with open(os.path.join(self.dir, "otad-run.log"), "rb") as f:
                for line in f.read().decode("utf-8", "replace").splitlines():
                    if "warning:" in line or "error:" in line:
                        key = re.sub(r"\d+", "N", line)
                        counts[key] = counts.get(key, 0) + 1
        except OSError:
            pass
        top = sorted(counts.items(), key=lambda kv: -kv[1])[:n]
        return "\n".join("%7d  %s" % (c, k) for k, c in top)

    def stop(self):
        stop_proc(self.proc, group=True)
        if getattr(self, "log", None):
            self.log.close()


class Admin:
    """Keep-alive HTTPS client for the admin API (self-signed certificate)."""

    def __init__(self, host, port, user, password):
        self.host, self.port = host, port
        self.auth = "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()
                                                ).decode()
        self.ctx = ssl.create_default_context()
        self.ctx.check_hostname = False
        self.ctx.verify_mode = ssl.CERT_NONE
        self.conn = None

    def request(self, method, path, body=None, headers=None, timeout=120):
        h = {"Authorization": self.auth}
        h.update(headers or {})
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPSConnection(self.host, self.port,
                                                        timeout=timeout, context=self.ctx)
            try:
                self.conn.request(method, path, body=body, headers=h)
                r = self.conn.getresponse()
                data = r.read()
                if r.getheader("connection", "").lower() == "close":
                    self.close()
                return r.status, data
            except (http.client.HTTPException, ConnectionError, ssl.SSLError):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def upload(self, path, image):
        boundary = "----bench" + uuid.uuid4().hex
        body = (("--%s\r\nContent-Disposition: form-data; name=\"file\"; "
                 "filename=\"bench.bin\"\r\nContent-Type: application/octet-stream"
                 "\r\n\r\n") % boundary).encode() + image + \
            ("\r\n--%s--\r\n" % boundary).encode()
        return self.request("POST", path, body=body, headers={
            "Content-Type": "multipart/form-data; boundary=" + boundary}, timeout=900)

    def ota_start(self, image, token=None):
        return self.upload("/admin/ota/start" + ("?token=" + token if token else ""),
                           image)


def create_devices(otad, first, n, threads=4):
    """POST /admin/devices for bench devices first..first+n-1 (tokens imported, so
    the generator knows them); returns seconds."""
    errors = []
    t0 = time.monotonic()

    def work(k):
        a = otad.admin()
        try:
            for i in range(first + k, first + n, threads):
                body = json.dumps({"name": "bench-%d" % i, "token": TOKEN_FMT % i})
                st, data = a.request("POST", "/admin/devices", body=body,
                                     headers={"Content-Type": "application/json"})
                if st != 201:
                    errors.append("POST /admin/devices -> %d %r" % (st, data[:200]))
                    return
        except OSError as e:
            errors.append("POST /admin/devices: %s" % e)
        finally:
            a.close()

    ts = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise Broken(errors[0])
    return time.monotonic() - t0


# -- the load generator ----------------------------------------------------------

class Fleet:
    """Idle clients spread over several generator processes."""

    def __init__(self, loadgen, mode, port, n, procs, hbeat, inflight, net, first=0,
                 lane=0, ready=True):
        """Devices first..first+n-1 over procs generator processes; lane: a fleet
        beside others takes its source addresses 127.net.(lane+1).* onwards.  ready:
        wait until all have logged in (else call wait_ready())."""
        self.procs = []
        per = int(math.ceil(n / procs))
        self.t0 = time.monotonic()
        for k in range(procs):
            start, cnt = k * per, min(per, n - k * per)
            if cnt <= 0:
                break
            src = ",".join("127.%d.%d.%d" % (net, lane + k + 1, j) for j in range(1, 3))
            p = subprocess.Popen([loadgen, mode, "-h", "127.0.0.1", "-p", str(port),
                                  "-n", str(cnt), "-f", str(first + start), "-s", src,
                                  "-H", str(hbeat), "-c", str(inflight)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 text=True, bufsize=1)
            self.procs.append(p)
        if ready:
            self.wait_ready()

    def wait_ready(self):
        """Reads every process's "ready" line: ok, failed, secs (from the start)."""
        self.ok = self.failed = 0
        for p in self.procs:
            line = p.stdout.readline()
            m = re.match(r"ready ok=(\d+) failed=(\d+)", line)
            if not m:
                raise Broken("load generator (%s) said %r" % (mode, line))
            self.ok += int(m.group(1))
            self.failed += int(m.group(2))
        self.secs = time.monotonic() - self.t0
        return self

    @classmethod
    def together(cls, fleets):
        """One fleet of several ready ones (e.g. one per node): dump, reset, cpu
        and stop act on all their processes."""
        f = cls.__new__(cls)
        f.procs = [p for x in fleets for p in x.procs]
        f.ok = sum(x.ok for x in fleets)
        f.failed = sum(x.failed for x in fleets)
        f.t0 = min(x.t0 for x in fleets)
        f.secs = max(x.t0 + x.secs for x in fleets) - f.t0
        return f

    def dump(self, workdir):
        """(lines 'index ns url' of every ota frame so far, devices lost)."""
        rows, lost = [], 0
        for k, p in enumerate(self.procs):
            path = os.path.join(workdir, "ota-%d.txt" % k)
            p.stdin.write("dump %s\n" % path)
            p.stdin.flush()
            m = re.match(r"dumped (-?\d+) lost (\d+)", p.stdout.readline())
            if not m or int(m.group(1)) < 0:
                raise Broken("load generator could not dump its ota frames")
            lost += int(m.group(2))
            with open(path) as f:
                for line in f:
                    i, ns, url = line.rstrip("\n").split(" ", 2)
                    rows.append((int(i), int(ns), url))
        return rows, lost

    def cpu(self):
        """CPU seconds the generator processes used so far."""
        return sum(proc_cpu(p.pid) or 0 for p in self.procs)

    def reset(self):
        for p in self.procs:
            p.stdin.write("reset\n")
            p.stdin.flush()
            p.stdout.readline()

    def stop(self):
        for p in self.procs:
            try:
                if not p.stdin.closed:
                    p.stdin.write("quit\n")
                    p.stdin.close()
            except (OSError, ValueError):
                pass
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def download(loadgen, port, urls, expect, total, conc, net, workdir, tag, lane=200):
    """total downloads of urls (paths) from 127.0.0.1:port, conc at a time, from
    source addresses 127.net.lane.*; the downloader's figures (latencies of each
    download, ns, in workdir/lat-TAG.txt)."""
    urlfile = os.path.join(workdir, "urls-%s.txt" % tag)
    with open(urlfile, "w") as f:
        f.write("\n".join(urls) + "\n")
    src = ",".join("127.%d.%d.%d" % (net, lane, j) for j in range(1, 17))
    t0 = time.monotonic()
    r = subprocess.run([loadgen, "http", "-h", "127.0.0.1", "-p", str(port), "-u", urlfile,
                        "-e", expect, "-n", str(total), "-c", str(conc), "-s", src,
                        "-o", os.path.join(workdir, "lat-%s.txt" % tag)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=600)
    wall = time.monotonic() - t0
    m = re.search(r"done (.*)", r.stdout)
    if not m:
        raise Broken("downloader (%s) exited %d: %s %s" % (tag, r.returncode, r.stdout,
                                                            r.stderr[-2000:]))
    res = {k: float(v) for k, v in (kv.split("=") for kv in m.group(1).split())}
    res["wall"] = wall
    res["stderr"] = r.stderr.strip()
    return res


def percentile(sorted_vals, q):
    if not sorted_vals:
        return float("nan")
    return sorted_vals[min(len(sorted_vals) - 1, int(len(sorted_vals) * q))]


# -- peers --------------------------------------------------------------------------

def find_peer(binary):
    return shutil.which(binary) or next(
        (p for p in ("/usr/sbin/" + binary, "/usr/bin/" + binary) if os.access(p, os.X_OK)),
        None)


def ensure_peers(install=True):
    """{name: path or None}; installs the Debian packages when missing (as root)."""
    found = {b: find_peer(b) for b in ("mosquitto", "nginx")}
    missing = [b for b, p in found.items() if p is None]
    if missing and install and os.geteuid() == 0 and shutil.which("apt-get"):
        log("installing %s with apt-get" % " ".join(missing))
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        r = subprocess.run(["apt-get", "install", "-y", "--no-install-recommends"] + missing,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
        if r.returncode != 0:
            log("apt-get install failed:\n" + r.stdout.decode("utf-8", "replace")[-1500:])
        found = {b: find_peer(b) for b in ("mosquitto", "nginx")}
    return found


def start_mosquitto(binary, workdir):
    d = os.path.join(workdir, "mosquitto")
    os.mkdir(d)
    port = free_ports(1)[0]
    conf = os.path.join(d, "mosquitto.conf")
    with open(conf, "w") as f:
        f.write("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n"
                "max_connections -1\nlog_dest file %s/mosquitto.log\nlog_type error\n"
                "log_type warning\nuser root\n" % (port, d))
    p = subprocess.Popen([binary, "-c", conf], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, p, "mosquitto")
    return p, port


def start_nginx(binary, workdir, image_path, workers=1):
    d = os.path.join(workdir, "nginx")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(d, "www"))
    os.makedirs(os.path.join(d, "tmp"))
    shutil.copy(image_path, os.path.join(d, "www", "fw.bin"))
    os.chmod(d, 0o755)
    os.chmod(os.path.join(d, "www"), 0o755)
    os.chmod(os.path.join(d, "www", "fw.bin"), 0o644)
    port = free_ports(1)[0]
    conf = os.path.join(d, "nginx.conf")
    tmp = os.path.join(d, "tmp")
    with open(conf, "w") as f:
        f.write("""daemon off;
master_process on;
worker_processes %(workers)d;
worker_rlimit_nofile 20000;
pid %(d)s/nginx.pid;
error_log %(d)s/error.log warn;
events { worker_connections 8192; }
http {
    access_log %(d)s/access.log;
    sendfile on;
    tcp_nopush on;
    default_type application/octet-stream;
    client_body_temp_path %(tmp)s/body;
    proxy_temp_path %(tmp)s/proxy;
    fastcgi_temp_path %(tmp)s/fastcgi;
    uwsgi_temp_path %(tmp)s/uwsgi;
    scgi_temp_path %(tmp)s/scgi;
    server {
        listen 127.0.0.1:%(port)d backlog=1024;
        root %(d)s/www;
        location / { }
    }
}
""" % {"d": d, "tmp": tmp, "port": port, "workers": workers})
    p = subprocess.Popen([binary, "-p", d, "-c", conf, "-e", os.path.join(d, "error.log")],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    wait_port(port, p, "nginx")
    return p, port


# -- scenarios ------------------------------------------------------------------------

class Table:
    def __init__(self):
        self.rows = []

    def add(self, scenario, metric, otad, peer="", target="", ratio=""):
        self.rows.append((scenario, metric, otad, peer, target, ratio))

    def show(self, header):
        cols = ("scenario", "metric", "otad", "peer", "target", "ratio otad/peer")
        order = sorted(self.rows, key=lambda r: r[0].split(" ")[0])
        rows = [cols] + [tuple(str(c) for c in r) for r in order]
        w = [max(len(r[i]) for r in rows) for i in range(len(cols))]
        print(header)
        print("| " + " | ".join(c.ljust(w[i]) for i, c in enumerate(cols)) + " |")
        print("|" + "|".join("-" * (x + 2) for x in w) + "|")
        for r in rows[1:]:
            print("| " + " | ".join(c.ljust(w[i]) for i, c in enumerate(r)) + " |")
        sys.stdout.flush()


def fmt_bytes(b):
    return "%.0f B" % b if b < 10240 else "%.1f KiB" % (b / 1024) if b < 10 * MiB \
        else "%.1f MiB" % (b / MiB)


def ratio(a, b):
    return "%.2fx" % (a / b) if a and b else "n/a"


def wait_idle(pid, limit, quiet=0.1):
    """Waits until pid uses under 10% of a core over 0.5 s; returns the seconds."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        c0 = proc_cpu(pid)
        time.sleep(0.5)
        if proc_cpu(pid) - c0 < 0.5 * quiet:
            break
    return time.monotonic() - t0


def cpu_window(pids, secs):
    before = {k: proc_cpu(p) for k, p in pids.items()}
    time.sleep(secs)
    return {k: 100.0 * (proc_cpu(p) - before[k]) / secs for k, p in pids.items()}


def logins(args, build, workdir, table, problems, ctx, workers):
    """Logins/s and CPU per login with [hwd] workers = workers, args.login_devices
    devices: the rows "1 logins"."""
    otad = Otad(build, workdir, "otad-logins-%d" % workers, hwd_workers=workers).start()
    fleet = None
    try:
        import_devices(otad, args.login_devices)
        time.sleep(0.5)
        rss0 = otad.rss("hwd")
        cpu0 = {n: otad.cpu(n) for n in ("hwd", "admind")}
        fleet = Fleet(args.loadgen, "blynk", otad.hwd_port, args.login_devices,
                      args.login_procs, args.hbeat, args.inflight, ctx["net"])
        cpu = {n: otad.cpu(n) - cpu0[n] for n in cpu0}
        if fleet.failed:
            problems.append("hwd workers %d: %d of %d devices could not log in"
                            % (workers, fleet.failed, args.login_devices))
        ok = max(fleet.ok, 1)
        rate = fleet.ok / fleet.secs
        if workers == 1:
            time.sleep(args.settle)
            ctx["logins_s"] = rate
            ctx["hwd_per_1"] = (otad.rss("hwd") - rss0) / ok
        table.add("1 logins", "logins/s, hwd workers = %d (%d devices, %d generator "
                  "procs)" % (workers, args.login_devices, len(fleet.procs)),
                  "%.0f" % rate, target=">= 20000")
        table.add("1 logins", "CPU per login, workers = %d: hwd / admind / generator"
                  % workers, "%.0f / %.0f / %.0f us" % (
                      1e6 * cpu["hwd"] / ok, 1e6 * cpu["admind"] / ok,
                      1e6 * fleet.cpu() / ok))
    finally:
        if fleet is not None:
            fleet.stop()
        otad.stop()


def idle_fleet(args, otad, table, problems, ctx):
    t = import_devices(otad, args.devices)
    table.add("0 setup", "POST /admin/devices/import (10,000 a request)",
              "%.0f/s (%d in %.1f s)" % (args.devices / t, args.devices, t))
    time.sleep(0.5)
    rss0 = {n: otad.rss(n) for n in ("hwd", "admind")}
    fleet = Fleet(args.loadgen, "blynk", otad.hwd_port, args.devices, args.procs,
                  args.hbeat, args.inflight, ctx["net"])
    ctx["fleet"] = fleet
    if fleet.failed:
        problems.append("%d of %d devices could not log in" % (fleet.failed, args.devices))
    time.sleep(args.settle)
    rss1 = {n: otad.rss(n) for n in ("hwd", "admind")}
    pids = {"hwd%d" % i: p for i, p in enumerate(otad.procs("hwd"))}
    pids["admind"] = otad.pid("admind")
    cpu = cpu_window(pids, args.rest)
    ok = max(fleet.ok, 1)
    per = {n: (rss1[n] - rss0[n]) / ok for n in rss1}
    ctx["hwd_per"] = per["hwd"] + per["admind"]
    table.add("1 idle fleet", "%d online devices: hwd workers / generator procs"
              % fleet.ok, "%d / %d" % (otad.hwd_workers, len(fleet.procs)))
    table.add("1 idle fleet", "logins/s of the whole fleet", "%.0f" % (fleet.ok / fleet.secs))
    table.add("1 idle fleet", "RSS per idle device: hwd workers + admind",
              "%.0f B (%.0f + %.0f)" % (ctx["hwd_per"], per["hwd"], per["admind"]),
              target="<= 1024 B")
    table.add("1 idle fleet", "RSS before / after: hwd (all workers) / admind",
              "%s / %s, %s / %s" % (fmt_bytes(rss0["hwd"]), fmt_bytes(rss1["hwd"]),
                                    fmt_bytes(rss0["admind"]), fmt_bytes(rss1["admind"])))
    table.add("1 idle fleet", "CPU at rest, h-beat %d s (hwd, all workers / admind)"
              % args.hbeat, "%.1f%% / %.1f%% of a core" % (
                  sum(v for k, v in cpu.items() if k.startswith("hwd")), cpu["admind"]))


def fanout_wait(args, fleet, ctx, t0, limit=None):
    """Polls the generators until every device has its frame, or none came for 2 s
    after the first, or limit seconds (args.fanout_wait) passed."""
    deadline = time.monotonic() + (limit or args.fanout_wait)
    last, last_change = -1, time.monotonic()
    while True:
        rows, lost = fleet.dump(ctx["workdir"])
        if len(rows) != last:
            last, last_change = len(rows), time.monotonic()
        if len(rows) >= fleet.ok or time.monotonic() > deadline or \
                (rows and time.monotonic() - last_change > 2.0):
            return rows, lost
        time.sleep(0.25)


def fanout_rows(table, tag, fleet, rows, t0):
    """The rows of a fan-out; returns the sorted seconds from the POST to each
    frame."""
    lat = sorted((ns - t0) / 1e9 for _, ns, _ in rows)
    table.add(tag, "devices with their ota frame", "%d of %d" % (len(rows), fleet.ok),
              target="all")
    if lat:
        table.add(tag, "time to the frame from the POST: p50 / p99 / last",
                  "%.3f / %.3f / %.3f s" % (percentile(lat, 0.5), percentile(lat, 0.99),
                                           lat[-1]), target="last <= 1 s")
    return lat


def fanout(args, otad, table, problems, ctx, image):
    fleet = ctx["fleet"]
    a = otad.admin()
    t0 = time.time_ns()
    st, data = a.ota_start(image)
    post = (time.time_ns() - t0) / 1e9
    a.close()
    if st != 201:
        raise Broken("POST /admin/ota/start -> %d %r" % (st, data[:300]))
    rows, lost = fanout_wait(args, fleet, ctx, t0)
    if lost:
        problems.append("%d logged-in devices were disconnected" % lost)
    if not rows:
        problems.append("no device received an ota frame")
    ctx["ota_urls"] = sorted({re.sub(r"^http://[^/]+", "", u) for _, _, u in rows})
    table.add("2 fan-out", "POST /admin/ota/start (1 MiB, job for all, max_parallel "
              "100) answered in", "%.3f s" % post)
    fanout_rows(table, "2 fan-out", fleet, rows, t0)
    try:
        fw_id = json.loads(data)["firmware"]["id"]
    except (ValueError, KeyError, TypeError):
        return
    # The same image to all devices through the jobs API with no pacing limit: the
    # fan-out the target is about (skipped when admind has no POST /admin/jobs).
    fleet.reset()
    a = otad.admin()
    body = json.dumps({"firmware_id": fw_id, "all": True,
                       "max_parallel": min(100000, max(fleet.ok, 1))})
    t0 = time.time_ns()
    st, data = a.request("POST", "/admin/jobs", body=body,
                         headers={"Content-Type": "application/json"}, timeout=900)
    post = (time.time_ns() - t0) / 1e9
    a.close()
    if st == 404:
        return
    if st != 201:
        problems.append("POST /admin/jobs -> %d %r" % (st, data[:300]))
        return
    rows, lost = fanout_wait(args, fleet, ctx, t0)
    if lost:
        problems.append("%d logged-in devices were disconnected" % lost)
    table.add("2 fan-out", "POST /admin/jobs (all, max_parallel %d) answered in"
              % min(100000, fleet.ok), "%.3f s" % post)
    lat = fanout_rows(table, "2 fan-out", fleet, rows, t0)
    ctx["fanout_single"] = {"devices": fleet.ok, "post": post, "lat": lat}
    if rows:
        ctx["ota_urls"] = sorted({re.sub(r"^http://[^/]+", "", u) for _, _, u in rows})


def downloads(args, otad, table, problems, ctx, image_path, peers):
    urls = (ctx.get("ota_urls") or [])[:max(100, args.conc)]
    if not urls:
        return
    # First pass: each ticket once, which moves its delivery to downloaded (and
    # makes admind's scheduler look for the next devices). Then the measured
    # passes: repeated downloads of deliveries not yet verified, which fwstore
    # allows, and the same file from nginx, alternately (--repeat: medians).
    cpu0 = {n: otad.cpu(n) for n in ("fwstore", "admind")}
    first = download(args.loadgen, otad.fw_port, urls, image_path, len(urls),
                     min(args.conc, len(urls)), ctx["net"], ctx["workdir"], "first")
    check_download(first, "fwstore (first pass)", problems)
    cpu_first = {n: otad.cpu(n) - cpu0[n] for n in cpu0}
    table.add("3 download", "first download of each of %d tickets: seconds, downloads/s"
              % len(urls), "%.2f s, %.0f/s" % (first["secs"], first["ok"] / first["secs"]))
    table.add("3 download", "CPU seconds in that first pass (fwstore / admind)",
              "%.1f / %.1f" % (cpu_first["fwstore"], cpu_first["admind"]))
    busy = wait_idle(otad.pid("admind"), 120.0)
    table.add("3 download", "admind busy after that first pass (scheduler)", "%.1f s" % busy)
    what = "%d x 1 MiB, %d at a time, %d tickets" % (args.downloads, args.conc, len(urls))
    rss0 = proc_status(otad.pid("fwstore"), "VmRSS")
    reset_hwm(otad.pid("fwstore"))
    ours, theirs = download_rounds(args, otad, urls, image_path, ctx, peers, 1, problems)
    ctx["download_single"] = ours
    hwm = proc_status(otad.pid("fwstore"), "VmHWM")
    download_rows(table, "1 worker", what, ours, theirs)
    table.add("3 download", "server RSS growth (peak - before; fwstore 1 worker vs nginx)",
              fmt_bytes(hwm - rss0), fmt_bytes(theirs["rss"]) if theirs else "n/a")
    # fwstore with 2 workers once the configuration has [fwstore] workers; nginx
    # with 2 workers in any case
    edit = {"fwstore": {"workers": "2"}}
    two = otad.accepts(edit)
    if two:
        otad.restart(edit)
    else:
        log("fwstore workers = 2: not in this build's configuration, its figures skipped")
    ours, theirs = download_rounds(args, otad if two else None, urls, image_path, ctx,
                                   peers, 2, problems)
    download_rows(table, "2 workers", what, ours, theirs)


def download_rounds(args, otad, urls, image_path, ctx, peers, workers, problems):
    """args.repeat measured passes of fwstore (unless otad is None) and of nginx
    with as many worker processes, alternately; the median of each figure, or
    None for a server not measured."""
    ours, theirs = [], []
    for _ in range(args.repeat):
        if otad is not None:
            ours.append(download_otad(args, otad, urls, image_path, ctx, problems))
        if peers.get("nginx"):
            theirs.append(download_nginx(args, peers["nginx"], workers, image_path, ctx,
                                         problems))
    return medians(ours) if ours else None, medians(theirs) if theirs else None


def medians(runs):
    return {k: sorted(r[k] for r in runs)[len(runs) // 2] for k in runs[0]
            if isinstance(runs[0][k], (int, float))}


def download_otad(args, otad, urls, image_path, ctx, problems):
    """One measured pass of fwstore: the downloader's figures, and the CPU seconds
    of fwstore (its workers too) and admind."""
    cpu0 = {n: otad.cpu(n) for n in ("fwstore", "admind")}
    r = download(args.loadgen, otad.fw_port, urls, image_path, args.downloads,
                 args.conc, ctx["net"], ctx["workdir"], "otad")
    for n in cpu0:
        r["cpu_" + n] = otad.cpu(n) - cpu0[n]
    r["cpu"] = r["cpu_fwstore"] + r["cpu_admind"]
    check_download(r, "fwstore", problems)
    return r


def download_nginx(args, binary, workers, image_path, ctx, problems):
    """One measured pass of nginx with that many workers: the downloader's figures,
    the CPU seconds of master and workers, the first worker's RSS growth."""
    p, port = start_nginx(binary, ctx["workdir"], image_path, workers)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while len(family(p.pid)) < workers + 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        pids = family(p.pid)
        wpid = pids[-1]
        rss0 = proc_status(wpid, "VmRSS")
        cpu0 = sum(proc_cpu(q) for q in pids)
        r = download(args.loadgen, port, ["/fw.bin"], image_path, args.downloads,
                     args.conc, ctx["net"], ctx["workdir"], "nginx")
        r["cpu"] = sum(proc_cpu(q) for q in pids) - cpu0
        r["rss"] = proc_status(wpid, "VmHWM") - rss0
        check_download(r, "nginx", problems)
        return r
    finally:
        stop_proc(p, signal.SIGQUIT)


def download_rows(table, workers, what, r, peer):
    """The figures of fwstore (r) and nginx (peer) with that many workers; either
    may be None (not measured)."""
    tag = "3 download"
    if r is None:
        r = {"bytes": 0, "secs": 1, "ok": 0, "cpu": 0, "cpu_fwstore": 0, "cpu_admind": 0,
             "p50_ms": 0, "p99_ms": 0, "busy": 0, "bad_status": 0, "errors": 0,
             "skipped": 1}
    skip = "n/a ([fwstore] workers not in this build)" if r.get("skipped") else None
    mbs = r["bytes"] / MiB / r["secs"]
    pmbs = peer["bytes"] / MiB / peer["secs"] if peer else None
    table.add(tag, "throughput, MiB/s, %s (%s)" % (workers, what), skip or "%.0f" % mbs,
              "%.0f" % pmbs if peer else "n/a", ">= 1.0x nginx", ratio(mbs, pmbs))
    rps = r["ok"] / r["secs"]
    prps = peer["ok"] / peer["secs"] if peer else None
    table.add(tag, "requests/s (downloads/s), %s" % workers, skip or "%.0f" % rps,
              "%.0f" % prps if peer else "n/a", ">= 1.0x nginx", ratio(rps, prps))
    cpu = 1e6 * r["cpu"] / max(r["ok"], 1)
    pcpu = 1e6 * peer["cpu"] / max(peer["ok"], 1) if peer else None
    table.add(tag, "CPU per download, %s: fwstore + admind vs nginx master + workers"
              % workers, skip or "%.0f us (%.0f + %.0f)" % (
                  cpu, 1e6 * r["cpu_fwstore"] / max(r["ok"], 1),
                  1e6 * r["cpu_admind"] / max(r["ok"], 1)),
              "%.0f us" % pcpu if peer else "n/a", "<= 1.0x nginx", ratio(cpu, pcpu))
    table.add(tag, "full download p50 / p99, %s" % workers,
              skip or "%.0f / %.0f ms" % (r["p50_ms"], r["p99_ms"]),
              "%.0f / %.0f ms" % (peer["p50_ms"], peer["p99_ms"]) if peer else "n/a", "",
              ratio(r["p99_ms"], peer["p99_ms"] if peer else None))
    table.add(tag, "ok / 503 / other status / errors, %s" % workers,
              skip or "%d / %d / %d / %d" % (r["ok"], r["busy"], r["bad_status"],
                                             r["errors"]),
              "%d / %d / %d / %d" % (peer["ok"], peer["busy"], peer["bad_status"],
                                     peer["errors"]) if peer else "n/a")


def check_download(r, who, problems):
    if r["corrupt"]:
        problems.append("%s: %d corrupted downloads" % (who, r["corrupt"]))
    if r["ok"] == 0:
        problems.append("%s: no download succeeded (%s)" % (who, r["stderr"][:300]))
    if r["bad_status"]:
        problems.append("%s: %d downloads answered an unexpected status (%s)"
                        % (who, r["bad_status"], r["stderr"][:300]))


def upload(args, otad, table, problems):
    img = images.esp8266_image(version="9.9.%d" % random.randint(0, 999),
                               build="Jan 02 2027 12:00:00", size=args.upload_mib * MiB)
    # a device of its own: the fleet's deliveries (and the download
    # scenario's tickets) stay as they are
    a = otad.admin()
    st, data = a.request("POST", "/admin/devices", body=json.dumps(
        {"name": "bench-upload", "token": UPLOAD_TOKEN}),
        headers={"Content-Type": "application/json"})
    if st != 201:
        raise Broken("POST /admin/devices (the upload's device) -> %d %r" % (st, data[:200]))
    adm = otad.pid("admind")
    time.sleep(0.5)
    reset_hwm(adm)
    rss0 = proc_status(adm, "VmRSS")
    kinds0 = {k: proc_status(adm, k) for k in ("RssAnon", "RssFile", "RssShmem")}
    peak = [rss0]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            v = proc_status(adm, "VmRSS")
            if v:
                peak[0] = max(peak[0], v)
            time.sleep(0.01)

    th = threading.Thread(target=sample)
    th.start()
    t0 = time.monotonic()
    try:
        st, data = a.ota_start(img, token=UPLOAD_TOKEN)
    finally:
        secs = time.monotonic() - t0
        stop.set()
        th.join()
        a.close()
    if st != 201:
        problems.append("upload of %d MiB -> %d %r" % (args.upload_mib, st, data[:200]))
        return
    hwm = proc_status(adm, "VmHWM")
    growth = max(hwm - rss0, peak[0] - rss0)
    kinds = " (after - before: anon %s, file %s, shmem %s)" % tuple(
        fmt_bytes(proc_status(adm, k) - kinds0[k]) for k in ("RssAnon", "RssFile",
                                                             "RssShmem"))
    table.add("4 upload", "%d MiB through admind: seconds, MiB/s" % args.upload_mib,
              "%.2f s, %.0f MiB/s" % (secs, args.upload_mib / secs))
    table.add("4 upload", "admind RSS growth (peak - before)", fmt_bytes(growth) + kinds,
              target="<= 1 MiB")


def scheduler(args, build, workdir, table, image):
    otad = Otad(build, workdir, "otad-sched").start()
    try:
        t = create_devices(otad, 0, args.sched_devices)
        table.add("5 scheduler", "create %d devices via POST /admin/devices"
                  % args.sched_devices, "%.1f s (%.0f/s)" % (t, args.sched_devices / t))
        db0 = otad.db_size()
        a = otad.admin()
        t0 = time.monotonic()
        st, data = a.ota_start(image)
        secs = time.monotonic() - t0
        a.close()
        if st != 201:
            raise Broken("scheduler job: POST /admin/ota/start -> %d %r" % (st, data[:300]))
        time.sleep(0.5)
        db1 = otad.db_size()
        table.add("5 scheduler", "job for all %d devices: POST answered in"
                  % args.sched_devices, "%.2f s" % secs)
        table.add("5 scheduler", "database size before / after the job",
                  "%s / %s (%.0f B per delivery)" % (fmt_bytes(db0), fmt_bytes(db1),
                                                    (db1 - db0) / args.sched_devices))
    finally:
        otad.stop()


MILLION_SITES = 100                 # tag site-K: every 100th device


def import_devices(otad, n, batch=10000):
    """POST /admin/devices/import, CSV batches of bench devices 0..n-1 named bench-I,
    tagged site-(I % MILLION_SITES); returns seconds."""
    a = otad.admin()
    t0 = time.monotonic()
    try:
        for first in range(0, n, batch):
            rows = ["name,token,tags"] + ["bench-%d,%s,site-%d" % (
                i, TOKEN_FMT % i, i % MILLION_SITES) for i in range(first, min(n, first + batch))]
            st, data = a.request("POST", "/admin/devices/import",
                                 body="\n".join(rows).encode(),
                                 headers={"Content-Type": "text/csv"}, timeout=600)
            if st != 201:
                raise Broken("POST /admin/devices/import -> %d %r" % (st, data[:300]))
    finally:
        a.close()
    return time.monotonic() - t0


def db_files(otad):
    """Bytes on disk of the database file and of its WAL."""
    out = [0, 0]
    for root, _, files in os.walk(otad.dir):
        for f in files:
            if f.endswith(".db") or f.endswith(".db-wal"):
                out[f.endswith("-wal")] += os.path.getsize(os.path.join(root, f))
    return out


def list_pages(a, query, n, pages=5, jumps=20, rounds=4):
    """GET /admin/devices?QUERY pages of 50: the first page, the next pages (by the
    answer's "next" cursor when it gives one, else by offset), and pages at random
    places (a random cursor or offset); returns the sorted latencies in ms."""
    ms = []

    def get(extra):
        path = "/admin/devices?limit=50" + (("&" + query) if query else "") + extra
        t0 = time.monotonic()
        st, data = a.request("GET", path)
        ms.append(1000.0 * (time.monotonic() - t0))
        if st != 200:
            raise Broken("GET %s -> %d %r" % (path, st, data[:300]))
        return json.loads(data)

    rng = random.Random(17)
    for _ in range(rounds):
        page = get("")
        for k in range(1, pages):
            if page.get("next"):
                page = get("&after=%s" % page["next"])
            else:
                page = get("&offset=%d" % (50 * k))
        cursor = "next" in page
        for _ in range(jumps):
            at = rng.randrange(max(1, n - 50))
            get("&after=%d" % at if cursor else "&offset=%d" % at)
    return sorted(ms)


def million(args, build, workdir, table, image):
    """Issue 17: a million devices bulk-imported, a job for all of them, the device
    list paged on that database; admind's memory and idle CPU afterwards."""
    n = args.million
    tag = "6 million"
    otad = Otad(build, workdir, "otad-million").start()
    try:
        admind = otad.pid("admind")
        cpu_start = proc_cpu(admind)
        t = import_devices(otad, n)
        table.add(tag, "bulk import of %d devices (CSV, 10,000 a request)" % n,
                  "%.0f devices/s (%.1f s, admind CPU %.1f s)" % (
                      n / t, t, proc_cpu(admind) - cpu_start))
        a = otad.admin()
        st, data = a.upload("/admin/firmware", image)
        if st != 201:
            raise Broken("POST /admin/firmware -> %d %r" % (st, data[:300]))
        fw = json.loads(data)["id"]
        time.sleep(1.0)
        db0, files0 = otad.db_size(), db_files(otad)
        rss0 = proc_status(admind, "VmRSS")
        reset_hwm(admind)
        cpu0 = proc_cpu(admind)
        t0 = time.monotonic()
        st, data = a.request("POST", "/admin/jobs", body=json.dumps(
            {"firmware_id": fw, "all": True}).encode(),
            headers={"Content-Type": "application/json"}, timeout=600)
        secs = time.monotonic() - t0
        cpu = proc_cpu(admind) - cpu0
        if st != 201:
            raise Broken("POST /admin/jobs all -> %d %r" % (st, data[:300]))
        job = json.loads(data)["id"]
        table.add(tag, "job for all %d devices: POST /admin/jobs answered in" % n,
                  "%.2f s (admind CPU %.2f s)" % (secs, cpu), target="<= 1 s")
        t0 = time.monotonic()
        st, data = a.request("GET", "/admin/jobs/%d" % job)
        table.add(tag, "GET /admin/jobs/ID (counts per state) on that job",
                  "%.0f ms" % (1000.0 * (time.monotonic() - t0)))
        time.sleep(1.0)
        db1, files1 = otad.db_size(), db_files(otad)
        table.add(tag, "database bytes per delivery (pages; db file + WAL on disk)",
                  "%.0f B; %s + %s -> %s + %s" % ((db1 - db0) / n, fmt_bytes(files0[0]),
                                                 fmt_bytes(files0[1]), fmt_bytes(files1[0]),
                                                 fmt_bytes(files1[1])))
        table.add(tag, "admind RSS before / after the job (peak)", "%s / %s (%s)" % (
            fmt_bytes(rss0), fmt_bytes(proc_status(admind, "VmRSS")),
            fmt_bytes(proc_status(admind, "VmHWM"))))
        cpu = cpu_window({"admind": admind}, args.million_idle)["admind"]
        table.add(tag, "admind CPU at rest with that job, no device online (%.0f s)"
                  % args.million_idle, "%.1f%% of a core" % cpu)
        for query, what, matches in (
                ("", "all devices", n),
                ("tag=site-7", "?tag=site-7 (1 in %d)" % MILLION_SITES, n // MILLION_SITES),
                ("q=bench-12345", "?q=bench-12345 (a name, ~11 match)", 11),
                ("q=bench-9", "?q=bench-9 (~1 in 9 match)", n // 9)):
            ms = list_pages(a, query, matches)
            table.add(tag, "GET /admin/devices %s, pages of 50: p50 / p99" % what,
                      "%.1f / %.1f ms" % (percentile(ms, 0.5), percentile(ms, 0.99)),
                      target="p99 <= 50 ms")
        a.close()
    finally:
        otad.stop()


# -- scenario 7: otad nodes sharing PostgreSQL (issue 18) -----------------------------

CLUSTER_NODES = ("a", "b", "c")


def proc_pss(pid):
    """Proportional set size of pid in bytes (shared pages split among the processes
    mapping them: PostgreSQL's shared buffers counted once over its processes)."""
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def cluster_memory(nodes, pgpid):
    """{daemon: bytes}: VmRSS of every node's hwd, admind and fwstore summed, and the
    PSS of PostgreSQL's processes (the postmaster and its children)."""
    out = {n: sum(o.rss(n) for o in nodes) for n in ("hwd", "admind", "fwstore")}
    out["postgres"] = sum(proc_pss(p) for p in family(pgpid))
    return out


def cluster_cpu(nodes, pgpid):
    """CPU seconds of every node's fwstore and admind, and of PostgreSQL."""
    out = {n: sum(o.cpu(n) for o in nodes) for n in ("fwstore", "admind")}
    out["postgres"] = sum(proc_cpu(p) for p in family(pgpid))
    return out


def versus(ours, single, fmt):
    """(the single node's figure, the ratio cluster/single) for a table row."""
    if single is None:
        return "n/a (not run)", "n/a"
    return fmt % single, ratio(ours, single)


def cluster(args, build, workdir, table, problems, ctx, image, image_path):
    """Issue 18: three nodes on one PostgreSQL (a throwaway server, tests/e2e/pg.py),
    args.cluster_devices devices logged in on each: logins/s, RSS per device, a job
    for all of them, downloads from every node; beside the single node's figures of
    the same run (ctx) where there are some."""
    import pg   # tests/e2e/pg.py
    tag = "7 cluster"
    n = args.cluster_devices
    total = n * len(CLUSTER_NODES)
    why = pg.available()
    if why:
        raise Broken("cluster: " + why)
    srv, nodes, fleet = pg.PostgresServer(), [], None
    try:
        srv.start()
        uri = srv.uri(srv.create_database())
        pgpid = srv.postmaster_pid()
        for name in CLUSTER_NODES:
            nodes.append(Otad(build, workdir, "otad-node-" + name, database=uri,
                              node=name).start())
        table.add(tag, "%d nodes (hwd / fwstore workers 1 each) on PostgreSQL 15 "
                  "(loopback, shared_buffers 16 MB, fsync off)" % len(nodes),
                  "%d devices each" % n)
        t = import_devices(nodes[0], total)
        table.add(tag, "POST /admin/devices/import on node a (10,000 a request)",
                  "%.0f/s (%d in %.1f s)" % (total / t, total, t))
        time.sleep(0.5)
        mem0 = cluster_memory(nodes, pgpid)
        fleets = [Fleet(args.loadgen, "blynk", o.hwd_port, n, args.cluster_procs,
                        args.hbeat, args.inflight, ctx["net"], first=k * n,
                        lane=50 + 10 * k, ready=False) for k, o in enumerate(nodes)]
        fleet = Fleet.together([f.wait_ready() for f in fleets])
        if fleet.failed:
            problems.append("cluster: %d of %d devices could not log in"
                            % (fleet.failed, total))
        rate = fleet.ok / fleet.secs
        single, r = versus(rate, ctx.get("logins_s"), "%.0f (1 node, 1 hwd worker)")
        table.add(tag, "logins/s over the %d nodes (%d devices at once, %d generator "
                  "procs) vs one SQLite node" % (len(nodes), total, len(fleet.procs)),
                  "%.0f" % rate, single, "", r)
        time.sleep(args.settle)
        mem1 = cluster_memory(nodes, pgpid)
        cluster_memory_rows(table, tag, ctx, mem0, mem1, max(fleet.ok, 1))
        urls = cluster_fanout(args, nodes, fleet, table, problems, ctx, image)
        fleet.stop()
        fleet = None
        for o in nodes:
            wait_idle(o.pid("admind"), 120.0)   # the devices' offline reports
        cluster_downloads(args, nodes, pgpid, urls, table, problems, ctx, image_path)
    finally:
        if fleet is not None:
            fleet.stop()
        if problems:
            for o in nodes:
                log("node %s, its most frequent warnings:\n%s" % (o.node,
                                                                  o.log_warnings()))
        for o in nodes:
            o.stop()
        srv.finish()


def cluster_memory_rows(table, tag, ctx, mem0, mem1, ok):
    per = {k: (mem1[k] - mem0[k]) / ok for k in mem1}
    allper = sum(per.values())
    single, r = versus(allper, ctx.get("hwd_per"), "%.0f B (1 node: hwd workers + admind)")
    table.add(tag, "RSS per online device: every node's hwd + admind + fwstore, and "
              "PostgreSQL (PSS) vs one SQLite node", "%.0f B (%.0f + %.0f + %.0f, %.0f)"
              % (allper, per["hwd"], per["admind"], per["fwstore"], per["postgres"]),
              single, "", r)
    table.add(tag, "memory before / after the logins: hwd, admind, fwstore (3 nodes); "
              "PostgreSQL PSS", "%s" % ", ".join("%s / %s" % (fmt_bytes(mem0[k]),
                                                               fmt_bytes(mem1[k]))
                                                 for k in mem1))


def cluster_fanout(args, nodes, fleet, table, problems, ctx, image):
    """A job on node a for every device of the three nodes, max_parallel all of them:
    the time from the POST to each device's ota frame.  Returns {fwstore port: ticket
    paths} of the frames."""
    tag = "7 cluster"
    a = nodes[0].admin()
    try:
        st, data = a.upload("/admin/firmware", image)
        if st != 201:
            raise Broken("cluster: POST /admin/firmware -> %d %r" % (st, data[:300]))
        body = json.dumps({"firmware_id": json.loads(data)["id"], "all": True,
                           "max_parallel": max(fleet.ok, 1)})
        t0 = time.time_ns()
        st, data = a.request("POST", "/admin/jobs", body=body,
                             headers={"Content-Type": "application/json"}, timeout=900)
        post = (time.time_ns() - t0) / 1e9
    finally:
        a.close()
    if st != 201:
        raise Broken("cluster: POST /admin/jobs -> %d %r" % (st, data[:300]))
    rows, lost = fanout_wait(args, fleet, ctx, t0, limit=4 * args.fanout_wait)
    if lost:
        problems.append("cluster: %d logged-in devices were disconnected" % lost)
    one = ctx.get("fanout_single")
    table.add(tag, "POST /admin/jobs on node a (all, max_parallel %d) answered in vs "
              "one SQLite node" % fleet.ok, "%.3f s" % post,
              "%.3f s (1 node, %d devices)" % (one["post"], one["devices"]) if one
              else "n/a (not run)", "", ratio(post, one and one["post"]))
    lat = sorted((ns - t0) / 1e9 for _, ns, _ in rows)
    table.add(tag, "devices with their ota frame", "%d of %d" % (len(rows), fleet.ok),
              target="all")
    if len(rows) < fleet.ok:
        problems.append("cluster: %d of %d online devices heard no ota frame"
                        % (fleet.ok - len(rows), fleet.ok))
    if lat:
        figs = (percentile(lat, 0.5), percentile(lat, 0.99), lat[-1])
        theirs = None
        if one and one["lat"]:
            sl = one["lat"]
            theirs = (percentile(sl, 0.5), percentile(sl, 0.99), sl[-1])
        table.add(tag, "time to the frame from the POST: p50 / p99 / last, vs one "
                  "SQLite node", "%.3f / %.3f / %.3f s" % figs,
                  "%.3f / %.3f / %.3f s (%d devices)" % (theirs + (one["devices"],))
                  if theirs else "n/a (not run)", "last <= 1 s",
                  ratio(figs[2], theirs[2]) if theirs else "n/a")
    urls = {}
    for _, _, u in rows:
        m = re.match(r"^http://[^/]*:(\d+)(/.*)$", u)
        if m:
            urls.setdefault(int(m.group(1)), set()).add(m.group(2))
    ports = {o.fw_port: o.node for o in nodes}
    table.add(tag, "ota frames naming each node's fwstore (a / b / c)", " / ".join(
        "%d" % len(urls.get(o.fw_port, ())) for o in nodes))
    stray = [p for p in urls if p not in ports]
    if stray:
        problems.append("cluster: ota frames name ports no node listens on: %r" % stray)
    return {p: sorted(v) for p, v in urls.items() if p in ports}


def cluster_downloads(args, nodes, pgpid, urls, table, problems, ctx, image_path):
    """The tickets of the fan-out from the node each names: each once; then
    args.downloads over the nodes (a third each, args.conc / 3 at a time on each,
    all nodes at once), every node given the same tickets whichever node named
    them (tickets and images work on every node, as behind a load balancer):
    throughput, p50 / p99 of all, CPU per download of every fwstore + admind
    and PostgreSQL."""
    tag = "7 cluster"
    per = max(1, len(nodes))
    conc = max(1, args.conc // per)
    own = [(o, urls.get(o.fw_port, [])[:max(100, conc)]) for o in nodes]
    pool = sorted(u for _, v in own for u in v)
    if not pool:
        problems.append("cluster: no ticket to download")
        return

    def run_all(jobs, count, kind):
        res, errs = {}, []

        def one(k, o, u):
            try:
                res[k] = download(args.loadgen, o.fw_port, u, image_path,
                                  count(u), min(conc, count(u)), ctx["net"],
                                  ctx["workdir"], "%s-%s" % (kind, o.node), lane=201 + k)
            except Broken as e:
                errs.append(str(e))

        ts = [threading.Thread(target=one, args=(k, o, u))
              for k, (o, u) in enumerate(jobs)]
        t0 = time.monotonic()
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        wall = time.monotonic() - t0
        if errs:
            raise Broken("cluster: " + errs[0])
        for k, (o, _) in enumerate(jobs):
            check_download(res[k], "cluster node %s" % o.node, problems)
        return [res[k] for k in range(len(jobs))], wall

    first, wall = run_all([(o, u) for o, u in own if u], len, "first")
    table.add(tag, "first download of each ticket, on the node it names (a / b / c: "
              "%s): seconds" % " / ".join(str(len(u)) for _, u in own), "%.2f s" % wall)
    for o in nodes:
        wait_idle(o.pid("admind"), 120.0)
    cpu0 = cluster_cpu(nodes, pgpid)
    runs, wall = run_all([(o, pool) for o in nodes], lambda u: args.downloads // per,
                         "cluster")
    cpu = cluster_cpu(nodes, pgpid)
    cpu = {k: cpu[k] - cpu0[k] for k in cpu}
    ok = sum(r["ok"] for r in runs)
    secs = max(r["secs"] for r in runs)
    mbs = sum(r["bytes"] for r in runs) / MiB / secs
    lat = []
    for o in nodes:
        with open(os.path.join(ctx["workdir"], "lat-cluster-%s.txt" % o.node)) as f:
            lat.extend(int(x) / 1e6 for x in f.read().split())
    lat.sort()
    one = ctx.get("download_single")
    what = "%d x 1 MiB over %d nodes, %d at a time on each, %d tickets" % (
        ok, per, conc, len(pool))
    single, r = versus(mbs, one and one["bytes"] / MiB / one["secs"],
                       "%.0f (1 node, fwstore 1 worker)")
    table.add(tag, "throughput, MiB/s (%s) vs one SQLite node" % what, "%.0f" % mbs,
              single, "", r)
    single, r = versus(ok / secs, one and one["ok"] / one["secs"], "%.0f")
    table.add(tag, "downloads/s vs one SQLite node", "%.0f" % (ok / secs), single, "", r)
    table.add(tag, "full download p50 / p99 (all nodes) vs one SQLite node",
              "%.0f / %.0f ms" % (percentile(lat, 0.5), percentile(lat, 0.99)),
              "%.0f / %.0f ms" % (one["p50_ms"], one["p99_ms"]) if one else "n/a (not run)",
              "", ratio(percentile(lat, 0.99), one and one["p99_ms"]))
    us = 1e6 * sum(cpu.values()) / max(ok, 1)
    table.add(tag, "CPU per download: fwstore + admind (3 nodes) + PostgreSQL vs one "
              "SQLite node", "%.0f us (%.0f + %.0f + %.0f)" % (
                  us, 1e6 * cpu["fwstore"] / max(ok, 1), 1e6 * cpu["admind"] / max(ok, 1),
                  1e6 * cpu["postgres"] / max(ok, 1)),
              "%.0f us" % (1e6 * one["cpu"] / max(one["ok"], 1)) if one else "n/a (not run)",
              "", ratio(us, one and 1e6 * one["cpu"] / max(one["ok"], 1)))
    table.add(tag, "ok / 503 / other status / errors", "%d / %d / %d / %d" % tuple(
        sum(r[k] for r in runs) for k in ("ok", "busy", "bad_status", "errors")))


def mosquitto_fleet(args, peers, workdir, table, problems, ctx):
    if not peers.get("mosquitto"):
        table.add("1 idle fleet", "RSS per idle connection (mosquitto)", "", "n/a")
        return
    p, port = start_mosquitto(peers["mosquitto"], workdir)
    try:
        time.sleep(0.3)
        rss0 = proc_status(p.pid, "VmRSS")
        cpu0 = proc_cpu(p.pid)
        fleet = Fleet(args.loadgen, "mqtt", port, args.login_devices, args.login_procs,
                      args.hbeat, args.inflight, ctx["net"])
        cpu_connect = proc_cpu(p.pid) - cpu0
        try:
            if fleet.failed:
                problems.append("mosquitto: %d of %d clients could not connect"
                                % (fleet.failed, args.login_devices))
            time.sleep(args.settle)
            rss1 = proc_status(p.pid, "VmRSS")
            gen_cpu = fleet.cpu()
            cpu = cpu_window({"m": p.pid}, args.rest)
        finally:
            fleet.stop()
        per = (rss1 - rss0) / max(fleet.ok, 1)
        for key, what in (("hwd_per", "RSS per idle device at %d (hwd workers + admind) "
                           "vs per connection at %d (mosquitto)"
                           % (args.devices, args.login_devices)),
                          ("hwd_per_1", "RSS per idle connection at %d: hwd (1 worker) vs "
                           "mosquitto" % args.login_devices)):
            hw = ctx.get(key)
            table.add("1 idle fleet", what, "%.0f B" % hw if hw is not None else "n/a",
                      "%.0f B" % per, "<= 1.0x mosquitto",
                      ratio(hw, per) if hw is not None else "n/a")
        rate = fleet.ok / fleet.secs
        table.add("1 idle fleet", "logins/s vs connects/s (mosquitto, CONNECT+CONNACK)",
                  "%.0f" % ctx["logins_s"] if "logins_s" in ctx else "n/a",
                  "%.0f" % rate, "", ratio(ctx.get("logins_s"), rate))
        table.add("1 idle fleet", "CPU per connect: mosquitto / generator", "",
                  "%.0f / %.0f us" % (1e6 * cpu_connect / max(fleet.ok, 1),
                                      1e6 * gen_cpu / max(fleet.ok, 1)))
        table.add("1 idle fleet", "CPU at rest (mosquitto)", "", "%.1f%% of a core"
                  % cpu["m"])
    finally:
        stop_proc(p)


# -- main -----------------------------------------------------------------------------

def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--full", action="store_true", help="the full benchmark")
    ap.add_argument("--build", default=os.environ.get("OTAD_BUILD"),
                    help="meson build directory (default $OTAD_BUILD, else build-w4 or "
                    "build beside this script)")
    ap.add_argument("--devices", "-N", type=int, help="idle devices (quick 2000, full "
                    "100000: one hwd worker holds at most ~19,900 sockets here)")
    ap.add_argument("--hwd-workers", type=int, help="hwd workers for the idle fleet "
                    "(default: one per 19,000 devices, at least 2)")
    ap.add_argument("--login-devices", type=int, help="devices of the logins/s runs with "
                    "hwd workers 1 and 2, and of mosquitto (quick 2000, full 19000)")
    ap.add_argument("--procs", type=int, help="generator processes for the idle fleet")
    ap.add_argument("--hbeat", type=int, default=45, help="device heartbeat, s (45)")
    ap.add_argument("--inflight", type=int, default=256,
                    help="logins in flight per generator process (256)")
    ap.add_argument("--downloads", "-T", type=int, help="downloads per measured pass (quick 2000, full 20000)")
    ap.add_argument("--conc", "-C", type=int, help="concurrent downloaders (quick 100, "
                    "full 1000)")
    ap.add_argument("--upload-mib", type=int, default=16, help="upload size, MiB (16)")
    ap.add_argument("--sched-devices", type=int, help="devices for the scheduler (quick "
                    "2000, full 100000)")
    ap.add_argument("--million", type=int, help="devices of scenario 6 (quick 5000, full "
                    "1000000)")
    ap.add_argument("--rest", type=float, help="seconds of CPU-at-rest measure")
    ap.add_argument("--no-peers", action="store_true", help="otad only")
    ap.add_argument("--no-install", action="store_true",
                    help="do not apt-get install missing peers")
    ap.add_argument("--check-peers", action="store_true",
                    help="install the peers if needed; exit 0 when both are there, else 4")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--cluster", action="store_true",
                    help="scenario 7 too, after the others: three otad nodes on one "
                    "PostgreSQL 15 started in a temporary directory")
    ap.add_argument("--cluster-devices", type=int, help="devices logged in on each of "
                    "the three nodes of scenario 7 (quick 2000, full 19000)")
    ap.add_argument("--only", choices=("downloads", "million", "cluster"),
                    help="one scenario alone: downloads (a fleet of -C devices for the "
                    "tickets, then scenario 3), million (scenario 6) or cluster "
                    "(scenario 7, no single-node figures beside it)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="measured download passes per server, alternately; medians (1)")
    a = ap.parse_args()
    full = a.full
    a.devices = a.devices or (100000 if full else 2000)
    a.hwd_workers = a.hwd_workers or max(2, int(math.ceil(a.devices / 19000)))
    a.login_devices = a.login_devices or (19000 if full else 2000)
    a.procs = a.procs or max(2, int(math.ceil(a.devices / 9500)))
    a.login_procs = max(2, int(math.ceil(a.login_devices / 9500)))
    a.downloads = a.downloads or (20000 if full else 2000)
    a.conc = a.conc or (1000 if full else 100)
    a.sched_devices = a.sched_devices or (100000 if full else 2000)
    a.million = a.million or (1000000 if full else 5000)
    a.million_idle = 20.0 if full else 2.0
    a.cluster_devices = a.cluster_devices or (19000 if full else 2000)
    a.cluster_procs = max(1, int(math.ceil(a.cluster_devices / 9500)))
    a.rest = a.rest if a.rest is not None else (10.0 if full else 2.0)
    a.settle = 3.0 if full else 1.0
    a.fanout_wait = 30.0 if full else 5.0
    if a.build is None:
        for d in ("build-w4", "build"):
            if os.path.isdir(os.path.join(ROOT, d)):
                a.build = os.path.join(ROOT, d)
                break
    a.build = os.path.abspath(a.build or "build")
    a.loadgen = os.path.join(a.build, "bench", "otad-loadgen")
    return a


def machine():
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    return "%s, %d cores, %.0f GiB, %s" % (time.strftime("%Y-%m-%d %H:%M"),
                                           os.cpu_count(), mem / 2**30,
                                           os.uname().release)


def main():
    args = parse_args()
    if args.check_peers:
        peers = ensure_peers(not args.no_install)
        missing = [k for k, v in peers.items() if not v]
        print("peers: " + ", ".join("%s %s" % (k, v or "missing") for k, v in peers.items()))
        return 4 if missing else 0
    for p in [args.loadgen] + [os.path.join(args.build, d, n) for d, n in (
            ("otad", "otad"), ("hwd", "otad-hwd"), ("admind", "otad-admind"),
            ("fwstore", "otad-fwstore"))]:
        if not os.access(p, os.X_OK):
            print("bench: %s is not built (meson setup %s --buildtype=release && ninja -C "
                  "%s)" % (p, args.build, args.build), file=sys.stderr)
            return 2
    peers = {} if args.no_peers or args.only else ensure_peers(not args.no_install)
    workdir = tempfile.mkdtemp(prefix="otad-bench-")
    os.chmod(workdir, 0o755)
    ctx = {"workdir": workdir, "net": random.randint(10, 250)}
    table, problems = Table(), []
    image = images.esp8266_image(version="9.0.0", build="Jan 01 2027 12:00:00", size=MiB)
    image_path = os.path.join(workdir, "fw-1mib.bin")
    with open(image_path, "wb") as f:
        f.write(image)
    otad = None
    t_start = time.monotonic()
    if args.only == "downloads":
        args.devices = max(100, args.conc)
    try:
        if args.only == "million":
            log("million: %d devices" % args.million)
            million(args, args.build, workdir, table, image)
            raise Done()
        if args.only == "cluster":
            log("cluster: 3 nodes, %d devices each" % args.cluster_devices)
            cluster(args, args.build, workdir, table, problems, ctx, image, image_path)
            raise Done()
        for w in (1, 2) if args.only is None else ():
            log("logins: %d devices, hwd workers %d" % (args.login_devices, w))
            logins(args, args.build, workdir, table, problems, ctx, w)
        log("otad: %d devices, %d hwd workers, %d generator processes"
            % (args.devices, args.hwd_workers, args.procs))
        otad = Otad(args.build, workdir, "otad", hwd_workers=args.hwd_workers).start()
        idle_fleet(args, otad, table, problems, ctx)
        log("fan-out")
        fanout(args, otad, table, problems, ctx, image)
        ctx["fleet"].stop()
        wait_idle(otad.pid("admind"), 600.0)   # the devices' offline reports
        # the upload before the downloads: these restart otad with two
        # fwstore workers, and a new admind's first write transaction
        # reads its database in (a transient the upload would be blamed for)
        if args.only is None:
            log("upload %d MiB" % args.upload_mib)
            upload(args, otad, table, problems)
        log("downloads: %d, %d at a time" % (args.downloads, args.conc))
        downloads(args, otad, table, problems, ctx, image_path, peers)
        otad.stop()
        otad = None
        if args.only is None:
            log("mosquitto: %d clients" % args.login_devices)
            mosquitto_fleet(args, peers, workdir, table, problems, ctx)
            log("scheduler: %d devices" % args.sched_devices)
            scheduler(args, args.build, workdir, table, image)
            log("million: %d devices" % args.million)
            million(args, args.build, workdir, table, image)
            if args.cluster:
                log("cluster: 3 nodes, %d devices each" % args.cluster_devices)
                cluster(args, args.build, workdir, table, problems, ctx, image,
                        image_path)
        else:
            table.rows = [r for r in table.rows if r[0] == "3 download"]
    except Done:
        pass
    except Broken as e:
        problems.append(str(e))
    finally:
        if ctx.get("fleet"):
            ctx["fleet"].stop()
        if otad is not None:
            if problems:
                log("otad log tail:\n" + otad.log_tail())
            otad.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            log("kept " + workdir)
    table.show("otad benchmark (%s mode%s), %s, %.0f s" % (
        "full" if args.full else "quick", ", %s only" % args.only if args.only else
        ", with the cluster" if args.cluster else "",
        machine(), time.monotonic() - t_start))
    for p in problems:
        print("BROKEN: " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
