#include "tests/sim/sim_disk.h"

#include <utility>

#include "cmcld/core/common/check.h"

namespace cmcl::sim {

void SimDisk::Format(const raft::PersistedState& initial) {
  file_ = storage::EncodeCheckpointRecord(initial);
  synced_ = file_.size();
  unsynced_.clear();
  durable_ = initial;
}

void SimDisk::Write(const raft::Persist& persist) {
  CMCL_CHECK(unsynced_.empty() || unsynced_.back().persist.id + 1 == persist.id)
      << "persist ids must be consecutive";
  file_ += storage::EncodePersistRecord(persist);
  unsynced_.push_back(Unsynced{.persist = persist, .end = file_.size()});
}

void SimDisk::Sync(uint64_t up_to) {
  while (!unsynced_.empty() && unsynced_.front().persist.id <= up_to) {
    raft::ApplyPersist(unsynced_.front().persist, durable_);
    synced_ = unsynced_.front().end;
    unsynced_.pop_front();
  }
  if (durable_.snapshot && durable_.snapshot->last_index > checkpointed_snapshot_) {
    Checkpoint();
  }
}

void SimDisk::Checkpoint() {
  // Write-new-file-then-rename: atomic, so a crash sees the old or the new file whole.
  std::string file = storage::EncodeCheckpointRecord(durable_);
  const uint64_t shift = file.size();
  file += file_.substr(synced_);
  for (Unsynced& pending : unsynced_) {
    pending.end = pending.end - synced_ + shift;
  }
  file_ = std::move(file);
  synced_ = shift;
  checkpointed_snapshot_ = durable_.snapshot->last_index;
}

std::string SimDisk::Crash(Rng& rng) {
  const uint64_t unsynced_bytes = file_.size() - synced_;
  const size_t lost_writes = unsynced_.size();
  unsynced_.clear();
  if (unsynced_bytes > 0 && rng.Chance(1, 3)) {
    // Some pages made it: any prefix of the unsynced bytes, often ending mid-record.
    const uint64_t kept = rng.Uniform(unsynced_bytes + 1);
    file_.resize(synced_ + kept);
    return std::to_string(lost_writes) + " unsynced writes; " + std::to_string(kept) + " of " +
           std::to_string(unsynced_bytes) + " unsynced bytes reached the disk";
  }
  file_.resize(synced_);
  if (rng.Chance(1, 6)) {
    const auto garbage = static_cast<uint64_t>(rng.Between(1, 64));
    for (uint64_t i = 0; i < garbage; ++i) {
      file_.push_back(static_cast<char>(rng.Uniform(256)));
    }
    return std::to_string(lost_writes) + " unsynced writes lost; " + std::to_string(garbage) +
           " bytes of garbage at the end";
  }
  return std::to_string(lost_writes) + " unsynced writes lost";
}

Result<storage::RecoveredRaftLog> SimDisk::Recover() {
  Result<storage::RecoveredRaftLog> recovered = storage::RecoverRaftLog(file_);
  if (!recovered.ok()) {
    return recovered;
  }
  file_.resize(recovered->valid_length);
  synced_ = file_.size();
  durable_ = recovered->state;
  checkpointed_snapshot_ = raft::LogIndex(0);
  return recovered;
}

}  // namespace cmcl::sim
