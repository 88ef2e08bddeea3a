#include "tests/sim/sim_host.h"

#include <algorithm>

#include "cmcld/core/common/check.h"

namespace cmcl::sim {

using node::GuestResult;
using node::GuestStatus;
using node::GuestVerb;

namespace {

// Timeouts of a package without a SimPackages entry: the configuration's defaults.
const config::PackageSpec& DefaultSpec() {
  static const config::PackageSpec spec;
  return spec;
}

}  // namespace

SimHost::SimHost(Options options, Rng rng) : options_(std::move(options)), rng_(rng) {
  CMCL_CHECK(options_.fence_timeout >= Duration(2)) << "a kill needs [1, fence_timeout)";
}

const PackageBehaviour* SimHost::BehaviourOf(const PackageName& package) const {
  if (options_.packages == nullptr) {
    return nullptr;
  }
  const auto it = options_.packages->behaviour.find(package);
  return it == options_.packages->behaviour.end() ? nullptr : &it->second;
}

SimHost::Outcome SimHost::RunOutcome(const PackageName& package) {
  const PackageBehaviour* b = BehaviourOf(package);
  if (b == nullptr) {
    return Outcome::kExit0;
  }
  if (b->bad_on.contains(options_.node)) {
    return Outcome::kExit2;
  }
  if (const auto first = b->fail_first.find(options_.node);
      first != b->fail_first.end() && ++runs_[package] <= first->second) {
    return Outcome::kExit2;
  }
  if (calm_) {
    return Outcome::kExit0;
  }
  if (rng_.ChanceOf(b->exit1)) {
    return Outcome::kExit1;
  }
  if (rng_.ChanceOf(b->exit2)) {
    return Outcome::kExit2;
  }
  return rng_.ChanceOf(b->hang) ? Outcome::kTimeout : Outcome::kExit0;
}

SimHost::Outcome SimHost::HaltOutcome(const PackageName& package) {
  const PackageBehaviour* b = BehaviourOf(package);
  if (b == nullptr || calm_) {
    return Outcome::kExit0;
  }
  if (rng_.ChanceOf(b->halt_fail)) {
    return Outcome::kExit1;
  }
  return rng_.ChanceOf(b->halt_hang) ? Outcome::kTimeout : Outcome::kExit0;
}

// How long the action takes, and for scripts how they end: a script slower than its
// timeout, or one that hangs, is killed by the runner (SIGTERM, then SIGKILL after
// kill_timeout).
Duration SimHost::Latency(const node::GuestAction& action, Outcome& outcome) {
  const config::PackageSpec& spec =
      options_.packages != nullptr && options_.packages->config->FindPackage(action.guest.resource)
          ? options_.packages->Spec(action.guest.resource)
          : DefaultSpec();
  const Duration work = Duration(rng_.Between(1, options_.action_latency_max.count()));
  const auto killed_at = [&](Duration timeout) {
    outcome = Outcome::kTimeout;
    return timeout + Duration(rng_.Between(0, spec.kill_timeout.count()));
  };
  switch (action.verb) {
    case GuestVerb::kRun:
      outcome = RunOutcome(action.guest.resource);
      return outcome == Outcome::kTimeout || work > spec.run_timeout ? killed_at(spec.run_timeout)
                                                                      : work;
    case GuestVerb::kHalt:
      outcome = HaltOutcome(action.guest.resource);
      return outcome == Outcome::kTimeout || work > spec.halt_timeout
                 ? killed_at(spec.halt_timeout)
                 : work;
    case GuestVerb::kKill:
      return Duration(rng_.Between(1, options_.fence_timeout.count() - 1));
    case GuestVerb::kStatus:
      return work;
  }
  return work;
}

void SimHost::Submit(Time now, uint64_t incarnation, const node::GuestAction& action) {
  CMCL_CHECK(incarnation > 0) << "incarnation 0 is the guard's";
  const PackageName& package = action.guest.resource;
  Outcome outcome = Outcome::kExit0;
  const Duration latency = Latency(action, outcome);
  if (action.verb == GuestVerb::kRun) {
    // From this instant the run script may have the guest up.
    held_[package] = Held{.epoch = action.guest.epoch, .since = now};
    ++generation_[package];
  }
  pending_.emplace(now + latency, Pending{.incarnation = incarnation,
                                          .action = action,
                                          .generation = generation_[package],
                                          .outcome = outcome,
                                          .death = false});
}

void SimHost::GuardKill(Time now, const PackageName& package) {
  const auto it = held_.find(package);
  const raft::LogIndex epoch = it == held_.end() ? raft::LogIndex(0) : it->second.epoch;
  const Duration latency = Duration(rng_.Between(1, options_.fence_timeout.count() - 1));
  node::GuestAction kill;
  kill.guest = {.resource = package, .epoch = epoch};
  kill.verb = GuestVerb::kKill;
  pending_.emplace(
      now + latency,
      Pending{.incarnation = 0,
              .action = kill,
              .generation = generation_[package],
              .outcome = Outcome::kExit0,
              .death = false});
}

std::optional<Time> SimHost::NextEvent() const {
  if (pending_.empty()) {
    return std::nullopt;
  }
  return pending_.begin()->first;
}

std::vector<SimHost::Report> SimHost::Advance(Time now, uint64_t live_incarnation) {
  std::vector<Report> reports;
  while (!pending_.empty() && pending_.begin()->first <= now) {
    const Time at = pending_.begin()->first;
    const Pending pending = pending_.begin()->second;
    pending_.erase(pending_.begin());
    last_advance_ = at;
    Complete(pending, live_incarnation, reports);
  }
  return reports;
}

void SimHost::Stop(const PackageName& package, uint64_t generation) {
  if (generation_[package] == generation) {
    held_.erase(package);
  }
}

GuestResult SimHost::CompleteRun(const Pending& pending, Time now) {
  const PackageName& package = pending.action.guest.resource;
  if (generation_[package] != pending.generation || !held_.contains(package)) {
    // Killed (or replaced) before the script exited: the runner saw it die.
    return GuestResult{.status = GuestStatus::kFailed, .exit_code = -1, .timed_out = false};
  }
  const PackageBehaviour* b = BehaviourOf(package);
  if (pending.outcome == Outcome::kExit0) {
    if (b != nullptr && !calm_ && rng_.ChanceOf(b->die)) {
      pending_.emplace(now + Duration(rng_.Between(100, 5000)),
                       Pending{.incarnation = 0,
                               .action = pending.action,
                               .generation = pending.generation,
                               .outcome = Outcome::kExit0,
                               .death = true});
    }
    return GuestResult{.status = GuestStatus::kRunning, .exit_code = 0, .timed_out = false};
  }
  if (b != nullptr && !calm_ && rng_.ChanceOf(b->survive)) {
    ++survivors_;  // The script failed; the guest it started keeps running.
  } else {
    Stop(package, pending.generation);
  }
  const bool timed_out = pending.outcome == Outcome::kTimeout;
  return GuestResult{.status = GuestStatus::kFailed,
                     .exit_code = timed_out ? -1 : (pending.outcome == Outcome::kExit1 ? 1 : 2),
                     .timed_out = timed_out};
}

GuestResult SimHost::CompleteHalt(const Pending& pending) {
  const PackageName& package = pending.action.guest.resource;
  if (pending.outcome == Outcome::kExit0) {
    Stop(package, pending.generation);
    return GuestResult{.status = GuestStatus::kStopped, .exit_code = 0, .timed_out = false};
  }
  const PackageBehaviour* b = BehaviourOf(package);
  if (held_.contains(package) && b != nullptr && !calm_ && rng_.ChanceOf(b->survive)) {
    ++survivors_;
  } else {
    Stop(package, pending.generation);
  }
  const bool timed_out = pending.outcome == Outcome::kTimeout;
  return GuestResult{
      .status = GuestStatus::kFailed, .exit_code = timed_out ? -1 : 1, .timed_out = timed_out};
}

void SimHost::Complete(const Pending& pending, uint64_t live_incarnation,
                       std::vector<Report>& reports) {
  const PackageName& package = pending.action.guest.resource;
  GuestResult result;
  GuestVerb verb = pending.action.verb;
  node::GuestRef guest = pending.action.guest;
  uint64_t incarnation = pending.incarnation;
  const bool held_before = held_.contains(package);
  if (pending.death) {
    if (calm_ || generation_[package] != pending.generation || !held_.contains(package)) {
      return;  // Stopped already, or the faults healed: it lives on.
    }
    held_.erase(package);
    ++deaths_;
    verb = GuestVerb::kStatus;  // The runtime's monitoring saw it go.
    result.status = GuestStatus::kStopped;
    incarnation = live_incarnation;
  } else {
    switch (pending.action.verb) {
      case GuestVerb::kRun:
        result = CompleteRun(pending, last_advance_);
        break;
      case GuestVerb::kHalt:
        result = CompleteHalt(pending);
        break;
      case GuestVerb::kKill:
        // Only a live guest can resist a kill: killing nothing always works (idempotent).
        if (pending.incarnation != 0 && !calm_ && held_.contains(package) &&
            generation_[package] == pending.generation &&
            rng_.ChanceOf(options_.kill_failure)) {
          result.status = GuestStatus::kUnknown;  // The driver could not kill it.
          break;
        }
        Stop(package, pending.generation);
        result.status = held_.contains(package) ? GuestStatus::kUnknown : GuestStatus::kStopped;
        break;
      case GuestVerb::kStatus:
        result.status = held_.contains(package) ? GuestStatus::kRunning : GuestStatus::kStopped;
        break;
    }
  }
  if (incarnation == 0) {
    return;  // The guard's kill, or a death while cmcld is down: nobody hears of it.
  }
  if (incarnation != live_incarnation) {
    ++reports_dropped_;
    if (live_incarnation != 0 && held_before && !held_.contains(package)) {
      // An action of a crashed incarnation (a run script that failed after the daemon
      // died) stopped the guest: the runtime's monitoring tells the live one.
      reports.push_back(Report{.incarnation = live_incarnation,
                               .guest = guest,
                               .verb = GuestVerb::kStatus,
                               .result = GuestResult{.status = GuestStatus::kStopped}});
    }
    return;
  }
  reports.push_back(
      Report{.incarnation = incarnation, .guest = guest, .verb = verb, .result = result});
}

void SimHost::Crash() {
  held_.clear();
  pending_.clear();
  // Generations survive: nothing pending refers to them any more, and a later run must
  // not collide with a number in use before the crash.
}

}  // namespace cmcl::sim
