// RaftStorage against a real file: durability across reopen, the order of on_durable,
// group commit, torn tails, compaction, and a failing disk (injected, see
// Options::fail_io_for_test).
#include "cmcld/io/storage/raft_storage.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cmcld/core/storage/raft_records.h"
#include "cmcld/io/storage/state_dir.h"
#include "tests/support/temp_dir.h"

namespace cmcl::io {
namespace {

using namespace std::chrono_literals;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

uint64_t FileSize(const std::string& path) { return std::filesystem::file_size(path); }

raft::Entry MakeEntry(uint64_t term, uint64_t index) {
  raft::Entry entry;
  entry.term = raft::Term(term);
  entry.index = raft::LogIndex(index);
  entry.kind = raft::EntryKind::kCommand;
  entry.command.client_id = raft::ClientId(3);
  entry.command.sequence = index;
  entry.command.payload = "command " + std::to_string(index);
  return entry;
}

void ExpectSameState(const raft::PersistedState& actual, const raft::PersistedState& expected) {
  EXPECT_TRUE(actual.hard_state == expected.hard_state);
  EXPECT_TRUE(actual.snapshot == expected.snapshot);
  EXPECT_EQ(actual.entries, expected.entries);
}

class RaftStorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Rng rng(11);
    Result<std::unique_ptr<StateDir>> dir =
        StateDir::Open(temp_.path(), NodeName("ivmcl01"), raft::ClusterId(456), rng);
    ASSERT_TRUE(dir.ok()) << dir.status().ToString();
    dir_ = std::move(dir).value();
    initial_ = raft::HardState{.cluster_id = dir_->cluster_id(),
                               .node_id = dir_->node_id(),
                               .term = raft::Term(0),
                               .voted_for = std::nullopt};
    expected_.hard_state = initial_;
  }

  Result<std::unique_ptr<RaftStorage>> Open(RaftStorage::Options options = {}) {
    return RaftStorage::Open(io_, *dir_, initial_, std::move(options), [this](uint64_t id) {
      EXPECT_EQ(std::this_thread::get_id(), test_thread_) << "on_durable off the io thread";
      durable_.push_back(id);
    });
  }

  std::unique_ptr<RaftStorage> OpenOk(RaftStorage::Options options = {}) {
    Result<std::unique_ptr<RaftStorage>> storage = Open(std::move(options));
    EXPECT_TRUE(storage.ok()) << storage.status().ToString();
    return storage.ok() ? std::move(storage).value() : nullptr;
  }

  // The next persist: at `term`, appending entries [from, from + count).
  raft::Persist Appending(uint64_t term, uint64_t from, uint64_t count) {
    raft::Persist persist;
    persist.id = ++next_id_;
    persist.hard_state = initial_;
    persist.hard_state.term = raft::Term(term);
    persist.hard_state.voted_for = NodeName("ivmcl02");
    persist.log_from = raft::LogIndex(from);
    for (uint64_t index = from; index < from + count; ++index) {
      persist.entries.push_back(MakeEntry(term, index));
    }
    return persist;
  }

  // The persist made `last_index` a snapshot, keeping entries from `log_first` on.
  static raft::Persist Compacting(raft::Persist persist, uint64_t last_index, uint64_t log_first) {
    persist.snapshot = raft::Snapshot{.last_index = raft::LogIndex(last_index),
                                      .last_term = raft::Term(1),
                                      .clients = {},
                                      .state = "state through " + std::to_string(last_index)};
    persist.log_first = raft::LogIndex(log_first);
    return persist;
  }

  // Submits `persist`, applying it to expected_ as every storage must (raft::ApplyPersist).
  void Submit(RaftStorage& storage, raft::Persist persist) {
    raft::ApplyPersist(persist, expected_);
    storage.Submit(std::move(persist));
  }

  // Runs the io_context until on_durable reported `id` (or a few seconds passed).
  bool WaitDurable(uint64_t id) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while ((durable_.empty() || durable_.back() < id) &&
           std::chrono::steady_clock::now() < deadline) {
      io_.run_one_for(50ms);
    }
    return !durable_.empty() && durable_.back() >= id;
  }

  // Runs the io_context for `span`, handling whatever is posted meanwhile.
  void RunFor(std::chrono::milliseconds span) { io_.run_for(span); }

  std::string LogPath() const { return dir_->Path("raft.log"); }

  testing::TempDir temp_;
  std::unique_ptr<StateDir> dir_;
  raft::HardState initial_;
  raft::PersistedState expected_;
  uint64_t next_id_ = 0;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ =
      boost::asio::make_work_guard(io_);
  std::vector<uint64_t> durable_;
  const std::thread::id test_thread_ = std::this_thread::get_id();
};

TEST_F(RaftStorageTest, ANewStateDirStartsWithTheInitialHardStateOnDisk) {
  std::unique_ptr<RaftStorage> storage = OpenOk();
  ASSERT_TRUE(storage);

  const raft::PersistedState recovered = storage->recovered();

  ExpectSameState(recovered, expected_);
  EXPECT_TRUE(storage->recovery_note().empty());
  Result<storage::RecoveredRaftLog> on_disk = storage::RecoverRaftLog(ReadFile(LogPath()));
  ASSERT_TRUE(on_disk.ok()) << on_disk.status().ToString();
  ExpectSameState(on_disk->state, expected_);
}

TEST_F(RaftStorageTest, PersistsSurviveAReopenAsApplyPersistWouldApplyThem) {
  std::unique_ptr<RaftStorage> storage = OpenOk();
  ASSERT_TRUE(storage);
  Submit(*storage, Appending(1, 1, 3));
  Submit(*storage, Appending(1, 4, 2));
  Submit(*storage, Appending(2, 3, 2));  // A new leader overwrites 3..5 with 3..4.
  Submit(*storage, Appending(2, 5, 1));
  ASSERT_TRUE(WaitDurable(4));

  storage.reset();
  storage = OpenOk();

  ASSERT_TRUE(storage);
  ExpectSameState(storage->recovered(), expected_);
  EXPECT_EQ(storage->recovered().entries.size(), 5U);
  EXPECT_TRUE(storage->recovery_note().empty());
}

TEST_F(RaftStorageTest, OnDurableReportsIdsInOrderOnTheIoThread) {
  std::unique_ptr<RaftStorage> storage = OpenOk();
  ASSERT_TRUE(storage);
  Submit(*storage, Appending(1, 1, 1));
  ASSERT_TRUE(WaitDurable(1));
  EXPECT_EQ(durable_, std::vector<uint64_t>{1});

  for (uint64_t index = 2; index <= 30; ++index) Submit(*storage, Appending(1, index, 1));
  ASSERT_TRUE(WaitDurable(30));

  EXPECT_TRUE(std::is_sorted(durable_.begin(), durable_.end()));
  EXPECT_EQ(std::adjacent_find(durable_.begin(), durable_.end()), durable_.end());
  EXPECT_EQ(durable_.back(), 30U);
  RunFor(20ms);
  EXPECT_EQ(durable_.back(), 30U);  // Nothing reported beyond what was submitted.
}

TEST_F(RaftStorageTest, PersistsQueuedDuringAnFsyncShareTheNextOne) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> syncs{0};
  RaftStorage::Options options;
  options.fail_io_for_test = [&](RaftStorage::IoStep step, size_t) {
    if (step == RaftStorage::IoStep::kSync && syncs++ == 0) released.wait();
    return 0;
  };
  std::unique_ptr<RaftStorage> storage = OpenOk(options);
  ASSERT_TRUE(storage);
  Submit(*storage, Appending(1, 1, 1));
  while (syncs.load() == 0) std::this_thread::yield();  // Persist 1 is in its fsync.

  for (uint64_t index = 2; index <= 100; ++index) Submit(*storage, Appending(1, index, 1));
  release.set_value();
  ASSERT_TRUE(WaitDurable(100));

  EXPECT_EQ(durable_, (std::vector<uint64_t>{1, 100}));
  EXPECT_EQ(syncs.load(), 2);
  storage.reset();
  storage = OpenOk();
  ASSERT_TRUE(storage);
  ExpectSameState(storage->recovered(), expected_);
}

TEST_F(RaftStorageTest, ATornLastRecordIsCutOffAndTheStateBeforeItRecovered) {
  std::unique_ptr<RaftStorage> storage = OpenOk();
  ASSERT_TRUE(storage);
  Submit(*storage, Appending(1, 1, 2));
  ASSERT_TRUE(WaitDurable(1));
  const raft::PersistedState before_last = expected_;
  const uint64_t length_before_last = FileSize(LogPath());
  Submit(*storage, Appending(1, 3, 2));
  ASSERT_TRUE(WaitDurable(2));
  storage.reset();
  std::filesystem::resize_file(LogPath(), FileSize(LogPath()) - 5);  // A torn write.

  storage = OpenOk();

  ASSERT_TRUE(storage);
  ExpectSameState(storage->recovered(), before_last);
  EXPECT_NE(
      storage->recovery_note().find("torn record at offset " + std::to_string(length_before_last)),
      std::string::npos)
      << storage->recovery_note();
  EXPECT_EQ(FileSize(LogPath()), length_before_last);
}

TEST_F(RaftStorageTest, AGarbageTailIsTruncatedAndLaterPersistsFollowTheValidRecords) {
  std::unique_ptr<RaftStorage> storage = OpenOk();
  ASSERT_TRUE(storage);
  Submit(*storage, Appending(1, 1, 2));
  ASSERT_TRUE(WaitDurable(1));
  storage.reset();
  const uint64_t valid_length = FileSize(LogPath());
  WriteFile(LogPath(), ReadFile(LogPath()) + "unsynced garbage from a crash");

  storage = OpenOk();
  ASSERT_TRUE(storage);
  EXPECT_FALSE(storage->recovery_note().empty());
  EXPECT_EQ(FileSize(LogPath()), valid_length);
  Submit(*storage, Appending(1, 3, 1));
  ASSERT_TRUE(WaitDurable(2));
  storage.reset();
  storage = OpenOk();

  ASSERT_TRUE(storage);
  ExpectSameState(storage->recovered(), expected_);
  EXPECT_TRUE(storage->recovery_note().empty());
}

TEST_F(RaftStorageTest, CorruptionBeforeTheTailIsRefusedNamingTheFile) {
  std::unique_ptr<RaftStorage> storage = OpenOk();
  ASSERT_TRUE(storage);
  Submit(*storage, Appending(1, 1, 2));
  Submit(*storage, Appending(1, 3, 2));
  ASSERT_TRUE(WaitDurable(2));
  storage.reset();
  const uint64_t initial_length =
      storage::EncodeCheckpointRecord({.hard_state = initial_, .snapshot = {}, .entries = {}})
          .size();
  std::string bytes = ReadFile(LogPath());
  bytes[initial_length + 20] = static_cast<char>(bytes[initial_length + 20] ^ 0x40);
  WriteFile(LogPath(), bytes);

  Result<std::unique_ptr<RaftStorage>> reopened = Open();

  ASSERT_FALSE(reopened.ok());
  EXPECT_NE(reopened.status().message().find("raft log " + LogPath() + ": corrupt log"),
            std::string::npos)
      << reopened.status().message();
}

TEST_F(RaftStorageTest, ASnapshotRewritesTheFileAsOneCheckpointWithTheSameState) {
  std::unique_ptr<RaftStorage> storage = OpenOk();
  ASSERT_TRUE(storage);
  Submit(*storage, Appending(1, 1, 10));
  Submit(*storage, Compacting(Appending(1, 11, 1), 8, 7));
  ASSERT_TRUE(WaitDurable(2));
  Submit(*storage, Appending(1, 12, 1));
  ASSERT_TRUE(WaitDurable(3));
  storage.reset();

  Result<storage::RecoveredRaftLog> on_disk = storage::RecoverRaftLog(ReadFile(LogPath()));
  storage = OpenOk();

  ASSERT_TRUE(on_disk.ok()) << on_disk.status().ToString();
  EXPECT_LE(on_disk->records, 2U);  // The checkpoint, then at most persist 3.
  EXPECT_EQ(expected_.entries.front().index, raft::LogIndex(7));
  ASSERT_TRUE(storage);
  ExpectSameState(storage->recovered(), expected_);
  EXPECT_FALSE(std::filesystem::exists(LogPath() + ".tmp"));
}

TEST_F(RaftStorageTest, ALeftoverCompactionTmpIsRemovedAndTheLogStands) {
  std::unique_ptr<RaftStorage> storage = OpenOk();
  ASSERT_TRUE(storage);
  Submit(*storage, Appending(1, 1, 2));
  ASSERT_TRUE(WaitDurable(1));
  storage.reset();
  WriteFile(LogPath() + ".tmp", "half a checkpoint");

  storage = OpenOk();

  ASSERT_TRUE(storage);
  ExpectSameState(storage->recovered(), expected_);
  EXPECT_FALSE(std::filesystem::exists(LogPath() + ".tmp"));
}

TEST_F(RaftStorageTest, ARaftLogOfAnotherNodeIsRefused) {
  testing::TempDir other_temp;
  Rng rng(99);
  Result<std::unique_ptr<StateDir>> other =
      StateDir::Open(other_temp.path(), NodeName("ivmcl01"), raft::ClusterId(456), rng);
  ASSERT_TRUE(other.ok());
  ASSERT_NE((*other)->node_id(), dir_->node_id());
  { std::unique_ptr<RaftStorage> storage = OpenOk(); }
  std::filesystem::copy_file(LogPath(), (*other)->Path("raft.log"));
  raft::HardState other_initial = initial_;
  other_initial.node_id = (*other)->node_id();

  Result<std::unique_ptr<RaftStorage>> storage =
      RaftStorage::Open(io_, **other, other_initial, {}, [](uint64_t) {});

  ASSERT_FALSE(storage.ok());
  EXPECT_NE(storage.status().message().find("belongs to cluster 456 node_id " +
                                            std::to_string(dir_->node_id().value())),
            std::string::npos)
      << storage.status().message();
}

// A full disk: ENOSPC on every write until the test frees space.
class FailingDisk {
 public:
  RaftStorage::Options Options(RaftStorage::IoStep failing_step) {
    RaftStorage::Options options;
    options.retry_interval = 10ms;
    options.fail_io_for_test = [this, failing_step](RaftStorage::IoStep step, size_t) {
      if (step != failing_step || error_.load() == 0) return 0;
      ++failures_;
      return error_.load();
    };
    return options;
  }
  void Fail(int error) { error_ = error; }
  int failures() const { return failures_.load(); }

 private:
  std::atomic<int> error_{0};
  std::atomic<int> failures_{0};
};

TEST_F(RaftStorageTest, AFullDiskAcknowledgesNothingAndLosesNothingOnceSpaceReturns) {
  FailingDisk disk;
  std::unique_ptr<RaftStorage> storage = OpenOk(disk.Options(RaftStorage::IoStep::kWrite));
  ASSERT_TRUE(storage);
  Submit(*storage, Appending(1, 1, 1));
  ASSERT_TRUE(WaitDurable(1));
  const uint64_t durable_length = FileSize(LogPath());
  disk.Fail(ENOSPC);

  Submit(*storage, Appending(1, 2, 5));
  while (disk.failures() < 3) RunFor(10ms);  // Tried, waited, tried again.
  Submit(*storage, Appending(1, 7, 1));
  RunFor(30ms);

  EXPECT_EQ(durable_, std::vector<uint64_t>{1});
  EXPECT_TRUE(storage->stalled());
  EXPECT_EQ(FileSize(LogPath()), durable_length);  // The half-written record was cut off.
  disk.Fail(0);
  ASSERT_TRUE(WaitDurable(3));
  EXPECT_FALSE(storage->stalled());
  storage.reset();
  storage = OpenOk();
  ASSERT_TRUE(storage);
  ExpectSameState(storage->recovered(), expected_);
  EXPECT_TRUE(storage->recovery_note().empty());
}

TEST_F(RaftStorageTest, AFailedFsyncCutsTheFileBackAndIsRetriedWithTheSameBytes) {
  FailingDisk disk;
  std::unique_ptr<RaftStorage> storage = OpenOk(disk.Options(RaftStorage::IoStep::kSync));
  ASSERT_TRUE(storage);
  const uint64_t durable_length = FileSize(LogPath());
  disk.Fail(EIO);

  Submit(*storage, Appending(1, 1, 3));
  while (disk.failures() < 2) RunFor(10ms);

  EXPECT_TRUE(durable_.empty());
  EXPECT_EQ(FileSize(LogPath()), durable_length);
  disk.Fail(0);
  ASSERT_TRUE(WaitDurable(1));
  storage.reset();
  storage = OpenOk();
  ASSERT_TRUE(storage);
  ExpectSameState(storage->recovered(), expected_);
}

TEST_F(RaftStorageTest, AFailingCompactionKeepsTheOldFileUntilItSucceeds) {
  FailingDisk disk;
  std::unique_ptr<RaftStorage> storage = OpenOk(disk.Options(RaftStorage::IoStep::kWrite));
  ASSERT_TRUE(storage);
  Submit(*storage, Appending(1, 1, 4));
  ASSERT_TRUE(WaitDurable(1));
  const std::string old_bytes = ReadFile(LogPath());
  disk.Fail(ENOSPC);

  Submit(*storage, Compacting(Appending(1, 5, 1), 3, 3));
  while (disk.failures() < 2) RunFor(10ms);

  EXPECT_TRUE(storage->stalled());
  EXPECT_EQ(ReadFile(LogPath()), old_bytes);
  EXPECT_FALSE(std::filesystem::exists(LogPath() + ".tmp"));
  disk.Fail(0);
  ASSERT_TRUE(WaitDurable(2));
  storage.reset();
  storage = OpenOk();
  ASSERT_TRUE(storage);
  ExpectSameState(storage->recovered(), expected_);
}

TEST_F(RaftStorageTest, DestroyingWhileTheDiskFailsGivesUpWithoutReportingAnything) {
  FailingDisk disk;
  RaftStorage::Options options = disk.Options(RaftStorage::IoStep::kWrite);
  options.retry_interval = 1h;  // The destructor must not wait for a retry.
  std::unique_ptr<RaftStorage> storage = OpenOk(options);
  ASSERT_TRUE(storage);
  const raft::PersistedState before = expected_;
  disk.Fail(ENOSPC);
  Submit(*storage, Appending(1, 1, 1));
  while (disk.failures() < 1) RunFor(5ms);

  storage.reset();
  RunFor(10ms);

  EXPECT_TRUE(durable_.empty());
  disk.Fail(0);
  storage = OpenOk();
  ASSERT_TRUE(storage);
  ExpectSameState(storage->recovered(), before);
}

}  // namespace
}  // namespace cmcl::io
