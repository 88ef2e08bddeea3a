// The Linux inventory probe (DESIGN.md section 6, `inventory: probe`): what this host
// has that guests depend on, read from sysfs, /dev and procfs.
//
// - disks: every whole block device of /sys/block with its WWID (device/wwid, or wwid
//   for NVMe; a multipath map's from dm/uuid), once as /dev/NAME and once per
//   /dev/disk/by-id link that resolves to it, all with the same WWID. Partitions are not
//   whole disks; RAM disks (ram*, zram*), loop devices bound to no file and devices of
//   size 0 (an unconnected nbd) are left out: no guest can use them.
// - lvols: device-mapper LVM volumes, as /dev/mapper/NAME and /dev/dm-N.
// - vswitches: every Linux bridge (/sys/class/net/B/bridge), on its uplink port
//   (ChooseUplink), or on kLocalVswitchNic when it has none. Open vSwitch bridges are
//   not probed: OVS keeps its ports in ovsdb, not in sysfs.
// - shared_devices: CD/DVD drives (sr*, or SCSI type 5), as /dev/NAME and their by-id
//   links: a host device that guests may be given but that cannot move with them.
// - capacity: the online CPUs and MemTotal.
// driver_versions are not probed (the drivers report nothing yet).
//
// A thin adapter: file reading here, the meaning of each file in probe_parse.h. Not
// thread-safe only in that it reads a file system that may change while it reads.
#pragma once

#include <string>
#include <vector>

#include "cmcld/core/common/status.h"
#include "cmcld/core/inventory/inventory.h"

namespace cmcl::io::inventory {

// Where the probe looks: the real system by default; tests point it at a scratch tree.
struct ProbeRoots {
  std::string sys = "/sys";
  std::string dev = "/dev";
  std::string proc = "/proc";
};

struct ProbedInventory {
  cmcl::inventory::NodeInventory inventory;  // Capacity always set.
  // A device the probe met but could not describe fully, with why, for people: "skipped
  // /sys/block/sdc: cannot read size" or "/sys/block/nvme0n1: WWID \"nvme.1b36-...\" is
  // not a form the configuration accepts; listed without one". Never fatal.
  std::vector<std::string> notes;
};

// Probes the host below `roots`. An error, naming the path, when a folder or file every
// Linux host has cannot be read (/sys/block, /sys/class/net, /proc/meminfo,
// /sys/devices/system/cpu/online); one odd device is a note, not an error.
// Lists are sorted (disks and lvols by path, vswitches by name) so that two probes of
// one host compare equal.
Result<ProbedInventory> ProbeLinuxInventory(const ProbeRoots& roots = {});

// One line for a log: "4 disk paths (2 with a WWID), 0 lvols, vswitches br0->eth0,
// 1 shared device, 8 vCPUs, 31GiB".
std::string SummarizeInventory(const cmcl::inventory::NodeInventory& inventory);

}  // namespace cmcl::io::inventory
