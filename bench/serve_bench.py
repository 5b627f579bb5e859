#!/usr/bin/env python3
"""serve: whether `runbook serve` stays responsive while browsers watch a live run.

An audit log of N runs (10,000; --quick: 100) is written by `runbook run` itself (five tiny
runbooks, every 20th run of each failing and rolling back) with N/100 plans by `runbook plan`
(some approved once, some rejected), once, and kept (CACHE/serve-log-N.db: a log of another
recipe or release is written again, one of another build of this release is reused when this
binary's `audit verify` accepts it); each measurement starts on a copy of it. `runbook serve`
serves the copy on 127.0.0.1 (a users file of one account), and a live run (`runbook run` of
steps that each `sleep 1`) goes on in the same log all along. The binary is copied first: a
rebuild of build/ meanwhile changes nothing.

The clients are Python processes (a few threads each, http.client with keep-alive); each client
logs in (GET /login, POST /login: a session of its own, like a browser) and polls its URL as
live.js does: a request, its whole answer, a second's pause, again. Every request's latency
(from sending it to the answer's last byte) is recorded. Five phases of D seconds, R rounds,
every other round in reverse order (the machine is shared; the live run grows):

  floor      C clients polling /static/style.css (no login needed, no store: the same server,
             the same HTTP stack: the floor)
  unloaded   1 client polling the live run's JSON (/runs/ID?events=none, as live.js; Accept: application/json) every
             100 ms (one request at a time; 10x the browser's rate, for samples)
  polling    C clients polling the live run's JSON, each every second
  pages      one client on each other page (/, /runs, /plans, /stats as JSON, the run's page
             and a finished run's report as HTML), each every second: the pages without load
  loaded     polling and pages at once

The server's CPU (utime+stime of /proc/PID/stat) is read at every phase boundary, its peak RSS
(VmHWM of /proc/PID/status) at the end; the clients' own CPU is recorded too (they must not be
the bottleneck). Prints tables and writes OUT/serve.json (bench/run's convention).

  bench/serve_bench.py --build build --out build/bench-results [--quick]

Knobs (environment): RUNS (10000; --quick 100), CLIENTS (50; --quick 10), PHASE (seconds per
phase and round, 6; --quick 2), ROUNDS (4; --quick 1), WRITERS (processes writing the log, 2),
SERVE_CACHE (the cache folder, default BUILD/bench-cache), SERVE_FRESH=1 (write the log again).
"""
import argparse
import datetime
import hashlib
import http.client
import json
import multiprocessing
import os
import random
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

PASSWORD = "password123"
USER = "bench"
GOAL_MS = 100.0
PHASES = ["floor", "unloaded", "polling", "pages", "loaded"]
TICKS = os.sysconf("SC_CLK_TCK")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def die(message):
    print(f"bench/run serve: error: {message}", file=sys.stderr)
    sys.exit(2)


def note(message):
    print(message, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- the log

# Five runbooks, a few steps each; writer w runs those of index % writers == w, so two writers
# never want the same runbook's lock. Every FAIL_EVERY-th run of a writer fails its last step
# and rolls back (state rolled_back, exit 1): the log has failures, as real ones do.
RUNBOOKS = ["web-release", "db-migrate", "api-release", "cache-flush", "worker-restart"]
FAIL_EVERY = 20


def runbook_text(name, fail, steps=3):
    lines = [f"runbook: {name}",
             f"description: bench/serve_bench.py ({'failing' if fail else 'ok'})",
             "steps:"]
    for i in range(steps):
        command = "false" if fail and i == steps - 1 else "true"
        lines += [f"  - id: s{i}", f"    shell: {{command: \"{command}\"}}",
                  f"    rollback: {{shell: \"true\"}}"]
    return "\n".join(lines) + "\n"


def write_runbooks(folder):
    paths = {}
    for name in RUNBOOKS:
        for fail in (False, True):
            path = os.path.join(folder, f"{name}{'-fail' if fail else ''}.yaml")
            with open(path, "w") as f:
                f.write(runbook_text(name, fail))
            paths[name, fail] = path
    return paths


def writer(runbook, db, env, cwd, names, count, paths, errors):
    try:
        write_runs(runbook, db, env, cwd, names, count, paths, errors)
    except Exception as e:  # noqa: BLE001: reported by populate
        errors.append(f"{type(e).__name__}: {e}")


def write_runs(runbook, db, env, cwd, names, count, paths, errors):
    for k in range(count):
        if errors:  # another writer failed
            return
        name = names[k % len(names)]
        fail = (k // len(names)) % FAIL_EVERY == FAIL_EVERY - 1  # every 20th run of each
        proc = subprocess.run([runbook, "run", paths[name, fail], "--audit-db", db], env=env,
                              cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
        if proc.returncode != (1 if fail else 0):
            errors.append(f"runbook run {paths[name, fail]} exited {proc.returncode}: "
                          f"{proc.stderr.decode(errors='replace').strip()[-1000:]}")
            return


PLAN_RUNBOOK = """runbook: schema-change
description: a change that needs two approvals (bench/serve_bench.py)
params:
  version: {required: true}
approval:
  required: 2
steps:
  - id: migrate
    shell: {command: "true"}
"""


def make_plans(runbook, env, folder, db, count):
    """`count` plans of a runbook that needs two approvals (`runbook plan`): a third of them
    with one approval (still pending), one in ten rejected."""
    path = os.path.join(folder, "schema-change.yaml")
    with open(path, "w") as f:
        f.write(PLAN_RUNBOOK)
    run = lambda *argv: subprocess.run([runbook, *argv, "--audit-db", db], env=env, cwd=folder,
                                       stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                       check=True).stdout
    for k in range(count):
        plan = json.loads(run("plan", path, "-p", f"version=1.0.{k}", "--as", "carol", "--json"))
        if k % 3 == 0:
            run("approve", plan["plan_id"], "--as", "alice", "--comment", "looks right")
        elif k % 10 == 1:
            run("reject", plan["plan_id"], "--as", "bob", "--comment", "not during the freeze")


def populate(runbook, env, folder, runs, writers):
    """Writes `runs` runs (and runs/100 plans) into folder/audit.db with `writers` concurrent
    writers; seconds."""
    paths = write_runbooks(folder)
    db = os.path.join(folder, "audit.db")
    start = time.monotonic()
    threads, errors, done = [], [], 0
    writers = max(1, min(writers, len(RUNBOOKS)))
    batch = 500
    while done < runs and not errors:
        n = min(batch, runs - done)
        threads = []
        for w in range(writers):
            names = [r for i, r in enumerate(RUNBOOKS) if i % writers == w]
            share = n // writers + (1 if w < n % writers else 0)
            t = threading.Thread(target=writer, args=(runbook, db, env, folder, names, share,
                                                      paths, errors))
            t.start()
            threads.append(t)
        for t in threads:
            t.join()
        done += n
        elapsed = time.monotonic() - start
        note(f"  log: {done:,}/{runs:,} runs written, {elapsed:.0f} s "
             f"({elapsed / done * 1000:.0f} ms per run)")
    if errors:
        die(errors[0])
    with sqlite3.connect(db) as c:
        written = c.execute("SELECT count(*) FROM runs").fetchone()[0]
    if written != runs:
        die(f"{written} runs in {db}, not {runs}")
    plans = max(5, runs // 100)
    make_plans(runbook, env, folder, db, plans)
    note(f"  log: {plans} plans made ({time.monotonic() - start:.0f} s in all)")
    return db, time.monotonic() - start


def binary_version(runbook):
    return subprocess.run([runbook, "--version"], capture_output=True, text=True,
                          check=True).stdout.strip()


def copy_db(src, dst):
    """A consistent copy of an SQLite database (its WAL included), by SQLite's backup API."""
    s, d = sqlite3.connect(src), sqlite3.connect(dst)
    with d:
        s.backup(d)
    s.close()
    d.close()


def recipe():
    """What the log is made of: a log made by another recipe is not reused."""
    text = "".join(runbook_text(n, f) for n in RUNBOOKS for f in (False, True))
    return hashlib.sha256((text + PLAN_RUNBOOK + str(FAIL_EVERY)).encode()).hexdigest()[:12]


def cached_log(runbook, env, cache, runs, writers, fresh, tmp):
    """A log of `runs` runs, from the cache or written now: (its path, the seconds writing it
    took, whether it was written now, the build that wrote it). The cache holds one log per
    size, with what wrote it: a log of another recipe or another release of runbook is written
    again, one written by another build of this release is reused once this binary's `audit
    verify` accepts it (the builds of a release read each other's logs; rewriting 10,000 runs
    at every commit would take minutes each time)."""
    os.makedirs(cache, exist_ok=True)
    db = os.path.join(cache, f"serve-log-{runs}.db")
    about = db + ".json"
    version = binary_version(runbook)
    key = {"release": version.splitlines()[0], "recipe": recipe()}
    if not fresh and os.path.exists(db) and os.path.exists(about):
        with open(about) as f:
            info = json.load(f)
        if {k: info.get(k) for k in key} == key:
            check = subprocess.run([runbook, "audit", "verify", "--audit-db", db], env=env,
                                   cwd=tmp, capture_output=True, text=True)
            if check.returncode == 0:
                note(f"  log: {runs:,} runs from the cache ({db}; {check.stdout.strip()})")
                return db, info["seconds"], False, info["build"]
            note(f"  log: the cached one fails `audit verify`: {check.stderr.strip()[-300:]}")
    note(f"  log: writing {runs:,} runs with `runbook run` ({writers} at a time)...")
    folder = tempfile.mkdtemp(prefix="rb-serve-log-", dir=tmp)
    written, seconds = populate(runbook, env, folder, runs, writers)
    copy_db(written, db + ".tmp")
    os.replace(db + ".tmp", db)
    build = version.splitlines()[1] if len(version.splitlines()) > 1 else version
    with open(about, "w") as f:
        json.dump(dict(key, seconds=round(seconds, 1), build=build), f)
        f.write("\n")
    shutil.rmtree(folder, ignore_errors=True)
    return db, seconds, True, build


# ----------------------------------------------------------------------------- the server

class Server:
    def __init__(self, runbook, env, folder, db):
        self.users = os.path.join(folder, "users")
        subprocess.run([runbook, "serve", "passwd", USER, "--users", self.users], env=env,
                       input=PASSWORD + "\n", text=True, check=True, capture_output=True)
        self.stderr = open(os.path.join(folder, "serve.log"), "w+")
        self.proc = subprocess.Popen(
            [runbook, "serve", "--users", self.users, "--listen", "127.0.0.1:0",
             "--audit-db", db], env=env, cwd=folder, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=self.stderr, text=True)
        self.port = None
        deadline = time.monotonic() + 30
        while self.port is None:
            line = self.proc.stdout.readline()
            if not line:
                self.stderr.seek(0)
                die(f"runbook serve exited {self.proc.wait()}: {self.stderr.read()[-2000:]}")
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)/", line)
            if m:
                self.port = int(m.group(1))
            elif time.monotonic() > deadline:
                die("runbook serve did not say where it listens")
        # Its standard output, drained so that it never blocks on a full pipe.
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def cpu_seconds(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime

    def status(self, key):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])  # kB
        return 0

    def threads(self):
        return self.status("Threads")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


# ----------------------------------------------------------------------------- the clients

class Client:
    """One browser: a keep-alive connection and a session of its own."""

    def __init__(self, port):
        self.port = port
        self.conn = None
        self.cookies = {}
        self.reconnects = 0
        self.lock = threading.Lock()  # one task at a time (a late answer may overrun a phase)

    def connect(self):
        if self.conn:
            self.conn.close()
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)

    def request(self, method, path, body=None, headers=None):
        """Status, headers and body; a keep-alive connection the server closed while idle is
        opened again once (as a browser does), which the latency includes."""
        h = dict(headers or {})
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for attempt in (0, 1):
            if self.conn is None:
                self.connect()
            reused = self.conn.sock is not None
            try:
                self.conn.request(method, path, body=body, headers=h)
                res = self.conn.getresponse()
                data = res.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.connect()
                if attempt == 0 and reused:
                    self.reconnects += 1
                    continue
                raise
            for value in res.headers.get_all("Set-Cookie") or []:
                k, _, v = value.split(";", 1)[0].partition("=")
                self.cookies[k.strip()] = v.strip()
            if res.will_close:
                self.conn.close()
                self.conn = None
            return res.status, data
        raise RuntimeError("unreachable")

    def login(self):
        status, data = self.request("GET", "/login", headers={"Accept": "application/json"})
        if status != 200:
            raise RuntimeError(f"GET /login: {status} {data[:200]!r}")
        csrf = json.loads(data)["csrf"]
        body = urllib.parse.urlencode({"name": USER, "password": PASSWORD, "csrf": csrf})
        status, data = self.request("POST", "/login", body=body, headers={
            "Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"})
        if status != 200 or "rb_session" not in self.cookies:
            raise RuntimeError(f"POST /login: {status} {data[:200]!r}")


def poll(client, label, path, headers, pause, start, end, out):
    """Polls `path` from `start` to `end` (time.time()): request, answer, `pause`, again."""
    time.sleep(max(0.0, start - time.time()))
    with client.lock:
        client.connect()  # a fresh connection for each phase, as a page (re)loaded
        poll_until(client, label, path, headers, pause, end, out)
        # The tab closes: an idle keep-alive connection would hold a server thread (and
        # cpp-httplib polls it every 10 ms) into the next phase.
        if client.conn:
            client.conn.close()
            client.conn = None


def poll_until(client, label, path, headers, pause, end, out):
    while time.time() < end:
        sent = time.time()
        t0 = time.perf_counter()
        try:
            status, data = client.request("GET", path, headers=headers)
            error = None if status == 200 else f"HTTP {status}: {data[:120]!r}"
            size = len(data)
        except Exception as e:  # noqa: BLE001: every failure is counted, none stops the client
            error, size = f"{type(e).__name__}: {e}", 0
            client.conn = None
        ms = (time.perf_counter() - t0) * 1000
        out.append((label, round(sent, 4), round(ms, 3), size, error))
        time.sleep(max(0.0, min(pause, end - time.time())))


def worker(port, tasks, conn):
    """A client process: logs its clients in, then runs their tasks (threads) and sends the
    records, the reconnects and its CPU time per phase back through `conn`."""
    try:
        clients = {}
        for t in tasks:
            if t["client"] not in clients:
                c = Client(port)
                c.login()
                clients[t["client"]] = c
        conn.send({"ready": True})
        schedule = conn.recv()  # {phase: [(start, end) of each round]}, time.time()
        records, threads = [], []
        for t in tasks:
            start, end = schedule[t["phase"]][t["round"]]
            th = threading.Thread(target=poll, args=(
                clients[t["client"]], t["label"], t["path"], t["headers"], t["pause"],
                start + t["offset"], end, records))
            th.start()
            threads.append(th)
        cpu = {}
        bounds = sorted({b for spans in schedule.values() for span in spans for b in span})
        marks = []
        for b in bounds:
            time.sleep(max(0.0, b - time.time()))
            marks.append((b, time.process_time()))
        for th in threads:
            th.join()
        at = dict(marks)
        for phase, spans in schedule.items():
            for r, (s, e) in enumerate(spans):
                cpu[phase, r] = at[e] - at[s]
        conn.send({"records": records, "cpu": cpu,
                   "reconnects": sum(c.reconnects for c in clients.values())})
    except Exception as e:  # noqa: BLE001
        conn.send({"error": f"{type(e).__name__}: {e}"})
    finally:
        conn.close()


# ----------------------------------------------------------------------------- statistics

def percentile(values, p):
    """The p-th percentile (nearest rank) of `values`."""
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100 * len(s) + 0.5)) - 1))
    return s[k]


def summary(records):
    ok = [r[2] for r in records if r[4] is None]
    errors = [r for r in records if r[4] is not None]
    return {"n": len(records), "errors": len(errors),
            "error_samples": sorted({e[4] for e in errors})[:5],
            "p50": percentile(ok, 50), "p90": percentile(ok, 90), "p99": percentile(ok, 99),
            "max": max(ok) if ok else None, "mean": statistics.mean(ok) if ok else None,
            "bytes": statistics.median([r[3] for r in records if r[4] is None] or [0])}


# ----------------------------------------------------------------------------- the benchmark

class Bench:
    def __init__(self, args):
        self.build = os.path.abspath(args.build)
        self.runbook = os.path.join(self.build, "runbook")
        self.out = os.path.abspath(args.out)
        self.quick = args.quick
        q = self.quick
        env = os.environ
        self.runs = int(env.get("RUNS") or (100 if q else 10000))
        self.clients = int(env.get("CLIENTS") or (10 if q else 50))
        self.phase = float(env.get("PHASE") or (2 if q else 6))
        self.rounds = int(env.get("ROUNDS") or (1 if q else 4))
        self.writers = int(env.get("WRITERS") or 2)
        self.cache = env.get("SERVE_CACHE") or os.path.join(self.build, "bench-cache")
        self.fresh = env.get("SERVE_FRESH") == "1"
        self.tmp = tempfile.mkdtemp(prefix="rb-serve-", dir=os.environ.get("TMPDIR", "/tmp"))
        # A copy of the binaries, taken now: a rebuild of build/ during the benchmark (minutes,
        # when the log is written) changes nothing of what is measured. `runbook serve` runs
        # runbook-serve, found beside the binary.
        for _ in range(60):
            try:
                shutil.copy2(self.runbook, os.path.join(self.tmp, "runbook"))
                shutil.copy2(os.path.join(os.path.dirname(self.runbook), "runbook-serve"),
                             os.path.join(self.tmp, "runbook-serve"))
                subprocess.run([os.path.join(self.tmp, "runbook"), "--version"], check=True,
                               capture_output=True)
                break
            except (OSError, subprocess.CalledProcessError):
                note(f"  waiting for {self.runbook} (being rebuilt?)")
                time.sleep(5)
        else:
            die(f"no {self.runbook} (cmake --build build)")
        self.runbook = os.path.join(self.tmp, "runbook")
        self.config = os.path.join(self.tmp, "config.yaml")
        open(self.config, "w").close()
        self.env = dict(os.environ, RUNBOOK_CONFIG=self.config, XDG_STATE_HOME=self.tmp,
                        HOME=self.tmp, NO_COLOR="1")
        self.server = None
        self.live = None

    def cleanup(self):
        if self.live and self.live.poll() is None:
            self.live.send_signal(signal.SIGTERM)
            try:
                self.live.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.live.kill()
        if self.server:
            self.server.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start_live_run(self, db, seconds):
        """Starts the run the browsers watch (a step of `sleep 1` per second of `seconds`, and
        some to spare); its run id."""
        steps = int(seconds) + 30
        path = os.path.join(self.tmp, "live.yaml")
        with open(path, "w") as f:
            f.write("runbook: live-release\ndescription: the run the browsers watch\nsteps:\n")
            for i in range(steps):
                f.write(f"  - id: wait{i}\n    shell: {{command: \"sleep 1\"}}\n")
        self.live = subprocess.Popen([self.runbook, "run", path, "--audit-db", db], env=self.env,
                                     cwd=self.tmp, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with sqlite3.connect(db, timeout=10) as c:
                row = c.execute("SELECT run_id FROM runs WHERE runbook = 'live-release'").fetchone()
            if row:
                return row[0], steps
            if self.live.poll() is not None:
                die(f"the live run exited {self.live.returncode} at once")
            time.sleep(0.2)
        die("the live run did not start")

    def run(self):
        note(f"serve: {self.clients} clients polling a live run's JSON, {self.runs:,} runs in the "
             f"log; {self.rounds} round(s) of {len(PHASES)} phases of {self.phase:g} s")
        note(f"machine: {os.cpu_count()} cores, load {load()}")
        cached, log_s, wrote_now, log_build = cached_log(
            self.runbook, self.env, self.cache, self.runs, self.writers, self.fresh, self.tmp)
        folder = os.path.join(self.tmp, "serve")
        os.makedirs(folder)
        db = os.path.join(folder, "audit.db")
        copy_db(cached, db)
        db_mb = os.path.getsize(db) / 1e6
        with sqlite3.connect(db) as c:
            old = c.execute("SELECT run_id FROM runs WHERE state = 'rolled_back' "
                            "ORDER BY rowid DESC LIMIT 1").fetchone()[0]
        self.server = Server(self.runbook, self.env, folder, db)
        note(f"  server: pid {self.server.proc.pid}, port {self.server.port}")
        gap = 0.5 if self.quick else 1.0
        total = self.rounds * len(PHASES) * (self.phase + gap)
        run_id, live_steps = self.start_live_run(db, total + 20 + self.clients * 0.2)
        note(f"  live run {run_id} ({live_steps} steps of sleep 1); report of run {old}")
        json_h = {"Accept": "application/json"}
        pages = [("/ (overview)", "/", json_h), ("/runs", "/runs?limit=100", json_h),
                 ("/plans", "/plans", json_h), ("/stats", "/stats", json_h),
                 ("run page (HTML)", f"/runs/{run_id}", {}),
                 ("report (HTML, a finished run)", f"/runs/{old}/report", {})]
        # What live.js polls on a run page: the run's JSON without its events (event_count).
        live = f"/runs/{run_id}?events=none"
        tasks = []
        task = lambda client, phase, r, label, path, headers, pause, offset: tasks.append(
            dict(client=client, phase=phase, round=r, label=label, path=path, headers=headers,
                 pause=pause, offset=offset))
        for r in range(self.rounds):
            for i in range(self.clients):
                off = random.random()  # browsers do not all poll at the same instant
                task(f"c{i}", "floor", r, "floor", "/static/style.css", {}, 1.0, off)
                task(f"c{i}", "polling", r, "live JSON", live, json_h, 1.0, off)
                task(f"c{i}", "loaded", r, "live JSON", live, json_h, 1.0, off)
            task("c0", "unloaded", r, "live JSON", live, json_h, 0.1, 0)
            for j, (label, path, h) in enumerate(pages):
                off = random.random()
                task(f"p{j}", "pages", r, label, path, h, 1.0, off)
                task(f"p{j}", "loaded", r, label, path, h, 1.0, off)
        # Client processes: one per 8 clients (each client's tasks in one process).
        by_client = {}
        for t in tasks:
            by_client.setdefault(t["client"], []).append(t)
        nproc = max(2, (len(by_client) + 7) // 8)
        shares = [[] for _ in range(nproc)]
        for k, name in enumerate(sorted(by_client)):
            shares[k % nproc] += by_client[name]
        ctx = multiprocessing.get_context("fork")
        procs, conns = [], []
        login_start = time.monotonic()
        for share in shares:
            parent, child = ctx.Pipe()
            p = ctx.Process(target=worker, args=(self.server.port, share, child))
            p.start()
            procs.append(p)
            conns.append(parent)
        for c in conns:
            m = c.recv()
            if "error" in m:
                die(f"a client failed to log in: {m['error']}")
        note(f"  {len(by_client)} clients logged in ({time.monotonic() - login_start:.1f} s), "
             f"{nproc} client processes")
        rss_start = self.server.status("VmRSS")
        # The schedule: the phases in turn, in reverse order every other round (the live run
        # grows: no phase always sees it larger), a short gap between phases.
        t = time.time() + 1
        schedule = {p: [] for p in PHASES}
        for r in range(self.rounds):
            for p in (PHASES if r % 2 == 0 else PHASES[::-1]):
                schedule[p].append((t, t + self.phase))
                t += self.phase + gap
        for c in conns:
            c.send(schedule)
        # The server's CPU at every boundary.
        bounds = sorted({b for spans in schedule.values() for span in spans for b in span})
        cpu_at, busy_at = {}, {}
        for b in bounds:
            time.sleep(max(0.0, b - time.time()))
            cpu_at[b] = self.server.cpu_seconds()
            busy_at[b] = machine_busy_seconds()
            if self.live.poll() is not None:
                die(f"the live run ended (exit {self.live.returncode}) before the measurement")
        results = []
        for c in conns:
            m = c.recv()
            if "error" in m:
                die(f"a client process failed: {m['error']}")
            results.append(m)
        for p in procs:
            p.join()
        hwm, rss_end = self.server.status("VmHWM"), self.server.status("VmRSS")
        records = [rec + (phase, r) for m in results for rec in m["records"]
                   for phase, spans in schedule.items() for r, (s, e) in enumerate(spans)
                   if s <= rec[1] < e]
        with sqlite3.connect(db, timeout=10) as c:
            live_events = c.execute("SELECT count(*) FROM events WHERE run_id = ?",
                                    (run_id,)).fetchone()[0]
        self.stop_live_run()
        self.server.stop()
        return dict(records=records, pages=[p[0] for p in pages], phase_s=self.rounds * self.phase,
                    reconnects=sum(m["reconnects"] for m in results),
                    server_cpu={p: sum(cpu_at[e] - cpu_at[s] for s, e in schedule[p])
                                for p in PHASES},
                    client_cpu={p: sum(m["cpu"][p, r] for m in results for r in range(self.rounds))
                                for p in PHASES},
                    machine_cpu={p: sum(busy_at[e] - busy_at[s] for s, e in schedule[p])
                                 for p in PHASES},
                    hwm_kb=hwm, rss_start_kb=rss_start, rss_end_kb=rss_end, log_s=log_s,
                    wrote_now=wrote_now, log_build=log_build, db_mb=db_mb,
                    build=binary_version(self.runbook).splitlines()[1], live_events=live_events,
                    nproc=nproc,
                    clients_total=len(by_client))

    def stop_live_run(self):
        if self.live and self.live.poll() is None:
            self.live.send_signal(signal.SIGTERM)
            try:
                self.live.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.live.kill()
                self.live.wait()

    def cleanup(self):
        self.stop_live_run()
        if self.server:
            self.server.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


def load():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def machine_busy_seconds():
    """CPU seconds the whole machine has been busy (all cores; /proc/stat: not idle, not
    waiting for I/O)."""
    with open("/proc/stat") as f:
        ticks = [int(v) for v in f.readline().split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / TICKS


def git_head():
    try:
        return subprocess.run(["git", "-C", ROOT, "rev-parse", "--short=12", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


# ----------------------------------------------------------------------------- the report

def fmt_ms(v):
    return "-" if v is None else f"{v:.1f} ms" if v < 100 else f"{v:.0f} ms"


def report(bench, m, load_before, load_after, started, seconds):
    recs, c = m["records"], bench.clients
    by = lambda phase, label: [r for r in recs if r[5] == phase and r[0] == label]
    s = {(phase, label): summary(by(phase, label)) for phase, label in {(r[5], r[0]) for r in recs}}
    empty = summary([])
    get = lambda phase, label: s.get((phase, label), empty)
    polling, loaded = get("polling", "live JSON"), get("loaded", "live JSON")
    unloaded, floor = get("unloaded", "live JSON"), get("floor", "floor")
    everything = summary(recs)
    ratio = lambda a, b: round(a / b, 2) if a is not None and b else None
    met = lambda x: x["p99"] is not None and x["p99"] < GOAL_MS and x["errors"] == 0
    goal = f"p99 < {GOAL_MS:.0f} ms"
    n_runs = f"{bench.runs:,} runs in the log"
    rows = [
        {"what": f"live run JSON, p99, {c} clients polling it every second, {n_runs}",
         "ours": fmt_ms(polling["p99"]), "reference": f"1 client: {fmt_ms(unloaded['p99'])}",
         "ratio": ratio(polling["p99"], unloaded["p99"]), "goal": goal, "met": met(polling)},
        {"what": f"live run JSON, p99, {c} clients polling it and one client on each other page",
         "ours": fmt_ms(loaded["p99"]), "reference": f"1 client: {fmt_ms(unloaded['p99'])}",
         "ratio": ratio(loaded["p99"], unloaded["p99"]), "goal": goal, "met": met(loaded)},
        {"what": f"live run JSON with {c} clients polling vs the floor (/static/style.css, {c} "
                 "clients), p99",
         "ours": fmt_ms(polling["p99"]), "reference": f"floor {fmt_ms(floor['p99'])}",
         "ratio": ratio(polling["p99"], floor["p99"]), "goal": None, "met": None},
    ]
    for p in m["pages"]:
        a, b = get("loaded", p), get("pages", p)
        rows.append({"what": f"{p}, p99 while the {c} clients poll ({a['n']} requests: about "
                             "the slowest)",
                     "ours": fmt_ms(a["p99"]), "reference": f"without them: {fmt_ms(b['p99'])}",
                     "ratio": ratio(a["p99"], b["p99"]), "goal": goal, "met": met(a)})
    rows.append({"what": "failed requests (errors, timeouts, status other than 200), all phases",
                 "ours": f"{everything['errors']} of {everything['n']:,}", "reference": "-",
                 "ratio": None, "goal": "0", "met": everything["errors"] == 0})
    mb = lambda kb: f"{kb / 1024:.0f} MB"
    rows.append({"what": "server peak RSS (VmHWM) vs its RSS once the clients had logged in",
                 "ours": mb(m["hwm_kb"]), "reference": f"at the start {mb(m['rss_start_kb'])}",
                 "ratio": ratio(m["hwm_kb"], m["rss_start_kb"]), "goal": None, "met": None})
    ps = m["phase_s"]
    pct = lambda cpu: f"{cpu / ps * 100:.0f}%"
    rows.append({"what": f"server CPU (of one core) with {c} clients polling the live run, vs "
                         "the floor's",
                 "ours": pct(m["server_cpu"]["polling"]),
                 "reference": f"floor {pct(m['server_cpu']['floor'])}",
                 "ratio": ratio(m["server_cpu"]["polling"], m["server_cpu"]["floor"]),
                 "goal": None, "met": None})

    labels = {"floor": f"floor: {c} clients on /static/style.css",
              "unloaded": "unloaded: 1 client on the live run JSON (every 100 ms)",
              "polling": f"polling: {c} clients on the live run JSON",
              "pages": "pages: one client on each other page",
              "loaded": f"loaded: {c} clients on the live run JSON + one on each other page"}
    table = []
    for phase in PHASES:
        for label in sorted({r[0] for r in recs if r[5] == phase},
                            key=lambda l: (l not in ("live JSON", "floor"), l)):
            x = get(phase, label)
            table.append([labels[phase], label, x["n"], f"{x['n'] / ps:.1f}", fmt_ms(x["p50"]),
                          fmt_ms(x["p90"]), fmt_ms(x["p99"]), fmt_ms(x["max"]), x["errors"],
                          f"{x['bytes'] / 1024:.0f} KiB"])
    cpu_table = [[labels[p], pct(m["server_cpu"][p]), pct(m["client_cpu"][p]),
                  pct(max(0.0, m["machine_cpu"][p] - m["server_cpu"][p] - m["client_cpu"][p])),
                  pct(m["machine_cpu"][p])] for p in PHASES]
    # The live run's JSON grows with the run: its latency round by round, in time order.
    growth = []
    for phase in ("unloaded", "polling", "loaded"):
        for r in range(bench.rounds):
            x = summary([q for q in by(phase, "live JSON") if q[6] == r])
            if x["n"]:
                start = min(q[1] for q in by(phase, "live JSON") if q[6] == r)
                growth.append((start, [labels[phase].split(":")[0], r + 1,
                                       f"{x['bytes'] / 1024:.0f} KiB", x["n"], fmt_ms(x["p50"]),
                                       fmt_ms(x["p99"]), fmt_ms(x["max"])]))
    growth = [row for _, row in sorted(growth)]
    size_points = lambda phase, f: sorted(
        [round(summary([q for q in by(phase, "live JSON") if q[6] == r])["bytes"] / 1024),
         round(f(summary([q for q in by(phase, "live JSON") if q[6] == r])), 2)]
        for r in range(bench.rounds) if any(q[6] == r for q in by(phase, "live JSON")))
    print("| phase | URL | requests | per s | p50 | p90 | p99 | max | errors | answer |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in table:
        print("| " + " | ".join(str(v) for v in row) + " |")
    print()
    print("| phase | server CPU | clients' CPU | everything else | the machine |")
    print("|---|---:|---:|---:|---:|")
    for row in cpu_table:
        print("| " + " | ".join(str(v) for v in row) + " |")
    print()
    print("| phase | round | answer | requests | p50 | p99 | max |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for row in growth:
        print("| " + " | ".join(str(v) for v in row) + " |")
    print()
    took = f"{m['log_s']:.0f} s" if m["log_s"] < 120 else f"{m['log_s'] / 60:.1f} min"
    log_how = f"written by `runbook run`, {bench.writers} at a time, in {took}"
    if not m["wrote_now"]:
        log_how += (f", by an earlier run ({m['log_build']}), kept in "
                    f"{os.path.relpath(bench.cache, ROOT)}/")
    samples = int(bench.rounds * bench.phase)
    method = (
        f"`bench/serve_bench.py`: an audit log of {bench.runs:,} runs and "
        f"{max(5, bench.runs // 100)} plans ({m['db_mb']:.0f} MB of SQLite; {log_how}): five "
        f"tiny runbooks of three `true` shell steps with rollbacks, every {FAIL_EVERY}th run "
        f"of each failing its last step and rolling back; plans of a runbook that needs two "
        f"approvals, a third of them approved once, a tenth rejected. `runbook serve` serves "
        f"a copy of it on 127.0.0.1 while a live run (`runbook run` of steps that each "
        f"`sleep 1`) goes on in the same log ({m['live_events']} events by the end). The "
        f"clients are Python (http.client, keep-alive, {m['nproc']} processes of a few "
        f"threads each); each of the {m['clients_total']} logs in with a session of its own "
        f"and polls as live.js does: a request, the whole answer, a second's pause, again; "
        f"at the end of a phase it closes its connection, as a closed tab. Latency: from "
        f"sending the request to the answer's last byte. Five phases of {bench.phase:g} s, "
        f"{bench.rounds} "
        f"round(s), every other round in reverse order (the live run grows): floor ({c} "
        f"clients polling /static/style.css: the same server and HTTP stack, no login, no "
        f"store), unloaded (1 client polling the live run's JSON every 100 ms, for samples; one "
        f"request at a time), polling ({c} clients polling the live run's JSON, "
        f"`Accept: application/json`, as {c} browsers on its page), pages (one client on each "
        f"other page: /, /runs?limit=100, /plans, /stats as JSON, the run's page and a finished "
        f"run's report as HTML) and loaded (polling and pages at once). p99 is nearest-rank; a "
        f"page's rests on some {samples} requests, so it is about their slowest. Server CPU "
        f"from /proc/PID/stat at the phase boundaries, peak RSS from VmHWM. The clients used "
        f"{pct(m['client_cpu']['loaded'])} of a core in the loaded phase: they are not the "
        f"bottleneck. Machine: {os.cpu_count()} cores shared with other work (load "
        f"{load_before} before, {load_after} after) and with the live run's executor. Server: "
        f"build/runbook, whose --version says {m['build']}, with git HEAD at {git_head()}. "
        f"The benchmark took {seconds / 60:.1f} min"
        f"{', writing the log included' if m['wrote_now'] else ''}.")
    pctl = [50, 75, 90, 95, 99, 99.9, 100]
    curve = lambda rs: [[q, round(percentile([r[2] for r in rs if r[4] is None], q), 2)]
                        for q in pctl] if rs else []
    doc = {
        "name": "serve",
        "title": "Web interface while browsers watch a live run",
        "method": method,
        "command": "bench/run --quick serve" if bench.quick else "bench/run serve",
        "date": started,
        "rows": rows,
        "tables": [
            {"title": "Every URL in every phase (all rounds together): requests, rate, "
                      "latency percentiles, failures, answer size (median):",
             "columns": ["phase", "URL", "requests", "per s", "p50", "p90", "p99", "max",
                         "errors", "answer"],
             "rows": table},
            {"title": "CPU in each phase, in percent of one core (the machine has "
                      f"{os.cpu_count()}): the server (all its threads), the client processes, "
                      "everything else (the live run's executor, and the other work on this "
                      "shared machine) and the whole machine (/proc/stat):",
             "columns": ["phase", "server", "clients", "everything else", "the machine"],
             "rows": cpu_table},
            {"title": "The live run's JSON phase by phase, in time order: it grows with the run "
                      f"(every event so far, {m['live_events']} at the end), and so does its "
                      "cost:",
             "columns": ["phase", "round", "answer", "requests", "p50", "p99", "max"],
             "rows": growth},
        ],
        "plots": [{
            "file": "serve-latency.svg",
            "title": "Live run JSON latency: percentiles by load, and the floor",
            "x_label": "percentile", "y_label": "ms", "log_x": False, "log_y": True,
            "series": [
                {"label": f"{c} clients + pages", "points": curve(by("loaded", "live JSON"))},
                {"label": f"{c} clients", "points": curve(by("polling", "live JSON"))},
                {"label": "1 client", "points": curve(by("unloaded", "live JSON"))},
                {"label": f"floor, {c} clients", "points": curve(by("floor", "floor"))},
            ]},
            {"file": "serve-growth.svg",
             "title": "Live run JSON latency as the run grows (each point a phase)",
             "x_label": "answer size, KiB", "y_label": "ms", "log_x": False, "log_y": False,
             "series": [
                 {"label": f"p99, {c} clients",
                  "points": size_points("polling", lambda x: x["p99"])},
                 {"label": f"p50, {c} clients",
                  "points": size_points("polling", lambda x: x["p50"])},
                 {"label": "p99, 1 client",
                  "points": size_points("unloaded", lambda x: x["p99"])},
             ]}],
        "raw": {
            "runs": bench.runs, "clients": c, "phase_s": bench.phase, "rounds": bench.rounds,
            "log_minutes": round(m["log_s"] / 60, 2), "log_written_now": m["wrote_now"],
            "log_written_by": m["log_build"], "server_build": m["build"],
            "db_mb": round(m["db_mb"], 1), "server_cpu_s": m["server_cpu"],
            "client_cpu_s": m["client_cpu"], "machine_cpu_s": m["machine_cpu"],
            "server_hwm_kb": m["hwm_kb"],
            "server_rss_start_kb": m["rss_start_kb"], "server_rss_end_kb": m["rss_end_kb"],
            "live_events": m["live_events"], "reconnects": m["reconnects"],
            "seconds": round(seconds),
            "summaries": {f"{phase} / {label}": x for (phase, label), x in sorted(s.items())},
        },
    }
    os.makedirs(bench.out, exist_ok=True)
    path = os.path.join(bench.out, "serve.json")
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    for r in rows:
        g = f"; goal {r['goal']}: {'met' if r['met'] else 'NOT MET'}" if r["goal"] else ""
        x = "" if r["ratio"] is None else f" = {r['ratio']}x"
        print(f"{r['what']}: {r['ours']} vs {r['reference']}{x}{g}")
    print(f"wrote {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default="build")
    parser.add_argument("--out", default=os.path.join("build", "bench-results"))
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    started = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    t0 = time.monotonic()
    load_before = load()
    bench = Bench(args)
    try:
        m = bench.run()
        report(bench, m, load_before, load(), started, time.monotonic() - t0)
    finally:
        bench.cleanup()
    note(f"serve: {time.monotonic() - t0:.0f} s in all")


if __name__ == "__main__":
    main()
