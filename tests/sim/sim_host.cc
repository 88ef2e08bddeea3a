#include "tests/sim/sim_host.h"

#include <algorithm>

#include "cmcld/core/common/check.h"

namespace cmcl::sim {

using node::GuestStatus;
using node::GuestVerb;

SimHost::SimHost(Options options, Rng rng) : options_(options), rng_(rng) {
  CMCL_CHECK(options_.fence_timeout >= Duration(2)) << "a kill needs [1, fence_timeout)";
}

void SimHost::Submit(Time now, uint64_t incarnation, const node::GuestAction& action) {
  CMCL_CHECK(incarnation > 0) << "incarnation 0 is the guard's";
  const PackageName& resource = action.guest.resource;
  Duration latency;
  if (action.verb == GuestVerb::kKill) {
    latency = Duration(rng_.Between(1, options_.fence_timeout.count() - 1));
  } else {
    latency = Duration(rng_.Between(1, options_.action_latency_max.count()));
  }
  if (action.verb == GuestVerb::kRun) {
    // From this instant the driver may have the guest up.
    held_[resource] = Held{.epoch = action.guest.epoch, .since = now};
    ++generation_[resource];
  }
  pending_.emplace(
      now + latency,
      Pending{.incarnation = incarnation, .action = action, .generation = generation_[resource]});
}

void SimHost::GuardKill(Time now, const PackageName& resource) {
  const auto it = held_.find(resource);
  const raft::LogIndex epoch = it == held_.end() ? raft::LogIndex(0) : it->second.epoch;
  const Duration latency = Duration(rng_.Between(1, options_.fence_timeout.count() - 1));
  pending_.emplace(
      now + latency,
      Pending{.incarnation = 0,
              .action = {.guest = {.resource = resource, .epoch = epoch}, .verb = GuestVerb::kKill},
              .generation = generation_[resource]});
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
    const Pending pending = pending_.begin()->second;
    pending_.erase(pending_.begin());
    Complete(pending, live_incarnation, reports);
  }
  return reports;
}

void SimHost::Complete(const Pending& pending, uint64_t live_incarnation,
                       std::vector<Report>& reports) {
  const PackageName& resource = pending.action.guest.resource;
  const bool same_guest = generation_[resource] == pending.generation;
  GuestStatus status = GuestStatus::kUnknown;
  switch (pending.action.verb) {
    case GuestVerb::kRun:
      status = GuestStatus::kRunning;
      if (same_guest && held_.contains(resource) && rng_.ChanceOf(options_.start_failure)) {
        held_.erase(resource);  // The run failed: stopped for certain.
        status = GuestStatus::kFailed;
      } else if (!same_guest || !held_.contains(resource)) {
        status = GuestStatus::kFailed;  // Stopped (or replaced) before it came up.
      }
      break;
    case GuestVerb::kHalt:
    case GuestVerb::kKill:
      if (same_guest) {
        held_.erase(resource);
      }
      status = held_.contains(resource) ? GuestStatus::kUnknown : GuestStatus::kStopped;
      break;
    case GuestVerb::kStatus:
      status = held_.contains(resource) ? GuestStatus::kRunning : GuestStatus::kStopped;
      break;
  }
  if (pending.incarnation == 0) {
    return;  // The guard's kill: nobody in cmcld waits for it.
  }
  if (pending.incarnation != live_incarnation) {
    ++reports_dropped_;
    return;
  }
  reports.push_back(Report{.incarnation = pending.incarnation,
                           .guest = pending.action.guest,
                           .verb = pending.action.verb,
                           .status = status});
}

void SimHost::Crash() {
  held_.clear();
  pending_.clear();
  // Generations survive: nothing pending refers to them any more, and a later start
  // must not collide with a number in use before the crash.
}

}  // namespace cmcl::sim
