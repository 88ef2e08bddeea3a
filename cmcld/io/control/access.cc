// Access: user database lookups and the role rules of access.h.
#include "cmcld/io/control/access.h"

#include <grp.h>
#include <pwd.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace cmcl::io {
namespace {

using cmcl::config::AccessRole;
using cmcl::config::AccessRule;

// The buffer size sysconf suggests for the reentrant lookups, or a fallback when it has
// no opinion (glibc answers -1 for some NSS setups). The callers grow it on ERANGE.
size_t InitialBufferSize(int name) {
  const long suggested = sysconf(name);
  return suggested > 0 ? static_cast<size_t>(suggested) : size_t{1024};
}

// Ranges of uid_t/gid_t: a caller id outside them (or -1) names nobody.
bool FitsId(int64_t id) {
  return id >= 0 && static_cast<uint64_t>(id) < std::numeric_limits<uid_t>::max();
}

std::string UserName(uid_t uid, gid_t* primary_gid) {
  std::vector<char> buffer(InitialBufferSize(_SC_GETPW_R_SIZE_MAX));
  passwd entry{};
  passwd* found = nullptr;
  int error = 0;
  while ((error = getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found)) == ERANGE) {
    buffer.resize(buffer.size() * 2);
  }
  if (error != 0 || found == nullptr) {
    return "";
  }
  *primary_gid = found->pw_gid;
  return found->pw_name;
}

std::string GroupName(gid_t gid) {
  std::vector<char> buffer(InitialBufferSize(_SC_GETGR_R_SIZE_MAX));
  group entry{};
  group* found = nullptr;
  int error = 0;
  while ((error = getgrgid_r(gid, &entry, buffer.data(), buffer.size(), &found)) == ERANGE) {
    buffer.resize(buffer.size() * 2);
  }
  if (error != 0 || found == nullptr) {
    return "";
  }
  return found->gr_name;
}

// Every gid of `user`: the caller's own gid (from SO_PEERCRED, which may differ from the
// passwd entry's after newgrp or setgid), the passwd primary group and the memberships.
std::vector<gid_t> GroupIds(const std::string& user, gid_t caller_gid, gid_t passwd_gid) {
  std::vector<gid_t> gids = {caller_gid};
  if (!user.empty()) {
    int count = 16;
    std::vector<gid_t> listed(static_cast<size_t>(count));
    // On a too small list, getgrouplist returns -1 and sets count to the number needed;
    // the list only grows, so that a count that shrinks meanwhile cannot loop forever.
    while (getgrouplist(user.c_str(), passwd_gid, listed.data(), &count) == -1) {
      listed.resize(std::max(static_cast<size_t>(count), listed.size() * 2));
      count = static_cast<int>(listed.size());
    }
    listed.resize(static_cast<size_t>(count));
    gids.insert(gids.end(), listed.begin(), listed.end());
  }
  std::vector<gid_t> unique;
  for (const gid_t gid : gids) {
    if (std::find(unique.begin(), unique.end(), gid) == unique.end()) {
      unique.push_back(gid);
    }
  }
  return unique;
}

int Rank(AccessRole role) {
  switch (role) {
    case AccessRole::kMonitor:
      return 0;
    case AccessRole::kPackageAdmin:
      return 1;
    case AccessRole::kFullAdmin:
      return 2;
  }
  return -1;
}

bool Matches(const CallerIdentity& caller, const AccessRule& rule) {
  if (rule.user.has_value()) {
    return !caller.user.empty() && *rule.user == caller.user;
  }
  if (rule.group.has_value()) {
    return std::find(caller.groups.begin(), caller.groups.end(), *rule.group) !=
           caller.groups.end();
  }
  return false;
}

}  // namespace

CallerIdentity Resolve(int64_t uid, int64_t gid) {
  CallerIdentity identity{.uid = uid, .gid = gid, .user = "", .groups = {}};
  if (!FitsId(uid)) {
    return identity;
  }
  gid_t passwd_gid = FitsId(gid) ? static_cast<gid_t>(gid) : gid_t{0};
  identity.user = UserName(static_cast<uid_t>(uid), &passwd_gid);
  if (!FitsId(gid) && identity.user.empty()) {
    return identity;
  }
  const gid_t caller_gid = FitsId(gid) ? static_cast<gid_t>(gid) : passwd_gid;
  for (const gid_t each : GroupIds(identity.user, caller_gid, passwd_gid)) {
    std::string name = GroupName(each);
    // A gid without a name cannot match a rule (rules name groups), so it is left out.
    if (!name.empty()) {
      identity.groups.push_back(std::move(name));
    }
  }
  return identity;
}

std::optional<AccessRole> RoleOf(const CallerIdentity& caller,
                                 const std::vector<AccessRule>& rules) {
  if (caller.uid == 0) {
    return AccessRole::kFullAdmin;
  }
  std::optional<AccessRole> best;
  for (const AccessRule& rule : rules) {
    if (Matches(caller, rule) && (!best.has_value() || Rank(rule.role) > Rank(*best))) {
      best = rule.role;
    }
  }
  return best;
}

bool Allows(std::optional<AccessRole> role, Permission needed) {
  if (!role.has_value()) {
    return false;  // Not listed: refused everything, reading included.
  }
  switch (needed) {
    case Permission::kRead:
      return true;
    case Permission::kPackageAdmin:
      return Rank(*role) >= Rank(AccessRole::kPackageAdmin);
    case Permission::kFullAdmin:
      return *role == AccessRole::kFullAdmin;
  }
  return false;
}

std::string Describe(const CallerIdentity& caller, const NodeName& node) {
  const std::string who =
      caller.user.empty() ? "uid " + std::to_string(caller.uid) : caller.user;
  return who + "@" + node.value();
}

}  // namespace cmcl::io
