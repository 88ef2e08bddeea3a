// GuestRunner: performs the node agent's GuestActions (core/node/node.h) on this host —
// run and halt scripts, and the guest driver's kill and status (DESIGN.md sections 4
// and 5; INTERFACE.md "Package file").
//
// Children are started with posix_spawn (never fork: gRPC has threads), each script in
// its own process group (POSIX_SPAWN_SETPGROUP), every inherited descriptor closed except
// stdin (/dev/null) and stdout/stderr (the package's log file), and watched with a pidfd
// (pidfd_open) on the io_context. Environment: PATH, LANG and
//   CMCL_PACKAGE, CMCL_NODE, CMCL_EPOCH, CMCL_ACTION (run/halt/kill/status),
//   CMCL_REASON, CMCL_SOURCE_NODE (when known), CMCL_GUEST_VCPUS, CMCL_GUEST_MEMORY_MB,
//   CMCL_GUEST_SPEC (a JSON file with the guest spec, written before the run),
//   CMCL_GUEST_STORAGE (the storage paths, space-separated), CMCL_DRIVER_DIR,
//   CMCL_STATE_DIR (the node's state_dir: drivers keep their per-node files under
//   CMCL_STATE_DIR/guests/).
// Scripts run with the package folder of the applied bundle as working directory.
//
// Verbs (node.h GuestVerb), each answered by exactly one report:
//   kRun    run_script; timeout run_timeout: SIGTERM to the group, then SIGKILL after
//           kill_timeout; exit 0 → kRunning, else kFailed (exit_code, timed_out).
//   kHalt   halt_script; timeout halt_timeout likewise; exit 0 → kStopped, else kFailed.
//   kKill   the driver's `kill` (bounded by kill_timeout), then its `status`:
//           status 7 → kStopped, else kUnknown. Without a driver: SIGKILL the run script's
//           group (if one runs) and the halt script with CMCL_REASON=fence, bounded by
//           kill_timeout: exit 0 → kStopped, else kUnknown.
//   kStatus the driver's `status`: 0 → kRunning, 7 → kStopped, else kUnknown. Without a
//           driver: kRunning while the package is believed up (scripts cannot tell):
//           after a run that exited 0; kStopped after a halt (or a no-driver kill's halt)
//           that exited 0; kUnknown otherwise (nothing known, say after a restart).
// A new kRun, kHalt or kKill for a package whose script still runs kills that script's
// group first (the old action is answered kFailed, exit -1; a kKill kUnknown). A run that
// fails (non-zero exit or timeout) has its group SIGKILLed before it is reported
// (DESIGN.md section 5: cleanup starts with the run script's group); a script that timed
// out has its group SIGKILLed once it exits, so no background child of it survives.
// Driver calls are bounded by kill_timeout (then SIGKILL); a script or driver that cannot
// be started counts as exit 127. Driver kill and status output goes to the package log
// too, except the monitoring's status calls (every monitor_interval: /dev/null).
//
// Pacing: at most 8 run or halt scripts start per turn of the io loop; more wait, in
// order, for the next turns, so that a node given hundreds of packages at once still reads
// its heartbeats between starts. A newer action for a package whose script still waits
// replaces it (answered like a preempted script, kFailed exit -1). kKill and kStatus never
// wait.
//
// Threads: construct, Submit and destroy on the io thread; reports come on it. Children
// are reaped by pid (waitpid(pid)): nothing else in the process may waitpid(-1) or set
// SIGCHLD to SIG_IGN.
//
// Monitoring: a package reported kRunning is watched: every `monitor_interval` the
// driver's status runs; a `stopped` answer is reported unsolicited as kStatus kStopped
// (the guest died). Watching ends with the next kHalt/kKill for the package.
//
// Logs: STATE_DIR/log/PACKAGE.log gets each script's stdout and stderr, with a header
// line per action ("2026-11-26T07:00:00Z run epoch=12 reason=start"); rotated when it
// passes `log_max_bytes` (PACKAGE.log.1 ... .N, `log_keep` kept).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "cmcld/core/common/names.h"
#include "cmcld/core/common/time.h"
#include "cmcld/core/config/cluster_config.h"
#include "cmcld/core/node/node.h"

namespace cmcl::io {

class GuestRunner {
 public:
  struct Options {
    NodeName node;
    std::string state_dir;
    std::string driver_dir;  // Absolute.
    Duration monitor_interval = std::chrono::seconds(1);
    uint64_t log_max_bytes = 1U << 20;
    int log_keep = 3;
  };
  // On the io thread.
  using ReportFn = std::function<void(const node::GuestRef& guest, node::GuestVerb verb,
                                      const node::GuestResult& result)>;
  // A run script started (its process group), for the guard's no-driver fences.
  using GroupFn = std::function<void(const PackageName& package, int pgid)>;

  GuestRunner(boost::asio::io_context& io, Options options, ReportFn on_report,
              GroupFn on_group = {});
  // Kills every script still running (SIGKILL to its group) and stops monitoring;
  // guests themselves are left alone (they belong to the drivers).
  ~GuestRunner();

  // Performs `action` for `package`, whose folder (in the applied bundle) is
  // `package_dir` (absolute).
  void Submit(const node::GuestAction& action, const cmcl::config::PackageSpec& package,
              const std::string& package_dir);
  // The absolute path of `package`'s driver, or "" without one.
  std::string DriverPath(const cmcl::config::PackageSpec& package) const;
  // The CMCL_* environment (KEY=VALUE) a script of `package` gets for `action` (the guard
  // gets the same at registration).
  std::vector<std::string> Environment(const node::GuestAction& action,
                                       const cmcl::config::PackageSpec& package,
                                       const std::string& package_dir) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cmcl::io
