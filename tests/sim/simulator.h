// Simulator: one deterministic run of N unmodified raft::Raft cores (STYLE.md rules
// 30-35; TigerBeetle's VOPR).
//
// A single-threaded event queue keyed by (virtual time, sequence number) drives
// everything: message deliveries from SimNetwork, node timers (each node's NextWakeup),
// disk completions, crashes and restarts, partition changes and client commands. Each
// Actions batch is executed in the order actions.h prescribes: the persist is submitted
// to the node's SimDisk (a byte file of checksummed records, synced after a delay, in
// order; a crash loses what is not synced and may leave a torn tail, which the core's
// storage recovery truncates at restart), then sends, a snapshot restore, applies and
// replies. Nodes compact every compact_every applied entries (from the seed), so lagging
// and restarted nodes catch up by InstallSnapshot. The StateChecker runs after every event.
//
// A run is a safety phase with faults, then a liveness phase: every partition heals,
// loss and duplication stop, crashed nodes restart, and within liveness_bound there
// must be a leader that has acknowledged a new client command and applied everything
// acknowledged so far. The run records a trace (one fixed-column line per event,
// stamped with virtual time) and its FNV-1a hash; the hash is a function of the seed
// and options only.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "tests/sim/sim_options.h"

namespace cmcl::sim {

struct RunResult {
  std::optional<std::string> violation;
  uint64_t trace_hash = 0;
  uint64_t events = 0;
  int64_t simulated_ms = 0;
  uint64_t acknowledged = 0;
  std::optional<int64_t> leader_after_heal_ms;
};

// Runs one seed. `trace`, if set, receives every trace line as it is produced.
RunResult RunSimulation(const SimOptions& options,
                        const std::function<void(const std::string&)>& trace);

}  // namespace cmcl::sim
