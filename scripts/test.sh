#!/usr/bin/env bash
# The README's second command: installs what is needed, builds, runs the
# unit tests (meson) and the end-to-end tests (pytest) and ends with one
# line "N passed, N failed".  Exits non-zero when anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test || exit 1
scripts/build.sh >/dev/null || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }

export OTAD_BUILD="$PWD/build"
meson test -C build --print-errorlogs --no-rebuild --suite unit
/usr/bin/python3 -m pytest -q -p no:cacheprovider --junitxml=build/e2e.xml tests/e2e

# Robustness (tests/fuzz): the unit and e2e tests again under ASan + UBSan,
# then every fuzzer for 10 s; one clang build directory, build-fuzz.
tests/fuzz/sanitize.sh
tests/fuzz/run.sh 10 | tee build/fuzz-result.txt

/usr/bin/python3 - <<'PY'
import json, sys, xml.etree.ElementTree as ET
passed = failed = skipped = 0
for line in open("build/meson-logs/testlog.json"):
    r = json.loads(line)["result"]
    if r == "OK": passed += 1
    elif r == "SKIP": skipped += 1
    else: failed += 1
try:
    root = ET.parse("build/e2e.xml").getroot()
    for suite in ([root] if root.tag == "testsuite" else root.iter("testsuite")):
        t, f, e, s = (int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
        passed += t - f - e - s; failed += f + e; skipped += s
except (OSError, ET.ParseError):
    failed += 1
    print("end-to-end tests did not report", file=sys.stderr)
# the robustness pass: sanitizer unit + e2e results, sanitizer reports, fuzzers
import os, re
for line in (open("build-fuzz/meson-logs/testlog.json")
             if os.path.exists("build-fuzz/meson-logs/testlog.json") else ()):
    r = json.loads(line)["result"]
    if r == "OK": passed += 1
    elif r == "SKIP": skipped += 1
    else: failed += 1
try:
    root = ET.parse("build-fuzz/e2e.xml").getroot()
    for suite in ([root] if root.tag == "testsuite" else root.iter("testsuite")):
        t, f, e, s = (int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
        passed += t - f - e - s; failed += f + e; skipped += s
    if open("build-fuzz/san-reports").read().strip() != "0":
        failed += 1
    m = re.search(r"^fuzz: (\d+) passed, (\d+) failed", open("build/fuzz-result.txt").read(), re.M)
    passed += int(m.group(1)); failed += int(m.group(2))
except (OSError, ET.ParseError, AttributeError):
    failed += 1
    print("the sanitizer or fuzz pass did not report", file=sys.stderr)
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
PY
