#include "tests/sim/state_checker.h"

#include <sstream>

namespace cmcl::sim {
namespace {

uint64_t Mix(uint64_t hash, uint64_t value) {
  hash ^= value + 0x9e3779b97f4a7c15ULL + (hash << 6) + (hash >> 2);
  return hash * 0x100000001b3ULL;
}

using node::HashEntry;
using node::NextDigest;

std::string Describe(const raft::Entry& entry) {
  std::ostringstream out;
  out << entry;
  return out.str();
}

}  // namespace

void StateChecker::Fail(std::string text) {
  if (!violation_) {
    violation_ = std::move(text);
  }
}

void StateChecker::OnProtocolViolations(const NodeName& node, uint64_t count) {
  if (count > 0) {
    Fail("protocol: " + node.value() + " dropped " + std::to_string(count) +
         " message(s) that broke the Raft protocol (two leaders in a term, a match past the "
         "leader's log, or a rewrite of a committed entry)");
  }
}

void StateChecker::OnTicked(const NodeName& node, Time now, Time next) {
  int& busy = busy_ticks_[node];
  busy = next <= now ? busy + 1 : 0;
  if (busy >= kBusyTicks) {
    Fail("busy loop: " + node.value() + " ticked " + std::to_string(busy) +
         " times in a row, each asking to be woken again at once (the last at " +
         std::to_string(now.milliseconds()) + " ms for " + std::to_string(next.milliseconds()) +
         " ms)");
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
  Chain& chain = chains_[node];
  if (from <= chain.base) {
    return;  // Below the snapshot: only OnLogReset moves the base.
  }
  chain.links.resize(std::min<size_t>(chain.links.size(), (from - chain.base.value()).value() - 1));
  Extend(node, chain, log);
}

void StateChecker::OnLogReset(const NodeName& node, raft::LogIndex index, raft::Term term,
                              const std::vector<raft::Entry>& log) {
  Chain chain;
  chain.base = index;
  if (index > raft::LogIndex(0)) {
    const auto it = chain_at_.find({index.value(), term.value()});
    if (it == chain_at_.end()) {
      Fail("log matching: " + node.value() + " starts after a snapshot at " +
           std::to_string(index.value()) + "@" + std::to_string(term.value()) +
           " that no log ever held");
      return;
    }
    chain.base_link = it->second;
  }
  Extend(node, chain, log);
  chains_[node] = std::move(chain);
}

void StateChecker::Extend(const NodeName& node, Chain& chain, const std::vector<raft::Entry>& log) {
  for (const raft::Entry& entry : log) {
    if (entry.index <= chain.last()) {
      continue;
    }
    if (entry.index != chain.last() + 1) {
      Fail("log matching: " + node.value() + "'s log jumps to " + Describe(entry) + " after " +
           std::to_string(chain.last().value()));
      return;
    }
    const uint64_t link = Mix(chain.LinkAt(chain.last()), HashEntry(entry));
    chain.links.push_back(link);
    auto [it, inserted] = chain_at_.try_emplace({entry.index.value(), entry.term.value()}, link);
    if (!inserted && it->second != link) {
      Fail("log matching: " + node.value() + " holds " + Describe(entry) +
           " but its log up to there differs from another log with the same entry");
    }
  }
}

void StateChecker::CheckSnapshot(const NodeName& node, const raft::Snapshot& snapshot) {
  ++snapshots_checked_;
  const std::string what =
      node.value() + "'s snapshot at " + std::to_string(snapshot.last_index.value());
  const std::optional<node::ClusterState> state =
      node::ClusterState::Decode(snapshot.state, state_options_);
  if (!state || state->applied() != snapshot.last_index) {
    Fail("snapshot: " + what + " does not hold the cluster state at that index");
    return;
  }
  const auto digest = applied_digest_.find(snapshot.last_index.value());
  if (digest == applied_digest_.end() || digest->second != state->digest()) {
    Fail("snapshot: " + what + " differs from the entries applied up to there" +
         (digest == applied_digest_.end() ? " (never applied anywhere)" : ""));
    return;
  }
  // Complete: every client that executed a command up to the snapshot has its last one.
  std::map<uint64_t, uint64_t> last_sequence;  // client -> sequence
  for (const auto& [key, index] : executed_) {
    if (index <= snapshot.last_index) {
      uint64_t& sequence = last_sequence[key.first];
      sequence = std::max(sequence, key.second);
    }
  }
  std::map<uint64_t, uint64_t> in_snapshot;
  for (const raft::ClientSession& session : snapshot.clients) {
    in_snapshot[session.client_id.value()] = session.sequence;
  }
  if (in_snapshot != last_sequence) {
    Fail("snapshot: " + what + " has a client table of " + std::to_string(in_snapshot.size()) +
         " clients that differs from the commands executed up to there (" +
         std::to_string(last_sequence.size()) + " clients)");
    return;
  }
  for (const raft::ClientSession& session : snapshot.clients) {
    const auto executed = executed_.find({session.client_id.value(), session.sequence});
    if (session.index > snapshot.last_index || executed == executed_.end() ||
        executed->second != session.index) {
      Fail("snapshot: " + what + " says c" + std::to_string(session.client_id.value()) + "." +
           std::to_string(session.sequence) + " executed at " +
           std::to_string(session.index.value()) + ", which it was not");
      return;
    }
  }
}

void StateChecker::OnRestore(const NodeName& node, const raft::Snapshot& snapshot) {
  CheckSnapshot(node, snapshot);
  raft::LogIndex& applied = applied_[node];
  if (snapshot.last_index < applied) {
    Fail("apply order: " + node.value() + " restored a snapshot at " +
         std::to_string(snapshot.last_index.value()) + " after applying up to " +
         std::to_string(applied.value()));
  }
  applied = snapshot.last_index;
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
  if (inserted) {
    const auto previous = applied_digest_.find(entry.index.value() - 1);
    if (entry.index == raft::LogIndex(1) || previous != applied_digest_.end()) {
      applied_digest_[entry.index.value()] =
          NextDigest(entry.index == raft::LogIndex(1) ? 0 : previous->second, entry);
    }
  }
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
  const raft::LogIndex disk_last =
      !disk.entries.empty() ? disk.entries.back().index
                            : (disk.snapshot ? disk.snapshot->last_index : raft::LogIndex(0));
  if (disk.hard_state.term < message.header.term || disk_last < append->match_index) {
    Fail("persistence contract: " + node.value() + " acknowledged index " +
         std::to_string(append->match_index.value()) + " before it was durable");
  }
}

}  // namespace cmcl::sim
