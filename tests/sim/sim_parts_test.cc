// The simulator's new parts as specifications: the simulated guard (sim_guard.h), the
// physical guests and scripts of a node (sim_host.h) and the exclusivity checker
// (exclusivity_checker.h); the package checker has its own file. No cluster and no core:
// each piece alone.
#include <gtest/gtest.h>

#include "tests/sim/exclusivity_checker.h"
#include "tests/sim/sim_guard.h"
#include "tests/sim/sim_host.h"
#include "cmcld/core/validation/readiness.h"
#include "tests/support/config_builder.h"

namespace cmcl::sim {
namespace {

using node::GuardRequest;
using node::GuestAction;
using node::GuestRef;
using node::GuestStatus;
using node::GuestVerb;

Time T(int64_t ms) { return Time::FromMilliseconds(ms); }
PackageName R(const std::string& name) { return PackageName(name); }
GuestRef Guest(const std::string& resource, uint64_t epoch) {
  return GuestRef{.resource = R(resource), .epoch = raft::LogIndex(epoch)};
}

GuestAction Act(const GuestRef& guest, GuestVerb verb) {
  GuestAction action;
  action.guest = guest;
  action.verb = verb;
  return action;
}

GuardRequest Deadline(uint64_t id, int64_t local_ms, bool allow_earlier = false) {
  return GuardRequest{
      .id = id,
      .request = node::SetDeadline{.deadline = T(local_ms), .allow_earlier = allow_earlier}};
}
GuardRequest Register(uint64_t id, const GuestRef& guest) {
  return GuardRequest{.id = id, .request = node::Register{.guest = guest}};
}

// Runs a guard and its host until true time `until`, event by event, as the simulator
// does; returns the acknowledgements.
std::vector<SimGuard::Ack> RunGuard(SimGuard& guard, SimHost& host, const SimClock& clock,
                                    Time& now, Time until) {
  std::vector<SimGuard::Ack> acks;
  for (;;) {
    std::optional<Time> next = guard.NextEvent(clock, now);
    const std::optional<Time> host_next = host.NextEvent();
    if (host_next && (!next || *host_next < *next)) {
      next = host_next;
    }
    if (!next || *next > until) {
      now = until;
      return acks;
    }
    now = *next;
    for (const SimGuard::Ack& ack : guard.Advance(now, clock.Peek(now), host)) {
      acks.push_back(ack);
    }
    host.Advance(now, 1);
  }
}

SimHost::Options HostOptions() {
  return SimHost::Options{.action_latency_max = Duration(20), .fence_timeout = Duration(500)};
}

TEST(SimGuard, FencesAtItsDeadlineOnTheNodesClockWithNoCoreAttached) {
  // Arrange: a node whose clock reads 10'000 at true 0 and runs 0.1% fast; a running
  // guest registered with a deadline at local 12'000 (true ~1'998).
  const SimClock clock(T(0), T(10'000), 1000);
  SimHost host(HostOptions(), Rng(1));
  SimGuard guard(SimGuard::Options{}, Rng(2));
  Time now = T(0);
  host.Submit(now, 1, Act(Guest("r1", 5), GuestVerb::kRun));
  guard.Submit(now, 1, {Deadline(1, 12'000), Register(2, Guest("r1", 5))});

  // Act: nobody talks to the guard any more (cmcld crashed).
  RunGuard(guard, host, clock, now, T(1'990));
  const bool held_before = host.Holds(R("r1"));
  RunGuard(guard, host, clock, now, clock.TrueTimeFor(T(12'000), T(0)) + Duration(499));

  // Assert: alive until the deadline, dead within fence_timeout after it.
  EXPECT_TRUE(held_before);
  EXPECT_FALSE(host.Holds(R("r1")));
  EXPECT_TRUE(guard.fenced());
  EXPECT_TRUE(guard.State().fenced);
  EXPECT_EQ(guard.fences(), 1u);
}

TEST(SimGuard, AppliesRequestsInOrderAfterALatencyAndAcknowledgesEachOne) {
  const SimClock clock(T(0), T(0), 0);
  SimHost host(HostOptions(), Rng(1));
  SimGuard guard(SimGuard::Options{.ipc_latency_max = Duration(3)}, Rng(3));
  Time now = T(0);
  guard.Submit(now, 7, {Deadline(1, 5'000), Register(2, Guest("r1", 3)), Deadline(3, 6'000)});

  const std::vector<SimGuard::Ack> acks = RunGuard(guard, host, clock, now, T(100));

  ASSERT_EQ(acks.size(), 3u);
  EXPECT_EQ(acks[0].id, 1u);
  EXPECT_EQ(acks[2].id, 3u);
  EXPECT_EQ(acks[2].incarnation, 7u);
  EXPECT_EQ(guard.deadline(), T(6'000));
  EXPECT_EQ(guard.registered().at(R("r1")), raft::LogIndex(3));
}

TEST(SimGuard, NeverMovesItsDeadlineBackUnlessArmingAllowsIt) {
  const SimClock clock(T(0), T(0), 0);
  SimHost host(HostOptions(), Rng(1));
  SimGuard guard(SimGuard::Options{}, Rng(4));
  Time now = T(0);

  guard.Submit(now, 1, {Deadline(1, 9'000), Deadline(2, 4'000)});
  RunGuard(guard, host, clock, now, T(50));
  const std::optional<Time> after_earlier = guard.deadline();
  guard.Submit(now, 1, {Deadline(3, 4'000, /*allow_earlier=*/true)});
  RunGuard(guard, host, clock, now, T(100));

  EXPECT_EQ(after_earlier, T(9'000));
  EXPECT_EQ(guard.deadline(), T(4'000));
}

TEST(SimGuard, KillsAGuestRegisteredAfterItsDeadlinePassed) {
  const SimClock clock(T(0), T(0), 0);
  SimHost host(HostOptions(), Rng(1));
  SimGuard guard(SimGuard::Options{}, Rng(5));
  Time now = T(0);
  guard.Submit(now, 1, {Deadline(1, 100)});
  RunGuard(guard, host, clock, now, T(200));

  host.Submit(now, 1, Act(Guest("r2", 9), GuestVerb::kRun));
  guard.Submit(now, 1, {Register(2, Guest("r2", 9))});
  RunGuard(guard, host, clock, now, T(200 + 3 + 500));

  EXPECT_FALSE(host.Holds(R("r2")));
  EXPECT_TRUE(guard.fenced());
}

TEST(SimGuard, ANodeCrashWipesItsDeadlineAndRegistrations) {
  const SimClock clock(T(0), T(0), 0);
  SimHost host(HostOptions(), Rng(1));
  SimGuard guard(SimGuard::Options{}, Rng(6));
  Time now = T(0);
  guard.Submit(now, 1, {Deadline(1, 1'000), Register(2, Guest("r1", 1))});
  RunGuard(guard, host, clock, now, T(50));

  guard.Crash();

  const node::GuardState state = guard.State();
  EXPECT_FALSE(state.deadline.has_value());
  EXPECT_TRUE(state.registered.empty());
  EXPECT_FALSE(state.fenced);
  EXPECT_FALSE(guard.NextEvent(clock, now).has_value());
}

TEST(SimHost, AGuestRunsFromTheRunsIssueUntilItsHaltCompletes) {
  SimHost host(HostOptions(), Rng(7));

  host.Submit(T(0), 1, Act(Guest("r1", 4), GuestVerb::kRun));
  const bool held_at_issue = host.Holds(R("r1"));
  const std::vector<SimHost::Report> started = host.Advance(T(20), 1);
  host.Submit(T(20), 1, Act(Guest("r1", 4), GuestVerb::kHalt));
  const bool held_while_halting = host.Holds(R("r1"));
  const std::vector<SimHost::Report> stopped = host.Advance(T(40), 1);

  EXPECT_TRUE(held_at_issue);
  EXPECT_EQ(host.held().size(), 0u);
  EXPECT_TRUE(held_while_halting);
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(started[0].result.status, GuestStatus::kRunning);
  EXPECT_EQ(started[0].result.exit_code, 0);
  EXPECT_EQ(started[0].guest, Guest("r1", 4));
  ASSERT_EQ(stopped.size(), 1u);
  EXPECT_EQ(stopped[0].verb, GuestVerb::kHalt);
  EXPECT_EQ(stopped[0].result.status, GuestStatus::kStopped);
}

TEST(SimHost, ADaemonCrashDropsTheReportButTheGuestRunsOnAndStatusSeesIt) {
  SimHost host(HostOptions(), Rng(8));
  host.Submit(T(0), 1, Act(Guest("r1", 4), GuestVerb::kRun));

  const std::vector<SimHost::Report> lost = host.Advance(T(20), /*live_incarnation=*/2);
  host.Submit(T(20), 2, Act(Guest("r1", 4), GuestVerb::kStatus));
  const std::vector<SimHost::Report> status = host.Advance(T(40), 2);

  EXPECT_TRUE(lost.empty());
  EXPECT_EQ(host.reports_dropped(), 1u);
  EXPECT_TRUE(host.Holds(R("r1")));
  ASSERT_EQ(status.size(), 1u);
  EXPECT_EQ(status[0].result.status, GuestStatus::kRunning);
}

TEST(SimHost, AKillCompletesWithinTheFenceTimeout) {
  SimHost host(HostOptions(), Rng(9));
  for (int i = 0; i < 50; ++i) {
    host.Submit(T(0), 1, Act(Guest("r" + std::to_string(i), 1), GuestVerb::kRun));
    host.Submit(T(0), 1, Act(Guest("r" + std::to_string(i), 1), GuestVerb::kKill));
  }

  host.Advance(T(499), 1);

  EXPECT_TRUE(host.held().empty());
}

TEST(SimHost, AnOldHaltDoesNotEndANewerRunOfTheSamePackage) {
  SimHost host(HostOptions(), Rng(10));
  host.Submit(T(0), 1, Act(Guest("r1", 4), GuestVerb::kRun));
  host.Submit(T(1), 1, Act(Guest("r1", 4), GuestVerb::kHalt));
  host.Submit(T(2), 1, Act(Guest("r1", 9), GuestVerb::kRun));

  host.Advance(T(100), 1);

  ASSERT_TRUE(host.Holds(R("r1")));
  EXPECT_EQ(host.held().at(R("r1")).epoch, raft::LogIndex(9));
}

TEST(SimHost, ANodeCrashKillsEveryGuestAndLosesEveryActionInFlight) {
  SimHost host(HostOptions(), Rng(11));
  host.Submit(T(0), 1, Act(Guest("r1", 4), GuestVerb::kRun));
  host.Submit(T(0), 1, Act(Guest("r2", 5), GuestVerb::kRun));

  host.Crash();

  EXPECT_TRUE(host.held().empty());
  EXPECT_FALSE(host.NextEvent().has_value());
}

// One package p1 (run_timeout 100 ms, kill_timeout 20 ms) with `behaviour`, on n1.
SimHost::Options PackageHost(const PackageBehaviour& behaviour, double kill_failure = 0.0) {
  auto packages = std::make_shared<SimPackages>();
  config::PackageSpec spec = test_support::PackageBuilder("p1").Nodes({"n1", "n2"}).Build();
  spec.run_timeout = Duration(100);
  spec.halt_timeout = Duration(100);
  spec.kill_timeout = Duration(20);
  packages->config = std::make_shared<const config::ClusterConfig>(
      test_support::ClusterBuilder().Package(spec).Build());
  packages->behaviour[R("p1")] = behaviour;
  packages->names = {R("p1")};
  SimHost::Options options = HostOptions();
  options.node = NodeName("n1");
  options.packages = packages;
  options.kill_failure = kill_failure;
  return options;
}

TEST(SimHost, ARunScriptThatHangsIsKilledAtRunTimeoutAndReportedTimedOut) {
  SimHost host(PackageHost(PackageBehaviour{.hang = 1.0}), Rng(12));
  host.Submit(T(0), 1, Act(Guest("p1", 4), GuestVerb::kRun));

  const std::vector<SimHost::Report> early = host.Advance(T(99), 1);
  const std::vector<SimHost::Report> late = host.Advance(T(120), 1);

  EXPECT_TRUE(early.empty());
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(late[0].result.status, GuestStatus::kFailed);
  EXPECT_TRUE(late[0].result.timed_out);
  EXPECT_EQ(late[0].result.exit_code, -1);
  EXPECT_FALSE(host.Holds(R("p1")));  // It did not survive (survive = 0).
}

TEST(SimHost, AFailedRunScriptMayLeaveItsGuestRunningUntilAKillStopsIt) {
  SimHost host(PackageHost(PackageBehaviour{.exit2 = 1.0, .survive = 1.0}), Rng(13));
  host.Submit(T(0), 1, Act(Guest("p1", 4), GuestVerb::kRun));

  const std::vector<SimHost::Report> failed = host.Advance(T(60), 1);
  const bool survived = host.Holds(R("p1"));
  host.Submit(T(60), 1, Act(Guest("p1", 4), GuestVerb::kKill));
  const std::vector<SimHost::Report> killed = host.Advance(T(600), 1);

  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].result.status, GuestStatus::kFailed);
  EXPECT_EQ(failed[0].result.exit_code, 2);
  EXPECT_TRUE(survived);
  EXPECT_EQ(host.survivors(), 1u);
  ASSERT_EQ(killed.size(), 1u);
  EXPECT_EQ(killed[0].result.status, GuestStatus::kStopped);
  EXPECT_FALSE(host.Holds(R("p1")));
}

TEST(SimHost, ARunScriptBadOnThisNodeExitsTwoEvenWhenCalm) {
  SimHost host(PackageHost(PackageBehaviour{.bad_on = {NodeName("n1")}}), Rng(14));
  host.Calm();
  host.Submit(T(0), 1, Act(Guest("p1", 4), GuestVerb::kRun));

  const std::vector<SimHost::Report> reports = host.Advance(T(60), 1);

  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].result.exit_code, 2);
  EXPECT_FALSE(host.Holds(R("p1")));
}

TEST(SimHost, AFailedHaltScriptMayLeaveTheGuestRunning) {
  SimHost host(PackageHost(PackageBehaviour{.survive = 1.0, .halt_fail = 1.0}), Rng(15));
  host.Submit(T(0), 1, Act(Guest("p1", 4), GuestVerb::kRun));
  host.Advance(T(60), 1);
  host.Submit(T(60), 1, Act(Guest("p1", 4), GuestVerb::kHalt));

  const std::vector<SimHost::Report> halted = host.Advance(T(200), 1);

  ASSERT_EQ(halted.size(), 1u);
  EXPECT_EQ(halted[0].result.status, GuestStatus::kFailed);
  EXPECT_EQ(halted[0].result.exit_code, 1);
  EXPECT_TRUE(host.Holds(R("p1")));
}

TEST(SimHost, AFailedDriverKillReportsUnknownAndTheGuestKeepsRunning) {
  SimHost host(PackageHost(PackageBehaviour{}, /*kill_failure=*/1.0), Rng(16));
  host.Submit(T(0), 1, Act(Guest("p1", 4), GuestVerb::kRun));
  host.Advance(T(60), 1);
  host.Submit(T(60), 1, Act(Guest("p1", 4), GuestVerb::kKill));

  const std::vector<SimHost::Report> reports = host.Advance(T(600), 1);

  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].verb, GuestVerb::kKill);
  EXPECT_EQ(reports[0].result.status, GuestStatus::kUnknown);
  EXPECT_TRUE(host.Holds(R("p1")));
}

TEST(SimHost, AGuestThatDiesOnItsOwnIsReportedAsAnUnsolicitedStoppedStatus) {
  SimHost host(PackageHost(PackageBehaviour{.die = 1.0}), Rng(17));
  host.Submit(T(0), 1, Act(Guest("p1", 4), GuestVerb::kRun));
  host.Advance(T(60), 1);
  const bool up = host.Holds(R("p1"));

  const std::vector<SimHost::Report> reports = host.Advance(T(6000), 1);

  EXPECT_TRUE(up);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].verb, GuestVerb::kStatus);
  EXPECT_EQ(reports[0].result.status, GuestStatus::kStopped);
  EXPECT_EQ(reports[0].guest, Guest("p1", 4));
  EXPECT_FALSE(host.Holds(R("p1")));
  EXPECT_EQ(host.deaths(), 1u);
}

TEST(SimPackages, InventoriesDifferSoThatSomePackagesCannotRunOnSomeOfTheirNodes) {
  SimOptions options;
  options.packages = 8;
  const std::vector<NodeName> voters = {NodeName("n1"), NodeName("n2"), NodeName("n3"),
                                        NodeName("n4"), NodeName("n5")};
  int refused = 0;
  int accepted = 0;
  std::set<validation::ViolationCode> codes;

  for (uint64_t seed = 1; seed <= 10; ++seed) {
    const SimPackages packages = MakeSimPackages(options, voters, Rng(seed));
    for (const PackageName& package : packages.names) {
      const Result<validation::CheckReport> report =
          validation::CheckOffline(*packages.config, package, std::nullopt);
      ASSERT_TRUE(report.ok());
      for (const validation::NodeResult& result : report->results) {
        result.result.ok() ? ++accepted : ++refused;
        for (const validation::ViolationCode code : result.result.Codes()) codes.insert(code);
      }
    }
  }

  EXPECT_GT(accepted, 5 * refused);  // Most placements are fine,
  EXPECT_TRUE(codes.contains(validation::ViolationCode::kWwidMismatch));  // but not all.
  EXPECT_TRUE(codes.contains(validation::ViolationCode::kDeviceMissing));
  EXPECT_TRUE(codes.contains(validation::ViolationCode::kVswitchMismatch));
}

TEST(SimPackages, TheSameSeedGivesTheSameConfigurationAndBehaviours) {
  SimOptions options;
  const std::vector<NodeName> voters = {NodeName("arb"), NodeName("n1"), NodeName("n2")};

  const SimPackages a = MakeSimPackages(options, voters, Rng(42));
  const SimPackages b = MakeSimPackages(options, voters, Rng(42));

  EXPECT_EQ(a.Describe(), b.Describe());
  EXPECT_EQ(a.config->nodes.size(), 3u);
  EXPECT_EQ(a.config->Members().size(), 2u);
  ASSERT_EQ(a.config->packages.size(), b.config->packages.size());
  for (size_t i = 0; i < a.config->packages.size(); ++i) {
    EXPECT_EQ(a.config->packages[i].nodes, b.config->packages[i].nodes);
  }
}

ExclusivityChecker::Claim Claim(const std::string& node, const std::string& resource,
                                uint64_t epoch) {
  return ExclusivityChecker::Claim{.node = NodeName(node),
                                   .resource = R(resource),
                                   .epoch = raft::LogIndex(epoch),
                                   .local_now = T(1000),
                                   .since = std::nullopt};
}

TEST(ExclusivityChecker, AcceptsOneHolderPerResource) {
  ExclusivityChecker checker;

  checker.Check(T(5), {Claim("n1", "r1", 3), Claim("n2", "r2", 4)},
                {Claim("n1", "r1", 3), Claim("n1", "r2", 4)});

  EXPECT_FALSE(checker.violation().has_value());
  EXPECT_EQ(checker.checks(), 1u);
}

TEST(ExclusivityChecker, CatchesTwoNodesPhysicallyHoldingOneResource) {
  ExclusivityChecker checker;

  checker.Check(T(5), {Claim("n2", "r1", 9), Claim("n1", "r1", 3)}, {});

  ASSERT_TRUE(checker.violation().has_value());
  EXPECT_EQ(*checker.violation(),
            "exclusivity (physical): r1 held by 2 nodes at 5ms: n1 (epoch 3, local 1000ms) n2 "
            "(epoch 9, local 1000ms)");
}

TEST(ExclusivityChecker, CatchesTwoNodesWithAuthorityOverOneResource) {
  ExclusivityChecker checker;

  checker.Check(T(5), {Claim("n1", "r1", 3)}, {Claim("n1", "r1", 3), Claim("n3", "r1", 8)});

  ASSERT_TRUE(checker.violation().has_value());
  EXPECT_NE(checker.violation()->find("exclusivity (logical): r1"), std::string::npos);
  EXPECT_NE(checker.violation()->find("n3 (epoch 8"), std::string::npos);
}

}  // namespace
}  // namespace cmcl::sim
