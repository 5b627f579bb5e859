#!/usr/bin/env bash
# Builds ./build-asan with AddressSanitizer and UndefinedBehaviorSanitizer (-DRUNBOOK_SANITIZE)
# and runs the ctest tests under them: the processes (steps_tests), the audit store
# (audit_tests), the template engine and the executor (engine_tests), the use cases (app_tests)
# and the end-to-end tests, the crash matrix included (e2e_tests, which run the sanitized
# `runbook`). Expects what scripts/setup.sh installs. Exits 1 when a test fails or when any
# process, also a `runbook` started by a test, reported an error.
# Usage: scripts/test-sanitized.sh [CTEST_REGEX]   (default: every test but those left out below;
# SANITIZED_EXCLUDE= runs them too)
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS

launcher=()
if command -v ccache >/dev/null 2>&1; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  # ccache skips sources built with a precompiled header unless told these are safe.
  export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
fi
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DRUNBOOK_SANITIZE=address,undefined \
  "${launcher[@]}" >/dev/null
cmake --build build-asan -j "$(nproc 2>/dev/null || echo 2)"
built=$SECONDS

# Reports go to files, not only to the stderr of whoever ran the process: an e2e test that
# expects `runbook` to exit 1 would not notice a report that also exits 1.
reports=$PWD/build-asan/sanitizer-reports
rm -rf "$reports"
mkdir -p "$reports"
# Options already in the environment come first; ours win where both set one.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$reports/asan:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1
export UBSAN_OPTIONS=${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$reports/ubsan:print_stacktrace=1:halt_on_error=1

status=0
# Left out by default, to keep CI near its 20 minutes: the stand-in's own Python tests (no code
# of ours runs in them) and the two-host ssh-release harness (a shell script around the same
# binary the crash matrix and the e2e tests already run sanitized). Both run in the release tree.
exclude=${SANITIZED_EXCLUDE-^KubeStandin\.PythonSelfTestsPass\$|^SshReleaseE2eTest\.}
(cd build-asan && ctest --output-on-failure -j 2 --timeout 600 ${1:+-R "$1"} ${exclude:+-E "$exclude"}) || status=1
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
