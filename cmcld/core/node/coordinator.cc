// TEMPORARY minimal coordinator (the issue-6 placement ported to Decide) so that main
// builds while the full one (coordinator.h) is written on the `coord` branch.
#include "cmcld/core/node/coordinator.h"

#include <algorithm>

namespace cmcl::node {

Decision Decide(const config::ClusterConfig& config, const validation::ConfigIndex& index,
                const ClusterState& state, const Liveness& liveness) {
  (void)index;
  Decision decision;
  std::map<NodeName, size_t> load;
  for (const NodeName& node : liveness.up) {
    if (!state.NodeHalted(node)) {
      load[node] = 0;
    }
  }
  for (const auto& [package, a] : state.assignments()) {
    if (a.owner && load.contains(*a.owner) && !a.Free()) {
      ++load[*a.owner];
    }
  }
  const auto pick = [&](const std::optional<NodeName>& avoid) -> std::optional<NodeName> {
    std::optional<NodeName> best;
    for (const auto& [node, count] : load) {
      if (node != avoid && (!best || count < load[*best])) {
        best = node;
      }
    }
    return best;
  };
  for (const config::PackageSpec& spec : config.packages) {
    const Assignment* a = state.Find(spec.name);
    const PackageRecord* found = state.FindPackage(spec.name);
    const PackageRecord record = found ? *found : PackageRecord{};
    if (!record.Wanted(spec.auto_run)) {
      continue;
    }
    if (a == nullptr || a->Free()) {
      const std::optional<NodeName> target = pick(std::nullopt);
      if (!target) {
        continue;
      }
      ++load[*target];
      decision.ops.push_back(AssignOp{.resource = spec.name,
                                      .node = *target,
                                      .from_epoch = a ? a->epoch : LogIndex(0),
                                      .reason = "placed",
                                      .why = ActionReason::kStart,
                                      .remember = std::nullopt});
      continue;
    }
    if (a->status == AssignmentStatus::kHaltFailed || liveness.reachable.contains(*a->owner)) {
      continue;
    }
    const auto expiry = liveness.certain_expiry.find(*a->owner);
    if (expiry == liveness.certain_expiry.end()) {
      continue;
    }
    if (liveness.now < expiry->second) {
      decision.wakeup = std::min(decision.wakeup.value_or(expiry->second), expiry->second);
      continue;
    }
    const std::optional<NodeName> target = pick(a->owner);
    if (!target) {
      continue;
    }
    ++load[*target];
    decision.revokes.insert(*a->owner);
    decision.ops.push_back(AssignOp{.resource = spec.name,
                                    .node = *target,
                                    .from_epoch = a->epoch,
                                    .reason = a->owner->value() + "'s lease certainly expired",
                                    .why = ActionReason::kFailover,
                                    .remember = std::nullopt});
  }
  return decision;
}

}  // namespace cmcl::node
