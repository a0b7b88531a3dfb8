# SPDX-License-Identifier: MIT
"""The PostgreSQL 15 server the tests start themselves (pg.py, issue 18): on 127.0.0.1
only, databases owned by a role that is no superuser, data kept over a clean stop and
over a kill -9 of the postmaster, pg_trgm for the owner; and start_server's
[otad] database and node."""

import os
import socket
import subprocess
import time

import pytest

import conftest
import pg
from ini import read_ini
from ports import free_ports, port_range


def test_cluster_listens_on_loopback_only_with_separate_databases(postgres):
    low, high = port_range()
    assert low <= postgres.port <= high
    assert postgres.psql("SHOW listen_addresses", user="postgres") == [["127.0.0.1"]]
    assert postgres.psql("SHOW unix_socket_directories", user="postgres") == [[postgres.dir]]
    assert postgres.psql("SELECT rolsuper, rolcanlogin FROM pg_roles "
                         "WHERE rolname = 'otad'") == [["f", "t"]]

    a, b = postgres.create_database(), postgres.create_database()
    assert a != b
    assert postgres.uri(a) == "postgresql://otad@127.0.0.1:%d/%s" % (postgres.port, a)
    for db in (a, b):
        assert postgres.psql("SELECT pg_get_userbyid(datdba) FROM pg_database "
                             "WHERE datname = current_database()", db) == [["otad"]]
    postgres.psql("CREATE TABLE devices (id int PRIMARY KEY, name text, note text); "
                  "INSERT INTO devices VALUES (1, 'kitchen|1', NULL), (2, 'hall\nway', 'x')",
                  a)
    assert postgres.psql("SELECT id, name, note FROM devices ORDER BY id", a) == [
        ["1", "kitchen|1", None], ["2", "hall\nway", "x"]]
    assert pg.tables(postgres.uri(a)) == ["public.devices"]
    assert pg.tables(postgres.uri(b)) == []
    with pytest.raises(pg.PostgresError, match='relation "devices" does not exist'):
        postgres.psql("SELECT * FROM devices", b)


def test_clean_stop_and_start_keep_the_data(postgres):
    db = postgres.create_database()
    postgres.psql("CREATE TABLE t (v text); INSERT INTO t VALUES ('before stop')", db)
    postgres.stop()
    try:
        assert not postgres.running() and postgres.postmaster_pid() is None
        with pytest.raises(pg.PostgresError, match="Connection refused"):
            postgres.psql("SELECT 1", db)
    finally:
        postgres.start()
    assert postgres.psql("SELECT v FROM t", db) == [["before stop"]]
    postgres.restart()
    assert postgres.psql("SELECT v FROM t", db) == [["before stop"]]


def test_frozen_then_thawed_answers_and_stops(postgres):
    """freeze() returns with the server and its backends stopped; thaw() lets all
    of them go on, so queries answer and a clean stop still works."""
    db = postgres.create_database()
    postgres.freeze()
    try:
        states = [pg.process_state(p) for p in postgres._processes()]
        assert len(states) > 1 and set(states) <= {"T", "Z", None}   # all stopped
    finally:
        postgres.thaw()
    assert postgres.psql("SELECT 1", db) == [["1"]]
    postgres.restart()
    assert postgres.psql("SELECT 2", db) == [["2"]]


def test_kill_keeps_what_was_committed_and_nothing_else(postgres):
    db = postgres.create_database()
    postgres.psql("CREATE TABLE t (v text); INSERT INTO t VALUES ('committed')", db)
    # a second session with a transaction left open at the kill
    open_tx = subprocess.Popen([os.path.join(pg.BIN, "psql"), "-X", "-q", "-h", "127.0.0.1",
                                "-p", str(postgres.port), "-U", "otad", "-d", db],
                               stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        open_tx.stdin.write(b"BEGIN; INSERT INTO t VALUES ('open');\n")
        open_tx.stdin.flush()
        deadline = time.monotonic() + 5
        while postgres.psql("SELECT count(*) FROM pg_stat_activity WHERE "
                            "state = 'idle in transaction' AND datname = current_database()",
                            db) != [["1"]]:
            assert time.monotonic() < deadline, "the open transaction never started"
            time.sleep(0.05)
        pid = postgres.postmaster_pid()
        postgres.kill()
        assert not postgres.running()
        with pytest.raises(OSError):
            os.kill(pid, 0)
    finally:
        try:
            postgres.start()
        finally:
            open_tx.kill()
            open_tx.wait()
    assert postgres.psql("SELECT v FROM t", db) == [["committed"]]
    assert "database system was interrupted" in postgres.log_tail(200)


def test_the_owner_creates_pg_trgm(postgres):
    db = postgres.create_database()
    postgres.psql("CREATE EXTENSION pg_trgm", db, user="otad")
    postgres.psql("CREATE TABLE names (n text); "
                  "CREATE INDEX names_trgm ON names USING gin (n gin_trgm_ops); "
                  "INSERT INTO names VALUES ('kitchen-sensor'), ('garage-door')", db)
    assert postgres.psql("SELECT n FROM names WHERE n % 'kitchen sensr'", db) == [
        ["kitchen-sensor"]]
    # Unicode case folding (LC_CTYPE C.UTF-8): "éclair" finds "ÉCLAIR"
    postgres.psql("INSERT INTO names VALUES ('Kaffee \u00c9CLAIR')", db)
    assert postgres.psql("SELECT lower(n) FROM names WHERE lower(n) LIKE '%\u00e9clair%'",
                         db) == [["kaffee \u00e9clair"]]
    assert postgres.psql("SELECT show_trgm('\u00c9CLAIR') @> show_trgm('\u00e9clair')",
                         db) == [["t"]]
    # the owner is no superuser: an untrusted extension stays out of reach
    with pytest.raises(pg.PostgresError, match="permission denied"):
        postgres.psql("CREATE EXTENSION file_fdw", db)


def _admind_check(conf):
    return subprocess.run([conftest.BINARIES["otad-admind"], "-t", "-c", conf],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=10)


def test_start_server_writes_database_and_node(postgres, tmp_path):
    """database= (a URI several servers may share) and node= reach [otad] through
    `otad init --database --node`; the daemons accept them (`-t`); a node name that
    is none is refused by `otad init` and by admind."""
    conftest.require_binaries()
    uri = postgres.uri(postgres.create_database())
    servers = [conftest.OtadServer(database=uri, node="node-%s" % n) for n in "ab"]
    try:
        for srv in servers:
            srv.prepare()
        for srv in servers:
            otad = read_ini(srv.conf)["otad"]
            assert otad["database"] == uri and otad["node"] == srv.node
            r = _admind_check(srv.conf)
            assert r.returncode == 0, r.stdout
        r = subprocess.run([conftest.BINARIES["otad"], "init", "--database", uri,
                            "--node", "node b", str(tmp_path / "bad")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        assert r.returncode == 1
        assert b'--node: "node b" is no node name' in r.stdout, r.stdout
        bad = servers[0].conf + ".bad"
        with open(servers[0].conf) as f, open(bad, "w") as out:
            out.write(f.read().replace("node = node-a", "node = node b"))
        r = _admind_check(bad)
        assert r.returncode == 1
        assert b'[otad] node: "node b" is no node name' in r.stdout
    finally:
        for srv in servers:
            srv.cleanup()


def test_otad_test_database_gives_each_server_a_fresh_database(postgres, monkeypatch):
    conftest.require_binaries()
    monkeypatch.setattr(conftest, "TEST_DATABASE", "postgresql")
    servers = [conftest.OtadServer(), conftest.OtadServer(), conftest.OtadServer(database="")]
    try:
        for srv in servers:
            srv.prepare()
        uris = [read_ini(srv.conf)["otad"].get("database") for srv in servers]
        assert uris[0] != uris[1] and not uris[2]
        for uri in uris[:2]:
            assert uri.startswith("postgresql://otad@127.0.0.1:%d/" % postgres.port)
            assert pg.psql(["-d", uri], "SELECT current_user") == [["otad"]]
    finally:
        for srv in servers:
            srv.cleanup()


def test_a_server_that_cannot_start_says_why_and_finish_leaves_nothing():
    if pg.available():
        pytest.skip(pg.available())
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", free_ports(1)[0]))    # bound, not listening
        srv = pg.PostgresServer(port=taken.getsockname()[1])
        try:
            with pytest.raises(pg.PostgresError) as e:
                srv.start()
            assert "before it accepted connections" in str(e.value)
            assert 'could not bind IPv4 address "127.0.0.1": Address already in use' \
                in str(e.value)
            assert not srv.running()
        finally:
            srv.finish()
    if os.environ.get("OTAD_E2E_KEEP") is None:
        assert not os.path.exists(srv.dir)
