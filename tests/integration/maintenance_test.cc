// Integration tests of maintenance (issue 10; MaintenanceOp in cluster_state.h): real
// cmcld nodes driven by pkgctl. Node maintenance moves the node's package to another
// node, keeps the node out of placement, and leaving it moves nothing back (failback
// manual); package maintenance keeps a guest killed behind cmcld's back from being
// restarted or failed over, and both survive a restart of every daemon. Ground truth is
// the guests' ledger and disk lock (local_cluster.h).
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/local_cluster.h"

namespace cmcl::testing {
namespace {

using std::chrono::seconds;

LocalCluster::Options TwoGuests() {
  LocalCluster::Options options;
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

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Kills (SIGKILL) every process holding `path` open: the guest behind cmcld's back.
int KillHolders(const std::string& path) {
  int killed = 0;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return 0;
  while (const dirent* entry = readdir(proc)) {
    const std::string pid = entry->d_name;
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string fds = "/proc/" + pid + "/fd";
    DIR* dir = opendir(fds.c_str());
    if (dir == nullptr) continue;
    bool holds = false;
    while (const dirent* fd = readdir(dir)) {
      char target[PATH_MAX];
      const std::string link = fds + "/" + fd->d_name;
      const ssize_t size = readlink(link.c_str(), target, sizeof(target) - 1);
      if (size > 0 && std::string(target, static_cast<size_t>(size)) == path) holds = true;
    }
    closedir(dir);
    if (holds && kill(std::stoi(pid), SIGKILL) == 0) ++killed;
  }
  closedir(proc);
  return killed;
}

class MaintenanceTest : public ::testing::Test {
 protected:
  void StartAndPlace() {
    cluster.StartAll();
    ASSERT_TRUE(
        LocalCluster::WaitFor([&] { return UpOn(cluster, 0, "g1", "node1"); }, seconds(30)));
    ASSERT_TRUE(
        LocalCluster::WaitFor([&] { return UpOn(cluster, 0, "g2", "node2"); }, seconds(30)));
  }
  LocalCluster cluster{TwoGuests()};
};

TEST_F(MaintenanceTest, NodeMaintenanceMovesItsPackageAwayAndOffMovesNothingBack) {
  StartAndPlace();

  const CommandResult on = cluster.Pkgctl(2, {"node", "maintenance", "node1", "on"});
  const bool moved = LocalCluster::WaitFor(
      [&] { return UpOn(cluster, 2, "g1", "node2") || UpOn(cluster, 2, "g1", "node3"); },
      seconds(20));
  const std::optional<JsonValue> view = cluster.View(2);
  const CommandResult move = cluster.Pkgctl(2, {"move", "g2", "-n", "node1"});
  const CommandResult off = cluster.Pkgctl(2, {"node", "maintenance", "node1", "off"});
  std::this_thread::sleep_for(seconds(3));  // Time for a wrong failback to show.

  ASSERT_EQ(on.exit_status, 0) << on.out << on.err;
  EXPECT_TRUE(moved) << cluster.Package(2, "g1")["node"].String();
  EXPECT_EQ(cluster.RunningCopies("g1"), 1);
  ASSERT_TRUE(view.has_value());
  EXPECT_EQ(view->Named("nodes", "node1")["state"].String(), "maintenance");
  EXPECT_EQ(move.exit_status, 1) << move.out;
  EXPECT_TRUE(Contains(move.out, "node1 is in maintenance")) << move.out;
  EXPECT_EQ(off.exit_status, 0) << off.out << off.err;
  EXPECT_FALSE(UpOn(cluster, 2, "g1", "node1"));  // failback_policy manual: it stays.
  EXPECT_EQ(cluster.Package(2, "g1")["status"].String(), "up");
  const std::optional<JsonValue> after = cluster.View(2);
  ASSERT_TRUE(after.has_value());
  EXPECT_NE(after->Named("nodes", "node1")["state"].String(), "maintenance");
}

TEST_F(MaintenanceTest, PackageMaintenanceIgnoresAKilledGuestAndSurvivesRestartingAllDaemons) {
  StartAndPlace();
  const auto starts = [&] {
    size_t count = 0;
    for (const LedgerRecord& record : cluster.Ledger("g1")) count += record.what == "start";
    return count;
  };
  const size_t started = starts();

  const CommandResult on = cluster.Pkgctl(0, {"package", "maintenance", "g1", "on"});
  const CommandResult node = cluster.Pkgctl(0, {"node", "maintenance", "node3", "on"});
  const int killed = KillHolders(cluster.FilePath("disks/g1.img"));
  std::this_thread::sleep_for(seconds(4));  // Long enough for a restart or a failover.
  const size_t started_after_kill = starts();
  const std::string status_after_kill = cluster.Package(0, "g1")["status"].String();
  for (int i = 0; i < 3; ++i) cluster.CrashDaemon(i);
  for (int i = 0; i < 3; ++i) cluster.Start(i);
  const bool back = LocalCluster::WaitFor(
      [&] { return cluster.Package(1, "g2")["status"].String() == "up"; }, seconds(30));
  // Every node heard from again, so node3's state is known (not "unknown").
  LocalCluster::WaitFor(
      [&] {
        const std::optional<JsonValue> v = cluster.View(1);
        return v && v->Named("nodes", "node3")["state"].String() != "unknown";
      },
      seconds(20));
  const std::optional<JsonValue> view = cluster.View(1);
  const CommandResult off = cluster.Pkgctl(1, {"package", "maintenance", "g1", "off"});
  const bool up_again = LocalCluster::WaitFor(
      [&] {
        return cluster.RunningCopies("g1") == 1 &&
               cluster.Package(1, "g1")["status"].String() == "up";
      },
      seconds(40));

  ASSERT_EQ(on.exit_status, 0) << on.out << on.err;
  ASSERT_EQ(node.exit_status, 0) << node.out << node.err;
  EXPECT_GE(killed, 1);
  EXPECT_EQ(started_after_kill, started) << "restarted while in maintenance";
  EXPECT_NE(status_after_kill, "failed");
  ASSERT_TRUE(back);
  ASSERT_TRUE(view.has_value());
  EXPECT_TRUE(view->Named("packages", "g1")["maintenance"].Bool());
  EXPECT_FALSE(view->Named("packages", "g2")["maintenance"].Bool());
  EXPECT_EQ(view->Named("nodes", "node3")["state"].String(), "maintenance");
  EXPECT_EQ(off.exit_status, 0) << off.out << off.err;
  EXPECT_TRUE(up_again) << cluster.Package(1, "g1")["status"].String();
  EXPECT_NE(cluster.Package(1, "g1")["node"].String(), "node3");
}

}  // namespace
}  // namespace cmcl::testing
