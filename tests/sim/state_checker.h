// StateChecker: the safety properties every simulated step must keep (DESIGN.md section
// 7; TigerBeetle's state_checker). It reads what the simulator observed (roles, logs,
// applies, replies, what each disk holds) and records the first violation.
//
//  * Election safety (paper figure 3): at most one leader per term.
//  * Log matching: two logs with an entry of the same index and term are identical up to
//    it. Checked incrementally with a hash chain per log, keyed by (index, term). A log
//    that starts at a snapshot continues the chain that ended at the snapshot's last
//    entry in the logs that held it.
//  * Snapshots: every snapshot taken, installed or read back from disk holds exactly
//    the state of the entries applied cluster-wide up to its index (the digest of the
//    applied sequence, node::NextDigest, read from the node::ClusterState the snapshot
//    decodes to) and a dedup table that agrees with where each
//    command was executed; a restore moves the node's applied index to it.
//  * State machine safety: no two nodes apply different entries at one index; applies
//    come in index order from 1.
//  * At most once: a (client_id, sequence) is executed (applied, not as a duplicate) at
//    one index only.
//  * No acknowledged command lost: a kApplied reply names the index where the command
//    was executed, and that index must hold that command for every node that applies it.
//  * Commitment safety (what figure 8 is about): when a leader advances its commit index
//    to c, no node whose log lacks the entry at c may be able to collect a majority of
//    votes by the up-to-date rule (5.4.1) from the logs that exist right now (memory for
//    running nodes, disk for crashed ones). In correct Raft every committed entry is in
//    every log that can win, so this never fires; it flags a premature commit at once,
//    before an unlucky schedule has to turn it into a lost entry.
//  * Persistence contract: a vote grant and an append acknowledgement leave a node only
//    when its disk already holds the vote and the acknowledged entries.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cmcld/core/node/cluster_state.h"
#include "cmcld/core/raft/raft.h"

namespace cmcl::sim {

class StateChecker {
 public:
  // The options snapshots' ClusterStates are decoded with.
  void SetStateOptions(const node::ClusterState::Options& options) { state_options_ = options; }
  void OnRole(const NodeName& node, raft::Role role, raft::Term term);
  // The node's log changed from index `from` on (a persist with log_from), or was
  // reloaded after a restart (from = 1).
  // `log` is the retained log (raft::Raft::log()), which covers index `from` on.
  void OnLogChanged(const NodeName& node, const std::vector<raft::Entry>& log, raft::LogIndex from);
  // The node's log now starts after a snapshot at (index, term) (0, 0 for none): after a
  // restart or an installed snapshot.
  void OnLogReset(const NodeName& node, raft::LogIndex index, raft::Term term,
                  const std::vector<raft::Entry>& log);
  void OnRestart(const NodeName& node);
  void CheckSnapshot(const NodeName& node, const raft::Snapshot& snapshot);
  // The node's state machine was replaced by `snapshot`.
  void OnRestore(const NodeName& node, const raft::Snapshot& snapshot);
  // What a node's log looks like to the commitment check.
  struct LogView {
    NodeName node;
    raft::LogIndex last_index;
    raft::Term last_term;
    std::optional<raft::Term> term_at_commit;  // Term of its entry at the commit index.
  };
  void OnCommit(const NodeName& leader, raft::LogIndex commit, raft::Term term,
                const std::vector<LogView>& logs);
  void OnApply(const NodeName& node, const raft::ApplyEntry& apply);
  void OnReply(const raft::ClientReply& reply);
  void OnSend(const NodeName& node, const raft::Message& message, const raft::PersistedState& disk);
  // Raft counts, and drops, messages no correct peer sends (Raft::protocol_violations():
  // two leaders in a term, a match past the leader's log, a rewrite of a committed
  // entry). They were assertions before the fuzzing work; every simulated peer is
  // correct, so any count is a Raft bug.
  void OnProtocolViolations(const NodeName& node, uint64_t count);
  // After a Tick at local time `now`: the core's next wakeup. One at or before `now` asks
  // for another tick at once, which is right when that tick has something to do (a
  // guest that came in this tick and must be fenced); kBusyTicks of them in a row are a
  // busy loop, which in cmcld is its io thread re-arming a timer that is already due, at
  // real-time priority. The simulator's queue would hide it (it runs such a wakeup 1 ms
  // later), so it is checked here.
  void OnTicked(const NodeName& node, Time now, Time next);
  static constexpr int kBusyTicks = 10;
  uint64_t snapshots_checked() const { return snapshots_checked_; }

  const std::optional<std::string>& violation() const { return violation_; }
  raft::LogIndex acked_index_max() const { return acked_index_max_; }
  uint64_t acks() const { return acks_; }

 private:
  void Fail(std::string text);
  std::map<NodeName, int> busy_ticks_;  // Ticks in a row that asked for another at once.
  struct Chain {
    raft::LogIndex base;     // The chain covers base+1 .. base+links.size().
    uint64_t base_link = 0;  // The link at base (0 for index 0).
    std::vector<uint64_t> links;
    raft::LogIndex last() const { return base + links.size(); }
    uint64_t LinkAt(raft::LogIndex index) const {
      return index == base ? base_link : links[(index - base.value()).value() - 1];
    }
  };
  void Extend(const NodeName& node, Chain& chain, const std::vector<raft::Entry>& log);

  std::optional<std::string> violation_;
  node::ClusterState::Options state_options_;
  std::map<raft::Term, NodeName> leaders_;
  std::map<NodeName, Chain> chains_;
  std::map<uint64_t, uint64_t> applied_digest_;  // index -> digest of entries 1..index
  std::map<std::pair<uint64_t, uint64_t>, uint64_t> chain_at_;  // (index, term) -> chain
  std::map<NodeName, raft::LogIndex> applied_;
  std::map<raft::LogIndex, raft::Entry> applied_entries_;
  std::map<std::pair<uint64_t, uint64_t>, raft::LogIndex> executed_;  // (client, seq)
  raft::LogIndex acked_index_max_;
  uint64_t acks_ = 0;
  uint64_t snapshots_checked_ = 0;
};

}  // namespace cmcl::sim
