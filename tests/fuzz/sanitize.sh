#!/usr/bin/env bash
# The sanitizer pass of scripts/test.sh: the unit tests and the end-to-end
# suite against daemons built with AddressSanitizer + UndefinedBehaviorSanitizer
# (clang; the same build directory as the fuzzers, build-fuzz by default).
# A sanitizer report from any process, the daemons under `otad run`
# included, fails the pass: reports go to log files in one directory
# (log_path), and the kept otad-run.log files are searched too (a daemon
# under Landlock cannot open a log file, so its report lands on stderr).
#
#   tests/fuzz/sanitize.sh            unit + e2e (the CI subset below)
#   SAN_E2E_ALL=1 tests/fuzz/sanitize.sh   every e2e test
#
# The CI subset leaves out test_package.py (builds a .deb, no daemon code),
# test_bench_quick.py (a benchmark).
# Writes $B/meson-logs/testlog.json and $B/e2e.xml for the summary line.
set -uo pipefail
cd "$(dirname "$0")/../.."
B=${FUZZ_BUILD:-build-fuzz}

tests/fuzz/build.sh san-build.log || exit 1

rm -f "$B/e2e.xml" "$B/san-reports" "$B/meson-logs/testlog.json"
work=$(mktemp -d /tmp/otad-san.XXXXXX)
mkdir -p "$work/reports" "$work/tmp"
san="halt_on_error=1:abort_on_error=1:log_path=$work/reports"
rc=0

ASAN_OPTIONS="$san/asan:detect_leaks=1" UBSAN_OPTIONS="$san/ubsan:print_stacktrace=1" \
    meson test -C "$B" --print-errorlogs --no-rebuild --suite unit || rc=1

skip=()
if [ -z "${SAN_E2E_ALL:-}" ]; then
	skip=(--ignore=tests/e2e/test_package.py --ignore=tests/e2e/test_bench_quick.py)
fi
ASAN_OPTIONS="$san/asan:detect_leaks=0" UBSAN_OPTIONS="$san/ubsan:print_stacktrace=1" \
    TMPDIR="$work/tmp" OTAD_E2E_KEEP=1 OTAD_BUILD="$PWD/$B" \
    OTAD_RANDOM_SECONDS="${OTAD_RANDOM_SECONDS:-30}" \
    /usr/bin/python3 -m pytest -q -p no:cacheprovider -n 2 --dist loadfile \
    --junitxml="$B/e2e.xml" \
    "${skip[@]}" tests/e2e || rc=1

reports=$(ls "$work/reports" 2>/dev/null)
logged=$(grep -lE 'ERROR: (Address|Leak)Sanitizer|runtime error:|Sanitizer.*Can.t open' \
    -r "$work/tmp" --include='*.log' 2>/dev/null)
if [ -n "$reports" ] || [ -n "$logged" ]; then
	echo "sanitizers: reports found" >&2
	for f in $reports; do echo "--- $f" >&2; head -40 "$work/reports/$f" >&2; done
	for f in $logged; do
		echo "--- $f" >&2
		grep -A30 -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$f" | head -40 >&2
	done
	echo "1" >"$B/san-reports"
	rc=1
else
	echo "sanitizers: no reports"
	echo "0" >"$B/san-reports"
fi
rm -rf "$work"
exit $rc
