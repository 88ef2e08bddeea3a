// GuardClient: cmcld's side of cmcl-guard (DESIGN.md section 4, F4 and "Fencing does
// not depend on the process that failed"; INTERFACE.md "cmcld"; cmcld/guard/ is the
// other side).
//
// cmcl-guard is a tiny per-node process outside cmcld's process tree: it holds the
// deadline `lease_end − fence_timeout` (CLOCK_BOOTTIME milliseconds, io/clock.h) and
// the registered guests, and when the deadline passes it fences every registered guest:
// the driver's `kill` for each, in parallel, then `status`; for a guest without a
// driver, SIGKILL of its run script's process group (if known) and the halt script with
// CMCL_REASON=fence, bounded by fence_timeout. It keeps its state across cmcld restarts
// (in memory; it is one process per state_dir), and a deadline only moves forward unless
// a request says allow_earlier (arming).
//
// Protocol (guard_protocol.h): a stream Unix socket at STATE_DIR/guard.sock, mode 0600,
// frames of u32 LE length + payload; requests carry the node.h GuardRequest id, and the
// guard answers each request in order; an ack for id N acknowledges every request up to
// N. The guard serves one cmcld at a time (a second connection is refused while one is
// attached).
//
// Attach(): connects to STATE_DIR/guard.sock; when nothing listens (or the socket file is
// stale) it starts GUARD_BINARY --state-dir DIR [--log-file DIR/guard.log] detached:
// posix_spawn with POSIX_SPAWN_SETSID (own session, outside cmcld's process group; every
// inherited descriptor closed), then waits up to `start_timeout` for the socket. It
// returns what the guard holds: node::GuardState (deadline, registered guests, fenced).
// Attach sends `fence_timeout` along (the bound of each fence step from then on); a
// guard this client started also gets it as --fence-timeout. When another cmcld is
// attached the guard refuses; Attach retries until `start_timeout` (the old cmcld may be
// dying) and then fails with kFailedPrecondition. A guard Attach started is a child of
// this process (in its own session): whoever owns the process reaps it (waitpid on
// guard_pid()) once it exits.
//
// The watchdog (fence_action reboot, DESIGN.md section 4): with a watchdog_device in
// the options, Attach asks the guard to open that device (or keep it open) with
// watchdog_timeout, rounded up to whole seconds; watchdog_timeout() is what the device
// reported back, watchdog_error() why the guard could not open it (cmcld refuses to start
// on either: daemon.cc). Without one, a guard that holds a watchdog stops it.
//
// Acks: the guard holds them while a fence step is still running, so an acknowledged
// registration or deadline can no longer be undone by an in-flight kill (guard_protocol.h).
// Threads: Attach and every other call on the io thread (or before io.run()); the
// callbacks run there. `io` must outlive the client. Attach blocks (at most
// `start_timeout`): it runs once, at daemon start. Destroying the client without Detach
// is what a crash looks like to the guard: it keeps the guests and the deadline.
#pragma once

#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cmcld/core/common/status.h"
#include "cmcld/core/common/time.h"
#include "cmcld/core/node/node.h"
#include "cmcld/io/guard/guard_protocol.h"  // GuardGuest.

namespace cmcl::io {

class GuardClient {
 public:
  struct Options {
    std::string state_dir;
    std::string guard_binary;  // Path of cmcl-guard.
    Duration fence_timeout = std::chrono::milliseconds(300);
    Duration start_timeout = std::chrono::seconds(2);
    std::string watchdog_device;  // Empty: no watchdog (fence_action kill).
    Duration watchdog_timeout{0};
  };
  using AckFn = std::function<void(uint64_t id)>;  // On the io thread.
  // The connection to the guard broke (the guard died): on the io thread. The runtime
  // treats it as fatal for guests (logs critical, fences, restarts the guard).
  using LostFn = std::function<void(std::string why)>;

  static Result<std::unique_ptr<GuardClient>> Attach(boost::asio::io_context& io, Options options,
                                                     AckFn on_ack, LostFn on_lost);
  ~GuardClient();

  // What the guard held at attach.
  const node::GuardState& attached() const { return attached_; }
  // The work_dir each guest in attached().registered was registered with (its package
  // folder in the configuration version that started it), by package.
  const std::map<PackageName, std::string>& attached_work_dirs() const {
    return attached_work_dirs_;
  }
  // Sends one request; for a Register, `guest` describes how to fence it (required).
  void Submit(const node::GuardRequest& request, const GuardGuest* guest = nullptr);
  // Tells the guard the run script's process group of a registered guest (no-driver
  // fences kill it).
  void SetRunGroup(const PackageName& package, int pgid);
  // Clean exit of cmcld: the guard exits once nothing is registered; otherwise it keeps
  // guarding (INTERFACE.md: "cmcl-guard keeps guarding until the guests are gone").
  void Detach();
  // fence_action reboot (node.h NodeActions::reset): asks the guard to reset the node now.
  // Not acknowledged (a reset node answers nothing). False when the connection to the
  // guard is already gone; a write that fails later is reported through LostFn.
  bool Reset(const std::string& why);
  int guard_pid() const { return guard_pid_; }
  // With Options::watchdog_device: the device's timeout (0 when it could not be opened,
  // then watchdog_error() says why).
  Duration watchdog_timeout() const { return watchdog_timeout_; }
  const std::string& watchdog_error() const { return watchdog_error_; }

 private:
  GuardClient() = default;
  struct Impl;
  std::shared_ptr<Impl> impl_;  // Shared with the pending Asio handlers.
  node::GuardState attached_;
  std::map<PackageName, std::string> attached_work_dirs_;
  int guard_pid_ = 0;
  Duration watchdog_timeout_{0};
  std::string watchdog_error_;
};

}  // namespace cmcl::io
