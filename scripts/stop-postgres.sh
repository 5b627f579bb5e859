#!/bin/bash
# Stops a server started by scripts/start-postgres.sh DIR and removes DIR.
set -uo pipefail
dir=${1:?usage: scripts/stop-postgres.sh DIR}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
as_server=()
[ "$(id -u)" = 0 ] && as_server=(runuser -u postgres --)
"${as_server[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1
rm -rf "$dir"
