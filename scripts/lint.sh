#!/usr/bin/env bash
# Static checks of the C++ sources (docs/lint.md): clang-format --dry-run --Werror against
# .clang-format, and clang-tidy with the checks of .clang-tidy, warnings as errors, over the
# sources changed since a base commit, or over all of them (--all).
#
# Usage: scripts/lint.sh [--all | BASE]
#   BASE        compare with the merge base of BASE and HEAD (a branch, tag or commit).
#   --all       every source, changed or not.
#   (nothing)   the base is, in this order: $LINT_BASE; the merge base with $LINT_BRANCH
#               (default main) when HEAD is not on it; HEAD~1 (on main itself or on a CI clone:
#               the last commit, or what the last merge brought in); every source when there is
#               no HEAD~1 (a clone of depth 1).
# "Changed" means added, copied, modified or renamed between the base and the working tree
# (committed or not), plus untracked files: on a clean CI clone that is BASE..HEAD.
# Sources: *.cc and *.h under engine steps audit app web cli testing tests bench fuzz. A changed
# header is checked by clang-tidy through a .cc of its own name, else through a .cc that
# includes it, and its findings are reported; other headers' findings are not (--all reports
# every project header's).
#
# clang-tidy reads the compile commands of $LINT_BUILD (default build; configured here when it
# has none). They are g++'s: the copy in $LINT_BUILD/lint drops g++'s precompiled headers (clang
# cannot read a .gch; the header is included as text instead), -Werror and -Winvalid-pch, and
# tells clang to ignore the warning options only g++ knows.
# Environment: LINT_BASE, LINT_BRANCH, LINT_BUILD, LINT_JOBS (parallel clang-tidy processes,
# default 2), CLANG_TIDY and CLANG_FORMAT (the programs; default the -14 ones when installed).
# Exits 0 when clean, 1 on a finding, 2 on a usage or setup error.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '5,14p' "$0" | sed 's/^# \{0,1\}//'; }
all=0
base_arg=
case "${1:-}" in
  -h | --help) usage; exit 0 ;;
  --all) all=1 ;;
  -*) echo "lint: unknown option $1" >&2; usage >&2; exit 2 ;;
  "") ;;
  *) base_arg=$1 ;;
esac
[ $# -le 1 ] || { echo "lint: one argument at most" >&2; usage >&2; exit 2; }

# Debian's clang-tidy and clang-format, installed when missing (we run as root in CI).
if [ -z "${CLANG_TIDY:-}${CLANG_FORMAT:-}" ] &&
  ! { command -v clang-tidy >/dev/null 2>&1 && command -v clang-format >/dev/null 2>&1; }; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  echo "lint: installing clang-tidy and clang-format"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    clang-tidy clang-format >/dev/null ||
    { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
      --no-install-recommends clang-tidy clang-format >/dev/null; }
fi
pick() { command -v "$1" >/dev/null 2>&1 && echo "$1" || echo "$2"; }
clang_tidy=${CLANG_TIDY:-$(pick clang-tidy-14 clang-tidy)}
clang_format=${CLANG_FORMAT:-$(pick clang-format-14 clang-format)}
build=${LINT_BUILD:-build}
jobs=${LINT_JOBS:-2}
dirs=(engine steps audit app web cli testing tests bench fuzz)
dir_regex="^($(IFS='|'; echo "${dirs[*]}"))/[^ ]*\.(cc|h)$"
for tool in "$clang_tidy" "$clang_format"; do
  command -v "$tool" >/dev/null 2>&1 || { echo "lint: $tool not found" >&2; exit 2; }
done

# The base to compare with, or all=1.
describe_base=
if [ $all = 0 ]; then
  resolve() { git rev-parse --verify --quiet "$1^{commit}"; }
  base=
  if [ -n "$base_arg" ] || [ -n "${LINT_BASE:-}" ]; then
    ref=${base_arg:-$LINT_BASE}
    resolve "$ref" >/dev/null || { echo "lint: no commit named '$ref'" >&2; exit 2; }
    base=$(git merge-base "$ref" HEAD)
    describe_base="merge base with $ref"
  else
    branch=${LINT_BRANCH:-main}
    if resolve "$branch" >/dev/null; then
      mb=$(git merge-base "$branch" HEAD || true)
      if [ -n "$mb" ] && [ "$mb" != "$(git rev-parse HEAD)" ]; then
        base=$mb
        describe_base="merge base with $branch"
      fi
    fi
    if [ -z "$base" ]; then
      if base=$(resolve HEAD~1); then
        describe_base="HEAD~1"
      else
        all=1
        describe_base="no HEAD~1 (shallow clone?): every source"
      fi
    fi
  fi
fi

files=()
if [ $all = 1 ]; then
  mapfile -t files < <(git ls-files -- "${dirs[@]}" | grep -E "$dir_regex" || true)
else
  mapfile -t files < <({ git diff --name-only --diff-filter=ACMR "$base" -- "${dirs[@]}"
                         git ls-files --others --exclude-standard -- "${dirs[@]}"; } |
                       grep -E "$dir_regex" | sort -u || true)
  echo "lint: ${#files[@]} changed source(s) since $(git rev-parse --short "$base")" \
       "($describe_base)"
fi
[ ${#files[@]} -gt 0 ] || { echo "lint: nothing to check"; exit 0; }
[ -n "$describe_base" ] && [ $all = 1 ] && echo "lint: $describe_base"

status=0
start=$SECONDS

# clang-format: with --all, whole files; otherwise the lines changed since the base (a new
# file: all of it), so that a change to a file formatted before .clang-format was checked need
# not reformat the rest of it.
format_failed=0
if [ $all = 1 ]; then
  # One line per file: the whole tree's differences would be thousands of lines.
  unformatted=0
  for f in "${files[@]}"; do
    if ! "$clang_format" --dry-run --Werror "$f" >/dev/null 2>&1; then
      echo "$f: not formatted as .clang-format says" >&2
      unformatted=$((unformatted + 1))
    fi
  done
  if [ $unformatted -gt 0 ]; then
    echo "lint: clang-format: $unformatted of ${#files[@]} files differ;" \
         "\`$clang_format --dry-run FILE\` shows where" >&2
    format_failed=1
  fi
else
  for f in "${files[@]}"; do
    lines=()
    if git ls-files --error-unmatch -- "$f" >/dev/null 2>&1 &&
        git cat-file -e "$base:$f" 2>/dev/null; then
      while read -r first count; do
        count=${count:-1}
        [ "$count" -gt 0 ] && lines+=("--lines=$first:$((first + count - 1))")
      done < <(git diff -U0 "$base" -- "$f" |
               sed -nE 's/^@@ -[0-9,]+ \+([0-9]+)(,([0-9]+))? @@.*/\1 \3/p')
      [ ${#lines[@]} -gt 0 ] || continue  # only lines taken out
    fi
    "$clang_format" --dry-run --Werror "${lines[@]}" "$f" || format_failed=1
  done
fi
if [ $format_failed = 1 ]; then
  [ $all = 1 ] || echo "lint: clang-format: the lines above differ from .clang-format;" \
       "\`git clang-format $base\` formats what changed, \`$clang_format -i FILE\` a whole file" >&2
  status=1
fi
format_time=$((SECONDS - start))

# The compile commands, for clang.
if [ ! -f "$build/compile_commands.json" ]; then
  echo "lint: $build/compile_commands.json missing: configuring $build" >&2
  cmake -S . -B "$build" >/dev/null
fi
# Headers the build generates (cli/build_info.h), which main.cc includes.
if [ ! -f "$build/generated/cli/build_info.h" ]; then
  cmake --build "$build" --target build_info >/dev/null 2>&1 || true
fi
python3 - "$build/compile_commands.json" "$build/lint" <<'EOF'
import json, os, shlex, shutil, sys
source, out_dir = sys.argv[1], sys.argv[2]
pch_dir = os.path.join(out_dir, "pch")
os.makedirs(pch_dir, exist_ok=True)
entries = []
for e in json.load(open(source)):
    if e["file"].endswith(".hxx.cxx"):  # the compile of a precompiled header itself
        continue
    args = e["arguments"] if "arguments" in e else shlex.split(e["command"])
    out = [args[0], "-Wno-unknown-warning-option"]
    i = 1
    while i < len(args):
        a = args[i]
        if a == "-include" and i + 1 < len(args) and args[i + 1].endswith("cmake_pch.hxx"):
            # The same header, away from its .gch, so that clang reads it as text.
            pch = args[i + 1]
            copy = os.path.join(pch_dir, os.path.relpath(pch, e["directory"]).replace("/", "_"))
            shutil.copyfile(pch, copy)
            out += ["-include", os.path.abspath(copy)]
            i += 2
            continue
        if a not in ("-Werror", "-Winvalid-pch"):
            out.append(a)
        i += 1
    files = [e["file"]]
    if "/Unity/unity_" in e["file"]:  # a batch of the unity build: its sources, each alone
        with open(os.path.join(e["directory"], e["file"])) as batch:
            files = [l.split('"')[1] for l in batch if l.startswith("#include \"")]
    for f in files:
        entries.append({"directory": e["directory"], "file": f,
                        "arguments": [f if a == e["file"] else a for a in out]})
with open(os.path.join(out_dir, "compile_commands.json"), "w") as f:
    json.dump(entries, f, indent=1)
EOF
mapfile -t known < <(python3 -c 'import json,os,sys
for e in json.load(open(sys.argv[1])): print(os.path.relpath(e["file"]))' \
                     "$build/lint/compile_commands.json")
declare -A in_db=()
for f in "${known[@]}"; do in_db[$f]=1; done

# What clang-tidy runs on: the changed .cc files and, for each changed header, a .cc that
# includes it; the header filter names the headers whose findings count.
# unit_for HEADER: the .cc of its name, else the first .cc that includes it, else one that
# includes a header that includes it, and so on.
unit_for() {
  local queue=("$1") seen=" $1 " h inc
  while [ ${#queue[@]} -gt 0 ]; do
    h=${queue[0]}
    queue=("${queue[@]:1}")
    [ -n "${in_db[${h%.h}.cc]:-}" ] && { echo "${h%.h}.cc"; return; }
    while read -r inc; do
      case "$inc" in
        *.cc) [ -n "${in_db[$inc]:-}" ] && { echo "$inc"; return; } ;;
        *.h) [[ $seen == *" $inc "* ]] || { seen+="$inc "; queue+=("$inc"); } ;;
      esac
    done < <(grep -rlF --include=*.cc "#include \"$h\"" "${dirs[@]}" 2>/dev/null | sort
             grep -rlF --include=*.h "#include \"$h\"" "${dirs[@]}" 2>/dev/null | sort)
  done
}
declare -A units=()
headers=()
for f in "${files[@]}"; do
  case "$f" in
    *.cc) units[$f]=1 ;;
    *.h)
      headers+=("$f")
      [ $all = 1 ] && continue  # every .cc is checked, and every header with them
      cc=$(unit_for "$f")
      if [ -n "$cc" ]; then
        units[$cc]=1
      else
        echo "lint: $f: no compiled .cc includes it; clang-tidy skips it" >&2
      fi
      ;;
  esac
done
tidy=()
for f in "${!units[@]}"; do
  if [ -n "${in_db[$f]:-}" ]; then
    tidy+=("$f")
  else
    echo "lint: $f: not in $build/compile_commands.json (not built here); clang-tidy skips it" >&2
  fi
done
if [ $all = 1 ]; then
  header_filter="/($(IFS='|'; echo "${dirs[*]}"))/[^/]*\.h$"
elif [ ${#headers[@]} -gt 0 ]; then
  header_filter="/($(printf '%s\n' "${headers[@]}" | sed 's/\./\\./g' | paste -sd '|'))$"
else
  header_filter='^$'  # no header's findings
fi

tidy_start=$SECONDS
findings=0
if [ ${#tidy[@]} -gt 0 ]; then
  echo "lint: clang-tidy on ${#tidy[@]} file(s), $jobs at a time"
  out_dir=$(mktemp -d)
  trap 'rm -rf "$out_dir"' EXIT
  # Each file's findings in a file of its own, then printed once each: a header's finding
  # comes from every .cc that includes it.
  printf '%s\0' "${tidy[@]}" | sort -z |
    xargs -0 -P "$jobs" -n 1 sh -c '"$0" -p "$1" --quiet --warnings-as-errors="*" \
        --header-filter="$2" "$4" >"$3/$(echo "$4" | tr / _).out" 2>&1 ||
        echo "$4" >>"$3/failed"' \
      "$clang_tidy" "$build/lint" "$header_filter" "$out_dir"
  findings=$(cat "$out_dir"/*.out | awk '
    function flush() {
      if (block != "" && !(block in seen)) {
        seen[block] = 1
        printf "%s", block > "/dev/stderr"
        n++
      }
      block = ""
    }
    /^[0-9]+ warnings? generated\.$/ { next }
    /^[^ ].*:[0-9]+:[0-9]+: (warning|error): / || /^Error while processing/ { flush() }
    { block = block $0 "\n" }
    END { flush(); print n + 0 }')
  if [ "$findings" -gt 0 ]; then
    echo "lint: clang-tidy: $findings finding(s) above (.clang-tidy lists the checks;" \
         "docs/lint.md)" >&2
    status=1
  elif [ -s "$out_dir/failed" ]; then
    echo "lint: clang-tidy failed on: $(tr '\n' ' ' <"$out_dir/failed")" >&2
    status=1
  fi
fi
echo "lint: clang-format on ${#files[@]} file(s) ${format_time} s, clang-tidy on ${#tidy[@]}" \
     "file(s) $((SECONDS - tidy_start)) s: $([ $status = 0 ] && echo clean || echo FINDINGS)"
exit $status
