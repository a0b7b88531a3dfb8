# SPDX-License-Identifier: MIT
"""The Debian package under a real systemd (issue 7).

Builds the .deb with packaging/build-deb.sh, runs lintian on it, then boots a minimal
Debian 12 with systemd in a container (debootstrap once into a cached tree, then
`systemd-nspawn --ephemeral --boot`), installs the .deb there as `apt install ./otad.deb`
would and checks what an operator sees: otad.target active, the three services under
their own users, the seed's curl upload reaching a device connected to the container's
hwd, the device's journal lines, the man pages and docs in place, an admin added with
`otad admin add` logging in after `systemctl reload otad-admind` (and refused once
removed), nothing lost over `systemctl restart otad.target` and a reinstall, and nothing
left after `apt purge`.

Needs root, debootstrap, systemd-container, lintian, debhelper, dpkg-dev (scripts/deps.sh
test installs them). The tree is cached in $OTAD_TEST_CACHE (default
/var/cache/otad-test); the mirror is the URIs: value of the machine's own apt source.
The test skips, saying why, only when the container cannot be made or booted here.
"""

import fcntl
import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest

import admin as admin_mod
import blynk
import checks
import images
from conftest import free_ports, rewrite_ini

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CACHE = os.environ.get("OTAD_TEST_CACHE", "/var/cache/otad-test")
TREE = os.path.join(CACHE, "bookworm")
SOURCES = "/etc/apt/sources.list.d/debian.sources"
# What the package depends on, so that `apt install ./otad.deb` needs no download.
TREE_PACKAGES = ("systemd,systemd-sysv,dbus,libuv1,libsqlite3-0,libinih1,libssl3,libpq5,"
                 "libcurl4,openssl,passwd,procps,"
                 # `man -w` finds the pages as an operator's man would
                 "man-db")
TOOLS = ("debootstrap", "systemd-nspawn", "nsenter", "lintian", "dpkg-buildpackage")
UNITS = ("otad-admind", "otad-hwd", "otad-fwstore")
USERS = {"otad-admind": "otad-admin", "otad-hwd": "otad-hwd", "otad-fwstore": "otad-fw"}
BOOT_TIMEOUT = 60


def log(msg):
    print("package test: " + msg, flush=True)


def run(argv, timeout=300, check=True, **kw):
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout, **kw)
    out = r.stdout.decode("utf-8", "replace")
    if check and r.returncode != 0:
        pytest.fail("$ %s\nexit %d\n%s" % (" ".join(argv), r.returncode, out[-6000:]))
    return r.returncode, out


def mirror():
    """The URIs: value of the machine's own Debian source (read, never stored)."""
    try:
        with open(SOURCES) as f:
            for line in f:
                if line.startswith("URIs:"):
                    return line.split()[1]
    except OSError:
        pass
    return None


def ensure_tree():
    """The cached Debian 12 tree with systemd and the package's dependencies; made
    once (about 30 s), under a lock so that concurrent runs share it."""
    os.makedirs(CACHE, exist_ok=True)
    stamp = os.path.join(TREE, ".otad-packages")
    with open(os.path.join(CACHE, "bookworm.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with open(stamp) as f:
                if f.read().strip() == TREE_PACKAGES:
                    return
        except OSError:
            pass
        url = mirror()
        if url is None:
            pytest.skip("no URIs: line in %s: no mirror to debootstrap from" % SOURCES)
        tmp = TREE + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        log("debootstrap bookworm into %s (once)" % TREE)
        rc, out = run(["debootstrap", "--variant=minbase", "--include=" + TREE_PACKAGES,
                       "bookworm", tmp, url], timeout=600, check=False)
        if rc != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            pytest.skip("cannot debootstrap a Debian 12 tree here (exit %d):\n%s"
                        % (rc, out[-2000:]))
        # The tree installs local .debs only: keep no mirror in it.
        for p in ("etc/apt/sources.list",):
            try:
                os.unlink(os.path.join(tmp, p))
            except OSError:
                pass
        with open(os.path.join(tmp, ".otad-packages"), "w") as f:
            f.write(TREE_PACKAGES + "\n")
        shutil.rmtree(TREE, ignore_errors=True)
        os.rename(tmp, TREE)


class Container:
    """An ephemeral systemd-nspawn boot of the cached tree; /srv/package holds the .deb."""

    def __init__(self, deb_dir, workdir):
        self.deb_dir = deb_dir
        self.log_path = os.path.join(workdir, "nspawn.log")
        self.proc = None
        self.pid = None

    def boot(self):
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            ["timeout", "600", "systemd-nspawn", "-D", TREE, "--ephemeral", "--boot",
             "--register=no", "--keep-unit", "--quiet",
             # nspawn's own seccomp filter (v252) lacks Landlock
             "--system-call-filter=landlock_create_ruleset landlock_add_rule "
             "landlock_restrict_self",
             "--bind-ro=%s:/srv/package" % self.deb_dir],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + BOOT_TIMEOUT
        state = ""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if self.pid is None:
                self.pid = self._find_init()
            if self.pid is not None:
                rc, state = self.sh("systemctl is-system-running --wait", check=False,
                                    timeout=30)
                state = state.strip()
                if state in ("running", "degraded"):
                    return
            time.sleep(0.2)
        self.stop()
        pytest.skip("cannot boot systemd in a container here (state %r):\n%s"
                    % (state, self.log_tail()))

    def _find_init(self):
        """The container's systemd: a descendant of our nspawn named systemd."""
        kids = {}
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % d) as f:
                    st = f.read()
            except OSError:
                continue
            comm = st[st.index("(") + 1:st.rindex(")")]
            ppid = int(st[st.rindex(")") + 2:].split()[1])
            kids.setdefault(ppid, []).append((int(d), comm))
        todo = [self.proc.pid]
        while todo:
            for pid, comm in kids.get(todo.pop(), []):
                if comm == "systemd":
                    return pid
                todo.append(pid)
        return None

    def sh(self, script, check=True, timeout=120, input=None):
        return run(["nsenter", "-t", str(self.pid), "-a", "/bin/sh", "-c", script],
                   check=check, timeout=timeout, input=input)

    def stop(self):
        if self.proc is None:
            return
        if self.pid is not None and self.proc.poll() is None:
            run(["nsenter", "-t", str(self.pid), "-a", "systemctl", "poweroff"],
                check=False, timeout=30)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, 9)
            self.proc.wait()
        self.log.close()

    def log_tail(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")[-3000:]
        except OSError:
            return "(no log)"


@pytest.fixture(scope="module")
def pkg():
    """The .deb, lintian's verdict, and the container with the .deb installed."""
    if os.geteuid() != 0:
        pytest.skip("the package test boots a container: it needs root")
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.skip("missing %s (scripts/deps.sh test installs them)" % ", ".join(missing))
    work = tempfile.mkdtemp(prefix="otad-pkg-")
    st = type("Pkg", (), {})()
    st.work = work
    st.deb_dir = os.path.join(work, "deb")
    env = dict(os.environ, DEB_BUILD_OPTIONS="nocheck")
    t0 = time.monotonic()
    rc, out = run([os.path.join(REPO, "packaging", "build-deb.sh"), st.deb_dir],
                  timeout=600, env=env)
    st.deb = out.strip().splitlines()[-1]
    log("built %s in %.0f s" % (os.path.basename(st.deb), time.monotonic() - t0))
    ensure_tree()
    st.hwd_port, st.admin_port, st.fw_port = free_ports(3)
    st.c = Container(st.deb_dir, work)
    st.c.boot()
    try:
        install(st)
        yield st
    finally:
        st.c.stop()
        shutil.rmtree(work, ignore_errors=True)


def install(st):
    """The packaged otad.conf with this run's loopback ports, put in place before the
    install (kept by --force-confold), so the first start already uses them."""
    conf = os.path.join(st.work, "otad.conf")
    shutil.copy(os.path.join(REPO, "packaging", "otad.conf"), conf)
    rewrite_ini(conf, {
        "hwd": {"listen": "127.0.0.1:%d" % st.hwd_port},
        "admind": {"listen": "127.0.0.1:%d" % st.admin_port},
        "fwstore": {"listen": "127.0.0.1:%d" % st.fw_port},
    })
    with open(conf, "rb") as f:
        st.c.sh("mkdir -p /etc/otad && cat > /etc/otad/otad.conf", input=f.read())
    rc, st.install_out = st.c.sh(
        "DEBIAN_FRONTEND=noninteractive apt-get install -y -o "
        "Dpkg::Options::=--force-confold /srv/package/%s" % os.path.basename(st.deb))
    log("apt install:\n" + st.install_out[-1500:])
    rc, pw = st.c.sh("cat /etc/otad/admin-password")
    st.password = pw.strip()
    wait_ready(st)


def wait_ready(st, timeout=20):
    """otad.target active and the admin API answering."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        rc, out = st.c.sh("systemctl is-active otad.target " + " ".join(UNITS),
                          check=False)
        last = out
        if rc == 0:
            try:
                r = admin(st).request("GET", "/admin/devices")
                if r.status == 200:
                    return
                last = "GET /admin/devices -> %d" % r.status
            except OSError as e:
                last = "admin API: %s" % e
        time.sleep(0.2)
    rc, status = st.c.sh("systemctl status --no-pager -l otad.target %s; "
                         "journalctl --no-pager -n 60 -u 'otad*'" % " ".join(UNITS),
                         check=False)
    pytest.fail("otad not ready %d s after install: %s\n%s" % (timeout, last, status))


def admin(st):
    return admin_mod.Admin("127.0.0.1", st.admin_port, password=st.password)


def test_lintian_no_errors(pkg):
    rc, out = run(["lintian", "--no-tag-display-limit", pkg.deb], check=False, timeout=300)
    log("lintian:\n" + out)
    errors = [l for l in out.splitlines() if l.startswith("E:")]
    assert not errors, "lintian errors:\n" + "\n".join(errors)
    # issue 19: every command and daemon has its page
    assert "no-manual-page" not in out, out


PAGES = ("otad", "otad.conf", "otad-hwd", "otad-admind", "otad-fwstore")


def test_man_pages_and_docs(pkg):
    rc, out = pkg.c.sh("for p in %s; do man -w $p; done" % " ".join(PAGES), check=False)
    log("man -w: " + out)
    found = out.split()
    assert rc == 0 and len(found) == len(PAGES), out
    for page, path in zip(PAGES, found):
        assert re.match(r"/usr/share/man/man[158]/%s\.[158](\.gz)?$" % re.escape(page),
                        path), (page, path)
    rc, out = pkg.c.sh("zcat -f %s" % found[1], check=False)
    assert "trusted_proxies" in out and "admins_file" in out, out[:3000]
    rc, out = pkg.c.sh("ls /usr/share/doc/otad")
    log("/usr/share/doc/otad: " + out)
    names = out.split()
    for doc in ("README.md", "NEWS.md"):
        assert doc in names or doc + ".gz" in names, out
    for unit in UNITS:
        rc, out = pkg.c.sh("systemctl show -p Documentation --value %s" % unit)
        assert "man:%s(8)" % unit in out, out


def wait_login(adm, user, password, status, timeout=5):
    """Until GET /admin/devices as user answers status (the reload is asynchronous)."""
    deadline = time.monotonic() + timeout
    while True:
        got = adm.request("GET", "/admin/devices", user=user, password=password).status
        if got == status:
            return
        assert time.monotonic() < deadline, "%s: %d, not %d, %d s after the reload" % (
            user, got, status, timeout)
        time.sleep(0.1)


def test_admin_add_then_reload(pkg):
    """`otad admin add` as root, `systemctl reload otad-admind`: the new admin logs in
    without a restart; removed and reloaded, it is refused."""
    adm = admin(pkg)
    rc, pid = pkg.c.sh("systemctl show -p MainPID --value otad-admind")
    rc, out = pkg.c.sh("printf 'package test pw\\n' | otad admin add carol")
    assert "added admin carol" in out, out
    rc, out = pkg.c.sh("stat -c '%a %U:%G' /etc/otad/admins; otad admin list")
    assert out.split("\n")[:3] == ["640 root:otad-admin", "admin", "carol"], out
    assert adm.request("GET", "/admin/devices", user="carol",
                       password="package test pw").status == 401
    pkg.c.sh("systemctl reload otad-admind")
    wait_login(adm, "carol", "package test pw", 200)
    rc, out = pkg.c.sh("journalctl --no-pager -o cat -u otad-admind --grep 'added carol'",
                       check=False)
    assert "reloaded /etc/otad/admins: added carol" in out, out
    pkg.c.sh("otad admin remove carol && systemctl reload otad-admind")
    wait_login(adm, "carol", "package test pw", 401)
    assert adm.request("GET", "/admin/devices").status == 200
    rc, now = pkg.c.sh("systemctl show -p MainPID --value otad-admind")
    assert now == pid, "otad-admind restarted instead of reloading"


def test_units_verify_and_security(pkg):
    units = " ".join("/lib/systemd/system/%s.service" % u for u in UNITS)
    rc, out = pkg.c.sh("systemd-analyze verify %s /lib/systemd/system/otad.target"
                       % units, check=False)
    assert rc == 0 and out.strip() == "", "systemd-analyze verify:\n" + out
    for u in UNITS:
        rc, out = pkg.c.sh("systemd-analyze security --no-pager %s.service | tail -n 1"
                           % u, check=False)
        log("systemd-analyze security %s: %s" % (u, out.strip()))
        assert "Overall exposure level" in out, out
        level = float(out.split("level for %s.service:" % u)[1].split()[0])
        assert level <= 2.5, "%s exposure %.1f" % (u, level)


def test_install_prints_password_location(pkg):
    assert "/etc/otad/admin-password" in pkg.install_out
    rc, out = pkg.c.sh("stat -c '%a %U:%G' /etc/otad/admin-password /etc/otad/admins "
                       "/var/lib/otad/firmware /etc/otad/otad.conf")
    # otad.conf may hold webhook_secret: root and the daemons' group only
    assert out.split("\n")[:4] == ["600 root:root", "640 root:otad-admin",
                                   "2750 otad-admin:otad-fw", "640 root:otad"], out


def test_services_run_as_their_users(pkg):
    for unit, user in USERS.items():
        rc, out = pkg.c.sh("systemctl show -p NRestarts --value %s" % unit)
        assert out.strip() == "0", "%s restarted %s times" % (unit, out.strip())
        rc, out = pkg.c.sh(
            "pid=$(systemctl show -p MainPID --value %s); "
            "stat -c %%U /proc/$pid; systemctl show -p Type -p NotifyAccess -p "
            "WatchdogUSec -p StatusText %s" % (unit, unit))
        lines = out.splitlines()
        assert lines[0] == user, "%s runs as %r, not %s\n%s" % (unit, lines[0], user, out)
        assert "Type=notify" in lines and "WatchdogUSec=30s" in lines, out
        assert any(l.startswith("StatusText=") and len(l) > 12 for l in lines), out
    rc, ncpu = pkg.c.sh("nproc")
    # every worker (one per CPU by default) restricts itself; journald may
    # store a worker's line a moment after the unit is ready
    deadline = time.monotonic() + 10
    while True:
        rc, out = pkg.c.sh("journalctl --no-pager -o cat -u otad-hwd -u otad-fwstore "
                           "--grep landlock", check=False)
        if out.count("landlock (ABI") >= 2 * int(ncpu) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    log("landlock: " + out)
    assert out.count("landlock (ABI") == 2 * int(ncpu), \
        "not every hwd and fwstore worker restricted:\n" + out
    rc, out = pkg.c.sh("grep 'open files' /proc/$(systemctl show -p MainPID --value "
                       "otad-hwd)/limits; systemctl show -p LimitNOFILE otad-hwd")
    log("hwd open files: " + out)
    assert "LimitNOFILE=1048576" in out
    # issue 14: each listener's cap comes from the real open-file limit, and the
    # control socket checks each peer's uid against its role
    rc, out = pkg.c.sh("journalctl --no-pager -o cat -u otad-hwd -u otad-fwstore "
                       "--grep 'connections at once'", check=False)
    log("caps: " + out)
    assert re.search(r"devices: at most \d+ connections at once \(the open-file limit "
                     r"\d+ allows", out), out
    assert re.search(r"downloads: at most \d+ connections at once", out), out
    rc, out = pkg.c.sh("journalctl --no-pager -o cat -u otad-admind --grep "
                       "'control socket'", check=False)
    log("control socket: " + out)
    assert "hwd must connect as uid" in out and "cannot be checked" not in out, out


# The unit's main process and its children: "pid user comm ppid main" lines.
UNIT_PROCS = ("for f in /proc/[0-9]*/stat; do p=${f#/proc/}; p=${p%/stat}; "
              "pp=$(awk '{print $4}' $f 2>/dev/null); "
              "if [ \"$p\" = \"$main\" ] || [ \"$pp\" = \"$main\" ]; then "
              "echo $p $(stat -c %U /proc/$p) $(cat /proc/$p/comm) $pp $main; fi; done")


def test_workers_under_systemd(pkg):
    """Issue 17: each unit's main process supervises one worker per CPU, all
    in the unit's cgroup as its user; journal lines carry WORKER=; a worker
    killed with -9 is started again by its supervisor without the unit
    restarting, and admind hears every worker."""
    rc, ncpu = pkg.c.sh("nproc")
    n = int(ncpu)
    for unit, user in (("otad-hwd", "otad-hwd"), ("otad-fwstore", "otad-fw")):
        rc, out = pkg.c.sh(
            "main=$(systemctl show -p MainPID --value %s); %s" % (unit, UNIT_PROCS))
        rows = [l.split() for l in out.splitlines()]
        log("%s processes: %s" % (unit, rows))
        workers = [r for r in rows if r[2].startswith(unit + "/")]
        assert len(rows) == n + 1 and len(workers) == n, out
        assert all(r[1] == user and r[3] == r[4] for r in workers), out
        rc, out = pkg.c.sh("journalctl --no-pager -o cat -u %s WORKER=1 | head -3" % unit)
        assert out.strip(), "no journal line of %s with WORKER=1" % unit
        victim = workers[0][0]
        pkg.c.sh("kill -9 %s" % victim)
        deadline = time.monotonic() + 15
        while True:
            rc, out = pkg.c.sh("main=$(systemctl show -p MainPID --value %s); %s"
                               % (unit, UNIT_PROCS))
            procs = [l.split()[0] for l in out.splitlines()]
            if victim not in procs and len(procs) == n + 1:
                break
            assert time.monotonic() < deadline, "%s worker not started again: %s" % (
                unit, procs)
            time.sleep(0.2)
        rc, out = pkg.c.sh("systemctl show -p NRestarts --value %s; systemctl is-active %s"
                           % (unit, unit))
        assert out.split() == ["0", "active"], out
    deadline = time.monotonic() + 15
    while True:
        h = admin(pkg).request("GET", "/admin/health").json()
        if h["hwd_workers"] == n and h["fwstore_workers"] == n:
            break
        assert time.monotonic() < deadline, h
        time.sleep(0.2)


def test_seed_curl_reaches_device_and_journal(pkg, workdir):
    adm = admin(pkg)
    dev = adm.create_device()
    img = images.esp8266_image(version="0.3.0", build="Dec 02 2026 10:00:00")
    with blynk.device("127.0.0.1", pkg.hwd_port, dev["token"]) as c:
        checks.write_seed_image(workdir, img)
        line = admin_mod.seed_curl_line("127.0.0.1", pkg.admin_port, pkg.password,
                                        token=dev["token"])
        res = admin_mod.run_curl(line, cwd=workdir)
        checks.check_upload_answer(res, img, targeted=1)
        url = checks.check_ota_frame(c.wait_for_ota_frame(timeout=10), "127.0.0.1",
                                     pkg.fw_port)
    checks.check_download(url, img)
    pkg.device, pkg.image = dev, img
    deadline = time.monotonic() + 5
    while True:
        rc, out = pkg.c.sh("journalctl --no-pager -o cat -u otad-hwd DEVICE_ID=%d"
                           % dev["id"], check=False)
        if out.strip() or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    log("journalctl -u otad-hwd DEVICE_ID=%d:\n%s" % (dev["id"], out))
    assert out.strip() and "-- No entries --" not in out, \
        "no journal lines for DEVICE_ID=%d" % dev["id"]
    rc, other = pkg.c.sh("journalctl --no-pager -o cat -u otad-hwd DEVICE_ID=999999",
                         check=False)
    assert out.strip() != other.strip()


def firmware_state(pkg):
    sha = images.digests(pkg.image)["sha256"]
    rc, out = pkg.c.sh("test -f /var/lib/otad/firmware/%s && echo present" % sha,
                       check=False)
    return out.strip()


def test_restart_and_reinstall_lose_nothing(pkg):
    dev = getattr(pkg, "device", None)
    if dev is None:
        pytest.fail("the upload test did not leave a device behind")
    assert firmware_state(pkg) == "present"
    pkg.c.sh("systemctl restart otad.target")
    wait_ready(pkg)
    assert admin(pkg).device(dev["id"]) is not None, "device gone after restart"
    assert firmware_state(pkg) == "present", "firmware gone after restart"
    # An upgrade (the same version again): database, firmware, config, password kept.
    pkg.c.sh("DEBIAN_FRONTEND=noninteractive dpkg -i /srv/package/%s"
             % os.path.basename(pkg.deb))
    wait_ready(pkg)
    assert admin(pkg).device(dev["id"]) is not None, "device gone after reinstall"
    assert firmware_state(pkg) == "present", "firmware gone after reinstall"
    with blynk.device("127.0.0.1", pkg.hwd_port, dev["token"]) as c:
        assert c.ping() == 200


def test_purge_leaves_nothing(pkg):
    pkg.c.sh("DEBIAN_FRONTEND=noninteractive apt-get purge -y otad")
    rc, out = pkg.c.sh(
        "for p in /etc/otad /var/lib/otad /run/otad /usr/sbin/otad-hwd "
        "/lib/systemd/system/otad.target /usr/lib/sysusers.d/otad.conf; do "
        "  test -e $p && echo \"left: $p\"; done; "
        "for u in otad-hwd otad-admin otad-fw; do getent passwd $u && echo \"user: $u\"; "
        "done; getent group otad && echo 'group: otad'; "
        "systemctl list-units --all --no-legend 'otad*'; "
        "ls /proc | grep -c '^[0-9]' >/dev/null; "
        "dpkg-statoverride --list /etc/otad/otad.conf; "
        "dpkg-query -W -f='${Status}\\n' otad 2>/dev/null; true", check=False)
    left = [l for l in out.splitlines() if l.strip() and "not-installed" not in l]
    assert not left, "left behind after apt purge:\n" + out
