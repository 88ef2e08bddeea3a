// What a node takes from a peer (issue 11, found by tests/fuzz/node_fuzzer.cc): the
// checks on a raft::Message that need no state, made before Raft sees it.
//
// Raft trusts its peers to follow the protocol; a peer that does not (a bug, a corrupt
// disk, a hostile node holding the cluster key) must not stop this node, since a CMCL_CHECK
// in Raft would abort cmcld. PeerMessageProblem says what is wrong with a message that no
// correct peer sends, or nullopt:
//  * a term or log index of 2^62 or more (far beyond any real cluster; an index near
//    2^64 would wrap the log's index arithmetic);
//  * an AppendRequest whose entries are not numbered prev_log_index + 1, + 2, ...,
//    whose terms go down, start below prev_log_term or pass the sender's term;
//  * an entry, vote request or snapshot from a term after the sender's;
//  * a lease grant longer than kLeaseMax;
//  * a snapshot whose state is not a ClusterState (Raft keeps it as opaque bytes; it would
//    fail only once restored, and again at every restart from storage).
// Node::Step drops such a message with a log line naming the sender and the problem.
#pragma once

#include <optional>
#include <string>

#include "cmcld/core/node/cluster_state.h"
#include "cmcld/core/raft/messages.h"

namespace cmcl::node {

inline constexpr uint64_t kPeerNumberMax = uint64_t{1} << 62;
inline constexpr Duration kLeaseMax = std::chrono::hours(24 * 365);

std::optional<std::string> PeerMessageProblem(const raft::Message& message,
                                              const ClusterState::Options& state_options);

}  // namespace cmcl::node
