// Client commands (Raft thesis chapter 6): acknowledged only once committed and applied;
// a command retried after a leader change is applied at most once (6.3).
#include <gtest/gtest.h>

#include "tests/support/raft_cluster.h"

namespace cmcl::raft {
namespace {

using testing::Name;
using testing::RaftCluster;

Command Increment(uint64_t sequence) {
  return Command{.client_id = ClientId(7), .sequence = sequence, .payload = "incr", .revokes = {}};
}

TEST(RaftClient, FollowerRefusesACommandAndNamesTheLeader) {
  RaftCluster cluster(3);
  cluster.StartAll();
  cluster.Elect("n1");

  cluster.Propose("n2", Increment(1));

  ASSERT_EQ(cluster.replies.size(), 1u);
  EXPECT_EQ(cluster.replies[0].code, ReplyCode::kNotLeader);
  EXPECT_EQ(cluster.replies[0].leader_hint, Name("n1"));
  EXPECT_EQ(cluster.node("n2").last_index(), LogIndex(1));
}

TEST(RaftClient, CommandIsAcknowledgedOnlyAfterItIsCommittedAndApplied) {
  RaftCluster cluster(3);
  cluster.StartAll();
  cluster.Elect("n1");

  cluster.Propose("n1", Increment(1));
  const size_t replies_before_commit = cluster.replies.size();
  cluster.Stabilize();

  EXPECT_EQ(replies_before_commit, 0u);
  ASSERT_EQ(cluster.replies.size(), 1u);
  EXPECT_EQ(cluster.replies[0].code, ReplyCode::kApplied);
  EXPECT_EQ(cluster.replies[0].applied_index, LogIndex(2));
  EXPECT_EQ(cluster.applied[Name("n1")].back().entry.command, Increment(1));
}

TEST(RaftClient, LeaderThatStepsDownRepliesUnknownOutcome) {
  RaftCluster cluster(3);
  cluster.StartAll();
  cluster.Elect("n1");

  cluster.Propose("n1", Increment(1));
  cluster.TakeInFlight();  // Lost.
  while (cluster.node("n1").role() == Role::kLeader) {
    cluster.Fire("n1");
    cluster.TakeInFlight();
  }

  ASSERT_EQ(cluster.replies.size(), 1u);
  EXPECT_EQ(cluster.replies[0].code, ReplyCode::kUnknownOutcome);
}

TEST(RaftClient, CommandRetriedAfterALeaderChangeIsAppliedOnce) {
  RaftCluster cluster(3);
  cluster.StartAll();
  cluster.Elect("n1");
  cluster.Propose("n1", Increment(1));
  cluster.Stabilize([](const Message& m) {  // Replicated, but n1 never learns it.
    return !std::holds_alternative<AppendResponse>(m.body);
  });
  cluster.now = cluster.now + Duration(5000);
  cluster.Fire("n2");
  cluster.Stabilize([](const Message& m) {  // n2 wins, but commits nothing yet.
    return m.header.to != Name("n1") && !std::holds_alternative<AppendResponse>(m.body);
  });
  ASSERT_EQ(cluster.node("n2").role(), Role::kLeader);
  ASSERT_EQ(cluster.node("n2").applied_index(), LogIndex(1));  // Term 1's no-op only.

  cluster.Propose("n2", Increment(1));  // The client's retry, same sequence.
  cluster.Stabilize([](const Message& m) { return m.header.to != Name("n1"); });
  cluster.Fire("n2");
  cluster.Stabilize([](const Message& m) { return m.header.to != Name("n1"); });

  int executed = 0;
  int duplicates = 0;
  for (const ApplyEntry& apply : cluster.applied[Name("n3")]) {
    if (apply.entry.kind == EntryKind::kCommand) {
      (apply.duplicate ? duplicates : executed) += 1;
    }
  }
  EXPECT_EQ(executed, 1);
  EXPECT_EQ(duplicates, 1);
  ASSERT_FALSE(cluster.replies.empty());
  EXPECT_EQ(cluster.replies.back().code, ReplyCode::kApplied);
  EXPECT_EQ(cluster.replies.back().applied_index, LogIndex(2));
}

TEST(RaftClient, RetryOfAnAppliedCommandIsAnsweredWithoutAppending) {
  RaftCluster cluster(3);
  cluster.StartAll();
  cluster.Elect("n1");
  cluster.Propose("n1", Increment(1));
  cluster.Stabilize();
  const LogIndex last_before = cluster.node("n1").last_index();

  cluster.Propose("n1", Increment(1));

  EXPECT_EQ(cluster.node("n1").last_index(), last_before);
  ASSERT_EQ(cluster.replies.size(), 2u);
  EXPECT_EQ(cluster.replies[1].code, ReplyCode::kApplied);
  EXPECT_EQ(cluster.replies[1].applied_index, LogIndex(2));
}

TEST(RaftClient, LeaderRefusesCommandsBeyondItsPendingBound) {
  RaftOptions options = RaftCluster::DefaultOptions();
  options.proposals_pending_max = 1;
  RaftCluster cluster(3, {}, options);
  cluster.StartAll();
  cluster.Elect("n1");

  cluster.Propose("n1", Increment(1));
  cluster.Propose("n1", Command{.client_id = ClientId(8), .sequence = 1, .payload = "x", .revokes = {}});

  ASSERT_EQ(cluster.replies.size(), 1u);
  EXPECT_EQ(cluster.replies[0].code, ReplyCode::kBusy);
  EXPECT_EQ(cluster.replies[0].client_id, ClientId(8));
  EXPECT_EQ(cluster.node("n1").last_index(), LogIndex(2));
}

}  // namespace
}  // namespace cmcl::raft
