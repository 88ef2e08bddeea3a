#include "cmcld/io/inventory/inventory_yaml.h"

#include <cstdio>
#include <sstream>

namespace cmcl::io::inventory {

std::string YamlQuoted(const std::string& text) {
  std::string quoted = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      quoted += '\\';
      quoted += c;
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      char escape[8];
      std::snprintf(escape, sizeof escape, "\\x%02x", static_cast<unsigned>(c) & 0xffu);
      quoted += escape;
    } else {
      quoted += c;
    }
  }
  return quoted + "\"";
}

std::string InventoryYaml(const cmcl::inventory::NodeInventory& inventory) {
  std::ostringstream out;
  if (inventory.capacity) {
    out << "# The node's capacity goes on its entry in the cluster file, next to\n"
        << "# inventory_file:\n"
        << "#   capacity: {vcpus: " << inventory.capacity->vcpus
        << ", memory: " << inventory.capacity->memory.ToString() << "}\n";
  }
  out << "disks:" << (inventory.disks.empty() ? " []" : "") << "\n";
  for (const auto& disk : inventory.disks) {
    out << "  - {path: " << YamlQuoted(disk.path);
    if (disk.wwid) out << ", wwid: " << YamlQuoted(disk.wwid->value);
    out << "}\n";
  }
  out << "lvols:" << (inventory.lvols.empty() ? " []" : "") << "\n";
  for (const auto& lvol : inventory.lvols) out << "  - {path: " << YamlQuoted(lvol.path) << "}\n";
  out << "vswitches:" << (inventory.vswitches.empty() ? " []" : "") << "\n";
  for (const auto& vswitch : inventory.vswitches) {
    out << "  - {name: " << YamlQuoted(vswitch.name) << ", nic: " << YamlQuoted(vswitch.nic)
        << "}\n";
  }
  out << "shared_devices:" << (inventory.shared_devices.empty() ? " []" : "") << "\n";
  for (const auto& path : inventory.shared_devices) out << "  - " << YamlQuoted(path) << "\n";
  if (!inventory.driver_versions.empty()) {
    out << "driver_versions:\n";
    for (const auto& [driver, version] : inventory.driver_versions) {
      out << "  " << YamlQuoted(driver) << ": " << YamlQuoted(version) << "\n";
    }
  }
  return out.str();
}

}  // namespace cmcl::io::inventory
