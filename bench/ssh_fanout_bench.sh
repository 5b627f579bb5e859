#!/usr/bin/env bash
# SSH fan-out benchmark: one trivial command (`true`) on 50 and 200 loopback "hosts", run by
#   runbook        an ssh step (all hosts at once), through the real binary, audit log included;
#                  again with `batch: 16` (at most 16 hosts in flight)
#   parallel-ssh   Debian's pssh, -p N (N ssh processes at once)
#   ansible        Debian's ansible-core, `ansible all -m raw -a true -f N` (its lightest path:
#                  no Python module is copied), SSH connection sharing off so that every run
#                  connects like the first one
# The hosts are 127.0.0.1 .. 127.0.0.N on one port, served by real sshd processes (sshd listens
# on at most 16 addresses, so there is one process per 16). Every tool checks host keys against
# the same known_hosts and logs in with the same ed25519 key. Each tool runs REPEAT times per
# fleet size, interleaved; the table shows median wall-clock time and median client CPU time
# (user+sys of the tool and its children: the cost of the fan-out itself, since on one machine
# the sshd side dominates wall time), each with its ratio to runbook.
#
#   sudo bench/ssh_fanout_bench.sh [path/to/runbook]     (default: $RUNBOOK_BIN, build/runbook)
#   SIZES="50 200" REPEAT=3 bench/ssh_fanout_bench.sh
#
# Installs pssh and ansible-core with apt-get when they are missing. Never run by CI: it takes
# a few minutes and measures the machine more than the code. Traffic stays on 127.0.0.0/8.
set -uo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-${RUNBOOK_BIN:-$SRC/build/runbook}}
SIZES=${SIZES:-"50 200"}
REPEAT=${REPEAT:-3}
[ -x "$BIN" ] || { echo "no runbook binary at $BIN (build it, or pass its path)"; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "run as root (sshd needs it)"; exit 2; }

missing=()
command -v parallel-ssh >/dev/null || missing+=(pssh)
command -v ansible >/dev/null || missing+=(ansible-core)
[ -x /usr/bin/time ] || missing+=(time)
if ((${#missing[@]})); then
  echo "installing ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null \
    || { echo "cannot install ${missing[*]}"; exit 2; }
fi

T=$(mktemp -d /tmp/rb-ssh-bench-XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$T"
}
trap cleanup EXIT

MAX=0
for n in $SIZES; do [ "$n" -gt "$MAX" ] && MAX=$n; done
[ "$MAX" -le 250 ] || { echo "at most 250 hosts (127.0.0.1 .. 127.0.0.250)"; exit 2; }

# ---- keys, sshd processes, known_hosts
mkdir -p /run/sshd "$T/sshd"
for k in host client; do ssh-keygen -q -t ed25519 -N '' -C bench -f "$T/sshd/$k"; done
cp "$T/sshd/client.pub" "$T/sshd/authorized_keys"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
HOSTKEY=$(cut -d' ' -f1,2 "$T/sshd/host.pub")
: > "$T/known_hosts"
for ((first = 1; first <= MAX; first += 16)); do
  cfg="$T/sshd/config.$first"
  {
    echo "Port $PORT"
    for ((i = first; i < first + 16 && i <= MAX; i++)); do echo "ListenAddress 127.0.0.$i"; done
    echo "HostKey $T/sshd/host"
    echo "AuthorizedKeysFile $T/sshd/authorized_keys"
    echo "PasswordAuthentication no"
    echo "KbdInteractiveAuthentication no"
    echo "PidFile $T/sshd/pid.$first"
    echo "StrictModes no"
    echo "UsePAM no"
    echo "MaxStartups 200"
    echo "LogLevel ERROR"
  } > "$cfg"
  /usr/sbin/sshd -D -e -f "$cfg" 2>>"$T/sshd/log" &
  PIDS+=($!)
done
for ((i = 1; i <= MAX; i++)); do echo "[127.0.0.$i]:$PORT $HOSTKEY" >> "$T/known_hosts"; done
for ((i = 1; i <= MAX; i++)); do
  for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.$i/$PORT") 2>/dev/null && break; sleep 0.05; done
done

# ---- per-size inputs for each tool
for n in $SIZES; do
  {
    echo "runbook: bench-fanout"
    echo "targets:"
    echo "  fleet:"
    echo -n "    hosts: ["
    for ((i = 1; i <= n; i++)); do echo -n "\"127.0.0.$i:$PORT\""; [ $i -lt $n ] && echo -n ", "; done
    echo "]"
    echo "    user: root"
    echo "    identity_file: $T/sshd/client"
    echo "    known_hosts: $T/known_hosts"
    echo "steps:"
    echo "  - id: trivial"
    echo "    ssh: {target: fleet, command: \"true\"}"
    echo "    rollback: none"
  } > "$T/runbook-$n.yaml"
  sed 's/command: "true"}/command: "true", batch: 16}/' "$T/runbook-$n.yaml" > "$T/runbook16-$n.yaml"
  for ((i = 1; i <= n; i++)); do echo "127.0.0.$i:$PORT"; done > "$T/pssh-$n.hosts"
  {
    echo "[fleet]"
    for ((i = 1; i <= n; i++)); do echo "127.0.0.$i ansible_port=$PORT"; done
  } > "$T/ansible-$n.ini"
done

SSH_OPTS="-o UserKnownHostsFile=$T/known_hosts -o StrictHostKeyChecking=yes -o BatchMode=yes -o IdentitiesOnly=yes"
export ANSIBLE_HOST_KEY_CHECKING=True
export ANSIBLE_SSH_ARGS="-o ControlMaster=no -o ControlPath=none $SSH_OPTS"
export ANSIBLE_PRIVATE_KEY_FILE="$T/sshd/client"
export ANSIBLE_REMOTE_USER=root
export ANSIBLE_LOCALHOST_WARNING=False
export ANSIBLE_INVENTORY_UNPARSED_WARNING=False

run_tool() {  # run_tool TOOL N -> prints "WALL,CPU" seconds (CPU: user+sys with children), or FAIL
  local tool=$1 n=$2 rc
  local timer=(/usr/bin/time -f "%e %U %S" -o "$T/time")
  case $tool in
    runbook)
      "${timer[@]}" "$BIN" run "$T/runbook-$n.yaml" --audit-db "$T/audit.db" >"$T/out" 2>&1; rc=$? ;;
    runbook16)
      "${timer[@]}" "$BIN" run "$T/runbook16-$n.yaml" --audit-db "$T/audit.db" >"$T/out" 2>&1; rc=$? ;;
    pssh)
      "${timer[@]}" parallel-ssh -h "$T/pssh-$n.hosts" -l root -p "$n" -t 120 \
        -x "$SSH_OPTS -i $T/sshd/client" true >"$T/out" 2>&1; rc=$? ;;
    ansible)
      "${timer[@]}" ansible all -i "$T/ansible-$n.ini" -m raw -a true -f "$n" >"$T/out" 2>&1; rc=$? ;;
  esac
  if [ "$rc" -ne 0 ]; then echo FAIL; tail -n 5 "$T/out" >&2; return; fi
  awk '{ printf "%.2f,%.2f\n", $1, $2 + $3 }' "$T/time"
}

# median FIELD VALUES... (FIELD 1: wall, 2: cpu)
median() { python3 -c 'import statistics,sys; f=int(sys.argv[1]); v=[float(x.split(",")[f-1]) for x in sys.argv[2:] if x!="FAIL"]; print(f"{statistics.median(v):.2f}" if v else "FAIL")' "$@"; }
ratio() { python3 -c "import sys; a,b=sys.argv[1:]; print('-' if 'FAIL' in (a,b) else f'{float(a)/float(b):.1f}x')" "$1" "$2"; }

echo "ssh fan-out benchmark: runbook $("$BIN" --version 2>/dev/null | head -1), $(parallel-ssh --version 2>&1 | head -1 | sed 's/^/pssh /'), $(ansible --version | head -1)"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $REPEAT runs each, median seconds"
echo
echo "| hosts | tool | wall s | client CPU s | wall vs runbook | CPU vs runbook |"
echo "|------:|------|-------:|-------------:|----------------:|---------------:|"
for n in $SIZES; do
  declare -A times=([runbook]="" [runbook16]="" [pssh]="" [ansible]="")
  for ((r = 0; r < REPEAT; r++)); do
    for tool in runbook runbook16 pssh ansible; do times[$tool]+=" $(run_tool "$tool" "$n")"; done
  done
  rbw=$(median 1 ${times[runbook]}); rbc=$(median 2 ${times[runbook]})
  for tool in runbook runbook16 pssh ansible; do
    w=$(median 1 ${times[$tool]}); c=$(median 2 ${times[$tool]})
    name=$tool; [ "$tool" = pssh ] && name=parallel-ssh; [ "$tool" = ansible ] && name="ansible (raw)"
    [ "$tool" = runbook16 ] && name="runbook, batch: 16"
    echo "| $n | $name | $w | $c | $(ratio "$w" "$rbw") | $(ratio "$c" "$rbc") |"
  done
  echo "  runs (wall,cpu): runbook${times[runbook]}; batch16${times[runbook16]}; pssh${times[pssh]}; ansible${times[ansible]}" >&2
done
