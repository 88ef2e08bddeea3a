#!/usr/bin/env bash
# Fuzzing cmcl (issue 11; docs/RELIABILITY.md "Fuzzing"; harnesses in tests/fuzz/).
#
#   tools/fuzz.sh [HARNESS...]          a short run (30 s) of each harness (default: all)
#   tools/fuzz.sh --long [HARNESS...]   a long run (10 min each, or --seconds N)
#   tools/fuzz.sh --seconds N ...       run each harness N seconds
#   tools/fuzz.sh --merge ...           after the run, merge what it found into the
#                                       committed corpus (-merge=1: only inputs that add
#                                       coverage), to review and commit
#   tools/fuzz.sh --seeds               rewrite the generated seeds of tests/fuzz/corpus
#
# Harnesses: config, peer_wire, node. Builds build/fuzz with clang (CMCL_FUZZ=ON) first.
# New inputs go to build/fuzz/work/corpus/HARNESS; a crash, leak or timeout is written to
# build/fuzz/work/artifacts/HARNESS/ and the run stops with its reproduction command:
# copy the file to tests/fuzz/regressions/HARNESS/ (the gcc builds replay it), fix, rerun.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=30 merge=0 seeds=0 harnesses=()
while [ $# -gt 0 ]; do
  case "$1" in
    --long) seconds=600 ;;
    --seconds) seconds=$2; shift ;;
    --merge) merge=1 ;;
    --seeds) seeds=1 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    config|peer_wire|node) harnesses+=("$1") ;;
    *) echo "tools/fuzz.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done
[ ${#harnesses[@]} -gt 0 ] || harnesses=(config peer_wire node)
build=build/fuzz work=build/fuzz/work src=tests/fuzz

if [ ! -f "$build/build.ninja" ]; then
  CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMCL_FUZZ=ON > /dev/null
fi

if [ "$seeds" = 1 ]; then
  nice -n 5 cmake --build "$build" --target fuzz_seeds -j "${CMCL_JOBS:-2}"
  "$build/tests/fuzz/fuzz_seeds" "$src/corpus"
  # Config seeds: the examples, as they are and laid out as the harness's scratch folder
  # (cluster text, NUL, package text; driver_dir drivers, one package folder pkg).
  c=$src/corpus/config
  mkdir -p "$c"
  cp config/demo/cluster.yaml "$c/seed-demo-cluster"
  cp config/hpvm/cluster.yaml "$c/seed-hpvm-cluster"
  for pair in demo:guest1 hpvm:hpvm1; do
    { sed -e 's|^driver_dir:.*|driver_dir: drivers|' -e '/^packages:/,$d' \
        "config/${pair%%:*}/cluster.yaml"
      printf 'packages: [pkg]\n\0'
      cat "packages/${pair#*:}/package.yaml"; } > "$c/seed-${pair%%:*}-with-${pair#*:}"
  done
  printf '%s\0%s' "$(printf 'cluster_name: c1\nsecurity: {key_file: cluster.key}\nnodes:\n  - {name: n1, addresses: [127.0.0.1:7101]}\n  - {name: n2, addresses: [127.0.0.2:7101]}\npackages: [pkg]\n')" \
    "$(printf 'name: p1\nnodes: [n1, n2]\nrun_script: run.sh\nhalt_script: halt.sh\n')" \
    > "$c/seed-minimal"
  exit 0
fi

nice -n 5 cmake --build "$build" -j "${CMCL_JOBS:-2}" $(printf ' --target fuzz_%s' "${harnesses[@]}")
for h in "${harnesses[@]}"; do
  echo "== fuzz $h: ${seconds}s =="
  status=0
  nice -n 5 "$src/run_fuzzer.sh" "$build/tests/fuzz/fuzz_$h" "$h" "$seconds" "$work" || status=$?
  if [ "$status" != 0 ]; then
    echo "tools/fuzz.sh: $h failed; reproduce with:" >&2
    for f in "$work/artifacts/$h"/*; do
      [ -e "$f" ] && echo "  $build/tests/fuzz/fuzz_$h $f" >&2
    done
    exit "$status"
  fi
  if [ "$merge" = 1 ]; then
    "$build/tests/fuzz/fuzz_$h" -merge=1 "$src/corpus/$h" "$work/corpus/$h"
  fi
done
