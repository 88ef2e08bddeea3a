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
// Leases (DESIGN.md section 4, lease.h): a leader numbers its heartbeat rounds and every
// AppendRequest and InstallSnapshot carries the current round; every AppendResponse
// echoes the round it answers and carries the follower's nonce (F1), and so does a
// granted vote. A leader sends
// LeaseGrant for each nonce a majority round confirmed (L2).
//
// Forwarding: a node's own commands (reports, operator requests arriving at a follower)
// travel to the leader as ForwardRequest; the leader answers with ForwardReply once the
// command is applied (or refused), so a command is never lost silently.
//
// Add fields with defaults and new variant members; nothing switches on the variant
// index.
//
// Snapshots (thesis 5.1) travel as one InstallSnapshot message (state <= 8 MiB); the
// follower answers with an AppendResponse whose match_index is the snapshot's
// last_index, sent once the snapshot is durable, so the leader needs no new reply type.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "cmcld/core/common/names.h"
#include "cmcld/core/raft/lease.h"
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
  // Thesis 3.10: the candidate campaigns because its leader sent it TimeoutNow. Voters
  // grant such a vote despite stickiness; the leader it makes takes no stickiness
  // credit (DESIGN.md section 4, N2).
  bool transfer = false;
};

// Paper figure 2, RequestVote RPC results. A granted PreVote echoes the request's term.
// A granted vote (not PreVote) carries the voter's nonce (F1): the new leader notes it
// before its first round, so the majority answering that round confirms it and the
// voter's lease continues without waiting for a second round (lease.h, point 3: the
// round is sent after the nonce arrived, as for any nonce).
struct VoteResponse {
  VoteKind kind = VoteKind::kVote;
  bool granted = false;
  NodeId voter_node_id;
  Nonce nonce;  // seq 0: none (refusals, PreVotes, and senders of older versions).
};

// Paper figure 2, AppendEntries RPC arguments. Empty `entries` is a heartbeat.
struct AppendRequest {
  LogIndex prev_log_index;
  Term prev_log_term;
  std::vector<Entry> entries;
  LogIndex leader_commit;
  uint64_t round = 0;  // The leader's current heartbeat round (L1).
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
  uint64_t round = 0;  // The round of the request this answers (0: a refusal).
  Nonce nonce;         // F1: issued for this reply (seq 0 on refusals of stale leaders).
};

// Thesis figure 5.3, InstallSnapshot RPC, in one message (no chunking: bounded size).
struct InstallSnapshot {
  Snapshot snapshot;
  uint64_t round = 0;
};

// L2: a grant for one confirmed nonce; header.term is the granting leader's term.
struct LeaseGrant {
  Grant grant;
};

enum class ReplyCode : uint8_t {
  kApplied,         // Committed and applied (at `applied_index`).
  kNotLeader,       // Nothing was appended; try `leader_hint` (kUnavailable: retry).
  kBusy,            // The leader has proposals_pending_max in flight (kUnavailable).
  kUnknownOutcome,  // Leadership was lost with the command in flight; retry it with the
                    // same sequence, it is applied at most once (kAborted).
  kStale,           // A retry of a sequence older than the client's latest applied one:
                    // it took effect before; its index is no longer known.
  kRejected,        // Refused before it reached the log; `detail` says why (kInvalidArgument).
};
std::string_view ReplyCodeName(ReplyCode code);

struct ClientReply {
  ClientId client_id;
  uint64_t sequence = 0;
  ReplyCode code = ReplyCode::kNotLeader;
  LogIndex applied_index;  // kApplied: where the command took effect.
  std::optional<NodeName> leader_hint;
  std::string detail;  // kRejected: what is wrong, for people.
};

// Thesis 3.10, leadership transfer: the leader tells an up-to-date follower to start an
// election at once (no PreVote; its vote requests are marked `transfer`). Only a
// caretaker (an arbitrator elected to bring a member up to date) sends it.
struct TimeoutNow {};

// A command for the leader from another node (its own or its client's).
struct ForwardRequest {
  Command command;
};

// The leader's answer to a ForwardRequest.
struct ForwardReply {
  ClientReply reply;
};

using Body = std::variant<VoteRequest, VoteResponse, AppendRequest, AppendResponse, InstallSnapshot,
                          LeaseGrant, ForwardRequest, ForwardReply, TimeoutNow>;

struct Message {
  Header header;
  Body body;
};

// "VoteRequest", "PreVoteResponse", ...: for traces and logs.
std::string MessageTypeName(const Message& message);

}  // namespace cmcl::raft
