// The watchdog fence's arithmetic (core/node/watchdog.h): when the guard pets, holds or
// resets, what it asks the device for, and the parameter rule with the device's value.
#include "cmcld/core/node/watchdog.h"

#include <gtest/gtest.h>

#include <optional>

namespace cmcl::node {
namespace {

using namespace std::chrono_literals;

Time At(int64_t ms) { return Time::FromMilliseconds(ms); }

WatchdogDecision Decide(int64_t now, std::optional<int64_t> lease_end, bool protecting = true,
                        Duration timeout = 1s) {
  return DecideWatchdog(
      {.now = At(now),
       .timeout = timeout,
       .lease_end = lease_end ? std::optional<Time>(At(*lease_end)) : std::nullopt,
       .protecting = protecting});
}

TEST(WatchdogTest, PetsWhileTheDeviceWouldFireNoLaterThanLeaseEnd) {
  const WatchdogDecision decision = Decide(10'000, 13'000);

  EXPECT_EQ(decision.step, WatchdogStep::kPet);
  EXPECT_EQ(decision.next, At(10'250));  // A quarter of the timeout.
}

TEST(WatchdogTest, PetsAtExactlyLeaseEndMinusTimeoutAndThenOnlyChecksForTheReset) {
  const WatchdogDecision decision = Decide(12'000, 13'000);

  EXPECT_EQ(decision.step, WatchdogStep::kPet);  // now + timeout == lease_end: allowed.
  EXPECT_EQ(decision.next, At(13'000));          // No pet is left: the reset check.
}

TEST(WatchdogTest, OneMillisecondPastTheLastAllowedPetHoldsUntilLeaseEnd) {
  const WatchdogDecision decision = Decide(12'001, 13'000);

  EXPECT_EQ(decision.step, WatchdogStep::kHold);
  EXPECT_EQ(decision.next, At(13'000));
}

TEST(WatchdogTest, TheNextPetIsTheLastAllowedInstantWhenThatComesBeforeTheInterval) {
  const WatchdogDecision decision = Decide(11'900, 13'000);

  EXPECT_EQ(decision.step, WatchdogStep::kPet);
  EXPECT_EQ(decision.next, At(12'000));  // Not 12'150: that pet would be refused.
}

TEST(WatchdogTest, AProtectedGuestAtLeaseEndResetsAtOnce) {
  EXPECT_EQ(Decide(13'000, 13'000).step, WatchdogStep::kReset);
  EXPECT_EQ(Decide(13'001, 13'000).step, WatchdogStep::kReset);
  EXPECT_EQ(Decide(99'000, 13'000).step, WatchdogStep::kReset);  // Deadline long past.
  EXPECT_EQ(Decide(12'999, 13'000).step, WatchdogStep::kHold);
}

TEST(WatchdogTest, WithoutALeaseAProtectedGuestIsNeverPetForAndNoResetIsScheduled) {
  const WatchdogDecision decision = Decide(10'000, std::nullopt);

  EXPECT_EQ(decision.step, WatchdogStep::kHold);
  EXPECT_EQ(decision.next, std::nullopt);
}

TEST(WatchdogTest, NothingProtectedPetsWhateverTheLease) {
  for (const std::optional<int64_t> lease_end :
       {std::optional<int64_t>(), std::optional<int64_t>(5'000), std::optional<int64_t>(10'500),
        std::optional<int64_t>(60'000)}) {
    const WatchdogDecision decision = Decide(10'000, lease_end, /*protecting=*/false);
    EXPECT_EQ(decision.step, WatchdogStep::kPet);
    EXPECT_EQ(decision.next, At(10'250));
  }
}

TEST(WatchdogTest, ADisarmedLongLeasePetsOnAndLooksAgainAfterTheInterval) {
  const int64_t four_hours = 4 * 3600 * 1000;
  const WatchdogDecision decision = Decide(10'000, 10'000 + four_hours);

  EXPECT_EQ(decision.step, WatchdogStep::kPet);
  EXPECT_EQ(decision.next, At(10'250));
}

TEST(WatchdogTest, TheDevicesTimeoutIsWhatCounts) {
  // The same lease: asked for 1s, a device that grants 2s must not be pet at 11.5s.
  EXPECT_EQ(Decide(11'500, 13'000, true, 1s).step, WatchdogStep::kPet);
  EXPECT_EQ(Decide(11'500, 13'000, true, 2s).step, WatchdogStep::kHold);
  EXPECT_EQ(Decide(11'000, 13'000, true, 2s).step, WatchdogStep::kPet);
}

// Every decision, over a grid of instants: a pet never lets the device fire after
// lease_end, the reset comes exactly from lease_end on, and the next look is never in
// the past.
TEST(WatchdogTest, NoPetEverLetsTheDeviceFireAfterLeaseEnd) {
  for (const Duration timeout : {1s, 2s, 3s}) {
    for (int64_t now = 0; now <= 20'000; now += 7) {
      const int64_t lease_end = 10'000;
      const WatchdogDecision decision = Decide(now, lease_end, true, timeout);
      if (decision.step == WatchdogStep::kPet) {
        EXPECT_LE(At(now) + timeout, At(lease_end)) << now;
      }
      EXPECT_EQ(decision.step == WatchdogStep::kReset, now >= lease_end) << now;
      if (decision.next) {
        EXPECT_GT(*decision.next, At(now)) << now;
        EXPECT_LE(*decision.next, At(lease_end)) << now;  // The reset check is never late.
      }
      if (decision.step == WatchdogStep::kPet && At(now) + timeout < At(lease_end)) {
        EXPECT_LE(*decision.next, At(now) + PetInterval(timeout)) << now;  // Pets keep up.
      }
    }
  }
}

TEST(WatchdogTest, PetIntervalIsAQuarterOfTheTimeoutAndNeverZero) {
  EXPECT_EQ(PetInterval(1s), 250ms);
  EXPECT_EQ(PetInterval(60s), 15s);
  EXPECT_EQ(PetInterval(20ms), 10ms);
  EXPECT_EQ(PetInterval(0ms), 10ms);
}

TEST(WatchdogTest, TheDeviceIsAskedForWholeSecondsRoundedUp) {
  EXPECT_EQ(WatchdogSecondsToAsk(1s), 1);
  EXPECT_EQ(WatchdogSecondsToAsk(1001ms), 2);
  EXPECT_EQ(WatchdogSecondsToAsk(1500ms), 2);
  EXPECT_EQ(WatchdogSecondsToAsk(2s), 2);
  EXPECT_EQ(WatchdogSecondsToAsk(300ms), 1);
  EXPECT_EQ(WatchdogSecondsToAsk(1ms), 1);
}

TEST(WatchdogTest, TheRuleHoldsAtExactEquality) {
  // 1s + 2 × 350ms + 300ms = 2s.
  EXPECT_EQ(CheckWatchdogTimeout(1s, 1s, 350ms, 2s), std::nullopt);
  EXPECT_NE(CheckWatchdogTimeout(1s, 1s, 351ms, 2s), std::nullopt);
}

TEST(WatchdogTest, ARuleBrokenByTheDeviceRoundingSaysSo) {
  // watchdog_timeout 1.5s keeps the rule (1.5 + 0.8 + 0.3 = 2.6s <= 3s); the 2s the
  // device rounded it to does not (2 + 0.8 + 0.3 = 3.1s).
  EXPECT_EQ(CheckWatchdogTimeout(1500ms, 1500ms, 400ms, 3s), std::nullopt);
  const std::optional<std::string> error = CheckWatchdogTimeout(2s, 1500ms, 400ms, 3s);

  ASSERT_NE(error, std::nullopt);
  EXPECT_NE(error->find("the watchdog device's timeout (2s; watchdog_timeout is 1.5s"),
            std::string::npos)
      << *error;
  EXPECT_NE(error->find("= 3.1s exceeds node_timeout (3s)"), std::string::npos) << *error;
}

TEST(WatchdogTest, ARuleBrokenByTheConfiguredValueNamesWatchdogTimeout) {
  const std::optional<std::string> error = CheckWatchdogTimeout(3s, 3s, 300ms, 3s);

  ASSERT_NE(error, std::nullopt);
  EXPECT_EQ(error->rfind("fence_action reboot: watchdog_timeout (3s) + 2 × heartbeat_interval", 0),
            0U)
      << *error;
}

}  // namespace
}  // namespace cmcl::node
