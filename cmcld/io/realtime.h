// Real-time scheduling for cmcld and cmcl-guard (DESIGN.md section 4: a node keeps its
// lease only while its daemon answers heartbeats in time, and the guard fences only if
// it runs by its deadline). Serviceguard's cmcld and corosync both run SCHED_RR for the
// same reason. Measured here (tests/integration/load_test.cc, docs/RELIABILITY.md "Load"):
// with 500 guests starting at once on 2 cores, daemons at the normal policy missed their
// renewals and every node fenced its guests again and again.
//
// The policy is inherited by every thread created after the call (the gRPC threads that
// carry heartbeats too). Every process the two start goes back to SCHED_OTHER through
// `chrt --other 0` (cmcld/io/guest/spawn.cc, cmcld/guard/spawn.cc): package scripts,
// guests, and the guard's fence jobs. A real-time parent waits in posix_spawn (a vfork)
// for its child's exec, so the child execs chrt at once at the parent's policy; and a
// driver's kill at real-time priority, waiting for a normal-policy guest to exit,
// overran fence_timeout in PartitionTest.TwoTwoSplit*. Priorities are low among
// real-time ones (kernel interrupt threads run at 50): any is above every normal process.
// Where the system refuses (no CAP_SYS_NICE, an RT budget of 0 in a container), the
// caller logs the returned text and goes on at the normal policy.
#pragma once

#include <sched.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>

namespace cmcl::io {

inline constexpr int kCmcldRealtimePriority = 10;
inline constexpr int kGuardRealtimePriority = 11;  // Above cmcld: the fence comes first.

// Switches the calling process (its threads to come) to SCHED_RR at `priority`; on
// failure the reason, for one log line.
inline std::optional<std::string> EnterRealtime(int priority) {
  sched_param param{};
  param.sched_priority = priority;
  if (sched_setscheduler(0, SCHED_RR, &param) == 0) return std::nullopt;
  return "real-time scheduling (SCHED_RR " + std::to_string(priority) +
         ") refused: " + std::strerror(errno) + "; running at the normal policy";
}

}  // namespace cmcl::io
