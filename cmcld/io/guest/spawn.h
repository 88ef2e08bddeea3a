// ChildProcess: one script or driver call, started with posix_spawn and watched through a
// pidfd on the io_context (TOOLCHAIN.md: never fork, gRPC has threads).
//
// The child runs in its own process group (pgid = its pid), with stdin /dev/null,
// stdout and stderr on `output_fd` (or /dev/null), every other descriptor closed, an empty
// signal mask and default signal dispositions, and `cwd` as working directory. Only the
// environment given is passed. When the child exits it is reaped (waitpid on its pid, so
// nobody else in the process may waitpid(-1)) and `on_exit` runs once, on the io thread.
//
// Timeout: after `term_after` the group gets SIGTERM, then SIGKILL `kill_after` later; a
// group that timed out is SIGKILLed again once its leader exits, so no background child
// of a failed script survives. Not thread-safe: use on the io thread only.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "cmcld/core/common/status.h"
#include "cmcld/core/common/time.h"

namespace cmcl::io {

struct SpawnRequest {
  std::string program;            // Absolute path; executed as is (no PATH search).
  std::vector<std::string> args;  // After argv[0] (= program).
  std::vector<std::string> env;   // KEY=VALUE, the whole environment.
  std::string cwd;                // "" = inherit.
  int output_fd = -1;             // stdout and stderr; -1 = /dev/null. Not taken over.
};

struct ChildExit {
  int exit_code = 0;       // WEXITSTATUS, or -1 when a signal ended it.
  int signal = 0;          // The signal that ended it, else 0.
  bool timed_out = false;  // The timeout fired before it exited.
};

class ChildProcess : public std::enable_shared_from_this<ChildProcess> {
 public:
  using ExitFn = std::function<void(const ChildExit&)>;

  // Starts the child; its exit is reported to `on_exit`. `term_after` nullopt = no
  // timeout. Errors: posix_spawn's (a missing or non-executable program) or pidfd_open's.
  static Result<std::shared_ptr<ChildProcess>> Spawn(boost::asio::io_context& io,
                                                     const SpawnRequest& request,
                                                     std::optional<Duration> term_after,
                                                     Duration kill_after, ExitFn on_exit);
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  // Kills the group and reaps the child if it still runs (blocking, after SIGKILL).
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  bool exited() const { return exited_; }
  // SIGKILL to the whole group, now; the exit is still reported unless Detach()ed.
  void KillGroup();
  // Forgets `on_exit`: the exit will not be reported.
  void Detach() { on_exit_ = nullptr; }

 private:
  ChildProcess(boost::asio::io_context& io, pid_t pid, int pidfd, ExitFn on_exit);
  void Watch();
  void OnReadable();
  void ArmTimeout(Duration term_after, Duration kill_after);

  pid_t pid_;
  boost::asio::posix::stream_descriptor pidfd_;
  boost::asio::steady_timer timer_;
  ExitFn on_exit_;
  bool timed_out_ = false;
  bool exited_ = false;
};

// kill(-pgid, sig), ignoring a group that is already gone.
void SignalGroup(pid_t pgid, int sig);

}  // namespace cmcl::io
