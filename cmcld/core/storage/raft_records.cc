#include "cmcld/core/storage/raft_records.h"

#include <utility>
#include <vector>

#include "cmcld/core/common/bytes.h"
#include "cmcld/core/storage/record_log.h"

namespace cmcl::storage {
namespace {

constexpr uint8_t kFormat = 2;  // 2: entries carry Command::revokes.

using Writer = ByteWriter;
using Reader = ByteReader;

void WriteEntry(const raft::Entry& entry, Writer& out) {
  out.U64(entry.term.value());
  out.U64(entry.index.value());
  out.U8(static_cast<uint8_t>(entry.kind));
  out.U64(entry.command.client_id.value());
  out.U64(entry.command.sequence);
  out.Str(entry.command.payload);
  out.U32(static_cast<uint32_t>(entry.command.revokes.size()));
  for (const NodeName& node : entry.command.revokes) {
    out.Str(node.value());
  }
}

raft::Entry ReadEntry(Reader& in) {
  raft::Entry entry;
  entry.term = raft::Term(in.U64());
  entry.index = raft::LogIndex(in.U64());
  const uint8_t kind = in.U8();
  entry.kind = kind == 1 ? raft::EntryKind::kCommand : raft::EntryKind::kNoop;
  if (kind > 1) {
    in.Fail();  // An unknown kind: the record is malformed.
  }
  entry.command.client_id = raft::ClientId(in.U64());
  entry.command.sequence = in.U64();
  entry.command.payload = in.Str();
  const uint32_t revokes = in.U32();
  for (uint32_t i = 0; i < revokes && in.ok(); ++i) {
    entry.command.revokes.emplace_back(in.Str());
  }
  return entry;
}

void WriteSnapshot(const raft::Snapshot& snapshot, Writer& out) {
  out.U64(snapshot.last_index.value());
  out.U64(snapshot.last_term.value());
  out.U32(static_cast<uint32_t>(snapshot.clients.size()));
  for (const raft::ClientSession& session : snapshot.clients) {
    out.U64(session.client_id.value());
    out.U64(session.sequence);
    out.U64(session.index.value());
  }
  out.Str(snapshot.state);
}

raft::Snapshot ReadSnapshot(Reader& in) {
  raft::Snapshot snapshot;
  snapshot.last_index = raft::LogIndex(in.U64());
  snapshot.last_term = raft::Term(in.U64());
  const uint32_t count = in.U32();
  for (uint32_t i = 0; i < count && in.ok(); ++i) {
    raft::ClientSession session;
    session.client_id = raft::ClientId(in.U64());
    session.sequence = in.U64();
    session.index = raft::LogIndex(in.U64());
    snapshot.clients.push_back(session);
  }
  snapshot.state = in.Str();
  return snapshot;
}

// Entries contiguous, and meeting the snapshot as actions.h describes PersistedState.
bool WellFormed(const raft::PersistedState& state) {
  const raft::LogIndex snapshot_index =
      state.snapshot ? state.snapshot->last_index : raft::LogIndex(0);
  if (state.entries.empty()) {
    return true;
  }
  for (size_t i = 1; i < state.entries.size(); ++i) {
    if (state.entries[i].index != state.entries[i - 1].index + 1) {
      return false;
    }
  }
  return state.entries.front().index <= snapshot_index + 1 &&
         state.entries.back().index >= snapshot_index &&
         (state.snapshot || state.entries.front().index == raft::LogIndex(1));
}

}  // namespace

std::string EncodePersistRecord(const raft::Persist& persist) {
  Writer out;
  out.U8(kFormat);
  out.U64(persist.id);
  const raft::HardState& hard = persist.hard_state;
  out.U64(hard.cluster_id.value());
  out.U64(hard.node_id.value());
  out.U64(hard.term.value());
  out.U8(hard.voted_for ? 1 : 0);
  if (hard.voted_for) {
    out.Str(hard.voted_for->value());
  }
  out.U8(persist.snapshot ? 1 : 0);
  if (persist.snapshot) {
    WriteSnapshot(*persist.snapshot, out);
    out.U64(persist.log_first.value());
  }
  out.U8(persist.log_from ? 1 : 0);
  if (persist.log_from) {
    out.U64(persist.log_from->value());
    out.U32(static_cast<uint32_t>(persist.entries.size()));
    for (const raft::Entry& entry : persist.entries) {
      WriteEntry(entry, out);
    }
  }
  std::string record;
  AppendRecord(kRecordTypeRaftPersist, out.Take(), record);
  return record;
}

std::string EncodeCheckpointRecord(const raft::PersistedState& state) {
  raft::Persist persist;
  persist.hard_state = state.hard_state;
  const raft::LogIndex first =
      !state.entries.empty()
          ? state.entries.front().index
          : (state.snapshot ? state.snapshot->last_index + 1 : raft::LogIndex(1));
  persist.snapshot = state.snapshot;
  persist.log_first = first;
  persist.log_from = first;
  persist.entries = state.entries;
  return EncodePersistRecord(persist);
}

std::optional<raft::Persist> DecodePersist(std::string_view payload) {
  Reader in(payload);
  if (in.U8() != kFormat) {
    return std::nullopt;
  }
  raft::Persist persist;
  persist.id = in.U64();
  persist.hard_state.cluster_id = raft::ClusterId(in.U64());
  persist.hard_state.node_id = raft::NodeId(in.U64());
  persist.hard_state.term = raft::Term(in.U64());
  if (in.Flag()) {
    persist.hard_state.voted_for = NodeName(in.Str());
  }
  if (in.Flag()) {
    persist.snapshot = ReadSnapshot(in);
    persist.log_first = raft::LogIndex(in.U64());
  }
  if (in.Flag()) {
    persist.log_from = raft::LogIndex(in.U64());
    const uint32_t count = in.U32();
    for (uint32_t i = 0; i < count && in.ok(); ++i) {
      persist.entries.push_back(ReadEntry(in));
    }
  }
  if (!in.done()) {
    return std::nullopt;
  }
  return persist;
}

Result<RecoveredRaftLog> RecoverRaftLog(std::string_view bytes) {
  Result<RecoveredRecords> records = RecoverRecords(bytes);
  if (!records.ok()) {
    return records.status();
  }
  RecoveredRaftLog recovered;
  recovered.valid_length = records->valid_length;
  recovered.dropped_bytes = records->dropped_bytes;
  recovered.dropped_reason = records->dropped_reason;
  for (const Record& record : records->records) {
    const std::string where = "raft log record " + std::to_string(recovered.records + 1);
    if (record.type != kRecordTypeRaftPersist) {
      return Status::FailedPrecondition(where + " has unknown type " + std::to_string(record.type));
    }
    const std::optional<raft::Persist> persist = DecodePersist(record.payload);
    if (!persist) {
      return Status::FailedPrecondition(where + " checksums but does not decode");
    }
    raft::ApplyPersist(*persist, recovered.state);
    if (!WellFormed(recovered.state)) {
      return Status::FailedPrecondition(where + " leaves a log with a gap");
    }
    ++recovered.records;
  }
  if (recovered.records == 0) {
    return Status::NotFound(
        "raft log holds no valid record" +
        (recovered.dropped_reason.empty() ? std::string() : " (" + recovered.dropped_reason + ")"));
  }
  return recovered;
}

}  // namespace cmcl::storage
