#!/usr/bin/env bash
# Checks that the libraries include each other only downwards (docs/architecture.md):
#   cli -> web -> app -> steps, audit -> engine (web/ is `runbook serve`, the second face);
#   steps and audit never include each other; nothing below app includes app or web; app
#   prints nothing (no stdio output calls). The fuzz targets
#   (fuzz/) use the libraries below app only.
# Tests (*_test.cc, *_test_util.h) may also use testing/. Exits 1 and names each violation.
set -euo pipefail
cd "$(dirname "$0")/.."
declare -A allowed=(
  [engine]="engine"
  [steps]="engine steps"
  [audit]="engine audit"
  [app]="engine steps audit app"
  [web]="engine steps audit app web"
  [cli]="engine steps audit app web cli"
  [fuzz]="engine steps audit fuzz"
)
status=0
for dir in "${!allowed[@]}"; do
  while IFS= read -r line; do
    file=${line%%:*}
    inc=$(sed -E 's/.*#include "([^/"]+)\/.*/\1/' <<<"$line")
    ok=0
    for a in ${allowed[$dir]}; do [ "$inc" = "$a" ] && ok=1; done
    case "$file" in *_test.cc|*_test_util.h) [ "$inc" = testing ] && ok=1 ;; esac
    [ "$inc" = generated ] && ok=1
    if [ $ok -eq 0 ]; then
      echo "layers: $line: $dir/ may not include $inc/" >&2
      status=1
    fi
  done < <(grep -rnE '^#include "[a-z_]+/' "$dir" --include=*.cc --include=*.h || true)
done
if grep -rnE '\b(printf|fprintf|puts|fputs|std::cout|std::cerr)\b *\(' app web --include=*.cc --include=*.h \
     | grep -v '_test\.cc' | grep -v 'snprintf' | grep -v '^\S*:[0-9]*: *//'; then
  echo "layers: app/ and web/ print nothing: return values and let cli/ print" >&2
  status=1
fi
exit $status
