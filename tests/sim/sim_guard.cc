#include "tests/sim/sim_guard.h"

#include <algorithm>

#include "cmcld/core/common/check.h"

namespace cmcl::sim {

SimGuard::SimGuard(Options options, Rng rng) : options_(options), rng_(rng) {}

void SimGuard::Submit(Time now, uint64_t incarnation,
                      const std::vector<node::GuardRequest>& requests) {
  for (const node::GuardRequest& request : requests) {
    Time at = now + Duration(rng_.Between(1, options_.ipc_latency_max.count()));
    if (!pending_.empty()) {
      at = std::max(at, pending_.back().at);  // One socket: in order.
    }
    pending_.push_back(Pending{.at = at, .incarnation = incarnation, .request = request});
  }
}

std::vector<SimGuard::Ack> SimGuard::Advance(Time now, Time local_now, SimHost& host) {
  std::vector<Ack> acks;
  while (!pending_.empty() && pending_.front().at <= now) {
    const Pending pending = pending_.front();
    pending_.pop_front();
    Apply(pending.request, local_now);
    acks.push_back(Ack{.incarnation = pending.incarnation, .id = pending.request.id});
  }
  FenceIfDue(now, local_now, host);
  return acks;
}

void SimGuard::Apply(const node::GuardRequest& request, Time local_now) {
  if (const auto* set = std::get_if<node::SetDeadline>(&request.request)) {
    if (!deadline_ || set->deadline > *deadline_ || set->allow_earlier) {
      if (set->deadline > local_now) {
        killed_.clear();  // A deadline in the future: the fence (if any) is over.
      }
      deadline_ = set->deadline;
    }
  } else if (const auto* reg = std::get_if<node::Register>(&request.request)) {
    registered_[reg->guest.resource] = reg->guest.epoch;
    killed_.erase(reg->guest.resource);
    fenced_ = false;
  } else if (const auto* unreg = std::get_if<node::Unregister>(&request.request)) {
    registered_.erase(unreg->resource);
    killed_.erase(unreg->resource);
  }
}

void SimGuard::FenceIfDue(Time now, Time local_now, SimHost& host) {
  if (!deadline_ || local_now < *deadline_) {
    return;
  }
  bool killed_any = false;
  for (const auto& [resource, epoch] : registered_) {
    if (killed_.insert(resource).second) {
      host.GuardKill(now, resource);
      killed_any = true;
    }
  }
  if (killed_any) {
    fenced_ = true;
    ++fences_;
  }
}

std::optional<Time> SimGuard::NextEvent(const SimClock& clock, Time now) const {
  std::optional<Time> next;
  if (!pending_.empty()) {
    next = std::max(pending_.front().at, now);
  }
  const bool unkilled = std::any_of(registered_.begin(), registered_.end(), [&](const auto& entry) {
    return !killed_.contains(entry.first);
  });
  if (deadline_ && unkilled) {
    const Time fence_at = clock.TrueTimeFor(*deadline_, now);
    next = next ? std::min(*next, fence_at) : fence_at;
  }
  return next;
}

void SimGuard::Crash() {
  pending_.clear();
  deadline_.reset();
  registered_.clear();
  killed_.clear();
  fenced_ = false;
}

node::GuardState SimGuard::State() const {
  node::GuardState state;
  state.deadline = deadline_;
  for (const auto& [resource, epoch] : registered_) {
    state.registered.push_back(node::GuestRef{.resource = resource, .epoch = epoch});
  }
  state.fenced = fenced_;
  return state;
}

}  // namespace cmcl::sim
