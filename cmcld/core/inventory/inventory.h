// NodeInventory: what a node has that guests depend on (DESIGN.md section 6): disks
// with their WWIDs, logical volumes, the vswitch -> NIC map, devices the host shares
// (CD/DVD), capacity and driver versions.
//
// A plain value. It comes from the node's entry in the cluster file, from an
// inventory file, or from the Linux probe (io/inventory); the core compares
// inventories in validation and replicates each node's last one.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cmcld/core/common/units.h"

namespace cmcl::inventory {

struct Disk {
  std::string path;  // /dev/rdisk/disk10, /dev/disk/by-id/wwn-0x...
  std::optional<Wwid> wwid;
  friend auto operator<=>(const Disk&, const Disk&) = default;
};

struct LogicalVolume {
  std::string path;  // /dev/vg00/rlvol1
  friend auto operator<=>(const LogicalVolume&, const LogicalVolume&) = default;
};

struct Vswitch {
  std::string name;  // vlan2
  std::string nic;   // lan0
  friend auto operator<=>(const Vswitch&, const Vswitch&) = default;
};

struct Capacity {
  uint32_t vcpus = 0;
  ByteSize memory;
  friend auto operator<=>(const Capacity&, const Capacity&) = default;
};

struct NodeInventory {
  std::vector<Disk> disks;
  std::vector<LogicalVolume> lvols;
  std::vector<Vswitch> vswitches;
  std::vector<std::string> shared_devices;  // Host CD/DVD and the like.
  std::optional<Capacity> capacity;         // Absent: not known, not checked.
  std::map<std::string, std::string> driver_versions;  // driver name -> version.
  friend auto operator<=>(const NodeInventory&, const NodeInventory&) = default;
};

}  // namespace cmcl::inventory
