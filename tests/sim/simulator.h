// Simulator: one deterministic run of N unmodified raft::Raft cores (STYLE.md rules
// 30-35; TigerBeetle's VOPR).
//
// A single-threaded event queue keyed by (true simulated time, sequence number) drives
// everything: message deliveries from SimNetwork, node timers (each node's NextWakeup,
// read on the node's own SimClock and converted back to true time), disk completions,
// the nemeses' actions (nemesis.h) and client commands. A node's core is always given
// its own clock's reading as `now`. Each Actions batch is executed in the order
// actions.h prescribes: the persist is submitted to the node's SimDisk (a byte file of
// checksummed records, synced after a delay, in order; a crash loses what is not synced
// and may leave a torn tail, which the core's storage recovery truncates at restart),
// then sends, a snapshot restore, applies and replies. Nodes compact every
// compact_every applied entries (from the seed), so lagging and restarted nodes catch
// up by InstallSnapshot. The StateChecker runs after every event.
//
// A run is a safety phase with the seed's nemeses, then a liveness phase: every nemesis
// heals, loss and duplication stop, and the seed may leave a minority of voters
// crashed, paused or isolated for good (a core that can still elect a leader stays).
// Within liveness_bound (plus the time a lagging core member needs to catch up, see
// CatchUpAllowance) there must be a leader that has acknowledged a new client command
// and applied everything acknowledged so far. The run records a trace (trace.h) and its
// FNV-1a hash; the hash is a function of the seed and options only.
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
  uint64_t displacements = 0;  // Releases with CMCL_REASON=displaced (package checker (e)).
};

// Runs one seed. `trace`, if set, receives every trace line as it is produced.
RunResult RunSimulation(const SimOptions& options,
                        const std::function<void(const std::string&)>& trace);

}  // namespace cmcl::sim
