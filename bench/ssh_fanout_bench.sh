#!/usr/bin/env bash
# SSH fan-out benchmark: one trivial command (`true`) on 50, 200 and 500 loopback "hosts", run by
#   runbook        an ssh step (all hosts at once), through the real binary, audit log included;
#                  connect_timeout 60s: its default of 10 s bounds TCP connect, handshake and
#                  login, and the last of 500 logins at once on 2 cores take longer than that
#                  (parallel-ssh and ansible bound only the TCP connection and key exchange)
#   parallel-ssh   Debian's pssh, -p N (N ssh processes at once)
#   ansible        Debian's ansible-core, `ansible all -m raw -a true -f N` (its lightest path:
#                  no Python module is copied), SSH connection sharing off so that every run
#                  connects like the first one
#   runbook16      (only when named in TOOLS) runbook with `batch: 16`
# The hosts are 127.0.0.1, 127.0.0.2, ... (then 127.0.1.1, ...) on one port, served by real sshd
# processes (sshd listens on at most 16 addresses, so there is one process per 16). Every tool
# checks host keys against the same known_hosts and logs in with the same ed25519 key.
#
# The remote side runs no rc file, for any tool. Each tool's command is run by the login shell
# of the remote user as `SHELL -c COMMAND`; bash in that position reads ~/.bashrc when it sees
# it was started by sshd, and root's ~/.bashrc on a development machine can be slow (pyenv's
# init waits on a shared lock). So the tools log in as a user made for the benchmark,
# runbook-bench: login shell /bin/sh (dash, which reads no file when non-interactive), an
# empty home folder, created at the start (useradd) and removed at the end (userdel). Its sshd
# runs with UsePAM no, PermitUserRC no, PermitUserEnvironment no, PrintMotd no and
# PrintLastLog no, from a config file of its own (no Include of /etc/ssh), so sshd itself adds
# nothing per login either. Before measuring, one login checks that the home is empty and the
# shell is /bin/sh.
#
# Each tool runs REPEAT times per fleet size, interleaved; reported: median wall-clock time and
# median client CPU time (user+sys of the tool and its children, from /usr/bin/time: the cost
# of the fan-out itself, since on one machine the sshd side dominates wall time).
#
#   sudo bench/ssh_fanout_bench.sh [--quick] [--json FILE] [path/to/runbook]
#   SIZES="50 200 500" REPEAT=3 LARGE_REPEAT=1 TOOLS="runbook pssh ansible" bench/ssh_fanout_bench.sh
#   (LARGE_REPEAT: the runs per tool at 500 hosts or more, where ansible alone takes minutes)
#
# --quick: 20 hosts, runbook and parallel-ssh (when installed; nothing is installed), 3 runs.
# --json FILE: also write the results as bench/run's JSON (docs/performance.md).
# Installs pssh and ansible-core with apt-get when they are missing (not with --quick). Never
# run by CI's tests: it takes minutes and measures the machine more than the code. Traffic
# stays on 127.0.0.0/8.
set -uo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
QUICK=0
JSON_OUT=
while (($#)); do
  case $1 in
    --quick) QUICK=1; shift ;;
    --json) JSON_OUT=$2; shift 2 ;;
    *) break ;;
  esac
done
BIN=${1:-${RUNBOOK_BIN:-$SRC/build/runbook}}
if ((QUICK)); then
  SIZES=${SIZES:-20}
  TOOLS=${TOOLS:-runbook pssh}
  command -v parallel-ssh >/dev/null || TOOLS=${TOOLS//pssh/}
else
  SIZES=${SIZES:-"50 200 500"}
  TOOLS=${TOOLS:-runbook pssh ansible}
fi
REPEAT=${REPEAT:-3}
LARGE_REPEAT=${LARGE_REPEAT:-1}  # runs at 500 hosts and more: minutes each
BENCH_USER=${BENCH_USER:-runbook-bench}
[ -x "$BIN" ] || { echo "no runbook binary at $BIN (build it, or pass its path)"; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "run as root (sshd, and the benchmark's own user)"; exit 2; }

missing=()
[[ " $TOOLS " == *" pssh "* ]] && ! command -v parallel-ssh >/dev/null && missing+=(pssh)
[[ " $TOOLS " == *" ansible "* ]] && ! command -v ansible >/dev/null && missing+=(ansible-core)
[ -x /usr/bin/time ] || missing+=(time)
if ((${#missing[@]})); then
  echo "installing ${missing[*]}"
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; }; then
    echo "cannot install ${missing[*]}"; exit 2
  fi
fi

T=$(mktemp -d /tmp/rb-ssh-bench-XXXXXX)
chmod 755 "$T"  # sshd reads authorized_keys as the benchmark's user
PIDS=()
MADE_USER=0
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  ((MADE_USER)) && userdel "$BENCH_USER" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT

MAX=0
for n in $SIZES; do [ "$n" -gt "$MAX" ] && MAX=$n; done
[ "$MAX" -le 2000 ] || { echo "at most 2000 hosts"; exit 2; }
addr() { echo "127.0.$((($1 - 1) / 250)).$((($1 - 1) % 250 + 1))"; }  # host i (from 1)

# ---- the benchmark's user: /bin/sh, an empty home, no password (sshd refuses locked accounts)
mkdir -m 755 "$T/home"
if id "$BENCH_USER" >/dev/null 2>&1; then
  usermod -d "$T/home" -s /bin/sh "$BENCH_USER" || exit 2
else
  useradd --system --no-create-home --home-dir "$T/home" --shell /bin/sh "$BENCH_USER" || exit 2
fi
MADE_USER=1
usermod -p '*' "$BENCH_USER"
chown "$BENCH_USER" "$T/home"

# ---- keys, sshd processes, known_hosts
mkdir -p /run/sshd "$T/sshd"
chmod 755 "$T/sshd"
for k in host client; do ssh-keygen -q -t ed25519 -N '' -C bench -f "$T/sshd/$k"; done
cp "$T/sshd/client.pub" "$T/sshd/authorized_keys"
chmod 644 "$T/sshd/authorized_keys"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
HOSTKEY=$(cut -d' ' -f1,2 "$T/sshd/host.pub")
for ((first = 1; first <= MAX; first += 16)); do
  cfg="$T/sshd/config.$first"
  {
    echo "Port $PORT"
    for ((i = first; i < first + 16 && i <= MAX; i++)); do echo "ListenAddress $(addr $i)"; done
    echo "HostKey $T/sshd/host"
    echo "AuthorizedKeysFile $T/sshd/authorized_keys"
    echo "AllowUsers $BENCH_USER"
    echo "PasswordAuthentication no"
    echo "KbdInteractiveAuthentication no"
    echo "UsePAM no"
    echo "PermitUserRC no"
    echo "PermitUserEnvironment no"
    echo "PrintMotd no"
    echo "PrintLastLog no"
    echo "PidFile $T/sshd/pid.$first"
    echo "StrictModes no"
    echo "MaxStartups 200"
    echo "LogLevel ERROR"
  } > "$cfg"
  /usr/sbin/sshd -D -e -f "$cfg" 2>>"$T/sshd/log" &
  PIDS+=($!)
done
: > "$T/known_hosts"
for ((i = 1; i <= MAX; i++)); do echo "[$(addr $i)]:$PORT $HOSTKEY" >> "$T/known_hosts"; done
for ((i = 1; i <= MAX; i++)); do
  a=$(addr $i)
  for _ in $(seq 200); do (exec 3<>"/dev/tcp/$a/$PORT") 2>/dev/null && break; sleep 0.05; done
done

SSH_OPTS="-o UserKnownHostsFile=$T/known_hosts -o StrictHostKeyChecking=yes -o BatchMode=yes -o IdentitiesOnly=yes"
# What a command finds on the far side: the shell, and a home with nothing in it.
# shellcheck disable=SC2086  # SSH_OPTS: several words, on purpose
probe=$(ssh $SSH_OPTS -i "$T/sshd/client" -p "$PORT" "$BENCH_USER@127.0.0.1" \
  'echo "$0 $(ls -A ~ | wc -l)"' 2>&1)
[ "$probe" = "sh 0" ] || { echo "remote side not as expected ('$probe'): $(cat "$T/sshd/log")"; exit 2; }

# ---- per-size inputs for each tool
for n in $SIZES; do
  {
    echo "runbook: bench-fanout"
    echo "targets:"
    echo "  fleet:"
    echo -n "    hosts: ["
    for ((i = 1; i <= n; i++)); do echo -n "\"$(addr $i):$PORT\""; [ "$i" -lt "$n" ] && echo -n ", "; done
    echo "]"
    echo "    user: $BENCH_USER"
    echo "    identity_file: $T/sshd/client"
    echo "    known_hosts: $T/known_hosts"
    echo "    connect_timeout: 60s"
    echo "steps:"
    echo "  - id: trivial"
    echo "    ssh: {target: fleet, command: \"true\"}"
    echo "    rollback: none"
  } > "$T/runbook-$n.yaml"
  sed 's/command: "true"}/command: "true", batch: 16}/' "$T/runbook-$n.yaml" > "$T/runbook16-$n.yaml"
  for ((i = 1; i <= n; i++)); do echo "$(addr $i):$PORT"; done > "$T/pssh-$n.hosts"
  {
    echo "[fleet]"
    for ((i = 1; i <= n; i++)); do echo "$(addr $i) ansible_port=$PORT"; done
  } > "$T/ansible-$n.ini"
done

export ANSIBLE_HOST_KEY_CHECKING=True
export ANSIBLE_SSH_ARGS="-o ControlMaster=no -o ControlPath=none $SSH_OPTS"
export ANSIBLE_PRIVATE_KEY_FILE="$T/sshd/client"
export ANSIBLE_REMOTE_USER=$BENCH_USER
export ANSIBLE_LOCALHOST_WARNING=False
export ANSIBLE_INVENTORY_UNPARSED_WARNING=False
export ANSIBLE_LOCAL_TEMP=$T/ansible-tmp
ulimit -n "$(ulimit -Hn)" 2>/dev/null  # an ssh process per host holds several descriptors

# CPU seconds (user+sys) of the sshd processes' ended children: every login's server side,
# from the connection's own sshd to the remote command.
server_cpu() {
  local p ticks=0
  for p in "${PIDS[@]}"; do
    read -r -a f < "/proc/$p/stat" && ticks=$((ticks + f[15] + f[16]))
  done
  echo "$ticks $(getconf CLK_TCK)" | awk '{ printf "%.2f", $1 / $2 }'
}

run_tool() {  # run_tool TOOL N -> "WALL,CPU,SERVER_CPU" seconds (CPU: user+sys with children), or FAIL
  local tool=$1 n=$2 rc s0
  s0=$(server_cpu)
  local timer=(/usr/bin/time -f "%e %U %S" -o "$T/time")
  case $tool in
    runbook)
      "${timer[@]}" "$BIN" run "$T/runbook-$n.yaml" --audit-db "$T/audit.db" >"$T/out" 2>&1; rc=$? ;;
    runbook16)
      "${timer[@]}" "$BIN" run "$T/runbook16-$n.yaml" --audit-db "$T/audit.db" >"$T/out" 2>&1; rc=$? ;;
    pssh)
      "${timer[@]}" parallel-ssh -h "$T/pssh-$n.hosts" -l "$BENCH_USER" -p "$n" -t 300 \
        -x "$SSH_OPTS -i $T/sshd/client" true >"$T/out" 2>&1; rc=$? ;;
    ansible)
      "${timer[@]}" ansible all -i "$T/ansible-$n.ini" -m raw -a true -f "$n" >"$T/out" 2>&1; rc=$? ;;
    *) echo "unknown tool '$tool'" >&2; rc=2 ;;
  esac
  if [ "$rc" -ne 0 ]; then echo FAIL; tail -n 5 "$T/out" >&2; return; fi
  sleep 0.2  # the last sessions' server side ends just after the client's
  awk -v s0="$s0" -v s1="$(server_cpu)" '{ printf "%.3f,%.3f,%.2f\n", $1, $2 + $3, s1 - s0 }' "$T/time"
}

version() {
  case $1 in
    runbook*) "$BIN" --version 2>/dev/null | head -1 ;;
    pssh) echo "parallel-ssh $(dpkg-query -W -f '${Version}' pssh 2>/dev/null)" ;;
    ansible) ansible --version | sed -n 1p ;;
  esac
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "ssh fan-out benchmark: $(for t in $TOOLS; do version "$t"; done | paste -sd ';' | sed 's/;/; /g')"
echo "machine: $(nproc) cores, load $LOAD_BEFORE; $REPEAT runs each, interleaved, medians"
echo "remote: user $BENCH_USER, login shell /bin/sh, empty home (no rc file read); $(/usr/sbin/sshd -V 2>&1 | head -1)"
RESULTS=$T/results.jsonl
: > "$RESULTS"
for n in $SIZES; do
  reps=$REPEAT
  ((n >= 500)) && reps=$LARGE_REPEAT
  for ((r = 0; r < reps; r++)); do
    for tool in $TOOLS; do
      m=$(run_tool "$tool" "$n")
      IFS=, read -r w c sc <<< "$m"
      echo "  $n hosts, run $((r + 1)): $tool ${w} s wall, ${c:-} s client CPU, ${sc:-} s server CPU" >&2
      if [ "$m" = FAIL ]; then
        echo "{\"tool\": \"$tool\", \"hosts\": $n, \"ok\": false}" >> "$RESULTS"
      else
        echo "{\"tool\": \"$tool\", \"hosts\": $n, \"ok\": true, \"wall_s\": $w, \"cpu_s\": $c, \"server_cpu_s\": $sc}" >> "$RESULTS"
      fi
    done
  done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
FAILED=$(grep -c '"ok": false' "$RESULTS")

versions=$(for t in $TOOLS; do version "$t"; done | paste -sd ';' | sed 's/;/; /g')
versions+="; server $(/usr/sbin/sshd -V 2>&1 | head -1 | cut -d, -f1)"
python3 - "$RESULTS" "$JSON_OUT" "$REPEAT" "$LOAD_BEFORE" "$LOAD_AFTER" "$versions" "$QUICK" <<'PY'
import collections, datetime, json, statistics, sys
results, out, repeat, load_before, load_after, versions, quick = sys.argv[1:]
runs = collections.defaultdict(list)
for line in open(results):
    m = json.loads(line)
    runs[m["tool"], m["hosts"]].append(m)
tools = list(dict.fromkeys(t for t, _ in runs))
sizes = sorted({n for _, n in runs})
names = {"runbook": "runbook", "runbook16": "runbook, batch: 16", "pssh": "parallel-ssh",
         "ansible": "ansible (raw)"}

def med(tool, n, field):
    v = [m[field] for m in runs[tool, n] if m["ok"]]
    return statistics.median(v) if v else None

print()
print("| hosts | tool | wall s | client CPU s | CPU ms per host | server CPU s | wall vs runbook | CPU vs runbook |")
print("|------:|------|-------:|-------------:|----------------:|-------------:|----------------:|---------------:|")
for n in sizes:
    rw, rc = med("runbook", n, "wall_s"), med("runbook", n, "cpu_s")
    for t in tools:
        w, c = med(t, n, "wall_s"), med(t, n, "cpu_s")
        if w is None:
            print(f"| {n} | {names.get(t, t)} | FAIL | FAIL | - | - | - | - |")
            continue
        vs = lambda a, b: f"{a / b:.1f}x" if a and b else "-"
        print(f"| {n} | {names.get(t, t)} | {w:.2f} | {c:.2f} | {c / n * 1000:.1f} "
              f"| {med(t, n, 'server_cpu_s'):.2f} | {vs(w, rw)} | {vs(c, rc)} |")
if not out:
    sys.exit(0)

rows = []
for n in sizes:
    rw, rc = med("runbook", n, "wall_s"), med("runbook", n, "cpu_s")
    for ref in ("pssh", "ansible"):
        if (ref, n) not in runs or rw is None:
            continue
        w, c = med(ref, n, "wall_s"), med(ref, n, "cpu_s")
        goal_w = ">= 3x" if ref == "pssh" and n == 200 else None
        goal_c = ">= 30x" if ref == "pssh" and n == 200 else None
        ratio_w = round(w / rw, 2) if w else None
        ratio_c = round(c / rc, 1) if c and rc else None
        rows.append({"what": f"wall, {n} hosts, vs {names[ref]}",
                     "ours": f"{rw:.2f} s", "reference": f"{names[ref]} {w:.2f} s" if w else "FAIL",
                     "ratio": ratio_w, "goal": goal_w,
                     "met": None if goal_w is None or ratio_w is None else ratio_w >= 3})
        rows.append({"what": f"client CPU, {n} hosts, vs {names[ref]}",
                     "ours": f"{rc / n * 1000:.1f} ms/host",
                     "reference": f"{names[ref]} {c / n * 1000:.1f} ms/host" if c else "FAIL",
                     "ratio": ratio_c, "goal": goal_c,
                     "met": None if goal_c is None or ratio_c is None else ratio_c >= 30})

def series(field, per_host):
    s = []
    for t in tools:
        pts = []
        for n in sizes:
            v = med(t, n, field)
            if v is not None:
                pts.append([n, round(v / n * 1000, 2) if per_host else round(v, 3)])
        s.append({"label": names.get(t, t), "points": pts})
    return s

def table_rows():
    out = []
    for n in sizes:
        rw, rc = med("runbook", n, "wall_s"), med("runbook", n, "cpu_s")
        for t in tools:
            w, c, sc = (med(t, n, f) for f in ("wall_s", "cpu_s", "server_cpu_s"))
            if w is None:
                out.append([n, names.get(t, t), "FAIL", "FAIL", "-", "-", "-", "-"])
                continue
            vs = lambda a, b: f"{a / b:.1f}x" if a and b else "-"
            out.append([n, names.get(t, t), f"{w:.2f}", f"{c:.2f}", f"{c / n * 1000:.1f}",
                        f"{sc:.2f}", vs(w, rw), vs(c, rc)])
    return out

def runs_text():
    per_size = collections.OrderedDict()
    for n in sizes:
        per_size.setdefault(max(len(runs[t, n]) for t in tools), []).append(str(n))
    return "; ".join(f"{k} run{'s' if k > 1 else ''} of each tool at {', '.join(v)} hosts"
                     for k, v in per_size.items()).capitalize()

doc = {
    "name": "ssh-fanout",
    "title": "SSH fan-out: runbook vs parallel-ssh vs ansible",
    "method": (
        "`true` on every host of a loopback fleet (127.0.0.1, 127.0.0.2, ...: one real sshd "
        "per 16 addresses, OpenSSH, strict host keys, one ed25519 key), run by runbook (an ssh "
        "step, all hosts at once, through the real binary with its audit log; connect_timeout "
        "60s instead of 10s, since the last of 500 logins at once on this machine take longer "
        "than 10 s to get through handshake and authentication), parallel-ssh "
        "(`-p N`: one ssh process per host, all at once) and ansible (`ansible all -m raw -a "
        "true -f N`, SSH connection sharing off). The remote user is made for the benchmark "
        "(runbook-bench: login shell /bin/sh, an empty home; sshd with UsePAM no, PermitUserRC "
        "no, PrintMotd no), so no rc file runs on the far side for any tool. "
        f"{runs_text()}, interleaved; medians. Wall: the tool's "
        "whole run; client CPU: user+sys of the tool and its children (/usr/bin/time). The "
        "sshd processes share the machine's cores with the client, so wall time is mostly the "
        f"servers'. Load average {load_before} before, {load_after} after. Versions: {versions}."),
    "command": "bench/run --quick ssh-fanout" if quick == "1" else "bench/run ssh-fanout",
    "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
    "rows": rows,
    "tables": [{"title": "Medians per tool; server CPU is what the sshd side spent (every "
                         "login's sshd processes and the remote shell, from the listening "
                         "sshd processes' reaped children):",
                "columns": ["hosts", "tool", "wall s", "client CPU s", "client CPU ms per host",
                            "server CPU s", "wall vs runbook", "client CPU vs runbook"],
                "rows": table_rows()}],
    "plots": [
        {"file": "ssh-fanout-wall.svg", "title": "SSH wall vs hosts", "x_label": "hosts",
         "y_label": "wall s", "log_x": False, "series": series("wall_s", False)},
        {"file": "ssh-fanout-cpu.svg", "title": "Client CPU per host vs hosts",
         "x_label": "hosts", "y_label": "client CPU ms per host", "log_x": False, "log_y": True,
         "series": series("cpu_s", True)},
    ],
    "runs": [json.loads(line) for line in open(results)],
}
with open(out, "w") as f:
    json.dump(doc, f, indent=1)
    f.write("\n")
PY
status=$?
((FAILED == 0)) || { echo "$FAILED run(s) failed (above)"; exit 1; }
exit "$status"
