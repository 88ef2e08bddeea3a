// Simulation: the private parts of simulator.h, shared by simulator.cc (the event loop,
// nodes, network and disk) and sim_workload.cc (clients and the liveness phase). Not for
// use outside tests/sim.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cmcld/core/common/rng.h"
#include "cmcld/core/raft/raft.h"
#include "tests/sim/sim_disk.h"
#include "tests/sim/sim_network.h"
#include "tests/sim/sim_options.h"
#include "tests/sim/sim_state_machine.h"
#include "tests/sim/simulator.h"
#include "tests/sim/state_checker.h"

namespace cmcl::sim::internal {
using raft::Actions;
using raft::ClientReply;
using raft::Message;
using raft::Raft;
using raft::Role;

inline constexpr uint64_t kEventsMax = 500'000;  // A run that needs more is livelocked.
inline constexpr Duration kClientRedirectDelay = Duration(20);

enum class EventKind {
  kDeliver,
  kWakeup,
  kPersistDone,
  kCrash,
  kRestart,
  kPartition,
  kClientSend,
  kClientTimeout,
  kHeal,
  kLivenessDeadline,
};

struct Event {
  EventKind kind = EventKind::kWakeup;
  size_t node = 0;
  size_t client = 0;
  uint64_t token = 0;  // Wakeup, incarnation or client token, by kind.
  uint64_t persist_id = 0;
  std::optional<Message> message;
};

inline Event GlobalEvent(EventKind kind) {
  Event event;
  event.kind = kind;
  return event;
}

inline Event NodeEvent(EventKind kind, size_t node, uint64_t token = 0) {
  Event event = GlobalEvent(kind);
  event.node = node;
  event.token = token;
  return event;
}

inline Event ClientEvent(EventKind kind, size_t client, uint64_t token) {
  Event event = GlobalEvent(kind);
  event.client = client;
  event.token = token;
  return event;
}

struct NodeSlot {
  NodeName name;
  SimDisk disk;
  SimStateMachine machine;     // At raft->applied_index() between calls.
  std::unique_ptr<Raft> raft;  // Null while crashed.
  uint64_t incarnation = 0;
  uint64_t wakeup_token = 0;
  std::optional<Time> wakeup_at;
  Role role = Role::kFollower;
  raft::Term term;
  raft::LogIndex commit_checked;  // Highest commit index the commitment check has seen.
};

struct ClientState {
  raft::ClientId id;
  uint64_t sequence = 1;
  uint64_t token = 0;
  std::optional<size_t> target;
};

// One trace line: virtual time, node and event in fixed columns, then the detail.
std::string Format(Time t, const std::string& node, const std::string& what,
                   const std::string& detail);
std::string DescribeMessage(const Message& message);

class Simulation {
 public:
  Simulation(const SimOptions& options, const std::function<void(const std::string&)>& trace);
  RunResult Run();  // Setup(), RunUntil(nullopt), Finish().

  // The pieces of Run, and the controls scenario tests use (STYLE.md rule 36).
  void Setup();
  // Processes events up to `until` (all of them if nullopt); false on a violation.
  bool RunUntil(std::optional<Time> until);
  RunResult Finish();
  Time now() const { return now_; }
  std::optional<NodeName> Leader() const;           // The running leader of the highest term.
  const Raft* Node(const std::string& name) const;  // Null while crashed.
  const StateChecker& checker() const { return checker_; }
  void Isolate(const std::string& name);  // Both directions, from every other node.
  void Block(const std::string& from, const std::string& to);
  void HealNetwork();
  void Crash(const std::string& name);
  void Restart(const std::string& name);

 private:
  void CrashNow(size_t node);
  void Schedule(Time at, Event event);
  void Trace(const std::string& node, const std::string& what, const std::string& detail);
  void Dispatch(const Event& event);
  void Execute(size_t node, Actions actions);
  void ExecutePersist(size_t node, const raft::Persist& persist);
  void AfterCall(size_t node);
  void CheckCommitment(size_t leader);
  void Restore(size_t node, const raft::Snapshot& snapshot);
  void StartNode(size_t node);
  void OnCrash(size_t node);
  void OnReply(const ClientReply& reply);
  void OnClientSend(size_t client);
  void RetryClient(size_t client, Duration after, std::optional<size_t> target);
  void OnHeal();
  void CheckLiveness();
  raft::RaftOptions RaftOptionsFor(size_t node) const;
  std::optional<size_t> IndexOf(const NodeName& name) const;

  SimOptions options_;
  const std::function<void(const std::string&)>& trace_;
  Rng root_;
  Rng nemesis_rng_;
  Rng client_rng_;
  Rng disk_rng_;
  std::vector<raft::Voter> voters_;
  std::vector<NodeSlot> nodes_;
  std::vector<ClientState> clients_;
  std::unique_ptr<SimNetwork> network_;
  std::map<std::pair<int64_t, uint64_t>, Event> queue_;
  uint64_t sequence_ = 0;
  Time now_;
  StateChecker checker_;
  RunResult result_;
  bool healed_ = false;
  Time healed_at_;
  uint64_t acks_at_heal_ = 0;
  bool done_ = false;
};

}  // namespace cmcl::sim::internal
