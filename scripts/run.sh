#!/usr/bin/env bash
# The README's first command: installs what is needed, builds, writes a
# working configuration into ./run (once) and runs otad in the foreground.
# Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh >/dev/null
if [ ! -f run/otad.conf ]; then
	build/otad/otad init --no-start-hint run
else
	echo "otad: using the existing configuration in run/ (admin password:" \
		"$(cat run/admin-password), demo device token: $(cat run/demo-token))"
fi
exec build/otad/otad run -c run/otad.conf
