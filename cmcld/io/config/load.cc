#include "cmcld/io/config/load.h"

#include <sys/stat.h>

#include <filesystem>

#include "cmcld/io/config/parse.h"

namespace cmcl::io::config {
namespace {

namespace fs = std::filesystem;
using namespace cmcl::config;  // NOLINT: the config model's many types.

void LoadPackage(YamlFile& cluster_file, ClusterConfig& config, size_t index) {
  const std::string& folder = config.package_folders[index];
  if (folder.empty()) return;  // Not a string: reported by ParseCluster.
  const SourceLocation& where = config.where.Of("packages[" + std::to_string(index) + "]");
  // The folder as written in the cluster file, for messages.
  const std::string& written = config.package_folders_written[index];
  if (!fs::is_directory(folder)) {
    const char* problem = fs::exists(folder) ? " is not a folder" : " does not exist";
    cluster_file.Error(where, "packages: folder " + written + problem +
                                  "; expected a package folder holding package.yaml");
    return;
  }
  const std::string file = (fs::path(folder) / "package.yaml").string();
  if (!fs::is_regular_file(file)) {
    cluster_file.Error(where, "packages: folder " + written + " has no package.yaml");
    return;
  }
  PackageSpec package;
  package.folder = folder;
  package.file = file;
  YamlFile yaml(file, DisplayPathFor(cluster_file, (fs::path(written) / "package.yaml").string()),
                cluster_file.sink());
  package.where.self = yaml.Whole();
  const auto root = yaml.Load();
  if (!root) return;
  if (!ParsePackage(yaml, *root, &package)) return;
  if (package.all_nodes) package.nodes = config.Members();
  config.packages.push_back(std::move(package));
}

ConfigFacts GatherFacts(const ClusterConfig& config) {
  ConfigFacts facts;
  auto add = [&facts](const std::string& path) {
    if (!path.empty()) facts.files.emplace(path, StatFile(path));
  };
  add(config.security.key_file);
  for (const auto* tls :
       {&config.security.tls_ca, &config.security.tls_cert, &config.security.tls_key}) {
    if (tls->has_value()) add(**tls);
  }
  for (const PackageSpec& package : config.packages) {
    if (!package.run_script.empty()) add(ResolvePath(package.folder, package.run_script));
    if (!package.halt_script.empty()) add(ResolvePath(package.folder, package.halt_script));
    for (const Service& service : package.services) add(ServiceExecutable(package, service));
    if (package.driver && !package.driver->empty() &&
        package.driver->find('/') == std::string::npos) {
      add(ResolvePath(config.driver_dir, *package.driver));
    }
  }
  return facts;
}

void LoadAll(const std::string& path, const LoadOptions& options, LoadedConfig& loaded) {
  ClusterConfig& config = loaded.config;
  config.file = fs::absolute(path).lexically_normal().string();
  config.where.self = {path, 0, 0};
  YamlFile file(config.file, path, &loaded.diagnostics);
  if (!fs::exists(config.file)) {
    file.Error(file.Whole(),
               "no such file; expected the cluster file (pkgctl config check "
               "CLUSTER_YAML, or set $CMCL_CONFIG)");
    return;
  }
  if (fs::is_directory(config.file)) {
    file.Error(file.Whole(), "is a folder; expected the cluster file in it, e.g. " +
                                 (fs::path(path) / "cluster.yaml").string());
    return;
  }
  const auto root = file.Load();
  if (!root) return;
  ParseCluster(file, *root, &config);
  if (options.key_file) {
    config.security.key_file = fs::absolute(*options.key_file).lexically_normal().string();
  }
  for (size_t i = 0; i < config.package_folders.size(); ++i) LoadPackage(file, config, i);
  const std::vector<Diagnostic> semantic = ValidateConfig(config, GatherFacts(config));
  loaded.diagnostics.insert(loaded.diagnostics.end(), semantic.begin(), semantic.end());
}

}  // namespace

FileFacts StatFile(const std::string& path) {
  FileFacts facts;
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return facts;
  facts.exists = true;
  facts.regular = S_ISREG(info.st_mode);
  facts.executable = (info.st_mode & 0111) != 0;
  facts.mode = static_cast<uint32_t>(info.st_mode & 07777);
  facts.size = static_cast<uint64_t>(info.st_size);
  return facts;
}

void DropKeyLocations(ClusterConfig& config) {
  // Swapped with an empty value, not clear()ed: the file names' buffers go as well.
  auto drop = [](KeyLocations& where) { where = KeyLocations(); };
  drop(config.where);
  drop(config.security.where);
  for (AccessRule& rule : config.access) drop(rule.where);
  for (NodeSpec& node : config.nodes) drop(node.where);
  for (PackageSpec& package : config.packages) {
    drop(package.where);
    for (Dependency& dependency : package.depends_on) drop(dependency.where);
    drop(package.guest.where);
    for (GuestStorage& storage : package.guest.storage) drop(storage.where);
    for (GuestNetwork& network : package.guest.networks) drop(network.where);
    for (GuestDevice& device : package.guest.devices) drop(device.where);
    for (Service& service : package.services) drop(service.where);
  }
}

LoadedConfig LoadCluster(const std::string& path, const LoadOptions& options) {
  LoadedConfig loaded;
  try {
    LoadAll(path, options, loaded);
  } catch (const std::exception& error) {
    // yaml-cpp and std::filesystem report through exceptions; they stop here.
    loaded.diagnostics.push_back(
        {{path, 0, 0}, Severity::kError, std::string("cannot load: ") + error.what()});
  }
  SortDiagnostics(loaded.diagnostics);
  return loaded;
}

}  // namespace cmcl::io::config
