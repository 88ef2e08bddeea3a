// Explain (explain.h): each case drives a real ClusterState through committed ops (and
// the coordinator's own decisions where the case is about them), validates the package
// against its candidates with the real validation code, and checks the findings and the
// command Explain suggests.
#include "cmcld/core/node/explain.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "cmcld/core/validation/cluster_view.h"
#include "tests/support/config_builder.h"

namespace cmcl::node {
namespace {

using std::chrono::minutes;
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
constexpr char kWwidA[] = "0x600508b4000156d700012000000b0000";
constexpr char kWwidB[] = "0x600508b4000156d700012000000b0001";

class ExplainTest : public ::testing::Test {
 protected:
  // Three members (8 vCPUs, 64 GiB each) unless `inventories` says otherwise.
  void Configure(const std::vector<config::PackageSpec>& packages,
                 std::vector<inventory::NodeInventory> inventories = {}) {
    while (inventories.size() < 3) {
      inventories.push_back(InventoryBuilder().Capacity(8, Gib(64)).Build());
    }
    ClusterBuilder builder;
    builder.Node("ivmcl01", inventories[0])
        .Node("ivmcl02", inventories[1])
        .Node("ivmcl03", inventories[2]);
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
  // What the coordinator decides now, committed.
  void Step() {
    const Decision decision = Decide(config_, *index_, state_, live_);
    if (!decision.ops.empty()) Commit(decision.ops);
  }
  void Report(ReportKind kind, FailureKind failure = FailureKind::kNone, std::string detail = "") {
    const Assignment* a = state_.Find(kP1);
    ASSERT_NE(a, nullptr);
    Commit({ReportOp{.resource = kP1,
                     .node = *a->owner,
                     .epoch = a->epoch,
                     .kind = kind,
                     .failure = failure,
                     .detail = std::move(detail)}});
  }
  // cluster run, placement, and the owner's started report.
  void StartIt() {
    Commit({ClusterRunOp{.by = "root"}});
    Step();
    Report(ReportKind::kStarted);
  }
  Explanation Run(bool quorum = true) {
    const validation::ClusterFacts facts = FactsOf(state_, live_);
    const validation::ClusterView view(*index_, facts);
    Result<validation::CheckReport> report = validation::Check(view, kP1, std::nullopt);
    candidates_ = report.ok() ? std::optional(*report) : std::nullopt;
    const ExplainInputs in{.config = config_,
                           .state = state_,
                           .liveness = live_,
                           .authoritative = true,
                           .quorum = quorum,
                           .candidates = candidates_,
                           .disarm_left = disarm_left_};
    Result<Explanation> explanation = Explain(in, kP1);
    CMCL_CHECK(explanation.ok()) << explanation.status().message();
    return *explanation;
  }
  static std::vector<std::string> Codes(const Explanation& e) {
    std::vector<std::string> codes;
    for (const Finding& f : e.findings) codes.push_back(f.code);
    return codes;
  }
  static const Finding* Find(const Explanation& e, const std::string& code) {
    for (const Finding& f : e.findings) {
      if (f.code == code) return &f;
    }
    return nullptr;
  }

  validation::ReportedInventories reported_;
  config::ClusterConfig config_;
  std::unique_ptr<validation::ConfigIndex> index_;
  ClusterState state_{ClusterState::Options{}};
  std::optional<validation::CheckReport> candidates_;
  std::optional<Duration> disarm_left_;
  Liveness live_{.self = kN1,
                 .now = Time::FromMilliseconds(100'000),
                 .up = {kN1, kN2, kN3},
                 .reachable = {kN1, kN2, kN3},
                 .certain_expiry = {},
                 .leader_since = Time::FromMilliseconds(100'000),
                 .watchdog_fence = false};
};

TEST_F(ExplainTest, AnUpPackageSaysWhereItRunsAndSuggestsNothing) {
  Configure({PackageBuilder("hpvm1").Nodes({"ivmcl01", "ivmcl02"}).Build()});
  StartIt();

  const Explanation e = Run();

  EXPECT_EQ(e.status, PackageStatus::kUp);
  EXPECT_EQ(e.node, kN1);
  EXPECT_THAT(e.findings.front().message, HasSubstr("hpvm1 is up on ivmcl01 (epoch"));
  EXPECT_EQ(e.command, "");
  const Finding* other = Find(e, "validation_ok");
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(other->message, "ivmcl02: may run it");
}

TEST_F(ExplainTest, APackageHaltedByTheOperatorSuggestsRun) {
  Configure({PackageBuilder("hpvm1").Build()});
  StartIt();
  Commit({HaltOp{.package = kP1, .by = "root@ivmcl01"}});
  Report(ReportKind::kHalted);

  const Explanation e = Run();

  EXPECT_EQ(e.status, PackageStatus::kDown);
  EXPECT_FALSE(e.node.has_value());
  EXPECT_EQ(e.findings.front().message, "hpvm1 is down (it last ran on ivmcl01)");
  ASSERT_NE(Find(e, "halted_by_operator"), nullptr);
  EXPECT_EQ(Find(e, "switching_off"), nullptr) << "run turns switching on too";
  EXPECT_EQ(e.command, "pkgctl run hpvm1");
}

TEST_F(ExplainTest, GlobalSwitchingOffOnAWantedPackageSuggestsEnable) {
  Configure({PackageBuilder("hpvm1").Build()});
  StartIt();

  Commit({EnableOp{.package = kP1, .node = std::nullopt, .enable = false, .by = "root"}});
  const Explanation e = Run();

  const Finding* off = Find(e, "switching_off");
  ASSERT_NE(off, nullptr);
  EXPECT_EQ(off->message, "global switching is off: it is not failed over if its node fails");
  EXPECT_EQ(e.command, "pkgctl enable hpvm1");
}

TEST_F(ExplainTest, NodeSwitchingOffNamesTheNodeAndItsEnableCommand) {
  Configure({PackageBuilder("hpvm1").Nodes({"ivmcl01", "ivmcl02", "ivmcl03"}).Build()});
  StartIt();

  Commit({EnableOp{.package = kP1, .node = kN3, .enable = false, .by = "root"}});
  const Explanation e = Run();

  const Finding* off = Find(e, "node_switching_off");
  ASSERT_NE(off, nullptr);
  EXPECT_EQ(off->message, "node switching is off on ivmcl03: it is not placed there");
  EXPECT_EQ(off->command, "pkgctl enable hpvm1 -n ivmcl03");
}

TEST_F(ExplainTest, FailedNodeMemoryIsClearedByEnableOnThatNode) {
  Configure({PackageBuilder("hpvm1").Nodes({"ivmcl01", "ivmcl02"}).Build()});
  StartIt();
  Report(ReportKind::kFailed, FailureKind::kExit2, "run script exit 2");
  Step();  // Relocates to ivmcl02, remembering ivmcl01.

  const Explanation e = Run();

  const Finding* memory = Find(e, "failed_node");
  ASSERT_NE(memory, nullptr);
  EXPECT_THAT(memory->message, HasSubstr("it failed on ivmcl01 before (failed-node memory)"));
  EXPECT_EQ(memory->command, "pkgctl enable hpvm1 -n ivmcl01");
}

TEST_F(ExplainTest, ValidationRefusalsNameEveryNodeWithItsViolationCodes) {
  Configure({PackageBuilder("hpvm1")
                 .Nodes({"ivmcl01", "ivmcl02", "ivmcl03"})
                 .Disk("/dev/rdisk/disk10")
                 .Build()},
            {InventoryBuilder().Capacity(8, Gib(64)).Disk("/dev/rdisk/disk10", kWwidA).Build(),
             InventoryBuilder().Capacity(8, Gib(64)).Disk("/dev/rdisk/disk10", kWwidB).Build(),
             InventoryBuilder().Capacity(8, Gib(64)).Build()});
  StartIt();

  const Explanation e = Run();

  std::vector<std::string> refusals;
  for (const Finding& f : e.findings) {
    if (f.code == "validation_refused") refusals.push_back(f.message + " | " + f.command);
  }
  ASSERT_EQ(refusals.size(), 2u);
  EXPECT_THAT(refusals[0], HasSubstr("ivmcl02 refused: wwid_mismatch"));
  EXPECT_THAT(refusals[0], HasSubstr("| pkgctl check hpvm1 -n ivmcl02"));
  EXPECT_THAT(refusals[1], HasSubstr("ivmcl03 refused: device_missing"));
}

TEST_F(ExplainTest, ADownPackageNoNodeHasTheCapacityForSaysSo) {
  Configure({PackageBuilder("hpvm1").Nodes({"ivmcl02", "ivmcl03"}).Vcpus(16).Build()});
  Commit({ClusterRunOp{.by = "root"}});
  Step();  // Placement finds no node: the coordinator's note.

  const Explanation e = Run();

  EXPECT_EQ(e.status, PackageStatus::kDown);
  ASSERT_NE(Find(e, "no_capacity"), nullptr);
  EXPECT_EQ(Find(e, "no_capacity")->message,
            "no candidate node has the capacity for it (16 vCPUs, 1GiB)");
  EXPECT_THAT(Codes(e), ::testing::Contains("note"));
  EXPECT_THAT(Find(e, "validation_refused")->message, HasSubstr("insufficient_capacity"));
}

TEST_F(ExplainTest, HaltFailedOnALostOwnerSuggestsClearWithOwnerIsDown) {
  Configure({PackageBuilder("hpvm1").Nodes({"ivmcl02", "ivmcl01"}).Build()});
  StartIt();
  Commit({HaltOp{.package = kP1, .by = "root"}});
  Report(ReportKind::kHaltFailed, FailureKind::kHaltScript, "halt script exit 1");
  live_.up.erase(kN2);
  live_.reachable.erase(kN2);

  const Explanation e = Run();

  EXPECT_EQ(e.status, PackageStatus::kHaltFailed);
  EXPECT_EQ(e.node, kN2);
  ASSERT_NE(Find(e, "halt_failed"), nullptr);
  EXPECT_EQ(e.command, "pkgctl clear hpvm1 --owner-is-down ivmcl02");
}

TEST_F(ExplainTest, HaltFailedOnAReachableOwnerSuggestsAPlainClear) {
  Configure({PackageBuilder("hpvm1").Nodes({"ivmcl02", "ivmcl01"}).Build()});
  StartIt();
  Commit({HaltOp{.package = kP1, .by = "root"}});
  Report(ReportKind::kHaltFailed, FailureKind::kHaltScript, "halt script exit 1");

  const Explanation e = Run();

  EXPECT_EQ(e.command, "pkgctl clear hpvm1");
}

TEST_F(ExplainTest, APackageWaitingForClusterStartSuggestsClusterRun) {
  Configure({PackageBuilder("hpvm1").Build()});
  live_.up = live_.reachable = {kN1, kN2};
  Step();  // Waits for ivmcl03 or cluster_start_wait.

  const Explanation e = Run();

  ASSERT_NE(Find(e, "cluster_start_wait"), nullptr);
  EXPECT_EQ(e.command, "pkgctl cluster run");
}

TEST_F(ExplainTest, AHaltedClusterSuggestsClusterRun) {
  Configure({PackageBuilder("hpvm1").Build()});
  StartIt();
  Commit({ClusterHaltOp{.force = true, .by = "root"}});
  Report(ReportKind::kHalted);

  const Explanation e = Run();

  ASSERT_NE(Find(e, "cluster_halted"), nullptr);
  EXPECT_EQ(e.command, "pkgctl cluster run");
}

TEST_F(ExplainTest, WithoutQuorumItAnswersFromLocalStateAndSaysItMayBeStale) {
  Configure({PackageBuilder("hpvm1").Build()});
  StartIt();

  const Explanation e = Run(/*quorum=*/false);

  EXPECT_EQ(e.status, PackageStatus::kUp);
  ASSERT_GE(e.findings.size(), 2u);
  EXPECT_EQ(e.findings[1].code, "no_quorum");
  EXPECT_THAT(e.findings[1].message, HasSubstr("ivmcl01 has no quorum"));
  EXPECT_THAT(e.findings[1].message, HasSubstr("may be stale"));
}

TEST_F(ExplainTest, AMoveInProgressIsShownWithItsStep) {
  Configure({PackageBuilder("hpvm1").Nodes({"ivmcl01", "ivmcl02"}).Build()});
  StartIt();
  Commit({MoveOp{.package = kP1, .target = kN2, .kind = IntentKind::kMove, .by = "root"}});
  Step();  // Validated: halting on ivmcl01.

  const Explanation e = Run();

  const Finding* intent = Find(e, "intent");
  ASSERT_NE(intent, nullptr);
  EXPECT_THAT(intent->message, HasSubstr("move from ivmcl01 to ivmcl02 (halting"));
  EXPECT_EQ(e.command, "pkgctl view hpvm1");
}

TEST_F(ExplainTest, ExhaustedRelocationsSuggestRunWhichResetsThem) {
  config::PackageSpec package =
      PackageBuilder("hpvm1").Nodes({"ivmcl01", "ivmcl02", "ivmcl03"}).Build();
  package.max_relocations = 1;
  Configure({package});
  StartIt();
  Report(ReportKind::kFailed, FailureKind::kExit2, "run script exit 2");
  Step();  // To ivmcl02 (relocation 1).
  Report(ReportKind::kFailed, FailureKind::kExit2, "run script exit 2");
  Step();  // Not relocated again: max_relocations 1.

  const Explanation e = Run();

  EXPECT_EQ(e.status, PackageStatus::kFailed);
  EXPECT_THAT(e.findings.front().message, HasSubstr("hpvm1 failed on ivmcl02"));
  const Finding* exhausted = Find(e, "relocations_exhausted");
  ASSERT_NE(exhausted, nullptr) << ::testing::PrintToString(Codes(e));
  EXPECT_EQ(exhausted->command, "pkgctl run hpvm1");
  EXPECT_EQ(e.command, "pkgctl run hpvm1") << "before the failed-node memory's enable -n";
  EXPECT_NE(Find(e, "failed_node"), nullptr);
}

TEST_F(ExplainTest, UsedUpRestartsAreShownWithTheirLimit) {
  config::PackageSpec package = PackageBuilder("hpvm1").Build();
  package.max_restarts = 1;
  package.max_relocations = 0;
  Configure({package});
  StartIt();
  Report(ReportKind::kFailed, FailureKind::kExit2, "run script exit 2");
  Step();  // Restart 1 of 1 on ivmcl01.
  Report(ReportKind::kFailed, FailureKind::kExit2, "run script exit 2");
  Step();  // Neither restarted nor relocated again.

  const Explanation e = Run();

  const Finding* restarts = Find(e, "restarts_exhausted");
  ASSERT_NE(restarts, nullptr) << ::testing::PrintToString(Codes(e));
  EXPECT_EQ(restarts->message, "restarted 1 times on its node (max_restarts 1)");
  EXPECT_NE(Find(e, "relocations_exhausted"), nullptr);
  EXPECT_EQ(e.command, "pkgctl run hpvm1");
}

TEST_F(ExplainTest, ARunScriptExit1SaysNothingRestartsItUntilRun) {
  Configure({PackageBuilder("hpvm1").Build()});
  StartIt();

  Report(ReportKind::kFailed, FailureKind::kExit1, "run script exit 1");
  const Explanation e = Run();

  ASSERT_NE(Find(e, "run_failed"), nullptr);
  EXPECT_EQ(Find(e, "halted_by_operator"), nullptr);
  EXPECT_EQ(e.command, "pkgctl run hpvm1");
}

TEST_F(ExplainTest, ALostOwnerSaysWhenItsPackageFailsOver) {
  Configure({PackageBuilder("hpvm1").Nodes({"ivmcl02", "ivmcl01"}).Build()});
  StartIt();
  live_.up.erase(kN2);
  live_.reachable.erase(kN2);
  live_.certain_expiry[kN2] = live_.now + seconds(3);

  const Explanation e = Run();

  const Finding* lost = Find(e, "owner_lost");
  ASSERT_NE(lost, nullptr);
  EXPECT_EQ(lost->message,
            "ivmcl02 is not heard from: the package fails over once its lease has certainly "
            "expired (in 3s)");
}

TEST_F(ExplainTest, ADisarmedClusterSaysHowLongAndSuggestsArm) {
  Configure({PackageBuilder("hpvm1").Build()});
  StartIt();
  Commit({ClusterModeOp{.disarm_for = minutes(60), .by = "root"}});
  disarm_left_ = minutes(37);

  const Explanation e = Run();

  const Finding* disarmed = Find(e, "disarmed");
  ASSERT_NE(disarmed, nullptr);
  EXPECT_THAT(disarmed->message, HasSubstr("disarmed (for 1h, 37m left)"));
  EXPECT_EQ(e.command, "pkgctl cluster arm");
}

TEST_F(ExplainTest, TheLastOperatorCommandAndTransitionReasonAreShown) {
  Configure({PackageBuilder("hpvm1").Build()});
  StartIt();
  Commit({HaltOp{.package = kP1, .by = "root"}});
  Report(ReportKind::kHalted);

  const Explanation e = Run();

  const Finding* last = Find(e, "last_command");
  ASSERT_NE(last, nullptr);
  EXPECT_THAT(last->message, HasSubstr("last command: halt (index"));
  EXPECT_NE(Find(e, "last_reason"), nullptr);
  EXPECT_EQ(e.findings.back().code, "last_command");
}

TEST_F(ExplainTest, PackageAndNodeMaintenanceAreNamedWithTheCommandThatEndsThem) {
  Configure({PackageBuilder("hpvm1").Nodes({"ivmcl01", "ivmcl02"}).Build()});
  StartIt();
  Commit({MaintenanceOp{.package = kP1, .on = true, .by = "root"}});
  Commit({MaintenanceOp{.node = kN2, .on = true, .by = "root"}});

  const Explanation e = Run();

  const Finding* package = Find(e, "package_maintenance");
  ASSERT_NE(package, nullptr);
  EXPECT_EQ(package->command, "pkgctl package maintenance hpvm1 off");
  const Finding* node = Find(e, "node_maintenance");
  ASSERT_NE(node, nullptr);
  EXPECT_EQ(node->message, "ivmcl02 is in maintenance: it takes no package");
  EXPECT_EQ(node->command, "pkgctl node maintenance ivmcl02 off");
}

TEST_F(ExplainTest, ADependencyThatIsDownIsNamedAndRunningItIsSuggested) {
  config::PackageSpec app = PackageBuilder("hpvm1").Build();
  app.depends_on.push_back(config::Dependency{.package = PackageName("db"),
                                              .location = config::DependencyLocation::kSameNode});
  config::PackageSpec db = PackageBuilder("db").Build();
  db.auto_run = false;
  Configure({db, app});
  Commit({ClusterRunOp{.by = "root"}});
  Step();

  const Explanation e = Run();

  EXPECT_EQ(e.status, PackageStatus::kDown);
  const Finding* down = Find(e, "dependency_down");
  ASSERT_NE(down, nullptr);
  EXPECT_EQ(down->message, "hpvm1 depends on db, which is down: it starts once db is up");
  EXPECT_EQ(e.command, "pkgctl run db");
}

TEST_F(ExplainTest, AnUnknownPackageIsNotFoundWithDidYouMean) {
  Configure({PackageBuilder("hpvm1").Build()});
  const std::optional<validation::CheckReport> none;
  const ExplainInputs in{.config = config_,
                         .state = state_,
                         .liveness = live_,
                         .authoritative = true,
                         .quorum = true,
                         .candidates = none,
                         .disarm_left = std::nullopt};

  const Result<Explanation> e = Explain(in, PackageName("hpvm2"));

  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().message(), "unknown package \"hpvm2\"; did you mean \"hpvm1\"?");
}

}  // namespace
}  // namespace cmcl::node
