#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: the unit and end-to-end tests (ctest),
# the acceptance groups of ../shared/acceptance whose issues are resolved, then the ctest tests
# again under ASan and UBSan (scripts/test-sanitized.sh; SANITIZED=0 skips that part).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_TYPE=${BUILD_TYPE:-Release} scripts/setup.sh

# Acceptance groups this tree passes in full. Add a group when its issue is resolved.
groups=${ACCEPTANCE_GROUPS:-core,http,ssh,recovery,approval,safety,trust}

status=0
(cd build && ctest --output-on-failure -j 2 --timeout 300) || status=1
if [ -x ../shared/acceptance/run ] || [ -f ../shared/acceptance/run ]; then
  python3 ../shared/acceptance/run --group "$groups" || status=1
else
  echo "test: ../shared/acceptance/run not found; acceptance cases not run" >&2
  status=1
fi
# The same tests again under AddressSanitizer and UndefinedBehaviorSanitizer, in build-asan
# (docs/recovery.md). SANITIZED=0 leaves them out of a quick local run; CI runs them.
if [ "${SANITIZED:-1}" != 0 ]; then
  scripts/test-sanitized.sh || status=1
fi
exit $status
