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
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "cmcld/core/common/status.h"
#include "cmcld/core/common/time.h"
#include "cmcld/core/node/node.h"

namespace cmcl::io {

// What the guard needs to fence one guest without cmcld.
struct GuardGuest {
  node::GuestRef guest;
  std::string driver;       // Absolute path of the driver executable; empty: none.
  std::string halt_script;  // Absolute path (used without a driver).
  std::string work_dir;     // The package folder the scripts run in.
  std::vector<std::string> env;  // KEY=VALUE: the package's CMCL_* environment.
  int run_pgid = 0;              // The run script's process group, if known (0: none).
};

class GuardClient {
 public:
  struct Options {
    std::string state_dir;
    std::string guard_binary;  // Path of cmcl-guard.
    Duration fence_timeout = std::chrono::milliseconds(300);
    Duration start_timeout = std::chrono::seconds(2);
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
  // Sends one request; for a Register, `guest` describes how to fence it (required).
  void Submit(const node::GuardRequest& request, const GuardGuest* guest = nullptr);
  // Tells the guard the run script's process group of a registered guest (no-driver
  // fences kill it).
  void SetRunGroup(const PackageName& package, int pgid);
  // Clean exit of cmcld: the guard exits once nothing is registered; otherwise it keeps
  // guarding (INTERFACE.md: "cmcl-guard keeps guarding until the guests are gone").
  void Detach();
  int guard_pid() const { return guard_pid_; }

 private:
  GuardClient() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  node::GuardState attached_;
  int guard_pid_ = 0;
};

}  // namespace cmcl::io
