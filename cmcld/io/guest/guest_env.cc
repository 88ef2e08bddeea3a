#include "cmcld/io/guest/guest_env.h"

#include "cmcld/core/common/json.h"
#include "cmcld/core/node/cluster_state.h"

namespace cmcl::io {
namespace {

std::string_view StorageTypeName(config::StorageType type) {
  switch (type) {
    case config::StorageType::kDisk:
      return "disk";
    case config::StorageType::kLvol:
      return "lvol";
    case config::StorageType::kFile:
      return "file";
  }
  return "disk";
}

std::string_view DeviceTypeName(config::DeviceType type) {
  switch (type) {
    case config::DeviceType::kDvd:
      return "dvd";
    case config::DeviceType::kCdrom:
      return "cdrom";
    case config::DeviceType::kOther:
      return "other";
  }
  return "other";
}

uint32_t Vcpus(const node::GuestAction& action, const config::PackageSpec& package) {
  return action.vcpus.value_or(package.guest.vcpus);
}

uint64_t MemoryMb(const node::GuestAction& action, const config::PackageSpec& package) {
  return action.memory_mb.value_or(package.guest.memory.mebibytes());
}

void AppendKey(std::string& out, std::string_view key) {
  AppendJsonString(out, key);
  out += ':';
}

void AppendStorage(std::string& out, const config::PackageSpec& package) {
  out += '[';
  bool first = true;
  for (const auto& disk : package.guest.storage) {
    if (!first) out += ',';
    first = false;
    out += '{';
    AppendKey(out, "path");
    AppendJsonString(out, disk.path);
    out += ',';
    AppendKey(out, "type");
    AppendJsonString(out, StorageTypeName(disk.type));
    out += ',';
    AppendKey(out, "shared");
    out += disk.shared ? "true" : "false";
    if (disk.wwid) {
      out += ',';
      AppendKey(out, "wwid");
      AppendJsonString(out, disk.wwid->value);
    }
    out += '}';
  }
  out += ']';
}

void AppendNetworksAndDevices(std::string& out, const config::PackageSpec& package) {
  AppendKey(out, "networks");
  out += '[';
  for (size_t i = 0; i < package.guest.networks.size(); ++i) {
    const auto& net = package.guest.networks[i];
    out += i == 0 ? "{" : ",{";
    AppendKey(out, "vswitch");
    AppendJsonString(out, net.vswitch);
    if (net.nic) {
      out += ',';
      AppendKey(out, "nic");
      AppendJsonString(out, *net.nic);
    }
    out += '}';
  }
  out += "],";
  AppendKey(out, "devices");
  out += '[';
  for (size_t i = 0; i < package.guest.devices.size(); ++i) {
    const auto& device = package.guest.devices[i];
    out += i == 0 ? "{" : ",{";
    AppendKey(out, "path");
    AppendJsonString(out, device.path);
    out += ',';
    AppendKey(out, "type");
    AppendJsonString(out, DeviceTypeName(device.type));
    out += '}';
  }
  out += ']';
}

}  // namespace

std::string_view GuestActionName(node::GuestVerb verb) {
  switch (verb) {
    case node::GuestVerb::kRun:
      return "run";
    case node::GuestVerb::kHalt:
      return "halt";
    case node::GuestVerb::kKill:
      return "kill";
    case node::GuestVerb::kStatus:
      return "status";
  }
  return "status";
}

std::string GuestSpecPath(const std::string& state_dir, const std::string& package) {
  return state_dir + "/guests/" + package + ".spec.json";
}

std::vector<std::string> GuestEnvironment(const GuestEnvContext& context,
                                          const node::GuestAction& action,
                                          const config::PackageSpec& package,
                                          std::string_view action_name) {
  const std::string& name = package.name.value();
  std::string storage;
  for (const auto& disk : package.guest.storage) {
    if (!storage.empty()) storage += ' ';
    storage += disk.path;
  }
  std::vector<std::string> env = {
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "LANG=C.UTF-8",
      "CMCL_PACKAGE=" + name,
      "CMCL_NODE=" + context.node.value(),
      "CMCL_EPOCH=" + std::to_string(action.guest.epoch.value()),
      "CMCL_ACTION=" + std::string(action_name),
      "CMCL_REASON=" + std::string(node::ActionReasonName(action.reason)),
      "CMCL_GUEST_VCPUS=" + std::to_string(Vcpus(action, package)),
      "CMCL_GUEST_MEMORY_MB=" + std::to_string(MemoryMb(action, package)),
      "CMCL_GUEST_SPEC=" + GuestSpecPath(context.state_dir, name),
      "CMCL_GUEST_STORAGE=" + storage,
      "CMCL_DRIVER_DIR=" + context.driver_dir,
      "CMCL_STATE_DIR=" + context.state_dir,
  };
  if (action.source) env.push_back("CMCL_SOURCE_NODE=" + action.source->value());
  return env;
}

std::string GuestSpecJson(const GuestEnvContext& context, const node::GuestAction& action,
                          const config::PackageSpec& package) {
  std::string out = "{";
  AppendKey(out, "package");
  AppendJsonString(out, package.name.value());
  out += ',';
  AppendKey(out, "node");
  AppendJsonString(out, context.node.value());
  out += ',';
  AppendKey(out, "epoch");
  out += std::to_string(action.guest.epoch.value()) + ",";
  AppendKey(out, "vcpus");
  out += std::to_string(Vcpus(action, package)) + ",";
  AppendKey(out, "memory_mb");
  out += std::to_string(MemoryMb(action, package)) + ",";
  AppendKey(out, "label");
  AppendJsonString(out, package.guest.label);
  out += ',';
  AppendKey(out, "storage");
  AppendStorage(out, package);
  out += ',';
  AppendNetworksAndDevices(out, package);
  out += "}\n";
  return out;
}

}  // namespace cmcl::io
