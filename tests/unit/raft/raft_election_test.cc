// PreVote, CheckQuorum, vote stickiness and arbitrators (Raft thesis 9.6 and 6.2;
// DESIGN.md section 3): "a voter that heard from a leader within election_timeout_min
// refuses PreVote and RequestVote; a leader counts each of its own heartbeat rounds as
// hearing from a leader, so it too refuses every vote for election_timeout_min after
// its last round, also after stepping down."
#include <gtest/gtest.h>

#include "tests/support/raft_cluster.h"

namespace cmcl::raft {
namespace {

using testing::Name;
using testing::RaftCluster;

Message VoteRequestTo(const std::string& to, VoteKind kind, uint64_t term) {
  return Message{.header = {.cluster_id = RaftCluster::kClusterId,
                            .from = Name("n3"),
                            .to = Name(to),
                            .term = Term(term)},
                 .body = VoteRequest{
                     .kind = kind, .last_log_index = LogIndex(100), .last_log_term = Term(100)}};
}

std::optional<VoteResponse> OnlyVoteResponse(RaftCluster& cluster) {
  std::vector<Message> messages = cluster.TakeInFlight();
  if (messages.size() != 1 || !std::holds_alternative<VoteResponse>(messages[0].body)) {
    return std::nullopt;
  }
  return std::get<VoteResponse>(messages[0].body);
}

TEST(RaftElection, ElectionTimeoutIsDrawnFromMinToTwiceMin) {
  RaftCluster cluster(3);
  cluster.StartAll();

  for (const std::string name : {"n1", "n2", "n3"}) {
    const Time wakeup = cluster.node(name).NextWakeup();
    EXPECT_GE(wakeup, Time::FromMilliseconds(1000)) << name;
    EXPECT_LT(wakeup, Time::FromMilliseconds(2000)) << name;
  }
}

TEST(RaftElection, ExpiredTimerStartsPreVoteWithoutChangingTheTerm) {
  RaftCluster cluster(3);
  cluster.StartAll();

  cluster.Fire("n1");

  EXPECT_EQ(cluster.node("n1").role(), Role::kPreCandidate);
  EXPECT_EQ(cluster.node("n1").term(), Term(0));
  std::vector<Message> sent = cluster.TakeInFlight();
  ASSERT_EQ(sent.size(), 2u);
  for (const Message& message : sent) {
    EXPECT_EQ(std::get<VoteRequest>(message.body).kind, VoteKind::kPreVote);
    EXPECT_EQ(message.header.term, Term(1));
  }
}

// Thesis 9.6: PreVote keeps a node that rejoins after a partition from disrupting the
// cluster: it cannot win a PreVote while the others hear from the leader, so its term
// never rises and the leader is not deposed.
TEST(RaftElection, PreVoteKeepsARejoiningNodeFromDisruptingTheLeader) {
  RaftCluster cluster(3);
  cluster.StartAll();
  cluster.Elect("n1");
  const auto partitioned = [](const Message& m) {
    return m.header.to != Name("n3") && m.header.from != Name("n3");
  };

  for (int i = 0; i < 20; ++i) {  // n3 is cut off for a while; n1 keeps its heartbeats.
    cluster.Fire("n1");
    cluster.Stabilize(partitioned);
    if (cluster.node("n3").NextWakeup() <= cluster.now) {
      cluster.Tick("n3");
      cluster.Stabilize(partitioned);
    }
  }
  while (cluster.node("n3").NextWakeup() > cluster.now) {
    cluster.Fire("n1");
    cluster.Stabilize(partitioned);
  }
  cluster.Tick("n3");  // Rejoins: its PreVote now reaches n1 and n2.
  const std::vector<Message> pre_votes = cluster.TakeInFlight();
  for (const Message& message : pre_votes) {
    cluster.Deliver(message);
  }
  cluster.Stabilize();

  EXPECT_EQ(pre_votes.size(), 2u);
  EXPECT_EQ(cluster.node("n3").term(), Term(1));
  EXPECT_EQ(cluster.node("n1").role(), Role::kLeader);
  EXPECT_EQ(cluster.node("n1").term(), Term(1));
}

TEST(RaftElection, FollowerThatHeardFromTheLeaderRefusesVotesAndKeepsItsTerm) {
  RaftCluster cluster(3);
  cluster.StartAll();
  cluster.Elect("n1");
  cluster.TakeInFlight();

  cluster.Deliver(VoteRequestTo("n2", VoteKind::kVote, 9));
  std::optional<VoteResponse> vote = OnlyVoteResponse(cluster);
  cluster.Deliver(VoteRequestTo("n2", VoteKind::kPreVote, 9));
  std::optional<VoteResponse> pre_vote = OnlyVoteResponse(cluster);

  ASSERT_TRUE(vote && pre_vote);
  EXPECT_FALSE(vote->granted);
  EXPECT_FALSE(pre_vote->granted);
  EXPECT_EQ(cluster.node("n2").term(), Term(1));
}

TEST(RaftElection, FollowerGrantsVotesOnceTheStickinessWindowHasPassed) {
  RaftCluster cluster(3);
  cluster.StartAll();
  cluster.Elect("n1");
  cluster.TakeInFlight();

  cluster.now = cluster.now + Duration(1000);
  cluster.Deliver(VoteRequestTo("n2", VoteKind::kVote, 9));

  std::optional<VoteResponse> vote = OnlyVoteResponse(cluster);
  ASSERT_TRUE(vote);
  EXPECT_TRUE(vote->granted);
  EXPECT_EQ(cluster.node("n2").term(), Term(9));
}

TEST(RaftElection, RestartedNodeCountsItsStartAsHearingFromALeader) {
  RaftCluster cluster(3);
  cluster.now = Time::FromMilliseconds(50'000);
  cluster.StartAll();

  cluster.now = cluster.now + Duration(999);
  cluster.Deliver(VoteRequestTo("n1", VoteKind::kVote, 1));
  std::optional<VoteResponse> early = OnlyVoteResponse(cluster);
  cluster.now = cluster.now + Duration(1);
  cluster.Deliver(VoteRequestTo("n1", VoteKind::kVote, 1));
  std::optional<VoteResponse> late = OnlyVoteResponse(cluster);

  ASSERT_TRUE(early && late);
  EXPECT_FALSE(early->granted);
  EXPECT_TRUE(late->granted);
}

TEST(RaftElection, LeaderRefusesVotesAndDoesNotStepDownForAHigherTermCandidate) {
  RaftCluster cluster(3);
  cluster.StartAll();
  cluster.Elect("n1");
  cluster.TakeInFlight();

  cluster.Deliver(VoteRequestTo("n1", VoteKind::kVote, 9));

  std::optional<VoteResponse> vote = OnlyVoteResponse(cluster);
  ASSERT_TRUE(vote);
  EXPECT_FALSE(vote->granted);
  EXPECT_EQ(cluster.node("n1").role(), Role::kLeader);
  EXPECT_EQ(cluster.node("n1").term(), Term(1));
}

// Thesis 6.2: "a leader steps down if an election timeout elapses without a successful
// round of heartbeats to a majority of its cluster".
TEST(RaftElection, CheckQuorumStepsDownALeaderThatHearsFromNoMajority) {
  RaftCluster cluster(3);
  cluster.StartAll();
  cluster.Elect("n1");
  const Time elected_at = cluster.now;

  while (cluster.node("n1").role() == Role::kLeader && cluster.now < elected_at + Duration(5000)) {
    cluster.Fire("n1");
    cluster.TakeInFlight();  // Every heartbeat is lost.
  }

  EXPECT_EQ(cluster.node("n1").role(), Role::kFollower);
  EXPECT_GE(cluster.now - elected_at, Duration(1000));
  EXPECT_LT(cluster.now - elected_at, Duration(1200));
}

TEST(RaftElection, StepDownLeaderKeepsRefusingVotesAfterItsLastHeartbeatRound) {
  RaftCluster cluster(3);
  cluster.StartAll();
  cluster.Elect("n1");
  Time last_round = cluster.now;
  while (cluster.node("n1").role() == Role::kLeader) {
    last_round = cluster.now;
    cluster.Fire("n1");
    cluster.TakeInFlight();
  }

  cluster.Deliver(VoteRequestTo("n1", VoteKind::kVote, 9));
  std::optional<VoteResponse> inside = OnlyVoteResponse(cluster);
  cluster.now = last_round + Duration(1000);
  cluster.Deliver(VoteRequestTo("n1", VoteKind::kVote, 9));
  std::optional<VoteResponse> after = OnlyVoteResponse(cluster);

  ASSERT_TRUE(inside && after);
  EXPECT_FALSE(inside->granted);
  EXPECT_TRUE(after->granted);
}

TEST(RaftElection, ArbitratorVotesButNeverCampaigns) {
  RaftCluster cluster(3, {"n3"});
  cluster.StartAll();

  cluster.now = Time::FromMilliseconds(1'000'000);
  cluster.Tick("n3");
  const size_t sent_by_arbitrator = cluster.TakeInFlight().size();
  cluster.Elect("n1");
  cluster.Restart("n2");  // n2 is down; n1 needs the arbitrator's vote and ack.
  cluster.Propose("n1", Command{.client_id = ClientId(1), .sequence = 1, .payload = "x", .revokes = {}});
  cluster.Stabilize([](const Message& m) { return m.header.to != Name("n2"); });

  EXPECT_EQ(sent_by_arbitrator, 0u);
  EXPECT_EQ(cluster.node("n3").role(), Role::kFollower);
  EXPECT_EQ(cluster.node("n1").role(), Role::kLeader);
  EXPECT_EQ(cluster.node("n1").commit_index(), LogIndex(2));
  EXPECT_EQ(cluster.node("n3").last_index(), LogIndex(2));
}

TEST(RaftElection, MessageFromAnotherClusterIsDroppedAndCounted) {
  RaftCluster cluster(3);
  cluster.StartAll();
  cluster.now = Time::FromMilliseconds(5000);
  Message foreign = VoteRequestTo("n1", VoteKind::kVote, 1);
  foreign.header.cluster_id = ClusterId(42);

  cluster.Deliver(foreign);

  EXPECT_TRUE(cluster.TakeInFlight().empty());
  EXPECT_EQ(cluster.node("n1").term(), Term(0));
  EXPECT_EQ(cluster.node("n1").foreign_messages_dropped(), 1u);
}

}  // namespace
}  // namespace cmcl::raft
