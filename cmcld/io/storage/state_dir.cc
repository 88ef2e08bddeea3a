#include "cmcld/io/storage/state_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <map>
#include <optional>
#include <utility>

#include "cmcld/io/storage/posix_file.h"

namespace cmcl::io {
namespace {

using storage_internal::ErrnoStatus;

constexpr char kIdentityName[] = "identity";
constexpr char kLockName[] = "lock";

struct Identity {
  uint64_t format_version = 0;
  uint64_t cluster_id = 0;
  std::string node;
  uint64_t node_id = 0;
};

std::optional<uint64_t> ParseU64(std::string_view text) {
  uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) {
    return std::nullopt;
  }
  return value;
}

std::string FormatIdentity(const Identity& identity) {
  return "format_version " + std::to_string(identity.format_version) + "\ncluster_id " +
         std::to_string(identity.cluster_id) + "\nnode " + identity.node + "\nnode_id " +
         std::to_string(identity.node_id) + "\n";
}

// "key value" lines into a map; empty on a malformed or repeated line, `error` says which.
std::map<std::string, std::string> SplitIdentity(std::string_view text, std::string& error) {
  std::map<std::string, std::string> fields;
  size_t line_number = 0;
  while (!text.empty() && error.empty()) {
    const size_t end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    ++line_number;
    const size_t space = line.find(' ');
    if (space == std::string_view::npos || space == 0 || space + 1 == line.size()) {
      error = "line " + std::to_string(line_number) + " is not \"key value\"";
    } else if (!fields.emplace(line.substr(0, space), line.substr(space + 1)).second) {
      error =
          "line " + std::to_string(line_number) + " repeats " + std::string(line.substr(0, space));
    }
  }
  return fields;
}

// The identity file's fields. A newer format_version is reported before anything else:
// its other fields may not be ours to judge.
Result<Identity> ParseIdentity(std::string_view text, const std::string& file) {
  const std::string prefix = "identity file " + file + " does not parse: ";
  std::string error;
  std::map<std::string, std::string> fields = SplitIdentity(text, error);
  if (!error.empty()) return Status::FailedPrecondition(prefix + error);
  Identity identity;
  const std::optional<uint64_t> version =
      fields.contains("format_version") ? ParseU64(fields["format_version"]) : std::nullopt;
  if (!version || *version == 0) {
    return Status::FailedPrecondition(prefix + "no valid format_version");
  }
  identity.format_version = *version;
  if (identity.format_version > kStateDirFormatVersion) return identity;
  const std::optional<uint64_t> cluster_id =
      fields.contains("cluster_id") ? ParseU64(fields["cluster_id"]) : std::nullopt;
  const std::optional<uint64_t> node_id =
      fields.contains("node_id") ? ParseU64(fields["node_id"]) : std::nullopt;
  if (!cluster_id || !node_id || !fields.contains("node") || !IsValidName(fields["node"])) {
    return Status::FailedPrecondition(prefix + "needs cluster_id, node and node_id");
  }
  if (fields.size() != 4) {
    return Status::FailedPrecondition(prefix + "unknown field");
  }
  identity.cluster_id = *cluster_id;
  identity.node = fields["node"];
  identity.node_id = *node_id;
  return identity;
}

std::string ParentOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// mkdir -p with mode 0700 for the folders it creates. Each new folder's parent is
// fsync'ed, so a crash cannot take back a folder whose contents were acknowledged.
Status MakeDirs(const std::string& path) {
  for (size_t slash = path.find('/', 1);; slash = path.find('/', slash + 1)) {
    const std::string prefix = path.substr(0, slash);
    int err = ::mkdir(prefix.c_str(), 0700) == 0 ? 0 : errno;
    if (err == 0) {
      err = storage_internal::FsyncDir(ParentOf(prefix));
    } else if (err == EEXIST) {
      err = 0;
    }
    if (err != 0) return ErrnoStatus("state dir " + path + ": cannot create " + prefix, err);
    if (slash == std::string::npos) break;
  }
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    const int err = errno;
    return ErrnoStatus("state dir " + path + ": cannot stat", err);
  }
  if (!S_ISDIR(info.st_mode)) {
    return Status::FailedPrecondition("state dir " + path + " is not a directory");
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<StateDir>> StateDir::Open(const std::string& path, const NodeName& node,
                                                 raft::ClusterId cluster_id, Rng& rng) {
  std::unique_ptr<StateDir> dir(new StateDir());
  dir->path_ = path;
  while (dir->path_.size() > 1 && dir->path_.back() == '/') dir->path_.pop_back();
  if (Status made = MakeDirs(dir->path_); !made.ok()) return made;
  if (Status locked = dir->Lock(); !locked.ok()) return locked;
  if (Status identified = dir->Identify(node, cluster_id, rng); !identified.ok()) {
    return identified;
  }
  return dir;
}

StateDir::~StateDir() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // Releases the flock.
}

std::string StateDir::Path(std::string_view name) const { return path_ + "/" + std::string(name); }

Status StateDir::Lock() {
  const std::string file = Path(kLockName);
  lock_fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0) {
    const int err = errno;  // Before the message allocates.
    return ErrnoStatus("state dir " + path_ + ": cannot open " + file, err);
  }
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    if (err != EWOULDBLOCK) return ErrnoStatus("state dir " + path_ + ": cannot lock " + file, err);
    std::string holder;
    (void)storage_internal::ReadAll(lock_fd_, holder);  // Best effort: only for the message.
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    const bool pid_known = ParseU64(holder).has_value();
    return Status::FailedPrecondition("state dir " + path_ + " is locked by " +
                                      (pid_known ? "pid " + holder : "another process") +
                                      " (another cmcld)");
  }
  // The pid is for the message above only: no fsync, a stale pid after a crash is harmless
  // because the lock, not the file, decides.
  const std::string pid = std::to_string(::getpid()) + "\n";
  const int err =
      ::ftruncate(lock_fd_, 0) == 0 ? storage_internal::WriteAllAt(lock_fd_, pid, 0) : errno;
  if (err != 0) return ErrnoStatus("state dir " + path_ + ": cannot write " + file, err);
  return Status::Ok();
}

Status StateDir::Identify(const NodeName& node, raft::ClusterId cluster_id, Rng& rng) {
  const std::string file = Path(kIdentityName);
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) return CreateIdentity(node, cluster_id, rng);
  if (fd < 0) {
    const int err = errno;  // Before the message allocates.
    return ErrnoStatus("state dir " + path_ + ": cannot open " + file, err);
  }
  std::string text;
  const int err = storage_internal::ReadAll(fd, text);
  ::close(fd);
  if (err != 0) return ErrnoStatus("state dir " + path_ + ": cannot read " + file, err);
  Result<Identity> identity = ParseIdentity(text, file);
  if (!identity.ok())
    return Status::FailedPrecondition("state dir " + path_ + ": " + identity.status().message());
  if (identity->format_version > kStateDirFormatVersion) {
    return Status::FailedPrecondition(
        "state dir " + path_ + " has format_version " + std::to_string(identity->format_version) +
        ", newer than this cmcld's " + std::to_string(kStateDirFormatVersion));
  }
  if (identity->cluster_id != cluster_id.value()) {
    return Status::FailedPrecondition(
        "state dir " + path_ + " belongs to cluster " + std::to_string(identity->cluster_id) +
        ", this configuration is cluster " + std::to_string(cluster_id.value()));
  }
  if (identity->node != node.value()) {
    return Status::FailedPrecondition("state dir " + path_ + " belongs to node " + identity->node +
                                      ", this node is " + node.value());
  }
  cluster_id_ = cluster_id;
  node_id_ = raft::NodeId(identity->node_id);
  return Status::Ok();
}

Status StateDir::CreateIdentity(const NodeName& node, raft::ClusterId cluster_id, Rng& rng) {
  // A raft log without an identity is not an empty state_dir: bootstrapping over it would
  // give the log a node_id it was never written with.
  if (::access(Path("raft.log").c_str(), F_OK) == 0) {
    return Status::FailedPrecondition("state dir " + path_ + " has a raft.log but no identity");
  }
  Identity identity;
  identity.format_version = kStateDirFormatVersion;
  identity.cluster_id = cluster_id.value();
  identity.node = node.value();
  while (identity.node_id == 0) identity.node_id = rng.Next();  // 0 reads as "unset".
  Status written =
      storage_internal::WriteFileAtomically(path_, kIdentityName, FormatIdentity(identity));
  if (!written.ok()) {
    const std::string message = "state dir " + path_ + ": " + written.message();
    return written.code() == StatusCode::kPermissionDenied ? Status::PermissionDenied(message)
                                                           : Status::FailedPrecondition(message);
  }
  cluster_id_ = cluster_id;
  node_id_ = raft::NodeId(identity.node_id);
  created_ = true;
  return Status::Ok();
}

}  // namespace cmcl::io
