// Config apply in the simulator (issue 9): the workload's proposals and the runtime's
// part on each node. A simulated bundle is text that names the version and what the
// proposal does to the configuration it carries: nothing (the usual case), "refused by
// nX;" (nX's validation fails), "P not on N;" (P's node list without the node some node
// saw it on: stranding unless it moved or stopped), "without P;" (P removed: its
// records go if it is down). The configuration the nodes use stays the simulator's
// (materializing is io's), so a version only changes what the core decides around
// applying it. ConfigChecker checks the outcome.
#include <algorithm>
#include <cstdint>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "tests/sim/simulation.h"

namespace cmcl::sim::internal {
namespace {

std::string Fnv1a(const std::string& text) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (const char c : text) {
    hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  }
  std::ostringstream out;
  out << std::hex << hash;
  return out.str();
}

}  // namespace

node::OpBatch Simulation::ConfigCommand() {
  // pkgctl proposes the next version of the state it reads; a stale node's is refused.
  const NodeSlot& reader = nodes_[client_rng_.Uniform(nodes_.size())];
  const uint64_t version = (reader.core != nullptr ? reader.core->state().config_version() : 1) + 1;
  std::map<PackageName, std::vector<NodeName>> lists;
  for (const PackageName& package : packages_->names) {
    const config::PackageSpec& spec = packages_->Spec(package);
    lists[package] = spec.all_nodes ? packages_->config->Members() : spec.nodes;
  }
  std::string bundle = "sim configuration version " + std::to_string(version) + ";";
  const PackageName package = packages_->names[client_rng_.Uniform(packages_->names.size())];
  switch (client_rng_.Uniform(6)) {
    case 0:
      bundle += " refused by " + names_[client_rng_.Uniform(names_.size())].value() + ";";
      break;
    case 1:
    case 2:
      if (const std::optional<NodeName> owner = OwnerSeenBySomeNode(package)) {
        std::erase(lists[package], *owner);
        bundle += " " + package.value() + " not on " + owner->value() + ";";
      }
      break;
    case 3:
      lists.erase(package);
      bundle += " without " + package.value() + ";";
      break;
    default:
      break;
  }
  return {node::ConfigProposeOp{.version = version,
                                .bundle_hash = Fnv1a(bundle),
                                .bundle = bundle,
                                .packages = std::move(lists),
                                .by = "sim"}};
}

bool Simulation::DriveConfig(size_t node) {
  NodeSlot& slot = nodes_[node];
  node::Node& core = *slot.core;
  const node::ClusterState& state = core.state();
  // Version 1 is what every node starts with (config_version 0: not said): nothing to do
  // (and nothing changes for runs without config apply).
  if (state.config_version() > std::max<uint64_t>(core.config_version(), 1)) {
    core.SetConfig(packages_->config, state.config_version());
    Trace(slot.name.value(), "config",
          "uses configuration version " + std::to_string(state.config_version()));
  }
  config_checker_.OnNodeState(slot.name, state);
  const std::optional<std::pair<uint64_t, std::string>> pending = core.ConfigToValidate();
  if (!pending) {
    return false;
  }
  const std::string& bundle = state.pending_config()->proposal.bundle;
  const bool ok = bundle.find("refused by " + slot.name.value() + ";") == std::string::npos;
  const std::string reason = ok ? "" : "sim: validation fails on " + slot.name.value();
  Trace(slot.name.value(), "verdict",
        "version " + std::to_string(pending->first) + (ok ? " ok" : " refused"));
  Execute(node, core.ConfigVerdict(LocalNow(node), pending->first, pending->second, ok, reason));
  return true;
}

}  // namespace cmcl::sim::internal
