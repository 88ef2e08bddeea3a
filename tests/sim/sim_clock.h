// SimClock: one simulated node's local clock (STYLE.md rule 30; TigerBeetle's TimeSim).
//
// The event queue runs in true simulated time; each node reads its own clock, which is
// what its core gets as `now`. The clock is piecewise linear in true time: local(t) =
// anchor_local + (t - anchor_true) x (1 + drift), with drift in parts per million and
// |drift| <= clock_drift_max. It starts at an arbitrary offset (no absolute time may
// cross the wire, DESIGN.md section 4, so offsets must not matter), and its drift is
// either fixed for the whole run or re-drawn at random points (the ClockDrift nemesis).
// A drift change re-anchors at the current instant, so the clock is continuous; since
// 1 + drift > 0 it is also monotonic, which Read() asserts: leases (DESIGN.md section 4)
// rely on a node's clock never running backwards and never running faster or slower
// than the bound. Internally local time is kept in nanoseconds, so a drift of a few ppm
// is exact and does not round away at millisecond reads.
//
// TrueTimeFor() is the inverse the simulator needs to schedule a node's timer: the
// earliest true millisecond at which the clock reads at least a given local time,
// assuming the drift does not change before then (the simulator re-converts pending
// timers whenever it changes the drift).
#pragma once

#include <cstdint>

#include "cmcld/core/common/time.h"

namespace cmcl::sim {

class SimClock {
 public:
  SimClock() = default;
  // A clock that reads `offset` at true time `start` and runs at 1 + drift_ppm / 10^6.
  SimClock(Time start, Time offset, int64_t drift_ppm);

  // The local time at true time `real`; checks that reads never go backwards.
  Time Read(Time real);
  // The local time at `real` without recording it (for the trace and the checks).
  Time Peek(Time real) const;
  // The earliest true time t >= `real_now` with Peek(t) >= `local`.
  Time TrueTimeFor(Time local, Time real_now) const;
  // Changes the rate from true time `real` on; the reading stays continuous.
  void SetDrift(Time real, int64_t drift_ppm);
  int64_t drift_ppm() const { return drift_ppm_; }

 private:
  int64_t LocalNanos(Time real) const;

  int64_t anchor_true_ms_ = 0;
  int64_t anchor_local_ns_ = 0;
  int64_t drift_ppm_ = 0;
  int64_t last_read_ms_ = INT64_MIN;
};

}  // namespace cmcl::sim
