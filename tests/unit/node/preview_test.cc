// Preview (preview.h, `pkgctl ... -t`) as a specification: for each command that takes
// -t it lists what would happen, in order, from the real apply and decision code; the
// state it was given is unchanged; a command apply or validation refuses previews as
// refused; and the plan is what really happens when the command is then committed and
// the coordinator runs — in particular, leaving maintenance and arming move exactly what
// their preview listed, and nothing else.
#include "cmcld/core/node/preview.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cmcld/core/node/coordinator.h"
#include "tests/support/config_builder.h"

namespace cmcl::node {
namespace {

using std::chrono::minutes;
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

// The starts and halts of a plan, one word each: "halt hpvm1 ivmcl01".
std::vector<std::string> Moves(const PreviewPlan& plan) {
  std::vector<std::string> moves;
  for (const PreviewStep& step : plan.steps) {
    if (step.action != PreviewAction::kStart && step.action != PreviewAction::kHalt) continue;
    moves.push_back(std::string(PreviewActionName(step.action)) + " " + step.package->value() +
                    " " + step.node->value());
  }
  return moves;
}

std::string Texts(const PreviewPlan& plan) {
  std::string texts;
  for (const PreviewStep& step : plan.steps) texts += step.text + "\n";
  return texts;
}

// Three members (8 vCPUs each), ivmcl01 the leader with every member up; a ClusterState
// fed by committed entries, as in maintenance_test.cc. A lost node's lease certainly
// expires ClusterState::WaitFor after it was last heard (what raft's CertainExpiry says
// without drift), so an arm or a disarm changes it as it does in the daemon.
class PreviewTest : public ::testing::Test {
 protected:
  void Configure(const std::vector<config::PackageSpec>& packages, uint32_t n3_vcpus = 8) {
    ClusterBuilder builder;
    for (const NodeName& node : {kN1, kN2}) {
      builder.Node(node.value(), InventoryBuilder().Capacity(8, Gib(64)).Build());
    }
    builder.Node(kN3.value(), InventoryBuilder().Capacity(n3_vcpus, Gib(64)).Build());
    for (const config::PackageSpec& package : packages) builder.Package(package);
    config_ = builder.Build();
    index_ = std::make_unique<validation::ConfigIndex>(config_, reported_);
  }
  static LogIndex CommitTo(ClusterState& state, const OpBatch& ops) {
    const LogIndex index(state.applied().value() + 1);
    state.Apply(raft::ApplyEntry{.entry = raft::Entry{.term = raft::Term(1),
                                                      .index = index,
                                                      .kind = raft::EntryKind::kCommand,
                                                      .command = {.client_id = raft::ClientId(1),
                                                                  .sequence = index.value(),
                                                                  .payload = EncodeOps(ops),
                                                                  .revokes = {}}},
                                 .duplicate = false});
    return index;
  }
  LogIndex Commit(const OpBatch& ops) { return CommitTo(state_, ops); }
  Liveness LivenessOf(const ClusterState& state) const {
    Liveness live = live_;
    for (const auto& [node, heard] : lost_) {
      live.certain_expiry[node] = heard + state.WaitFor(node);
    }
    return live;
  }
  // The agents answer every start and halt at once, successfully (up owners only).
  static OpBatch Answers(const ClusterState& state, const Liveness& live) {
    OpBatch reports;
    for (const auto& [package, a] : state.assignments()) {
      if (!a.owner || live.up.count(*a.owner) == 0) continue;
      const bool placed =
          a.status == AssignmentStatus::kAssigned || a.status == AssignmentStatus::kStarted;
      if (a.release_requested && placed) {
        reports.push_back(ReportOp{
            .resource = package, .node = *a.owner, .epoch = a.epoch, .kind = ReportKind::kHalted});
      } else if (a.status == AssignmentStatus::kAssigned) {
        reports.push_back(ReportOp{
            .resource = package, .node = *a.owner, .epoch = a.epoch, .kind = ReportKind::kStarted});
      }
    }
    return reports;
  }
  // Drives `state` as the cluster would (decide, commit, answer) until it is quiet at
  // `live`, recording each start and halt as Moves() words them.
  std::vector<std::string> Settle(ClusterState& state, Liveness live) const {
    std::vector<std::string> moves;
    for (int round = 0; round < 100; ++round) {
      const std::map<PackageName, Assignment> before = state.assignments();
      const Decision decision = Decide(config_, *index_, state, live);
      if (!decision.ops.empty()) CommitTo(state, decision.ops);
      for (const auto& [package, a] : state.assignments()) {
        const auto was = before.find(package);
        const bool new_epoch = was == before.end() || was->second.epoch != a.epoch;
        if (new_epoch && a.owner && a.status == AssignmentStatus::kAssigned) {
          moves.push_back("start " + package.value() + " " + a.owner->value());
        } else if (!new_epoch && a.release_requested && !was->second.release_requested) {
          moves.push_back("halt " + package.value() + " " + a.owner->value());
        }
      }
      const OpBatch answers = Answers(state, live);
      if (!answers.empty()) CommitTo(state, answers);
      if (decision.ops.empty() && answers.empty()) break;
    }
    return moves;
  }
  void StartAll() {
    Commit({ClusterRunOp{.by = "root"}});
    Settle(state_, live_);
  }
  PreviewPlan PreviewOf(const OpBatch& command) const {
    return Preview(
        PreviewInputs{.config = config_,
                      .index = *index_,
                      .state = state_,
                      .liveness = [this](const ClusterState& s) { return LivenessOf(s); },
                      .command = command});
  }
  // What really happens: the command committed on a copy, then the cluster settles.
  std::vector<std::string> Really(const OpBatch& command) const {
    ClusterState copy = state_;
    const std::map<PackageName, Assignment> before = copy.assignments();
    CommitTo(copy, command);
    std::vector<std::string> moves;
    for (const auto& [package, a] : copy.assignments()) {  // The command's own halts.
      const auto was = before.find(package);
      if (was != before.end() && a.release_requested && !was->second.release_requested) {
        moves.push_back("halt " + package.value() + " " + a.owner->value());
      }
    }
    Liveness live = LivenessOf(copy);
    const std::vector<std::string> settled = Settle(copy, live);
    moves.insert(moves.end(), settled.begin(), settled.end());
    return moves;
  }
  Assignment A(const PackageName& package) const {
    const Assignment* a = state_.Find(package);
    return a != nullptr ? *a : Assignment{};
  }
  void Lose(const NodeName& node) {
    live_.up.erase(node);
    live_.reachable.erase(node);
    lost_[node] = live_.now;
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
  std::map<NodeName, Time> lost_;  // Lost nodes and when they were last heard.
};

config::PackageSpec Automatic(const std::string& name) {
  config::PackageSpec spec = PackageBuilder(name).Build();
  spec.failback_policy = config::FailbackPolicy::kAutomatic;
  return spec;
}

// --- move ---------------------------------------------------------------------------

TEST_F(PreviewTest, MovePreviewListsTheHaltThenTheStartAndChangesNothing) {
  Configure({PackageBuilder("hpvm1").Build()});
  StartAll();
  ASSERT_EQ(A(kP1).owner, kN1);
  const std::string before = state_.Encode();

  const PreviewPlan plan = PreviewOf({MoveOp{.package = kP1, .target = kN2, .by = "root"}});

  EXPECT_TRUE(plan.accepted) << plan.refused;
  EXPECT_FALSE(plan.bounded);
  EXPECT_EQ(Moves(plan), (std::vector<std::string>{"halt hpvm1 ivmcl01", "start hpvm1 ivmcl02"}))
      << Texts(plan);
  EXPECT_NE(Texts(plan).find("start hpvm1 on ivmcl02 (move, from ivmcl01)"), std::string::npos)
      << Texts(plan);
  EXPECT_EQ(state_.Encode(), before);
  EXPECT_EQ(A(kP1).owner, kN1);
}

TEST_F(PreviewTest, MovePreviewIsWhatReallyHappens) {
  Configure({PackageBuilder("hpvm1").AllNodes().Build(), PackageBuilder("hpvm2").Build()});
  StartAll();
  const OpBatch move = {MoveOp{.package = kP1, .target = kN3, .by = "root"}};

  const PreviewPlan plan = PreviewOf(move);

  EXPECT_EQ(Moves(plan), Really(move)) << Texts(plan);
  EXPECT_EQ(Moves(plan).size(), 2u);
}

TEST_F(PreviewTest, MoveThatValidationRefusesPreviewsAsRefusedAndHaltsNothing) {
  // ivmcl03 has 2 vCPUs: a 4-vCPU guest does not fit.
  Configure({PackageBuilder("hpvm1").AllNodes().Vcpus(4).Build()}, /*n3_vcpus=*/2);
  StartAll();

  const PreviewPlan plan = PreviewOf({MoveOp{.package = kP1, .target = kN3, .by = "root"}});

  EXPECT_FALSE(plan.accepted);
  EXPECT_NE(plan.refused.find("refused"), std::string::npos) << plan.refused;
  EXPECT_TRUE(Moves(plan).empty()) << Texts(plan);
  EXPECT_TRUE(Really({MoveOp{.package = kP1, .target = kN3, .by = "root"}}).empty());
}

TEST_F(PreviewTest, MoveOfADownPackageIsRefusedAtApply) {
  Configure({PackageBuilder("hpvm1").Build()});
  Commit({ClusterRunOp{.by = "root"}});
  Commit({HaltOp{.package = kP1, .by = "root"}});
  Settle(state_, live_);

  const PreviewPlan plan = PreviewOf({MoveOp{.package = kP1, .target = kN2, .by = "root"}});

  EXPECT_FALSE(plan.accepted);
  EXPECT_FALSE(plan.refused.empty());
  EXPECT_TRUE(Moves(plan).empty()) << Texts(plan);
}

// --- run, halt, enable ----------------------------------------------------------------

TEST_F(PreviewTest, HaltPreviewListsTheHaltOnItsOwner) {
  Configure({PackageBuilder("hpvm1").Build()});
  StartAll();
  const OpBatch halt = {HaltOp{.package = kP1, .by = "root"}};

  const PreviewPlan plan = PreviewOf(halt);

  EXPECT_TRUE(plan.accepted) << plan.refused;
  EXPECT_EQ(Moves(plan), std::vector<std::string>{"halt hpvm1 ivmcl01"}) << Texts(plan);
  EXPECT_EQ(Moves(plan), Really(halt));
}

TEST_F(PreviewTest, RunPreviewOfAHaltedPackageStartsItWherePlacementSays) {
  Configure({PackageBuilder("hpvm1").Build()});
  StartAll();
  Commit({HaltOp{.package = kP1, .by = "root"}});
  Settle(state_, live_);
  const OpBatch run = {RunOp{.package = kP1, .node = kN2, .by = "root"}};

  const PreviewPlan plan = PreviewOf(run);

  EXPECT_TRUE(plan.accepted) << plan.refused;
  EXPECT_EQ(Moves(plan), std::vector<std::string>{"start hpvm1 ivmcl02"}) << Texts(plan);
  EXPECT_EQ(Moves(plan), Really(run));
}

TEST_F(PreviewTest, RunOnAnotherNodeOfARunningPackageIsRefusedLikeTheCommand) {
  Configure({PackageBuilder("hpvm1").Build()});
  StartAll();

  const PreviewPlan plan = PreviewOf({RunOp{.package = kP1, .node = kN2, .by = "root"}});

  EXPECT_FALSE(plan.accepted);
  EXPECT_NE(plan.refused.find("move"), std::string::npos) << plan.refused;
}

TEST_F(PreviewTest, RunThatNoNodeCanTakeSaysWhyItStaysDown) {
  Configure({PackageBuilder("hpvm1").Vcpus(16).Build()});
  Commit({ClusterRunOp{.by = "root"}});
  Settle(state_, live_);

  const PreviewPlan plan = PreviewOf({RunOp{.package = kP1, .by = "root"}});

  EXPECT_FALSE(plan.accepted);
  ASSERT_FALSE(plan.steps.empty());
  bool stays_down = false;
  for (const PreviewStep& step : plan.steps) {
    stays_down = stays_down || step.action == PreviewAction::kStaysDown;
  }
  EXPECT_TRUE(stays_down) << Texts(plan);
  EXPECT_NE(plan.refused.find("no node"), std::string::npos) << plan.refused;
}

TEST_F(PreviewTest, EnablePreviewOfAHaltedPackageStartsIt) {
  Configure({PackageBuilder("hpvm1").Build()});
  StartAll();
  Commit({HaltOp{.package = kP1, .by = "root"}});
  Settle(state_, live_);
  const OpBatch enable = {EnableOp{.package = kP1, .by = "root"}};

  const PreviewPlan plan = PreviewOf(enable);

  EXPECT_TRUE(plan.accepted) << plan.refused;
  EXPECT_EQ(Moves(plan), std::vector<std::string>{"start hpvm1 ivmcl01"}) << Texts(plan);
  EXPECT_EQ(Moves(plan), Really(enable));
}

// --- node halt --------------------------------------------------------------------------

TEST_F(PreviewTest, NodeHaltPreviewMigratesEveryPackageOffTheNode) {
  Configure({PackageBuilder("hpvm1").Build(), PackageBuilder("hpvm2").Nodes({"ivmcl01"}).Build()});
  StartAll();
  const OpBatch halt = {NodeAdminOp{.node = kN1, .halted = true, .by = "root"}};

  const PreviewPlan plan = PreviewOf(halt);

  EXPECT_TRUE(plan.accepted) << plan.refused;
  EXPECT_EQ(Moves(plan), Really(halt)) << Texts(plan);
  const std::string texts = Texts(plan);
  EXPECT_NE(texts.find("start hpvm1 on ivmcl02 (node_halt, from ivmcl01)"), std::string::npos)
      << texts;
  EXPECT_NE(texts.find("halt hpvm2 on ivmcl01"), std::string::npos) << texts;
}

// --- maintenance off: nothing moves by surprise ------------------------------------------

TEST_F(PreviewTest, LeavingMaintenanceWithAutomaticFailbackListsTheFailbackAndOnlyThat) {
  Configure({Automatic("hpvm1"), PackageBuilder("hpvm2").Build()});
  StartAll();
  Commit({MaintenanceOp{.node = kN1, .package = std::nullopt, .on = true, .by = "root"}});
  Settle(state_, live_);
  ASSERT_EQ(A(kP1).owner, kN2);
  const OpBatch off = {
      MaintenanceOp{.node = kN1, .package = std::nullopt, .on = false, .by = "root"}};

  const PreviewPlan plan = PreviewOf(off);

  EXPECT_TRUE(plan.accepted) << plan.refused;
  EXPECT_EQ(Moves(plan), (std::vector<std::string>{"halt hpvm1 ivmcl02", "start hpvm1 ivmcl01"}))
      << Texts(plan);
  EXPECT_NE(Texts(plan).find("failback"), std::string::npos) << Texts(plan);
  EXPECT_EQ(Moves(plan), Really(off));
}

TEST_F(PreviewTest, LeavingMaintenanceWithManualFailbackMovesNothingAndSaysSo) {
  Configure({PackageBuilder("hpvm1").Build()});
  StartAll();
  Commit({MaintenanceOp{.node = kN1, .package = std::nullopt, .on = true, .by = "root"}});
  Settle(state_, live_);
  ASSERT_EQ(A(kP1).owner, kN2);
  const OpBatch off = {
      MaintenanceOp{.node = kN1, .package = std::nullopt, .on = false, .by = "root"}};

  const PreviewPlan plan = PreviewOf(off);

  EXPECT_TRUE(plan.accepted) << plan.refused;
  EXPECT_TRUE(Moves(plan).empty()) << Texts(plan);
  EXPECT_TRUE(Really(off).empty());
}

TEST_F(PreviewTest, LeavingPackageMaintenanceListsTheFailoverItHeldBack) {
  Configure({PackageBuilder("hpvm1").Nodes({"ivmcl02", "ivmcl01"}).Build()});
  StartAll();
  ASSERT_EQ(A(kP1).owner, kN2);
  Commit({MaintenanceOp{.node = std::nullopt, .package = kP1, .on = true, .by = "root"}});
  Lose(kN2);
  live_.now = live_.now + minutes(1);  // Long past ivmcl02's lease.
  ASSERT_TRUE(Really({}).empty());     // In maintenance: no failover.
  const OpBatch off = {
      MaintenanceOp{.node = std::nullopt, .package = kP1, .on = false, .by = "root"}};

  const PreviewPlan plan = PreviewOf(off);

  EXPECT_TRUE(plan.accepted) << plan.refused;
  EXPECT_EQ(Moves(plan), std::vector<std::string>{"start hpvm1 ivmcl01"}) << Texts(plan);
  EXPECT_NE(Texts(plan).find("failover, from ivmcl02"), std::string::npos) << Texts(plan);
  EXPECT_EQ(Moves(plan), Really(off));
}

TEST_F(PreviewTest, MalformedMaintenanceIsRefusedByApply) {
  Configure({PackageBuilder("hpvm1").Build()});
  StartAll();

  const PreviewPlan plan =
      PreviewOf({MaintenanceOp{.node = kN1, .package = kP1, .on = false, .by = "root"}});

  EXPECT_FALSE(plan.accepted);
  EXPECT_NE(plan.refused.find("names a node or a package"), std::string::npos) << plan.refused;
  EXPECT_TRUE(plan.steps.empty());
}

// --- arm: what was lost during the disarm ------------------------------------------------

TEST_F(PreviewTest, ArmPreviewListsTheFailoverOfAPackageWhoseOwnerWasLostWhileDisarmed) {
  Configure({PackageBuilder("hpvm1").Nodes({"ivmcl02", "ivmcl01"}).Build(),
             PackageBuilder("hpvm2").Nodes({"ivmcl01"}).Build()});
  StartAll();
  ASSERT_EQ(A(kP1).owner, kN2);
  Commit({ClusterModeOp{.disarm_for = minutes(40), .by = "root"}});
  Lose(kN2);
  live_.now = live_.now + minutes(5);
  const OpBatch arm = {ClusterModeOp{.disarm_for = std::nullopt, .by = "root"}};

  const PreviewPlan plan = PreviewOf(arm);

  EXPECT_TRUE(plan.accepted) << plan.refused;
  EXPECT_EQ(Moves(plan), std::vector<std::string>{"start hpvm1 ivmcl01"}) << Texts(plan);
  ASSERT_EQ(plan.steps.size(), 1u) << Texts(plan);
  // ivmcl02 may hold its 40-minute lease for 35 more minutes: the failover waits for it.
  EXPECT_EQ(plan.steps[0].after, minutes(35));
  EXPECT_EQ(plan.steps[0].from, kN2);
  EXPECT_NE(plan.steps[0].text.find("in 35m"), std::string::npos) << plan.steps[0].text;
  live_.now = live_.now + minutes(35);  // Then the coordinator really does just that.
  EXPECT_EQ(Moves(plan), Really(arm));
}

TEST_F(PreviewTest, ArmPreviewOfAHealthyClusterMovesNothing) {
  Configure({PackageBuilder("hpvm1").Build()});
  StartAll();
  Commit({ClusterModeOp{.disarm_for = minutes(40), .by = "root"}});
  const std::string before = state_.Encode();

  const PreviewPlan plan = PreviewOf({ClusterModeOp{.disarm_for = std::nullopt, .by = "root"}});

  EXPECT_TRUE(plan.accepted) << plan.refused;
  EXPECT_TRUE(plan.steps.empty()) << Texts(plan);
  EXPECT_EQ(state_.Encode(), before);
}

}  // namespace
}  // namespace cmcl::node
