#include "cmcld/guard/fence_job.h"

#include <signal.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

namespace cmcl::guard {
namespace {

std::string Ms(Duration d) { return std::to_string(d.count()) + " ms"; }

}  // namespace

FenceJob::FenceJob(io::GuardGuest guest, Duration step_timeout, const GuardLog& log)
    : guest_(std::move(guest)), step_timeout_(step_timeout), log_(log) {}

FenceJob::~FenceJob() {
  if (child_.pid <= 0) return;
  ::kill(-child_.pid, SIGKILL);
  ::waitpid(child_.pid, nullptr, 0);
  Reap(child_);
}

std::string FenceJob::Name() const {
  return guest_.guest.resource.value() + "@" + std::to_string(guest_.guest.epoch.value());
}

std::optional<Time> FenceJob::overrun_at() const {
  if (child_.pid <= 0 || overran_) return std::nullopt;
  return step_started_ + step_timeout_;
}

void FenceJob::Start(Time now, Time deadline) {
  deadline_ = deadline;
  stopped_ = false;
  const std::string late = "fence: deadline passed by " + Ms(now - deadline) + "; ";
  if (!guest_.driver.empty()) {
    log_.Line(late + "killing " + Name() + " with " + guest_.driver + " kill");
    Begin(Step::kKill, now);
    return;
  }
  log_.Line(late + "fencing " + Name() + " without a driver");
  KillRunGroup();
  Begin(Step::kHalt, now);
}

void FenceJob::KillRunGroup() {
  if (guest_.run_pgid <= 0) {
    log_.Line("fence: " + Name() + ": no run script process group known");
    return;
  }
  const std::string group = std::to_string(guest_.run_pgid);
  if (::kill(-guest_.run_pgid, SIGKILL) == 0) {
    log_.Line("fence: " + Name() + ": SIGKILL sent to process group " + group);
  } else {
    log_.Line("fence: " + Name() + ": SIGKILL to process group " + group + ": " +
              std::strerror(errno));
  }
}

void FenceJob::Begin(Step step, Time now) {
  step_ = step;
  overran_ = false;
  step_started_ = now;
  SpawnRequest request{.cwd = guest_.work_dir, .output_fd = log_.fd()};
  switch (step) {
    case Step::kKill:
    case Step::kStatus: {
      const char* verb = step == Step::kKill ? "kill" : "status";
      request.argv = {guest_.driver, verb};
      request.env = WithEntries(guest_.env, {std::string("CMCL_ACTION=") + verb});
      break;
    }
    case Step::kHalt:
      if (guest_.halt_script.empty()) {
        log_.Line("fence: " + Name() + ": no halt script");
        Ended(std::nullopt, now);
        return;
      }
      log_.Line("fence: " + Name() + ": running " + guest_.halt_script + " with CMCL_REASON=fence");
      request.argv = {guest_.halt_script};
      request.env = WithEntries(guest_.env, {"CMCL_ACTION=halt", "CMCL_REASON=fence"});
      break;
    case Step::kDone:
      return;
  }
  Result<Child> child = Spawn(request);
  if (!child.ok()) {
    log_.Line("fence: " + Name() + ": " + child.status().message());
    Ended(std::nullopt, now);
    return;
  }
  child_ = *child;
}

void FenceJob::Poll(Time now) {
  if (child_.pid <= 0) return;
  if (const std::optional<int> status = Reap(child_)) {
    Ended(*status, now);
    return;
  }
  if (!overran_ && now >= step_started_ + step_timeout_) {
    overran_ = true;
    log_.Line("fence: " + Name() + ": step overran " + Ms(step_timeout_) +
              "; SIGKILL to its process group");
    ::kill(-child_.pid, SIGKILL);
  }
}

void FenceJob::Ended(std::optional<int> wait_status, Time now) {
  const std::string how = !wait_status.has_value() ? "did not run"
                          : overran_               ? "overran and was killed"
                                                   : DescribeWaitStatus(*wait_status);
  const std::optional<int> code =
      wait_status.has_value() && !overran_ ? ExitCode(*wait_status) : std::optional<int>();
  switch (step_) {
    case Step::kKill:
      log_.Line("fence: " + Name() + ": " + guest_.driver + " kill " + how);
      Begin(Step::kStatus, now);
      return;
    case Step::kStatus:
      Finish(code == 7, "status " + how, now);
      return;
    case Step::kHalt:
      Finish(code == 0, "halt script " + how, now);
      return;
    case Step::kDone:
      return;
  }
}

void FenceJob::Finish(bool stopped, const std::string& how, Time now) {
  step_ = Step::kDone;
  stopped_ = stopped;
  const Duration after = now - deadline_;
  const bool late = after > step_timeout_;  // Past lease_end = deadline + fence_timeout.
  if (stopped && !late) {
    log_.Line("fence: " + Name() + " stopped (" + how + "), " + Ms(after) + " after the deadline");
    return;
  }
  const std::string what = stopped ? " stopped only after lease_end (" + how + "), "
                                   : " NOT confirmed stopped (" + how + "), ";
  log_.Line("fence: CRITICAL " + Name() + what + Ms(after) + " after the deadline");
}

}  // namespace cmcl::guard
