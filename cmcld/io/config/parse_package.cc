#include "cmcld/io/config/parse.h"

namespace cmcl::io::config {
namespace {

using namespace cmcl::config;  // NOLINT: the config model's many types.

SourceLocation ElementAt(MapReader& map, std::string_view key, size_t index) {
  return map.At(std::string(key) + "[" + std::to_string(index) + "]");
}

void ParseStorage(MapReader& guest, GuestSpec* out) {
  const std::vector<YAML::Node> elements = guest.List("storage");
  for (size_t i = 0; i < elements.size(); ++i) {
    GuestStorage storage;
    MapReader map(guest.file(), elements[i], ElementAt(guest, "storage", i), "storage",
                  {"path", "type", "wwid", "shared"}, &storage.where);
    map.Require({"path"});
    map.NonEmptyString("path", "a storage path", &storage.path);
    map.Enum<StorageType>(
        "type",
        {{"disk", StorageType::kDisk}, {"lvol", StorageType::kLvol}, {"file", StorageType::kFile}},
        &storage.type);
    map.WwidValue("wwid", &storage.wwid);
    map.Bool("shared", &storage.shared);
    if (map.ok()) out->storage.push_back(std::move(storage));
  }
}

void ParseNetworksAndDevices(MapReader& guest, GuestSpec* out) {
  const std::vector<YAML::Node> networks = guest.List("networks");
  for (size_t i = 0; i < networks.size(); ++i) {
    GuestNetwork network;
    MapReader map(guest.file(), networks[i], ElementAt(guest, "networks", i), "network",
                  {"vswitch", "nic"}, &network.where);
    map.Require({"vswitch"});
    map.NonEmptyString("vswitch", "a vswitch name", &network.vswitch);
    map.OptionalNonEmptyString("nic", "a NIC name", &network.nic);
    if (map.ok()) out->networks.push_back(std::move(network));
  }
  const std::vector<YAML::Node> devices = guest.List("devices");
  for (size_t i = 0; i < devices.size(); ++i) {
    GuestDevice device;
    MapReader map(guest.file(), devices[i], ElementAt(guest, "devices", i), "device",
                  {"path", "type"}, &device.where);
    map.Require({"path"});
    map.NonEmptyString("path", "a device path", &device.path);
    map.Enum<DeviceType>(
        "type",
        {{"dvd", DeviceType::kDvd}, {"cdrom", DeviceType::kCdrom}, {"other", DeviceType::kOther}},
        &device.type);
    if (map.ok()) out->devices.push_back(std::move(device));
  }
}

void ParseGuest(MapReader& package, GuestSpec* guest) {
  const auto value = package.Get("guest");
  if (!value) return;
  MapReader map(package.file(), *value, package.At("guest"), "guest",
                {"vcpus", "memory", "label", "storage", "networks", "devices"}, &guest->where);
  if (!map.ok()) return;
  map.Count("vcpus", &guest->vcpus);
  map.Size("memory", &guest->memory);
  map.String("label", &guest->label);
  ParseStorage(map, guest);
  ParseNetworksAndDevices(map, guest);
}

void ParseServicesAndDependencies(MapReader& package, PackageSpec* out) {
  const std::vector<YAML::Node> services = package.List("services");
  for (size_t i = 0; i < services.size(); ++i) {
    Service service;
    MapReader map(package.file(), services[i], ElementAt(package, "services", i), "service",
                  {"name", "command", "max_restarts"}, &service.where);
    map.Require({"name", "command"});
    map.String("name", &service.name);
    map.String("command", &service.command);
    map.Count("max_restarts", &service.max_restarts);
    if (map.ok()) out->services.push_back(std::move(service));
  }
  const std::vector<YAML::Node> dependencies = package.List("depends_on");
  for (size_t i = 0; i < dependencies.size(); ++i) {
    Dependency dependency;
    MapReader map(package.file(), dependencies[i], ElementAt(package, "depends_on", i),
                  "dependency", {"package", "condition", "location"}, &dependency.where);
    map.Require({"package"});
    map.Name("package", &dependency.package);
    map.Enum<DependencyCondition>("condition", {{"up", DependencyCondition::kUp}},
                                  &dependency.condition);
    map.Enum<DependencyLocation>(
        "location",
        {{"same_node", DependencyLocation::kSameNode}, {"any_node", DependencyLocation::kAnyNode}},
        &dependency.location);
    if (map.ok()) out->depends_on.push_back(std::move(dependency));
  }
}

void ParseNodeList(MapReader& map, PackageSpec* package) {
  const std::vector<YAML::Node> nodes = map.List("nodes");
  for (size_t i = 0; i < nodes.size(); ++i) {
    const auto name =
        ScalarElement(map.file(), nodes[i], ElementAt(map, "nodes", i), "nodes", "a node name");
    if (!name) continue;
    if (*name == "*") {
      package->all_nodes = true;
      continue;
    }
    package->nodes.emplace_back(*name);
  }
  if (package->all_nodes && nodes.size() > 1) {
    map.file().Error(map.At("nodes"),
                     "nodes: \"*\" means every member and stands alone; expected [\"*\"] or "
                     "a list of node names");
  }
}

}  // namespace

bool ParsePackage(YamlFile& file, const YAML::Node& root, PackageSpec* package) {
  MapReader map(file, root, {file.display(), 1, 1}, "the package file",
                {"name",
                 "nodes",
                 "auto_run",
                 "failover_policy",
                 "failback_policy",
                 "driver",
                 "run_script",
                 "halt_script",
                 "run_timeout",
                 "halt_timeout",
                 "kill_timeout",
                 "max_restarts",
                 "max_relocations",
                 "node_fail_fast_enabled",
                 "service_fail_fast_enabled",
                 "shutdown_policy",
                 "priority",
                 "displace_lower_priority",
                 "depends_on",
                 "guest",
                 "services"},
                &package->where);
  if (!map.ok()) return false;
  map.Require({"name", "nodes", "run_script", "halt_script"});
  map.Name("name", &package->name);
  ParseNodeList(map, package);
  map.Bool("auto_run", &package->auto_run);
  map.Enum<FailoverPolicy>("failover_policy",
                           {{"configured_node", FailoverPolicy::kConfiguredNode},
                            {"min_package_node", FailoverPolicy::kMinPackageNode}},
                           &package->failover_policy);
  map.Enum<FailbackPolicy>(
      "failback_policy",
      {{"manual", FailbackPolicy::kManual}, {"automatic", FailbackPolicy::kAutomatic}},
      &package->failback_policy);
  map.OptionalString("driver", &package->driver);
  map.NonEmptyString("run_script", "a script in the package folder", &package->run_script);
  map.NonEmptyString("halt_script", "a script in the package folder", &package->halt_script);
  map.Duration("run_timeout", &package->run_timeout);
  map.Duration("halt_timeout", &package->halt_timeout);
  map.Duration("kill_timeout", &package->kill_timeout);
  map.Count("max_restarts", &package->max_restarts);
  map.OptionalCount("max_relocations", &package->max_relocations);
  map.Bool("node_fail_fast_enabled", &package->node_fail_fast_enabled);
  map.Bool("service_fail_fast_enabled", &package->service_fail_fast_enabled);
  ShutdownPolicy policy = ShutdownPolicy::kMigrate;
  map.Enum<ShutdownPolicy>("shutdown_policy",
                           {{"migrate", ShutdownPolicy::kMigrate}, {"halt", ShutdownPolicy::kHalt}},
                           &policy);
  if (map.Has("shutdown_policy")) package->shutdown_policy = policy;
  map.OptionalCount("priority", &package->priority);
  map.Bool("displace_lower_priority", &package->displace_lower_priority);
  ParseGuest(map, &package->guest);
  ParseServicesAndDependencies(map, package);
  return true;
}

}  // namespace cmcl::io::config
