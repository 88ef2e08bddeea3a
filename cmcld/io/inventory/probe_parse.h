// The pure halves of the Linux inventory probe (linux_probe.h): what the text of one
// sysfs or procfs file means. No file is read here, so each rule is tested on strings.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cmcld/core/common/units.h"

namespace cmcl::io::inventory {

// MemTotal of /proc/meminfo ("MemTotal:  8131452 kB"), rounded down to whole MiB so
// that the size prints as the config parser's units do (7940MiB). nullopt when there is
// no MemTotal line or it is not "<number> kB".
std::optional<ByteSize> ParseMemTotal(std::string_view meminfo);

// How many CPUs a kernel cpu list names ("0-3,6,8-9\n" -> 7), as in
// /sys/devices/system/cpu/online. nullopt when the text is not such a list.
std::optional<uint32_t> CountCpuList(std::string_view list);

// The WWID of a disk from /sys/block/X/device/wwid (SCSI: "naa.6005...",
// "t10.ATA     QEMU HARDDISK   QM00001", "eui.0025...") or /sys/block/X/wwid (NVMe:
// "eui.<16 or 32 hex>"), in the canonical form of ParseWwid. The kernel's trailing
// newline, spaces and NULs are dropped; spaces inside a t10 identifier are kept.
// nullopt when the text is empty or not a form the config accepts (NVMe "nvme.*" and
// "uuid.*" identifiers, a t10 identifier longer than 80 characters).
std::optional<Wwid> NormaliseSysfsWwid(std::string_view raw);

// The WWID of a device-mapper multipath map from /sys/block/dm-N/dm/uuid
// ("mpath-3600508b4000156d70001200000b00000": SCSI designator type 3, an NAA id).
// nullopt for every other map (LVM, crypt) and other designator types.
std::optional<Wwid> MultipathWwid(std::string_view dm_uuid);

// Whether /sys/block/dm-N/dm/uuid names an LVM logical volume ("LVM-...").
bool IsLvmUuid(std::string_view dm_uuid);

// One port of a Linux bridge, as the probe sees it in /sys/class/net/PORT.
struct BridgePort {
  std::string name;
  bool is_tap = false;       // /sys/class/net/PORT/tun_flags exists: a tun/tap device.
  bool is_physical = false;  // /sys/class/net/PORT/device exists: backed by hardware.
};

// The NIC a bridge's vswitch is reported on: its uplink among `ports`. Guest-facing
// ports never are: tun/tap devices and the names libvirt, Xen and HPVM-style tools give
// them (vnet*, tap*, vif*). Of the others a physical NIC is preferred over virtual
// devices (bonds, VLANs, veth ends); within a kind the first in name order.
// "" when no port qualifies (no port at all, or guest taps only).
std::string ChooseUplink(std::vector<BridgePort> ports);

// The nic printed for a bridge with no uplink (ChooseUplink returned ""): a host-local
// vswitch. The inventory requires a nic, and two nodes' local bridges of one name then
// compare equal in validation (vswitch_mismatch compares NICs).
inline constexpr std::string_view kLocalVswitchNic = "local";

}  // namespace cmcl::io::inventory
