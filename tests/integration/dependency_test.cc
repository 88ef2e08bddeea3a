// depends_on on real daemons (issue 10; cmcld/core/node/dependencies.h): app depends on db
// on the same node. The guests' ledgers (local_cluster.h) are the ground truth for the
// order of starts and halts.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "tests/integration/local_cluster.h"

namespace cmcl::testing {
namespace {

using std::chrono::seconds;

LocalCluster::Options DbAndApp() {
  LocalCluster::Options options;
  options.packages = {
      PackageDef{.name = "db", .nodes = {"node1", "node2", "node3"}},
      PackageDef{.name = "app",
                 .nodes = {"node1", "node2", "node3"},
                 .extra_yaml = "depends_on:\n  - {package: db, location: same_node}\n"},
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

// The time of the last ledger record `what` of `package`; -1: none.
double LastAt(const LocalCluster& cluster, const std::string& package, const std::string& what) {
  double at = -1;
  for (const LedgerRecord& record : cluster.Ledger(package)) {
    if (record.what == what) at = record.at_ms;
  }
  return at;
}

class DependencyTest : public ::testing::Test {
 protected:
  LocalCluster cluster{DbAndApp()};
};

TEST_F(DependencyTest, TheDependentStartsAfterItsDependencyOnItsNodeAndFollowsItOnANodeCrash) {
  cluster.StartAll();
  ASSERT_TRUE(LocalCluster::WaitFor([&] { return UpOn(cluster, 1, "app", "node1"); }, seconds(20)));
  EXPECT_TRUE(UpOn(cluster, 1, "db", "node1"));
  EXPECT_LT(LastAt(cluster, "db", "start"), LastAt(cluster, "app", "start"));

  cluster.CrashNode(0);

  EXPECT_TRUE(LocalCluster::WaitFor([&] { return UpOn(cluster, 1, "app", "node2"); }, seconds(20)));
  EXPECT_TRUE(UpOn(cluster, 1, "db", "node2"));
  EXPECT_LT(LastAt(cluster, "db", "start"), LastAt(cluster, "app", "start"));
  EXPECT_EQ(cluster.RunningCopies("db"), 1);
  EXPECT_EQ(cluster.RunningCopies("app"), 1);
}

TEST_F(DependencyTest, HaltingTheDependencyIsRefusedWhileItsDependentRunsAndARunWaitsForIt) {
  cluster.StartAll();
  ASSERT_TRUE(LocalCluster::WaitFor([&] { return UpOn(cluster, 0, "app", "node1"); }, seconds(20)));

  const CommandResult refused = cluster.Pkgctl(0, {"halt", "db"}, false);
  EXPECT_EQ(refused.exit_status, 1);
  EXPECT_TRUE(Contains(refused.err, "app (up on node1) depends on db: halt it first"))
      << refused.err;
  EXPECT_TRUE(UpOn(cluster, 0, "db", "node1"));

  ASSERT_EQ(cluster.Pkgctl(0, {"halt", "app"}).exit_status, 0);
  ASSERT_EQ(cluster.Pkgctl(0, {"halt", "db"}).exit_status, 0);
  const CommandResult waits = cluster.Pkgctl(0, {"run", "app"}, false);
  EXPECT_EQ(waits.exit_status, 1);
  EXPECT_TRUE(Contains(waits.err, "waiting for db (depends_on)")) << waits.err;
  EXPECT_EQ(cluster.Package(0, "app")["state"].String(), "start_wait");

  ASSERT_EQ(cluster.Pkgctl(0, {"run", "db", "-n", "node3"}).exit_status, 0);

  // app was asked to run: it follows db to node3 once db is up.
  EXPECT_TRUE(LocalCluster::WaitFor([&] { return UpOn(cluster, 0, "app", "node3"); }, seconds(20)));
  EXPECT_EQ(cluster.RunningCopies("app"), 1);
}

}  // namespace
}  // namespace cmcl::testing
