// SimGuard: the simulated cmcl-guard of one node (DESIGN.md section 4, "Fencing does
// not depend on the process that failed"): a tiny process outside cmcld that holds the
// deadline lease_end - fence_timeout on the node's own clock and, when the clock passes
// it, kills every registered guest on the node's SimHost.
//
// Contract:
//  * Requests (node::GuardRequest) from a cmcld incarnation are applied in order, each
//    after a small IPC latency, and then acknowledged to that incarnation (the simulator
//    feeds Node::GuardAcked(id); an acknowledgement for a crashed incarnation is
//    dropped). Requests already written to the socket are applied even if the cmcld
//    that wrote them died meanwhile.
//  * The deadline only moves forward; SetDeadline.allow_earlier (arming) is the one way
//    to move it back.
//  * When the node's local clock reaches the deadline the guard fences: every
//    registered guest is killed (each kill completes after a random delay in
//    [1, fence_timeout) ms, SimHost::GuardKill) and GuardState.fenced is set. A guest
//    registered while the deadline is already past is killed at once. A new deadline in
//    the future ends the fence for guests registered from then on; `fenced` stays set
//    until a later registration, so a re-attaching cmcld learns its guests were fenced.
//  * It survives a daemon crash and a pause of cmcld (it keeps acting on its own
//    clock); a node crash wipes it (Crash()).
//
// Passive like SimHost: the simulator asks NextEvent(clock, now) for the true time of
// the next request application or fence and calls Advance then.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "cmcld/core/common/rng.h"
#include "cmcld/core/common/time.h"
#include "cmcld/core/node/node.h"
#include "tests/sim/sim_clock.h"
#include "tests/sim/sim_host.h"

namespace cmcl::sim {

class SimGuard {
 public:
  struct Options {
    Duration ipc_latency_max = Duration(3);  // Each request applies after [1, this].
  };
  struct Ack {
    uint64_t incarnation = 0;
    uint64_t id = 0;
  };

  SimGuard(Options options, Rng rng);

  // cmcld incarnation `incarnation` writes `requests` at true time `now`.
  void Submit(Time now, uint64_t incarnation, const std::vector<node::GuardRequest>& requests);
  // Applies the requests due by true time `now` and fences if `local_now` (the node's
  // clock at `now`) reached the deadline; kills go to `host`. Returns the
  // acknowledgements, in order.
  std::vector<Ack> Advance(Time now, Time local_now, SimHost& host);
  // The true time of the next thing the guard will do, on `clock`'s current rate.
  std::optional<Time> NextEvent(const SimClock& clock, Time now) const;
  // Node crash: the guard process dies with the node; a restarted node has a new one.
  void Crash();

  // What a (re)attaching cmcld is told.
  node::GuardState State() const;
  std::optional<Time> deadline() const { return deadline_; }
  bool fenced() const { return fenced_; }
  uint64_t fences() const { return fences_; }
  const std::map<PackageName, raft::LogIndex>& registered() const { return registered_; }

 private:
  struct Pending {
    Time at;
    uint64_t incarnation = 0;
    node::GuardRequest request;
  };
  void Apply(const node::GuardRequest& request, Time local_now);
  void FenceIfDue(Time now, Time local_now, SimHost& host);

  Options options_;
  Rng rng_;
  std::deque<Pending> pending_;   // FIFO; `at` non-decreasing.
  std::optional<Time> deadline_;  // Local clock.
  std::map<PackageName, raft::LogIndex> registered_;
  std::set<PackageName> killed_;  // Registered guests killed by the current fence.
  bool fenced_ = false;
  uint64_t fences_ = 0;
};

}  // namespace cmcl::sim
