#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: the unit and end-to-end tests (ctest),
# the acceptance groups of ../shared/acceptance whose issues are resolved (and some of them again
# on a PostgreSQL store started here), then the library unit tests again under ASan and UBSan
# (scripts/test-sanitized.sh; SANITIZED=0 skips that part), the libFuzzer targets for 60 s each
# (scripts/fuzz.sh; FUZZ=0 skips them), both from one instrumented clang tree built at low
# priority beside the tests and acceptance cases, and the static checks of the last commit's
# sources (scripts/lint.sh; LINT=0 skips them). docs/development.md.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_TYPE=${BUILD_TYPE:-Release} scripts/setup.sh

# Acceptance groups this tree passes in full. Add a group when its issue is resolved.
groups=${ACCEPTANCE_GROUPS:-core,http,ssh,recovery,approval,safety,trust,restore}

status=0
# The instrumented tree (build-fuzz: clang, ASan, UBSan, coverage) compiles while the tests and
# acceptance cases run, at the lowest priority: they mostly wait on processes, servers and
# disks, and the compiler takes only the cycles they leave, so their timings are not disturbed.
# First the unit tests' binaries, then the fuzz targets (their libraries are already built).
instrumented_build=
if [ "${SANITIZED:-1}" != 0 ] || [ "${FUZZ:-1}" != 0 ]; then
  (
    rc=0
    if [ "${SANITIZED:-1}" != 0 ]; then nice -n 19 scripts/test-sanitized.sh build || rc=1; fi
    if [ "${FUZZ:-1}" != 0 ]; then nice -n 19 scripts/fuzz.sh build || rc=$((rc | 2)); fi
    exit $rc
  ) >build-fuzz.log 2>&1 &
  instrumented_build=$!
fi
(cd build && ctest --output-on-failure -j 2 --timeout 300) || status=1
if [ -x ../shared/acceptance/run ] || [ -f ../shared/acceptance/run ]; then
  python3 ../shared/acceptance/run --group "$groups" || status=1
  # The same groups on the shared store (SPEC section 6): a PostgreSQL server of its own, a
  # fresh database per case.
  pg_groups=${ACCEPTANCE_PG_GROUPS:-core,recovery,approval}
  if [ -n "$pg_groups" ]; then
    pgdir=$(mktemp -d /tmp/runbook-acceptance-pg.XXXXXX)
    trap 'scripts/stop-postgres.sh "$pgdir"' EXIT
    if url=$(scripts/start-postgres.sh "$pgdir"); then
      ACCEPTANCE_PG_URL=$url python3 ../shared/acceptance/run --group "$pg_groups" || status=1
    else
      echo "test: could not start PostgreSQL for the acceptance groups on the shared store" >&2
      status=1
    fi
    scripts/stop-postgres.sh "$pgdir"
    trap - EXIT
  fi
else
  echo "test: ../shared/acceptance/run not found; acceptance cases not run" >&2
  status=1
fi
# The library unit tests again under AddressSanitizer and UndefinedBehaviorSanitizer, in
# build-fuzz (docs/recovery.md). SANITIZED=0 leaves them out of a quick local run; CI runs them.
if [ -n "$instrumented_build" ]; then
  built=0
  wait "$instrumented_build" || built=$?
  grep -E '^(test-sanitized|fuzz): build' build-fuzz.log || true
  if ((built != 0)); then
    tail -n 40 build-fuzz.log >&2
    echo "test: the instrumented build failed (build-fuzz.log)" >&2
    status=1
  fi
  if [ "${SANITIZED:-1}" != 0 ] && ((!(built & 1))); then
    scripts/test-sanitized.sh test || status=1
  fi
  # Every fuzz target for 60 s, two at a time on the two cores (docs/fuzzing.md).
  if [ "${FUZZ:-1}" != 0 ] && ((!(built & 2))); then
    FUZZ_JOBS=2 scripts/fuzz.sh run "${FUZZ_SECONDS:-60}" || status=1
  fi
fi
# clang-format and clang-tidy on the C++ sources the last commit changed (docs/lint.md).
if [ "${LINT:-1}" != 0 ]; then
  scripts/lint.sh || status=1
fi
exit $status
