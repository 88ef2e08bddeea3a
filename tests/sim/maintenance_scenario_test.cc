// Hand-written maintenance scenarios (issue 10; MaintenanceOp in cluster_state.h) on the
// deterministic simulator, with every checker of the seed sweep: node maintenance moves
// a package away and nothing starts on that node until it leaves maintenance; --freeze
// keeps it in place; package maintenance keeps a lost owner's package assigned (no
// failover) until maintenance ends; and maintenance survives a restart of every daemon.
// Members n1..n3, one package p1 on n1, n2, n3 in that order; n3 sees p1's disk with
// another WWID, so validation refuses n3 and n2 is p1's only other node.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "tests/sim/simulation.h"
#include "tests/support/config_builder.h"

namespace cmcl::sim {
namespace {

using test_support::ClusterBuilder;
using test_support::Gib;
using test_support::InventoryBuilder;
using test_support::PackageBuilder;

constexpr const char* kWwid = "0x600508b400000001";
const PackageName kP1("p1");

SimOptions QuietOptions() {
  SimOptions options;
  options.seed = 11;
  options.members = 3;
  options.loss = 0;
  options.duplication = 0;
  options.nemeses = {};
  options.outcasts = 0;
  options.fault_phase = Duration(1'000'000);  // The test places every fault.
  options.clients = 1;
  options.operator_chance = 0;
  options.disarm_chance = 0;
  options.kill_failure = 0;
  options.cluster_start_wait = Duration(0);
  return options;
}

std::shared_ptr<const SimPackages> OnePackage(const SimOptions& options,
                                              const PackageBehaviour& behaviour) {
  const auto inventory = [](const char* wwid) {
    return InventoryBuilder()
        .Disk("/dev/rdisk/p1", wwid)
        .Vswitch("vsw0", "lan0")
        .Capacity(8, Gib(16))
        .Build();
  };
  config::PackageSpec spec = PackageBuilder("p1")
                                 .Nodes({"n1", "n2", "n3"})
                                 .Disk("/dev/rdisk/p1", kWwid)
                                 .Network("vsw0")
                                 .Build();
  spec.run_timeout = Duration(500);
  spec.halt_timeout = Duration(500);
  spec.kill_timeout = Duration(50);
  config::ClusterConfig config = ClusterBuilder("sim")
                                     .Node("n1", inventory(kWwid))
                                     .Node("n2", inventory(kWwid))
                                     .Node("n3", inventory("0x600508b4bad00001"))
                                     .Package(spec)
                                     .Build();
  ApplySimTimings(options, config);
  auto packages = std::make_shared<SimPackages>();
  packages->config = std::make_shared<const config::ClusterConfig>(std::move(config));
  packages->behaviour[kP1] = behaviour;
  packages->names = {kP1};
  return packages;
}

node::MaintenanceOp NodeMaintenance(const std::string& node, bool on, bool freeze = false) {
  return node::MaintenanceOp{
      .node = NodeName(node), .package = std::nullopt, .on = on, .freeze = freeze, .by = "test"};
}

node::MaintenanceOp PackageMaintenance(bool on) {
  return node::MaintenanceOp{
      .node = std::nullopt, .package = kP1, .on = on, .freeze = false, .by = "test"};
}

class MaintenanceCluster {
 public:
  explicit MaintenanceCluster(const PackageBehaviour& behaviour = {})
      : options_(QuietOptions()), sim_(options_, trace_, OnePackage(options_, behaviour)) {
    sim_.Setup();
  }
  // Runs in 10ms steps until `done` or `limit`; true if `done`. Fails on a violation.
  bool RunUntil(Duration limit, const std::function<bool()>& done) {
    const Time end = sim_.now() + limit;
    while (sim_.now() < end) {
      if (!sim_.RunUntil(sim_.now() + Duration(10))) {
        ADD_FAILURE() << *sim_.violation();
        return false;
      }
      if (done()) return true;
    }
    return false;
  }
  // Runs for `duration`; true if `never` held at no step (and no violation).
  bool Never(Duration duration, const std::function<bool()>& never) {
    return !RunUntil(duration, never) && !sim_.violation();
  }
  const node::ClusterState* Leader() const {
    const std::optional<NodeName> leader = sim_.Leader();
    return leader ? &sim_.Core(leader->value())->state() : nullptr;
  }
  const node::Assignment* P1() const {
    const node::ClusterState* state = Leader();
    return state ? state->Find(kP1) : nullptr;
  }
  bool UpOn(const std::string& node) const {
    const node::Assignment* a = P1();
    if (a == nullptr || a->owner != NodeName(node) ||
        a->status != node::AssignmentStatus::kStarted) {
      return false;
    }
    const auto& held = sim_.Host(node).held();
    const auto it = held.find(kP1);
    return it != held.end() && it->second.epoch == a->epoch;
  }
  // Sends `ops` as one command and runs until the leader applied it (`applied`).
  bool Command(const node::OpBatch& ops, const std::function<bool()>& applied) {
    sim_.ScriptClient({ops});
    return RunUntil(Duration(10'000), [&] { return Leader() != nullptr && applied(); });
  }
  internal::Simulation& sim() { return sim_; }

 private:
  SimOptions options_;
  std::function<void(const std::string&)> trace_;
  internal::Simulation sim_;
};

TEST(MaintenanceScenario, NodeMaintenanceMovesThePackageAwayAndNothingStartsThereUntilOff) {
  MaintenanceCluster cluster;
  ASSERT_TRUE(cluster.RunUntil(Duration(10'000), [&] { return cluster.UpOn("n1"); }));

  cluster.sim().ScriptClient({{NodeMaintenance("n1", true)}});
  const bool moved = cluster.RunUntil(Duration(15'000), [&] { return cluster.UpOn("n2"); });
  cluster.sim().CrashWhole("n2");  // Its only other node is n1, in maintenance.
  const bool never_on_n1 = cluster.Never(Duration(10'000), [&] {
    return cluster.sim().Host("n1").Holds(kP1) ||
           (cluster.P1() != nullptr && cluster.P1()->owner == NodeName("n1"));
  });
  cluster.sim().ScriptClient({{NodeMaintenance("n1", false)}});
  const bool back = cluster.RunUntil(Duration(15'000), [&] { return cluster.UpOn("n1"); });

  EXPECT_TRUE(moved);
  EXPECT_TRUE(never_on_n1);
  EXPECT_TRUE(back);
  EXPECT_EQ(cluster.sim().exclusivity().max_physical(), 1u);
}

TEST(MaintenanceScenario, FreezeKeepsThePackageRunningWhereItIs) {
  MaintenanceCluster cluster;
  ASSERT_TRUE(cluster.RunUntil(Duration(10'000), [&] { return cluster.UpOn("n1"); }));
  const raft::LogIndex epoch = cluster.P1()->epoch;

  ASSERT_TRUE(cluster.Command({NodeMaintenance("n1", true, /*freeze=*/true)},
                              [&] { return cluster.Leader()->NodeFrozen(NodeName("n1")); }));
  const bool left = !cluster.Never(Duration(8'000), [&] { return !cluster.UpOn("n1"); });

  EXPECT_FALSE(left);
  EXPECT_EQ(cluster.P1()->epoch, epoch);
  EXPECT_TRUE(cluster.Leader()->PackageInMaintenance(kP1));
}

TEST(MaintenanceScenario, PackageMaintenanceDoesNotFailOverWhenTheOwnerCrashesUntilItEnds) {
  MaintenanceCluster cluster;
  ASSERT_TRUE(cluster.RunUntil(Duration(10'000), [&] { return cluster.UpOn("n1"); }));
  const raft::LogIndex epoch = cluster.P1()->epoch;
  ASSERT_TRUE(cluster.Command({PackageMaintenance(true)},
                              [&] { return cluster.Leader()->PackageInMaintenance(kP1); }));

  cluster.sim().CrashWhole("n1");  // Its guest dies with it.
  const bool failed_over = !cluster.Never(
      Duration(10'000), [&] { return cluster.P1() != nullptr && cluster.P1()->epoch != epoch; });
  const bool still_n1 = cluster.P1() != nullptr && cluster.P1()->owner == NodeName("n1");
  cluster.sim().ScriptClient({{PackageMaintenance(false)}});
  const bool up_after = cluster.RunUntil(Duration(15'000), [&] { return cluster.UpOn("n2"); });

  EXPECT_FALSE(failed_over);
  EXPECT_TRUE(still_n1);
  EXPECT_TRUE(up_after);
  EXPECT_EQ(cluster.sim().exclusivity().max_physical(), 1u);
}

// "Stops monitoring": a guest that dies on its own is neither reported nor restarted
// while its package is in maintenance (it stays assigned, its epoch unchanged); leaving
// maintenance asks for its status, and the restart policy takes over.
TEST(MaintenanceScenario, AGuestThatDiesInPackageMaintenanceIsLeftAloneUntilItEnds) {
  MaintenanceCluster cluster(PackageBehaviour{.die = 1.0});
  ASSERT_TRUE(cluster.Command({PackageMaintenance(true)},
                              [&] { return cluster.Leader()->PackageInMaintenance(kP1); }));
  // Placed before maintenance or by this run: an operator's run still starts it.
  cluster.sim().ScriptClient({{node::RunOp{
      .package = kP1, .node = std::nullopt, .enable_switching = true, .by = "test"}}});
  ASSERT_TRUE(cluster.RunUntil(Duration(15'000), [&] { return cluster.UpOn("n1"); }));
  const raft::LogIndex epoch = cluster.P1()->epoch;
  ASSERT_TRUE(
      cluster.RunUntil(Duration(30'000), [&] { return !cluster.sim().Host("n1").Holds(kP1); }));

  const bool acted = !cluster.Never(Duration(5'000), [&] {
    return cluster.P1()->epoch != epoch || cluster.P1()->status != node::AssignmentStatus::kStarted;
  });
  cluster.sim().ScriptClient({{PackageMaintenance(false)}});
  const bool restarted = cluster.RunUntil(
      Duration(15'000), [&] { return cluster.P1() != nullptr && cluster.P1()->epoch != epoch; });

  EXPECT_FALSE(acted);
  EXPECT_TRUE(restarted);
}

TEST(MaintenanceScenario, MaintenanceSurvivesARestartOfEveryDaemon) {
  MaintenanceCluster cluster;
  ASSERT_TRUE(cluster.RunUntil(Duration(10'000), [&] { return cluster.UpOn("n1"); }));
  ASSERT_TRUE(cluster.Command({NodeMaintenance("n2", true, /*freeze=*/true),
                               NodeMaintenance("n3", true), PackageMaintenance(true)},
                              [&] { return cluster.Leader()->PackageInMaintenance(kP1); }));
  const raft::LogIndex epoch = cluster.P1()->epoch;

  for (const char* node : {"n1", "n2", "n3"}) cluster.sim().Crash(node);
  cluster.sim().RunUntil(cluster.sim().now() + Duration(500));
  for (const char* node : {"n1", "n2", "n3"}) cluster.sim().Restart(node);
  // A leader, and time for any decision it would take. (The guard may have fenced the
  // guest meanwhile: then it stays down, since its package is in maintenance.)
  const bool leader = cluster.RunUntil(Duration(20'000), [&] { return cluster.Leader(); });
  cluster.RunUntil(Duration(5'000), [] { return false; });

  ASSERT_TRUE(leader);
  const node::ClusterState& state = *cluster.Leader();
  EXPECT_TRUE(state.PackageInMaintenance(kP1));
  EXPECT_TRUE(state.NodeFrozen(NodeName("n2")));
  EXPECT_TRUE(state.NodeInMaintenance(NodeName("n3")));
  EXPECT_FALSE(state.NodeFrozen(NodeName("n3")));
  EXPECT_EQ(cluster.P1()->epoch, epoch);  // Adopted or fenced there, never placed again.
  EXPECT_FALSE(cluster.sim().Host("n2").Holds(kP1));
  EXPECT_FALSE(cluster.sim().Host("n3").Holds(kP1));
}

}  // namespace
}  // namespace cmcl::sim
