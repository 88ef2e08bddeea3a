// The readiness matrix, `check` reports (online and offline) and their JSON: DESIGN.md
// section 6 ("runs validation for every package against every other node it may run
// on") and INTERFACE.md ("check and readiness").
#include "cmcld/core/validation/readiness.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cmcld/core/validation/validate.h"
#include "tests/support/config_builder.h"

namespace cmcl::validation {
namespace {

using test_support::ClusterBuilder;
using test_support::Gib;
using test_support::InventoryBuilder;
using test_support::PackageBuilder;
using Code = ViolationCode;

constexpr const char* kWwidA = "0x600508b4000156d700012000000b000a";
constexpr const char* kWwidB = "0x600508b4000156d700012000000b000b";

inventory::NodeInventory Host(const char* wwid) {
  return InventoryBuilder()
      .Disk("/dev/rdisk/disk10", wwid)
      .Vswitch("vlan2", "lan0")
      .Capacity(4, Gib(8))
      .Build();
}

// ivmcl03 sees a different LUN at /dev/rdisk/disk10: hpvm1 cannot fail over there.
config::ClusterConfig ThreeNodes() {
  return ClusterBuilder()
      .Node("ivmcl01", Host(kWwidA))
      .Node("ivmcl02", Host(kWwidA))
      .Node("ivmcl03", Host(kWwidB))
      .Arbitrator("ivmcl04")
      .Package(PackageBuilder("hpvm1")
                   .Nodes({"ivmcl01", "ivmcl02", "ivmcl03"})
                   .Memory(Gib(3))
                   .Disk("/dev/rdisk/disk10")
                   .Network("vlan2")
                   .Build())
      .Package(PackageBuilder("web01").AllNodes().Build())
      .Package(PackageBuilder("db01").Nodes({"ivmcl02", "ivmcl03"}).Build())
      .Build();
}

ClusterFacts Running() {
  ClusterFacts facts;
  facts.up_members = {NodeName("ivmcl01"), NodeName("ivmcl02"), NodeName("ivmcl03"),
                      NodeName("ivmcl04")};
  facts.placements[PackageName("hpvm1")] = {NodeName("ivmcl01"), Occupancy::kUp};
  facts.placements[PackageName("web01")] = {NodeName("ivmcl02"), Occupancy::kUp};
  return facts;
}

std::vector<std::string> NodesOf(const CheckReport& report) {
  std::vector<std::string> nodes;
  for (const NodeResult& result : report.results) nodes.push_back(result.node.value());
  return nodes;
}

TEST(Readiness, CoversEveryPackageAgainstEveryOtherNodeItMayRunOn) {
  const config::ClusterConfig config = ThreeNodes();
  const ClusterFacts facts = Running();

  const std::vector<PackageReadiness> readiness = ComputeReadiness(config, facts);

  ASSERT_EQ(readiness.size(), 3u);
  EXPECT_EQ(readiness[0].package, PackageName("hpvm1"));
  EXPECT_EQ(readiness[0].source, NodeName("ivmcl01"));
  EXPECT_EQ(NodesOf(readiness[0]), (std::vector<std::string>{"ivmcl02", "ivmcl03"}));
  EXPECT_EQ(readiness[1].package, PackageName("web01"));
  EXPECT_EQ(readiness[1].source, NodeName("ivmcl02"));
  EXPECT_EQ(NodesOf(readiness[1]), (std::vector<std::string>{"ivmcl01", "ivmcl03"}));
  EXPECT_EQ(readiness[2].package, PackageName("db01"));
  EXPECT_EQ(readiness[2].source, std::nullopt);
  EXPECT_EQ(NodesOf(readiness[2]), (std::vector<std::string>{"ivmcl02", "ivmcl03"}));
}

TEST(Readiness, ShowsARefusedFailoverBeforeANodeIsLost) {
  const config::ClusterConfig config = ThreeNodes();
  const ClusterFacts facts = Running();

  const std::vector<PackageReadiness> readiness = ComputeReadiness(config, facts);

  EXPECT_TRUE(readiness[0].results[0].result.ok());
  EXPECT_EQ(readiness[0].results[1].result.Codes(), std::vector<Code>{Code::kWwidMismatch});
  EXPECT_FALSE(readiness[0].ok());
  EXPECT_TRUE(readiness[1].ok());
}

TEST(Readiness, CountsGuestsAlreadyRunningOnTheTarget) {
  const config::ClusterConfig config = ClusterBuilder()
                                           .Node("ivmcl01", Host(kWwidA))
                                           .Node("ivmcl02", Host(kWwidA))
                                           .Package(PackageBuilder("big1").Vcpus(3).Build())
                                           .Package(PackageBuilder("big2").Vcpus(3).Build())
                                           .Build();
  ClusterFacts facts;
  facts.up_members = {NodeName("ivmcl01"), NodeName("ivmcl02")};
  facts.placements[PackageName("big1")] = {NodeName("ivmcl01"), Occupancy::kUp};
  facts.placements[PackageName("big2")] = {NodeName("ivmcl02"), Occupancy::kUp};

  const std::vector<PackageReadiness> readiness = ComputeReadiness(config, facts);

  ASSERT_EQ(readiness.size(), 2u);
  ASSERT_EQ(readiness[0].results.size(), 1u);
  EXPECT_EQ(readiness[0].results[0].result.violations.at(0).message,
            "ivmcl02 has 1 of 4 vCPUs free; big1 needs 3");
  EXPECT_EQ(readiness[1].results[0].result.violations.at(0).message,
            "ivmcl01 has 1 of 4 vCPUs free; big2 needs 3");
}

TEST(Readiness, EqualsValidatingEachPairOnItsOwn) {
  const config::ClusterConfig config = ThreeNodes();
  const ClusterFacts facts = Running();
  const ClusterView cluster(config, facts);

  const std::vector<PackageReadiness> readiness = ComputeReadiness(cluster);

  for (const PackageReadiness& package : readiness) {
    for (const NodeResult& result : package.results) {
      const ValidationResult alone =
          ValidateMigration(*config.FindPackage(package.package), result.node, cluster);
      EXPECT_EQ(alone.violations, result.result.violations) << package.package;
      EXPECT_EQ(alone.unchecked, result.result.unchecked) << package.package;
    }
  }
}

// A node agent re-probes before a start and passes its fresh inventory explicitly; that
// goes through InventoryIndex lookups rather than the view's dense tables.
TEST(ValidateMigrationWithEndpoints, UsesTheInventoryPassedForTheTarget) {
  const config::ClusterConfig config = ThreeNodes();
  const ClusterFacts facts = Running();
  const ClusterView cluster(config, facts);
  const config::PackageSpec& hpvm1 = *config.FindPackage(PackageName("hpvm1"));
  const Endpoint source{NodeName("ivmcl01"), cluster.Inventory(NodeName("ivmcl01"))};
  const inventory::NodeInventory same = Host(kWwidA);
  const inventory::NodeInventory lost_disk =
      InventoryBuilder().Vswitch("vlan2", "lan0").Capacity(4, Gib(8)).Build();
  const inventory::InventoryIndex same_index = inventory::InventoryIndex::Of(same);
  const inventory::InventoryIndex lost_index = inventory::InventoryIndex::Of(lost_disk);

  const ValidationResult as_configured =
      ValidateMigration(hpvm1, source, {NodeName("ivmcl02"), &same_index}, cluster);
  const ValidationResult reprobed =
      ValidateMigration(hpvm1, source, {NodeName("ivmcl02"), &lost_index}, cluster);

  EXPECT_EQ(as_configured.violations,
            ValidateMigration(hpvm1, NodeName("ivmcl02"), cluster).violations);
  EXPECT_TRUE(as_configured.ok());
  EXPECT_EQ(reprobed.Codes(), std::vector<Code>{Code::kDeviceMissing});
}

TEST(ValidateMigrationWithEndpoints, PackageOutsideTheViewIsValidatedToo) {
  const config::ClusterConfig config = ThreeNodes();
  const ClusterFacts facts = Running();
  const ClusterView cluster(config, facts);
  const config::PackageSpec candidate =
      PackageBuilder("hpvm9").Disk("/dev/rdisk/disk10").Network("vlan2").Build();

  const ValidationResult to_second = ValidateMigration(candidate, NodeName("ivmcl02"), cluster);
  const ValidationResult to_third = ValidateMigration(candidate, NodeName("ivmcl03"), cluster);

  EXPECT_EQ(to_second.Codes(), std::vector<Code>{Code::kStorageInUse});
  EXPECT_EQ(to_third.Codes(), (std::vector<Code>{Code::kNodeNotEligible, Code::kStorageInUse}));
}

TEST(Readiness, DownPackageComparesEveryNodeWithTheLastNodeThatRanIt) {
  const config::ClusterConfig config = ThreeNodes();
  ClusterFacts facts = Running();
  facts.placements.erase(PackageName("hpvm1"));
  facts.last_nodes[PackageName("hpvm1")] = NodeName("ivmcl03");

  const std::vector<PackageReadiness> readiness = ComputeReadiness(config, facts);

  EXPECT_EQ(readiness[0].source, NodeName("ivmcl03"));
  ASSERT_EQ(NodesOf(readiness[0]), (std::vector<std::string>{"ivmcl01", "ivmcl02", "ivmcl03"}));
  EXPECT_EQ(readiness[0].results[0].result.Codes(), std::vector<Code>{Code::kWwidMismatch});
  EXPECT_EQ(readiness[0].results[1].result.Codes(), std::vector<Code>{Code::kWwidMismatch});
  EXPECT_TRUE(readiness[0].results[2].result.ok());
}

// A halt_failed guest may still run where it is (DESIGN.md section 5): that node is its
// source and not a failover target.
TEST(Readiness, HaltFailedGuestCountsAsRunningWhereItIs) {
  const config::ClusterConfig config = ThreeNodes();
  ClusterFacts facts = Running();
  facts.placements[PackageName("hpvm1")] = {NodeName("ivmcl02"), Occupancy::kHaltFailed};

  const std::vector<PackageReadiness> readiness = ComputeReadiness(config, facts);

  EXPECT_EQ(readiness[0].source, NodeName("ivmcl02"));
  EXPECT_EQ(NodesOf(readiness[0]), (std::vector<std::string>{"ivmcl01", "ivmcl03"}));
}

TEST(Readiness, ViewOnAKeptConfigIndexAgreesWithAFreshView) {
  const config::ClusterConfig config = ThreeNodes();
  const ReportedInventories reported;
  const ConfigIndex index(config, reported);
  ClusterFacts moved = Running();
  moved.placements[PackageName("hpvm1")] = {NodeName("ivmcl03"), Occupancy::kUp};

  const std::string kept_before = ReadinessJson(ComputeReadiness(ClusterView(index, Running())));
  const std::string kept_after = ReadinessJson(ComputeReadiness(ClusterView(index, moved)));

  EXPECT_EQ(kept_before, ReadinessJson(ComputeReadiness(config, Running())));
  EXPECT_EQ(kept_after, ReadinessJson(ComputeReadiness(config, moved)));
  EXPECT_NE(kept_before, kept_after);
}

TEST(Readiness, IsDeterministic) {
  const std::string first = ReadinessJson(ComputeReadiness(ThreeNodes(), Running()));

  const std::string second = ReadinessJson(ComputeReadiness(ThreeNodes(), Running()));

  EXPECT_EQ(first, second);
  EXPECT_EQ(first.front(), '[');
}

TEST(CheckOffline, SourceIsTheFirstListedNodeOtherThanTheTarget) {
  const config::ClusterConfig config = ThreeNodes();

  const Result<CheckReport> to_first =
      CheckOffline(config, PackageName("hpvm1"), NodeName("ivmcl01"));
  const Result<CheckReport> to_third =
      CheckOffline(config, PackageName("hpvm1"), NodeName("ivmcl03"));

  ASSERT_TRUE(to_first.ok());
  EXPECT_EQ(to_first->source, NodeName("ivmcl02"));
  EXPECT_EQ(NodesOf(*to_first), std::vector<std::string>{"ivmcl01"});
  ASSERT_TRUE(to_third.ok());
  EXPECT_EQ(to_third->source, NodeName("ivmcl01"));
  EXPECT_EQ(to_third->results.at(0).result.Codes(), std::vector<Code>{Code::kWwidMismatch});
}

TEST(CheckOffline, WithoutTargetChecksEveryOtherListedNode) {
  const config::ClusterConfig config = ThreeNodes();

  const Result<CheckReport> report = CheckOffline(config, PackageName("hpvm1"), std::nullopt);

  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->source, NodeName("ivmcl01"));
  EXPECT_EQ(NodesOf(*report), (std::vector<std::string>{"ivmcl02", "ivmcl03"}));
  EXPECT_TRUE(report->results[0].result.ok());
  EXPECT_FALSE(report->results[1].result.ok());
}

TEST(CheckOffline, MembershipMeansConfiguredAsAMember) {
  const config::ClusterConfig config = ThreeNodes();

  const Result<CheckReport> known = CheckOffline(config, PackageName("web01"), NodeName("ivmcl03"));
  const Result<CheckReport> unknown =
      CheckOffline(config, PackageName("web01"), NodeName("ivmcl09"));

  ASSERT_TRUE(known.ok());
  EXPECT_TRUE(known->ok());
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ(unknown->results.at(0).result.violations.at(0).message,
            "target node ivmcl09 is not a node of cluster ivmcl (did you mean ivmcl01?)");
}

TEST(CheckOffline, ProbedTargetIsUncheckedNotRefused) {
  config::ClusterConfig config = ThreeNodes();
  config.nodes[1].inventory_source = config::InventorySource::kProbe;
  config.nodes[1].inventory = {};
  config.nodes[1].capacity = inventory::Capacity{4, Gib(8)};

  const Result<CheckReport> report =
      CheckOffline(config, PackageName("hpvm1"), NodeName("ivmcl02"));

  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok());
  EXPECT_EQ(report->results.at(0).result.UncheckedCodes(),
            (std::vector<Code>{Code::kDeviceMissing, Code::kWwidMismatch, Code::kVswitchMismatch}));
}

TEST(CheckOffline, UnknownPackageIsNotFoundWithASuggestion) {
  const config::ClusterConfig config = ThreeNodes();

  const Result<CheckReport> report = CheckOffline(config, PackageName("hpvm2"), std::nullopt);

  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(report.status().message(),
            "hpvm2 is not a configured package name (did you mean hpvm1?)");
}

TEST(CheckOffline, DiskSharedWithAnotherConfiguredPackageIsInUse) {
  config::ClusterConfig config = ThreeNodes();
  config.packages.push_back(
      PackageBuilder("web02").Nodes({"ivmcl02"}).Disk("/dev/rdisk/disk10").Build());

  const Result<CheckReport> report =
      CheckOffline(config, PackageName("hpvm1"), NodeName("ivmcl02"));

  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->results.at(0).result.violations.at(0).message,
            "disk WWID 0x600508b4000156d700012000000b000a is also used by web02 (which may "
            "run on ivmcl02)");
}

TEST(CheckOnline, SourceIsWhereTheGuestRuns) {
  const config::ClusterConfig config = ThreeNodes();
  ClusterFacts facts = Running();
  facts.placements[PackageName("hpvm1")] = {NodeName("ivmcl03"), Occupancy::kUp};
  const ClusterView cluster(config, facts);

  const Result<CheckReport> report = Check(cluster, PackageName("hpvm1"), std::nullopt);

  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->source, NodeName("ivmcl03"));
  EXPECT_EQ(NodesOf(*report), (std::vector<std::string>{"ivmcl01", "ivmcl02"}));
  EXPECT_EQ(report->results[0].result.Codes(), std::vector<Code>{Code::kWwidMismatch});
}

CheckReport SmallReport() {
  ValidationResult refused;
  refused.violations.push_back(
      {Code::kVswitchMismatch, "vswitch \"vlan2\" uses lan0", NodeName("ivmcl02"), "vlan2"});
  ValidationResult unchecked;
  unchecked.unchecked.push_back({Code::kWwidMismatch, "not checked", NodeName("ivmcl03"), ""});
  return CheckReport{PackageName("hpvm1"),
                     NodeName("ivmcl01"),
                     {{NodeName("ivmcl02"), refused}, {NodeName("ivmcl03"), unchecked}}};
}

TEST(CheckReportJson, HasTheShapeOfInterfaceMd) {
  const std::string json = CheckReportJson(SmallReport());

  EXPECT_EQ(json,
            "{\"package\":\"hpvm1\",\"source\":\"ivmcl01\",\"results\":["
            "{\"node\":\"ivmcl02\",\"ok\":false,\"violations\":[{\"code\":\"vswitch_mismatch\","
            "\"message\":\"vswitch \\\"vlan2\\\" uses lan0\"}],\"unchecked\":[]},"
            "{\"node\":\"ivmcl03\",\"ok\":true,\"violations\":[],\"unchecked\":[{\"code\":"
            "\"wwid_mismatch\",\"message\":\"not checked\"}]}]}");
}

TEST(CheckReportJson, SourceIsNullWhenThereIsNone) {
  CheckReport report = SmallReport();
  report.source.reset();
  report.results.clear();

  EXPECT_EQ(CheckReportJson(report), "{\"package\":\"hpvm1\",\"source\":null,\"results\":[]}");
}

TEST(CheckReportJson, EscapesControlCharacters) {
  CheckReport report{PackageName("hpvm1"), std::nullopt, {}};
  ValidationResult result;
  result.violations.push_back({Code::kDeviceMissing, "a\tb\nc\x01\\", NodeName("n"), ""});
  report.results.push_back({NodeName("n"), result});

  const std::string json = CheckReportJson(report);

  EXPECT_NE(json.find("\"message\":\"a\\tb\\nc\\u0001\\\\\""), std::string::npos) << json;
}

TEST(CheckReportLines, NodeWithNothingToSayIsOk) {
  const CheckReport report{PackageName("hpvm1"), NodeName("ivmcl01"), {{NodeName("ivmcl02"), {}}}};

  EXPECT_EQ(CheckReportLines(report), std::vector<std::string>{"ivmcl02: ok"});
}

TEST(CheckReportLines, OneLinePerViolationThenUnchecked) {
  EXPECT_EQ(CheckReportLines(SmallReport()),
            (std::vector<std::string>{"ivmcl02: vswitch_mismatch: vswitch \"vlan2\" uses lan0",
                                      "ivmcl03: unchecked wwid_mismatch: not checked"}));
}

TEST(ViolationCodeName, IsTheStableSnakeCaseName) {
  EXPECT_EQ(ViolationCodeName(Code::kTargetNotMember), "target_not_member");
  EXPECT_EQ(ViolationCodeName(Code::kNodeNotEligible), "node_not_eligible");
  EXPECT_EQ(ViolationCodeName(Code::kSharedDevice), "shared_device");
  EXPECT_EQ(ViolationCodeName(Code::kUnsupportedStorage), "unsupported_storage");
  EXPECT_EQ(ViolationCodeName(Code::kDeviceMissing), "device_missing");
  EXPECT_EQ(ViolationCodeName(Code::kWwidMismatch), "wwid_mismatch");
  EXPECT_EQ(ViolationCodeName(Code::kVswitchMismatch), "vswitch_mismatch");
  EXPECT_EQ(ViolationCodeName(Code::kInsufficientCapacity), "insufficient_capacity");
  EXPECT_EQ(ViolationCodeName(Code::kStorageInUse), "storage_in_use");
  EXPECT_EQ(to_string(Code::kStorageInUse), "storage_in_use");
}

}  // namespace
}  // namespace cmcl::validation
