#include "tests/sim/state_checker.h"

#include <sstream>

namespace cmcl::sim {
namespace {

uint64_t Mix(uint64_t hash, uint64_t value) {
  hash ^= value + 0x9e3779b97f4a7c15ULL + (hash << 6) + (hash >> 2);
  return hash * 0x100000001b3ULL;
}

std::string Describe(const raft::Entry& entry) {
  std::ostringstream out;
  out << entry;
  return out.str();
}

}  // namespace

uint64_t HashEntry(const raft::Entry& entry) {
  uint64_t hash = Mix(entry.term.value(), entry.index.value());
  hash = Mix(hash, static_cast<uint64_t>(entry.kind));
  hash = Mix(hash, entry.command.client_id.value());
  hash = Mix(hash, entry.command.sequence);
  for (const char c : entry.command.payload) {
    hash = Mix(hash, static_cast<unsigned char>(c));
  }
  return hash;
}

void StateChecker::Fail(std::string text) {
  if (!violation_) {
    violation_ = std::move(text);
  }
}

void StateChecker::OnRole(const NodeName& node, raft::Role role, raft::Term term) {
  if (role != raft::Role::kLeader) {
    return;
  }
  auto [it, inserted] = leaders_.try_emplace(term, node);
  if (!inserted && it->second != node) {
    Fail("election safety: two leaders in term " + std::to_string(term.value()) + ": " +
         it->second.value() + " and " + node.value());
  }
}

void StateChecker::OnLogChanged(const NodeName& node, const std::vector<raft::Entry>& log,
                                raft::LogIndex from) {
  std::vector<uint64_t>& chain = chains_[node];
  chain.resize(std::min<size_t>(chain.size(), from.value() - 1));
  for (size_t i = chain.size(); i < log.size(); ++i) {
    const raft::Entry& entry = log[i];
    const uint64_t link = Mix(chain.empty() ? 0 : chain.back(), HashEntry(entry));
    chain.push_back(link);
    auto [it, inserted] = chain_at_.try_emplace({entry.index.value(), entry.term.value()}, link);
    if (!inserted && it->second != link) {
      Fail("log matching: " + node.value() + " holds " + Describe(entry) +
           " but its log up to there differs from another log with the same entry");
    }
  }
}

void StateChecker::OnRestart(const NodeName& node) {
  chains_.erase(node);
  applied_.erase(node);
}

void StateChecker::OnCommit(const NodeName& leader, raft::LogIndex commit, raft::Term term,
                            const std::vector<LogView>& logs) {
  for (const LogView& candidate : logs) {
    if (candidate.term_at_commit == term) {
      continue;
    }
    size_t votes = 0;
    for (const LogView& voter : logs) {
      // Paper 5.4.1: the voter grants if the candidate's log is at least as up-to-date.
      const bool up_to_date = candidate.last_term != voter.last_term
                                  ? candidate.last_term > voter.last_term
                                  : candidate.last_index >= voter.last_index;
      votes += up_to_date ? 1 : 0;
    }
    if (votes >= logs.size() / 2 + 1) {
      Fail("commitment safety: " + leader.value() + " committed index " +
           std::to_string(commit.value()) + " (term " + std::to_string(term.value()) + ") but " +
           candidate.node.value() + ", whose log lacks it (last " +
           std::to_string(candidate.last_index.value()) + "@" +
           std::to_string(candidate.last_term.value()) + "), can still win an election");
      return;
    }
  }
}

void StateChecker::OnApply(const NodeName& node, const raft::ApplyEntry& apply) {
  const raft::Entry& entry = apply.entry;
  raft::LogIndex& applied = applied_[node];
  if (entry.index != applied + 1) {
    Fail("apply order: " + node.value() + " applied " + Describe(entry) + " after index " +
         std::to_string(applied.value()));
  }
  applied = entry.index;
  auto [it, inserted] = applied_entries_.try_emplace(entry.index, entry);
  if (!inserted && !(it->second == entry)) {
    Fail("state machine safety: " + node.value() + " applied " + Describe(entry) +
         " where another node applied " + Describe(it->second));
  }
  if (entry.kind != raft::EntryKind::kCommand || apply.duplicate) {
    return;
  }
  const std::pair<uint64_t, uint64_t> key{entry.command.client_id.value(), entry.command.sequence};
  auto [executed, first] = executed_.try_emplace(key, entry.index);
  if (!first && executed->second != entry.index) {
    Fail("at most once: " + Describe(entry) + " executed again; first at index " +
         std::to_string(executed->second.value()));
  }
}

void StateChecker::OnReply(const raft::ClientReply& reply) {
  if (reply.code != raft::ReplyCode::kApplied) {
    return;
  }
  ++acks_;
  acked_index_max_ = std::max(acked_index_max_, reply.applied_index);
  const auto it = applied_entries_.find(reply.applied_index);
  if (it == applied_entries_.end() || it->second.command.client_id != reply.client_id ||
      it->second.command.sequence != reply.sequence) {
    Fail("acknowledged command lost: c" + std::to_string(reply.client_id.value()) + "." +
         std::to_string(reply.sequence) + " acknowledged at index " +
         std::to_string(reply.applied_index.value()) + " which holds something else");
  }
}

void StateChecker::OnSend(const NodeName& node, const raft::Message& message,
                          const raft::PersistedState& disk) {
  if (const auto* vote = std::get_if<raft::VoteResponse>(&message.body)) {
    if (vote->kind == raft::VoteKind::kVote && vote->granted &&
        (disk.hard_state.term != message.header.term ||
         disk.hard_state.voted_for != message.header.to)) {
      Fail("persistence contract: " + node.value() + " granted its vote to " +
           message.header.to.value() + " in term " + std::to_string(message.header.term.value()) +
           " before the vote was durable");
    }
    return;
  }
  const auto* append = std::get_if<raft::AppendResponse>(&message.body);
  if (append == nullptr || !append->success) {
    return;
  }
  if (disk.hard_state.term < message.header.term ||
      disk.entries.size() < append->match_index.value()) {
    Fail("persistence contract: " + node.value() + " acknowledged index " +
         std::to_string(append->match_index.value()) + " before it was durable");
  }
}

}  // namespace cmcl::sim
