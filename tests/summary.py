#!/usr/bin/env python3
"""The closing line of scripts/test.sh: "N passed, N failed, N skipped" over
every pass of the suite.

  summary.py BUILD...   each build dir's meson-logs/testlog.json (unit tests)
                        and e2e.xml (pytest), plus, where present, its
                        san-reports (a non-zero count is one failure) and
                        fuzz-result.txt ("fuzz: N passed, N failed");
                        an argument ending in .xml is one more pytest report.
A pass that did not report counts as one failure.
"""
import json
import os
import re
import sys
import xml.etree.ElementTree as ET


def unit(path):
    counts = [0, 0, 0]
    for line in open(path):
        r = json.loads(line)["result"]
        counts[{"OK": 0, "SKIP": 2}.get(r, 1)] += 1
    return counts


def e2e(path):
    counts = [0, 0, 0]
    root = ET.parse(path).getroot()
    for suite in [root] if root.tag == "testsuite" else root.iter("testsuite"):
        t, f, e, s = (int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
        counts[0] += t - f - e - s
        counts[1] += f + e
        counts[2] += s
    return counts


def extras(build):
    counts = [0, 0, 0]
    reports = os.path.join(build, "san-reports")
    if os.path.exists(reports) and open(reports).read().strip() != "0":
        counts[1] += 1
    fuzz = os.path.join(build, "fuzz-result.txt")
    if os.path.exists(fuzz):
        m = re.search(r"^fuzz: (\d+) passed, (\d+) failed", open(fuzz).read(), re.M)
        counts[0] += int(m.group(1)) if m else 0
        counts[1] += int(m.group(2)) if m else 1
    return counts


def main(builds):
    total = [0, 0, 0]
    for build in builds:
        if build.endswith(".xml"):
            try:
                counts = e2e(build)
            except (OSError, ValueError, ET.ParseError):
                print("%s did not report" % build, file=sys.stderr)
                counts = [0, 1, 0]
            total = [a + b for a, b in zip(total, counts)]
            continue
        for what, read, path in (("unit tests", unit, "meson-logs/testlog.json"),
                                 ("end-to-end tests", e2e, "e2e.xml"),
                                 ("extras", lambda b: extras(build), "")):
            try:
                counts = read(os.path.join(build, path))
            except (OSError, ValueError, ET.ParseError):
                print("%s in %s did not report" % (what, build), file=sys.stderr)
                counts = [0, 1, 0]
            total = [a + b for a, b in zip(total, counts)]
    print("%d passed, %d failed, %d skipped" % tuple(total))
    return 1 if total[1] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
