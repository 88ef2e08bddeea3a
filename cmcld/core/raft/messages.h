// Raft peer messages: plain structs in a std::variant (STYLE.md rule 7).
//
// The wire format lives in io/wire; the core and the simulator pass these structs. Every
// message carries a Header: the sender's cluster_id (a mismatch is dropped and counted,
// DESIGN.md section 3), sender and receiver names, and the sender's current term (paper
// figure 2: "If RPC request or response contains term T > currentTerm: set currentTerm =
// T, convert to follower"). Vote replies and append replies carry the sender's node_id.
//
// PreVote (thesis 9.6) shares the vote structs, told apart by VoteKind: a PreVote request
// carries the term the sender *would* campaign in; neither side changes its term for it.
//
// Extensibility: leases (issue 6) will add a nonce to AppendResponse and grants to
// AppendRequest. Add fields with defaults and new variant members; nothing switches on
// the variant index.
//
// Snapshots (thesis 5.1) travel as one InstallSnapshot message (state <= 8 MiB); the
// follower answers with an AppendResponse whose match_index is the snapshot's
// last_index, sent once the snapshot is durable, so the leader needs no new reply type.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "cmcld/core/common/names.h"
#include "cmcld/core/raft/types.h"

namespace cmcl::raft {

enum class VoteKind : uint8_t { kPreVote, kVote };

struct Header {
  ClusterId cluster_id;
  NodeName from;
  NodeName to;
  Term term;  // The sender's term; for a PreVote request, the term it would campaign in.
};

// Paper figure 2, RequestVote RPC arguments.
struct VoteRequest {
  VoteKind kind = VoteKind::kVote;
  LogIndex last_log_index;
  Term last_log_term;
};

// Paper figure 2, RequestVote RPC results. A granted PreVote echoes the request's term.
struct VoteResponse {
  VoteKind kind = VoteKind::kVote;
  bool granted = false;
  NodeId voter_node_id;
};

// Paper figure 2, AppendEntries RPC arguments. Empty `entries` is a heartbeat.
struct AppendRequest {
  LogIndex prev_log_index;
  Term prev_log_term;
  std::vector<Entry> entries;
  LogIndex leader_commit;
};

// Paper figure 2, AppendEntries RPC results, plus what makes them idempotent under
// duplication and reordering: a success names the highest index known to match
// (durably), a rejection names the prev_log_index it refused and the follower's last
// index as a hint for backing up next_index (paper section 5.3, "optimization").
struct AppendResponse {
  bool success = false;
  LogIndex match_index;     // Success only.
  LogIndex rejected_index;  // Rejection only: the request's prev_log_index.
  LogIndex last_index;      // Rejection only: the follower's last log index.
  NodeId node_id;
};

// Thesis figure 5.3, InstallSnapshot RPC, in one message (no chunking: bounded size).
struct InstallSnapshot {
  Snapshot snapshot;
};

using Body =
    std::variant<VoteRequest, VoteResponse, AppendRequest, AppendResponse, InstallSnapshot>;

struct Message {
  Header header;
  Body body;
};

// "VoteRequest", "PreVoteResponse", ...: for traces and logs.
std::string MessageTypeName(const Message& message);

}  // namespace cmcl::raft
