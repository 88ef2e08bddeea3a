#include "cmcld/core/config/validate.h"

#include <algorithm>
#include <set>
#include <utility>

#include "cmcld/core/common/names.h"

namespace cmcl::config {
namespace {

using Diagnostics = std::vector<Diagnostic>;

void Error(Diagnostics& out, const SourceLocation& where, std::string message) {
  out.push_back({where, Severity::kError, std::move(message)});
}

std::string Quote(std::string_view text) { return "\"" + std::string(text) + "\""; }

std::string Where(const SourceLocation& where) {
  return where.file + ":" + std::to_string(where.line);
}

std::string OctalMode(uint32_t mode) {
  std::string text;
  for (int shift = 9; shift >= 0; shift -= 3) {
    text += static_cast<char>('0' + ((mode >> shift) & 7u));
  }
  return text;
}

void CheckName(Diagnostics& out, const SourceLocation& where, std::string_view what,
               const std::string& name) {
  // An empty name is missing or malformed, which io/ reported where it found it.
  if (name.empty() || IsValidName(name)) return;
  Error(out, where,
        std::string(what) + " " + Quote(name) +
            " breaks the name rule; expected 1 to 39 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit");
}

void CheckPositive(Diagnostics& out, const KeyLocations& where, const char* key, Duration value) {
  if (value.count() > 0) return;
  Error(out, where.Of(key), std::string(key) + ": must be longer than 0s");
}

// DESIGN.md section 4, parameter rules. Each message shows the arithmetic.
void ValidateTiming(const ClusterConfig& config, Diagnostics& out) {
  const KeyLocations& at = config.where;
  CheckPositive(out, at, "node_timeout", config.node_timeout);
  if (at.keys.count("heartbeat_interval") != 0) {
    CheckPositive(out, at, "heartbeat_interval", config.heartbeat_interval);
  } else if (config.heartbeat_interval.count() <= 0 && config.node_timeout.count() > 0) {
    // Not written: it is node_timeout/10, so the fix is there (or in writing it).
    Error(out, at.Of("node_timeout"),
          "heartbeat_interval (unset: node_timeout / 10) is " +
              FormatSeconds(config.heartbeat_interval) +
              "; expected a node_timeout of at least 10ms, or set heartbeat_interval");
  }
  CheckPositive(out, at, "fence_timeout", config.fence_timeout);
  CheckPositive(out, at, "watchdog_timeout", config.watchdog_timeout);
  CheckPositive(out, at, "disarm_max", config.disarm_max);
  CheckPositive(out, at, "monitor_interval", config.monitor_interval);
  CheckPositive(out, at, "inventory_probe_interval", config.inventory_probe_interval);
  const Duration node = config.node_timeout;
  const Duration heartbeat = config.heartbeat_interval;
  const Duration margin = std::chrono::milliseconds(300);
  if (heartbeat * 5 > node) {
    const auto& where =
        at.keys.count("heartbeat_interval") ? at.Of("heartbeat_interval") : at.Of("node_timeout");
    Error(out, where,
          "heartbeat_interval (" + FormatSeconds(heartbeat) + ") exceeds node_timeout / 5 (" +
              FormatSeconds(node / 5) +
              "); expected at most a fifth of node_timeout, so one lost heartbeat never "
              "costs a lease");
  }
  const Duration fence_total = config.fence_timeout + heartbeat * 3 + margin;
  if (fence_total > node) {
    const auto& where =
        at.keys.count("fence_timeout") ? at.Of("fence_timeout") : at.Of("node_timeout");
    Error(out, where,
          "fence_timeout (" + FormatSeconds(config.fence_timeout) + ") + 3 × heartbeat_interval (" +
              FormatSeconds(heartbeat * 3) + ") + 300ms = " + FormatSeconds(fence_total) +
              " exceeds node_timeout (" + FormatSeconds(node) +
              "); lower fence_timeout or heartbeat_interval, or raise node_timeout");
  }
  const Duration watchdog_total = config.watchdog_timeout + heartbeat * 2 + margin;
  if (config.fence_action == FenceAction::kReboot && watchdog_total > node) {
    const auto& where =
        at.keys.count("watchdog_timeout") ? at.Of("watchdog_timeout") : at.Of("fence_action");
    Error(out, where,
          "fence_action reboot: watchdog_timeout (" + FormatSeconds(config.watchdog_timeout) +
              ") + 2 × heartbeat_interval (" + FormatSeconds(heartbeat * 2) + ") + 300ms = " +
              FormatSeconds(watchdog_total) + " exceeds node_timeout (" + FormatSeconds(node) +
              "); lower watchdog_timeout or heartbeat_interval, or raise node_timeout");
  }
  if (config.clock_drift_max.parts_per_million() >= 1000000) {
    Error(out, at.Of("clock_drift_max"),
          "clock_drift_max: " + config.clock_drift_max.ToString() +
              " leaves no lease at all; expected well below 100%, e.g. 0.1%");
  }
}

void ValidateNodeAddresses(const ClusterConfig& config, Diagnostics& out) {
  std::map<SocketAddress, const NodeSpec*> owners;
  for (const NodeSpec& node : config.nodes) {
    for (size_t i = 0; i < node.addresses.size(); ++i) {
      const auto [it, inserted] = owners.emplace(node.addresses[i], &node);
      if (inserted) continue;
      const SourceLocation& where = node.where.Of("addresses[" + std::to_string(i) + "]");
      const std::string owner = it->second == &node ? "this node" : it->second->name.value();
      Error(out, where,
            "address " + node.addresses[i].ToString() + " of node " + node.name.value() +
                " is already used by " + owner +
                "; expected one address per heartbeat "
                "network and node");
    }
  }
  if (config.metrics_address && owners.count(*config.metrics_address) != 0) {
    Error(out, config.where.Of("metrics_address"),
          "metrics_address " + config.metrics_address->ToString() +
              " is also a node address; expected a port of its own");
  }
  // A node's own metrics_address (it overrides the cluster's): not a heartbeat address,
  // and not another node's metrics_address (equal IP:PORT means one host, one port).
  std::map<SocketAddress, const NodeSpec*> metrics_owners;
  for (const NodeSpec& node : config.nodes) {
    if (!node.metrics_address) continue;
    const SourceLocation& where = node.where.Of("metrics_address");
    if (owners.count(*node.metrics_address) != 0) {
      Error(out, where,
            "metrics_address " + node.metrics_address->ToString() + " of node " +
                node.name.value() + " is also a node address; expected a port of its own");
      continue;
    }
    const auto [it, inserted] = metrics_owners.emplace(*node.metrics_address, &node);
    if (!inserted) {
      Error(out, where,
            "metrics_address " + node.metrics_address->ToString() + " of node " +
                node.name.value() + " is already the metrics_address of " +
                it->second->name.value() + "; expected a port of its own");
    }
  }
}

void ValidateNodes(const ClusterConfig& config, Diagnostics& out) {
  CheckName(out, config.where.Of("cluster_name"), "cluster_name", config.cluster_name.value());
  std::map<std::string, const NodeSpec*> seen;
  for (const NodeSpec& node : config.nodes) {
    CheckName(out, node.where.Of("name"), "node name", node.name.value());
    if (node.name.value().empty()) continue;  // Missing: reported by io/.
    const auto [it, inserted] = seen.emplace(node.name.value(), &node);
    if (!inserted) {
      Error(out, node.where.Of("name"),
            "node name " + Quote(node.name.value()) + " is used twice (first at " +
                Where(it->second->where.Of("name")) + "); expected unique node names");
    }
  }
  ValidateNodeAddresses(config, out);
  if (config.nodes.empty()) return;  // io/ reported the missing or empty list.
  size_t members = 0;
  size_t arbitrators = 0;
  for (const NodeSpec& node : config.nodes) {
    (node.role == NodeRole::kMember ? members : arbitrators) += 1;
  }
  if (members == 0) {
    Error(out, config.where.Of("nodes"),
          "nodes: no node has role member; expected at least one member to run packages");
  }
  if (members == 2 && arbitrators == 0 && !config.allow_two_node_without_arbitrator) {
    Error(out, config.where.Of("nodes"),
          "nodes: a cluster of two members needs a third vote; add a node with role "
          "arbitrator, or set allow_two_node_without_arbitrator: true (then losing either "
          "member stops the other)");
  }
}

void ValidateKeyFile(const ClusterConfig& config, const ConfigFacts& facts, Diagnostics& out) {
  const std::string& path = config.security.key_file;
  const auto it = facts.files.find(path);
  if (path.empty() || it == facts.files.end()) return;
  const FileFacts& file = it->second;
  const SourceLocation& where = config.security.where.Of("key_file");
  const std::string make = "head -c 32 /dev/urandom > " + path + "; chmod 600 " + path;
  if (!file.exists) {
    Error(out, where, "key_file: " + path + " does not exist; create it: " + make);
    return;
  }
  if (!file.regular) {
    Error(out, where, "key_file: " + path + " is not a regular file; create it: " + make);
    return;
  }
  if (file.size < kKeyFileSizeMin) {
    Error(out, where,
          "key_file: " + path + " holds " + std::to_string(file.size) +
              " bytes; expected at least 32 random bytes: " + make);
  }
  if ((file.mode & 077u) != 0) {
    Error(out, where,
          "key_file: " + path + " is open to group or others (mode " + OctalMode(file.mode) +
              "); expected mode 0600: chmod 600 " + path);
  }
}

void ValidateSecurity(const ClusterConfig& config, const ConfigFacts& facts, Diagnostics& out) {
  ValidateKeyFile(config, facts, out);
  const Security& security = config.security;
  const int tls_parts = int{security.tls_ca.has_value()} + int{security.tls_cert.has_value()} +
                        int{security.tls_key.has_value()};
  if (tls_parts != 0 && tls_parts != 3) {
    Error(out, security.where.self,
          "security: ca, cert and key configure mutual TLS together; expected all three or "
          "none");
  }
  for (const auto& [key, path] :
       {std::pair{"ca", &security.tls_ca}, std::pair{"cert", &security.tls_cert},
        std::pair{"key", &security.tls_key}}) {
    if (!path->has_value()) continue;
    const auto it = facts.files.find(**path);
    if (it != facts.files.end() && !it->second.exists) {
      Error(out, security.where.Of(key),
            std::string(key) + ": " + **path + " does not exist; expected a PEM file");
    }
  }
  for (const AccessRule& rule : config.access) {
    if (rule.user.has_value() == rule.group.has_value()) {
      Error(out, rule.where.self, "access rule: expected exactly one of user and group");
    }
  }
}

}  // namespace

std::string ResolvePath(std::string_view base_dir, std::string_view path) {
  if (!path.empty() && path.front() == '/') return std::string(path);
  std::string joined(base_dir);
  if (!joined.empty() && joined.back() != '/') joined += '/';
  return joined + std::string(path);
}

std::string ServiceExecutable(const PackageSpec& package, const Service& service) {
  const size_t start = service.command.find_first_not_of(" \t");
  if (start == std::string::npos) return std::string();
  const size_t end = service.command.find_first_of(" \t", start);
  const std::string word = service.command.substr(start, end - start);
  if (word.find('/') == std::string::npos) return std::string();
  return ResolvePath(package.folder, word);
}

std::string FormatSeconds(Duration duration) {
  const int64_t ms = duration.count();
  if (ms < 1000 && ms > -1000) return std::to_string(ms) + "ms";
  std::string text = std::to_string(ms / 1000);
  int64_t fraction = (ms < 0 ? -ms : ms) % 1000;
  if (fraction != 0) {
    std::string digits = std::to_string(fraction);
    digits.insert(0, 3 - digits.size(), '0');
    while (digits.back() == '0') digits.pop_back();
    text += "." + digits;
  }
  return text + "s";
}

void ValidatePackages(const ClusterConfig& config, const ConfigFacts& facts, Diagnostics& out);

std::vector<Diagnostic> ValidateConfig(const ClusterConfig& config, const ConfigFacts& facts) {
  Diagnostics out;
  ValidateTiming(config, out);
  ValidateNodes(config, out);
  ValidateSecurity(config, facts, out);
  ValidatePackages(config, facts, out);
  SortDiagnostics(out);
  return out;
}

}  // namespace cmcl::config
