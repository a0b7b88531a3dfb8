#!/usr/bin/env bash
# Builds the Debian package of this working tree: otad_<version>_<arch>.deb
# (debhelper, `dh --buildsystem=meson`, packaging/debian/) into OUTDIR.
#
#	packaging/build-deb.sh [OUTDIR]		(default: ./dist)
#
# Needs the Build-Depends (scripts/deps.sh) plus debhelper and dpkg-dev;
# no root.  DEB_BUILD_OPTIONS=nocheck skips the unit tests in the build.
# Prints the path of the .deb on its last line.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/dist}
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The working tree as it is, without build directories and VCS data.
mkdir "$work/otad"
tar -C "$root" --anchored --exclude=./.git --exclude='./build*' \
	--exclude=./dist --exclude=./run --exclude='*/__pycache__' -cf - . |
	tar -C "$work/otad" -xf -
cp -r "$work/otad/packaging/debian" "$work/otad/debian"

(cd "$work/otad" && dpkg-buildpackage -b -us -uc) >"$work/build.log" 2>&1 || {
	tail -n 40 "$work/build.log" >&2
	echo "build-deb: dpkg-buildpackage failed" >&2
	exit 1
}
deb=$(ls "$work"/otad_*.deb)
cp "$deb" "$out/"
echo "$out/$(basename "$deb")"
