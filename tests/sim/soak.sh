#!/usr/bin/env bash
# The simulator soak (label "full"; tools/test.sh --full): JOBS cmcl-sim processes in
# parallel over disjoint seed ranges starting at a seed derived from $CMCL_SIM_SEED (the
# commit under test) or 1, half of them in --swarm mode. Each process stops after
# SEEDS seeds or BUDGET of wall time, whichever comes first. Prints every process's
# summary and a total; on a violation prints that process's report (with the replay
# command) and exits 1.
#
#   tests/sim/soak.sh path/to/cmcl-sim [--jobs N] [--seeds-per-job M] [--time-budget 10m]
set -euo pipefail
sim=${1:?usage: soak.sh path/to/cmcl-sim [--jobs N] [--seeds-per-job M] [--time-budget D]}
shift
jobs=$(nproc 2>/dev/null || echo 2)
seeds=1000000
budget=10m
while [ $# -gt 0 ]; do
  case "$1" in
    --jobs) jobs=$2; shift 2 ;;
    --seeds-per-job) seeds=$2; shift 2 ;;
    --time-budget) budget=$2; shift 2 ;;
    *) echo "soak.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
base_text=${CMCL_SIM_SEED:-1}
if [[ "$base_text" =~ ^[0-9a-fA-F]{40}$ ]]; then
  base=$(( 16#${base_text:28:12} ))  # 48 bits of the commit: room for the ranges above.
else
  base=$base_text
fi
# Ranges 2^32 apart never overlap for any realistic number of seeds per job.
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
start=$(date +%s)
pids=()
for ((k = 0; k < jobs; k++)); do
  first=$(( base + k * (1 << 32) ))
  mode=()
  (( k % 2 == 1 )) && mode=(--swarm)
  "$sim" --seeds "$seeds" --first-seed "$first" --time-budget "$budget" "${mode[@]}" \
    > "$out/job$k.log" 2>&1 &
  pids+=($!)
done
failed=0
for ((k = 0; k < jobs; k++)); do
  if ! wait "${pids[$k]}"; then
    failed=1
    echo "== soak job $k failed; its report:"
    grep -v '^seed=[0-9]* ok ' "$out/job$k.log" | tail -n 200
  fi
done
total_seeds=0
total_events=0
for ((k = 0; k < jobs; k++)); do
  summary=$(grep '^ran ' "$out/job$k.log" || true)
  echo "job $k: ${summary:-no summary}"
  if [[ "$summary" =~ ^ran\ ([0-9]+)\ seeds\ \(([0-9]+)\ events\) ]]; then
    total_seeds=$(( total_seeds + BASH_REMATCH[1] ))
    total_events=$(( total_events + BASH_REMATCH[2] ))
  fi
done
elapsed=$(( $(date +%s) - start ))
(( elapsed > 0 )) || elapsed=1
echo "soak: $total_seeds seeds clean, $total_events events, ${elapsed}s wall, $jobs processes:" \
     "$(( total_seeds / elapsed )) seeds/s, $(( total_events / elapsed )) events/s"
exit $failed
