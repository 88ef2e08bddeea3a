#include "tests/sim/package_checker.h"

#include <algorithm>
#include <sstream>
#include <utility>
#include <variant>

#include "cmcld/core/common/check.h"
#include "cmcld/core/validation/validate.h"

namespace cmcl::sim {

using node::AssignmentStatus;

validation::ClusterFacts FactsOfState(const config::ClusterConfig& config,
                                      const node::ClusterState& state,
                                      const std::optional<std::set<NodeName>>& up) {
  validation::ClusterFacts facts;
  for (const NodeName& member : config.Members()) {
    if (!state.NodeHalted(member) && (!up || up->contains(member))) {
      facts.up_members.insert(member);
    }
  }
  for (const auto& [package, record] : state.packages()) {
    for (const NodeName& node : record.switching_off) {
      facts.switching_disabled.insert({package, node});
    }
    if (record.last_node) {
      facts.last_nodes[package] = *record.last_node;
    }
  }
  for (const auto& [package, assignment] : state.assignments()) {
    if (!assignment.owner || assignment.Free()) {
      continue;
    }
    validation::Occupancy occupancy = validation::Occupancy::kStarting;
    if (assignment.status == AssignmentStatus::kStarted) {
      occupancy = assignment.release_requested ? validation::Occupancy::kHalting
                                               : validation::Occupancy::kUp;
    } else if (assignment.status == AssignmentStatus::kHaltFailed) {
      occupancy = validation::Occupancy::kHaltFailed;
    }
    facts.placements[package] = validation::Placement{*assignment.owner, occupancy};
  }
  return facts;
}

PackageChecker::PackageChecker(std::shared_ptr<const config::ClusterConfig> config,
                               node::ClusterState::Options options, bool watchdog_fence,
                               bool excuse_stale_decisions)
    : config_(std::move(config)),
      index_(*config_, reported_),
      state_(options),
      watchdog_fence_(watchdog_fence),
      excuse_stale_decisions_(excuse_stale_decisions) {}

// Per AssignOp (by its position in the batch): why validation refuses it, or nothing.
namespace {

// (d) depends_on: a dependent is assigned only where and when every dependency is up
// (started, no halt asked of it; same_node: on the dependent's node).
std::string DependencyNotUp(const config::PackageSpec& spec, const NodeName& node,
                            const node::ClusterState& state) {
  for (const config::Dependency& dependency : spec.depends_on) {
    const node::Assignment* a = state.Find(dependency.package);
    if (a == nullptr || !a->owner || a->release_requested ||
        a->status != node::AssignmentStatus::kStarted) {
      return "depends_on: " + dependency.package.value() + " is not up";
    }
    if (dependency.location == config::DependencyLocation::kSameNode && *a->owner != node) {
      return "depends_on: " + dependency.package.value() + " (same_node) runs on " +
             a->owner->value();
    }
  }
  return {};
}

}  // namespace

std::map<size_t, std::string> PackageChecker::ValidateAssigns(const node::ClusterState& state,
                                                              const node::OpBatch& ops) const {
  std::map<size_t, std::string> refused;
  if (std::none_of(ops.begin(), ops.end(),
                   [](const node::Op& op) { return std::holds_alternative<node::AssignOp>(op); })) {
    return refused;  // The facts cost O(packages): only a batch with an assign needs them.
  }
  const validation::ClusterFacts facts = FactsOfState(*config_, state);
  validation::ClusterView view(index_, facts);
  for (size_t i = 0; i < ops.size(); ++i) {
    const auto* assign = std::get_if<node::AssignOp>(&ops[i]);
    if (assign == nullptr) {
      continue;
    }
    const config::PackageSpec* spec = config_->FindPackage(assign->resource);
    if (spec == nullptr) {
      refused[i] = "not a configured package";
      continue;
    }
    const validation::ValidationResult result =
        validation::ValidateMigration(*spec, assign->node, view);
    if (std::string broken = DependencyNotUp(*spec, assign->node, state); !broken.empty()) {
      refused[i] = std::move(broken);
    } else if (!result.ok()) {
      std::string text;
      for (const validation::Violation& violation : result.violations) {
        text += (text.empty() ? "" : "; ") +
                std::string(validation::ViolationCodeName(violation.code)) + ": " +
                violation.message;
      }
      refused[i] = text;
    }
    // The tally: later assigns of the batch see this one (placement.h).
    view.AddPlacement(assign->resource,
                      validation::Placement{assign->node, validation::Occupancy::kStarting});
  }
  return refused;
}

void PackageChecker::OnCommitted(const raft::ApplyEntry& apply) {
  if (apply.entry.index <= state_.applied()) {
    return;
  }
  CMCL_CHECK(apply.entry.index == state_.applied() + 1) << "the checker missed an entry";
  std::optional<node::OpBatch> ops;
  if (apply.entry.kind == raft::EntryKind::kCommand && !apply.duplicate) {
    ops = node::DecodeOps(apply.entry.command.payload);
  }
  std::map<size_t, std::string> refused;
  std::map<PackageName, node::Assignment> before;
  if (ops) {
    refused = ValidateAssigns(state_, *ops);
    // A coordinator's first command was decided after its term's no-op (N1) applied.
    const auto previous = after_previous_.find(apply.entry.command.client_id);
    const node::ClusterState* decided_after = previous != after_previous_.end()
                                                  ? &previous->second
                                                  : (after_noop_ ? &*after_noop_ : nullptr);
    if (excuse_stale_decisions_ && !refused.empty() && decided_after != nullptr) {
      const std::map<size_t, std::string> then = ValidateAssigns(*decided_after, *ops);
      for (auto it = refused.begin(); it != refused.end();) {
        if (then.contains(it->first)) {
          ++it;
        } else {
          ++stale_decisions_;  // Valid when it may have been decided: overtaken since.
          it = refused.erase(it);
        }
      }
    }
    if (std::any_of(ops->begin(), ops->end(), [](const node::Op& op) {
          return std::holds_alternative<node::AssignOp>(op) ||
                 std::holds_alternative<node::UnassignOp>(op);
        })) {
      before = state_.assignments();
    }
  }
  std::map<PackageName, std::string> displacements;
  if (ops) {
    displacements = JudgeDisplacements(*ops);  // Against the state it applies to.
  }
  state_.Apply(apply);
  if (ops) {
    CheckDisplacements(apply.entry.index, *ops, displacements);
  }
  if (excuse_stale_decisions_ && apply.entry.kind == raft::EntryKind::kNoop) {
    after_noop_ = state_;
  }
  if (!ops) {
    return;
  }
  // Node clients (reports, coordinator decisions) have random 64-bit ids; the
  // simulator's operator clients are 1..clients and never assign.
  if (excuse_stale_decisions_ && apply.entry.command.client_id.value() > 1'000'000) {
    after_previous_.insert_or_assign(apply.entry.command.client_id, state_);
  }
  const raft::LogIndex index = apply.entry.index;
  for (size_t i = 0; i < ops->size(); ++i) {
    const auto* assign = std::get_if<node::AssignOp>(&(*ops)[i]);
    const node::Assignment* now = assign ? state_.Find(assign->resource) : nullptr;
    if (now == nullptr || now->epoch != index || now->owner != assign->node) {
      continue;  // Not an assign, or a stale one (compare-and-set): it gave nothing.
    }
    ++assigns_checked_;
    const auto it = refused.find(i);
    decisions_[{assign->resource, index}] =
        Decision{assign->node, it == refused.end() ? std::string() : it->second};
  }
  CheckHaltFailed(index, *ops, before);
}

namespace {

// Priority as a rank: none is the lowest.
uint64_t Rank(const config::PackageSpec& spec) {
  return spec.priority ? *spec.priority : UINT64_MAX;
}

}  // namespace

std::map<PackageName, std::string> PackageChecker::JudgeDisplacements(
    const node::OpBatch& ops) const {
  std::map<PackageName, std::string> judged;
  for (const node::Op& op : ops) {
    const auto* release = std::get_if<node::ReleaseOp>(&op);
    if (release == nullptr || release->why != node::ActionReason::kDisplaced) {
      continue;
    }
    const node::Assignment* a = state_.Find(release->resource);
    if (a == nullptr || a->epoch != release->epoch || a->release_requested ||
        (a->status != AssignmentStatus::kAssigned && a->status != AssignmentStatus::kStarted)) {
      continue;  // Stale or already asked: apply changes nothing.
    }
    const config::PackageSpec* victim = config_->FindPackage(release->resource);
    std::string why;
    if (victim == nullptr) {
      why = "not configured";
    } else if (a->status != AssignmentStatus::kStarted) {
      why = "it was starting, not up";
    } else if (state_.PackageInMaintenance(release->resource)) {
      why = "it is in maintenance";
    } else {
      const bool displacer = std::any_of(
          config_->packages.begin(), config_->packages.end(), [&](const config::PackageSpec& d) {
            const node::Assignment* da = state_.Find(d.name);
            const node::PackageRecord* record = state_.FindPackage(d.name);
            return d.displace_lower_priority && d.priority && Rank(d) < Rank(*victim) &&
                   (da == nullptr || da->Free()) &&
                   (record == nullptr ? d.auto_run : record->Wanted(d.auto_run));
          });
      if (!displacer) {
        why = "no package with displace_lower_priority and a higher priority than " +
              (victim->priority ? std::to_string(*victim->priority) : std::string("none")) +
              " is down and wanted";
      }
    }
    judged[release->resource] = std::move(why);
  }
  return judged;
}

void PackageChecker::CheckDisplacements(raft::LogIndex index, const node::OpBatch& ops,
                                        const std::map<PackageName, std::string>& judged) {
  for (const node::Op& op : ops) {
    const auto* release = std::get_if<node::ReleaseOp>(&op);
    const auto it = release == nullptr ? judged.end() : judged.find(release->resource);
    if (violation_ || it == judged.end()) {
      continue;
    }
    const node::Assignment* a = state_.Find(release->resource);
    if (a == nullptr || a->epoch != release->epoch || !a->release_requested ||
        a->halt_reason != node::ActionReason::kDisplaced) {
      continue;  // Dropped at apply: nothing was halted.
    }
    ++displacements_checked_;
    if (it->second.empty()) {
      continue;
    }
    violation_ = "displacement: entry " + std::to_string(index.value()) + " halts " +
                 release->resource.value() + " on " + a->owner.value_or(NodeName("-")).value() +
                 " (displaced), but " + it->second;
  }
}

void PackageChecker::CheckHaltFailed(raft::LogIndex index, const node::OpBatch& ops,
                                     const std::map<PackageName, node::Assignment>& before) {
  if (violation_ || watchdog_fence_) {
    return;
  }
  for (const node::Op& op : ops) {
    const PackageName* package = nullptr;
    std::optional<NodeName> to;
    if (const auto* assign = std::get_if<node::AssignOp>(&op)) {
      package = &assign->resource;
      to = assign->node;
    } else if (const auto* unassign = std::get_if<node::UnassignOp>(&op)) {
      package = &unassign->package;
    } else {
      continue;
    }
    const auto was = before.find(*package);
    const node::Assignment* now = state_.Find(*package);
    if (was == before.end() || was->second.status != AssignmentStatus::kHaltFailed ||
        now == nullptr || now->epoch != index || (to && now->owner != to) ||
        (to && to == was->second.owner)) {
      continue;
    }
    std::ostringstream text;
    text << "halt_failed reassigned: " << *package << " was halt_failed on "
         << was->second.owner.value_or(NodeName("-")) << " @" << was->second.epoch
         << " (no stopped report, no clear --owner-is-down) and entry " << index << " "
         << (to ? "assigned it to " + to->value() : std::string("unassigned it"));
    violation_ = text.str();
  }
}

void PackageChecker::OnRun(Time now, const NodeName& node, const node::GuestRef& guest) {
  if (violation_) {
    return;
  }
  ++runs_checked_;
  const auto it = decisions_.find({guest.resource, guest.epoch});
  std::ostringstream text;
  text << "validation: " << node << " ran " << guest.resource << "@" << guest.epoch << " at "
       << now.milliseconds() << "ms";
  if (it == decisions_.end()) {
    text << " with no committed assignment at that epoch";
  } else if (it->second.node != node) {
    text << " but that assignment gave it to " << it->second.node;
  } else if (!it->second.refused.empty()) {
    text << ", which failed validation when its assignment committed: " << it->second.refused;
  } else {
    return;
  }
  violation_ = text.str();
}

}  // namespace cmcl::sim
