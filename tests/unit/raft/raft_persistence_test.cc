// The persistence contract (DESIGN.md section 3, actions.h): "term, vote and entries are
// durable before they are acknowledged". The core emits Persist and holds every message
// that needs it until PersistCompleted; a crash loses what was not reported durable.
#include <gtest/gtest.h>

#include "tests/support/raft_cluster.h"

namespace cmcl::raft {
namespace {

using testing::Name;
using testing::RaftCluster;

Message VoteRequestFromN2(uint64_t term) {
  return Message{
      .header = {.cluster_id = RaftCluster::kClusterId,
                 .from = Name("n2"),
                 .to = Name("n1"),
                 .term = Term(term)},
      .body = VoteRequest{
          .kind = VoteKind::kVote, .last_log_index = LogIndex(0), .last_log_term = Term(0)}};
}

TEST(RaftPersistence, VoteGrantIsNotSentBeforeTheVoteIsDurable) {
  RaftCluster cluster(3);
  cluster.StartAll();
  cluster.HoldPersists("n1", true);
  cluster.now = Time::FromMilliseconds(5000);

  cluster.Deliver(VoteRequestFromN2(1));
  const size_t sent_before = cluster.TakeInFlight().size();
  cluster.CompletePersists("n1");
  std::vector<Message> sent_after = cluster.TakeInFlight();

  EXPECT_EQ(sent_before, 0u);
  ASSERT_EQ(sent_after.size(), 1u);
  EXPECT_TRUE(std::get<VoteResponse>(sent_after[0].body).granted);
  EXPECT_EQ(cluster.disk("n1").hard_state.term, Term(1));
  EXPECT_EQ(cluster.disk("n1").hard_state.voted_for, Name("n2"));
}

TEST(RaftPersistence, CandidateSendsVoteRequestsOnlyOnceItsOwnVoteIsDurable) {
  RaftCluster cluster(3);
  cluster.StartAll();
  cluster.HoldPersists("n1", true);
  cluster.Fire("n1");
  std::vector<Message> pre_votes = cluster.TakeInFlight();
  for (const Message& message : pre_votes) {
    cluster.Deliver(message);
  }
  for (const Message& message : cluster.TakeInFlight()) {  // The PreVote grants.
    cluster.Deliver(message);
  }

  const size_t sent_before = cluster.TakeInFlight().size();
  cluster.CompletePersists("n1");
  const size_t sent_after = cluster.TakeInFlight().size();

  EXPECT_EQ(cluster.node("n1").role(), Role::kCandidate);
  EXPECT_EQ(sent_before, 0u);
  EXPECT_EQ(sent_after, 2u);
}

TEST(RaftPersistence, AppendIsAcknowledgedOnlyOnceTheEntriesAreDurable) {
  RaftCluster cluster(3);
  cluster.StartAll();
  cluster.Elect("n1");
  cluster.HoldPersists("n2", true);

  cluster.Propose("n1", Command{.client_id = ClientId(1), .sequence = 1, .payload = "a", .revokes = {}});
  cluster.Stabilize([](const Message& m) { return m.header.to != Name("n3"); });
  const LogIndex commit_before = cluster.node("n1").commit_index();
  cluster.CompletePersists("n2");
  cluster.Stabilize([](const Message& m) { return m.header.to != Name("n3"); });

  EXPECT_EQ(commit_before, LogIndex(1));
  EXPECT_EQ(cluster.node("n1").commit_index(), LogIndex(2));
  EXPECT_EQ(cluster.disk("n2").entries.size(), 2u);
}

TEST(RaftPersistence, LeaderCountsItsOwnLogOnlyOnceDurable) {
  RaftCluster cluster(3);
  cluster.StartAll();
  cluster.Elect("n1");
  cluster.HoldPersists("n1", true);

  cluster.Propose("n1", Command{.client_id = ClientId(1), .sequence = 1, .payload = "a", .revokes = {}});
  cluster.Stabilize([](const Message& m) { return m.header.to != Name("n3"); });
  const LogIndex commit_before = cluster.node("n1").commit_index();
  cluster.CompletePersists("n1");

  EXPECT_EQ(commit_before, LogIndex(1));  // n2 alone is not a majority of 3.
  EXPECT_EQ(cluster.node("n1").commit_index(), LogIndex(2));
}

TEST(RaftPersistence, RestartedNodeRemembersItsDurableTermAndVoteButNotUnsyncedOnes) {
  RaftCluster cluster(3);
  cluster.StartAll();
  cluster.now = Time::FromMilliseconds(5000);
  cluster.Deliver(VoteRequestFromN2(3));  // Durable at once.
  cluster.HoldPersists("n1", true);
  cluster.Deliver(VoteRequestFromN2(4));  // Never made durable.

  cluster.Restart("n1");

  EXPECT_EQ(cluster.node("n1").term(), Term(3));
  EXPECT_EQ(cluster.node("n1").voted_for(), Name("n2"));
  EXPECT_EQ(cluster.disk("n1").hard_state.term, Term(3));
}

TEST(RaftPersistence, StateDirIdentityIsPartOfEveryPersist) {
  RaftCluster cluster(3);
  cluster.StartAll();

  cluster.Elect("n1");

  EXPECT_EQ(cluster.disk("n1").hard_state.cluster_id, RaftCluster::kClusterId);
  EXPECT_EQ(cluster.disk("n1").hard_state.node_id, NodeId(100));
  EXPECT_EQ(cluster.disk("n2").hard_state.node_id, NodeId(101));
}

TEST(RaftPersistence, MutationLeavesTheVoteOutOfThePersist) {
  RaftOptions options = RaftCluster::DefaultOptions();
  options.mutations.vote_not_persisted = true;
  RaftCluster cluster(3, {}, options);
  cluster.StartAll();
  cluster.now = Time::FromMilliseconds(5000);

  cluster.Deliver(VoteRequestFromN2(1));

  EXPECT_EQ(cluster.node("n1").voted_for(), Name("n2"));
  EXPECT_EQ(cluster.disk("n1").hard_state.voted_for, std::nullopt);
}

}  // namespace
}  // namespace cmcl::raft
