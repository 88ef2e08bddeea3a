#include <filesystem>
#include <map>

#include "cmcld/core/config/validate.h"
#include "cmcld/io/config/parse.h"

namespace cmcl::io::config {
namespace {

namespace fs = std::filesystem;
using namespace cmcl::config;  // NOLINT: the config model's many types.

std::string Dir(const std::string& file) { return fs::path(file).parent_path().string(); }

// Each entry of a list, once per value: a second one is reported where it is written.
void CheckUnique(YamlFile& file, std::map<std::string, int>& seen, const std::string& value,
                 const SourceLocation& where, const std::string& what) {
  const auto [it, inserted] = seen.emplace(value, where.line);
  if (inserted) return;
  file.Error(where, what + " \"" + value + "\" is listed twice (first at line " +
                        std::to_string(it->second) + ")");
}

void ParseDisksAndLvols(MapReader& map, inventory::NodeInventory* out) {
  std::map<std::string, int> paths;
  for (const YAML::Node& element : map.List("disks")) {
    KeyLocations where;
    MapReader disk(map.file(), element, map.file().At(element, map.At("disks")), "disk",
                   {"path", "wwid"}, &where);
    disk.Require({"path"});
    inventory::Disk value;
    disk.NonEmptyString("path", "a device path", &value.path);
    disk.WwidValue("wwid", &value.wwid);
    if (!value.path.empty()) CheckUnique(map.file(), paths, value.path, where.Of("path"), "disk");
    out->disks.push_back(std::move(value));
  }
  for (const YAML::Node& element : map.List("lvols")) {
    KeyLocations where;
    MapReader lvol(map.file(), element, map.file().At(element, map.At("lvols")), "lvol", {"path"},
                   &where);
    lvol.Require({"path"});
    inventory::LogicalVolume value;
    lvol.NonEmptyString("path", "a device path", &value.path);
    if (!value.path.empty()) CheckUnique(map.file(), paths, value.path, where.Of("path"), "lvol");
    out->lvols.push_back(std::move(value));
  }
}

// An inventory mapping: inline under a node, or the whole of an inventory file.
void ParseInventory(YamlFile& file, const YAML::Node& node, const SourceLocation& self,
                    inventory::NodeInventory* out) {
  KeyLocations where;
  MapReader map(file, node, self, "inventory",
                {"disks", "lvols", "vswitches", "shared_devices", "driver_versions"}, &where);
  if (!map.ok()) return;
  ParseDisksAndLvols(map, out);
  std::map<std::string, int> vswitches;
  for (const YAML::Node& element : map.List("vswitches")) {
    KeyLocations at;
    MapReader vswitch(file, element, file.At(element, map.At("vswitches")), "vswitch",
                      {"name", "nic"}, &at);
    vswitch.Require({"name", "nic"});
    inventory::Vswitch value;
    vswitch.NonEmptyString("name", "a vswitch name", &value.name);
    vswitch.NonEmptyString("nic", "a NIC name", &value.nic);
    if (!value.name.empty()) CheckUnique(file, vswitches, value.name, at.Of("name"), "vswitch");
    out->vswitches.push_back(std::move(value));
  }
  const std::vector<YAML::Node> devices = map.List("shared_devices");
  for (size_t i = 0; i < devices.size(); ++i) {
    const auto path =
        ScalarElement(file, devices[i], where.Of("shared_devices[" + std::to_string(i) + "]"),
                      "shared_devices", "a device path");
    if (path) out->shared_devices.push_back(*path);
  }
  if (const auto versions = map.Get("driver_versions")) {
    // Driver names are open-ended: read every NAME: VERSION pair as given.
    if (!versions->IsMap()) {
      file.Error(map.At("driver_versions"),
                 "driver_versions: expected a mapping of driver name to version, got " +
                     Describe(*versions));
      return;
    }
    for (auto it = versions->begin(); it != versions->end(); ++it) {
      if (it->first.IsScalar() && it->second.IsScalar()) {
        out->driver_versions[it->first.Scalar()] = it->second.Scalar();
      } else {
        file.Error(file.At(it->first, map.At("driver_versions")),
                   "driver_versions: expected NAME: VERSION, e.g. process: \"1\"");
      }
    }
  }
}

void ParseNodeInventory(MapReader& map, const std::string& base_dir, NodeSpec* node) {
  if (map.Has("inventory") && map.Has("inventory_file")) {
    map.file().Error(map.At("inventory_file"),
                     "inventory_file: give either inventory or inventory_file, not both");
    return;
  }
  if (const auto inline_inventory = map.Get("inventory")) {
    if (inline_inventory->IsScalar() && inline_inventory->Scalar() == "probe") {
      node->inventory_source = InventorySource::kProbe;
      return;
    }
    if (inline_inventory->IsScalar()) {
      map.BadValue("inventory", inline_inventory->Scalar(),
                   "is not an inventory; expected a mapping (disks, lvols, vswitches, "
                   "shared_devices) or probe",
                   {"probe"});
      return;
    }
    node->inventory_source = InventorySource::kInline;
    ParseInventory(map.file(), *inline_inventory, map.At("inventory"), &node->inventory);
    return;
  }
  if (!map.Has("inventory_file")) return;
  std::string path;
  map.Path("inventory_file", base_dir, &path);
  if (path.empty()) return;
  const std::string written = map.Get("inventory_file")->Scalar();
  if (!fs::is_regular_file(path)) {
    // A device or a folder exists: saying it does not would send the operator looking.
    const char* problem = fs::exists(path) ? " is not a regular file" : " does not exist";
    map.file().Error(map.At("inventory_file"), "inventory_file: " + written + problem +
                                                   "; expected a YAML file shaped like an "
                                                   "inline inventory");
    return;
  }
  node->inventory_source = InventorySource::kFile;
  node->inventory_file = path;
  YamlFile file(path, DisplayPathFor(map.file(), written), map.file().sink());
  if (const auto root = file.Load()) ParseInventory(file, *root, file.Whole(), &node->inventory);
}

void ParseCapacity(MapReader& map, NodeSpec* node) {
  const auto value = map.Get("capacity");
  if (!value) return;
  KeyLocations where;
  MapReader capacity(map.file(), *value, map.At("capacity"), "capacity", {"vcpus", "memory"},
                     &where);
  if (!capacity.ok()) return;
  capacity.Require({"vcpus", "memory"});
  inventory::Capacity result;
  capacity.Count("vcpus", &result.vcpus);
  capacity.Size("memory", &result.memory);
  node->capacity = result;
}

bool ParseNode(YamlFile& file, const YAML::Node& element, const SourceLocation& at,
               const std::string& base_dir, NodeSpec* node) {
  MapReader map(file, element, at, "node",
                {"name", "addresses", "role", "capacity", "inventory", "inventory_file",
                 "state_dir", "metrics_address"},
                &node->where);
  if (!map.ok()) return false;
  map.Require({"name", "addresses"});
  map.Name("name", &node->name);
  const std::vector<YAML::Node> addresses = map.List("addresses");
  // `addresses:` with no value is as empty as `[]` (a scalar or mapping was reported).
  if (addresses.empty() && map.Has("addresses") && !map.Get("addresses")->IsScalar() &&
      !map.Get("addresses")->IsMap()) {
    file.Error(map.At("addresses"),
               "addresses: empty; expected at least one IP:PORT, e.g. [127.0.0.1:7101]");
  }
  for (size_t i = 0; i < addresses.size(); ++i) {
    const SourceLocation& where = node->where.Of("addresses[" + std::to_string(i) + "]");
    const auto text = ScalarElement(file, addresses[i], where, "addresses", "an address IP:PORT");
    if (!text) continue;
    if (const auto address = ParseSocketAddress(*text)) {
      node->addresses.push_back(*address);
    } else {
      file.Error(where, "addresses: \"" + *text +
                            "\" is not an address; expected IP:PORT, "
                            "e.g. 127.0.0.1:7101 or [::1]:7101");
    }
  }
  map.Enum<NodeRole>("role", {{"member", NodeRole::kMember}, {"arbitrator", NodeRole::kArbitrator}},
                     &node->role);
  map.Path("state_dir", base_dir, &node->state_dir);
  map.Address("metrics_address", &node->metrics_address);
  ParseCapacity(map, node);
  ParseNodeInventory(map, base_dir, node);
  if (node->capacity) node->inventory.capacity = node->capacity;
  return true;
}

void ParseSecurity(MapReader& root, const std::string& base_dir, ClusterConfig* config) {
  const auto value = root.Get("security");
  if (!value) return;
  Security& security = config->security;
  MapReader map(root.file(), *value, root.At("security"), "security",
                {"key_file", "ca", "cert", "key"}, &security.where);
  map.Require({"key_file"});
  map.Path("key_file", base_dir, &security.key_file);
  for (const auto& [key, out] :
       {std::pair{"ca", &security.tls_ca}, std::pair{"cert", &security.tls_cert},
        std::pair{"key", &security.tls_key}}) {
    std::string path;
    map.Path(key, base_dir, &path);
    if (!path.empty()) *out = path;
  }
}

void ParseAccess(MapReader& root, ClusterConfig* config) {
  for (const YAML::Node& element : root.List("access")) {
    AccessRule rule;
    const SourceLocation at = root.file().At(element, root.At("access"));
    MapReader map(root.file(), element, at, "access rule", {"user", "group", "role"}, &rule.where);
    map.Require({"role"});
    map.OptionalString("user", &rule.user);
    map.OptionalString("group", &rule.group);
    map.Enum<AccessRole>("role",
                         {{"monitor", AccessRole::kMonitor},
                          {"package_admin", AccessRole::kPackageAdmin},
                          {"full_admin", AccessRole::kFullAdmin}},
                         &rule.role);
    if (map.ok()) config->access.push_back(std::move(rule));
  }
}

void ParseTimingAndPolicies(MapReader& map, const std::string& base_dir, ClusterConfig* config) {
  map.Duration("node_timeout", &config->node_timeout);
  config->heartbeat_interval = config->node_timeout / 10;
  map.Duration("heartbeat_interval", &config->heartbeat_interval);
  map.Duration("fence_timeout", &config->fence_timeout);
  map.Enum<FenceAction>("fence_action",
                        {{"kill", FenceAction::kKill}, {"reboot", FenceAction::kReboot}},
                        &config->fence_action);
  map.NonEmptyString("watchdog_device", "a device path", &config->watchdog_device);
  map.Duration("watchdog_timeout", &config->watchdog_timeout);
  map.Duration("disarm_max", &config->disarm_max);
  map.Path("driver_dir", base_dir, &config->driver_dir);
  map.Percent("clock_drift_max", &config->clock_drift_max);
  map.Duration("cluster_start_wait", &config->cluster_start_wait);
  map.Duration("monitor_interval", &config->monitor_interval);
  map.Duration("inventory_probe_interval", &config->inventory_probe_interval);
  map.Enum<ShutdownPolicy>("shutdown_policy",
                           {{"migrate", ShutdownPolicy::kMigrate}, {"halt", ShutdownPolicy::kHalt}},
                           &config->shutdown_policy);
  map.Bool("allow_two_node_without_arbitrator", &config->allow_two_node_without_arbitrator);
  map.Address("metrics_address", &config->metrics_address);
}

}  // namespace

std::string DisplayPathFor(const YamlFile& from, const std::string& written) {
  if (!written.empty() && written.front() == '/') return written;
  return (fs::path(from.display()).parent_path() / written).lexically_normal().string();
}

void ParseCluster(YamlFile& file, const YAML::Node& root, ClusterConfig* config) {
  const std::string base_dir = Dir(config->file);
  MapReader map(file, root, {file.display(), 1, 1}, "the cluster file",
                {"cluster_name",
                 "heartbeat_interval",
                 "node_timeout",
                 "fence_timeout",
                 "fence_action",
                 "watchdog_device",
                 "watchdog_timeout",
                 "disarm_max",
                 "driver_dir",
                 "clock_drift_max",
                 "cluster_start_wait",
                 "shutdown_policy",
                 "allow_two_node_without_arbitrator",
                 "metrics_address",
                 "monitor_interval",
                 "inventory_probe_interval",
                 "security",
                 "access",
                 "nodes",
                 "packages"},
                &config->where);
  if (!map.ok()) return;
  map.Require({"cluster_name", "nodes", "security"});
  map.Name("cluster_name", &config->cluster_name);
  ParseTimingAndPolicies(map, base_dir, config);
  ParseSecurity(map, base_dir, config);
  ParseAccess(map, config);
  const std::vector<YAML::Node> nodes = map.List("nodes");
  // `nodes:` with no value is as empty as `[]` (a scalar or mapping was reported).
  if (map.Has("nodes") && nodes.empty() && !map.Get("nodes")->IsScalar() &&
      !map.Get("nodes")->IsMap()) {
    file.Error(map.At("nodes"), "nodes: empty; expected at least one node");
  }
  for (size_t i = 0; i < nodes.size(); ++i) {
    NodeSpec node;
    const SourceLocation& at = config->where.Of("nodes[" + std::to_string(i) + "]");
    // A node that is not a mapping was reported; leaving it out keeps it from counting.
    if (ParseNode(file, nodes[i], at, base_dir, &node)) config->nodes.push_back(std::move(node));
  }
  const std::vector<YAML::Node> packages = map.List("packages");
  std::map<std::string, const SourceLocation*> folders;  // Normalized path -> first listing.
  for (size_t i = 0; i < packages.size(); ++i) {
    const std::string key = "packages[" + std::to_string(i) + "]";
    const SourceLocation& where = config->where.Of(key);
    const auto folder = ScalarElement(file, packages[i], where, "packages", "a package folder");
    std::string path =
        folder ? fs::path(ResolvePath(base_dir, *folder)).lexically_normal().string() : "";
    // pkg, pkg/ and ./pkg are one folder: loading it twice would blame its package.yaml.
    if (path.size() > 1 && path.back() == '/') path.pop_back();
    if (!path.empty()) {
      const auto [it, inserted] = folders.emplace(path, &where);
      if (!inserted) {
        file.Error(where, "packages: folder " + *folder + " is listed twice (first at line " +
                              std::to_string(it->second->line) + ")");
        path.clear();  // Loaded once, from its first listing.
      }
    }
    config->package_folders.push_back(path);
    config->package_folders_written.push_back(folder.value_or(""));
  }
}

}  // namespace cmcl::io::config
