#!/usr/bin/env python3
"""Writes a valid runbook of N steps to stdout, for the validate benchmark (bench/run validate).

The steps are a mix of what runbooks hold: mostly shell steps, every 10th with a name, timing
and an output that the next step reads through a placeholder, every 50th an http check, every
100th with a rollback, a few with ssh through a declared target. About 52 bytes a step.

    bench/gen_runbook.py 100000 > /tmp/big.yaml
"""
import sys


def main():
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        sys.exit("usage: gen_runbook.py STEPS")
    steps = int(sys.argv[1])
    out = [
        "runbook: big\n",
        "description: release {{ params.version }} in many small steps\n",
        "risk: low\n",
        "params:\n",
        "  version: {default: '1.0'}\n",
        "targets:\n",
        "  web: {hosts: [web1, web2], user: deploy, known_hosts: /dev/null}\n",
        "defaults: {timeout: 5m, retries: 0}\n",
        "prechecks:\n",
        "  - shell: \"true\"\n",
        "steps:\n",
    ]
    for i in range(1, steps + 1):
        sid = f"s{i}"
        if i % 10 == 0:
            out.append(f"  - id: {sid}\n    name: step {i}\n    shell: echo {i}\n"
                       f"    timeout: 30s\n    outputs: {{out: stdout}}\n")
        elif i % 10 == 1 and i > 1:
            out.append(f"  - id: {sid}\n    shell: \"echo {{{{ steps.s{i - 1}.outputs.out }}}}\"\n")
        elif i % 50 == 5:
            out.append(f"  - id: {sid}\n    http: {{url: \"http://127.0.0.1/{i}\", "
                       f"expect_status: [200, 204]}}\n")
        elif i % 100 == 7:
            out.append(f"  - id: {sid}\n    shell: echo {{{{ params.version }}}}\n"
                       f"    rollback: {{shell: echo undo {i}}}\n")
        elif i % 100 == 33:
            out.append(f"  - id: {sid}\n    ssh: {{target: web, command: uptime}}\n")
        else:
            out.append(f"  - id: {sid}\n    shell: echo {i}\n")
    out.append("verify:\n  - shell: \"true\"\n")
    sys.stdout.write("".join(out))


if __name__ == "__main__":
    main()
