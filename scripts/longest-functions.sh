#!/usr/bin/env bash
# Lists the longest functions (lines from signature to closing brace) in the given folders,
# using universal-ctags' end-line field; tests and lambdas left out.
# Usage: scripts/longest-functions.sh [N] DIR...
set -euo pipefail
n=10
if [[ ${1:-} =~ ^[0-9]+$ ]]; then n=$1; shift; fi
ctags -R --kinds-c++=f --fields=+ne --languages=C++ -f - "$@" \
  | awk -F'\t' '$1 !~ /^__anon/ && $2 !~ /_test\.cc$/ {
      line=""; end=""
      for (i=4;i<=NF;i++) { if ($i ~ /^line:/) line=substr($i,6); if ($i ~ /^end:/) end=substr($i,5) }
      if (line != "" && end != "") printf "%5d  %s:%s  %s\n", end-line+1, $2, line, $1 }' \
  | sort -rn | head -n "$n"
