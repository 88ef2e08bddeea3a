// Raft records: the stable binary encoding of raft::Persist in a RecordLog, and the
// recovery of a raft::PersistedState from a log file's bytes (DESIGN.md section 3).
//
// The raft log file is a sequence of kPersist records, one per Persist in emission
// order; applying them in order with raft::ApplyPersist yields the persisted state. A
// checkpoint (EncodeCheckpoint) is one record that rebuilds a whole PersistedState: the
// first record of a new file (identity and term 0 for a fresh state_dir), and what a
// compacting writer puts at the start of a replacement file after a snapshot.
//
// Payload (little-endian; u64 fixed 8 bytes; str = u32 length + bytes; opt = u8 0/1 then
// the value): u8 format (2); u64 persist id; hard state (u64 cluster_id, u64 node_id,
// u64 term, opt str voted_for); opt snapshot (u64 last_index, u64 last_term, u32 count
// then count x (u64 client_id, u64 sequence, u64 index), str state, u64 log_first); opt
// log (u64 log_from, u32 count then count x entry); entry = u64 term, u64 index, u8 kind,
// u64 client_id, u64 sequence, str payload, u32 count then count x str revokes.
//
// Pure: the caller reads the file, calls RecoverRaftLog, truncates the file to
// valid_length and logs dropped_reason if it is not empty.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "cmcld/core/common/status.h"
#include "cmcld/core/raft/actions.h"

namespace cmcl::storage {

inline constexpr uint8_t kRecordTypeRaftPersist = 1;

// The framed record for `persist`, ready to append to the log file.
std::string EncodePersistRecord(const raft::Persist& persist);
// One record that rebuilds `state` when applied to an empty state.
std::string EncodeCheckpointRecord(const raft::PersistedState& state);

// The payload of a kPersist record; nullopt if it is malformed.
std::optional<raft::Persist> DecodePersist(std::string_view payload);

struct RecoveredRaftLog {
  raft::PersistedState state;
  uint64_t records = 0;
  uint64_t valid_length = 0;   // Truncate the file to this.
  uint64_t dropped_bytes = 0;  // The torn or garbage tail.
  std::string dropped_reason;  // Empty if nothing was dropped.
};

// Rebuilds the persisted state from a raft log file. Errors: no valid record at all
// (NotFound: not an initialized state_dir), corruption before the tail, a record that
// checksums but does not decode, or records that do not form a contiguous log
// (FailedPrecondition).
Result<RecoveredRaftLog> RecoverRaftLog(std::string_view bytes);

}  // namespace cmcl::storage
