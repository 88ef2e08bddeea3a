// The raft log file: Persist records encode and decode losslessly, and recovery replays
// them into the PersistedState a restarting node needs, truncating a torn tail.
#include "cmcld/core/storage/raft_records.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cmcld/core/storage/record_log.h"

namespace cmcl::storage {
namespace {

using raft::Entry;
using raft::LogIndex;
using raft::Term;

Entry Command(uint64_t term, uint64_t index, std::string payload) {
  return Entry{.term = Term(term),
               .index = LogIndex(index),
               .kind = raft::EntryKind::kCommand,
               .command = {.client_id = raft::ClientId(3), .sequence = index, .payload = payload, .revokes = {}}};
}

Entry Noop(uint64_t term, uint64_t index) {
  return Entry{
      .term = Term(term), .index = LogIndex(index), .kind = raft::EntryKind::kNoop, .command = {}};
}

raft::PersistedState Fresh() {
  return raft::PersistedState{.hard_state = {.cluster_id = raft::ClusterId(0xc1),
                                             .node_id = raft::NodeId(0xabcdef),
                                             .term = Term(0),
                                             .voted_for = std::nullopt},
                              .snapshot = std::nullopt,
                              .entries = {}};
}

raft::Persist Append(uint64_t id, uint64_t term, std::vector<Entry> entries) {
  raft::Persist persist;
  persist.id = id;
  persist.hard_state = Fresh().hard_state;
  persist.hard_state.term = Term(term);
  persist.hard_state.voted_for = NodeName("n2");
  persist.log_from = entries.empty() ? LogIndex(1) : entries.front().index;
  persist.entries = std::move(entries);
  return persist;
}

raft::Snapshot SnapshotAt(uint64_t index, uint64_t term) {
  return raft::Snapshot{
      .last_index = LogIndex(index),
      .last_term = Term(term),
      .clients = {{.client_id = raft::ClientId(3), .sequence = 4, .index = LogIndex(4)}},
      .state = std::string("state\0bytes", 11)};
}

TEST(RaftRecords, PersistWithSnapshotVoteAndEntriesRoundTrips) {
  raft::Persist persist = Append(9, 4, {Command(4, 6, "set x"), Noop(4, 7)});
  persist.snapshot = SnapshotAt(5, 3);
  persist.log_first = LogIndex(4);
  const std::string record = EncodePersistRecord(persist);

  const Result<RecoveredRecords> records = RecoverRecords(record);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->records.size(), 1u);
  const std::optional<raft::Persist> decoded = DecodePersist(records->records[0].payload);

  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->id, 9u);
  EXPECT_EQ(decoded->hard_state, persist.hard_state);
  EXPECT_EQ(decoded->snapshot, persist.snapshot);
  EXPECT_EQ(decoded->log_first, LogIndex(4));
  EXPECT_EQ(decoded->log_from, LogIndex(6));
  EXPECT_EQ(decoded->entries, persist.entries);
}

TEST(RaftRecords, CommandRevokesSurviveEncoding) {
  // L3 (DESIGN.md section 4): a restarted leader must still know which uncommitted
  // entries take something from whom.
  Entry revoking = Command(4, 6, "assign p1 to n3");
  revoking.command.revokes = {NodeName("n1"), NodeName("n2")};
  raft::Persist persist = Append(9, 4, {revoking, Command(4, 7, "no revoke")});

  const Result<RecoveredRecords> records = RecoverRecords(EncodePersistRecord(persist));
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->records.size(), 1u);
  const std::optional<raft::Persist> decoded = DecodePersist(records->records[0].payload);

  ASSERT_TRUE(decoded.has_value());
  ASSERT_EQ(decoded->entries.size(), 2u);
  EXPECT_EQ(decoded->entries[0].command.revokes,
            (std::vector<NodeName>{NodeName("n1"), NodeName("n2")}));
  EXPECT_TRUE(decoded->entries[1].command.revokes.empty());
  EXPECT_EQ(decoded->entries, persist.entries);
}

TEST(RaftRecords, CommandRevokesSurviveACheckpoint) {
  raft::PersistedState state = Fresh();
  Entry revoking = Command(1, 1, "assign");
  revoking.command.revokes = {NodeName("n3")};
  state.entries = {revoking};

  const Result<RecoveredRaftLog> recovered = RecoverRaftLog(EncodeCheckpointRecord(state));

  ASSERT_TRUE(recovered.ok()) << recovered.status().ToString();
  ASSERT_EQ(recovered->state.entries.size(), 1u);
  EXPECT_EQ(recovered->state.entries[0].command.revokes, std::vector<NodeName>{NodeName("n3")});
}

TEST(RaftRecords, RecoveryReplaysPersistsInOrderLikeApplyPersist) {
  std::string file = EncodeCheckpointRecord(Fresh());
  const std::vector<raft::Persist> persists = {
      Append(1, 1, {Noop(1, 1), Command(1, 2, "a"), Command(1, 3, "b")}),
      Append(2, 2, {Command(2, 3, "c"), Noop(2, 4)}),  // Overwrites index 3.
  };
  raft::PersistedState expected = Fresh();
  for (const raft::Persist& persist : persists) {
    file += EncodePersistRecord(persist);
    raft::ApplyPersist(persist, expected);
  }

  const Result<RecoveredRaftLog> recovered = RecoverRaftLog(file);

  ASSERT_TRUE(recovered.ok()) << recovered.status().ToString();
  EXPECT_EQ(recovered->records, 3u);
  EXPECT_EQ(recovered->state.hard_state, expected.hard_state);
  EXPECT_EQ(recovered->state.entries, expected.entries);
  ASSERT_EQ(recovered->state.entries.size(), 4u);
  EXPECT_EQ(recovered->state.entries[2].command.payload, "c");
}

TEST(RaftRecords, CheckpointRebuildsASnapshotWithItsRetainedEntries) {
  raft::PersistedState state = Fresh();
  state.hard_state.term = Term(3);
  state.snapshot = SnapshotAt(5, 3);
  state.entries = {Noop(3, 4), Noop(3, 5), Command(3, 6, "x")};

  const Result<RecoveredRaftLog> recovered = RecoverRaftLog(EncodeCheckpointRecord(state));

  ASSERT_TRUE(recovered.ok()) << recovered.status().ToString();
  EXPECT_EQ(recovered->state.snapshot, state.snapshot);
  EXPECT_EQ(recovered->state.entries, state.entries);
  EXPECT_EQ(recovered->state.hard_state, state.hard_state);
}

TEST(RaftRecords, CompactionPersistDropsTheLogBelowLogFirst) {
  std::string file = EncodeCheckpointRecord(Fresh());
  file += EncodePersistRecord(Append(1, 1, {Noop(1, 1), Noop(1, 2), Noop(1, 3), Noop(1, 4)}));
  raft::Persist compact;
  compact.id = 2;
  compact.hard_state = Append(2, 1, {}).hard_state;
  compact.snapshot = SnapshotAt(3, 1);
  compact.log_first = LogIndex(3);
  file += EncodePersistRecord(compact);

  const Result<RecoveredRaftLog> recovered = RecoverRaftLog(file);

  ASSERT_TRUE(recovered.ok()) << recovered.status().ToString();
  ASSERT_EQ(recovered->state.entries.size(), 2u);
  EXPECT_EQ(recovered->state.entries.front().index, LogIndex(3));
  EXPECT_EQ(recovered->state.snapshot->last_index, LogIndex(3));
}

TEST(RaftRecords, TornLastPersistLeavesTheStateBeforeIt) {
  std::string file = EncodeCheckpointRecord(Fresh());
  file += EncodePersistRecord(Append(1, 1, {Noop(1, 1)}));
  const size_t synced = file.size();
  const std::string last = EncodePersistRecord(Append(2, 2, {Noop(2, 2)}));
  file += last.substr(0, last.size() / 2);

  const Result<RecoveredRaftLog> recovered = RecoverRaftLog(file);

  ASSERT_TRUE(recovered.ok());
  EXPECT_EQ(recovered->valid_length, synced);
  EXPECT_EQ(recovered->state.hard_state.term, Term(1));
  EXPECT_EQ(recovered->state.entries.size(), 1u);
  EXPECT_FALSE(recovered->dropped_reason.empty());
}

TEST(RaftRecords, FileWithoutAnyValidRecordIsNotFound) {
  const std::string record = EncodeCheckpointRecord(Fresh());

  const Result<RecoveredRaftLog> recovered = RecoverRaftLog(record.substr(0, 5));

  ASSERT_FALSE(recovered.ok());
  EXPECT_EQ(recovered.status().code(), StatusCode::kNotFound);
}

TEST(RaftRecords, RecordThatChecksumsButDoesNotDecodeIsAnError) {
  std::string file = EncodeCheckpointRecord(Fresh());
  AppendRecord(kRecordTypeRaftPersist, "\x01\x02", file);

  const Result<RecoveredRaftLog> recovered = RecoverRaftLog(file);

  ASSERT_FALSE(recovered.ok());
  EXPECT_NE(recovered.status().message().find("does not decode"), std::string::npos);
}

TEST(RaftRecords, PersistsThatLeaveAGapInTheLogAreAnError) {
  std::string file = EncodeCheckpointRecord(Fresh());
  file += EncodePersistRecord(Append(1, 1, {Noop(1, 1)}));
  file += EncodePersistRecord(Append(2, 1, {Noop(1, 3)}));  // Index 2 missing.

  const Result<RecoveredRaftLog> recovered = RecoverRaftLog(file);

  ASSERT_FALSE(recovered.ok());
  EXPECT_NE(recovered.status().message().find("gap"), std::string::npos);
}

}  // namespace
}  // namespace cmcl::storage
