// The node agent's packages (issue 7, DESIGN.md section 5) as a specification: the
// exit-code contract, the run-failure cleanup (halt script, driver kill, driver status,
// in that order) before anything is reported, the halt check and fail-fast kill, a guest
// found dead while up, the answer to `clear`, and the context every script gets (reason,
// source node, overrides). Driven by tests/support/node_cluster.h.
//
// The coordinator is not under test here. Packages named "x…" are not in the
// configuration, so no coordinator places, restarts or halts them: the tests assign
// them with their own ops, and each outcome is the agent's alone. Packages "r…" are
// configured, for what needs the configuration (auto_run, node_fail_fast_enabled); of
// the coordinator they rely only on "a wanted free package gets placed".
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cmcld/core/node/node.h"
#include "tests/support/node_cluster.h"

namespace cmcl::node {
namespace {

using testing::NodeCluster;

// Boots the cluster until it has a leader with leases everywhere; returns the leader.
std::string Boot(NodeCluster& cluster) {
  cluster.StartAll();
  cluster.RunFor(Duration(4000));
  const std::optional<std::string> leader = cluster.Leader();
  EXPECT_TRUE(leader.has_value());
  return leader.value_or("n1");
}

const ClusterState& State(NodeCluster& cluster) { return cluster.node(*cluster.Leader()).state(); }

const Assignment& AssignmentOf(NodeCluster& cluster, const std::string& package) {
  const Assignment* a = State(cluster).Find(PackageName(package));
  static const Assignment kNone;
  EXPECT_NE(a, nullptr) << package;
  return a ? *a : kNone;
}

void Propose(NodeCluster& cluster, const OpBatch& ops, Duration then = Duration(1000)) {
  cluster.ProposeOps(*cluster.Leader(), ops);
  cluster.RunFor(then);
}

// Assigns `package` to `node` from its current epoch, and lets the node act on it.
void Assign(NodeCluster& cluster, const std::string& package, const std::string& node,
            ActionReason why = ActionReason::kStart) {
  const Assignment* a = State(cluster).Find(PackageName(package));
  Propose(cluster, {AssignOp{.resource = PackageName(package),
                             .node = NodeName(node),
                             .from_epoch = a ? a->epoch : LogIndex(0),
                             .reason = "test",
                             .why = why,
                             .remember = std::nullopt}});
}

// The actions `node`'s host received for `package`, as "run(start) halt(run_failed) kill
// status": verbs in order, scripts with their CMCL_REASON.
std::string Actions(NodeCluster& cluster, const std::string& node, const std::string& package) {
  std::string text;
  for (const GuestAction& action : cluster.host(node).actions) {
    if (action.guest.resource.value() != package) {
      continue;
    }
    text += text.empty() ? "" : " ";
    text += GuestVerbName(action.verb);
    if (action.verb == GuestVerb::kRun || action.verb == GuestVerb::kHalt) {
      text += "(" + std::string(ActionReasonName(action.reason)) + ")";
    }
  }
  return text;
}

const GuestAction* LastRun(NodeCluster& cluster, const std::string& node,
                           const std::string& package) {
  const GuestAction* last = nullptr;
  for (const GuestAction& action : cluster.host(node).actions) {
    if (action.guest.resource.value() == package && action.verb == GuestVerb::kRun) {
      last = &action;
    }
  }
  return last;
}

bool HasCriticalLog(NodeCluster& cluster, const std::string& text) {
  for (const LogLine& line : cluster.log) {
    if (line.critical && line.text.find(text) != std::string::npos) {
      return true;
    }
  }
  return false;
}

// --- run: the exit-code contract --------------------------------------------------------

TEST(NodeAgent, ARunScriptExit0ReportsStartedAndThePackageIsUp) {
  NodeCluster cluster(1, {"r1"});

  Boot(cluster);

  EXPECT_EQ(State(cluster).StatusOf(PackageName("r1")), PackageStatus::kUp);
  EXPECT_EQ(cluster.Holders("r1"), std::vector<std::string>{"n1"});
  EXPECT_EQ(Actions(cluster, "n1", "r1"), "run(start)");
  EXPECT_EQ(cluster.guard("n1").registered.at(PackageName("r1")),
            AssignmentOf(cluster, "r1").epoch);
}

TEST(NodeAgent, ARunScriptExit2IsCleanedUpThenReportedFailedWithExit2) {
  NodeCluster cluster(1, {});
  Boot(cluster);
  cluster.host("n1").run_exit[PackageName("x1")] = 2;

  Assign(cluster, "x1", "n1");

  EXPECT_EQ(Actions(cluster, "n1", "x1"), "run(start) halt(run_failed) kill status");
  const Assignment& a = AssignmentOf(cluster, "x1");
  EXPECT_EQ(a.status, AssignmentStatus::kFailed);
  EXPECT_EQ(a.failure, FailureKind::kExit2);
  EXPECT_EQ(a.reason, "n1 reported failed (run script exit 2)");
  EXPECT_TRUE(cluster.Holders("x1").empty()) << "the guest that survived its run script";
  EXPECT_FALSE(cluster.guard("n1").registered.contains(PackageName("x1")));
}

TEST(NodeAgent, ARunScriptTimeoutIsCleanedUpThenReportedFailedWithTimeout) {
  NodeCluster cluster(1, {});
  Boot(cluster);
  cluster.host("n1").run_timeout.insert(PackageName("x1"));

  Assign(cluster, "x1", "n1");

  EXPECT_EQ(Actions(cluster, "n1", "x1"), "run(start) halt(run_failed) kill status");
  EXPECT_EQ(AssignmentOf(cluster, "x1").status, AssignmentStatus::kFailed);
  EXPECT_EQ(AssignmentOf(cluster, "x1").failure, FailureKind::kTimeout);
  EXPECT_EQ(AssignmentOf(cluster, "x1").reason, "n1 reported failed (run script timed out)");
}

TEST(NodeAgent, ARunScriptExit1IsFailedAndTurnsGlobalSwitchingOffSoItIsNeverRetried) {
  NodeCluster cluster(1, {"r1"});
  cluster.host("n1").run_exit[PackageName("r1")] = 1;

  Boot(cluster);
  cluster.RunFor(Duration(4000));

  EXPECT_EQ(Actions(cluster, "n1", "r1"), "run(start) halt(run_failed) kill status");
  EXPECT_EQ(State(cluster).StatusOf(PackageName("r1")), PackageStatus::kFailed);
  EXPECT_EQ(AssignmentOf(cluster, "r1").failure, FailureKind::kExit1);
  const PackageRecord* record = State(cluster).FindPackage(PackageName("r1"));
  ASSERT_NE(record, nullptr);
  EXPECT_EQ(record->wanted, false);
  EXPECT_EQ(record->switching, false);
}

TEST(NodeAgent, AnyOtherRunExitCodeCountsAsExit1) {
  NodeCluster cluster(1, {});
  Boot(cluster);
  cluster.host("n1").run_exit[PackageName("x1")] = 3;

  Assign(cluster, "x1", "n1");

  EXPECT_EQ(AssignmentOf(cluster, "x1").failure, FailureKind::kExit1);
  EXPECT_EQ(AssignmentOf(cluster, "x1").reason, "n1 reported failed (run script exit 3)");
}

TEST(NodeAgent, AGuestThatSurvivesTheRunFailureCleanupIsHaltFailedAndStillRuns) {
  NodeCluster cluster(1, {});
  Boot(cluster);
  testing::FakeHost& host = cluster.host("n1");
  host.run_exit[PackageName("x1")] = 2;
  host.survives_halt.insert(PackageName("x1"));
  host.survives_kill.insert(PackageName("x1"));

  Assign(cluster, "x1", "n1");

  EXPECT_EQ(Actions(cluster, "n1", "x1"), "run(start) halt(run_failed) kill status");
  const Assignment& a = AssignmentOf(cluster, "x1");
  EXPECT_EQ(a.status, AssignmentStatus::kHaltFailed);
  EXPECT_EQ(a.reason,
            "n1 reported halt_failed (run script exit 2; the cleanup could not stop the guest)");
  EXPECT_EQ(cluster.Holders("x1"), std::vector<std::string>{"n1"});
  EXPECT_TRUE(cluster.guard("n1").registered.contains(PackageName("x1")))
      << "still fenced by the guard if the lease ends";
}

TEST(NodeAgent, ARunFailureWhoseCleanupStatusCannotTellIsHaltFailed) {
  NodeCluster cluster(1, {});
  Boot(cluster);
  cluster.host("n1").run_exit[PackageName("x1")] = 2;
  cluster.host("n1").status_unknown.insert(PackageName("x1"));

  Assign(cluster, "x1", "n1");

  EXPECT_EQ(Actions(cluster, "n1", "x1"), "run(start) halt(run_failed) kill status");
  EXPECT_EQ(AssignmentOf(cluster, "x1").status, AssignmentStatus::kHaltFailed)
      << "unknown is not stopped: it may still run";
}

// --- halt -------------------------------------------------------------------------------

TEST(NodeAgent, AHaltRunsTheHaltScriptWithReasonHaltAndReportsHalted) {
  NodeCluster cluster(1, {"r1"});
  Boot(cluster);

  Propose(cluster, {HaltOp{.package = PackageName("r1"), .by = "root"}});

  EXPECT_EQ(Actions(cluster, "n1", "r1"), "run(start) halt(halt)");
  EXPECT_EQ(AssignmentOf(cluster, "r1").status, AssignmentStatus::kHalted);
  EXPECT_TRUE(cluster.Holders("r1").empty());
  EXPECT_FALSE(cluster.guard("n1").registered.contains(PackageName("r1")));
}

TEST(NodeAgent, AFailedHaltScriptWhoseGuestStoppedIsHalted) {
  NodeCluster cluster(1, {"r1"});
  Boot(cluster);
  cluster.host("n1").halt_exit[PackageName("r1")] = 1;

  Propose(cluster, {HaltOp{.package = PackageName("r1"), .by = "root"}});

  EXPECT_EQ(Actions(cluster, "n1", "r1"), "run(start) halt(halt) status");
  EXPECT_EQ(AssignmentOf(cluster, "r1").status, AssignmentStatus::kHalted);
  EXPECT_EQ(AssignmentOf(cluster, "r1").reason,
            "n1 reported halted (halt script exit 1; the guest is stopped)");
}

TEST(NodeAgent, AFailedHaltScriptWhoseGuestStillRunsIsHaltFailed) {
  NodeCluster cluster(1, {"r1"});
  Boot(cluster);
  cluster.host("n1").halt_exit[PackageName("r1")] = 1;
  cluster.host("n1").survives_halt.insert(PackageName("r1"));

  Propose(cluster, {HaltOp{.package = PackageName("r1"), .by = "root"}});

  EXPECT_EQ(Actions(cluster, "n1", "r1"), "run(start) halt(halt) status") << "no kill";
  EXPECT_EQ(AssignmentOf(cluster, "r1").status, AssignmentStatus::kHaltFailed);
  EXPECT_EQ(AssignmentOf(cluster, "r1").failure, FailureKind::kHaltScript);
  EXPECT_EQ(cluster.Holders("r1"), std::vector<std::string>{"n1"});
  const PackageRecord* record = State(cluster).FindPackage(PackageName("r1"));
  ASSERT_TRUE(record->outcome.has_value());
  EXPECT_FALSE(record->outcome->ok);
}

TEST(NodeAgent, AHaltScriptKilledByTheRunnerIsCheckedWithTheDriverLikeAnyFailure) {
  NodeCluster cluster(1, {"r1"});
  Boot(cluster);
  cluster.host("n1").halt_exit[PackageName("r1")] = -1;

  Propose(cluster, {HaltOp{.package = PackageName("r1"), .by = "root"}});

  EXPECT_EQ(Actions(cluster, "n1", "r1"), "run(start) halt(halt) status");
  EXPECT_EQ(AssignmentOf(cluster, "r1").status, AssignmentStatus::kHalted);
}

TEST(NodeAgent, WithNodeFailFastAFailedHaltIsFollowedByAKillThatCanStopTheGuest) {
  NodeCluster cluster(1, {"r1"});
  cluster.package("r1").node_fail_fast_enabled = true;
  cluster.host("n1").halt_exit[PackageName("r1")] = 1;
  cluster.host("n1").survives_halt.insert(PackageName("r1"));
  Boot(cluster);

  Propose(cluster, {HaltOp{.package = PackageName("r1"), .by = "root"}});

  EXPECT_EQ(Actions(cluster, "n1", "r1"), "run(start) halt(halt) status kill status");
  EXPECT_EQ(AssignmentOf(cluster, "r1").status, AssignmentStatus::kHalted);
  EXPECT_TRUE(cluster.Holders("r1").empty());
}

TEST(NodeAgent, WithNodeFailFastAGuestThatSurvivesTheKillIsHaltFailed) {
  NodeCluster cluster(1, {"r1"});
  cluster.package("r1").node_fail_fast_enabled = true;
  cluster.host("n1").halt_exit[PackageName("r1")] = 1;
  cluster.host("n1").survives_halt.insert(PackageName("r1"));
  cluster.host("n1").survives_kill.insert(PackageName("r1"));
  Boot(cluster);

  Propose(cluster, {HaltOp{.package = PackageName("r1"), .by = "root"}});

  EXPECT_EQ(Actions(cluster, "n1", "r1"), "run(start) halt(halt) status kill status")
      << "one kill, not a loop";
  EXPECT_EQ(AssignmentOf(cluster, "r1").status, AssignmentStatus::kHaltFailed);
  EXPECT_EQ(cluster.Holders("r1"), std::vector<std::string>{"n1"});
}

// --- the node resets itself (fence_action reboot; DESIGN.md sections 4 and 5) ------------
//
// NodeActions::reset is asked for only with NodeOptions::watchdog_fence (fence_action
// reboot), once per Node; with fence_action kill the same cases are reported and logged
// critical only. NodeCluster records the resets without resetting anything.

size_t ResetsOf(NodeCluster& cluster, const std::string& node, const std::string& mentioning) {
  size_t count = 0;
  for (const auto& [who, why] : cluster.resets) {
    EXPECT_NE(why.find(mentioning), std::string::npos) << why;
    if (who == node) {
      ++count;
    }
  }
  return count;
}

void NodeFailFastHaltFailsAndTheKillDoesNotStopTheGuest(NodeCluster& cluster, bool reboot) {
  cluster.options().watchdog_fence = reboot;
  cluster.package("r1").node_fail_fast_enabled = true;
  cluster.host("n1").halt_exit[PackageName("r1")] = 1;
  cluster.host("n1").survives_halt.insert(PackageName("r1"));
  cluster.host("n1").survives_kill.insert(PackageName("r1"));
  Boot(cluster);
  ASSERT_TRUE(cluster.resets.empty());
  Propose(cluster, {HaltOp{.package = PackageName("r1"), .by = "root"}});
  ASSERT_EQ(Actions(cluster, "n1", "r1"), "run(start) halt(halt) status kill status");
}

TEST(NodeAgent, WithNodeFailFastAndFenceActionRebootAGuestThatSurvivesTheKillResetsTheNode) {
  NodeCluster cluster(1, {"r1"});
  NodeFailFastHaltFailsAndTheKillDoesNotStopTheGuest(cluster, /*reboot=*/true);

  ASSERT_EQ(ResetsOf(cluster, "n1", "node_fail_fast_enabled"), 1U);
  EXPECT_NE(cluster.resets.at(0).second.find("r1"), std::string::npos);
  EXPECT_EQ(AssignmentOf(cluster, "r1").status, AssignmentStatus::kHaltFailed)
      << "halt_failed is queued before the reset (the fake does not reset)";
  cluster.RunFor(Duration(3000));
  EXPECT_EQ(cluster.resets.size(), 1U) << "asked once";
}

TEST(NodeAgent, WithNodeFailFastAndFenceActionKillAGuestThatSurvivesTheKillIsNoReset) {
  NodeCluster cluster(1, {"r1"});
  NodeFailFastHaltFailsAndTheKillDoesNotStopTheGuest(cluster, /*reboot=*/false);

  cluster.RunFor(Duration(3000));
  EXPECT_TRUE(cluster.resets.empty());
  EXPECT_EQ(AssignmentOf(cluster, "r1").status, AssignmentStatus::kHaltFailed);
}

TEST(NodeAgent, WithFenceActionRebootAFailedHaltWithoutNodeFailFastIsNoReset) {
  NodeCluster cluster(1, {"r1"});
  cluster.options().watchdog_fence = true;
  cluster.host("n1").halt_exit[PackageName("r1")] = 1;
  cluster.host("n1").survives_halt.insert(PackageName("r1"));
  Boot(cluster);

  Propose(cluster, {HaltOp{.package = PackageName("r1"), .by = "root"}});

  EXPECT_EQ(AssignmentOf(cluster, "r1").status, AssignmentStatus::kHaltFailed);
  EXPECT_TRUE(cluster.resets.empty());
}

// x1 runs on n1; the test reassigns it to n2 behind n1's back, so n1 kills it (ManageLocals:
// owned elsewhere) and the kill fails; the status after it says running. Then the kill is
// tried again; `answers_left` holds that one, so the loop ends for the test.
void AStrayThatWillNotDie(NodeCluster& cluster, bool reboot) {
  cluster.options().watchdog_fence = reboot;
  Boot(cluster);
  Assign(cluster, "x1", "n1");
  ASSERT_EQ(AssignmentOf(cluster, "x1").status, AssignmentStatus::kStarted);
  ASSERT_EQ(cluster.host("n1").running.count(PackageName("x1")), 1U);
  cluster.host("n1").survives_kill.insert(PackageName("x1"));
  cluster.host("n1").answers_left[PackageName("x1")] = 2;  // kill, status; the next kill waits.
  cluster.host("n2").hold.insert(PackageName("x1"));       // n2's run never ends: no noise.

  Assign(cluster, "x1", "n2");

  ASSERT_EQ(Actions(cluster, "n1", "x1"), "run(start) kill status kill");
  ASSERT_TRUE(cluster.host("n1").running.contains(PackageName("x1")));
}

TEST(NodeAgent, WithFenceActionRebootAStrayThatSurvivesItsKillIsReportedAndResetsTheNode) {
  NodeCluster cluster(3, {});
  AStrayThatWillNotDie(cluster, /*reboot=*/true);

  ASSERT_EQ(ResetsOf(cluster, "n1", "stray"), 1U);
  EXPECT_NE(cluster.resets.at(0).second.find("x1@"), std::string::npos);
  cluster.RunFor(Duration(3000));
  EXPECT_EQ(cluster.resets.size(), 1U) << "asked once";
  EXPECT_TRUE(HasCriticalLog(cluster, "resetting this node (fence_action reboot)"));
}

TEST(NodeAgent, WithFenceActionKillAStrayThatSurvivesItsKillIsReportedOnly) {
  NodeCluster cluster(3, {});
  AStrayThatWillNotDie(cluster, /*reboot=*/false);

  cluster.RunFor(Duration(3000));
  EXPECT_TRUE(cluster.resets.empty());
  EXPECT_FALSE(HasCriticalLog(cluster, "resetting this node"));
}

void AServiceFailsWithServiceFailFast(NodeCluster& cluster, bool reboot) {
  cluster.options().watchdog_fence = reboot;
  cluster.package("r1").service_fail_fast_enabled = true;
  Boot(cluster);
  ASSERT_EQ(AssignmentOf(cluster, "r1").status, AssignmentStatus::kStarted);

  cluster.ServiceFails("n1", "r1", "guestmon");
}

TEST(NodeAgent, WithServiceFailFastAndFenceActionRebootAServiceFailureResetsTheNodeAtOnce) {
  NodeCluster cluster(1, {"r1", "r2"});
  AServiceFailsWithServiceFailFast(cluster, /*reboot=*/true);

  ASSERT_EQ(ResetsOf(cluster, "n1", "service_fail_fast_enabled"), 1U);
  EXPECT_NE(cluster.resets.at(0).second.find("guestmon"), std::string::npos);
  // The kill fence still runs: it is what stops the guests if the reset does not happen.
  EXPECT_FALSE(cluster.host("n1").running.contains(PackageName("r1")));
  EXPECT_FALSE(cluster.host("n1").running.contains(PackageName("r2")));
  cluster.RunFor(Duration(3000));
  EXPECT_EQ(cluster.resets.size(), 1U) << "asked once";
}

TEST(NodeAgent, WithServiceFailFastAndFenceActionKillAServiceFailureFencesWithoutReset) {
  NodeCluster cluster(1, {"r1", "r2"});
  AServiceFailsWithServiceFailFast(cluster, /*reboot=*/false);

  EXPECT_FALSE(cluster.host("n1").running.contains(PackageName("r1")));
  EXPECT_FALSE(cluster.host("n1").running.contains(PackageName("r2")));
  cluster.RunFor(Duration(3000));
  EXPECT_TRUE(cluster.resets.empty());
}

// --- a guest dies while up --------------------------------------------------------------

TEST(NodeAgent, AGuestFoundDeadWhileUpIsCleanedUpAndReportedAServiceFailure) {
  NodeCluster cluster(1, {});
  Boot(cluster);
  Assign(cluster, "x1", "n1");
  ASSERT_EQ(AssignmentOf(cluster, "x1").status, AssignmentStatus::kStarted);

  cluster.GuestDies("n1", "x1");
  cluster.RunFor(Duration(500));

  EXPECT_EQ(Actions(cluster, "n1", "x1"), "run(start) halt(service_failed) kill status");
  EXPECT_EQ(AssignmentOf(cluster, "x1").status, AssignmentStatus::kFailed);
  EXPECT_EQ(AssignmentOf(cluster, "x1").failure, FailureKind::kServiceFailed);
  EXPECT_EQ(AssignmentOf(cluster, "x1").reason,
            "n1 reported failed (the guest stopped by itself)");
}

// --- clear ------------------------------------------------------------------------------

// x1 halt_failed on n1: its run failed and the guest survived the cleanup.
void LeaveHaltFailed(NodeCluster& cluster) {
  testing::FakeHost& host = cluster.host("n1");
  host.run_exit[PackageName("x1")] = 2;
  host.survives_halt.insert(PackageName("x1"));
  host.survives_kill.insert(PackageName("x1"));
  Assign(cluster, "x1", "n1");
  ASSERT_EQ(AssignmentOf(cluster, "x1").status, AssignmentStatus::kHaltFailed);
}

size_t StatusCalls(NodeCluster& cluster, const std::string& node, const std::string& package) {
  size_t calls = 0;
  for (const GuestAction& action : cluster.host(node).actions) {
    calls += action.guest.resource.value() == package && action.verb == GuestVerb::kStatus;
  }
  return calls;
}

TEST(NodeAgent, ClearOnHaltFailedAsksTheDriverOnceAndIsRefusedWhileTheGuestRuns) {
  NodeCluster cluster(1, {});
  Boot(cluster);
  LeaveHaltFailed(cluster);
  const size_t before = StatusCalls(cluster, "n1", "x1");
  const uint64_t stale = State(cluster).stale_reports();

  Propose(cluster, {ClearOp{.package = PackageName("x1"), .owner_is_down = std::nullopt,
                            .by = "root"}});

  EXPECT_EQ(StatusCalls(cluster, "n1", "x1"), before + 1);
  EXPECT_EQ(State(cluster).StatusOf(PackageName("x1")), PackageStatus::kHaltFailed);
  const PackageRecord* record = State(cluster).FindPackage(PackageName("x1"));
  ASSERT_TRUE(record->outcome.has_value());
  EXPECT_EQ(record->outcome->kind, CommandKind::kClear);
  EXPECT_FALSE(record->outcome->ok);
  EXPECT_EQ(record->outcome->message, "the guest still runs on n1: the driver says it still runs");
  EXPECT_FALSE(AssignmentOf(cluster, "x1").clear_requested);
  EXPECT_EQ(State(cluster).stale_reports(), stale) << "one answer, no duplicates";
}

TEST(NodeAgent, ClearOnHaltFailedClearsItOnceTheDriverSaysTheGuestStopped) {
  NodeCluster cluster(1, {});
  Boot(cluster);
  LeaveHaltFailed(cluster);
  cluster.host("n1").running.erase(PackageName("x1"));  // An operator stopped it by hand.
  const size_t before = StatusCalls(cluster, "n1", "x1");
  const uint64_t stale = State(cluster).stale_reports();

  Propose(cluster, {ClearOp{.package = PackageName("x1"), .owner_is_down = std::nullopt,
                            .by = "root"}});

  EXPECT_EQ(StatusCalls(cluster, "n1", "x1"), before + 1);
  EXPECT_EQ(State(cluster).StatusOf(PackageName("x1")), PackageStatus::kDown);
  EXPECT_TRUE(AssignmentOf(cluster, "x1").Free());
  const PackageRecord* record = State(cluster).FindPackage(PackageName("x1"));
  ASSERT_TRUE(record->outcome.has_value());
  EXPECT_TRUE(record->outcome->ok);
  EXPECT_EQ(record->outcome->message, "cleared: the guest is stopped on n1");
  EXPECT_EQ(State(cluster).stale_reports(), stale) << "one halted report, not two";
  EXPECT_FALSE(cluster.guard("n1").registered.contains(PackageName("x1")));
}

TEST(NodeAgent, AHaltFailedGuestSeenToStopIsReportedHaltedAndFreed) {
  NodeCluster cluster(1, {});
  Boot(cluster);
  LeaveHaltFailed(cluster);

  cluster.GuestDies("n1", "x1");
  cluster.RunFor(Duration(500));

  EXPECT_EQ(State(cluster).StatusOf(PackageName("x1")), PackageStatus::kDown);
  EXPECT_TRUE(AssignmentOf(cluster, "x1").Free());
  EXPECT_EQ(AssignmentOf(cluster, "x1").reason,
            "n1 reported halted (the guest stopped after its halt failed)");
  EXPECT_FALSE(cluster.guard("n1").registered.contains(PackageName("x1")));
}

// --- what a script is told --------------------------------------------------------------

TEST(NodeAgent, AFirstStartRunsWithReasonStartAndNoSourceNode) {
  NodeCluster cluster(2, {});
  Boot(cluster);

  Assign(cluster, "x1", "n2");

  const GuestAction* run = LastRun(cluster, "n2", "x1");
  ASSERT_NE(run, nullptr);
  EXPECT_EQ(run->reason, ActionReason::kStart);
  EXPECT_FALSE(run->source.has_value());
  EXPECT_FALSE(run->vcpus.has_value());
  EXPECT_FALSE(run->memory_mb.has_value());
}

TEST(NodeAgent, ARestartRunsWithReasonRestartAndAFailoverNamesTheNodeItComesFrom) {
  NodeCluster cluster(2, {});
  Boot(cluster);
  cluster.host("n1").run_exit[PackageName("x1")] = 2;
  Assign(cluster, "x1", "n1");
  Assign(cluster, "x1", "n1", ActionReason::kRestart);
  ASSERT_EQ(AssignmentOf(cluster, "x1").status, AssignmentStatus::kFailed);

  Assign(cluster, "x1", "n2", ActionReason::kFailover);

  EXPECT_EQ(Actions(cluster, "n1", "x1"),
            "run(start) halt(run_failed) kill status run(restart) halt(run_failed) kill status");
  EXPECT_FALSE(LastRun(cluster, "n1", "x1")->source.has_value()) << "a restart stays put";
  const GuestAction* run = LastRun(cluster, "n2", "x1");
  ASSERT_NE(run, nullptr);
  EXPECT_EQ(run->reason, ActionReason::kFailover);
  EXPECT_EQ(run->source, NodeName("n1"));
  EXPECT_EQ(AssignmentOf(cluster, "x1").status, AssignmentStatus::kStarted);
}

// CMCL_SOURCE_NODE is for a move or a failover (DESIGN.md section 5): a package halted on
// n1 and started again later on n2 does not come from n1.
TEST(NodeAgent, AStartAfterAHaltElsewhereNamesNoSourceNode) {
  NodeCluster cluster(2, {});
  Boot(cluster);
  Assign(cluster, "x1", "n1");
  Propose(cluster, {HaltOp{.package = PackageName("x1"), .by = "root"}});
  ASSERT_EQ(AssignmentOf(cluster, "x1").status, AssignmentStatus::kHalted);

  Assign(cluster, "x1", "n2", ActionReason::kStart);

  const GuestAction* run = LastRun(cluster, "n2", "x1");
  ASSERT_NE(run, nullptr);
  EXPECT_EQ(run->reason, ActionReason::kStart);
  EXPECT_FALSE(run->source.has_value()) << run->source->value();
}

// A move driven step by step as the coordinator would (cluster_state.h, IntentStep).
TEST(NodeAgent, AMoveHaltsTheSourceWithReasonMoveAndStartsTheTargetWithTheOverrides) {
  NodeCluster cluster(2, {});
  Boot(cluster);
  Assign(cluster, "x1", "n1");
  const LogIndex source_epoch = AssignmentOf(cluster, "x1").epoch;
  Propose(cluster, {MoveOp{.package = PackageName("x1"),
                           .target = NodeName("n2"),
                           .kind = IntentKind::kMove,
                           .vcpus = 6,
                           .memory_mb = 4096,
                           .by = "root"}});
  const LogIndex move = State(cluster).FindPackage(PackageName("x1"))->intent->index;

  Propose(cluster, {IntentStepOp{.package = PackageName("x1"),
                                 .intent = move,
                                 .step = IntentStep::kHalting,
                                 .reason = "validated"}});
  ASSERT_EQ(AssignmentOf(cluster, "x1").status, AssignmentStatus::kHalted);
  Propose(cluster, {AssignOp{.resource = PackageName("x1"),
                             .node = NodeName("n2"),
                             .from_epoch = source_epoch,
                             .reason = "move",
                             .why = ActionReason::kMove,
                             .remember = std::nullopt},
                    IntentStepOp{.package = PackageName("x1"),
                                 .intent = move,
                                 .step = IntentStep::kStarting,
                                 .reason = ""}});

  EXPECT_EQ(Actions(cluster, "n1", "x1"), "run(start) halt(move)");
  const GuestAction* run = LastRun(cluster, "n2", "x1");
  ASSERT_NE(run, nullptr);
  EXPECT_EQ(run->reason, ActionReason::kMove);
  EXPECT_EQ(run->source, NodeName("n1"));
  EXPECT_EQ(run->vcpus, 6u);
  EXPECT_EQ(run->memory_mb, 4096u);
  const PackageRecord* record = State(cluster).FindPackage(PackageName("x1"));
  EXPECT_FALSE(record->intent.has_value());
  EXPECT_TRUE(record->outcome->ok) << record->outcome->message;
  EXPECT_EQ(record->vcpus, 6u) << "committed: later starts use them too";
  EXPECT_EQ(cluster.Holders("x1"), std::vector<std::string>{"n2"});
}

TEST(NodeAgent, OverridesAFinishedMoveCommittedApplyToLaterStarts) {
  NodeCluster cluster(1, {});
  Boot(cluster);
  Assign(cluster, "x1", "n1");
  Propose(cluster, {MoveOp{.package = PackageName("x1"),
                           .target = NodeName("n2"),
                           .kind = IntentKind::kMove,
                           .vcpus = 2,
                           .memory_mb = 1024,
                           .by = "root"}});
  const LogIndex move = State(cluster).FindPackage(PackageName("x1"))->intent->index;
  // The move ends ok (IntentDoneOp commits its overrides), then the package is halted.
  Propose(cluster, {IntentDoneOp{.package = PackageName("x1"),
                                 .intent = move,
                                 .ok = true,
                                 .message = "done"},
                    HaltOp{.package = PackageName("x1"), .by = "root"}});
  ASSERT_EQ(AssignmentOf(cluster, "x1").status, AssignmentStatus::kHalted);

  Assign(cluster, "x1", "n1", ActionReason::kStart);

  const GuestAction* run = LastRun(cluster, "n1", "x1");
  ASSERT_NE(run, nullptr);
  EXPECT_EQ(run->guest.epoch, AssignmentOf(cluster, "x1").epoch);
  EXPECT_EQ(run->vcpus, 2u);
  EXPECT_EQ(run->memory_mb, 1024u);
}

}  // namespace
}  // namespace cmcl::node
