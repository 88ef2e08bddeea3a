// Actions: the batch of effects a Raft call returns, and the order the driver executes
// them in (STYLE.md rule 4; etcd's Ready).
//
// Order rule, per batch:
//   1. persist: submit it to storage. Storage applies persists in submission order and
//      reports PersistCompleted(id) once this and every earlier persist is durable
//      (fsync'ed). A crash loses any persist not yet reported.
//   2. sends: may go out at once. The core never puts into a batch a message that needs
//      non-durable state: vote requests and vote grants (which need the term and vote
//      durable) and all vote and append responses (which acknowledge the term and
//      entries) are held inside the core until PersistCompleted covers every persist
//      emitted before them, and leave in the batch that PersistCompleted returns. So
//      "term, vote and entries are durable before they are acknowledged" (DESIGN.md
//      section 3) holds however long the disk takes. Leader AppendRequests and PreVote
//      traffic do not wait: a leader replicates while it writes (thesis 10.2.1) and
//      counts its own log towards commitment only once durable.
//   3. restore, then applies: `restore` replaces the state machine with a snapshot
//      received from the leader (its bytes and last_index); then committed entries in
//      index order. Entries are only applied once committed and durable locally; a
//      restore at once (everything in it is committed, and durable on a majority),
//      while this batch's persist makes it durable here before it is acknowledged.
//   4. replies: client replies, after the applies they report on.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "cmcld/core/raft/messages.h"
#include "cmcld/core/raft/types.h"

namespace cmcl::raft {

// What a node must find again after a restart: identity (DESIGN.md section 3, the
// state_dir holds cluster_id and node_id), currentTerm and votedFor (paper figure 2).
struct HardState {
  ClusterId cluster_id;
  NodeId node_id;
  Term term;
  std::optional<NodeName> voted_for;

  friend bool operator==(const HardState&, const HardState&) = default;
};

// One durable write, applied in this order (ApplyPersist below):
//  * snapshot: replace the stored snapshot, then drop every stored entry with index
//    below `log_first` (compaction keeps a few entries behind the snapshot);
//  * log: "drop every entry from `log_from` on, then append `entries`" (entries[0].index
//    == log_from; no entries is a plain truncation); absent when the log did not change;
//  * the hard state is always written whole.
struct Persist {
  uint64_t id = 0;  // 1, 2, 3 ... per Raft object; PersistCompleted names one.
  HardState hard_state;
  std::optional<Snapshot> snapshot;
  LogIndex log_first;  // With `snapshot` only.
  std::optional<LogIndex> log_from;
  std::vector<Entry> entries;
};

// Everything persisted, as storage hands it back to a restarting node. The entries are
// contiguous; without a snapshot they start at index 1, with one they start at or below
// snapshot->last_index + 1 and end at or above snapshot->last_index. A restarting driver
// restores its state machine from `snapshot` (if any) before it builds the Raft object,
// which then resumes applying at snapshot->last_index + 1.
struct PersistedState {
  HardState hard_state;
  std::optional<Snapshot> snapshot;
  std::vector<Entry> entries;
};

// What storage does with a persist: the state after `persist` is applied to `state`.
// io/storage, the simulator's disk and the unit tests' disk share it.
void ApplyPersist(const Persist& persist, PersistedState& state);

struct ApplyEntry {
  Entry entry;
  // A command whose (client_id, sequence) was already applied at an earlier index: the
  // state machine must skip it (at-most-once, thesis 6.3). Always false for no-ops.
  bool duplicate = false;
};

struct Actions {
  std::optional<Persist> persist;
  std::vector<Message> sends;
  std::optional<Snapshot> restore;
  std::vector<ApplyEntry> applies;
  std::vector<ClientReply> replies;

  bool empty() const {
    return !persist && sends.empty() && !restore && applies.empty() && replies.empty();
  }
};

}  // namespace cmcl::raft
