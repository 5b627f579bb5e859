#!/usr/bin/env python3
"""Checks that the manual page matches the binary and the code:

    man_page_test.py RUNBOOK PAGE SOURCE_DIR

PAGE is the troff scdoc made from docs/man/runbook.1.scd. It must have
- a section (".SS runbook WORDS") for every command and subcommand `RUNBOOK --help` lists,
  and none for a command that does not exist;
- under each command, every flag of `RUNBOOK WORDS --help` that is not under COMMON OPTIONS,
  and no flag that command does not take;
- under ENVIRONMENT, every variable the code (engine/, steps/, audit/, app/, cli/) reads by
  name, and `RUNBOOK --help` must list each of them too; neither may list one it does not read;
- under EXIT STATUS, every exit code of engine/exit_code.h.
Prints every mismatch and exits 1 when there is one.
"""

import os
import re
import subprocess
import sys
import tempfile

CODE_DIRS = ("engine", "steps", "audit", "app", "web", "cli")
# getenv("NAME"), secure_getenv("NAME") and Environment::GetEnv("NAME").
ENV_READ = re.compile(r'\b(?:secure_getenv|getenv|GetEnv)\s*\(\s*"([A-Za-z_][A-Za-z0-9_]*)"')


def help_text(binary, words, env):
    out = subprocess.run([binary, *words, "--help"], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, check=False)
    if out.returncode != 0:
        sys.exit(f"man_page_test: `runbook {' '.join(words)} --help` failed: {out.stdout}")
    return out.stdout


def help_section(text, title):
    """The entries of one section of a CLI11 help text: the first word of each."""
    entries, inside = [], False
    for line in text.splitlines():
        if re.fullmatch(r"[A-Z][A-Za-z ]*:", line):
            inside = line == title + ":"
        elif inside and re.match(r"  \S", line):
            entries.append(line.split()[0])
    return entries


def help_flags(text):
    flags = set()
    for entry in help_section(text, "Options"):
        flags.update(name.split("=")[0] for name in entry.split(","))
    return flags


def commands(binary, env):
    """Every command path, as a tuple of words, with its help text."""
    found, todo = {}, [()]
    while todo:
        words = todo.pop(0)
        text = help_text(binary, words, env)
        found[words] = text
        todo.extend(words + (sub,) for sub in help_section(text, "Subcommands"))
    return found


def page_sections(page):
    """{(".SH" or ".SS", title): [lines]} of the troff page."""
    sections, current = {}, None
    for line in page.splitlines():
        m = re.match(r"\.(SH|SS) (.*)", line)
        if m:
            current = (m.group(1), m.group(2).strip('"'))
            sections[current] = []
        elif current:
            sections[current].append(line)
    return sections


def terms(lines, pattern):
    """The bold words at the start of definition lines (a term before an indented block)."""
    found = set()
    for i, line in enumerate(lines):
        if i + 1 < len(lines) and lines[i + 1].startswith(".RS") and line.startswith("\\fB"):
            found.update(re.findall(r"\\fB(" + pattern + r")\\fR", line))
    return found


def code_env_vars(source_dir):
    found = {}
    for top in CODE_DIRS:
        for root, _, files in os.walk(os.path.join(source_dir, top)):
            for name in files:
                if not name.endswith((".cc", ".h")) or name.endswith("_test.cc"):
                    continue
                path = os.path.join(root, name)
                with open(path, encoding="utf-8") as f:
                    for var in ENV_READ.findall(f.read()):
                        found.setdefault(var, os.path.relpath(path, source_dir))
    return found


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    binary, page_path, source_dir = sys.argv[1:]
    with open(page_path, encoding="utf-8") as f:
        sections = page_sections(f.read())
    errors = []
    with tempfile.TemporaryDirectory() as home:
        # The help of the binary alone: no settings file of whoever runs the test.
        settings = os.path.join(home, "config.yaml")
        open(settings, "w").close()
        env = dict(os.environ, HOME=home, XDG_CONFIG_HOME=home, RUNBOOK_CONFIG=settings)
        tree = commands(binary, env)

    flag = r"-[-A-Za-z0-9]+"
    common = terms(sections.get(("SH", "COMMON OPTIONS"), []), flag)
    if not common:
        errors.append("no COMMON OPTIONS section with flags")
    documented = {title for kind, title in sections if kind == "SS"}
    for words, text in tree.items():
        if not words:
            missing = help_flags(text) - common
            if missing:
                errors.append(f"`runbook --help` flags not under COMMON OPTIONS: {sorted(missing)}")
            continue
        title = "runbook " + " ".join(words)
        if title not in documented:
            errors.append(f"no section '{title}' for the command `{title}`")
            continue
        mine = terms(sections[("SS", title)], flag)
        flags = help_flags(text)
        for f in sorted(flags - mine - common):
            errors.append(f"{title}: the flag {f} of `{title} --help` is not documented")
        for f in sorted(mine - flags):
            errors.append(f"{title}: documents {f}, which `{title} --help` does not list")
    for title in sorted(documented - {"runbook " + " ".join(w) for w in tree if w}):
        errors.append(f"the section '{title}' documents no command of `runbook --help`")
    all_flags = set().union(*(help_flags(t) for t in tree.values()))
    for f in sorted(common - all_flags):
        errors.append(f"COMMON OPTIONS documents {f}, which no command takes")

    read = code_env_vars(source_dir)
    page_env = terms(sections.get(("SH", "ENVIRONMENT"), []), r"[A-Za-z_][A-Za-z0-9_]*")
    help_env = set(help_section(tree[()], "Environment"))
    for var, where in sorted(read.items()):
        if var not in page_env:
            errors.append(f"{where} reads ${var}, which the page's ENVIRONMENT does not list")
        if var not in help_env:
            errors.append(f"{where} reads ${var}, which `runbook --help` does not list")
    for var in sorted(page_env - set(read)):
        errors.append(f"the page's ENVIRONMENT lists ${var}, which no code reads by name")
    for var in sorted(help_env - set(read)):
        errors.append(f"`runbook --help` lists ${var}, which no code reads by name")

    with open(os.path.join(source_dir, "engine", "exit_code.h"), encoding="utf-8") as f:
        codes = set(re.findall(r"\bkExit\w+ = (\d+)", f.read()))
    exit_terms = terms(sections.get(("SH", "EXIT STATUS"), []), r"\d+")
    for code in sorted(codes - exit_terms, key=int):
        errors.append(f"EXIT STATUS does not list the exit code {code} (engine/exit_code.h)")

    for e in errors:
        print(f"man_page_test: {e}", file=sys.stderr)
    if errors:
        return 1
    print(f"man_page_test: ok ({len(tree) - 1} commands, {len(all_flags)} flags, "
          f"{len(read)} environment variables, {len(codes)} exit codes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
