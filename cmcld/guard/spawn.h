// Child processes of cmcl-guard: the fence steps (a driver's kill and status, a halt
// script). Each runs with posix_spawn in its own process group (so an overrun is
// answered by SIGKILL to the whole group), with default signal dispositions and an
// empty signal mask (the guard blocks and ignores some), stdin on /dev/null, stdout and
// stderr on the guard's log, and no other inherited descriptor. A pidfd tells the guard's
// poll loop when the child exits; Reap collects it.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "cmcld/core/common/status.h"

namespace cmcl::guard {

struct SpawnRequest {
  std::vector<std::string> argv;  // argv[0] is the executable's path.
  std::vector<std::string> env;   // KEY=VALUE, the whole environment.
  std::string cwd;                // Empty: "/".
  int output_fd = 2;
};

struct Child {
  pid_t pid = 0;
  int pidfd = -1;
};

Result<Child> Spawn(const SpawnRequest& request);
// The wait status of `child` once it has exited (its pidfd closed, `child` cleared);
// nullopt while it runs.
std::optional<int> Reap(Child& child);
// "exited 7", "killed by signal 9".
std::string DescribeWaitStatus(int status);
// The exit code of a normal exit; nullopt for a death by signal.
std::optional<int> ExitCode(int status);

// `env` with each of `entries` (KEY=VALUE) set, replacing an entry of the same key, and
// PATH set to the usual system folders when `env` has none (scripts call sh utilities).
std::vector<std::string> WithEntries(std::vector<std::string> env,
                                     const std::vector<std::string>& entries);

}  // namespace cmcl::guard
