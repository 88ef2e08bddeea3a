// PlaceBatch as a specification: DESIGN.md section 5 ("Failover policy:
// configured_node (first eligible node in the package's list) or min_package_node
// (eligible node with the fewest packages), placing against a running tally so a batch
// never double-books capacity") and issue 7's reason lines ("hpvm1: ivmcl01 lost;
// ivmcl02 refused (…); started on ivmcl03").
//
// Every test starts from the HPVM cluster of config/hpvm, grown to three hosts: ivmcl01,
// ivmcl02 and ivmcl03 (8 vCPUs, 32GiB each) see /dev/rdisk/disk10 with the same WWID and
// vlan2 on lan0; ivmq is the arbitrator. hpvm1 (1 vCPU, 3GiB, disk10, vlan2) last ran on
// ivmcl01, which is lost: ivmcl02, ivmcl03 and ivmq are up. Tests change what they are
// about.
#include "cmcld/core/placement/placement.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "cmcld/core/validation/cluster_view.h"
#include "cmcld/core/validation/config_index.h"
#include "tests/support/config_builder.h"

namespace cmcl::placement {
namespace {

using config::FailoverPolicy;
using test_support::ClusterBuilder;
using test_support::Gib;
using test_support::InventoryBuilder;
using test_support::PackageBuilder;
using validation::ClusterFacts;
using validation::Occupancy;
using Code = validation::ViolationCode;

constexpr const char* kWwidA = "0x600508b4000156d700012000000b000a";
constexpr const char* kWwidB = "0x600508b4000156d700012000000b000b";
constexpr const char* kWwidD = "0x600508b4000156d700012000000b000d";

constexpr const char* kWwidMismatchOn02 =
    "device /dev/rdisk/disk10: WWID 0x600508b4000156d700012000000b000a on ivmcl01 but "
    "0x600508b4000156d700012000000b000b on ivmcl02 (hpvmmigrate: Device WWID does not match)";

InventoryBuilder Host(const char* disk10_wwid) {
  return InventoryBuilder()
      .Disk("/dev/rdisk/disk10", disk10_wwid)
      .Disk("/dev/rdisk/disk30", kWwidD)
      .Vswitch("vlan2", "lan0")
      .Capacity(8, Gib(32));
}

config::PackageSpec WithPolicy(config::PackageSpec package, FailoverPolicy policy,
                               std::optional<uint32_t> priority = std::nullopt) {
  package.failover_policy = policy;
  package.priority = priority;
  return package;
}

// A guest that only needs a node: no storage, so only membership, eligibility and
// capacity decide.
config::PackageSpec Plain(const std::string& name, uint32_t vcpus,
                          FailoverPolicy policy = FailoverPolicy::kConfiguredNode,
                          std::optional<uint32_t> priority = std::nullopt) {
  return WithPolicy(PackageBuilder(name).Nodes({"ivmcl02", "ivmcl03"}).Vcpus(vcpus).Build(), policy,
                    priority);
}

struct Cluster {
  InventoryBuilder ivmcl01 = Host(kWwidA);
  InventoryBuilder ivmcl02 = Host(kWwidA);
  InventoryBuilder ivmcl03 = Host(kWwidA);
  PackageBuilder hpvm1 = PackageBuilder("hpvm1")
                             .Nodes({"ivmcl01", "ivmcl02", "ivmcl03"})
                             .Vcpus(1)
                             .Memory(Gib(3))
                             .Disk("/dev/rdisk/disk10")
                             .Network("vlan2");
  std::vector<config::PackageSpec> others;
  ClusterFacts facts = [] {
    ClusterFacts lost01;
    lost01.up_members = {NodeName("ivmcl02"), NodeName("ivmcl03"), NodeName("ivmq")};
    lost01.last_nodes[PackageName("hpvm1")] = NodeName("ivmcl01");
    return lost01;
  }();

  config::ClusterConfig Config() const {
    ClusterBuilder cluster;
    cluster.Node("ivmcl01", ivmcl01.Build())
        .Node("ivmcl02", ivmcl02.Build())
        .Node("ivmcl03", ivmcl03.Build())
        .Arbitrator("ivmq")
        .Package(hpvm1.Build());
    for (const config::PackageSpec& other : others) cluster.Package(other);
    return cluster.Build();
  }

  std::vector<PlacementDecision> Place(const std::vector<PlacementRequest>& requests) const {
    const config::ClusterConfig config = Config();
    const validation::ConfigIndex index(config, facts.reported_inventories);
    return PlaceBatch(index, facts, requests);
  }
  PlacementDecision PlaceOne(const PlacementRequest& request) const {
    return Place(std::vector<PlacementRequest>{request})[0];
  }
};

PlacementRequest Lost01(const std::string& package = "hpvm1") {
  return {PackageName(package), "ivmcl01 lost", {NodeName("ivmcl01")}, std::nullopt};
}

PlacementRequest Start(const std::string& package) {
  return {PackageName(package), "cluster start", {}, std::nullopt};
}

std::vector<std::string> NodesOf(const PlacementDecision& decision) {
  std::vector<std::string> nodes;
  for (const CandidateVerdict& verdict : decision.candidates) nodes.push_back(verdict.node.value());
  return nodes;
}

std::vector<std::string> Chosen(const std::vector<PlacementDecision>& decisions) {
  std::vector<std::string> nodes;
  for (const PlacementDecision& decision : decisions) {
    nodes.push_back(decision.node.has_value() ? decision.node->value() : "none");
  }
  return nodes;
}

// ---- configured_node -----------------------------------------------------------------

TEST(ConfiguredNode, ChoosesTheFirstEligibleNodeInTheListsOrder) {
  Cluster cluster;
  cluster.hpvm1.Nodes({"ivmcl01", "ivmcl03", "ivmcl02"});

  const PlacementDecision decision = cluster.PlaceOne(Lost01());

  EXPECT_EQ(decision.node, NodeName("ivmcl03"));
  EXPECT_EQ(NodesOf(decision), (std::vector<std::string>{"ivmcl01", "ivmcl03"}));
  EXPECT_EQ(decision.reason, "hpvm1: ivmcl01 lost; started on ivmcl03");
}

TEST(ConfiguredNode, SkipsARefusedNodeAndNamesItsViolationsInTheReason) {
  Cluster cluster;
  cluster.ivmcl02 = Host(kWwidB);

  const PlacementDecision decision = cluster.PlaceOne(Lost01());

  EXPECT_EQ(decision.node, NodeName("ivmcl03"));
  EXPECT_EQ(decision.reason, std::string("hpvm1: ivmcl01 lost; ivmcl02 refused (") +
                                 kWwidMismatchOn02 + "); started on ivmcl03");
}

TEST(ConfiguredNode, ANodeWhoseDiskHasAnotherWwidIsSkippedWithWwidMismatchInItsVerdict) {
  Cluster cluster;
  cluster.ivmcl02 = Host(kWwidB);

  const PlacementDecision decision = cluster.PlaceOne(Lost01());

  ASSERT_EQ(NodesOf(decision), (std::vector<std::string>{"ivmcl01", "ivmcl02", "ivmcl03"}));
  EXPECT_EQ(decision.candidates[1].result.Codes(), std::vector<Code>{Code::kWwidMismatch});
  EXPECT_EQ(decision.candidates[1].result.violations[0].message, kWwidMismatchOn02);
  EXPECT_FALSE(decision.candidates[1].eligible());
  EXPECT_TRUE(decision.candidates[2].eligible());
  EXPECT_EQ(VerdictText(decision.candidates[2]), "eligible");
}

TEST(Placement, WhenNoNodeFitsTheReasonListsEveryRefusalInListOrder) {
  Cluster cluster;
  cluster.ivmcl02 = Host(kWwidB);
  cluster.facts.up_members.erase(NodeName("ivmcl03"));

  const PlacementDecision decision = cluster.PlaceOne(Lost01());

  EXPECT_EQ(decision.node, std::nullopt);
  EXPECT_EQ(decision.reason,
            std::string("hpvm1: ivmcl01 lost; no node can run it: ivmcl02 refused (") +
                kWwidMismatchOn02 +
                "); ivmcl03 refused (target node ivmcl03 is not an up member of the cluster)");
}

TEST(Placement, ARefusalWithSeveralViolationsJoinsTheirMessagesInOneParenthesis) {
  Cluster cluster;
  cluster.ivmcl02 = Host(kWwidB);
  cluster.facts.maintenance_nodes.insert(NodeName("ivmcl02"));

  const PlacementDecision decision = cluster.PlaceOne(Lost01());

  EXPECT_EQ(decision.reason, std::string("hpvm1: ivmcl01 lost; ivmcl02 refused (ivmcl02 is in "
                                         "maintenance (pkgctl node maintenance ivmcl02 off); ") +
                                 kWwidMismatchOn02 + "); started on ivmcl03");
}

// ---- avoided nodes and explicit targets ------------------------------------------------

TEST(Placement, AvoidedNodesAreSkippedUnvalidatedAndReportedAsTriedBefore) {
  Cluster cluster;
  cluster.facts.up_members.insert(NodeName("ivmcl01"));
  PlacementRequest request = Lost01();
  request.avoid.insert(NodeName("ivmcl02"));

  const PlacementDecision decision = cluster.PlaceOne(request);

  EXPECT_EQ(decision.node, NodeName("ivmcl03"));
  ASSERT_EQ(NodesOf(decision), (std::vector<std::string>{"ivmcl01", "ivmcl02", "ivmcl03"}));
  EXPECT_TRUE(decision.candidates[1].avoided);
  EXPECT_TRUE(decision.candidates[1].result.violations.empty());
  EXPECT_EQ(VerdictText(decision.candidates[1]), "avoided: tried before");
  EXPECT_EQ(decision.reason, "hpvm1: ivmcl01 lost; started on ivmcl03");
}

TEST(Placement, WhenEveryCandidateWasTriedBeforeTheReasonSaysSo) {
  Cluster cluster;
  PlacementRequest request = Lost01();
  request.avoid.insert(NodeName("ivmcl02"));
  request.avoid.insert(NodeName("ivmcl03"));

  const PlacementDecision decision = cluster.PlaceOne(request);

  EXPECT_EQ(decision.node, std::nullopt);
  EXPECT_EQ(decision.reason,
            "hpvm1: ivmcl01 lost; no node can run it: every candidate was tried before "
            "(ivmcl01, ivmcl02, ivmcl03)");
}

TEST(Placement, AnExplicitTargetIsTheOnlyNodeConsidered) {
  Cluster cluster;
  const PlacementRequest request{PackageName("hpvm1"), "operator run", {}, NodeName("ivmcl03")};

  const PlacementDecision decision = cluster.PlaceOne(request);

  EXPECT_EQ(decision.node, NodeName("ivmcl03"));
  EXPECT_EQ(NodesOf(decision), std::vector<std::string>{"ivmcl03"});
  EXPECT_EQ(decision.reason, "hpvm1: operator run; started on ivmcl03");
}

TEST(Placement, ARefusedExplicitTargetPlacesNowhereEvenIfAnotherNodeFits) {
  Cluster cluster;
  cluster.ivmcl02 = Host(kWwidB);
  const PlacementRequest request{PackageName("hpvm1"), "operator run", {}, NodeName("ivmcl02")};

  const PlacementDecision decision = cluster.PlaceOne(request);

  EXPECT_EQ(decision.node, std::nullopt);
  EXPECT_EQ(NodesOf(decision), std::vector<std::string>{"ivmcl02"});
  EXPECT_EQ(decision.reason,
            std::string("hpvm1: operator run; no node can run it: ivmcl02 refused (") +
                kWwidMismatchOn02 + ")");
}

TEST(Placement, AnArbitratorIsNeverChosenNorConsidered) {
  Cluster cluster;
  cluster.hpvm1.Nodes({"ivmq", "ivmcl02"});
  cluster.others.push_back(PackageBuilder("web01").AllNodes().Build());
  cluster.facts.up_members = {NodeName("ivmq")};

  const std::vector<PlacementDecision> decisions = cluster.Place({Lost01(), Start("web01")});

  EXPECT_EQ(Chosen(decisions), (std::vector<std::string>{"none", "none"}));
  EXPECT_EQ(NodesOf(decisions[0]), std::vector<std::string>{"ivmcl02"});
  EXPECT_EQ(NodesOf(decisions[1]), (std::vector<std::string>{"ivmcl01", "ivmcl02", "ivmcl03"}));
}

TEST(Placement, AnArbitratorNamedAsExplicitTargetIsRefusedByValidation) {
  Cluster cluster;
  const PlacementRequest request{PackageName("hpvm1"), "operator run", {}, NodeName("ivmq")};

  const PlacementDecision decision = cluster.PlaceOne(request);

  EXPECT_EQ(decision.node, std::nullopt);
  EXPECT_EQ(decision.reason,
            "hpvm1: operator run; no node can run it: ivmq refused (ivmq is an arbitrator and "
            "runs no packages)");
}

// ---- min_package_node --------------------------------------------------------------

TEST(MinPackageNode, ChoosesTheEligibleNodeWithTheFewestPackages) {
  Cluster cluster;
  cluster.others = {Plain("web01", 1), Plain("web02", 1), Plain("web03", 1)};
  cluster.facts.placements[PackageName("web01")] = {NodeName("ivmcl02"), Occupancy::kUp};
  cluster.facts.placements[PackageName("web02")] = {NodeName("ivmcl02"), Occupancy::kUp};
  cluster.facts.placements[PackageName("web03")] = {NodeName("ivmcl03"), Occupancy::kHalting};
  config::ClusterConfig config = cluster.Config();
  config.packages[0].failover_policy = FailoverPolicy::kMinPackageNode;
  const validation::ConfigIndex index(config, cluster.facts.reported_inventories);

  const PlacementDecision decision = PlaceBatch(index, cluster.facts, {Lost01()})[0];

  EXPECT_EQ(decision.node, NodeName("ivmcl03"));
  EXPECT_EQ(NodesOf(decision), (std::vector<std::string>{"ivmcl01", "ivmcl02", "ivmcl03"}));
}

TEST(MinPackageNode, ATieGoesToTheEarlierNodeOfTheList) {
  Cluster cluster;
  cluster.others = {Plain("db01", 1, FailoverPolicy::kMinPackageNode), Plain("web01", 1)};
  cluster.facts.placements[PackageName("web01")] = {NodeName("ivmcl03"), Occupancy::kUp};
  cluster.facts.placements[PackageName("hpvm1")] = {NodeName("ivmcl02"), Occupancy::kUp};

  const PlacementDecision decision = cluster.PlaceOne(Start("db01"));

  EXPECT_EQ(decision.node, NodeName("ivmcl02"));
}

TEST(MinPackageNode, CountsTheBatchsEarlierDecisions) {
  Cluster cluster;
  const FailoverPolicy fewest = FailoverPolicy::kMinPackageNode;
  cluster.others = {Plain("vm1", 1, fewest), Plain("vm2", 1, fewest), Plain("vm3", 1, fewest)};

  const std::vector<PlacementDecision> decisions =
      cluster.Place({Start("vm1"), Start("vm2"), Start("vm3")});

  EXPECT_EQ(Chosen(decisions), (std::vector<std::string>{"ivmcl02", "ivmcl03", "ivmcl02"}));
}

TEST(MinPackageNode, ANodeTheBatchAlreadyFilledIsRefusedForCapacityNotChosen) {
  Cluster cluster;
  const FailoverPolicy fewest = FailoverPolicy::kMinPackageNode;
  cluster.others = {Plain("big1", 5, fewest), Plain("big2", 5, fewest), Plain("web01", 1)};
  cluster.facts.placements[PackageName("web01")] = {NodeName("ivmcl03"), Occupancy::kUp};

  const std::vector<PlacementDecision> decisions = cluster.Place({Start("big1"), Start("big2")});

  EXPECT_EQ(Chosen(decisions), (std::vector<std::string>{"ivmcl02", "ivmcl03"}));
  EXPECT_EQ(decisions[1].reason,
            "big2: cluster start; ivmcl02 refused (ivmcl02 has 3 of 8 vCPUs free; big2 needs 5); "
            "started on ivmcl03");
}

// ---- the running tally -------------------------------------------------------------

TEST(Tally, TwoPackagesThatFitOnlyAloneGoToDifferentNodes) {
  Cluster cluster;
  cluster.others = {Plain("big1", 5), Plain("big2", 5)};

  const std::vector<PlacementDecision> decisions = cluster.Place({Start("big1"), Start("big2")});

  EXPECT_EQ(Chosen(decisions), (std::vector<std::string>{"ivmcl02", "ivmcl03"}));
  EXPECT_EQ(decisions[1].candidates[0].result.Codes(),
            std::vector<Code>{Code::kInsufficientCapacity});
  EXPECT_EQ(decisions[1].reason,
            "big2: cluster start; ivmcl02 refused (ivmcl02 has 3 of 8 vCPUs free; big2 needs 5); "
            "started on ivmcl03");
}

TEST(Tally, ASecondPackageOnTheSameDiskIsRefusedNamingTheFirst) {
  Cluster cluster;
  cluster.others = {PackageBuilder("alpha").Nodes({"ivmcl02"}).Disk("/dev/rdisk/disk30").Build(),
                    PackageBuilder("beta").Nodes({"ivmcl03"}).Disk("/dev/rdisk/disk30").Build()};

  const std::vector<PlacementDecision> decisions = cluster.Place({Start("beta"), Start("alpha")});

  EXPECT_EQ(Chosen(decisions), (std::vector<std::string>{"none", "ivmcl02"}));
  EXPECT_EQ(decisions[0].reason,
            std::string("beta: cluster start; no node can run it: ivmcl03 refused (disk WWID ") +
                kWwidD + " is also used by alpha (starting on ivmcl02))");
}

TEST(Tally, ABatchNeverDoubleBooksANode) {
  Cluster cluster;
  cluster.others = {Plain("vm1", 3), Plain("vm2", 3), Plain("vm3", 3),
                    Plain("vm4", 3), Plain("vm5", 3), Plain("vm6", 3)};

  const std::vector<PlacementDecision> decisions = cluster.Place(
      {Start("vm1"), Start("vm2"), Start("vm3"), Start("vm4"), Start("vm5"), Start("vm6")});

  EXPECT_EQ(Chosen(decisions),
            (std::vector<std::string>{"ivmcl02", "ivmcl02", "ivmcl03", "ivmcl03", "none", "none"}));
}

// ---- order of decisions ------------------------------------------------------------

TEST(Priority, TheHigherPriorityGetsScarceCapacityWhateverTheRequestOrder) {
  Cluster cluster;
  cluster.hpvm1.Nodes({"ivmcl02"});
  cluster.others = {Plain("alpha", 6, FailoverPolicy::kConfiguredNode, 5), Plain("beta", 6),
                    Plain("zeta", 6, FailoverPolicy::kConfiguredNode, 1)};
  cluster.facts.up_members.erase(NodeName("ivmcl03"));

  const std::vector<PlacementDecision> decisions =
      cluster.Place({Start("alpha"), Start("beta"), Start("zeta")});

  EXPECT_EQ(Chosen(decisions), (std::vector<std::string>{"none", "none", "ivmcl02"}));
  EXPECT_EQ(decisions[0].candidates[0].result.Codes(),
            std::vector<Code>{Code::kInsufficientCapacity});
}

TEST(Priority, APackageWithoutPriorityComesAfterEveryPrioritisedOne) {
  Cluster cluster;
  cluster.others = {Plain("aaa", 6), Plain("zzz", 6, FailoverPolicy::kConfiguredNode, 9)};
  cluster.facts.up_members.erase(NodeName("ivmcl03"));

  const std::vector<PlacementDecision> decisions = cluster.Place({Start("aaa"), Start("zzz")});

  EXPECT_EQ(Chosen(decisions), (std::vector<std::string>{"none", "ivmcl02"}));
}

TEST(Priority, EqualPrioritiesAreDecidedInNameOrder) {
  Cluster cluster;
  cluster.others = {Plain("web02", 6, FailoverPolicy::kConfiguredNode, 3),
                    Plain("web01", 6, FailoverPolicy::kConfiguredNode, 3)};
  cluster.facts.up_members.erase(NodeName("ivmcl03"));

  const std::vector<PlacementDecision> decisions = cluster.Place({Start("web02"), Start("web01")});

  EXPECT_EQ(Chosen(decisions), (std::vector<std::string>{"none", "ivmcl02"}));
}

// ---- odd requests ------------------------------------------------------------------

TEST(Placement, APackageWhoseListNamesNoMemberGetsNoNode) {
  Cluster cluster;
  cluster.hpvm1.Nodes({"ivmq"});

  const PlacementDecision decision = cluster.PlaceOne(Lost01());

  EXPECT_EQ(decision.node, std::nullopt);
  EXPECT_TRUE(decision.candidates.empty());
  EXPECT_EQ(decision.reason,
            "hpvm1: ivmcl01 lost; no node can run it: its node list names no member");
}

TEST(Placement, AnUnknownPackageGetsNoNode) {
  Cluster cluster;

  const PlacementDecision decision = cluster.PlaceOne(Start("hpvm9"));

  EXPECT_EQ(decision.node, std::nullopt);
  EXPECT_EQ(decision.reason, "hpvm9: cluster start; hpvm9 is not a configured package");
}

TEST(Placement, APackageRequestedTwiceIsDecidedOnce) {
  Cluster cluster;

  const std::vector<PlacementDecision> decisions = cluster.Place({Lost01(), Lost01()});

  EXPECT_EQ(Chosen(decisions), (std::vector<std::string>{"ivmcl02", "none"}));
  EXPECT_EQ(decisions[1].reason, "hpvm1: ivmcl01 lost; already decided in this batch");
}

TEST(Placement, UncheckedChecksDoNotRefuseButStayInTheVerdict) {
  Cluster cluster;
  cluster.facts.last_nodes.clear();  // No source: the WWID cannot be compared.

  const PlacementDecision decision = cluster.PlaceOne(Start("hpvm1"));

  EXPECT_EQ(decision.node, NodeName("ivmcl02"));
  ASSERT_EQ(NodesOf(decision), (std::vector<std::string>{"ivmcl01", "ivmcl02"}));
  EXPECT_TRUE(decision.candidates[1].eligible());
  EXPECT_EQ(decision.candidates[1].result.UncheckedCodes(),
            (std::vector<Code>{Code::kWwidMismatch, Code::kVswitchMismatch}));
  EXPECT_EQ(decision.reason,
            "hpvm1: cluster start; ivmcl01 refused (target node ivmcl01 is not an up member of "
            "the cluster); started on ivmcl02");
}

TEST(Placement, AKeptViewCarriesOneBatchsDecisionsIntoTheNext) {
  Cluster cluster;
  cluster.others = {Plain("big1", 5), Plain("big2", 5)};
  const config::ClusterConfig config = cluster.Config();
  validation::ClusterView view(config, cluster.facts);

  const std::vector<PlacementDecision> first = PlaceBatch(view, {Start("big1")});
  const std::vector<PlacementDecision> second = PlaceBatch(view, {Start("big2")});

  EXPECT_EQ(Chosen(first), std::vector<std::string>{"ivmcl02"});
  EXPECT_EQ(Chosen(second), std::vector<std::string>{"ivmcl03"});
}

}  // namespace
}  // namespace cmcl::placement
