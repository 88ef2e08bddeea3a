// Tests that quote the Raft paper (Ongaro & Ousterhout, "In Search of an Understandable
// Consensus Algorithm", extended version): each test checks one sentence of figure 2 or
// of the text, in the style of etcd's raft_paper_test.go: arrange, act, assert.
#include <gtest/gtest.h>

#include "tests/support/raft_cluster.h"

namespace cmcl::raft {
namespace {

using testing::EntriesWithTerms;
using testing::Name;
using testing::RaftCluster;
using testing::TermsOf;

template <typename T>
std::vector<std::pair<Message, T>> Bodies(const std::vector<Message>& messages) {
  std::vector<std::pair<Message, T>> out;
  for (const Message& message : messages) {
    if (const T* body = std::get_if<T>(&message.body)) {
      out.emplace_back(message, *body);
    }
  }
  return out;
}

// Figure 2, Rules for Servers, Candidates: "On conversion to candidate, start election:
// increment currentTerm, vote for self, ... send RequestVote RPCs to all other servers.
// If votes received from majority of servers: become leader."
TEST(RaftPaper, CandidateWithMajorityOfVotesBecomesLeaderOfTheNextTerm) {
  RaftCluster cluster(3);
  cluster.StartAll();

  cluster.Elect("n1");

  EXPECT_EQ(cluster.node("n1").role(), Role::kLeader);
  EXPECT_EQ(cluster.node("n1").term(), Term(1));
  EXPECT_EQ(cluster.disk("n1").hard_state.voted_for, Name("n1"));
  EXPECT_EQ(cluster.node("n2").leader(), Name("n1"));
  EXPECT_EQ(cluster.node("n3").leader(), Name("n1"));
}

// Section 8: "Raft handles this by having each leader commit a blank no-op entry into
// the log at the start of its term."
TEST(RaftPaper, NewLeaderCommitsANoopOfItsTerm) {
  RaftCluster cluster(3);
  cluster.StartAll();

  cluster.Elect("n1");

  ASSERT_EQ(cluster.node("n1").last_index(), LogIndex(1));
  EXPECT_EQ(cluster.node("n1").log()[0].kind, EntryKind::kNoop);
  EXPECT_EQ(cluster.node("n1").log()[0].term, Term(1));
  EXPECT_EQ(cluster.node("n1").commit_index(), LogIndex(1));
}

// Figure 2, RequestVote RPC, receiver implementation: "1. Reply false if term <
// currentTerm."
TEST(RaftPaper, VoteRequestWithStaleTermIsRefused) {
  RaftCluster cluster(3);
  cluster.SetDisk("n2", Term(5), {});
  cluster.StartAll();
  cluster.now = Time::FromMilliseconds(5000);

  cluster.Deliver(Message{
      .header = {.cluster_id = RaftCluster::kClusterId,
                 .from = Name("n1"),
                 .to = Name("n2"),
                 .term = Term(4)},
      .body = VoteRequest{
          .kind = VoteKind::kVote, .last_log_index = LogIndex(0), .last_log_term = Term(0)}});

  auto responses = Bodies<VoteResponse>(cluster.TakeInFlight());
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_FALSE(responses[0].second.granted);
  EXPECT_EQ(responses[0].first.header.term, Term(5));
  EXPECT_EQ(cluster.node("n2").term(), Term(5));
}

Message VoteRequestFrom(const std::string& from, uint64_t term, uint64_t last_index,
                        uint64_t last_term) {
  return Message{.header = {.cluster_id = RaftCluster::kClusterId,
                            .from = Name(from),
                            .to = Name("n1"),
                            .term = Term(term)},
                 .body = VoteRequest{.kind = VoteKind::kVote,
                                     .last_log_index = LogIndex(last_index),
                                     .last_log_term = Term(last_term)}};
}

// Figure 2, RequestVote receiver: "2. If votedFor is null or candidateId ... grant
// vote"; section 5.2: "each server will vote for at most one candidate in a given term,
// on a first-come-first-served basis".
TEST(RaftPaper, NodeVotesForAtMostOneCandidatePerTerm) {
  RaftCluster cluster(3);
  cluster.StartAll();
  cluster.now = Time::FromMilliseconds(5000);

  cluster.Deliver(VoteRequestFrom("n2", 1, 0, 0));
  cluster.Deliver(VoteRequestFrom("n3", 1, 0, 0));
  cluster.Deliver(VoteRequestFrom("n2", 1, 0, 0));  // A retransmission: granted again.

  auto responses = Bodies<VoteResponse>(cluster.TakeInFlight());
  ASSERT_EQ(responses.size(), 3u);
  EXPECT_TRUE(responses[0].second.granted);
  EXPECT_FALSE(responses[1].second.granted);
  EXPECT_TRUE(responses[2].second.granted);
}

// Section 5.4.1: "If the logs have last entries with different terms, then the log with
// the later term is more up-to-date. If the logs end with the same term, then whichever
// log is longer is more up-to-date."
TEST(RaftPaper, VoteIsGrantedOnlyToACandidateWithAnUpToDateLog) {
  struct Case {
    uint64_t last_index, last_term;
    bool granted;
  };
  // The voter's log is [1, 1, 2] (last index 3, last term 2).
  const Case cases[] = {{3, 2, true},  {4, 2, true}, {2, 2, false},
                        {9, 1, false}, {1, 3, true}, {0, 0, false}};
  for (const Case& c : cases) {
    RaftCluster cluster(3);
    cluster.SetDisk("n1", Term(2), EntriesWithTerms({1, 1, 2}));
    cluster.StartAll();
    cluster.now = Time::FromMilliseconds(5000);

    cluster.Deliver(VoteRequestFrom("n2", 3, c.last_index, c.last_term));

    auto responses = Bodies<VoteResponse>(cluster.TakeInFlight());
    ASSERT_EQ(responses.size(), 1u);
    EXPECT_EQ(responses[0].second.granted, c.granted)
        << "candidate last index " << c.last_index << " term " << c.last_term;
  }
}

// Figure 2, All Servers: "If RPC request or response contains term T > currentTerm: set
// currentTerm = T, convert to follower."
TEST(RaftPaper, LeaderStepsDownOnAResponseWithAHigherTerm) {
  RaftCluster cluster(3);
  cluster.StartAll();
  cluster.Elect("n1");

  cluster.Deliver(Message{.header = {.cluster_id = RaftCluster::kClusterId,
                                     .from = Name("n2"),
                                     .to = Name("n1"),
                                     .term = Term(7)},
                          .body = AppendResponse{.success = false,
                                                 .match_index = LogIndex(0),
                                                 .rejected_index = LogIndex(0),
                                                 .last_index = LogIndex(0),
                                                 .node_id = NodeId(0),
                                                 .round = 0,
                                                 .nonce = {}}});

  EXPECT_EQ(cluster.node("n1").role(), Role::kFollower);
  EXPECT_EQ(cluster.node("n1").term(), Term(7));
  EXPECT_EQ(cluster.disk("n1").hard_state.term, Term(7));
}

// Figure 2, AppendEntries receiver: "1. Reply false if term < currentTerm"; the stale
// leader learns the newer term from the reply and steps down.
TEST(RaftPaper, StaleLeaderIsRefusedAndStepsDown) {
  RaftCluster cluster(3);
  cluster.StartAll();
  cluster.Elect("n1");
  cluster.Fire("n1");
  std::vector<Message> stale_heartbeats = cluster.TakeInFlight();
  const auto without_n1 = [](const Message& m) {
    return m.header.to != Name("n1") && m.header.from != Name("n1");
  };
  cluster.now = cluster.now + Duration(2000);  // n2 and n3 stop hearing from n1.
  cluster.Fire("n2");
  cluster.Stabilize(without_n1);
  ASSERT_EQ(cluster.node("n2").role(), Role::kLeader);
  ASSERT_EQ(cluster.node("n2").term(), Term(2));

  cluster.Deliver(stale_heartbeats.at(0));  // n1's term-1 heartbeat reaches n2 late.
  cluster.Stabilize([](const Message& m) { return m.header.to == Name("n1"); });

  EXPECT_EQ(stale_heartbeats.at(0).header.to, Name("n2"));
  EXPECT_EQ(cluster.node("n2").role(), Role::kLeader);
  EXPECT_EQ(cluster.node("n1").role(), Role::kFollower);
  EXPECT_EQ(cluster.node("n1").term(), Term(2));
}

// Figure 2, AppendEntries receiver: "2. Reply false if log doesn't contain an entry at
// prevLogIndex whose term matches prevLogTerm."
TEST(RaftPaper, FollowerRefusesAppendWhosePreviousEntryDoesNotMatch) {
  RaftCluster cluster(3);
  cluster.SetDisk("n2", Term(2), EntriesWithTerms({1, 1}));
  cluster.StartAll();
  cluster.now = Time::FromMilliseconds(5000);

  cluster.Deliver(Message{.header = {.cluster_id = RaftCluster::kClusterId,
                                     .from = Name("n1"),
                                     .to = Name("n2"),
                                     .term = Term(3)},
                          .body = AppendRequest{.prev_log_index = LogIndex(2),
                                                .prev_log_term = Term(2),
                                                .entries = {},
                                                .leader_commit = LogIndex(0)}});

  auto responses = Bodies<AppendResponse>(cluster.TakeInFlight());
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_FALSE(responses[0].second.success);
  EXPECT_EQ(responses[0].second.rejected_index, LogIndex(2));
  EXPECT_EQ(responses[0].second.last_index, LogIndex(2));
}

// Figure 7: "When the leader at the top comes to power, it is possible that any of
// scenarios (a-f) could occur in follower logs." Section 5.3: "the leader handles
// inconsistencies by forcing the followers' logs to duplicate its own."
TEST(RaftPaper, Figure7FollowerLogsConvergeToTheLeaders) {
  const std::vector<uint64_t> leader = {1, 1, 1, 4, 4, 5, 5, 6, 6, 6};
  const std::vector<std::vector<uint64_t>> followers = {
      {1, 1, 1, 4, 4, 5, 5, 6, 6},           // (a) missing entries
      {1, 1, 1, 4},                          // (b)
      {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6},     // (c) extra uncommitted entries
      {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7},  // (d)
      {1, 1, 1, 4, 4, 4, 4},                 // (e) both
      {1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3},     // (f)
  };
  for (const auto& follower : followers) {
    RaftCluster cluster(3);
    cluster.SetDisk("n1", Term(7), EntriesWithTerms(leader));
    cluster.SetDisk("n2", Term(7), EntriesWithTerms(follower));
    cluster.SetDisk("n3", Term(7), EntriesWithTerms(leader));
    cluster.StartAll();

    cluster.Elect("n1");

    std::vector<uint64_t> expected = leader;
    expected.push_back(8);  // The leader's no-op of term 8.
    EXPECT_EQ(cluster.node("n1").term(), Term(8));
    EXPECT_EQ(TermsOf(cluster.node("n2").log()), expected);
    EXPECT_EQ(TermsOf(cluster.disk("n2").entries), expected);
  }
}

// Drops the append that would give n2 the term-4 no-op once n2 holds index 2.
bool CarriesIndex3ToN2WithIndex2(RaftCluster& cluster, const Message& m) {
  const auto* append = std::get_if<AppendRequest>(&m.body);
  return append && m.header.to == Name("n2") && !append->entries.empty() &&
         append->entries[0].index == LogIndex(3) && cluster.node("n2").last_index() >= LogIndex(2);
}

// Section 5.4.2 and figure 8: "Raft never commits log entries from previous terms by
// counting replicas. Only log entries from the leader's current term are committed by
// counting replicas."
TEST(RaftPaper, Figure8EntryOfAnEarlierTermIsNotCommittedByCount) {
  RaftOptions options = RaftCluster::DefaultOptions();
  options.entries_per_message_max = 1;  // Replicate index 2 before the term-4 no-op.
  RaftCluster cluster(3, {}, options);
  cluster.SetDisk("n1", Term(3), EntriesWithTerms({1, 2}));
  cluster.SetDisk("n2", Term(3), EntriesWithTerms({1}));
  cluster.SetDisk("n3", Term(3), EntriesWithTerms({1, 3}));
  cluster.StartAll();
  cluster.now = Time::FromMilliseconds(3000);
  cluster.Fire("n1");
  const auto without_n3 = [](const Message& m) {
    return m.header.to != Name("n3") && m.header.from != Name("n3");
  };
  cluster.Stabilize([&](const Message& m) {  // Elect n1 (term 4); n2 reaches index 2 only.
    return without_n3(m) && !CarriesIndex3ToN2WithIndex2(cluster, m);
  });
  ASSERT_EQ(cluster.node("n1").role(), Role::kLeader);
  ASSERT_EQ(TermsOf(cluster.node("n2").log()), (std::vector<uint64_t>{1, 2}));

  const LogIndex commit_before_noop = cluster.node("n1").commit_index();
  cluster.Tick("n1");
  cluster.now = cluster.node("n1").NextWakeup();
  cluster.Tick("n1");
  cluster.Stabilize(without_n3);

  EXPECT_EQ(commit_before_noop, LogIndex(0));                 // Index 2 (term 2) is on a majority.
  EXPECT_EQ(cluster.node("n1").commit_index(), LogIndex(3));  // With the term-4 no-op.
}

TEST(RaftPaper, Figure8MutationCommitsAnEarlierTermEntryByCount) {
  RaftOptions options = RaftCluster::DefaultOptions();
  options.entries_per_message_max = 1;
  options.mutations.commit_previous_term_by_count = true;
  RaftCluster cluster(3, {}, options);
  cluster.SetDisk("n1", Term(3), EntriesWithTerms({1, 2}));
  cluster.SetDisk("n2", Term(3), EntriesWithTerms({1}));
  cluster.SetDisk("n3", Term(3), EntriesWithTerms({1, 3}));
  cluster.StartAll();
  cluster.now = Time::FromMilliseconds(3000);
  cluster.Fire("n1");

  cluster.Stabilize([&](const Message& m) {
    return m.header.to != Name("n3") && m.header.from != Name("n3") &&
           !CarriesIndex3ToN2WithIndex2(cluster, m);
  });

  EXPECT_EQ(cluster.node("n1").commit_index(), LogIndex(2));  // The bug the paper names.
}

// Figure 2, AppendEntries receiver: "5. If leaderCommit > commitIndex, set commitIndex =
// min(leaderCommit, index of last new entry)"; and "If commitIndex > lastApplied:
// increment lastApplied, apply log[lastApplied] to state machine."
TEST(RaftPaper, FollowersApplyCommittedEntriesInOrder) {
  RaftCluster cluster(3);
  cluster.StartAll();
  cluster.Elect("n1");

  cluster.Propose("n1", Command{.client_id = ClientId(1), .sequence = 1, .payload = "a", .revokes = {}});
  cluster.Stabilize();
  cluster.Fire("n1");  // A heartbeat as well: nothing is applied twice.
  cluster.Stabilize();

  for (const std::string name : {"n1", "n2", "n3"}) {
    const auto& applied = cluster.applied[Name(name)];
    ASSERT_EQ(applied.size(), 2u) << name;
    EXPECT_EQ(applied[0].entry.kind, EntryKind::kNoop);
    EXPECT_EQ(applied[1].entry.command.payload, "a");
  }
}

// Regression (found by cmcl-sim, seed 10144 --swarm): a duplicated or stale append reply
// must not trigger another send, or duplication above loss makes the number of messages
// in flight grow without bound.
TEST(RaftReplication, DuplicatedAppendReplyTriggersNoFurtherSend) {
  RaftOptions options = RaftCluster::DefaultOptions();
  options.entries_per_message_max = 1;
  RaftCluster cluster(3, {}, options);
  cluster.StartAll();
  cluster.Elect("n1");
  cluster.Propose("n1", Command{.client_id = ClientId(1), .sequence = 1, .payload = "a", .revokes = {}});
  cluster.Propose("n1", Command{.client_id = ClientId(1), .sequence = 2, .payload = "b", .revokes = {}});
  for (const Message& message : cluster.TakeInFlight()) {
    if (message.header.to == Name("n2")) {
      cluster.Deliver(message);
    }
  }
  std::vector<Message> replies = cluster.TakeInFlight();
  ASSERT_FALSE(replies.empty());
  const Message reply = replies.front();

  cluster.Deliver(reply);
  const size_t sent_first = cluster.TakeInFlight().size();
  cluster.Deliver(reply);
  const size_t sent_again = cluster.TakeInFlight().size();

  // n2's reply commits "a": the next entry for n2 and an append to n3 carry the new
  // commit index (FollowersLearnANewCommitIndexWithoutWaitingForAHeartbeat).
  EXPECT_EQ(sent_first, 2u);
  EXPECT_EQ(sent_again, 0u);
}

// The leader tells its followers of a new commit index at once instead of at its next
// heartbeat (etcd's bcastAppend on commit): a failed-over package's new owner starts its
// guest, and every node shows a command's result, up to a heartbeat_interval sooner
// (docs/BENCHMARKS.md, "Failover, move, status and idle cost on real daemons").
TEST(RaftReplication, FollowersLearnANewCommitIndexWithoutWaitingForAHeartbeat) {
  RaftCluster cluster(3);
  cluster.StartAll();
  cluster.Elect("n1");

  cluster.Propose("n1",
                  Command{.client_id = ClientId(1), .sequence = 1, .payload = "a", .revokes = {}});
  cluster.Stabilize();  // Delivers every message; no timer fires.

  EXPECT_EQ(cluster.node("n1").commit_index(), LogIndex(2));
  for (const std::string name : {"n2", "n3"}) {
    EXPECT_EQ(cluster.node(name).commit_index(), LogIndex(2)) << name;
    ASSERT_EQ(cluster.applied[Name(name)].size(), 2u) << name;
    EXPECT_EQ(cluster.applied[Name(name)][1].entry.command.payload, "a") << name;
  }
}

}  // namespace
}  // namespace cmcl::raft
