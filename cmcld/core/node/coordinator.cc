#include "cmcld/core/node/coordinator.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cmcld/core/node/dependencies.h"
#include "cmcld/core/node/displacement.h"
#include "cmcld/core/placement/placement.h"
#include "cmcld/core/validation/cluster_view.h"
#include "cmcld/core/validation/validate.h"

namespace cmcl::node {

namespace {

using config::PackageSpec;
using placement::PlacementDecision;
using placement::PlacementRequest;

// Who proposes the coordinator's own MoveOps (events show it as the issuer).
constexpr const char* kCoordinator = "coordinator";

// A package without a record follows its configuration.
const PackageRecord& NoRecord() {
  static const PackageRecord record;
  return record;
}

std::string FailureText(FailureKind kind) {
  switch (kind) {
    case FailureKind::kExit1:
      return "run script exit 1";
    case FailureKind::kExit2:
      return "run script exit 2";
    case FailureKind::kTimeout:
      return "run script timed out";
    case FailureKind::kServiceFailed:
      return "service failed";
    case FailureKind::kLost:
      return "found not running";
    case FailureKind::kHaltScript:
      return "halt script failed";
    case FailureKind::kNone:
      break;
  }
  return "failed";
}

// Failures that restart on the node, then relocate (DESIGN.md section 5).
bool Restartable(FailureKind kind) {
  return kind == FailureKind::kExit2 || kind == FailureKind::kTimeout ||
         kind == FailureKind::kServiceFailed;
}

std::string Join(const std::vector<std::string>& parts, const std::string& separator) {
  std::string joined;
  for (const std::string& part : parts) {
    if (!joined.empty()) joined += separator;
    joined += part;
  }
  return joined;
}

// The violations of an explicit target's verdict ("refused: A; B"), else the reason line.
std::string RefusalText(const PlacementDecision& decision) {
  std::vector<std::string> messages;
  for (const placement::CandidateVerdict& verdict : decision.candidates) {
    for (const validation::Violation& violation : verdict.result.violations) {
      messages.push_back(violation.message);
    }
  }
  return messages.empty() ? decision.reason : Join(messages, "; ");
}

std::set<NodeName> With(std::set<NodeName> nodes, const NodeName& node) {
  nodes.insert(node);
  return nodes;
}

// What to do with a placement decision once PlaceBatch made it.
enum class PlanKind {
  kAssign,        // AssignOp; none: a note (or unassign, or relocate in round two).
  kNodeHalt,      // MoveOp kNodeHalt; none: ReleaseOp kNodeHalt.
  kFailback,      // MoveOp kFailback; none: nothing.
  kValidate,      // IntentStepOp kHalting; none: IntentDoneOp refused.
  kIntentTarget,  // AssignOp target + kStarting; none: return to the source (round two).
  kIntentReturn,  // AssignOp source + kReturning; none: IntentDoneOp failed.
  // Issue 10: MoveOp kNodeHalt off a node in maintenance; none: a note.
  kMaintenanceMove,
};

struct Plan {
  PlanKind kind = PlanKind::kAssign;
  size_t slot = 0;  // The package's position in the configuration: the ops' order.
  const PackageSpec* package = nullptr;
  const PackageRecord* record = nullptr;
  const Assignment* assignment = nullptr;  // nullptr: never assigned.
  PlacementRequest request;
  ActionReason why = ActionReason::kStart;
  std::optional<NodeName> remember;
  std::optional<NodeName> revoke;  // L3: the owner an assignment takes the package from.
  bool unassign_if_none = false;   // A lost owner's package with nowhere to go.
  bool relocate_if_none = false;   // A restart refused: relocate instead (round two).
  bool owner_if_none = false;      // Failover from a node that is back: it, if nothing else.
};

// AssignOp/UnassignOp::over_halt_failed: the decision knew the package is halt_failed.
bool OverHaltFailed(const Plan& plan) {
  return plan.assignment != nullptr && plan.assignment->status == AssignmentStatus::kHaltFailed;
}

// One call of Decide: the inputs, and what it has decided so far.
class Decider {
 public:
  Decider(const config::ClusterConfig& config, const validation::ConfigIndex& index,
          const ClusterState& state, const Liveness& live, const CoordinatorMutations& mutations)
      : config_(config), index_(index), state_(state), live_(live), mutations_(mutations) {}

  Decision Run();

 private:
  void ClusterStart();
  std::optional<Op> Config();
  std::string Stranded(const ConfigProposeOp& proposal) const;
  void Package(size_t slot, const PackageSpec& package);
  void Owned(Plan plan);
  // Issue 10 (MaintenanceOp in cluster_state.h).
  void InMaintenance(Plan plan);
  void LeaveMaintenanceNode(Plan plan);
  void OwnerLost(Plan plan);
  void Unowned(Plan plan);
  void RestartOrRelocate(Plan plan);
  void Relocate(Plan plan);
  void Failover(Plan plan, const std::string& why);
  void Intent(Plan plan);
  void IntentHalting(Plan plan, const node::Intent& intent);
  void IntentStarting(Plan plan, const node::Intent& intent);
  void IntentReturning(Plan plan, const node::Intent& intent);
  bool Gate(Plan& plan);
  void HoldDisplacedRoom(validation::ClusterView& view, const std::vector<Plan>& round) const;
  std::map<PackageName, LogIndex> NeedsUp(const PackageSpec& package) const;
  void PlaceAll();
  void Emit(const Plan& plan, const PlacementDecision& decision, std::vector<Plan>& next);
  void EmitUnplaced(const Plan& plan, const PlacementDecision& decision, std::vector<Plan>& next);
  // Issue 10 (displacement.h): true when it displaces (or waits for displaced packages).
  bool Displace(const Plan& plan, const PlacementDecision& decision);
  std::string UnplacedNote(const Plan& plan, const std::string& reason) const;

  bool Reachable(const NodeName& node) const {
    return node == live_.self || live_.reachable.contains(node);
  }
  // L4/N2: true once `node`'s lease certainly expired; else notes when to look again.
  bool CertainlyExpired(const NodeName& node);
  PlacementRequest Request(const Plan& plan, std::string why, std::set<NodeName> avoid,
                           std::optional<NodeName> target = std::nullopt) const;
  void Add(size_t slot, Op op) { ops_[slot].push_back(std::move(op)); }
  void Note(const Plan& plan, std::string note);
  void Done(const Plan& plan, bool ok, std::string message);
  void Wake(Time at) { decision_.wakeup = std::min(decision_.wakeup.value_or(at), at); }

  const config::ClusterConfig& config_;
  const validation::ConfigIndex& index_;
  const ClusterState& state_;
  const Liveness& live_;
  const CoordinatorMutations& mutations_;
  std::set<NodeName> up_members_;
  bool started_ = false;
  bool starting_now_ = false;  // This call proposes ClusterStartOp.
  std::string waiting_;        // The cluster start note's stable part; empty: not waiting.
  std::string waiting_left_;   // Its time left: " (41s left)".
  std::map<size_t, OpBatch> ops_;
  std::vector<Plan> plans_;
  std::map<PackageName, std::vector<const PackageSpec*>> dependents_;  // depends_on, reversed.
  // Issue 10: PlaceAll's view while it runs, and the packages released this call to
  // make room for a higher priority (displacement.h).
  const validation::ClusterView* view_ = nullptr;
  std::set<PackageName> displaced_now_;
  Decision decision_;
};

Decision Decider::Run() {
  for (const NodeName& node : live_.up) {
    if (!state_.NodeHalted(node)) up_members_.insert(node);
  }
  if (state_.pending_config()) {
    if (std::optional<Op> op = Config()) {
      decision_.ops.push_back(std::move(*op));
      return std::move(decision_);
    }
  }
  decision_.refusals.emplace();
  started_ = state_.cluster_started();
  dependents_ = Dependents(config_);
  // After a forced cluster halt only `cluster run` starts placement again (no note: the
  // view says the cluster is halted).
  if (!started_ && !state_.cluster_halted()) ClusterStart();
  for (size_t slot = 0; slot < config_.packages.size(); ++slot) {
    Package(slot, config_.packages[slot]);
  }
  if (!plans_.empty()) PlaceAll();
  for (auto& [slot, ops] : ops_) {
    for (Op& op : ops) decision_.ops.push_back(std::move(op));
  }
  return std::move(decision_);
}

// Cold start: wait for every member (not halted) or cluster_start_wait (the gate above).
void Decider::ClusterStart() {
  const ClusterStartGate gate = CheckClusterStart(config_, index_, state_, live_);
  if (gate.verdict == ClusterStartGate::Verdict::kWaiting) {
    const std::string count = std::to_string(gate.members - gate.waiting_for.size()) + " of " +
                              std::to_string(gate.members) + " up";
    const int64_t left_ms = (gate.deadline - live_.now).count();
    waiting_ = "waiting for every member (" + count + ") or cluster_start_wait";
    waiting_left_ = " (" + std::to_string((left_ms + 999) / 1000) + "s left)";
    Wake(gate.deadline);
    return;
  }
  if (gate.verdict != ClusterStartGate::Verdict::kStart) return;
  started_ = true;
  starting_now_ = true;
  decision_.ops.push_back(ClusterStartOp{.reason = gate.reason});
}

// --- Config apply (issue 9) ---------------------------------------------------------

std::optional<Op> Decider::Config() {
  const PendingConfig& pending = *state_.pending_config();
  const ConfigProposeOp& proposal = pending.proposal;
  const auto abort = [&proposal](std::string reason) {
    return ConfigAbortOp{.version = proposal.version,
                         .bundle_hash = proposal.bundle_hash,
                         .reason = std::move(reason)};
  };
  for (const auto& [node, verdict] : pending.verdicts) {
    if (!verdict.ok) return abort(node.value() + ": " + verdict.reason);
  }
  if (std::string stranded = Stranded(proposal); !stranded.empty()) return abort(stranded);
  std::vector<std::string> missing;
  size_t validated = 0;
  for (const NodeName& member : config_.Members()) {
    if (!up_members_.contains(member)) continue;
    if (pending.verdicts.contains(member)) {
      ++validated;
    } else {
      missing.push_back(member.value());
    }
  }
  if (missing.empty() && validated > 0) {
    return ConfigApplyOp{
        .version = proposal.version, .bundle_hash = proposal.bundle_hash, .by = proposal.by};
  }
  const Duration timeout = std::max<Duration>(std::chrono::seconds(10), 5 * config_.node_timeout);
  const Time deadline = live_.config_pending_since.value_or(live_.now) + timeout;
  if (live_.now < deadline) {
    Wake(deadline);
    return std::nullopt;
  }
  return abort(
      (missing.empty() ? "no member validated it" : Join(missing, ", ") + " did not validate") +
      " within " + FormatDuration(timeout));
}

// What applying `proposal` would strand: each package that may run (starting, up,
// halting, halt_failed) and is absent from it, or whose owner is not among its nodes.
std::string Decider::Stranded(const ConfigProposeOp& proposal) const {
  std::vector<std::string> stranded;
  for (const auto& [package, assignment] : state_.assignments()) {
    const PackageStatus status = state_.StatusOf(package);
    if (status == PackageStatus::kDown || status == PackageStatus::kFailed) continue;
    const std::string where = package.value() + " is " + std::string(PackageStatusName(status)) +
                              " on " + assignment.owner->value();
    const auto it = proposal.packages.find(package);
    if (it == proposal.packages.end()) {
      stranded.push_back(where + " and not in configuration version " +
                         std::to_string(proposal.version) + ": halt it first");
    } else if (std::find(it->second.begin(), it->second.end(), *assignment.owner) ==
               it->second.end()) {
      stranded.push_back(where + ", not among its nodes in configuration version " +
                         std::to_string(proposal.version) + ": halt it first");
    }
  }
  return Join(stranded, "; ");
}

void Decider::Package(size_t slot, const PackageSpec& package) {
  const PackageRecord* record = state_.FindPackage(package.name);
  Plan plan;
  plan.slot = slot;
  plan.package = &package;
  plan.record = record != nullptr ? record : &NoRecord();
  plan.assignment = state_.Find(package.name);
  const bool intent_forgotten =  // DELIBERATE BUG (simulator only).
      mutations_.intent_lost_on_coordinator_change && plan.record->intent &&
      plan.record->intent->index < live_.term_start;
  if (plan.record->intent && !intent_forgotten) {
    Intent(std::move(plan));
  } else if (intent_forgotten) {
    return;
  } else if (state_.PackageInMaintenance(package.name) &&
             !(plan.record->pending && plan.record->pending->second == CommandKind::kRun)) {
    InMaintenance(std::move(plan));  // An operator's run still starts it (Unowned).
  } else if (plan.assignment != nullptr && !plan.assignment->Free()) {
    Owned(std::move(plan));
  } else {
    Unowned(std::move(plan));
  }
}

bool Decider::CertainlyExpired(const NodeName& node) {
  const auto it = live_.certain_expiry.find(node);
  if (it == live_.certain_expiry.end()) return false;  // Unknown yet: keep waiting.
  if (live_.now >= it->second) return true;
  Wake(it->second);
  return false;
}

PlacementRequest Decider::Request(const Plan& plan, std::string why, std::set<NodeName> avoid,
                                  std::optional<NodeName> target) const {
  return PlacementRequest{.package = plan.package->name,
                          .why = std::move(why),
                          .avoid = std::move(avoid),
                          .target = std::move(target)};
}

// A note is proposed only when it changes (so a package that stays down never loops),
// or when it must end a pending run.
void Decider::Note(const Plan& plan, std::string note) {
  const bool ends_run = plan.record->pending && plan.record->pending->second == CommandKind::kRun;
  if (note == plan.record->note && !ends_run) return;
  Add(plan.slot,
      NoteOp{.package = plan.package->name, .note = std::move(note), .ends_run = ends_run});
}

void Decider::Done(const Plan& plan, bool ok, std::string message) {
  Add(plan.slot, IntentDoneOp{.package = plan.package->name,
                              .intent = plan.record->intent->index,
                              .ok = ok,
                              .message = std::move(message)});
}

// --- Owned packages ----------------------------------------------------------------

void Decider::Owned(Plan plan) {
  const Assignment& a = *plan.assignment;
  const NodeName& owner = *a.owner;
  if (!Reachable(owner)) {
    OwnerLost(std::move(plan));
    return;
  }
  if (a.status == AssignmentStatus::kHaltFailed || a.release_requested) return;
  const PackageSpec& package = *plan.package;
  if (!DependencyBroken(package, config_, state_, owner).empty()) {
    Add(plan.slot,
        ReleaseOp{.resource = package.name, .epoch = a.epoch, .why = ActionReason::kDependency});
    return;
  }
  // dependencies.h: its dependents halt first (they see it leaving and release).
  const std::vector<std::string> dependents = LiveDependents(dependents_, state_, package.name);
  const bool dependents_run = !dependents.empty();
  const std::string dependents_wait =
      package.name.value() +
      ": waiting for its dependents to halt first: " + Join(dependents, ", ");
  if (!plan.record->Wanted(package.auto_run)) {
    if (dependents_run) return Note(plan, dependents_wait);
    Add(plan.slot,
        ReleaseOp{.resource = package.name, .epoch = a.epoch, .why = ActionReason::kHalt});
    return;
  }
  const bool up = a.status == AssignmentStatus::kStarted;
  if (state_.NodeHalted(owner)) {
    if (dependents_run) return Note(plan, dependents_wait);
    const config::ShutdownPolicy policy = package.shutdown_policy.value_or(config_.shutdown_policy);
    if (policy == config::ShutdownPolicy::kMigrate && up) {
      plan.kind = PlanKind::kNodeHalt;
      plan.request =
          Request(plan, owner.value() + " halted", With(plan.record->failed_nodes, owner));
      plans_.push_back(std::move(plan));
    } else {
      Add(plan.slot,
          ReleaseOp{.resource = package.name, .epoch = a.epoch, .why = ActionReason::kNodeHalt});
    }
    return;
  }
  if (state_.NodeInMaintenance(owner)) {
    LeaveMaintenanceNode(std::move(plan));
    return;
  }
  if (!up || package.failback_policy != config::FailbackPolicy::kAutomatic ||
      package.failover_policy != config::FailoverPolicy::kConfiguredNode || dependents_run ||
      std::any_of(package.depends_on.begin(), package.depends_on.end(),
                  [](const config::Dependency& d) {
                    return d.location == config::DependencyLocation::kSameNode;
                  })) {
    return;  // A failback would take it from its dependents, or from its same_node one.
  }
  // Failback: only the nodes before the owner in the list are candidates. A cheap look
  // first, so a package already home (the usual case) builds no view.
  std::set<NodeName> avoid = With(plan.record->failed_nodes, owner);
  bool preferred_up = false;
  bool before = true;
  for (const NodeName& node : index_.NodesOf(package)) {
    if (node == owner) before = false;
    if (!before) {
      avoid.insert(node);
    } else if (up_members_.contains(node) && !plan.record->failed_nodes.contains(node) &&
               !plan.record->switching_off.contains(node)) {
      preferred_up = true;
    }
  }
  if (!preferred_up || before) return;  // `before`: the owner is not in the list.
  plan.kind = PlanKind::kFailback;
  plan.request = Request(plan, "failback from " + owner.value(), std::move(avoid));
  plans_.push_back(std::move(plan));
}

// --- Maintenance (issue 10) ----------------------------------------------------------

// A package in maintenance (its own, or its owner frozen): no automatic action at all —
// no start, restart, relocation, failover (a lost owner keeps it: nothing can run it
// twice), failback or node-halt handling. Only the note says what is not being done.
void Decider::InMaintenance(Plan plan) {
  const Assignment* a = plan.assignment;
  const bool owned = a != nullptr && a->owner && !a->Free();
  const std::string why = owned && !plan.record->maintenance
                              ? a->owner->value() + " is frozen for maintenance"
                              : "in maintenance";
  std::string note;
  if (owned && !Reachable(*a->owner)) {
    note = why + ": " + a->owner->value() + " is lost; not failed over (it stays assigned " +
           "there until maintenance ends)";
  } else if (owned) {
    note = why + ": not monitored; no restart, failover or move";
  } else if (a != nullptr && a->owner && a->status == AssignmentStatus::kFailed) {
    note = why + ": " + std::string(AssignmentStatusName(a->status)) + " on " + a->owner->value() +
           "; not restarted or relocated";
  } else {
    note = why + ": not started automatically (pkgctl run starts it)";
  }
  Note(plan, std::move(note));
}

// `node maintenance NODE on` without --freeze: as `node halt` with shutdown_policy
// migrate, except that a package nobody can take stays up where it is (a note says why).
void Decider::LeaveMaintenanceNode(Plan plan) {
  const NodeName owner = *plan.assignment->owner;
  if (plan.assignment->status != AssignmentStatus::kStarted) return;  // Moves once up.
  // depends_on: a move would halt its dependents, or take it from its same_node
  // dependency (dependencies.h); it stays, and says why.
  const PackageSpec& package = *plan.package;
  const std::vector<std::string> dependents = LiveDependents(dependents_, state_, package.name);
  const auto same_node = std::find_if(package.depends_on.begin(), package.depends_on.end(),
                                      [](const config::Dependency& d) {
                                        return d.location == config::DependencyLocation::kSameNode;
                                      });
  if (!dependents.empty() || same_node != package.depends_on.end()) {
    Note(plan, owner.value() + " is in maintenance, but " + package.name.value() +
                   " stays there: " +
                   (dependents.empty()
                        ? "it depends on " + same_node->package.value() + " on the same node"
                        : Join(dependents, ", ") + " depend on it"));
    return;
  }
  plan.kind = PlanKind::kMaintenanceMove;
  plan.request =
      Request(plan, owner.value() + " is in maintenance", With(plan.record->failed_nodes, owner));
  plans_.push_back(std::move(plan));
}

// L4/N2: nothing moves before the owner's lease has certainly expired.
void Decider::OwnerLost(Plan plan) {
  const Assignment& a = *plan.assignment;
  const NodeName owner = *a.owner;
  if (!CertainlyExpired(owner)) return;
  if (a.status == AssignmentStatus::kHaltFailed && !live_.watchdog_fence &&
      !mutations_.halt_failed_reassigned) {
    Note(plan, "halt_failed on " + owner.value() + ", which is lost: it may still run; " +
                   "clear with --owner-is-down " + owner.value());
    return;
  }
  const bool wanted = plan.record->Wanted(plan.package->auto_run);
  // Not started (a forced cluster halt asked every package to stop): nothing fails over.
  if (wanted && plan.record->Switching(plan.package->auto_run) && started_) {
    plan.revoke = owner;
    plan.unassign_if_none = true;
    Failover(std::move(plan), owner.value() + " lost");
    return;
  }
  decision_.revokes.insert(owner);
  Add(plan.slot, UnassignOp{.package = plan.package->name,
                            .from_epoch = a.epoch,
                            .reason = owner.value() + " lost; " +
                                      (!started_ ? std::string("the cluster is halted")
                                       : wanted  ? "global switching is off"
                                                 : "not to run"),
                            .over_halt_failed = a.status == AssignmentStatus::kHaltFailed});
}

// --- Free packages -----------------------------------------------------------------

void Decider::Unowned(Plan plan) {
  const PackageRecord& record = *plan.record;
  const PackageSpec& package = *plan.package;
  const Assignment* a = plan.assignment;
  if (record.pending && record.pending->second == CommandKind::kRun) {
    plan.request = Request(plan, "operator run", record.failed_nodes, record.run_target);
    plans_.push_back(std::move(plan));
    return;
  }
  if (!record.Wanted(package.auto_run) || !record.Switching(package.auto_run)) {
    // Not to run, or not automatically. A failed restart needs no switching (it stays
    // on its node); relocating it does, which RestartOrRelocate checks.
    const bool restart = a != nullptr && a->owner && a->status == AssignmentStatus::kFailed &&
                         Restartable(a->failure) && record.Wanted(package.auto_run) &&
                         record.restarts < package.max_restarts;
    if (restart) RestartOrRelocate(std::move(plan));
    return;
  }
  if (!started_) {
    if (waiting_.empty()) return;  // The cluster is halted.
    // The time left is written once per change of the stable part: a note that changed
    // every second would be proposed on every call.
    if (!record.note.starts_with(waiting_ + " (")) Note(plan, waiting_ + waiting_left_);
    return;
  }
  if (a == nullptr || !a->owner) {
    plan.request = Request(plan, starting_now_ ? "cluster start" : "start", record.failed_nodes);
    plans_.push_back(std::move(plan));
    return;
  }
  const NodeName& owner = *a->owner;
  switch (a->status) {
    case AssignmentStatus::kFailed:
      if (Restartable(a->failure)) {
        RestartOrRelocate(std::move(plan));
      } else if (a->failure == FailureKind::kExit1) {
        // Wanted again after exit 1 (enable): a start, as after a halt.
        plan.request = Request(plan, "start", record.failed_nodes);
        plans_.push_back(std::move(plan));
      } else {
        Failover(std::move(plan),
                 "failed on " + owner.value() + " (" + FailureText(a->failure) + ")");
      }
      return;
    case AssignmentStatus::kFenced:
      Failover(std::move(plan), "fenced on " + owner.value());
      return;
    default:  // kHalted: after a node halt or an ended move, a failover; else a start.
      if (a->halt_reason == ActionReason::kNodeHalt || a->halt_reason == ActionReason::kMove ||
          a->halt_reason == ActionReason::kFailback) {
        Failover(std::move(plan), "halted on " + owner.value());
      } else {
        plan.request = Request(plan, "start", record.failed_nodes);
        plans_.push_back(std::move(plan));
      }
      return;
  }
}

// The node it leaves is avoided; unless its owner was lost (unreachable), that node may
// still take it when no other can (Serviceguard restarts a package on its returning node
// when no adoptive node is up): a fence or a crash is not the package's fault.
void Decider::Failover(Plan plan, const std::string& why) {
  const NodeName owner = *plan.assignment->owner;
  if (mutations_.failover_without_validation) {  // DELIBERATE BUG (simulator only).
    for (const NodeName& node : index_.NodesOf(*plan.package)) {
      if (node != owner && up_members_.contains(node)) {
        if (plan.revoke) decision_.revokes.insert(*plan.revoke);
        Add(plan.slot, AssignOp{.resource = plan.package->name,
                                .node = node,
                                .from_epoch = plan.assignment->epoch,
                                .reason = why + "; unvalidated",
                                .why = ActionReason::kFailover});
        return;
      }
    }
  }
  plan.owner_if_none = !plan.unassign_if_none;
  plan.why = ActionReason::kFailover;
  plan.request = Request(plan, why, With(plan.record->failed_nodes, owner));
  plans_.push_back(std::move(plan));
}

// DESIGN.md section 5, restart then relocate.
void Decider::RestartOrRelocate(Plan plan) {
  const Assignment& a = *plan.assignment;
  const NodeName& owner = *a.owner;
  const uint32_t restarts = plan.record->restarts;
  // A same_node dependency up on another node: a restart here would wait for it forever
  // (sim seed 365 --swarm --maintenance 0.2), so follow it there.
  const DependencyGate anywhere =
      CheckDependencies(*plan.package, state_, up_members_, std::nullopt);
  if (restarts >= plan.package->max_restarts ||
      (anywhere.met && anywhere.node && *anywhere.node != owner)) {
    Relocate(std::move(plan));
    return;
  }
  plan.why = ActionReason::kRestart;
  plan.relocate_if_none = true;
  plan.request = Request(plan,
                         "failed on " + owner.value() + " (" + FailureText(a.failure) +
                             "); restart " + std::to_string(restarts + 1) + " of " +
                             std::to_string(plan.package->max_restarts),
                         {}, owner);
  plans_.push_back(std::move(plan));
}

void Decider::Relocate(Plan plan) {
  const Assignment& a = *plan.assignment;
  const NodeName owner = *a.owner;
  const PackageSpec& package = *plan.package;
  const std::string why = "failed on " + owner.value() + " (" + FailureText(a.failure) + ")";
  const auto max_relocations =
      package.max_relocations.value_or(static_cast<uint32_t>(index_.NodesOf(package).size()));
  if (!plan.record->Switching(package.auto_run)) {
    Note(plan, package.name.value() + ": " + why + "; not relocated: global switching is off");
    return;
  }
  if (plan.record->relocations >= max_relocations) {
    Note(plan, package.name.value() + ": " + why + "; not relocated: " +
                   std::to_string(max_relocations) + " relocations (max_relocations) done");
    return;
  }
  plan.kind = PlanKind::kAssign;
  plan.why = ActionReason::kFailover;
  plan.relocate_if_none = false;
  plan.remember = owner;
  plan.request = Request(plan, why, With(plan.record->failed_nodes, owner));
  plans_.push_back(std::move(plan));
}

// --- Intents -----------------------------------------------------------------------

std::string IntentWhy(const node::Intent& intent) {
  switch (intent.kind) {
    case IntentKind::kFailback:
      return "failback to " + intent.target.value();
    case IntentKind::kNodeHalt:
      return intent.source.value() + " halted; move to " + intent.target.value();
    case IntentKind::kMove:
      break;
  }
  return "move to " + intent.target.value();
}

void Decider::Intent(Plan plan) {
  const node::Intent& intent = *plan.record->intent;
  const Assignment* a = plan.assignment;
  switch (intent.step) {
    case IntentStep::kValidating:
      if (a == nullptr || a->epoch != intent.source_epoch ||
          a->status != AssignmentStatus::kStarted) {
        Done(plan, false, "not up on " + intent.source.value() + " any more");
        return;
      }
      if (const std::vector<std::string> live =
              LiveDependents(dependents_, state_, plan.package->name);
          !live.empty()) {
        Done(plan, false, "refused: " + Join(live, ", ") + " depends on it; halt it first");
        return;
      }
      if (const DependencyGate gate =
              CheckDependencies(*plan.package, state_, up_members_, intent.target);
          !gate.met) {
        Done(plan, false, "refused: " + gate.waiting);
        return;
      }
      plan.kind = PlanKind::kValidate;
      plan.request = Request(plan, IntentWhy(intent), {}, intent.target);
      plans_.push_back(std::move(plan));
      return;
    case IntentStep::kHalting:
      IntentHalting(std::move(plan), intent);
      return;
    case IntentStep::kStarting:
      IntentStarting(std::move(plan), intent);
      return;
    case IntentStep::kReturning:
      IntentReturning(std::move(plan), intent);
      return;
  }
}

void Decider::IntentHalting(Plan plan, const node::Intent& intent) {
  const Assignment* a = plan.assignment;
  if (a == nullptr || a->epoch != intent.source_epoch) {
    Done(plan, false, "interrupted: reassigned while halting on " + intent.source.value());
    return;
  }
  if (a->status == AssignmentStatus::kHaltFailed) {
    Done(plan, false, "halt failed on " + intent.source.value());
    return;
  }
  if (!a->Free() && !mutations_.start_before_halted) {  // The mutation: DELIBERATE BUG.
    if (Reachable(intent.source) || !CertainlyExpired(intent.source)) return;
    plan.revoke = intent.source;  // Lost while halting: its lease certainly expired.
  }
  plan.kind = PlanKind::kIntentTarget;
  plan.why = intent.kind == IntentKind::kFailback ? ActionReason::kFailback : ActionReason::kMove;
  plan.request = Request(plan, IntentWhy(intent), {}, intent.target);
  plans_.push_back(std::move(plan));
}

void Decider::IntentStarting(Plan plan, const node::Intent& intent) {
  const Assignment* a = plan.assignment;
  if (a == nullptr || a->owner != intent.target || a->epoch <= intent.source_epoch) {
    Done(plan, false, "interrupted: reassigned while starting on " + intent.target.value());
    return;
  }
  if (a->status == AssignmentStatus::kHaltFailed) {
    Done(plan, false, "start on " + intent.target.value() + " failed and halt_failed");
    return;
  }
  if (a->status == AssignmentStatus::kFailed && a->failure == FailureKind::kExit1) {
    Done(plan, false, "start on " + intent.target.value() + " failed (run script exit 1)");
    return;
  }
  if (!a->Free()) {
    if (Reachable(intent.target) || !CertainlyExpired(intent.target)) return;
    plan.revoke = intent.target;
  }
  plan.kind = PlanKind::kIntentReturn;
  plan.why = ActionReason::kMove;
  if (intent.kind == IntentKind::kFailback) {
    // The coordinator's own wish failed there: remember the node, or the next Decide
    // would fail back to it again, forever (sim seed 821 --swarm). An operator's move
    // is the operator's to retry.
    plan.remember = intent.target;
  }
  plan.request = Request(
      plan, "start on " + intent.target.value() + " failed; back to " + intent.source.value(), {},
      intent.source);
  plans_.push_back(std::move(plan));
}

void Decider::IntentReturning(Plan plan, const node::Intent& intent) {
  const Assignment* a = plan.assignment;
  if (a == nullptr || a->owner != intent.source) {
    Done(plan, false, "interrupted: reassigned while returning to " + intent.source.value());
    return;
  }
  const bool lost = !a->Free() && !Reachable(intent.source) && CertainlyExpired(intent.source);
  if (a->Free() || a->status == AssignmentStatus::kHaltFailed || lost) {
    Done(plan, false,
         "start on " + intent.target.value() + " failed, and back on " + intent.source.value() +
             " too");
  }
}

// --- Placement ---------------------------------------------------------------------

// Every request of the call in one PlaceBatch (the tally), then, on the same view, the
// second choices of the refused ones (a refused restart relocates, a refused move target
// returns to the source, a failover nobody else takes goes back to its node).
void Decider::PlaceAll() {
  const validation::ClusterFacts facts = FactsOf(state_, live_);
  validation::ClusterView view(index_, facts);
  view_ = &view;
  std::vector<Plan> round = std::move(plans_);
  plans_.clear();  // Relocate queues second choices here (EmitUnplaced).
  for (int pass = 0; pass < 2 && !round.empty(); ++pass) {
    std::erase_if(round, [this](Plan& plan) { return !Gate(plan); });
    if (pass == 0) HoldDisplacedRoom(view, round);
    std::vector<PlacementRequest> requests;
    requests.reserve(round.size());
    for (const Plan& plan : round) requests.push_back(plan.request);
    std::vector<PlacementDecision> decisions;
    if (mutations_.capacity_not_tallied) {  // DELIBERATE BUG (simulator only).
      for (const PlacementRequest& request : requests) {
        decisions.push_back(placement::PlaceBatch(index_, facts, {request}).front());
      }
    } else {
      decisions = placement::PlaceBatch(view, requests);
    }
    std::vector<Plan> next;
    for (size_t i = 0; i < round.size(); ++i) Emit(round[i], decisions[i], next);
    round = std::move(next);
  }
  view_ = nullptr;
}

// Issue 10 (displacement.h, "Held room"): the room a displacement freed is held for its
// displacer when this call places it, before any request of the call is decided. Only
// where the displacer fits now, or is refused for capacity alone while its victims still
// halt there: a node it can no longer take (down, in maintenance, switching off, tried
// before, or its room taken by a higher priority) would otherwise be kept from the
// victims for as long as the displacer waits.
void Decider::HoldDisplacedRoom(validation::ClusterView& view,
                                const std::vector<Plan>& round) const {
  const std::map<PackageName, std::map<NodeName, bool>> held = HeldForDisplacers(config_, state_);
  if (held.empty()) return;
  for (const Plan& plan : round) {
    if (plan.kind != PlanKind::kAssign) continue;
    const auto it = held.find(plan.package->name);
    if (it == held.end()) continue;
    for (const auto& [node, halting] : it->second) {
      if (plan.record->failed_nodes.contains(node)) continue;
      const validation::ValidationResult result =
          validation::ValidateMigration(*plan.package, node, view);
      const bool capacity_only = std::all_of(
          result.violations.begin(), result.violations.end(), [](const validation::Violation& v) {
            return v.code == validation::ViolationCode::kInsufficientCapacity;
          });
      if (result.ok() || (halting && capacity_only)) view.Reserve(plan.package->name, node);
    }
  }
}

// depends_on's start wait (dependencies.h) for a start, restart, relocation, failover or
// a move's start: false when the plan waits (noted, its lost owner's assignment given
// up, or the move ended); a same_node dependency fixes the target.
bool Decider::Gate(Plan& plan) {
  const bool intent = plan.kind == PlanKind::kIntentTarget || plan.kind == PlanKind::kIntentReturn;
  if ((plan.kind != PlanKind::kAssign && !intent) || plan.package->depends_on.empty()) {
    return true;
  }
  DependencyGate gate = CheckDependencies(*plan.package, state_, up_members_, plan.request.target);
  for (const config::Dependency& dependency : plan.package->depends_on) {
    if (gate.met && displaced_now_.contains(dependency.package)) {  // Released this call.
      gate = DependencyGate{.met = false,
                            .node = std::nullopt,
                            .waiting = "waiting for " + dependency.package.value() +
                                       " (depends_on; it is being displaced)"};
    }
  }
  if (gate.met) {
    if (gate.node) plan.request.target = gate.node;
    return true;
  }
  if (intent) {  // Halted already: it stays down and starts once its dependency is up.
    Done(plan, false, "interrupted: " + gate.waiting);
    return false;
  }
  const std::string why = plan.package->name.value() + ": " + gate.waiting;
  if (plan.unassign_if_none) {
    decision_.revokes.insert(*plan.revoke);
    Add(plan.slot, UnassignOp{.package = plan.package->name,
                              .from_epoch = plan.assignment->epoch,
                              .reason = plan.request.why + "; " + gate.waiting,
                              .over_halt_failed = OverHaltFailed(plan)});
  } else {
    Note(plan, why);
  }
  return false;
}

// AssignOp::needs_up: the epochs of the dependencies Gate saw up.
std::map<PackageName, LogIndex> Decider::NeedsUp(const PackageSpec& package) const {
  std::map<PackageName, LogIndex> needs;
  for (const config::Dependency& dependency : package.depends_on) {
    if (const Assignment* a = state_.Find(dependency.package)) needs[dependency.package] = a->epoch;
  }
  return needs;
}

void Decider::Emit(const Plan& plan, const PlacementDecision& decision, std::vector<Plan>& next) {
  if (!decision.node) {
    if (plan.kind != PlanKind::kFailback) {
      std::set<validation::ViolationCode>& codes = (*decision_.refusals)[plan.package->name];
      for (const placement::CandidateVerdict& verdict : decision.candidates) {
        for (const validation::Violation& violation : verdict.result.violations) {
          codes.insert(violation.code);
        }
      }
      if (codes.empty()) decision_.refusals->erase(plan.package->name);  // Avoided only.
    }
    EmitUnplaced(plan, decision, next);
    return;
  }
  const NodeName& node = *decision.node;
  const PackageName& name = plan.package->name;
  const LogIndex from = plan.assignment != nullptr ? plan.assignment->epoch : LogIndex(0);
  if (plan.revoke) decision_.revokes.insert(*plan.revoke);
  switch (plan.kind) {
    case PlanKind::kAssign:
    case PlanKind::kIntentTarget:
    case PlanKind::kIntentReturn:
      Add(plan.slot, AssignOp{.resource = name,
                              .node = node,
                              .from_epoch = from,
                              .reason = decision.reason,
                              .why = plan.why,
                              .remember = plan.remember,
                              .needs_up = NeedsUp(*plan.package),
                              .over_halt_failed = OverHaltFailed(plan)});
      if (plan.kind != PlanKind::kAssign) {
        Add(plan.slot,
            IntentStepOp{.package = name,
                         .intent = plan.record->intent->index,
                         .step = plan.kind == PlanKind::kIntentTarget ? IntentStep::kStarting
                                                                      : IntentStep::kReturning,
                         .reason = decision.reason});
      }
      return;
    case PlanKind::kNodeHalt:
    case PlanKind::kFailback:
      Add(plan.slot, MoveOp{.package = name,
                            .target = node,
                            .kind = plan.kind == PlanKind::kNodeHalt ? IntentKind::kNodeHalt
                                                                     : IntentKind::kFailback,
                            .vcpus = std::nullopt,
                            .memory_mb = std::nullopt,
                            .by = kCoordinator});
      return;
    case PlanKind::kMaintenanceMove:
      Add(plan.slot, MoveOp{.package = name,
                            .target = node,
                            .kind = IntentKind::kNodeHalt,
                            .vcpus = std::nullopt,
                            .memory_mb = std::nullopt,
                            .by = std::string(kCoordinator) + ": " +
                                  plan.assignment->owner->value() + " is in maintenance"});
      return;
    case PlanKind::kValidate:
      Add(plan.slot,
          IntentStepOp{.package = name,
                       .intent = plan.record->intent->index,
                       .step = IntentStep::kHalting,
                       .reason = name.value() + ": " + node.value() + " validated; halting on " +
                                 plan.record->intent->source.value()});
      return;
  }
}

void Decider::EmitUnplaced(const Plan& plan, const PlacementDecision& decision,
                           std::vector<Plan>& next) {
  const PackageName& name = plan.package->name;
  switch (plan.kind) {
    case PlanKind::kAssign:
      if (plan.relocate_if_none) {
        Relocate(plan);  // Queues the relocation in plans_, or notes why not.
        for (Plan& relocation : plans_) next.push_back(std::move(relocation));
        plans_.clear();
        return;
      }
      if (plan.owner_if_none) {
        Plan again = plan;
        again.owner_if_none = false;
        again.request.avoid = plan.record->failed_nodes;
        next.push_back(std::move(again));
        return;
      }
      if (plan.unassign_if_none) {
        // Down, owned by nobody: placed when a node can take it (its own node back
        // included). The note comes from that next call's placement, not from this
        // one's: two notes in a row would differ only in their first words.
        decision_.revokes.insert(*plan.revoke);
        Add(plan.slot, UnassignOp{.package = name,
                                  .from_epoch = plan.assignment->epoch,
                                  .reason = decision.reason,
                                  .over_halt_failed = OverHaltFailed(plan)});
        return;
      }
      if (Displace(plan, decision)) return;
      Note(plan, UnplacedNote(plan, decision.reason));
      return;
    case PlanKind::kNodeHalt:
      Add(plan.slot,
          ReleaseOp{
              .resource = name, .epoch = plan.assignment->epoch, .why = ActionReason::kNodeHalt});
      return;
    case PlanKind::kFailback:
      return;
    case PlanKind::kMaintenanceMove:
      // Never halted by surprise: it stays where it runs, and the note says why.
      Note(plan, plan.assignment->owner->value() + " is in maintenance, but " + name.value() +
                     " stays there: no node can take it (" + decision.reason + ")");
      return;
    case PlanKind::kValidate:
      Done(plan, false, "refused: " + RefusalText(decision));
      return;
    case PlanKind::kIntentTarget: {
      const node::Intent& intent = *plan.record->intent;
      Plan back = plan;
      back.kind = PlanKind::kIntentReturn;
      back.why = ActionReason::kMove;
      back.request = Request(plan,
                             intent.target.value() + " refused (" + RefusalText(decision) +
                                 "); back to " + intent.source.value(),
                             {}, intent.source);
      next.push_back(std::move(back));
      return;
    }
    case PlanKind::kIntentReturn:
      Done(plan, false,
           "not back on " + plan.record->intent->source.value() + ": " + RefusalText(decision));
      return;
  }
}

// --- Priority displacement (issue 10, displacement.h) ---------------------------------

bool Decider::Displace(const Plan& plan, const PlacementDecision& decision) {
  if (plan.request.target.has_value() || view_ == nullptr) return false;  // Operator's target.
  const PackageSpec& package = *plan.package;
  const std::optional<Displacement> found =
      FindDisplacement(package, decision.candidates,
                       DisplacementInputs{.view = *view_,
                                          .state = state_,
                                          .dependents = dependents_,
                                          .released_now = displaced_now_});
  if (!found) return false;
  for (const PackageName& victim : found->victims) {
    displaced_now_.insert(victim);
    Add(plan.slot, ReleaseOp{.resource = victim,
                             .epoch = state_.Find(victim)->epoch,
                             .why = ActionReason::kDisplaced,
                             .displacer = package.name,
                             .displacer_epoch = plan.assignment != nullptr
                                                    ? plan.assignment->epoch
                                                    : LogIndex(0)});
    Add(plan.slot, NoteOp{.package = victim, .note = DisplacedByNote(package), .ends_run = false});
  }
  // Never ends a pending run: the run goes on once the victims halted.
  std::string note = DisplacementWaitNote(package, *found);
  if (note != plan.record->note) {
    Add(plan.slot, NoteOp{.package = package.name, .note = std::move(note), .ends_run = false});
  }
  return true;
}

// A package displaced earlier keeps saying so while no node can take it.
std::string Decider::UnplacedNote(const Plan& plan, const std::string& reason) const {
  const Assignment* a = plan.assignment;
  if (a == nullptr || a->halt_reason != ActionReason::kDisplaced ||
      a->status != AssignmentStatus::kHalted) {
    return reason;
  }
  const std::string by = DisplacedByPrefix(plan.record->note);
  return by.empty() ? reason : by + "; " + reason;
}

}  // namespace

ClusterStartGate CheckClusterStart(const config::ClusterConfig& config,
                                   const validation::ConfigIndex& index, const ClusterState& state,
                                   const Liveness& liveness) {
  ClusterStartGate gate;
  if (state.cluster_started() || state.cluster_halted()) return gate;
  for (const NodeName& member : config.Members()) {
    if (state.NodeHalted(member)) continue;
    ++gate.members;
    if (!liveness.up.contains(member)) gate.waiting_for.push_back(member);
  }
  bool runs = false;
  for (const auto& [package, assignment] : state.assignments()) {
    if (assignment.Free() || assignment.release_requested) continue;
    const PackageSpec* spec = index.FindPackage(package);
    const PackageRecord* record = state.FindPackage(package);
    const bool auto_run = spec == nullptr || spec->auto_run;
    runs = runs || (record == nullptr ? auto_run : record->Wanted(auto_run));
  }
  const std::string count = std::to_string(gate.members - gate.waiting_for.size()) + " of " +
                            std::to_string(gate.members) + " up";
  gate.deadline = liveness.leader_since + config.cluster_start_wait;
  gate.verdict = ClusterStartGate::Verdict::kStart;
  if (runs) {
    gate.reason = "packages already run (a coordinator change)";
  } else if (gate.waiting_for.empty()) {
    gate.reason = "every member is up (" + count + ")";
  } else if (liveness.now >= gate.deadline) {
    gate.reason = "cluster_start_wait (" + FormatDuration(config.cluster_start_wait) +
                  ") passed with " + count;
  } else {
    gate.verdict = ClusterStartGate::Verdict::kWaiting;
  }
  return gate;
}

Decision Decide(const config::ClusterConfig& config, const validation::ConfigIndex& index,
                const ClusterState& state, const Liveness& liveness,
                const CoordinatorMutations& mutations) {
  return Decider(config, index, state, liveness, mutations).Run();
}

}  // namespace cmcl::node
