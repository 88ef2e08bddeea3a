#include "cmcld/guard/spawn.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace cmcl::guard {
namespace {

// posix_spawn's attribute and file-action objects, destroyed on every path.
class SpawnSetup {
 public:
  SpawnSetup() {
    posix_spawnattr_init(&attr_);
    posix_spawn_file_actions_init(&actions_);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions_);
    posix_spawnattr_destroy(&attr_);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;

  // Own process group, default dispositions for what the guard changed, empty mask.
  int SetAttributes() {
    sigset_t none;
    sigemptyset(&none);
    sigset_t defaults;
    sigemptyset(&defaults);
    for (const int signal : {SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGCHLD}) {
      sigaddset(&defaults, signal);
    }
    const short flags = POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    int error = posix_spawnattr_setflags(&attr_, flags);
    if (error == 0) error = posix_spawnattr_setpgroup(&attr_, 0);
    if (error == 0) error = posix_spawnattr_setsigmask(&attr_, &none);
    if (error == 0) error = posix_spawnattr_setsigdefault(&attr_, &defaults);
    return error;
  }

  int SetFiles(const std::string& cwd, int output_fd) {
    int error = posix_spawn_file_actions_addopen(&actions_, 0, "/dev/null", O_RDONLY, 0);
    if (error == 0) error = posix_spawn_file_actions_adddup2(&actions_, output_fd, 1);
    if (error == 0) error = posix_spawn_file_actions_adddup2(&actions_, output_fd, 2);
    if (error == 0) error = posix_spawn_file_actions_addclosefrom_np(&actions_, 3);
    if (error == 0) {
      error = posix_spawn_file_actions_addchdir_np(&actions_, cwd.empty() ? "/" : cwd.c_str());
    }
    return error;
  }

  const posix_spawnattr_t* attr() const { return &attr_; }
  const posix_spawn_file_actions_t* actions() const { return &actions_; }

 private:
  posix_spawnattr_t attr_;
  posix_spawn_file_actions_t actions_;
};

std::vector<char*> Pointers(const std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (const std::string& s : strings) pointers.push_back(const_cast<char*>(s.c_str()));
  pointers.push_back(nullptr);
  return pointers;
}

std::string KeyOf(const std::string& entry) { return entry.substr(0, entry.find('=')); }

}  // namespace

Result<Child> Spawn(const SpawnRequest& request) {
  if (request.argv.empty()) return Status::InvalidArgument("nothing to run");
  SpawnSetup setup;
  int error = setup.SetAttributes();
  if (error == 0) error = setup.SetFiles(request.cwd, request.output_fd);
  if (error != 0) {
    return Status::Internal(std::string("posix_spawn setup: ") + std::strerror(error));
  }
  // A real-time guard (cmcld/io/realtime.h) runs its fence jobs at the normal policy, as
  // cmcld runs package scripts (cmcld/io/guest/spawn.cc, through chrt for the same
  // reason): a driver's kill at real-time priority waiting for its normal-policy guest
  // to exit overran fence_timeout on 2 cores (PartitionTest.TwoTwoSplit*), where the
  // same kill at the normal policy did not.
  std::vector<std::string> args = request.argv;
  if (sched_getscheduler(0) == SCHED_RR && access("/usr/bin/chrt", X_OK) == 0) {
    if (access(request.argv[0].c_str(), X_OK) != 0) {  // Said as without chrt.
      return Status::FailedPrecondition("cannot run " + request.argv[0] + ": " +
                                        std::strerror(errno));
    }
    args.insert(args.begin(), {"/usr/bin/chrt", "--other", "0"});
  }
  const std::vector<char*> argv = Pointers(args);
  const std::vector<char*> env = Pointers(request.env);
  Child child;
  error = posix_spawn(&child.pid, args[0].c_str(), setup.actions(), setup.attr(), argv.data(),
                      env.data());
  if (error != 0) {
    return Status::FailedPrecondition("cannot run " + request.argv[0] + ": " +
                                      std::strerror(error));
  }
  child.pidfd = static_cast<int>(syscall(SYS_pidfd_open, child.pid, 0));
  if (child.pidfd < 0) {
    // Without a pidfd the child cannot be watched: kill it rather than lose it.
    const std::string why = std::strerror(errno);
    ::kill(-child.pid, SIGKILL);
    ::kill(child.pid, SIGKILL);
    ::waitpid(child.pid, nullptr, 0);
    return Status::Internal("pidfd_open: " + why);
  }
  ::fcntl(child.pidfd, F_SETFD, FD_CLOEXEC);
  return child;
}

std::optional<int> Reap(Child& child) {
  if (child.pid <= 0) return std::nullopt;
  int status = 0;
  const pid_t reaped = ::waitpid(child.pid, &status, WNOHANG);
  if (reaped == 0) return std::nullopt;
  if (reaped < 0) status = W_EXITCODE(127, 0);  // Lost to someone else: treat as a failure.
  if (child.pidfd >= 0) ::close(child.pidfd);
  child = Child();
  return status;
}

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return "exited " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "ended with wait status " + std::to_string(status);
}

std::optional<int> ExitCode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return std::nullopt;
}

std::vector<std::string> WithEntries(std::vector<std::string> env,
                                     const std::vector<std::string>& entries) {
  for (const std::string& entry : entries) {
    const std::string key = KeyOf(entry);
    std::erase_if(env, [&key](const std::string& e) { return KeyOf(e) == key; });
    env.push_back(entry);
  }
  const bool has_path =
      std::any_of(env.begin(), env.end(), [](const std::string& e) { return KeyOf(e) == "PATH"; });
  if (!has_path) env.push_back("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  return env;
}

}  // namespace cmcl::guard
