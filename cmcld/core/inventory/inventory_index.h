// InventoryIndex: one node's inventory, indexed for the lookups validation makes.
//
// Validation asks the same questions of every node many times (readiness runs every
// package against every node): "is this path a disk here, and with which WWID", "which
// NIC carries this vswitch", "is this path a logical volume or a host-shared device".
// The index answers each in O(log n), so the readiness matrix builds one index per node
// per recompute instead of scanning inventory vectors per (package, node) pair.
//
// `devices_known` is false when the node's storage and network inventory is not known
// (inventory: probe before the node reported, or no inventory configured): validation
// then reports the device checks as unchecked instead of as violations. Capacity is
// known or not on its own. A plain value; deterministic (std::map only).
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>

#include "cmcld/core/common/units.h"
#include "cmcld/core/inventory/inventory.h"

namespace cmcl::inventory {

class InventoryIndex {
 public:
  // An index of nothing: devices and capacity unknown.
  InventoryIndex() = default;
  // Every device of `inventory` is known; its capacity as written (may be absent).
  static InventoryIndex Of(const NodeInventory& inventory);
  // Devices unknown; capacity possibly known (from the node's `capacity` key).
  static InventoryIndex Unknown(std::optional<Capacity> capacity);

  bool devices_known() const { return devices_known_; }
  const std::optional<Capacity>& capacity() const { return capacity_; }

  // A disk at `path`: its WWID if the inventory gives one. nullopt = no such disk.
  // REQUIRES: devices_known().
  std::optional<std::optional<Wwid>> FindDisk(const std::string& path) const;
  bool HasDisk(const std::string& path) const { return disks_.contains(path); }
  bool IsLogicalVolume(const std::string& path) const { return lvols_.contains(path); }
  bool IsSharedDevice(const std::string& path) const { return shared_.contains(path); }
  // The NIC behind vswitch `name`, nullopt when the node has no such vswitch.
  std::optional<std::string> FindVswitchNic(const std::string& name) const;

 private:
  bool devices_known_ = false;
  std::optional<Capacity> capacity_;
  std::map<std::string, std::optional<Wwid>> disks_;  // path -> WWID
  std::set<std::string> lvols_;
  std::map<std::string, std::string> vswitches_;  // name -> NIC
  std::set<std::string> shared_;
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
