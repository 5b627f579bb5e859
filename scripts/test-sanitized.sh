#!/usr/bin/env bash
# Runs the library unit tests under AddressSanitizer and UndefinedBehaviorSanitizer: the
# processes, ssh, http and kubectl runners (steps_tests), the audit stores (audit_tests, both
# SQLite and PostgreSQL), the template engine and the executor (engine_tests), the use cases,
# which run real runbooks through the executor in-process (app_tests), and web_tests
# (accounts, sessions, the throttle). They are built in ./build-fuzz, the clang tree of the
# fuzz targets (scripts/fuzz.sh configures it: -O1, ASan and UBSan, undefined behaviour aborts):
# one instrumented build serves both, which is what keeps CI near its time on 2 cores. The
# end-to-end tests (tests/, which drive the `runbook` binary, the crash matrix included) and
# cli_tests run in the release tree only (docs/development.md says how to run them sanitized
# by hand). Exits 1 when a test fails or when any process reported an error.
# Usage: scripts/test-sanitized.sh [build|test|all] [CTEST_REGEX]
#   build: configure and build only (scripts/test.sh runs it beside the acceptance cases);
#   test: run the tests of an existing build-fuzz; all (the default): both.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
mode=${1:-all}
case "$mode" in
  build | test | all) shift || true ;;
  *) mode=all ;;
esac
targets=(engine_tests steps_tests audit_tests app_tests web_tests)
tree=build-fuzz

if [ "$mode" != test ]; then
  scripts/fuzz.sh configure
  if command -v ccache >/dev/null 2>&1; then
    # ccache skips sources built with a precompiled header unless told these are safe.
    export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
    export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$(dirname "$PWD")}
  fi
  cmake --build "$tree" -j "$(nproc 2>/dev/null || echo 2)" --target "${targets[@]}"
  echo "test-sanitized: build $((SECONDS - start))s"
  [ "$mode" = build ] && exit 0
fi
built=$SECONDS

# Reports go to files, not only to the stderr of whoever ran the process: an e2e test that
# expects `runbook` to exit 1 would not notice a report that also exits 1.
reports=$PWD/$tree/sanitizer-reports
rm -rf "$reports"
mkdir -p "$reports"
# Options already in the environment come first; ours win where both set one.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$reports/asan:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1
export UBSAN_OPTIONS=${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$reports/ubsan:print_stacktrace=1:halt_on_error=1

status=0
# Only the unit-test binaries are built here; ctest lists any other as *_NOT_BUILT.
# Left out by default as well: the stand-in's own Python tests (no code of ours runs in them).
exclude=${SANITIZED_EXCLUDE-^KubeStandin\.PythonSelfTestsPass\$}
exclude="_NOT_BUILT\$${exclude:+|$exclude}"
(cd "$tree" && ctest --output-on-failure -j 2 --timeout 600 ${1:+-R "$1"} -E "$exclude") || status=1
if compgen -G "$reports/*" >/dev/null; then
  echo "test-sanitized: sanitizer reports:" >&2
  for f in "$reports"/*; do
    echo "---- $f" >&2
    head -n 60 "$f" >&2
  done
  status=1
fi
echo "test-sanitized: build $((built - start))s, tests $((SECONDS - built))s"
exit $status
