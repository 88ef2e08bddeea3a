// SimOptions: everything one simulated run is made of, derived from its seed (STYLE.md
// rules 31 and 33).
//
// One uint64 seed picks every option through a forked stream, so a run is replayed by
// its seed (and the flags that override options: --nodes, --swarm, --mutation). Without
// --swarm the fault rates are fixed, moderate defaults and only the node count (unless
// given) comes from the seed; with --swarm the seed also picks loss, duplication, delay,
// partition and crash rates, some of them zero, so that rare combinations get explored.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "cmcld/core/common/time.h"
#include "cmcld/core/raft/options.h"

namespace cmcl::sim {

struct SimOptions {
  uint64_t seed = 0;
  // Members; with two members an arbitrator is added (DESIGN.md section 3).
  int members = 3;
  bool arbitrator = false;

  Duration node_timeout = Duration(1000);  // = election_timeout_min.
  Duration heartbeat_interval = Duration(100);

  // Network, per message.
  Duration delay_min = Duration(1);
  Duration delay_max = Duration(40);
  double loss = 0.02;
  double duplication = 0.02;
  // A message held far beyond node_timeout (up to 3 x node_timeout).
  double delay_far = 0.002;
  // Partitions: a new partition (or a heal) every [partition_interval_min, 2x).
  bool partitions = true;
  Duration partition_interval_min = Duration(800);

  // Crashes: each node crashes after an exponential-ish wait of mean crash_interval_mean
  // and stays down for [downtime_min, downtime_max].
  bool crashes = true;
  Duration crash_interval_mean = Duration(5000);
  Duration downtime_min = Duration(50);
  Duration downtime_max = Duration(4000);
  // Bound on entries per AppendRequest, from the seed: small batches make a leader
  // replicate old entries before its own no-op, the window figure 8 is about.
  uint64_t entries_per_message_max = 64;
  // Disk: a persist becomes durable after [1, disk_latency_max].
  Duration disk_latency_max = Duration(15);
  // Snapshots: a node compacts once it applied compact_every entries past its snapshot
  // (0: never), keeping compact_keep_entries behind it. From the seed (own stream).
  uint64_t compact_every = 0;
  uint64_t compact_keep_entries = 8;

  // Workload: clients each with at most one command outstanding.
  int clients = 6;
  Duration client_think_max = Duration(300);
  Duration client_retry_timeout = Duration(1500);

  // Safety phase length, then the liveness phase: heal everything and require a leader
  // and a newly acknowledged command within liveness_bound. The bound: messages held
  // far drain within 3 x node_timeout; a restarted node refuses votes for node_timeout;
  // a stale leader steps down within node_timeout (CheckQuorum); then each election
  // round takes one randomized timeout in [1, 2) x node_timeout, and split PreVotes
  // repeat with probability well below 1/2. 15 x node_timeout leaves room for several
  // split rounds; over 4000 seeds the leader came within 3.2 s (median 0.4-1.1 s).
  Duration fault_phase = Duration(30'000);
  Duration liveness_bound = Duration(15'000);

  raft::Mutations mutations;
  std::string mutation_name;  // Empty for none.
  bool swarm = false;
};

// `members_override`: 2, 3, 5 or 7 (2 means two members plus an arbitrator).
SimOptions OptionsFromSeed(uint64_t seed, std::optional<int> members_override, bool swarm);

// The first line of a run: "seed=... nodes=..." and every derived option.
std::string DescribeOptions(const SimOptions& options);

// Mutations by name (raft::Mutations); false for an unknown name.
bool SetMutation(const std::string& name, raft::Mutations& mutations);
const std::vector<std::string>& MutationNames();

}  // namespace cmcl::sim
