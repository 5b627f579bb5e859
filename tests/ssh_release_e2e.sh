#!/usr/bin/env bash
# End-to-end test of runbooks/library/ssh-release.yaml through the real `runbook` binary and a
# real sshd on loopback (a free port, keys made here) standing for two hosts, 127.0.0.1 and
# 127.0.0.2. Each host's sessions run in a mount and network namespace of their own (sshd's
# ForceCommand enters them), so that each host has its own release root, artifacts and
# service on 127.0.0.1:PORT, as two machines would.
#
#   1.0.0, 1.1.0      release on both hosts
#   1.2.0             fails verification: both hosts roll back to 1.1.0
#   1.3.0             activate fails half-way on host 2 only (its artifact is broken there):
#                     with max_fail 0 everything rolls back; with max_fail 1 host 2 alone is
#                     undone at once and the run succeeds on host 1. Host 2 serves its
#                     previous release either way; run --json, runs and the report name it.
#   1.4.0             the executor is killed (SIGKILL) while host 2 activates: `recover`
#                     puts host 2 back from what activate saved there before changing
#                     anything; with that lost too, the rollback refuses (rollback_failed)
#                     and leaves host 2 as it is
#
#   tests/ssh_release_e2e.sh [path/to/runbook]      (default: $RUNBOOK_BIN, else build/runbook)
#
# Runs in a temp folder; stops everything it started. Needs root (sshd, namespaces), python3,
# curl, unshare and nsenter.
set -uo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-${RUNBOOK_BIN:-$SRC/build/runbook}}
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

failed=0
cannot_run() {  # cannot_run WHY: a test that cannot run fails, and says why
  echo "ssh-release e2e cannot run: $1"; echo "ssh-release e2e: 0 passed, 1 failed"; failed=1; exit 1
}
[ -x "$BIN" ] || cannot_run "no runbook binary at $BIN"
# All installed by scripts/setup.sh.
[ -x /usr/sbin/sshd ] || cannot_run "no /usr/sbin/sshd (openssh-server)"
for tool in ssh-keygen python3 curl unshare nsenter ip; do
  command -v "$tool" >/dev/null || cannot_run "$tool not found on PATH"
done
CURL=$(command -v curl)

T=$(mktemp -d /tmp/rb-ssh-release-XXXXXX)
SSHD_PID=
HOST_PIDS=()
passed=0

# The processes of the namespace of host N (its sessions' commands, its service).
host_processes() {
  local ns pid
  ns=$(readlink "/proc/${HOST_PIDS[$1]}/ns/net") || return 0
  for pid in /proc/[0-9]*; do
    pid=${pid#/proc/}
    [ "$pid" = "${HOST_PIDS[$1]}" ] && continue
    [ "$(readlink "/proc/$pid/ns/net" 2>/dev/null)" = "$ns" ] && echo "$pid"
  done
}

cleanup() {
  for n in 1 2; do
    [ -n "${HOST_PIDS[$n]:-}" ] || continue
    for pid in $(host_processes "$n"); do kill -9 "$pid" 2>/dev/null; done
    kill "${HOST_PIDS[$n]}" 2>/dev/null; wait "${HOST_PIDS[$n]}" 2>/dev/null
  done
  if [ -n "$SSHD_PID" ]; then kill "$SSHD_PID" 2>/dev/null; wait "$SSHD_PID" 2>/dev/null; fi
  if [ "$failed" -eq 0 ]; then rm -rf "$T"; else echo "kept $T for a look"; fi
}
trap cleanup EXIT

check() {  # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then passed=$((passed + 1)); echo "ok   $what"
  else failed=$((failed + 1)); echo "FAIL $what"; fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ---- two hosts: a mount and network namespace each, holding $T/srv/app and $T/artifacts
mkdir -p "$T/srv/app" "$T/artifacts"
for n in 1 2; do
  mkdir -p "$T/host$n/app" "$T/host$n/artifacts"
  touch "$T/host$n/app/.host$n"
  unshare --mount --net sh -c "ip link set lo up && mount --bind '$T/host$n/app' '$T/srv/app' &&
    mount --bind '$T/host$n/artifacts' '$T/artifacts' && exec sleep 100000" >/dev/null 2>&1 &
  HOST_PIDS[$n]=$!
  for _ in $(seq 100); do
    nsenter -t "${HOST_PIDS[$n]}" -m test -e "$T/srv/app/.host$n" 2>/dev/null && break
    sleep 0.05
  done
  nsenter -t "${HOST_PIDS[$n]}" -m test -e "$T/srv/app/.host$n" 2>/dev/null ||
    cannot_run "cannot make host $n's namespaces (unshare --mount --net needs root)"
done
in_host() { local n=$1; shift; nsenter -t "${HOST_PIDS[$n]}" -m -n "$@"; }

# ---- a real sshd on 127.0.0.1 and 127.0.0.2; each address's sessions run in its host
mkdir -p "$T/sshd" /run/sshd
for k in host client; do ssh-keygen -q -t ed25519 -N '' -C e2e -f "$T/sshd/$k"; done
cp "$T/sshd/client.pub" "$T/sshd/authorized_keys"
SSH_PORT=$(free_port)
cat > "$T/sshd/config" <<EOF
Port $SSH_PORT
ListenAddress 127.0.0.1
ListenAddress 127.0.0.2
HostKey $T/sshd/host
AuthorizedKeysFile $T/sshd/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PidFile $T/sshd/pid
StrictModes no
UsePAM no
Match LocalAddress 127.0.0.1
  ForceCommand exec nsenter -t ${HOST_PIDS[1]} -m -n -- /bin/sh -c "\$SSH_ORIGINAL_COMMAND"
Match LocalAddress 127.0.0.2
  ForceCommand exec nsenter -t ${HOST_PIDS[2]} -m -n -- /bin/sh -c "\$SSH_ORIGINAL_COMMAND"
EOF
/usr/sbin/sshd -D -e -f "$T/sshd/config" 2>"$T/sshd/log" &
SSHD_PID=$!
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.2/$SSH_PORT") 2>/dev/null && break
  sleep 0.05
done
(exec 3<>"/dev/tcp/127.0.0.2/$SSH_PORT") 2>/dev/null || cannot_run "sshd did not start: $(cat "$T/sshd/log")"
for a in 127.0.0.1 127.0.0.2; do
  echo "[$a]:$SSH_PORT $(cut -d' ' -f1,2 "$T/sshd/host.pub")"
done > "$T/sshd/known_hosts"
H1=127.0.0.1:$SSH_PORT
H2=127.0.0.2:$SSH_PORT

# ---- artifacts: 1.0.0, 1.1.0 and 1.4.0 are healthy; 1.2.0 is not; 1.3.0 is broken on host 2
make_artifact() {  # make_artifact HOST VERSION health|broken|no-public
  rm -rf "$T/pkg" && mkdir -p "$T/pkg/public"
  case $3 in
    health) echo "ok $2" > "$T/pkg/public/health" ;;
    broken) echo broken > "$T/pkg/public/health" ;;
    no-public) rm -rf "$T/pkg/public"; mkdir -p "$T/pkg/lost+found" ;;
  esac
  [ -d "$T/pkg/public" ] && echo "<h1>app $2</h1>" > "$T/pkg/public/index.html"
  tar -czf "$T/host$1/artifacts/app-$2.tar.gz" -C "$T/pkg" .
}
for n in 1 2; do
  for v in 1.0.0 1.1.0 1.4.0; do make_artifact "$n" "$v" health; done
  make_artifact "$n" 1.2.0 broken
done
make_artifact 1 1.3.0 health
make_artifact 2 1.3.0 no-public

# ---- the library runbook with the test's target in place of its own
python3 - "$SRC/runbooks/library/ssh-release.yaml" "$T/ssh-release.yaml" <<EOF
import re, sys
text = open(sys.argv[1]).read()
target = """  app:
    hosts: ["$H1", "$H2"]
    user: root
    identity_file: $T/sshd/client
    known_hosts: $T/sshd/known_hosts
    connect_timeout: 5s
"""
new, n = re.subn(r"(  # --- target: begin ---\n).*?(  # --- target: end ---\n)",
                 lambda m: m.group(1) + target + m.group(2), text, flags=re.S)
assert n == 1, "target markers not found"
open(sys.argv[2], "w").write(new)
# The same with activate allowing one host to fail.
budget, n = re.subn(r"(batch: 1\n\s+max_fail: )0", r"\g<1>1", new)
assert n == 1, "activate's max_fail not found"
open(sys.argv[2].replace(".yaml", "-budget.yaml"), "w").write(budget)
EOF

HTTP_PORT=$(free_port)
ARGS=(-p "root=$T/srv/app" -p "artifacts=$T/artifacts" -p "port=$HTTP_PORT" --audit-db "$T/audit.db")
release() {  # release VERSION [RUNBOOK] -> exit code of runbook run; --json in run-VERSION.json
  "$BIN" run "${2:-$T/ssh-release.yaml}" -p "version=$1" "${ARGS[@]}" --json \
    > "$T/run-$1.json" 2> "$T/run-$1.out"
}
health() { in_host "$1" curl -fsS --max-time 2 "http://127.0.0.1:$HTTP_PORT/health" 2>/dev/null; }
current() { readlink "$T/host$1/app/current"; }
# json FILE PYTHON-EXPRESSION-ON-j: prints the value
json() { python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"; }
on_both() {  # on_both VERSION: current and the service of both hosts are at VERSION
  local n
  for n in 1 2; do
    [ "$(current "$n")" = "releases/$1" ] && [ "$(health "$n")" = "ok $1" ] || return 1
  done
}

check "runbook validate accepts the library runbook" "$BIN" validate "$SRC/runbooks/library/ssh-release.yaml"

release 1.0.0; rc=$?
check "1.0.0 releases (exit $rc)" test "$rc" -eq 0
check "both hosts point at and serve 1.0.0" on_both 1.0.0

release 1.1.0; rc=$?
check "1.1.0 releases (exit $rc)" test "$rc" -eq 0
check "both hosts point at and serve 1.1.0" on_both 1.1.0

release 1.2.0; rc=$?
check "broken 1.2.0 fails verification and rolls back (exit $rc, want 1)" test "$rc" -eq 1
check "both hosts are back at 1.1.0 and serve it" on_both 1.1.0
check "the 1.2.0 folders were removed" test ! -e "$T/host1/app/releases/1.2.0" -a ! -e "$T/host2/app/releases/1.2.0"
check "1.0.0 is kept for a later rollback" test -d "$T/host1/app/releases/1.0.0"

# ---- 1.3.0: activate fails half-way on host 2 (after switching current and stopping the
# service): host 2's rollback must see host 2's own previous release.
release 1.3.0; rc=$?
check "1.3.0, failing on host 2 in activate, rolls back (exit $rc, want 1)" test "$rc" -eq 1
check "both hosts are back at 1.1.0 and serve it, host 2 too" on_both 1.1.0
check "run --json names host 2 as failed in activate and rolled back" test \
  "$(json "$T/run-1.3.0.json" "[(f['step'], f['host'], f['rolled_back']) for f in j['failed_hosts']]")" = \
  "[('activate', '$H2', True)]"
grep -q "host recap" "$T/run-1.3.0.out"
check "the console ends with a host recap" test $? -eq 0
run=$(json "$T/run-1.3.0.json" "j['run_id']")
"$BIN" report "$run" --out "$T/report-1.3.0.html" --audit-db "$T/audit.db" >/dev/null
check "the report lists host 2 as a failed host" \
  grep -q "<li><strong><code>$H2</code></strong> failed in step <code>activate</code>" "$T/report-1.3.0.html"

release 1.3.0 "$T/ssh-release-budget.yaml"; rc=$?
check "1.3.0 with max_fail 1 succeeds without host 2 (exit $rc, want 0)" test "$rc" -eq 0
check "host 1 points at and serves 1.3.0" test "$(current 1)" = releases/1.3.0 -a "$(health 1)" = "ok 1.3.0"
check "host 2 was undone at once: it points at and serves 1.1.0" \
  test "$(current 2)" = releases/1.1.0 -a "$(health 2)" = "ok 1.1.0"
check "run --json names host 2, within max_fail and rolled back" test \
  "$(json "$T/run-1.3.0.json" "[(f['step'], f['host'], f['within_max_fail'], f['rolled_back']) for f in j['failed_hosts']]")" = \
  "[('activate', '$H2', True, True)]"
run=$(json "$T/run-1.3.0.json" "j['run_id']")
"$BIN" runs --json --audit-db "$T/audit.db" > "$T/runs.json"
check "runs --json lists host 2 as the run's failed host" test \
  "$(json "$T/runs.json" "[f['host'] for r in j if r['run_id'] == '$run' for f in r['failed_hosts']]")" = "['$H2']"
"$BIN" audit export --run "$run" --audit-db "$T/audit.db" > "$T/events-1.3.0.jsonl"
check "verification left host 2 out (host_skipped)" \
  grep -q "\"event\":\"host_skipped\",\"phase\":\"verify\".*$H2" "$T/events-1.3.0.jsonl"
"$BIN" report "$run" --out "$T/report-1.3.0b.html" --audit-db "$T/audit.db" >/dev/null
check "the report of that run lists host 2" grep -q "<code>$H2</code></strong> failed in step" "$T/report-1.3.0b.html"

# ---- 1.4.0: killed while host 2 activates (its service is slow to answer: a curl that
# waits), after host 2 switched current. Host 2's output is not in the audit log then.
back_to_1_1_0() {  # both hosts at 1.1.0, as after the 1.2.0 release
  release 1.1.0 || return 1
  on_both 1.1.0
}
kill_while_host2_activates() {  # -> the killed run's id in $run
  printf '#!/bin/sh\nsleep 1; exit 7\n' > "$T/slow-curl" && chmod +x "$T/slow-curl"
  in_host 2 mount --bind "$T/slow-curl" "$CURL"
  "$BIN" run "$T/ssh-release.yaml" -p version=1.4.0 "${ARGS[@]}" > "$T/run-killed.out" 2>&1 &
  local pid=$! i
  for i in $(seq 300); do
    [ "$(current 2)" = releases/1.4.0 ] && break
    sleep 0.1
  done
  sleep 0.5
  kill -9 "$pid"; wait "$pid" 2>/dev/null
  # What the dead executor left running on host 2 (its activate, waiting for the service).
  for p in $(host_processes 2); do
    grep -q "runbook-pgid" "/proc/$p/cmdline" 2>/dev/null && kill -9 -- "-$p" 2>/dev/null
  done
  in_host 2 umount "$CURL"
  run=$("$BIN" runs --json --audit-db "$T/audit.db" | python3 -c "import json,sys; print(json.load(sys.stdin)[0]['run_id'])")
}

# The output of host 2 was lost with the executor; what activate saved there still says.
check "back at 1.1.0 before the crash" back_to_1_1_0
kill_while_host2_activates
check "host 2 had switched to 1.4.0 when the executor died" test "$(current 2)" = releases/1.4.0
"$BIN" recover --audit-db "$T/audit.db" > "$T/recover-1.out" 2>&1; rc=$?
check "recover rolls the run back (exit $rc, want 1)" test "$rc" -eq 1
check "host 2 is back at 1.1.0 from what activate saved before changing it" on_both 1.1.0

# The same with that lost too: nobody knows host 2's previous release; its rollback refuses
# and leaves host 2 alone instead of guessing.
kill_while_host2_activates
check "host 2 had switched to 1.4.0 again" test "$(current 2)" = releases/1.4.0
rm -f "$T/host2/app/releases/1.4.0/.previous-$run"
"$BIN" recover --audit-db "$T/audit.db" > "$T/recover-2.out" 2>&1; rc=$?
check "recover ends rollback_failed (exit $rc, want 3)" test "$rc" -eq 3
check "host 2 still points at 1.4.0: nothing was destroyed" test "$(current 2)" = releases/1.4.0
check "host 1 is back at 1.1.0" test "$(current 1)" = releases/1.1.0 -a "$(health 1)" = "ok 1.1.0"
check "the rollback says why" grep -q "previous release is not known" "$T/recover-2.out"

"$BIN" audit export --audit-db "$T/audit.db" --format jsonl > "$T/events.jsonl" 2>&1
check "the audit log has per-host records" grep -q "host_finished.*$H2" "$T/events.jsonl"
check "the audit log hash chain verifies" "$BIN" audit verify --audit-db "$T/audit.db"

if [ "$failed" -ne 0 ]; then
  for f in "$T"/run-*.out "$T"/recover-*.out; do echo "== $f"; tail -n 30 "$f"; done
fi
echo "ssh-release e2e: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
