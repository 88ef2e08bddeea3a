// cmcld's start-up refusals (INTERFACE.md "cmcld"): one line naming the cause and exit
// status 2, before anything is started.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "tests/integration/local_cluster.h"

namespace cmcl::testing {
namespace {

using std::chrono::seconds;

LocalCluster::Options OneGuest() {
  LocalCluster::Options options;
  options.node_timeout = "3s";
  options.heartbeat_interval = "300ms";
  options.packages = {PackageDef{.name = "g1", .nodes = {"node1", "node2", "node3"}}};
  return options;
}

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

CommandResult Cmcld(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {CMCLD_BINARY, "--guard", CMCL_GUARD_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, std::chrono::milliseconds(20000));
}

class DaemonStartTest : public ::testing::Test {
 protected:
  LocalCluster cluster{OneGuest()};
  TempDir scratch;
};

TEST_F(DaemonStartTest, AnUnknownNodeNameIsRefusedWithDidYouMean) {
  const CommandResult result =
      Cmcld({"--config", cluster.config_path(), "--node", "nod1", "--socket", scratch / "s"});

  EXPECT_EQ(result.exit_status, 2) << result.err;
  EXPECT_NE(result.err.find("node 'nod1' is not in"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("did you mean 'node1'"), std::string::npos) << result.err;
}

TEST_F(DaemonStartTest, FenceActionRebootIsRefusedUntilTheWatchdogFenceExists) {
  std::string yaml = Read(cluster.config_path());
  yaml.replace(yaml.find("fence_action: kill"), 18, "fence_action: reboot");
  std::ofstream(cluster.config_path(), std::ios::trunc) << yaml;

  const CommandResult result = Cmcld(
      {"--config", cluster.config_path(), "--node", "node1", "--socket", scratch / "s"});

  EXPECT_EQ(result.exit_status, 2) << result.err;
  EXPECT_NE(result.err.find("fence_action: reboot"), std::string::npos) << result.err;
}

TEST_F(DaemonStartTest, ABrokenConfigurationIsRefusedWithItsFileLineAndColumn) {
  std::ofstream(cluster.config_path(), std::ios::app) << "node_timeout: [oops\n";

  const CommandResult result = Cmcld(
      {"--config", cluster.config_path(), "--node", "node1", "--socket", scratch / "s"});

  EXPECT_EQ(result.exit_status, 2) << result.err;
  EXPECT_NE(result.err.find("cluster.yaml:"), std::string::npos) << result.err;
}

TEST_F(DaemonStartTest, ASocketPathLongerThan107BytesIsRefused) {
  const std::string socket = scratch / (std::string(110, 'x') + ".sock");

  const CommandResult result =
      Cmcld({"--config", cluster.config_path(), "--node", "node1", "--socket", socket});

  EXPECT_EQ(result.exit_status, 2) << result.err;
  EXPECT_NE(result.err.find("107"), std::string::npos) << result.err;
}

TEST_F(DaemonStartTest, ASecondDaemonOnTheSameStateDirOrTheSameAddressIsRefused) {
  cluster.Start(0);

  const CommandResult locked = Cmcld(
      {"--config", cluster.config_path(), "--node", "node1", "--socket", scratch / "s1"});
  const CommandResult busy =
      Cmcld({"--config", cluster.config_path(), "--node", "node1", "--state-dir",
             scratch / "other", "--socket", scratch / "s2"});

  EXPECT_EQ(locked.exit_status, 2) << locked.err;
  EXPECT_NE(locked.err.find("locked by pid"), std::string::npos) << locked.err;
  EXPECT_EQ(busy.exit_status, 2) << busy.err;
  EXPECT_NE(busy.err.find("in use"), std::string::npos) << busy.err;
  EXPECT_TRUE(cluster.DaemonAlive(0)) << "the running daemon was disturbed";
}

TEST_F(DaemonStartTest, SigtermMovesThePackagesAwayThenExitsZero) {
  cluster.StartAll();
  ASSERT_TRUE(LocalCluster::WaitFor(
      [&] { return cluster.Package(0, "g1")["node"].String() == "node1" &&
                   cluster.Package(0, "g1")["status"].String() == "up"; },
      seconds(30)));

  int status = -1;
  ASSERT_TRUE(cluster.StopDaemon(0, std::chrono::milliseconds(30000), &status))
      << "cmcld did not exit after SIGTERM\n" << cluster.LogTail(0);

  EXPECT_EQ(status, 0);
  // shutdown_policy migrate (the default): halted on node1, then started elsewhere.
  EXPECT_TRUE(LocalCluster::WaitFor(
      [&] { return cluster.Package(1, "g1")["status"].String() == "up"; }, seconds(20)));
  const std::vector<LedgerRecord> ledger = cluster.Ledger("g1");
  ASSERT_GE(ledger.size(), 3U);
  EXPECT_EQ(ledger[ledger.size() - 2].what, "stop");
  EXPECT_EQ(ledger[ledger.size() - 2].node, "node1");
  EXPECT_EQ(ledger.back().what, "start");
  EXPECT_NE(ledger.back().node, "node1");
}

}  // namespace
}  // namespace cmcl::testing
