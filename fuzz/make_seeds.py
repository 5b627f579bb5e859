#!/usr/bin/env python3
"""Seed corpora and dictionaries for the fuzz targets, made from this tree (docs/fuzzing.md).

Usage: fuzz/make_seeds.py OUT_DIR

Writes OUT_DIR/TARGET/ (one file per seed, named by its content's hash) and OUT_DIR/TARGET.dict
(libFuzzer dictionaries) for each target of fuzz/*_fuzzer.cc, from:
  - the runbooks (runbooks/, examples/, the ```yaml blocks of docs/) and the runbooks the tests
    write inline (C++ string literals holding `steps:`): the loader;
  - the template fields of those runbooks, the template tests' literals and templates/: the
    template engine;
  - the JSON the tests hold (response bodies, audit details) and the JSON paths they check:
    the JSON path evaluator, the http checks and the audit decoder;
  - the known_hosts lines of the tests, and lines of every form made here with a real
    ed25519-shaped key: the known_hosts parser;
  - the keys the parsers accept (engine/*_parser.cc) and the audit event names
    (engine/events.cc): the dictionaries.
Only standard Python; the same tree gives the same seeds.
"""

import base64
import hashlib
import hmac
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAX_SEED = 16384  # fuzz.sh runs with -max_len=16384


def read(path):
    with open(os.path.join(ROOT, path), "rb") as f:
        return f.read()


def files(folder, suffixes):
    out = []
    top = os.path.join(ROOT, folder)
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "build")))
        for name in sorted(filenames):
            if name.endswith(suffixes):
                out.append(os.path.relpath(os.path.join(dirpath, name), ROOT))
    return out


RAW = re.compile(rb'R"([^()\\ ]{0,16})\((.*?)\)\1"', re.S)
PLAIN = re.compile(rb'"((?:[^"\\\n]|\\.)*)"')
ESCAPES = {b"n": b"\n", b"t": b"\t", b"r": b"\r", b"0": b"\0", b'"': b'"', b"\\": b"\\",
           b"'": b"'", b"a": b"\a", b"b": b"\b", b"f": b"\f", b"v": b"\v", b"?": b"?"}


def unescape(body):
    out = bytearray()
    i = 0
    while i < len(body):
        c = body[i:i + 1]
        if c != b"\\" or i + 1 == len(body):
            out += c
            i += 1
            continue
        e = body[i + 1:i + 2]
        if e == b"x":
            m = re.match(rb"[0-9a-fA-F]{1,2}", body[i + 2:])
            if m:
                out.append(int(m.group(0), 16))
                i += 2 + len(m.group(0))
                continue
        out += ESCAPES.get(e, b"\\" + e)
        i += 2
    return bytes(out)


def literals(path):
    """The string literals of a C++ file: raw ones as written, adjacent plain ones joined."""
    text = read(path)
    out = [m.group(2) for m in RAW.finditer(text)]
    text = RAW.sub(b'""', text)
    joined, last_end = None, -1
    for m in PLAIN.finditer(text):
        value = unescape(m.group(1))
        if joined is not None and text[last_end:m.start()].strip() == b"":
            joined += value
        else:
            if joined:
                out.append(joined)
            joined = value
        last_end = m.end()
    if joined:
        out.append(joined)
    return out


def test_literals():
    out = []
    for folder in ("engine", "steps", "audit", "app", "tests", "cli"):
        for path in files(folder, (".cc", ".h")):
            if path.endswith(("_test.cc", "_util.h")) or "/test" in path:
                out.extend(literals(path))
    return out


def doc_blocks(language):
    out = []
    for path in files("docs", (".md",)) + ["README.md"]:
        text = read(path)
        out += re.findall(rb"```" + language + rb"\n(.*?)```", text, re.S)
    return out


def runbooks(lits):
    out = [read(p) for p in files("runbooks", (".yaml", ".yml")) + files("examples", (".yaml",))]
    out += doc_blocks(b"yaml")
    out += [s for s in lits if re.search(rb"^(steps|runbook):", s, re.M)]
    return out


def json_values(lits):
    out = []
    for s in lits + [read(p) for p in files("testing", (".json",))]:
        t = s.strip()
        if not t[:1] in (b"{", b"["):
            continue
        try:
            json.loads(t)
        except ValueError:
            continue
        out.append(t)
    return out


def json_paths(lits, books):
    paths = {s for s in lits if re.fullmatch(rb"\$[^\n]{0,120}", s)}
    for book in books:
        paths.update(re.findall(rb"['\"]?(\$[.\[][^'\":\s]*)['\"]?\s*:", book))
        paths.update(re.findall(rb"(\$[.\[][^'\"\s,}]*)", book))
    return sorted(paths)


def template_fields(books, lits):
    out = set()
    for book in books:
        out.update(re.findall(rb"[^\n]*\{\{[^\n]*", book))
    for s in lits:
        if b"{{" in s or b"'" in s or b"<<" in s or b"$((" in s:
            out.add(s)
    return sorted(out)


def ed25519(seed):
    return b"\0\0\0\x0bssh-ed25519\0\0\0\x20" + hashlib.sha256(seed).digest()


def known_hosts_lines(lits):
    b64 = lambda b: base64.b64encode(b).decode()
    k1, k2 = b64(ed25519(b"one")), b64(ed25519(b"two"))
    salt = hashlib.sha1(b"salt").digest()
    hashed = lambda name: "|1|%s|%s" % (b64(salt), b64(hmac.new(salt, name, "sha1").digest()))
    made = [
        "web1 ssh-ed25519 %s\n" % k1,
        "web1,web2,10.0.0.1 ssh-ed25519 %s comment\n" % k1,
        "[web1]:2222 ssh-ed25519 %s\n" % k2,
        "@revoked * ssh-ed25519 %s\n" % k2,
        "@cert-authority *.example.com ssh-ed25519 %s\n" % k1,
        "*.example.com,!bad.example.com ssh-ed25519 %s\n" % k1,
        "web? ssh-ed25519 %s\n# comment\n\n" % k2,
        "%s ssh-ed25519 %s\n" % (hashed(b"web1"), k1),
        "%s ssh-ed25519 %s\n" % (hashed(b"[web1]:2222"), k2),
        "web1 ssh-ed25519 %s\r\nweb1 ssh-rsa %s\n" % (k1, k2),
    ]
    out = [m.encode() for m in made]
    out += [s for s in lits if re.search(rb"(ssh-ed25519|ssh-rsa|ecdsa-sha2|@revoked|\|1\|)", s)]
    return out


def audit_rows(events, details):
    rows = []
    phases = [b"run", b"step", b"precheck", b"verify", b"rollback"]
    for i, detail in enumerate(details):
        event = events[i % len(events)]
        rows.append(b"\n".join([event, phases[i % len(phases)], b"deploy", b"step:deploy",
                                b"rollback:deploy", b"2026-11-23T15:04:%02d.123Z" % (i % 60),
                                b"r-1", str(i % 3).encode(), detail]))
    hosts = [b"host_failed\nstep\nflip\n\n\n2026-11-23T15:04:06Z\nr-1\n1\n"
             b'{"error":"exit status 1","host":"web2","reached":true}',
             b"rollback_started\nrollback\nflip\n\n\n2026-11-23T15:04:07.5Z\nr-1\n0\n"
             b'{"only_hosts":["web2"]}',
             b"run_finished\nrun\n\nrolling_back\nrolled_back\n2026-11-23T15:04:08.000Z\nr-1\n0\n"
             b'{"duration_ms":2877,"exit_code":3}']
    rows.append(b"\n--\n".join(hosts))
    rows.append(b"\n--\n".join(rows[:6]))
    return rows


def http_inputs(bodies, paths, books):
    out = []
    for i, body in enumerate(bodies[:80]):
        path = paths[i % len(paths)] if paths else b"$.status"
        out.append(b"status 200\njson %s=\"UP\"\noutput v=%s\n\n%s" % (path, path, body))
        out.append(b"status %d\nexpect 200-204\nexpect 3xx\ncontains {{ params.version }}\n"
                   b"regex \"status\":\\s*\"[A-Z]+\"\n\n%s" % (200 + i % 3 * 100, body))
    out.append(b"status 500\n\nZZsecretZZ internal error")
    out.append(b"json $.token={{ secrets.token }}\nsecret hunter2\n\n{\"token\":\"ZZsecretZZ\"}")
    for book in books:
        for check in re.findall(rb"json:\s*\{([^}\n]*)\}", book):
            out.append(b"json " + check.replace(b": ", b"=", 1) + b"\n\n{\"status\":\"UP\"}")
    return out


def parser_keys():
    keys = set()
    for path in files("engine", ("_parser.cc",)):
        for block in re.findall(rb"Keys\[\]\s*=\s*\{(.*?)\};", read(path), re.S):
            keys.update(re.findall(rb'"([a-z_]+)"', block))
    return sorted(keys)


def event_names():
    return sorted(set(re.findall(rb'return "([a-z_]+)";', read("engine/events.cc"))))


def dict_line(token):
    escaped = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "\\x%02x" % ord(c)
                      for c in token.decode("latin-1"))
    return '"%s"\n' % escaped


def write(out_dir, target, seeds, tokens):
    folder = os.path.join(out_dir, target)
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(folder):
        os.remove(os.path.join(folder, name))
    kept = set()
    for seed in seeds:
        seed = seed[:MAX_SEED]
        name = hashlib.sha1(seed).hexdigest()
        if name in kept:
            continue
        kept.add(name)
        with open(os.path.join(folder, name), "wb") as f:
            f.write(seed)
    with open(os.path.join(out_dir, target + ".dict"), "w") as f:
        f.writelines(dict_line(t) for t in sorted(set(tokens)))
    return len(kept)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out_dir = sys.argv[1]
    lits = test_literals()
    books = runbooks(lits)
    bodies = json_values(lits)
    paths = json_paths(lits, books)
    events = [e.encode() for e in map(bytes.decode, event_names())]
    yaml_tokens = [b"---\n", b"...\n", b"- ", b": ", b"? ", b"&a ", b"*a", b"<<: *a", b"!!str ",
                   b"!!binary ", b"|\n", b">-\n", b"{", b"}", b"[", b"]", b"'", b'"', b"#",
                   b"%YAML 1.2\n", b"null", b"~", b"true", b"1e9", b"0x1F", b"\t", b"\n  ",
                   b"x-a: ", b"&a [*a]", b"[*a, *a, *a]"]
    template_tokens = [b"{{", b"}}", b"{{ params.version }}", b"{{ secrets.token }}",
                       b"{{ steps.build.stdout }}", b"{{ steps.one.outputs.v }}",
                       b"{{ raw params.x }}", b"{{ run.id }}", b"{{ env.HOME }}", b"'", b'"',
                       b"\\", b"$((", b"))", b"<<EOF\n", b"<<'EOF'\n", b"<<-EOF\n", b"\nEOF\n",
                       b"$'", b"`", b"$(", b"#", b"\0"]
    counts = {
        "loader": write(out_dir, "loader", books,
                        yaml_tokens + template_tokens[:8] +
                        [k + b":" for k in parser_keys()] +
                        [b"shell", b"ssh", b"kubectl", b"http", b"auto", b"none", b"2xx",
                         b"accept-new", b"30s", b"50%"]),
        "template": write(out_dir, "template", template_fields(books, lits) +
                          [read(p) for p in files("templates", (".md", ".html"))],
                          template_tokens),
        "json_path": write(out_dir, "json_path",
                           [p + b"\n" + b for p in paths for b in bodies[:12]] + paths,
                           [b"$", b".", b"[", b"]", b"['", b"']", b'["', b'"]', b"\\", b"[0]",
                            b"{", b"}", b":", b",", b"null", b"true", b"1.5e3", b"\\u00e9"]),
        "http_checks": write(out_dir, "http_checks", http_inputs(bodies, paths, books),
                             [b"status ", b"expect ", b"contains ", b"regex ", b"json ",
                              b"output ", b"secret ", b"body", b"stdout", b"$.", b"ZZsecretZZ",
                              b"{{ secrets.token }}", b"{{ params.version }}", b"\n\n"]),
        "known_hosts": write(out_dir, "known_hosts", known_hosts_lines(lits),
                             [b"@revoked", b"@cert-authority", b"|1|", b"ssh-ed25519",
                              b"ssh-rsa", b"ecdsa-sha2-nistp256", b"[", b"]:", b"*", b"?",
                              b"!", b",", b"#", b"=", b"AAAAC3NzaC1lZDI1NTE5AAAAI"]),
        "audit_event": write(out_dir, "audit_event", audit_rows(events, bodies + [b"{}"]),
                             events + [b"\n--\n", b"step", b"rollback", b"precheck", b"verify",
                                       b"\\u0000", b"\\ud800", b"\xc3\xa9", b"\xff",
                                       b"2026-11-23T15:04:05.123Z", b'"duration_ms":',
                                       b'"host":', b'"error":', b'"exit_status":']),
    }
    print("seeds: " + ", ".join("%s %d" % kv for kv in counts.items()))


if __name__ == "__main__":
    main()
