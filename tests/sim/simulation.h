// Simulation: the private parts of simulator.h, shared by simulator.cc (the event loop,
// nodes, network and disk), sim_faults.cc (the NemesisHost controls: crash, pause,
// clocks, clogs) and sim_workload.cc (clients and the liveness phase). Not for use
// outside tests/sim.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "cmcld/core/common/rng.h"
#include "cmcld/core/node/node.h"
#include "cmcld/core/raft/raft.h"
#include "tests/sim/config_checker.h"
#include "tests/sim/exclusivity_checker.h"
#include "tests/sim/nemesis.h"
#include "tests/sim/package_checker.h"
#include "tests/sim/sim_clock.h"
#include "tests/sim/sim_disk.h"
#include "tests/sim/sim_guard.h"
#include "tests/sim/sim_host.h"
#include "tests/sim/sim_network.h"
#include "tests/sim/sim_options.h"
#include "tests/sim/sim_packages.h"
#include "tests/sim/simulator.h"
#include "tests/sim/state_checker.h"
#include "tests/sim/trace.h"

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
  kNemesis,  // node = the nemesis's index, token = its tag.
  kPropose,  // A client command queued at a paused node; token = its sequence.
  kClientSend,
  kClientTimeout,
  kHeal,
  kLivenessDeadline,
  kGuardWakeup,  // token = the slot's guard_token.
  kHostWakeup,   // token = the slot's host_token.
  kGuardAck,     // To cmcld: token = incarnation, persist_id = the request id.
  kGuestReport,  // To cmcld: token = incarnation, report set.
};

struct Event {
  EventKind kind = EventKind::kWakeup;
  size_t node = 0;
  size_t client = 0;
  uint64_t token = 0;  // Wakeup, incarnation or client token, by kind.
  uint64_t persist_id = 0;
  std::optional<Message> message;
  std::optional<raft::Command> command;   // kPropose.
  std::optional<SimHost::Report> report;  // kGuestReport.
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

// One simulated machine: its disk, clock, guard and guests outlive a daemon crash; a
// node crash takes the guard and the guests too.
struct NodeSlot {
  NodeName name;
  SimDisk disk;
  std::unique_ptr<node::Node> core;  // cmcld's core; null while cmcld is down.
  std::unique_ptr<SimGuard> guard;
  std::unique_ptr<SimHost> host;
  uint64_t guard_token = 0;
  std::optional<Time> guard_at;  // True time of the scheduled guard wakeup.
  uint64_t host_token = 0;
  std::optional<Time> host_at;
  uint64_t incarnation = 0;
  uint64_t wakeup_token = 0;
  std::optional<Time> wakeup_at;  // Local time.
  SimClock clock;                 // Survives crashes: it is the machine's clock.
  bool paused = false;
  std::vector<Event> queued;  // Deliveries, persist completions, proposals while paused.
  Role role = Role::kFollower;
  raft::Term term;
  raft::LogIndex commit_checked;  // Highest commit index the commitment check has seen.
};

struct ClientState {
  raft::ClientId id;
  uint64_t sequence = 1;
  std::optional<std::string> payload;             // Of `sequence`: a retry resends the same one.
  std::optional<std::deque<std::string>> script;  // ScriptClient: what is left to send.
  uint64_t token = 0;
  std::optional<size_t> target;
  size_t cursor = 0;  // Advances at every timeout: the next node to try (round-robin).
};

std::string DescribeMessage(const Message& message);
std::string DescribeGuardRequest(const node::GuardRequest& request);
std::string DescribeReport(const SimHost::Report& report);

class Simulation final : public NemesisHost {
 public:
  // `packages`: the configuration and behaviours to use (scenarios); null: drawn from
  // the seed (MakeSimPackages).
  Simulation(const SimOptions& options, const std::function<void(const std::string&)>& trace,
             std::shared_ptr<const SimPackages> packages = nullptr);
  RunResult Run();  // Setup(), RunUntil(nullopt), Finish().

  // The pieces of Run, and the controls scenario tests use (STYLE.md rule 36).
  void Setup();
  // Processes events up to `until` (all of them if nullopt); false on a violation.
  bool RunUntil(std::optional<Time> until);
  RunResult Finish();
  Time now() const { return now_; }
  std::optional<NodeName> Leader() const;                 // The running leader of the highest term.
  const Raft* Node(const std::string& name) const;        // Null while crashed.
  const node::Node* Core(const std::string& name) const;  // Null while crashed.
  const SimGuard& Guard(const std::string& name) const;
  const SimHost& Host(const std::string& name) const;
  const ExclusivityChecker& exclusivity() const { return exclusivity_; }
  const PackageChecker& packages_checker() const { return *package_checker_; }
  const SimPackages& packages() const { return *packages_; }
  const StateChecker& checker() const { return checker_; }
  const ConfigChecker& config_checker() const { return config_checker_; }
  // The first violation of any checker (or of liveness), if any.
  std::optional<std::string> violation() const {
    if (checker_.violation()) {
      return checker_.violation();
    }
    if (exclusivity_.violation()) {
      return exclusivity_.violation();
    }
    if (package_checker_->violation()) {
      return package_checker_->violation();
    }
    return config_checker_.violation() ? config_checker_.violation() : result_.violation;
  }
  void Isolate(const std::string& name);  // Both directions, from every other node.
  void Block(const std::string& from, const std::string& to);
  void HealNetwork();
  void Crash(const std::string& name);       // Daemon crash.
  void CrashWhole(const std::string& name);  // Node crash.
  void Restart(const std::string& name);
  void Pause(const std::string& name);
  void Resume(const std::string& name);
  Time LocalTime(const std::string& name) const;  // The node's clock, now.
  // Messages of `type` (raft::MessageTypeName, e.g. "LeaseGrant") to `name` are held
  // while `hold` (a targeted delay, for lease scenarios); ReleaseHeld() delivers them
  // 1 ms later whatever the links' blocks.
  void HoldMessagesTo(const std::string& name, const std::string& type, bool hold);
  void ReleaseHeld();
  const std::vector<Message>& held_messages() const { return held_messages_; }
  // Client 1 sends these commands, in order, and then nothing more (for scenarios).
  void ScriptClient(const std::vector<node::OpBatch>& commands);
  size_t held() const { return held_.size(); }  // Messages on clogged links.
  // The scenario suite (scenario_runner.h): every trace line's parts, as they are traced
  // (true time, node or "-", event, detail); and client 1's script grows by `ops`, sent
  // as soon as the client is idle (ScriptClient({}) first, so it sends nothing else).
  using Observer = std::function<void(Time, const std::string&, const std::string&,
                                      const std::string&)>;
  void Observe(Observer observer) { observer_ = std::move(observer); }
  void Submit(const node::OpBatch& ops);

  // NemesisHost (sim_faults.cc).
  Time Now() const override { return now_; }
  const std::vector<NodeName>& Names() const override { return names_; }
  std::optional<size_t> LeaderIndex() const override;
  bool IsRunning(size_t node) const override { return nodes_[node].core != nullptr; }
  bool IsPaused(size_t node) const override { return nodes_[node].paused; }
  void CrashNode(size_t node) override;
  void CrashWholeNode(size_t node) override;
  void RestartNode(size_t node) override { StartNode(node); }
  void PauseNode(size_t node) override;
  void ResumeNode(size_t node) override;
  void SetClockDrift(size_t node, int64_t drift_ppm) override;
  void Clog(const Link& link) override;
  void Unclog(const Link& link) override;
  SimNetwork& Network() override { return *network_; }
  void ScheduleNemesis(Time at, size_t nemesis, uint64_t tag) override;
  void TraceNemesis(const std::string& node, const std::string& what,
                    const std::string& detail) override {
    Trace(node, what, detail);
  }

 private:
  void Schedule(Time at, Event event);
  void Trace(const std::string& node, const std::string& what, const std::string& detail);
  void Dispatch(const Event& event);
  void DispatchGlobal(const Event& event);
  void Execute(size_t node, node::NodeActions actions);
  void ExecuteRaft(size_t node, const Actions& actions);
  void ExecutePersist(size_t node, const raft::Persist& persist);
  void DispatchMachine(const Event& event);
  void OnGuardWakeup(size_t node);
  void OnHostWakeup(size_t node);
  void ScheduleGuard(size_t node);
  void ScheduleHost(size_t node);
  void CheckExclusivity();
  void NoteReleases(const raft::ApplyEntry& apply);
  void TraceCommitted(const raft::ApplyEntry& apply);
  node::NodeOptions NodeOptionsFor(size_t node) const;
  std::string NextPayload();
  Duration PlacementAllowance() const;
  // Every package that should run is up; else false with the first one in `missing`.
  // `excused`: the packages that need not run, and why.
  bool PackagesPlaced(const node::Node& leader, std::string* missing,
                      std::string* excused) const;
  std::optional<std::string> Excuse(const node::ClusterState& state, const PackageName& package,
                                    const validation::ClusterFacts& facts,
                                    const validation::ClusterView& view) const;
  node::OpBatch OperatorCommand();
  node::OpBatch MaintenanceCommand(const PackageName& package, const NodeName& node);
  // Config apply (sim_config.cc): a proposal of the next version as some node sees it,
  // and the runtime's part on `node` after each call (SetConfig once a new version is
  // applied, its verdict on a pending proposal). True if it called the node again.
  node::OpBatch ConfigCommand();
  bool DriveConfig(size_t node);
  node::OpBatch RestoreCommand() const;
  std::optional<NodeName> OwnerSeenBySomeNode(const PackageName& package);
  void AfterCall(size_t node);
  void CheckCommitment(size_t leader);
  void Restore(size_t node, const raft::Snapshot& snapshot);
  void StartNode(size_t node);
  void PowerOn(size_t node);
  Time LocalNow(size_t node) { return nodes_[node].clock.Read(now_); }
  void ScheduleWakeup(size_t node);
  bool DeferIfPaused(const Event& event);
  void SendMessage(size_t from, const Message& message);
  void PickOutcasts();
  bool CoreCanElect(const std::vector<bool>& outcast) const;
  Duration CatchUpAllowance() const;
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
  std::vector<NodeName> names_;
  std::vector<NodeSlot> nodes_;
  std::vector<std::unique_ptr<Nemesis>> nemeses_;
  std::set<Link> clogged_;
  std::vector<std::pair<Link, Message>> held_;  // Messages on clogged links, in send order.
  std::set<std::pair<NodeName, std::string>> hold_to_;
  std::vector<Message> held_messages_;
  std::vector<bool> outcast_;  // Per node, from the liveness phase on.
  std::string missing_;        // Liveness: the first resource not placed, for the deadline text.
  std::string outcasts_;       // The liveness phase's faulty minority, for the deadline text.
  std::vector<ClientState> clients_;
  Rng machine_rng_;  // Guards and hosts fork from it per node and power-on.
  std::shared_ptr<const SimPackages> packages_;
  std::optional<Time> arm_after_;
  // Liveness phase: the first command after the heal puts every node back in service
  // and runs every package (RestoreCommand); liveness waits for its acknowledgement.
  std::optional<std::pair<size_t, uint64_t>> restore_;  // (client, sequence) once sent.
  bool restore_acked_ = false;  // Workload: a disarm was proposed; arm from then on.
  ExclusivityChecker exclusivity_;
  std::unique_ptr<PackageChecker> package_checker_;
  ConfigChecker config_checker_;
  // Committed releases: (resource, epoch, node) of halted/failed/fenced reports.
  std::set<std::tuple<PackageName, raft::LogIndex, NodeName>> released_;
  raft::LogIndex releases_decoded_;
  std::unique_ptr<SimNetwork> network_;
  std::map<std::pair<int64_t, uint64_t>, Event> queue_;
  uint64_t sequence_ = 0;
  Time now_;
  StateChecker checker_;
  RunResult result_;
  bool healed_ = false;
  Time healed_at_;
  Duration liveness_deadline_;  // liveness_bound + CatchUpAllowance().
  uint64_t acks_at_heal_ = 0;
  bool done_ = false;
  Observer observer_;
};

}  // namespace cmcl::sim::internal
