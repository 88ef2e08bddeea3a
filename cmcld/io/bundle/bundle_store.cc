// A bundle on disk: STATE_DIR/config/vN/ written atomically, read back, and loaded as a
// configuration with this node's key (bundle.h).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "cmcld/core/config/diagnostic.h"
#include "cmcld/io/bundle/bundle.h"
#include "cmcld/io/bundle/bundle_files.h"
#include "cmcld/io/config/load.h"

namespace cmcl::io {
namespace {

namespace fs = std::filesystem;

Status Errno(const std::string& what, const fs::path& path) {
  return Status::FailedPrecondition(what + " " + path.string() + ": " + std::strerror(errno));
}

Status SyncFolder(const fs::path& folder) {
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open", folder);
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  return synced ? Status::Ok() : Errno("cannot fsync", folder);
}

Status WriteFile(const fs::path& path, const BundleFile& file) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                        static_cast<mode_t>(file.mode));
  if (fd < 0) return Errno("cannot create", path);
  size_t written = 0;
  while (written < file.bytes.size()) {
    const ssize_t wrote = ::write(fd, file.bytes.data() + written, file.bytes.size() - written);
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote < 0) {
      const Status status = Errno("cannot write", path);
      ::close(fd);
      return status;
    }
    written += static_cast<size_t>(wrote);
  }
  // The umask may have taken bits away at creation: the bundle's mode is the mode.
  const bool ok = ::fchmod(fd, static_cast<mode_t>(file.mode)) == 0;
  const Status status = ok ? Status::Ok() : Errno("cannot chmod", path);
  ::close(fd);
  return status;
}

// Writes every file under `folder` (which exists and is empty), then makes all of it
// durable with one syncfs(2) of the file system that holds it. One fsync per file and
// per folder cost a journal commit each: 500 packages took cmcld 10 to 15 s to start on
// this machine's disk (the load test's "cmcld does not answer"), before it even started
// its guard. Linux reports writeback errors to syncfs since 5.8.
Status WriteTree(const Bundle& bundle, const fs::path& folder) {
  for (const BundleFile& file : bundle.files) {
    const fs::path path = folder / file.path;
    std::error_code error;
    fs::create_directories(path.parent_path(), error);
    if (error) {
      return Status::FailedPrecondition("cannot create " + path.parent_path().string() + ": " +
                                        error.message());
    }
    if (Status written = WriteFile(path, file); !written.ok()) return written;
  }
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open", folder);
  const bool synced = ::syncfs(fd) == 0;
  ::close(fd);
  return synced ? Status::Ok() : Errno("cannot sync the file system of", folder);
}

}  // namespace

Result<Bundle> ReadBundleDir(const std::string& dir) {
  std::vector<bundle_internal::SourceFile> sources;
  if (Status listed = bundle_internal::ListFolder(dir, "", &sources); !listed.ok()) {
    return listed;
  }
  Bundle bundle;
  uint64_t total = 0;
  for (const bundle_internal::SourceFile& source : sources) {
    total += source.size;
    if (total > kBundleBytesMax) {
      return Status::FailedPrecondition("bundle: " + dir + " holds more than " +
                                        bundle_internal::FormatBytes(kBundleBytesMax));
    }
    Result<std::string> bytes = bundle_internal::ReadRegularFile(source.source);
    if (!bytes.ok()) return bytes.status();
    bundle.files.push_back({source.path, source.mode, std::move(bytes).value()});
  }
  std::sort(bundle.files.begin(), bundle.files.end(),
            [](const BundleFile& a, const BundleFile& b) { return a.path < b.path; });
  return bundle;
}

Result<std::string> MaterializeBundle(const Bundle& bundle, uint64_t version,
                                      const std::string& state_dir) {
  if (Status valid = ValidateBundle(bundle); !valid.ok()) return valid;
  const fs::path root = fs::path(state_dir) / "config";
  const fs::path final_dir = root / ("v" + std::to_string(version));
  std::error_code error;
  if (fs::exists(final_dir, error)) {
    Result<Bundle> existing = ReadBundleDir(final_dir.string());
    if (existing.ok() && *existing == bundle) return final_dir.string();
    const std::string theirs =
        existing.ok() ? BundleHash(EncodeBundle(*existing)) : existing.status().message();
    return Status::FailedPrecondition(
        final_dir.string() + " exists and differs from configuration version " +
        std::to_string(version) + " (" + theirs + " vs bundle hash " +
        BundleHash(EncodeBundle(bundle)) + "); a version never changes");
  }
  const bool made_root = fs::create_directories(root, error);
  if (error) return Status::FailedPrecondition("cannot create " + root.string() + ": " +
                                               error.message());
  const fs::path tmp = root / ("v" + std::to_string(version) + ".tmp");
  fs::remove_all(tmp, error);  // What a crash during an earlier attempt left.
  if (error || !fs::create_directory(tmp, error) || error) {
    return Status::FailedPrecondition("cannot create " + tmp.string() + ": " + error.message());
  }
  if (Status written = WriteTree(bundle, tmp); !written.ok()) return written;
  if (::rename(tmp.c_str(), final_dir.c_str()) != 0) return Errno("cannot rename", tmp);
  if (Status synced = SyncFolder(root); !synced.ok()) return synced;
  if (made_root) {
    if (Status synced = SyncFolder(root.parent_path()); !synced.ok()) return synced;
  }
  return final_dir.string();
}

Result<cmcl::config::ClusterConfig> LoadBundleConfig(const std::string& bundle_dir,
                                                     const std::string& key_file) {
  config::LoadedConfig loaded =
      config::LoadCluster((fs::path(bundle_dir) / "cluster.yaml").string(),
                          config::LoadOptions{.key_file = key_file});
  if (loaded.ok()) {
    config::DropKeyLocations(loaded.config);
    return std::move(loaded.config);
  }
  // One line, as cmcld's startup says it: the first error, and how many more.
  const size_t errors = cmcl::config::CountErrors(loaded.diagnostics);
  for (const cmcl::config::Diagnostic& diagnostic : loaded.diagnostics) {
    if (diagnostic.severity == cmcl::config::Severity::kError) {
      return Status::InvalidArgument(
          cmcl::config::FormatDiagnostic(diagnostic) +
          (errors > 1 ? " (and " + std::to_string(errors - 1) + " more)" : ""));
    }
  }
  return Status::Internal("bundle: " + bundle_dir + " did not load, without an error");
}

}  // namespace cmcl::io
