// The configuration versions on disk (config_versions.h).
#include "cmcld/io/runtime/config_versions.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <system_error>
#include <utility>
#include <vector>

#include "cmcld/io/bundle/bundle.h"
#include "cmcld/io/bundle/bundle_check.h"
#include "cmcld/io/runtime/aside.h"
#include "cmcld/io/runtime/bootstrap_bundle.h"

namespace cmcl::io {
namespace {

namespace fs = std::filesystem;

// N for a folder name "vN" (N >= 1, digits only), else nullopt.
std::optional<uint64_t> VersionNumber(std::string_view name) {
  if (name.size() < 2 || name[0] != 'v') return std::nullopt;
  uint64_t number = 0;
  const char* end = name.data() + name.size();
  const auto [at, error] = std::from_chars(name.data() + 1, end, number);
  if (error != std::errc() || at != end || number == 0) return std::nullopt;
  return number;
}

}  // namespace

ConfigVersions::ConfigVersions(std::string state_dir, std::string key_file)
    : state_dir_(fs::path(std::move(state_dir)).lexically_normal().string()),
      key_file_(std::move(key_file)) {
  while (state_dir_.size() > 1 && state_dir_.back() == '/') state_dir_.pop_back();
}

std::string ConfigVersions::Dir(uint64_t number) const {
  return state_dir_ + "/config/v" + std::to_string(number);
}

Status ConfigVersions::StartWithBootstrap(
    std::shared_ptr<const cmcl::config::ClusterConfig> own) {
  // Writing v1 reads every package folder, and loading it parses them again: aside, and
  // the configuration kept is a copy made here (runtime/aside.h).
  struct Bootstrap {
    Result<std::string> dir;
    Result<cmcl::config::ClusterConfig> loaded;
  };
  Bootstrap bootstrap = RunAside([&]() -> Bootstrap {
    Result<std::string> dir = MaterializeBootstrapBundle(*own, state_dir_);
    if (!dir.ok()) return {dir, dir.status()};
    // Scripts and package settings come from the same files: those of config/v1, which
    // may be an earlier start's (MaterializeBootstrapBundle warned about the difference).
    return {dir, LoadBundleConfig(*dir, key_file_)};
  });
  if (!bootstrap.dir.ok()) return bootstrap.dir.status();
  const std::string& dir = *bootstrap.dir;
  const Result<cmcl::config::ClusterConfig>& loaded = bootstrap.loaded;
  std::shared_ptr<const cmcl::config::ClusterConfig> config = own;
  std::optional<std::string> fixed;
  if (loaded.ok()) fixed = FixedSettingChange(*own, *loaded);
  if (loaded.ok() && !fixed) {
    config = std::make_shared<const cmcl::config::ClusterConfig>(*loaded);
  } else {
    spdlog::warn("config/v1 {}; packages are taken from CLUSTER_YAML",
                 loaded.ok() ? "does not fit CLUSTER_YAML: " + *fixed
                             : "does not load: " + loaded.status().message());
  }
  versions_[1] = std::make_shared<const Version>(
      Version{.number = 1, .dir = dir, .config = std::move(config)});
  current_ = 1;
  Delete(true);  // Leftovers of an earlier run's interrupted writes; nothing writes now.
  return Status::Ok();
}

Result<const ConfigVersions::Version*> ConfigVersions::Apply(uint64_t number,
                                                              std::string_view bytes,
                                                              const std::string& hash) {
  Result<Version> version = Prepare(number, bytes, hash, state_dir_, key_file_);
  if (!version.ok()) return version.status();
  return Install(std::move(version).value());
}

Result<ConfigVersions::Version> ConfigVersions::Prepare(uint64_t number, std::string_view bytes,
                                                        const std::string& hash,
                                                        const std::string& state_dir,
                                                        const std::string& key_file) {
  if (number < 2) return Status::InvalidArgument("version 1 is the bootstrap copy");
  if (BundleHash(bytes) != hash) {
    return Status::FailedPrecondition("the bundle of version " + std::to_string(number) +
                                      " hashes to " + BundleHash(bytes) + ", not to " + hash);
  }
  Result<Bundle> bundle = DecodeBundle(bytes);
  if (!bundle.ok()) return bundle.status();
  Result<std::string> dir = MaterializeBundle(*bundle, number, state_dir);
  const std::string folder = state_dir + "/config/v" + std::to_string(number);
  if (!dir.ok() && fs::exists(folder)) {
    // A vN of another history of this state_dir (never applied here: nothing started
    // from it) holds the name: the applied bytes win.
    spdlog::warn("{} differs from the applied configuration version {}; replacing it", folder,
                 number);
    std::error_code error;
    fs::remove_all(folder, error);
    dir = MaterializeBundle(*bundle, number, state_dir);
  }
  if (!dir.ok()) return dir.status();
  Result<cmcl::config::ClusterConfig> loaded = LoadBundleConfig(*dir, key_file);
  if (!loaded.ok()) return loaded.status();
  return Version{
      .number = number,
      .dir = *dir,
      .config = std::make_shared<const cmcl::config::ClusterConfig>(std::move(loaded).value())};
}

const ConfigVersions::Version* ConfigVersions::Install(Version version) {
  const uint64_t number = version.number;
  // Prepare ran on another thread: the configuration kept is a copy made on this one
  // (runtime/aside.h).
  version.config = std::make_shared<const cmcl::config::ClusterConfig>(*version.config);
  versions_[number] = std::make_shared<const Version>(std::move(version));
  current_ = number;
  return versions_[number].get();
}

Result<const ConfigVersions::Version*> ConfigVersions::Get(uint64_t number) {
  if (const auto it = versions_.find(number); it != versions_.end()) return it->second.get();
  const std::string dir = Dir(number);
  std::error_code error;
  if (!fs::is_directory(dir, error)) {
    return Status::NotFound("configuration version " + std::to_string(number) + " is not in " +
                            state_dir_ + "/config");
  }
  // Aside, and the configuration kept is a copy made here (runtime/aside.h).
  Result<cmcl::config::ClusterConfig> loaded =
      RunAside([&] { return LoadBundleConfig(dir, key_file_); });
  if (!loaded.ok()) return loaded.status();
  auto version = std::make_shared<const Version>(
      Version{.number = number,
              .dir = dir,
              .config = std::make_shared<const cmcl::config::ClusterConfig>(loaded.value())});
  versions_[number] = version;
  return version.get();
}

std::optional<uint64_t> ConfigVersions::VersionOf(const std::string& path) const {
  const std::string normal = fs::path(path).lexically_normal().string();
  const std::string prefix = state_dir_ + "/config/";
  if (normal.rfind(prefix, 0) != 0) return std::nullopt;
  const std::string rest = normal.substr(prefix.size());
  return VersionNumber(std::string_view(rest).substr(0, rest.find('/')));
}

void ConfigVersions::AdoptGuests(const std::map<PackageName, std::string>& work_dirs) {
  for (const auto& [package, work_dir] : work_dirs) {
    guests_[package] = VersionOf(work_dir).value_or(current_);
  }
}

const ConfigVersions::Version& ConfigVersions::Register(const PackageName& package,
                                                        bool running) {
  const auto it = guests_.find(package);
  if (!running || it == guests_.end()) {
    guests_[package] = current_;
    starting_.insert(package);
  }
  return ForGuest(package);
}

const ConfigVersions::Version& ConfigVersions::ForGuest(const PackageName& package) {
  const auto it = guests_.find(package);
  if (it == guests_.end() || it->second == current_) return current();
  Result<const Version*> version = Get(it->second);
  if (version.ok()) return **version;
  spdlog::error("configuration version {} that started {} cannot be loaded ({}); its scripts "
                "run from version {}",
                it->second, package.value(), version.status().message(), current_);
  it->second = current_;
  return current();
}

void ConfigVersions::Unregister(const PackageName& package) {
  starting_.erase(package);
  if (guests_.erase(package) > 0) Prune();
}

void ConfigVersions::Forget(const std::function<bool(const PackageName&)>& runs) {
  // It runs after every input, and asking `runs` for each of 300 guests (a map lookup by
  // name in the core each) was a tenth of a 1,000-package node's CPU during a move. While
  // nothing waits to start and every guest is of the current version, forgetting one
  // frees no folder, and an entry left for a stopped guest says what its absence says
  // (the current version): it is dropped by Unregister, or here once a newer version is
  // applied and it counts.
  const bool all_current = std::all_of(guests_.begin(), guests_.end(), [this](const auto& guest) {
    return guest.second == current_;
  });
  if (starting_.empty() && all_current) return;
  bool forgot = false;
  for (auto it = guests_.begin(); it != guests_.end();) {
    if (runs(it->first)) {
      starting_.erase(it->first);
      ++it;
    } else if (starting_.contains(it->first)) {
      ++it;
    } else {
      it = guests_.erase(it);
      forgot = true;
    }
  }
  if (forgot) Prune();
}

void ConfigVersions::Prune() { Delete(false); }

void ConfigVersions::Delete(bool leftovers) {
  std::set<uint64_t> in_use;
  for (const auto& [package, number] : guests_) in_use.insert(number);
  const fs::path root = fs::path(state_dir_) / "config";
  std::error_code error;
  std::vector<fs::path> doomed;
  for (fs::directory_iterator it(root, error), end; !error && it != end; it.increment(error)) {
    const std::string name = it->path().filename().string();
    const std::optional<uint64_t> number = VersionNumber(name);
    const bool leftover = leftovers && (name.rfind("incoming-", 0) == 0 ||
                                        (name.size() > 4 && name.ends_with(".tmp")));
    if (leftover || (number && *number < current_ && !in_use.contains(*number))) {
      doomed.push_back(it->path());
      if (number) versions_.erase(*number);
    }
  }
  for (const fs::path& path : doomed) {
    fs::remove_all(path, error);
    if (error) {
      spdlog::warn("cannot remove {}: {}", path.string(), error.message());
    } else {
      spdlog::info("removed {}: not the applied version, no guest here runs from it",
                   path.string());
    }
  }
}

}  // namespace cmcl::io
