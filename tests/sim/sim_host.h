// SimHost: the physical guests of one simulated node — what really runs, whatever any
// cmcld believes (DESIGN.md section 7, "drivers and a guard").
//
// Per resource it knows whether a guest physically holds it, and at which epoch: from
// the moment a kStart is issued (the driver may have the VM up at any instant after
// that) until a kStop or kKill of it completes, or the node crashes. Each GuestAction
// completes after a random latency (a kill within [1, fence_timeout) ms, so that a fence
// begun at lease_end - fence_timeout is done by lease_end, F4) and then produces a
// GuestReported for the daemon incarnation that issued it; a report for an incarnation
// that has since crashed is dropped, but the physical effect stays (an issued start
// leaves a running guest that the restarted cmcld must find by kStatus). kStatus
// answers from the physical truth at completion. The guard (sim_guard.h) kills guests
// here too; its kills produce no report (the guard is not cmcld).
//
// A stop or kill releases only the guest it was issued against: if a newer start of
// the same resource came in between, the older stop's completion leaves the new guest.
//
// The host is passive: the simulator asks NextEvent() for the true time of the next
// completion and calls Advance(now) then.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cmcld/core/common/rng.h"
#include "cmcld/core/common/time.h"
#include "cmcld/core/node/node.h"

namespace cmcl::sim {

class SimHost {
 public:
  struct Options {
    Duration action_latency_max = Duration(50);  // kStart, kStop, kStatus: [1, this].
    Duration fence_timeout = Duration(500);      // kKill: [1, fence_timeout).
    double start_failure = 0.0;                  // A start reports kFailed (stopped).
  };
  // A guest a driver action completed for: what cmcld's GuestReported gets.
  struct Report {
    uint64_t incarnation = 0;
    node::GuestRef guest;
    node::GuestVerb verb = node::GuestVerb::kStatus;
    node::GuestStatus status = node::GuestStatus::kUnknown;
  };
  // A physically running guest.
  struct Held {
    raft::LogIndex epoch;
    Time since;  // True time the start was issued.
  };

  SimHost(Options options, Rng rng);

  // cmcld incarnation `incarnation` runs the driver for `action` at true time `now`.
  void Submit(Time now, uint64_t incarnation, const node::GuestAction& action);
  // The guard kills whatever runs for `resource`; done within [1, fence_timeout).
  void GuardKill(Time now, const PackageName& resource);
  // Completes every action due by `now`; returns the reports for `live_incarnation`
  // (reports of other incarnations are dropped and counted).
  std::vector<Report> Advance(Time now, uint64_t live_incarnation);
  std::optional<Time> NextEvent() const;
  // Node crash: every guest dies at once, every action in flight is lost.
  void Crash();

  const std::map<PackageName, Held>& held() const { return held_; }
  bool Holds(const PackageName& resource) const { return held_.contains(resource); }
  uint64_t reports_dropped() const { return reports_dropped_; }

 private:
  struct Pending {
    uint64_t incarnation = 0;  // 0: the guard's kill (no report).
    node::GuestAction action;
    uint64_t generation = 0;  // Of the guest the stop/kill was issued against.
  };
  void Complete(const Pending& pending, uint64_t live_incarnation, std::vector<Report>& reports);

  Options options_;
  Rng rng_;
  std::map<PackageName, Held> held_;
  std::map<PackageName, uint64_t> generation_;  // Bumped by every start.
  std::multimap<Time, Pending> pending_;        // By completion time, then issue order.
  uint64_t reports_dropped_ = 0;
};

}  // namespace cmcl::sim
