#!/usr/bin/env python3
"""Checks bench/report.py on made-up results (run by ctest as bench_report_test): the page has
the machine, the goals, each benchmark's table, extra tables, links to its plots and its
hand-written notes; every plot is well-formed SVG; a broken JSON file is skipped, not fatal."""

import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    with tempfile.TemporaryDirectory() as tmp:
        results, notes, out = (os.path.join(tmp, d) for d in ("results", "notes", "docs"))
        for d in (results, notes, out):
            os.makedirs(d)
        with open(os.path.join(results, "zeta.json"), "w") as f:
            json.dump({
                "name": "zeta", "title": "Zeta | things", "method": "made up.",
                "command": "bench/run zeta",
                "rows": [{"what": "wall, 200 hosts", "ours": "1.0 s", "reference": "x 4.0 s",
                          "ratio": 4.0, "goal": ">= 3x", "met": True},
                         {"what": "cpu", "ours": "1 ms", "reference": "y 20 ms", "ratio": 20.0,
                          "goal": ">= 30x", "met": False},
                         {"what": "no goal", "ours": "a", "reference": "b", "ratio": None,
                          "goal": None, "met": None}],
                "tables": [{"title": "More:", "columns": ["a", "b"], "rows": [[1, 2]]}],
                "plots": [{"file": "zeta-wall.svg", "title": "Wall <vs> hosts",
                           "x_label": "hosts", "y_label": "s", "log_x": True,
                           "series": [{"label": "one", "points": [[50, 1], [200, 2], [500, 4]]},
                                      {"label": "two", "points": [[50, 3], [500, None]]}]},
                          {"file": "zeta-empty.svg", "title": "nothing", "series": []}],
            }, f)
        with open(os.path.join(results, "alpha.json"), "w") as f:
            json.dump({"name": "alpha", "order": 200, "rows": [],
                       "plots": [{"file": "alpha.svg", "log_y": True, "series": [
                           {"label": "r", "points": [[1, 0.5], [2, 1000]]}]}]}, f)
        with open(os.path.join(results, "broken.json"), "w") as f:
            f.write("{not json")
        with open(os.path.join(notes, "zeta.md"), "w") as f:
            f.write("### What it means\n\nHand-written.\n")

        page = os.path.join(out, "performance.md")
        run = subprocess.run([sys.executable, os.path.join(HERE, "report.py"), "--results",
                              results, "--out", page, "--notes", notes],
                             capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        assert "skipping" in run.stderr and "broken.json" in run.stderr, run.stderr
        text = open(page).read()
        for want in ["## The machine", "- cores: ", "- CPU: ", "- git commit: ", "## Goals",
                     "| >= 3x | yes |", "| >= 30x | **no** |", "## Zeta | things (`zeta`)",
                     "| wall, 200 hosts | 1.0 s | x 4.0 s | 4.00x | >= 3x | yes |",
                     "| no goal | a | b | - | - | - |", "More:", "| 1 | 2 |",
                     "](perf/zeta-wall.svg)", "Hand-written.", "`bench/run zeta`"]:
            assert want in text, f"missing {want!r} in:\n{text}"
        # "order" puts alpha after zeta.
        assert text.index("(`zeta`)") < text.index("(`alpha`)"), text
        for svg in ("zeta-wall.svg", "zeta-empty.svg", "alpha.svg"):
            root = ET.parse(os.path.join(out, "perf", svg)).getroot()
            assert root.tag.endswith("svg"), svg
        wall = open(os.path.join(out, "perf", "zeta-wall.svg")).read()
        assert "Wall &lt;vs&gt; hosts" in wall and "polyline" in wall and "(log scale)" in wall
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
