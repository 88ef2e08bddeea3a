#include "cmcld/io/runtime/bootstrap_bundle.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <system_error>

namespace cmcl::io {
namespace {

namespace fs = std::filesystem;

Status FsError(const std::string& what, const fs::path& path, const std::error_code& error) {
  return Status::FailedPrecondition(what + " " + path.string() + ": " + error.message());
}

void SyncPath(const fs::path& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
}

// Copies `from` (a file or a folder, recursively) to `to`, keeping modes, refusing
// symlinks (a bundle must not point outside itself, DESIGN.md section 8).
Status CopyTree(const fs::path& from, const fs::path& to) {
  std::error_code error;
  const fs::file_status status = fs::symlink_status(from, error);
  if (error) {
    return FsError("cannot read", from, error);
  }
  if (fs::is_symlink(status)) {
    return Status::FailedPrecondition("bundle: " + from.string() +
                                      " is a symbolic link; package folders must hold only "
                                      "regular files and folders");
  }
  if (fs::is_directory(status)) {
    fs::create_directory(to, error);
    if (error) {
      return FsError("cannot create", to, error);
    }
    for (const fs::directory_entry& entry : fs::directory_iterator(from, error)) {
      if (Status copied = CopyTree(entry.path(), to / entry.path().filename()); !copied.ok()) {
        return copied;
      }
    }
    if (error) {
      return FsError("cannot list", from, error);
    }
  } else if (fs::is_regular_file(status)) {
    fs::copy_file(from, to, error);
    if (error) {
      return FsError("cannot copy", from, error);
    }
    SyncPath(to);
  } else {
    return Status::FailedPrecondition("bundle: " + from.string() + " is not a regular file");
  }
  fs::permissions(to, status.permissions(), error);
  return Status::Ok();
}

}  // namespace

Result<std::string> MaterializeBootstrapBundle(const cmcl::config::ClusterConfig& config,
                                               const std::string& state_dir) {
  const fs::path root = fs::path(state_dir) / "config";
  const fs::path final_dir = root / "v1";
  std::error_code error;
  if (fs::is_directory(final_dir, error)) {
    return final_dir.string();
  }
  const fs::path tmp = root / "v1.tmp";
  fs::remove_all(tmp, error);  // A crash during an earlier attempt.
  fs::create_directories(tmp / "packages", error);
  if (error) {
    return FsError("cannot create", tmp, error);
  }
  fs::copy_file(config.file, tmp / "cluster.yaml", error);
  if (error) {
    return FsError("cannot copy", config.file, error);
  }
  for (const cmcl::config::PackageSpec& package : config.packages) {
    if (Status copied = CopyTree(package.folder, tmp / "packages" / package.name.value());
        !copied.ok()) {
      return copied;
    }
  }
  SyncPath(tmp / "packages");
  SyncPath(tmp);
  fs::rename(tmp, final_dir, error);
  if (error) {
    return FsError("cannot rename", tmp, error);
  }
  SyncPath(root);
  return final_dir.string();
}

}  // namespace cmcl::io
