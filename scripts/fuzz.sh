#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ into ./build-fuzz (clang, -DRUNBOOK_FUZZ=ON: the
# libraries instrumented for coverage, AddressSanitizer and UndefinedBehaviorSanitizer; the same
# tree builds the libraries' unit tests for scripts/test-sanitized.sh) and runs them
# (docs/fuzzing.md). Installs clang and libFuzzer when missing (we run as root).
# Usage: scripts/fuzz.sh [configure | build | run [SECONDS [TARGET...]]]
#   configure: configure ./build-fuzz only (what scripts/test-sanitized.sh builds in).
#   build: configure and build only.
#   run (the default): build, then run each TARGET (default: all, in fuzz/*_fuzzer.cc; a name
#     is the file's without _fuzzer.cc) for SECONDS (default 60), FUZZ_JOBS at a time (default
#     1; 2 fits two cores). Each first replays its regression inputs (fuzz/regressions/TARGET/)
#     and then fuzzes from its corpus, build-fuzz/corpus/TARGET, seeded by fuzz/make_seeds.py
#     from the runbooks, templates and tests of this tree. Findings (crash-*, leak-*,
#     timeout-*, oom-*) go to build-fuzz/artifacts/TARGET/.
# Exits 1 on any finding, printing the input that caused it and the command that reproduces it.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
start=$SECONDS
mode=${1:-run}
case "$mode" in
  configure | build | run) shift || true ;;
  *)
    echo "usage: scripts/fuzz.sh [configure | build | run [SECONDS [TARGET...]]]" >&2
    exit 2
    ;;
esac
seconds=${1:-60}
shift || true
build=$root/build-fuzz
jobs=${FUZZ_JOBS:-1}

# clang and its libFuzzer and sanitizer runtimes; llvm-symbolizer for stack traces with lines.
# lld links the instrumented binaries in a fraction of GNU ld's time.
packages=(clang libclang-rt-14-dev llvm-14 lld python3)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "fuzz: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

all_targets=()
for f in fuzz/*_fuzzer.cc; do
  name=${f##*/}
  all_targets+=("${name%_fuzzer.cc}")
done
targets=("$@")
((${#targets[@]})) || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  [ -f "fuzz/${t}_fuzzer.cc" ] || { echo "fuzz: no target $t (fuzz/${t}_fuzzer.cc); targets: ${all_targets[*]}" >&2; exit 2; }
done

launcher=()
if command -v ccache >/dev/null 2>&1; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$(dirname "$root")}
  # ccache skips sources built with a precompiled header unless told these are safe.
  export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
fi
# -O1 with line tables: libFuzzer's recommendation; fast enough to run, quick to build.
# -Xclang -fno-pch-timestamp: a precompiled header that ccache can cache.
cmake -S . -B "$build" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Fuzz \
  -DCMAKE_CXX_FLAGS_FUZZ="-O1 -gline-tables-only -Xclang -fno-pch-timestamp" \
  -DCMAKE_EXE_LINKER_FLAGS=-fuse-ld=lld -DRUNBOOK_FUZZ=ON "${launcher[@]}" >/dev/null
[ "$mode" = configure ] && exit 0
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" --target "${targets[@]/%/_fuzzer}"
echo "fuzz: build $((SECONDS - start))s"
[ "$mode" = build ] && exit 0

python3 fuzz/make_seeds.py "$build/seeds"
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1:allocator_may_return_null=1
export UBSAN_OPTIONS=${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1:halt_on_error=1

# Runs one target: its regression inputs, then SECONDS of fuzzing. Prints one summary line;
# returns 1 on a finding.
fuzz_one() {
  local t=$1 exe=$build/fuzz/${1}_fuzzer
  local corpus=$build/corpus/$t artifacts=$build/artifacts/$t log=$build/logs/$t.log
  local dict=() options=(-rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10 -max_len=16384)
  mkdir -p "$corpus" "$artifacts" "${log%/*}"
  : >"$log"
  [ -f "$build/seeds/$t.dict" ] && dict=(-dict="$build/seeds/$t.dict")
  if compgen -G "fuzz/regressions/$t/*" >/dev/null; then
    if ! "$exe" "${options[@]}" fuzz/regressions/"$t"/* >>"$log" 2>&1; then
      echo "fuzz: $t FAILED on a regression input in fuzz/regressions/$t/ (log: $log)"
      grep -m1 -E "Running: " "$log" | tail -n 1 | sed 's/^/fuzz:   /' || true
      return 1
    fi
  fi
  local status=0
  nice "$exe" "${options[@]}" "${dict[@]}" -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$corpus" "$build/seeds/$t" >>"$log" 2>&1 || status=$?
  local execs
  execs=$(grep -m1 -E "^stat::number_of_executed_units" "$log" | awk '{print $2}' || true)
  local found
  found=$(grep -oE "Test unit written to [^ ]+" "$log" | awk '{print $5}' | tail -n 1 || true)
  if [ "$status" -ne 0 ] || [ -n "$found" ]; then
    echo "fuzz: $t FOUND a problem after ${execs:-?} runs (log: $log)"
    grep -m3 -E "^(==[0-9]+==ERROR|SUMMARY|.*fuzz check failed|.*runtime error)" "$log" |
      sed 's/^/fuzz:   /' || true
    if [ -n "$found" ]; then
      echo "fuzz:   input: $found"
      echo "fuzz:   reproduce: $exe $found"
    fi
    return 1
  fi
  echo "fuzz: $t ok: ${seconds}s, ${execs:-?} runs, corpus $(ls "$corpus" | wc -l) inputs"
}

status=0
running=0
for t in "${targets[@]}"; do
  fuzz_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n || status=1
    running=$((running - 1))
  fi
done
while [ "$running" -gt 0 ]; do
  wait -n || status=1
  running=$((running - 1))
done
echo "fuzz: $((SECONDS - start))s in all"
exit $status
