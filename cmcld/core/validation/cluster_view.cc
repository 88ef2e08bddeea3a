#include "cmcld/core/validation/cluster_view.h"

#include <functional>
#include <utility>

namespace cmcl::validation {

namespace {

// The empty list UsersOf* return by reference when nothing matches.
const std::vector<StorageUse>& NoUsers() {
  static const std::vector<StorageUse> empty;
  return empty;
}

// The inventory validation uses for `node`: the one it reported, else the configured one;
// nullptr when unknown (probe inventories and nodes without one, until a node reports).
const inventory::NodeInventory* KnownInventory(const config::NodeSpec& node,
                                               const ClusterFacts& facts) {
  const auto reported = facts.reported_inventories.find(node.name);
  if (reported != facts.reported_inventories.end()) return &reported->second;
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

std::string_view OccupancyName(Occupancy occupancy) {
  switch (occupancy) {
    case Occupancy::kStarting:
      return "starting";
    case Occupancy::kUp:
      return "up";
    case Occupancy::kHalting:
      return "halting";
    case Occupancy::kHaltFailed:
      return "halt_failed";
  }
  return "unknown";
}

ClusterView::ClusterView(const config::ClusterConfig& config, const ClusterFacts& facts)
    : config_(config), facts_(facts), members_(config.Members()) {
  IndexPaths();
  IndexNodes();
  IndexStorage();
}

void ClusterView::IndexPaths() {
  package_path_ids_.resize(config_.packages.size());
  for (size_t index = 0; index < config_.packages.size(); ++index) {
    for (const config::GuestStorage& storage : config_.packages[index].guest.storage) {
      const auto next = static_cast<uint32_t>(path_ids_.size());
      package_path_ids_[index].push_back(path_ids_.try_emplace(storage.path, next).first->second);
    }
  }
}

void ClusterView::IndexNodes() {
  for (const config::NodeSpec& node : config_.nodes) {
    nodes_.emplace(node.name, &node);
    const inventory::NodeInventory* known = KnownInventory(node, facts_);
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
  for (const config::PackageSpec& package : config_.packages) {
    packages_.emplace(package.name, &package);
  }
  for (const auto& [name, placement] : facts_.placements) {
    const config::PackageSpec* package = FindPackage(name);
    if (package == nullptr) continue;
    Usage& usage = usage_[placement.node];
    usage.vcpus += package->guest.vcpus;
    usage.memory_bytes += package->guest.memory.bytes();
  }
}

// Each package's disks by path, and by every WWID known for them: the pinned one and the
// one its home node (where it runs, last ran, or would run first) reports for the path.
void ClusterView::IndexStorage() {
  for (size_t index = 0; index < config_.packages.size(); ++index) {
    const config::PackageSpec& package = config_.packages[index];
    const std::optional<NodeName> home = HomeOf(package);
    const inventory::InventoryIndex* home_inventory = home.has_value() ? Inventory(*home) : nullptr;
    for (const config::GuestStorage& storage : package.guest.storage) {
      const StorageUse use{index, storage.shared};
      path_users_[storage.path].push_back(use);
      std::set<std::string> wwids;
      if (storage.wwid.has_value()) wwids.insert(storage.wwid->value);
      if (home_inventory != nullptr && home_inventory->devices_known()) {
        const Wwid* wwid = home_inventory->FindDiskWwid(storage.path);
        if (wwid != nullptr) wwids.insert(wwid->value);
      }
      for (const std::string& wwid : wwids) wwid_users_[wwid].push_back(use);
    }
  }
}

std::optional<NodeName> ClusterView::HomeOf(const config::PackageSpec& package) const {
  if (!facts_.offline) {
    const auto placed = facts_.placements.find(package.name);
    if (placed != facts_.placements.end()) return placed->second.node;
    const auto last = facts_.last_nodes.find(package.name);
    if (last != facts_.last_nodes.end()) return last->second;
  }
  const std::vector<NodeName>& nodes = NodesOf(package);
  if (nodes.empty()) return std::nullopt;
  return nodes.front();
}

const config::NodeSpec* ClusterView::FindNode(const NodeName& name) const {
  const auto it = nodes_.find(name);
  return it == nodes_.end() ? nullptr : it->second;
}

const config::PackageSpec* ClusterView::FindPackage(const PackageName& name) const {
  const auto it = packages_.find(name);
  return it == packages_.end() ? nullptr : it->second;
}

const inventory::InventoryIndex* ClusterView::Inventory(const NodeName& name) const {
  const auto it = inventories_.find(name);
  return it == inventories_.end() ? nullptr : &it->second.index;
}

const std::vector<uint32_t>* ClusterView::PathIdsOf(const config::PackageSpec& package) const {
  const config::PackageSpec* first = config_.packages.data();
  const config::PackageSpec* end = first + config_.packages.size();
  // std::less gives a total order on pointers even into different arrays.
  if (std::less<>()(&package, first) || !std::less<>()(&package, end)) return nullptr;
  return &package_path_ids_[static_cast<size_t>(&package - first)];
}

const std::vector<const inventory::Disk*>* ClusterView::DisksByPath(
    const inventory::InventoryIndex* inventory) const {
  const auto it = entries_.find(inventory);
  if (it == entries_.end() || !it->second->index.devices_known()) return nullptr;
  return &it->second->disks_by_path;
}

std::optional<NodeName> ClusterView::SourceOf(const config::PackageSpec& package,
                                              const std::optional<NodeName>& target) const {
  if (facts_.offline) {
    for (const NodeName& node : NodesOf(package)) {
      if (node != target) return node;
    }
    return std::nullopt;
  }
  const auto placed = facts_.placements.find(package.name);
  if (placed != facts_.placements.end()) return placed->second.node;
  const auto last = facts_.last_nodes.find(package.name);
  if (last != facts_.last_nodes.end()) return last->second;
  return std::nullopt;
}

const std::vector<NodeName>& ClusterView::NodesOf(const config::PackageSpec& package) const {
  return package.all_nodes ? members_ : package.nodes;
}

Usage ClusterView::UsedOn(const NodeName& node, const PackageName& except) const {
  const auto it = usage_.find(node);
  if (it == usage_.end()) return Usage{};
  Usage usage = it->second;
  const auto placed = facts_.placements.find(except);
  if (placed == facts_.placements.end() || placed->second.node != node) return usage;
  const config::PackageSpec* package = FindPackage(except);
  if (package == nullptr) return usage;
  usage.vcpus -= package->guest.vcpus;
  usage.memory_bytes -= package->guest.memory.bytes();
  return usage;
}

const std::vector<StorageUse>& ClusterView::UsersOfPath(const std::string& path) const {
  const auto it = path_users_.find(path);
  return it == path_users_.end() ? NoUsers() : it->second;
}

const std::vector<StorageUse>& ClusterView::UsersOfWwid(const Wwid& wwid) const {
  const auto it = wwid_users_.find(wwid.value);
  return it == wwid_users_.end() ? NoUsers() : it->second;
}

}  // namespace cmcl::validation
