// BuildBundle: the cluster file re-emitted so that it loads from inside the bundle, every
// package folder and every inventory file (bundle.h).
//
// The cluster file is parsed with yaml-cpp and emitted again with these values replaced:
// `packages:` by packages/NAME, each `inventory_file:` by inventories/NODE.yaml, the
// key file by a placeholder (LoadBundleConfig supplies the node's own), and the paths
// that stay outside the bundle (driver_dir, state_dir, TLS files) by the absolute paths
// they resolved to, as they no longer sit next to the cluster file. Comments and layout
// do not survive; the emitted text depends only on the parsed document, so it is the
// same on every node that has the same cluster file.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "cmcld/core/config/validate.h"
#include "cmcld/io/bundle/bundle.h"
#include "cmcld/io/bundle/bundle_files.h"

namespace cmcl::io {
namespace {

namespace fs = std::filesystem;
using bundle_internal::FormatBytes;
using bundle_internal::SourceFile;
using cmcl::config::ClusterConfig;
using cmcl::config::PackageSpec;

// Where the key file would be named; any path given here is replaced when loading.
constexpr char kKeyFilePlaceholder[] = "per-node key file, not in the bundle";

bool HasKey(const YAML::Node& map, const char* key) { return map.IsMap() && map[key]; }

// Replaces `key`'s value in `map` when the file wrote one.
void ReplaceIfWritten(YAML::Node map, const char* key, const std::string& value) {
  if (HasKey(map, key)) map[key] = value;
}

void RewriteNodes(YAML::Node nodes, const ClusterConfig& config) {
  if (!nodes.IsSequence()) return;
  for (YAML::Node node : nodes) {
    if (!HasKey(node, "name") || !node["name"].IsScalar()) continue;
    const cmcl::config::NodeSpec* spec = config.FindNode(NodeName(node["name"].Scalar()));
    if (spec == nullptr) continue;
    ReplaceIfWritten(node, "inventory_file", "inventories/" + spec->name.value() + ".yaml");
    ReplaceIfWritten(node, "state_dir", spec->state_dir);
  }
}

Result<std::string> BundleClusterFile(const ClusterConfig& config) {
  try {
    YAML::Node root = YAML::LoadFile(config.file);
    if (!root.IsMap()) {
      return Status::InvalidArgument("bundle: " + config.file + " is not a YAML mapping");
    }
    if (HasKey(root, "packages") || !config.packages.empty()) {
      YAML::Node packages(YAML::NodeType::Sequence);
      for (const PackageSpec& package : config.packages) {
        packages.push_back("packages/" + package.name.value());
      }
      root["packages"] = packages;
    }
    ReplaceIfWritten(root, "driver_dir", config.driver_dir);
    if (HasKey(root, "security")) {
      YAML::Node security = root["security"];
      ReplaceIfWritten(security, "key_file", kKeyFilePlaceholder);
      ReplaceIfWritten(security, "ca", config.security.tls_ca.value_or(""));
      ReplaceIfWritten(security, "cert", config.security.tls_cert.value_or(""));
      ReplaceIfWritten(security, "key", config.security.tls_key.value_or(""));
    }
    if (HasKey(root, "nodes")) RewriteNodes(root["nodes"], config);
    YAML::Emitter out;
    out << root;
    if (!out.good()) {
      return Status::Internal("bundle: cannot emit " + config.file + ": " + out.GetLastError());
    }
    return std::string(out.c_str()) + "\n";
  } catch (const std::exception& error) {
    // yaml-cpp reports through exceptions; they stop here.
    return Status::InvalidArgument("bundle: cannot read " + config.file + ": " + error.what());
  }
}

// A script must be inside its package folder: only the folder travels in the bundle.
Status CheckInside(const PackageSpec& package, const char* key, const std::string& written) {
  if (written.empty()) return Status::Ok();
  const fs::path normal = fs::path(written).lexically_normal();
  if (!normal.is_absolute() && !normal.empty() && *normal.begin() != "..") return Status::Ok();
  return Status::FailedPrecondition(
      "bundle: package " + package.name.value() + ": " + key + " " + written +
      " is outside the package folder " + package.folder +
      "; scripts run from the bundle, which holds only the package folder");
}

Status CheckScripts(const PackageSpec& package) {
  for (const auto& [key, written] : {std::pair{"run_script", &package.run_script},
                                     std::pair{"halt_script", &package.halt_script}}) {
    if (Status inside = CheckInside(package, key, *written); !inside.ok()) return inside;
  }
  for (const cmcl::config::Service& service : package.services) {
    // A command naming no folder is found on PATH and an absolute one is installed
    // software; a relative path must stay inside the package folder.
    const size_t start = service.command.find_first_not_of(" \t");
    if (start == std::string::npos) continue;
    const std::string word =
        service.command.substr(start, service.command.find_first_of(" \t", start) - start);
    if (word.find('/') == std::string::npos || word.front() == '/') continue;
    if (Status inside = CheckInside(package, "service command", word); !inside.ok()) {
      return inside;
    }
  }
  return Status::Ok();
}

// Refuses a bundle past kBundleBytesMax, naming its largest files (before reading any).
Status CheckSize(const std::vector<SourceFile>& files, uint64_t fixed_bytes) {
  uint64_t total = fixed_bytes;
  for (const SourceFile& file : files) total += file.size;
  if (total <= kBundleBytesMax) return Status::Ok();
  std::vector<const SourceFile*> largest;
  for (const SourceFile& file : files) largest.push_back(&file);
  const size_t shown = std::min<size_t>(largest.size(), 3);
  std::partial_sort(largest.begin(), largest.begin() + static_cast<std::ptrdiff_t>(shown),
                    largest.end(), [](const SourceFile* a, const SourceFile* b) {
                      return a->size != b->size ? a->size > b->size : a->path < b->path;
                    });
  std::string names;
  for (size_t i = 0; i < shown; ++i) {
    names += (i == 0 ? "" : ", ") + largest[i]->source.string() + " (" +
             FormatBytes(largest[i]->size) + ")";
  }
  return Status::FailedPrecondition("bundle is " + FormatBytes(total) + "; at most " +
                                    FormatBytes(kBundleBytesMax) + ": the largest files are " +
                                    names);
}

}  // namespace

Result<Bundle> BuildBundle(const ClusterConfig& config) {
  Result<std::string> cluster_file = BundleClusterFile(config);
  if (!cluster_file.ok()) return cluster_file.status();
  std::vector<SourceFile> sources;
  for (const PackageSpec& package : config.packages) {
    if (Status scripts = CheckScripts(package); !scripts.ok()) return scripts;
    if (Status listed = bundle_internal::ListFolder(
            package.folder, "packages/" + package.name.value(), &sources);
        !listed.ok()) {
      return listed;
    }
  }
  Bundle bundle;
  bundle.files.push_back({"cluster.yaml", 0644, std::move(cluster_file).value()});
  for (const cmcl::config::NodeSpec& node : config.nodes) {
    if (node.inventory_source != cmcl::config::InventorySource::kFile) continue;
    Result<std::string> bytes = bundle_internal::ReadRegularFile(node.inventory_file);
    if (!bytes.ok()) return bytes.status();
    // An inventory is data: its mode says nothing to another node.
    bundle.files.push_back(
        {"inventories/" + node.name.value() + ".yaml", 0644, std::move(bytes).value()});
  }
  uint64_t fixed_bytes = 0;
  for (const BundleFile& file : bundle.files) fixed_bytes += file.bytes.size();
  if (Status size = CheckSize(sources, fixed_bytes); !size.ok()) return size;
  for (const SourceFile& source : sources) {
    Result<std::string> bytes = bundle_internal::ReadRegularFile(source.source);
    if (!bytes.ok()) return bytes.status();
    bundle.files.push_back({source.path, source.mode, std::move(bytes).value()});
  }
  std::sort(bundle.files.begin(), bundle.files.end(),
            [](const BundleFile& a, const BundleFile& b) { return a.path < b.path; });
  // Files that changed while being read, or names the layout does not allow.
  if (Status valid = ValidateBundle(bundle); !valid.ok()) return valid;
  return bundle;
}

}  // namespace cmcl::io
