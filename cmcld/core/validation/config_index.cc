#include "cmcld/core/validation/config_index.h"

#include <functional>
#include <utility>

namespace cmcl::validation {

namespace {

// The inventory validation uses for `node`: the one it reported, else the configured one;
// nullptr when unknown (probe inventories and nodes without one, until a node reports).
const inventory::NodeInventory* KnownInventory(const config::NodeSpec& node,
                                               const ReportedInventories& reported) {
  const auto it = reported.find(node.name);
  if (it != reported.end()) return &it->second;
  switch (node.inventory_source) {
    case config::InventorySource::kInline:
    case config::InventorySource::kFile:
      return &node.inventory;
    case config::InventorySource::kNone:
    case config::InventorySource::kProbe:
      break;
  }
  return nullptr;
}

}  // namespace

ConfigIndex::ConfigIndex(const config::ClusterConfig& config, const ReportedInventories& reported)
    : config_(config), members_(config.Members()) {
  for (const config::PackageSpec& package : config_.packages) {
    packages_.emplace(package.name, &package);
  }
  IndexPaths();
  IndexNodes(reported);
}

void ConfigIndex::IndexPaths() {
  package_path_ids_.resize(config_.packages.size());
  for (size_t index = 0; index < config_.packages.size(); ++index) {
    for (const config::GuestStorage& storage : config_.packages[index].guest.storage) {
      const auto next = static_cast<uint32_t>(path_ids_.size());
      package_path_ids_[index].push_back(path_ids_.try_emplace(storage.path, next).first->second);
    }
  }
}

void ConfigIndex::IndexNodes(const ReportedInventories& reported) {
  for (const config::NodeSpec& node : config_.nodes) {
    nodes_.emplace(node.name, &node);
    const inventory::NodeInventory* known = KnownInventory(node, reported);
    NodeEntry entry;
    if (known == nullptr) {
      // The node's `capacity` key still counts when its devices are unknown.
      entry.index = inventory::InventoryIndex::Unknown(
          node.inventory.capacity.has_value() ? node.inventory.capacity : node.capacity);
    } else {
      entry.index = inventory::InventoryIndex::Of(*known, node.capacity);
      entry.disks_by_path.assign(path_ids_.size(), nullptr);
      for (const inventory::Disk& disk : known->disks) {
        const auto id = path_ids_.find(disk.path);
        if (id != path_ids_.end()) entry.disks_by_path[id->second] = &disk;
      }
    }
    const NodeEntry& stored = inventories_.emplace(node.name, std::move(entry)).first->second;
    entries_.emplace(&stored.index, &stored);
  }
}

const config::NodeSpec* ConfigIndex::FindNode(const NodeName& name) const {
  const auto it = nodes_.find(name);
  return it == nodes_.end() ? nullptr : it->second;
}

const config::PackageSpec* ConfigIndex::FindPackage(const PackageName& name) const {
  const auto it = packages_.find(name);
  return it == packages_.end() ? nullptr : it->second;
}

const inventory::InventoryIndex* ConfigIndex::Inventory(const NodeName& name) const {
  const auto it = inventories_.find(name);
  return it == inventories_.end() ? nullptr : &it->second.index;
}

const std::vector<NodeName>& ConfigIndex::NodesOf(const config::PackageSpec& package) const {
  return package.all_nodes ? members_ : package.nodes;
}

const std::vector<uint32_t>* ConfigIndex::PathIdsOf(const config::PackageSpec& package) const {
  const config::PackageSpec* first = config_.packages.data();
  const config::PackageSpec* end = first + config_.packages.size();
  // std::less gives a total order on pointers even into different arrays.
  if (std::less<>()(&package, first) || !std::less<>()(&package, end)) return nullptr;
  return &package_path_ids_[static_cast<size_t>(&package - first)];
}

const std::vector<const inventory::Disk*>* ConfigIndex::DisksByPath(
    const inventory::InventoryIndex* inventory) const {
  const auto it = entries_.find(inventory);
  if (it == entries_.end() || !it->second->index.devices_known()) return nullptr;
  return &it->second->disks_by_path;
}

}  // namespace cmcl::validation
