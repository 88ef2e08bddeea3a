// RaftCluster: a hand-driven, in-memory cluster of cmcl::raft::Raft nodes for unit tests.
//
// Nothing happens on its own: the test advances `now`, ticks nodes, and delivers the
// messages that are in flight (all, or those a filter selects). Persists are written to
// an in-memory disk per node and completed at once unless the test holds them
// (HoldPersists), so the persistence contract can be observed. Restart() rebuilds a
// node from what its disk holds, as a crash would leave it. Deterministic: nodes and
// messages are kept in order.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cmcld/core/common/rng.h"
#include "cmcld/core/raft/raft.h"

namespace cmcl::raft::testing {

inline NodeName Name(const std::string& name) { return NodeName(name); }

inline std::vector<Entry> EntriesWithTerms(const std::vector<uint64_t>& terms) {
  std::vector<Entry> entries;
  for (size_t i = 0; i < terms.size(); ++i) {
    entries.push_back(Entry{
        .term = Term(terms[i]), .index = LogIndex(i + 1), .kind = EntryKind::kNoop, .command = {}});
  }
  return entries;
}

inline std::vector<uint64_t> TermsOf(const std::vector<Entry>& entries) {
  std::vector<uint64_t> terms;
  for (const Entry& entry : entries) {
    terms.push_back(entry.term.value());
  }
  return terms;
}

class RaftCluster {
 public:
  static constexpr ClusterId kClusterId = ClusterId(0xc1c1);

  // Names "n1".."nN"; `arbitrators` lists names among them that are arbitrators.
  explicit RaftCluster(size_t count, std::vector<std::string> arbitrators = {},
                       RaftOptions base = DefaultOptions()) {
    for (size_t i = 1; i <= count; ++i) {
      const std::string name = "n" + std::to_string(i);
      bool arbitrator = false;
      for (const std::string& a : arbitrators) {
        arbitrator = arbitrator || a == name;
      }
      base.voters.push_back(
          Voter{.name = NodeName(name),
                .role = arbitrator ? config::NodeRole::kArbitrator : config::NodeRole::kMember});
    }
    base.cluster_id = kClusterId;
    base_ = base;
    for (const Voter& voter : base.voters) {
      disks_[voter.name] = PersistedState{.hard_state = {.cluster_id = kClusterId,
                                                         .node_id = NodeId(disks_.size() + 100),
                                                         .term = Term(0),
                                                         .voted_for = std::nullopt},
                                          .snapshot = std::nullopt,
                                          .entries = {}};
    }
  }

  static RaftOptions DefaultOptions() {
    RaftOptions options;
    options.election_timeout_min = Duration(1000);
    options.heartbeat_interval = Duration(100);
    return options;
  }

  // Sets what `name` finds on its disk when it (re)starts.
  void SetDisk(const std::string& name, Term term, std::vector<Entry> entries) {
    PersistedState& disk = disks_.at(Name(name));
    disk.hard_state.term = term;
    disk.entries = std::move(entries);
  }

  // Starts every node at `now` from its disk.
  void StartAll() {
    for (const auto& [name, disk] : disks_) {
      Restart(name.value());
    }
  }

  // Crash and restart: volatile state and unreported persists are lost.
  void Restart(const std::string& name) {
    RaftOptions options = base_;
    options.self = Name(name);
    nodes_.erase(Name(name));
    nodes_.emplace(std::piecewise_construct, std::forward_as_tuple(Name(name)),
                   std::forward_as_tuple(options, disks_.at(Name(name)), Rng(seed_++), now));
    unfinished_.erase(Name(name));
  }

  Raft& node(const std::string& name) { return nodes_.at(Name(name)); }
  const PersistedState& disk(const std::string& name) const { return disks_.at(Name(name)); }

  // Persists of `name` stay pending (not durable) until CompletePersists(name).
  void HoldPersists(const std::string& name, bool hold) { held_[Name(name)] = hold; }
  void CompletePersists(const std::string& name) {
    auto it = unfinished_.find(Name(name));
    if (it == unfinished_.end() || it->second.empty()) {
      return;
    }
    const uint64_t up_to = it->second.back().id;
    for (const Persist& persist : it->second) {
      WriteToDisk(Name(name), persist);
    }
    it->second.clear();
    Absorb(Name(name), node(name).PersistCompleted(now, up_to));
  }

  // Every call on a node goes through here so its actions are executed in order.
  void Absorb(const NodeName& name, Actions actions) {
    if (actions.persist) {
      unfinished_[name].push_back(*actions.persist);
    }
    for (Message& message : actions.sends) {
      in_flight.push_back(std::move(message));
    }
    if (actions.restore) {
      restored[name].push_back(*actions.restore);
    }
    for (ApplyEntry& apply : actions.applies) {
      applied[name].push_back(std::move(apply));
    }
    for (ClientReply& reply : actions.replies) {
      replies.push_back(std::move(reply));
    }
    if (actions.persist && !held_[name]) {
      CompletePersists(name.value());
    }
  }

  void Tick(const std::string& name) { Absorb(Name(name), node(name).Tick(now)); }
  void Compact(const std::string& name, std::string state) {
    Absorb(Name(name), node(name).Compact(now, std::move(state)));
  }
  void Propose(const std::string& name, Command command) {
    Absorb(Name(name), node(name).Propose(now, std::move(command)));
  }
  void Forward(const std::string& name, Command command) {
    Absorb(Name(name), node(name).Forward(now, std::move(command)));
  }
  // Advances time to `name`'s next wakeup and ticks it.
  void Fire(const std::string& name) {
    now = std::max(now, node(name).NextWakeup());
    Tick(name);
  }

  // Delivers (in order) every in-flight message for which `accept` is true, dropping the
  // rest; repeats until nothing is in flight. Returns the number delivered.
  size_t Stabilize(const std::function<bool(const Message&)>& accept = nullptr) {
    size_t delivered = 0;
    for (int round = 0; round < 1000 && !in_flight.empty(); ++round) {
      std::vector<Message> batch = std::move(in_flight);
      in_flight.clear();
      for (const Message& message : batch) {
        if ((accept && !accept(message)) || !nodes_.contains(message.header.to)) {
          continue;
        }
        ++delivered;
        Absorb(message.header.to, node(message.header.to.value()).Step(now, message));
      }
    }
    return delivered;
  }

  // Delivers (in order) every in-flight message for which `accept` is true and keeps the
  // rest in flight; repeats until no accepted message is left. Returns the number
  // delivered.
  size_t DeliverOnly(const std::function<bool(const Message&)>& accept) {
    size_t delivered = 0;
    for (int round = 0; round < 1000; ++round) {
      std::vector<Message> kept;
      std::vector<Message> batch;
      for (Message& message : std::exchange(in_flight, {})) {
        (accept(message) ? batch : kept).push_back(std::move(message));
      }
      in_flight = std::move(kept);
      if (batch.empty()) {
        break;
      }
      for (const Message& message : batch) {
        if (nodes_.contains(message.header.to)) {
          ++delivered;
          Absorb(message.header.to, node(message.header.to.value()).Step(now, message));
        }
      }
    }
    return delivered;
  }

  // Takes the in-flight messages out, for a test to inspect or deliver by hand.
  std::vector<Message> TakeInFlight() { return std::exchange(in_flight, {}); }
  void Deliver(const Message& message) {
    Absorb(message.header.to, node(message.header.to.value()).Step(now, message));
  }

  // Elects `name`: runs its PreVote and vote rounds with all messages delivered.
  void Elect(const std::string& name) {
    now = std::max(now, Time::FromMilliseconds(0) + base_.election_timeout_min * 3);
    Fire(name);
    Stabilize();
  }

  Time now = Time::FromMilliseconds(0);
  std::vector<Message> in_flight;
  std::map<NodeName, std::vector<ApplyEntry>> applied;
  std::map<NodeName, std::vector<Snapshot>> restored;  // Actions::restore, in order.
  std::vector<ClientReply> replies;

 private:
  void WriteToDisk(const NodeName& name, const Persist& persist) {
    ApplyPersist(persist, disks_.at(name));
  }

  RaftOptions base_;
  uint64_t seed_ = 1;
  std::map<NodeName, PersistedState> disks_;
  std::map<NodeName, Raft> nodes_;
  std::map<NodeName, std::vector<Persist>> unfinished_;
  std::map<NodeName, bool> held_;
};

}  // namespace cmcl::raft::testing
