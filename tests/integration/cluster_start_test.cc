// Integration tests of starting and stopping the whole cluster (issue 9; DESIGN.md
// section 5, "Cluster start"; INTERFACE.md `cluster run|halt`, `cluster_start_wait`,
// SIGTERM): `cluster halt` refused while packages run and forced, cold starts that wait
// for a late node or for cluster_start_wait, `cluster run`, and a SIGTERM on a node that
// has lost its quorum. Ground truth: the guests' ledgers and disk locks, the halt
// scripts' own record of each run (CMCL_REASON), and the daemons' exit statuses.
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/local_cluster.h"

namespace cmcl::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

LocalCluster::Options TwoGuests(const std::string& cluster_start_wait) {
  LocalCluster::Options options;
  options.cluster_start_wait = cluster_start_wait;
  options.packages = {
      PackageDef{.name = "g1", .nodes = {"node1", "node2", "node3"}},
      PackageDef{.name = "g2", .nodes = {"node2", "node3", "node1"}},
  };
  return options;
}

bool UpOn(const LocalCluster& cluster, int from, const std::string& package,
          const std::string& node) {
  const JsonValue entry = cluster.Package(from, package);
  return entry["status"].String() == "up" && entry["node"].String() == node;
}

bool UpAnywhere(const LocalCluster& cluster, int from, const std::string& package) {
  return cluster.Package(from, package)["status"].String() == "up";
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

int64_t MillisecondsSince(Clock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
}

// The coordinator's view (the node whose view names itself the coordinator), or -1.
int Coordinator(const LocalCluster& cluster, const std::vector<int>& nodes) {
  for (const int node : nodes) {
    const std::optional<JsonValue> view = cluster.View(node);
    if (view && (*view)["cluster"]["coordinator"].String() == cluster.Name(node)) return node;
  }
  return -1;
}

TEST(ClusterHaltTest, IsRefusedWhilePackagesRunThenForcedHaltsEverythingAndDaemonsExit0) {
  LocalCluster cluster(TwoGuests("10s"));
  cluster.StartAll();
  ASSERT_TRUE(LocalCluster::WaitFor([&] { return UpOn(cluster, 0, "g1", "node1"); }, seconds(20)));
  ASSERT_TRUE(LocalCluster::WaitFor([&] { return UpOn(cluster, 0, "g2", "node2"); }, seconds(20)));

  const CommandResult refused = cluster.Pkgctl(2, {"cluster", "halt"}, false);
  const bool still_up = UpOn(cluster, 1, "g1", "node1") && UpOn(cluster, 1, "g2", "node2");
  const CommandResult forced = cluster.Pkgctl(2, {"cluster", "halt", "--force"}, false);
  std::vector<int> statuses(3, -1);
  std::vector<bool> exited(3, false);
  for (int i = 0; i < 3; ++i) {
    exited[static_cast<size_t>(i)] =
        cluster.WaitDaemonExit(i, seconds(15), &statuses[static_cast<size_t>(i)]);
  }

  EXPECT_EQ(refused.exit_status, 1) << refused.out << refused.err;
  EXPECT_TRUE(Contains(refused.err, "g1")) << refused.err;
  EXPECT_TRUE(Contains(refused.err, "g2")) << refused.err;
  EXPECT_TRUE(Contains(refused.err, "--force")) << refused.err;
  EXPECT_TRUE(still_up) << "the refused halt stopped something";
  EXPECT_EQ(forced.exit_status, 0) << forced.out << forced.err;
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(exited[static_cast<size_t>(i)]) << cluster.Name(i) << "'s cmcld still runs";
    EXPECT_EQ(statuses[static_cast<size_t>(i)], 0) << cluster.Name(i);
  }
  EXPECT_EQ(cluster.RunningCopies("g1"), 0);
  EXPECT_EQ(cluster.RunningCopies("g2"), 0);
  for (const std::string package : {"g1", "g2"}) {
    const std::vector<std::string> halts = cluster.Halts(package);
    ASSERT_FALSE(halts.empty()) << package << "'s halt script never ran";
    EXPECT_TRUE(Contains(halts.back(), " halt")) << halts.back();  // CMCL_REASON=halt.
    EXPECT_EQ(cluster.Ledger(package).back().what, "stop") << package << " was killed";
  }

  // After a forced halt the cluster stays down on restart until `cluster run`.
  cluster.StartAll();
  std::this_thread::sleep_for(seconds(3));
  const std::optional<JsonValue> restarted = cluster.View(0);
  const CommandResult run = cluster.Pkgctl(1, {"cluster", "run"});

  ASSERT_TRUE(restarted.has_value());
  EXPECT_EQ((*restarted)["cluster"]["status"].String(), "down");
  EXPECT_TRUE((*restarted)["cluster"]["start_wait"].IsNull());
  EXPECT_EQ(cluster.RunningCopies("g1"), 0);
  EXPECT_EQ(run.exit_status, 0) << run.out << run.err;
  EXPECT_TRUE(LocalCluster::WaitFor([&] { return UpOn(cluster, 0, "g1", "node1"); }, seconds(20)));
}

TEST(ColdStartTest, WaitsForTheLateNodeSaysSoInViewAndStartsWhenItComes) {
  LocalCluster cluster(TwoGuests("60s"));
  cluster.Start(0);
  cluster.Start(1);
  int coordinator = -1;
  ASSERT_TRUE(LocalCluster::WaitFor(
      [&] { return (coordinator = Coordinator(cluster, {0, 1})) >= 0; }, seconds(20)));
  const int follower = coordinator == 0 ? 1 : 0;

  std::this_thread::sleep_for(seconds(2));
  const std::optional<JsonValue> on_coordinator = cluster.View(coordinator);
  const std::optional<JsonValue> on_follower = cluster.View(follower);
  const CommandResult table = cluster.Pkgctl(coordinator, {"view"}, false);
  const CommandResult follower_table = cluster.Pkgctl(follower, {"view"}, false);
  const int copies_while_waiting = cluster.RunningCopies("g1") + cluster.RunningCopies("g2");
  const auto third_started = Clock::now();
  cluster.Start(2);
  const bool started = LocalCluster::WaitFor(
      [&] { return UpOn(cluster, 0, "g1", "node1") && UpOn(cluster, 0, "g2", "node2"); },
      seconds(20));
  const int64_t took_ms = MillisecondsSince(third_started);

  ASSERT_TRUE(on_coordinator.has_value());
  const JsonValue& wait = (*on_coordinator)["cluster"]["start_wait"];
  EXPECT_EQ((*on_coordinator)["cluster"]["status"].String(), "starting");
  ASSERT_EQ(wait["waiting_for"].size(), 1U) << table.out;
  EXPECT_EQ(wait["waiting_for"][size_t{0}].String(), "node3");
  EXPECT_TRUE(wait["decided_here"].Bool());
  EXPECT_EQ(wait["cluster_start_wait_ms"].Number(), 60000);
  EXPECT_GT(wait["left_ms"].Number(), 30000);
  EXPECT_LE(wait["left_ms"].Number(), 60000);
  EXPECT_TRUE(Contains(table.out, "cluster start: waiting for node3 (cluster_start_wait 1m, "))
      << table.out;
  ASSERT_TRUE(on_follower.has_value());
  EXPECT_EQ((*on_follower)["cluster"]["start_wait"]["waiting_for"][size_t{0}].String(), "node3");
  EXPECT_TRUE((*on_follower)["cluster"]["start_wait"]["left_ms"].IsNull());
  EXPECT_TRUE(Contains(follower_table.out, "cluster start: waiting for node3 (not heard from "
                                           "here; cluster_start_wait 1m)"))
      << follower_table.out;
  EXPECT_EQ(on_coordinator->Named("packages", "g1")["state"].String(), "start_wait");
  EXPECT_EQ(copies_while_waiting, 0);
  EXPECT_TRUE(started);
  std::cout << "placement started " << took_ms << " ms after the third node's cmcld started\n";
  EXPECT_LT(took_ms, 20000);
  EXPECT_TRUE(cluster.View(2)->operator[]("cluster")["start_wait"].IsNull());
}

TEST(ColdStartTest, GoesAheadWithoutTheLateNodeOnceClusterStartWaitPassed) {
  LocalCluster cluster(TwoGuests("4s"));
  cluster.Start(0);
  const auto second_started = Clock::now();
  cluster.Start(1);  // From here a coordinator can be elected: the 4 s count from then.

  std::this_thread::sleep_for(seconds(1));
  const int copies_early = cluster.RunningCopies("g1") + cluster.RunningCopies("g2");
  const bool started = LocalCluster::WaitFor(
      [&] { return UpAnywhere(cluster, 0, "g1") && UpAnywhere(cluster, 0, "g2"); }, seconds(20));
  const int64_t took_ms = MillisecondsSince(second_started);
  const CommandResult events = cluster.Pkgctl(1, {"events"}, false);

  EXPECT_EQ(copies_early, 0);
  ASSERT_TRUE(started);
  std::cout << "placement started " << took_ms << " ms after the second node's cmcld started "
            << "(cluster_start_wait 4s)\n";
  EXPECT_GE(took_ms, 3500);
  EXPECT_TRUE(UpOn(cluster, 0, "g1", "node1"));
  EXPECT_TRUE(UpOn(cluster, 0, "g2", "node2"));
  EXPECT_TRUE(Contains(events.out, "cluster_start_wait (4s) passed with 2 of 3 up")) << events.out;
}

TEST(ColdStartTest, ClusterRunStartsPlacementAtOnce) {
  LocalCluster cluster(TwoGuests("60s"));
  cluster.Start(0);
  cluster.Start(1);
  ASSERT_TRUE(LocalCluster::WaitFor([&] { return Coordinator(cluster, {0, 1}) >= 0; },
                                    seconds(20)));

  const auto asked = Clock::now();
  const CommandResult run = cluster.Pkgctl(0, {"cluster", "run", "-n", "node1", "-n", "node2"});
  const bool started = LocalCluster::WaitFor(
      [&] { return UpOn(cluster, 0, "g1", "node1") && UpOn(cluster, 0, "g2", "node2"); },
      seconds(20));
  const int64_t took_ms = MillisecondsSince(asked);
  const CommandResult late = cluster.Pkgctl(0, {"cluster", "run", "-n", "node3"});

  EXPECT_EQ(run.exit_status, 0) << run.out << run.err;
  EXPECT_TRUE(started);
  std::cout << "placement started " << took_ms << " ms after cluster run\n";
  EXPECT_LT(took_ms, 20000);
  EXPECT_EQ(late.exit_status, 1) << late.out;  // node3 is not heard from.
}

// SIGTERM on a node whose quorum is gone but whose lease still runs: its `node halt`
// cannot commit, so it halts its guest itself with the halt script (CMCL_REASON
// shutdown) before its fence point, and exits 0 — the guest is not killed by a fence.
// A 3 s lease leaves room to stop two nodes and signal the third within it.
TEST(ShutdownTest, SigtermWithoutQuorumHaltsTheGuestsWithTheirHaltScriptsAndExits0) {
  LocalCluster::Options options = TwoGuests("10s");
  options.node_timeout = "3s";
  options.heartbeat_interval = "300ms";
  options.packages = {PackageDef{.name = "g1", .nodes = {"node3", "node1", "node2"}}};
  LocalCluster cluster(options);
  cluster.StartAll();
  ASSERT_TRUE(LocalCluster::WaitFor([&] { return UpOn(cluster, 0, "g1", "node3"); }, seconds(20)));
  const size_t records = cluster.Ledger("g1").size();

  cluster.CrashNode(0);
  cluster.CrashNode(1);
  const auto signalled = Clock::now();
  int status = -1;
  const bool exited = cluster.StopDaemon(2, seconds(20), &status);
  const int64_t took_ms = MillisecondsSince(signalled);

  EXPECT_TRUE(exited);
  EXPECT_EQ(status, 0);
  std::cout << "node3's cmcld exited " << took_ms << " ms after SIGTERM without quorum\n";
  const std::vector<LedgerRecord> ledger = cluster.Ledger("g1");
  ASSERT_EQ(ledger.size(), records + 1) << "expected one stop record after the start";
  EXPECT_EQ(ledger.back().what, "stop") << "the guest was killed, not halted";
  EXPECT_EQ(ledger.back().node, "node3");
  const std::vector<std::string> halts = cluster.Halts("g1");
  ASSERT_FALSE(halts.empty()) << "the halt script never ran";
  EXPECT_EQ(halts.back(), "node3 shutdown");
  EXPECT_EQ(cluster.RunningCopies("g1"), 0);
}

}  // namespace
}  // namespace cmcl::testing
