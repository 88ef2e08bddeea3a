// The typed configuration model: the cluster file and the package files of
// INTERFACE.md, as immutable plain values.
//
// io/config builds these from YAML (the only yaml-cpp user); config/validate.h checks
// them purely. Every struct remembers where in which file each of its keys was
// written, so a semantic error found later still points at FILE:LINE:COLUMN.
// Defaults are those of INTERFACE.md's key tables.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cmcld/core/common/names.h"
#include "cmcld/core/common/time.h"
#include "cmcld/core/common/units.h"
#include "cmcld/core/inventory/inventory.h"

namespace cmcl::config {

struct SourceLocation {
  std::string file;
  int line = 0;    // 1-based; 0 = the whole file.
  int column = 0;  // 1-based; 0 = the whole line.
  friend auto operator<=>(const SourceLocation&, const SourceLocation&) = default;
};

// Where each key of one mapping was written, and where the mapping itself starts.
// keys["k"] is where the value of key k starts (the key itself when the value is
// empty); keys["k[i]"] is where element i of k's list starts.
struct KeyLocations {
  SourceLocation self;
  std::map<std::string, SourceLocation> keys;
  // The key's location, else the mapping's own.
  const SourceLocation& Of(const std::string& key) const {
    const auto it = keys.find(key);
    return it == keys.end() ? self : it->second;
  }
};

// ---- packages -------------------------------------------------------------------

enum class FailoverPolicy { kConfiguredNode, kMinPackageNode };
enum class FailbackPolicy { kManual, kAutomatic };
enum class ShutdownPolicy { kMigrate, kHalt };
enum class StorageType { kDisk, kLvol, kFile };
enum class DeviceType { kDvd, kCdrom, kOther };
enum class DependencyCondition { kUp };
enum class DependencyLocation { kSameNode, kAnyNode };

struct GuestStorage {
  std::string path;
  StorageType type = StorageType::kDisk;
  std::optional<Wwid> wwid;  // Pinned WWID: used when no source inventory exists.
  bool shared = false;       // Both packages mark it shared: may be used by both.
  KeyLocations where;
};

struct GuestNetwork {
  std::string vswitch;
  std::optional<std::string> nic;  // Pinned NIC: used when no source inventory exists.
  KeyLocations where;
};

struct GuestDevice {
  std::string path;
  DeviceType type = DeviceType::kOther;
  KeyLocations where;
};

struct GuestSpec {
  uint32_t vcpus = 1;
  ByteSize memory = ByteSize::FromMebibytes(1024);
  std::string label;
  std::vector<GuestStorage> storage;
  std::vector<GuestNetwork> networks;
  std::vector<GuestDevice> devices;
  KeyLocations where;
};

struct Service {
  std::string name;
  std::string command;  // Relative to the package folder, or absolute.
  uint32_t max_restarts = 0;
  KeyLocations where;
};

struct Dependency {
  PackageName package;
  DependencyCondition condition = DependencyCondition::kUp;
  DependencyLocation location = DependencyLocation::kAnyNode;
  KeyLocations where;
};

struct PackageSpec {
  PackageName name;
  std::string folder;  // Absolute path of the package folder.
  std::string file;    // Absolute path of its package.yaml.
  std::vector<NodeName> nodes;  // Preference order; resolved: "*" = every member.
  bool all_nodes = false;       // Written as ["*"].
  bool auto_run = true;
  FailoverPolicy failover_policy = FailoverPolicy::kConfiguredNode;
  FailbackPolicy failback_policy = FailbackPolicy::kManual;
  std::optional<std::string> driver;  // Name in driver_dir.
  std::string run_script;             // Relative to the folder, as written.
  std::string halt_script;
  Duration run_timeout = std::chrono::seconds(60);
  Duration halt_timeout = std::chrono::seconds(60);
  Duration kill_timeout = std::chrono::seconds(10);
  uint32_t max_restarts = 0;
  std::optional<uint32_t> max_relocations;  // Default: the number of nodes.
  bool node_fail_fast_enabled = false;
  bool service_fail_fast_enabled = false;
  std::optional<ShutdownPolicy> shutdown_policy;  // Default: the cluster's.
  std::optional<uint32_t> priority;               // Lower number = higher priority.
  // Issue 10: when no node can take it automatically, halt running packages of strictly
  // lower priority to make room (coordinator.h, "Priority displacement").
  bool displace_lower_priority = false;
  std::vector<Dependency> depends_on;
  GuestSpec guest;
  std::vector<Service> services;
  KeyLocations where;
};

// ---- cluster --------------------------------------------------------------------

enum class NodeRole { kMember, kArbitrator };
enum class FenceAction { kKill, kReboot };
enum class AccessRole { kMonitor, kPackageAdmin, kFullAdmin };

// Where a node's inventory comes from.
enum class InventorySource { kNone, kInline, kFile, kProbe };

struct NodeSpec {
  NodeName name;
  std::vector<SocketAddress> addresses;  // First = primary heartbeat network.
  NodeRole role = NodeRole::kMember;
  std::optional<inventory::Capacity> capacity;
  InventorySource inventory_source = InventorySource::kNone;
  std::string inventory_file;  // Absolute path, for kFile.
  // For kInline and kFile: the inventory as read (capacity merged in from
  // `capacity`). For kProbe: empty until the node probes.
  inventory::NodeInventory inventory;
  std::string state_dir = "/var/lib/cmcld";
  // Overrides the cluster's metrics_address for this node (several daemons on one host
  // need a port each). MetricsAddressOf gives the one in effect.
  std::optional<SocketAddress> metrics_address;
  KeyLocations where;
};

struct AccessRule {
  std::optional<std::string> user;   // Exactly one of user and group.
  std::optional<std::string> group;
  AccessRole role = AccessRole::kMonitor;
  KeyLocations where;
};

struct Security {
  std::string key_file;  // Absolute path.
  std::optional<std::string> tls_ca;
  std::optional<std::string> tls_cert;
  std::optional<std::string> tls_key;
  KeyLocations where;
};

struct ClusterConfig {
  std::string file;  // Absolute path of the cluster file.
  ClusterName cluster_name;
  Duration node_timeout = std::chrono::seconds(2);
  Duration heartbeat_interval = std::chrono::milliseconds(200);  // node_timeout/10 if unset.
  Duration fence_timeout = std::chrono::milliseconds(300);
  FenceAction fence_action = FenceAction::kKill;
  std::string watchdog_device = "/dev/watchdog";
  Duration watchdog_timeout = std::chrono::seconds(1);
  Duration disarm_max = std::chrono::hours(4);
  std::string driver_dir = "/usr/lib/cmcl/drivers";
  Percentage clock_drift_max = Percentage::FromPartsPerMillion(1000);  // 0.1%
  Duration cluster_start_wait = std::chrono::seconds(60);
  // How often each running guest's driver `status` runs (read at daemon start). Each
  // call is a process; at 1 s, 500 guests kept two cores busy (tests/integration/load_test).
  Duration monitor_interval = std::chrono::seconds(5);
  // `inventory: probe` nodes re-probe their host this often while cmcld runs (issue 12);
  // a start re-probes as well, whatever the interval. A probe reads /sys, /dev and /proc
  // in about a millisecond (docs/DESIGN_CHANGES.md): 30 s keeps the readiness view and
  // placement close to the hardware at no measurable cost.
  Duration inventory_probe_interval = std::chrono::seconds(30);
  ShutdownPolicy shutdown_policy = ShutdownPolicy::kMigrate;
  bool allow_two_node_without_arbitrator = false;
  std::optional<SocketAddress> metrics_address;
  Security security;
  std::vector<AccessRule> access;
  std::vector<NodeSpec> nodes;
  std::vector<std::string> package_folders;  // Absolute paths, as listed.
  std::vector<std::string> package_folders_written;  // The same, as written in the file.
  std::vector<PackageSpec> packages;         // Loaded from package_folders, same order.
  KeyLocations where;

  const NodeSpec* FindNode(const NodeName& name) const;
  const PackageSpec* FindPackage(const PackageName& name) const;
  std::vector<NodeName> Members() const;  // Role member, in file order.
  // The metrics listener of `node`: its own metrics_address, else the cluster's; nullopt:
  // no metrics (also for a node not configured).
  std::optional<SocketAddress> MetricsAddressOf(const NodeName& node) const;
};

}  // namespace cmcl::config
