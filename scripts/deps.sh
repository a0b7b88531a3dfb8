#!/usr/bin/env bash
# Installs the Debian 12 packages otad needs to build (and, with "test",
# to run its test suite).  Runs apt-get as root, through sudo otherwise.
set -euo pipefail

build_pkgs=(build-essential meson ninja-build pkg-config libuv1-dev libssl-dev
	libsqlite3-dev node-llhttp libsystemd-dev libinih-dev libcrypt-dev openssl
	# admind's webhooks (admind/webhook.c)
	libcurl4-openssl-dev
	# the web page's charts, embedded into otad-admind (admind/meson.build)
	libjs-chart.js

	# the man pages (docs/man)
	scdoc
	# admind's PostgreSQL store ([otad] database)
	libpq-dev)
test_pkgs=(python3 python3-pytest curl
	# the e2e modules on two workers (scripts/test.sh, tests/fuzz/sanitize.sh)
	python3-pytest-xdist
	# the package test (tests/e2e/test_package.py)
	debootstrap systemd-container lintian debhelper dpkg-dev fakeroot
	# the fuzzers and the sanitizer pass (tests/fuzz), clock jumps (test_faults.py)
	clang libclang-rt-14-dev faketime
	# the PostgreSQL server the e2e tests start (tests/e2e/pg.py)
	postgresql-15)

pkgs=("${build_pkgs[@]}")
[ "${1:-}" = test ] && pkgs+=("${test_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo
echo "otad: installing ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
	"${missing[@]}" >/dev/null
