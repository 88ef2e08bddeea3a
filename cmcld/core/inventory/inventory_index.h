// InventoryIndex: one node's inventory, indexed for the lookups validation makes.
//
// Validation asks the same questions of every node many times (readiness runs every
// package against every node): "is this path a disk here, and with which WWID", "which
// NIC carries this vswitch", "is this path a logical volume or a host-shared device".
// The index answers each in O(log n), so the readiness matrix builds one index per node
// per recompute instead of scanning inventory vectors per (package, node) pair. Lookups
// use hash maps (disk paths share long prefixes, which makes ordered-map comparisons
// the cost that dominates readiness); nothing iterates them, so no order leaks out.
//
// `devices_known` is false when the node's storage and network inventory is not known
// (inventory: probe before the node reported, or no inventory configured): validation
// then reports the device checks as unchecked instead of as violations. Capacity is
// known or not on its own. The index borrows: it points into the NodeInventory it was
// built from (no string is copied, which halves the cost of indexing 32 nodes with
// thousands of disks each), so that inventory must outlive it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "cmcld/core/common/units.h"
#include "cmcld/core/inventory/inventory.h"

namespace cmcl::inventory {

class InventoryIndex {
 public:
  // An index of nothing: devices and capacity unknown.
  InventoryIndex() = default;
  // Every device of `inventory` is known; its capacity as written, else `capacity`
  // (the node's `capacity` key), else absent. REQUIRES: `inventory` outlives the index.
  static InventoryIndex Of(const NodeInventory& inventory,
                           const std::optional<Capacity>& capacity = std::nullopt);
  // Devices unknown; capacity possibly known (from the node's `capacity` key).
  static InventoryIndex Unknown(std::optional<Capacity> capacity);

  bool devices_known() const { return devices_known_; }
  const std::optional<Capacity>& capacity() const { return capacity_; }

  // The disk at `path`, nullptr when there is none. REQUIRES: devices_known().
  const Disk* FindDisk(std::string_view path) const;
  // The WWID of the disk at `path`; nullptr when there is no such disk or it has no WWID.
  // REQUIRES: devices_known().
  const Wwid* FindDiskWwid(std::string_view path) const;
  bool HasDisk(std::string_view path) const { return disks_.contains(path); }
  bool IsLogicalVolume(std::string_view path) const { return lvols_.contains(path); }
  bool IsSharedDevice(std::string_view path) const { return shared_.contains(path); }
  // The NIC behind vswitch `name`, nullptr when the node has no such vswitch.
  const std::string* FindVswitchNic(std::string_view name) const;

 private:
  bool devices_known_ = false;
  std::optional<Capacity> capacity_;
  std::unordered_map<std::string_view, const Disk*> disks_;  // By path.
  std::unordered_set<std::string_view> lvols_;
  std::unordered_map<std::string_view, const std::string*> vswitches_;  // Name -> NIC.
  std::unordered_set<std::string_view> shared_;
};

// Linear lookups on a NodeInventory, for one-off questions (tools, tests, io/). Each
// returns nullptr when absent. Use InventoryIndex when asking many times.
const Disk* FindDisk(const NodeInventory& inventory, const std::string& path);
const Vswitch* FindVswitch(const NodeInventory& inventory, const std::string& name);
bool IsLogicalVolume(const NodeInventory& inventory, const std::string& path);
bool IsSharedDevice(const NodeInventory& inventory, const std::string& path);

// `inventory` with `capacity` filled in where it has none: the cluster file may give a
// node's `capacity` next to an inventory that carries no capacity of its own.
NodeInventory WithCapacity(NodeInventory inventory, const std::optional<Capacity>& capacity);

}  // namespace cmcl::inventory
