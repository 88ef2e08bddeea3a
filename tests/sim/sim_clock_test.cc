// SimClock as a specification: offset, bounded drift, continuity across drift changes,
// monotonic reads, and the inverse the simulator schedules timers with.
#include "tests/sim/sim_clock.h"

#include <gtest/gtest.h>

#include "cmcld/core/common/rng.h"

namespace cmcl::sim {
namespace {

Time T(int64_t ms) { return Time::FromMilliseconds(ms); }

TEST(SimClock, ReadsItsOffsetAtTheStartAndAdvancesAtOnePlusDrift) {
  SimClock fast(T(0), T(5000), 1000);  // +0.1%
  SimClock slow(T(0), T(5000), -1000);

  EXPECT_EQ(fast.Read(T(0)), T(5000));
  EXPECT_EQ(fast.Read(T(10'000)), T(15'010));
  EXPECT_EQ(slow.Read(T(10'000)), T(14'990));
}

TEST(SimClock, DriftChangesKeepTheReadingContinuous) {
  SimClock clock(T(0), T(0), 1000);
  const Time before = clock.Peek(T(20'000));

  clock.SetDrift(T(20'000), -1000);

  EXPECT_EQ(clock.Peek(T(20'000)), before);
  EXPECT_EQ(clock.Peek(T(30'000)), before + Duration(9'990));
}

TEST(SimClock, TrueTimeForIsTheEarliestInstantTheClockReachesALocalTime) {
  Rng rng(7);
  for (int i = 0; i < 2000; ++i) {
    const int64_t drift = rng.Between(-1000, 1000);
    SimClock clock(T(0), T(rng.Between(0, 1'000'000)), drift);
    const Time now = T(rng.Between(0, 100'000));
    const Time local = clock.Peek(now) + Duration(rng.Between(0, 5000));

    const Time at = clock.TrueTimeFor(local, now);

    EXPECT_GE(clock.Peek(at), local) << "drift " << drift;
    if (at > now) {
      EXPECT_LT(clock.Peek(at - Duration(1)), local) << "drift " << drift;
    }
  }
}

TEST(SimClock, ReadsAreMonotonicAcrossRandomDriftChanges) {
  Rng rng(11);
  SimClock clock(T(0), T(123), 0);
  Time last = clock.Read(T(0));
  for (int64_t t = 1; t < 100'000; t += rng.Between(0, 50)) {
    if (rng.Chance(1, 10)) {
      clock.SetDrift(T(t), rng.Between(-1000, 1000));
    }
    const Time now = clock.Read(T(t));
    EXPECT_GE(now, last);
    last = now;
  }
}

TEST(SimClockDeathTest, AReadEarlierThanTheLastOneAborts) {
  SimClock clock(T(0), T(0), 0);
  clock.Read(T(1000));

  EXPECT_DEATH(clock.Read(T(10)), "went backwards");
}

}  // namespace
}  // namespace cmcl::sim
