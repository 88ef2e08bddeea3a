#include "cmcld/core/common/names.h"

#include <gtest/gtest.h>

namespace cmcl {
namespace {

TEST(IsValidName, FollowsTheNameRule) {
  EXPECT_TRUE(IsValidName("hpvm1"));
  EXPECT_TRUE(IsValidName("ivmcl01.site-a_2"));
  EXPECT_TRUE(IsValidName(std::string(39, 'a')));

  EXPECT_FALSE(IsValidName(""));
  EXPECT_FALSE(IsValidName(std::string(40, 'a')));
  EXPECT_FALSE(IsValidName("-leading-dash"));
  EXPECT_FALSE(IsValidName(".hidden"));
  EXPECT_FALSE(IsValidName("has space"));
  EXPECT_FALSE(IsValidName("slash/inside"));
}

TEST(ClosestMatch, SuggestsPlausibleTyposOnly) {
  const std::vector<std::string> keys = {"heartbeat_interval", "node_timeout", "fence_timeout"};

  EXPECT_EQ(ClosestMatch("heartbeat_intervall", keys), "heartbeat_interval");
  EXPECT_EQ(ClosestMatch("node_timout", keys), "node_timeout");
  EXPECT_EQ(ClosestMatch("completely_different", keys), "");
}

TEST(EditDistance, CountsInsertDeleteSubstitute) {
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3u);
  EXPECT_EQ(EditDistance("", "abc"), 3u);
  EXPECT_EQ(EditDistance("same", "same"), 0u);
}

}  // namespace
}  // namespace cmcl
