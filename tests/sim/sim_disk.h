// SimDisk: a node's raft log file as bytes, with fsync and crash semantics (DESIGN.md
// section 3; issue 5 item 2).
//
// Every Persist is appended as one storage::EncodePersistRecord record; Sync(id) is the
// fsync that makes every byte up to the end of persist `id` durable, and is what the
// simulator reports to the core as PersistCompleted(id). Crash() keeps the synced prefix
// and, drawn from the Rng, also some of the unsynced bytes (a whole-record prefix and
// possibly a torn part of the next record: the kernel wrote some pages) or a few bytes
// of garbage; Recover() then runs the core's storage::RecoverRaftLog on the bytes, the
// path io/storage takes on a real state_dir, and truncates the file to what it kept.
//
// After a sync that made a newer snapshot durable the file is rewritten as one
// checkpoint record followed by the still unsynced bytes, as a real writer would do by
// writing a new file and renaming it over the old one; so the file stays small.
//
// durable() is the state the synced prefix holds, kept in step for the StateChecker's
// persistence contract (what survives every crash, whatever the draw).
#pragma once

#include <cstdint>
#include <deque>
#include <string>

#include "cmcld/core/common/rng.h"
#include "cmcld/core/common/time.h"
#include "cmcld/core/raft/actions.h"
#include "cmcld/core/storage/raft_records.h"

namespace cmcl::sim {

class SimDisk {
 public:
  // A fresh state_dir: one synced checkpoint record of `initial` (identity, term 0).
  void Format(const raft::PersistedState& initial);
  // Appends the persist's record; not durable until Sync. REQUIRES: ids consecutive.
  void Write(const raft::Persist& persist);
  // fsync through the end of persist `up_to`.
  void Sync(uint64_t up_to);
  // Power loss: returns what happened to the unsynced bytes, for the trace.
  std::string Crash(Rng& rng);
  // Reads the file back as a restarting node does; truncates it to the valid prefix.
  // A recovery error is returned (the simulator reports it as a violation).
  Result<storage::RecoveredRaftLog> Recover();

  const raft::PersistedState& durable() const { return durable_; }
  size_t unsynced_writes() const { return unsynced_.size(); }
  uint64_t file_bytes() const { return file_.size(); }
  Time last_completion;  // Completions are in order: the simulator schedules after it.

 private:
  struct Unsynced {
    raft::Persist persist;
    uint64_t end = 0;  // File offset just past its record.
  };
  void Checkpoint();

  std::string file_;
  uint64_t synced_ = 0;
  std::deque<Unsynced> unsynced_;
  raft::PersistedState durable_;
  raft::LogIndex checkpointed_snapshot_;
};

}  // namespace cmcl::sim
