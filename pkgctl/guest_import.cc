// `pkgctl guest import --libvirt DOMAIN [-d DIR] [--nodes N1,N2]` (INTERFACE.md, issue
// 12): writes a package folder for an existing libvirt domain, run by the libvirt driver
// (packages/drivers/README.md): domain.xml (its `virsh dumpxml`), package.yaml with the
// guest's vCPUs, memory, disks, networks and devices, and run/halt scripts calling the
// driver. Works offline, without cmcld; reads the domain with the same virsh and
// connection the driver uses ($CMCL_VIRSH, $CMCL_LIBVIRT_URI).
//
// The XML is read with a small scanner for the few elements needed (no XML library):
// libvirt writes its own XML in a regular form, and whatever the scanner misreads the
// operator sees in package.yaml, which `pkgctl config check` then validates.
#include <sys/wait.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "cmcld/core/common/names.h"
#include "pkgctl/commands.h"
#include "pkgctl/json_writer.h"

namespace cmcl::pkgctl {
namespace {

namespace fs = std::filesystem;

struct Element {
  std::map<std::string, std::string> attributes;
  std::string inner;  // Between the start and the end tag; empty for <tag/>.
};

struct ImportArgs {
  std::string domain;
  std::string dir;
  std::vector<std::string> nodes;
};

std::string Env(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

std::string ShellQuote(const std::string& word) {
  std::string quoted = "'";
  for (const char c : word) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

std::string Unescape(std::string text) {
  static const std::vector<std::pair<std::string, std::string>> kEntities = {
      {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&apos;", "'"}, {"&amp;", "&"}};
  for (const auto& [entity, plain] : kEntities) {
    for (size_t at = text.find(entity); at != std::string::npos;
         at = text.find(entity, at + plain.size())) {
      text.replace(at, entity.size(), plain);
    }
  }
  return text;
}

// Every <tag ...>...</tag> or <tag .../> in `xml`, in order; `tag` must match the whole
// name (<vcpu> is not <vcpus>). Elements of one tag are not nested in libvirt's XML.
std::vector<Element> Elements(const std::string& xml, const std::string& tag) {
  static const std::regex kAttribute(
      R"re(([A-Za-z_:][-A-Za-z0-9_:.]*)\s*=\s*(?:'([^']*)'|"([^"]*)"))re");
  std::vector<Element> found;
  const std::string open = "<" + tag;
  for (size_t at = xml.find(open); at != std::string::npos; at = xml.find(open, at + 1)) {
    const size_t after = at + open.size();
    if (after >= xml.size() || (xml[after] != ' ' && xml[after] != '>' && xml[after] != '/' &&
                                xml[after] != '\n' && xml[after] != '\t')) {
      continue;
    }
    const size_t close = xml.find('>', after);
    if (close == std::string::npos) break;
    Element element;
    const std::string head = xml.substr(after, close - after);
    for (std::sregex_iterator it(head.begin(), head.end(), kAttribute), end; it != end; ++it) {
      element.attributes[(*it)[1]] = Unescape((*it)[2].matched ? (*it)[2] : (*it)[3]);
    }
    if (xml[close - 1] != '/') {
      const size_t end_tag = xml.find("</" + tag + ">", close);
      if (end_tag == std::string::npos) break;
      element.inner = xml.substr(close + 1, end_tag - close - 1);
    }
    found.push_back(std::move(element));
  }
  return found;
}

std::string Attribute(const Element& element, const std::string& name) {
  const auto it = element.attributes.find(name);
  return it == element.attributes.end() ? "" : it->second;
}

// The first <source> of an element's inner XML, its attribute `name`.
std::string Source(const Element& element, const std::string& name) {
  const auto sources = Elements(element.inner, "source");
  return sources.empty() ? "" : Attribute(sources.front(), name);
}

// libvirt's memory units (formatdomain: "unit") to MiB, rounded up; nullopt when unknown.
std::optional<uint64_t> Mebibytes(const std::string& text, std::string unit) {
  if (text.empty() || text.find_first_not_of("0123456789 \n") != std::string::npos) {
    return std::nullopt;
  }
  const uint64_t value = std::stoull(text);
  std::transform(unit.begin(), unit.end(), unit.begin(), [](char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  });
  static const std::map<std::string, uint64_t> kBytes = {{"b", 1},
                                                         {"bytes", 1},
                                                         {"kb", 1000},
                                                         {"k", 1024},
                                                         {"kib", 1024},
                                                         {"", 1024},
                                                         {"mb", 1000000},
                                                         {"m", 1 << 20},
                                                         {"mib", 1 << 20},
                                                         {"gb", 1000000000},
                                                         {"g", 1ULL << 30},
                                                         {"gib", 1ULL << 30},
                                                         {"tb", 1000000000000},
                                                         {"t", 1ULL << 40},
                                                         {"tib", 1ULL << 40}};
  const auto it = kBytes.find(unit);
  if (it == kBytes.end()) return std::nullopt;
  const uint64_t bytes = value * it->second;
  return (bytes + (1U << 20) - 1) >> 20;
}

// A /dev/disk/by-id path for the block device `path`: itself when it is one, else a link
// there resolving to the same device (wwn-* first: the WWID migration validation
// compares), else nullopt. `by_id` is the folder ($CMCL_DISK_BY_ID, for tests).
std::optional<std::string> ByIdPath(const std::string& path, const std::string& by_id) {
  if (path.rfind(by_id + "/", 0) == 0) return path;
  std::error_code error;
  const fs::path device = fs::canonical(path, error);
  if (error) return std::nullopt;
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(by_id, error)) {
    std::error_code e;
    if (fs::canonical(entry.path(), e) == device && !e) {
      names.push_back(entry.path().filename());
    }
  }
  if (names.empty()) return std::nullopt;
  std::sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
    const bool a_wwn = a.rfind("wwn-", 0) == 0;
    const bool b_wwn = b.rfind("wwn-", 0) == 0;
    return a_wwn != b_wwn ? a_wwn : a < b;
  });
  return by_id + "/" + names.front();
}

std::string YamlString(const std::string& text) {
  std::string quoted = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return quoted + "\"";
}

// What package.yaml says of the guest, and the warnings met on the way.
struct Guest {
  uint64_t vcpus = 0;
  uint64_t memory_mib = 0;
  std::vector<std::string> storage;   // YAML flow maps.
  std::vector<std::string> networks;  // The same.
  std::vector<std::string> devices;   // The same.
  std::vector<std::string> warnings;
};

void MapDisks(const std::string& xml, Guest& guest) {
  const std::string by_id = Env("CMCL_DISK_BY_ID", "/dev/disk/by-id");
  for (const Element& disk : Elements(xml, "disk")) {
    const std::string type = Attribute(disk, "type");
    const std::string device = Attribute(disk, "device");
    const std::string path = Source(disk, type == "block" ? "dev" : "file");
    if (device == "cdrom" || device == "floppy") {
      if (path.empty()) continue;  // An empty drive shares nothing.
      guest.devices.push_back("{path: " + YamlString(path) +
                              ", type: " + (device == "cdrom" ? "cdrom" : "other") + "}");
      guest.warnings.push_back(
          "the " + device + " " + path +
          " is a host-shared device: migration validation refuses a guest that uses one "
          "(remove it from package.yaml and domain.xml to make the guest movable)");
    } else if (type == "block" && !path.empty()) {
      const auto stable = ByIdPath(path, by_id);
      if (!stable) {
        guest.warnings.push_back("disk " + path + " has no link in " + by_id +
                                 ": kept as it is; use a path that names the same disk on "
                                 "every node");
      }
      guest.storage.push_back("{path: " + YamlString(stable.value_or(path)) + ", type: disk}");
    } else if (type == "file" && !path.empty()) {
      guest.storage.push_back("{path: " + YamlString(path) + ", type: file}");
    } else {
      guest.warnings.push_back("a disk of type '" + type +
                               "' is not imported (only block devices and files are)");
    }
  }
}

void MapDevices(const std::string& xml, Guest& guest) {
  for (const Element& interface : Elements(xml, "interface")) {
    const std::string type = Attribute(interface, "type");
    std::string vswitch;
    if (type == "bridge") vswitch = Source(interface, "bridge");
    if (type == "network") vswitch = Source(interface, "network");
    if (type == "direct") vswitch = Source(interface, "dev");
    if (vswitch.empty()) {
      guest.warnings.push_back("an interface of type '" + type + "' is not imported");
      continue;
    }
    if (type != "bridge") {
      guest.warnings.push_back("the " + type + " interface " + vswitch +
                               " is imported as the vswitch " + vswitch +
                               ": name it so in every node's inventory");
    }
    guest.networks.push_back("{vswitch: " + YamlString(vswitch) + "}");
  }
  for (const Element& hostdev : Elements(xml, "hostdev")) {
    guest.warnings.push_back("a host device (" + Attribute(hostdev, "type") +
                             " passthrough) is not imported: it ties the guest to this host");
  }
}

// Reads the domain's XML into `guest`; "" or the reason it cannot.
std::string MapGuest(const std::string& xml, Guest& guest) {
  const auto vcpu = Elements(xml, "vcpu");
  if (vcpu.empty()) return "the domain XML has no <vcpu>";
  const std::string current = Attribute(vcpu.front(), "current");
  const std::string count = current.empty() ? vcpu.front().inner : current;
  if (count.empty() || count.find_first_not_of("0123456789") != std::string::npos) {
    return "the domain XML's <vcpu> is not a number: " + count;
  }
  guest.vcpus = std::stoull(count);
  const auto memory = Elements(xml, "memory");
  if (memory.empty()) return "the domain XML has no <memory>";
  const auto mib = Mebibytes(memory.front().inner, Attribute(memory.front(), "unit"));
  if (!mib) return "the domain XML's <memory> is not understood";
  guest.memory_mib = *mib;
  MapDisks(xml, guest);
  MapDevices(xml, guest);
  return "";
}

std::string PackageYaml(const ImportArgs& args, const Guest& guest) {
  std::ostringstream yaml;
  yaml << "# Imported by `pkgctl guest import --libvirt " << args.domain
       << "`: domain.xml is the domain's\n"
          "# `virsh dumpxml`; the libvirt driver starts it as a transient domain named "
          "after the\n"
          "# package (packages/drivers/README.md). auto_run is off until the operator "
          "runs it.\n";
  yaml << "name: " << args.domain << "\nnodes: [";
  if (args.nodes.empty()) yaml << "\"*\"";
  for (size_t i = 0; i < args.nodes.size(); ++i) yaml << (i ? ", " : "") << args.nodes[i];
  yaml << "]\n"
          "auto_run: false\n"
          "failover_policy: configured_node\n"
          "failback_policy: manual\n"
          "driver: libvirt\n"
          "run_script: run.sh\n"
          "halt_script: halt.sh\n"
          "run_timeout: 120s\n"
          "halt_timeout: 90s  # The driver's stop waits 50s for the guest's shutdown.\n"
          "guest:\n"
       << "  vcpus: " << guest.vcpus << "\n  memory: " << guest.memory_mib << "MiB\n"
       << "  label: " << YamlString("libvirt domain " + args.domain) << "\n";
  const std::pair<const char*, const std::vector<std::string>*> lists[] = {
      {"storage", &guest.storage}, {"networks", &guest.networks}, {"devices", &guest.devices}};
  for (const auto& [key, items] : lists) {
    if (items->empty()) continue;
    yaml << "  " << key << ":\n";
    for (const std::string& item : *items) yaml << "    - " << item << "\n";
  }
  return yaml.str();
}

constexpr const char* kRunScript =
    "#!/bin/sh\n"
    "# Run script: starts the guest through the libvirt driver from domain.xml in this\n"
    "# folder (DESIGN.md section 4). cmcld sets the CMCL_* environment.\n"
    "exec \"${CMCL_DRIVER_DIR:-/usr/lib/cmcl/drivers}/libvirt\" start\n";
constexpr const char* kHaltScript =
    "#!/bin/sh\n"
    "# Halt script: shuts the guest down gracefully through its driver (bounded by\n"
    "# halt_timeout; CMCL_LIBVIRT_STOP_WAIT sets how long the driver waits).\n"
    "exec \"${CMCL_DRIVER_DIR:-/usr/lib/cmcl/drivers}/libvirt\" stop\n";

bool WriteTextFile(const fs::path& path, const std::string& text, fs::perms perms) {
  std::ofstream file(path, std::ios::trunc);
  file << text;
  file.close();
  std::error_code error;
  fs::permissions(path, perms, error);
  return file.good() && !error;
}

// `virsh dumpxml DOMAIN --inactive` (the definition without run-time details such as
// the domain id): its exit status and its output (stderr too, for the message).
std::pair<int, std::string> DumpXml(const std::string& domain) {
  const std::string command = "LC_ALL=C " + ShellQuote(Env("CMCL_VIRSH", "virsh")) + " -c " +
                              ShellQuote(Env("CMCL_LIBVIRT_URI", "qemu:///system")) + " dumpxml " +
                              ShellQuote(domain) + " --inactive 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return {127, "cannot run virsh"};
  std::string output;
  char buffer[4096];
  for (size_t n; (n = fread(buffer, 1, sizeof(buffer), pipe)) > 0;) output.append(buffer, n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128, output};
}

int Refuse(const GlobalOptions& options, const std::string& message, std::ostream& out,
           std::ostream& err) {
  if (options.output == OutputFormat::kJson) {
    JsonWriter json;
    json.BeginObject().Key("error").BeginObject();
    json.Key("code").String("import_failed").Key("message").String(message).EndObject().EndObject();
    out << json.str() << "\n";
  } else {
    err << "pkgctl: guest import: " << message << "\n";
  }
  return kExitRefused;
}

std::string ParseImportArgs(const std::vector<std::string>& args, ImportArgs& parsed) {
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    const bool takes_value =
        arg == "--libvirt" || arg == "-d" || arg == "--dir" || arg == "--nodes";
    if (!takes_value) return "unexpected argument " + arg + " (see pkgctl guest --help)";
    if (i + 1 >= args.size()) return arg + " needs a value";
    const std::string& value = args[++i];
    if (arg == "--libvirt") {
      parsed.domain = value;
    } else if (arg == "--nodes") {
      std::stringstream list(value);
      for (std::string node; std::getline(list, node, ',');) {
        if (!IsValidName(node)) return "--nodes: \"" + node + "\" is not a node name";
        parsed.nodes.push_back(node);
      }
    } else {
      parsed.dir = value;
    }
  }
  if (parsed.domain.empty()) return "missing --libvirt DOMAIN (see pkgctl guest --help)";
  return "";
}

int RunImport(const GlobalOptions& options, const std::vector<std::string>& args, std::ostream& out,
              std::ostream& err) {
  ImportArgs parsed;
  if (const std::string error = ParseImportArgs(args, parsed); !error.empty()) {
    return UsageError(options, "guest import: " + error, out, err);
  }
  // DESIGN.md section 8's name rule: the domain's name becomes the package's, and the
  // driver finds the guest by it.
  if (!IsValidName(parsed.domain)) {
    return Refuse(options,
                  "the domain name \"" + parsed.domain +
                      "\" is not a valid package name (letters, digits, '_', '.', '-'; "
                      "starting with a letter or digit); rename the domain first",
                  out, err);
  }
  if (parsed.dir.empty()) parsed.dir = parsed.domain;
  std::error_code error;
  if (fs::exists(fs::symlink_status(parsed.dir, error))) {
    return Refuse(options, parsed.dir + " exists already; refusing to overwrite it", out, err);
  }
  const auto [status, xml] = DumpXml(parsed.domain);
  if (status != 0) {
    std::string message = xml;
    while (!message.empty() && message.back() == '\n') message.pop_back();
    std::replace(message.begin(), message.end(), '\n', ' ');
    return Refuse(options, "virsh dumpxml " + parsed.domain + " failed: " + message, out, err);
  }
  Guest guest;
  if (const std::string cause = MapGuest(xml, guest); !cause.empty()) {
    return Refuse(options, cause, out, err);
  }
  const fs::path dir(parsed.dir);
  constexpr fs::perms kScript = fs::perms::owner_all | fs::perms::group_read |
                                fs::perms::group_exec | fs::perms::others_read |
                                fs::perms::others_exec;
  constexpr fs::perms kFile = fs::perms::owner_read | fs::perms::owner_write |
                              fs::perms::group_read | fs::perms::others_read;
  if (!fs::create_directories(dir, error) || error ||
      !WriteTextFile(dir / "domain.xml", xml, kFile) ||
      !WriteTextFile(dir / "package.yaml", PackageYaml(parsed, guest), kFile) ||
      !WriteTextFile(dir / "run.sh", kRunScript, kScript) ||
      !WriteTextFile(dir / "halt.sh", kHaltScript, kScript)) {
    return Refuse(options, "cannot write the package folder " + parsed.dir, out, err);
  }
  if (options.output == OutputFormat::kJson) {
    JsonWriter json;
    json.BeginObject().Key("package").String(parsed.domain).Key("folder").String(parsed.dir);
    json.Key("warnings").BeginArray();
    for (const std::string& warning : guest.warnings) json.String(warning);
    json.EndArray().EndObject();
    out << json.str() << "\n";
    return kExitOk;
  }
  for (const std::string& warning : guest.warnings) {
    err << "pkgctl: guest import: warning: " << warning << "\n";
  }
  out << "Wrote package " << parsed.domain << " to " << parsed.dir << "/ (" << guest.vcpus
      << " vCPUs, " << guest.memory_mib << " MiB, " << guest.storage.size() << " disks, "
      << guest.networks.size() << " networks, " << guest.devices.size() << " devices).\n"
      << "Next: add it to the cluster file's packages, check it with pkgctl config check,\n"
      << "undefine the domain (virsh undefine " << parsed.domain
      << ": the cluster starts it from now on) and apply the configuration.\n";
  return kExitOk;
}

}  // namespace

int RunGuest(const GlobalOptions& options, const std::vector<std::string>& args, std::ostream& out,
             std::ostream& err) {
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    out << kGuestHelp;
    return args.empty() ? kExitUsage : kExitOk;
  }
  if (args[0] != "import") {
    return UsageError(options,
                      "guest: unknown subcommand \"" + args[0] + "\" (see pkgctl guest --help)",
                      out, err);
  }
  for (const std::string& arg : args) {
    if (arg == "-h" || arg == "--help") {
      out << kGuestHelp;
      return kExitOk;
    }
  }
  return RunImport(options, args, out, err);
}

}  // namespace cmcl::pkgctl
