#!/usr/bin/env bash
# The main demo: a release that succeeds, a broken release that rolls itself back, and the
# replay of that run. Uses nothing but the built binary and the default audit database
# (the per-user one: ~/.local/state/runbook/audit.db, or $RUNBOOK_AUDIT_DB).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
runbook=${RUNBOOK_BIN:-$here/../../build/runbook}
cd "$here"
port=${DEMO_PORT:-8765}
stop_service() { [ -f work/server.pid ] && kill "$(cat work/server.pid)" 2>/dev/null; rm -f work/server.pid; }
stop_service
rm -rf work

banner() { printf '\n\033[1m=== %s\033[0m\n' "$*"; }

banner "1. validate and plan the release"
"$runbook" validate release.yaml || exit 1
"$runbook" plan release.yaml -p version=1.1.0 -p port="$port" | head -40

banner "2. release 1.0.0, then 1.1.0 (both succeed)"
"$runbook" run release.yaml -p version=1.0.0 -p port="$port" || { stop_service; exit 1; }
"$runbook" run release.yaml -p version=1.1.0 -p port="$port" || { stop_service; exit 1; }
echo "the service says: $(cat work/current/health)"

banner "3. release 2.0.0, which ships without its health endpoint"
"$runbook" run release.yaml -p version=2.0.0 -p port="$port" --json > work/broken.json
code=$?
echo "runbook exited $code (1 = failed and rolled back)"
echo "current points at: $(readlink work/current)"
run_id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["run_id"])' work/broken.json)

banner "4. the post-mortem: replay of run $run_id"
"$runbook" replay "$run_id"
"$runbook" audit verify

stop_service
[ "$code" -eq 1 ] && [ "$(readlink work/current)" = releases/1.1.0 ]
