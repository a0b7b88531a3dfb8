# SPDX-License-Identifier: MIT
"""The benchmark's quick mode keeps working: bench/run.py with tiny numbers starts otad,
mosquitto and nginx, drives them with bench/otad-loadgen and prints its table.

Checks the exit status and the table's rows, never the numbers (they depend on the
machine). Skipped, with the reason, when the load generator is not built or when
mosquitto or nginx is missing and cannot be installed.
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
