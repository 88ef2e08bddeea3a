// Test support for GuestRunner tests: a temporary folder with package folders written
// from shell snippets, an io_context driven until reports arrive, and cleanup of every
// process a test started (recorded pids, process groups, guests of the process driver)
// even when the test fails.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "cmcld/core/config/cluster_config.h"
#include "cmcld/core/node/node.h"
#include "cmcld/io/guest/guest_runner.h"

namespace cmcl::io::testing {

struct ReportRecord {
  node::GuestRef guest;
  node::GuestVerb verb;
  node::GuestResult result;
  std::chrono::steady_clock::time_point at;
};

// Reads a whole file ("" when missing).
std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& text, bool executable = false);
// True while a process of group `pgid` is alive (zombies do not count: init here may not
// reap orphans).
bool GroupAlive(pid_t pgid);
// True once no process of group `pgid` is alive, within `limit`: a SIGKILLed process is
// not gone the instant kill() returns (its siblings may still be exiting).
bool GroupGoneWithin(pid_t pgid, std::chrono::milliseconds limit = std::chrono::seconds(2));
bool ProcessAlive(pid_t pid);

class GuestRunnerTest : public ::testing::Test {
 protected:
  GuestRunnerTest();
  ~GuestRunnerTest() override;

  // The scripts' bodies may say %D% for the test folder; `pids` of background children
  // should be appended to %D%/pids so the test can kill them.
  config::PackageSpec Package(const std::string& name, const std::string& run_body,
                              const std::string& halt_body = "exit 0");
  // A driver NAME in the test's driver folder, from a shell body.
  void Driver(const std::string& name, const std::string& body);
  GuestRunner::Options RunnerOptions(const std::string& node = "n1") const;
  GuestRunner& Runner(std::optional<GuestRunner::Options> options = std::nullopt);
  node::GuestAction Action(const std::string& package, node::GuestVerb verb,
                           uint64_t epoch = 12) const;
  void Submit(const node::GuestAction& action, const config::PackageSpec& package);

  // Runs the io_context until `count` reports arrived in total, at most `limit`.
  bool WaitReports(size_t count, std::chrono::milliseconds limit = std::chrono::seconds(10));
  // Runs the io_context for `time`.
  void RunFor(std::chrono::milliseconds time);
  // Submits and waits for the one answer.
  ReportRecord Do(const node::GuestAction& action, const config::PackageSpec& package);

  std::string dir_;
  std::string state_dir_;
  std::string driver_dir_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::unique_ptr<GuestRunner> runner_;
  std::vector<ReportRecord> reports_;
  std::vector<pid_t> groups_;  // From GroupFn.
};

}  // namespace cmcl::io::testing
