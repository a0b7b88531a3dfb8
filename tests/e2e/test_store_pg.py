# SPDX-License-Identifier: MIT
"""admind's store functions on PostgreSQL (issue 18): the unit test program test_store,
which runs on SQLite in the unit suite, run again with OTAD_TEST_PG_URI naming a fresh
database, owned by a role that is no superuser, on the session's cluster (pg.py)."""

import os
import subprocess

import pytest

import conftest
import pg

TEST_STORE = os.path.join(conftest.BUILD, "tests", "test_store")


def test_store_functions_on_postgresql(request):
    if not os.access(TEST_STORE, os.X_OK):
        pytest.skip("%s not built" % TEST_STORE)
    with open(TEST_STORE, "rb") as f:
        if b"OTAD_TEST_PG_URI" not in f.read():
            pytest.skip("%s has no PostgreSQL store yet (it reads no OTAD_TEST_PG_URI)"
                        % TEST_STORE)
    postgres = request.getfixturevalue("postgres")
    db = postgres.create_database()
    r = subprocess.run([TEST_STORE], env=dict(os.environ, OTAD_TEST_PG_URI=postgres.uri(db)),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    out = r.stdout.decode("utf-8", "replace")
    assert r.returncode == 0, out
    assert "test_store: ok" in out
    assert "public.devices" in pg.tables(postgres.uri(db)), "test_store wrote nothing there"
    assert postgres.psql("SELECT extname FROM pg_extension WHERE extname = 'pg_trgm'",
                         db) == [["pg_trgm"]]
