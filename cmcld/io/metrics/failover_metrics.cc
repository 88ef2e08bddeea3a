#include "cmcld/io/metrics/failover_metrics.h"

#include <utility>
#include <vector>

namespace cmcl::io::metrics {
namespace {

using node::AssignmentStatus;

// The reason label from the assignment a failover replaced (failover_metrics.h).
std::string ReasonFrom(const std::optional<AssignmentStatus>& before) {
  if (!before) return "node_lost";  // Never seen: only a lost owner's package moves unseen.
  switch (*before) {
    case AssignmentStatus::kFailed:
      return "package_failed";
    case AssignmentStatus::kFenced:
      return "fenced";
    case AssignmentStatus::kHalted:
      return "halted";
    case AssignmentStatus::kAssigned:
    case AssignmentStatus::kStarted:
    case AssignmentStatus::kHaltFailed:
      break;
  }
  return "node_lost";
}

double Seconds(Duration duration) { return static_cast<double>(duration.count()) / 1000.0; }

}  // namespace

Histogram FailoverHistogram() {
  return Histogram({1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 300, 600});
}

FailoverMetrics::FailoverMetrics(NodeName self, node::LogIndex horizon)
    : self_(std::move(self)), horizon_(horizon) {}

void FailoverMetrics::Observe(const node::ClusterState& state, Time now,
                              const LastHeardFn& last_heard) {
  if (learned_ && state.applied() == applied_) return;
  const bool first = !learned_;
  learned_ = true;
  applied_ = state.applied();
  std::map<PackageName, Seen> seen;
  for (const auto& [package, a] : state.assignments()) {
    const auto before = seen_.find(package);
    const Seen* previous = before == seen_.end() ? nullptr : &before->second;
    Seen current{.epoch = a.epoch, .status = a.status, .owner = a.owner, .since = std::nullopt};
    if (previous != nullptr && previous->epoch == a.epoch && previous->status == a.status) {
      current.since = previous->since;
    } else if (!first) {
      current.since = now;
    }
    if (!first && (previous == nullptr || previous->epoch != a.epoch) && a.owner &&
        a.start_reason == node::ActionReason::kFailover && a.epoch > horizon_) {
      Failover(package, a, previous, now, state.lease_length_max(), last_heard);
    }
    const auto waiting = pending_.find(package);
    if (waiting != pending_.end()) {
      if (waiting->second.epoch != a.epoch) {
        pending_.erase(waiting);  // Replaced before it started: nothing to measure.
      } else if (a.status == AssignmentStatus::kStarted) {
        if (waiting->second.outage_since && *waiting->second.outage_since <= now) {
          durations_.try_emplace(waiting->second.reason, FailoverHistogram())
              .first->second.Observe(Seconds(now - *waiting->second.outage_since));
        }
        pending_.erase(waiting);
      } else if (a.status != AssignmentStatus::kAssigned) {
        pending_.erase(waiting);  // Failed (or fenced) before it started.
      }
    }
    seen.emplace(package, std::move(current));
  }
  // Packages whose records a config apply dropped are gone from both.
  std::erase_if(pending_, [&](const auto& entry) { return !seen.contains(entry.first); });
  seen_ = std::move(seen);
}

void FailoverMetrics::Failover(const PackageName& package, const node::Assignment& now_assigned,
                               const Seen* before, Time now, Duration lease,
                               const LastHeardFn& last_heard) {
  const std::string reason =
      ReasonFrom(before != nullptr ? std::optional(before->status) : std::nullopt);
  ++counts_[{package, reason}];
  std::optional<Time> outage_since;
  if (reason == "node_lost") {
    // The lost owner: the assignment's source (CMCL_SOURCE_NODE), or the one seen.
    std::optional<NodeName> lost = now_assigned.source;
    if (!lost && before != nullptr) lost = before->owner;
    if (lost && *lost != self_) {
      const std::optional<Time> heard = last_heard(*lost);
      // Heard lately: this node was on the owner's side of a partition, and the outage
      // it would measure is not the one the coordinator acted on. The coordinator waited
      // for the lease L to expire after the owner's last renewal, which may be a
      // heartbeat older than the last keepalive others heard, hence L/2.
      if (heard && now - *heard >= lease / 2) outage_since = heard;
    }
  } else if (before != nullptr) {
    outage_since = before->since;
  }
  pending_[package] =
      Pending{.epoch = now_assigned.epoch, .reason = reason, .outage_since = outage_since};
}

}  // namespace cmcl::io::metrics
