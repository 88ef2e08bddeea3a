#!/usr/bin/env bash
# Fails, naming the file, line and the replacement, when cmcld/core uses something the
# pure core must not (STYLE.md rule 2): it gets time, randomness and I/O from outside.
set -u
core=${1:?usage: core_is_pure.sh CORE_DIR}
status=0
check() {
  local pattern=$1 instead=$2 hits
  hits=$(grep -rnE --include='*.h' --include='*.cc' "$pattern" "$core" || true)
  if [ -n "$hits" ]; then
    printf '%s\n  -> %s\n' "$hits" "$instead"
    status=1
  fi
}
check '#include *<(thread|mutex|atomic|future|condition_variable|filesystem|fstream)>' \
  'the core owns no threads and does no file I/O: return an action for io/ to perform'
check '#include *[<"](boost/|grpc|google/protobuf|yaml-cpp|spdlog)' \
  'core/ includes only the standard library and core/ headers'
check '(steady_clock|system_clock|high_resolution_clock)::now|[^a-z_]time\(nullptr\)|gettimeofday|clock_gettime' \
  'time comes in as the `now` parameter'
check 'std::random_device|std::rand\(|[^a-z_]rand\(\)|_distribution<' \
  'randomness comes from the cmcl::Rng you were given'
check '[^a-z_]getenv\(|[^a-z_]fopen\(|[^_a-z]throw |[^a-z_]try \{' \
  'no environment, files or exceptions in the core: return a Status'
if [ $status -eq 0 ]; then echo "cmcld/core is pure"; fi
exit $status
