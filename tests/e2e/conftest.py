# SPDX-License-Identifier: MIT
"""Fixtures for the end-to-end tests: a real otad (`otad init`, then `otad run`) on free
loopback ports in a temporary directory.

OTAD_BUILD names the meson build directory (default /work/main/build). Tests that need
the daemons are skipped, with the reason, when the binaries are missing. Each test module
gets its own server; tests create their own devices and do not rely on each other.

OTAD_TEST_DATABASE=postgresql keeps every server's state in PostgreSQL: a fresh database
on the session's cluster (pg.py) per server, named in [otad] database.  Unset or
"sqlite": SQLite in the server's state_dir, as installed.
"""

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from ini import rewrite_ini

import admin as admin_mod
import logs
import pg
from ports import free_ports  # noqa: F401  (tests import it from here)
from slowfirst import pytest_collection_modifyitems  # noqa: F401  (a hook)

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.path.abspath(os.environ.get(
    "OTAD_BUILD", os.path.join(os.path.dirname(os.path.dirname(HERE)), "build")))
BINARIES = {
    "otad": os.path.join(BUILD, "otad", "otad"),
    "otad-hwd": os.path.join(BUILD, "hwd", "otad-hwd"),
    "otad-admind": os.path.join(BUILD, "admind", "otad-admind"),
    "otad-fwstore": os.path.join(BUILD, "fwstore", "otad-fwstore"),
}
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
TEST_DATABASE = os.environ.get("OTAD_TEST_DATABASE") or "sqlite"
if TEST_DATABASE not in ("sqlite", "postgresql"):
    raise pytest.UsageError("OTAD_TEST_DATABASE=%r: use postgresql, or sqlite (the default)"
                            % TEST_DATABASE)

_running = []       # servers alive now, for the failure report


def missing_binaries():
    return [p for p in BINARIES.values() if not os.access(p, os.X_OK)]


def require_binaries():
    miss = missing_binaries()
    if miss:
        pytest.skip("otad binaries not built (OTAD_BUILD=%s): missing %s"
                    % (BUILD, ", ".join(miss)))


def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


class OtadServer:
    """One `otad run` with its temporary directory, ports and credentials."""

    def __init__(self, admind_hosts=("127.0.0.1",), name="otad", config=None,
                 preexec_fn=None, database=None, node=None):
        """config: {"section": {"key": "value"}} applied over the defaults,
        e.g. start_server(config={"admind": {"sent_timeout": "2"}});
        preexec_fn runs in `otad run` before exec (e.g. a lower RLIMIT_NOFILE,
        which the daemons inherit).  database: [otad] database, a PostgreSQL URI
        several servers may share (e.g. postgres.uri(postgres.create_database()));
        "" is SQLite; None is a fresh database on the session's PostgreSQL cluster
        when OTAD_TEST_DATABASE=postgresql, else SQLite.  node: [otad] node."""
        self.admind_hosts = list(admind_hosts)
        self.database = database
        self.node = node
        self.config = config or {}
        self.preexec_fn = preexec_fn
        self.name = name
        self.dir = tempfile.mkdtemp(prefix="otad-e2e-")
        os.chmod(self.dir, 0o755)
        self.conf = os.path.join(self.dir, "otad.conf")
        self.log_path = os.path.join(self.dir, "otad-run.log")
        self.proc = None
        self.host = "127.0.0.1"
        self.user = "admin"
        self.password = None
        self.demo_token = None
        self.init_output = ""

    # -- life cycle ---------------------------------------------------------
    def init(self):
        extra = ["--database", self._database()] if self._database() else []
        if extra and self.node is not None:
            extra += ["--node", self.node]
        r = subprocess.run([BINARIES["otad"], "init"] + extra + [self.dir],
                           stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30, env=self._env())
        out = r.stdout.decode("utf-8", "replace")
        err = r.stderr.decode("utf-8", "replace")
        self.init_output = "--- stdout\n%s--- stderr\n%s" % (out, err)
        if r.returncode != 0:
            pytest.fail("`otad init %s` exited %d\n%s" % (self.dir, r.returncode,
                                                          self.init_output))
        for attr, rx in (("user", r"admin user:[ \t]+(\S+)"),
                         ("password", r"admin password:[ \t]+(\S+)"),
                         ("demo_token", r"demo device token:[ \t]+(\S+)")):
            m = re.search(rx, out)
            if not m:
                pytest.fail("`otad init` printed no line matching %r\n%s"
                            % (rx, self.init_output))
            setattr(self, attr, m.group(1))
        for f in ("otad.conf", "admins"):
            if not os.path.exists(os.path.join(self.dir, f)):
                pytest.fail("`otad init` did not write %s\n%s" % (f, self.init_output))

    def configure(self):
        dual = (1,) if any(":" in h for h in self.admind_hosts) else ()
        self.hwd_port, self.admin_port, self.fw_port = free_ports(3, dual=dual)
        admind_listen = ", ".join("%s:%d" % (h, self.admin_port) for h in self.admind_hosts)
        # Two workers each, as the default gives a two-core machine: the
        # suite runs the same on every machine.
        rewrite_ini(self.conf, {
            "otad": self._otad_section(),
            "hwd": {"listen": "127.0.0.1:%d" % self.hwd_port, "workers": "2"},
            "admind": {"listen": admind_listen},
            "fwstore": {"listen": "127.0.0.1:%d" % self.fw_port, "public_url": "",
                        "workers": "2"},
        })
        if self.config:
            rewrite_ini(self.conf, self.config)

    def _otad_section(self):
        otad = {"control_socket": os.path.join(self.dir, "control.sock")}
        if self._database():
            otad["database"] = self.database
        if self.node is not None:
            otad["node"] = self.node
        return otad

    def _database(self):
        """[otad] database: as given, else a fresh database on the session's
        PostgreSQL cluster under OTAD_TEST_DATABASE=postgresql, else "" (SQLite)."""
        if self.database is None and TEST_DATABASE == "postgresql":
            cluster = pg_cluster()
            self.database = cluster.uri(cluster.create_database())
        return self.database or ""

    def _env(self):
        env = dict(os.environ)
        env["OTAD_SBINDIR"] = self.sbindir if hasattr(self, "sbindir") else ""
        return env

    def prepare(self):
        """The directory, `otad init` and this run's ports, without starting it."""
        self.sbindir = os.path.join(self.dir, "sbin")
        os.mkdir(self.sbindir)
        for name in ("otad-hwd", "otad-admind", "otad-fwstore"):
            os.symlink(BINARIES[name], os.path.join(self.sbindir, name))
        self.init()
        self.configure()

    def start(self):
        self.prepare()
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([BINARIES["otad"], "run", "-c", self.conf],
                                     stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, env=self._env(),
                                     cwd=self.dir, start_new_session=True,
                                     preexec_fn=self.preexec_fn)
        _running.append(self)
        deadline = time.monotonic() + START_TIMEOUT
        waiting = {"hwd": self.hwd_port, "admind": self.admin_port, "fwstore": self.fw_port}
        while waiting:
            if self.proc.poll() is not None:
                self.stop()
                pytest.fail("`otad run` exited %d before its ports opened\n%s"
                            % (self.proc.returncode, self.log_tail()))
            for name, port in list(waiting.items()):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    del waiting[name]
                except OSError:
                    pass
            if waiting and time.monotonic() > deadline:
                self.stop()
                pytest.fail("`otad run`: %s not listening after %.0f s\n%s"
                            % (", ".join("%s on %d" % kv for kv in waiting.items()),
                               START_TIMEOUT, self.log_tail()))
            time.sleep(0.05)
        self._wait_ready(deadline)
        self._check_database()
        return self

    def _check_database(self):
        """A server given [otad] database has its tables there: a test meant for
        PostgreSQL must not pass on SQLite because admind ignored the key."""
        if not self.database:
            return
        try:
            found = pg.tables(self.database)
        except pg.PostgresError as e:
            found, why = [], str(e)
        else:
            why = "it has no table"
        if not found:
            self.stop()
            pytest.fail("otad is ready, but its [otad] database %s was not used: %s\n%s"
                        % (self.database, why, self.log_tail()))

    def _wait_ready(self, deadline):
        """Open ports are not enough: hwd answers logins with 19 (SERVER_ERROR) until
        its control link to admind is up. Wait, as a device would retry, until the demo
        token logs in and the admin API answers."""
        import blynk
        last = None
        while True:
            try:
                with blynk.BlynkClient(self.host, self.hwd_port, timeout=2).connect() as c:
                    last = "demo token login answered %r" % (c.login(self.demo_token),)
                    if last.endswith(" 200") and self._workers_connected():
                        r = self.admin(timeout=2).request("GET", "/admin/devices")
                        last = "GET /admin/devices answered %d" % r.status
                        if r.status == 200:
                            return
            except (OSError, blynk.ProtocolError) as e:
                last = "%s: %s" % (type(e).__name__, e)
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail("otad not ready within %.0f s (%s)\n%s"
                            % (START_TIMEOUT, last, self.log_tail()))
            time.sleep(0.1)

    def workers(self, section):
        """[section] workers as configured (0: one per CPU)."""
        from ini import read_ini
        n = int(read_ini(self.conf).get(section, {}).get("workers", "0"))
        return n or os.cpu_count()

    def _workers_connected(self):
        """Every hwd and fwstore worker has said hello to admind."""
        r = self.admin(timeout=2).request("GET", "/admin/health")
        if r.status != 200:
            return False
        h = r.json()
        return (h.get("hwd_workers") == self.workers("hwd") and
                h.get("fwstore_workers") == self.workers("fwstore"))

    def stop(self):
        """SIGTERM, wait, SIGKILL after STOP_TIMEOUT; returns what was left over."""
        leftovers = []
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                leftovers.append("otad run did not exit within %.0f s of SIGTERM"
                                 % STOP_TIMEOUT)
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None:
            # children started by `otad run` share its process group
            pgid = self.proc.pid
            deadline = time.monotonic() + 2.0
            while self._group_alive(pgid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if self._group_alive(pgid):
                leftovers.append("daemons still running after otad run exited")
                try:
                    os.killpg(pgid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if self in _running:
            _running.remove(self)
        if getattr(self, "log", None):
            self.log.close()
        return leftovers

    @staticmethod
    def _group_alive(pgid):
        try:
            os.killpg(pgid, 0)
            return True
        except ProcessLookupError:
            return False
        except PermissionError:
            return True

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def finish(self):
        """stop(), then remove the directory unless OTAD_E2E_KEEP keeps it."""
        self.stop()
        if os.environ.get("OTAD_E2E_KEEP") is None:
            self.cleanup()

    def log_tail(self, lines=80):
        return logs.tail(self.log_path, "otad run log", lines)

    # -- clients ------------------------------------------------------------
    def admin(self, **kw):
        kw.setdefault("password", self.password)
        kw.setdefault("user", self.user)
        return admin_mod.Admin(self.host, self.admin_port, **kw)


def start_server(cls=None, **kw):
    """A started server of cls (OtadServer or a subclass)."""
    require_binaries()
    srv = (cls or OtadServer)(**kw)
    try:
        srv.start()
    except BaseException:
        srv.finish()
        raise
    return srv


@contextlib.contextmanager
def nodes_sharing(postgres, names, prefix, config=None):
    """{name: server}: one otad node per name (servers prefix + name, one hwd
    and one fwstore worker each, config over that), all on one fresh database
    of the PostgreSQL cluster postgres (issue 18); every one finished at the
    end."""
    uri = postgres.uri(postgres.create_database())
    conf = {"hwd": {"workers": "1"}, "fwstore": {"workers": "1"}}
    conf.update(config or {})
    nodes = {}
    try:
        for name in names:
            nodes[name] = start_server(name=prefix + name, database=uri, node=name,
                                       config=conf)
        yield nodes
    finally:
        for srv in nodes.values():
            srv.finish()


def pg_cluster():
    """The session's PostgreSQL cluster, started at its first use; skips the test
    when PostgreSQL 15 is not installed."""
    why = pg.available()
    if why:
        pytest.skip(why)
    try:
        return pg.session_cluster()
    except pg.PostgresError as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture(scope="session")
def postgres():
    """One PostgreSQL 15 cluster (pg.PostgresServer) for the pytest session, started
    by the first test that asks for it (or by start_server under
    OTAD_TEST_DATABASE=postgresql) and stopped at the session's end."""
    return pg_cluster()


def pytest_sessionfinish(session):
    pg.finish_session_cluster()


@pytest.fixture(scope="module")
def otad():
    """A running otad for this test module."""
    srv = start_server()
    yield srv
    srv.finish()


@pytest.fixture(scope="module")
def otad_dual():
    """otad whose admind listens on [::1] and 127.0.0.1 (same port)."""
    if not ipv6_loopback():
        pytest.skip("no IPv6 loopback (::1) on this machine")
    srv = start_server(admind_hosts=("[::1]", "127.0.0.1"), name="otad-dual")
    yield srv
    srv.finish()


@pytest.fixture
def admin(otad):
    return otad.admin()


@pytest.fixture
def workdir(tmp_path):
    return str(tmp_path)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and _running:
        for srv in _running:
            rep.sections.append(("otad log (%s)" % srv.name, srv.log_tail()))
    if rep.failed and pg.session_started() is not None:
        rep.sections.append(("PostgreSQL log", pg.session_started().log_tail()))
