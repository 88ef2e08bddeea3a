// node::Node as a specification: the agent starts, keeps, fences and reports guests by
// DESIGN.md section 4, and the coordinator places and reassigns resources only when it
// is safe. Driven by tests/support/node_cluster.h (fake guard and host, one clock).
#include "cmcld/core/node/node.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "tests/support/node_cluster.h"

namespace cmcl::node {
namespace {

using testing::NodeCluster;

const Assignment& AssignmentOf(NodeCluster& cluster, const std::string& at,
                               const std::string& resource) {
  const Assignment* assignment = cluster.node(at).state().Find(PackageName(resource));
  EXPECT_NE(assignment, nullptr) << resource;
  static const Assignment kNone;
  return assignment ? *assignment : kNone;
}

// Fails the test at the first step where two nodes physically run one resource.
void WatchExclusivity(NodeCluster& cluster, const std::vector<std::string>& resources) {
  cluster.on_step = [&cluster, resources] {
    for (const std::string& resource : resources) {
      const std::vector<std::string> holders = cluster.Holders(resource);
      ASSERT_LE(holders.size(), 1u) << resource << " runs on " << holders[0] << " and "
                                    << holders[1] << " at " << cluster.now;
    }
  };
}

TEST(Node, ThreeMembersPlaceEveryResourceOnceAndStartItWhereItIsAssigned) {
  NodeCluster cluster(3, {"r1", "r2", "r3"});
  cluster.StartAll();
  WatchExclusivity(cluster, {"r1", "r2", "r3"});

  cluster.RunFor(Duration(6000));

  const std::optional<std::string> leader = cluster.Leader();
  ASSERT_TRUE(leader.has_value());
  std::set<std::string> owners;
  for (const std::string resource : {"r1", "r2", "r3"}) {
    const Assignment& assignment = AssignmentOf(cluster, *leader, resource);
    ASSERT_TRUE(assignment.owner.has_value()) << resource;
    EXPECT_EQ(assignment.status, AssignmentStatus::kStarted) << resource;
    EXPECT_EQ(cluster.Holders(resource), std::vector<std::string>{assignment.owner->value()});
    owners.insert(assignment.owner->value());
  }
  // Placement goes to members whose nonces arrive; right after the first election some
  // may not have answered yet (cluster_start_wait comes with issue 7).
  EXPECT_GE(owners.size(), 2u);
}

TEST(Node, GuestStartsOnlyAfterTheGuardAcknowledgedItsRegistrationAndADeadline) {
  NodeCluster cluster(1, {"r1"});
  cluster.StartAll();

  cluster.RunFor(Duration(4000));

  const testing::FakeGuard& guard = cluster.guard("n1");
  ASSERT_EQ(cluster.Holders("r1"), std::vector<std::string>{"n1"});
  ASSERT_TRUE(guard.deadline.has_value());
  // The guard's deadline is lease_end - fence_timeout, pushed forward as the lease grows.
  const Node& node = cluster.node("n1");
  EXPECT_EQ(*guard.deadline, *node.raft().lease().lease_end() - Duration(200));
  bool registered_first = false;
  for (const GuardRequest& request : guard.requests) {
    if (std::holds_alternative<Register>(request.request)) {
      registered_first = true;
    }
  }
  EXPECT_TRUE(registered_first);
}

TEST(Node, IsolatedOwnerFencesBeforeItsLeaseEndsAndTheResourceMovesOnlyAfterCertainExpiry) {
  NodeCluster cluster(3, {"r1"});
  cluster.StartAll();
  cluster.RunFor(Duration(5000));
  const std::string leader = *cluster.Leader();
  const std::string owner = AssignmentOf(cluster, leader, "r1").owner->value();
  ASSERT_EQ(cluster.Holders("r1"), std::vector<std::string>{owner});
  const LogIndex first_epoch = AssignmentOf(cluster, leader, "r1").epoch;
  WatchExclusivity(cluster, {"r1"});

  cluster.drop = [owner](const raft::Message& message) {
    return message.header.from.value() == owner || message.header.to.value() == owner;
  };
  const Time lease_end = *cluster.node(owner).raft().lease().lease_end();
  cluster.RunUntil(lease_end - Duration(200));
  EXPECT_TRUE(cluster.Holders("r1").empty()) << "fenced at lease_end - fence_timeout";
  cluster.RunUntil(lease_end);
  EXPECT_TRUE(cluster.Holders("r1").empty()) << "fenced early, down by lease_end";
  cluster.RunFor(Duration(6000));

  const std::string now_leader = *cluster.Leader();
  const Assignment& moved = AssignmentOf(cluster, now_leader, "r1");
  ASSERT_TRUE(moved.owner.has_value());
  EXPECT_NE(moved.owner->value(), owner);
  EXPECT_GT(moved.epoch, first_epoch);
  EXPECT_EQ(cluster.Holders("r1"), std::vector<std::string>{moved.owner->value()});
}

// While its fenced guest is being killed (the kill takes its time), the cut-off owner
// waits for the kill's result: its next wakeup is ahead, not "now" again and again — a
// busy loop that, in cmcld, starved the kill itself past lease_end.
TEST(Node, AFencedOwnerWaitingForItsKillAsksForNoWakeupInThePast) {
  NodeCluster cluster(3, {"r1"});
  cluster.StartAll();
  cluster.RunFor(Duration(5000));
  const std::string leader = *cluster.Leader();
  const std::string owner = AssignmentOf(cluster, leader, "r1").owner->value();
  cluster.host(owner).hold.insert(PackageName("r1"));  // Its kill never completes.
  cluster.drop = [owner](const raft::Message& message) {
    return message.header.from.value() == owner || message.header.to.value() == owner;
  };
  const Time lease_end = *cluster.node(owner).raft().lease().lease_end();

  cluster.RunUntil(lease_end + Duration(50));

  ASSERT_FALSE(cluster.host(owner).actions.empty());
  EXPECT_EQ(cluster.host(owner).actions.back().verb, GuestVerb::kKill) << "fenced";
  EXPECT_GT(cluster.node(owner).NextWakeup(), cluster.now);
}

// A follower's daemon: the leader keeps granting, so the new incarnation's first grant
// comes well before the guard's deadline. (A leader's restart needs an election, which
// takes longer than the lease: its guests are fenced and fail over.)
TEST(Node, DaemonRestartedWithinItsLeaseAdoptsItsRunningGuestWithoutAFailover) {
  NodeCluster cluster(3, {"r1", "r2", "r3"});
  cluster.StartAll();
  cluster.RunFor(Duration(5000));
  const std::string leader = *cluster.Leader();
  std::string resource;
  for (const std::string candidate : {"r1", "r2", "r3"}) {
    if (AssignmentOf(cluster, leader, candidate).owner->value() != leader) {
      resource = candidate;
    }
  }
  ASSERT_FALSE(resource.empty());
  const std::string owner = AssignmentOf(cluster, leader, resource).owner->value();
  const LogIndex epoch = AssignmentOf(cluster, leader, resource).epoch;
  WatchExclusivity(cluster, {"r1", "r2", "r3"});

  cluster.Crash(owner);
  cluster.RunFor(Duration(100));
  cluster.Start(owner);
  cluster.RunFor(Duration(3000));

  const std::string now_leader = *cluster.Leader();
  EXPECT_EQ(AssignmentOf(cluster, now_leader, resource).epoch, epoch) << "no reassignment";
  EXPECT_EQ(cluster.Holders(resource), std::vector<std::string>{owner});
  const std::vector<GuestAction>& actions = cluster.host(owner).actions;
  size_t starts = 0;
  for (const GuestAction& action : actions) {
    starts += action.verb == GuestVerb::kRun && action.guest.resource.value() == resource;
  }
  EXPECT_EQ(starts, 1u) << "adopted, not started again";
}

TEST(Node, NodeCrashOfTheOwnerFailsTheResourceOverToAnotherMember) {
  NodeCluster cluster(3, {"r1"});
  cluster.StartAll();
  cluster.RunFor(Duration(5000));
  const std::string leader = *cluster.Leader();
  const std::string owner = AssignmentOf(cluster, leader, "r1").owner->value();
  WatchExclusivity(cluster, {"r1"});

  cluster.NodeCrash(owner);
  cluster.RunFor(Duration(8000));

  const std::string now_leader = *cluster.Leader();
  const Assignment& moved = AssignmentOf(cluster, now_leader, "r1");
  EXPECT_NE(moved.owner->value(), owner);
  EXPECT_EQ(moved.status, AssignmentStatus::kStarted);
  EXPECT_EQ(cluster.Holders("r1"), std::vector<std::string>{moved.owner->value()});
}

TEST(Node, HaltRunsTheHaltScriptAndThePackageStaysDownUntilRunAgain) {
  NodeCluster cluster(3, {"r1"});
  cluster.StartAll();
  cluster.RunFor(Duration(5000));
  const std::string leader = *cluster.Leader();
  const Assignment before = AssignmentOf(cluster, leader, "r1");
  WatchExclusivity(cluster, {"r1"});

  cluster.ProposeOps(leader, {HaltOp{.package = PackageName("r1"), .by = "root"}});
  cluster.RunFor(Duration(2000));

  const ClusterState& state = cluster.node(leader).state();
  EXPECT_EQ(state.StatusOf(PackageName("r1")), PackageStatus::kDown);
  EXPECT_EQ(AssignmentOf(cluster, leader, "r1").epoch, before.epoch) << "not placed again";
  EXPECT_TRUE(cluster.Holders("r1").empty());
  ASSERT_TRUE(state.FindPackage(PackageName("r1"))->outcome.has_value());
  EXPECT_TRUE(state.FindPackage(PackageName("r1"))->outcome->ok);

  cluster.ProposeOps(leader, {RunOp{.package = PackageName("r1"), .by = "root"}});
  cluster.RunFor(Duration(2000));

  EXPECT_EQ(cluster.node(leader).state().StatusOf(PackageName("r1")), PackageStatus::kUp);
  EXPECT_EQ(cluster.Holders("r1").size(), 1U);
}

TEST(Node, AFollowerForwardsAnOperatorCommandToTheLeaderAndGetsItsReplyOnceApplied) {
  NodeCluster cluster(3, {"r1"});
  cluster.StartAll();
  cluster.RunFor(Duration(5000));
  const std::string leader = *cluster.Leader();
  const std::string follower = leader == "n1" ? "n2" : "n1";

  const uint64_t sequence =
      cluster.ForwardOps(follower, {HaltOp{.package = PackageName("r1"), .by = "root"}});
  cluster.RunFor(Duration(2000));

  const auto reply =
      std::find_if(cluster.replies.begin(), cluster.replies.end(), [&](const raft::ClientReply& r) {
        return r.client_id == raft::ClientId(78) && r.sequence == sequence;
      });
  ASSERT_NE(reply, cluster.replies.end()) << "the forwarded command was never answered";
  EXPECT_EQ(reply->code, raft::ReplyCode::kApplied);
  const ClusterState& state = cluster.node(follower).state();
  EXPECT_EQ(state.StatusOf(PackageName("r1")), PackageStatus::kDown);
  ASSERT_TRUE(state.OutcomeOf(PackageName("r1"), reply->applied_index).has_value());
}

TEST(Node, AnOwnerThatCannotStartWithinRunTimeoutReportsTheStartFailedWithoutRunningIt) {
  NodeCluster cluster(3, {"r1"});
  for (const std::string name : {"n1", "n2", "n3"}) {
    cluster.guard(name).mute = true;  // F3's guard part never holds: nothing may start.
  }
  cluster.StartAll();

  cluster.RunFor(Duration(65000));  // run_timeout is 60s by default.

  const std::string leader = *cluster.Leader();
  bool reported = false;
  for (const ClusterEvent& event : cluster.node(leader).state().events()) {
    reported =
        reported || (event.text.find("reported failed") != std::string::npos &&
                     event.text.find("could not start within run_timeout") != std::string::npos);
  }
  EXPECT_TRUE(reported) << "the owner gives the package back instead of keeping it forever";
  for (const std::string name : {"n1", "n2", "n3"}) {
    for (const GuestAction& action : cluster.host(name).actions) {
      EXPECT_NE(action.verb, GuestVerb::kRun) << name << " ran a run script without F3";
    }
  }
}

TEST(Node, APackageAddedByANewConfigurationIsPlaced) {
  NodeCluster cluster(3, {"r1"});
  cluster.StartAll();
  cluster.RunFor(Duration(5000));
  auto config = std::make_shared<config::ClusterConfig>(cluster.config());
  config::PackageSpec added = config->packages.front();
  added.name = PackageName("r2");
  config->packages.push_back(added);

  cluster.SetConfig(config);
  cluster.RunFor(Duration(2000));

  EXPECT_EQ(cluster.node(*cluster.Leader()).state().StatusOf(PackageName("r2")),
            PackageStatus::kUp);
  EXPECT_EQ(cluster.Holders("r2").size(), 1U);
}

bool HasEvent(const ClusterState& state, const std::vector<std::string>& parts);

// Config apply (issue 9) end to end: the proposal reaches every node, each commits its
// verdict once, the leader applies once all said ok, and its coordinator places the new
// version's packages only once the runtime handed it the new configuration (SetConfig).
TEST(Node, ConfigApplyCommitsEachVerdictOnceThenAppliesAndWaitsForTheNewConfiguration) {
  NodeCluster cluster(3, {"r1"});
  cluster.options().config_version = 1;  // The runtime says which version it loaded.
  cluster.StartAll();
  cluster.RunFor(Duration(5000));
  const std::string leader = *cluster.Leader();
  const std::vector<NodeName> all = {NodeName("n1"), NodeName("n2"), NodeName("n3")};
  cluster.ForwardOps(
      leader, {ConfigProposeOp{.version = 2,
                               .bundle_hash = "h2",
                               .bundle = "bundle v2",
                               .packages = {{PackageName("r1"), all}, {PackageName("r2"), all}},
                               .by = "root"}});
  cluster.RunFor(Duration(500));
  for (const std::string name : {"n1", "n2", "n3"}) {
    ASSERT_EQ(cluster.node(name).ConfigToValidate(), std::pair(uint64_t{2}, std::string("h2")))
        << name;
  }

  cluster.ConfigVerdict("n1", 2, "h2", true);
  cluster.ConfigVerdict("n1", 2, "h2", true);           // A repeat: nothing.
  cluster.ConfigVerdict("n2", 2, "other", false, "x");  // Not the pending one: nothing.
  cluster.RunFor(Duration(500));

  const ClusterState& state = cluster.node(leader).state();
  ASSERT_TRUE(state.pending_config().has_value());
  EXPECT_EQ(state.pending_config()->verdicts.size(), 1u);
  EXPECT_FALSE(HasEvent(state, {"a repeat"}));
  EXPECT_FALSE(cluster.node("n1").ConfigToValidate().has_value());
  EXPECT_TRUE(cluster.node("n2").ConfigToValidate().has_value());

  cluster.ConfigVerdict("n2", 2, "h2", true);
  cluster.ConfigVerdict("n3", 2, "h2", true);
  cluster.RunFor(Duration(1000));

  for (const std::string name : {"n1", "n2", "n3"}) {
    EXPECT_EQ(cluster.node(name).state().config_version(), 2u) << name;
    EXPECT_EQ(cluster.node(name).state().bundle(), "bundle v2") << name;
  }
  EXPECT_EQ(cluster.node(leader).config_version(), 1u);
  EXPECT_TRUE(std::any_of(cluster.log.begin(), cluster.log.end(), [](const LogLine& line) {
    return line.text.find("coordinator waits: configuration version 2 applied") !=
           std::string::npos;
  }));
  auto config = std::make_shared<config::ClusterConfig>(cluster.config());
  config::PackageSpec added = config->packages.front();
  added.name = PackageName("r2");
  config->packages.push_back(added);

  cluster.SetConfig(config);
  cluster.RunFor(Duration(2000));

  EXPECT_EQ(cluster.node(leader).config_version(), 2u);
  EXPECT_EQ(cluster.node(leader).state().StatusOf(PackageName("r2")), PackageStatus::kUp);
}

// A follower whose runtime has not installed the applied version yet starts nothing,
// not even the new package the coordinator placed on it: its old configuration may not
// have it, and a guest registered now would run the old scripts (CI failure of
// ConfigApplyTest.AnAppliedPackageRuns…: the runtime answered "not configured here").
TEST(Node, AFollowerStartsNothingUntilItsRuntimeInstalledTheAppliedVersion) {
  NodeCluster cluster(3, {"r1"});
  cluster.options().config_version = 1;
  cluster.StartAll();
  cluster.RunFor(Duration(5000));
  const std::string leader = *cluster.Leader();
  const std::string follower = leader == "n1" ? "n2" : "n1";
  const std::vector<NodeName> order = {NodeName(follower), NodeName(leader)};
  cluster.ForwardOps(
      leader, {ConfigProposeOp{.version = 2,
                               .bundle_hash = "h2",
                               .bundle = "bundle v2",
                               .packages = {{PackageName("r1"), cluster.config().packages[0].nodes},
                                            {PackageName("r2"), order}},
                               .by = "root"}});
  cluster.RunFor(Duration(500));
  for (const std::string name : {"n1", "n2", "n3"}) {
    cluster.ConfigVerdict(name, 2, "h2", true);
  }
  cluster.RunFor(Duration(1000));
  ASSERT_EQ(cluster.node(follower).state().config_version(), 2u);
  auto config = std::make_shared<config::ClusterConfig>(cluster.config());
  config::PackageSpec added = config->packages.front();
  added.name = PackageName("r2");
  added.nodes = order;
  config->packages.push_back(added);

  cluster.SetConfigOn(leader, config);  // The coordinator places r2 on the follower.
  cluster.RunFor(Duration(2000));

  const Assignment* assignment = cluster.node(leader).state().Find(PackageName("r2"));
  ASSERT_NE(assignment, nullptr);
  EXPECT_EQ(assignment->owner, NodeName(follower));
  const auto runs_of_r2 = [&] {
    const std::vector<GuestAction>& actions = cluster.host(follower).actions;
    return std::count_if(actions.begin(), actions.end(), [](const GuestAction& action) {
      return action.guest.resource == PackageName("r2") && action.verb == GuestVerb::kRun;
    });
  };
  EXPECT_EQ(runs_of_r2(), 0);
  EXPECT_NE(cluster.node(leader).state().StatusOf(PackageName("r2")), PackageStatus::kUp);

  cluster.SetConfigOn(follower, config);
  cluster.RunFor(Duration(1000));

  EXPECT_EQ(runs_of_r2(), 1);
  EXPECT_EQ(cluster.node(leader).state().StatusOf(PackageName("r2")), PackageStatus::kUp);
}

// NodeOptions::config_version 0 (a runtime that does not say which version it loaded):
// an applied version never pauses the coordinator.
TEST(Node, ANodeThatDoesNotKnowItsConfigVersionKeepsCoordinatingAfterAnApply) {
  NodeCluster cluster(3, {"r1"});
  cluster.StartAll();
  cluster.RunFor(Duration(5000));
  const std::string leader = *cluster.Leader();
  const std::vector<NodeName> all = {NodeName("n1"), NodeName("n2"), NodeName("n3")};
  cluster.ForwardOps(leader, {HaltOp{.package = PackageName("r1"), .by = "root"},
                              ConfigProposeOp{.version = 2,
                                              .bundle_hash = "h2",
                                              .bundle = "bundle v2",
                                              .packages = {{PackageName("r1"), all}},
                                              .by = "root"}});
  cluster.RunFor(Duration(500));
  for (const std::string name : {"n1", "n2", "n3"}) {
    cluster.ConfigVerdict(name, 2, "h2", true);
  }
  cluster.RunFor(Duration(1000));
  ASSERT_EQ(cluster.node(leader).state().config_version(), 2u);

  cluster.ForwardOps(leader, {RunOp{.package = PackageName("r1"), .by = "root"}});
  cluster.RunFor(Duration(2000));

  EXPECT_EQ(cluster.node(leader).config_version(), 0u);
  EXPECT_EQ(cluster.node(leader).state().StatusOf(PackageName("r1")), PackageStatus::kUp);
}

bool HasEvent(const ClusterState& state, const std::vector<std::string>& parts) {
  for (const ClusterEvent& event : state.events()) {
    bool all = true;
    for (const std::string& part : parts) {
      all = all && event.text.find(part) != std::string::npos;
    }
    if (all) {
      return true;
    }
  }
  return false;
}

TEST(Node, AServiceFailedPastItsRestartsIsCleanedUpAndReportedServiceFailed) {
  NodeCluster cluster(3, {"r1"});
  cluster.StartAll();
  cluster.RunFor(Duration(5000));
  const std::string leader = *cluster.Leader();
  const std::string owner = AssignmentOf(cluster, leader, "r1").owner->value();
  const size_t before = cluster.host(owner).actions.size();

  cluster.ServiceFails(owner, "r1", "guestmon");
  cluster.RunFor(Duration(2000));

  const std::vector<GuestAction>& actions = cluster.host(owner).actions;
  ASSERT_GE(actions.size(), before + 3);
  EXPECT_EQ(actions[before].verb, GuestVerb::kHalt);
  EXPECT_EQ(actions[before].reason, ActionReason::kServiceFailed);
  EXPECT_EQ(actions[before + 1].verb, GuestVerb::kKill);
  EXPECT_EQ(actions[before + 2].verb, GuestVerb::kStatus);
  EXPECT_TRUE(HasEvent(cluster.node(leader).state(),
                       {owner + " reported failed", "service guestmon failed"}));
}

TEST(Node, AServiceFailureWithServiceFailFastFencesEveryGuestOfTheNode) {
  NodeCluster cluster(3, {"r1", "r2", "r3", "r4", "r5", "r6"});
  auto config = std::make_shared<config::ClusterConfig>(cluster.config());
  for (config::PackageSpec& package : config->packages) {
    package.service_fail_fast_enabled = true;
  }
  cluster.SetConfig(config);
  cluster.StartAll();
  cluster.RunFor(Duration(5000));
  const std::string leader = *cluster.Leader();
  const std::string owner = AssignmentOf(cluster, leader, "r1").owner->value();
  const std::map<PackageName, LogIndex> ran_there = cluster.host(owner).running;
  ASSERT_FALSE(ran_there.empty());

  cluster.ServiceFails(owner, "r1", "guestmon");

  for (const auto& [resource, epoch] : ran_there) {
    EXPECT_FALSE(cluster.host(owner).running.contains(resource)) << resource << " killed";
  }
  cluster.RunFor(Duration(2000));
  EXPECT_TRUE(HasEvent(cluster.node(leader).state(), {"r1: " + owner + " reported fenced"}));
}

// Every member has vswitch vlan2 on `nic_of(member)`; r1 uses vlan2.
std::shared_ptr<config::ClusterConfig> WithVswitches(
    const config::ClusterConfig& base, const std::function<std::string(const NodeName&)>& nic_of) {
  auto config = std::make_shared<config::ClusterConfig>(base);
  for (config::NodeSpec& node : config->nodes) {
    node.inventory_source = config::InventorySource::kInline;
    node.inventory.vswitches = {{"vlan2", nic_of(node.name)}};
  }
  config->packages.front().guest.networks = {config::GuestNetwork{.vswitch = "vlan2"}};
  return config;
}

TEST(Node, ReadinessFollowsAConfigurationChange) {
  NodeCluster cluster(3, {"r1"});
  cluster.SetConfig(WithVswitches(cluster.config(), [](const NodeName&) { return "lan0"; }));
  cluster.StartAll();
  cluster.RunFor(Duration(5000));
  Node& leader = cluster.node(*cluster.Leader());
  const auto mismatches = [&leader] {
    size_t count = 0;
    for (const validation::PackageReadiness& report : leader.Readiness()) {
      for (const validation::NodeResult& result : report.results) {
        for (const validation::Violation& violation : result.result.violations) {
          count += violation.code == validation::ViolationCode::kVswitchMismatch ? 1 : 0;
        }
      }
    }
    return count;
  };
  ASSERT_EQ(leader.Readiness().size(), 1U);
  EXPECT_EQ(leader.Readiness()[0].results.size(), 2U) << "every node but the owner";
  EXPECT_EQ(mismatches(), 0U);

  cluster.SetConfig(WithVswitches(cluster.config(), [](const NodeName& node) {
    return node.value() == "n3" ? "lan1" : "lan0";
  }));

  EXPECT_GE(mismatches(), 1U) << "n3's vlan2 is on another NIC now";
}

TEST(Node, CheckValidatesAMoveAtItsNewSize) {
  NodeCluster cluster(2, {"r1"});
  auto config = std::make_shared<config::ClusterConfig>(cluster.config());
  for (config::NodeSpec& node : config->nodes) {
    node.capacity = inventory::Capacity{4, ByteSize::FromMebibytes(8192)};
  }
  cluster.SetConfig(config);
  cluster.StartAll();
  cluster.RunFor(Duration(5000));
  const std::string leader = *cluster.Leader();
  const std::string owner = AssignmentOf(cluster, leader, "r1").owner->value();
  const NodeName other(owner == "n1" ? "n2" : "n1");

  const Result<validation::CheckReport> as_is =
      cluster.node(leader).Check(PackageName("r1"), other);
  const Result<validation::CheckReport> bigger =
      cluster.node(leader).Check(PackageName("r1"), other, 8, 16384);
  const Result<validation::CheckReport> unknown =
      cluster.node(leader).Check(PackageName("r2"), other, 8);

  ASSERT_TRUE(as_is.ok() && bigger.ok());
  EXPECT_TRUE(as_is->ok());
  ASSERT_EQ(bigger->results.size(), 1U);
  EXPECT_EQ(bigger->results[0].node, other);
  EXPECT_EQ(bigger->source, NodeName(owner));
  EXPECT_EQ(
      bigger->results[0].result.Codes(),  // One for the vCPUs, one for the memory.
      std::vector<validation::ViolationCode>(2, validation::ViolationCode::kInsufficientCapacity));
  EXPECT_EQ(unknown.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(unknown.status().message(), "r2 is not a configured package name (did you mean r1?)");
}

TEST(Node, ShutdownWithQuorumCommitsTheNodesOwnHaltAndStartsNothingNew) {
  NodeCluster cluster(3, {"r1", "r2"});
  cluster.StartAll();
  cluster.RunFor(Duration(5000));
  const std::string leader = *cluster.Leader();
  const std::string owner = AssignmentOf(cluster, leader, "r1").owner->value();

  cluster.ProposeOps(leader, {HaltOp{.package = PackageName("r2")}});
  cluster.RunFor(Duration(1000));
  const size_t actions_before = cluster.host(owner).actions.size();

  cluster.Shutdown(owner);
  cluster.ProposeOps(leader, {RunOp{.package = PackageName("r2"), .node = NodeName(owner)}});
  cluster.RunFor(Duration(2000));

  EXPECT_TRUE(cluster.node(leader).state().NodeHalted(NodeName(owner)));
  const std::vector<GuestAction>& actions = cluster.host(owner).actions;
  for (size_t i = actions_before; i < actions.size(); ++i) {
    EXPECT_NE(actions[i].verb, GuestVerb::kRun) << "a node on its way out starts nothing";
  }
}

TEST(Node, ShutdownWithoutALeaseHaltsItsGuestsItselfWithReasonShutdown) {
  NodeCluster cluster(3, {"r1"});
  cluster.StartAll();
  cluster.RunFor(Duration(5000));
  const std::string leader = *cluster.Leader();
  const std::string owner = AssignmentOf(cluster, leader, "r1").owner->value();
  cluster.Crash(owner);  // The guard and the guest survive the daemon.
  cluster.drop = [owner](const raft::Message& message) {
    return message.header.from.value() == owner || message.header.to.value() == owner;
  };
  cluster.Start(owner);  // No grant will come: it stays without a lease.

  cluster.Shutdown(owner);

  bool halted_for_shutdown = false;
  for (const GuestAction& action : cluster.host(owner).actions) {
    halted_for_shutdown = halted_for_shutdown || (action.verb == GuestVerb::kHalt &&
                                                  action.reason == ActionReason::kShutdown);
  }
  EXPECT_TRUE(halted_for_shutdown);
  EXPECT_TRUE(cluster.Holders("r1").empty());
  EXPECT_TRUE(cluster.node(owner).ShutdownDone());
}

// The lease is still valid when SIGTERM comes, but no grant follows (the others are
// gone): the node halt can never commit, so the node halts its guest itself, with its
// halt script, before the fence point would kill it.
TEST(Node, ShutdownWithALeaseButNoQuorumHaltsItsGuestsBeforeTheFencePoint) {
  NodeCluster cluster(3, {"r1"});
  cluster.StartAll();
  cluster.RunFor(Duration(5000));
  const std::string leader = *cluster.Leader();
  const std::string owner = AssignmentOf(cluster, leader, "r1").owner->value();
  cluster.drop = [owner](const raft::Message& message) {
    return message.header.from.value() == owner || message.header.to.value() == owner;
  };
  ASSERT_TRUE(cluster.node(owner).MayKeepGuests(cluster.now));
  const size_t actions_before = cluster.host(owner).actions.size();

  cluster.Shutdown(owner);
  cluster.RunFor(Duration(3000));

  std::vector<GuestAction> actions(
      cluster.host(owner).actions.begin() + static_cast<std::ptrdiff_t>(actions_before),
      cluster.host(owner).actions.end());
  ASSERT_FALSE(actions.empty());
  EXPECT_EQ(actions.front().verb, GuestVerb::kHalt);
  EXPECT_EQ(actions.front().reason, ActionReason::kShutdown);
  for (const GuestAction& action : actions) {
    EXPECT_NE(action.verb, GuestVerb::kKill) << "the guest was fenced, not halted";
  }
  EXPECT_FALSE(cluster.host(owner).running.contains(PackageName("r1")));
  EXPECT_FALSE(cluster.guard(owner).fenced);
  EXPECT_TRUE(cluster.node(owner).ShutdownDone());
}

// The other side of the rule above: while grants keep coming, the coordinator moves the
// packages (shutdown_policy migrate); the node does not halt them on its own.
TEST(Node, ShutdownWithQuorumLeavesItsPackagesToTheCoordinatorsMove) {
  NodeCluster cluster(3, {"r1"});
  cluster.StartAll();
  cluster.RunFor(Duration(5000));
  const std::string leader = *cluster.Leader();
  const std::string owner = AssignmentOf(cluster, leader, "r1").owner->value();
  const size_t actions_before = cluster.host(owner).actions.size();

  cluster.Shutdown(owner);
  cluster.RunFor(Duration(3000));

  const std::vector<GuestAction>& actions = cluster.host(owner).actions;
  ASSERT_GT(actions.size(), actions_before);
  for (size_t i = actions_before; i < actions.size(); ++i) {
    EXPECT_NE(actions[i].reason, ActionReason::kShutdown) << "halted by the node itself";
  }
  const Assignment& moved = AssignmentOf(cluster, leader, "r1");
  ASSERT_TRUE(moved.owner.has_value());
  EXPECT_NE(moved.owner->value(), owner);
  EXPECT_EQ(moved.status, AssignmentStatus::kStarted);
  EXPECT_TRUE(cluster.node(owner).ShutdownDone());
}

// What `view` shows of a cold start (DESIGN.md section 5): the leader, which decides it,
// knows whom it waits for and how long; a follower only that placement waits.
TEST(Node, AColdStartShowsWhomTheLeaderWaitsForAndTheTimeLeft) {
  NodeCluster cluster(3, {"r1"});
  cluster.Start("n1");
  cluster.Start("n2");
  cluster.RunFor(Duration(5000));
  const std::string leader = *cluster.Leader();
  const std::string follower = leader == "n1" ? "n2" : "n1";

  const std::optional<StartWait> on_leader = cluster.node(leader).StartWaitOf(cluster.now);
  const std::optional<StartWait> on_follower = cluster.node(follower).StartWaitOf(cluster.now);
  cluster.Start("n3");
  cluster.RunFor(Duration(3000));
  const std::optional<StartWait> once_started = cluster.node(leader).StartWaitOf(cluster.now);

  ASSERT_TRUE(on_leader.has_value());
  EXPECT_TRUE(on_leader->decided_here);
  EXPECT_EQ(on_leader->waiting_for, std::vector<NodeName>{NodeName("n3")});
  EXPECT_EQ(on_leader->wait, Duration(60000));
  ASSERT_TRUE(on_leader->left.has_value());
  EXPECT_GT(*on_leader->left, Duration(54000));  // The leader was ready within 5 s.
  EXPECT_LE(*on_leader->left, Duration(60000));
  ASSERT_TRUE(on_follower.has_value());
  EXPECT_FALSE(on_follower->decided_here);
  EXPECT_TRUE(on_follower->waiting_for.empty());
  EXPECT_FALSE(on_follower->left.has_value());
  EXPECT_FALSE(once_started.has_value());
  EXPECT_TRUE(cluster.node(leader).state().cluster_started());
}

TEST(Node, DisarmedClusterKeepsAnIsolatedOwnersGuestRunningPastTheNormalLease) {
  NodeCluster cluster(3, {"r1"});
  cluster.StartAll();
  cluster.RunFor(Duration(5000));
  const std::string leader = *cluster.Leader();
  const std::string owner = AssignmentOf(cluster, leader, "r1").owner->value();
  cluster.ProposeOps(leader, {DisarmOp{.length = Duration(10000)}});
  cluster.RunFor(Duration(500));  // Disarmed grants reach every node.
  WatchExclusivity(cluster, {"r1"});

  cluster.drop = [owner](const raft::Message& message) {
    return message.header.from.value() == owner || message.header.to.value() == owner;
  };
  cluster.RunFor(Duration(5000));  // Five normal lease lengths.

  EXPECT_EQ(cluster.Holders("r1"), std::vector<std::string>{owner});
  cluster.RunFor(Duration(12000));  // Past D: fenced, then failed over.
  const Assignment& moved = AssignmentOf(cluster, *cluster.Leader(), "r1");
  EXPECT_NE(moved.owner->value(), owner);
}

TEST(Node, ArmingShortensEveryGuardAndCommitsArmedForEveryMember) {
  NodeCluster cluster(3, {"r1"});
  cluster.StartAll();
  cluster.RunFor(Duration(5000));
  const std::string leader = *cluster.Leader();
  cluster.ProposeOps(leader, {DisarmOp{.length = Duration(60000)}});
  cluster.RunFor(Duration(1000));
  const Time disarmed_deadline = *cluster.guard("n1").deadline;

  cluster.ProposeOps(leader, {ArmOp{}});
  cluster.RunFor(Duration(1000));

  for (const std::string name : {"n1", "n2", "n3"}) {
    EXPECT_LT(*cluster.guard(name).deadline, cluster.now + Duration(1000)) << name;
    EXPECT_TRUE(cluster.node(leader).state().ArmedSinceLatestArm(NodeName(name))) << name;
    EXPECT_EQ(cluster.node(leader).state().WaitFor(NodeName(name)), Duration(1000)) << name;
  }
  EXPECT_GT(disarmed_deadline, cluster.now + Duration(50000));
}

}  // namespace
}  // namespace cmcl::node

namespace cmcl::node {
namespace {

TEST(Node, DisarmWithoutADurationOrLongerThanDisarmMaxIsRejectedBeforeTheLog) {
  testing::NodeCluster cluster(1, {});
  cluster.StartAll();
  cluster.RunFor(Duration(3000));
  const raft::LogIndex last = cluster.node("n1").raft().last_index();

  cluster.ProposeOps("n1", {DisarmOp{.length = Duration(0)}});
  cluster.ProposeOps("n1", {DisarmOp{.length = std::chrono::hours(5)}});
  cluster.ProposeOps("n1", {DisarmOp{.length = std::chrono::minutes(30)}});
  cluster.RunFor(Duration(500));

  ASSERT_EQ(cluster.replies.size(), 3u);
  EXPECT_EQ(cluster.replies[0].code, raft::ReplyCode::kRejected);
  EXPECT_EQ(cluster.replies[0].detail, "disarm needs a duration (--for DURATION)");
  EXPECT_EQ(cluster.replies[1].code, raft::ReplyCode::kRejected);
  EXPECT_EQ(cluster.replies[1].detail, "disarm for 5h is longer than disarm_max (4h)");
  EXPECT_EQ(cluster.replies[2].code, raft::ReplyCode::kApplied);
  EXPECT_EQ(cluster.node("n1").raft().last_index(), last + 1) << "only the valid one logged";
  EXPECT_EQ(cluster.node("n1").state().mode(), raft::LeaseMode::kDisarmed);
}

}  // namespace
}  // namespace cmcl::node

namespace cmcl::node {
namespace {

// The danger this guards against: an earlier incarnation started R, saw it fail and
// reported `failed` (still in flight) before the daemon restarted; the coordinator then
// gives R to another node. Had the new incarnation started R again from its stale
// applied state, R would run twice. So it reports instead, and the coordinator decides.
TEST(Node, RestartedNodeNeverStartsAnAssignmentAnEarlierIncarnationMayHaveActedOn) {
  testing::NodeCluster cluster(3, {"r1", "r2", "r3"});
  for (const std::string name : {"n1", "n2", "n3"}) {
    cluster.host(name).hold = {PackageName("r1"), PackageName("r2"), PackageName("r3")};
  }
  cluster.StartAll();
  cluster.RunFor(Duration(5000));  // Assigned; every start hangs in the driver.
  const std::string leader = *cluster.Leader();
  std::string resource;
  for (const std::string candidate : {"r1", "r2", "r3"}) {
    if (AssignmentOf(cluster, leader, candidate).owner->value() != leader) {
      resource = candidate;
    }
  }
  ASSERT_FALSE(resource.empty());
  const std::string owner = AssignmentOf(cluster, leader, resource).owner->value();
  const LogIndex epoch = AssignmentOf(cluster, leader, resource).epoch;
  for (const std::string name : {"n1", "n2", "n3"}) {
    cluster.host(name).hold.clear();
  }

  cluster.Crash(owner);
  cluster.Start(owner);
  cluster.RunFor(Duration(5000));

  size_t starts_at_epoch = 0;
  for (const GuestAction& action : cluster.host(owner).actions) {
    starts_at_epoch += action.verb == GuestVerb::kRun &&
                       action.guest.resource.value() == resource && action.guest.epoch == epoch;
  }
  EXPECT_EQ(starts_at_epoch, 1u) << "only the first incarnation's (hung) start";
  const Assignment& now = AssignmentOf(cluster, *cluster.Leader(), resource);
  EXPECT_GT(now.epoch, epoch) << "reported, and the coordinator placed it again";
  EXPECT_EQ(now.status, AssignmentStatus::kStarted);
}

}  // namespace
}  // namespace cmcl::node

namespace cmcl::node {
namespace {

// DESIGN.md section 4, notation: waits keep the old, longer L until stretch(old L) after
// the coordinator applied the shorter one; then it commits lease_max and waits shrink.
TEST(Node, AShorterLeaseLengthLowersLMaxOnlyAStretchedOldLeaseLater) {
  testing::NodeCluster cluster(3, {});
  cluster.StartAll();
  cluster.RunFor(Duration(3000));
  const std::string leader = *cluster.Leader();

  cluster.ProposeOps(leader, {LeaseLengthOp{.length = Duration(600)}});
  const Time applied_at = cluster.now;
  cluster.RunUntil(applied_at + Duration(900));

  const ClusterState& state = cluster.node(leader).state();
  EXPECT_EQ(state.lease_length(), Duration(600));
  EXPECT_EQ(state.lease_length_max(), Duration(1000));
  EXPECT_EQ(state.WaitFor(NodeName("n1")), Duration(1000));
  cluster.RunUntil(applied_at + Duration(1300));
  EXPECT_EQ(cluster.node(leader).state().lease_length_max(), Duration(600));
  EXPECT_EQ(cluster.node(leader).state().WaitFor(NodeName("n1")), Duration(600));
}

}  // namespace
}  // namespace cmcl::node

namespace cmcl::node {
namespace {

// A restarted node reconciles only once it knows every guest's status and holds a grant
// with applied >= c; until then it starts and adopts nothing. What it knows without
// authority it must still report: an owned guest registered nowhere here is not running.
// Here another guest's status never answers; in sim seed 821 --swarm the node's applied
// index never reached its grants' c (it replicated one entry per round trip while the
// log grew as fast). Either way the lost guest stayed "up" there forever before.
TEST(Node, ARestartedNodeThatCannotReconcileStillReportsAGuestItNoLongerRuns) {
  testing::NodeCluster cluster(3, {"r1", "r2", "r3", "r4", "r5", "r6"});
  cluster.StartAll();
  cluster.RunFor(Duration(5000));
  const std::string leader = *cluster.Leader();
  std::map<std::string, std::vector<std::string>> owned;
  for (const std::string resource : {"r1", "r2", "r3", "r4", "r5", "r6"}) {
    const Assignment& a = AssignmentOf(cluster, leader, resource);
    ASSERT_EQ(a.status, AssignmentStatus::kStarted) << resource;
    owned[a.owner->value()].push_back(resource);
  }
  std::string owner;
  for (const auto& [node, resources] : owned) {
    if (node != leader && resources.size() >= 2) owner = node;
  }
  ASSERT_FALSE(owner.empty());
  const std::string lost = owned[owner][0];
  const std::string stuck = owned[owner][1];
  const LogIndex epoch = AssignmentOf(cluster, leader, lost).epoch;

  cluster.Crash(owner);
  // While the daemon is down, `lost` is killed and unregistered (in seed 821 the earlier
  // incarnation's fence did it), and the driver stops answering about `stuck`.
  cluster.host(owner).running.erase(PackageName(lost));
  cluster.guard(owner).registered.erase(PackageName(lost));
  cluster.host(owner).hold.insert(PackageName(stuck));
  cluster.Start(owner);
  cluster.RunFor(Duration(5000));

  const Assignment& now = AssignmentOf(cluster, leader, lost);
  EXPECT_TRUE(
      HasEvent(cluster.node(leader).state(), {lost + ": " + owner + " reported failed at epoch"}));
  EXPECT_GT(now.epoch, epoch) << "still " << AssignmentStatusName(now.status) << " on " << owner
                              << " at its old epoch";
  EXPECT_EQ(now.status, AssignmentStatus::kStarted) << "placed again, and up";
}

}  // namespace
}  // namespace cmcl::node

namespace cmcl::node {
namespace {

// --- Issue 10: cluster disarm --for D / cluster arm from an operator ------------------

TEST(Node, AnOperatorDisarmLongerThanDisarmMaxIsRejectedBeforeTheLog) {
  testing::NodeCluster cluster(1, {});
  cluster.StartAll();
  cluster.RunFor(Duration(3000));
  const raft::LogIndex last = cluster.node("n1").raft().last_index();

  cluster.ProposeOps("n1", {ClusterModeOp{.disarm_for = std::chrono::hours(5), .by = "root"}});
  cluster.RunFor(Duration(500));

  ASSERT_EQ(cluster.replies.size(), 1u);
  EXPECT_EQ(cluster.replies[0].code, raft::ReplyCode::kRejected);
  EXPECT_EQ(cluster.replies[0].detail, "disarm for 5h is longer than disarm_max (4h)");
  EXPECT_EQ(cluster.node("n1").raft().last_index(), last);
  EXPECT_EQ(cluster.node("n1").state().mode(), raft::LeaseMode::kArmed);
}

TEST(Node, EveryNodeCountsDownTheDisarmFromWhenItAppliedIt) {
  testing::NodeCluster cluster(3, {"r1"});
  cluster.StartAll();
  cluster.RunFor(Duration(5000));
  const std::string leader = *cluster.Leader();
  EXPECT_FALSE(cluster.node("n1").DisarmLeft(cluster.now).has_value());

  cluster.ProposeOps(leader, {ClusterModeOp{.disarm_for = Duration(30000), .by = "root"}});
  cluster.RunFor(Duration(10000));

  for (const std::string name : {"n1", "n2", "n3"}) {
    const std::optional<Duration> left = cluster.node(name).DisarmLeft(cluster.now);
    ASSERT_TRUE(left.has_value()) << name;
    EXPECT_GE(*left, Duration(20000)) << name;  // Applied after the proposal,
    EXPECT_LE(*left, Duration(21000)) << name;  // and within a second of it.
  }
}

TEST(Node, TheCoordinatorArmsTheClusterWhenTheDisarmsDurationHasPassed) {
  testing::NodeCluster cluster(3, {"r1"});
  cluster.options().arm_when_disarm_ends = true;
  cluster.StartAll();
  cluster.RunFor(Duration(5000));
  const std::string leader = *cluster.Leader();
  cluster.ProposeOps(leader, {ClusterModeOp{.disarm_for = Duration(20000), .by = "root"}});
  cluster.RunFor(Duration(15000));
  const raft::LeaseMode before = cluster.node(leader).state().mode();

  cluster.RunFor(Duration(10000));

  EXPECT_EQ(before, raft::LeaseMode::kDisarmed);
  const ClusterState& state = cluster.node(*cluster.Leader()).state();
  EXPECT_EQ(state.mode(), raft::LeaseMode::kArmed);
  EXPECT_FALSE(cluster.node(leader).DisarmLeft(cluster.now).has_value());
  bool said = false;
  for (const ClusterEvent& event : state.events()) {
    said = said || event.text.find("cluster armed (lease 1s) by coordinator " + leader +
                                   " (the disarm for 20s ended)") != std::string::npos;
  }
  EXPECT_TRUE(said);
  for (const std::string name : {"n1", "n2", "n3"}) {
    EXPECT_TRUE(state.ArmedSinceLatestArm(NodeName(name))) << name;
  }
}

TEST(Node, WithoutArmWhenDisarmEndsTheClusterStaysDisarmedPastD) {
  testing::NodeCluster cluster(3, {"r1"});
  cluster.StartAll();
  cluster.RunFor(Duration(5000));
  const std::string leader = *cluster.Leader();
  cluster.ProposeOps(leader, {ClusterModeOp{.disarm_for = Duration(5000), .by = "root"}});

  cluster.RunFor(Duration(10000));

  EXPECT_EQ(cluster.node(*cluster.Leader()).state().mode(), raft::LeaseMode::kDisarmed);
  EXPECT_EQ(cluster.node(leader).DisarmLeft(cluster.now), Duration(0));
}

}  // namespace
}  // namespace cmcl::node
