# SPDX-License-Identifier: MIT
"""A PostgreSQL 15 server for the tests (issue 18): Debian's postgresql-15 binaries,
started by the test itself in a temporary directory, listening on 127.0.0.1 only, on a
port from ports.py (OTAD_TEST_PORTS), with its Unix socket inside that directory.

initdb refuses to run as root: when the tests run as root, every server command runs as
the `postgres` system user (subprocess's user= and group=, so the postmaster is our own
child: runuser would stop itself whenever freeze() stops its child, and stay stopped if
it noticed only after thaw()) and the directory is chowned to it.
Authentication is `trust` for 127.0.0.1/32 and the Unix socket. The locale is C.UTF-8:
code-point order, and Unicode case folding for lower() and pg_trgm (with the C locale
"éclair" would not find "ÉCLAIR"). fsync is off for speed:
a process killed with -9 loses nothing committed (the kernel has the writes); only a
machine crash could, and that is not under test.

    srv = PostgresServer().start()
    db = srv.create_database()          # owned by the role otad
    srv.uri(db)                         # postgresql://otad@127.0.0.1:PORT/otad_1
    srv.psql("SELECT 1", db)            # [["1"]]
    srv.finish()

session_cluster() is one server for the whole pytest session, started at its first use
(conftest.py's `postgres` fixture, and start_server when OTAD_TEST_DATABASE=postgresql);
finish_session_cluster() stops it.
"""

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time

import logs
from ports import free_ports

BIN = os.environ.get("OTAD_PG_BIN", "/usr/lib/postgresql/15/bin")
ROLE = "otad"               # owns the test databases; LOGIN, not a superuser
SUPERUSER = "postgres"      # initdb's bootstrap role
START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0
FIELD, NULL = "\x1f", "\x1d"    # psql's field separator and NULL in .psql()

CONF = """
# tests/e2e/pg.py
listen_addresses = '127.0.0.1'
port = %(port)d
unix_socket_directories = '%(dir)s'
shared_buffers = 16MB
max_connections = 100
fsync = off
log_line_prefix = '%%m [%%p] %%q%%u@%%d '
log_min_duration_statement = -1
"""

HBA = """# tests/e2e/pg.py: trust, on the Unix socket and 127.0.0.1 only
local   all all              trust
host    all all 127.0.0.1/32 trust
"""


def process_state(pid):
    """The state letter of /proc/PID/stat ("T" stopped), None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


class PostgresError(RuntimeError):
    pass


def available():
    """None when the server binaries are there, else why not."""
    miss = [b for b in ("initdb", "postgres", "pg_ctl", "pg_isready", "psql")
            if not os.access(os.path.join(BIN, b), os.X_OK)]
    if miss:
        return "PostgreSQL 15 binaries missing in %s (%s): apt-get install postgresql-15" % (
            BIN, ", ".join(miss))
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SUPERUSER)
        except KeyError:
            return "running as root, and there is no `postgres` user to run the server as"
    return None


def _reachable_tmp():
    """The temporary directory, unless the postgres user (the server's, when root)
    cannot pass through it (the sanitizer pass's TMPDIR is a root-only mktemp -d):
    then /tmp."""
    tmp = tempfile.gettempdir()
    if os.geteuid() != 0:
        return tmp
    path = tmp
    while path not in ("/", ""):
        if not os.stat(path).st_mode & 0o001:
            return "/tmp"
        path = os.path.dirname(path)
    return tmp


class PostgresServer:
    """One PostgreSQL cluster in a temporary directory: start(), stop() (clean, keeps
    the data), kill() (SIGKILL of the postmaster), restart(), finish() (stop and remove
    the directory)."""

    def __init__(self, port=None):
        why = available()
        if why:
            raise PostgresError(why)
        self.dir = tempfile.mkdtemp(prefix="otad-pg-", dir=_reachable_tmp())
        self.data = os.path.join(self.dir, "data")
        self.log_path = os.path.join(self.dir, "postgres.log")
        self.port = port or free_ports(1)[0]
        self.proc = None            # the postmaster
        self.start_seconds = None   # how long the last start() took
        self._log = None
        self._databases = 0
        self._run_as = {}           # subprocess arguments: the postgres user when root
        if os.geteuid() == 0:
            pw = pwd.getpwnam(SUPERUSER)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self._run_as = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": [],
                            "env": dict(os.environ, HOME=pw.pw_dir, USER=SUPERUSER,
                                        LOGNAME=SUPERUSER)}

    # -- life cycle ---------------------------------------------------------
    def start(self):
        """initdb at the first start, then the postmaster; returns when it accepts
        connections on 127.0.0.1, raises PostgresError with the log's tail if not."""
        if self.running():
            return self
        t0 = time.monotonic()
        first = not os.path.exists(self.data)
        if first:
            self._initdb()
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [os.path.join(BIN, "postgres"), "-D", self.data],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            cwd=self.dir, start_new_session=True, **self._run_as)
        self._wait_ready(time.monotonic() + START_TIMEOUT)
        if first:
            self.psql("CREATE ROLE %s LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE" % ROLE,
                      "postgres", user=SUPERUSER)
        self.start_seconds = time.monotonic() - t0
        return self

    def _initdb(self):
        self._run([os.path.join(BIN, "initdb"), "-D", self.data, "-U", SUPERUSER,
                   "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"], "initdb")
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write(CONF % {"port": self.port, "dir": self.dir})
        with open(os.path.join(self.data, "pg_hba.conf"), "w") as f:
            f.write(HBA)

    def _wait_ready(self, deadline):
        while True:
            if self.proc.poll() is not None:
                self._reap()
                raise PostgresError("postgres exited %s before it accepted connections\n%s"
                                    % (self._exit_status(), self.log_tail()))
            r = subprocess.run([os.path.join(BIN, "pg_isready"), "-q", "-h", "127.0.0.1",
                                "-p", str(self.port), "-U", SUPERUSER, "-d", "postgres",
                                "-t", "1"], env=_client_env())
            if r.returncode == 0:
                return
            if time.monotonic() > deadline:
                self.kill()
                raise PostgresError("postgres did not accept connections on 127.0.0.1:%d "
                                    "within %.0f s\n%s" % (self.port, START_TIMEOUT,
                                                           self.log_tail()))
            time.sleep(0.05)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """A clean shutdown (pg_ctl stop -m fast): committed data stays."""
        if not self.running():
            self._reap()
            return
        self._run([os.path.join(BIN, "pg_ctl"), "stop", "-D", self.data, "-m", "fast",
                   "-w", "-t", str(int(STOP_TIMEOUT))], "pg_ctl stop")
        try:
            self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise PostgresError("postgres still running after pg_ctl stop\n%s"
                                % self.log_tail())
        self._reap()

    def kill(self):
        """SIGKILL of the postmaster, as a crash; returns when its children (which end
        on their own once they see it gone) have let go of its shared memory, which
        the next start checks."""
        if not self.running():
            self._reap()
            return
        pid, shmid = self._postmaster_pid_shm()
        if pid:
            os.kill(pid, signal.SIGKILL)
        else:   # not yet written: the postmaster is our child
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(STOP_TIMEOUT)
        self._reap()
        deadline = time.monotonic() + STOP_TIMEOUT
        while shmid is not None and _shm_attached(shmid):
            if time.monotonic() > deadline:
                raise PostgresError("the killed postmaster's children still hold its "
                                    "shared memory (shmid %d)\n%s" % (shmid, self.log_tail()))
            time.sleep(0.02)

    def restart(self):
        self.stop()
        return self.start()

    def _processes(self):
        """The postmaster and every process it started (the backends)."""
        pid, _ = self._postmaster_pid_shm()
        pids = [pid] if pid else []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open("/proc/%s/stat" % entry) as f:
                        ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                if pid and ppid == pid:
                    pids.append(int(entry))
        return pids

    def freeze(self):
        """SIGSTOP of the server and its backends: connections stay open and
        nothing answers, like a server that hangs or a network that drops all.
        Returns once every one of them is stopped: a signal is delivered when
        its process is next scheduled, not by kill(). The postmaster stops
        first, so no backend is started after the list is read."""
        pid = self.postmaster_pid()
        if pid is None:
            raise PostgresError("no postmaster.pid in %s: is the server running?" % self.data)
        self._signal([pid], signal.SIGSTOP)
        self._wait_stopped([pid])
        backends = [p for p in self._processes() if p != pid]
        self._signal(backends, signal.SIGSTOP)
        self._wait_stopped(backends)

    @staticmethod
    def _wait_stopped(pids, timeout=10):
        deadline = time.monotonic() + timeout
        for pid in pids:
            # Z: a backend that ended, which the stopped postmaster cannot reap
            while process_state(pid) not in ("T", "Z", None):
                if time.monotonic() > deadline:
                    raise PostgresError("process %d did not stop on SIGSTOP" % pid)
                time.sleep(0.01)

    def thaw(self):
        self._signal(self._processes(), signal.SIGCONT)

    @staticmethod
    def _signal(pids, sig):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass    # a backend that ended meanwhile

    def finish(self):
        """Stop (a kill if a clean stop fails) and remove the directory, unless
        OTAD_E2E_KEEP keeps it."""
        try:
            self.stop()
        except PostgresError:
            self.kill()
        # kept for a look only where the run keeps its temporary tree (a
        # cluster moved to /tmp by _reachable_tmp would stay there for good)
        if os.environ.get("OTAD_E2E_KEEP") is None or \
                not self.dir.startswith(tempfile.gettempdir() + os.sep):
            shutil.rmtree(self.dir, ignore_errors=True)

    def _reap(self):
        if getattr(self, "_log", None):
            self._log.close()
            self._log = None

    def _exit_status(self):
        rc = self.proc.returncode
        return "on signal %d" % -rc if rc < 0 else "with status %d" % rc

    def postmaster_pid(self):
        """The postmaster's pid from postmaster.pid, None when there is none."""
        return self._postmaster_pid_shm()[0]

    def _postmaster_pid_shm(self):
        """(pid, System V shared memory id) from postmaster.pid, None when unknown."""
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                lines = f.read().splitlines()
        except OSError:
            return None, None
        pid = int(lines[0]) if lines and lines[0].isdigit() else None
        shm = lines[6].split() if len(lines) > 6 else []
        return pid, int(shm[1]) if len(shm) == 2 and shm[1].isdigit() else None

    def _run(self, argv, what):
        r = subprocess.run(argv, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=self.dir,
                           timeout=START_TIMEOUT + STOP_TIMEOUT, **self._run_as)
        if r.returncode != 0:
            raise PostgresError("%s exited %d:\n%s\n%s" % (
                what, r.returncode, r.stdout.decode("utf-8", "replace"), self.log_tail()))

    def log_tail(self, lines=40):
        return logs.tail(self.log_path, "PostgreSQL log", lines)

    # -- databases ----------------------------------------------------------
    def uri(self, dbname):
        """The libpq URI otad's [otad] database takes, as the role otad."""
        return "postgresql://%s@127.0.0.1:%d/%s" % (ROLE, self.port, dbname)

    def create_database(self):
        """A fresh database owned by the role otad (which may then CREATE EXTENSION
        pg_trgm, a trusted extension); returns its name."""
        self._databases += 1
        name = "otad_%d" % self._databases
        self.psql('CREATE DATABASE "%s" OWNER %s' % (name, ROLE), "postgres",
                  user=SUPERUSER)
        return name

    def psql(self, sql, db="postgres", user=ROLE):
        """Runs sql (one or more statements, in one transaction unless it says
        otherwise) with psql over 127.0.0.1; returns the rows of every statement that
        has some, each a list of strings (None for NULL).  PostgresError on an error."""
        return psql(["-h", "127.0.0.1", "-p", str(self.port), "-U", user, "-d", db], sql)


def psql(target, sql):
    """psql with the connection arguments target (e.g. ["-d", uri]) on sql: the rows,
    as PostgresServer.psql."""
    r = subprocess.run(
        [os.path.join(BIN, "psql"), "-X", "-q", "-A", "-t", "-0", "-F", FIELD,
         "-P", "null=" + NULL, "-v", "ON_ERROR_STOP=1"] + target + ["-c", sql],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=_client_env(), timeout=60)
    if r.returncode != 0:
        raise PostgresError("psql %s exited %d on %r:\n%s" % (
            " ".join(target), r.returncode, sql[:200], r.stderr.decode("utf-8", "replace")))
    out = r.stdout.decode("utf-8")
    return [[None if v == NULL else v for v in row.split(FIELD)]
            for row in out.split("\0")[:-1]]


def tables(uri):
    """The tables in uri's database outside PostgreSQL's own schemas."""
    return [r[0] for r in psql(["-d", uri], "SELECT schemaname || '.' || tablename "
                               "FROM pg_tables WHERE schemaname NOT IN "
                               "('pg_catalog', 'information_schema') ORDER BY 1")]


def _client_env():
    """The environment without PG* variables that could point psql elsewhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["PGCONNECT_TIMEOUT"] = "5"
    return env


def _shm_attached(shmid):
    """Processes still attach the System V segment shmid (gone: none)."""
    with open("/proc/sysvipc/shm") as f:
        head = f.readline().split()
        for line in f:
            row = dict(zip(head, line.split()))
            if int(row["shmid"]) == shmid:
                return int(row["nattch"]) > 0
    return False


_session = None


def session_cluster():
    """The pytest session's cluster, started at its first use."""
    global _session
    if _session is None:
        srv = PostgresServer()
        try:
            srv.start()
        except BaseException:
            srv.finish()
            raise
        _session = srv
    return _session


def session_started():
    """The session's cluster when one was started, else None."""
    return _session


def finish_session_cluster():
    global _session
    if _session is not None:
        _session.finish()
        _session = None
