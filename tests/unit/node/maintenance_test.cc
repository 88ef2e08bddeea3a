// Maintenance (issue 10; MaintenanceOp in cluster_state.h) as a specification: apply
// records the flags with an event and, for a package, an outcome; they survive a
// snapshot round trip; malformed ops are refused; and the coordinator acts on them —
// a node in maintenance loses its packages through validation and gains none, a frozen
// node keeps them, a package in maintenance is neither restarted nor failed over, and
// leaving maintenance moves nothing the policies do not ask for.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "cmcld/core/node/coordinator.h"
#include "tests/support/config_builder.h"
#include "tests/support/decision_ops.h"

namespace cmcl::node {
namespace {

using std::chrono::seconds;
using test_support::ClusterBuilder;
using test_support::Gib;
using test_support::InventoryBuilder;
using test_support::PackageBuilder;

const NodeName kN1("ivmcl01");
const NodeName kN2("ivmcl02");
const NodeName kN3("ivmcl03");
const PackageName kP1("hpvm1");
const PackageName kP2("hpvm2");

using test_support::OpsOf;

bool AnyEventContains(const ClusterState& state, const std::string& text) {
  for (const ClusterEvent& event : state.events()) {
    if (event.text.find(text) != std::string::npos) return true;
  }
  return false;
}

// Three members (8 vCPUs each), ivmcl01 the leader with every member up; a ClusterState
// fed by committed entries, as in coordinator_test.cc.
class MaintenanceTest : public ::testing::Test {
 protected:
  void Configure(const std::vector<config::PackageSpec>& packages) {
    ClusterBuilder builder;
    for (const NodeName& node : {kN1, kN2, kN3}) {
      builder.Node(node.value(), InventoryBuilder().Capacity(8, Gib(64)).Build());
    }
    for (const config::PackageSpec& package : packages) builder.Package(package);
    config_ = builder.Build();
    index_ = std::make_unique<validation::ConfigIndex>(config_, reported_);
  }
  LogIndex Commit(const OpBatch& ops) {
    const LogIndex index(state_.applied().value() + 1);
    state_.Apply(raft::ApplyEntry{.entry = raft::Entry{.term = raft::Term(1),
                                                       .index = index,
                                                       .kind = raft::EntryKind::kCommand,
                                                       .command = {.client_id = raft::ClientId(1),
                                                                   .sequence = index.value(),
                                                                   .payload = EncodeOps(ops),
                                                                   .revokes = {}}},
                                  .duplicate = false});
    return index;
  }
  Decision Step() {
    Decision decision = node::Decide(config_, *index_, state_, live_);
    if (!decision.ops.empty()) Commit(decision.ops);
    return decision;
  }
  void Report(const PackageName& package, ReportKind kind,
              FailureKind failure = FailureKind::kNone) {
    const Assignment a = A(package);
    ASSERT_TRUE(a.owner.has_value());
    Commit({ReportOp{.resource = package,
                     .node = *a.owner,
                     .epoch = a.epoch,
                     .kind = kind,
                     .failure = failure,
                     .detail = ""}});
  }
  void StartAll() {
    Commit({ClusterRunOp{.by = "root"}});
    Step();
    for (const auto& [package, a] : state_.assignments()) {
      if (a.status == AssignmentStatus::kAssigned) Report(package, ReportKind::kStarted);
    }
  }
  LogIndex NodeMaintenance(const NodeName& node, bool on, bool freeze = false) {
    return Commit({MaintenanceOp{
        .node = node, .package = std::nullopt, .on = on, .freeze = freeze, .by = "root"}});
  }
  LogIndex PackageMaintenance(const PackageName& package, bool on) {
    return Commit({MaintenanceOp{
        .node = std::nullopt, .package = package, .on = on, .freeze = false, .by = "root"}});
  }
  // Runs the move the coordinator proposed to its end (validate, halt, start).
  void FinishMove(const PackageName& package) {
    Step();  // Validated: halting.
    Report(package, ReportKind::kHalted);
    Step();  // Assigned to the target.
    Report(package, ReportKind::kStarted);
  }
  Assignment A(const PackageName& package) const {
    const Assignment* a = state_.Find(package);
    return a != nullptr ? *a : Assignment{};
  }
  PackageRecord Record(const PackageName& package) const {
    const PackageRecord* record = state_.FindPackage(package);
    return record != nullptr ? *record : PackageRecord{};
  }
  void Lose(const NodeName& node, Time expiry) {
    live_.up.erase(node);
    live_.reachable.erase(node);
    live_.certain_expiry[node] = expiry;
  }

  validation::ReportedInventories reported_;
  config::ClusterConfig config_;
  std::unique_ptr<validation::ConfigIndex> index_;
  ClusterState state_{ClusterState::Options{}};
  Liveness live_{.self = kN1,
                 .now = Time::FromMilliseconds(100'000),
                 .up = {kN1, kN2, kN3},
                 .reachable = {kN1, kN2, kN3},
                 .certain_expiry = {},
                 .leader_since = Time::FromMilliseconds(100'000),
                 .watchdog_fence = false};
};

// --- Apply ----------------------------------------------------------------------------

TEST_F(MaintenanceTest, NodeMaintenanceIsRecordedWithWhoDidItAndOffClearsFreeze) {
  NodeMaintenance(kN2, true, /*freeze=*/true);
  const bool frozen = state_.NodeFrozen(kN2);
  const bool in = state_.NodeInMaintenance(kN2);

  NodeMaintenance(kN2, false);

  EXPECT_TRUE(in);
  EXPECT_TRUE(frozen);
  EXPECT_FALSE(state_.NodeInMaintenance(kN2));
  EXPECT_FALSE(state_.NodeFrozen(kN2));
  EXPECT_EQ(state_.nodes().at(kN2).by, "root");
  EXPECT_TRUE(AnyEventContains(state_, "ivmcl02: maintenance on, frozen (root)"));
  EXPECT_TRUE(AnyEventContains(state_, "ivmcl02: maintenance off (root)"));
}

TEST_F(MaintenanceTest, PackageMaintenanceEndsItsCommandAtOnceWithAnOutcome) {
  const LogIndex on = PackageMaintenance(kP1, true);
  const LogIndex again = PackageMaintenance(kP1, true);

  ASSERT_TRUE(state_.OutcomeOf(kP1, on).has_value());
  EXPECT_TRUE(state_.OutcomeOf(kP1, on)->ok);
  EXPECT_EQ(state_.OutcomeOf(kP1, on)->kind, CommandKind::kMaintenance);
  ASSERT_TRUE(state_.OutcomeOf(kP1, again).has_value());
  EXPECT_EQ(state_.OutcomeOf(kP1, again)->message, "already in maintenance");
  EXPECT_TRUE(state_.PackageInMaintenance(kP1));
  EXPECT_TRUE(AnyEventContains(state_, "hpvm1: maintenance on"));
}

TEST_F(MaintenanceTest, APackageOnAFrozenNodeIsInMaintenanceOnlyWhileItIsThere) {
  Commit({AssignOp{.resource = kP1, .node = kN2, .from_epoch = LogIndex(0), .reason = "t"}});
  Commit({AssignOp{.resource = kP2, .node = kN3, .from_epoch = LogIndex(0), .reason = "t"}});

  NodeMaintenance(kN2, true, /*freeze=*/true);

  EXPECT_TRUE(state_.PackageInMaintenance(kP1));
  EXPECT_FALSE(state_.PackageInMaintenance(kP2));
}

TEST_F(MaintenanceTest, AMaintenanceOpNamingBothOrNeitherIsRefusedWhole) {
  const uint64_t malformed = state_.malformed_commands();

  Commit({MaintenanceOp{.node = kN1, .package = kP1, .on = true, .freeze = false, .by = "x"}});
  Commit({MaintenanceOp{
      .node = std::nullopt, .package = std::nullopt, .on = true, .freeze = false, .by = "x"}});

  EXPECT_EQ(state_.malformed_commands(), malformed + 2);
  EXPECT_FALSE(state_.NodeInMaintenance(kN1));
  EXPECT_FALSE(state_.PackageInMaintenance(kP1));
}

TEST_F(MaintenanceTest, AnAssignToANodeInMaintenanceIsDroppedAtApply) {
  NodeMaintenance(kN2, true);

  Commit({AssignOp{.resource = kP1, .node = kN2, .from_epoch = LogIndex(0), .reason = "t"}});

  EXPECT_FALSE(A(kP1).owner.has_value());
  EXPECT_EQ(state_.stale_assigns(), 1u);
}

TEST_F(MaintenanceTest, MaintenanceSurvivesASnapshotRoundTripExactly) {
  Commit({AssignOp{.resource = kP1, .node = kN1, .from_epoch = LogIndex(0), .reason = "t"}});
  NodeMaintenance(kN2, true, /*freeze=*/true);
  NodeMaintenance(kN3, true);
  PackageMaintenance(kP1, true);
  PackageMaintenance(kP2, true);
  PackageMaintenance(kP2, false);

  const std::string bytes = state_.Encode();
  const std::optional<ClusterState> decoded = ClusterState::Decode(bytes, ClusterState::Options{});

  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, state_);
  EXPECT_EQ(decoded->Encode(), bytes);
  EXPECT_TRUE(decoded->NodeFrozen(kN2));
  EXPECT_TRUE(decoded->NodeInMaintenance(kN3));
  EXPECT_FALSE(decoded->NodeFrozen(kN3));
  EXPECT_TRUE(decoded->PackageInMaintenance(kP1));
  EXPECT_FALSE(decoded->PackageInMaintenance(kP2));
}

TEST_F(MaintenanceTest, ASnapshotOfTheFormatBeforeMaintenanceStillDecodes) {
  Commit({AssignOp{.resource = kP1, .node = kN1, .from_epoch = LogIndex(0), .reason = "t"}});
  std::string bytes = state_.Encode();
  // Format 4 appends two u32 counts (0 nodes, 0 packages), format 5 one more (0
  // displacers), format 6 one more (0 inventories); the version byte follows the magic
  // "cmclst".
  std::string old = bytes.substr(0, bytes.size() - 16);
  old[6] = 3;
  std::string format4 = bytes.substr(0, bytes.size() - 8);
  format4[6] = 4;
  ASSERT_EQ(ClusterState::Decode(format4, ClusterState::Options{}), state_);

  const std::optional<ClusterState> decoded = ClusterState::Decode(old, ClusterState::Options{});

  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, state_);
  EXPECT_FALSE(ClusterState::Decode(old + std::string(8, '\0'), {}).has_value());
}

TEST_F(MaintenanceTest, ASnapshotWhoseMaintenanceNamesAnUnknownRecordDoesNotDecode) {
  NodeMaintenance(kN2, true);
  std::string bytes = state_.Encode();
  // The maintenance part ends the snapshot: (1 node: "ivmcl02", frozen) (0 packages).
  const size_t at = bytes.rfind("ivmcl02");
  ASSERT_NE(at, std::string::npos);
  bytes[at + 6] = '9';  // "ivmcl09": no node record holds it.

  EXPECT_FALSE(ClusterState::Decode(bytes, ClusterState::Options{}).has_value());
}

TEST_F(MaintenanceTest, TheOpRoundTripsThroughTheCodecAndTraces) {
  const OpBatch ops{MaintenanceOp{
      .node = kN2, .package = std::nullopt, .on = true, .freeze = true, .by = "root"}};

  const std::optional<OpBatch> decoded = DecodeOps(EncodeOps(ops));

  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, ops);
  EXPECT_EQ(DescribeOps(ops), "maintenance(ivmcl02,-,true,true,\"root\")");
}

// --- Coordinator ------------------------------------------------------------------------

TEST_F(MaintenanceTest, NodeMaintenanceMovesItsPackagesAwayAndNothingStartsThere) {
  Configure({PackageBuilder("hpvm1").Build()});
  StartAll();
  ASSERT_EQ(A(kP1).owner, kN1);

  NodeMaintenance(kN1, true);
  const Decision decision = Step();
  FinishMove(kP1);
  Commit({HaltOp{.package = kP1, .by = "root"}});
  Report(kP1, ReportKind::kHalted);
  const LogIndex run = Commit({RunOp{.package = kP1, .node = kN1, .by = "root"}});
  Step();

  ASSERT_EQ(OpsOf<MoveOp>(decision).size(), 1u);
  EXPECT_EQ(OpsOf<MoveOp>(decision)[0].kind, IntentKind::kNodeHalt);
  EXPECT_EQ(OpsOf<MoveOp>(decision)[0].target, kN2);
  ASSERT_TRUE(state_.OutcomeOf(kP1, run).has_value());
  EXPECT_FALSE(state_.OutcomeOf(kP1, run)->ok);
  EXPECT_NE(state_.OutcomeOf(kP1, run)->message.find("ivmcl01 is in maintenance"),
            std::string::npos)
      << state_.OutcomeOf(kP1, run)->message;
}

TEST_F(MaintenanceTest, APackageNoNodeCanTakeStaysUpWithANoteInsteadOfHalting) {
  Configure({PackageBuilder("hpvm1").Nodes({"ivmcl01"}).Build()});
  StartAll();

  NodeMaintenance(kN1, true);
  const Decision decision = Step();
  const Decision again = Step();

  EXPECT_TRUE(OpsOf<ReleaseOp>(decision).empty()) << DescribeOps(decision.ops);
  EXPECT_FALSE(A(kP1).release_requested);
  EXPECT_EQ(state_.StatusOf(kP1), PackageStatus::kUp);
  EXPECT_NE(Record(kP1).note.find("stays there"), std::string::npos) << Record(kP1).note;
  EXPECT_TRUE(again.ops.empty()) << DescribeOps(again.ops);
}

TEST_F(MaintenanceTest, FreezeKeepsThePackagesWhereTheyRun) {
  Configure({PackageBuilder("hpvm1").Build()});
  StartAll();

  NodeMaintenance(kN1, true, /*freeze=*/true);
  Step();
  const Decision later = Step();

  EXPECT_EQ(A(kP1).owner, kN1);
  EXPECT_FALSE(A(kP1).release_requested);
  EXPECT_FALSE(Record(kP1).intent.has_value());
  EXPECT_TRUE(later.ops.empty()) << DescribeOps(later.ops);
  EXPECT_NE(Record(kP1).note.find("frozen for maintenance"), std::string::npos);
}

TEST_F(MaintenanceTest, APackageInMaintenanceIsNotFailedOverWhenItsOwnerIsLost) {
  Configure({PackageBuilder("hpvm1").Build()});
  StartAll();
  const LogIndex epoch = A(kP1).epoch;
  PackageMaintenance(kP1, true);

  Lose(kN1, live_.now);
  live_.self = kN2;
  live_.now = live_.now + seconds(30);
  const Decision decision = Step();

  EXPECT_TRUE(OpsOf<AssignOp>(decision).empty()) << DescribeOps(decision.ops);
  EXPECT_TRUE(OpsOf<UnassignOp>(decision).empty());
  EXPECT_TRUE(decision.revokes.empty());
  EXPECT_EQ(A(kP1).owner, kN1);
  EXPECT_EQ(A(kP1).epoch, epoch);
  EXPECT_NE(Record(kP1).note.find("not failed over"), std::string::npos) << Record(kP1).note;
}

TEST_F(MaintenanceTest, AFailedPackageInMaintenanceIsNotRestartedUntilMaintenanceEnds) {
  config::PackageSpec package = PackageBuilder("hpvm1").Build();
  package.max_restarts = 1;
  Configure({package});
  StartAll();
  PackageMaintenance(kP1, true);
  Report(kP1, ReportKind::kFailed, FailureKind::kExit2);

  const Decision during = Step();
  PackageMaintenance(kP1, false);
  const Decision after = Step();

  EXPECT_TRUE(OpsOf<AssignOp>(during).empty()) << DescribeOps(during.ops);
  ASSERT_EQ(OpsOf<AssignOp>(after).size(), 1u);
  EXPECT_EQ(OpsOf<AssignOp>(after)[0].why, ActionReason::kRestart);
  EXPECT_TRUE(AnyEventContains(state_, "maintenance off: monitoring and failover resume"));
}

TEST_F(MaintenanceTest, AnOperatorRunStillStartsAPackageInMaintenance) {
  Configure({PackageBuilder("hpvm1").Build()});
  Commit({ClusterRunOp{.by = "root"}});
  PackageMaintenance(kP1, true);
  const Decision idle = Step();

  Commit({RunOp{.package = kP1, .node = std::nullopt, .by = "root"}});
  const Decision run = Step();

  EXPECT_TRUE(OpsOf<AssignOp>(idle).empty());
  ASSERT_EQ(OpsOf<AssignOp>(run).size(), 1u);
}

TEST_F(MaintenanceTest, LeavingNodeMaintenanceMovesNothingBackWithManualFailback) {
  Configure({PackageBuilder("hpvm1").Build()});
  StartAll();
  NodeMaintenance(kN1, true);
  Step();
  FinishMove(kP1);
  ASSERT_EQ(A(kP1).owner, kN2);

  NodeMaintenance(kN1, false);
  const Decision decision = Step();

  EXPECT_TRUE(decision.ops.empty()) << DescribeOps(decision.ops);
  EXPECT_EQ(A(kP1).owner, kN2);
}

TEST_F(MaintenanceTest, LeavingNodeMaintenanceFailsBackOnlyWhenThePolicyIsAutomatic) {
  config::PackageSpec automatic = PackageBuilder("hpvm1").Build();
  automatic.failback_policy = config::FailbackPolicy::kAutomatic;
  Configure({automatic});
  StartAll();
  NodeMaintenance(kN1, true);
  Step();
  FinishMove(kP1);
  const Decision during = Step();

  NodeMaintenance(kN1, false);
  const Decision after = Step();

  EXPECT_TRUE(OpsOf<MoveOp>(during).empty()) << DescribeOps(during.ops);
  ASSERT_EQ(OpsOf<MoveOp>(after).size(), 1u);
  EXPECT_EQ(OpsOf<MoveOp>(after)[0].kind, IntentKind::kFailback);
  EXPECT_EQ(OpsOf<MoveOp>(after)[0].target, kN1);
}

}  // namespace
}  // namespace cmcl::node
