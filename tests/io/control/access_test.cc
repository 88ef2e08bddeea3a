// Access: the role rules (RoleOf, Allows, Describe) on identities built by hand, and
// Resolve() against this machine's user database for two accounts every Debian has.
#include "cmcld/io/control/access.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace cmcl::io {
namespace {

using cmcl::config::AccessRole;
using cmcl::config::AccessRule;
using ::testing::Contains;

AccessRule UserRule(const std::string& user, AccessRole role) {
  return AccessRule{.user = user, .group = std::nullopt, .role = role, .where = {}};
}

AccessRule GroupRule(const std::string& group, AccessRole role) {
  return AccessRule{.user = std::nullopt, .group = group, .role = role, .where = {}};
}

CallerIdentity Caller(int64_t uid, const std::string& user, std::vector<std::string> groups) {
  return CallerIdentity{.uid = uid, .gid = uid, .user = user, .groups = std::move(groups)};
}

const std::vector<AccessRule> kRules = {
    GroupRule("cmview", AccessRole::kMonitor),
    UserRule("alice", AccessRole::kPackageAdmin),
    GroupRule("cmops", AccessRole::kPackageAdmin),
    UserRule("bob", AccessRole::kMonitor),
    GroupRule("wheel", AccessRole::kFullAdmin),
};

struct RoleCase {
  const char* why;
  CallerIdentity caller;
  std::optional<AccessRole> expected;
};

TEST(AccessRoleOf, MatchesUsersAndGroupsAndTheHighestRoleWins) {
  const std::vector<RoleCase> cases = {
      {"root with no rule at all", Caller(0, "root", {"root"}), AccessRole::kFullAdmin},
      {"uid 0 even without a name", Caller(0, "", {}), AccessRole::kFullAdmin},
      {"a user rule", Caller(1000, "alice", {"users"}), AccessRole::kPackageAdmin},
      {"a group rule", Caller(1001, "carol", {"users", "cmview"}), AccessRole::kMonitor},
      {"user monitor, group package_admin", Caller(1002, "bob", {"cmops"}),
       AccessRole::kPackageAdmin},
      {"monitor and full_admin groups", Caller(1003, "dave", {"cmview", "wheel"}),
       AccessRole::kFullAdmin},
      {"a user rule does not match a group of that name", Caller(1004, "erin", {"alice"}),
       std::nullopt},
      {"a group rule does not match a user of that name", Caller(1005, "cmops", {"users"}),
       std::nullopt},
      {"names match exactly", Caller(1006, "Alice", {"cmview2"}), std::nullopt},
      {"nobody listed", Caller(65534, "nobody", {"nogroup"}), std::nullopt},
      {"a uid without a name", Caller(4242, "", {}), std::nullopt},
  };

  for (const RoleCase& each : cases) {
    EXPECT_EQ(RoleOf(each.caller, kRules), each.expected) << each.why;
  }
}

TEST(AccessRoleOf, AnEmptyAccessListRefusesEveryoneButRoot) {
  const std::vector<AccessRule> none;

  EXPECT_EQ(RoleOf(Caller(1000, "alice", {"wheel"}), none), std::nullopt);
  EXPECT_EQ(RoleOf(Caller(0, "root", {"root"}), none), AccessRole::kFullAdmin);
}

TEST(AccessRoleOf, ARuleNamingRootByNameMatchesANonZeroUidCalledRoot) {
  // Only uid 0 is root by right; another uid of that name gets what the rules say.
  const std::vector<AccessRule> rules = {UserRule("root", AccessRole::kMonitor)};

  EXPECT_EQ(RoleOf(Caller(77, "root", {}), rules), AccessRole::kMonitor);
}

TEST(AccessAllows, EachRoleGetsItsOwnPermissionsAndThoseBelow) {
  struct Case {
    std::optional<AccessRole> role;
    Permission needed;
    bool allowed;
  };
  const std::vector<Case> cases = {
      {std::nullopt, Permission::kRead, false},
      {std::nullopt, Permission::kPackageAdmin, false},
      {std::nullopt, Permission::kFullAdmin, false},
      {AccessRole::kMonitor, Permission::kRead, true},
      {AccessRole::kMonitor, Permission::kPackageAdmin, false},
      {AccessRole::kMonitor, Permission::kFullAdmin, false},
      {AccessRole::kPackageAdmin, Permission::kRead, true},
      {AccessRole::kPackageAdmin, Permission::kPackageAdmin, true},
      {AccessRole::kPackageAdmin, Permission::kFullAdmin, false},
      {AccessRole::kFullAdmin, Permission::kRead, true},
      {AccessRole::kFullAdmin, Permission::kPackageAdmin, true},
      {AccessRole::kFullAdmin, Permission::kFullAdmin, true},
  };

  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(Allows(cases[i].role, cases[i].needed), cases[i].allowed) << "case " << i;
  }
}

TEST(AccessDescribe, NamesTheUserOrElseTheUidAndTheNode) {
  const NodeName node("node1");

  EXPECT_EQ(Describe(Caller(0, "root", {}), node), "root@node1");
  EXPECT_EQ(Describe(Caller(1000, "alice", {}), node), "alice@node1");
  EXPECT_EQ(Describe(Caller(1000, "", {}), node), "uid 1000@node1");
}

TEST(AccessResolve, FindsRootAndItsGroup) {
  const CallerIdentity root = Resolve(0, 0);

  EXPECT_EQ(root.uid, 0);
  EXPECT_EQ(root.user, "root");
  EXPECT_THAT(root.groups, Contains("root"));
  EXPECT_EQ(RoleOf(root, {}), AccessRole::kFullAdmin);
}

TEST(AccessResolve, FindsNobodyInNogroupAndTheRulesRefuseIt) {
  const CallerIdentity nobody = Resolve(65534, 65534);

  EXPECT_EQ(nobody.user, "nobody");
  EXPECT_THAT(nobody.groups, Contains("nogroup"));
  EXPECT_EQ(RoleOf(nobody, kRules), std::nullopt);
  EXPECT_EQ(RoleOf(nobody, {GroupRule("nogroup", AccessRole::kMonitor)}),
            AccessRole::kMonitor);
}

TEST(AccessResolve, AddsTheCallersOwnGidEvenWhenItIsNotTheUsersPrimaryGroup) {
  // SO_PEERCRED reports the effective gid, which newgrp or a setgid program can change.
  const CallerIdentity nobody_as_root_group = Resolve(65534, 0);

  EXPECT_EQ(nobody_as_root_group.user, "nobody");
  EXPECT_THAT(nobody_as_root_group.groups, Contains("root"));
  EXPECT_THAT(nobody_as_root_group.groups, Contains("nogroup"));
}

TEST(AccessResolve, AUidWithoutANameHasNoUserAndIsDescribedByNumber) {
  // 4000000000 is far above any allocated uid range on a test machine.
  const CallerIdentity unknown = Resolve(4000000000, 4000000000);

  EXPECT_EQ(unknown.user, "");
  EXPECT_TRUE(unknown.groups.empty());
  EXPECT_EQ(Describe(unknown, NodeName("n1")), "uid 4000000000@n1");
  EXPECT_EQ(RoleOf(unknown, kRules), std::nullopt);
}

TEST(AccessResolve, AnImpossibleUidResolvesToNothing) {
  const CallerIdentity bad = Resolve(-1, -1);

  EXPECT_EQ(bad.user, "");
  EXPECT_TRUE(bad.groups.empty());
}

}  // namespace
}  // namespace cmcl::io
