#include "cmcld/core/node/dependencies.h"

namespace cmcl::node {

namespace {

// Assigned or started, with no halt asked of it: running, or about to.
bool Alive(const ClusterState& state, const PackageName& package) {
  const Assignment* a = state.Find(package);
  return a != nullptr && a->owner && !a->release_requested &&
         (a->status == AssignmentStatus::kAssigned || a->status == AssignmentStatus::kStarted);
}

}  // namespace

bool DependencyUp(const ClusterState& state, const PackageName& package,
                  const std::set<NodeName>& up_nodes) {
  const Assignment* a = state.Find(package);
  return a != nullptr && a->owner && !a->release_requested &&
         a->status == AssignmentStatus::kStarted && up_nodes.contains(*a->owner);
}

bool DependencyLeaving(const ClusterState& state, const config::PackageSpec& dependency,
                       const PackageRecord* record) {
  if (!Alive(state, dependency.name)) return true;
  if (record != nullptr && !record->Wanted(dependency.auto_run)) return true;
  return state.NodeHalted(*state.Find(dependency.name)->owner);
}

DependencyGate CheckDependencies(const config::PackageSpec& package, const ClusterState& state,
                                 const std::set<NodeName>& up_nodes,
                                 const std::optional<NodeName>& target) {
  DependencyGate gate;
  for (const config::Dependency& dependency : package.depends_on) {
    const PackageName& name = dependency.package;
    if (!DependencyUp(state, name, up_nodes)) {
      return DependencyGate{.met = false,
                            .node = std::nullopt,
                            .waiting = "waiting for " + name.value() + " (depends_on)"};
    }
    if (dependency.location != config::DependencyLocation::kSameNode) continue;
    const NodeName& there = *state.Find(name)->owner;
    if ((gate.node && *gate.node != there) || (target && *target != there)) {
      return DependencyGate{.met = false,
                            .node = std::nullopt,
                            .waiting = "waiting for " + name.value() + " (depends_on, same_node)" +
                                       " to run on " +
                                       (target ? target->value() : gate.node->value()) +
                                       "; it runs on " + there.value()};
    }
    gate.node = there;
  }
  return gate;
}

std::string DependencyBroken(const config::PackageSpec& package,
                             const config::ClusterConfig& config, const ClusterState& state,
                             const NodeName& owner) {
  for (const config::Dependency& dependency : package.depends_on) {
    const config::PackageSpec* spec = config.FindPackage(dependency.package);
    if (spec == nullptr) continue;  // Config check refuses this; nothing to wait for.
    const std::string& name = dependency.package.value();
    if (DependencyLeaving(state, *spec, state.FindPackage(dependency.package))) {
      return name + ", which it depends on, is going down";
    }
    if (dependency.location == config::DependencyLocation::kSameNode &&
        *state.Find(dependency.package)->owner != owner) {
      return name + ", which it depends on (same_node), runs on " +
             state.Find(dependency.package)->owner->value();
    }
  }
  return {};
}

std::map<PackageName, std::vector<const config::PackageSpec*>> Dependents(
    const config::ClusterConfig& config) {
  std::map<PackageName, std::vector<const config::PackageSpec*>> dependents;
  for (const config::PackageSpec& package : config.packages) {
    for (const config::Dependency& dependency : package.depends_on) {
      dependents[dependency.package].push_back(&package);
    }
  }
  return dependents;
}

std::vector<std::string> LiveDependents(
    const std::map<PackageName, std::vector<const config::PackageSpec*>>& dependents,
    const ClusterState& state, const PackageName& package) {
  std::vector<std::string> live;
  const auto it = dependents.find(package);
  if (it == dependents.end()) return live;
  for (const config::PackageSpec* dependent : it->second) {
    const Assignment* a = state.Find(dependent->name);
    if (a == nullptr || a->Free() || !a->owner) continue;
    live.push_back(dependent->name.value() + " (" +
                   std::string(PackageStatusName(state.StatusOf(dependent->name))) + " on " +
                   a->owner->value() + ")");
  }
  return live;
}

}  // namespace cmcl::node
