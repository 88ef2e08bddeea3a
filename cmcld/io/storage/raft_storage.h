// RaftStorage: raft::Persist made durable on a storage thread (DESIGN.md section 2:
// "fsync runs on a storage thread and comes back as PersistCompleted"; section 3).
//
// The file DIR/raft.log is a RecordLog (core/storage/record_log.h) of raft records
// (core/storage/raft_records.h): a checkpoint record first, then one record per Persist.
// Open() recovers it with storage::RecoverRaftLog: a torn or garbage tail is truncated
// (the file is cut to valid_length and fsync'ed) and said in one warn log line; corruption
// before the tail is an error (the daemon exits 2 naming the file and offset). A missing
// file (a new state_dir) is created with a checkpoint of `initial` (identity, term 0).
//
// Submit() hands a Persist to the storage thread, which applies them strictly in order:
// append the record, fdatasync, then report. A Persist with a snapshot (compaction)
// rewrites the file instead: the whole state after it (kept in memory with
// raft::ApplyPersist) as one checkpoint record to raft.log.tmp, fsync, rename over
// raft.log, fsync DIR. `on_durable(id)` is posted onto the io_context (never called on
// the storage thread) once persist `id` and every earlier one are durable.
//
// A full or failing disk (ENOSPC, EIO, EDQUOT on write or fsync): the file is truncated
// back to its last durable length, nothing more is reported durable (so the core stops
// acknowledging: it never acknowledges what is not durable), one error log line says so
// ("state dir /x: cannot write raft.log: No space left on device; not acknowledging until
// writes succeed"), and the same write is retried every `retry_interval` until it
// succeeds (any errno is retried: the operator fixes the disk, cmcld waits); then one info
// line says it recovered. The process does not exit or crash-loop.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <boost/asio/io_context.hpp>

#include "cmcld/core/common/status.h"
#include "cmcld/core/common/time.h"
#include "cmcld/core/raft/actions.h"

namespace cmcl::io {

class StateDir;

class RaftStorage {
 public:
  // Where an injected fault strikes (Options::fail_io_for_test).
  enum class IoStep { kWrite, kSync };
  struct Options {
    // How often a failed write (full disk) is tried again.
    Duration retry_interval = std::chrono::seconds(1);
    // Group commit: the persists queued while the previous write was syncing go out as
    // one write and one fdatasync, up to this many bytes per write (a bigger backlog
    // takes several). One fsync for many persists is what keeps a busy leader's
    // throughput from being the disk's fsync rate.
    size_t group_commit_bytes_max = 4U << 20;
    // Tests only (a full disk without filling one): called on the storage thread before
    // every write (of raft.log or its compaction tmp) and every fsync with the step's
    // byte count. 0 lets the step run; an errno makes it fail with that errno, a write
    // after storing only half of its bytes, as a disk filling up mid-write does.
    std::function<int(IoStep step, size_t bytes)> fail_io_for_test;
  };
  using DurableFn = std::function<void(uint64_t persist_id)>;

  // Recovers DIR/raft.log (or creates it from `initial`) and starts the storage thread.
  // A leftover raft.log.tmp (a compaction cut by a crash) is removed. A raft.log whose
  // hard state names another cluster_id or node_id than `dir` is refused. REQUIRES:
  // `initial` carries dir's cluster_id and node_id; `io` outlives the RaftStorage.
  static Result<std::unique_ptr<RaftStorage>> Open(boost::asio::io_context& io,
                                                   const StateDir& dir,
                                                   const raft::HardState& initial,
                                                   Options options, DurableFn on_durable);
  // Stops the thread after the queued persists are written (or, while the disk fails,
  // gives up on them: they were never reported durable).
  ~RaftStorage();
  RaftStorage(const RaftStorage&) = delete;
  RaftStorage& operator=(const RaftStorage&) = delete;

  // What recovery found: the core's raft::PersistedState for Node's constructor.
  const raft::PersistedState& recovered() const { return recovered_; }
  // Empty, or what was dropped ("torn record at offset ...; truncated 129 bytes").
  const std::string& recovery_note() const { return recovery_note_; }

  // Queues `persist` (ids strictly increasing). Never blocks on the disk.
  void Submit(raft::Persist persist);
  // True while writes fail (view and metrics say so).
  bool stalled() const;

 private:
  RaftStorage() = default;
  // Implementation detail left to storage: the thread, its queue and the file.
  struct Impl;
  std::unique_ptr<Impl> impl_;
  raft::PersistedState recovered_;
  std::string recovery_note_;
};

}  // namespace cmcl::io
