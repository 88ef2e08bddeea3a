#include "cmcld/io/inventory/linux_probe.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <system_error>
#include <utility>

#include "cmcld/io/inventory/probe_parse.h"

namespace cmcl::io::inventory {
namespace {

namespace fs = std::filesystem;
using cmcl::inventory::NodeInventory;

// The host's name of a device whatever root the probe reads: "/dev/" + name.
std::string HostDevicePath(const std::string& relative) { return "/dev/" + relative; }

std::optional<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return text.str();
}

bool Exists(const fs::path& path) {
  std::error_code error;
  return fs::exists(path, error);
}

// The first line of a sysfs attribute, without its newline; nullopt when unreadable.
std::optional<std::string> ReadAttribute(const fs::path& path) {
  std::optional<std::string> text = ReadFile(path);
  if (!text) return std::nullopt;
  text->erase(std::min(text->find('\n'), text->size()));
  return text;
}

// The names in `folder`, sorted; an error naming the folder when it cannot be listed.
Result<std::vector<std::string>> ListFolder(const fs::path& folder) {
  std::error_code error;
  fs::directory_iterator it(folder, error);
  if (error) {
    return Status::Unavailable("cannot list " + folder.string() + ": " + error.message());
  }
  std::vector<std::string> names;
  for (; it != fs::directory_iterator(); it.increment(error)) {
    if (error) {
      return Status::Unavailable("cannot list " + folder.string() + ": " + error.message());
    }
    names.push_back(it->path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

fs::path WithoutTrailingSlash(fs::path path) {
  path = path.lexically_normal();
  return path.has_filename() ? path : path.parent_path();
}

// Device name -> its /dev/disk/by-id links as host paths, from links that resolve to a
// device directly in the /dev root (udev writes "../../sda"). None when there is no
// by-id folder (no udev, as in many containers).
std::map<std::string, std::vector<std::string>> ByIdLinks(const ProbeRoots& roots) {
  std::map<std::string, std::vector<std::string>> links;
  const fs::path dev = WithoutTrailingSlash(roots.dev);
  const fs::path folder = dev / "disk" / "by-id";
  const Result<std::vector<std::string>> names = ListFolder(folder);
  if (!names.ok()) return links;
  for (const std::string& name : names.value()) {
    std::error_code error;
    const fs::path target = fs::read_symlink(folder / name, error);
    if (error) continue;
    const fs::path resolved = (target.is_absolute() ? target : folder / target).lexically_normal();
    if (resolved.parent_path() != dev) continue;
    links[resolved.filename().string()].push_back(HostDevicePath("disk/by-id/" + name));
  }
  return links;
}

class BlockProbe {
 public:
  BlockProbe(const ProbeRoots& roots, ProbedInventory* out)
      : block_(fs::path(roots.sys) / "block"), links_(ByIdLinks(roots)), out_(out) {}

  Status Run() {
    const Result<std::vector<std::string>> names = ListFolder(block_);
    if (!names.ok()) return names.status();
    for (const std::string& name : names.value()) Device(name);
    return Status::Ok();
  }

 private:
  // The device and every by-id link to it.
  std::vector<std::string> Paths(const std::string& name) const {
    std::vector<std::string> paths = {HostDevicePath(name)};
    if (const auto it = links_.find(name); it != links_.end()) {
      paths.insert(paths.end(), it->second.begin(), it->second.end());
    }
    return paths;
  }

  void Note(const std::string& text) { out_->notes.push_back(text); }

  bool IsRom(const std::string& name) const {
    if (name.starts_with("sr")) return true;
    return ReadAttribute(block_ / name / "device" / "type") == "5";
  }

  void Device(const std::string& name) {
    const fs::path folder = block_ / name;
    // Partitions are not whole disks; RAM disks hold no guest's storage.
    if (Exists(folder / "partition")) return;
    if (name.starts_with("ram") || name.starts_with("zram")) return;
    if (name.starts_with("loop") && !Exists(folder / "loop" / "backing_file")) return;
    if (IsRom(name)) {
      for (const std::string& path : Paths(name)) out_->inventory.shared_devices.push_back(path);
      return;
    }
    const std::optional<std::string> size = ReadAttribute(folder / "size");
    if (!size) {
      Note("skipped " + folder.string() + ": cannot read " + (folder / "size").string());
      return;
    }
    if (*size == "0") return;  // An unconnected nbd, an empty card reader.
    std::optional<Wwid> wwid;
    if (name.starts_with("dm-")) {
      const std::string uuid = ReadAttribute(folder / "dm" / "uuid").value_or("");
      if (IsLvmUuid(uuid)) {
        AddLogicalVolume(name, folder);
        return;
      }
      wwid = MultipathWwid(uuid);
    } else {
      wwid = ReadWwid(name, folder);
    }
    for (const std::string& path : Paths(name)) out_->inventory.disks.push_back({path, wwid});
  }

  void AddLogicalVolume(const std::string& name, const fs::path& folder) {
    out_->inventory.lvols.push_back({HostDevicePath(name)});
    const std::optional<std::string> mapped = ReadAttribute(folder / "dm" / "name");
    if (mapped && !mapped->empty()) {
      out_->inventory.lvols.push_back({HostDevicePath("mapper/" + *mapped)});
    }
    for (const std::string& path : Paths(name)) {
      if (path != HostDevicePath(name)) out_->inventory.lvols.push_back({path});
    }
  }

  // SCSI and ATA disks say it in device/wwid, NVMe namespaces in wwid; virtio disks and
  // loop devices have none.
  std::optional<cmcl::Wwid> ReadWwid(const std::string& name, const fs::path& folder) {
    for (const fs::path& file : {folder / "device" / "wwid", folder / "wwid"}) {
      const std::optional<std::string> raw = ReadFile(file);
      if (!raw) continue;
      if (const std::optional<cmcl::Wwid> wwid = NormaliseSysfsWwid(*raw)) return wwid;
      std::string shown = *raw;
      while (!shown.empty() && (shown.back() == '\n' || shown.back() == ' ')) shown.pop_back();
      if (shown.empty()) return std::nullopt;
      Note(file.string() + ": WWID \"" + shown + "\" is not a form the configuration accepts; " +
           HostDevicePath(name) + " is listed without one");
      return std::nullopt;
    }
    return std::nullopt;
  }

  fs::path block_;
  std::map<std::string, std::vector<std::string>> links_;
  ProbedInventory* out_;
};

Status ProbeBridges(const ProbeRoots& roots, ProbedInventory* out) {
  const fs::path net = fs::path(roots.sys) / "class" / "net";
  const Result<std::vector<std::string>> names = ListFolder(net);
  if (!names.ok()) return names.status();
  for (const std::string& bridge : names.value()) {
    if (!Exists(net / bridge / "bridge")) continue;
    std::vector<BridgePort> ports;
    const Result<std::vector<std::string>> members = ListFolder(net / bridge / "brif");
    for (const std::string& port : members.ok() ? members.value() : std::vector<std::string>{}) {
      ports.push_back({.name = port,
                       .is_tap = Exists(net / port / "tun_flags"),
                       .is_physical = Exists(net / port / "device")});
    }
    std::string nic = ChooseUplink(std::move(ports));
    if (nic.empty()) nic = kLocalVswitchNic;
    out->inventory.vswitches.push_back({bridge, nic});
  }
  return Status::Ok();
}

Status ProbeCapacity(const ProbeRoots& roots, ProbedInventory* out) {
  const fs::path online = fs::path(roots.sys) / "devices" / "system" / "cpu" / "online";
  const std::optional<std::string> cpus = ReadFile(online);
  if (!cpus) return Status::Unavailable("cannot read " + online.string());
  const std::optional<uint32_t> vcpus = CountCpuList(*cpus);
  if (!vcpus) {
    return Status::Internal(online.string() + ": \"" + *cpus + "\" is not a CPU list");
  }
  const fs::path meminfo_path = fs::path(roots.proc) / "meminfo";
  const std::optional<std::string> meminfo = ReadFile(meminfo_path);
  if (!meminfo) return Status::Unavailable("cannot read " + meminfo_path.string());
  const std::optional<ByteSize> memory = ParseMemTotal(*meminfo);
  if (!memory) {
    return Status::Internal(meminfo_path.string() + ": no \"MemTotal: <number> kB\" line");
  }
  out->inventory.capacity = cmcl::inventory::Capacity{*vcpus, *memory};
  return Status::Ok();
}

}  // namespace

Result<ProbedInventory> ProbeLinuxInventory(const ProbeRoots& roots) {
  ProbedInventory probed;
  BlockProbe block(roots, &probed);
  if (Status status = block.Run(); !status.ok()) return status;
  if (Status status = ProbeBridges(roots, &probed); !status.ok()) return status;
  if (Status status = ProbeCapacity(roots, &probed); !status.ok()) return status;
  NodeInventory& inventory = probed.inventory;
  std::sort(inventory.disks.begin(), inventory.disks.end());
  std::sort(inventory.lvols.begin(), inventory.lvols.end());
  std::sort(inventory.vswitches.begin(), inventory.vswitches.end());
  std::sort(inventory.shared_devices.begin(), inventory.shared_devices.end());
  return probed;
}

std::string SummarizeInventory(const NodeInventory& inventory) {
  const auto with_wwid = std::count_if(inventory.disks.begin(), inventory.disks.end(),
                                       [](const auto& disk) { return disk.wwid.has_value(); });
  std::string line = std::to_string(inventory.disks.size()) + " disk paths (" +
                     std::to_string(with_wwid) + " with a WWID), " +
                     std::to_string(inventory.lvols.size()) + " lvols, ";
  if (inventory.vswitches.empty()) line += "no vswitch";
  for (size_t i = 0; i < inventory.vswitches.size(); ++i) {
    line += (i == 0 ? "vswitches " : ", ") + inventory.vswitches[i].name + "->" +
            inventory.vswitches[i].nic;
  }
  line += ", " + std::to_string(inventory.shared_devices.size()) + " shared devices";
  if (inventory.capacity) {
    line += ", " + std::to_string(inventory.capacity->vcpus) + " vCPUs, " +
            inventory.capacity->memory.ToString();
  }
  return line;
}

}  // namespace cmcl::io::inventory
