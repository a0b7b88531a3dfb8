# SPDX-License-Identifier: MIT
"""The benchmark's quick mode keeps working: bench/run.py with tiny numbers starts otad,
mosquitto and nginx, drives them with bench/otad-loadgen and prints its table.

Checks the exit status and the table's rows, never the numbers (they depend on the
machine). Skipped, with the reason, when the load generator is not built or when
mosquitto or nginx is missing and cannot be installed.  Scenario 7 (three nodes on
PostgreSQL, --only cluster) too, skipped when PostgreSQL 15 is not installed.
"""

import os
import subprocess
import sys

import pytest

import conftest

ROOT = os.path.dirname(os.path.dirname(conftest.HERE))
RUNNER = os.path.join(ROOT, "bench", "run.py")
LOADGEN = os.path.join(conftest.BUILD, "bench", "otad-loadgen")


def test_bench_quick_mode_prints_the_table():
    conftest.require_binaries()
    if not os.access(LOADGEN, os.X_OK):
        pytest.skip("bench/otad-loadgen not built in %s" % conftest.BUILD)
    r = subprocess.run([sys.executable, RUNNER, "--check-peers"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=300)
    if r.returncode != 0:
        pytest.skip("mosquitto or nginx missing and not installable: %s"
                    % r.stdout.decode("utf-8", "replace").strip()[-300:])
    cmd = [sys.executable, RUNNER, "--build", conftest.BUILD, "-N", "200", "--procs", "2",
           "--login-devices", "200",
           "-T", "40", "-C", "10", "--upload-mib", "2", "--sched-devices", "200",
           "--rest", "0.5", "--no-install"]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    out = r.stdout.decode("utf-8", "replace")
    err = r.stderr.decode("utf-8", "replace")
    assert r.returncode == 0, "%s exited %d\n%s\n%s" % (" ".join(cmd), r.returncode,
                                                       out, err[-3000:])
    assert "BROKEN" not in out, out
    assert "otad benchmark (quick mode)" in out, out
    for row in ("logins/s, hwd workers = 1", "logins/s, hwd workers = 2",
                "RSS per idle device at 200 (hwd workers + admind) vs per connection",
                "hwd (1 worker) vs mosquitto",
                "devices with their ota frame", "throughput, MiB/s", "requests/s",
                "admind RSS growth", "database size before / after the job"):
        assert row in out, "no %r row in the table:\n%s" % (row, out)
    # the peers were really measured: the download row has an nginx figure and a ratio
    line = next(l for l in out.splitlines() if "throughput, MiB/s" in l)
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[3] not in ("", "n/a") and cells[5].endswith("x"), line


def test_bench_cluster_scenario_prints_its_rows():
    """--only cluster with tiny numbers: PostgreSQL started and stopped by the bench,
    three nodes, every row of scenario 7.  The numbers are not checked; a BROKEN line
    (a fault the scenario found) is shown, not a crash."""
    conftest.require_binaries()
    if not os.access(LOADGEN, os.X_OK):
        pytest.skip("bench/otad-loadgen not built in %s" % conftest.BUILD)
    import pg
    why = pg.available()
    if why:
        pytest.skip(why)
    cmd = [sys.executable, RUNNER, "--build", conftest.BUILD, "--only", "cluster",
           "--cluster-devices", "60", "-T", "60", "-C", "9"]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=240)
    out = r.stdout.decode("utf-8", "replace")
    err = r.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err, err[-3000:]
    assert r.returncode in (0, 1), "%s exited %d\n%s\n%s" % (" ".join(cmd), r.returncode,
                                                            out, err[-3000:])
    assert (r.returncode == 1) == ("BROKEN:" in out), out
    assert "otad benchmark (quick mode, cluster only)" in out, out
    for row in ("logins/s over the 3 nodes (180 devices at once",
                "RSS per online device: every node's hwd + admind + fwstore",
                "POST /admin/jobs on node a (all, max_parallel",
                "devices with their ota frame", "ota frames naming each node's fwstore"):
        assert row in out, "no %r row in the table:\n%s" % (row, out)
    if "BROKEN: cluster: no ticket to download" not in out:
        for row in ("throughput, MiB/s", "CPU per download: fwstore + admind (3 nodes)"):
            assert row in out, "no %r row in the table:\n%s" % (row, out)
    # alone, there is no single node to compare with: said so, no ratio made up
    line = next(l for l in out.splitlines() if "logins/s over the 3 nodes" in l)
    assert "n/a (not run)" in line, line
