#!/usr/bin/env bash
# End-to-end test of runbooks/library/ssh-release.yaml through the real `runbook` binary and a
# real sshd on loopback (127.0.0.1, a free port, keys made here). Releases 1.0.0, then 1.1.0,
# then a broken 1.2.0 whose health check fails, and checks that the run rolled back to 1.1.0:
# `current` points at it again, the service answers from it, and the 1.2.0 folder is gone.
#
#   tests/ssh_release_e2e.sh [path/to/runbook]      (default: $RUNBOOK_BIN, else build/runbook)
#
# Runs in a temp folder; stops everything it started. Needs root (sshd), python3 and curl.
set -uo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-${RUNBOOK_BIN:-$SRC/build/runbook}}

cannot_run() {  # cannot_run WHY: a test that cannot run fails, and says why
  echo "ssh-release e2e cannot run: $1"; echo "ssh-release e2e: 0 passed, 1 failed"; failed=1; exit 1
}
[ -x "$BIN" ] || cannot_run "no runbook binary at $BIN"
# All installed by scripts/setup.sh.
[ -x /usr/sbin/sshd ] || cannot_run "no /usr/sbin/sshd (openssh-server)"
for tool in ssh-keygen python3 curl; do
  command -v "$tool" >/dev/null || cannot_run "$tool not found on PATH"
done

T=$(mktemp -d /tmp/rb-ssh-release-XXXXXX)
SSHD_PID=
passed=0
failed=0

cleanup() {
  if [ -f "$T/srv/app/app.pid" ]; then kill "$(cat "$T/srv/app/app.pid")" 2>/dev/null; fi
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

# ---- a real sshd on 127.0.0.1
mkdir -p "$T/sshd" /run/sshd
for k in host client; do ssh-keygen -q -t ed25519 -N '' -C e2e -f "$T/sshd/$k"; done
cp "$T/sshd/client.pub" "$T/sshd/authorized_keys"
SSH_PORT=$(free_port)
cat > "$T/sshd/config" <<EOF
Port $SSH_PORT
ListenAddress 127.0.0.1
HostKey $T/sshd/host
AuthorizedKeysFile $T/sshd/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PidFile $T/sshd/pid
StrictModes no
UsePAM no
EOF
/usr/sbin/sshd -D -e -f "$T/sshd/config" 2>"$T/sshd/log" &
SSHD_PID=$!
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$SSH_PORT") 2>/dev/null && break
  sleep 0.05
done
(exec 3<>"/dev/tcp/127.0.0.1/$SSH_PORT") 2>/dev/null || cannot_run "sshd did not start: $(cat "$T/sshd/log")"
echo "[127.0.0.1]:$SSH_PORT $(cut -d' ' -f1,2 "$T/sshd/host.pub")" > "$T/sshd/known_hosts"

# ---- artifacts: 1.0.0 and 1.1.0 are healthy, 1.2.0 is not
for v in 1.0.0 1.1.0 1.2.0; do
  rm -rf "$T/pkg" && mkdir -p "$T/pkg/public" "$T/artifacts"
  if [ "$v" = 1.2.0 ]; then echo broken > "$T/pkg/public/health"; else echo "ok $v" > "$T/pkg/public/health"; fi
  echo "<h1>app $v</h1>" > "$T/pkg/public/index.html"
  tar -czf "$T/artifacts/app-$v.tar.gz" -C "$T/pkg" .
done
mkdir -p "$T/srv/app"

# ---- the library runbook with the test's target in place of its own
python3 - "$SRC/runbooks/library/ssh-release.yaml" "$T/ssh-release.yaml" <<EOF
import re, sys
text = open(sys.argv[1]).read()
target = """  app:
    hosts: ["127.0.0.1:$SSH_PORT"]
    user: root
    identity_file: $T/sshd/client
    known_hosts: $T/sshd/known_hosts
    connect_timeout: 5s
"""
new, n = re.subn(r"(  # --- target: begin ---\n).*?(  # --- target: end ---\n)",
                 lambda m: m.group(1) + target + m.group(2), text, flags=re.S)
assert n == 1, "target markers not found"
open(sys.argv[2], "w").write(new)
EOF

HTTP_PORT=$(free_port)
release() {  # release VERSION -> exit code of runbook run
  "$BIN" run "$T/ssh-release.yaml" -p "version=$1" -p "root=$T/srv/app" \
    -p "artifacts=$T/artifacts" -p "port=$HTTP_PORT" --audit-db "$T/audit.db" --json \
    > "$T/run-$1.out" 2>&1
}
health() { curl -fsS --max-time 2 "http://127.0.0.1:$HTTP_PORT/health" 2>/dev/null; }

check "runbook validate accepts the library runbook" "$BIN" validate "$SRC/runbooks/library/ssh-release.yaml"

release 1.0.0; rc=$?
check "1.0.0 releases (exit $rc)" test "$rc" -eq 0
check "current points at 1.0.0" test "$(readlink "$T/srv/app/current")" = releases/1.0.0
check "the service answers ok 1.0.0" test "$(health)" = "ok 1.0.0"

release 1.1.0; rc=$?
check "1.1.0 releases (exit $rc)" test "$rc" -eq 0
check "current points at 1.1.0" test "$(readlink "$T/srv/app/current")" = releases/1.1.0
check "the service answers ok 1.1.0" test "$(health)" = "ok 1.1.0"

release 1.2.0; rc=$?
check "broken 1.2.0 fails verification and rolls back (exit $rc, want 1)" test "$rc" -eq 1
check "current is back at 1.1.0" test "$(readlink "$T/srv/app/current")" = releases/1.1.0
check "the service answers ok 1.1.0 again" test "$(health)" = "ok 1.1.0"
check "the 1.2.0 folder was removed" test ! -e "$T/srv/app/releases/1.2.0"
check "1.0.0 is kept for a later rollback" test -d "$T/srv/app/releases/1.0.0"

"$BIN" audit export --audit-db "$T/audit.db" --format jsonl > "$T/events.jsonl" 2>&1
check "the audit log has per-host records" grep -q "host_finished.*127.0.0.1:$SSH_PORT\|127.0.0.1:$SSH_PORT.*host_finished" "$T/events.jsonl"
check "the audit log hash chain verifies" "$BIN" audit verify --audit-db "$T/audit.db"

if [ "$failed" -ne 0 ]; then
  for f in "$T"/run-*.out; do echo "== $f"; tail -n 30 "$f"; done
fi
echo "ssh-release e2e: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
