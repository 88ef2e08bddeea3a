// `pkgctl inventory probe [--root DIR]` (issue 12): this host's inventory from the Linux
// probe (cmcld/io/inventory/linux_probe.h), printed as an inventory file, so that an
// operator can save it (inventory_file:) and check it with `pkgctl config check`, or
// see what `inventory: probe` will report. Offline: no daemon is asked.
#include <iostream>
#include <string>
#include <vector>

#include "cmcld/io/inventory/inventory_yaml.h"
#include "cmcld/io/inventory/linux_probe.h"
#include "pkgctl/commands.h"
#include "pkgctl/json_writer.h"

namespace cmcl::pkgctl {
namespace {

void WriteJson(const io::inventory::ProbedInventory& probed, std::ostream& out) {
  const cmcl::inventory::NodeInventory& inventory = probed.inventory;
  JsonWriter json;
  json.BeginObject().Key("disks").BeginArray();
  for (const auto& disk : inventory.disks) {
    json.BeginObject().Key("path").String(disk.path);
    if (disk.wwid) json.Key("wwid").String(disk.wwid->value);
    json.EndObject();
  }
  json.EndArray().Key("lvols").BeginArray();
  for (const auto& lvol : inventory.lvols) {
    json.BeginObject().Key("path").String(lvol.path).EndObject();
  }
  json.EndArray().Key("vswitches").BeginArray();
  for (const auto& vswitch : inventory.vswitches) {
    json.BeginObject().Key("name").String(vswitch.name).Key("nic").String(vswitch.nic).EndObject();
  }
  json.EndArray().Key("shared_devices").BeginArray();
  for (const auto& path : inventory.shared_devices) json.String(path);
  json.EndArray();
  if (inventory.capacity) {
    json.Key("capacity").BeginObject().Key("vcpus").Int(inventory.capacity->vcpus);
    json.Key("memory").String(inventory.capacity->memory.ToString()).EndObject();
  }
  json.Key("notes").BeginArray();
  for (const std::string& note : probed.notes) json.String(note);
  json.EndArray().EndObject();
  out << json.str() << "\n";
}

}  // namespace

int RunInventory(const GlobalOptions& options, const std::vector<std::string>& args,
                 std::ostream& out, std::ostream& err) {
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    out << kInventoryHelp;
    return args.empty() ? kExitUsage : kExitOk;
  }
  if (args[0] != "probe") {
    return UsageError(
        options, "inventory: unknown subcommand \"" + args[0] + "\" (see pkgctl inventory --help)",
        out, err);
  }
  io::inventory::ProbeRoots roots;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h" || arg == "--help") {
      out << kInventoryHelp;
      return kExitOk;
    }
    std::string root;
    if (arg == "--root" && i + 1 < args.size()) {
      root = args[++i];
    } else if (arg.starts_with("--root=")) {
      root = arg.substr(7);
    } else {
      return UsageError(options,
                        "inventory probe: unexpected \"" + arg + "\" (see pkgctl inventory --help)",
                        out, err);
    }
    if (root.empty())
      return UsageError(options, "inventory probe: --root needs a folder", out, err);
    roots = {.sys = root + "/sys", .dev = root + "/dev", .proc = root + "/proc"};
  }
  const Result<io::inventory::ProbedInventory> probed = io::inventory::ProbeLinuxInventory(roots);
  if (!probed.ok()) {
    if (options.output == OutputFormat::kJson) {
      JsonWriter json;
      json.BeginObject().Key("error").BeginObject().Key("code").String("probe_failed");
      json.Key("message").String(probed.status().message()).EndObject().EndObject();
      out << json.str() << "\n";
    } else {
      err << "pkgctl: inventory probe: " << probed.status().message() << "\n";
    }
    return kExitRefused;
  }
  if (options.output == OutputFormat::kJson) {
    WriteJson(probed.value(), out);
    return kExitOk;
  }
  for (const std::string& note : probed.value().notes) err << "pkgctl: note: " << note << "\n";
  out << io::inventory::InventoryYaml(probed.value().inventory);
  return kExitOk;
}

}  // namespace cmcl::pkgctl
