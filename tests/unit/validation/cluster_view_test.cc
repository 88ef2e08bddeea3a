// ClusterView::AddPlacement: the running tally of a placement batch (DESIGN.md section 5,
// "placing against a running tally so a batch never double-books capacity"). A view
// with an added placement must answer every question as a fresh view on facts holding
// that placement would, without rebuilding anything.
#include "cmcld/core/validation/cluster_view.h"

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

constexpr const char* kWwidA = "0x600508b4000156d700012000000b000a";
constexpr const char* kWwidC = "0x600508b4000156d700012000000b000c";

// hpvm1 (2 vCPUs, 3GiB, disk10) last ran on ivmcl01, where disk10 is WWID A; ivmcl03
// sees the same path as WWID C (a different LUN, so hpvm1 may not go there, but
// AddPlacement records what it is told). web01 (1 vCPU, 1GiB) is up on ivmcl02.
config::ClusterConfig ThreeNodes() {
  const auto host = [](const char* wwid) {
    return InventoryBuilder().Disk("/dev/rdisk/disk10", wwid).Capacity(8, Gib(32)).Build();
  };
  return ClusterBuilder()
      .Node("ivmcl01", host(kWwidA))
      .Node("ivmcl02", host(kWwidA))
      .Node("ivmcl03", host(kWwidC))
      .Package(PackageBuilder("hpvm1")
                   .Nodes({"ivmcl01", "ivmcl02", "ivmcl03"})
                   .Vcpus(2)
                   .Memory(Gib(3))
                   .Disk("/dev/rdisk/disk10")
                   .Build())
      .Package(PackageBuilder("web01").Nodes({"ivmcl02", "ivmcl03"}).Build())
      .Build();
}

ClusterFacts Facts() {
  ClusterFacts facts;
  facts.up_members = {NodeName("ivmcl01"), NodeName("ivmcl02"), NodeName("ivmcl03")};
  facts.last_nodes[PackageName("hpvm1")] = NodeName("ivmcl01");
  facts.placements[PackageName("web01")] = {NodeName("ivmcl02"), Occupancy::kUp};
  return facts;
}

const PackageName kHpvm1("hpvm1");
const PackageName kNobody("nobody");

TEST(ClusterViewAddPlacement, CountsTheGuestOnItsNodeAsAFreshViewWould) {
  const config::ClusterConfig config = ThreeNodes();
  const ClusterFacts facts = Facts();
  ClusterView view(config, facts);
  ClusterFacts placed = Facts();
  placed.placements[kHpvm1] = {NodeName("ivmcl02"), Occupancy::kStarting};
  const ClusterView fresh(config, placed);

  view.AddPlacement(kHpvm1, {NodeName("ivmcl02"), Occupancy::kStarting});

  const Usage added = view.UsedOn(NodeName("ivmcl02"), kNobody);
  const Usage expected = fresh.UsedOn(NodeName("ivmcl02"), kNobody);
  EXPECT_EQ(added.vcpus, 3u);
  EXPECT_EQ(added.memory_bytes, Gib(4).bytes());
  EXPECT_EQ(added.packages, 2u);
  EXPECT_EQ(added.vcpus, expected.vcpus);
  EXPECT_EQ(added.memory_bytes, expected.memory_bytes);
  EXPECT_EQ(added.packages, expected.packages);
}

TEST(ClusterViewAddPlacement, UsedOnStillLeavesOutThePackageAskedAbout) {
  const config::ClusterConfig config = ThreeNodes();
  const ClusterFacts facts = Facts();
  ClusterView view(config, facts);

  view.AddPlacement(kHpvm1, {NodeName("ivmcl02"), Occupancy::kStarting});

  EXPECT_EQ(view.UsedOn(NodeName("ivmcl02"), kHpvm1).vcpus, 1u);
  EXPECT_EQ(view.UsedOn(NodeName("ivmcl02"), kHpvm1).packages, 1u);
}

TEST(ClusterViewAddPlacement, AGuestPlacedElsewhereKeepsHoldingItsNodeUntilHalted) {
  const config::ClusterConfig config = ThreeNodes();
  const ClusterFacts facts = Facts();
  ClusterView view(config, facts);

  view.AddPlacement(PackageName("web01"), {NodeName("ivmcl03"), Occupancy::kStarting});

  EXPECT_EQ(view.UsedOn(NodeName("ivmcl02"), kNobody).packages, 1u);
  EXPECT_EQ(view.UsedOn(NodeName("ivmcl03"), kNobody).packages, 1u);
  EXPECT_EQ(view.PlacementOf(PackageName("web01"))->node, NodeName("ivmcl03"));
}

TEST(ClusterViewAddPlacement, PlacingAgainMovesTheAddedUsage) {
  const config::ClusterConfig config = ThreeNodes();
  const ClusterFacts facts = Facts();
  ClusterView view(config, facts);

  view.AddPlacement(kHpvm1, {NodeName("ivmcl02"), Occupancy::kStarting});
  view.AddPlacement(kHpvm1, {NodeName("ivmcl03"), Occupancy::kStarting});

  EXPECT_EQ(view.UsedOn(NodeName("ivmcl02"), kNobody).vcpus, 1u);
  EXPECT_EQ(view.UsedOn(NodeName("ivmcl03"), kNobody).vcpus, 2u);
}

TEST(ClusterViewAddPlacement, ThePlacementShowsInPlacementOfButNotInTheFacts) {
  const config::ClusterConfig config = ThreeNodes();
  const ClusterFacts facts = Facts();
  ClusterView view(config, facts);
  ASSERT_EQ(view.PlacementOf(kHpvm1), nullptr);

  view.AddPlacement(kHpvm1, {NodeName("ivmcl02"), Occupancy::kStarting});

  ASSERT_NE(view.PlacementOf(kHpvm1), nullptr);
  EXPECT_EQ(view.PlacementOf(kHpvm1)->node, NodeName("ivmcl02"));
  EXPECT_EQ(view.PlacementOf(kHpvm1)->occupancy, Occupancy::kStarting);
  EXPECT_FALSE(facts.placements.contains(kHpvm1));
}

TEST(ClusterViewAddPlacement, TheNodesWwidsForTheGuestsDisksBecomeThePackages) {
  const config::ClusterConfig config = ThreeNodes();
  const ClusterFacts facts = Facts();
  ClusterView view(config, facts);
  ASSERT_TRUE(view.UsersOfWwid(test_support::WwidOf(kWwidC)).empty());

  view.AddPlacement(kHpvm1, {NodeName("ivmcl03"), Occupancy::kStarting});
  view.AddPlacement(kHpvm1, {NodeName("ivmcl03"), Occupancy::kStarting});

  const std::vector<StorageUse>& users = view.UsersOfWwid(test_support::WwidOf(kWwidC));
  ASSERT_EQ(users.size(), 1u);
  EXPECT_EQ(config.packages[users[0].package_index].name, kHpvm1);
}

TEST(ClusterViewAddPlacement, ValidationSeesTheAddedGuestHoldingItsDisk) {
  config::ClusterConfig config = ThreeNodes();
  config.packages[1].guest.storage = config.packages[0].guest.storage;  // web01 uses disk10.
  ClusterFacts facts = Facts();
  facts.placements.erase(PackageName("web01"));
  ClusterView view(config, facts);
  ASSERT_TRUE(ValidateMigration(config.packages[1], NodeName("ivmcl02"), view).ok());

  view.AddPlacement(kHpvm1, {NodeName("ivmcl01"), Occupancy::kStarting});

  const ValidationResult result = ValidateMigration(config.packages[1], NodeName("ivmcl02"), view);
  ASSERT_EQ(result.Codes(), std::vector<ViolationCode>{ViolationCode::kStorageInUse});
  EXPECT_EQ(result.violations[0].message,
            std::string("disk WWID ") + kWwidA + " is also used by hpvm1 (starting on ivmcl01)");
}

TEST(ClusterViewAddPlacement, AnUnknownPackageChangesNothing) {
  const config::ClusterConfig config = ThreeNodes();
  const ClusterFacts facts = Facts();
  ClusterView view(config, facts);

  const bool added = view.AddPlacement(kNobody, {NodeName("ivmcl03"), Occupancy::kStarting});

  EXPECT_FALSE(added);
  EXPECT_EQ(view.PlacementOf(kNobody), nullptr);
  EXPECT_EQ(view.UsedOn(NodeName("ivmcl03"), kHpvm1).packages, 0u);
}

}  // namespace
}  // namespace cmcl::validation
