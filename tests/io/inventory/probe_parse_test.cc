// The pure rules of the Linux probe (io/inventory/probe_parse.h), on the text of the
// files it reads.
#include "cmcld/io/inventory/probe_parse.h"

#include <gtest/gtest.h>

namespace cmcl::io::inventory {
namespace {

TEST(ParseMemTotal, ReadsKilobytesRoundedDownToMebibytes) {
  const char* meminfo = "MemTotal:        8131452 kB\nMemFree:         1000 kB\n";

  EXPECT_EQ(ParseMemTotal(meminfo), ByteSize::FromMebibytes(7940));  // 8131452 / 1024.
}

TEST(ParseMemTotal, FindsTheLineAnywhereInTheFile) {
  EXPECT_EQ(ParseMemTotal("MemFree: 1 kB\nMemTotal: 2097152 kB"), ByteSize::FromMebibytes(2048));
}

TEST(ParseMemTotal, RefusesAMissingLineOrAnotherUnit) {
  EXPECT_EQ(ParseMemTotal("MemFree: 1000 kB\n"), std::nullopt);
  EXPECT_EQ(ParseMemTotal("MemTotal: 1000 MB\n"), std::nullopt);
  EXPECT_EQ(ParseMemTotal("MemTotal: lots kB\n"), std::nullopt);
  EXPECT_EQ(ParseMemTotal(""), std::nullopt);
}

TEST(CountCpuList, CountsRangesAndSingleCpus) {
  EXPECT_EQ(CountCpuList("0-3,6,8-9\n"), 7u);
  EXPECT_EQ(CountCpuList("0\n"), 1u);
  EXPECT_EQ(CountCpuList("0-63"), 64u);
}

TEST(CountCpuList, RefusesWhatIsNotACpuList) {
  EXPECT_EQ(CountCpuList(""), std::nullopt);
  EXPECT_EQ(CountCpuList("\n"), std::nullopt);
  EXPECT_EQ(CountCpuList("3-1"), std::nullopt);
  EXPECT_EQ(CountCpuList("0,,2"), std::nullopt);
  EXPECT_EQ(CountCpuList("zero"), std::nullopt);
}

TEST(NormaliseSysfsWwid, ScsiNaaBecomesTheConfigsHexForm) {
  EXPECT_EQ(NormaliseSysfsWwid("naa.600508B4000156D70001200000B00000\n")->value,
            "0x600508b4000156d70001200000b00000");
}

TEST(NormaliseSysfsWwid, T10KeepsInnerSpacesAndDropsTrailingPadding) {
  EXPECT_EQ(
      NormaliseSysfsWwid("t10.ATA     QEMU HARDDISK                           QM00001  \n")->value,
      "t10.ATA     QEMU HARDDISK                           QM00001");
}

TEST(NormaliseSysfsWwid, NvmeEui64AndNguidAreAccepted) {
  EXPECT_EQ(NormaliseSysfsWwid("eui.0025385B71B1E3F1\n")->value, "eui.0025385b71b1e3f1");
  EXPECT_EQ(NormaliseSysfsWwid("eui.e8238fa6bf530001001b448b4a5e1c2d\n")->value,
            "eui.e8238fa6bf530001001b448b4a5e1c2d");
}

TEST(NormaliseSysfsWwid, FormsTheConfigDoesNotAcceptGiveNone) {
  EXPECT_EQ(NormaliseSysfsWwid("nvme.1b36-31323334-51454d55-00000001\n"), std::nullopt);
  EXPECT_EQ(NormaliseSysfsWwid("uuid.1b4e28ba-2fa1-11d2-883f-0016d3cca427\n"), std::nullopt);
  EXPECT_EQ(NormaliseSysfsWwid("t10." + std::string(81, 'x')), std::nullopt);
  EXPECT_EQ(NormaliseSysfsWwid(std::string("\n\0", 2)), std::nullopt);
}

TEST(MultipathWwid, ReadsTheNaaIdOfAMultipathMap) {
  EXPECT_EQ(MultipathWwid("mpath-3600508b4000156d70001200000b00000\n")->value,
            "0x600508b4000156d70001200000b00000");
}

TEST(MultipathWwid, OtherMapsHaveNone) {
  EXPECT_EQ(MultipathWwid("LVM-abcdef"), std::nullopt);
  EXPECT_EQ(MultipathWwid("CRYPT-LUKS2-abc"), std::nullopt);
  EXPECT_EQ(MultipathWwid("mpath-2600508b4000156d7"), std::nullopt);  // Type 2: EUI-64.
  EXPECT_TRUE(IsLvmUuid("LVM-Zb4gk3\n"));
  EXPECT_FALSE(IsLvmUuid("mpath-3600508b4000156d7"));
}

TEST(ChooseUplink, APhysicalNicBeatsVirtualPortsWhateverTheirNames) {
  EXPECT_EQ(ChooseUplink({{.name = "bond0"},
                          {.name = "eth1", .is_physical = true},
                          {.name = "eno1", .is_physical = true},
                          {.name = "veth9"}}),
            "eno1");
}

TEST(ChooseUplink, GuestPortsAreNeverTheUplink) {
  EXPECT_EQ(ChooseUplink({{.name = "a-tap", .is_tap = true},
                          {.name = "vnet0"},
                          {.name = "tap3"},
                          {.name = "vif1.0"},
                          {.name = "veth1"}}),
            "veth1");
}

TEST(ChooseUplink, ABridgeWithoutAnUplinkGetsNone) {
  EXPECT_EQ(ChooseUplink({}), "");
  EXPECT_EQ(ChooseUplink({{.name = "vnet0"}, {.name = "vnet1", .is_tap = true}}), "");
}

TEST(ChooseUplink, AmongPortsOfOneKindTheFirstByNameWins) {
  EXPECT_EQ(ChooseUplink({{.name = "vethb"}, {.name = "vetha"}}), "vetha");
}

}  // namespace
}  // namespace cmcl::io::inventory
