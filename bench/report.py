#!/usr/bin/env python3
"""Writes docs/performance.md from the benchmarks' results.

    bench/report.py [--results DIR] [--out FILE] [--plots DIR] [--notes DIR]

Reads every DIR/*.json (default: $BENCH_OUT, else build/bench-results) that bench/run's
benchmarks wrote, one per benchmark, of the form

    {"name": "NAME", "title": "...", "method": "how it was measured",
     "command": "bench/run NAME",
     "rows": [{"what": "...", "ours": "12.3 ms", "reference": "ansible-playbook 1.8 s",
               "ratio": 146.3, "goal": ">= 100x", "met": true}],
     "plots": [{"file": "NAME-x.svg", "title": "...", "x_label": "...", "y_label": "...",
                "log_x": false, "log_y": false,
                "series": [{"label": "runbook", "points": [[100, 0.41], [1000, 0.40]]}]}],
     "tables": [{"title": "...", "columns": ["..."], "rows": [["..."]]}],   (optional)
     "date": "...", "order": 10}                                             (optional)

and writes one page: the machine it ran on and how to reproduce it, a summary of every goal,
then a section per benchmark (in "order", then by name) with its method, its table (ours,
reference, ratio, goal, met), any further tables, its plots drawn as SVG files (DIR of
--plots, default docs/perf/, linked from the page) and the hand-written notes of
docs/perf/NAME.md when that file exists (what the numbers mean; the generator never writes
it). Python's standard library only: the SVG is written by hand.
"""

import argparse
import datetime
import glob
import html
import json
import math
import os
import platform
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ---------------------------------------------------------------------------- the machine

def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def cpu_model():
    for line in read("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def memory():
    for line in read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return "unknown"


def filesystem(path):
    """The filesystem type, device and size of the mount that holds `path`."""
    path = os.path.realpath(path)
    best = None
    for line in read("/proc/mounts").splitlines():
        dev, mnt, fstype = line.split()[:3]
        mnt = mnt.replace("\\040", " ")
        if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) and \
                (best is None or len(mnt) > len(best[1])):
            best = (dev, mnt, fstype)
    if best is None:
        return "unknown"
    st = os.statvfs(path)
    size = st.f_blocks * st.f_frsize / 1024 ** 3
    dev, mnt, fstype = best
    return f"{fstype} on {dev} ({size:.0f} GiB), mounted at {mnt}"


def git(*args):
    try:
        return subprocess.run(["git", "-C", ROOT, *args], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def machine(results_dir):
    commit = git("rev-parse", "--short=12", "HEAD") or "unknown"
    if git("status", "--porcelain", "--untracked-files=no"):
        commit += " (with uncommitted changes)"
    load = " ".join(read("/proc/loadavg").split()[:3]) or "unknown"
    return [
        ("cores", str(os.cpu_count())),
        ("CPU", cpu_model()),
        ("memory", memory()),
        ("disk", filesystem(results_dir)),
        ("kernel", f"{platform.system()} {platform.release()}"),
        ("load average when the report was written", load),
        ("report written", datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")),
        ("git commit", commit),
    ]


# ---------------------------------------------------------------------------- SVG plots

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2"]
MARKERS = ["circle", "square", "triangle", "diamond"]


def nice_step(span, count):
    raw = span / max(count, 1)
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def linear_ticks(lo, hi, count=5, integers=False):
    if hi <= lo:
        hi = lo + 1
    step = nice_step(hi - lo, count)
    if integers:
        step = max(1, round(step))
    start = math.floor(lo / step) * step
    ticks = []
    t = start
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 10))
        t += step
    if ticks[-1] < hi:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def log_ticks(lo, hi):
    lo_e, hi_e = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    if hi_e == lo_e:
        hi_e += 1
    decades = [10.0 ** e for e in range(lo_e, hi_e + 1)]
    if len(decades) > 3:
        return decades
    return [d * m for d in decades for m in (1, 2, 5) if d * m <= 10.0 ** hi_e]


def fmt_tick(v):
    if v == 0:
        return "0"
    if abs(v) >= 10000 and math.log10(abs(v)).is_integer():
        return f"1e{int(math.log10(abs(v)))}"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if float(v).is_integer():
        return str(int(v))
    return f"{v:g}"


def marker(shape, x, y, color):
    if shape == "square":
        return f'<rect x="{x - 3.5:.1f}" y="{y - 3.5:.1f}" width="7" height="7" fill="{color}"/>'
    if shape == "triangle":
        return (f'<polygon points="{x:.1f},{y - 4.5:.1f} {x - 4.5:.1f},{y + 3.5:.1f} '
                f'{x + 4.5:.1f},{y + 3.5:.1f}" fill="{color}"/>')
    if shape == "diamond":
        return (f'<polygon points="{x:.1f},{y - 5:.1f} {x + 5:.1f},{y:.1f} {x:.1f},{y + 5:.1f} '
                f'{x - 5:.1f},{y:.1f}" fill="{color}"/>')
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{color}"/>'


def svg_plot(plot):
    """A line chart of plot["series"] as an SVG document (a string)."""
    width, height = 680, 420
    left, right, top, bottom = 78, 24, 66, 58
    pw, ph = width - left - right, height - top - bottom
    log_x, log_y = plot.get("log_x", False), plot.get("log_y", False)
    series = [s for s in plot.get("series", []) if s.get("points")]
    xs = [p[0] for s in series for p in s["points"] if p[1] is not None]
    ys = [p[1] for s in series for p in s["points"] if p[1] is not None]
    if log_x:
        xs = [x for x in xs if x > 0]
    if log_y:
        ys = [y for y in ys if y > 0]
    esc = html.escape
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" '
           f'font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{width / 2}" y="24" text-anchor="middle" font-size="15" '
           f'font-weight="bold">{esc(plot.get("title", ""))}</text>']
    if not xs or not ys:
        out.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle">no data</text>')
        out.append("</svg>")
        return "\n".join(out) + "\n"

    if log_x:
        xt = log_ticks(min(xs), max(xs))
    else:
        xt = linear_ticks(min(0, min(xs)), max(xs), integers=all(float(x).is_integer() for x in xs))
    if log_y:
        yt = log_ticks(min(ys), max(ys))
    else:
        yt = linear_ticks(min(0, min(ys)), max(ys))
    x0, x1, y0, y1 = xt[0], xt[-1], yt[0], yt[-1]
    pad = 8  # keeps points on the edges off the frame

    def sx(x):
        f = (math.log10(x) - math.log10(x0)) / (math.log10(x1) - math.log10(x0)) if log_x \
            else (x - x0) / (x1 - x0)
        return left + pad + f * (pw - 2 * pad)

    def sy(y):
        f = (math.log10(y) - math.log10(y0)) / (math.log10(y1) - math.log10(y0)) if log_y \
            else (y - y0) / (y1 - y0)
        return top + ph - pad - f * (ph - 2 * pad)

    for t in yt:
        y = sy(t)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" '
                   f'stroke="#e4e4e4"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{fmt_tick(t)}</text>')
    for t in xt:
        x = sx(t)
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + ph}" '
                   f'stroke="#f0f0f0"/>')
        out.append(f'<text x="{x:.1f}" y="{top + ph + 18}" text-anchor="middle">'
                   f'{fmt_tick(t)}</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" '
               f'stroke="#444"/>')
    out.append(f'<text x="{left + pw / 2}" y="{height - 14}" text-anchor="middle">'
               f'{esc(plot.get("x_label", ""))}{" (log scale)" if log_x else ""}</text>')
    out.append(f'<text transform="translate(18,{top + ph / 2}) rotate(-90)" '
               f'text-anchor="middle">{esc(plot.get("y_label", ""))}'
               f'{" (log scale)" if log_y else ""}</text>')

    for i, s in enumerate(series):
        color, shape = COLORS[i % len(COLORS)], MARKERS[i % len(MARKERS)]
        pts = sorted((p[0], p[1]) for p in s["points"] if p[1] is not None and
                     (not log_x or p[0] > 0) and (not log_y or p[1] > 0))
        if len(pts) > 1:
            path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts)
            out.append(f'<polyline points="{path}" fill="none" stroke="{color}" '
                       f'stroke-width="2"/>')
        for x, y in pts:
            out.append(marker(shape, sx(x), sy(y), color))

    # The legend: one row under the title, outside the frame.
    x = left
    for i, s in enumerate(series):
        color, shape = COLORS[i % len(COLORS)], MARKERS[i % len(MARKERS)]
        y = top - 14
        out.append(f'<line x1="{x}" y1="{y - 4}" x2="{x + 24}" y2="{y - 4}" '
                   f'stroke="{color}" stroke-width="2"/>')
        out.append(marker(shape, x + 12, y - 4, color))
        out.append(f'<text x="{x + 30}" y="{y}">{esc(s["label"])}</text>')
        x += 30 + 7 * len(s["label"]) + 24
    out.append("</svg>")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------- the page

def cell(value):
    return str(value).replace("|", "\\|").replace("\n", " ")


def fmt_ratio(r):
    if r is None:
        return "-"
    if isinstance(r, str):
        return r
    return f"{r:.0f}x" if abs(r) >= 100 else f"{r:.1f}x" if abs(r) >= 10 else f"{r:.2f}x"


def fmt_met(m):
    return {True: "yes", False: "**no**"}.get(m, "-")


def load(results_dir):
    docs = []
    for path in sorted(glob.glob(os.path.join(results_dir, "*.json"))):
        try:
            with open(path) as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            print(f"bench/report.py: warning: skipping {path}: {e}", file=sys.stderr)
            continue
        if not isinstance(doc, dict) or "name" not in doc:
            print(f"bench/report.py: warning: skipping {path}: no \"name\"", file=sys.stderr)
            continue
        doc.setdefault("date", datetime.datetime.fromtimestamp(os.path.getmtime(path))
                       .astimezone().strftime("%Y-%m-%d %H:%M %Z"))
        docs.append(doc)
    docs.sort(key=lambda d: (d.get("order", 100), d["name"]))
    return docs


def write_page(docs, out_path, plots_dir, notes_dir, results_dir):
    page_dir = os.path.dirname(os.path.abspath(out_path))
    os.makedirs(plots_dir, exist_ok=True)
    rel = lambda p: os.path.relpath(p, page_dir)
    lines = [
        "# Performance",
        "",
        "<!-- Written by bench/report.py from the results of bench/run; edit the generator, or the",
        "     hand-written notes in docs/perf/NAME.md, not this file. -->",
        "",
        "Speed is measured by benchmarks in `bench/`, never by timed assertions in tests. Each "
        "reports ratios against a baseline measured in the same run on the same machine, because "
        "the machine (its disk above all) matters more than the code. To reproduce every figure "
        "below, build and run:",
        "",
        "    cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build -j2",
        "    sudo bench/run               # every benchmark, then this page (bench/report.py)",
        "    sudo bench/run NAME...       # some of them; the page keeps the others' last results",
        "    bench/run --quick            # a smoke run of each (CI); its page goes to the results folder",
        "    bench/run --help             # what each measures, and its knobs",
        "",
        "Results go to `build/bench-results/NAME.json` (`BENCH_OUT` to change it); "
        "`bench/report.py` turns every JSON there into this page and the plots in "
        f"`{rel(plots_dir)}/`.",
        "",
        "## The machine",
        "",
    ]
    lines += [f"- {k}: {v}" for k, v in machine(results_dir)]
    lines += ["", "Each benchmark's section says when it ran and the load average then: the "
              "machine is shared, so its load varies.", ""]

    goals = [(d, r) for d in docs for r in d.get("rows", []) if r.get("goal")]
    if goals:
        lines += ["## Goals", "", "| benchmark | what | ratio | goal | met |",
                  "|---|---|---:|---:|:---:|"]
        for d, r in goals:
            lines.append(f"| [{cell(d['name'])}](#{anchor(d)}) | {cell(r.get('what', ''))} "
                         f"| {fmt_ratio(r.get('ratio'))} | {cell(r['goal'])} "
                         f"| {fmt_met(r.get('met'))} |")
        lines.append("")
    if not docs:
        lines += ["No results yet: run `bench/run`.", ""]

    for d in docs:
        lines += [f"## {heading(d)}", ""]
        if d.get("method"):
            lines += [d["method"], ""]
        lines += [f"Measured {d['date']} with `{d.get('command', 'bench/run ' + d['name'])}`.",
                  ""]
        rows = d.get("rows", [])
        if rows:
            lines += ["| what | ours | reference | ratio | goal | met |",
                      "|---|---:|---:|---:|---:|:---:|"]
            for r in rows:
                lines.append(f"| {cell(r.get('what', ''))} | {cell(r.get('ours', ''))} "
                             f"| {cell(r.get('reference', ''))} | {fmt_ratio(r.get('ratio'))} "
                             f"| {cell(r.get('goal') or '-')} | {fmt_met(r.get('met'))} |")
            lines.append("")
        for t in d.get("tables", []):
            if t.get("title"):
                lines += [t["title"], ""]
            cols = t.get("columns", [])
            lines += ["| " + " | ".join(cell(c) for c in cols) + " |",
                      "|" + "|".join("---" for _ in cols) + "|"]
            lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in t.get("rows", [])]
            lines.append("")
        for p in d.get("plots", []):
            name = os.path.basename(p.get("file") or f"{d['name']}.svg")
            path = os.path.join(plots_dir, name)
            with open(path, "w") as f:
                f.write(svg_plot(p))
            lines += [f"![{cell(p.get('title', name))}]({rel(path)})", ""]
        notes = os.path.join(notes_dir, f"{d['name']}.md")
        if os.path.exists(notes):
            lines += [f"<!-- from {rel(notes)} (hand-written) -->", "",
                      read(notes).strip(), ""]

    with open(out_path, "w") as f:
        f.write("\n".join(lines).rstrip() + "\n")


def heading(d):
    return f"{d.get('title') or d['name']} (`{d['name']}`)"


def anchor(d):
    """GitHub's anchor for a section heading."""
    text = heading(d).lower()
    return "".join(c for c in text.replace(" ", "-") if c.isalnum() or c in "-_")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", default=os.environ.get("BENCH_OUT") or
                        os.path.join(ROOT, "build", "bench-results"))
    parser.add_argument("--out", default=os.path.join(ROOT, "docs", "performance.md"))
    parser.add_argument("--plots", help="where the SVG files go (default: perf/ beside --out)")
    parser.add_argument("--notes", default=os.path.join(ROOT, "docs", "perf"),
                        help="the hand-written docs/perf/NAME.md notes")
    args = parser.parse_args()
    plots = args.plots or os.path.join(os.path.dirname(os.path.abspath(args.out)), "perf")
    docs = load(args.results)
    write_page(docs, args.out, plots, args.notes, args.results)
    print(f"bench/report.py: {len(docs)} benchmark(s) from {args.results} -> {args.out}")


if __name__ == "__main__":
    main()
