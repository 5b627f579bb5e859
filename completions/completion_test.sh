#!/usr/bin/env bash
# Tests the generated shell completion against the binary it was generated from:
#   completion_test.sh RUNBOOK COMPLETIONS_DIR
# bash: sources COMPLETIONS_DIR/runbook in a clean bash and calls its function as bash does
# (COMP_WORDS, COMP_CWORD), then checks COMPREPLY: every command and subcommand of
# `runbook --help`, every long flag of each `runbook CMD --help` (read here independently of
# generate.py, so that a command or flag the completion misses fails), flag values, runbook
# files, and run and plan ids from a real audit database.
# zsh: COMPLETIONS_DIR/_runbook parses (zsh -n), loads with compinit, and completes a few
# lines in an interactive zsh driven through zpty.
set -uo pipefail
bin=$(realpath "$1")
dir=$(realpath "$2")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# The binary's help without anyone's settings file.
export HOME=$tmp/home XDG_CONFIG_HOME=$tmp/home/.config XDG_STATE_HOME=$tmp/home/.state
mkdir -p "$HOME" "$tmp/bin"
# The completion asks `runbook` (the first word of the line) for ids: this one.
ln -s "$bin" "$tmp/bin/runbook"
export PATH=$tmp/bin:$PATH
unset RUNBOOK_CONFIG RUNBOOK_AUDIT_DB RUNBOOK_OPERATOR

# --------------------------------------------------------------------------------- the help
# The commands under "Subcommands:" of `runbook WORDS --help`, one a line.
subcommands_of() {
  "$bin" "$@" --help | awk '/^[A-Z][A-Za-z ]*:$/ { s = ($0 == "Subcommands:") ; next }
                            s && /^  [a-z]/ { print $1 }'
}
# The long flags of `runbook WORDS --help`, one a line.
flags_of() {
  "$bin" "$@" --help | awk '/^[A-Z][A-Za-z ]*:$/ { s = ($0 == "Options:") ; next }
                            s && /^  -/ { print $1 }' | tr ',' '\n' | sed 's/=.*//' | grep '^--'
}
commands=()  # every command path, as "audit verify"
while read -r c; do
  commands+=("$c")
  while read -r s; do commands+=("$c $s"); done < <(subcommands_of "$c")
done < <(subcommands_of)
[ ${#commands[@]} -ge 10 ] || fail "runbook --help lists only ${#commands[@]} commands"

# ------------------------------------------------------------------------------------- bash
# Prints the sorted COMPREPLY for the line $1 with the cursor at its end, as bash would
# complete it (COMP_WORDS split as with the default COMP_WORDBREAKS). Runs in $tmp/work.
complete_bash() {
  (cd "$tmp/work" && bash --norc --noprofile -c '
    source "$1" || exit 1
    line=$2
    # Split as readline does: words at blanks, and = as a word of its own.
    read -r -a COMP_WORDS <<<"${line//=/ = }"
    [[ $line == *" " ]] && COMP_WORDS+=("")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMP_LINE=$line COMP_POINT=${#line}
    _runbook runbook "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
    printf "%s\n" "${COMPREPLY[@]}" | sort' _ "$dir/runbook" "$1")
}
# expect_bash LINE WORD...: the completion of LINE is exactly WORD... (in any order).
expect_bash() {
  local line=$1
  shift
  local got want
  got=$(complete_bash "$line" | sed '/^$/d' | tr '\n' ' ')
  want=$(printf '%s\n' "$@" | sed '/^$/d' | sort | tr '\n' ' ')
  [ "$got" = "$want" ] || fail "bash: '$line' completes to [$got], expected [$want]"
}

mkdir -p "$tmp/work/dir"
touch "$tmp/work/a.yaml" "$tmp/work/b.yml" "$tmp/work/c.txt"

if ! out=$(bash --norc --noprofile -c 'source "$1" && complete -p runbook' _ "$dir/runbook"); then
  fail "bash: $dir/runbook does not load"
elif [ "$out" != "complete -F _runbook runbook" ]; then
  fail "bash: complete -p runbook says '$out'"
fi

# Commands, subcommands and flags, against the help.
mapfile -t top < <(subcommands_of)
expect_bash "runbook " "${top[@]}" help
expect_bash "runbook va" validate
expect_bash "runbook rep" replay report
expect_bash "runbook help au" audit
expect_bash "runbook help audit ve" verify
expect_bash "runbook --" --help --version --config
for c in "${commands[@]}"; do
  read -r -a words <<<"$c"
  mapfile -t flags < <(flags_of "${words[@]}")
  expect_bash "runbook $c --" "${flags[@]}"
  mapfile -t subs < <(subcommands_of "${words[@]}")
  if [ ${#subs[@]} -gt 0 ]; then expect_bash "runbook $c " "${subs[@]}"; fi
done

# Values: choices, files, free text.
expect_bash "runbook validate --log-format " text json
expect_bash "runbook validate --log-format=" text json
expect_bash "runbook validate --log-level w" warn
expect_bash "runbook run a.yaml --as " ""
expect_bash "runbook report x --out " a.yaml b.yml c.txt dir
expect_bash "runbook --config " a.yaml b.yml c.txt dir
# Runbook files where a FILE is expected, and directories to find them in.
expect_bash "runbook validate " a.yaml b.yml dir
expect_bash "runbook validate a.yaml " a.yaml b.yml dir
expect_bash "runbook run --dry-run -p x=1 " a.yaml b.yml dir
expect_bash "runbook plan a.yaml " ""
expect_bash "runbook graph --format dot a" a.yaml

# Run and plan ids from the audit database on the line, in RUNBOOK_AUDIT_DB, or in the
# settings file given by --config.
db=$tmp/audit.db
cat >"$tmp/hello.yaml" <<'EOF'
runbook: hello
steps:
  - id: one
    shell: "true"
    rollback: none
EOF
"$bin" run "$tmp/hello.yaml" --audit-db "$db" >/dev/null || fail "runbook run failed"
"$bin" plan "$tmp/hello.yaml" --audit-db "$db" >/dev/null || fail "runbook plan failed"
run_id=$("$bin" runs --audit-db "$db" --json | sed -n 's/^    "run_id": "\(.*\)",$/\1/p')
plan_id=$("$bin" plans --audit-db "$db" --json | sed -n 's/^    "plan_id": "\(.*\)",$/\1/p')
[ -n "$run_id" ] && [ -n "$plan_id" ] || fail "no run or plan in $db"
expect_bash "runbook replay --audit-db $db " "$run_id"
expect_bash "runbook report --audit-db=$db ${run_id:0:4}" "$run_id"
expect_bash "runbook audit export --audit-db $db --run " "$run_id"
expect_bash "runbook approve --audit-db $db " "$plan_id"
expect_bash "runbook plans show --audit-db $db " "$plan_id"
expect_bash "runbook run a.yaml --audit-db $db --plan " "$plan_id"
expect_bash "runbook replay $run_id --audit-db $db " ""
RUNBOOK_AUDIT_DB=$db expect_bash "runbook reject " "$plan_id"
cp "$db" "$HOME/audit.db"
expect_bash "runbook replay --audit-db ~/audit.db " "$run_id"
printf 'audit_db: %s\n' "$db" >"$tmp/settings.yaml"
expect_bash "runbook --config $tmp/settings.yaml replay " "$run_id"
# A database file that does not exist is not created by asking it for ids.
expect_bash "runbook replay --audit-db $tmp/none.db " ""
[ ! -e "$tmp/none.db" ] || fail "bash: completing ids created $tmp/none.db"

# -------------------------------------------------------------------------------------- zsh
# In an interactive zsh driven through zpty, Tab runs the completion and writes every match it
# adds (compadd wrapped), then <END>, to $capture; complete.zsh prints, for each line it is
# given, "=== LINE" and the matches, one a line.
capture=$tmp/capture
cat >"$tmp/setup.zsh" <<EOF
PS1='' PROMPT='' RPROMPT=''
fpath=('$dir' \$fpath)
autoload -Uz compinit && compinit -u -D
cd '$tmp/work'
compadd() {
  # Calls that only compute matches (-O, -A, -D) are the completion system's own.
  if [[ \${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "\$@"; return; fi
  local -a hits
  builtin compadd -A hits "\$@"  # the words that match what is typed
  (( \$#hits )) && print -rl -- \$hits >>| '$capture'
  builtin compadd "\$@"
}
capture-completion() {
  : >| '$capture'
  zle list-choices
  print -r -- '<END>' >>| '$capture'
}
zle -N capture-completion
bindkey '^I' capture-completion
EOF
cat >"$tmp/complete.zsh" <<EOF
zmodload zsh/zpty
TERM=dumb zpty z 'zsh -f -i'
zpty -w z "source '$tmp/setup.zsh'; print -r -- RE''ADY"
zpty -r z line '*READY*' || { print "zsh did not start"; exit 1 }
for text in "\$@"; do
  rm -f '$capture'
  zpty -n -w z "\$text"\$'\t'
  for (( i = 0; i < 400; i++ )); do
    [[ -f '$capture' && "\$(<'$capture')" == *'<END>'* ]] && break
    sleep 0.05
  done
  zpty -w z \$'\C-u'"print -r -- DO''NE"
  zpty -r z rest '*DONE*'
  print -r -- "=== \$text"
  print -rl -- \${(ou)\${(f)"\$(<'$capture')"}:#<END>}
done
zpty -d z
EOF
zsh_lines=() zsh_expected=()
# expect_zsh LINE WORD...: zsh offers exactly WORD... for LINE (collected, run at once).
expect_zsh() {
  zsh_lines+=("$1")
  shift
  zsh_expected+=("$(printf '%s\n' "$@" | sed '/^$/d' | sort -u | tr '\n' ' ')")
}
if ! command -v zsh >/dev/null; then
  fail "zsh is not installed (scripts/setup.sh installs it)"
elif ! zsh -n "$dir/_runbook"; then
  fail "zsh: $dir/_runbook does not parse"
else
  expect_zsh "runbook " "${top[@]}" help
  expect_zsh "runbook va" validate
  expect_zsh "runbook help audit " $(subcommands_of audit)
  for c in "${commands[@]}"; do
    read -r -a words <<<"$c"
    expect_zsh "runbook $c --" $(flags_of "${words[@]}")
  done
  expect_zsh "runbook validate " a.yaml b.yml dir
  expect_zsh "runbook run --log-level " debug error info warn
  expect_zsh "runbook replay --audit-db $db " "$run_id"
  expect_zsh "runbook approve --audit-db=$db " "$plan_id"
  expect_zsh "runbook run a.yaml --audit-db $db --plan " "$plan_id"
  expect_zsh "runbook audit --audit-db $db export --run " "$run_id"
  expect_zsh "runbook --config $tmp/settings.yaml replay " "$run_id"
  expect_zsh "runbook replay --audit-db ~/audit.db " "$run_id"
  expect_zsh "runbook replay --audit-db $tmp/none.db " ""
  got=$(timeout 120 zsh -f "$tmp/complete.zsh" "${zsh_lines[@]}") ||
    fail "zsh: completing in zpty failed or took over 120 s: $got"
  for i in "${!zsh_lines[@]}"; do
    listed=$(awk -v want="=== ${zsh_lines[i]}" '$0 == want { on = 1; next } /^=== / { on = 0 }
                                                 on { print }' <<<"$got" | sed '/^$/d' | sort -u |
             tr '\n' ' ')
    [ "$listed" = "${zsh_expected[i]}" ] ||
      fail "zsh: '${zsh_lines[i]}' offers [$listed], expected [${zsh_expected[i]}]"
  done
  [ ! -e "$tmp/none.db" ] || fail "zsh: completing ids created $tmp/none.db"
fi

if [ "$failures" -gt 0 ]; then
  echo "completion_test: $failures failures" >&2
  exit 1
fi
echo "completion_test: ok (${#commands[@]} commands)"
