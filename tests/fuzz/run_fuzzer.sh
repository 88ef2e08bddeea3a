#!/usr/bin/env bash
# One short fuzzing run of a harness on its committed inputs (the ctest tests of the fuzz
# build, label `fuzz`; tools/fuzz.sh for long runs).
#
#   run_fuzzer.sh FUZZER_BINARY HARNESS SECONDS WORK_DIR [LIBFUZZER_FLAG...]
#
# New inputs go to WORK_DIR/corpus/HARNESS (never into the source tree), crashes to
# WORK_DIR/artifacts/HARNESS/; the committed corpus and regressions are read only.
# tests/fuzz/HARNESS.dict, when there is one, is the run's dictionary.
set -euo pipefail
binary=$1 harness=$2 seconds=$3 work=$4
shift 4
src=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$work/corpus/$harness" "$work/artifacts/$harness"
dirs=("$work/corpus/$harness" "$src/corpus/$harness")
[ -d "$src/regressions/$harness" ] && dirs+=("$src/regressions/$harness")
[ -f "$src/$harness.dict" ] && set -- -dict="$src/$harness.dict" "$@"
exec "$binary" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
  -artifact_prefix="$work/artifacts/$harness/" "$@" "${dirs[@]}"
