// GuestRunner with guest drivers (guest_runner.h; DESIGN.md section 4): kill and status
// through a driver, the fence of a package without one, monitoring, and the real
// `process` driver of packages/drivers with the demo package's run and halt scripts.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "guest_test_support.h"

namespace cmcl::io::testing {
namespace {

using node::GuestStatus;
using node::GuestVerb;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// A driver that records its calls and answers `status` with %D%/status_code.
constexpr const char* kFakeDriver =
    "echo \"$1 $CMCL_ACTION $CMCL_REASON $CMCL_EPOCH\" >>%D%/calls\n"
    "case $1 in\n"
    "  kill) exit 0 ;;\n"
    "  status) exit $(cat %D%/status_code) ;;\n"
    "esac\n"
    "exit 2";

class GuestDriverTest : public GuestRunnerTest {
 protected:
  config::PackageSpec FakeDriverPackage(const std::string& name, int status_code) {
    Driver("fake", kFakeDriver);
    SetStatus(status_code);
    auto package = Package(name, "exit 0");
    package.driver = "fake";
    return package;
  }
  void SetStatus(int code) { WriteFile(dir_ + "/status_code", std::to_string(code) + "\n"); }
  std::vector<std::string> Calls() const {
    std::vector<std::string> lines;
    std::istringstream in(ReadFile(dir_ + "/calls"));
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }
};

TEST_F(GuestDriverTest, KillCallsTheDriversKillThenStatusAndStoppedMeansStopped) {
  const auto package = FakeDriverPackage("p1", 7);
  auto action = Action("p1", GuestVerb::kKill, 9);
  action.reason = node::ActionReason::kFence;

  const auto report = Do(action, package);

  EXPECT_EQ(report.verb, GuestVerb::kKill);
  EXPECT_EQ(report.result.status, GuestStatus::kStopped);
  EXPECT_EQ(Calls(), (std::vector<std::string>{"kill kill fence 9", "status status fence 9"}));
  EXPECT_EQ(Runner().DriverPath(package), driver_dir_ + "/fake");
}

TEST_F(GuestDriverTest, KillIsUnknownWhenTheDriverStillSaysRunning) {
  const auto package = FakeDriverPackage("p1", 0);

  const auto report = Do(Action("p1", GuestVerb::kKill), package);

  EXPECT_EQ(report.result.status, GuestStatus::kUnknown);
}

TEST_F(GuestDriverTest, StatusMapsZeroSevenAndAnythingElse) {
  const auto package = FakeDriverPackage("p1", 0);

  const auto running = Do(Action("p1", GuestVerb::kStatus), package);
  SetStatus(7);
  const auto stopped = Do(Action("p1", GuestVerb::kStatus), package);
  SetStatus(3);
  const auto unknown = Do(Action("p1", GuestVerb::kStatus), package);

  EXPECT_EQ(running.result.status, GuestStatus::kRunning);
  EXPECT_EQ(stopped.result.status, GuestStatus::kStopped);
  EXPECT_EQ(unknown.result.status, GuestStatus::kUnknown);
  EXPECT_EQ(unknown.result.exit_code, 3);
}

TEST_F(GuestDriverTest, AMissingDriverIsUnknownNotStopped) {
  auto package = Package("p1", "exit 0");
  package.driver = "absent";

  const auto status = Do(Action("p1", GuestVerb::kStatus), package);
  const auto kill = Do(Action("p1", GuestVerb::kKill), package);

  EXPECT_EQ(status.result.status, GuestStatus::kUnknown);
  EXPECT_EQ(kill.result.status, GuestStatus::kUnknown);
}

// DESIGN.md section 4: without a driver a fence is SIGKILL of the run script's group and
// the halt script with CMCL_REASON=fence.
TEST_F(GuestDriverTest, KillWithoutDriverKillsTheRunGroupAndRunsTheHaltScriptForFence) {
  const auto package = Package("p1",
                               "sleep 1000 &\n"
                               "echo $! >>%D%/pids\n"
                               "exit 0",
                               "echo \"$CMCL_ACTION $CMCL_REASON\" >%D%/halt.txt");
  ASSERT_EQ(Do(Action("p1", GuestVerb::kRun), package).result.status, GuestStatus::kRunning);
  ASSERT_EQ(groups_.size(), 1U);
  ASSERT_TRUE(GroupAlive(groups_[0]));

  const auto kill = Do(Action("p1", GuestVerb::kKill), package);
  const auto status = Do(Action("p1", GuestVerb::kStatus), package);

  EXPECT_EQ(kill.result.status, GuestStatus::kStopped);
  EXPECT_TRUE(GroupGoneWithin(groups_[0]));
  EXPECT_EQ(ReadFile(dir_ + "/halt.txt"), "halt fence\n");
  EXPECT_EQ(status.result.status, GuestStatus::kStopped);
}

TEST_F(GuestDriverTest, KillWithoutDriverIsUnknownWhenTheHaltScriptFails) {
  const auto package = Package("p1", "exit 0", "exit 1");

  const auto kill = Do(Action("p1", GuestVerb::kKill), package);
  const auto status = Do(Action("p1", GuestVerb::kStatus), package);

  EXPECT_EQ(kill.result.status, GuestStatus::kUnknown);
  EXPECT_EQ(status.result.status, GuestStatus::kUnknown);
}

TEST_F(GuestDriverTest, StatusWithoutDriverIsRunningAfterASuccessfulRun) {
  const auto package = Package("p1", "exit 0");
  Do(Action("p1", GuestVerb::kRun), package);

  const auto status = Do(Action("p1", GuestVerb::kStatus), package);

  EXPECT_EQ(status.result.status, GuestStatus::kRunning);
}

TEST_F(GuestDriverTest, MonitoringReportsAGuestThatDiedAsAnUnsolicitedStopped) {
  const auto package = FakeDriverPackage("p1", 0);
  ASSERT_EQ(Do(Action("p1", GuestVerb::kRun, 5), package).result.status, GuestStatus::kRunning);
  RunFor(std::chrono::milliseconds(300));
  ASSERT_EQ(reports_.size(), 1U);
  const size_t polls = Calls().size();

  SetStatus(7);
  ASSERT_TRUE(WaitReports(2, std::chrono::seconds(3)));
  RunFor(std::chrono::milliseconds(200));

  EXPECT_GE(polls, 2U);
  EXPECT_EQ(reports_[1].verb, GuestVerb::kStatus);
  EXPECT_EQ(reports_[1].guest.epoch, raft::LogIndex(5));
  EXPECT_EQ(reports_[1].result.status, GuestStatus::kStopped);
  EXPECT_EQ(reports_.size(), 2U);  // Reported once; the watch ended.
  EXPECT_THAT(Calls().back(), StartsWith("status status start 5"));
  // The monitoring's status calls stay out of the package log.
  EXPECT_THAT(ReadFile(state_dir_ + "/log/p1.log"), Not(HasSubstr(" status epoch=")));
}

// A fence does not wait for a run script that is still starting the guest: the script's
// group goes first, then the driver's kill.
TEST_F(GuestDriverTest, KillStopsARunScriptStillRunningBeforeCallingTheDriver) {
  auto package = FakeDriverPackage("p1", 7);
  WriteFile(package.folder + "/run.sh", "#!/bin/sh\nsleep 1000\n", true);
  Submit(Action("p1", GuestVerb::kRun), package);
  RunFor(std::chrono::milliseconds(100));

  Submit(Action("p1", GuestVerb::kKill), package);
  ASSERT_TRUE(WaitReports(2));

  EXPECT_EQ(reports_[0].verb, GuestVerb::kRun);
  EXPECT_EQ(reports_[0].result.status, GuestStatus::kFailed);
  EXPECT_EQ(reports_[0].result.exit_code, -1);
  EXPECT_EQ(reports_[1].verb, GuestVerb::kKill);
  EXPECT_EQ(reports_[1].result.status, GuestStatus::kStopped);
  EXPECT_TRUE(GroupGoneWithin(groups_.at(0)));
}

TEST_F(GuestDriverTest, MonitoringEndsWithAHalt) {
  const auto package = FakeDriverPackage("p1", 0);
  Do(Action("p1", GuestVerb::kRun), package);
  Do(Action("p1", GuestVerb::kHalt), package);
  const size_t calls = Calls().size();

  SetStatus(7);
  RunFor(std::chrono::milliseconds(300));

  EXPECT_EQ(reports_.size(), 2U);
  EXPECT_EQ(Calls().size(), calls);
}

// --- The real process driver, with the demo package guest1's run and halt scripts. ----

class ProcessDriverTest : public GuestRunnerTest {
 protected:
  ProcessDriverTest() {
    package_ = Package("guest1", "exit 9");  // Only for its spec; the folder is the demo's.
    package_.folder = std::string(CMCL_SOURCE_DIR) + "/packages/guest1";
    package_.driver = "process";
    disk_ = package_.guest.storage.at(0).path;
  }
  GuestRunner::Options NodeOptions(const std::string& node) const {
    auto options = RunnerOptions(node);
    options.state_dir = dir_ + "/" + node;
    options.driver_dir = std::string(CMCL_SOURCE_DIR) + "/packages/drivers";
    options.monitor_interval = std::chrono::seconds(10);
    return options;
  }
  // Runs one action on a runner of its own for `node` (a second node of this machine).
  ReportRecord DoOn(const std::string& node, node::GuestVerb verb) {
    GuestRunner runner(
        io_, NodeOptions(node),
        [this](const node::GuestRef& guest, node::GuestVerb v, const node::GuestResult& result) {
          reports_.push_back({guest, v, result, std::chrono::steady_clock::now()});
        });
    const size_t before = reports_.size();
    runner.Submit(Action("guest1", verb), package_, package_.folder);
    if (!WaitReports(before + 1)) ADD_FAILURE() << "no report within 10s";
    return reports_.size() > before ? reports_[before] : ReportRecord{};
  }
  std::vector<std::string> Ledger() const {
    std::vector<std::string> words;
    std::istringstream in(ReadFile(disk_ + ".ledger"));
    for (std::string line; std::getline(in, line);) {
      std::istringstream fields(line);
      std::string verb, ms, node;
      fields >> verb >> ms >> node;
      words.push_back(verb + " " + node);
    }
    return words;
  }

  config::PackageSpec package_;
  std::string disk_;
};

TEST_F(ProcessDriverTest, StartRunsTheGuestAndASecondNodeCannotStartTheSameDisk) {
  const auto run = DoOn("n1", GuestVerb::kRun);
  const auto status = DoOn("n1", GuestVerb::kStatus);

  const auto second = DoOn("n2", GuestVerb::kRun);

  EXPECT_EQ(run.result.status, GuestStatus::kRunning);
  EXPECT_EQ(status.result.status, GuestStatus::kRunning);
  EXPECT_EQ(second.result.status, GuestStatus::kFailed);
  EXPECT_EQ(second.result.exit_code, 1);
  EXPECT_THAT(
      ReadFile(dir_ + "/n2/log/guest1.log"),
      HasSubstr("guest1: disk " + disk_ + " is locked by another running copy; refusing to start"));
  EXPECT_EQ(DoOn("n2", GuestVerb::kStatus).result.status, GuestStatus::kStopped);
  EXPECT_EQ(Ledger(), (std::vector<std::string>{"start n1"}));
}

// Every action runs on a fresh runner, as after a cmcld restart: the driver finds the
// guest through its pid file, not through the process that started it.
TEST_F(ProcessDriverTest, HaltStopsTheGuestAndKillKillsIt) {
  ASSERT_EQ(DoOn("n1", GuestVerb::kRun).result.status, GuestStatus::kRunning);
  const std::string pid_text = ReadFile(dir_ + "/n1/guests/guest1.pid");

  const auto halt = DoOn("n1", GuestVerb::kHalt);
  const auto after_halt = DoOn("n1", GuestVerb::kStatus);
  const auto rerun = DoOn("n2", GuestVerb::kRun);
  const auto kill_submitted = std::chrono::steady_clock::now();
  const auto kill = DoOn("n2", GuestVerb::kKill);
  std::cout << "process driver kKill (kill + status) report after "
            << std::chrono::duration<double, std::milli>(kill.at - kill_submitted).count()
            << " ms\n";
  const auto after_kill = DoOn("n2", GuestVerb::kStatus);

  EXPECT_EQ(halt.result.status, GuestStatus::kStopped);
  EXPECT_FALSE(ProcessAlive(std::stoi(pid_text)));
  EXPECT_EQ(after_halt.result.status, GuestStatus::kStopped);
  EXPECT_EQ(rerun.result.status, GuestStatus::kRunning);
  EXPECT_EQ(kill.result.status, GuestStatus::kStopped);
  EXPECT_EQ(after_kill.result.status, GuestStatus::kStopped);
  // A SIGKILLed guest writes no stop line; the driver that killed it writes the kill.
  EXPECT_EQ(Ledger(), (std::vector<std::string>{"start n1", "stop n1", "start n2", "kill n2"}));
}

// The guest must outlive its run script's process group (the runner kills that group
// when a run fails) and the runner itself (DoOn's runner is gone when it returns: a
// cmcld that dies leaves its guests to the drivers), and must not hold the package log.
TEST_F(ProcessDriverTest, TheGuestOutlivesTheRunnerAndLeavesTheRunScriptsGroupAndTheLog) {
  ASSERT_EQ(DoOn("n1", GuestVerb::kRun).result.status, GuestStatus::kRunning);
  const pid_t guest = std::stoi(ReadFile(dir_ + "/n1/guests/guest1.pid"));

  std::string fds;
  for (const char* fd : {"0", "1", "2", "9"}) {
    char target[512] = {};
    const std::string link = "/proc/" + std::to_string(guest) + "/fd/" + fd;
    const ssize_t n = readlink(link.c_str(), target, sizeof(target) - 1);
    fds +=
        std::string(fd) + " " + (n > 0 ? std::string(target, static_cast<size_t>(n)) : "") + "\n";
  }

  EXPECT_TRUE(ProcessAlive(guest));
  EXPECT_EQ(getpgid(guest), guest);
  EXPECT_EQ(getsid(guest), guest);
  EXPECT_THAT(fds, HasSubstr("9 " + disk_ + "\n"));
  EXPECT_THAT(fds, Not(HasSubstr("/log/")));
}

// A start abandoned by run_timeout (its script killed) can leave a guest that comes up
// after every verb looked for its pid file: before the guest holds its lock and writes
// that file, the launch file names it. Here a stand-in for such a guest: alive, with
// the marker in its command line, named only by the launch file.
TEST_F(ProcessDriverTest, AGuestStillComingUpIsFoundThroughItsLaunchFile) {
  const pid_t guest = fork();
  ASSERT_GE(guest, 0);
  if (guest == 0) {
    setpgid(0, 0);
    execl("/bin/sh", "sh", "-c", "sleep 100; :", "cmcl-guest:guest1", nullptr);
    _exit(127);
  }
  ASSERT_EQ(mkdir((dir_ + "/n1").c_str(), 0755) == 0 || errno == EEXIST, true);
  ASSERT_EQ(mkdir((dir_ + "/n1/guests").c_str(), 0755) == 0 || errno == EEXIST, true);
  std::ofstream(dir_ + "/n1/guests/guest1.launch") << guest << "\n";
  for (int i = 0;
       i < 100 &&
       ReadFile("/proc/" + std::to_string(guest) + "/cmdline").find("cmcl-guest:guest1") ==
           std::string::npos;
       ++i) {
    usleep(10'000);  // Until the child has exec'd.
  }

  const auto status = DoOn("n1", GuestVerb::kStatus);
  const auto kill = DoOn("n1", GuestVerb::kKill);
  int wait_status = 0;
  const pid_t reaped = waitpid(guest, &wait_status, WNOHANG);
  const auto after = DoOn("n1", GuestVerb::kStatus);

  EXPECT_EQ(status.result.status, GuestStatus::kRunning);
  EXPECT_EQ(kill.result.status, GuestStatus::kStopped);
  EXPECT_EQ(reaped, guest) << "the guest still runs after kill";
  EXPECT_TRUE(WIFSIGNALED(wait_status) && WTERMSIG(wait_status) == SIGKILL);
  EXPECT_EQ(after.result.status, GuestStatus::kStopped);
  if (reaped != guest) {
    ::kill(guest, SIGKILL);
    waitpid(guest, nullptr, 0);
  }
}

}  // namespace
}  // namespace cmcl::io::testing
