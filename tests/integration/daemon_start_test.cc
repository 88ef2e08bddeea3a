// cmcld's start-up refusals (INTERFACE.md "cmcld"): one line naming the cause and exit
// status 2, before anything is started.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <functional>
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

// fence_action reboot (DESIGN.md section 4): cmcld has its guard open the watchdog at
// start and refuses to start when it cannot. /dev/null opens but is no watchdog; no test
// here ever names a real watchdog device.
TEST_F(DaemonStartTest, FenceActionRebootWithADeviceThatIsNoWatchdogIsRefused) {
  std::string yaml = Read(cluster.config_path());
  yaml.replace(yaml.find("fence_action: kill"), 18,
               "fence_action: reboot\nwatchdog_device: /dev/null");
  std::ofstream(cluster.config_path(), std::ios::trunc) << yaml;

  const CommandResult result =
      Cmcld({"--config", cluster.config_path(), "--node", "node1", "--socket", scratch / "s"});

  EXPECT_EQ(result.exit_status, 2) << result.err;
  EXPECT_NE(result.err.find("cmcld: fence_action reboot: watchdog_device /dev/null: /dev/null is "
                            "not a watchdog device (WDIOC_GETSUPPORT)"),
            std::string::npos)
      << result.err;
}

// The device rounds watchdog_timeout 1s... to 3s (the test's fake grants 3): 3s + 2 ×
// 300ms + 300ms exceeds node_timeout 3s, so a healthy node could not pet; refused, and
// the guard, detached with nothing registered, stops the watchdog and exits.
TEST_F(DaemonStartTest, FenceActionRebootIsRefusedWhenTheDevicesTimeoutBreaksTheRule) {
  std::string yaml = Read(cluster.config_path());
  yaml.replace(yaml.find("fence_action: kill"), 18, "fence_action: reboot");
  std::ofstream(cluster.config_path(), std::ios::trunc) << yaml;
  const std::string record = scratch / "watchdog.calls";
  ::setenv("CMCL_TEST_FAKE_WATCHDOG", record.c_str(), 1);
  ::setenv("CMCL_TEST_FAKE_WATCHDOG_GRANT", "3", 1);

  const CommandResult result = Cmcld(
      {"--config", cluster.config_path(), "--node", "node1", "--socket", scratch / "s"});
  ::unsetenv("CMCL_TEST_FAKE_WATCHDOG");
  ::unsetenv("CMCL_TEST_FAKE_WATCHDOG_GRANT");

  EXPECT_EQ(result.exit_status, 2) << result.err;
  EXPECT_NE(result.err.find("cmcld: fence_action reboot: the watchdog device's timeout (3s; "
                            "watchdog_timeout is 1s"),
            std::string::npos)
      << result.err;
  const bool closed = [&] {
    for (int i = 0; i < 300; ++i) {
      if (Read(record).find(" close\n") != std::string::npos) return true;
      ::usleep(10'000);
    }
    return false;
  }();
  EXPECT_TRUE(closed) << Read(record);
  EXPECT_NE(Read(record).find(" open /dev/watchdog 1\n"), std::string::npos) << Read(record);
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

// `inventory: probe` (issue 12): cmcld probes this host while it loads the configuration
// and logs what it found, before anything can refuse the start.
TEST_F(DaemonStartTest, ANodeWithInventoryProbeLogsWhatTheProbeFound) {
  std::string yaml = Read(cluster.config_path());
  const size_t begin = yaml.find("    inventory:\n", yaml.find("- name: node1"));
  const std::string last = "        - {name: net0, nic: lo}\n";
  const size_t end = yaml.find(last, begin) + last.size();
  ASSERT_LT(begin, end);
  yaml.replace(begin, end - begin, "    inventory: probe\n");
  std::ofstream(cluster.config_path(), std::ios::trunc) << yaml;
  const std::string socket = scratch / (std::string(110, 'x') + ".sock");  // Refused later.

  const CommandResult result =
      Cmcld({"--config", cluster.config_path(), "--node", "node1", "--socket", socket});

  EXPECT_EQ(result.exit_status, 2) << result.err;
  EXPECT_NE(result.err.find("inventory probe: "), std::string::npos) << result.err;
  EXPECT_NE(result.err.find(" vCPUs, "), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("reported to the cluster for migration validation"), std::string::npos)
      << result.err;
}

// ... and commits it: the other nodes' validation of node3 then uses what node3's probe
// found, which holds neither g1's disk (a file of the test) nor the vswitch net0.
TEST_F(DaemonStartTest, AProbedInventoryReachesTheOtherNodesValidation) {
  std::string yaml = Read(cluster.config_path());
  const size_t begin = yaml.find("    inventory:\n", yaml.find("- name: node3"));
  const std::string last = "        - {name: net0, nic: lo}\n";
  const size_t end = yaml.find(last, begin) + last.size();
  ASSERT_LT(begin, end);
  yaml.replace(begin, end - begin, "    inventory: probe\n");
  std::ofstream(cluster.config_path(), std::ios::trunc) << yaml;
  cluster.StartAll();

  CommandResult check;
  const bool refused = LocalCluster::WaitFor(
      [&] {
        check = cluster.Pkgctl(0, {"check", "g1", "-n", "node3"});
        // Before node3's report is applied, device_missing is among the unchecked.
        return check.out.find(R"("violations":[{"code":"device_missing")") != std::string::npos;
      },
      seconds(30));

  EXPECT_TRUE(refused) << check.out << check.err;
  EXPECT_EQ(check.exit_status, 1) << check.out;
  EXPECT_EQ(cluster.Pkgctl(0, {"check", "g1", "-n", "node2"}).exit_status, 0);
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

// Started by systemd with Type=notify and WatchdogSec (systemd/cmcld.service): READY=1
// once it runs, WATCHDOG=1 every half WATCHDOG_USEC, STOPPING=1 on SIGTERM. A datagram
// socket of this test stands in for systemd's.
TEST_F(DaemonStartTest, TellsSystemdItIsReadyPetsItsWatchdogAndSaysItIsStopping) {
  const std::string path = scratch / "notify.sock";
  const int systemd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(systemd, 0);
  sockaddr_un at{};
  at.sun_family = AF_UNIX;
  ASSERT_LT(path.size(), sizeof(at.sun_path));
  std::memcpy(at.sun_path, path.c_str(), path.size() + 1);
  ASSERT_EQ(::bind(systemd, reinterpret_cast<const sockaddr*>(&at), sizeof(at)), 0);
  timeval wait{.tv_sec = 1, .tv_usec = 0};
  ::setsockopt(systemd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof(wait));
  // Everything systemd heard, until `done` says it has what it waits for or 30 s pass.
  std::string heard;
  const auto listen = [&](const std::function<bool()>& done) {
    const auto until = std::chrono::steady_clock::now() + seconds(30);
    while (!done() && std::chrono::steady_clock::now() < until) {
      char buffer[1024];
      const ssize_t n = ::recv(systemd, buffer, sizeof(buffer), 0);
      if (n > 0) heard += std::string(buffer, static_cast<size_t>(n)) + "\n";
    }
  };
  const auto count = [&](const std::string& what) {
    size_t n = 0;
    for (size_t at_ = heard.find(what); at_ != std::string::npos; at_ = heard.find(what, at_ + 1)) {
      ++n;
    }
    return n;
  };

  ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
  ::setenv("WATCHDOG_USEC", "400000", 1);
  cluster.Start(0);
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");
  listen([&] { return count("WATCHDOG=1") >= 3; });
  int status = -1;
  const bool stopped = cluster.StopDaemon(0, std::chrono::milliseconds(30000), &status);
  listen([&] { return count("STOPPING=1") >= 1; });
  ::close(systemd);

  EXPECT_EQ(count("READY=1"), 1U) << heard;
  EXPECT_NE(heard.find("STATUS=cmcld node1 of cluster"), std::string::npos) << heard;
  EXPECT_GE(count("WATCHDOG=1"), 3U) << heard;
  EXPECT_LT(heard.find("READY=1"), heard.find("WATCHDOG=1")) << heard;
  EXPECT_EQ(count("STOPPING=1"), 1U) << heard;
  EXPECT_TRUE(stopped);
  EXPECT_EQ(status, 0);
}

}  // namespace
}  // namespace cmcl::testing
