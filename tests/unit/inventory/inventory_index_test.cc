// InventoryIndex and the inventory helpers: the lookups validation relies on.
#include "cmcld/core/inventory/inventory_index.h"

#include <gtest/gtest.h>

#include "tests/support/config_builder.h"

namespace cmcl::inventory {
namespace {

using test_support::Gib;
using test_support::InventoryBuilder;
using test_support::WwidOf;

constexpr const char* kWwid = "0x600508b4000156d700012000000b0000";

NodeInventory Sample() {
  return InventoryBuilder()
      .Disk("/dev/rdisk/disk10", kWwid)
      .DiskWithoutWwid("/dev/rdisk/disk11")
      .Lvol("/dev/vg00/rlvol1")
      .Vswitch("vlan2", "lan0")
      .Shared("/dev/rdsk/c1t4d0")
      .Capacity(8, Gib(32))
      .Build();
}

TEST(InventoryIndex, FindsDisksWithAndWithoutWwid) {
  const NodeInventory inventory = Sample();
  const InventoryIndex index = InventoryIndex::Of(inventory);

  const Disk* with_wwid = index.FindDisk("/dev/rdisk/disk10");
  const Disk* without_wwid = index.FindDisk("/dev/rdisk/disk11");

  ASSERT_NE(with_wwid, nullptr);
  EXPECT_EQ(with_wwid->wwid, WwidOf(kWwid));
  ASSERT_NE(index.FindDiskWwid("/dev/rdisk/disk10"), nullptr);
  EXPECT_EQ(*index.FindDiskWwid("/dev/rdisk/disk10"), WwidOf(kWwid));
  ASSERT_NE(without_wwid, nullptr);
  EXPECT_EQ(without_wwid->wwid, std::nullopt);
  EXPECT_EQ(index.FindDiskWwid("/dev/rdisk/disk11"), nullptr);
  EXPECT_EQ(index.FindDisk("/dev/rdisk/disk12"), nullptr);
  EXPECT_TRUE(index.HasDisk("/dev/rdisk/disk11"));
}

TEST(InventoryIndex, TellsLvolsSharedDevicesAndVswitchesApart) {
  const NodeInventory inventory = Sample();
  const InventoryIndex index = InventoryIndex::Of(inventory);

  EXPECT_TRUE(index.IsLogicalVolume("/dev/vg00/rlvol1"));
  EXPECT_FALSE(index.IsLogicalVolume("/dev/rdisk/disk10"));
  EXPECT_TRUE(index.IsSharedDevice("/dev/rdsk/c1t4d0"));
  EXPECT_FALSE(index.IsSharedDevice("/dev/rdisk/disk10"));
  ASSERT_NE(index.FindVswitchNic("vlan2"), nullptr);
  EXPECT_EQ(*index.FindVswitchNic("vlan2"), "lan0");
  EXPECT_EQ(index.FindVswitchNic("vlan3"), nullptr);
  EXPECT_TRUE(index.devices_known());
  EXPECT_EQ(index.capacity(), (Capacity{8, Gib(32)}));
}

TEST(InventoryIndex, UnknownKeepsOnlyTheCapacity) {
  const InventoryIndex index = InventoryIndex::Unknown(Capacity{4, Gib(8)});

  EXPECT_FALSE(index.devices_known());
  EXPECT_EQ(index.capacity(), (Capacity{4, Gib(8)}));
  EXPECT_EQ(index.FindVswitchNic("vlan2"), nullptr);
}

TEST(InventoryHelpers, LinearLookupsAgreeWithTheIndex) {
  const NodeInventory inventory = Sample();

  ASSERT_NE(FindDisk(inventory, "/dev/rdisk/disk10"), nullptr);
  EXPECT_EQ(FindDisk(inventory, "/dev/rdisk/disk10")->wwid, WwidOf(kWwid));
  EXPECT_EQ(FindDisk(inventory, "/dev/rdisk/disk99"), nullptr);
  ASSERT_NE(FindVswitch(inventory, "vlan2"), nullptr);
  EXPECT_EQ(FindVswitch(inventory, "vlan2")->nic, "lan0");
  EXPECT_EQ(FindVswitch(inventory, "vlan9"), nullptr);
  EXPECT_TRUE(IsLogicalVolume(inventory, "/dev/vg00/rlvol1"));
  EXPECT_TRUE(IsSharedDevice(inventory, "/dev/rdsk/c1t4d0"));
  EXPECT_FALSE(IsSharedDevice(inventory, "/dev/vg00/rlvol1"));
}

TEST(WithCapacity, FillsMissingCapacityButNeverOverridesTheInventorys) {
  const NodeInventory without = InventoryBuilder().Vswitch("vlan2", "lan0").Build();
  const NodeInventory with = Sample();

  EXPECT_EQ(WithCapacity(without, Capacity{2, Gib(4)}).capacity, (Capacity{2, Gib(4)}));
  EXPECT_EQ(WithCapacity(with, Capacity{2, Gib(4)}).capacity, (Capacity{8, Gib(32)}));
  EXPECT_EQ(WithCapacity(without, std::nullopt).capacity, std::nullopt);
}

}  // namespace
}  // namespace cmcl::inventory
