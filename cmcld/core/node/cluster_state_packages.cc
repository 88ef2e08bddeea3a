// ClusterState: the apply of issue 7's package, node and cluster ops (cluster_state.h).
// Every op here either changes the state and says so in the event ring, or ends the
// operator command it answers with an outcome; none can fail the batch.
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "cmcld/core/common/check.h"
#include "cmcld/core/node/cluster_state.h"

namespace cmcl::node {
namespace {

std::string At(LogIndex index) { return std::to_string(index.value()); }

bool Owned(const Assignment* a) {
  return a != nullptr && a->owner &&
         (a->status == AssignmentStatus::kAssigned || a->status == AssignmentStatus::kStarted);
}

// Whether the report `op` (at the current epoch) ends `intent`, and how (IntentStep in
// cluster_state.h): the target's start ends a move ok; the source's start while
// returning, its failure, and a halt_failed at the step's node end it failed.
std::optional<std::pair<bool, std::string>> IntentEndFor(const Intent& intent, const ReportOp& op) {
  const bool at_target = intent.step == IntentStep::kStarting && op.node == intent.target;
  const bool at_source = intent.step == IntentStep::kReturning && op.node == intent.source;
  const std::string& target = intent.target.value();
  switch (op.kind) {
    case ReportKind::kStarted:
      if (at_target) {
        return std::pair(true, "moved to " + target);
      }
      if (at_source) {
        return std::pair(false, "the start on " + target + " failed; back on " + op.node.value());
      }
      break;
    case ReportKind::kFailed:
      if (at_source) {
        return std::pair(false, "the start on " + target + " failed and so did the return to " +
                                    op.node.value());
      }
      break;
    case ReportKind::kHaltFailed:
      if (intent.step == IntentStep::kHalting) {
        return std::pair(
            false, "the halt on " + op.node.value() + " failed; the guest may still run there");
      }
      if (at_target || at_source) {
        // A failed start that could not be cleaned up: the guest may run there, so the
        // package can neither go on nor go back; the intent ends rather than hang.
        return std::pair(false, "the start on " + op.node.value() +
                                    " failed and could not be cleaned up; the guest may "
                                    "still run there");
      }
      break;
    default:
      break;
  }
  return std::nullopt;
}

}  // namespace

void PackageRecord::SetOutcome(Outcome o) {
  if (outcome) {
    earlier.push_back(std::move(*outcome));
    if (earlier.size() > kEarlierOutcomes) {
      earlier.erase(earlier.begin());
    }
  }
  outcome = std::move(o);
}

const PackageRecord* ClusterState::FindPackage(const PackageName& package) const {
  const auto it = packages_.find(package);
  return it == packages_.end() ? nullptr : &it->second;
}

bool ClusterState::NodeHalted(const NodeName& node) const {
  const auto it = nodes_.find(node);
  return it != nodes_.end() && it->second.halted;
}

PackageStatus ClusterState::StatusOf(const PackageName& package) const {
  const Assignment* a = Find(package);
  if (a == nullptr || !a->owner) {
    return PackageStatus::kDown;
  }
  switch (a->status) {
    case AssignmentStatus::kAssigned:
      return a->release_requested ? PackageStatus::kHalting : PackageStatus::kStarting;
    case AssignmentStatus::kStarted:
      return a->release_requested ? PackageStatus::kHalting : PackageStatus::kUp;
    case AssignmentStatus::kFailed:
      return PackageStatus::kFailed;
    case AssignmentStatus::kHaltFailed:
      return PackageStatus::kHaltFailed;
    case AssignmentStatus::kHalted:
    case AssignmentStatus::kFenced:
      break;
  }
  return PackageStatus::kDown;
}

std::optional<Outcome> ClusterState::OutcomeOf(const PackageName& package, LogIndex command) const {
  const PackageRecord* record = FindPackage(package);
  if (record == nullptr) {
    return std::nullopt;
  }
  if (record->outcome && record->outcome->command == command) {
    return record->outcome;
  }
  for (const Outcome& earlier : record->earlier) {
    if (earlier.command == command) {
      return earlier;
    }
  }
  return std::nullopt;
}

void ClusterState::ApplyPackageOp(LogIndex index, const Op& op) {
  std::visit(
      [this, index](const auto& o) {
        using T = std::decay_t<decltype(o)>;
        if constexpr (std::is_same_v<T, RunOp>) {
          ApplyRun(index, o);
        } else if constexpr (std::is_same_v<T, HaltOp>) {
          ApplyHalt(index, o);
        } else if constexpr (std::is_same_v<T, MoveOp>) {
          ApplyMove(index, o);
        } else if constexpr (std::is_same_v<T, EnableOp>) {
          ApplyEnable(index, o);
        } else if constexpr (std::is_same_v<T, ClearOp>) {
          ApplyClear(index, o);
        } else if constexpr (std::is_same_v<T, NodeAdminOp>) {
          NodeRecord& node = nodes_[o.node];
          node.halted = o.halted;
          node.by = o.by;
          Event(index, false,
                o.node.value() + (o.halted ? ": halted by " : ": back in service by ") + o.by);
        } else if constexpr (std::is_same_v<T, ReadmitOp>) {
          NodeRecord& node = nodes_[o.node];
          node.node_id = o.node_id;
          node.by = o.by;
          Event(index, true, o.node.value() + ": readmitted with a new node_id by " + o.by);
        } else if constexpr (std::is_same_v<T, ClusterRunOp>) {
          cluster_started_ = true;
          cluster_halted_ = false;
          Event(index, false, "cluster run by " + o.by + ": placement starts");
        } else if constexpr (std::is_same_v<T, ClusterHaltOp>) {
          ApplyClusterHalt(index, o);
        } else if constexpr (std::is_same_v<T, ConfigProposeOp>) {
          ApplyConfigPropose(index, o);
        } else if constexpr (std::is_same_v<T, ConfigVerdictOp>) {
          ApplyConfigVerdict(index, o);
        } else if constexpr (std::is_same_v<T, ConfigApplyOp>) {
          ApplyConfigApply(index, o);
        } else if constexpr (std::is_same_v<T, ConfigAbortOp>) {
          ApplyConfigAbort(index, o);
        } else if constexpr (std::is_same_v<T, IntentStepOp>) {
          ApplyIntentStep(index, o);
        } else if constexpr (std::is_same_v<T, IntentDoneOp>) {
          ApplyIntentDone(index, o);
        } else if constexpr (std::is_same_v<T, NoteOp>) {
          ApplyNote(index, o);
        } else if constexpr (std::is_same_v<T, UnassignOp>) {
          ApplyUnassign(index, o);
        } else if constexpr (std::is_same_v<T, ClusterStartOp>) {
          cluster_started_ = true;
          Event(index, false, "cluster start: " + o.reason);
        } else if constexpr (std::is_same_v<T, MaintenanceOp>) {
          ApplyMaintenance(index, o);
        } else {
          CMCL_CHECK(false) << "not a package op";  // ApplyOp handles the others.
        }
      },
      op);
}

void ClusterState::ApplyRun(LogIndex index, const RunOp& op) {
  const Assignment* a = Find(op.package);
  PackageRecord& r = packages_[op.package];
  const std::string by = " (" + op.by + ")";
  const PackageStatus status = StatusOf(op.package);
  if (status == PackageStatus::kHaltFailed) {
    r.SetOutcome(Outcome{index, CommandKind::kRun, false,
                         "halt_failed on " + a->owner->value() +
                             ": it may still run there; clear it first (pkgctl clear)"});
    return;
  }
  if (status == PackageStatus::kUp || status == PackageStatus::kStarting) {
    const bool elsewhere = op.node && *op.node != *a->owner;
    r.SetOutcome(Outcome{
        index, CommandKind::kRun, !elsewhere,
        (status == PackageStatus::kUp ? "already up on " : "already starting on ") +
            a->owner->value() + (elsewhere ? "; use move to take it to " + op.node->value() : "")});
    if (!elsewhere && op.enable_switching) {
      r.switching = true;
    }
    return;
  }
  // Any command still waiting (a run, a halt still halting) ends here: its waiter must
  // hear that this run took over.
  End(index, op.package, false, "superseded by the run at " + At(index));
  r.wanted = true;
  if (op.enable_switching) {
    r.switching = true;
  }
  r.restarts = 0;
  r.relocations = 0;
  r.run_target = op.node;
  if (op.node) {
    r.failed_nodes.erase(*op.node);
  }
  r.note.clear();
  r.pending = std::pair(index, CommandKind::kRun);
  Event(index, false,
        op.package.value() + ": run" + (op.node ? " on " + op.node->value() : std::string()) + by);
}

void ClusterState::ApplyHalt(LogIndex index, const HaltOp& op) {
  Assignment* a = assignments_.contains(op.package) ? &assignments_[op.package] : nullptr;
  PackageRecord& r = packages_[op.package];
  r.wanted = false;
  r.switching = false;
  r.run_target.reset();
  if (r.pending) {
    End(index, op.package, false, "interrupted by a halt (" + op.by + ")");
  }
  if (r.intent) {
    EndIntent(index, op.package, false, "interrupted by a halt (" + op.by + ")");
  }
  Event(index, false, op.package.value() + ": halt (" + op.by + ")");
  if (Owned(a)) {
    a->release_requested = true;
    a->halt_reason = ActionReason::kHalt;
    r.pending = std::pair(index, CommandKind::kHalt);
    return;
  }
  const bool may_run = a != nullptr && a->status == AssignmentStatus::kHaltFailed;
  r.SetOutcome(Outcome{index, CommandKind::kHalt, !may_run,
                       may_run ? "halt_failed on " + a->owner->value() +
                                     ": it may still run there; clear it (pkgctl clear)"
                               : "already down"});
}

void ClusterState::ApplyMove(LogIndex index, const MoveOp& op) {
  const Assignment* a = Find(op.package);
  PackageRecord& r = packages_[op.package];
  std::string refusal;
  if (StatusOf(op.package) != PackageStatus::kUp) {
    refusal = "it is " + std::string(PackageStatusName(StatusOf(op.package))) +
              ", not up: only a running package can be moved";
  } else if (*a->owner == op.target) {
    refusal = "it already runs on " + op.target.value();
  } else if (r.intent) {
    refusal = "a " + std::string(IntentKindName(r.intent->kind)) + " to " +
              r.intent->target.value() + " is in progress";
  }
  if (!refusal.empty()) {
    if (op.kind == IntentKind::kMove) {
      r.SetOutcome(Outcome{index, CommandKind::kMove, false, refusal});
    }
    Event(index, false,
          op.package.value() + ": " + std::string(IntentKindName(op.kind)) + " to " +
              op.target.value() + " refused: " + refusal);
    return;
  }
  r.intent = Intent{.index = index,
                    .kind = op.kind,
                    .source = *a->owner,
                    .target = op.target,
                    .source_epoch = a->epoch,
                    .step = IntentStep::kValidating,
                    .vcpus = op.vcpus,
                    .memory_mb = op.memory_mb};
  Event(index, false,
        op.package.value() + ": " + std::string(IntentKindName(op.kind)) + " from " +
            a->owner->value() + " to " + op.target.value() + " (" + op.by + ")");
}

void ClusterState::ApplyEnable(LogIndex index, const EnableOp& op) {
  PackageRecord& r = packages_[op.package];
  const std::string what = op.enable ? "enabled" : "disabled";
  if (op.node) {
    if (op.enable) {
      r.switching_off.erase(*op.node);
      r.failed_nodes.erase(*op.node);
    } else {
      r.switching_off.insert(*op.node);
    }
    Event(index, false,
          op.package.value() + ": switching on " + op.node->value() + " " + what + " (" + op.by +
              ")");
  } else {
    r.switching = op.enable;
    if (op.enable) {
      r.wanted = true;  // cmmodpkg -e starts a halted package.
      r.note.clear();
    }
    Event(index, false, op.package.value() + ": global switching " + what + " (" + op.by + ")");
  }
  r.SetOutcome(Outcome{index, CommandKind::kEnable, true, "switching " + what});
}

void ClusterState::ApplyClear(LogIndex index, const ClearOp& op) {
  Assignment* a = assignments_.contains(op.package) ? &assignments_[op.package] : nullptr;
  PackageRecord& r = packages_[op.package];
  const auto done = [&](bool ok, std::string message) {
    r.SetOutcome(Outcome{index, CommandKind::kClear, ok, std::move(message)});
  };
  if (a != nullptr && a->status == AssignmentStatus::kHaltFailed) {
    if (!op.owner_is_down) {
      End(index, op.package, false, "superseded by the clear at " + At(index));
      a->clear_requested = true;
      r.pending = std::pair(index, CommandKind::kClear);
      Event(index, false,
            op.package.value() + ": clear (" + op.by + "): asking " + a->owner->value() +
                " whether the guest still runs");
      return;
    }
    if (*op.owner_is_down != *a->owner) {
      done(false, op.owner_is_down->value() + " is not the owner; " + a->owner->value() + " is");
      return;
    }
    a->status = AssignmentStatus::kFailed;
    a->failure = FailureKind::kLost;
    a->clear_requested = false;
    a->reason = "cleared by " + op.by + ": " + a->owner->value() + " declared down";
    Event(index, true, op.package.value() + ": halt_failed " + a->reason);
    // A clear that asked the (unreachable) owner ends too: nobody will answer it.
    End(index, op.package, true, "cleared: " + a->owner->value() + " declared down by " + op.by);
    done(true, "cleared: " + a->owner->value() + " declared down by " + op.by);
    return;
  }
  if (a != nullptr && a->status == AssignmentStatus::kFailed) {
    a->failure = FailureKind::kNone;
    r.failed_nodes.clear();
    r.restarts = 0;
    r.relocations = 0;
    Event(index, false, op.package.value() + ": failure cleared (" + op.by + ")");
    done(true, "failure and failed-node memory cleared");
    return;
  }
  done(true, "nothing to clear");
}

void ClusterState::ApplyClusterHalt(LogIndex index, const ClusterHaltOp& op) {
  std::string running;
  size_t count = 0;
  for (const auto& [package, a] : assignments_) {
    const PackageStatus status = StatusOf(package);
    if (status == PackageStatus::kUp || status == PackageStatus::kStarting ||
        status == PackageStatus::kHalting) {
      if (++count <= 5) {
        running += (running.empty() ? "" : ", ") + package.value() + " on " + a.owner->value();
      }
    }
  }
  if (count > 5) {
    running += " and " + std::to_string(count - 5) + " more";
  }
  if (count > 0 && !op.force) {
    cluster_outcome_ = Outcome{index, CommandKind::kHalt, false,
                               "packages are running (" + running +
                                   "); halt them first or use "
                                   "--force"};
    Event(index, false, "cluster halt refused (" + op.by + "): " + running + " running");
    return;
  }
  for (auto& [package, a] : assignments_) {
    if (Owned(&a)) {
      a.release_requested = true;
      a.halt_reason = ActionReason::kHalt;
    }
  }
  for (auto& [package, r] : packages_) {
    r.wanted.reset();
    r.switching.reset();
    r.run_target.reset();
    if (r.intent) {
      EndIntent(index, package, false, "interrupted by cluster halt");
    }
    if (r.pending) {
      End(index, package, false, "interrupted by cluster halt");
    }
  }
  cluster_started_ = false;
  cluster_halted_ = true;
  cluster_outcome_ = Outcome{index, CommandKind::kHalt, true,
                             count == 0 ? "cluster halted" : "halting " + running};
  Event(index, true, "cluster halt (" + op.by + ")" + (count ? ": halting " + running : ""));
}

void ClusterState::ApplyIntentStep(LogIndex index, const IntentStepOp& op) {
  PackageRecord* r = packages_.contains(op.package) ? &packages_[op.package] : nullptr;
  if (r == nullptr || !r->intent || r->intent->index != op.intent) {
    ++stale_assigns_;
    Event(index, false,
          op.package.value() + ": stale intent step for " + At(op.intent) + ": dropped");
    return;
  }
  Intent& intent = *r->intent;
  intent.step = op.step;
  if (op.step == IntentStep::kHalting) {
    const auto it = assignments_.find(op.package);
    if (it != assignments_.end() && it->second.epoch == intent.source_epoch && Owned(&it->second)) {
      it->second.release_requested = true;
      it->second.halt_reason = intent.kind == IntentKind::kNodeHalt   ? ActionReason::kNodeHalt
                               : intent.kind == IntentKind::kFailback ? ActionReason::kFailback
                                                                      : ActionReason::kMove;
    }
  }
  Event(index, false,
        op.package.value() + ": " + std::string(IntentKindName(intent.kind)) + " to " +
            intent.target.value() + " " + std::string(IntentStepName(op.step)) +
            (op.reason.empty() ? "" : " (" + op.reason + ")"));
}

void ClusterState::ApplyIntentDone(LogIndex index, const IntentDoneOp& op) {
  const PackageRecord* r = FindPackage(op.package);
  if (r == nullptr || !r->intent || r->intent->index != op.intent) {
    ++stale_assigns_;
    Event(index, false,
          op.package.value() + ": stale intent end for " + At(op.intent) + ": dropped");
    return;
  }
  EndIntent(index, op.package, op.ok, op.message);
}

void ClusterState::ApplyNote(LogIndex index, const NoteOp& op) {
  PackageRecord& r = packages_[op.package];
  if (r.note != op.note) {
    // Placement's reason lines name the package already ("p1: n1 lost; ...").
    const std::string prefix = op.package.value() + ": ";
    Event(index, false, op.note.starts_with(prefix) ? op.note : prefix + op.note);
  }
  r.note = op.note;
  if (op.ends_run && r.pending && r.pending->second == CommandKind::kRun) {
    r.run_target.reset();
    End(index, op.package, false, op.note);
  }
}

void ClusterState::ApplyUnassign(LogIndex index, const UnassignOp& op) {
  const auto it = assignments_.find(op.package);
  const LogIndex current = it == assignments_.end() ? LogIndex(0) : it->second.epoch;
  if (current != op.from_epoch || it == assignments_.end()) {
    ++stale_assigns_;
    Event(index, false,
          op.package.value() + ": stale unassign decided at epoch " + At(op.from_epoch) +
              ", current " + At(current) + ": dropped");
    return;
  }
  if (it->second.status == AssignmentStatus::kHaltFailed && !op.over_halt_failed) {
    ++stale_assigns_;
    Event(index, false,
          op.package.value() + ": unassign dropped: it is halt_failed (decided " +
              "before that report committed)");
    return;
  }
  Assignment& a = it->second;
  a = Assignment{};
  a.epoch = index;
  a.status = AssignmentStatus::kHalted;
  a.reason = op.reason;
  Event(index, false, op.package.value() + ": down (" + op.reason + ")");
  PackageRecord& r = packages_[op.package];
  if (r.pending && r.pending->second == CommandKind::kHalt) {
    End(index, op.package, true, "down: " + op.reason);
  }
}

// The report `op` changed R's status at its current epoch: end what it answers.
void ClusterState::AfterReport(LogIndex index, const PackageName& package, const ReportOp& op) {
  PackageRecord& r = packages_[package];
  if (r.intent) {
    if (std::optional<std::pair<bool, std::string>> end = IntentEndFor(*r.intent, op)) {
      EndIntent(index, package, end->first, std::move(end->second));
    }
  }
  const std::string on = " on " + op.node.value();
  const std::string detail = op.detail.empty() ? "" : ": " + op.detail;
  const std::optional<CommandKind> pending =
      r.pending ? std::optional(r.pending->second) : std::nullopt;
  switch (op.kind) {
    case ReportKind::kStarted:
      r.last_node = op.node;
      if (pending == CommandKind::kRun) {
        End(index, package, true, "started" + on);
      }
      break;
    case ReportKind::kFailed:
      if (op.failure == FailureKind::kExit1) {
        r.wanted = false;
        r.switching = false;
        Event(index, true,
              package.value() + ": run script exit 1" + on +
                  ": global switching disabled, it is not started anywhere");
      }
      if (pending == CommandKind::kRun) {
        End(index, package, false, "failed" + on + detail);
      } else if (pending == CommandKind::kHalt) {
        // Halted while starting, and the start failed: down for certain, as asked.
        End(index, package, true, "failed" + on + detail);
      } else if (pending == CommandKind::kClear) {
        End(index, package, true, "cleared: the guest is stopped" + on);
      }
      break;
    case ReportKind::kHalted:
    case ReportKind::kFenced:
      if (pending == CommandKind::kHalt) {
        End(index, package, true, std::string(ReportKindName(op.kind)) + on);
      } else if (pending == CommandKind::kClear) {
        End(index, package, true, "cleared: the guest is stopped" + on);
      }
      break;
    case ReportKind::kHaltFailed:
      if (pending == CommandKind::kHalt || pending == CommandKind::kRun) {
        End(index, package, false, "halt_failed" + on + detail);
      }
      break;
    case ReportKind::kStray:
      break;
  }
}

// Ends the package's pending operator command (if any) with an outcome.
void ClusterState::End(LogIndex index, const PackageName& package, bool ok, std::string message) {
  PackageRecord& r = packages_[package];
  if (!r.pending) {
    return;
  }
  r.SetOutcome(Outcome{.command = r.pending->first,
                       .kind = r.pending->second,
                       .ok = ok,
                       .message = std::move(message)});
  r.pending.reset();
  Event(index, !ok,
        package.value() + ": " + std::string(CommandKindName(r.outcome->kind)) + " " +
            (ok ? "done: " : "failed: ") + r.outcome->message);
}

void ClusterState::EndIntent(LogIndex index, const PackageName& package, bool ok,
                             std::string message) {
  PackageRecord& r = packages_[package];
  CMCL_CHECK(r.intent.has_value());
  const Intent intent = *r.intent;
  r.intent.reset();
  if (ok) {
    r.vcpus = intent.vcpus ? intent.vcpus : r.vcpus;
    r.memory_mb = intent.memory_mb ? intent.memory_mb : r.memory_mb;
  }
  if (intent.kind == IntentKind::kMove) {
    r.SetOutcome(
        Outcome{.command = intent.index, .kind = CommandKind::kMove, .ok = ok, .message = message});
  }
  Event(index, !ok,
        package.value() + ": " + std::string(IntentKindName(intent.kind)) + " to " +
            intent.target.value() + (ok ? " done: " : " failed: ") + message);
}

}  // namespace cmcl::node
