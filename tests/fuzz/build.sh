#!/usr/bin/env bash
# The clang build (ASan + UBSan, -Dfuzz=true) that the fuzzers (run.sh) and
# the sanitizer pass (sanitize.sh) share: configures $FUZZ_BUILD (default
# build-fuzz) when it is not yet, then builds the targets named, or all.
# scripts/test.sh runs both scripts at once: a lock lets one ninja at a time
# into the directory.  Quiet; on failure prints the log's end and exits 1.
#
#   tests/fuzz/build.sh LOGNAME [TARGET...]     (the log: $FUZZ_BUILD/LOGNAME)
set -uo pipefail
cd "$(dirname "$0")/../.."
B=${FUZZ_BUILD:-build-fuzz}
log=$1
shift

exec 9>>"$B.lock"
flock 9
if [ ! -f "$B/build.ninja" ]; then
	CC=clang meson setup "$B" -Dfuzz=true -Db_sanitize=address,undefined \
	    -Db_lundef=false -Dc_args=-fsanitize=fuzzer-no-link >"$B.setup.log" 2>&1 ||
	    { cat "$B.setup.log"; exit 1; }
fi
ninja -C "$B" "$@" >"$B/$log" 2>&1 || { tail -30 "$B/$log"; exit 1; }
