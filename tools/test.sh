#!/usr/bin/env bash
# cmcl's test command (README.md; .ci/run calls exactly this).
#
#   tools/test.sh          the quick tier, what CI runs
#   tools/test.sh --full   also the full tier (long simulator sweeps, soak, fault rounds)
#
# Tiers (DESIGN.md section 7):
#   1. build/asan: the pure core, its unit tests and the simulator, with ASan/UBSan.
#   2. build/rel:  everything else in one RelWithDebInfo build (io, pkgctl, cmcld,
#                  integration tests); core tests are not run twice.
#   3. build/fuzz: the libFuzzer harnesses (clang, tests/fuzz), a short run of each
#                  (tools/fuzz.sh for long ones).
set -euo pipefail
cd "$(dirname "$0")/.."
tier=quick
for arg in "$@"; do
  case "$arg" in
    --full) tier=full ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "tools/test.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done
export CMCL_TEST_TIER=$tier
# Simulator sweeps start at a seed derived from the commit: "random" yet replayable.
export CMCL_SIM_SEED=${CMCL_SIM_SEED:-$(git rev-parse HEAD 2>/dev/null || echo 1)}
start=$(date +%s)
jobs=${CMCL_JOBS:-2}

tools/deps.sh

label_filter=(-LE full)
[ "$tier" = full ] && label_filter=()

echo "== tier 1: core + simulator with ASan/UBSan =="
cmake -S . -B build/asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMCL_SANITIZE=ON \
  -DCMCL_CORE_ONLY=ON -DCMCL_BUILD_BENCHMARKS=OFF > build-asan-configure.log \
  || { cat build-asan-configure.log; exit 1; }
cmake --build build/asan -j "$jobs"
ctest --test-dir build/asan --output-on-failure -j "$jobs" "${label_filter[@]}" \
  | tee build/asan/ctest.log

echo "== tier 2: everything else, RelWithDebInfo =="
cmake -S . -B build/rel -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMCL_CORE_TESTS=OFF > build-rel-configure.log \
  || { cat build-rel-configure.log; exit 1; }
cmake --build build/rel -j "$jobs"
ctest --test-dir build/rel --output-on-failure -j "$jobs" "${label_filter[@]}" \
  | tee build/rel/ctest.log

echo "== tier 3: fuzzing, a short run of each harness on its committed inputs (clang) =="
CC=clang CXX=clang++ cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMCL_FUZZ=ON > build-fuzz-configure.log || { cat build-fuzz-configure.log; exit 1; }
cmake --build build/fuzz -j "$jobs"
ctest --test-dir build/fuzz --output-on-failure -j "$jobs" -L fuzz | tee build/fuzz/ctest.log
rm -f build-asan-configure.log build-rel-configure.log build-fuzz-configure.log

# One closing line over both tiers, in the plain "N passed, N failed" form.
total=0
for log in build/asan/ctest.log build/rel/ctest.log build/fuzz/ctest.log; do
  n=$(sed -n 's/.*tests passed, 0 tests failed out of \([0-9]*\).*/\1/p' "$log")
  total=$((total + ${n:-0}))
done
echo "cmcl tests ($tier tier) took $(( $(date +%s) - start ))s"
echo "$total passed, 0 failed"
