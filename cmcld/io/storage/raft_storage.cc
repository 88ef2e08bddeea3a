#include "cmcld/io/storage/raft_storage.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstring>
#include <utility>

#include "cmcld/core/common/check.h"
#include "cmcld/core/storage/raft_records.h"
#include "cmcld/io/storage/posix_file.h"
#include "cmcld/io/storage/state_dir.h"

namespace cmcl::io {

using storage_internal::ErrnoStatus;
using storage_internal::WriteAllAt;

namespace {

constexpr char kLogName[] = "raft.log";

}  // namespace

// Threads: Submit, stalled and the destructor run on the caller's (io) thread; Run and
// everything below it on the storage thread. The queue and `stopping` are shared under
// `mutex`; `stalled` is atomic; the file, its length and `state` are the storage thread's
// alone once it starts.
struct RaftStorage::Impl {
  Impl(boost::asio::io_context& io_context, const StateDir& dir, Options opts, DurableFn fn)
      : io(io_context),
        dir_path(dir.path()),
        file(dir.Path(kLogName)),
        options(std::move(opts)),
        on_durable(std::make_shared<const DurableFn>(std::move(fn))) {}

  void Run();
  bool WriteBatch(std::deque<raft::Persist>& batch);
  // Runs `attempt` until it returns 0, waiting retry_interval between failures; false if
  // told to stop while failing. Logs the start and the end of a stall, once each.
  template <typename Attempt>
  bool UntilDurable(Attempt attempt);
  int TryAppend(std::string_view bytes);
  int TryRewrite(std::string_view bytes);
  int Inject(IoStep step, size_t bytes) const {
    return options.fail_io_for_test ? options.fail_io_for_test(step, bytes) : 0;
  }
  // Writes `bytes` at `offset`, or half of them and an injected errno.
  int Write(int to, std::string_view bytes, uint64_t offset) const;
  void ReportDurable(uint64_t id) {
    boost::asio::post(io, [fn = on_durable, id] { (*fn)(id); });
  }

  boost::asio::io_context& io;
  const std::string dir_path;
  const std::string file;
  const Options options;
  const std::shared_ptr<const DurableFn> on_durable;

  int fd = -1;
  uint64_t durable_length = 0;
  const char* failed_step = "";  // What the last failed attempt could not do, for the log.
  raft::PersistedState state;    // After every persist written, for compaction.

  std::mutex mutex;
  std::condition_variable wake;
  std::deque<raft::Persist> queue;
  bool stopping = false;
  uint64_t last_submitted = 0;  // Caller's thread only.
  std::atomic<bool> stalled{false};
  std::thread thread;
};

void RaftStorage::Impl::Run() {
  while (true) {
    std::deque<raft::Persist> batch;
    {
      std::unique_lock lock(mutex);
      wake.wait(lock, [&] { return stopping || !queue.empty(); });
      if (queue.empty()) return;
      batch.swap(queue);  // Everything queued during the last fsync: one group commit.
    }
    if (!WriteBatch(batch)) return;
  }
}

bool RaftStorage::Impl::WriteBatch(std::deque<raft::Persist>& batch) {
  bool compacts = false;
  for (const raft::Persist& persist : batch) {
    raft::ApplyPersist(persist, state);
    compacts = compacts || persist.snapshot.has_value();
  }
  if (compacts) {
    // The whole state after the batch replaces the file: the snapshot dropped the entries
    // the old records hold, and the rest of the batch is in the checkpoint too.
    const std::string bytes = storage::EncodeCheckpointRecord(state);
    if (!UntilDurable([&] { return TryRewrite(bytes); })) return false;
    ReportDurable(batch.back().id);
    return true;
  }
  std::string buffer;
  for (size_t i = 0; i < batch.size(); ++i) {
    buffer += storage::EncodePersistRecord(batch[i]);
    if (i + 1 < batch.size() && buffer.size() < options.group_commit_bytes_max) continue;
    if (!UntilDurable([&] { return TryAppend(buffer); })) return false;
    ReportDurable(batch[i].id);
    buffer.clear();
  }
  return true;
}

template <typename Attempt>
bool RaftStorage::Impl::UntilDurable(Attempt attempt) {
  uint64_t failures = 0;
  while (true) {
    const int err = attempt();
    if (err == 0) break;
    if (failures++ == 0) {
      stalled = true;
      spdlog::error("state dir {}: cannot {}: {}; not acknowledging until writes succeed", dir_path,
                    failed_step, std::strerror(err));
    }
    std::unique_lock lock(mutex);
    if (wake.wait_for(lock, options.retry_interval, [&] { return stopping; })) {
      spdlog::warn("state dir {}: stopping with {} unwritten; none of it was acknowledged",
                   dir_path, kLogName);
      return false;
    }
  }
  if (failures > 0) {
    stalled = false;
    spdlog::info("state dir {}: {} writes succeed again after {} failed attempts; acknowledging",
                 dir_path, kLogName, failures);
  }
  return true;
}

int RaftStorage::Impl::Write(int to, std::string_view bytes, uint64_t offset) const {
  const int injected = Inject(IoStep::kWrite, bytes.size());
  if (injected == 0) return WriteAllAt(to, bytes, offset);
  (void)WriteAllAt(to, bytes.substr(0, bytes.size() / 2), offset);
  return injected;
}

// Append at the durable end, then fdatasync. On failure the file is cut back to its durable
// length, so the retry rewrites the same bytes: a retried fdatasync alone could report
// success for pages the kernel dropped after the first failure (Linux marks them clean).
int RaftStorage::Impl::TryAppend(std::string_view bytes) {
  failed_step = "write raft.log";
  int err = Write(fd, bytes, durable_length);
  if (err == 0) {
    failed_step = "fdatasync raft.log";
    err = Inject(IoStep::kSync, bytes.size());
    if (err == 0 && ::fdatasync(fd) != 0) err = errno;
  }
  if (err != 0) {
    if (::ftruncate(fd, static_cast<off_t>(durable_length)) != 0) {
      const int truncate_err = errno;
      spdlog::warn("state dir {}: cannot truncate {} back to {} bytes: {}", dir_path, kLogName,
                   durable_length, std::strerror(truncate_err));
    }
    return err;
  }
  durable_length += bytes.size();
  return 0;
}

// Compaction: tmp, fsync, rename over raft.log, fsync DIR. A failure at any step starts
// over from the tmp file, also after the rename (then the old file is already gone and
// the directory fsync is what is missing).
int RaftStorage::Impl::TryRewrite(std::string_view bytes) {
  const std::string tmp = file + ".tmp";
  failed_step = "create raft.log.tmp";
  const int tmp_fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (tmp_fd < 0) return errno;
  failed_step = "write raft.log.tmp";
  int err = Write(tmp_fd, bytes, 0);
  if (err == 0) {
    failed_step = "fsync raft.log.tmp";
    err = Inject(IoStep::kSync, bytes.size());
    if (err == 0 && ::fsync(tmp_fd) != 0) err = errno;
  }
  if (err == 0) {
    failed_step = "rename raft.log.tmp over raft.log";
    if (::rename(tmp.c_str(), file.c_str()) != 0) err = errno;
  }
  if (err != 0) {
    ::close(tmp_fd);
    ::unlink(tmp.c_str());
    return err;
  }
  ::close(fd);
  fd = tmp_fd;
  durable_length = bytes.size();
  failed_step = "fsync the state dir after renaming raft.log";
  return storage_internal::FsyncDir(dir_path);
}

namespace {

// The file's bytes, recovered; a torn tail is cut off the file (and fsync'ed) here.
Result<storage::RecoveredRaftLog> RecoverFile(int fd, const std::string& file) {
  std::string bytes;
  if (const int err = storage_internal::ReadAll(fd, bytes); err != 0) {
    return ErrnoStatus("raft log " + file + ": cannot read", err);
  }
  Result<storage::RecoveredRaftLog> recovered = storage::RecoverRaftLog(bytes);
  if (!recovered.ok()) {
    return Status::FailedPrecondition("raft log " + file + ": " + recovered.status().message());
  }
  if (recovered->valid_length < bytes.size()) {
    if (::ftruncate(fd, static_cast<off_t>(recovered->valid_length)) != 0 || ::fsync(fd) != 0) {
      const int err = errno;
      return ErrnoStatus("raft log " + file + ": cannot truncate its torn tail", err);
    }
    spdlog::warn("raft log {}: {}", file, recovered->dropped_reason);
  }
  return recovered;
}

}  // namespace

Result<std::unique_ptr<RaftStorage>> RaftStorage::Open(boost::asio::io_context& io,
                                                       const StateDir& dir,
                                                       const raft::HardState& initial,
                                                       Options options, DurableFn on_durable) {
  CMCL_CHECK(initial.cluster_id == dir.cluster_id() && initial.node_id == dir.node_id())
      << "the initial hard state must carry the state dir's identity";
  std::unique_ptr<RaftStorage> storage(new RaftStorage());
  storage->impl_ = std::make_unique<Impl>(io, dir, std::move(options), std::move(on_durable));
  Impl& impl = *storage->impl_;
  ::unlink((impl.file + ".tmp").c_str());  // A compaction a crash cut short; raft.log stands.
  impl.fd = ::open(impl.file.c_str(), O_RDWR | O_CLOEXEC);
  if (impl.fd < 0 && errno == ENOENT) {
    const raft::PersistedState fresh{.hard_state = initial, .snapshot = {}, .entries = {}};
    Status created = storage_internal::WriteFileAtomically(impl.dir_path, kLogName,
                                                           storage::EncodeCheckpointRecord(fresh));
    if (!created.ok()) return Status::FailedPrecondition("raft log: " + created.message());
    impl.fd = ::open(impl.file.c_str(), O_RDWR | O_CLOEXEC);
  }
  if (impl.fd < 0) {
    const int err = errno;  // Before the message allocates.
    return ErrnoStatus("raft log " + impl.file + ": cannot open", err);
  }
  Result<storage::RecoveredRaftLog> recovered = RecoverFile(impl.fd, impl.file);
  if (!recovered.ok()) return recovered.status();
  const raft::HardState& hard = recovered->state.hard_state;
  if (hard.cluster_id != dir.cluster_id() || hard.node_id != dir.node_id()) {
    return Status::FailedPrecondition(
        "raft log " + impl.file + " belongs to cluster " + std::to_string(hard.cluster_id.value()) +
        " node_id " + std::to_string(hard.node_id.value()) + ", the identity says cluster " +
        std::to_string(dir.cluster_id().value()) + " node_id " +
        std::to_string(dir.node_id().value()));
  }
  impl.durable_length = recovered->valid_length;
  impl.state = recovered->state;
  storage->recovered_ = std::move(recovered->state);
  storage->recovery_note_ = std::move(recovered->dropped_reason);
  impl.thread = std::thread([&impl] { impl.Run(); });
  return storage;
}

RaftStorage::~RaftStorage() {
  if (!impl_) return;
  if (impl_->thread.joinable()) {
    {
      std::lock_guard lock(impl_->mutex);
      impl_->stopping = true;
    }
    impl_->wake.notify_all();
    impl_->thread.join();
  }
  if (impl_->fd >= 0) ::close(impl_->fd);
}

void RaftStorage::Submit(raft::Persist persist) {
  CMCL_CHECK(persist.id > impl_->last_submitted)
      << "persist " << persist.id << " after " << impl_->last_submitted;
  impl_->last_submitted = persist.id;
  {
    std::lock_guard lock(impl_->mutex);
    impl_->queue.push_back(std::move(persist));
  }
  impl_->wake.notify_one();
}

bool RaftStorage::stalled() const { return impl_->stalled; }

}  // namespace cmcl::io
