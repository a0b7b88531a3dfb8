"""Ports for tests and benchmarks to listen on.

Chosen below the kernel's ephemeral range (32768-60999 here), so that no
outgoing connection, of this run or of a run beside it, can take a port
between the moment it is chosen here and the moment a daemon binds it.
OTAD_TEST_PORTS ("low-high", default 20000-32767) narrows the range:
scripts/test.sh gives the plain and the sanitizer pass a half each.  Under
pytest-xdist (-n N) each worker takes its own N-th of that range, for the
same reason: workers run side by side.
"""

import os
import random
import socket


def port_range():
    """(low, high) from OTAD_TEST_PORTS, this xdist worker's share of it."""
    low, high = (int(p) for p in
                 os.environ.get("OTAD_TEST_PORTS", "20000-32767").split("-"))
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")     # gw0, gw1, ...
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if worker.startswith("gw") and count > 1:
        share = (high + 1 - low) // count
        low += int(worker[2:]) * share
        high = low + share - 1
    return low, high


def _bindable(family, host, port):
    s = socket.socket(family)
    try:
        s.bind((host, port))
        return s
    except OSError:
        s.close()
        return None


def free_ports(n, dual=()):
    """n distinct free TCP ports on 127.0.0.1 from port_range(); those whose
    index is in dual are free on ::1 as well."""
    low, high = port_range()
    held, ports = [], []
    try:
        for port in random.sample(range(low, high + 1), high + 1 - low):
            if len(ports) == n:
                break
            s = _bindable(socket.AF_INET, "127.0.0.1", port)
            if s is None:
                continue
            held.append(s)
            if len(ports) in dual:
                s6 = _bindable(socket.AF_INET6, "::1", port)
                if s6 is None:
                    continue
                held.append(s6)
            ports.append(port)
    finally:
        for s in held:
            s.close()
    if len(ports) < n:
        raise RuntimeError("no %d free ports in %d-%d (OTAD_TEST_PORTS)" % (n, low, high))
    return ports
