// FenceJob: cmcl-guard's fence of one registered guest (DESIGN.md section 4, "Fencing
// does not depend on the process that failed"). With a driver: `DRIVER kill`, then
// `DRIVER status` (exit 7 = stopped), each with the guest's environment plus CMCL_ACTION
// and the package folder as working directory. Without a driver: SIGKILL to the run
// script's process group (when known), then the halt script with CMCL_REASON=fence (exit
// 0 = stopped). Each step is bounded by `step_timeout` (the fence_timeout); a step that
// overruns gets SIGKILL on its process group and counts as failed, and the fence goes on
// with the next step. Every step is logged; a fence that has not seen "stopped" by
// lease_end (deadline + fence_timeout) says CRITICAL.
//
// The guard runs many jobs in parallel from one poll loop: it polls pidfd() and calls
// Poll() when it is readable or overrun_at() has come. Not thread-safe.
#pragma once

#include <optional>

#include "cmcld/core/common/time.h"
#include "cmcld/guard/guard_log.h"
#include "cmcld/guard/spawn.h"
#include "cmcld/io/guard/guard_protocol.h"

namespace cmcl::guard {

class FenceJob {
 public:
  // `log` must outlive the job.
  FenceJob(io::GuardGuest guest, Duration step_timeout, const GuardLog& log);
  // A step still running is killed (SIGKILL to its group) and reaped.
  ~FenceJob();
  FenceJob(const FenceJob&) = delete;
  FenceJob& operator=(const FenceJob&) = delete;

  // The deadline that passed (for the log's latencies).
  void Start(Time now, Time deadline);
  // Reaps an exited step and starts the next, or kills a step past overrun_at().
  void Poll(Time now);

  int pidfd() const { return child_.pidfd; }
  std::optional<Time> overrun_at() const;
  bool done() const { return step_ == Step::kDone; }
  // Done and the guest was seen stopped.
  bool stopped() const { return stopped_; }
  const io::GuardGuest& guest() const { return guest_; }

 private:
  enum class Step : uint8_t { kKill, kStatus, kHalt, kDone };

  void Begin(Step step, Time now);
  // The running step ended with `wait_status` (nullopt: it never started).
  void Ended(std::optional<int> wait_status, Time now);
  void Finish(bool stopped, const std::string& how, Time now);
  void KillRunGroup();
  std::string Name() const;

  io::GuardGuest guest_;
  Duration step_timeout_;
  const GuardLog& log_;
  Time deadline_;
  Step step_ = Step::kDone;
  Child child_;
  Time step_started_;
  bool overran_ = false;
  bool stopped_ = false;
};

}  // namespace cmcl::guard
