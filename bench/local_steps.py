#!/usr/bin/env python3
"""local-steps: what one local step costs in `runbook run`, measured in one run against
  - ansible-playbook running the same `true` commands as tasks against localhost
    (connection=local, no fact gathering): the tool a team would otherwise use;
  - the floor: `/bin/sh -c true` spawned by a C++ loop (posix_spawn) plus as many durable
    commits as runbook makes, by a bare SQLite loop (WAL, synchronous=FULL, one small INSERT
    per commit) on the same file system (build/bench/local_steps_floor);
and how the cost per step and the peak memory (wait4's ru_maxrss) grow from 100 to 1,000 and
10,000 steps. The durable commits per step are counted with strace (fdatasync and fsync
calls, in a run of its own that is not timed): once for 10 steps and once for 100, so that
the commits of the run itself (its start and end) are told apart from those of each step.

Every runbook run starts on a fresh audit database in one temporary folder (and a settings
file of its own, empty); the runbooks are `runbook: steps-N` with N steps `shell: "true"`.

  bench/local_steps.py --build build --out build/bench-results [--quick]

--quick: 100 and 1,000 steps, no ansible, fewer repeats (a smoke run). Knobs (environment):
REPEAT (runs of 100 steps and of the floor, default 5; 2 with --quick), ANSIBLE_REPEAT (2).
Prints a table and writes OUT/local-steps.json (bench/run's convention).
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile


def die(message):
    print(f"bench/run local-steps: error: {message}", file=sys.stderr)
    sys.exit(2)


# build/bench/peak_rss, which runs each measured command: a child of this Python process would
# report Python's own peak RSS (some 15 MB) whenever the command's is smaller (bench/peak_rss.cc).
LAUNCHER = None


def measure(argv, env=None, cwd=None):
    """Runs argv to completion through LAUNCHER; returns wall seconds, the peak RSS in KiB of it
    and its children, and their CPU seconds (user + system)."""
    fd, result = tempfile.mkstemp(prefix="peak-rss-", suffix=".json")
    os.close(fd)
    proc = subprocess.run([LAUNCHER, result] + argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = proc.stderr.decode(errors="replace")
    if proc.returncode != 0:
        die(f"{LAUNCHER} {' '.join(argv[:4])}... failed ({proc.returncode}): {err.strip()[-2000:]}")
    with open(result) as f:
        got = json.load(f)
    os.unlink(result)
    if got["exit"] != 0:
        die(f"{' '.join(argv[:4])}... exited {got['exit']}: {err.strip()[-2000:]}")
    return got["wall_s"], got["maxrss_kb"], got["cpu_s"]


class Bench:
    def __init__(self, args):
        self.build = os.path.abspath(args.build)
        self.runbook = os.path.join(self.build, "runbook")
        self.floor = os.path.join(self.build, "bench", "local_steps_floor")
        global LAUNCHER
        LAUNCHER = os.path.join(self.build, "bench", "peak_rss")
        for binary in (self.runbook, self.floor, LAUNCHER):
            if not os.access(binary, os.X_OK):
                die(f"no {binary} (cmake --build build)")
        self.quick = args.quick
        self.tmp = tempfile.mkdtemp(prefix="rb-local-steps-", dir=os.environ.get("TMPDIR", "/tmp"))
        self.config = os.path.join(self.tmp, "config.yaml")
        open(self.config, "w").close()
        self.env = dict(os.environ, RUNBOOK_CONFIG=self.config, XDG_STATE_HOME=self.tmp)
        self.runs = 0

    def runbook_file(self, steps):
        path = os.path.join(self.tmp, f"steps-{steps}.yaml")
        if not os.path.exists(path):
            with open(path, "w") as f:
                f.write(f"runbook: steps-{steps}\nsteps:\n")
                for i in range(steps):
                    f.write(f"  - id: s{i}\n    shell: \"true\"\n")
        return path

    def fresh_db(self, kind):
        self.runs += 1
        return os.path.join(self.tmp, f"{kind}-{self.runs}.db")

    def runbook_argv(self, steps):
        return [self.runbook, "run", self.runbook_file(steps), "--audit-db", self.fresh_db("audit")]

    def run_runbook(self, steps):
        return measure(self.runbook_argv(steps), env=self.env, cwd=self.tmp)

    def durable_commits(self, steps):
        """fdatasync + fsync calls of one run of `steps` steps (strace -f -c)."""
        out = os.path.join(self.tmp, f"strace-{steps}.txt")
        measure(["strace", "-f", "-c", "-e", "trace=fdatasync,fsync", "-o", out]
                + self.runbook_argv(steps), env=self.env, cwd=self.tmp)
        calls = 0
        for line in open(out):
            m = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(fdatasync|fsync)\s*$", line)
            if m:
                calls += int(m.group(1))
        return calls

    def run_floor(self, steps, per_step):
        argv = [self.floor, "--db", self.fresh_db("floor"), "--steps", str(steps),
                "--commits-per-step", f"{per_step:.4f}"]
        out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
        return json.loads(out)

    def ansible_playbook(self, steps):
        path = os.path.join(self.tmp, f"playbook-{steps}.yml")
        with open(path, "w") as f:
            f.write("- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n")
            for i in range(steps):
                f.write(f"    - name: s{i}\n      command: \"true\"\n")
        return path

    def run_ansible(self, playbook):
        env = dict(os.environ, ANSIBLE_LOCAL_TEMP=os.path.join(self.tmp, "ansible-local"),
                   ANSIBLE_REMOTE_TEMP=os.path.join(self.tmp, "ansible-remote"),
                   ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0")
        return measure(["ansible-playbook", "-i", "localhost,", "-e",
                        "ansible_python_interpreter=/usr/bin/python3", playbook],
                       env=env, cwd=self.tmp)[0]


def ms(seconds):
    return f"{seconds * 1000:.1f} ms"


def mib(kib):
    return f"{kib / 1024:.1f} MB"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    b = Bench(args)
    try:
        report(b, args)
    finally:
        shutil.rmtree(b.tmp, ignore_errors=True)


def report(b, args):
    repeat = int(os.environ.get("REPEAT", 2 if b.quick else 5))
    ansible_repeat = 0 if b.quick else int(os.environ.get("ANSIBLE_REPEAT", 2))
    sizes = [100, 1000] if b.quick else [100, 1000, 10000]
    big_repeat = {1000: 1 if b.quick else 3, 10000: 1}
    if ansible_repeat and shutil.which("ansible-playbook") is None:
        print("installing ansible-core", file=sys.stderr)
        subprocess.run("apt-get update -qq && DEBIAN_FRONTEND=noninteractive "
                       "apt-get install -y -qq ansible-core >/dev/null", shell=True, check=True)
    if shutil.which("strace") is None:
        print("installing strace", file=sys.stderr)
        subprocess.run("apt-get update -qq && DEBIAN_FRONTEND=noninteractive "
                       "apt-get install -y -qq strace >/dev/null", shell=True, check=True)

    # findmnt names ext4 as such (stat -f says ext2/ext3).
    fs = (subprocess.run(["findmnt", "-no", "FSTYPE", "-T", b.tmp], capture_output=True,
                         text=True).stdout.strip()
          or subprocess.run(["stat", "-f", "-c", "%T", b.tmp], capture_output=True,
                            text=True).stdout.strip())
    print(f"local-steps: `runbook run` of N local `true` steps; files on {fs} ({b.tmp})")
    print(f"machine: {os.cpu_count()} cores, load {' '.join(open('/proc/loadavg').read().split()[:3])}")

    b.run_runbook(100)  # warm up: page cache, binaries
    syncs_10, syncs_100 = b.durable_commits(10), b.durable_commits(100)
    per_step = (syncs_100 - syncs_10) / 90
    whole = syncs_100 / 100
    print(f"durable commits (fdatasync + fsync): {syncs_10} for 10 steps, {syncs_100} for 100: "
          f"{per_step:.2f} per step, {whole:.2f} per step with the run's own")

    # 100 steps: runbook, the floor and ansible take turns.
    playbook = b.ansible_playbook(100)
    ours, rss, cpu = {s: [] for s in sizes}, {s: [] for s in sizes}, {s: [] for s in sizes}
    floor, ansible = [], []
    for r in range(max(repeat, ansible_repeat)):
        if r < repeat:
            wall, peak, used = b.run_runbook(100)
            ours[100].append(wall)
            rss[100].append(peak)
            cpu[100].append(used)
            floor.append(b.run_floor(100, whole))
        if r < ansible_repeat:
            ansible.append(b.run_ansible(playbook))
        print(f"  round {r + 1}: runbook {ms(ours[100][-1])}, floor {ms(floor[-1]['wall_s'])}"
              + (f", ansible-playbook {ansible[-1]:.2f} s" if r < ansible_repeat else ""),
              file=sys.stderr)
    for steps in sizes[1:]:
        for _ in range(big_repeat[steps]):
            wall, peak, used = b.run_runbook(steps)
            ours[steps].append(wall)
            rss[steps].append(peak)
            cpu[steps].append(used)
            print(f"  {steps} steps: {wall:.1f} s, peak RSS {mib(peak)}", file=sys.stderr)

    med = {s: statistics.median(ours[s]) for s in sizes}
    step_ms = {s: med[s] / s * 1000 for s in sizes}
    cpu_ms = {s: statistics.median(cpu[s]) / s * 1000 for s in sizes}
    peak = {s: max(rss[s]) for s in sizes}
    floor_wall = statistics.median(f["wall_s"] for f in floor)
    floor_spawn = statistics.median(f["spawn_s"] for f in floor)
    floor_commit = statistics.median(f["commit_s"] for f in floor)
    rows = []
    if ansible:
        a = statistics.median(ansible)
        rows.append({"what": "100 local steps, wall: runbook vs ansible-playbook",
                     "ours": ms(med[100]), "reference": f"ansible-playbook {a:.2f} s",
                     "ratio": round(a / med[100], 1), "goal": ">= 100x",
                     "met": a / med[100] >= 100})
    rows.append({"what": f"100 local steps, wall: runbook vs the floor (sh -c true + {whole:.2f} "
                         "bare SQLite commits per step)",
                 "ours": ms(med[100]),
                 "reference": f"floor {ms(floor_wall)} (spawning {ms(floor_spawn)}, "
                              f"committing {ms(floor_commit)})",
                 "ratio": round(med[100] / floor_wall, 2), "goal": "<= 1.5x",
                 "met": med[100] / floor_wall <= 1.5})
    rows.append({"what": "durable commits (fdatasync + fsync) per step, strace: "
                         "(100 steps - 10 steps) / 90",
                 "ours": f"{per_step:.2f}",
                 "reference": f"{syncs_100} in a run of 100 steps, {syncs_10} of 10",
                 "ratio": round(per_step, 2), "goal": "<= 2", "met": per_step <= 2})
    for s in sizes[1:]:
        rows.append({"what": f"wall per step, {s:,} vs 100 steps",
                     "ours": f"{step_ms[s]:.2f} ms at {s:,}",
                     "reference": f"{step_ms[100]:.2f} ms at 100",
                     "ratio": round(step_ms[s] / step_ms[100], 2), "goal": "<= 1.1x",
                     "met": step_ms[s] / step_ms[100] <= 1.1})
    for s in sizes[1:]:
        rows.append({"what": f"CPU (user + system, with its children) per step, {s:,} vs 100 "
                             "steps: the same, without the disk's latency",
                     "ours": f"{cpu_ms[s]:.2f} ms at {s:,}",
                     "reference": f"{cpu_ms[100]:.2f} ms at 100",
                     "ratio": round(cpu_ms[s] / cpu_ms[100], 2), "goal": "<= 1.1x",
                     "met": cpu_ms[s] / cpu_ms[100] <= 1.1})
    limits = {1000: 16, 10000: 24}
    for s in sizes[1:]:
        rows.append({"what": f"peak RSS (wait4 ru_maxrss), {s:,} steps",
                     "ours": mib(peak[s]), "reference": f"{mib(peak[100])} at 100 steps",
                     "ratio": round(peak[s] / peak[100], 2), "goal": f"< {limits[s]} MB",
                     "met": peak[s] / 1024 < limits[s]})

    print()
    print("| what | runbook | reference | ratio | goal | met |")
    print("|---|---:|---|---:|---|---|")
    for row in rows:
        print(f"| {row['what']} | {row['ours']} | {row['reference']} | {row['ratio']} "
              f"| {row['goal']} | {'yes' if row['met'] else 'no'} |")
    runs = "; ".join(f"{s}: " + " ".join(f"{w:.3f}" for w in ours[s]) for s in sizes)
    print(f"runbook wall of each run, seconds: {runs}")
    print("floor wall of each run, seconds: " + " ".join(f"{f['wall_s']:.3f}" for f in floor))
    if ansible:
        print("ansible-playbook wall of each run, seconds: "
              + " ".join(f"{a:.2f}" for a in ansible))

    method = (
        f"On {os.cpu_count()} cores, files on {fs} in one temporary folder. `runbook run "
        "steps-N.yaml --audit-db FRESH.db` (N steps `shell: \"true\"`, an empty settings "
        "file), output to /dev/null, started by build/bench/peak_rss (a small C++ launcher: "
        "a child of the Python harness would report the harness's own 15 MB as its peak RSS "
        "whenever its own is smaller); wall clock, and wait4's ru_maxrss and CPU time (user + "
        "system of runbook and the steps' processes). 100 steps: median of "
        f"{repeat} runs, taking turns with the floor"
        + (f" and with {ansible_repeat} runs of `ansible-playbook -i localhost, "
           "playbook.yml` (hosts: localhost, connection: local, gather_facts: false, 100 tasks "
           "`command: \"true\"`, ansible-core "
           + subprocess.run(["ansible-playbook", "--version"], capture_output=True,
                            text=True).stdout.split("\n")[0].split("core ")[-1].rstrip("]")
           + ")" if ansible else "")
        + "; " + ", ".join(f"{s:,} steps: median of {big_repeat[s]}" for s in sizes[1:])
        + ". Floor: build/bench/local_steps_floor, per step one posix_spawn of `/bin/sh -c "
        f"true` (waited for) and {whole:.2f} commits (runbook's fdatasync+fsync calls per step "
        "over a whole 100-step run, strace -f -c) of one small INSERT each into a fresh SQLite "
        "database in WAL mode with synchronous=FULL in the same folder. Durable commits per step: "
        "strace -f -c -e trace=fdatasync,fsync of runs of 10 and 100 steps, (S100 - S10) / 90.")
    plots = [
        {"file": "local-steps-per-step.svg", "title": "runbook run: wall time per local step",
         "x_label": "steps in the runbook", "y_label": "ms per step", "log_x": True,
         "series": [{"label": "runbook", "points": [[s, round(step_ms[s], 3)] for s in sizes]},
                    {"label": "runbook, CPU (user + system)",
                     "points": [[s, round(cpu_ms[s], 3)] for s in sizes]},
                    {"label": "floor (sh -c true + the same commits), at 100 steps",
                     "points": [[100, round(floor_wall / 100 * 1000, 3)]]}]},
        {"file": "local-steps-rss.svg", "title": "runbook run: peak memory",
         "x_label": "steps in the runbook", "y_label": "peak RSS, MB", "log_x": True,
         "series": [{"label": "runbook", "points": [[s, round(peak[s] / 1024, 2)] for s in sizes]}]},
    ]
    result = {"name": "local-steps",
              "title": "Local steps: runbook run vs ansible-playbook and vs the floor",
              "method": method, "command": "bench/run" + (" --quick" if b.quick else "")
              + " local-steps", "rows": rows, "plots": plots}
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "local-steps.json"), "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
