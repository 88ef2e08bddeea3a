// The coordinator's decisions (coordinator.h): cluster start, owner loss after certain
// expiry only, restart then relocate without loops, halt_failed left alone, node halt,
// failback, multi-step intents, and placement's tally across one batch. Every test
// applies what Decide proposed to a real ClusterState, so a proposal that apply would
// drop (a stale epoch, a wrong step) fails here too.
#include "cmcld/core/node/coordinator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/config_builder.h"
#include "tests/support/decision_ops.h"

namespace cmcl::node {
namespace {

using std::chrono::seconds;
using test_support::ClusterBuilder;
using test_support::Gib;
using test_support::InventoryBuilder;
using test_support::PackageBuilder;
using ::testing::HasSubstr;

const NodeName kN1("ivmcl01");
const NodeName kN2("ivmcl02");
const NodeName kN3("ivmcl03");
const PackageName kP1("hpvm1");
const PackageName kP2("hpvm2");

using test_support::OpsOf;

inventory::NodeInventory WithCapacity(uint32_t vcpus) {
  return InventoryBuilder().Capacity(vcpus, Gib(64)).Build();
}

// Three members with 8 vCPUs each unless a test says otherwise; a ClusterState fed by
// committed entries; this node (ivmcl01) the leader since t=100s, every member up.
class CoordinatorTest : public ::testing::Test {
 protected:
  void Configure(config::ClusterConfig config) {
    config_ = std::move(config);
    index_ = std::make_unique<validation::ConfigIndex>(config_, reported_);
  }
  void Configure(const std::vector<config::PackageSpec>& packages, uint32_t n1_vcpus = 8,
                 uint32_t n2_vcpus = 8, uint32_t n3_vcpus = 8) {
    ClusterBuilder builder;
    builder.Node("ivmcl01", WithCapacity(n1_vcpus))
        .Node("ivmcl02", WithCapacity(n2_vcpus))
        .Node("ivmcl03", WithCapacity(n3_vcpus));
    for (const config::PackageSpec& package : packages) builder.Package(package);
    Configure(builder.Build());
  }

  LogIndex Commit(const OpBatch& ops) {
    const LogIndex index(state_.applied().value() + 1);
    state_.Apply(raft::ApplyEntry{
        .entry = raft::Entry{.term = raft::Term(1),
                             .index = index,
                             .kind = raft::EntryKind::kCommand,
                             .command = {.client_id = raft::ClientId(1),
                                         .sequence = index.value(),
                                         .payload = EncodeOps(ops),
                                         .revokes = {}}},
        .duplicate = false});
    return index;
  }
  Decision Decide() const { return node::Decide(config_, *index_, state_, live_); }
  // Decides and commits what was decided (if anything); returns the decision.
  Decision Step() {
    Decision decision = Decide();
    if (!decision.ops.empty()) Commit(decision.ops);
    return decision;
  }
  void Report(const PackageName& package, ReportKind kind,
              FailureKind failure = FailureKind::kNone) {
    const Assignment a = A(package);
    ASSERT_TRUE(a.owner.has_value()) << package << " is not assigned";
    Commit({ReportOp{.resource = package, .node = *a.owner, .epoch = a.epoch, .kind = kind,
                     .failure = failure, .detail = ""}});
  }
  // Cluster run, placement, and the owners' `started` reports.
  void StartAll() {
    Commit({ClusterRunOp{.by = "root"}});
    Step();
    for (const auto& [package, a] : state_.assignments()) {
      if (a.status == AssignmentStatus::kAssigned) Report(package, ReportKind::kStarted);
    }
  }
  // Copies, so that a test of a package the state does not know fails instead of crashing.
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

// --- Cluster start ------------------------------------------------------------------

TEST_F(CoordinatorTest, InitialPlacementWaitsForEveryMemberAndSaysSoOnce) {
  Configure({PackageBuilder("hpvm1").Build()});
  live_.up = live_.reachable = {kN1, kN2};

  const Decision first = Step();
  live_.now = live_.now + seconds(19);
  const Decision later = Step();

  EXPECT_TRUE(OpsOf<ClusterStartOp>(first).empty());
  EXPECT_TRUE(OpsOf<AssignOp>(first).empty());
  EXPECT_EQ(first.wakeup, live_.leader_since + seconds(60));
  EXPECT_EQ(Record(kP1).note,
            "waiting for every member (2 of 3 up) or cluster_start_wait (60s left)");
  EXPECT_TRUE(later.ops.empty()) << DescribeOps(later.ops);  // The note is not re-proposed.
  EXPECT_FALSE(state_.cluster_started());
}

TEST_F(CoordinatorTest, InitialPlacementStartsWhenTheLastMemberComesUp) {
  Configure({PackageBuilder("hpvm1").Build()});
  live_.up = live_.reachable = {kN1, kN2};
  Step();
  live_.up = live_.reachable = {kN1, kN2, kN3};

  const Decision decision = Step();

  ASSERT_EQ(OpsOf<ClusterStartOp>(decision).size(), 1u);
  EXPECT_THAT(OpsOf<ClusterStartOp>(decision)[0].reason, HasSubstr("3 of 3 up"));
  EXPECT_TRUE(state_.cluster_started());
  EXPECT_EQ(A(kP1).owner, kN1);
  EXPECT_EQ(A(kP1).status, AssignmentStatus::kAssigned);
  EXPECT_EQ(A(kP1).start_reason, ActionReason::kStart);
  EXPECT_THAT(A(kP1).reason, HasSubstr("cluster start"));
}

TEST_F(CoordinatorTest, InitialPlacementGoesAheadAfterClusterStartWait) {
  Configure({PackageBuilder("hpvm1").Nodes({"ivmcl03", "ivmcl02"}).Build()});
  live_.up = live_.reachable = {kN1, kN2};
  live_.now = live_.leader_since + seconds(60);

  const Decision decision = Step();

  ASSERT_EQ(OpsOf<ClusterStartOp>(decision).size(), 1u);
  EXPECT_THAT(OpsOf<ClusterStartOp>(decision)[0].reason, HasSubstr("cluster_start_wait"));
  EXPECT_EQ(A(kP1).owner, kN2);  // ivmcl03 is down.
  EXPECT_THAT(A(kP1).reason, HasSubstr("ivmcl03 refused (target node ivmcl03 is not an up"));
}

TEST_F(CoordinatorTest, TheStartGateNamesTheMissingMembersAndWhenItStopsWaiting) {
  Configure({PackageBuilder("hpvm1").Build()});
  live_.up = live_.reachable = {kN1};
  live_.now = live_.leader_since + seconds(10);

  const ClusterStartGate gate = CheckClusterStart(config_, *index_, state_, live_);

  EXPECT_EQ(gate.verdict, ClusterStartGate::Verdict::kWaiting);
  EXPECT_EQ(gate.waiting_for, (std::vector<NodeName>{kN2, kN3}));
  EXPECT_EQ(gate.members, 3u);
  EXPECT_EQ(gate.deadline, live_.leader_since + seconds(60));
}

TEST_F(CoordinatorTest, TheStartGateDoesNotWaitForAHaltedMember) {
  Configure({PackageBuilder("hpvm1").Build()});
  live_.up = live_.reachable = {kN1, kN2};
  Commit({NodeAdminOp{.node = kN3, .halted = true, .by = "root"}});

  const ClusterStartGate gate = CheckClusterStart(config_, *index_, state_, live_);

  EXPECT_EQ(gate.verdict, ClusterStartGate::Verdict::kStart);
  EXPECT_EQ(gate.reason, "every member is up (2 of 2 up)");
  EXPECT_TRUE(gate.waiting_for.empty());
}

TEST_F(CoordinatorTest, TheStartGateIsClosedOnceStartedOrAfterAClusterHalt) {
  Configure({PackageBuilder("hpvm1").Build()});
  live_.up = live_.reachable = {kN1};
  Commit({ClusterRunOp{.by = "root"}});
  const ClusterStartGate started = CheckClusterStart(config_, *index_, state_, live_);
  Commit({ClusterHaltOp{.force = true, .by = "root"}});

  const ClusterStartGate halted = CheckClusterStart(config_, *index_, state_, live_);

  EXPECT_EQ(started.verdict, ClusterStartGate::Verdict::kNotStarting);
  EXPECT_EQ(halted.verdict, ClusterStartGate::Verdict::kNotStarting);
  EXPECT_TRUE(state_.cluster_halted());
}

TEST_F(CoordinatorTest, ClusterRunPlacesAtOnceWithoutWaiting) {
  Configure({PackageBuilder("hpvm1").Build()});
  live_.up = live_.reachable = {kN1, kN2};
  Commit({ClusterRunOp{.by = "root"}});

  const Decision decision = Step();

  EXPECT_TRUE(OpsOf<ClusterStartOp>(decision).empty());
  EXPECT_EQ(A(kP1).owner, kN1);
}

TEST_F(CoordinatorTest, AnOperatorRunIsPlacedBeforeTheClusterStarts) {
  Configure({PackageBuilder("hpvm1").Build(), PackageBuilder("hpvm2").Build()});
  live_.up = live_.reachable = {kN1, kN2};
  Commit({RunOp{.package = kP2, .node = kN2, .enable_switching = true, .by = "root"}});

  Step();

  EXPECT_EQ(state_.Find(kP1), nullptr);
  EXPECT_EQ(A(kP2).owner, kN2);
  EXPECT_FALSE(state_.cluster_started());
}

// --- Owner loss ---------------------------------------------------------------------

TEST_F(CoordinatorTest, ALostOwnersPackageFailsOverOnlyAfterItsLeaseCertainlyExpired) {
  Configure({PackageBuilder("hpvm1").Nodes({"ivmcl02", "ivmcl01"}).Build()});
  live_.self = kN1;
  StartAll();
  const LogIndex epoch = A(kP1).epoch;
  Lose(kN2, live_.now + seconds(5));

  const Decision early = Decide();
  live_.now = live_.now + seconds(5);
  const Decision expired = Step();

  EXPECT_TRUE(early.ops.empty()) << DescribeOps(early.ops);
  EXPECT_EQ(early.wakeup, live_.now);
  ASSERT_EQ(OpsOf<AssignOp>(expired).size(), 1u);
  EXPECT_EQ(OpsOf<AssignOp>(expired)[0].from_epoch, epoch);
  EXPECT_EQ(OpsOf<AssignOp>(expired)[0].why, ActionReason::kFailover);
  EXPECT_EQ(expired.revokes, std::set<NodeName>{kN2});
  EXPECT_EQ(A(kP1).owner, kN1);
  EXPECT_EQ(A(kP1).reason, "hpvm1: ivmcl02 lost; started on ivmcl01");
}

// A forced cluster halt asked every package to stop: an owner lost while halting (or a
// whole cluster restarted before its `halted` reports were committed) leaves the package
// down, not started elsewhere; only `cluster run` places it again.
TEST_F(CoordinatorTest, ALostOwnersPackageIsNotFailedOverWhileTheClusterIsHalted) {
  Configure({PackageBuilder("hpvm1").Nodes({"ivmcl02", "ivmcl01"}).Build()});
  StartAll();
  Commit({ClusterHaltOp{.force = true, .by = "root"}});
  Lose(kN2, live_.now);

  const Decision decision = Step();

  EXPECT_TRUE(OpsOf<AssignOp>(decision).empty()) << DescribeOps(decision.ops);
  ASSERT_EQ(OpsOf<UnassignOp>(decision).size(), 1u);
  EXPECT_EQ(decision.revokes, std::set<NodeName>{kN2});
  EXPECT_EQ(state_.StatusOf(kP1), PackageStatus::kDown);
  EXPECT_TRUE(Step().ops.empty());  // And it stays down.
}

TEST_F(CoordinatorTest, ALostOwnersPackageWithSwitchingOffIsUnassignedWithARevoke) {
  Configure({PackageBuilder("hpvm1").Build()});
  StartAll();
  Commit({EnableOp{.package = kP1, .node = std::nullopt, .enable = false, .by = "root"}});
  live_.self = kN2;
  Lose(kN1, live_.now);

  const Decision decision = Step();

  ASSERT_EQ(OpsOf<UnassignOp>(decision).size(), 1u);
  EXPECT_TRUE(OpsOf<AssignOp>(decision).empty());
  EXPECT_EQ(decision.revokes, std::set<NodeName>{kN1});
  EXPECT_FALSE(A(kP1).owner.has_value());
  EXPECT_EQ(state_.StatusOf(kP1), PackageStatus::kDown);
}

TEST_F(CoordinatorTest, AFailoverNoNodeCanTakeIsUnassignedThenNotedWithValidationsWords) {
  Configure({PackageBuilder("hpvm1").Vcpus(6).Build()}, 8, 4);
  StartAll();
  live_.self = kN2;
  Lose(kN1, live_.now);

  const Decision decision = Step();
  const Decision noted = Step();
  const Decision again = Step();

  ASSERT_EQ(OpsOf<UnassignOp>(decision).size(), 1u);
  EXPECT_THAT(OpsOf<UnassignOp>(decision)[0].reason,
              HasSubstr("hpvm1: ivmcl01 lost; no node can run it: ivmcl02 refused (ivmcl02 has "
                        "4 of 4 vCPUs free; hpvm1 needs 6)"));
  EXPECT_TRUE(OpsOf<AssignOp>(decision).empty());
  EXPECT_EQ(decision.revokes, std::set<NodeName>{kN1});
  EXPECT_EQ(state_.StatusOf(kP1), PackageStatus::kDown);
  EXPECT_EQ(OpsOf<NoteOp>(noted).size(), 1u);
  EXPECT_THAT(Record(kP1).note, HasSubstr("ivmcl02 has 4 of 4 vCPUs free; hpvm1 needs 6"));
  EXPECT_TRUE(again.ops.empty()) << DescribeOps(again.ops);
}

// cmcl_validation_refusals_total (Node counts them): the decision names each package
// placement refused and the codes that refused it; a placed package is not named.
TEST_F(CoordinatorTest, ADecisionNamesTheRefusedPackagesWithTheirViolationCodes) {
  Configure({PackageBuilder("hpvm1").Vcpus(6).Build()}, 8, 4);
  StartAll();
  const Decision placed = Step();  // Nothing to place: hpvm1 runs on ivmcl01.
  live_.self = kN2;
  Lose(kN1, live_.now);

  const Decision refused = Step();

  ASSERT_TRUE(placed.refusals.has_value());
  EXPECT_TRUE(placed.refusals->empty());
  ASSERT_TRUE(refused.refusals.has_value());
  ASSERT_EQ(refused.refusals->size(), 1u);
  EXPECT_EQ(refused.refusals->at(kP1),
            std::set<validation::ViolationCode>{validation::ViolationCode::kInsufficientCapacity});
}

TEST_F(CoordinatorTest, AnUnassignedPackageReturnsToItsNodeWhenTheNodeComesBack) {
  Configure({PackageBuilder("hpvm1").Vcpus(6).Build()}, 8, 4);
  StartAll();
  live_.self = kN2;
  Lose(kN1, live_.now);
  Step();
  Step();

  live_.up = live_.reachable = {kN1, kN2, kN3};
  const Decision decision = Step();

  ASSERT_EQ(OpsOf<AssignOp>(decision).size(), 1u);
  EXPECT_EQ(A(kP1).owner, kN1);
  EXPECT_EQ(Record(kP1).note, "");  // The assignment cleared it.
}

TEST_F(CoordinatorTest, HaltFailedIsNotReplacedWhenItsOwnerIsLost) {
  Configure({PackageBuilder("hpvm1").Build()});
  StartAll();
  Report(kP1, ReportKind::kHaltFailed, FailureKind::kHaltScript);
  live_.self = kN2;
  Lose(kN1, live_.now);

  const Decision decision = Step();
  const Decision again = Step();

  EXPECT_TRUE(OpsOf<AssignOp>(decision).empty());
  EXPECT_TRUE(decision.revokes.empty());
  EXPECT_THAT(Record(kP1).note, HasSubstr("--owner-is-down ivmcl01"));
  EXPECT_EQ(A(kP1).status, AssignmentStatus::kHaltFailed);
  EXPECT_TRUE(again.ops.empty()) << DescribeOps(again.ops);
}

TEST_F(CoordinatorTest, HaltFailedIsReplacedAfterCertainExpiryWhenTheOwnerFencesByWatchdog) {
  Configure({PackageBuilder("hpvm1").Build()});
  StartAll();
  Report(kP1, ReportKind::kHaltFailed, FailureKind::kHaltScript);
  live_.self = kN2;
  live_.watchdog_fence = true;
  Lose(kN1, live_.now + seconds(1));

  const Decision early = Step();
  live_.now = live_.now + seconds(1);
  const Decision decision = Step();

  EXPECT_TRUE(early.ops.empty());
  ASSERT_EQ(OpsOf<AssignOp>(decision).size(), 1u);
  EXPECT_EQ(decision.revokes, std::set<NodeName>{kN1});
  EXPECT_EQ(A(kP1).owner, kN2);
  EXPECT_EQ(A(kP1).status, AssignmentStatus::kAssigned);
}

TEST_F(CoordinatorTest, TheWakeupIsTheEarliestPendingCertainExpiry) {
  Configure({PackageBuilder("hpvm1").Nodes({"ivmcl02", "ivmcl01"}).Build(),
             PackageBuilder("hpvm2").Nodes({"ivmcl03", "ivmcl01"}).Build()});
  StartAll();
  Lose(kN2, live_.now + seconds(5));
  Lose(kN3, live_.now + seconds(3));

  const Decision decision = Decide();

  EXPECT_TRUE(decision.ops.empty());
  EXPECT_EQ(decision.wakeup, live_.now + seconds(3));
}

// --- Placement policy and the tally -------------------------------------------------

TEST_F(CoordinatorTest, ConfiguredNodeGivesThePreferredNodeToTheFirstAndTheNextToTheOther) {
  // ivmcl01 has room for one 3-vCPU guest only.
  Configure({PackageBuilder("hpvm1").Vcpus(3).Build(),
             PackageBuilder("hpvm2").Vcpus(3).Build()},
            4);
  Commit({ClusterRunOp{.by = "root"}});

  const Decision decision = Step();

  ASSERT_EQ(OpsOf<AssignOp>(decision).size(), 2u);
  EXPECT_EQ(A(kP1).owner, kN1);
  EXPECT_EQ(A(kP2).owner, kN2);
  EXPECT_EQ(OpsOf<AssignOp>(decision)[1].reason,
            "hpvm2: start; ivmcl01 refused (ivmcl01 has 1 of 4 vCPUs free; hpvm2 needs 3); "
            "started on ivmcl02");
}

TEST_F(CoordinatorTest, MinPackageNodeSpreadsOneBatchOverTheLeastLoadedNodes) {
  config::PackageSpec first = PackageBuilder("hpvm1").Nodes({"ivmcl01", "ivmcl02"}).Build();
  config::PackageSpec second = PackageBuilder("hpvm2").Nodes({"ivmcl01", "ivmcl02"}).Build();
  first.failover_policy = second.failover_policy = config::FailoverPolicy::kMinPackageNode;
  Configure({first, second});

  StartAll();

  EXPECT_EQ(A(kP1).owner, kN1);
  EXPECT_EQ(A(kP2).owner, kN2);  // ivmcl01 already took hpvm1 in this batch.
}

TEST_F(CoordinatorTest, AFailoverBatchNeverDoubleBooksANode) {
  // ivmcl01 runs both; ivmcl02 and ivmcl03 each have room for one.
  const std::vector<std::string> nodes = {"ivmcl01", "ivmcl02", "ivmcl03"};
  Configure({PackageBuilder("hpvm1").Vcpus(3).Nodes(nodes).Build(),
             PackageBuilder("hpvm2").Vcpus(3).Nodes(nodes).Build()},
            8, 4, 4);
  StartAll();
  ASSERT_EQ(A(kP2).owner, kN1);
  live_.self = kN2;
  Lose(kN1, live_.now);

  const Decision decision = Step();

  EXPECT_EQ(OpsOf<AssignOp>(decision).size(), 2u);
  EXPECT_EQ(A(kP1).owner, kN2);
  EXPECT_EQ(A(kP2).owner, kN3);
}

// --- Restart, relocate, never loop --------------------------------------------------

TEST_F(CoordinatorTest, AFailedPackageRestartsThenRelocatesThenStaysDownWithoutLooping) {
  config::PackageSpec package = PackageBuilder("hpvm1").Build();  // ivmcl01, ivmcl02.
  package.max_restarts = 1;
  Configure({package});
  StartAll();

  Report(kP1, ReportKind::kFailed, FailureKind::kExit2);
  const Decision restart = Step();
  Report(kP1, ReportKind::kStarted);
  Report(kP1, ReportKind::kFailed, FailureKind::kExit2);
  const Decision relocate = Step();
  const PackageRecord after_relocation = Record(kP1);
  Report(kP1, ReportKind::kStarted);
  Report(kP1, ReportKind::kFailed, FailureKind::kTimeout);
  const Decision restart_there = Step();
  Report(kP1, ReportKind::kFailed, FailureKind::kTimeout);
  const Decision exhausted = Step();
  const Decision again = Step();

  ASSERT_EQ(OpsOf<AssignOp>(restart).size(), 1u);
  EXPECT_EQ(OpsOf<AssignOp>(restart)[0].node, kN1);
  EXPECT_EQ(OpsOf<AssignOp>(restart)[0].why, ActionReason::kRestart);
  ASSERT_EQ(OpsOf<AssignOp>(relocate).size(), 1u);
  EXPECT_EQ(OpsOf<AssignOp>(relocate)[0].node, kN2);
  EXPECT_EQ(OpsOf<AssignOp>(relocate)[0].remember, kN1);
  EXPECT_EQ(after_relocation.failed_nodes, std::set<NodeName>{kN1});
  EXPECT_EQ(after_relocation.relocations, 1u);
  ASSERT_EQ(OpsOf<AssignOp>(restart_there).size(), 1u);
  EXPECT_EQ(OpsOf<AssignOp>(restart_there)[0].node, kN2);
  EXPECT_TRUE(OpsOf<AssignOp>(exhausted).empty());
  EXPECT_EQ(Record(kP1).note,
            "hpvm1: failed on ivmcl02 (run script timed out); no node can run it: every "
            "candidate was tried before (ivmcl01, ivmcl02)");
  EXPECT_TRUE(again.ops.empty()) << DescribeOps(again.ops);
}

// A restart goes back to the node it failed on; with its same_node dependency up on
// another node by then, it would wait there forever: it relocates to that node instead
// (sim seed 365 --swarm --maintenance 0.2).
TEST_F(CoordinatorTest, ARestartFollowsItsSameNodeDependencyThatRunsElsewhere) {
  config::PackageSpec db = PackageBuilder("hpvm1").Build();  // ivmcl01, ivmcl02.
  config::PackageSpec app = PackageBuilder("hpvm2").Build();
  app.max_restarts = 3;
  app.depends_on.push_back(
      config::Dependency{.package = kP1, .location = config::DependencyLocation::kSameNode});
  Configure({db, app});
  Commit({AssignOp{.resource = kP1, .node = kN2, .from_epoch = LogIndex(0)}});
  Report(kP1, ReportKind::kStarted);
  Commit({AssignOp{.resource = kP2, .node = kN1, .from_epoch = LogIndex(0)}});
  Report(kP2, ReportKind::kFailed, FailureKind::kTimeout);  // db moved meanwhile.

  const Decision decision = Step();

  ASSERT_EQ(OpsOf<AssignOp>(decision).size(), 1u) << DescribeOps(decision.ops);
  EXPECT_EQ(OpsOf<AssignOp>(decision)[0].node, kN2);
  EXPECT_EQ(OpsOf<AssignOp>(decision)[0].why, ActionReason::kFailover);
  EXPECT_EQ(A(kP2).owner, kN2);
  EXPECT_EQ(Record(kP2).failed_nodes, std::set<NodeName>{kN1});
}

TEST_F(CoordinatorTest, ARefusedRestartRelocatesInTheSameDecision) {
  config::PackageSpec package = PackageBuilder("hpvm1").Build();
  package.max_restarts = 3;
  Configure({package});
  StartAll();
  Report(kP1, ReportKind::kFailed, FailureKind::kServiceFailed);
  Commit({NodeAdminOp{.node = kN1, .halted = true, .by = "root"}});

  const Decision decision = Step();

  ASSERT_EQ(OpsOf<AssignOp>(decision).size(), 1u);
  EXPECT_EQ(OpsOf<AssignOp>(decision)[0].node, kN2);
  EXPECT_EQ(OpsOf<AssignOp>(decision)[0].why, ActionReason::kFailover);
  EXPECT_EQ(Record(kP1).failed_nodes, std::set<NodeName>{kN1});
}

TEST_F(CoordinatorTest, ARunScriptExit1IsNeitherRestartedNorRelocated) {
  config::PackageSpec package = PackageBuilder("hpvm1").Build();
  package.max_restarts = 2;
  Configure({package});
  StartAll();

  Report(kP1, ReportKind::kFailed, FailureKind::kExit1);
  const Decision decision = Decide();

  EXPECT_TRUE(decision.ops.empty()) << DescribeOps(decision.ops);
  EXPECT_EQ(state_.StatusOf(kP1), PackageStatus::kFailed);
}

TEST_F(CoordinatorTest, AFencedPackageFailsOverAwayFromTheNodeThatFencedIt) {
  Configure({PackageBuilder("hpvm1").Build()});
  StartAll();

  Report(kP1, ReportKind::kFenced);
  const Decision decision = Step();

  ASSERT_EQ(OpsOf<AssignOp>(decision).size(), 1u);
  EXPECT_EQ(A(kP1).owner, kN2);
  EXPECT_EQ(A(kP1).start_reason, ActionReason::kFailover);
  EXPECT_TRUE(Record(kP1).failed_nodes.empty());  // A fence is not the package's fault.
}

TEST_F(CoordinatorTest, AFencedPackageNoOtherNodeCanTakeGoesBackToItsNode) {
  Configure({PackageBuilder("hpvm1").Build()});
  StartAll();
  live_.up = live_.reachable = {kN1, kN3};  // ivmcl02, the other node of its list, is down.

  Report(kP1, ReportKind::kFenced);
  const Decision decision = Step();

  ASSERT_EQ(OpsOf<AssignOp>(decision).size(), 1u);
  EXPECT_EQ(A(kP1).owner, kN1);
  EXPECT_EQ(A(kP1).start_reason, ActionReason::kFailover);
}

TEST_F(CoordinatorTest, ARunNoNodeCanTakeEndsFailedWithTheReasonAndSettles) {
  config::PackageSpec package = PackageBuilder("hpvm1").Vcpus(10).Build();
  package.auto_run = false;
  Configure({package});
  Commit({ClusterRunOp{.by = "root"}});
  const LogIndex run =
      Commit({RunOp{.package = kP1, .node = std::nullopt, .enable_switching = true,
                    .by = "root"}});

  const Decision decision = Step();
  Step();  // Still wanted: placed by policy, which may note it once more.
  const Decision settled = Step();

  ASSERT_EQ(OpsOf<NoteOp>(decision).size(), 1u);
  EXPECT_TRUE(OpsOf<NoteOp>(decision)[0].ends_run);
  const std::optional<Outcome> outcome = state_.OutcomeOf(kP1, run);
  ASSERT_TRUE(outcome.has_value());
  EXPECT_FALSE(outcome->ok);
  EXPECT_THAT(outcome->message, HasSubstr("ivmcl01 has 8 of 8 vCPUs free; hpvm1 needs 10"));
  EXPECT_EQ(state_.Find(kP1), nullptr);
  EXPECT_TRUE(settled.ops.empty()) << DescribeOps(settled.ops);
}

TEST_F(CoordinatorTest, AnOwnedPackageNoLongerWantedIsReleased) {
  config::PackageSpec package = PackageBuilder("hpvm1").Build();
  package.auto_run = false;
  Configure({package});
  Commit({ClusterRunOp{.by = "root"}});
  const LogIndex epoch = Commit({AssignOp{.resource = kP1, .node = kN2,
                                          .from_epoch = LogIndex(0), .reason = "test",
                                          .why = ActionReason::kStart,
                                          .remember = std::nullopt}});

  const Decision decision = Step();

  ASSERT_EQ(OpsOf<ReleaseOp>(decision).size(), 1u);
  EXPECT_EQ(OpsOf<ReleaseOp>(decision)[0].epoch, epoch);
  EXPECT_TRUE(A(kP1).release_requested);
  EXPECT_TRUE(Step().ops.empty());
}

// --- Node halt and failback ---------------------------------------------------------

TEST_F(CoordinatorTest, NodeHaltMigratesByDefaultAndHaltsWithPolicyHalt) {
  config::PackageSpec halted = PackageBuilder("hpvm2").Build();
  halted.shutdown_policy = config::ShutdownPolicy::kHalt;
  Configure({PackageBuilder("hpvm1").Build(), halted});
  StartAll();
  ASSERT_EQ(A(kP2).owner, kN1);

  Commit({NodeAdminOp{.node = kN1, .halted = true, .by = "root"}});
  const Decision decision = Step();

  ASSERT_EQ(OpsOf<MoveOp>(decision).size(), 1u);
  EXPECT_EQ(OpsOf<MoveOp>(decision)[0].package, kP1);
  EXPECT_EQ(OpsOf<MoveOp>(decision)[0].target, kN2);
  EXPECT_EQ(OpsOf<MoveOp>(decision)[0].kind, IntentKind::kNodeHalt);
  ASSERT_TRUE(Record(kP1).intent.has_value());
  ASSERT_EQ(OpsOf<ReleaseOp>(decision).size(), 1u);
  EXPECT_EQ(OpsOf<ReleaseOp>(decision)[0].why, ActionReason::kNodeHalt);
  EXPECT_TRUE(A(kP2).release_requested);
}

TEST_F(CoordinatorTest, APackageHaltedForANodeHaltIsPlacedElsewhere) {
  config::PackageSpec package = PackageBuilder("hpvm1").Build();
  package.shutdown_policy = config::ShutdownPolicy::kHalt;
  Configure({package});
  StartAll();
  Commit({NodeAdminOp{.node = kN1, .halted = true, .by = "root"}});
  Step();

  Report(kP1, ReportKind::kHalted);
  const Decision decision = Step();

  ASSERT_EQ(OpsOf<AssignOp>(decision).size(), 1u);
  EXPECT_EQ(A(kP1).owner, kN2);
  EXPECT_EQ(A(kP1).start_reason, ActionReason::kFailover);
}

TEST_F(CoordinatorTest, AutomaticFailbackMovesThePackageHomeWhenItsNodeReturns) {
  config::PackageSpec automatic = PackageBuilder("hpvm1").Build();
  automatic.failback_policy = config::FailbackPolicy::kAutomatic;
  Configure({automatic, PackageBuilder("hpvm2").Build()});
  live_.self = kN2;
  live_.up = live_.reachable = {kN2, kN3};
  StartAll();
  ASSERT_EQ(A(kP1).owner, kN2);
  ASSERT_EQ(A(kP2).owner, kN2);

  live_.up = live_.reachable = {kN1, kN2, kN3};
  const Decision decision = Step();

  ASSERT_EQ(OpsOf<MoveOp>(decision).size(), 1u);  // hpvm2's failback is manual.
  EXPECT_EQ(OpsOf<MoveOp>(decision)[0].package, kP1);
  EXPECT_EQ(OpsOf<MoveOp>(decision)[0].target, kN1);
  EXPECT_EQ(OpsOf<MoveOp>(decision)[0].kind, IntentKind::kFailback);
  ASSERT_TRUE(Record(kP1).intent.has_value());
  EXPECT_EQ(Record(kP1).intent->kind, IntentKind::kFailback);
}

// Sim seed 821 --swarm: a failback whose start failed returned the package to its source,
// and the next Decide failed it back to the same node again, forever.
TEST_F(CoordinatorTest, AFailbackThatFailsToStartIsNotTriedAgainOnThatNode) {
  config::PackageSpec automatic = PackageBuilder("hpvm1").Build();
  automatic.failback_policy = config::FailbackPolicy::kAutomatic;
  Configure({automatic});
  live_.self = kN2;
  live_.up = live_.reachable = {kN2, kN3};
  StartAll();
  live_.up = live_.reachable = {kN1, kN2, kN3};
  ASSERT_EQ(OpsOf<MoveOp>(Step()).size(), 1u);  // Failback to n1: validate,
  Step();                                        // halt on n2,
  Report(kP1, ReportKind::kHalted);
  Step();  // start on n1,
  ASSERT_EQ(A(kP1).owner, kN1);
  Report(kP1, ReportKind::kFailed, FailureKind::kExit2);  // which fails:
  Step();                                                 // back to n2.
  ASSERT_EQ(A(kP1).owner, kN2);
  Report(kP1, ReportKind::kStarted);

  Step();  // The intent ends.
  const Decision later = Step();

  EXPECT_FALSE(Record(kP1).intent.has_value());
  EXPECT_TRUE(OpsOf<MoveOp>(later).empty()) << DescribeOps(later.ops);
  EXPECT_TRUE(Record(kP1).failed_nodes.contains(kN1));
  EXPECT_EQ(A(kP1).owner, kN2);
}

// --- Intents ------------------------------------------------------------------------

class MoveTest : public CoordinatorTest {
 protected:
  void SetUp() override {
    Configure({PackageBuilder("hpvm1").Vcpus(3).Build()}, 8, 4);
    StartAll();
    source_epoch_ = A(kP1).epoch;
  }
  LogIndex Move(const NodeName& target) {
    return Commit({MoveOp{.package = kP1, .target = target, .kind = IntentKind::kMove,
                          .vcpus = std::nullopt, .memory_mb = std::nullopt, .by = "root"}});
  }
  LogIndex source_epoch_;
};

TEST_F(MoveTest, AMoveValidatesHaltsTheSourceThenStartsOnTheTarget) {
  const LogIndex move = Move(kN2);

  const Decision validated = Step();
  const Decision halting = Step();
  Report(kP1, ReportKind::kHalted);
  const Decision target = Step();
  const IntentStep step = Record(kP1).intent.value_or(Intent{}).step;
  Report(kP1, ReportKind::kStarted);

  ASSERT_EQ(OpsOf<IntentStepOp>(validated).size(), 1u);
  EXPECT_EQ(OpsOf<IntentStepOp>(validated)[0].step, IntentStep::kHalting);
  EXPECT_TRUE(halting.ops.empty()) << DescribeOps(halting.ops);
  ASSERT_EQ(OpsOf<AssignOp>(target).size(), 1u);
  EXPECT_EQ(OpsOf<AssignOp>(target)[0].node, kN2);
  EXPECT_EQ(OpsOf<AssignOp>(target)[0].why, ActionReason::kMove);
  EXPECT_EQ(step, IntentStep::kStarting);
  EXPECT_EQ(A(kP1).owner, kN2);
  EXPECT_EQ(A(kP1).source, kN1);
  EXPECT_FALSE(Record(kP1).intent.has_value());
  ASSERT_TRUE(state_.OutcomeOf(kP1, move).has_value());
  EXPECT_TRUE(state_.OutcomeOf(kP1, move)->ok);
}

TEST_F(MoveTest, ARefusedMoveHaltsNothing) {
  Commit({AssignOp{.resource = PackageName("other"), .node = kN2, .from_epoch = LogIndex(0),
                   .reason = "test", .why = ActionReason::kStart, .remember = std::nullopt}});
  Configure({PackageBuilder("hpvm1").Vcpus(3).Build(), PackageBuilder("other").Vcpus(3).Build()},
            8, 4);
  const LogIndex move = Move(kN2);

  const Decision decision = Step();

  ASSERT_EQ(OpsOf<IntentDoneOp>(decision).size(), 1u);
  EXPECT_FALSE(OpsOf<IntentDoneOp>(decision)[0].ok);
  EXPECT_THAT(OpsOf<IntentDoneOp>(decision)[0].message,
              HasSubstr("refused: ivmcl02 has 1 of 4 vCPUs free; hpvm1 needs 3"));
  EXPECT_FALSE(Record(kP1).intent.has_value());
  EXPECT_EQ(A(kP1).epoch, source_epoch_);
  EXPECT_EQ(A(kP1).status, AssignmentStatus::kStarted);
  EXPECT_FALSE(A(kP1).release_requested);
  ASSERT_TRUE(state_.OutcomeOf(kP1, move).has_value());
  EXPECT_FALSE(state_.OutcomeOf(kP1, move)->ok);
}

TEST_F(MoveTest, AStartThatFailsOnTheTargetBringsTheGuestBackToTheSource) {
  const LogIndex move = Move(kN2);
  Step();
  Report(kP1, ReportKind::kHalted);
  Step();

  Report(kP1, ReportKind::kFailed, FailureKind::kExit2);
  const Decision back = Step();
  const IntentStep step = Record(kP1).intent.value_or(Intent{}).step;
  Report(kP1, ReportKind::kStarted);

  ASSERT_EQ(OpsOf<AssignOp>(back).size(), 1u);
  EXPECT_EQ(OpsOf<AssignOp>(back)[0].node, kN1);
  EXPECT_EQ(step, IntentStep::kReturning);
  EXPECT_EQ(A(kP1).owner, kN1);
  EXPECT_FALSE(Record(kP1).intent.has_value());
  ASSERT_TRUE(state_.OutcomeOf(kP1, move).has_value());
  EXPECT_FALSE(state_.OutcomeOf(kP1, move)->ok);
}

TEST_F(MoveTest, ATargetNoLongerEligibleAfterTheHaltReturnsToTheSource) {
  Move(kN2);
  Step();
  Report(kP1, ReportKind::kHalted);
  live_.up = live_.reachable = {kN1, kN3};  // ivmcl02 went away meanwhile.

  const Decision decision = Step();

  ASSERT_EQ(OpsOf<AssignOp>(decision).size(), 1u);
  EXPECT_EQ(OpsOf<AssignOp>(decision)[0].node, kN1);
  EXPECT_EQ(Record(kP1).intent.value_or(Intent{}).step, IntentStep::kReturning);
  EXPECT_EQ(A(kP1).owner, kN1);
}

TEST_F(MoveTest, ASourceLostWhileHaltingIsLeftOnlyAfterItsLeaseCertainlyExpired) {
  Move(kN2);
  Step();
  live_.self = kN3;
  Lose(kN1, live_.now + seconds(2));

  const Decision early = Step();
  live_.now = live_.now + seconds(2);
  const Decision decision = Step();

  EXPECT_TRUE(early.ops.empty()) << DescribeOps(early.ops);
  ASSERT_EQ(OpsOf<AssignOp>(decision).size(), 1u);
  EXPECT_EQ(decision.revokes, std::set<NodeName>{kN1});
  EXPECT_EQ(A(kP1).owner, kN2);
  EXPECT_EQ(Record(kP1).intent.value_or(Intent{}).step, IntentStep::kStarting);
}

TEST_F(MoveTest, ANewCoordinatorResumesAnIntentFromItsCommittedStep) {
  Move(kN2);
  Step();
  Report(kP1, ReportKind::kHalted);
  const Decision old_leader = Decide();

  live_.self = kN3;
  live_.leader_since = live_.now + seconds(3);
  live_.now = live_.leader_since;
  const Decision new_leader = Decide();

  EXPECT_EQ(new_leader.ops, old_leader.ops);
  ASSERT_EQ(OpsOf<IntentStepOp>(new_leader).size(), 1u);
  EXPECT_EQ(OpsOf<IntentStepOp>(new_leader)[0].step, IntentStep::kStarting);
}

TEST_F(MoveTest, AMoveWhoseBothEndsFailIsLeftToTheFailoverPolicy) {
  const LogIndex move = Move(kN2);
  Step();
  Report(kP1, ReportKind::kHalted);
  Step();
  Report(kP1, ReportKind::kFailed, FailureKind::kExit2);
  Step();

  Report(kP1, ReportKind::kFailed, FailureKind::kExit2);  // Apply ends the intent.
  const Decision decision = Step();

  EXPECT_FALSE(Record(kP1).intent.has_value());
  ASSERT_TRUE(state_.OutcomeOf(kP1, move).has_value());
  EXPECT_FALSE(state_.OutcomeOf(kP1, move)->ok);
  ASSERT_EQ(OpsOf<AssignOp>(decision).size(), 1u);  // Relocated, remembering ivmcl01.
  EXPECT_EQ(OpsOf<AssignOp>(decision)[0].remember, kN1);
}

TEST_F(MoveTest, AReturnToALostSourceEndsTheMoveFailedAfterCertainExpiry) {
  const LogIndex move = Move(kN2);
  Step();
  Report(kP1, ReportKind::kHalted);
  Step();
  Report(kP1, ReportKind::kFailed, FailureKind::kExit2);
  Step();
  live_.self = kN3;
  Lose(kN1, live_.now);

  const Decision decision = Step();

  ASSERT_EQ(OpsOf<IntentDoneOp>(decision).size(), 1u);
  EXPECT_FALSE(Record(kP1).intent.has_value());
  ASSERT_TRUE(state_.OutcomeOf(kP1, move).has_value());
  EXPECT_FALSE(state_.OutcomeOf(kP1, move)->ok);
}

// --- Config apply (issue 9) ----------------------------------------------------------

// hpvm1 up on ivmcl01 (its first node); a proposal of version 2 pending since now.
class ConfigApplyTest : public CoordinatorTest {
 protected:
  void SetUp() override {
    Configure({PackageBuilder("hpvm1").Build()});
    StartAll();
    live_.config_pending_since = live_.now;
  }
  LogIndex Propose(std::map<PackageName, std::vector<NodeName>> packages,
                   uint64_t version = 2) {
    return Commit({ConfigProposeOp{.version = version,
                                   .bundle_hash = "h" + std::to_string(version),
                                   .bundle = "bundle",
                                   .packages = std::move(packages),
                                   .by = "uid 1000"}});
  }
  LogIndex ProposeEverywhere() { return Propose({{kP1, {kN1, kN2, kN3}}}); }
  void Verdict(const NodeName& node, bool ok = true, std::string reason = {}) {
    Commit({ConfigVerdictOp{.version = 2,
                            .bundle_hash = "h2",
                            .proposal = state_.pending_config()->proposed_at,
                            .node = node,
                            .ok = ok,
                            .reason = std::move(reason)}});
  }
  std::string Outcome() const {
    return state_.config_outcome() ? state_.config_outcome()->message : "<none>";
  }
};

TEST_F(ConfigApplyTest, EveryUpMemberValidatingAppliesTheProposalAlone) {
  ProposeEverywhere();
  Verdict(kN1);
  Verdict(kN2);
  Verdict(kN3);

  const Decision decision = Step();

  ASSERT_EQ(decision.ops.size(), 1u) << DescribeOps(decision.ops);
  EXPECT_EQ(OpsOf<ConfigApplyOp>(decision).at(0),
            (ConfigApplyOp{.version = 2, .bundle_hash = "h2", .by = "uid 1000"}));
  EXPECT_EQ(state_.config_version(), 2u);
  EXPECT_TRUE(state_.config_outcome()->ok);
}

TEST_F(ConfigApplyTest, UntilEveryUpMemberAnswersNothingIsProposedAndItWakesAtTheTimeout) {
  ProposeEverywhere();
  Verdict(kN1);
  Verdict(kN2);

  const Decision decision = Decide();

  EXPECT_TRUE(decision.ops.empty()) << DescribeOps(decision.ops);
  EXPECT_EQ(decision.wakeup, live_.now + seconds(10));
}

TEST_F(ConfigApplyTest, ARefusalAbortsAtOnceWithTheNodeAndItsReason) {
  const LogIndex proposed = ProposeEverywhere();
  Verdict(kN2, false, "driver libvirt not found in /usr/lib/cmcl/drivers");

  const Decision decision = Step();

  ASSERT_EQ(OpsOf<ConfigAbortOp>(decision).size(), 1u) << DescribeOps(decision.ops);
  EXPECT_FALSE(state_.pending_config().has_value());
  EXPECT_EQ(state_.config_version(), 1u);
  EXPECT_EQ(state_.ConfigOutcomeOf(proposed)->message,
            "ivmcl02: driver libvirt not found in /usr/lib/cmcl/drivers");
}

TEST_F(ConfigApplyTest, APackageTheNewVersionWouldStrandAbortsNamingItsNodeEvenIfAllSaidOk) {
  Propose({{kP1, {kN2, kN3}}});  // hpvm1 is up on ivmcl01.
  Verdict(kN1);
  Verdict(kN2);
  Verdict(kN3);

  const Decision decision = Step();

  ASSERT_EQ(OpsOf<ConfigAbortOp>(decision).size(), 1u) << DescribeOps(decision.ops);
  EXPECT_EQ(Outcome(),
            "hpvm1 is up on ivmcl01, not among its nodes in configuration version 2: halt it "
            "first");
}

TEST_F(ConfigApplyTest, ARunningPackageAbsentFromTheNewVersionAbortsBeforeAnyVerdict) {
  Propose({});

  const Decision decision = Step();

  ASSERT_EQ(OpsOf<ConfigAbortOp>(decision).size(), 1u) << DescribeOps(decision.ops);
  EXPECT_EQ(Outcome(),
            "hpvm1 is up on ivmcl01 and not in configuration version 2: halt it first");
}

TEST_F(ConfigApplyTest, AHaltedPackageAbsentFromTheNewVersionIsNoObstacleAndLosesItsRecords) {
  Commit({HaltOp{.package = kP1, .by = "root"}});
  Report(kP1, ReportKind::kHalted);
  Propose({});
  Verdict(kN1);
  Verdict(kN2);
  Verdict(kN3);

  const Decision decision = Step();

  ASSERT_EQ(OpsOf<ConfigApplyOp>(decision).size(), 1u) << DescribeOps(decision.ops);
  EXPECT_EQ(state_.Find(kP1), nullptr);
  EXPECT_EQ(state_.FindPackage(kP1), nullptr);
}

TEST_F(ConfigApplyTest, ADownOrHaltedMemberIsNotWaitedFor) {
  ProposeEverywhere();
  Commit({NodeAdminOp{.node = kN2, .halted = true, .by = "root"}});
  live_.up.erase(kN3);
  Verdict(kN1);

  const Decision decision = Step();

  EXPECT_EQ(OpsOf<ConfigApplyOp>(decision).size(), 1u) << DescribeOps(decision.ops);
  EXPECT_EQ(state_.config_version(), 2u);
}

TEST_F(ConfigApplyTest, AMemberSilentPastTheVerdictTimeoutAbortsNamingIt) {
  ProposeEverywhere();
  Verdict(kN1);
  Verdict(kN2);
  live_.now = live_.now + seconds(10) - std::chrono::milliseconds(1);
  const Decision early = Decide();
  live_.now = live_.now + std::chrono::milliseconds(1);

  const Decision late = Step();

  EXPECT_TRUE(early.ops.empty()) << DescribeOps(early.ops);
  ASSERT_EQ(OpsOf<ConfigAbortOp>(late).size(), 1u) << DescribeOps(late.ops);
  EXPECT_EQ(Outcome(), "ivmcl03 did not validate within 10s");
}

TEST_F(ConfigApplyTest, TheVerdictTimeoutIsFiveNodeTimeoutsWhenThatIsLonger) {
  config::ClusterConfig config = config_;
  config.node_timeout = seconds(4);
  Configure(std::move(config));
  ProposeEverywhere();

  const Decision decision = Decide();

  EXPECT_EQ(decision.wakeup, live_.now + seconds(20));
}

TEST_F(ConfigApplyTest, WithNoUpMemberItNeverAppliesAndTimesOut) {
  ProposeEverywhere();
  live_.up.clear();
  const Decision waiting = Decide();
  live_.now = live_.now + seconds(10);

  Step();

  EXPECT_TRUE(OpsOf<ConfigApplyOp>(waiting).empty());
  EXPECT_EQ(Outcome(), "no member validated it within 10s");
}

TEST_F(ConfigApplyTest, EachDecisionIsProposedOnce) {
  ProposeEverywhere();
  Verdict(kN1);
  Verdict(kN2);
  Verdict(kN3);
  Step();  // Applied.

  const Decision after_apply = Decide();
  Propose({{kP1, {kN1}}}, 3);
  live_.now = live_.now + seconds(60);
  Step();  // Aborted: nobody validated version 3.
  const Decision after_abort = Decide();

  EXPECT_TRUE(after_apply.ops.empty()) << DescribeOps(after_apply.ops);
  EXPECT_TRUE(after_abort.ops.empty()) << DescribeOps(after_abort.ops);
  EXPECT_FALSE(state_.config_outcome()->ok);
}

// --- Determinism ---------------------------------------------------------------------

TEST_F(CoordinatorTest, DecisionsFollowConfigurationOrderAndRepeatExactly) {
  Configure({PackageBuilder("zeta").Build(), PackageBuilder("alpha").Build()});
  Commit({ClusterRunOp{.by = "root"}});

  const Decision first = Decide();
  const Decision second = Decide();

  ASSERT_EQ(OpsOf<AssignOp>(first).size(), 2u);
  EXPECT_EQ(OpsOf<AssignOp>(first)[0].resource, PackageName("zeta"));
  EXPECT_EQ(first.ops, second.ops);
}

}  // namespace
}  // namespace cmcl::node
