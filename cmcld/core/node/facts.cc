// FactsOf (coordinator.h): the applied state and liveness as validation sees them.
#include "cmcld/core/node/coordinator.h"

namespace cmcl::node {
namespace {

std::optional<validation::Occupancy> OccupancyOf(const Assignment& a) {
  switch (a.status) {
    case AssignmentStatus::kAssigned:
      return a.release_requested ? validation::Occupancy::kHalting
                                 : validation::Occupancy::kStarting;
    case AssignmentStatus::kStarted:
      return a.release_requested ? validation::Occupancy::kHalting : validation::Occupancy::kUp;
    case AssignmentStatus::kHaltFailed:
      return validation::Occupancy::kHaltFailed;
    case AssignmentStatus::kHalted:
    case AssignmentStatus::kFailed:
    case AssignmentStatus::kFenced:
      break;
  }
  return std::nullopt;
}

}  // namespace

validation::ClusterFacts FactsOf(const ClusterState& state, const Liveness& liveness) {
  validation::ClusterFacts facts;
  for (const NodeName& node : liveness.up) {
    if (!state.NodeHalted(node)) {
      facts.up_members.insert(node);
    }
  }
  // Issue 10: validation refuses a node in maintenance as a target, whatever asks.
  for (const auto& [node, record] : state.nodes()) {
    if (record.maintenance) {
      facts.maintenance_nodes.insert(node);
    }
  }
  for (const auto& [package, a] : state.assignments()) {
    if (!a.owner) {
      continue;
    }
    if (const std::optional<validation::Occupancy> occupancy = OccupancyOf(a)) {
      facts.placements.emplace(package,
                               validation::Placement{.node = *a.owner, .occupancy = *occupancy});
    }
  }
  for (const auto& [package, record] : state.packages()) {
    for (const NodeName& node : record.switching_off) {
      facts.switching_disabled.emplace(package, node);
    }
    if (record.last_node) {
      facts.last_nodes.emplace(package, *record.last_node);
    }
  }
  return facts;
}

}  // namespace cmcl::node
