// cmcld's own resets with fence_action reboot (docs/DESIGN_CHANGES.md, "cmcld's own
// resets"), end to end on real daemons: the core's NodeActions::reset goes through
// cmcld's adapter (daemon.cc, ExecuteReset) to cmcl-guard as a Reset request, and the
// guard calls the watchdog device's Reset. Each guard has the recording fake watchdog
// (CMCL_TEST_FAKE_WATCHDOG, test-only: nothing is opened, no node is reset), whose file
// gets one line per call ("... reset WHY").
//
// The case run here is node_fail_fast_enabled after a failed halt: the package's halt
// script fails and its driver ("stubborn", in a driver_dir of the test's own) is the
// process driver except that `stop` and `kill` leave the guest running, so the status
// after the kill says running. Ground truth that the guest really outlived the kill is
// its disk lock (LocalCluster::RunningCopies).
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/local_cluster.h"

namespace cmcl::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The process driver, except that stop and kill leave the guest running (exit 1, "still
// running"); every call is recorded in the package's disks/NAME.driver file.
std::string StubbornDriver(const std::string& calls) {
  return "#!/bin/sh\necho \"$1\" >>" + calls +
         "\ncase \"${1:-}\" in\n  stop|kill) echo \"stubborn: $1: the guest keeps running\" >&2; "
         "exit 1 ;;\nesac\nexec \"$(dirname \"$0\")/process\" \"$@\"\n";
}

class NodeResetTest : public ::testing::Test {
 protected:
  static LocalCluster::Options Options() {
    LocalCluster::Options options;
    options.packages = {PackageDef{.name = "g1",
                                   .nodes = {"node1", "node2", "node3"},
                                   .extra_yaml = "node_fail_fast_enabled: true\n"}};
    // As WatchdogClusterTest (cluster_test.cc): the parameter rule with watchdog_timeout 1s.
    options.node_timeout = "3s";
    options.heartbeat_interval = "300ms";
    options.fence_timeout = "800ms";
    return options;
  }
  ~NodeResetTest() override { ::unsetenv("CMCL_TEST_FAKE_WATCHDOG"); }

  // fence_action `action`; g1 with the stubborn driver and a halt script that records its
  // run ("NODE REASON" in disks/g1.halts) and fails.
  void Configure(const std::string& action) {
    std::string yaml = Read(cluster.config_path());
    const std::string kill = "fence_action: kill";
    ASSERT_TRUE(Contains(yaml, kill)) << yaml;
    yaml.replace(yaml.find(kill), kill.size(), "fence_action: " + action);
    const std::string drivers = std::string("driver_dir: ") + CMCL_SOURCE_DIR + "/packages/drivers";
    ASSERT_TRUE(Contains(yaml, drivers)) << yaml;
    yaml.replace(yaml.find(drivers), drivers.size(), "driver_dir: " + cluster.FilePath("drivers"));
    cluster.WriteFile("cluster.yaml", yaml);

    cluster.WriteFile("drivers/stubborn", StubbornDriver(cluster.FilePath("disks/g1.driver")),
                      0755);
    // run.sh starts the guest with $CMCL_DRIVER_DIR/process: the real one.
    std::filesystem::create_symlink(std::string(CMCL_SOURCE_DIR) + "/packages/drivers/process",
                                    cluster.FilePath("drivers/process"));
    std::string spec = Read(cluster.FilePath("packages/g1/package.yaml"));
    ASSERT_TRUE(Contains(spec, "driver: process")) << spec;
    spec.replace(spec.find("driver: process"), 15, "driver: stubborn");
    cluster.WriteFile("packages/g1/package.yaml", spec);
    cluster.WriteFile("packages/g1/halt.sh",
                      "#!/bin/sh\necho \"$CMCL_NODE $CMCL_REASON\" >>" +
                          cluster.FilePath("disks/g1.halts") + "\nexit 1\n",
                      0755);
  }

  // Every node with its own recording fake watchdog; g1 up on node1.
  void StartUp() {
    for (int node = 0; node < 3; ++node) {
      ::setenv("CMCL_TEST_FAKE_WATCHDOG", Record(node).c_str(), 1);
      cluster.Start(node);
    }
    ::unsetenv("CMCL_TEST_FAKE_WATCHDOG");
    ASSERT_TRUE(LocalCluster::WaitFor(
        [&] {
          const JsonValue g1 = cluster.Package(0, "g1");
          return g1["status"].String() == "up" && g1["node"].String() == "node1";
        },
        seconds(20)));
    ASSERT_EQ(cluster.RunningCopies("g1"), 1);
  }

  std::string Record(int node) const { return cluster.dir() + "/watchdog-" + cluster.Name(node); }
  std::string Calls(int node) const { return Read(Record(node)); }
  std::string DaemonLog(int node) const {
    return Read(cluster.dir() + "/" + cluster.Name(node) + "/cmcld.log");
  }
  std::string GuardLog(int node) const {
    return Read(cluster.dir() + "/" + cluster.Name(node) + "/state/guard.log");
  }
  std::string DriverCalls() const { return Read(cluster.FilePath("disks/g1.driver")); }

  // The host PID of `node`'s cmcl-guard: the child of its cmcld whose command is the
  // guard binary (the guard logs its PID in the node's PID namespace, not the host's).
  pid_t GuardPid(int node) const {
    const std::string parent = std::to_string(cluster.daemon_pid(node));
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator("/proc", error)) {
      const std::string pid = entry.path().filename().string();
      if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
      const std::string status = Read("/proc/" + pid + "/status");
      const size_t at = status.find("\nPPid:\t");
      if (at == std::string::npos) continue;
      const size_t begin = at + 7;
      if (status.substr(begin, status.find('\n', begin) - begin) != parent) continue;
      const std::string command = Read("/proc/" + pid + "/cmdline");
      if (command.substr(0, command.find('\0')) == CMCL_GUARD_BINARY) {
        return static_cast<pid_t>(std::stoi(pid));
      }
    }
    return -1;
  }

  static constexpr const char* kWhy =
      "g1: node_fail_fast_enabled: the halt failed and a kill did not stop the guest";

  LocalCluster cluster{Options()};
};

// The reset reaches the guard, which logs CRITICAL and calls the device's Reset with the
// core's reason; cmcld logged the request as critical and stays up (the fake does not
// reset anything).
TEST_F(NodeResetTest, NodeFailFastWithRebootHasTheGuardResetTheNode) {
  Configure("reboot");
  StartUp();

  const CommandResult halt = cluster.Pkgctl(0, {"halt", "g1"});

  EXPECT_TRUE(LocalCluster::WaitFor(
      [&] { return Contains(Calls(0), " reset cmcld: " + std::string(kWhy) + "\n"); }, seconds(10)))
      << "pkgctl halt: " << halt.exit_status << " " << halt.out << halt.err << "\nnode1's "
      << "watchdog calls:\n"
      << Calls(0) << "\ndriver calls:\n"
      << DriverCalls();
  EXPECT_TRUE(Contains(DaemonLog(0), std::string(" critical node1: ") + kWhy +
                                         "; resetting this node (fence_action reboot)"))
      << cluster.LogTail(0);
  EXPECT_TRUE(Contains(DaemonLog(0), std::string(" critical node1: asked cmcl-guard pid ")))
      << cluster.LogTail(0);
  EXPECT_TRUE(Contains(GuardLog(0), std::string("CRITICAL: cmcld asks for a reset: ") + kWhy))
      << GuardLog(0);
  // The scenario really happened: the halt script ran on node1, the driver was asked to
  // kill, and the guest still holds its disk.
  EXPECT_EQ(cluster.Halts("g1").size(), 1U);
  EXPECT_TRUE(Contains(DriverCalls(), "kill\n")) << DriverCalls();
  EXPECT_EQ(cluster.RunningCopies("g1"), 1);
  // Once per Node, and only node1's.
  EXPECT_TRUE(cluster.DaemonAlive(0)) << cluster.LogTail(0);
  std::this_thread::sleep_for(milliseconds(1000));
  const std::string calls = Calls(0);
  EXPECT_EQ(calls.find(" reset "), calls.rfind(" reset ")) << calls;
  EXPECT_FALSE(Contains(Calls(1), " reset ")) << Calls(1);
  EXPECT_FALSE(Contains(Calls(2), " reset ")) << Calls(2);
}

// The same with fence_action kill: reported halt_failed and logged, as before the
// change; the guard is never asked for a reset (its fake would record the call even
// though no device is open with kill).
TEST_F(NodeResetTest, NodeFailFastWithKillEndsHaltFailedWithoutAReset) {
  Configure("kill");
  StartUp();

  const CommandResult halt = cluster.Pkgctl(0, {"halt", "g1"});

  EXPECT_TRUE(LocalCluster::WaitFor(
      [&] { return cluster.Package(0, "g1")["status"].String() == "halt_failed"; }, seconds(15)))
      << "pkgctl halt: " << halt.exit_status << " " << halt.out << halt.err << "\n"
      << cluster.Package(0, "g1")["status"].String() << "\ndriver calls:\n"
      << DriverCalls();
  EXPECT_TRUE(Contains(DriverCalls(), "kill\n")) << DriverCalls();
  EXPECT_EQ(cluster.RunningCopies("g1"), 1);
  std::this_thread::sleep_for(milliseconds(1000));  // A reset would follow at once.
  EXPECT_FALSE(Contains(Calls(0), " reset ")) << Calls(0);
  EXPECT_FALSE(Contains(DaemonLog(0), "resetting this node")) << cluster.LogTail(0);
  EXPECT_FALSE(Contains(GuardLog(0), "asks for a reset")) << GuardLog(0);
  EXPECT_TRUE(cluster.DaemonAlive(0)) << cluster.LogTail(0);
}

// The guard is gone (killed by its PID) before the reset is asked for: cmcld cannot hand
// it on, logs critical and exits with status 3 (cmcld.8, EXIT STATUS).
TEST_F(NodeResetTest, AResetWithNoGuardToAskEndsCmcldWithStatus3) {
  Configure("reboot");
  StartUp();
  const pid_t guard = GuardPid(0);
  ASSERT_GT(guard, 0) << "no cmcl-guard child of node1's cmcld";
  ASSERT_EQ(::kill(guard, SIGKILL), 0);
  ASSERT_TRUE(
      LocalCluster::WaitFor([&] { return Contains(DaemonLog(0), "lost cmcl-guard"); }, seconds(10)))
      << cluster.LogTail(0);
  ASSERT_TRUE(cluster.DaemonAlive(0)) << "cmcld ended on the guard's loss alone\n"
                                      << cluster.LogTail(0);

  const CommandResult halt = cluster.Pkgctl(0, {"halt", "g1"});

  int status = -1;
  EXPECT_TRUE(cluster.WaitDaemonExit(0, seconds(15), &status))
      << "pkgctl halt: " << halt.exit_status << " " << halt.out << halt.err << "\n"
      << cluster.LogTail(0);
  EXPECT_EQ(status, 3) << cluster.LogTail(0);
  EXPECT_TRUE(Contains(DaemonLog(0), std::string("cannot ask cmcl-guard to reset this node (") +
                                         kWhy + "): the connection to the guard is gone"))
      << cluster.LogTail(0);
  EXPECT_FALSE(Contains(Calls(0), " reset ")) << Calls(0);
}

// The reset was handed to the guard, and then the guard is lost: the request may not have
// reached it, so cmcld does not stay up as if it had (status 3).
TEST_F(NodeResetTest, AGuardLostAfterTheResetWasAskedEndsCmcldWithStatus3) {
  Configure("reboot");
  StartUp();
  cluster.Pkgctl(0, {"halt", "g1"});
  ASSERT_TRUE(
      LocalCluster::WaitFor([&] { return Contains(Calls(0), " reset cmcld: "); }, seconds(10)))
      << Calls(0);
  ASSERT_TRUE(cluster.DaemonAlive(0)) << cluster.LogTail(0);
  const pid_t guard = GuardPid(0);
  ASSERT_GT(guard, 0) << "no cmcl-guard child of node1's cmcld";

  ASSERT_EQ(::kill(guard, SIGKILL), 0);

  int status = -1;
  EXPECT_TRUE(cluster.WaitDaemonExit(0, seconds(15), &status)) << cluster.LogTail(0);
  EXPECT_EQ(status, 3) << cluster.LogTail(0);
  EXPECT_TRUE(Contains(DaemonLog(0),
                       std::string("cannot ask cmcl-guard to reset this node (") + kWhy + ")"))
      << cluster.LogTail(0);
}

}  // namespace
}  // namespace cmcl::testing
