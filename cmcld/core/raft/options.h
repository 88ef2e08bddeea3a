// RaftOptions: everything a Raft node is configured with, each with unit, default and
// trade-off (STYLE.md rule 23), plus the simulator-only Mutations.
#pragma once

#include <cstdint>
#include <vector>

#include "cmcld/core/common/names.h"
#include "cmcld/core/common/time.h"
#include "cmcld/core/config/cluster_config.h"
#include "cmcld/core/raft/lease.h"
#include "cmcld/core/raft/types.h"

namespace cmcl::raft {

struct Voter {
  NodeName name;
  // Arbitrators vote and hold the log; they campaign only as a caretaker (raft.h).
  config::NodeRole role = config::NodeRole::kMember;
};

// Known bugs the simulator can switch on to prove that its checkers bite (DESIGN.md
// section 7, "Mutation tests"). All off by default; only tests/sim sets them.
struct Mutations {
  // Commit an entry of an earlier term by counting replicas (paper figure 8, the bug
  // section 5.4.2 exists to prevent).
  bool commit_previous_term_by_count = false;
  // Leave votedFor out of the persisted hard state: a restarted node may vote twice.
  bool vote_not_persisted = false;
  // Grant votes without the "candidate's log is at least as up-to-date" check (5.4.1).
  bool vote_without_log_check = false;
  // A follower acknowledges an InstallSnapshot before the snapshot is durable.
  bool snapshot_ack_before_persist = false;
  // Compact leaves the client table out of the snapshot: at-most-once is lost on nodes
  // that restore it (thesis 6.3 requires it in the snapshot).
  bool snapshot_without_client_table = false;
};

struct RaftOptions {
  ClusterId cluster_id;
  NodeName self;
  // Every voter, this node included, sorted by name (members and arbitrators). Votes and
  // commitment need a majority of this list. Fixed in v1 (DESIGN.md section 3).
  std::vector<Voter> voters;
  // Each election timeout is drawn uniformly from [min, 2*min) (DESIGN.md section 3;
  // cmcld sets min with node::ElectionTimeoutMin, well below node_timeout, so a new
  // leader grants before the followers' leases run out). Also the stickiness window and
  // the CheckQuorum period. Shorter detects a dead leader sooner but risks needless
  // elections.
  Duration election_timeout_min = std::chrono::seconds(2);
  // CheckQuorum (thesis 6.2): a leader that has not heard from a majority for this long
  // steps down; so does one whose disk has not completed a write for this long. Not a
  // safety matter (a leader's own lease comes from majority rounds only, L2), so it is
  // long: node_timeout in cmcld. Zero means election_timeout_min.
  Duration check_quorum_period = Duration(0);
  // Leader heartbeat period. Must be well below election_timeout_min (config check
  // requires <= node_timeout/5) or followers campaign against a live leader.
  Duration heartbeat_interval = std::chrono::milliseconds(200);
  // Bound on entries per AppendRequest; larger catches up faster, costs bigger messages.
  uint64_t entries_per_message_max = 64;
  // Bound on client commands waiting to commit at the leader; beyond it Propose is
  // refused (ReplyCode::kBusy) rather than growing memory without limit.
  uint64_t proposals_pending_max = 1024;
  // Compact keeps this many entries behind the snapshot, so a follower that lags by
  // less still catches up by AppendRequest instead of a whole InstallSnapshot. More
  // costs memory and disk; fewer sends snapshots sooner.
  uint64_t compact_keep_entries = 8;
  // DESIGN.md section 4: the bound on clock rate error, rho, in parts per million
  // (clock_drift_max; 0.1% = 1000). Every wait for another node's lease is stretched by
  // it; larger is safer against bad clocks and makes failover slower by 2*rho*L.
  int64_t clock_drift_max_ppm = 1000;
  // What grants carry until the state machine says otherwise (SetLeaseTerms): the lease
  // length L = node_timeout.
  Duration lease_length = std::chrono::seconds(2);
  Mutations mutations;
  LeaseMutations lease_mutations;
};

}  // namespace cmcl::raft
