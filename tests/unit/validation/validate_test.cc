// ValidateMigration as a table (STYLE.md rule 28): one row per check of DESIGN.md
// section 6, one per hpvmmigrate refusal of reference section 6.2 (shared DVD, missing
// device, WWID mismatch, vswitch on another NIC, lvol storage), the happy path, the
// source rules (placed, last node, pinned, none -> unchecked) and rows with every
// violation at once.
//
// Every row starts from the same two-node HPVM scenario and changes only what it is
// about: hpvm1 (1 vCPU, 3GiB, disk /dev/rdisk/disk10, vswitch vlan2) runs on ivmcl01 and
// is validated against ivmcl02, which has the same disk (same WWID) and vlan2 on lan0.
#include "cmcld/core/validation/validate.h"

#include <gtest/gtest.h>

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "cmcld/core/validation/cluster_view.h"
#include "tests/support/config_builder.h"

namespace cmcl::validation {
namespace {

using config::DeviceType;
using test_support::ClusterBuilder;
using test_support::Gib;
using test_support::InventoryBuilder;
using test_support::PackageBuilder;
using Code = ViolationCode;

constexpr const char* kWwidA = "0x600508b4000156d700012000000b000a";
constexpr const char* kWwidB = "0x600508b4000156d700012000000b000b";
constexpr const char* kWwidC = "0x600508b4000156d700012000000b000c";

// The baseline every row starts from; rows change what they test.
struct Scenario {
  PackageBuilder package =
      PackageBuilder("hpvm1").Vcpus(1).Memory(Gib(3)).Disk("/dev/rdisk/disk10").Network("vlan2");
  InventoryBuilder source = InventoryBuilder()
                                .Disk("/dev/rdisk/disk10", kWwidA)
                                .Vswitch("vlan2", "lan0")
                                .Capacity(4, Gib(8));
  InventoryBuilder target = InventoryBuilder()
                                .Disk("/dev/rdisk/disk10", kWwidA)
                                .Vswitch("vlan2", "lan0")
                                .Capacity(4, Gib(8));
  InventoryBuilder third = InventoryBuilder()
                               .Disk("/dev/rdisk/disk20", kWwidA)
                               .Vswitch("vlan2", "lan0")
                               .Capacity(4, Gib(8));
  bool target_probed = false;  // ivmcl02 uses `inventory: probe` and has not reported.
  std::vector<PackageBuilder> others;
  ClusterFacts facts = [] {
    ClusterFacts running;
    running.up_members = {NodeName("ivmcl01"), NodeName("ivmcl02"), NodeName("ivmcl03")};
    running.placements[PackageName("hpvm1")] = {NodeName("ivmcl01"), Occupancy::kUp};
    return running;
  }();
  std::string target_node = "ivmcl02";

  config::ClusterConfig Config() const {
    ClusterBuilder cluster;
    cluster.Node("ivmcl01", source.Build());
    if (target_probed) {
      cluster.ProbedNode("ivmcl02", inventory::Capacity{4, Gib(8)});
    } else {
      cluster.Node("ivmcl02", target.Build());
    }
    cluster.Node("ivmcl03", third.Build()).Arbitrator("ivmcl04").Package(package.Build());
    for (const PackageBuilder& other : others) cluster.Package(other.Build());
    return cluster.Build();
  }
};

struct Row {
  std::string name;
  std::function<void(Scenario&)> arrange;
  std::vector<Code> violations;
  std::vector<std::string> messages;  // Exact messages of `violations`; empty: not checked.
  std::vector<Code> unchecked = {};
};

void PrintTo(const Row& row, std::ostream* out) { *out << row.name; }

class ValidateMigrationTable : public ::testing::TestWithParam<Row> {};

TEST_P(ValidateMigrationTable, ReportsExactlyTheRowsViolations) {
  Scenario scenario;
  GetParam().arrange(scenario);
  const config::ClusterConfig config = scenario.Config();
  const ClusterView cluster(config, scenario.facts);

  const ValidationResult result = ValidateMigration(*config.FindPackage(PackageName("hpvm1")),
                                                    NodeName(scenario.target_node), cluster);

  EXPECT_EQ(result.Codes(), GetParam().violations);
  EXPECT_EQ(result.UncheckedCodes(), GetParam().unchecked);
  EXPECT_EQ(result.ok(), GetParam().violations.empty());
  if (!GetParam().messages.empty()) {
    std::vector<std::string> messages;
    for (const Violation& violation : result.violations) messages.push_back(violation.message);
    EXPECT_EQ(messages, GetParam().messages);
  }
  for (const Violation& violation : result.violations) {
    EXPECT_EQ(violation.node, NodeName(scenario.target_node)) << violation.message;
  }
}

void Nothing(Scenario&) {}

// Each check of DESIGN.md section 6 failing alone.
const Row kSingleChecks[] = {
    {"HappyPathHasNoViolations", Nothing, {}, {}},
    {"TargetDownIsNotAMember",
     [](Scenario& s) { s.facts.up_members.erase(NodeName("ivmcl02")); },
     {Code::kTargetNotMember},
     {"target node ivmcl02 is not an up member of the cluster"}},
    {"UnknownTargetIsNotAMemberAndNotEligible",
     [](Scenario& s) { s.target_node = "ivmcl2"; },
     {Code::kTargetNotMember, Code::kNodeNotEligible},
     {"target node ivmcl2 is not a node of cluster ivmcl (did you mean ivmcl02?)",
      "ivmcl2 is not in the node list of hpvm1"}},
    {"TargetOutsideNodeListIsNotEligible",
     [](Scenario& s) {
       s.target_node = "ivmcl03";
       s.third = s.target;
     },
     {Code::kNodeNotEligible},
     {"ivmcl03 is not in the node list of hpvm1"}},
    {"StarPackageMayRunOnAnyMember",
     [](Scenario& s) {
       s.package.AllNodes();
       s.target_node = "ivmcl03";
       s.third = s.target;
     },
     {},
     {}},
    {"ArbitratorIsNotEligible",
     [](Scenario& s) {
       s.package.AllNodes();
       s.target_node = "ivmcl04";
       s.facts.up_members.insert(NodeName("ivmcl04"));
     },
     {Code::kNodeNotEligible},
     {"ivmcl04 is an arbitrator and runs no packages"}},
    {"NodeSwitchingDisabledIsNotEligible",
     [](Scenario& s) {
       s.facts.switching_disabled.insert({PackageName("hpvm1"), NodeName("ivmcl02")});
     },
     {Code::kNodeNotEligible},
     {"node switching of hpvm1 is disabled on ivmcl02 (pkgctl enable hpvm1 -n ivmcl02)"}},
    {"NodeInMaintenanceIsNotEligible",
     [](Scenario& s) { s.facts.maintenance_nodes.insert(NodeName("ivmcl02")); },
     {Code::kNodeNotEligible},
     {"ivmcl02 is in maintenance (pkgctl node maintenance ivmcl02 off)"}},
    {"HpvmRefusalSharedDvd",
     [](Scenario& s) { s.package.Device("/dev/rdsk/c1t4d0", DeviceType::kDvd); },
     {Code::kSharedDevice},
     {"Device /dev/rdsk/c1t4d0 is shared. Guest with shared storage devices cannot be "
      "migrated."}},
    {"CdromIsSharedEvenIfNoNodeListsIt",
     [](Scenario& s) { s.package.Device("/dev/rdsk/c2t0d0", DeviceType::kCdrom); },
     {Code::kSharedDevice},
     {}},
    {"DeviceListedSharedByTargetIsShared",
     [](Scenario& s) {
       s.package.Device("/dev/rtape/tape1", DeviceType::kOther);
       s.target.Shared("/dev/rtape/tape1");
     },
     {Code::kSharedDevice},
     {"Device /dev/rtape/tape1 is shared. Guest with shared storage devices cannot be "
      "migrated. (ivmcl02 lists it in shared_devices)"}},
    {"StorageListedSharedBySourceIsShared",
     [](Scenario& s) { s.source.Shared("/dev/rdisk/disk10"); },
     {Code::kSharedDevice},
     {"Device /dev/rdisk/disk10 is shared. Guest with shared storage devices cannot be "
      "migrated. (ivmcl01 lists it in shared_devices)"}},
    {"UnsharedOtherDeviceIsFine",
     [](Scenario& s) { s.package.Device("/dev/rtape/tape1", DeviceType::kOther); },
     {},
     {}},
    {"HpvmRefusalLvolStorage",
     [](Scenario& s) { s.package.Lvol("/dev/vg00/rlvol1"); },
     {Code::kUnsupportedStorage},
     {"storage /dev/vg00/rlvol1 is a logical volume; only whole disks can be migrated"}},
    {"DiskThatIsAnLvolOnTargetIsUnsupported",
     [](Scenario& s) {
       s.package.Disk("/dev/vg01/rlvol2");
       s.target.Lvol("/dev/vg01/rlvol2");
     },
     {Code::kUnsupportedStorage},
     {"storage /dev/vg01/rlvol2 is a logical volume on ivmcl02; only whole disks can be "
      "migrated"}},
    {"UnsharedFileIsUnsupported",
     [](Scenario& s) { s.package.File("/var/lib/guests/hpvm1.img", false); },
     {Code::kUnsupportedStorage},
     {"storage /var/lib/guests/hpvm1.img is a file; only whole disks can be migrated (mark "
      "it shared: true if every node mounts it from shared storage)"}},
    {"SharedFileIsAllowedButNotChecked",
     [](Scenario& s) { s.package.File("/shared/guests/hpvm1.img", true); },
     {},
     {},
     {Code::kDeviceMissing}},
    {"HpvmRefusalDeviceMissing",
     [](Scenario& s) {
       s.target = InventoryBuilder().Vswitch("vlan2", "lan0").Capacity(4, Gib(8));
     },
     {Code::kDeviceMissing},
     {"target node ivmcl02: device /dev/rdisk/disk10 does not exist (hpvmmigrate: Device "
      "does not exist)"}},
    {"HpvmRefusalWwidMismatch",
     [](Scenario& s) {
       s.target = InventoryBuilder()
                      .Disk("/dev/rdisk/disk10", kWwidB)
                      .Vswitch("vlan2", "lan0")
                      .Capacity(4, Gib(8));
     },
     {Code::kWwidMismatch},
     {"device /dev/rdisk/disk10: WWID 0x600508b4000156d700012000000b000a on ivmcl01 but "
      "0x600508b4000156d700012000000b000b on ivmcl02 (hpvmmigrate: Device WWID does not "
      "match)"}},
    {"PinnedWwidDifferentFromTargetIsAMismatchEvenWhenSourceAgrees",
     [](Scenario& s) {
       s.package = PackageBuilder("hpvm1").Memory(Gib(3)).Disk("/dev/rdisk/disk10", kWwidC);
     },
     {Code::kWwidMismatch},
     {"device /dev/rdisk/disk10: WWID 0x600508b4000156d700012000000b000c pinned in hpvm1 "
      "but 0x600508b4000156d700012000000b000a on ivmcl02 (hpvmmigrate: Device WWID does not "
      "match)"}},
    {"TargetWithoutWwidForADiskWhoseWwidTheSourceKnowsIsAMismatch",
     [](Scenario& s) {
       s.target = InventoryBuilder()
                      .DiskWithoutWwid("/dev/rdisk/disk10")
                      .Vswitch("vlan2", "lan0")
                      .Capacity(4, Gib(8));
     },
     {Code::kWwidMismatch},
     {"device /dev/rdisk/disk10: WWID 0x600508b4000156d700012000000b000a on ivmcl01 but "
      "ivmcl02 reports no WWID for it (hpvmmigrate: Device WWID does not match)"}},
    {"TargetWithoutWwidForADiskWithAPinnedWwidIsAMismatch",
     [](Scenario& s) {
       s.package = PackageBuilder("hpvm1").Memory(Gib(3)).Disk("/dev/rdisk/disk10", kWwidA);
       s.source = InventoryBuilder().Capacity(4, Gib(8));
       s.target = InventoryBuilder().DiskWithoutWwid("/dev/rdisk/disk10").Capacity(4, Gib(8));
     },
     {Code::kWwidMismatch},
     {"device /dev/rdisk/disk10: WWID 0x600508b4000156d700012000000b000a pinned in hpvm1 but "
      "ivmcl02 reports no WWID for it (hpvmmigrate: Device WWID does not match)"}},
    {"NoWwidOnEitherSideAndNonePinnedIsUnchecked",
     [](Scenario& s) {
       s.source = InventoryBuilder()
                      .DiskWithoutWwid("/dev/rdisk/disk10")
                      .Vswitch("vlan2", "lan0")
                      .Capacity(4, Gib(8));
       s.target = InventoryBuilder()
                      .DiskWithoutWwid("/dev/rdisk/disk10")
                      .Vswitch("vlan2", "lan0")
                      .Capacity(4, Gib(8));
     },
     {},
     {},
     {Code::kWwidMismatch}},
    {"HpvmRefusalVswitchOnAnotherNic",
     [](Scenario& s) {
       s.target = InventoryBuilder()
                      .Disk("/dev/rdisk/disk10", kWwidA)
                      .Vswitch("vlan2", "lan1")
                      .Capacity(4, Gib(8));
     },
     {Code::kVswitchMismatch},
     {"vswitch vlan2 uses lan0 on ivmcl01 but lan1 on ivmcl02 (hpvmmigrate: vswitch "
      "validation failed)"}},
    {"VswitchMissingOnTarget",
     [](Scenario& s) {
       s.package.Network("vlan9");
       s.source.Vswitch("vlan9", "lan3");
     },
     {Code::kVswitchMismatch},
     {"vswitch vlan9 does not exist on ivmcl02 (hpvmmigrate: vswitch validation failed)"}},
    {"PinnedNicDifferentFromTarget",
     [](Scenario& s) {
       s.package = PackageBuilder("hpvm1").Memory(Gib(3)).Network("vlan2", "lan7");
     },
     {Code::kVswitchMismatch},
     {"vswitch vlan2 is pinned to lan7 in hpvm1 but uses lan0 on ivmcl02 (hpvmmigrate: "
      "vswitch validation failed)"}},
    {"TooFewVcpusNextToRunningGuests",
     [](Scenario& s) {
       s.package.Vcpus(3);
       s.others.push_back(PackageBuilder("web01").Vcpus(2));
       s.facts.placements[PackageName("web01")] = {NodeName("ivmcl02"), Occupancy::kUp};
     },
     {Code::kInsufficientCapacity},
     {"ivmcl02 has 2 of 4 vCPUs free; hpvm1 needs 3"}},
    {"TooLittleMemoryNextToHaltFailedGuest",
     [](Scenario& s) {
       s.others.push_back(PackageBuilder("web01").Memory(Gib(7)));
       s.facts.placements[PackageName("web01")] = {NodeName("ivmcl02"), Occupancy::kHaltFailed};
     },
     {Code::kInsufficientCapacity},
     {"ivmcl02 has 1GiB of 8GiB memory free; hpvm1 needs 3GiB"}},
    {"GuestsOnOtherNodesDoNotTakeTargetCapacity",
     [](Scenario& s) {
       s.others.push_back(PackageBuilder("web01").Vcpus(4).Memory(Gib(8)));
       s.facts.placements[PackageName("web01")] = {NodeName("ivmcl03"), Occupancy::kUp};
     },
     {},
     {}},
    {"UnknownCapacityIsUnchecked",
     [](Scenario& s) {
       s.target = InventoryBuilder().Disk("/dev/rdisk/disk10", kWwidA).Vswitch("vlan2", "lan0");
     },
     {},
     {},
     {Code::kInsufficientCapacity}},
    {"DiskWwidUsedByAnotherRunningPackage",
     [](Scenario& s) {
       s.others.push_back(PackageBuilder("web02").Nodes({"ivmcl03"}).Disk("/dev/rdisk/disk20"));
       s.facts.placements[PackageName("web02")] = {NodeName("ivmcl03"), Occupancy::kUp};
     },
     {Code::kStorageInUse},
     {"disk WWID 0x600508b4000156d700012000000b000a is also used by web02 (up on ivmcl03)"}},
    {"DiskPathUsedByAnotherStartingPackage",
     [](Scenario& s) {
       s.others.push_back(PackageBuilder("web03").Disk("/dev/rdisk/disk10"));
       s.facts.placements[PackageName("web03")] = {NodeName("ivmcl02"), Occupancy::kStarting};
     },
     {Code::kStorageInUse},
     {"disk WWID 0x600508b4000156d700012000000b000a is also used by web03 (starting on "
      "ivmcl02)"}},
    {"DiskOfADownPackageIsNotInUse",
     [](Scenario& s) { s.others.push_back(PackageBuilder("web03").Disk("/dev/rdisk/disk10")); },
     {},
     {}},
    {"DiskBothMarkSharedIsNotInUse",
     [](Scenario& s) {
       s.package = PackageBuilder("hpvm1").Memory(Gib(3)).SharedDisk("/dev/rdisk/disk10");
       s.others.push_back(PackageBuilder("web03").SharedDisk("/dev/rdisk/disk10"));
       s.facts.placements[PackageName("web03")] = {NodeName("ivmcl03"), Occupancy::kUp};
     },
     {},
     {}},
    {"DiskOnlyOneMarksSharedIsInUse",
     [](Scenario& s) {
       s.others.push_back(PackageBuilder("web03").SharedDisk("/dev/rdisk/disk10"));
       s.facts.placements[PackageName("web03")] = {NodeName("ivmcl03"), Occupancy::kUp};
     },
     {Code::kStorageInUse},
     {}},
};

// The source rules of DESIGN.md section 6.
const Row kSourceRules[] = {
    {"NoSourceAndNothingPinnedIsUncheckedNotRefused",
     [](Scenario& s) { s.facts.placements.clear(); },
     {},
     {},
     {Code::kWwidMismatch, Code::kVswitchMismatch}},
    {"NoSourceUsesPinsAndTheyMatch",
     [](Scenario& s) {
       s.facts.placements.clear();
       s.package = PackageBuilder("hpvm1")
                       .Memory(Gib(3))
                       .Disk("/dev/rdisk/disk10", kWwidA)
                       .Network("vlan2", "lan0");
     },
     {},
     {}},
    {"NoSourceUsesPinsAndTheyDiffer",
     [](Scenario& s) {
       s.facts.placements.clear();
       s.package = PackageBuilder("hpvm1")
                       .Memory(Gib(3))
                       .Disk("/dev/rdisk/disk10", kWwidB)
                       .Network("vlan2", "lan1");
     },
     {Code::kWwidMismatch, Code::kVswitchMismatch},
     {}},
    {"LastNodeIsTheSourceOfAStart",
     [](Scenario& s) {
       s.facts.placements.clear();
       s.facts.last_nodes[PackageName("hpvm1")] = NodeName("ivmcl01");
       s.source = InventoryBuilder().Disk("/dev/rdisk/disk10", kWwidB).Vswitch("vlan2", "lan0");
     },
     {Code::kWwidMismatch},
     {"device /dev/rdisk/disk10: WWID 0x600508b4000156d700012000000b000b on ivmcl01 but "
      "0x600508b4000156d700012000000b000a on ivmcl02 (hpvmmigrate: Device WWID does not "
      "match)"}},
    {"ReportedInventoryOverridesTheConfiguredOne",
     [](Scenario& s) {
       s.facts.reported_inventories[NodeName("ivmcl02")] = InventoryBuilder()
                                                               .Disk("/dev/rdisk/disk10", kWwidA)
                                                               .Vswitch("vlan2", "lan5")
                                                               .Capacity(4, Gib(8))
                                                               .Build();
     },
     {Code::kVswitchMismatch},
     {}},
    {"SourceMissingTheDiskLeavesWwidUnchecked",
     [](Scenario& s) { s.source = InventoryBuilder().Vswitch("vlan2", "lan0"); },
     {},
     {},
     {Code::kWwidMismatch}},
    {"TargetInventoryNotProbedYetIsUnchecked",
     [](Scenario& s) { s.target_probed = true; },
     {},
     {},
     {Code::kDeviceMissing, Code::kWwidMismatch, Code::kVswitchMismatch}},
    {"TargetInventoryNotProbedStillChecksDvdAndCapacity",
     [](Scenario& s) {
       s.target_probed = true;
       s.package.Device("/dev/rdsk/c1t4d0", DeviceType::kDvd).Vcpus(5);
     },
     {Code::kSharedDevice, Code::kInsufficientCapacity},
     {},
     {Code::kDeviceMissing, Code::kWwidMismatch, Code::kVswitchMismatch}},
};

// Several checks failing together: every violation is reported, in table order.
const Row kCombinations[] = {
    {"AllViolationsAtOnce",
     [](Scenario& s) {
       s.target_node = "ivmcl03";
       s.facts.up_members.erase(NodeName("ivmcl03"));
       s.package.Disk("/dev/rdisk/disk20")
           .Disk("/dev/rdisk/disk30")
           .Lvol("/dev/vg00/rlvol1")
           .Device("/dev/rdsk/c1t4d0", DeviceType::kDvd)
           .Network("vlan3")
           .Vcpus(5);
       s.source.Disk("/dev/rdisk/disk20", kWwidB).Vswitch("vlan3", "lan1");
       s.third.Vswitch("vlan3", "lan2");
       s.others.push_back(PackageBuilder("web02").Nodes({"ivmcl03"}).Disk("/dev/rdisk/disk20"));
       s.facts.placements[PackageName("web02")] = {NodeName("ivmcl03"), Occupancy::kUp};
     },
     {Code::kTargetNotMember, Code::kNodeNotEligible, Code::kSharedDevice,
      Code::kUnsupportedStorage, Code::kDeviceMissing, Code::kDeviceMissing, Code::kWwidMismatch,
      Code::kVswitchMismatch, Code::kInsufficientCapacity, Code::kStorageInUse,
      Code::kStorageInUse},
     {"target node ivmcl03 is not an up member of the cluster",
      "ivmcl03 is not in the node list of hpvm1",
      "Device /dev/rdsk/c1t4d0 is shared. Guest with shared storage devices cannot be "
      "migrated.",
      "storage /dev/vg00/rlvol1 is a logical volume; only whole disks can be migrated",
      "target node ivmcl03: device /dev/rdisk/disk10 does not exist (hpvmmigrate: Device "
      "does not exist)",
      "target node ivmcl03: device /dev/rdisk/disk30 does not exist (hpvmmigrate: Device "
      "does not exist)",
      "device /dev/rdisk/disk20: WWID 0x600508b4000156d700012000000b000b on ivmcl01 but "
      "0x600508b4000156d700012000000b000a on ivmcl03 (hpvmmigrate: Device WWID does not "
      "match)",
      "vswitch vlan3 uses lan1 on ivmcl01 but lan2 on ivmcl03 (hpvmmigrate: vswitch "
      "validation failed)",
      "ivmcl03 has 3 of 4 vCPUs free; hpvm1 needs 5",
      "disk WWID 0x600508b4000156d700012000000b000a is also used by web02 (up on ivmcl03)",
      "disk WWID 0x600508b4000156d700012000000b000a is also used by web02 (up on ivmcl03)"}},
    {"EligibilityFailuresAddUp",
     [](Scenario& s) {
       s.target_node = "ivmcl03";
       s.facts.maintenance_nodes.insert(NodeName("ivmcl03"));
       s.facts.switching_disabled.insert({PackageName("hpvm1"), NodeName("ivmcl03")});
       s.third = InventoryBuilder().Disk("/dev/rdisk/disk10", kWwidA).Vswitch("vlan2", "lan0");
     },
     {Code::kNodeNotEligible, Code::kNodeNotEligible, Code::kNodeNotEligible},
     {},
     {Code::kInsufficientCapacity}},
    {"VcpusAndMemoryBothShort",
     [](Scenario& s) { s.package.Vcpus(8).Memory(Gib(16)); },
     {Code::kInsufficientCapacity, Code::kInsufficientCapacity},
     {"ivmcl02 has 4 of 4 vCPUs free; hpvm1 needs 8",
      "ivmcl02 has 8GiB of 8GiB memory free; hpvm1 needs 16GiB"}},
    {"HpvmRefusalsAllAtOnce",
     [](Scenario& s) {
       s.package.Device("/dev/rdsk/c1t4d0", DeviceType::kDvd)
           .Lvol("/dev/vg00/rlvol1")
           .Disk("/dev/rdisk/disk11");
       s.target = InventoryBuilder()
                      .Disk("/dev/rdisk/disk10", kWwidB)
                      .Vswitch("vlan2", "lan1")
                      .Capacity(4, Gib(8));
     },
     {Code::kSharedDevice, Code::kUnsupportedStorage, Code::kDeviceMissing, Code::kWwidMismatch,
      Code::kVswitchMismatch},
     {}},
};

std::string RowName(const ::testing::TestParamInfo<Row>& info) { return info.param.name; }

INSTANTIATE_TEST_SUITE_P(EachCheck, ValidateMigrationTable, ::testing::ValuesIn(kSingleChecks),
                         RowName);
INSTANTIATE_TEST_SUITE_P(SourceRules, ValidateMigrationTable, ::testing::ValuesIn(kSourceRules),
                         RowName);
INSTANTIATE_TEST_SUITE_P(Combinations, ValidateMigrationTable, ::testing::ValuesIn(kCombinations),
                         RowName);

}  // namespace
}  // namespace cmcl::validation
