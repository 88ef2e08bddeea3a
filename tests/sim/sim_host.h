// SimHost: the physical guests of one simulated node — what really runs, whatever any
// cmcld believes (DESIGN.md section 7, "drivers and a guard") — and the runner of its
// packages' scripts (issue 7).
//
// Physical truth. Per package the host knows whether a guest physically runs, and at
// which epoch: from the moment a kRun is issued (the run script may have the VM up at
// any instant after that) until a halt or kill that stopped it completes, or the node
// crashes. A run script that fails (exit 1 or 2, or killed at run_timeout) stops the
// guest too, unless the package's behaviour leaves it running ("guests that survive a
// failed run script"); so does a failed or timed-out halt script. Only a completed
// halt/kill, a failed run that did not survive, a guard kill, a guest dying on its own
// or a node crash ends a guest.
//
// The verbs (node.h), each answered by exactly one report after a latency:
//   kRun     the run script: takes [1, action_latency_max] and exits as the package's
//            behaviour (sim_packages.h) says: 0 (kRunning), 1 or 2 (kFailed with that
//            exit code); a hang, or a script slower than run_timeout, is killed by the
//            runner: reported at run_timeout + [0, kill_timeout] as kFailed,
//            exit_code -1, timed_out. A run whose guest a kill or the guard stopped
//            before it exited reports kFailed (exit -1).
//   kHalt    the halt script: exit 0 stops the guest (kStopped); it may fail (exit 1)
//            or hang past halt_timeout (timed_out), and a failed halt may leave the
//            guest running (kFailed).
//   kKill    the driver's kill, within [1, fence_timeout): kStopped, or, rarely
//            (kill_failure), kUnknown with the guest still running.
//   kStatus  the driver's status: physical truth at completion (kRunning / kStopped).
// A guest that came up may die on its own later (behaviour `die`): it stops, and the
// live incarnation gets an unsolicited kStatus kStopped report. Calm() (the liveness
// phase) ends every flaky behaviour: runs exit 0 except on "bad on" nodes, halts and
// kills succeed, nothing dies on its own.
//
// Reports go to the daemon incarnation that issued the action; a report for an
// incarnation that has since crashed is dropped (counted), but the physical effect
// stays — and when that effect stopped the guest (a run script that failed after the
// daemon died), the live incarnation gets an unsolicited kStatus kStopped, as the
// runtime's monitoring would see it. The guard (sim_guard.h) kills guests here too; its
// kills always work (they are the backstop of F4) and produce no report.
//
// A halt or kill ends only the guest it was issued against: if a newer kRun of the same
// package came in between, the older halt's completion leaves the new guest.
//
// The host is passive: the simulator asks NextEvent() for the true time of the next
// completion and calls Advance(now) then.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cmcld/core/common/rng.h"
#include "cmcld/core/common/time.h"
#include "cmcld/core/node/node.h"
#include "tests/sim/sim_packages.h"

namespace cmcl::sim {

class SimHost {
 public:
  struct Options {
    NodeName node = {};                          // Whose host this is (for "bad on").
    std::shared_ptr<const SimPackages> packages = {};  // Null: every package healthy,
                                                       // default timeouts.
    Duration action_latency_max = Duration(50);  // kRun, kHalt, kStatus: [1, this].
    Duration fence_timeout = Duration(500);      // kKill: [1, fence_timeout).
    double kill_failure = 0.0;                   // A driver kill reports kUnknown.
  };
  // A guest action completed (or a guest died): what cmcld's GuestReported gets.
  struct Report {
    uint64_t incarnation = 0;
    node::GuestRef guest;
    node::GuestVerb verb = node::GuestVerb::kStatus;
    node::GuestResult result;
  };
  // A physically running guest.
  struct Held {
    raft::LogIndex epoch;
    Time since;  // True time the run was issued.
  };

  SimHost(Options options, Rng rng);

  // cmcld incarnation `incarnation` runs a script or the driver for `action` at `now`.
  void Submit(Time now, uint64_t incarnation, const node::GuestAction& action);
  // The guard kills whatever runs for `package`; done within [1, fence_timeout).
  void GuardKill(Time now, const PackageName& package);
  // Completes every action due by `now`; returns the reports for `live_incarnation`
  // (reports of other incarnations are dropped and counted).
  std::vector<Report> Advance(Time now, uint64_t live_incarnation);
  std::optional<Time> NextEvent() const;
  // Node crash: every guest dies at once, every action in flight is lost.
  void Crash();
  // The liveness phase: flaky behaviour stops (see above).
  void Calm() { calm_ = true; }

  const std::map<PackageName, Held>& held() const { return held_; }
  bool Holds(const PackageName& package) const { return held_.contains(package); }
  uint64_t reports_dropped() const { return reports_dropped_; }
  // Guests that outlived a failed run or halt script, and guests that died on their own.
  uint64_t survivors() const { return survivors_; }
  uint64_t deaths() const { return deaths_; }

 private:
  enum class Outcome : uint8_t { kExit0, kExit1, kExit2, kTimeout };
  struct Pending {
    uint64_t incarnation = 0;  // 0: the guard's kill (no report).
    node::GuestAction action;
    uint64_t generation = 0;  // Of the guest the action was issued against.
    Outcome outcome = Outcome::kExit0;  // kRun / kHalt: decided at issue.
    bool death = false;                 // Not an action: the guest dies on its own.
  };
  Duration Latency(const node::GuestAction& action, Outcome& outcome);
  Outcome RunOutcome(const PackageName& package);
  Outcome HaltOutcome(const PackageName& package);
  void Complete(const Pending& pending, uint64_t live_incarnation, std::vector<Report>& reports);
  node::GuestResult CompleteRun(const Pending& pending, Time now);
  node::GuestResult CompleteHalt(const Pending& pending);
  void Stop(const PackageName& package, uint64_t generation);
  const PackageBehaviour* BehaviourOf(const PackageName& package) const;

  Options options_;
  Rng rng_;
  bool calm_ = false;
  std::map<PackageName, Held> held_;
  std::map<PackageName, uint64_t> generation_;  // Bumped by every run.
  std::map<PackageName, int> runs_;             // Run scripts issued (fail_first).
  std::multimap<Time, Pending> pending_;        // By completion time, then issue order.
  Time last_advance_;
  uint64_t reports_dropped_ = 0;
  uint64_t survivors_ = 0;
  uint64_t deaths_ = 0;
};

}  // namespace cmcl::sim
