// `inventory: probe` in the replicated state (issue 12; InventoryOp in cluster_state.h):
// a node's probed inventory is committed by its agent, applied on every node, used by
// every node's validation for that node while its configuration says probe, kept in
// snapshots (format 6, with format 5 still decoding) and sent only when it changed.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>

#include "cmcld/core/node/cluster_state.h"
#include "tests/support/node_cluster.h"

namespace cmcl::node {
namespace {

using testing::NodeCluster;

const Wwid kWwid{"0x600508b4000156d70001200000b00000"};

inventory::NodeInventory WithDisk(const std::string& path) {
  inventory::NodeInventory inventory;
  inventory.disks.push_back({path, kWwid});
  inventory.disks.push_back({"/dev/disk/by-id/virtio-os", std::nullopt});
  inventory.vswitches.push_back({"br0", "eth0"});
  inventory.shared_devices.push_back("/dev/sr0");
  inventory.capacity = inventory::Capacity{8, ByteSize::FromMebibytes(32768)};
  inventory.driver_versions["process"] = "1";
  return inventory;
}

raft::ApplyEntry Entry(uint64_t index, const OpBatch& ops) {
  return raft::ApplyEntry{.entry = raft::Entry{.term = raft::Term(1),
                                               .index = LogIndex(index),
                                               .kind = raft::EntryKind::kCommand,
                                               .command = {.client_id = raft::ClientId(7),
                                                           .sequence = index,
                                                           .payload = EncodeOps(ops),
                                                           .revokes = {}}},
                          .duplicate = false};
}

TEST(InventoryOp, RoundTripsThroughItsPayloadAndEveryTruncationFails) {
  const OpBatch ops = {InventoryOp{.node = NodeName("n3"), .inventory = WithDisk("/dev/sdb")}};

  const std::string payload = EncodeOps(ops);

  EXPECT_EQ(DecodeOps(payload), ops);
  for (size_t size = 0; size < payload.size(); ++size) {
    EXPECT_FALSE(DecodeOps(payload.substr(0, size)).has_value()) << size;
  }
  EXPECT_EQ(DescribeOps(ops), "inventory(n3,<2 disk paths, 1 vswitches>)");
}

TEST(InventoryOp, AWwidInAnotherSpellingThanTheCanonicalOneDoesNotDecode) {
  OpBatch ops = {InventoryOp{.node = NodeName("n3"), .inventory = WithDisk("/dev/sdb")}};
  std::string payload = EncodeOps(ops);
  const size_t at = payload.find("0x6005");
  ASSERT_NE(at, std::string::npos);

  payload.replace(at, 6, "0X6005");

  EXPECT_FALSE(DecodeOps(payload).has_value());
}

TEST(InventoryOp, AppliesIntoTheStateAndItsSnapshotOnlyWhenItChanged) {
  ClusterState state({});
  const InventoryOp report{.node = NodeName("n3"), .inventory = WithDisk("/dev/sdb")};

  state.Apply(Entry(1, {report}));
  const size_t events = state.events().size();
  state.Apply(Entry(2, {report}));  // The same again: nothing new.

  ASSERT_EQ(state.inventories().size(), 1U);
  EXPECT_EQ(state.inventories().at(NodeName("n3")), report.inventory);
  EXPECT_EQ(state.events().size(), events);
  EXPECT_NE(state.events().back().text.find("n3: inventory reported by its probe"),
            std::string::npos);
  const std::optional<ClusterState> decoded = ClusterState::Decode(state.Encode(), {});
  ASSERT_TRUE(decoded.has_value());
  EXPECT_TRUE(*decoded == state);
}

TEST(InventoryOp, ASnapshotOfFormat5WithoutInventoriesStillDecodes) {
  ClusterState state({});
  state.Apply(Entry(1, {ClusterStartOp{.reason = "test"}}));
  std::string bytes = state.Encode();
  ASSERT_EQ(bytes[6], 6) << "the format byte follows the 6-byte magic";

  std::string format5 = bytes.substr(0, bytes.size() - 4);  // Without the empty map's count.
  format5[6] = 5;
  const std::optional<ClusterState> decoded = ClusterState::Decode(format5, {});

  ASSERT_TRUE(decoded.has_value());
  EXPECT_TRUE(*decoded == state);
  EXPECT_FALSE(ClusterState::Decode(format5 + std::string(4, '\0'), {}).has_value())
      << "format 5 has nothing after the displacers";
}

// A cluster of n1, n2 (inline inventories with the disk of r1's guest) and n3, whose
// configuration says `inventory: probe`.
class ProbedNode : public ::testing::Test {
 protected:
  void SetUp() override {
    auto config = std::make_shared<config::ClusterConfig>(cluster_.config());
    for (config::NodeSpec& node : config->nodes) {
      if (node.name.value() == "n3") {
        node.inventory_source = config::InventorySource::kProbe;
        node.inventory = {};
      } else {
        node.inventory_source = config::InventorySource::kInline;
        node.inventory = WithDisk("/dev/sdb");
      }
    }
    for (config::PackageSpec& package : config->packages) {
      package.guest.storage.push_back({.path = "/dev/sdb", .wwid = kWwid});
      package.failover_policy = config::FailoverPolicy::kConfiguredNode;  // On n1, not n3.
    }
    cluster_.SetConfig(config);
    cluster_.StartAll();
    cluster_.RunFor(Duration(5000));
  }

  // validation of r1 on n3, as `name` sees it.
  validation::ValidationResult OnN3(const std::string& name) {
    const Result<validation::CheckReport> report =
        cluster_.node(name).Check(PackageName("r1"), NodeName("n3"));
    EXPECT_TRUE(report.ok());
    if (!report.ok() || report->results.empty()) return {};
    return report->results[0].result;
  }

  NodeCluster cluster_{3, {"r1"}};
};

TEST_F(ProbedNode, BeforeItReportsItsDevicesAreUncheckedEverywhere) {
  for (const std::string name : {"n1", "n2", "n3"}) {
    const validation::ValidationResult result = OnN3(name);
    EXPECT_FALSE(result.Has(validation::ViolationCode::kDeviceMissing)) << name;
    EXPECT_FALSE(result.unchecked.empty()) << name;
  }
}

TEST_F(ProbedNode, ItsReportedInventoryReachesEveryNodesValidation) {
  cluster_.node("n3").SetProbedInventory(WithDisk("/dev/sdc"));  // No /dev/sdb here.
  cluster_.RunFor(Duration(3000));

  for (const std::string name : {"n1", "n2", "n3"}) {
    EXPECT_TRUE(cluster_.node(name).state().inventories().contains(NodeName("n3"))) << name;
    EXPECT_TRUE(OnN3(name).Has(validation::ViolationCode::kDeviceMissing)) << name;
  }

  cluster_.node("n3").SetProbedInventory(WithDisk("/dev/sdb"));  // A re-probe that found it.
  cluster_.RunFor(Duration(3000));

  for (const std::string name : {"n1", "n2", "n3"}) {
    const validation::ValidationResult result = OnN3(name);
    EXPECT_TRUE(result.ok()) << name;
    EXPECT_TRUE(result.unchecked.empty()) << name;
  }
}

TEST_F(ProbedNode, ANodeNotConfiguredToProbeNeverReports) {
  cluster_.node("n2").SetProbedInventory(WithDisk("/dev/sdc"));
  cluster_.RunFor(Duration(3000));

  EXPECT_FALSE(cluster_.node("n1").state().inventories().contains(NodeName("n2")));
}

TEST_F(ProbedNode, AnUnchangedInventoryIsCommittedOnce) {
  cluster_.node("n3").SetProbedInventory(WithDisk("/dev/sdb"));
  cluster_.RunFor(Duration(3000));
  const auto reports = [&] {
    const auto& events = cluster_.node("n1").state().events();
    return std::count_if(events.begin(), events.end(), [](const ClusterEvent& event) {
      return event.text.find("inventory reported") != std::string::npos;
    });
  };
  ASSERT_EQ(reports(), 1);

  cluster_.node("n3").SetProbedInventory(WithDisk("/dev/sdb"));
  cluster_.RunFor(Duration(3000));

  EXPECT_EQ(reports(), 1);
}

// --- The re-probe (NodeActions::probe_inventory, Node::InventoryProbed) ---------------

constexpr Duration kInterval = std::chrono::seconds(30);  // inventory_probe_interval.

size_t InventoryEvents(const ClusterState& state) {
  return static_cast<size_t>(
      std::count_if(state.events().begin(), state.events().end(), [](const ClusterEvent& event) {
        return event.text.find("inventory reported") != std::string::npos;
      }));
}

TEST_F(ProbedNode, AProbeNodeAsksForAProbeEveryIntervalAndTheOthersNever) {
  cluster_.probers[NodeName("n3")] = [] { return WithDisk("/dev/sdb"); };
  const size_t before = cluster_.probes[NodeName("n3")].size();

  cluster_.RunFor(kInterval * 3 + Duration(1000));

  EXPECT_GE(cluster_.probes[NodeName("n3")].size(), before + 3);
  EXPECT_FALSE(cluster_.probes.contains(NodeName("n1")));
  EXPECT_FALSE(cluster_.probes.contains(NodeName("n2")));
}

TEST_F(ProbedNode, AnUnchangedPeriodicProbeCommitsNothing) {
  cluster_.probers[NodeName("n3")] = [] { return WithDisk("/dev/sdb"); };
  cluster_.node("n3").SetProbedInventory(WithDisk("/dev/sdb"));
  cluster_.RunFor(Duration(3000));
  ASSERT_EQ(InventoryEvents(cluster_.node("n1").state()), 1U);
  const LogIndex applied = cluster_.node("n1").state().applied();
  const size_t asked = cluster_.probes[NodeName("n3")].size();

  cluster_.RunFor(kInterval * 4);

  EXPECT_GE(cluster_.probes[NodeName("n3")].size(), asked + 4) << "it did re-probe";
  EXPECT_EQ(cluster_.node("n1").state().applied(), applied) << "and nothing was committed";
  EXPECT_EQ(InventoryEvents(cluster_.node("n1").state()), 1U);
}

TEST_F(ProbedNode, APeriodicProbeThatFindsAChangeCommitsItWithinTheInterval) {
  cluster_.probers[NodeName("n3")] = [] { return WithDisk("/dev/sdb"); };
  cluster_.node("n3").SetProbedInventory(WithDisk("/dev/sdb"));
  cluster_.RunFor(Duration(3000));
  ASSERT_TRUE(OnN3("n1").ok());

  cluster_.probers[NodeName("n3")] = [] { return WithDisk("/dev/sdc"); };  // sdb removed.
  cluster_.RunFor(kInterval + Duration(2000));

  EXPECT_EQ(cluster_.node("n1").state().inventories().at(NodeName("n3")), WithDisk("/dev/sdc"));
  EXPECT_TRUE(OnN3("n1").Has(validation::ViolationCode::kDeviceMissing));
}

TEST_F(ProbedNode, AFailedProbeKeepsTheLastGoodInventoryAndIsLoggedOnce) {
  cluster_.probers[NodeName("n3")] = [] { return WithDisk("/dev/sdb"); };
  cluster_.node("n3").SetProbedInventory(WithDisk("/dev/sdb"));
  cluster_.RunFor(Duration(3000));
  cluster_.probers[NodeName("n3")] = []() -> Result<inventory::NodeInventory> {
    return Status::FailedPrecondition("cannot read /sys/block");
  };

  cluster_.RunFor(kInterval * 3 + Duration(1000));

  EXPECT_EQ(cluster_.node("n1").state().inventories().at(NodeName("n3")), WithDisk("/dev/sdb"));
  const auto failed = std::count_if(cluster_.log.begin(), cluster_.log.end(), [](const LogLine& l) {
    return l.text.find("inventory probe failed: cannot read /sys/block") != std::string::npos;
  });
  EXPECT_EQ(failed, 1);
}

// r1 (its guest on /dev/sdb, pinned WWID) prefers n3, which probes; n1 and n2 have sdb.
class ProbeBeforeStart : public ::testing::Test {
 protected:
  void Start(bool n3_probes) {
    auto config = std::make_shared<config::ClusterConfig>(cluster_.config());
    for (config::NodeSpec& node : config->nodes) {
      node.inventory_source = config::InventorySource::kInline;
      node.inventory = WithDisk("/dev/sdb");
      if (node.name.value() == "n3" && n3_probes) {
        node.inventory_source = config::InventorySource::kProbe;
        node.inventory = {};
      }
    }
    for (config::PackageSpec& package : config->packages) {
      package.guest.storage.push_back({.path = "/dev/sdb", .wwid = kWwid});
      package.failover_policy = config::FailoverPolicy::kConfiguredNode;
      package.all_nodes = false;
      package.nodes = {NodeName("n3"), NodeName("n1"), NodeName("n2")};
    }
    cluster_.SetConfig(config);
    cluster_.StartAll();
  }
  const Assignment& R1() { return *cluster_.node("n1").state().Find(PackageName("r1")); }
  size_t RunsOn(const std::string& node) {
    const std::vector<GuestAction>& actions = cluster_.host(node).actions;
    return static_cast<size_t>(std::count_if(
        actions.begin(), actions.end(), [](const auto& a) { return a.verb == GuestVerb::kRun; }));
  }

  NodeCluster cluster_{3, {"r1"}};
};

TEST_F(ProbeBeforeStart, AProbeNodeRunsNoRunScriptUntilAFreshProbeAnswers) {
  Start(/*n3_probes=*/true);  // No prober: n3's probes are not answered.
  cluster_.RunFor(Duration(5000));

  ASSERT_EQ(R1().owner, NodeName("n3"));
  ASSERT_FALSE(cluster_.probes[NodeName("n3")].empty());
  EXPECT_EQ(RunsOn("n3"), 0U);

  cluster_.AnswerProbe("n3", cluster_.probes[NodeName("n3")].back(), WithDisk("/dev/sdb"));
  cluster_.RunFor(Duration(3000));

  EXPECT_EQ(RunsOn("n3"), 1U);
  EXPECT_EQ(R1().owner, NodeName("n3"));
  EXPECT_EQ(R1().status, AssignmentStatus::kStarted);
}

TEST_F(ProbeBeforeStart, AStartIsRefusedWithTheReasonWhenTheFreshProbeFailsValidation) {
  Start(/*n3_probes=*/true);
  cluster_.probers[NodeName("n3")] = [] { return WithDisk("/dev/sdc"); };  // sdb gone.

  cluster_.RunFor(Duration(8000));

  EXPECT_EQ(RunsOn("n3"), 0U) << "no run script on a node that fails validation";
  EXPECT_EQ(R1().owner, NodeName("n1")) << "placed elsewhere";
  EXPECT_EQ(R1().status, AssignmentStatus::kStarted);
  const auto& events = cluster_.node("n1").state().events();
  EXPECT_TRUE(std::any_of(events.begin(), events.end(), [](const ClusterEvent& event) {
    return event.text.find("re-probed inventory of n3 fails validation") != std::string::npos &&
           event.text.find("/dev/sdb") != std::string::npos;
  })) << "the reason is in the event log";
  EXPECT_EQ(cluster_.node("n1").state().inventories().at(NodeName("n3")), WithDisk("/dev/sdc"))
      << "the fresh inventory is committed";
}

TEST_F(ProbeBeforeStart, AStartGoesAheadWhenTheFreshProbePasses) {
  Start(/*n3_probes=*/true);
  cluster_.probers[NodeName("n3")] = [] { return WithDisk("/dev/sdb"); };

  cluster_.RunFor(Duration(5000));

  EXPECT_EQ(RunsOn("n3"), 1U);
  EXPECT_EQ(R1().owner, NodeName("n3"));
  EXPECT_EQ(R1().status, AssignmentStatus::kStarted);
}

TEST_F(ProbeBeforeStart, ANodeThatDoesNotProbeNeverAsksBeforeAStart) {
  Start(/*n3_probes=*/false);

  cluster_.RunFor(Duration(5000));

  EXPECT_EQ(RunsOn("n3"), 1U);
  EXPECT_EQ(R1().status, AssignmentStatus::kStarted);
  EXPECT_TRUE(cluster_.probes.empty());
}

}  // namespace
}  // namespace cmcl::node
