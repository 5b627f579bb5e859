#!/usr/bin/env python3
"""Writes the bash and zsh completion of `runbook` from the binary's own help.

    generate.py RUNBOOK TEMPLATE_DIR OUT_DIR

Runs `RUNBOOK --help`, then `RUNBOOK CMD --help` for every command and subcommand it lists,
reads from CLI11's help the commands, their flags (which take a value, which repeat, which
have a fixed set of values) and their positional arguments, and fills the command table of
runbook.bash.in and _runbook.in with it, writing OUT_DIR/runbook and OUT_DIR/_runbook.

The completion logic lives in the two templates; only the table is generated, at every build
of the binary (completions/CMakeLists.txt), so that it cannot drift from the command line.
What a value is (a file, a run id, a plan id) is not in the help: VALUE_KINDS and
ARGUMENT_KINDS say it by name; a flag or argument they do not name completes nothing.
"""

import os
import re
import subprocess
import sys
import tempfile

# What the value of a flag is, by the flag's name; any other flag's value is free text.
VALUE_KINDS = {
    "--config": "file",
    "--audit-db": "file",
    "--log-file": "file",
    "--out": "file",
    "--template": "file",
    "--key": "file",
    "--plan": "plan",
    "--run": "run",
}
# What a positional argument is, by its name in the help (FILE, RUN_ID, PLAN_ID).
ARGUMENT_KINDS = {"FILE": "yaml", "RUN_ID": "run", "PLAN_ID": "plan"}
ARGUMENT_LABELS = {"yaml": "runbook file", "run": "run id", "plan": "plan id"}
# Options CLI11 lists without a type although they take a value (its configuration option).
TAKES_VALUE_UNTYPED = {"--config"}


class Command:
    """One command of the tree: `path` is its words after `runbook` (() for runbook itself)."""

    def __init__(self, path):
        self.path = path
        self.description = ""
        self.subcommands = []  # Command, in the order the help lists them
        self.options = []  # dict(names, value, repeat, choices, description)
        self.arguments = []  # dict(name, kind, repeat)


def help_text(binary, path, env):
    out = subprocess.run([binary, *path, "--help"], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, check=False)
    if out.returncode != 0:
        sys.exit(f"generate.py: `{binary} {' '.join(path)} --help` failed "
                 f"({out.returncode}): {out.stderr.strip()}")
    return out.stdout


def short_description(text):
    """The first clause of a help line, short enough for a completion menu."""
    text = re.split(r"[;(]|: | - ", text, maxsplit=1)[0].strip().rstrip(":,.")
    return text if len(text) <= 70 else text[:67].rstrip() + "..."


def parse(text, command):
    """Fills `command` from its CLI11 help text."""
    lines = text.splitlines()
    section = None
    for i, line in enumerate(lines):
        if re.fullmatch(r"[A-Z][A-Za-z ]*:", line):
            section = line[:-1]
            continue
        # An entry: two spaces, the names, their type words, two or more spaces, the
        # description (or, when the names are too wide, the description on the next line).
        m = re.fullmatch(r"  (\S+)((?: \S+)*)(?: {2,}(.*))?", line)
        if not m or section is None:
            continue
        name, words, description = m.group(1), m.group(2).split(), m.group(3) or ""
        if not description and i + 1 < len(lines) and lines[i + 1].startswith("    "):
            description = lines[i + 1].strip()
        # `--config=PATH`: CLI11 shows the settings file found beside its option.
        name = name.split("=")[0]
        if section == "Subcommands":
            sub = Command(command.path + (name,))
            sub.description = short_description(description)
            command.subcommands.append(sub)
        elif section == "Options":
            names = name.split(",")
            typed = bool(words) and words[0][0].isupper()
            choices = []
            if typed:
                braces = re.search(r"\{(.*)\}", words[0])
                if braces:
                    choices = braces.group(1).split(",")
            command.options.append({
                "names": names,
                "value": typed or "=" in m.group(1) or any(n in TAKES_VALUE_UNTYPED for n in names),
                "repeat": "..." in words,
                "choices": choices,
                "description": short_description(description),
            })
        elif section == "Positionals":
            command.arguments.append({
                "name": name,
                "kind": ARGUMENT_KINDS.get(name, "text"),
                "repeat": "..." in words,
            })


def read_tree(binary, env):
    root = Command(())
    todo = [root]
    while todo:
        command = todo.pop(0)
        parse(help_text(binary, command.path, env), command)
        todo.extend(command.subcommands)
    if not root.subcommands:
        sys.exit(f"generate.py: `{binary} --help` lists no commands")
    return root


def walk(command):
    yield command
    for sub in command.subcommands:
        yield from walk(sub)


def value_kind(option):
    if option["choices"]:
        return "choice:" + " ".join(option["choices"])
    for name in option["names"]:
        if name in VALUE_KINDS:
            return VALUE_KINDS[name]
    return "text"


# ------------------------------------------------------------------------------------ bash

def shell_quote(text):
    return "'" + text.replace("'", "'\\''") + "'"


def bash_table(root):
    subcommands, flags, values, arguments = [], [], [], []
    for command in walk(root):
        key = " ".join(("runbook",) + command.path)
        if command.subcommands:
            subcommands.append(f"  [{shell_quote(key)}]="
                               + shell_quote(" ".join(s.path[-1] for s in command.subcommands)))
        names = [n for o in command.options for n in o["names"]]
        flags.append(f"  [{shell_quote(key)}]={shell_quote(' '.join(names))}")
        for option in command.options:
            if option["value"]:
                for name in option["names"]:
                    values.append(f"  [{shell_quote(key + '|' + name)}]="
                                  + shell_quote(value_kind(option)))
        if command.arguments:
            argument = command.arguments[0]
            arguments.append(f"  [{shell_quote(key)}]="
                             + shell_quote(argument["kind"] + ("..." if argument["repeat"] else "")))
    return "\n".join([
        "# The commands each command has, by its words.",
        "declare -gA _runbook_subcommands=(", *subcommands, ")",
        "# The flags each command takes.",
        "declare -gA _runbook_flags=(", *flags, ")",
        "# The flags that take a value, as \"COMMAND|FLAG\", and what the value is: file, run, "
        "plan,",
        "# text (free), or \"choice: A B\".",
        "declare -gA _runbook_values=(", *values, ")",
        "# What a command's positional argument is: yaml (a runbook file), run, plan or text; "
        "with",
        "# \"...\" when it repeats.",
        "declare -gA _runbook_arguments=(", *arguments, ")",
    ])


# ------------------------------------------------------------------------------------- zsh

def zsh_description(text):
    return re.sub(r"[\[\]:\\]", "", text).replace("`", "")


def zsh_action(kind):
    if kind.startswith("choice:"):
        return "(" + kind[len("choice:"):] + ")"
    return {
        "file": "_files",
        "yaml": "_runbook_yaml_files",
        "run": "_runbook_run_ids",
        "plan": "_runbook_plan_ids",
        "text": " ",
    }[kind]


def zsh_specs(command):
    specs = []
    for option in command.options:
        description = zsh_description(option["description"])
        if option["value"]:
            kind = value_kind(option)
            names = [n + ("=" if n.startswith("--") else "+") for n in option["names"]]
            tail = f"[{description}]:{kind.split(':')[0]}:{zsh_action(kind)}"
        else:
            names = list(option["names"])
            tail = f"[{description}]"
        if option["repeat"]:
            prefix = "*"
        elif len(names) > 1:
            prefix = "(" + " ".join(option["names"]) + ")"
        else:
            prefix = ""
        if len(names) > 1:  # '(-p --param)'{-p+,--param=}'[...]:...'
            specs.append(shell_quote(prefix) + "{" + ",".join(names) + "}" + shell_quote(tail))
        else:
            specs.append(shell_quote(prefix + names[0] + tail))
    for argument in command.arguments:
        label = ARGUMENT_LABELS.get(argument["kind"], argument["name"].lower())
        specs.append(shell_quote(("*" if argument["repeat"] else "") + f":{label}:"
                                + zsh_action(argument["kind"])))
    return specs


def zsh_table(root):
    lines = ["# The _arguments specs of each command, by its words.", "_runbook_specs() {",
             "  case $1 in"]
    for command in walk(root):
        key = " ".join(("runbook",) + command.path)
        lines.append(f"    ({zsh_pattern(key)}) reply=(")
        lines.extend("      " + spec for spec in zsh_specs(command))
        lines.append("    ) ;;")
    lines += ["    (*) reply=() ;;", "  esac", "}", "",
              "# The commands each command has, as NAME:DESCRIPTION.", "_runbook_subcommands() {",
              "  case $1 in"]
    for command in walk(root):
        if not command.subcommands:
            continue
        key = " ".join(("runbook",) + command.path)
        lines.append(f"    ({zsh_pattern(key)}) reply=(")
        for sub in command.subcommands:
            item = f"{sub.path[-1]}:{zsh_description(sub.description)}"
            lines.append("      " + shell_quote(item))
        lines.append("    ) ;;")
    lines += ["    (*) reply=() ;;", "  esac", "}"]
    return "\n".join(lines)


def zsh_pattern(key):
    return key.replace(" ", "\\ ")


# ------------------------------------------------------------------------------------ main

def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    binary, template_dir, out_dir = sys.argv[1:]
    with tempfile.TemporaryDirectory() as home:
        # The help of the binary alone: no settings file of whoever builds it.
        settings = os.path.join(home, "config.yaml")
        open(settings, "w").close()
        env = dict(os.environ, HOME=home, XDG_CONFIG_HOME=home, RUNBOOK_CONFIG=settings)
        root = read_tree(binary, env)
    os.makedirs(out_dir, exist_ok=True)
    for template, out, table in (("runbook.bash.in", "runbook", bash_table(root)),
                                 ("_runbook.in", "_runbook", zsh_table(root))):
        with open(os.path.join(template_dir, template)) as f:
            text = f.read()
        if "@COMMAND_TABLE@" not in text:
            sys.exit(f"generate.py: {template} has no @COMMAND_TABLE@")
        text = text.replace("@COMMAND_TABLE@", table)
        path = os.path.join(out_dir, out)
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.replace(path + ".tmp", path)


if __name__ == "__main__":
    main()
