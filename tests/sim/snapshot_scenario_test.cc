// The simulated disk and snapshots on the simulator (issue 5 items 2 and 5): a crash
// keeps the synced prefix and possibly a torn part of what followed, and recovery gives
// back a state every persist prefix could have produced; a node that was down while the
// others compacted catches up by snapshot. The StateChecker runs after every step.
#include <gtest/gtest.h>

#include "tests/sim/simulation.h"

namespace cmcl::sim {
namespace {

raft::Persist AppendNoop(uint64_t id) {
  raft::Persist persist;
  persist.id = id;
  persist.hard_state = {.cluster_id = raft::ClusterId(1),
                        .node_id = raft::NodeId(2),
                        .term = raft::Term(id),
                        .voted_for = std::nullopt};
  persist.log_from = raft::LogIndex(id);
  persist.entries = {raft::Entry{.term = raft::Term(id),
                                 .index = raft::LogIndex(id),
                                 .kind = raft::EntryKind::kNoop,
                                 .command = {}}};
  return persist;
}

TEST(SimDisk, CrashKeepsEverySyncedWriteAndAtMostAPrefixOfTheRest) {
  std::map<size_t, int> survivors;  // Entries recovered -> how many seeds.
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    SimDisk disk;
    disk.Format(raft::PersistedState{
        .hard_state = AppendNoop(1).hard_state, .snapshot = std::nullopt, .entries = {}});
    for (uint64_t id = 1; id <= 5; ++id) {
      disk.Write(AppendNoop(id));
    }
    disk.Sync(3);
    Rng rng(seed);

    disk.Crash(rng);
    const Result<storage::RecoveredRaftLog> recovered = disk.Recover();

    ASSERT_TRUE(recovered.ok()) << "seed " << seed << ": " << recovered.status().ToString();
    const size_t entries = recovered->state.entries.size();
    ASSERT_GE(entries, 3u) << "seed " << seed << " lost a synced write";
    ASSERT_LE(entries, 5u);
    EXPECT_EQ(recovered->state.hard_state.term, raft::Term(entries));
    EXPECT_EQ(disk.durable().entries.size(), entries);
    ++survivors[entries];
  }
  // The draws cover losing everything unsynced and keeping some of it.
  EXPECT_GT(survivors[3], 100);
  EXPECT_GT(survivors[4] + survivors[5], 10);
}

TEST(SimDisk, CheckpointAfterASyncedSnapshotKeepsTheFileSmallAndTheStateTheSame) {
  SimDisk disk;
  disk.Format(raft::PersistedState{
      .hard_state = AppendNoop(1).hard_state, .snapshot = std::nullopt, .entries = {}});
  for (uint64_t id = 1; id <= 50; ++id) {
    disk.Write(AppendNoop(id));
  }
  disk.Sync(50);
  const uint64_t before = disk.file_bytes();
  raft::Persist compact = AppendNoop(51);
  compact.log_from.reset();
  compact.entries.clear();
  compact.snapshot = raft::Snapshot{
      .last_index = raft::LogIndex(48), .last_term = raft::Term(48), .clients = {}, .state = "s"};
  compact.log_first = raft::LogIndex(47);
  disk.Write(compact);

  disk.Sync(51);
  const raft::PersistedState durable = disk.durable();
  const Result<storage::RecoveredRaftLog> recovered = disk.Recover();

  EXPECT_LT(disk.file_bytes(), before / 4);
  ASSERT_TRUE(recovered.ok());
  EXPECT_EQ(recovered->records, 1u);
  EXPECT_EQ(recovered->state.snapshot, durable.snapshot);
  EXPECT_EQ(recovered->state.entries, durable.entries);
  EXPECT_EQ(recovered->state.entries.front().index, raft::LogIndex(47));
}

SimOptions QuietOptions() {
  SimOptions options;
  options.seed = 3;
  options.members = 3;
  options.loss = 0;
  options.duplication = 0;
  options.delay_far = 0;
  options.nemeses = {};  // No random faults: the test crashes and restarts by hand.
  options.compact_every = 20;
  options.compact_keep_entries = 0;
  options.fault_phase = Duration(1'000'000);
  return options;
}

TEST(SimSnapshot, NodeDownWhileTheOthersCompactCatchesUpBySnapshot) {
  const SimOptions options = QuietOptions();
  std::vector<std::string> restores;
  const std::function<void(const std::string&)> trace = [&](const std::string& line) {
    if (line.find(" restore ") != std::string::npos) {
      restores.push_back(line);
    }
  };
  internal::Simulation sim(options, trace);
  sim.Setup();
  ASSERT_TRUE(sim.RunUntil(sim.now() + Duration(3000)));
  const std::optional<NodeName> leader = sim.Leader();
  ASSERT_TRUE(leader.has_value());
  const std::string down = leader->value() == "n1" ? "n2" : "n1";

  sim.Crash(down);
  ASSERT_TRUE(sim.RunUntil(sim.now() + Duration(10'000)));
  const raft::LogIndex leader_snapshot = sim.Node(leader->value())->snapshot_index();
  const size_t restores_before = restores.size();
  sim.Restart(down);
  ASSERT_TRUE(sim.RunUntil(sim.now() + Duration(3000))) << sim.violation().value_or("");

  EXPECT_GT(leader_snapshot, raft::LogIndex(40));
  EXPECT_GT(restores.size(), restores_before);  // It installed the leader's snapshot.
  EXPECT_GE(sim.Node(down)->snapshot_index(), leader_snapshot);
  EXPECT_GE(sim.Node(down)->applied_index(), leader_snapshot);
  EXPECT_GT(sim.checker().snapshots_checked(), 3u);
}

}  // namespace
}  // namespace cmcl::sim
