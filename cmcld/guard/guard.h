// Guard: the cmcl-guard server (DESIGN.md section 4, F4 and "Fencing does not depend on
// the process that failed"; io/guard/guard_client.h is cmcld's side, guard_protocol.h the
// wire format).
//
// One process per state_dir, outside cmcld's process tree. It holds the fence deadline
// (CLOCK_BOOTTIME ms, io/clock.h), the registered guests and, per guest, whether it
// fenced it. When the deadline has passed, every registered guest it has not fenced yet
// is fenced, all in parallel (FenceJob). A deadline moves forward only, unless a request
// says allow_earlier; a deadline set into the future again re-arms the fenced guests
// (they are guarded again). A guest registered while the deadline has passed is fenced
// at once (the Register's ack waits for that fence). Registrations stay until cmcld
// unregisters them, so a cmcld that re-attaches after a crash sees what was fenced:
// GuardState::fenced says some registered guest was fenced (or is being fenced) and not
// re-armed since.
//
// One cmcld connection at a time (a second is refused while one is attached); a dropped
// connection changes nothing else — the deadline still applies, that is the point.
// Acks are sent in request order and held while any fence step runs.
//
// A fence that did not see the guest stopped (kill or status failed, a halt script
// failed) is logged CRITICAL and tried again after fence_timeout, then after twice that,
// and so on up to 10 s between tries, until a fence sees it stopped or the deadline is
// renewed.
//
// The watchdog (fence_action reboot; DESIGN.md section 4, core/node/watchdog.h for the
// arithmetic). An Attach that names a watchdog device has the guard open it (which
// starts it) with watchdog_timeout rounded up to whole seconds, and report the timeout
// the device granted (or why it could not) in State; the device stays open for the
// guard's life, across cmcld restarts. lease_end is the deadline + fence_timeout. While
// a registered guest is not seen stopped by a fence the guard pets only while `now +
// timeout <= lease_end`, so if the guard itself dies, stalls or is paused the node is
// reset by lease_end; the kill fence still runs first, at the deadline. A guest still
// not seen stopped at lease_end (the fence failed or overran) is logged CRITICAL and the
// node is reset at once through the device's Reset(). Once every registered guest was
// seen stopped (or none is registered) the guard pets regardless of the lease: a
// successful kill fence costs no reboot. cmcld's own resets (a stray that will not die,
// node_fail_fast_enabled, service_fail_fast_enabled; core/node/node.h NodeActions::reset)
// arrive as a Reset request: logged CRITICAL with cmcld's reason, then Reset() at once,
// whether or not the device is open (the reset does not need it). A Reset() that returns
// (only Recording's) stops the pets as after the lease_end reset. The magic close
// happens only on a clean exit (nothing registered) or when cmcld attaches without a
// watchdog (fence_action kill): a guard that dies leaves the watchdog running, and it
// fires.
//
// Exit (status 0): after Detach once nothing is registered and no fence step runs; on
// SIGTERM or SIGINT only when nothing is registered (otherwise the signal is logged and
// ignored: the guests must stay guarded).
//
// Single-threaded: one poll() loop over the listening socket, the connection, a
// signalfd, a CLOCK_BOOTTIME timerfd (so a deadline is met across a suspend) and the
// fence steps' pidfds.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cmcld/core/common/names.h"
#include "cmcld/core/common/status.h"
#include "cmcld/core/common/time.h"
#include "cmcld/guard/fence_job.h"
#include "cmcld/guard/guard_log.h"
#include "cmcld/guard/watchdog_device.h"
#include "cmcld/io/guard/guard_protocol.h"

namespace cmcl::guard {

class Guard {
 public:
  struct Options {
    std::string state_dir;  // Absolute.
    // The bound of each fence step until an Attach brings cmcld's value.
    Duration fence_timeout = std::chrono::milliseconds(300);
  };

  // `log` and `watchdog` must outlive the guard; the watchdog is opened only when an
  // Attach asks for it.
  Guard(Options options, const GuardLog& log, WatchdogDevice& watchdog);
  ~Guard();
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;

  // Locks STATE_DIR/guard.lock and listens on STATE_DIR/guard.sock (0600).
  // kAlreadyExists when another guard holds the state dir.
  Status Open();
  // Serves until the guard may exit; returns its exit status.
  int Run();

 private:
  enum class Fence : uint8_t { kGuarded, kFencing, kFenced };
  struct Entry {
    io::GuardGuest guest;
    Fence fence = Fence::kGuarded;
    // A fence that did not see "stopped" is tried again (kFenced with retry_at), with a
    // backoff from fence_timeout doubling up to kRetryMax, until stopped or re-armed.
    int failed_fences = 0;
    std::optional<Time> retry_at;
  };
  struct Connection {
    int fd = -1;
    bool attached = false;  // Attach received.
    io::guard_protocol::FrameReader reader;
    std::string out;
  };

  Status Lock();
  Status Listen();
  Status OpenEvents();
  void Step(Time now);
  void FenceIfDue(Time now);
  void FenceEnded(const FenceJob& job, Time now);
  void ReleaseAcks();
  bool MayExit() const;
  void ArmTimer();
  void WaitAndDispatch();
  void Accept();
  bool ConnectionHungUp();
  void Read(Time now);
  void Write();
  void Drop(const std::string& why);
  void Send(const io::guard_protocol::Message& message);
  void Handle(io::guard_protocol::Message message, Time now);
  void OnAttach(const io::guard_protocol::Attach& attach, Time now);
  void OnSetDeadline(const io::guard_protocol::SetDeadline& request, Time now);
  void OnRegister(io::guard_protocol::Register request);
  void OnUnregister(const io::guard_protocol::Unregister& request);
  void OnSetRunGroup(const io::guard_protocol::SetRunGroup& request);
  void OnReset(const io::guard_protocol::Reset& request, Time now);
  void OnSignal();
  void AttachWatchdog(const io::guard_protocol::Attach& attach);
  void StepWatchdog(Time now);
  bool Protecting() const;
  void Flush();
  node::GuardState Snapshot() const;
  std::string Describe(Time now) const;

  Options options_;
  const GuardLog& log_;
  std::string socket_path_;
  int lock_fd_ = -1;
  int listen_fd_ = -1;
  int signal_fd_ = -1;
  int timer_fd_ = -1;
  Connection connection_;
  std::optional<Time> deadline_;
  std::map<PackageName, Entry> guests_;
  std::vector<std::unique_ptr<FenceJob>> jobs_;
  std::vector<uint64_t> held_acks_;
  bool detached_ = false;
  bool exit_ = false;
  // The watchdog: open with the timeout it granted (zero while closed).
  WatchdogDevice& watchdog_;
  std::string watchdog_device_;
  Duration watchdog_timeout_{0};
  std::string watchdog_error_;
  std::optional<Time> watchdog_next_;  // When StepWatchdog must look again.
  bool watchdog_holding_ = false;      // Logged once per stretch without pets.
  bool pet_failed_ = false;            // Logged once per stretch of failing pets.
  bool reset_called_ = false;          // Reset() returned (only Recording does).
};

}  // namespace cmcl::guard
