// The checks of a proposed configuration version (bundle_check.h).
#include "cmcld/io/bundle/bundle_check.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <functional>
#include <system_error>
#include <utility>

namespace cmcl::io {
namespace {

namespace fs = std::filesystem;
using cmcl::config::ClusterConfig;
using cmcl::config::NodeRole;
using cmcl::config::NodeSpec;

std::string RoleName(NodeRole role) {
  return role == NodeRole::kMember ? "member" : "arbitrator";
}

std::string Addresses(const NodeSpec& node) {
  std::string text;
  for (const SocketAddress& address : node.addresses) {
    text += (text.empty() ? "" : ", ") + address.ToString();
  }
  return "[" + text + "]";
}

std::string NotSupported(const std::string& what) {
  return what + " is not supported by config apply in this version";
}

// The voters: same names, same roles. The first difference, in name order.
std::optional<std::string> VoterChange(const ClusterConfig& applied, const ClusterConfig& next) {
  std::map<std::string, NodeRole> before;
  std::map<std::string, NodeRole> after;
  for (const NodeSpec& node : applied.nodes) before[node.name.value()] = node.role;
  for (const NodeSpec& node : next.nodes) after[node.name.value()] = node.role;
  const std::string what = "adding, removing or changing the role of a node is not supported in "
                           "this version";
  for (const auto& [name, role] : after) {
    const auto it = before.find(name);
    if (it == before.end()) return what + " (node " + name + " added)";
    if (it->second != role) {
      return what + " (node " + name + ": " + RoleName(it->second) + " to " + RoleName(role) + ")";
    }
  }
  for (const auto& [name, role] : before) {
    if (!after.contains(name)) return what + " (node " + name + " removed)";
  }
  for (const NodeSpec& node : next.nodes) {
    const NodeSpec* old = applied.FindNode(node.name);
    if (old != nullptr && old->addresses != node.addresses) {
      return NotSupported("changing a node's addresses") + " (node " + node.name.value() + ": " +
             Addresses(*old) + " to " + Addresses(node) + "); cmcld reads them at start";
    }
  }
  return std::nullopt;
}

// A setting a running cmcld reads only at start: "name (old to new)".
struct Fixed {
  const char* name;
  std::function<std::string(const ClusterConfig&)> value;
};

const std::vector<Fixed>& FixedSettings() {
  static const std::vector<Fixed> settings = {
      {"node_timeout", [](const ClusterConfig& c) { return FormatDuration(c.node_timeout); }},
      {"heartbeat_interval",
       [](const ClusterConfig& c) { return FormatDuration(c.heartbeat_interval); }},
      {"fence_timeout", [](const ClusterConfig& c) { return FormatDuration(c.fence_timeout); }},
      {"fence_action",
       [](const ClusterConfig& c) {
         return std::string(c.fence_action == config::FenceAction::kKill ? "kill" : "reboot");
       }},
      {"clock_drift_max", [](const ClusterConfig& c) { return c.clock_drift_max.ToString(); }},
      {"disarm_max", [](const ClusterConfig& c) { return FormatDuration(c.disarm_max); }},
      {"driver_dir", [](const ClusterConfig& c) { return c.driver_dir; }},
      {"watchdog_device", [](const ClusterConfig& c) { return c.watchdog_device; }},
      {"watchdog_timeout",
       [](const ClusterConfig& c) { return FormatDuration(c.watchdog_timeout); }},
  };
  return settings;
}

bool Executable(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode) &&
         ::access(path.c_str(), X_OK) == 0;
}

bool MayStillRun(node::PackageStatus status) {
  switch (status) {
    case node::PackageStatus::kStarting:
    case node::PackageStatus::kUp:
    case node::PackageStatus::kHalting:
    case node::PackageStatus::kHaltFailed:
      return true;
    case node::PackageStatus::kDown:
    case node::PackageStatus::kFailed:
      return false;
  }
  return false;
}

}  // namespace

Result<Candidate> OpenCandidate(std::string_view bytes, const std::string& state_dir,
                                const std::string& key_file) {
  if (bytes.size() > kBundleBytesMax) {
    return Status::InvalidArgument("the bundle has " + std::to_string(bytes.size()) +
                                   " bytes, more than the " + std::to_string(kBundleBytesMax) +
                                   " a configuration may have");
  }
  Result<Bundle> bundle = DecodeBundle(bytes);
  if (!bundle.ok()) {
    return Status::InvalidArgument("the bundle does not decode: " + bundle.status().message());
  }
  Candidate candidate{.hash = BundleHash(bytes), .bundle = std::move(bundle).value(), .config = {}};
  // MaterializeBundle writes config/vN; the scratch copy is "version" incoming-HASH, made
  // by hand with the same writer: a folder under config/ that no version number names.
  // A name of its own: the control API and the runtime may check the same bundle at once
  // (on different threads).
  static std::atomic<uint64_t> serial{0};
  const std::string name = "incoming-" + candidate.hash + "-" + std::to_string(::getpid()) +
                           "-" + std::to_string(++serial);
  const fs::path scratch = fs::path(state_dir) / "config" / name;
  const fs::path staging = fs::path(state_dir) / "config" / (name + ".staging");
  std::error_code error;
  fs::remove_all(scratch, error);
  fs::remove_all(staging, error);
  Result<std::string> written = MaterializeBundle(candidate.bundle, 0, staging.string());
  if (!written.ok()) {
    fs::remove_all(staging, error);
    return Status::FailedPrecondition("cannot write the proposed bundle: " +
                                      written.status().message());
  }
  fs::create_directories(scratch.parent_path(), error);
  fs::rename(*written, scratch, error);
  fs::remove_all(staging, error);
  if (error) {
    return Status::FailedPrecondition("cannot write the proposed bundle to " + scratch.string() +
                                      ": " + error.message());
  }
  Result<cmcl::config::ClusterConfig> loaded = LoadBundleConfig(scratch.string(), key_file);
  fs::remove_all(scratch, error);
  if (!loaded.ok()) {
    return Status::InvalidArgument("the proposed configuration is not valid: " +
                                   loaded.status().message());
  }
  candidate.config = std::move(loaded).value();
  return candidate;
}

std::optional<std::string> FixedSettingChange(const ClusterConfig& applied,
                                              const ClusterConfig& next) {
  if (applied.cluster_name != next.cluster_name) {
    return NotSupported("renaming the cluster") + " (" + applied.cluster_name.value() + " to " +
           next.cluster_name.value() + ")";
  }
  if (std::optional<std::string> voters = VoterChange(applied, next)) return voters;
  for (const Fixed& setting : FixedSettings()) {
    const std::string before = setting.value(applied);
    const std::string after = setting.value(next);
    if (before != after) {
      return NotSupported(std::string("changing ") + setting.name) + " (" + before + " to " +
             after + "); every cmcld reads it at start";
    }
  }
  return std::nullopt;
}

std::optional<std::string> MissingDriver(const ClusterConfig& next) {
  for (const config::PackageSpec& package : next.packages) {
    if (!package.driver) continue;
    const std::string path = (fs::path(next.driver_dir) / *package.driver).string();
    if (!Executable(path)) {
      return "driver " + *package.driver + " of package " + package.name.value() +
             " not found in " + next.driver_dir + " (or not executable)";
    }
  }
  return std::nullopt;
}

std::optional<std::string> VerdictRefusal(const ClusterConfig& applied, const ClusterConfig& next,
                                          const NodeName& self) {
  if (std::optional<std::string> fixed = FixedSettingChange(applied, next)) return fixed;
  const NodeSpec* node = next.FindNode(self);
  if (node == nullptr || node->role != NodeRole::kMember) return std::nullopt;
  return MissingDriver(next);
}

std::string JudgeProposal(std::string_view bytes, const std::string& hash,
                          const ClusterConfig& applied, const NodeName& self,
                          const std::string& state_dir, const std::string& key_file) {
  const std::string actual = BundleHash(bytes);
  if (actual != hash) {
    return "the proposed bundle hashes to " + actual + ", not to the announced " + hash;
  }
  Result<Candidate> candidate = OpenCandidate(bytes, state_dir, key_file);
  if (!candidate.ok()) return candidate.status().message();
  return VerdictRefusal(applied, candidate->config, self).value_or("");
}

std::optional<std::string> StrandedPackage(const node::ClusterState& state,
                                           const ClusterConfig& next) {
  for (const auto& [package, assignment] : state.assignments()) {
    const node::PackageStatus status = state.StatusOf(package);
    if (!assignment.owner || !MayStillRun(status)) continue;
    const std::string where = "package " + package.value() + " is " +
                              std::string(node::PackageStatusName(status)) + " on " +
                              assignment.owner->value();
    const std::string first = status == node::PackageStatus::kHaltFailed
                                  ? "; it may still run: make sure it is stopped and clear it "
                                    "(pkgctl clear) first"
                                  : "; halt it first";
    const config::PackageSpec* spec = next.FindPackage(package);
    if (spec == nullptr) return where + " and is not in the new version" + first;
    if (std::find(spec->nodes.begin(), spec->nodes.end(), *assignment.owner) ==
        spec->nodes.end()) {
      return where + ", which is not in its node list in the new version" + first;
    }
  }
  return std::nullopt;
}

std::map<PackageName, std::vector<NodeName>> PackageNodes(const ClusterConfig& next) {
  std::map<PackageName, std::vector<NodeName>> packages;
  for (const config::PackageSpec& package : next.packages) {
    packages[package.name] = package.nodes;
  }
  return packages;
}

}  // namespace cmcl::io
