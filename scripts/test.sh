#!/usr/bin/env bash
# The README's second command: installs what is needed, builds, runs the
# unit tests (meson) and the end-to-end tests (pytest), the same again under
# ASan + UBSan beside them, every fuzzer for 10 s beside both, and ends with
# one line "N passed, N failed".  Exits non-zero when anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test || exit 1
scripts/build.sh >/dev/null || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }

export OTAD_BUILD="$PWD/build"

# Robustness (tests/fuzz): the unit and e2e tests again under ASan + UBSan
# (one clang build directory, build-fuzz) run beside the plain pass: the
# suite mostly waits on devices, timers and kills, so the two passes share
# the cores well.  Its output follows the plain pass's.
# Each pass listens on its own half of tests/e2e/ports.py's range, so
# neither can take a port the other has just chosen.
OTAD_TEST_PORTS=26400-32767 tests/fuzz/sanitize.sh >build/sanitize.log 2>&1 &
sanitizer=$!

# Every fuzzer for 10 s, one at a time, beside the two passes, in the idle
# scheduling class: a fuzzer gets only the CPU time the tests leave (about
# 60 % of the two cores), so no test's timer waits for a fuzzer.  The same
# clang build as the sanitizer pass (tests/fuzz/build.sh builds it once).
# Its result line goes to build/ (older runs left it in build-fuzz/).
rm -f build-fuzz/fuzz-result.txt
FUZZ_JOBS=1 FUZZ_IDLE=1 tests/fuzz/run.sh 10 >build/fuzz-result.txt 2>&1 &
fuzzers=$!

# Each pass runs its e2e modules on two pytest-xdist workers (a module and
# its server stay on one worker, tests/e2e/slowfirst.py hands out the long
# ones first): the tests mostly wait, so four at a time still leave the
# cores idle now and then.
export OTAD_TEST_PORTS=20000-26399
rm -f build/e2e.xml build/e2e-pg.xml    # a pass that does not report fails
meson test -C build --print-errorlogs --no-rebuild --suite unit
/usr/bin/python3 -m pytest -q -p no:cacheprovider -n 2 --dist loadfile \
    --junitxml=build/e2e.xml tests/e2e
# The lifecycle and durability tests once more with the state in PostgreSQL
# (a throwaway server the tests start on loopback, tests/e2e/pg.py).
OTAD_TEST_DATABASE=postgresql /usr/bin/python3 -m pytest -q -p no:cacheprovider \
    -n 2 --dist loadfile --junitxml=build/e2e-pg.xml \
    tests/e2e/test_lifecycle.py tests/e2e/test_durability.py

wait "$sanitizer"
cat build/sanitize.log
wait "$fuzzers"
cat build/fuzz-result.txt

exec /usr/bin/python3 tests/summary.py build build/e2e-pg.xml build-fuzz
