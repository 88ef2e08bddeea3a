// Raft value types: terms, log indices, identities and log entries (DESIGN.md section 3).
//
// Term and LogIndex are strong types (STYLE.md rule 20) with just the arithmetic Raft
// needs. Index 0 is "before the first entry"; the first real entry has index 1 and the
// term of index 0 is 0, as in the Raft paper (figure 2). ClusterId is the hash that every
// peer message carries; NodeId is random per state_dir and travels in votes and
// acknowledgements, so a wiped state_dir is recognisable (DESIGN.md section 3).
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "cmcld/core/common/names.h"
#include "cmcld/core/common/strong_value.h"

namespace cmcl::raft {

struct TermTag {};
struct LogIndexTag {};
struct ClusterIdTag {};
struct NodeIdTag {};
struct ClientIdTag {};
using Term = StrongValue<TermTag, uint64_t>;
using LogIndex = StrongValue<LogIndexTag, uint64_t>;
using ClusterId = StrongValue<ClusterIdTag, uint64_t>;
using NodeId = StrongValue<NodeIdTag, uint64_t>;
using ClientId = StrongValue<ClientIdTag, uint64_t>;

inline Term NextTerm(Term term) { return Term(term.value() + 1); }
inline LogIndex operator+(LogIndex index, uint64_t count) {
  return LogIndex(index.value() + count);
}
// REQUIRES: count <= index.
inline LogIndex operator-(LogIndex index, uint64_t count) {
  return LogIndex(index.value() - count);
}

// A client command: an opaque payload plus (client_id, sequence), which makes a retried
// command recognisable. A client numbers its commands 1, 2, 3 ... and has at most one
// outstanding, so the applied state keeps only the last sequence per client (Raft
// thesis section 6.3).
//
// `revokes` names the nodes from which this command takes a resource they did not
// release (DESIGN.md section 4, L3): no leader confirms a lease nonce of theirs while the
// entry is uncommitted. Sorted, unique.
struct Command {
  ClientId client_id;
  uint64_t sequence = 0;
  std::string payload;
  std::vector<NodeName> revokes;

  friend bool operator==(const Command&, const Command&) = default;
};

enum class EntryKind : uint8_t {
  kNoop,     // Appended by every new leader so that it can commit in its term (paper 8).
  kCommand,  // A client command.
};

struct Entry {
  Term term;
  LogIndex index;
  EntryKind kind = EntryKind::kNoop;
  Command command;  // Meaningful only for kCommand.

  friend bool operator==(const Entry&, const Entry&) = default;
};

std::ostream& operator<<(std::ostream& out, const Entry& entry);

// The apply layer's at-most-once memory for one client (thesis 6.3): its last applied
// sequence and the index where that command took effect.
struct ClientSession {
  ClientId client_id;
  uint64_t sequence = 0;
  LogIndex index;

  friend bool operator==(const ClientSession&, const ClientSession&) = default;
};

// The applied state through `last_index` (thesis chapter 5): what replaces the log
// prefix up to it. `state` is the application's bytes (opaque to the core); `clients`
// is the core's dedup table at that point, so at-most-once survives compaction.
struct Snapshot {
  LogIndex last_index;
  Term last_term;
  std::vector<ClientSession> clients;  // Sorted by client_id.
  std::string state;

  friend bool operator==(const Snapshot&, const Snapshot&) = default;
};

// Bound on Snapshot::state (DESIGN.md section 8: bundle bytes in snapshots are at most
// 8 MiB), so a snapshot always travels as one InstallSnapshot message.
inline constexpr uint64_t kSnapshotStateBytesMax = 8ULL << 20;

}  // namespace cmcl::raft
