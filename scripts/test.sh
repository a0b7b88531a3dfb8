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
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
PY
