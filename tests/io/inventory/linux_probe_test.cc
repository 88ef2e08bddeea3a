// The Linux probe (io/inventory/linux_probe.h) on scratch sysfs, /dev and procfs trees
// laid out as the kernel and udev lay them out, and its YAML read back by the real
// inventory_file parser.
#include "cmcld/io/inventory/linux_probe.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "cmcld/io/config/load.h"
#include "cmcld/io/inventory/inventory_yaml.h"
#include "cmcld/io/inventory/probe_parse.h"
#include "tests/support/temp_dir.h"

namespace cmcl::io::inventory {
namespace {

namespace fs = std::filesystem;
using cmcl::inventory::Disk;
using cmcl::inventory::LogicalVolume;
using cmcl::inventory::NodeInventory;
using cmcl::inventory::Vswitch;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

Disk D(const std::string& path, const std::string& wwid = "") {
  return Disk{path, wwid.empty() ? std::nullopt : std::optional<Wwid>(Wwid{wwid})};
}

// A host of 4 CPUs and 7940MiB with no device, to which each test adds its own.
class ScratchHost : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.Write("sys/devices/system/cpu/online", "0-3\n");
    dir_.Write("proc/meminfo", "MemTotal:        8131452 kB\nMemFree:  1 kB\n");
    fs::create_directories(dir_ / "sys/block");
    fs::create_directories(dir_ / "sys/class/net");
    fs::create_directories(dir_ / "dev");
  }

  ProbeRoots Roots() const {
    return {.sys = dir_ / "sys", .dev = dir_ / "dev", .proc = dir_ / "proc"};
  }

  // /sys/block/NAME with a size (sectors) and /dev/NAME.
  void BlockDevice(const std::string& name, const std::string& size = "2097152") {
    dir_.Write("sys/block/" + name + "/size", size + "\n");
    dir_.Write("dev/" + name, "");
  }
  void ByIdLink(const std::string& link, const std::string& target) {
    fs::create_directories(dir_ / "dev/disk/by-id");
    fs::create_symlink(target, dir_ / ("dev/disk/by-id/" + link));
  }
  void NetDevice(const std::string& name) {
    fs::create_directories(dir_ / ("sys/class/net/" + name));
  }
  void Bridge(const std::string& name, const std::vector<std::string>& ports) {
    fs::create_directories(dir_ / ("sys/class/net/" + name + "/bridge"));
    fs::create_directories(dir_ / ("sys/class/net/" + name + "/brif"));
    for (const std::string& port : ports) {
      NetDevice(port);
      fs::create_directory_symlink("../../" + port + "/brport",
                                   dir_ / ("sys/class/net/" + name + "/brif/" + port));
    }
  }

  ProbedInventory Probe() const {
    Result<ProbedInventory> probed = ProbeLinuxInventory(Roots());
    EXPECT_TRUE(probed.ok()) << probed.status().ToString();
    return probed.ok() ? probed.value() : ProbedInventory{};
  }

  testing::TempDir dir_;
};

TEST_F(ScratchHost, ADiskIsListedByDevicePathAndEveryByIdLinkWithItsWwid) {
  BlockDevice("sda");
  dir_.Write("sys/block/sda/device/wwid", "naa.600508B4000156D70001200000B00000\n");
  dir_.Write("sys/block/sda/sda1/partition", "1\n");
  ByIdLink("wwn-0x600508b4000156d70001200000b00000", "../../sda");
  ByIdLink("scsi-3600508b4000156d70001200000b00000", "../../sda");
  ByIdLink("wwn-0x600508b4000156d70001200000b00000-part1", "../../sda1");

  const ProbedInventory probed = Probe();

  const std::string wwid = "0x600508b4000156d70001200000b00000";
  EXPECT_THAT(probed.inventory.disks,
              ElementsAre(D("/dev/disk/by-id/scsi-3600508b4000156d70001200000b00000", wwid),
                          D("/dev/disk/by-id/wwn-0x600508b4000156d70001200000b00000", wwid),
                          D("/dev/sda", wwid)));
  EXPECT_THAT(probed.notes, IsEmpty());
}

TEST_F(ScratchHost, AnNvmeNamespaceHasItsWwidInTheBlockFolder) {
  BlockDevice("nvme0n1");
  dir_.Write("sys/block/nvme0n1/wwid", "eui.e8238fa6bf530001001b448b4a5e1c2d\n");

  EXPECT_THAT(Probe().inventory.disks,
              ElementsAre(D("/dev/nvme0n1", "eui.e8238fa6bf530001001b448b4a5e1c2d")));
}

TEST_F(ScratchHost, ADiskWithoutWwidKeepsItsStableIdLinkAndHasNoWwid) {
  BlockDevice("vda");
  ByIdLink("virtio-os-disk", "../../vda");

  EXPECT_THAT(Probe().inventory.disks,
              ElementsAre(D("/dev/disk/by-id/virtio-os-disk"), D("/dev/vda")));
}

TEST_F(ScratchHost, AWwidTheConfigDoesNotAcceptIsNotedAndTheDiskListedWithoutOne) {
  BlockDevice("nvme1n1");
  dir_.Write("sys/block/nvme1n1/wwid", "nvme.1b36-31323334-51454d55-00000001\n");

  const ProbedInventory probed = Probe();

  EXPECT_THAT(probed.inventory.disks, ElementsAre(D("/dev/nvme1n1")));
  ASSERT_EQ(probed.notes.size(), 1u);
  EXPECT_THAT(probed.notes[0], HasSubstr("nvme.1b36-31323334-51454d55-00000001"));
  EXPECT_THAT(probed.notes[0], HasSubstr("/dev/nvme1n1 is listed without one"));
}

TEST_F(ScratchHost, RamDisksUnboundLoopsPartitionsAndEmptyDevicesAreLeftOut) {
  BlockDevice("ram0");
  BlockDevice("zram0");
  BlockDevice("loop0");  // Bound to nothing: no loop/backing_file.
  BlockDevice("loop1");
  dir_.Write("sys/block/loop1/loop/backing_file", "/var/lib/images/guest.img\n");
  BlockDevice("nbd0", "0");
  BlockDevice("sdb1");
  dir_.Write("sys/block/sdb1/partition", "1\n");

  const ProbedInventory probed = Probe();

  EXPECT_THAT(probed.inventory.disks, ElementsAre(D("/dev/loop1")));
  EXPECT_THAT(probed.notes, IsEmpty());
}

TEST_F(ScratchHost, ADeviceWhoseSizeCannotBeReadIsSkippedWithANote) {
  BlockDevice("sda");
  fs::create_directories(dir_ / "sys/block/sdz");

  const ProbedInventory probed = Probe();

  EXPECT_THAT(probed.inventory.disks, ElementsAre(D("/dev/sda")));
  ASSERT_EQ(probed.notes.size(), 1u);
  EXPECT_THAT(probed.notes[0], HasSubstr("skipped " + (dir_ / "sys/block/sdz")));
}

TEST_F(ScratchHost, CdAndDvdDrivesAreSharedDevicesNotDisks) {
  BlockDevice("sr0", "0");  // No medium.
  ByIdLink("ata-QEMU_DVD-ROM_QM00003", "../../sr0");
  BlockDevice("sdc");
  dir_.Write("sys/block/sdc/device/type", "5\n");  // SCSI peripheral type 5: CD/DVD.

  const ProbedInventory probed = Probe();

  EXPECT_THAT(probed.inventory.disks, IsEmpty());
  EXPECT_THAT(probed.inventory.shared_devices,
              ElementsAre("/dev/disk/by-id/ata-QEMU_DVD-ROM_QM00003", "/dev/sdc", "/dev/sr0"));
}

TEST_F(ScratchHost, MultipathMapsAreDisksWithTheirWwidAndLvmVolumesAreLvols) {
  BlockDevice("dm-0");
  dir_.Write("sys/block/dm-0/dm/uuid", "mpath-3600508b4000156d70001200000b00000\n");
  dir_.Write("sys/block/dm-0/dm/name", "mpatha\n");
  ByIdLink("dm-uuid-mpath-3600508b4000156d70001200000b00000", "../../dm-0");
  BlockDevice("dm-1");
  dir_.Write("sys/block/dm-1/dm/uuid", "LVM-Zb4gk3WxY\n");
  dir_.Write("sys/block/dm-1/dm/name", "vg00-lvol1\n");

  const ProbedInventory probed = Probe();

  const std::string wwid = "0x600508b4000156d70001200000b00000";
  EXPECT_THAT(
      probed.inventory.disks,
      ElementsAre(D("/dev/disk/by-id/dm-uuid-mpath-3600508b4000156d70001200000b00000", wwid),
                  D("/dev/dm-0", wwid)));
  EXPECT_THAT(probed.inventory.lvols,
              ElementsAre(LogicalVolume{"/dev/dm-1"}, LogicalVolume{"/dev/mapper/vg00-lvol1"}));
}

TEST_F(ScratchHost, EachBridgeIsAVswitchOnItsUplinkPort) {
  Bridge("br0", {"eth0", "vnet0"});
  dir_.Write("sys/class/net/eth0/device/vendor", "0x8086\n");  // A physical NIC.
  dir_.Write("sys/class/net/vnet0/tun_flags", "0x1002\n");
  Bridge("br1", {"veth1"});
  Bridge("br2", {});
  NetDevice("eth1");  // Not a bridge.
  NetDevice("lo");

  EXPECT_THAT(Probe().inventory.vswitches,
              ElementsAre(Vswitch{"br0", "eth0"}, Vswitch{"br1", "veth1"},
                          Vswitch{"br2", std::string(kLocalVswitchNic)}));
}

TEST_F(ScratchHost, CapacityIsTheOnlineCpusAndMemTotal) {
  const ProbedInventory probed = Probe();

  ASSERT_TRUE(probed.inventory.capacity.has_value());
  EXPECT_EQ(probed.inventory.capacity->vcpus, 4u);
  EXPECT_EQ(probed.inventory.capacity->memory, ByteSize::FromMebibytes(7940));
}

TEST_F(ScratchHost, AMissingSysBlockIsAnErrorNamingThePath) {
  fs::remove_all(dir_ / "sys/block");

  const Result<ProbedInventory> probed = ProbeLinuxInventory(Roots());

  ASSERT_FALSE(probed.ok());
  EXPECT_THAT(probed.status().message(), HasSubstr("cannot list " + (dir_ / "sys/block")));
}

TEST_F(ScratchHost, AMissingMeminfoOrCpuListIsAnErrorNamingThePath) {
  fs::remove(dir_ / "proc/meminfo");
  Result<ProbedInventory> probed = ProbeLinuxInventory(Roots());
  ASSERT_FALSE(probed.ok());
  EXPECT_THAT(probed.status().message(), HasSubstr("cannot read " + (dir_ / "proc/meminfo")));

  fs::remove(dir_ / "sys/devices/system/cpu/online");
  probed = ProbeLinuxInventory(Roots());
  ASSERT_FALSE(probed.ok());
  EXPECT_THAT(probed.status().message(),
              HasSubstr("cannot read " + (dir_ / "sys/devices/system/cpu/online")));
}

TEST_F(ScratchHost, AMissingClassNetIsAnErrorNamingThePath) {
  fs::remove_all(dir_ / "sys/class/net");

  const Result<ProbedInventory> probed = ProbeLinuxInventory(Roots());

  ASSERT_FALSE(probed.ok());
  EXPECT_THAT(probed.status().message(), HasSubstr(dir_ / "sys/class/net"));
}

// What `pkgctl inventory probe` prints, saved as a node's inventory_file, loads into the
// same inventory (capacity goes on the node's own key, printed as a comment).
TEST_F(ScratchHost, ItsYamlIsReadBackByTheInventoryFileParserUnchanged) {
  BlockDevice("sda");
  dir_.Write("sys/block/sda/device/wwid", "t10.ATA     QEMU HARDDISK   QM00001  \n");
  ByIdLink("ata-QEMU_HARDDISK_QM00001", "../../sda");
  BlockDevice("nvme0n1");
  dir_.Write("sys/block/nvme0n1/wwid", "eui.0025385b71b1e3f1\n");
  BlockDevice("dm-1");
  dir_.Write("sys/block/dm-1/dm/uuid", "LVM-Zb4gk3WxY\n");
  dir_.Write("sys/block/dm-1/dm/name", "vg00-lvol1\n");
  BlockDevice("sr0");
  Bridge("br0", {"eth0"});
  Bridge("br#1", {});
  const ProbedInventory probed = Probe();
  testing::TempDir etc;
  etc.Write("cluster.key", std::string(48, 'k'), 0600);
  etc.Write("n1.yaml", InventoryYaml(probed.inventory));
  etc.Write("cluster.yaml",
            "cluster_name: c\nsecurity: {key_file: cluster.key}\nnodes:\n"
            "  - {name: n1, addresses: [127.0.0.1:7101], inventory_file: n1.yaml}\n"
            "  - {name: n2, addresses: [127.0.0.2:7101]}\n"
            "  - {name: n3, addresses: [127.0.0.3:7101]}\n");

  const config::LoadedConfig loaded = config::LoadCluster(etc / "cluster.yaml");

  ASSERT_TRUE(loaded.ok()) << cmcl::config::FormatDiagnostic(loaded.diagnostics.at(0));
  NodeInventory expected = probed.inventory;
  expected.capacity.reset();
  EXPECT_EQ(loaded.config.nodes.at(0).inventory, expected);
  EXPECT_EQ(expected.disks.size(), 3u);
  EXPECT_EQ(expected.lvols.size(), 2u);
  EXPECT_EQ(expected.vswitches.size(), 2u);
  EXPECT_EQ(expected.shared_devices.size(), 1u);
  EXPECT_THAT(InventoryYaml(probed.inventory),
              HasSubstr("#   capacity: {vcpus: 4, memory: 7940MiB}\n"));
}

TEST_F(ScratchHost, ItsSummaryForTheLogCountsWhatWasFound) {
  BlockDevice("sda");
  dir_.Write("sys/block/sda/device/wwid", "naa.600508b4000156d7\n");
  BlockDevice("vda");
  Bridge("br0", {"veth0"});

  EXPECT_EQ(SummarizeInventory(Probe().inventory),
            "2 disk paths (1 with a WWID), 0 lvols, vswitches br0->veth0, 0 shared devices, "
            "4 vCPUs, 7940MiB");
}

TEST(InventoryYaml, AnEmptyInventoryWritesEveryListEmpty) {
  EXPECT_EQ(InventoryYaml({}), "disks: []\nlvols: []\nvswitches: []\nshared_devices: []\n");
}

TEST(InventoryYaml, QuotesAndBackslashesAreEscaped) {
  EXPECT_EQ(YamlQuoted("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(YamlQuoted(std::string("x\ty")), "\"x\\x09y\"");
}

}  // namespace
}  // namespace cmcl::io::inventory
