#include "cmcld/core/node/peer_input.h"

#include <variant>

namespace cmcl::node {
namespace {

template <typename... Fs>
struct Overloaded : Fs... {
  using Fs::operator()...;
};
template <typename... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

bool TooLarge(uint64_t value) { return value >= kPeerNumberMax; }

std::optional<std::string> AppendProblem(const raft::AppendRequest& request, raft::Term term) {
  if (TooLarge(request.prev_log_index.value()) || TooLarge(request.prev_log_term.value()) ||
      TooLarge(request.leader_commit.value())) {
    return "an index or term beyond 2^62";
  }
  raft::Term last_term = request.prev_log_term;
  for (size_t i = 0; i < request.entries.size(); ++i) {
    const raft::Entry& entry = request.entries[i];
    if (entry.index.value() != request.prev_log_index.value() + 1 + i) {
      return "entry " + std::to_string(i) + " has index " + std::to_string(entry.index.value()) +
             " after prev_log_index " + std::to_string(request.prev_log_index.value());
    }
    if (entry.term < last_term || entry.term > term) {
      return "entry " + std::to_string(entry.index.value()) + " has term " +
             std::to_string(entry.term.value()) + " out of order";
    }
    last_term = entry.term;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> PeerMessageProblem(const raft::Message& message,
                                              const ClusterState::Options& state_options) {
  const raft::Term term = message.header.term;
  if (TooLarge(term.value())) return "a term beyond 2^62";
  return std::visit(
      Overloaded{
          [&](const raft::VoteRequest& m) -> std::optional<std::string> {
            if (TooLarge(m.last_log_index.value()) || m.last_log_term > term) {
              return "a vote request with a log beyond its term or 2^62";
            }
            return std::nullopt;
          },
          [&](const raft::AppendRequest& m) { return AppendProblem(m, term); },
          [&](const raft::AppendResponse& m) -> std::optional<std::string> {
            if (TooLarge(m.match_index.value()) || TooLarge(m.rejected_index.value()) ||
                TooLarge(m.last_index.value())) {
              return "an index beyond 2^62";
            }
            return std::nullopt;
          },
          [&](const raft::InstallSnapshot& m) -> std::optional<std::string> {
            if (TooLarge(m.snapshot.last_index.value()) || m.snapshot.last_term > term) {
              return "a snapshot beyond its term or 2^62";
            }
            if (!ClusterState::Decode(m.snapshot.state, state_options)) {
              return "a snapshot whose state is not a cluster state";
            }
            return std::nullopt;
          },
          [&](const raft::LeaseGrant& m) -> std::optional<std::string> {
            if (m.grant.lease < Duration(0) || m.grant.lease > kLeaseMax ||
                TooLarge(m.grant.min_applied.value())) {
              return "a lease grant of " + std::to_string(m.grant.lease.count()) + "ms";
            }
            return std::nullopt;
          },
          [&](const raft::ForwardReply& m) -> std::optional<std::string> {
            if (TooLarge(m.reply.applied_index.value())) return "an index beyond 2^62";
            return std::nullopt;
          },
          [](const auto&) -> std::optional<std::string> { return std::nullopt; },
      },
      message.body);
}

}  // namespace cmcl::node
