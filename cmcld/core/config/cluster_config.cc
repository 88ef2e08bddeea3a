#include "cmcld/core/config/cluster_config.h"

namespace cmcl::config {

const NodeSpec* ClusterConfig::FindNode(const NodeName& name) const {
  for (const NodeSpec& node : nodes) {
    if (node.name == name) return &node;
  }
  return nullptr;
}

const PackageSpec* ClusterConfig::FindPackage(const PackageName& name) const {
  for (const PackageSpec& package : packages) {
    if (package.name == name) return &package;
  }
  return nullptr;
}

std::vector<NodeName> ClusterConfig::Members() const {
  std::vector<NodeName> members;
  for (const NodeSpec& node : nodes) {
    if (node.role == NodeRole::kMember) members.push_back(node.name);
  }
  return members;
}

std::optional<SocketAddress> ClusterConfig::MetricsAddressOf(const NodeName& name) const {
  const NodeSpec* node = FindNode(name);
  if (node == nullptr) return std::nullopt;
  return node->metrics_address ? node->metrics_address : metrics_address;
}

}  // namespace cmcl::config
