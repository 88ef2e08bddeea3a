// Access: who may do what through pkgctl (DESIGN.md section 9; INTERFACE.md, the
// cluster file's `access` list). The control socket identifies a caller by SO_PEERCRED
// (uid, gid); Resolve() turns that into a user name and groups with the system's user
// database, and RoleOf() matches them against the access rules.
//
// Rules (INTERFACE.md): monitor = read-only (view, check, readiness, events, config
// show); package_admin = also run, halt, move, enable, disable, clear; full_admin =
// everything, including config apply, node and cluster commands. root (uid 0) is always
// full_admin. A caller matching several rules gets the highest of their roles. Anyone
// not listed is refused everything, reading included.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cmcld/core/config/cluster_config.h"

namespace cmcl::io {

struct CallerIdentity {
  int64_t uid = -1;
  int64_t gid = -1;
  std::string user;                 // "" when the uid has no name.
  std::vector<std::string> groups;  // Names of the primary and supplementary groups.
};

// The user name and every group of uid/gid (getpwuid_r, getgrouplist, getgrgid_r).
CallerIdentity Resolve(int64_t uid, int64_t gid);

// The caller's role under `rules`; nullopt when no rule names it (and it is not root).
std::optional<cmcl::config::AccessRole> RoleOf(const CallerIdentity& caller,
                                               const std::vector<cmcl::config::AccessRule>& rules);

// What a command needs.
enum class Permission { kRead, kPackageAdmin, kFullAdmin };
bool Allows(std::optional<cmcl::config::AccessRole> role, Permission needed);

// For `by` in the events and logs: "root@node1", "alice@node1", "uid 1000@node1".
std::string Describe(const CallerIdentity& caller, const NodeName& node);

}  // namespace cmcl::io
