#include "cmcld/core/validation/cluster_view.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <utility>

#include "cmcld/core/common/check.h"

namespace cmcl::validation {

namespace {

// Priority as a rank: a lower number is a higher priority; none is the lowest.
uint64_t Rank(const config::PackageSpec& package) {
  return package.priority.has_value() ? *package.priority : std::numeric_limits<uint64_t>::max();
}

// The empty list UsersOf* return by reference when nothing matches.
const std::vector<StorageUse>& NoUsers() {
  static const std::vector<StorageUse> empty;
  return empty;
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
    : owned_index_(std::in_place, config, facts.reported_inventories),
      index_(*owned_index_),
      facts_(facts) {
  IndexUsage();
  IndexStorage();
}

ClusterView::ClusterView(const ConfigIndex& index, const ClusterFacts& facts)
    : index_(index), facts_(facts) {
  IndexUsage();
  IndexStorage();
}

void ClusterView::IndexUsage() {
  for (const auto& [name, placement] : facts_.placements) {
    const config::PackageSpec* package = FindPackage(name);
    if (package == nullptr) continue;
    AddUsage(placement.node, *package);
  }
}

void ClusterView::AddUsage(const NodeName& node, const config::PackageSpec& package) {
  Usage& usage = usage_[node];
  usage.vcpus += package.guest.vcpus;
  usage.memory_bytes += package.guest.memory.bytes();
  usage.packages += 1;
}

void ClusterView::RemoveUsage(const NodeName& node, const config::PackageSpec& package) {
  Usage& usage = usage_[node];
  CMCL_CHECK(usage.packages > 0 && usage.vcpus >= package.guest.vcpus &&
             usage.memory_bytes >= package.guest.memory.bytes())
      << "usage of " << node << " does not hold " << package.name;
  usage.vcpus -= package.guest.vcpus;
  usage.memory_bytes -= package.guest.memory.bytes();
  usage.packages -= 1;
}

// Each package's disks by path, and by every WWID known for them: the pinned one and the
// one its home node (where it runs, last ran, or would run first) reports for the path.
void ClusterView::IndexStorage() {
  size_t disks = 0;
  for (const config::PackageSpec& package : config().packages)
    disks += package.guest.storage.size();
  path_users_.reserve(disks);
  wwid_users_.reserve(disks);
  for (size_t index = 0; index < config().packages.size(); ++index) {
    const config::PackageSpec& package = config().packages[index];
    const std::optional<NodeName> home = HomeOf(package);
    const inventory::InventoryIndex* home_inventory = home.has_value() ? Inventory(*home) : nullptr;
    const bool home_known = home_inventory != nullptr && home_inventory->devices_known();
    for (const config::GuestStorage& storage : package.guest.storage) {
      const StorageUse use{index, storage.shared};
      path_users_[storage.path].push_back(use);
      const std::string* pinned = storage.wwid.has_value() ? &storage.wwid->value : nullptr;
      const Wwid* reported = home_known ? home_inventory->FindDiskWwid(storage.path) : nullptr;
      if (pinned != nullptr) wwid_users_[*pinned].push_back(use);
      if (reported != nullptr && (pinned == nullptr || reported->value != *pinned)) {
        wwid_users_[reported->value].push_back(use);
      }
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

const Placement* ClusterView::PlacementOf(const PackageName& package) const {
  const auto added = added_.find(package);
  if (added != added_.end()) return &added->second;
  const auto placed = facts_.placements.find(package);
  return placed == facts_.placements.end() ? nullptr : &placed->second;
}

bool ClusterView::CountsOn(const PackageName& package, const NodeName& node) const {
  const auto placed = facts_.placements.find(package);
  if (placed != facts_.placements.end() && placed->second.node == node) return true;
  const auto added = added_.find(package);
  return added != added_.end() && added->second.node == node;
}

Usage ClusterView::UsedOn(const NodeName& node, const PackageName& except) const {
  Usage usage;
  if (const auto it = usage_.find(node); it != usage_.end()) usage = it->second;
  const config::PackageSpec* package = FindPackage(except);
  if (package != nullptr && CountsOn(except, node)) {
    usage.vcpus -= package->guest.vcpus;
    usage.memory_bytes -= package->guest.memory.bytes();
    usage.packages -= 1;
  }
  for (const auto& [name, nodes] : reserved_) {
    if (name == except || !nodes.contains(node)) continue;
    const config::PackageSpec* holder = FindPackage(name);
    if (package != nullptr && Rank(*package) < Rank(*holder)) continue;  // Strictly higher.
    usage.vcpus += holder->guest.vcpus;
    usage.memory_bytes += holder->guest.memory.bytes();
  }
  return usage;
}

bool ClusterView::Reserve(const PackageName& name, const NodeName& node) {
  if (FindPackage(name) == nullptr) return false;
  reserved_[name].insert(node);
  return true;
}

bool ClusterView::AddPlacement(const PackageName& name, const Placement& placement) {
  const config::PackageSpec* package = FindPackage(name);
  if (package == nullptr) return false;
  const auto placed = facts_.placements.find(name);
  const NodeName* in_facts = placed == facts_.placements.end() ? nullptr : &placed->second.node;
  const auto added = added_.find(name);
  if (added != added_.end() && (in_facts == nullptr || added->second.node != *in_facts)) {
    RemoveUsage(added->second.node, *package);
  }
  if (in_facts == nullptr || placement.node != *in_facts) AddUsage(placement.node, *package);
  added_.insert_or_assign(name, placement);
  reserved_.erase(name);  // Placed: it takes the room as a guest now, wherever it is.
  AddWwidsOn(static_cast<size_t>(package - config().packages.data()), placement.node);
  return true;
}

// The WWIDs `node` reports for the package's disks join the ones IndexStorage found at
// its home, each once per package.
void ClusterView::AddWwidsOn(size_t package_index, const NodeName& node) {
  const inventory::InventoryIndex* inventory = Inventory(node);
  if (inventory == nullptr || !inventory->devices_known()) return;
  for (const config::GuestStorage& storage : config().packages[package_index].guest.storage) {
    const Wwid* wwid = inventory->FindDiskWwid(storage.path);
    if (wwid == nullptr) continue;
    std::vector<StorageUse>& users = wwid_users_[wwid->value];
    const auto same = [&](const StorageUse& use) { return use.package_index == package_index; };
    if (std::none_of(users.begin(), users.end(), same)) {
      users.push_back({package_index, storage.shared});
    }
  }
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
