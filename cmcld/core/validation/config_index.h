// ConfigIndex: the part of validation's indexes that depends only on the configuration
// and the inventories nodes reported, not on where packages run.
//
// It maps node and package names to their specs, builds one InventoryIndex per node
// (the reported inventory, else the configured one, else unknown), numbers every guest
// storage path of the configuration and keeps, per node, the disk at each number. That
// is most of the cost of indexing a large cluster (see docs/BENCHMARKS.md), so a caller
// that recomputes readiness on every placement change builds a ConfigIndex once per
// configuration version and reported inventory, and a cheap ClusterView per change.
//
// It borrows: `config` and `reported` must outlive it (it points into their strings).
// Hash maps serve lookups only and are never iterated, so no order leaks into outputs.
#pragma once

#include <cstdint>
#include <map>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cmcld/core/common/names.h"
#include "cmcld/core/config/cluster_config.h"
#include "cmcld/core/inventory/inventory.h"
#include "cmcld/core/inventory/inventory_index.h"

namespace cmcl::validation {

using ReportedInventories = std::map<NodeName, inventory::NodeInventory>;

class ConfigIndex {
 public:
  // REQUIRES: `config` and `reported` outlive the index.
  ConfigIndex(const config::ClusterConfig& config, const ReportedInventories& reported);
  ConfigIndex(const ConfigIndex&) = delete;
  ConfigIndex& operator=(const ConfigIndex&) = delete;

  const config::ClusterConfig& config() const { return config_; }
  const config::NodeSpec* FindNode(const NodeName& name) const;
  const config::PackageSpec* FindPackage(const PackageName& name) const;
  // The node's inventory as validation sees it; nullptr when the node is not configured.
  const inventory::InventoryIndex* Inventory(const NodeName& name) const;
  // The nodes the package may run on, in preference order ("*" = every member).
  const std::vector<NodeName>& NodesOf(const config::PackageSpec& package) const;

  // Dense lookups for the hot path of readiness. Every guest storage path of the
  // configuration has a number; PathIdsOf gives a package's numbers (parallel to its
  // guest.storage) and DisksByPath, for an index built here, the node's disk for each
  // number (nullptr: none). Both return nullptr for a package or an index that is not
  // this configuration's (validation then falls back to InventoryIndex lookups).
  const std::vector<uint32_t>* PathIdsOf(const config::PackageSpec& package) const;
  const std::vector<const inventory::Disk*>* DisksByPath(
      const inventory::InventoryIndex* inventory) const;

 private:
  struct NodeEntry {
    inventory::InventoryIndex index;
    std::vector<const inventory::Disk*> disks_by_path;  // Empty when devices unknown.
  };

  void IndexPaths();
  void IndexNodes(const ReportedInventories& reported);

  const config::ClusterConfig& config_;
  std::vector<NodeName> members_;
  std::unordered_map<NodeName, const config::NodeSpec*> nodes_;
  std::unordered_map<PackageName, const config::PackageSpec*> packages_;
  std::unordered_map<NodeName, NodeEntry> inventories_;  // Stable addresses.
  std::unordered_map<const inventory::InventoryIndex*, const NodeEntry*> entries_;
  std::unordered_map<std::string_view, uint32_t> path_ids_;
  std::vector<std::vector<uint32_t>> package_path_ids_;  // Parallel to config.packages.
};

}  // namespace cmcl::validation
