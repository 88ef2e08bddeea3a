#include "cmcld/io/guest/spawn.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include <boost/asio/posix/descriptor_base.hpp>

namespace cmcl::io {
namespace {

std::string ErrnoText(const char* what, int error) {
  return std::string(what) + ": " + std::strerror(error);
}

std::vector<char*> CStrings(const std::string& first, const std::vector<std::string>& rest) {
  std::vector<char*> out;
  out.reserve(rest.size() + 2);
  if (!first.empty()) out.push_back(const_cast<char*>(first.c_str()));
  for (const auto& s : rest) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// RAII for the posix_spawn attribute and file-action objects.
struct SpawnSetup {
  posix_spawnattr_t attr;
  posix_spawn_file_actions_t actions;
  SpawnSetup() {
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_init(&actions);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
};

// Package scripts run at the normal policy, whatever cmcld's (cmcld/io/realtime.h). A
// real-time cmcld waits inside posix_spawn until the child has exec'd (vfork), so a child
// that dropped to the normal policy before its exec could wait for a CPU behind hundreds
// of busy processes, and cmcld's io thread with it: the load test saw that thread in
// kernel_clone for seconds, and leases lost. So the child execs chrt at cmcld's policy,
// which is fast, and chrt drops to the normal policy and execs the script.
constexpr const char* kChrt = "/usr/bin/chrt";
bool ThroughChrt() {
  static const bool through = sched_getscheduler(0) == SCHED_RR && access(kChrt, X_OK) == 0;
  return through;
}

// Own group; signals as a fresh process has them (cmcld may block or ignore some); the
// normal scheduling policy set by posix_spawn itself where chrt does not do it.
int SetAttributes(posix_spawnattr_t& attr) {
  sigset_t empty;
  sigset_t all;
  sigemptyset(&empty);
  sigfillset(&all);
  const bool set_scheduler = !ThroughChrt();
  const short flags = static_cast<short>(
      POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
      (set_scheduler ? POSIX_SPAWN_SETSCHEDULER : 0));
  if (const int e = posix_spawnattr_setflags(&attr, flags); e != 0) return e;
  if (set_scheduler) {
    sched_param normal{};
    normal.sched_priority = 0;
    if (const int e = posix_spawnattr_setschedpolicy(&attr, SCHED_OTHER); e != 0) return e;
    if (const int e = posix_spawnattr_setschedparam(&attr, &normal); e != 0) return e;
  }
  if (const int e = posix_spawnattr_setpgroup(&attr, 0); e != 0) return e;
  if (const int e = posix_spawnattr_setsigmask(&attr, &empty); e != 0) return e;
  return posix_spawnattr_setsigdefault(&attr, &all);
}

int SetFileActions(posix_spawn_file_actions_t& fa, const SpawnRequest& request) {
  if (const int e = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0); e != 0) {
    return e;
  }
  if (request.output_fd >= 0) {
    // dup2 onto 1 and 2 clears their close-on-exec flag; the original stays CLOEXEC.
    if (const int e = posix_spawn_file_actions_adddup2(&fa, request.output_fd, 1); e != 0) {
      return e;
    }
    if (const int e = posix_spawn_file_actions_adddup2(&fa, request.output_fd, 2); e != 0) {
      return e;
    }
  } else {
    if (const int e = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0); e != 0) {
      return e;
    }
    if (const int e = posix_spawn_file_actions_adddup2(&fa, 1, 2); e != 0) return e;
  }
  if (!request.cwd.empty()) {
    if (const int e = posix_spawn_file_actions_addchdir_np(&fa, request.cwd.c_str()); e != 0) {
      return e;
    }
  }
  // Every inherited descriptor (gRPC sockets, the raft log, other packages' logs) stays
  // in cmcld: a guest must never keep the peer socket open.
  return posix_spawn_file_actions_addclosefrom_np(&fa, 3);
}

}  // namespace

void SignalGroup(pid_t pgid, int sig) {
  if (pgid > 1) ::kill(-pgid, sig);
}

Result<std::shared_ptr<ChildProcess>> ChildProcess::Spawn(boost::asio::io_context& io,
                                                          const SpawnRequest& request,
                                                          std::optional<Duration> term_after,
                                                          Duration kill_after, ExitFn on_exit) {
  SpawnSetup setup;
  if (const int e = SetAttributes(setup.attr); e != 0) {
    return Status::Internal(ErrnoText("posix_spawnattr", e));
  }
  if (const int e = SetFileActions(setup.actions, request); e != 0) {
    return Status::Internal(ErrnoText("posix_spawn_file_actions", e));
  }
  std::string program = request.program;
  std::vector<std::string> args = request.args;
  if (ThroughChrt()) {
    // chrt would report a missing script as its own exit status; say it as before.
    if (access(request.program.c_str(), X_OK) != 0) {
      return Status::FailedPrecondition(ErrnoText(request.program.c_str(), errno));
    }
    args.insert(args.begin(), {"--other", "0", request.program});
    program = kChrt;
  }
  std::vector<char*> argv = CStrings(program, args);
  std::vector<char*> envp = CStrings("", request.env);
  pid_t pid = 0;
  // glibc reports exec failures (ENOENT, EACCES, a bad chdir) here, not as exit 127.
  const int e =
      posix_spawn(&pid, program.c_str(), &setup.actions, &setup.attr, argv.data(), envp.data());
  if (e != 0) return Status::FailedPrecondition(ErrnoText(request.program.c_str(), e));
  const long pidfd = syscall(SYS_pidfd_open, pid, 0);
  if (pidfd < 0) {
    const int error = errno;
    SignalGroup(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    return Status::Internal(ErrnoText("pidfd_open", error));
  }
  fcntl(static_cast<int>(pidfd), F_SETFD, FD_CLOEXEC);
  std::shared_ptr<ChildProcess> child(
      new ChildProcess(io, pid, static_cast<int>(pidfd), std::move(on_exit)));
  child->Watch();
  if (term_after) child->ArmTimeout(*term_after, kill_after);
  return child;
}

ChildProcess::ChildProcess(boost::asio::io_context& io, pid_t pid, int pidfd, ExitFn on_exit)
    : pid_(pid), pidfd_(io, pidfd), timer_(io), on_exit_(std::move(on_exit)) {}

ChildProcess::~ChildProcess() {
  if (exited_) return;
  SignalGroup(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
}

void ChildProcess::KillGroup() { SignalGroup(pid_, SIGKILL); }

void ChildProcess::Watch() {
  pidfd_.async_wait(boost::asio::posix::descriptor_base::wait_read,
                    [weak = weak_from_this()](const boost::system::error_code& error) {
                      if (error) return;
                      if (auto self = weak.lock()) self->OnReadable();
                    });
}

void ChildProcess::ArmTimeout(Duration term_after, Duration kill_after) {
  timer_.expires_after(term_after);
  timer_.async_wait([weak = weak_from_this(), kill_after](const boost::system::error_code& e) {
    auto self = weak.lock();
    if (e || !self || self->exited_) return;
    self->timed_out_ = true;
    SignalGroup(self->pid_, SIGTERM);
    self->timer_.expires_after(kill_after);
    self->timer_.async_wait([weak2 = self->weak_from_this()](const boost::system::error_code& e2) {
      auto again = weak2.lock();
      if (e2 || !again || again->exited_) return;
      SignalGroup(again->pid_, SIGKILL);
    });
  });
}

void ChildProcess::OnReadable() {
  int status = 0;
  const pid_t reaped = waitpid(pid_, &status, WNOHANG);
  if (reaped == 0) {  // Spurious wake-up: the pidfd is readable only once it exited.
    Watch();
    return;
  }
  exited_ = true;
  timer_.cancel();
  pidfd_.close();
  ChildExit exit;
  exit.timed_out = timed_out_;
  if (reaped < 0) {
    exit.exit_code = -1;  // Someone else reaped it (a waitpid(-1) elsewhere): unknown.
  } else if (WIFEXITED(status)) {
    exit.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    exit.exit_code = -1;
    exit.signal = WTERMSIG(status);
  }
  // A script that timed out leaves nothing behind: its group goes with it.
  if (timed_out_) SignalGroup(pid_, SIGKILL);
  if (auto fn = std::move(on_exit_)) {
    on_exit_ = nullptr;
    fn(exit);
  }
}

}  // namespace cmcl::io
