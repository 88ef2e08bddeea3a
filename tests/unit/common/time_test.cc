#include "cmcld/core/common/time.h"

#include <gtest/gtest.h>

namespace cmcl {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

TEST(ParseDuration, AcceptsEveryUnitAndCompounds) {
  EXPECT_EQ(ParseDuration("200ms"), milliseconds(200));
  EXPECT_EQ(ParseDuration("2s"), seconds(2));
  EXPECT_EQ(ParseDuration("1.5s"), milliseconds(1500));
  EXPECT_EQ(ParseDuration("4h"), hours(4));
  EXPECT_EQ(ParseDuration("1h30m"), minutes(90));
  EXPECT_EQ(ParseDuration("1d"), hours(24));
}

TEST(ParseDuration, RefusesBareNumbersUnknownUnitsAndSubMillisecond) {
  EXPECT_EQ(ParseDuration(""), std::nullopt);
  EXPECT_EQ(ParseDuration("200"), std::nullopt);
  EXPECT_EQ(ParseDuration("2 s"), std::nullopt);
  EXPECT_EQ(ParseDuration("2sec"), std::nullopt);
  EXPECT_EQ(ParseDuration("-2s"), std::nullopt);
  EXPECT_EQ(ParseDuration("0.0001s"), std::nullopt);
  EXPECT_EQ(ParseDuration("s"), std::nullopt);
  EXPECT_EQ(ParseDuration("99999999999999999999s"), std::nullopt);
}

TEST(ParseDuration, RefusesANumberThatOverflowsOnlyOnceMultipliedByItsUnit) {
  // Each number is below the digit limit; times a day's milliseconds it is not.
  EXPECT_EQ(ParseDuration("9007199254740992d"), std::nullopt);
  EXPECT_EQ(ParseDuration("200000000000000h"), std::nullopt);
  EXPECT_EQ(ParseDuration("104249992d"), std::nullopt);
  EXPECT_EQ(ParseDuration("104249991d"), milliseconds(int64_t{104249991} * 86400000));
}

TEST(FormatDuration, SpellsTheShortestExactForm) {
  EXPECT_EQ(FormatDuration(milliseconds(2000)), "2s");
  EXPECT_EQ(FormatDuration(milliseconds(250)), "250ms");
  EXPECT_EQ(FormatDuration(seconds(90)), "1m30s");
  EXPECT_EQ(FormatDuration(milliseconds(0)), "0s");
}

TEST(Time, ArithmeticWithDurations) {
  const Time start = Time::FromMilliseconds(1000);

  const Time later = start + seconds(2);

  EXPECT_EQ(later.milliseconds(), 3000);
  EXPECT_EQ(later - start, milliseconds(2000));
  EXPECT_LT(start, later);
}

}  // namespace
}  // namespace cmcl
