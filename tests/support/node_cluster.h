// NodeCluster: a hand-driven, in-memory cluster of cmcl::node::Node cores for unit tests
// (the node-level sibling of raft_cluster.h).
//
// Nothing happens on its own: the test advances `now` and calls Settle(), which delivers
// messages, completes persists, applies guard requests (a fake guard per node that
// acknowledges at once) and completes guest actions (a fake host per node whose guests
// start and stop at once; FakeHost's knobs make scripts fail, time out, or leave guests
// that will not stop) until nothing is left. `drop` filters messages. Crash() models
// a daemon crash (guard and guests survive), NodeCrash() a node crash (they do not).
#pragma once

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "cmcld/core/common/check.h"
#include "cmcld/core/node/node.h"

namespace cmcl::node::testing {

struct FakeGuard {
  std::optional<Time> deadline;
  std::map<PackageName, LogIndex> registered;
  bool fenced = false;
  bool mute = false;                   // Requests are taken but never acknowledged (a stuck guard).
  std::vector<GuardRequest> requests;  // Every request received, in order.
};

struct FakeHost {
  std::map<PackageName, LogIndex> running;  // Physically running guests.
  std::vector<GuestAction> actions;         // Every action received, in order.
  std::set<PackageName> hold;               // Actions on these are not completed.
  std::map<PackageName, int> run_exit;      // The run script's exit (default 0).
  // The run script passes run_timeout (the runner kills it; the guest may be up).
  std::set<PackageName> run_timeout;
  std::map<PackageName, int> halt_exit;  // The halt script's exit (default 0).
  std::set<PackageName> survives_halt;   // The halt script leaves the guest up.
  std::set<PackageName> survives_kill;   // A driver kill does not stop it.
  std::set<PackageName> status_unknown;  // The driver's status cannot tell.
  // Only this many more actions on the package are answered; later ones are held (a
  // guest that survives every kill is otherwise killed again forever, at once).
  std::map<PackageName, size_t> answers_left;
};

class NodeCluster {
 public:
  // Members "n1".."nN" plus the named arbitrators; `resources` for the coordinator.
  NodeCluster(size_t members, std::vector<std::string> resources,
              std::vector<std::string> arbitrators = {}) {
    std::vector<raft::Voter> voters;
    for (size_t i = 1; i <= members; ++i) {
      voters.push_back(raft::Voter{.name = NodeName("n" + std::to_string(i)),
                                   .role = config::NodeRole::kMember});
    }
    for (const std::string& name : arbitrators) {
      voters.push_back(raft::Voter{.name = NodeName(name), .role = config::NodeRole::kArbitrator});
    }
    std::sort(voters.begin(), voters.end(),
              [](const raft::Voter& a, const raft::Voter& b) { return a.name < b.name; });
    base_.raft.cluster_id = raft::ClusterId(0xc1c1);
    base_.raft.voters = voters;
    base_.raft.election_timeout_min = Duration(1000);
    base_.raft.heartbeat_interval = Duration(100);
    base_.raft.lease_length = Duration(1000);
    base_.fence_timeout = Duration(200);
    base_.state.lease_length = Duration(1000);
    auto config = std::make_shared<config::ClusterConfig>();
    config->cluster_name = ClusterName("test");
    for (const raft::Voter& voter : voters) {
      config->nodes.push_back(config::NodeSpec{});
      config->nodes.back().name = voter.name;
      config->nodes.back().role = voter.role;
    }
    for (const std::string& resource : resources) {
      config::PackageSpec package;
      package.name = PackageName(resource);
      package.all_nodes = true;
      package.nodes = config->Members();
      // Spread over the members (the tests want guests on several nodes).
      package.failover_policy = config::FailoverPolicy::kMinPackageNode;
      config->packages.push_back(std::move(package));
    }
    config_ = config;
    base_.config = std::move(config);
    for (const raft::Voter& voter : voters) {
      disks_[voter.name] =
          raft::PersistedState{.hard_state = {.cluster_id = base_.raft.cluster_id,
                                              .node_id = raft::NodeId(disks_.size() + 100),
                                              .term = raft::Term(0),
                                              .voted_for = std::nullopt},
                               .snapshot = std::nullopt,
                               .entries = {}};
    }
  }

  NodeOptions& options() { return base_; }
  // A configured package, to change before Start (the nodes share the configuration).
  config::PackageSpec& package(const std::string& name) {
    for (config::PackageSpec& spec : config_->packages) {
      if (spec.name.value() == name) {
        return spec;
      }
    }
    CMCL_CHECK(false) << "no package " << name;
    return config_->packages.front();
  }

  void StartAll() {
    for (const auto& [name, disk] : disks_) {
      Start(name.value());
    }
  }

  // Starts (or restarts) `name` from its disk and attaches it to its guard.
  void Start(const std::string& name) {
    NodeOptions options = base_;
    options.raft.self = NodeName(name);
    nodes_[NodeName(name)] =
        std::make_unique<Node>(options, disks_.at(NodeName(name)), Rng(seed_++), now);
    const FakeGuard& guard = guards_[NodeName(name)];
    GuardState state{.deadline = guard.deadline, .registered = {}, .fenced = guard.fenced};
    for (const auto& [resource, epoch] : guard.registered) {
      state.registered.push_back(GuestRef{.resource = resource, .epoch = epoch});
    }
    Absorb(NodeName(name), node(name).Attach(now, state));
  }
  // Daemon crash: the core is gone, its guard and guests stay.
  void Crash(const std::string& name) { nodes_.erase(NodeName(name)); }
  // Node crash: core, guard and guests are gone.
  void NodeCrash(const std::string& name) {
    Crash(name);
    guards_[NodeName(name)] = FakeGuard{};
    hosts_[NodeName(name)].running.clear();
  }
  bool Running(const std::string& name) const { return nodes_.contains(NodeName(name)); }
  const config::ClusterConfig& config() const { return *base_.config; }
  // Config apply on every running node (and on later starts).
  void SetConfig(std::shared_ptr<const config::ClusterConfig> config) {
    base_.config = config;
    for (auto& [name, node] : nodes_) {
      node->SetConfig(config);
    }
  }
  // Config apply on one node only: its runtime installed the version, the others' not yet.
  void SetConfigOn(const std::string& name, std::shared_ptr<const config::ClusterConfig> config) {
    node(name).SetConfig(std::move(config));
    Settle();
  }
  // The runtime's verdict on the pending config proposal (Node::ConfigVerdict).
  void ConfigVerdict(const std::string& name, uint64_t version, const std::string& hash, bool ok,
                     std::string reason = {}) {
    Absorb(NodeName(name), node(name).ConfigVerdict(now, version, hash, ok, std::move(reason)));
    Settle();
  }
  // The runtime's report that a service of `resource` failed past its max_restarts.
  void ServiceFails(const std::string& name, const std::string& resource,
                    const std::string& service) {
    const auto it = hosts_[NodeName(name)].running.find(PackageName(resource));
    CMCL_CHECK(it != hosts_[NodeName(name)].running.end()) << resource << " runs on " << name;
    const GuestRef guest{.resource = PackageName(resource), .epoch = it->second};
    Absorb(NodeName(name), node(name).GuestReported(now, guest, GuestVerb::kStatus,
                                                    GuestResult{.status = GuestStatus::kRunning,
                                                                .failed_service = service}));
    Settle();
  }
  // SIGTERM for `name`'s daemon (Node::Shutdown).
  void Shutdown(const std::string& name) {
    Absorb(NodeName(name), node(name).Shutdown(now));
    Settle();
  }

  Node& node(const std::string& name) { return *nodes_.at(NodeName(name)); }
  FakeGuard& guard(const std::string& name) { return guards_[NodeName(name)]; }
  FakeHost& host(const std::string& name) { return hosts_[NodeName(name)]; }
  // Answers `name`'s probe `id` (see probes) with `probed`.
  void AnswerProbe(const std::string& name, uint64_t id, Result<inventory::NodeInventory> probed) {
    Absorb(NodeName(name), node(name).InventoryProbed(now, id, std::move(probed)));
    Settle();
  }

  // Ticks every running node whose wakeup is due, then settles.
  void TickDue() {
    for (auto& [name, node] : nodes_) {
      if (node->NextWakeup() <= now) {
        Absorb(name, node->Tick(now));
      }
    }
    Settle();
  }
  // Advances time in `step` increments up to `until`, ticking due nodes and settling.
  void RunUntil(Time until, Duration step = Duration(10)) {
    while (now < until) {
      now = std::min(until, now + step);
      FireGuards();
      TickDue();
      if (on_step) {
        on_step();
      }
    }
  }
  void RunFor(Duration duration, Duration step = Duration(10)) { RunUntil(now + duration, step); }

  // The fake guards fence at their deadlines (on the cluster's one clock).
  void FireGuards() {
    for (auto& [name, guard] : guards_) {
      if (guard.deadline && now >= *guard.deadline && !guard.registered.empty()) {
        for (const auto& [resource, epoch] : guard.registered) {
          hosts_[name].running.erase(resource);
        }
        guard.registered.clear();
        guard.fenced = true;
      }
    }
  }

  void Settle() {
    for (int i = 0; i < 10000 && !work_.empty(); ++i) {
      std::function<void()> next = std::move(work_.front());
      work_.pop_front();
      next();
    }
  }
  // True when Settle() left nothing undone (it stops after 10,000 steps).
  bool Settled() const { return work_.empty(); }

  std::optional<std::string> Leader() {
    for (auto& [name, node] : nodes_) {
      if (node->raft().role() == raft::Role::kLeader) {
        return name.value();
      }
    }
    return std::nullopt;
  }

  // Nodes physically running `resource`.
  std::vector<std::string> Holders(const std::string& resource) {
    std::vector<std::string> holders;
    for (auto& [name, host] : hosts_) {
      if (host.running.contains(PackageName(resource))) {
        holders.push_back(name.value());
      }
    }
    return holders;
  }

  // The runtime's monitoring saw `resource`'s guest on `name` die (unsolicited status).
  void GuestDies(const std::string& name, const std::string& resource) {
    FakeHost& host = hosts_[NodeName(name)];
    const auto it = host.running.find(PackageName(resource));
    CMCL_CHECK(it != host.running.end()) << resource << " does not run on " << name;
    const GuestRef guest{.resource = it->first, .epoch = it->second};
    host.running.erase(it);
    Absorb(NodeName(name),
           node(name).GuestReported(
               now, guest, GuestVerb::kStatus,
               GuestResult{.status = GuestStatus::kStopped, .exit_code = 0, .timed_out = false}));
    Settle();
  }

  void ProposeOps(const std::string& name, const OpBatch& ops) {
    Absorb(NodeName(name), node(name).Propose(now, raft::Command{.client_id = raft::ClientId(77),
                                                                 .sequence = ++client_sequence_,
                                                                 .payload = EncodeOps(ops),
                                                                 .revokes = {}}));
    Settle();
  }

  // An operator command given to `name` as cmcld gives it (Node::Forward: on to the
  // leader when `name` is a follower). Returns its sequence; its reply lands in replies.
  uint64_t ForwardOps(const std::string& name, const OpBatch& ops) {
    Absorb(NodeName(name), node(name).Forward(now, raft::Command{.client_id = raft::ClientId(78),
                                                                 .sequence = ++client_sequence_,
                                                                 .payload = EncodeOps(ops),
                                                                 .revokes = {}}));
    Settle();
    return client_sequence_;
  }

  Time now = Time::FromMilliseconds(0);
  // Messages for which this returns true are dropped.
  std::function<bool(const raft::Message&)> drop;
  std::function<void()> on_step;  // Called after every RunUntil step.
  std::vector<raft::ClientReply> replies;
  std::vector<LogLine> log;
  // `inventory: probe` (Node::InventoryProbed): the probe ids each node asked for, and
  // the fake probe that answers them at once (a node without one is never answered).
  std::map<NodeName, std::vector<uint64_t>> probes;
  std::map<NodeName, std::function<Result<inventory::NodeInventory>()>> probers;
  // Every NodeActions::reset asked for: {node, why}. The node is not reset (a test that
  // wants that crashes it).
  std::vector<std::pair<std::string, std::string>> resets;

 private:
  void Absorb(const NodeName& name, NodeActions actions) {
    for (raft::Actions& batch : actions.raft) {
      if (batch.persist) {
        raft::ApplyPersist(*batch.persist, disks_.at(name));
        const uint64_t id = batch.persist->id;
        work_.push_back([this, name, id] {
          if (nodes_.contains(name)) {
            Absorb(name, nodes_.at(name)->PersistCompleted(now, id));
          }
        });
      }
      for (raft::Message& message : batch.sends) {
        work_.push_back([this, message] {
          if ((drop && drop(message)) || !nodes_.contains(message.header.to)) {
            return;
          }
          Absorb(message.header.to, nodes_.at(message.header.to)->Step(now, message));
        });
      }
      for (raft::ClientReply& reply : batch.replies) {
        replies.push_back(reply);
      }
    }
    for (const GuardRequest& request : actions.guard) {
      ApplyGuard(name, request);
    }
    for (const GuestAction& action : actions.guests) {
      Perform(name, action);
    }
    for (LogLine& line : actions.log) {
      log.push_back(std::move(line));
    }
    if (actions.probe_inventory) {
      const uint64_t id = *actions.probe_inventory;
      probes[name].push_back(id);
      if (probers.contains(name)) {
        work_.push_back([this, name, id] {
          if (nodes_.contains(name) && probers.contains(name)) {
            Absorb(name, nodes_.at(name)->InventoryProbed(now, id, probers.at(name)()));
          }
        });
      }
    }
    if (actions.reset) {
      resets.emplace_back(name.value(), actions.reset->why);  // Nothing else happens.
    }
  }

  void ApplyGuard(const NodeName& name, const GuardRequest& request) {
    FakeGuard& guard = guards_[name];
    guard.requests.push_back(request);
    if (const auto* deadline = std::get_if<SetDeadline>(&request.request)) {
      if (!guard.deadline || deadline->deadline > *guard.deadline || deadline->allow_earlier) {
        guard.deadline = deadline->deadline;
      }
    } else if (const auto* reg = std::get_if<Register>(&request.request)) {
      guard.registered[reg->guest.resource] = reg->guest.epoch;
    } else if (const auto* unreg = std::get_if<Unregister>(&request.request)) {
      guard.registered.erase(unreg->resource);
    }
    if (guard.mute) {
      return;
    }
    const uint64_t id = request.id;
    work_.push_back([this, name, id] {
      if (nodes_.contains(name)) {
        Absorb(name, nodes_.at(name)->GuardAcked(now, id));
      }
    });
  }

  void Perform(const NodeName& name, const GuestAction& action) {
    FakeHost& host = hosts_[name];
    host.actions.push_back(action);
    if (host.hold.contains(action.guest.resource)) {
      return;
    }
    if (const auto left = host.answers_left.find(action.guest.resource);
        left != host.answers_left.end()) {
      if (left->second == 0) {
        return;
      }
      --left->second;
    }
    GuestResult result{.status = GuestStatus::kStopped, .exit_code = 0, .timed_out = false};
    switch (action.verb) {
      case GuestVerb::kRun: {
        host.running[action.guest.resource] = action.guest.epoch;
        const auto exit = host.run_exit.find(action.guest.resource);
        result.exit_code = exit == host.run_exit.end() ? 0 : exit->second;
        result.timed_out = host.run_timeout.contains(action.guest.resource);
        result.exit_code = result.timed_out ? -1 : result.exit_code;
        result.status = result.exit_code == 0 ? GuestStatus::kRunning : GuestStatus::kFailed;
        break;
      }
      case GuestVerb::kHalt: {
        const auto exit = host.halt_exit.find(action.guest.resource);
        result.exit_code = exit == host.halt_exit.end() ? 0 : exit->second;
        result.status = result.exit_code == 0 ? GuestStatus::kStopped : GuestStatus::kFailed;
        if (!host.survives_halt.contains(action.guest.resource)) {
          host.running.erase(action.guest.resource);
        }
        break;
      }
      case GuestVerb::kKill:
        if (host.survives_kill.contains(action.guest.resource) &&
            host.running.contains(action.guest.resource)) {
          result.status = GuestStatus::kUnknown;
        } else {
          host.running.erase(action.guest.resource);
        }
        break;
      case GuestVerb::kStatus:
        result.status = host.running.contains(action.guest.resource) ? GuestStatus::kRunning
                                                                     : GuestStatus::kStopped;
        if (host.status_unknown.contains(action.guest.resource)) {
          result.status = GuestStatus::kUnknown;
        }
        break;
    }
    work_.push_back([this, name, action, result] {
      if (nodes_.contains(name)) {
        Absorb(name, nodes_.at(name)->GuestReported(now, action.guest, action.verb, result));
      }
    });
  }

  NodeOptions base_;
  std::shared_ptr<config::ClusterConfig> config_;  // base_.config, for package().
  uint64_t seed_ = 1;
  uint64_t client_sequence_ = 0;
  std::map<NodeName, raft::PersistedState> disks_;
  std::map<NodeName, std::unique_ptr<Node>> nodes_;
  std::map<NodeName, FakeGuard> guards_;
  std::map<NodeName, FakeHost> hosts_;
  std::deque<std::function<void()>> work_;
};

}  // namespace cmcl::node::testing
