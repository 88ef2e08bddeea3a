// The workload (clients with at most one command outstanding, retrying with the same
// sequence after a timeout, a redirect or an unknown outcome) and the liveness phase.
// A command is an encoded node::OpBatch: an operator command (OperatorCommand: run with
// or without -n, halt, move to a valid or an invalid target, enable/disable with or
// without -n, clear with or without --owner-is-down, node halt/run, cluster run), now
// and then a disarm for disarm_length (a third of them without a duration, which the
// state must refuse) followed later by an arm, else an empty batch. The liveness phase
// starts with one command that puts everything back in service (RestoreCommand).
#include <algorithm>
#include <cstdint>
#include <sstream>

#include "cmcld/core/validation/validate.h"
#include "tests/sim/simulation.h"

namespace cmcl::sim::internal {

void Simulation::OnReply(const ClientReply& reply) {
  if (reply.client_id.value() < 1 || reply.client_id.value() > clients_.size()) {
    return;  // A node's own client (its reports).
  }
  ClientState& client = clients_.at(reply.client_id.value() - 1);
  if (reply.sequence != client.sequence) {
    return;  // A late reply for a command already acknowledged.
  }
  std::ostringstream detail;
  detail << "c" << reply.client_id << "." << reply.sequence << " ";
  switch (reply.code) {
    case raft::ReplyCode::kApplied:
      detail << "applied at " << reply.applied_index;
      if (restore_ && restore_->first == reply.client_id.value() - 1 &&
          restore_->second == reply.sequence) {
        restore_acked_ = true;
        detail << " (restore)";
      }
      ++client.sequence;
      client.payload.reset();
      Trace("-", "ack", detail.str());
      if (healed_ && checker_.acks() > acks_at_heal_) {
        // Liveness needs one new acknowledged command; after it the client goes quiet,
        // so a member that lags with single-entry batches can reach the grants' c (F3)
        // instead of chasing a log that grows as fast as it catches up (seed 203010
        // --swarm: its owner never caught up under steady load).
        return;
      }
      // The liveness phase is quieter: at full load a member that lags with small
      // batches never reaches the leader's commit index, and so never the c of its
      // grants (F3); that is throughput, not liveness.
      RetryClient(
          reply.client_id.value() - 1,
          Duration(client_rng_.Between(0, (healed_ ? 4 : 1) * options_.client_think_max.count())),
          client.target);
      return;
    case raft::ReplyCode::kNotLeader:
      Trace("-", "redirect", detail.str() + (reply.leader_hint ? reply.leader_hint->value() : "?"));
      RetryClient(reply.client_id.value() - 1, kClientRedirectDelay,
                  reply.leader_hint ? IndexOf(*reply.leader_hint) : std::nullopt);
      return;
    case raft::ReplyCode::kRejected: {
      // Only a disarm without a duration (an operator who forgot --for) or an operator
      // command (which may name a node that does not exist) may be refused; anything
      // else is a bug in the workload. The client moves on to its next sequence (not
      // reusing this one: a second node's refusal of the same command may still be on
      // its way, and must not be taken for a refusal of the next).
      const std::optional<node::OpBatch> ops = node::DecodeOps(client.payload.value_or(""));
      const auto* disarm =
          ops && ops->size() == 1 ? std::get_if<node::DisarmOp>(&ops->front()) : nullptr;
      const bool restore = restore_ && restore_->first == reply.client_id.value() - 1 &&
                           restore_->second == reply.sequence;
      const bool operator_command = ops && ops->size() == 1 && !restore &&
                                    !std::holds_alternative<node::DisarmOp>(ops->front()) &&
                                    !std::holds_alternative<node::ArmOp>(ops->front());
      CMCL_CHECK((disarm != nullptr && disarm->length <= Duration(0)) || operator_command)
          << "command rejected: " << reply.detail;
      Trace("-", "rejected", detail.str() + reply.detail);
      ++client.sequence;
      client.payload.reset();
      RetryClient(reply.client_id.value() - 1, kClientRedirectDelay, client.target);
      return;
    }
    case raft::ReplyCode::kStale:
      // A late copy of an older request: the client has moved on; nothing to do.
      Trace("-", "stale", detail.str());
      return;
    case raft::ReplyCode::kBusy:
    case raft::ReplyCode::kUnknownOutcome:
      Trace("-", "unknown", detail.str());
      RetryClient(reply.client_id.value() - 1, kClientRedirectDelay, std::nullopt);
      return;
  }
}

void Simulation::RetryClient(size_t client, Duration after, std::optional<size_t> target) {
  ClientState& state = clients_[client];
  ++state.token;
  state.target = target;
  Schedule(now_ + after, ClientEvent(EventKind::kClientSend, client, state.token));
}

void Simulation::OnClientSend(size_t client) {
  ClientState& state = clients_[client];
  if (!state.payload && state.script) {
    if (state.script->empty()) {
      return;  // A scripted client that said everything.
    }
    state.payload = state.script->front();
    state.script->pop_front();
  }
  if (!state.target) {
    state.target = client_rng_.Uniform(nodes_.size());
  }
  ++state.token;
  Schedule(now_ + options_.client_retry_timeout,
           ClientEvent(EventKind::kClientTimeout, client, state.token));
  NodeSlot& slot = nodes_[*state.target];
  if (!state.payload && healed_ && !restore_ && options_.operator_chance > 0) {
    state.payload = node::EncodeOps(RestoreCommand());
    restore_ = {client, state.sequence};
  } else if (!state.payload) {
    state.payload = NextPayload();
  }
  std::ostringstream detail;
  detail << "c" << state.id << "." << state.sequence << " to " << slot.name << " "
         << node::DescribeOps(*node::DecodeOps(*state.payload));
  Trace("-", "propose", detail.str());
  if (slot.core == nullptr) {
    return;  // The timeout retries elsewhere.
  }
  Event propose = NodeEvent(EventKind::kPropose, *state.target, state.sequence);
  propose.command = raft::Command{
      .client_id = state.id, .sequence = state.sequence, .payload = *state.payload, .revokes = {}};
  Dispatch(propose);  // Queued if the node is paused.
}

void Simulation::ScriptClient(const std::vector<node::OpBatch>& commands) {
  std::deque<std::string> script;
  for (const node::OpBatch& ops : commands) {
    script.push_back(node::EncodeOps(ops));
  }
  ClientState& client = clients_.at(0);
  // A scripted client that said everything sends nothing more and has no event pending:
  // a later script wakes it (else only the first script of a scenario was ever sent).
  const bool stopped = client.script && client.script->empty() && !client.payload;
  client.script = std::move(script);
  if (stopped) {
    RetryClient(0, Duration(1), std::nullopt);
  }
}

std::string Simulation::NextPayload() {
  node::OpBatch ops;
  if (arm_after_ && (healed_ || now_ >= *arm_after_)) {
    arm_after_.reset();
    ops.push_back(node::ArmOp{});
  } else if (healed_) {
    // The liveness phase: commands that move nothing.
  } else if (client_rng_.ChanceOf(options_.disarm_chance)) {
    const bool without_duration = client_rng_.Chance(1, 3);
    ops.push_back(
        node::DisarmOp{.length = without_duration ? Duration(0) : options_.disarm_length});
    arm_after_ = now_ + options_.disarm_length +
                 Duration(client_rng_.Between(0, options_.disarm_length.count()));
  } else if (options_.config_apply_chance > 0 &&
             client_rng_.ChanceOf(options_.config_apply_chance)) {
    ops = ConfigCommand();
  } else if (client_rng_.ChanceOf(options_.operator_chance)) {
    ops = OperatorCommand();
  }
  return node::EncodeOps(ops);
}

// The owner of `package` as some node's applied state shows it (operators read `view`
// from whichever node they are on).
std::optional<NodeName> Simulation::OwnerSeenBySomeNode(const PackageName& package) {
  const NodeSlot& reader = nodes_[client_rng_.Uniform(nodes_.size())];
  const node::Assignment* assignment =
      reader.core != nullptr ? reader.core->state().Find(package) : nullptr;
  return assignment != nullptr ? assignment->owner : std::nullopt;
}

node::OpBatch Simulation::OperatorCommand() {
  const std::string by = "sim";
  const PackageName package = packages_->names[client_rng_.Uniform(packages_->names.size())];
  // Any voter (an arbitrator is never a valid target) or, now and then, no such node.
  const auto any_node = [&] {
    return client_rng_.Chance(1, 10) ? NodeName("n9") : names_[client_rng_.Uniform(names_.size())];
  };
  const std::optional<NodeName> node =
      client_rng_.Chance(1, 2) ? std::optional<NodeName>(any_node()) : std::nullopt;
  if (options_.maintenance_chance > 0 && client_rng_.ChanceOf(options_.maintenance_chance)) {
    return MaintenanceCommand(package, any_node());
  }
  switch (client_rng_.Uniform(15)) {
    case 0:
    case 1:
    case 2:
      return {node::RunOp{.package = package, .node = node, .enable_switching = true, .by = by}};
    case 3:
      return {node::HaltOp{.package = package, .by = by}};
    case 4:
    case 5:
    case 6:
      return {node::MoveOp{.package = package,
                           .target = any_node(),
                           .kind = node::IntentKind::kMove,
                           .vcpus = std::nullopt,
                           .memory_mb = std::nullopt,
                           .by = by}};
    case 7:
    case 8:
      return {node::EnableOp{
          .package = package, .node = node, .enable = client_rng_.Chance(1, 2), .by = by}};
    case 9:
    case 10: {
      // --owner-is-down only when it is true (the owner's host runs no guest of it) or
      // names the wrong node (which must be refused): the operator's word is trusted.
      std::optional<NodeName> down;
      const std::optional<NodeName> owner = OwnerSeenBySomeNode(package);
      if (owner && client_rng_.Chance(1, 2)) {
        const std::optional<size_t> at = IndexOf(*owner);
        if (at && !nodes_[*at].host->Holds(package)) {
          down = owner;
        } else if (node && node != owner) {
          down = node;
        }
      }
      return {node::ClearOp{.package = package, .owner_is_down = down, .by = by}};
    }
    case 11:
      return {node::NodeAdminOp{.node = any_node(), .halted = true, .by = by}};
    case 12:
    case 13:
      return {node::NodeAdminOp{.node = any_node(), .halted = false, .by = by}};
    default:
      return {node::ClusterRunOp{.by = by}};
  }
}

// Issue 10: maintenance on or off, of a node (a third of those frozen) or a package.
// Half the time off, so the cluster does not drift into everything in maintenance.
node::OpBatch Simulation::MaintenanceCommand(const PackageName& package, const NodeName& node) {
  const bool on = client_rng_.Chance(1, 2);
  if (client_rng_.Chance(1, 2)) {
    return {node::MaintenanceOp{
        .node = std::nullopt, .package = package, .on = on, .freeze = false, .by = "sim"}};
  }
  return {node::MaintenanceOp{.node = node,
                              .package = std::nullopt,
                              .on = on,
                              .freeze = on && client_rng_.Chance(1, 3),
                              .by = "sim"}};
}

// Everything back in service: every node `node run` (and out of maintenance), and every
// package (out of maintenance,) cleared, node switching on everywhere (which also clears
// the failed-node memory) and `run`.
node::OpBatch Simulation::RestoreCommand() const {
  node::OpBatch ops;
  const std::string by = "sim (liveness)";
  for (const NodeName& name : packages_->config->Members()) {
    ops.push_back(node::NodeAdminOp{.node = name, .halted = false, .by = by});
    if (options_.maintenance_chance > 0) {
      ops.push_back(node::MaintenanceOp{
          .node = name, .package = std::nullopt, .on = false, .freeze = false, .by = by});
    }
  }
  for (const PackageName& package : packages_->names) {
    if (options_.maintenance_chance > 0) {  // Else the seeds keep their runs exactly.
      ops.push_back(node::MaintenanceOp{
          .node = std::nullopt, .package = package, .on = false, .freeze = false, .by = by});
    }
    ops.push_back(node::ClearOp{.package = package, .owner_is_down = std::nullopt, .by = by});
    const config::PackageSpec& spec = packages_->Spec(package);
    for (const NodeName& name : spec.all_nodes ? packages_->config->Members() : spec.nodes) {
      ops.push_back(node::EnableOp{.package = package, .node = name, .enable = true, .by = by});
    }
    ops.push_back(
        node::RunOp{.package = package, .node = std::nullopt, .enable_switching = true, .by = by});
  }
  return ops;
}

void Simulation::OnHeal() {
  healed_ = true;
  healed_at_ = now_;
  acks_at_heal_ = checker_.acks();
  for (const std::unique_ptr<Nemesis>& nemesis : nemeses_) {
    nemesis->Heal(*this);
  }
  network_->HealForever("liveness");
  for (const Link& link : std::set<Link>(clogged_)) {
    Unclog(link);
  }
  for (size_t i = 0; i < nodes_.size(); ++i) {
    nodes_[i].host->Calm();
    if (nodes_[i].core == nullptr) {
      StartNode(i);
    }
    ResumeNode(i);
  }
  PickOutcasts();
  liveness_deadline_ = options_.liveness_bound + CatchUpAllowance() + PlacementAllowance();
  Trace("-", "heal",
        "nemeses stopped, loss stopped; outcasts:" + outcasts_ + "; deadline in " +
            std::to_string(liveness_deadline_.count()) + "ms");
  Schedule(now_ + liveness_deadline_, GlobalEvent(EventKind::kLivenessDeadline));
}

// A new command commits only once a majority holds the log up to it, so a core member
// that lags L entries behind the longest core log must first catch up: at worst one
// batch of entries_per_message_max per round trip (two network delays, the follower's
// persist, and a heartbeat interval for a retransmission). With batch 1 and a long
// partition that is tens of seconds, which no election-based bound covers.
Duration Simulation::CatchUpAllowance() const {
  uint64_t longest = 0;
  uint64_t shortest = UINT64_MAX;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (!outcast_[i] && nodes_[i].core != nullptr) {
      longest = std::max<uint64_t>(longest, nodes_[i].core->raft().last_index().value());
      shortest = std::min<uint64_t>(shortest, nodes_[i].core->raft().last_index().value());
    }
  }
  const uint64_t batches =
      (longest - std::min(shortest, longest) + options_.entries_per_message_max - 1) /
      options_.entries_per_message_max;
  const int64_t round_trip = 2 * options_.delay_max.count() + options_.disk_latency_max.count() +
                             options_.heartbeat_interval.count();
  // Twice the gap at the heal: the workload keeps appending while the laggard catches
  // up, and a resource placed on it can start only once it reached the grants' c (F3).
  // With single-entry batches the appends eat most of the catch-up rate (seed 202885
  // --swarm started its last resource 340 ms after a 1x allowance ran out).
  return Duration(2 * static_cast<int64_t>(batches) * round_trip);
}

// Live: a leader acknowledged a new command (and the restore command) and applied
// everything acknowledged, and its applied state has every package that should be up
// started on an up member (not an outcast) whose host runs it at that epoch (Excuse
// says which need not be).
//
// The placement allowance: an outcast's lease must expire for certain (stretch(L_max),
// or D if it may hold a disarm lease) and the fence finish; a cold cluster waits
// cluster_start_wait; then each attempt of the worst package — (max_restarts + 1) per
// node of its list, restart then relocate — takes at most an assignment's commit, a
// run script up to run_timeout (+ kill_timeout), the cleanup (halt script up to
// halt_timeout + kill_timeout, a driver kill and a status) and the report's commit.
Duration Simulation::PlacementAllowance() const {
  const Duration lease = std::max(
      options_.node_timeout, options_.disarm_chance > 0 ? options_.disarm_length : Duration(0));
  const Duration commit =
      4 * options_.delay_max + 2 * options_.disk_latency_max + 2 * options_.heartbeat_interval;
  Duration worst(0);
  for (const config::PackageSpec& spec : packages_->config->packages) {
    const size_t nodes = spec.all_nodes ? packages_->config->Members().size() : spec.nodes.size();
    const Duration attempt = 2 * commit + spec.run_timeout + spec.halt_timeout +
                             2 * spec.kill_timeout + options_.fence_timeout +
                             3 * options_.guest_latency_max;
    worst = std::max(worst, static_cast<int64_t>((spec.max_restarts + 1) * nodes) * attempt);
  }
  return 2 * lease + options_.fence_timeout + options_.cluster_start_wait + worst + Duration(2000);
}

void Simulation::CheckLiveness() {
  std::string excused;
  for (const NodeSlot& slot : nodes_) {
    if (slot.core == nullptr || slot.paused || slot.core->raft().role() != Role::kLeader) {
      continue;
    }
    if (!result_.leader_after_heal_ms) {
      result_.leader_after_heal_ms = (now_ - healed_at_).count();
    }
    if (checker_.acks() > acks_at_heal_ && (restore_acked_ || options_.operator_chance == 0) &&
        slot.core->raft().applied_index() >= checker_.acked_index_max() &&
        PackagesPlaced(*slot.core, &missing_, &excused)) {
      Trace(slot.name.value(), "live",
            "leader acknowledged a command after the heal; every package that should run is "
            "up" +
                (excused.empty() ? std::string() : "; not required:" + excused));
      done_ = true;
      return;
    }
  }
}

// Why `package` need not be up after the heal, or nullopt if it must be.
std::optional<std::string> Simulation::Excuse(const node::ClusterState& state,
                                              const PackageName& package,
                                              const validation::ClusterFacts& facts,
                                              const validation::ClusterView& view) const {
  const config::PackageSpec& spec = packages_->Spec(package);
  const node::PackageRecord* record = state.FindPackage(package);
  const node::Assignment* assignment = state.Find(package);
  if (record != nullptr && record->intent) {
    return std::nullopt;  // A move in flight must end.
  }
  if (!(record ? record->Wanted(spec.auto_run) : spec.auto_run)) {
    return "not wanted";
  }
  if (assignment != nullptr && assignment->status == node::AssignmentStatus::kHaltFailed) {
    return "halt_failed";
  }
  const bool switching = record ? record->Switching(spec.auto_run) : spec.auto_run;
  if (!switching) {
    return "switching off";
  }
  // depends_on (dependencies.h): it waits for each dependency, and a same_node one
  // decides its node.
  std::optional<NodeName> with;
  for (const config::Dependency& dependency : spec.depends_on) {
    const node::Assignment* d = state.Find(dependency.package);
    if (d == nullptr || !d->owner || d->status != node::AssignmentStatus::kStarted ||
        d->release_requested || !facts.up_members.contains(*d->owner)) {
      return "waiting for " + dependency.package.value() + " (depends_on)";
    }
    if (dependency.location == config::DependencyLocation::kSameNode) with = d->owner;
  }
  const size_t nodes = spec.all_nodes ? packages_->config->Members().size() : spec.nodes.size();
  if (record != nullptr &&
      record->relocations >= spec.max_relocations.value_or(static_cast<uint32_t>(nodes))) {
    return "relocations used up";
  }
  // The node it failed on with exit 2, a timeout or a service failure counts as tried
  // once its restarts there are used up (restart, then relocate).
  std::optional<NodeName> exhausted;
  if (assignment != nullptr && assignment->owner &&
      assignment->status == node::AssignmentStatus::kFailed &&
      (assignment->failure == node::FailureKind::kExit2 ||
       assignment->failure == node::FailureKind::kTimeout ||
       assignment->failure == node::FailureKind::kServiceFailed) &&
      (record != nullptr ? record->restarts : 0) >= spec.max_restarts) {
    exhausted = assignment->owner;
  }
  // Known gap (SimOptions::excuse_known_gaps): found dead, fenced, or halted by a
  // `node halt` on a node, the package is never placed there again (not even after
  // `node run`, `clear` or `run`).
  std::optional<NodeName> lost_on;
  if (options_.excuse_known_gaps && assignment != nullptr && assignment->owner &&
      (assignment->status == node::AssignmentStatus::kFenced ||
       (assignment->status == node::AssignmentStatus::kHalted &&
        assignment->halt_reason == node::ActionReason::kNodeHalt) ||
       (assignment->status == node::AssignmentStatus::kFailed &&
        (assignment->failure == node::FailureKind::kLost ||
         assignment->failure == node::FailureKind::kNone)))) {  // kNone: after a clear.
    lost_on = assignment->owner;
  }
  bool only_lost_node = false;
  for (const NodeName& node : view.NodesOf(spec)) {
    // A node in maintenance takes no new package (placement refuses it).
    if (!facts.up_members.contains(node) || node == exhausted || (with && node != *with) ||
        state.NodeInMaintenance(node) ||
        (record != nullptr &&
         (record->failed_nodes.contains(node) || record->switching_off.contains(node)))) {
      continue;
    }
    if (validation::ValidateMigration(spec, node, view).ok()) {
      if (node != lost_on) {
        return std::nullopt;  // An eligible node: it must run.
      }
      only_lost_node = true;
    }
  }
  return only_lost_node ? "known gap: only eligible on the node it was lost on"
                        : "no eligible node";
}

bool Simulation::PackagesPlaced(const node::Node& leader, std::string* missing,
                                std::string* excused) const {
  excused->clear();
  std::set<NodeName> up;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (!outcast_[i]) {
      up.insert(nodes_[i].name);
    }
  }
  const node::ClusterState& state = leader.state();
  const validation::ClusterFacts facts = FactsOfState(*packages_->config, state, up);
  const validation::ClusterView view(*packages_->config, facts);
  for (const PackageName& package : packages_->names) {
    const node::Assignment* assignment = state.Find(package);
    const std::optional<size_t> owner =
        assignment != nullptr && assignment->owner ? IndexOf(*assignment->owner) : std::nullopt;
    const bool placed = owner && assignment->status == node::AssignmentStatus::kStarted &&
                        !assignment->release_requested && !outcast_[*owner] &&
                        nodes_[*owner].host->held().contains(package) &&
                        nodes_[*owner].host->held().at(package).epoch == assignment->epoch;
    if (placed) {
      continue;
    }
    const node::PackageRecord* record = state.FindPackage(package);
    if (!(record != nullptr && record->intent)) {
      if (const std::optional<std::string> why = Excuse(state, package, facts, view)) {
        *excused += " " + package.value() + " (" + *why + ")";
        continue;
      }
    }
    std::ostringstream text;
    text << package << " (" << node::PackageStatusName(state.StatusOf(package));
    if (assignment != nullptr) {
      text << ", " << node::AssignmentStatusName(assignment->status) << " on "
           << (assignment->owner ? assignment->owner->value() : "-") << " @" << assignment->epoch;
    }
    if (record != nullptr && record->intent) {
      text << ", intent " << node::IntentKindName(record->intent->kind) << " to "
           << record->intent->target << " at step " << node::IntentStepName(record->intent->step);
    }
    if (record != nullptr && !record->note.empty()) {
      text << ", note: " << record->note;
    }
    if (owner) {
      const auto held = nodes_[*owner].host->held().find(package);
      text << "; its host: "
           << (held == nodes_[*owner].host->held().end()
                   ? std::string("not running")
                   : "running @" + std::to_string(held->second.epoch.value()));
    }
    text << ")";
    *missing = text.str();
    return false;
  }
  missing->clear();
  return true;
}

}  // namespace cmcl::sim::internal
