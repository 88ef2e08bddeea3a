// The caretaker arbitrator and leadership transfer (raft.h; Raft thesis 3.10): an
// arbitrator whose log is ahead of a member it refused leads one term without serving
// anything, catches the member up and hands over with TimeoutNow; the member's transfer
// votes are granted despite stickiness and it takes no stickiness credit (N2).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/support/raft_cluster.h"

namespace cmcl::raft {
namespace {

using testing::Name;
using testing::RaftCluster;

Command Cmd(uint64_t sequence) {
  return Command{.client_id = ClientId(7), .sequence = sequence, .payload = "p", .revokes = {}};
}

bool Is(const Message& m, const std::string& type) { return MessageTypeName(m) == type; }

bool WithoutN1(const Message& m) {
  return m.header.to != Name("n1") && m.header.from != Name("n1");
}

// n1 led, replicated an entry to the arbitrator n3 only, and died; n2 lags by it.
RaftCluster& ArbitratorAhead(RaftCluster& cluster) {
  cluster.StartAll();
  cluster.Elect("n1");
  cluster.Propose("n1", Cmd(1));
  cluster.Stabilize(
      [](const Message& m) { return m.header.to != Name("n2") && m.header.from != Name("n2"); });
  cluster.TakeInFlight();
  cluster.replies.clear();                     // n1's answer to its client.
  cluster.now = cluster.now + Duration(5000);  // Nobody is sticky any more.
  return cluster;
}

TEST(RaftTransfer, ArbitratorRefusingAMemberBehindItWantsToCampaign) {
  RaftCluster cluster(3, {"n3"});
  ArbitratorAhead(cluster);
  ASSERT_GT(cluster.node("n3").NextWakeup(), cluster.now + Duration(1'000'000));

  cluster.Fire("n2");  // n2's PreVote.
  cluster.DeliverOnly([](const Message& m) { return Is(m, "PreVoteRequest") && WithoutN1(m); });

  EXPECT_LE(cluster.node("n3").NextWakeup(), cluster.now);
  cluster.Tick("n3");
  EXPECT_EQ(cluster.node("n3").role(), Role::kPreCandidate);
}

TEST(RaftTransfer, StickyArbitratorRefusingAMemberDoesNotCampaign) {
  RaftCluster cluster(3, {"n3"});
  cluster.StartAll();
  cluster.Elect("n1");
  cluster.Propose("n1", Cmd(1));
  cluster.Stabilize(
      [](const Message& m) { return m.header.to != Name("n2") && m.header.from != Name("n2"); });
  cluster.TakeInFlight();
  cluster.now = cluster.now + Duration(300);  // n3 heard n1 300ms ago: still sticky.
  const Message prevote{.header = {.cluster_id = RaftCluster::kClusterId,
                                   .from = Name("n2"),
                                   .to = Name("n3"),
                                   .term = NextTerm(cluster.node("n2").term())},
                        .body = VoteRequest{.kind = VoteKind::kPreVote,
                                            .last_log_index = cluster.node("n2").last_index(),
                                            .last_log_term = cluster.node("n2").last_term(),
                                            .transfer = false}};

  cluster.Deliver(prevote);

  EXPECT_GT(cluster.node("n3").NextWakeup(), cluster.now + Duration(1'000'000));
}

TEST(RaftTransfer, CaretakerCatchesTheMemberUpAndHandsOverWithTimeoutNow) {
  RaftCluster cluster(3, {"n3"});
  ArbitratorAhead(cluster);
  cluster.Fire("n2");
  cluster.DeliverOnly([](const Message& m) { return Is(m, "PreVoteRequest") && WithoutN1(m); });
  cluster.in_flight.clear();  // n2's PreVote failed.
  cluster.Tick("n3");
  std::vector<std::string> types;
  std::vector<Term> terms_when_caretaker;

  cluster.Stabilize([&](const Message& m) {
    types.push_back(MessageTypeName(m));
    if (Is(m, "TimeoutNow")) {
      terms_when_caretaker.push_back(m.header.term);
    }
    return WithoutN1(m);
  });

  ASSERT_EQ(terms_when_caretaker.size(), 1u);
  EXPECT_EQ(terms_when_caretaker[0], Term(2));
  EXPECT_EQ(cluster.node("n2").role(), Role::kLeader);
  EXPECT_EQ(cluster.node("n2").term(), Term(3));
  EXPECT_EQ(cluster.node("n3").role(), Role::kFollower);
  EXPECT_EQ(cluster.node("n3").leader(), Name("n2"));
  // The transfer skipped PreVote: n2's term-3 vote requests came straight after it.
  const auto timeout_now = std::find(types.begin(), types.end(), "TimeoutNow");
  ASSERT_NE(timeout_now, types.end());
  EXPECT_EQ(std::count(timeout_now, types.end(), "PreVoteRequest"), 0);
  // n2 holds the entry it lacked, the caretaker's no-op and its own, all committed.
  EXPECT_EQ(cluster.node("n2").last_index(), LogIndex(4));
  EXPECT_EQ(cluster.node("n2").commit_index(), LogIndex(4));
  EXPECT_TRUE(cluster.node("n2").LeaderReady());
}

// Elects the arbitrator n3 as caretaker and keeps it there: TimeoutNow is lost.
RaftCluster& CaretakerInOffice(RaftCluster& cluster) {
  ArbitratorAhead(cluster);
  cluster.Fire("n2");
  cluster.DeliverOnly([](const Message& m) { return Is(m, "PreVoteRequest") && WithoutN1(m); });
  cluster.in_flight.clear();
  cluster.Tick("n3");
  cluster.Stabilize([](const Message& m) { return WithoutN1(m) && !Is(m, "TimeoutNow"); });
  return cluster;
}

TEST(RaftTransfer, CaretakerIsNeverReadyAndRefusesCommandsWithoutALeaderHint) {
  RaftCluster cluster(3, {"n3"});
  CaretakerInOffice(cluster);
  ASSERT_EQ(cluster.node("n3").role(), Role::kLeader);
  const LogIndex last = cluster.node("n3").last_index();

  cluster.Propose("n3", Cmd(2));

  EXPECT_TRUE(cluster.node("n3").caretaker());
  EXPECT_FALSE(cluster.node("n3").LeaderReady());
  EXPECT_EQ(cluster.node("n3").applied_index(), last);  // Its no-op is applied.
  ASSERT_EQ(cluster.replies.size(), 1u);
  EXPECT_EQ(cluster.replies[0].code, ReplyCode::kNotLeader);
  EXPECT_FALSE(cluster.replies[0].leader_hint.has_value());
  EXPECT_EQ(cluster.node("n3").last_index(), last);
}

TEST(RaftTransfer, CaretakerRefusesAForwardedCommand) {
  RaftCluster cluster(3, {"n3"});
  CaretakerInOffice(cluster);
  const LogIndex last = cluster.node("n3").last_index();
  const Message forward{.header = {.cluster_id = RaftCluster::kClusterId,
                                   .from = Name("n2"),
                                   .to = Name("n3"),
                                   .term = cluster.node("n2").term()},
                        .body = ForwardRequest{.command = Cmd(2)}};

  cluster.Deliver(forward);
  cluster.DeliverOnly([](const Message& m) { return Is(m, "ForwardReply"); });

  EXPECT_EQ(cluster.node("n3").last_index(), last);
  ASSERT_EQ(cluster.replies.size(), 1u);
  EXPECT_EQ(cluster.replies[0].code, ReplyCode::kNotLeader);
  EXPECT_FALSE(cluster.replies[0].leader_hint.has_value());
}

TEST(RaftTransfer, MemberFollowingACaretakerAnswersItsOwnCommandsNotLeaderAtOnce) {
  RaftCluster cluster(3, {"n3"});
  CaretakerInOffice(cluster);
  ASSERT_EQ(cluster.node("n2").leader(), Name("n3"));
  cluster.in_flight.clear();

  cluster.Forward("n2", Cmd(2));
  cluster.Propose("n2", Cmd(3));

  EXPECT_TRUE(cluster.in_flight.empty());
  ASSERT_EQ(cluster.replies.size(), 2u);
  for (const ClientReply& reply : cluster.replies) {
    EXPECT_EQ(reply.code, ReplyCode::kNotLeader);
    EXPECT_FALSE(reply.leader_hint.has_value());
  }
}

TEST(RaftTransfer, CaretakerGrantsNoLease) {
  RaftCluster cluster(3, {"n3"});
  CaretakerInOffice(cluster);
  size_t grants = 0;

  for (int i = 0; i < 5; ++i) {
    cluster.Fire("n3");
    cluster.Stabilize([&](const Message& m) {
      grants += std::holds_alternative<LeaseGrant>(m.body) ? 1u : 0u;
      return WithoutN1(m) && !Is(m, "TimeoutNow");
    });
  }

  ASSERT_EQ(cluster.node("n3").role(), Role::kLeader);
  EXPECT_EQ(grants, 0u);
}

TEST(RaftTransfer, CaretakerRepeatsTimeoutNowAtEveryRoundUntilItStepsDown) {
  RaftCluster cluster(3, {"n3"});
  CaretakerInOffice(cluster);

  cluster.Fire("n3");
  cluster.DeliverOnly([](const Message& m) { return !Is(m, "TimeoutNow") && WithoutN1(m); });
  std::vector<Message> timeout_now;
  for (const Message& m : cluster.TakeInFlight()) {
    if (Is(m, "TimeoutNow")) {
      timeout_now.push_back(m);
    }
  }
  ASSERT_EQ(timeout_now.size(), 1u);
  EXPECT_EQ(timeout_now[0].header.to, Name("n2"));
  cluster.Deliver(timeout_now[0]);
  cluster.Stabilize(WithoutN1);

  EXPECT_EQ(cluster.node("n2").role(), Role::kLeader);
  EXPECT_FALSE(cluster.node("n3").caretaker());
}

TEST(RaftTransfer, LeaderElectedByTransferTakesNoStickinessCredit) {
  RaftCluster cluster(3, {"n3"});
  CaretakerInOffice(cluster);
  cluster.Fire("n3");
  cluster.Stabilize(WithoutN1);  // TimeoutNow delivered; n2 wins at `now`.
  ASSERT_EQ(cluster.node("n2").role(), Role::kLeader);
  const Time elected = cluster.now;

  // n1 is dead: no nonce of it, so N2(a) alone, without the -election_timeout_min credit:
  // e + stretch(2000) = e + 2005.
  EXPECT_EQ(cluster.node("n2").CertainExpiry(Name("n1"), Duration(2000)), elected + Duration(2005));
}

TEST(RaftTransfer, StickyVoterGrantsATransferVoteButNotAnOrdinaryOne) {
  RaftCluster cluster(3);
  cluster.StartAll();
  cluster.Elect("n1");
  cluster.Fire("n1");
  cluster.Stabilize();  // n3 heard n1 just now: sticky.
  const auto vote_request = [&](bool transfer) {
    return Message{.header = {.cluster_id = RaftCluster::kClusterId,
                              .from = Name("n2"),
                              .to = Name("n3"),
                              .term = NextTerm(cluster.node("n3").term())},
                   .body = VoteRequest{.kind = VoteKind::kVote,
                                       .last_log_index = cluster.node("n2").last_index(),
                                       .last_log_term = cluster.node("n2").last_term(),
                                       .transfer = transfer}};
  };
  const auto granted = [&]() {
    for (const Message& m : cluster.TakeInFlight()) {
      if (const auto* response = std::get_if<VoteResponse>(&m.body)) {
        return response->granted;
      }
    }
    return false;
  };

  cluster.Deliver(vote_request(false));
  const bool ordinary = granted();
  cluster.Deliver(vote_request(true));
  const bool transfer = granted();

  EXPECT_FALSE(ordinary);
  EXPECT_TRUE(transfer);
  EXPECT_EQ(cluster.node("n3").voted_for(), Name("n2"));
}

TEST(RaftTransfer, TimeoutNowFromANodeThatIsNotOurLeaderIsIgnored) {
  RaftCluster cluster(3);
  cluster.StartAll();
  cluster.Elect("n1");
  const Term term = cluster.node("n2").term();
  const Message timeout_now{.header = {.cluster_id = RaftCluster::kClusterId,
                                       .from = Name("n3"),
                                       .to = Name("n2"),
                                       .term = term},
                            .body = TimeoutNow{}};

  cluster.Deliver(timeout_now);

  EXPECT_EQ(cluster.node("n2").role(), Role::kFollower);
  EXPECT_EQ(cluster.node("n2").term(), term);
}

TEST(RaftTransfer, OrdinaryLeaderNeverSendsTimeoutNow) {
  RaftCluster cluster(3);
  cluster.StartAll();
  cluster.Elect("n1");
  size_t timeout_now = 0;

  for (int i = 0; i < 10; ++i) {
    cluster.Fire("n1");
    cluster.Stabilize([&](const Message& m) {
      timeout_now += Is(m, "TimeoutNow") ? 1u : 0u;
      return true;
    });
  }

  EXPECT_EQ(timeout_now, 0u);
  EXPECT_EQ(cluster.node("n1").role(), Role::kLeader);
}

}  // namespace
}  // namespace cmcl::raft
