// Snapshots and log compaction (Raft thesis chapter 5): the driver compacts at its
// applied index, a follower that needs compacted entries gets one InstallSnapshot, and
// a restart resumes from the snapshot and the retained log. Edge cases per thesis 5.1.
#include <gtest/gtest.h>

#include "tests/support/raft_cluster.h"

namespace cmcl::raft {
namespace {

using testing::EntriesWithTerms;
using testing::Name;
using testing::RaftCluster;
using testing::TermsOf;

Command Cmd(uint64_t sequence) {
  return Command{.client_id = ClientId(7), .sequence = sequence, .payload = "incr", .revokes = {}};
}

RaftOptions KeepEntries(uint64_t keep) {
  RaftOptions options = RaftCluster::DefaultOptions();
  options.compact_keep_entries = keep;
  return options;
}

Message ToN2(uint64_t term, Body body) {
  return Message{.header = {.cluster_id = RaftCluster::kClusterId,
                            .from = Name("n1"),
                            .to = Name("n2"),
                            .term = Term(term)},
                 .body = std::move(body)};
}

Body SnapshotBody(uint64_t index, uint64_t term, std::string state) {
  return InstallSnapshot{.snapshot = Snapshot{.last_index = LogIndex(index),
                                              .last_term = Term(term),
                                              .clients = {},
                                              .state = std::move(state)}};
}

template <typename T>
std::vector<T> BodiesFrom(const std::vector<Message>& messages, const std::string& from) {
  std::vector<T> bodies;
  for (const Message& message : messages) {
    if (message.header.from == Name(from) && std::holds_alternative<T>(message.body)) {
      bodies.push_back(std::get<T>(message.body));
    }
  }
  return bodies;
}

// n1 leads and has applied its no-op and commands 1..count (indices 1..count+1).
void LeadAndApply(RaftCluster& cluster, uint64_t count,
                  const std::function<bool(const Message&)>& accept = nullptr) {
  cluster.StartAll();
  cluster.Elect("n1");
  for (uint64_t sequence = 1; sequence <= count; ++sequence) {
    cluster.Propose("n1", Cmd(sequence));
    cluster.Stabilize(accept);
  }
}

TEST(RaftSnapshot, CompactSnapshotsTheAppliedStateWithTheClientTableAndKeepsAFewEntries) {
  RaftCluster cluster(3, {}, KeepEntries(2));
  LeadAndApply(cluster, 5);
  ASSERT_EQ(cluster.node("n1").applied_index(), LogIndex(6));

  cluster.Compact("n1", "state@6");

  const std::optional<Snapshot>& snapshot = cluster.node("n1").snapshot();
  ASSERT_TRUE(snapshot.has_value());
  EXPECT_EQ(snapshot->last_index, LogIndex(6));
  EXPECT_EQ(snapshot->last_term, Term(1));
  EXPECT_EQ(snapshot->state, "state@6");
  EXPECT_EQ(snapshot->clients,
            (std::vector<ClientSession>{
                {.client_id = ClientId(7), .sequence = 5, .index = LogIndex(6)}}));
  EXPECT_EQ(cluster.node("n1").first_index(), LogIndex(5));
  EXPECT_EQ(cluster.node("n1").last_index(), LogIndex(6));
  EXPECT_EQ(cluster.disk("n1").snapshot, snapshot);
  ASSERT_EQ(cluster.disk("n1").entries.size(), 2u);
  EXPECT_EQ(cluster.disk("n1").entries.front().index, LogIndex(5));
}

TEST(RaftSnapshot, CompactWithNothingAppliedSinceTheLastSnapshotChangesNothing) {
  RaftCluster cluster(3, {}, KeepEntries(0));
  LeadAndApply(cluster, 2);
  cluster.Compact("n1", "first");

  cluster.Compact("n1", "second");

  EXPECT_EQ(cluster.node("n1").snapshot()->state, "first");
  EXPECT_EQ(cluster.disk("n1").snapshot->state, "first");
}

TEST(RaftSnapshot, LaggingFollowerCatchesUpByInstallSnapshotAndThenByAppends) {
  RaftCluster cluster(3, {}, KeepEntries(0));
  LeadAndApply(cluster, 5, [](const Message& m) { return m.header.to != Name("n3"); });
  cluster.Compact("n1", "state@6");
  ASSERT_EQ(cluster.node("n3").last_index(), LogIndex(1));

  cluster.Fire("n1");  // Heartbeat round: n3 needs index 2, which is compacted away.
  const std::vector<Message> round = cluster.TakeInFlight();
  for (const Message& message : round) {
    cluster.Deliver(message);
  }
  cluster.Stabilize();
  cluster.Propose("n1", Cmd(6));
  cluster.Stabilize();
  cluster.Fire("n1");
  cluster.Stabilize();

  const std::vector<InstallSnapshot> installs = BodiesFrom<InstallSnapshot>(round, "n1");
  ASSERT_EQ(installs.size(), 1u);
  EXPECT_EQ(installs[0].snapshot.last_index, LogIndex(6));
  ASSERT_EQ(cluster.restored[Name("n3")].size(), 1u);
  EXPECT_EQ(cluster.restored[Name("n3")][0].state, "state@6");
  EXPECT_EQ(cluster.node("n3").snapshot_index(), LogIndex(6));
  EXPECT_EQ(cluster.disk("n3").snapshot->last_index, LogIndex(6));
  EXPECT_EQ(cluster.node("n3").last_index(), LogIndex(7));
  EXPECT_EQ(cluster.node("n3").applied_index(), LogIndex(7));
  EXPECT_EQ(cluster.applied[Name("n3")].back().entry.command, Cmd(6));
}

TEST(RaftSnapshot, InstalledSnapshotIsAcknowledgedOnlyOnceDurable) {
  RaftCluster cluster(3);
  cluster.SetDisk("n2", Term(1), EntriesWithTerms({1, 1}));
  cluster.StartAll();
  cluster.HoldPersists("n2", true);

  cluster.Deliver(ToN2(1, SnapshotBody(5, 1, "s")));
  const std::vector<Message> before = cluster.TakeInFlight();
  cluster.CompletePersists("n2");
  const std::vector<AppendResponse> after =
      BodiesFrom<AppendResponse>(cluster.TakeInFlight(), "n2");

  EXPECT_TRUE(BodiesFrom<AppendResponse>(before, "n2").empty());
  ASSERT_EQ(after.size(), 1u);
  EXPECT_TRUE(after[0].success);
  EXPECT_EQ(after[0].match_index, LogIndex(5));
  EXPECT_EQ(cluster.disk("n2").snapshot->last_index, LogIndex(5));
}

TEST(RaftSnapshot, FollowerIgnoresASnapshotThatDoesNotGoBeyondItsCommitIndex) {
  RaftCluster cluster(3);
  LeadAndApply(cluster, 3);
  cluster.Fire("n1");  // Tells n2 the commit index.
  cluster.Stabilize();
  ASSERT_EQ(cluster.node("n2").commit_index(), LogIndex(4));

  cluster.Deliver(ToN2(1, SnapshotBody(2, 1, "stale")));
  const std::vector<AppendResponse> replies =
      BodiesFrom<AppendResponse>(cluster.TakeInFlight(), "n2");

  EXPECT_TRUE(cluster.restored[Name("n2")].empty());
  EXPECT_FALSE(cluster.node("n2").snapshot().has_value());
  EXPECT_EQ(cluster.node("n2").first_index(), LogIndex(1));
  EXPECT_EQ(cluster.node("n2").last_index(), LogIndex(4));
  EXPECT_EQ(cluster.node("n2").commit_index(), LogIndex(4));
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_TRUE(replies[0].success);
  EXPECT_EQ(replies[0].match_index, LogIndex(2));
}

TEST(RaftSnapshot, SnapshotMatchingAnEntryOfTheLogKeepsTheEntriesAfterIt) {
  RaftCluster cluster(3);
  cluster.SetDisk("n2", Term(2), EntriesWithTerms({1, 1, 2, 2}));
  cluster.StartAll();

  cluster.Deliver(ToN2(2, SnapshotBody(2, 1, "s")));

  const Raft& n2 = cluster.node("n2");
  EXPECT_EQ(n2.snapshot_index(), LogIndex(2));
  EXPECT_EQ(n2.first_index(), LogIndex(3));
  EXPECT_EQ(TermsOf(n2.log()), (std::vector<uint64_t>{2, 2}));
  EXPECT_EQ(n2.commit_index(), LogIndex(2));
  EXPECT_EQ(n2.applied_index(), LogIndex(2));
  EXPECT_EQ(cluster.restored[Name("n2")].size(), 1u);
  EXPECT_EQ(TermsOf(cluster.disk("n2").entries), (std::vector<uint64_t>{2, 2}));
}

TEST(RaftSnapshot, SnapshotConflictingWithTheLogDiscardsTheWholeLog) {
  RaftCluster cluster(3);
  cluster.SetDisk("n2", Term(1), EntriesWithTerms({1, 1, 1, 1}));
  cluster.StartAll();

  cluster.Deliver(ToN2(3, SnapshotBody(3, 3, "s")));

  const Raft& n2 = cluster.node("n2");
  EXPECT_EQ(n2.snapshot_index(), LogIndex(3));
  EXPECT_TRUE(n2.log().empty());
  EXPECT_EQ(n2.last_index(), LogIndex(3));
  EXPECT_EQ(n2.term(), Term(3));
  EXPECT_TRUE(cluster.disk("n2").entries.empty());
  EXPECT_EQ(cluster.disk("n2").snapshot->last_term, Term(3));
}

TEST(RaftSnapshot, AppendReachingBelowTheSnapshotIsAcceptedForTheEntriesBeyondIt) {
  RaftCluster cluster(3);
  cluster.SetDisk("n2", Term(1), EntriesWithTerms({1, 1}));
  cluster.StartAll();
  cluster.Deliver(ToN2(1, SnapshotBody(4, 1, "s")));
  cluster.TakeInFlight();
  std::vector<Entry> entries = EntriesWithTerms({1, 1, 1, 1, 1, 1});
  entries.erase(entries.begin(), entries.begin() + 2);  // Indices 3..6.

  cluster.Deliver(ToN2(1, AppendRequest{.prev_log_index = LogIndex(2),
                                        .prev_log_term = Term(1),
                                        .entries = entries,
                                        .leader_commit = LogIndex(6)}));
  const std::vector<AppendResponse> replies =
      BodiesFrom<AppendResponse>(cluster.TakeInFlight(), "n2");

  ASSERT_EQ(replies.size(), 1u);
  EXPECT_TRUE(replies[0].success);
  EXPECT_EQ(replies[0].match_index, LogIndex(6));
  EXPECT_EQ(cluster.node("n2").first_index(), LogIndex(5));
  EXPECT_EQ(cluster.node("n2").last_index(), LogIndex(6));
  EXPECT_EQ(cluster.node("n2").applied_index(), LogIndex(6));
}

TEST(RaftSnapshot, RestartResumesFromTheSnapshotAndTheRetainedLog) {
  RaftCluster cluster(3, {}, KeepEntries(2));
  LeadAndApply(cluster, 5);
  cluster.Compact("n1", "state@6");
  cluster.Propose("n1", Cmd(6));
  cluster.Stabilize();

  cluster.Restart("n1");

  const Raft& n1 = cluster.node("n1");
  EXPECT_EQ(n1.snapshot_index(), LogIndex(6));
  EXPECT_EQ(n1.first_index(), LogIndex(5));
  EXPECT_EQ(n1.last_index(), LogIndex(7));
  EXPECT_EQ(n1.commit_index(), LogIndex(6));
  EXPECT_EQ(n1.applied_index(), LogIndex(6));
}

TEST(RaftSnapshot, AtMostOnceSurvivesCompactionAndARestartFromTheSnapshot) {
  RaftCluster cluster(3, {}, KeepEntries(0));
  LeadAndApply(cluster, 3);  // Cmd(3) at index 4.
  cluster.Compact("n1", "state@4");
  cluster.Restart("n1");
  cluster.Restart("n2");
  cluster.Restart("n3");
  cluster.replies.clear();
  cluster.now = cluster.now + Duration(10'000);
  cluster.Fire("n1");
  cluster.Stabilize();
  ASSERT_EQ(cluster.node("n1").role(), Role::kLeader);
  const LogIndex last = cluster.node("n1").last_index();

  cluster.Propose("n1", Cmd(3));  // The client retries a command applied before.

  ASSERT_EQ(cluster.replies.size(), 1u);
  EXPECT_EQ(cluster.replies[0].code, ReplyCode::kApplied);
  EXPECT_EQ(cluster.replies[0].applied_index, LogIndex(4));
  EXPECT_EQ(cluster.node("n1").last_index(), last);  // Not appended again.
}

}  // namespace
}  // namespace cmcl::raft
