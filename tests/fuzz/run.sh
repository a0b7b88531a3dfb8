#!/usr/bin/env bash
# Builds the libFuzzer harnesses with clang (ASan + UBSan) into their own
# build directory and runs each for a fixed time over its seed corpus
# (tests/fuzz/corpus/<harness>/, crash-* files there are regression inputs).
#
#   tests/fuzz/run.sh                 every harness, 10 s each (the test suite)
#   tests/fuzz/run.sh 3600 fuzz_http  one harness for an hour
#   FUZZ_JOBS=4 tests/fuzz/run.sh 14400   every harness, 4 at a time, 4 hours each
#
# FUZZ_IDLE=1 runs the harnesses (not the build) in the idle scheduling
# class, where they take only CPU time nothing else wants: scripts/test.sh
# runs them so beside its test passes.
# FUZZ_BUILD names the build directory (default build-fuzz).  Inputs found
# in a run go to $FUZZ_BUILD/fuzz-corpus/<harness>/ (not the repository);
# crashes to $FUZZ_BUILD/fuzz-artifacts/.  Ends with "fuzz: N passed, N
# failed" and exits non-zero when a harness failed.
set -uo pipefail
cd "$(dirname "$0")/../.."

secs=${1:-10}
[ $# -gt 0 ] && shift
harnesses=("$@")
[ ${#harnesses[@]} -eq 0 ] && harnesses=(fuzz_blynk fuzz_multipart fuzz_image
	fuzz_http fuzz_ctl fuzz_cfg fuzz_admins fuzz_json fuzz_peers)
B=${FUZZ_BUILD:-build-fuzz}
jobs=${FUZZ_JOBS:-$(nproc)}
idle=()
[ -n "${FUZZ_IDLE:-}" ] && idle=(chrt --idle 0)

targets=()
for h in "${harnesses[@]}"; do targets+=("tests/fuzz/$h"); done
tests/fuzz/build.sh fuzz-build.log "${targets[@]}" ||
	{ echo "fuzz: 0 passed, 1 failed"; exit 1; }

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}
mkdir -p "$B/fuzz-artifacts" "$B/fuzz-logs"

# One harness: the seeds (regression inputs first) then fuzzing for secs.
fuzz_one() {
	local h=$1 work="$B/fuzz-corpus/$1" seeds="tests/fuzz/corpus/$1"
	mkdir -p "$work"
	"${idle[@]}" "$B/tests/fuzz/$h" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	    -max_len=16384 -print_final_stats=1 \
	    -artifact_prefix="$B/fuzz-artifacts/$h-" "$work" "$seeds" \
	    >"$B/fuzz-logs/$h.log" 2>&1
}

pids=() names=()
passed=0 failed=0
wait_one() {
	local pid=${pids[0]} h=${names[0]}
	pids=("${pids[@]:1}") names=("${names[@]:1}")
	if wait "$pid"; then
		passed=$((passed + 1))
		echo "fuzz: $h ok, $(grep -o 'stat::number_of_executed_units: *[0-9]*' \
		    "$B/fuzz-logs/$h.log" | grep -o '[0-9]*$') runs in ${secs}s"
	else
		failed=$((failed + 1))
		echo "fuzz: $h FAILED (log $B/fuzz-logs/$h.log):"
		grep -E 'ERROR|SUMMARY|runtime error|Test unit written' \
		    "$B/fuzz-logs/$h.log" | head -10
	fi
}
for h in "${harnesses[@]}"; do
	[ ${#pids[@]} -ge "$jobs" ] && wait_one
	fuzz_one "$h" &
	pids+=($!) names+=("$h")
done
while [ ${#pids[@]} -gt 0 ]; do wait_one; done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
