// The simulator's StateChecker bites: each safety property it claims is flagged when
// fed the observation that breaks it (tests/sim/state_checker.h). The mutation CTests
// show three Raft bugs are caught end to end; these pin each property directly.
#include <gtest/gtest.h>

#include <vector>

#include "tests/sim/state_checker.h"

namespace cmcl::sim {
namespace {

using raft::ApplyEntry;
using raft::ClientId;
using raft::Entry;
using raft::EntryKind;
using raft::LogIndex;
using raft::Term;

NodeName N(const char* name) { return NodeName(name); }

Entry CommandEntry(uint64_t index, uint64_t term, uint64_t client, uint64_t sequence) {
  return Entry{.term = Term(term),
               .index = LogIndex(index),
               .kind = EntryKind::kCommand,
               .command = {.client_id = ClientId(client), .sequence = sequence, .payload = "x", .revokes = {}}};
}

TEST(StateCheckerReview, TwoLeadersInOneTermAreFlagged) {
  StateChecker checker;
  checker.OnRole(N("n1"), raft::Role::kLeader, Term(3));
  checker.OnRole(N("n1"), raft::Role::kLeader, Term(3));  // The same leader again is fine.
  EXPECT_FALSE(checker.violation());

  checker.OnRole(N("n2"), raft::Role::kLeader, Term(3));

  ASSERT_TRUE(checker.violation());
  EXPECT_NE(checker.violation()->find("election safety"), std::string::npos);
}

TEST(StateCheckerReview, DifferentEntriesAppliedAtOneIndexAreFlagged) {
  StateChecker checker;
  checker.OnApply(N("n1"), ApplyEntry{.entry = CommandEntry(1, 1, 1, 1), .duplicate = false});

  checker.OnApply(N("n2"), ApplyEntry{.entry = CommandEntry(1, 2, 2, 1), .duplicate = false});

  ASSERT_TRUE(checker.violation());
  EXPECT_NE(checker.violation()->find("state machine safety"), std::string::npos);
}

TEST(StateCheckerReview, CommandExecutedAtTwoIndicesIsFlagged) {
  StateChecker checker;
  checker.OnApply(N("n1"), ApplyEntry{.entry = CommandEntry(1, 1, 5, 1), .duplicate = false});

  checker.OnApply(N("n1"), ApplyEntry{.entry = CommandEntry(2, 1, 5, 1), .duplicate = false});

  ASSERT_TRUE(checker.violation());
  EXPECT_NE(checker.violation()->find("at most once"), std::string::npos);
}

TEST(StateCheckerReview, AcknowledgementNamingAnIndexThatHoldsAnotherCommandIsFlagged) {
  StateChecker checker;
  checker.OnApply(N("n1"), ApplyEntry{.entry = CommandEntry(1, 1, 5, 1), .duplicate = false});

  checker.OnReply(raft::ClientReply{.client_id = ClientId(5),
                                    .sequence = 2,
                                    .code = raft::ReplyCode::kApplied,
                                    .applied_index = LogIndex(1),
                                    .leader_hint = std::nullopt, .detail = {}});

  ASSERT_TRUE(checker.violation());
  EXPECT_NE(checker.violation()->find("acknowledged command lost"), std::string::npos);
}

TEST(StateCheckerReview, VoteGrantSentBeforeTheVoteIsDurableIsFlagged) {
  StateChecker checker;
  raft::PersistedState disk;  // Term 0, no vote: the grant below is not durable.
  const raft::Message grant{
      .header = {.cluster_id = raft::ClusterId(1), .from = N("n1"), .to = N("n2"), .term = Term(1)},
      .body = raft::VoteResponse{.kind = raft::VoteKind::kVote, .granted = true, .voter_node_id = {}}};

  checker.OnSend(N("n1"), grant, disk);

  ASSERT_TRUE(checker.violation());
  EXPECT_NE(checker.violation()->find("persistence contract"), std::string::npos);
}

// Figure 8: a commit is premature if a log lacking the entry can still collect a majority.
TEST(StateCheckerReview, CommitThatALaggingLogCanStillOverturnIsFlagged) {
  StateChecker checker;
  using View = StateChecker::LogView;
  const std::vector<View> logs = {
      View{.node = N("n1"), .last_index = LogIndex(2), .last_term = Term(2),
           .term_at_commit = Term(2)},
      View{.node = N("n2"), .last_index = LogIndex(1), .last_term = Term(1),
           .term_at_commit = std::nullopt},
      View{.node = N("n3"), .last_index = LogIndex(3), .last_term = Term(3),
           .term_at_commit = Term(3)},
  };

  checker.OnCommit(N("n1"), LogIndex(2), Term(2), logs);

  ASSERT_TRUE(checker.violation());
  EXPECT_NE(checker.violation()->find("commitment safety"), std::string::npos);
}

}  // namespace
}  // namespace cmcl::sim
