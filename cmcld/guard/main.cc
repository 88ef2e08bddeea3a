// cmcl-guard: the per-node fence deadline holder (guard.h says what it does; cmcld starts
// it, see io/guard/guard_client.h).
//
//   cmcl-guard --state-dir DIR [--log-file PATH] [--fence-timeout DURATION]
//
// Exit status: 0 after a clean exit (guard.h); 2 when another guard already guards DIR;
// 1 when it cannot start otherwise (a bad argument, an unusable DIR or log file). Both
// with a one-line message on standard error (and in the log, when it could be opened).
// GuardClient retries after a 2 (the other guard may be exiting) and gives up after a 1.
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "cmcld/core/common/time.h"
#include "cmcld/guard/guard.h"
#include "cmcld/guard/guard_log.h"
#include "cmcld/guard/watchdog_device.h"
#include "cmcld/io/realtime.h"

namespace {

constexpr const char* kUsage =
    "usage: cmcl-guard --state-dir DIR [--log-file PATH] [--fence-timeout DURATION]\n"
    "Holds the fence deadline of cmcld's guests on this node and fences them (driver kill,\n"
    "or SIGKILL of the run script's group and the halt script) when it passes, whether or\n"
    "not cmcld still runs. Listens on DIR/guard.sock; logs to PATH (default: stderr).\n"
    "--fence-timeout bounds each fence step until cmcld attaches (default 300ms).\n";

struct Flags {
  std::string state_dir;
  std::string log_file;
  cmcl::Duration fence_timeout = std::chrono::milliseconds(300);
};

constexpr int kExitCannotStart = 1;
constexpr int kExitAnotherGuard = 2;

int Fail(const std::string& message, int status = kExitCannotStart) {
  std::fprintf(stderr, "cmcl-guard: %s\n", message.c_str());
  return status;
}

// Flags, or the exit status to leave with (0 after --help).
std::optional<int> Parse(int argc, char** argv, Flags& flags) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (i + 1 >= argc) return Fail(std::string(flag) + " needs a value (see --help)");
    const std::string value = argv[++i];
    if (flag == "--state-dir") {
      flags.state_dir = value;
    } else if (flag == "--log-file") {
      flags.log_file = value;
    } else if (flag == "--fence-timeout") {
      const std::optional<cmcl::Duration> timeout = cmcl::ParseDuration(value);
      if (!timeout.has_value()) return Fail("--fence-timeout: not a duration: " + value);
      flags.fence_timeout = *timeout;
    } else {
      return Fail("unknown flag " + std::string(flag) + " (see --help)");
    }
  }
  if (flags.state_dir.empty()) return Fail("--state-dir is required (see --help)");
  return std::nullopt;
}

// The real watchdog, unless a test substitutes the recording fake (watchdog_device.h):
// never set outside tests — with it, fence_action reboot resets nothing.
std::unique_ptr<cmcl::guard::WatchdogDevice> WatchdogFor(const cmcl::guard::GuardLog& log) {
  const char* record = std::getenv("CMCL_TEST_FAKE_WATCHDOG");
  if (record == nullptr || *record == '\0') return cmcl::guard::WatchdogDevice::Linux();
  std::optional<int> grant;
  if (const char* seconds = std::getenv("CMCL_TEST_FAKE_WATCHDOG_GRANT")) {
    grant = std::atoi(seconds);
  }
  log.Line(std::string("TEST ONLY: CMCL_TEST_FAKE_WATCHDOG is set: the watchdog is a "
                       "recording to ") +
           record + "; this node is never reset");
  return cmcl::guard::WatchdogDevice::Recording(record, grant);
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  if (const std::optional<int> status = Parse(argc, argv, flags)) return *status;
  char resolved[PATH_MAX];
  if (::realpath(flags.state_dir.c_str(), resolved) == nullptr) {
    return Fail("state dir " + flags.state_dir + " is not usable");
  }
  cmcl::guard::GuardLog log;
  if (!flags.log_file.empty() && !log.Open(flags.log_file)) {
    return Fail("cannot open log file " + flags.log_file);
  }
  if (const std::optional<std::string> refused =
          cmcl::io::EnterRealtime(cmcl::io::kGuardRealtimePriority)) {
    log.Line(*refused);
  }
  std::unique_ptr<cmcl::guard::WatchdogDevice> watchdog = WatchdogFor(log);
  cmcl::guard::Guard guard({.state_dir = resolved, .fence_timeout = flags.fence_timeout}, log,
                           *watchdog);
  if (const cmcl::Status status = guard.Open(); !status.ok()) {
    if (log.fd() != 2) log.Line("cannot start: " + status.message());  // Else Fail says it.
    const bool taken = status.code() == cmcl::StatusCode::kAlreadyExists;
    return Fail(status.message(), taken ? kExitAnotherGuard : kExitCannotStart);
  }
  // Relative paths were resolved; keep no mount busy.
  if (::chdir("/") != 0) log.Line("chdir /: failed");
  return guard.Run();
}
