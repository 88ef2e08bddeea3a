// GuestRunner with run and halt scripts (guest_runner.h; DESIGN.md section 5): exit codes,
// timeouts that take the whole process group, the CMCL_* environment, the package log.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <regex>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "guest_test_support.h"

namespace cmcl::io::testing {
namespace {

using node::GuestStatus;
using node::GuestVerb;
using ::testing::HasSubstr;
using ::testing::Not;

TEST_F(GuestRunnerTest, RunExitZeroIsReportedRunning) {
  const auto package = Package("p1", "exit 0");

  const auto report = Do(Action("p1", GuestVerb::kRun), package);

  EXPECT_EQ(report.guest.resource, PackageName("p1"));
  EXPECT_EQ(report.guest.epoch, raft::LogIndex(12));
  EXPECT_EQ(report.verb, GuestVerb::kRun);
  EXPECT_EQ(report.result.status, GuestStatus::kRunning);
  EXPECT_EQ(report.result.exit_code, 0);
  EXPECT_FALSE(report.result.timed_out);
}

TEST_F(GuestRunnerTest, RunExitOneOrTwoIsReportedFailedWithItsExitCode) {
  const auto one = Package("p1", "exit 1");
  const auto two = Package("p2", "exit 2");

  const auto first = Do(Action("p1", GuestVerb::kRun), one);
  const auto second = Do(Action("p2", GuestVerb::kRun), two);

  EXPECT_EQ(first.result.status, GuestStatus::kFailed);
  EXPECT_EQ(first.result.exit_code, 1);
  EXPECT_EQ(second.result.status, GuestStatus::kFailed);
  EXPECT_EQ(second.result.exit_code, 2);
  EXPECT_FALSE(second.result.timed_out);
}

TEST_F(GuestRunnerTest, HaltExitZeroIsStoppedAndNonZeroIsFailed) {
  const auto good = Package("p1", "exit 0", "exit 0");
  const auto bad = Package("p2", "exit 0", "exit 4");

  const auto stopped = Do(Action("p1", GuestVerb::kHalt), good);
  const auto failed = Do(Action("p2", GuestVerb::kHalt), bad);

  EXPECT_EQ(stopped.result.status, GuestStatus::kStopped);
  EXPECT_EQ(failed.result.status, GuestStatus::kFailed);
  EXPECT_EQ(failed.result.exit_code, 4);
}

TEST_F(GuestRunnerTest, MissingRunScriptIsReportedFailedWith127) {
  auto package = Package("p1", "exit 0");
  package.run_script = "no-such-script.sh";

  const auto report = Do(Action("p1", GuestVerb::kRun), package);

  EXPECT_EQ(report.result.status, GuestStatus::kFailed);
  EXPECT_EQ(report.result.exit_code, 127);
}

TEST_F(GuestRunnerTest, ARunnerDestroyedBeforeItsAnswersKillsItsScriptsAndReportsNothing) {
  const auto slow = Package("p1", "sleep 1000");
  auto missing = Package("p2", "exit 0");
  missing.run_script = "absent.sh";
  Submit(Action("p1", GuestVerb::kRun), slow);
  Submit(Action("p2", GuestVerb::kRun), missing);  // Its answer is posted, not yet run.
  ASSERT_EQ(groups_.size(), 1U);

  runner_.reset();
  RunFor(std::chrono::milliseconds(100));

  EXPECT_TRUE(reports_.empty());
  EXPECT_TRUE(GroupGoneWithin(groups_[0]));
}

// The script ignores SIGTERM, and so does its background child (ignored signals are
// inherited): only the SIGKILL kill_timeout later ends them, and it takes the group.
TEST_F(GuestRunnerTest, RunPastItsTimeoutGetsSigtermThenSigkillAndItsWholeGroupIsGone) {
  auto package = Package("p1",
                         "trap '' TERM\n"
                         "sleep 1000 &\n"
                         "echo $! >>%D%/pids\n"
                         "while :; do sleep 0.05; done");
  package.run_timeout = std::chrono::milliseconds(300);
  package.kill_timeout = std::chrono::milliseconds(300);
  const auto started = std::chrono::steady_clock::now();

  const auto report = Do(Action("p1", GuestVerb::kRun), package);

  EXPECT_EQ(report.result.status, GuestStatus::kFailed);
  EXPECT_TRUE(report.result.timed_out);
  EXPECT_EQ(report.result.exit_code, -1);
  EXPECT_GE(report.at - started, std::chrono::milliseconds(600));
  ASSERT_EQ(groups_.size(), 1U);
  EXPECT_TRUE(GroupGoneWithin(groups_[0]));
}

// The script exits on SIGTERM (so no SIGKILL of the leader is needed) but leaves a
// background child that ignores SIGTERM: a timed-out script leaves nothing behind.
TEST_F(GuestRunnerTest, RunThatExitsOnSigtermAfterItsTimeoutLeavesNoBackgroundChild) {
  auto package = Package("p1",
                         "(trap '' TERM; exec sleep 1000) &\n"
                         "echo $! >>%D%/pids\n"
                         "trap 'echo got TERM; exit 3' TERM\n"
                         "while :; do sleep 0.05; done");
  package.run_timeout = std::chrono::milliseconds(300);
  package.kill_timeout = std::chrono::seconds(5);

  const auto report = Do(Action("p1", GuestVerb::kRun), package);

  EXPECT_EQ(report.result.status, GuestStatus::kFailed);
  EXPECT_TRUE(report.result.timed_out);
  EXPECT_EQ(report.result.exit_code, 3);
  ASSERT_EQ(groups_.size(), 1U);
  EXPECT_TRUE(GroupGoneWithin(groups_[0]));
  EXPECT_THAT(ReadFile(state_dir_ + "/log/p1.log"), HasSubstr("got TERM"));
}

TEST_F(GuestRunnerTest, ANewRunKillsTheScriptStillRunningAndAnswersItFailed) {
  const auto slow = Package("p1", "sleep 1000");
  Submit(Action("p1", GuestVerb::kRun, 12), slow);
  RunFor(std::chrono::milliseconds(100));
  const auto fast = Package("p1", "exit 0");

  Submit(Action("p1", GuestVerb::kRun, 13), fast);
  ASSERT_TRUE(WaitReports(2));

  EXPECT_EQ(reports_[0].guest.epoch, raft::LogIndex(12));
  EXPECT_EQ(reports_[0].result.status, GuestStatus::kFailed);
  EXPECT_EQ(reports_[0].result.exit_code, -1);
  EXPECT_EQ(reports_[1].guest.epoch, raft::LogIndex(13));
  EXPECT_EQ(reports_[1].result.status, GuestStatus::kRunning);
  EXPECT_TRUE(GroupGoneWithin(groups_.at(0)));
}

// Pacing (guest_runner.h): 8 scripts start in the call, the rest in later turns of the
// io loop, in order, and every one is answered.
TEST_F(GuestRunnerTest, ManyRunsAtOnceStartEightPerTurnAndAllAreAnswered) {
  std::vector<config::PackageSpec> packages;
  for (int i = 0; i < 20; ++i) packages.push_back(Package("p" + std::to_string(i), "exit 0"));

  for (const config::PackageSpec& package : packages) {
    Submit(Action(package.name.value(), GuestVerb::kRun), package);
  }
  EXPECT_EQ(groups_.size(), 8U);  // Started within Submit; the other 12 wait.
  ASSERT_TRUE(WaitReports(20));

  EXPECT_EQ(groups_.size(), 20U);
  for (const ReportRecord& report : reports_) {
    EXPECT_EQ(report.result.status, GuestStatus::kRunning) << report.guest.resource.value();
  }
}

// A kill for a package whose run still waits drops the run: it never starts, and it is
// answered as a preempted run is (failed, exit -1) before the kill's own answer.
TEST_F(GuestRunnerTest, AKillForAPackageWhoseRunStillWaitsDropsThatRun) {
  for (int i = 0; i < 8; ++i) {
    const std::string name = "p" + std::to_string(i);
    Submit(Action(name, GuestVerb::kRun), Package(name, "exit 0"));
  }
  const auto late = Package("late", "touch %D%/late-ran; exit 0", "exit 0");
  Submit(Action("late", GuestVerb::kRun), late);
  ASSERT_EQ(groups_.size(), 8U);

  Submit(Action("late", GuestVerb::kKill), late);
  ASSERT_TRUE(WaitReports(10));
  RunFor(std::chrono::milliseconds(100));

  std::vector<ReportRecord> mine;
  for (const ReportRecord& report : reports_) {
    if (report.guest.resource == PackageName("late")) mine.push_back(report);
  }
  ASSERT_EQ(mine.size(), 2U);
  EXPECT_EQ(mine[0].verb, GuestVerb::kRun);
  EXPECT_EQ(mine[0].result.status, GuestStatus::kFailed);
  EXPECT_EQ(mine[0].result.exit_code, -1);
  EXPECT_EQ(mine[1].verb, GuestVerb::kKill);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/late-ran"));
  EXPECT_EQ(groups_.size(), 8U);
}

TEST_F(GuestRunnerTest, TheScriptGetsTheCmclEnvironmentAndNothingOfCmcldsOwn) {
  const auto package = Package("p1", "env >%D%/env.txt; cp \"$CMCL_GUEST_SPEC\" %D%/spec.json");
  setenv("CMCL_TEST_SHOULD_NOT_LEAK", "1", 1);
  auto action = Action("p1", GuestVerb::kRun, 42);
  action.reason = node::ActionReason::kFailover;
  action.source = NodeName("n2");
  action.vcpus = 4;

  const auto report = Do(action, package);

  ASSERT_EQ(report.result.status, GuestStatus::kRunning);
  const std::string env = ReadFile(dir_ + "/env.txt");
  EXPECT_THAT(env, HasSubstr("CMCL_PACKAGE=p1\n"));
  EXPECT_THAT(env, HasSubstr("CMCL_NODE=n1\n"));
  EXPECT_THAT(env, HasSubstr("CMCL_EPOCH=42\n"));
  EXPECT_THAT(env, HasSubstr("CMCL_ACTION=run\n"));
  EXPECT_THAT(env, HasSubstr("CMCL_REASON=failover\n"));
  EXPECT_THAT(env, HasSubstr("CMCL_SOURCE_NODE=n2\n"));
  EXPECT_THAT(env, HasSubstr("CMCL_GUEST_VCPUS=4\n"));
  EXPECT_THAT(env, HasSubstr("CMCL_GUEST_MEMORY_MB=512\n"));
  EXPECT_THAT(env, HasSubstr("CMCL_GUEST_SPEC=" + state_dir_ + "/guests/p1.spec.json\n"));
  EXPECT_THAT(env, HasSubstr("CMCL_GUEST_STORAGE=" + dir_ + "/disks/p1.img\n"));
  EXPECT_THAT(env, HasSubstr("CMCL_DRIVER_DIR=" + driver_dir_ + "\n"));
  EXPECT_THAT(env, HasSubstr("CMCL_STATE_DIR=" + state_dir_ + "\n"));
  EXPECT_THAT(env, Not(HasSubstr("CMCL_TEST_SHOULD_NOT_LEAK")));
  EXPECT_EQ(ReadFile(dir_ + "/spec.json"),
            "{\"package\":\"p1\",\"node\":\"n1\",\"epoch\":42,\"vcpus\":4,\"memory_mb\":512,"
            "\"label\":\"test guest\",\"storage\":[{\"path\":\"" +
                dir_ +
                "/disks/p1.img\",\"type\":\"disk\",\"shared\":false}],\"networks\":[],"
                "\"devices\":[]}\n");
}

TEST_F(GuestRunnerTest, TheScriptRunsInThePackageFolderWithoutSourceNodeWhenThereIsNone) {
  const auto package = Package("p1", "exit 0", "pwd >%D%/cwd.txt; env >%D%/env.txt");

  const auto report = Do(Action("p1", GuestVerb::kHalt), package);

  ASSERT_EQ(report.result.status, GuestStatus::kStopped);
  EXPECT_EQ(ReadFile(dir_ + "/cwd.txt"), package.folder + "\n");
  EXPECT_THAT(ReadFile(dir_ + "/env.txt"), Not(HasSubstr("CMCL_SOURCE_NODE")));
  EXPECT_THAT(ReadFile(dir_ + "/env.txt"), HasSubstr("CMCL_ACTION=halt\n"));
}

TEST_F(GuestRunnerTest, OutputGoesToThePackageLogAfterAHeaderLine) {
  const auto package = Package("p1", "echo to stdout; echo to stderr >&2");

  Do(Action("p1", GuestVerb::kRun), package);

  const std::string log = ReadFile(state_dir_ + "/log/p1.log");
  const std::regex expected(
      "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ run epoch=12 reason=start\n"
      "to stdout\nto stderr\n");
  EXPECT_TRUE(std::regex_match(log, expected)) << log;
}

TEST_F(GuestRunnerTest, TheLogRotatesAtLogMaxBytesAndKeepsLogKeepFiles) {
  auto options = RunnerOptions();
  options.log_max_bytes = 200;
  options.log_keep = 2;
  Runner(options);
  const auto package = Package("p1",
                               "i=0; while [ $i -lt 30 ]; do echo \"line $i of $CMCL_EPOCH\"; "
                               "i=$((i + 1)); done");

  for (uint64_t epoch = 1; epoch <= 5; ++epoch) Do(Action("p1", GuestVerb::kRun, epoch), package);

  const std::string base = state_dir_ + "/log/p1.log";
  EXPECT_THAT(ReadFile(base), HasSubstr("line 29 of 5"));
  EXPECT_THAT(ReadFile(base + ".1"), HasSubstr("line 29 of 4"));
  EXPECT_THAT(ReadFile(base + ".2"), HasSubstr("line 29 of 3"));
  EXPECT_FALSE(std::filesystem::exists(base + ".3"));
  EXPECT_THAT(ReadFile(base + ".1"), Not(HasSubstr("of 5")));
}

// A descriptor cmcld has open without close-on-exec (a gRPC socket, say) must not reach
// a script, nor through it a guest.
TEST_F(GuestRunnerTest, InheritedDescriptorsDoNotReachTheScript) {
  const std::string marker = dir_ + "/leak-marker";
  const int leaked = ::open(marker.c_str(), O_RDWR | O_CREAT, 0600);
  ASSERT_GE(leaked, 3);
  const auto package = Package("p1",
                               "for f in /proc/$$/fd/*; do echo \"${f##*/} $(readlink $f)\"; "
                               "done >%D%/fds.txt");

  const auto report = Do(Action("p1", GuestVerb::kRun), package);
  ::close(leaked);

  ASSERT_EQ(report.result.status, GuestStatus::kRunning);
  const std::string fds = ReadFile(dir_ + "/fds.txt");
  EXPECT_THAT(fds, Not(HasSubstr("leak-marker")));
  EXPECT_THAT(fds, HasSubstr("0 /dev/null\n"));
  EXPECT_THAT(fds, HasSubstr("2 " + state_dir_ + "/log/p1.log\n"));
}

// Measures the time from Submit to the report of a trivial `exit 0` run script; prints
// the median of 100 (the bound only catches a runner that polls or sleeps).
TEST_F(GuestRunnerTest, ATrivialRunIsReportedQuickly) {
  const auto package = Package("p1", "exit 0");
  std::vector<double> latencies_ms;

  for (uint64_t epoch = 1; epoch <= 100; ++epoch) {
    const auto before = std::chrono::steady_clock::now();
    const auto report = Do(Action("p1", GuestVerb::kRun, epoch), package);
    latencies_ms.push_back(std::chrono::duration<double, std::milli>(report.at - before).count());
  }

  std::sort(latencies_ms.begin(), latencies_ms.end());
  std::cout << "run exit 0 report latency: median " << latencies_ms[50] << " ms, p90 "
            << latencies_ms[90] << " ms, max " << latencies_ms[99] << " ms\n";
  EXPECT_LT(latencies_ms[50], 200.0);
}

}  // namespace
}  // namespace cmcl::io::testing
