// GuardClient and cmcl-guard together (io/guard/guard_client.h, guard/guard.h): the real
// guard binary on a temporary state dir. Every test kills the guard it started by PID
// (ChildProcess), so a failing test leaves no guard behind. Timing is asserted only as
// generous upper bounds, plus the one lower bound that is a rule: never fence before the
// deadline.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cmcld/io/clock.h"
#include "cmcld/io/guard/guard_client.h"
#include "tests/support/temp_dir.h"

namespace cmcl::io {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A child process of this test (a guard, a stand-in guest), SIGKILLed and reaped when
// the test ends however it ends.
class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess() { Kill(); }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  void Track(pid_t pid) {
    if (pid_ == 0) pid_ = pid;
  }
  pid_t pid() const { return pid_; }
  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = 0;
  }
  // The wait status once it exits within `timeout`; nullopt if it still runs.
  std::optional<int> Wait(std::chrono::milliseconds timeout) {
    const Clock::time_point until = Clock::now() + timeout;
    while (pid_ > 0) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = 0;
        return status;
      }
      if (Clock::now() >= until) break;
      std::this_thread::sleep_for(5ms);
    }
    return std::nullopt;
  }

 private:
  pid_t pid_ = 0;
};

bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const Clock::time_point until = Clock::now() + timeout;
  while (!done()) {
    if (Clock::now() >= until) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> Lines(const std::string& path) {
  std::vector<std::string> lines;
  std::istringstream in(ReadFile(path));
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

pid_t SpawnProcess(const std::vector<std::string>& args, const std::string& output,
                   bool own_group) {
  std::vector<char*> argv;
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, output.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  if (own_group) {
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
  }
  pid_t pid = 0;
  const int error = posix_spawn(&pid, args[0].c_str(), &actions, &attr, argv.data(), environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  EXPECT_EQ(error, 0) << "cannot run " << args[0];
  return error == 0 ? pid : 0;
}

node::GuardRequest Deadline(uint64_t id, Time deadline, bool allow_earlier = false) {
  return {.id = id,
          .request = node::SetDeadline{.deadline = deadline, .allow_earlier = allow_earlier}};
}
node::GuardRequest Registration(uint64_t id, const GuardGuest& guest) {
  return {.id = id, .request = node::Register{.guest = guest.guest}};
}
node::GuardRequest Unregistration(uint64_t id, const std::string& package) {
  return {.id = id, .request = node::Unregister{.resource = PackageName(package)}};
}
node::GuestRef Guest(const std::string& package, uint64_t epoch) {
  return {.resource = PackageName(package), .epoch = raft::LogIndex(epoch)};
}

class GuardTest : public ::testing::Test {
 protected:
  GuardClient::Options Options() const {
    return {.state_dir = dir_.path(),
            .guard_binary = CMCL_GUARD_BINARY,
            .fence_timeout = 300ms,
            .start_timeout = 2s};
  }

  Result<std::unique_ptr<GuardClient>> TryAttach(GuardClient::Options options) {
    Result<std::unique_ptr<GuardClient>> client = GuardClient::Attach(
        io_, std::move(options), [this](uint64_t id) { acks_.push_back(id); },
        [this](std::string why) { lost_.push_back(std::move(why)); });
    if (client.ok()) guard_.Track((*client)->guard_pid());
    return client;
  }

  std::unique_ptr<GuardClient> Attach() {
    Result<std::unique_ptr<GuardClient>> client = TryAttach(Options());
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    return client.ok() ? std::move(client).value() : nullptr;
  }

  // Runs the io_context until `id` is acknowledged (true) or 2 s pass.
  bool AwaitAck(uint64_t id) {
    const Clock::time_point until = Clock::now() + 2s;
    while (acks_.empty() || acks_.back() < id) {
      if (Clock::now() >= until) return false;
      io_.restart();
      if (io_.run_for(10ms) == 0) std::this_thread::sleep_for(1ms);
    }
    return true;
  }

  // A driver that records each call ("VERB ACTION PACKAGE WORKDIR") and says stopped (7)
  // once killed; `kill_extra` runs inside `kill` (e.g. a sleep).
  GuardGuest DriverGuest(const std::string& package, uint64_t epoch,
                         const std::string& kill_extra = "") {
    const std::string record = dir_ / (package + ".calls");
    dir_.Write(package + "/driver",
               "#!/bin/sh\n"
               "echo \"$1 $CMCL_ACTION $CMCL_PACKAGE $(pwd)\" >> " +
                   record +
                   "\n"
                   "case \"$1\" in\n"
                   "  kill) " +
                   kill_extra + "\n touch " + record +
                   ".killed; "
                   "echo \"$1 done\" >> " +
                   record +
                   "; exit 0;;\n"
                   "  status) [ -e " +
                   record +
                   ".killed ] && exit 7; exit 0;;\n"
                   "esac\nexit 1\n",
               0755);
    return {.guest = Guest(package, epoch),
            .driver = dir_ / (package + "/driver"),
            .work_dir = dir_ / package,
            .env = {"CMCL_PACKAGE=" + package, "CMCL_EPOCH=" + std::to_string(epoch)}};
  }
  std::string Calls(const std::string& package) const { return dir_ / (package + ".calls"); }

  testing::TempDir dir_;
  ChildProcess guard_;  // After dir_: the guard dies before its state dir goes.
  boost::asio::io_context io_;
  std::vector<uint64_t> acks_;
  std::vector<std::string> lost_;
};

TEST_F(GuardTest, AttachStartsAGuardInItsOwnSessionListeningOnAPrivateSocket) {
  std::unique_ptr<GuardClient> client = Attach();

  ASSERT_NE(client, nullptr);
  EXPECT_GT(client->guard_pid(), 0);
  EXPECT_NE(::getsid(client->guard_pid()), ::getsid(0));
  EXPECT_NE(::getpgid(client->guard_pid()), ::getpgid(0));
  struct stat socket_stat {};
  ASSERT_EQ(::stat((dir_ / "guard.sock").c_str(), &socket_stat), 0);
  EXPECT_TRUE(S_ISSOCK(socket_stat.st_mode));
  EXPECT_EQ(socket_stat.st_mode & 0777, 0600U);
  EXPECT_FALSE(client->attached().deadline.has_value());
  EXPECT_TRUE(client->attached().registered.empty());
  EXPECT_FALSE(client->attached().fenced);
}

TEST_F(GuardTest, AcksArriveInRequestOrder) {
  std::unique_ptr<GuardClient> client = Attach();
  ASSERT_NE(client, nullptr);
  const GuardGuest guest = DriverGuest("guest1", 12);

  client->Submit(Deadline(1, BootNow() + 60s));
  client->Submit(Registration(2, guest), &guest);
  client->Submit(Unregistration(3, "guest1"));
  client->Submit(Deadline(4, BootNow() + 61s));

  ASSERT_TRUE(AwaitAck(4));
  EXPECT_EQ(acks_, (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_TRUE(lost_.empty());
}

TEST_F(GuardTest, DeadlineMovesBackOnlyWithAllowEarlier) {
  const Time later = BootNow() + 60s;
  const Time sooner = BootNow() + 30s;
  std::unique_ptr<GuardClient> client = Attach();
  ASSERT_NE(client, nullptr);

  client->Submit(Deadline(1, later));
  client->Submit(Deadline(2, sooner));
  ASSERT_TRUE(AwaitAck(2));
  client.reset();
  client = Attach();
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->attached().deadline, later);

  client->Submit(Deadline(3, sooner, /*allow_earlier=*/true));
  ASSERT_TRUE(AwaitAck(3));
  client.reset();
  client = Attach();
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->attached().deadline, sooner);
}

TEST_F(GuardTest, ReattachAfterTheClientIsGoneFindsTheGuestsAndTheDeadlineUntouched) {
  const Time deadline = BootNow() + 60s;
  const GuardGuest first = DriverGuest("guest1", 12);
  const GuardGuest second = DriverGuest("guest2", 14);
  std::unique_ptr<GuardClient> client = Attach();
  ASSERT_NE(client, nullptr);
  const int pid = client->guard_pid();
  client->Submit(Deadline(1, deadline));
  client->Submit(Registration(2, second), &second);
  client->Submit(Registration(3, first), &first);
  ASSERT_TRUE(AwaitAck(3));

  client.reset();  // A cmcld crash, as the guard sees it.
  client = Attach();

  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->guard_pid(), pid);
  EXPECT_EQ(client->attached().deadline, deadline);
  EXPECT_EQ(client->attached().registered,
            (std::vector<node::GuestRef>{Guest("guest1", 12), Guest("guest2", 14)}));
  EXPECT_FALSE(client->attached().fenced);
  EXPECT_TRUE(Lines(Calls("guest1")).empty());
  // Config apply (issue 9): the folder of the version each guest was started from.
  EXPECT_EQ(client->attached_work_dirs(),
            (std::map<PackageName, std::string>{{PackageName("guest1"), first.work_dir},
                                                {PackageName("guest2"), second.work_dir}}));
}

TEST_F(GuardTest, PassedDeadlineFencesADriverGuestWithKillThenStatusWithoutCmcld) {
  const GuardGuest guest = DriverGuest("guest1", 12);
  std::unique_ptr<GuardClient> client = Attach();
  ASSERT_NE(client, nullptr);
  const Time deadline = BootNow() + 200ms;
  client->Submit(Registration(1, guest), &guest);
  client->Submit(Deadline(2, deadline));
  ASSERT_TRUE(AwaitAck(2));

  client.reset();  // cmcld crashed: nobody but the guard is left to fence.
  std::optional<Time> first_call;
  std::optional<Time> status_call;
  WaitFor(
      [&] {
        const std::vector<std::string> calls = Lines(Calls("guest1"));
        if (!calls.empty() && !first_call) first_call = BootNow();
        if (calls.size() >= 3 && !status_call) status_call = BootNow();
        return status_call.has_value();
      },
      3s);

  const std::string work_dir = dir_ / "guest1";
  EXPECT_EQ(Lines(Calls("guest1")),
            (std::vector<std::string>{"kill kill guest1 " + work_dir, "kill done",
                                      "status status guest1 " + work_dir}));
  ASSERT_TRUE(first_call.has_value());
  ASSERT_TRUE(status_call.has_value());
  EXPECT_GE(*first_call, deadline);  // Never before the deadline.
  EXPECT_LE(*status_call, deadline + 1s);
  client = Attach();
  ASSERT_NE(client, nullptr);
  EXPECT_TRUE(client->attached().fenced);
  EXPECT_EQ(client->attached().registered, (std::vector<node::GuestRef>{Guest("guest1", 12)}));
  EXPECT_TRUE(WaitFor(
      [&] {
        return ReadFile(dir_ / "guard.log").find("fence: guest1@12 stopped") != std::string::npos;
      },
      2s))
      << ReadFile(dir_ / "guard.log");
}

TEST_F(GuardTest, PassedDeadlineKillsTheRunGroupOfAGuestWithoutDriverAndRunsItsHaltScript) {
  ChildProcess run_script;
  run_script.Track(SpawnProcess({"/bin/sleep", "30"}, dir_ / "sleep.err", /*own_group=*/true));
  ASSERT_GT(run_script.pid(), 0);
  dir_.Write(
      "pkg/halt.sh",
      "#!/bin/sh\necho \"$CMCL_REASON $CMCL_PACKAGE\" >> " + (dir_ / "halt.calls") + "\nexit 0\n",
      0755);
  const GuardGuest guest = {.guest = Guest("pkg", 3),
                            .halt_script = dir_ / "pkg/halt.sh",
                            .work_dir = dir_ / "pkg",
                            .env = {"CMCL_PACKAGE=pkg", "CMCL_REASON=start"}};
  std::unique_ptr<GuardClient> client = Attach();
  ASSERT_NE(client, nullptr);
  client->Submit(Registration(1, guest), &guest);
  client->SetRunGroup(PackageName("pkg"), run_script.pid());
  client->Submit(Deadline(2, BootNow() + 200ms));
  ASSERT_TRUE(AwaitAck(2));

  client.reset();
  const std::optional<int> run_status = run_script.Wait(3s);
  WaitFor([&] { return !Lines(dir_ / "halt.calls").empty(); }, 3s);

  ASSERT_TRUE(run_status.has_value()) << "the run script's group is still alive";
  EXPECT_TRUE(WIFSIGNALED(*run_status) && WTERMSIG(*run_status) == SIGKILL);
  EXPECT_EQ(Lines(dir_ / "halt.calls"), (std::vector<std::string>{"fence pkg"}));
  client = Attach();
  ASSERT_NE(client, nullptr);
  EXPECT_TRUE(client->attached().fenced);
}

TEST_F(GuardTest, AFencedGuestIsGuardedAgainOnceTheDeadlineIsRenewed) {
  const GuardGuest guest = DriverGuest("guest1", 12);
  std::unique_ptr<GuardClient> client = Attach();
  ASSERT_NE(client, nullptr);
  client->Submit(Registration(1, guest), &guest);
  client->Submit(Deadline(2, BootNow() + 50ms));
  ASSERT_TRUE(WaitFor([&] { return Lines(Calls("guest1")).size() >= 3; }, 3s));
  ASSERT_TRUE(AwaitAck(2));

  client->Submit(Deadline(3, BootNow() + 200ms));
  ASSERT_TRUE(AwaitAck(3));
  client.reset();
  client = Attach();
  ASSERT_NE(client, nullptr);
  EXPECT_FALSE(client->attached().fenced);  // Re-armed: guarded, not fenced.
  client.reset();

  EXPECT_TRUE(WaitFor([&] { return Lines(Calls("guest1")).size() >= 6; }, 3s))
      << "the renewed deadline passed without a second fence";
}

TEST_F(GuardTest, AcksWaitForAFenceStepStillRunning) {
  const GuardGuest guest = DriverGuest("guest1", 12, "sleep 0.2");
  std::unique_ptr<GuardClient> client = Attach();
  ASSERT_NE(client, nullptr);
  client->Submit(Registration(1, guest), &guest);
  client->Submit(Deadline(2, BootNow() + 50ms));
  ASSERT_TRUE(AwaitAck(2));
  ASSERT_TRUE(WaitFor([&] { return !Lines(Calls("guest1")).empty(); }, 3s));

  client->Submit(Deadline(3, BootNow() + 60s));
  ASSERT_TRUE(AwaitAck(3));

  // The ack came only after the kill finished: a guest started now is safe from it.
  const std::vector<std::string> calls = Lines(Calls("guest1"));
  ASSERT_GE(calls.size(), 3U);
  EXPECT_EQ(calls[1], "kill done");
}

TEST_F(GuardTest, AFenceStepThatOverrunsIsKilledAndTheFenceGoesOn) {
  const std::string once = dir_ / "slept";  // Only the first kill hangs.
  const GuardGuest guest =
      DriverGuest("guest1", 12, "[ -e " + once + " ] || { touch " + once + "; sleep 30; }");
  std::unique_ptr<GuardClient> client = Attach();
  ASSERT_NE(client, nullptr);
  client->Submit(Registration(1, guest), &guest);
  client->Submit(Deadline(2, BootNow() + 50ms));
  ASSERT_TRUE(AwaitAck(2));

  ASSERT_TRUE(WaitFor([&] { return Lines(Calls("guest1")).size() >= 2; }, 3s));

  const std::vector<std::string> calls = Lines(Calls("guest1"));
  EXPECT_EQ(calls[1].substr(0, 6), "status");
  const auto logged = [&](const std::string& text) {
    return WaitFor([&] { return ReadFile(dir_ / "guard.log").find(text) != std::string::npos; },
                   2s);
  };
  EXPECT_TRUE(logged("step overran 300 ms")) << ReadFile(dir_ / "guard.log");
  EXPECT_TRUE(logged("CRITICAL guest1@12 NOT confirmed stopped")) << ReadFile(dir_ / "guard.log");
}

TEST_F(GuardTest, AFenceThatDidNotStopTheGuestIsTriedAgain) {
  const std::string once = dir_ / "failed";  // The first kill fails, the second works.
  const GuardGuest guest =
      DriverGuest("guest1", 12, "[ -e " + once + " ] || { touch " + once + "; exit 1; }");
  std::unique_ptr<GuardClient> client = Attach();
  ASSERT_NE(client, nullptr);
  client->Submit(Registration(1, guest), &guest);
  client->Submit(Deadline(2, BootNow() + 50ms));
  ASSERT_TRUE(AwaitAck(2));
  client.reset();

  const bool stopped = WaitFor(
      [&] {
        // Late by then: "CRITICAL guest1@12 stopped only after lease_end".
        return ReadFile(dir_ / "guard.log").find("guest1@12 stopped") != std::string::npos;
      },
      3s);

  EXPECT_TRUE(stopped) << ReadFile(dir_ / "guard.log");
  const std::string work_dir = dir_ / "guest1";
  EXPECT_EQ(Lines(Calls("guest1")),
            (std::vector<std::string>{
                "kill kill guest1 " + work_dir, "status status guest1 " + work_dir,
                "kill kill guest1 " + work_dir, "kill done", "status status guest1 " + work_dir}));
}

TEST_F(GuardTest, AFenceWhoseDriverCannotRunIsCriticalAndStillCountsAsFenced) {
  GuardGuest guest = DriverGuest("guest1", 12);
  guest.driver = dir_ / "missing/driver";
  std::unique_ptr<GuardClient> client = Attach();
  ASSERT_NE(client, nullptr);
  client->Submit(Registration(1, guest), &guest);
  client->Submit(Deadline(2, BootNow() + 50ms));
  ASSERT_TRUE(AwaitAck(2));

  const bool logged = WaitFor(
      [&] {
        return ReadFile(dir_ / "guard.log").find("CRITICAL guest1@12 NOT confirmed stopped") !=
               std::string::npos;
      },
      3s);

  EXPECT_TRUE(logged) << ReadFile(dir_ / "guard.log");
  client.reset();
  client = Attach();
  ASSERT_NE(client, nullptr);
  EXPECT_TRUE(client->attached().fenced);
}

TEST_F(GuardTest, ASecondGuardOnTheSameStateDirExitsWithStatus2) {
  std::unique_ptr<GuardClient> client = Attach();
  ASSERT_NE(client, nullptr);
  ChildProcess second;

  second.Track(SpawnProcess({CMCL_GUARD_BINARY, "--state-dir", dir_.path()}, dir_ / "second.err",
                            /*own_group=*/false));
  const std::optional<int> status = second.Wait(3s);

  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 2);
  const std::vector<std::string> message = Lines(dir_ / "second.err");
  ASSERT_EQ(message.size(), 1U);
  EXPECT_NE(message[0].find("already guards"), std::string::npos) << message[0];
  EXPECT_EQ(::kill(client->guard_pid(), 0), 0);  // The first one still guards.
}

TEST_F(GuardTest, ASecondCmcldIsRefusedWhileOneIsAttached) {
  std::unique_ptr<GuardClient> client = Attach();
  ASSERT_NE(client, nullptr);
  GuardClient::Options options = Options();
  options.start_timeout = 300ms;

  Result<std::unique_ptr<GuardClient>> second = TryAttach(options);

  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("refused"), std::string::npos)
      << second.status().message();
  client->Submit(Deadline(1, BootNow() + 60s));
  EXPECT_TRUE(AwaitAck(1));
}

TEST_F(GuardTest, AttachFailsWhenTheGuardCannotStart) {
  GuardClient::Options options = Options();
  options.state_dir = dir_ / "missing";
  options.start_timeout = 10s;
  const Clock::time_point start = Clock::now();

  Result<std::unique_ptr<GuardClient>> client = TryAttach(options);

  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(client.status().message().find("exited"), std::string::npos)
      << client.status().message();
  EXPECT_LT(Clock::now() - start, 5s);  // It gave up on the exit, not on start_timeout.
}

TEST_F(GuardTest, DetachWithNothingRegisteredEndsTheGuard) {
  std::unique_ptr<GuardClient> client = Attach();
  ASSERT_NE(client, nullptr);

  client->Detach();
  client.reset();
  const std::optional<int> status = guard_.Wait(3s);

  ASSERT_TRUE(status.has_value()) << "the guard still runs";
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 0);
  EXPECT_NE(::access((dir_ / "guard.sock").c_str(), F_OK), 0);
}

TEST_F(GuardTest, DetachWithGuestsRegisteredKeepsGuarding) {
  const GuardGuest guest = DriverGuest("guest1", 12);
  std::unique_ptr<GuardClient> client = Attach();
  ASSERT_NE(client, nullptr);
  client->Submit(Registration(1, guest), &guest);
  ASSERT_TRUE(AwaitAck(1));

  client->Detach();
  client.reset();

  EXPECT_FALSE(guard_.Wait(300ms).has_value());
  client = Attach();
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->attached().registered, (std::vector<node::GuestRef>{Guest("guest1", 12)}));
  EXPECT_TRUE(lost_.empty());
}

TEST_F(GuardTest, SigtermIsIgnoredWhileAGuestIsRegisteredAndEndsAnIdleGuard) {
  const GuardGuest guest = DriverGuest("guest1", 12);
  std::unique_ptr<GuardClient> client = Attach();
  ASSERT_NE(client, nullptr);
  client->Submit(Registration(1, guest), &guest);
  ASSERT_TRUE(AwaitAck(1));

  ::kill(client->guard_pid(), SIGTERM);
  EXPECT_FALSE(guard_.Wait(300ms).has_value()) << "SIGTERM ended a guard with a guest";
  client->Submit(Unregistration(2, "guest1"));
  ASSERT_TRUE(AwaitAck(2));
  ::kill(client->guard_pid(), SIGTERM);
  const std::optional<int> status = guard_.Wait(3s);

  ASSERT_TRUE(status.has_value()) << "SIGTERM did not end an idle guard";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
}

TEST_F(GuardTest, LosingTheGuardIsReported) {
  std::unique_ptr<GuardClient> client = Attach();
  ASSERT_NE(client, nullptr);

  guard_.Kill();
  const Clock::time_point until = Clock::now() + 2s;
  while (lost_.empty() && Clock::now() < until) {
    io_.restart();
    io_.run_for(10ms);
  }

  EXPECT_EQ(lost_.size(), 1U);
}

// --- The watchdog (fence_action reboot; guard.h, core/node/watchdog.h) ---------------
// The guard gets the recording fake through CMCL_TEST_FAKE_WATCHDOG (watchdog_device.h):
// no device is opened and nothing is ever reset; each call is a line "BOOT_MS VERB ...".

class WatchdogGuardTest : public GuardTest {
 protected:
  WatchdogGuardTest() { ::setenv("CMCL_TEST_FAKE_WATCHDOG", record_.c_str(), 1); }
  ~WatchdogGuardTest() override {
    ::unsetenv("CMCL_TEST_FAKE_WATCHDOG");
    ::unsetenv("CMCL_TEST_FAKE_WATCHDOG_GRANT");
  }

  GuardClient::Options WatchdogOptions(Duration timeout = 1s) const {
    GuardClient::Options options = Options();
    options.watchdog_device = "/dev/fake-watchdog";
    options.watchdog_timeout = timeout;
    return options;
  }

  struct Call {
    Time at;
    std::string what;
  };
  std::vector<Call> Calls() const {
    std::vector<Call> calls;
    for (const std::string& line : Lines(record_)) {
      const size_t space = line.find(' ');
      calls.push_back({.at = Time::FromMilliseconds(std::stoll(line.substr(0, space))),
                       .what = line.substr(space + 1)});
    }
    return calls;
  }
  size_t Count(const std::string& what) const {
    size_t count = 0;
    for (const Call& call : Calls()) {
      if (call.what == what) ++count;
    }
    return count;
  }
  std::optional<Time> Last(const std::string& prefix) const {
    std::optional<Time> last;
    for (const Call& call : Calls()) {
      if (call.what.rfind(prefix, 0) == 0) last = call.at;
    }
    return last;
  }

  const std::string record_ = dir_ / "watchdog.calls";
};

TEST_F(WatchdogGuardTest, AttachOpensTheWatchdogAndTheGuardPetsItWhileNothingIsRegistered) {
  Result<std::unique_ptr<GuardClient>> client = TryAttach(WatchdogOptions(1s));
  ASSERT_TRUE(client.ok()) << client.status().ToString();

  EXPECT_EQ((*client)->watchdog_timeout(), 1s);
  EXPECT_EQ((*client)->watchdog_error(), "");
  ASSERT_FALSE(Calls().empty());
  EXPECT_EQ(Calls().front().what, "open /dev/fake-watchdog 1");
  EXPECT_TRUE(WaitFor([&] { return Count("pet") >= 3; }, 2s)) << ReadFile(record_);
}

TEST_F(WatchdogGuardTest, TheTimeoutReportedIsTheOneTheDeviceGranted) {
  ::setenv("CMCL_TEST_FAKE_WATCHDOG_GRANT", "3", 1);

  Result<std::unique_ptr<GuardClient>> client = TryAttach(WatchdogOptions(1500ms));

  ASSERT_TRUE(client.ok()) << client.status().ToString();
  ASSERT_FALSE(Calls().empty()) << "nothing opened";
  EXPECT_EQ(Calls().front().what, "open /dev/fake-watchdog 2");  // Rounded up.
  EXPECT_EQ((*client)->watchdog_timeout(), 3s);
}

TEST_F(WatchdogGuardTest, WithoutAWatchdogInTheAttachNothingIsOpened) {
  std::unique_ptr<GuardClient> client = Attach();
  ASSERT_NE(client, nullptr);

  EXPECT_EQ(client->watchdog_timeout(), 0ms);
  std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(Calls().empty()) << ReadFile(record_);
}

// A protected guest whose fence fails: the pets stop at lease_end − timeout (so a dead
// guard would have the node reset by lease_end) and at lease_end the guard resets it.
TEST_F(WatchdogGuardTest, AFenceThatFailsStopsThePetsInTimeAndResetsTheNodeAtLeaseEnd) {
  const GuardGuest guest = DriverGuest("guest1", 12, "exit 1");  // Never stopped.
  Result<std::unique_ptr<GuardClient>> client = TryAttach(WatchdogOptions(1s));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  const Time deadline = BootNow() + 1500ms;
  const Time lease_end = deadline + 300ms;  // + fence_timeout.
  (*client)->Submit(Registration(1, guest), &guest);
  (*client)->Submit(Deadline(2, deadline));
  ASSERT_TRUE(AwaitAck(2));
  client->reset();  // cmcld crashed.

  ASSERT_TRUE(WaitFor([&] { return Last("reset").has_value(); }, 5s)) << ReadFile(record_);

  const std::optional<Time> last_pet = Last("pet");
  ASSERT_TRUE(last_pet.has_value());
  EXPECT_LE(*last_pet + 1s, lease_end);  // The device would fire by lease_end.
  EXPECT_GE(*last_pet + 1s, lease_end - 300ms) << "petting stopped much too early";
  EXPECT_GE(*Last("reset"), lease_end);
  EXPECT_LE(*Last("reset"), lease_end + 500ms);
  ASSERT_FALSE(Calls().empty());
  EXPECT_EQ(Calls().back().what, "reset a fence has not seen every guest stopped by lease_end");
  EXPECT_NE(ReadFile(dir_ / "guard.log").find("CRITICAL: a fence has not seen every guest"),
            std::string::npos)
      << ReadFile(dir_ / "guard.log");
}

// The kill fence worked: nothing is left to protect, the guard pets on, no reset.
TEST_F(WatchdogGuardTest, ASuccessfulKillFenceCostsNoReset) {
  const GuardGuest guest = DriverGuest("guest1", 12);
  Result<std::unique_ptr<GuardClient>> client = TryAttach(WatchdogOptions(1s));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  const Time lease_end = BootNow() + 1500ms + 300ms;
  (*client)->Submit(Registration(1, guest), &guest);
  (*client)->Submit(Deadline(2, lease_end - 300ms));
  ASSERT_TRUE(AwaitAck(2));
  client->reset();

  ASSERT_TRUE(WaitFor([&] { return BootNow() >= lease_end + 700ms; }, 5s));

  EXPECT_EQ(Last("reset"), std::nullopt) << ReadFile(record_);
  ASSERT_TRUE(Last("pet").has_value());
  EXPECT_GT(*Last("pet"), lease_end);  // Petting on after the fence saw it stopped.
}

TEST_F(WatchdogGuardTest, ACleanExitStopsTheWatchdogWithTheMagicClose) {
  Result<std::unique_ptr<GuardClient>> client = TryAttach(WatchdogOptions(1s));
  ASSERT_TRUE(client.ok()) << client.status().ToString();

  (*client)->Detach();
  client->reset();

  ASSERT_TRUE(guard_.Wait(3s).has_value()) << "the guard still runs";
  ASSERT_FALSE(Calls().empty()) << "nothing opened";
  EXPECT_EQ(Calls().back().what, "close");
}

// A guard that dies leaves the device running: it fires, the fail-safe.
TEST_F(WatchdogGuardTest, AGuardThatDiesNeverStopsTheWatchdog) {
  Result<std::unique_ptr<GuardClient>> client = TryAttach(WatchdogOptions(1s));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  ASSERT_TRUE(WaitFor([&] { return Count("pet") >= 1; }, 2s));

  guard_.Kill();

  EXPECT_EQ(Count("close"), 0U) << ReadFile(record_);
}

// cmcld restarted with fence_action kill: the guard stops the watchdog it held.
TEST_F(WatchdogGuardTest, AnAttachWithoutAWatchdogStopsTheOneTheGuardHeld) {
  Result<std::unique_ptr<GuardClient>> client = TryAttach(WatchdogOptions(1s));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  client->reset();

  std::unique_ptr<GuardClient> again = Attach();
  ASSERT_NE(again, nullptr);

  ASSERT_FALSE(Calls().empty()) << "nothing opened";
  EXPECT_EQ(Calls().back().what, "close");
  const size_t pets = Count("pet");
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(Count("pet"), pets);
}

// cmcld's own resets (core/node/node.h NodeActions::reset): a Reset request has the guard
// log CRITICAL with cmcld's reason and reset through the device at once, with a guest
// registered under a healthy lease (the lease_end rule would pet on).
TEST_F(WatchdogGuardTest, AResetRequestResetsTheNodeAtOnceWithCmcldsReason) {
  const GuardGuest guest = DriverGuest("guest1", 12);
  Result<std::unique_ptr<GuardClient>> client = TryAttach(WatchdogOptions(1s));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  (*client)->Submit(Registration(1, guest), &guest);
  (*client)->Submit(Deadline(2, BootNow() + 60s));
  ASSERT_TRUE(AwaitAck(2));
  const Time asked = BootNow();

  ASSERT_TRUE((*client)->Reset("guest1@12: stray: a kill did not stop it"));

  ASSERT_TRUE(WaitFor([&] { return Last("reset").has_value(); }, 2s)) << ReadFile(record_);
  EXPECT_EQ(Count("reset cmcld: guest1@12: stray: a kill did not stop it"), 1U)
      << ReadFile(record_);
  EXPECT_LE(*Last("reset"), asked + 500ms);
  EXPECT_NE(ReadFile(dir_ / "guard.log")
                .find("CRITICAL: cmcld asks for a reset: guest1@12: stray: a kill did not stop it"),
            std::string::npos)
      << ReadFile(dir_ / "guard.log");
  // Recording's Reset returns; the guard then stops petting, as after its own reset.
  const size_t pets = Count("pet");
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(Count("pet"), pets) << ReadFile(record_);
  EXPECT_TRUE(Lines(GuardTest::Calls("guest1")).empty()) << "no kill fence: the lease is valid";
}

TEST_F(GuardTest, AResetToAGuardThatIsGoneIsRefusedToTheCaller) {
  std::unique_ptr<GuardClient> client = Attach();
  ASSERT_NE(client, nullptr);
  guard_.Kill();
  const Clock::time_point until = Clock::now() + 2s;
  while (lost_.empty() && Clock::now() < until) {
    io_.restart();
    io_.run_for(10ms);
  }
  ASSERT_EQ(lost_.size(), 1U);

  EXPECT_FALSE(client->Reset("r1: service s failed with service_fail_fast_enabled"));
}

}  // namespace
}  // namespace cmcl::io
