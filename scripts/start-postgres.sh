#!/bin/bash
# Starts a throwaway PostgreSQL server for the tests (the acceptance groups on the shared store,
# ACCEPTANCE_PG_URL): initdb into DIR, the server on a free loopback port, trust auth for the
# `postgres` role over loopback. Prints the server's URL (postgresql://postgres@127.0.0.1:PORT/)
# on stdout. Stop it with: scripts/stop-postgres.sh DIR.
#   usage: scripts/start-postgres.sh DIR
set -euo pipefail
dir=${1:?usage: scripts/start-postgres.sh DIR}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bin/initdb" ] || { echo "start-postgres: no PostgreSQL server (scripts/setup.sh installs postgresql)" >&2; exit 1; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$dir"
as_server=()
if [ "$(id -u)" = 0 ]; then  # initdb refuses root: the server runs as postgres
  chown postgres "$dir"
  as_server=(runuser -u postgres --)
fi
"${as_server[@]}" "$bin/initdb" -D "$dir/data" -U postgres -E UTF8 --locale=C -A trust >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }
"${as_server[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=on" start >/dev/null \
  || { cat "$dir/server.log" >&2; exit 1; }
echo "postgresql://postgres@127.0.0.1:$port/"
