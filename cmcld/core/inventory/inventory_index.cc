#include "cmcld/core/inventory/inventory_index.h"

#include <algorithm>
#include <utility>

#include "cmcld/core/common/check.h"

namespace cmcl::inventory {

InventoryIndex InventoryIndex::Of(const NodeInventory& inventory,
                                  const std::optional<Capacity>& capacity) {
  InventoryIndex index;
  index.devices_known_ = true;
  index.capacity_ = inventory.capacity.has_value() ? inventory.capacity : capacity;
  index.disks_.reserve(inventory.disks.size());
  for (const Disk& disk : inventory.disks) index.disks_.emplace(disk.path, &disk);
  for (const LogicalVolume& lvol : inventory.lvols) index.lvols_.insert(lvol.path);
  for (const Vswitch& vswitch : inventory.vswitches) {
    index.vswitches_.emplace(vswitch.name, &vswitch.nic);
  }
  for (const std::string& path : inventory.shared_devices) index.shared_.insert(path);
  return index;
}

InventoryIndex InventoryIndex::Unknown(std::optional<Capacity> capacity) {
  InventoryIndex index;
  index.capacity_ = std::move(capacity);
  return index;
}

const Disk* InventoryIndex::FindDisk(std::string_view path) const {
  CMCL_CHECK(devices_known_) << "FindDisk on a node whose devices are not known";
  const auto it = disks_.find(path);
  return it == disks_.end() ? nullptr : it->second;
}

const Wwid* InventoryIndex::FindDiskWwid(std::string_view path) const {
  const Disk* disk = FindDisk(path);
  return disk == nullptr || !disk->wwid.has_value() ? nullptr : &*disk->wwid;
}

const std::string* InventoryIndex::FindVswitchNic(std::string_view name) const {
  const auto it = vswitches_.find(name);
  return it == vswitches_.end() ? nullptr : it->second;
}

const Disk* FindDisk(const NodeInventory& inventory, const std::string& path) {
  const auto it = std::find_if(inventory.disks.begin(), inventory.disks.end(),
                               [&](const Disk& disk) { return disk.path == path; });
  return it == inventory.disks.end() ? nullptr : &*it;
}

const Vswitch* FindVswitch(const NodeInventory& inventory, const std::string& name) {
  const auto it = std::find_if(inventory.vswitches.begin(), inventory.vswitches.end(),
                               [&](const Vswitch& vswitch) { return vswitch.name == name; });
  return it == inventory.vswitches.end() ? nullptr : &*it;
}

bool IsLogicalVolume(const NodeInventory& inventory, const std::string& path) {
  return std::any_of(inventory.lvols.begin(), inventory.lvols.end(),
                     [&](const LogicalVolume& lvol) { return lvol.path == path; });
}

bool IsSharedDevice(const NodeInventory& inventory, const std::string& path) {
  return std::find(inventory.shared_devices.begin(), inventory.shared_devices.end(), path) !=
         inventory.shared_devices.end();
}

NodeInventory WithCapacity(NodeInventory inventory, const std::optional<Capacity>& capacity) {
  if (!inventory.capacity.has_value()) inventory.capacity = capacity;
  return inventory;
}

}  // namespace cmcl::inventory
