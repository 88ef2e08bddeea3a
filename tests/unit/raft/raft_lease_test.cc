// Leases through Raft (raft.h, lease.h; DESIGN.md section 4): nonces in append replies,
// grants only after majority rounds, the leader's own lease, L3's hold, certain expiry,
// disarm, and forwarding a node's commands to the leader.
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/raft_cluster.h"

namespace cmcl::raft {
namespace {

using testing::Name;
using testing::RaftCluster;

constexpr Duration kLease = Duration(2000);  // RaftOptions::lease_length's default.

Command Cmd(uint64_t sequence, std::vector<NodeName> revokes = {}) {
  return Command{.client_id = ClientId(7),
                 .sequence = sequence,
                 .payload = "assign",
                 .revokes = std::move(revokes)};
}

bool Is(const Message& m, const std::string& type) { return MessageTypeName(m) == type; }

// An append reply, or `voter`'s vote (a granted vote carries a nonce, as a reply does).
bool IsAppendReplyOrVoteOf(const Message& m, const std::string& voter) {
  const auto* vote = std::get_if<VoteResponse>(&m.body);
  return std::holds_alternative<AppendResponse>(m.body) ||
         (vote != nullptr && vote->kind == VoteKind::kVote && m.header.from == Name(voter));
}

// Every LeaseGrant delivered while the in-flight messages (all of them) are delivered.
std::vector<Message> StabilizeCollectingGrants(RaftCluster& cluster) {
  std::vector<Message> grants;
  cluster.Stabilize([&](const Message& m) {
    if (std::holds_alternative<LeaseGrant>(m.body)) {
      grants.push_back(m);
    }
    return true;
  });
  return grants;
}

std::vector<Message> GrantsTo(const std::vector<Message>& grants, const std::string& to) {
  std::vector<Message> out;
  for (const Message& m : grants) {
    if (m.header.to == Name(to)) {
      out.push_back(m);
    }
  }
  return out;
}

// A settled cluster led by n1: every node answered several rounds, so n1 knows a nonce
// of each and every follower holds a lease.
RaftCluster& Settle(RaftCluster& cluster) {
  cluster.StartAll();
  cluster.Elect("n1");
  for (int i = 0; i < 3; ++i) {
    cluster.Fire("n1");
    cluster.Stabilize();
  }
  return cluster;
}

// --- F1, F2 through Raft -----------------------------------------------------------------

TEST(RaftLease, EveryAppendReplyCarriesAFreshNonceAndEchoesTheRound) {
  RaftCluster cluster(3);
  Settle(cluster);
  cluster.Fire("n1");
  const uint64_t incarnation = cluster.node("n2").lease().incarnation();

  std::vector<AppendResponse> replies;
  std::vector<uint64_t> rounds;
  cluster.Stabilize([&](const Message& m) {
    if (const auto* request = std::get_if<AppendRequest>(&m.body)) {
      rounds.push_back(request->round);
    }
    if (const auto* reply = std::get_if<AppendResponse>(&m.body)) {
      if (m.header.from == Name("n2")) {
        replies.push_back(*reply);
      }
    }
    return true;
  });

  ASSERT_EQ(replies.size(), 1u);
  ASSERT_FALSE(rounds.empty());
  EXPECT_EQ(replies[0].round, rounds[0]);
  EXPECT_NE(replies[0].round, 0u);
  EXPECT_EQ(replies[0].nonce.incarnation, incarnation);
  EXPECT_NE(replies[0].nonce.seq, 0u);
}

TEST(RaftLease, FollowerLeaseIsAnchoredAtItsOwnSendTimeNotAtTheGrantArrival) {
  RaftCluster cluster(3);
  Settle(cluster);
  // Round A: n2 answers at `sent`; its nonce is noted by the next round.
  cluster.Fire("n1");
  const Time sent = cluster.now;
  cluster.Stabilize();
  // Round B, 100ms later: a majority answers it, which confirms the nonce n2 sent at
  // `sent`. Its grant is delayed by 900ms.
  cluster.Fire("n1");
  cluster.Stabilize([](const Message& m) { return !std::holds_alternative<LeaseGrant>(m.body); });
  cluster.in_flight.clear();
  cluster.Fire("n1");  // Round C's replies confirm round B; keep its grants in flight.
  cluster.DeliverOnly([](const Message& m) { return !std::holds_alternative<LeaseGrant>(m.body); });
  std::vector<Message> grants;
  for (const Message& m : cluster.TakeInFlight()) {
    if (m.header.to == Name("n2")) {
      grants.push_back(m);
    }
  }
  ASSERT_EQ(grants.size(), 1u);
  const Time round_b_sent = sent + Duration(100);

  cluster.now = cluster.now + Duration(900);
  cluster.Deliver(grants[0]);

  // n2 answered round B at round_b_sent with the nonce round C confirmed.
  EXPECT_EQ(cluster.node("n2").lease().lease_end(), round_b_sent + kLease);
}

TEST(RaftLease, GrantDeliveredAfterItsLeaseEndedDoesNotRevive) {
  RaftCluster cluster(3);
  Settle(cluster);
  cluster.Fire("n1");
  cluster.Stabilize();
  cluster.Fire("n1");
  cluster.DeliverOnly([](const Message& m) { return !std::holds_alternative<LeaseGrant>(m.body); });
  std::vector<Message> grants = cluster.TakeInFlight();
  cluster.now = cluster.now + Duration(10'000);  // The network holds everything.
  const std::optional<Time> before = cluster.node("n2").lease().lease_end();
  ASSERT_TRUE(before.has_value());
  ASSERT_LT(*before, cluster.now);

  for (const Message& m : grants) {
    cluster.Deliver(m);
  }

  EXPECT_FALSE(cluster.node("n2").lease().Valid(cluster.now));
  EXPECT_LE(cluster.node("n2").lease().lease_end(), cluster.now);
}

TEST(RaftLease, DuplicatedGrantChangesNothing) {
  RaftCluster cluster(3);
  Settle(cluster);
  cluster.Fire("n1");
  cluster.DeliverOnly([](const Message& m) { return !std::holds_alternative<LeaseGrant>(m.body); });
  std::vector<Message> grants = GrantsTo(cluster.TakeInFlight(), "n2");
  ASSERT_EQ(grants.size(), 1u);
  cluster.Deliver(grants[0]);
  const std::optional<Time> once = cluster.node("n2").lease().lease_end();

  cluster.now = cluster.now + Duration(500);
  cluster.Deliver(grants[0]);
  cluster.Deliver(grants[0]);

  EXPECT_EQ(cluster.node("n2").lease().lease_end(), once);
}

TEST(RaftLease, GrantOfAnOlderTermIsDroppedByTheFollower) {
  RaftCluster cluster(3);
  Settle(cluster);
  cluster.Fire("n1");
  cluster.DeliverOnly([](const Message& m) { return !std::holds_alternative<LeaseGrant>(m.body); });
  std::vector<Message> old_grants = GrantsTo(cluster.TakeInFlight(), "n3");
  ASSERT_EQ(old_grants.size(), 1u);
  // n2 takes over in term 2 and n3 follows it.
  cluster.now = cluster.now + Duration(5000);
  cluster.Fire("n2");
  cluster.Stabilize([](const Message& m) { return m.header.to != Name("n1"); });
  ASSERT_EQ(cluster.node("n3").term(), Term(2));
  const uint64_t dropped = cluster.node("n3").lease().grants_dropped();
  const std::optional<Time> before = cluster.node("n3").lease().lease_end();

  cluster.Deliver(old_grants[0]);

  EXPECT_EQ(cluster.node("n3").lease().lease_end(), before);
  EXPECT_EQ(cluster.node("n3").lease().grants_dropped(), dropped + 1);
}

TEST(RaftLease, RestartedFollowerDropsGrantsForItsPreviousIncarnationsNonces) {
  RaftCluster cluster(3);
  Settle(cluster);
  cluster.Fire("n1");
  cluster.DeliverOnly([](const Message& m) { return !std::holds_alternative<LeaseGrant>(m.body); });
  std::vector<Message> grants = GrantsTo(cluster.TakeInFlight(), "n2");
  ASSERT_EQ(grants.size(), 1u);

  cluster.Restart("n2");
  cluster.Deliver(grants[0]);

  EXPECT_FALSE(cluster.node("n2").lease().lease_end().has_value());
  EXPECT_EQ(cluster.node("n2").lease().grants_dropped(), 1u);
}

// --- L1, L2 ------------------------------------------------------------------------------

TEST(RaftLease, NoGrantLeavesBeforeAMajorityAnsweredARoundSentAfterTheNonce) {
  RaftCluster cluster(5);
  Settle(cluster);
  cluster.Fire("n1");
  cluster.DeliverOnly(
      [](const Message& m) { return std::holds_alternative<AppendRequest>(m.body); });
  std::vector<Message> replies = cluster.TakeInFlight();
  ASSERT_EQ(replies.size(), 4u);

  cluster.Deliver(replies[0]);  // n2 only: with n1, two of five.
  const bool granted_by_minority =
      std::any_of(cluster.in_flight.begin(), cluster.in_flight.end(),
                  [](const Message& m) { return std::holds_alternative<LeaseGrant>(m.body); });
  cluster.Deliver(replies[1]);  // n3: three of five.
  const std::vector<Message> grants = cluster.TakeInFlight();

  EXPECT_FALSE(granted_by_minority);
  // Every follower whose nonce arrived before the round gets one, the silent ones too.
  ASSERT_EQ(grants.size(), 4u);
  for (const Message& m : grants) {
    EXPECT_TRUE(std::holds_alternative<LeaseGrant>(m.body));
    EXPECT_EQ(m.header.term, cluster.node("n1").term());
  }
}

TEST(RaftLease, GrantedNonceIsTheLatestReceivedBeforeTheRoundNotTheRoundsOwnReply) {
  RaftCluster cluster(3);
  Settle(cluster);
  cluster.Fire("n1");
  cluster.DeliverOnly(
      [](const Message& m) { return std::holds_alternative<AppendRequest>(m.body); });
  std::vector<Message> replies = cluster.TakeInFlight();
  ASSERT_EQ(replies.size(), 2u);
  const Nonce reply_nonce = std::get<AppendResponse>(replies[0].body).nonce;
  ASSERT_EQ(replies[0].header.from, Name("n2"));

  cluster.Deliver(replies[0]);
  std::vector<Message> grants = GrantsTo(cluster.TakeInFlight(), "n2");

  ASSERT_EQ(grants.size(), 1u);
  const Nonce granted = std::get<LeaseGrant>(grants[0].body).grant.nonce;
  EXPECT_EQ(granted.incarnation, reply_nonce.incarnation);
  EXPECT_LT(granted.seq, reply_nonce.seq);
}

TEST(RaftLease, LeaderLeasesItselfFromMajorityRoundsAtRoundSendTimePlusL) {
  RaftCluster cluster(3);
  Settle(cluster);
  cluster.Fire("n1");
  const Time round_sent = cluster.now;
  cluster.DeliverOnly(
      [](const Message& m) { return std::holds_alternative<AppendRequest>(m.body); });
  std::vector<Message> replies = cluster.TakeInFlight();
  ASSERT_EQ(replies.size(), 2u);
  cluster.now = cluster.now + Duration(300);
  const std::optional<Time> before = cluster.node("n1").lease().lease_end();

  cluster.Deliver(replies[0]);

  EXPECT_NE(before, round_sent + kLease);
  EXPECT_EQ(cluster.node("n1").lease().lease_end(), round_sent + kLease);
}

TEST(RaftLease, IsolatedLeaderDoesNotExtendItsOwnLease) {
  RaftCluster cluster(3);
  Settle(cluster);
  const std::optional<Time> before = cluster.node("n1").lease().lease_end();
  ASSERT_TRUE(before.has_value());

  for (int i = 0; i < 5; ++i) {
    cluster.Fire("n1");
    cluster.in_flight.clear();  // Nobody hears it.
  }

  EXPECT_EQ(cluster.node("n1").role(), Role::kLeader);
  EXPECT_EQ(cluster.node("n1").lease().lease_end(), before);
}

TEST(RaftLease, OneVoterClusterLeasesItselfAtEveryRound) {
  RaftCluster cluster(1);
  cluster.StartAll();
  cluster.Elect("n1");
  ASSERT_EQ(cluster.node("n1").role(), Role::kLeader);

  cluster.Fire("n1");
  const Time round_sent = cluster.now;

  EXPECT_EQ(cluster.node("n1").lease().lease_end(), round_sent + kLease);
  EXPECT_TRUE(cluster.in_flight.empty());
}

TEST(RaftLease, FollowerWhoseRepliesDoNotArriveGetsNoGrant) {
  RaftCluster cluster(3);
  cluster.StartAll();
  cluster.now = cluster.now + Duration(3000);
  std::vector<Message> grants;
  for (int i = 0; i < 6; ++i) {
    cluster.Fire("n1");  // The first one starts the election.
    cluster.Stabilize([&](const Message& m) {
      if (std::holds_alternative<LeaseGrant>(m.body)) {
        grants.push_back(m);
      }
      // One-way link: n3 hears n1 and votes, but its append replies are lost.
      return !(m.header.from == Name("n3") && std::holds_alternative<AppendResponse>(m.body));
    });
  }
  ASSERT_EQ(cluster.node("n1").role(), Role::kLeader);

  EXPECT_FALSE(GrantsTo(grants, "n2").empty());
  EXPECT_TRUE(GrantsTo(grants, "n3").empty());
  EXPECT_FALSE(cluster.node("n3").lease().lease_end().has_value());
  EXPECT_FALSE(cluster.node("n1").LastNonceAt(Name("n3")).has_value());
}

TEST(RaftLease, NewLeaderSendsNoGrantAndTakesNoLeaseBeforeItAppliedItsNoop) {
  // Its grant terms (SetLeaseTerms) come from its applied state, which may miss a
  // committed `arm`: until its no-op is applied they may be stale.
  RaftCluster cluster(3);
  Settle(cluster);
  cluster.now = cluster.now + Duration(5000);
  cluster.Fire("n2");
  cluster.DeliverOnly(
      [](const Message& m) { return Is(m, "PreVoteRequest") || Is(m, "PreVoteResponse"); });
  ASSERT_EQ(cluster.node("n2").role(), Role::kCandidate);
  cluster.HoldPersists("n2", true);  // Its no-op will not become durable.
  std::vector<Message> grants = StabilizeCollectingGrants(cluster);
  ASSERT_EQ(cluster.node("n2").role(), Role::kLeader);
  const std::optional<Time> own_before = cluster.node("n2").lease().lease_end();

  for (int i = 0; i < 3; ++i) {
    cluster.Fire("n2");
    for (const Message& m : StabilizeCollectingGrants(cluster)) {
      grants.push_back(m);
    }
  }
  ASSERT_FALSE(cluster.node("n2").LeaderReady());
  const std::vector<Message> grants_before_ready = grants;
  const std::optional<Time> own_unready = cluster.node("n2").lease().lease_end();
  cluster.CompletePersists("n2");
  ASSERT_TRUE(cluster.node("n2").LeaderReady());
  cluster.Fire("n2");
  const Time round_sent = cluster.now;
  const std::vector<Message> grants_after = StabilizeCollectingGrants(cluster);

  EXPECT_TRUE(grants_before_ready.empty());
  EXPECT_EQ(own_unready, own_before);
  // The rounds confirmed while it was not ready are granted now, then the new round's.
  EXPECT_GE(GrantsTo(grants_after, "n1").size(), 1u);
  EXPECT_GE(GrantsTo(grants_after, "n3").size(), 1u);
  EXPECT_EQ(cluster.node("n2").lease().lease_end(), round_sent + kLease);
}

TEST(RaftLease, ANewLeadersFirstRoundGrantsItsVotersALeaseFromTheNonceOfTheirVote) {
  // A voter's nonce travels in its vote, so the first round's majority confirms it:
  // followers far from the new leader keep their leases without waiting for a second
  // round (tests/scenarios/coordinator-crash fenced them before).
  RaftCluster cluster(3);
  Settle(cluster);
  cluster.now = cluster.now + Duration(5000);
  cluster.Fire("n2");
  std::map<NodeName, Nonce> vote_nonces;
  std::vector<Message> grants;
  cluster.Stabilize([&](const Message& m) {
    if (const auto* vote = std::get_if<VoteResponse>(&m.body);
        vote != nullptr && vote->kind == VoteKind::kVote && vote->granted) {
      vote_nonces[m.header.from] = vote->nonce;
    }
    if (std::holds_alternative<LeaseGrant>(m.body)) grants.push_back(m);
    return true;
  });
  ASSERT_EQ(cluster.node("n2").role(), Role::kLeader);
  ASSERT_FALSE(vote_nonces.empty());

  // No second round was fired: the grants come from the election's round alone. The
  // vote that elected n2 arrived before that round and is granted; a vote arriving
  // after it (the third node's, not needed) is noted for the next round.
  size_t granted_votes = 0;
  for (const auto& [voter, nonce] : vote_nonces) {
    EXPECT_NE(nonce.seq, 0u);
    for (const Message& grant : GrantsTo(grants, voter.value())) {
      EXPECT_EQ(grant.header.term, cluster.node("n2").term());
      granted_votes += std::get<LeaseGrant>(grant.body).grant.nonce == nonce ? 1u : 0u;
    }
  }
  EXPECT_GE(granted_votes, 1u);
}

TEST(RaftLease, APreVoteAndARefusedVoteCarryNoNonce) {
  RaftCluster cluster(3);
  Settle(cluster);
  cluster.now = cluster.now + Duration(5000);
  cluster.Fire("n2");
  std::vector<VoteResponse> others;
  cluster.Stabilize([&](const Message& m) {
    if (const auto* vote = std::get_if<VoteResponse>(&m.body);
        vote != nullptr && (vote->kind == VoteKind::kPreVote || !vote->granted)) {
      others.push_back(*vote);
    }
    return true;
  });

  ASSERT_FALSE(others.empty());
  for (const VoteResponse& vote : others) EXPECT_EQ(vote.nonce.seq, 0u);
}

// --- L3 ----------------------------------------------------------------------------------

TEST(RaftLease, NoGrantGoesToANodeNamedInAnUncommittedRevokeButOthersGetTheirs) {
  RaftCluster cluster(3);
  Settle(cluster);
  // The entry reaches n2 only durably: n1's and n3's disks hold it back, so it cannot
  // commit, while n1 and n2 still answer every round.
  cluster.HoldPersists("n1", true);
  cluster.HoldPersists("n3", true);
  cluster.Propose("n1", Cmd(1, {Name("n2")}));
  const LogIndex revoke_index = cluster.node("n1").last_index();

  std::vector<Message> grants = StabilizeCollectingGrants(cluster);
  for (int i = 0; i < 3; ++i) {
    cluster.Fire("n1");
    for (const Message& m : StabilizeCollectingGrants(cluster)) {
      grants.push_back(m);
    }
  }

  ASSERT_LT(cluster.node("n1").commit_index(), revoke_index);
  EXPECT_TRUE(GrantsTo(grants, "n2").empty());
  EXPECT_FALSE(GrantsTo(grants, "n3").empty());
  for (const Message& m : GrantsTo(grants, "n3")) {
    EXPECT_LT(std::get<LeaseGrant>(m.body).grant.min_applied, revoke_index);
  }
}

TEST(RaftLease, AfterTheRevokeCommitsGrantsCarryCAtLeastItsIndex) {
  RaftCluster cluster(3);
  Settle(cluster);
  cluster.HoldPersists("n1", true);
  cluster.HoldPersists("n3", true);
  cluster.Propose("n1", Cmd(1, {Name("n2")}));
  const LogIndex revoke_index = cluster.node("n1").last_index();
  cluster.Stabilize();
  cluster.Fire("n1");
  cluster.Stabilize();

  cluster.HoldPersists("n1", false);
  cluster.CompletePersists("n1");
  ASSERT_GE(cluster.node("n1").commit_index(), revoke_index);
  cluster.Fire("n1");
  const std::vector<Message> grants = StabilizeCollectingGrants(cluster);

  const std::vector<Message> to_n2 = GrantsTo(grants, "n2");
  ASSERT_FALSE(to_n2.empty());
  for (const Message& m : to_n2) {
    EXPECT_GE(std::get<LeaseGrant>(m.body).grant.min_applied, revoke_index);
  }
  EXPECT_GE(cluster.node("n2").lease().min_applied(), revoke_index);
}

TEST(RaftLease, LeaderNamedInAnUncommittedRevokeDoesNotExtendItsOwnLease) {
  RaftCluster cluster(3);
  Settle(cluster);
  cluster.HoldPersists("n1", true);  // As above: n1 and n2 answer rounds, nothing commits.
  cluster.HoldPersists("n3", true);
  cluster.Propose("n1", Cmd(1, {Name("n1")}));
  const LogIndex revoke_index = cluster.node("n1").last_index();
  const std::optional<Time> before = cluster.node("n1").lease().lease_end();

  std::vector<Message> grants;
  for (int i = 0; i < 3; ++i) {
    cluster.Fire("n1");
    for (const Message& m : StabilizeCollectingGrants(cluster)) {
      grants.push_back(m);
    }
  }

  ASSERT_LT(cluster.node("n1").commit_index(), revoke_index);
  EXPECT_FALSE(GrantsTo(grants, "n2").empty());  // Majority rounds did happen.
  EXPECT_EQ(cluster.node("n1").lease().lease_end(), before);
}

// --- L4, N2 ------------------------------------------------------------------------------

TEST(RaftLease, CertainExpiryIsTheLaterOfN2aAndTheLatestNoncePlusStretch) {
  RaftCluster cluster(3);
  cluster.StartAll();
  cluster.Elect("n1");
  const Time elected = cluster.now;  // Every message of the election arrived now.
  // stretch(2000) at 1000ppm = 2004.004 -> 2005; election_timeout_min = 1000.

  // The election's replies carried nonces at `elected`: max(e+1005, e+2005).
  EXPECT_EQ(cluster.node("n1").CertainExpiry(Name("n2"), kLease), elected + Duration(2005));

  cluster.now = cluster.now + Duration(700);
  cluster.Tick("n1");
  cluster.Stabilize([](const Message& m) { return m.header.from != Name("n3"); });

  EXPECT_EQ(cluster.node("n1").LastNonceAt(Name("n2")), elected + Duration(700));
  EXPECT_EQ(cluster.node("n1").CertainExpiry(Name("n2"), kLease), elected + Duration(2705));
  EXPECT_EQ(cluster.node("n1").CertainExpiry(Name("n3"), kLease), elected + Duration(2005));
  // A disarmed node's wait: stretch(60'000) = 60'120.12 -> 60'121.
  EXPECT_EQ(cluster.node("n1").CertainExpiry(Name("n2"), Duration(60'000)),
            elected + Duration(700 + 60'121));
}

TEST(RaftLease, CertainExpiryWithoutAnyNonceIsElectionPlusStretchMinusStickiness) {
  RaftCluster cluster(3);
  cluster.StartAll();
  cluster.now = cluster.now + Duration(3000);
  cluster.Fire("n1");
  // n3's vote elects n1; n2's vote (which carries a nonce) and append replies are lost.
  cluster.Stabilize([](const Message& m) { return !IsAppendReplyOrVoteOf(m, "n2"); });
  ASSERT_EQ(cluster.node("n1").role(), Role::kLeader);
  const Time elected = cluster.now;

  EXPECT_EQ(cluster.node("n1").CertainExpiry(Name("n2"), kLease),
            elected + Duration(2005) - Duration(1000));
}

TEST(RaftLease, CertainExpiryAndLastNonceAreForLeadersOnly) {
  RaftCluster cluster(3);
  Settle(cluster);

  EXPECT_FALSE(cluster.node("n2").CertainExpiry(Name("n3"), kLease).has_value());
  EXPECT_FALSE(cluster.node("n2").LastNonceAt(Name("n3")).has_value());
  EXPECT_TRUE(cluster.node("n1").CertainExpiry(Name("n3"), kLease).has_value());
}

// --- Disarm ------------------------------------------------------------------------------

TEST(RaftLease, DisarmedGrantsCarryDAndArmingShortensTheFollowerOnce) {
  RaftCluster cluster(3);
  Settle(cluster);
  const Duration disarm = Duration(60'000);
  cluster.node("n1").SetLeaseTerms(LeaseMode::kDisarmed, disarm);
  cluster.Fire("n1");
  const Time sent = cluster.now;
  cluster.Stabilize();
  cluster.Fire("n1");
  std::vector<Message> grants = StabilizeCollectingGrants(cluster);
  ASSERT_FALSE(GrantsTo(grants, "n2").empty());
  const Grant disarmed = std::get<LeaseGrant>(GrantsTo(grants, "n2").back().body).grant;
  EXPECT_EQ(disarmed.mode, LeaseMode::kDisarmed);
  EXPECT_EQ(disarmed.lease, disarm);
  EXPECT_EQ(cluster.node("n2").lease().lease_end(), sent + disarm);
  EXPECT_EQ(cluster.node("n1").lease().lease_end(), cluster.now + disarm);

  cluster.node("n1").SetLeaseTerms(LeaseMode::kArmed, kLease);
  cluster.Fire("n1");
  const Time armed_sent = cluster.now;
  cluster.Stabilize();
  cluster.Fire("n1");
  cluster.Stabilize();

  EXPECT_EQ(cluster.node("n2").lease().mode(), LeaseMode::kArmed);
  EXPECT_EQ(cluster.node("n2").lease().lease_end(), armed_sent + kLease);
  EXPECT_EQ(cluster.node("n1").lease().lease_end(), cluster.now + kLease);
}

// --- Forwarding --------------------------------------------------------------------------

TEST(RaftForward, FollowersCommandGoesToTheLeaderIsAppliedOnceAndAnsweredAtTheOrigin) {
  RaftCluster cluster(3);
  Settle(cluster);

  cluster.Forward("n2", Cmd(1));
  ASSERT_EQ(cluster.in_flight.size(), 1u);
  EXPECT_TRUE(Is(cluster.in_flight[0], "ForwardRequest"));
  EXPECT_EQ(cluster.in_flight[0].header.to, Name("n1"));
  std::vector<Message> answers;
  cluster.Stabilize([&](const Message& m) {
    if (std::holds_alternative<ForwardReply>(m.body)) {
      answers.push_back(m);
    }
    return true;
  });
  cluster.Fire("n1");
  cluster.Stabilize();

  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].header.to, Name("n2"));
  ASSERT_EQ(cluster.replies.size(), 1u);
  EXPECT_EQ(cluster.replies[0].code, ReplyCode::kApplied);
  EXPECT_EQ(cluster.replies[0].sequence, 1u);
  for (const std::string node : {"n1", "n2", "n3"}) {
    size_t applied = 0;
    for (const ApplyEntry& apply : cluster.applied[Name(node)]) {
      applied += apply.entry.command == Cmd(1) && !apply.duplicate ? 1u : 0u;
    }
    EXPECT_EQ(applied, 1u) << node;
  }
}

TEST(RaftForward, LeadersOwnForwardIsProposedLocally) {
  RaftCluster cluster(3);
  Settle(cluster);

  cluster.Forward("n1", Cmd(1));
  cluster.Stabilize();

  ASSERT_EQ(cluster.replies.size(), 1u);
  EXPECT_EQ(cluster.replies[0].code, ReplyCode::kApplied);
}

TEST(RaftForward, WithNoKnownLeaderTheAnswerIsNotLeaderAtOnce) {
  RaftCluster cluster(3);
  cluster.StartAll();

  cluster.Forward("n2", Cmd(1));

  EXPECT_TRUE(cluster.in_flight.empty());
  ASSERT_EQ(cluster.replies.size(), 1u);
  EXPECT_EQ(cluster.replies[0].code, ReplyCode::kNotLeader);
  EXPECT_FALSE(cluster.replies[0].leader_hint.has_value());
}

TEST(RaftForward, LeaderThatStepsDownAnswersForwardedCommandsUnknownOutcomeAtTheOrigin) {
  RaftCluster cluster(3);
  Settle(cluster);
  cluster.Forward("n2", Cmd(1));
  cluster.DeliverOnly([](const Message& m) { return Is(m, "ForwardRequest"); });
  cluster.in_flight.clear();  // The entry never reaches anyone.
  std::vector<Message> answers;
  while (cluster.node("n1").role() == Role::kLeader) {  // CheckQuorum.
    cluster.Fire("n1");
    for (Message& m : cluster.TakeInFlight()) {
      if (std::holds_alternative<ForwardReply>(m.body)) {
        answers.push_back(std::move(m));
      }
    }
  }
  ASSERT_TRUE(cluster.replies.empty());

  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].header.to, Name("n2"));
  cluster.Deliver(answers[0]);
  ASSERT_EQ(cluster.replies.size(), 1u);
  EXPECT_EQ(cluster.replies[0].code, ReplyCode::kUnknownOutcome);
  EXPECT_EQ(cluster.replies[0].sequence, 1u);
}

TEST(RaftForward, ForwardToANodeThatNoLongerLeadsIsAnsweredNotLeader) {
  RaftCluster cluster(3);
  Settle(cluster);
  cluster.Forward("n2", Cmd(1));
  std::vector<Message> forward = cluster.TakeInFlight();
  ASSERT_EQ(forward.size(), 1u);
  // n3 takes over; n1 learns of it; the forward arrives late.
  cluster.now = cluster.now + Duration(5000);
  cluster.Fire("n3");
  cluster.Stabilize([](const Message& m) { return m.header.to != Name("n2"); });
  ASSERT_NE(cluster.node("n1").role(), Role::kLeader);

  cluster.Deliver(forward[0]);
  cluster.Stabilize();

  ASSERT_EQ(cluster.replies.size(), 1u);
  EXPECT_EQ(cluster.replies[0].code, ReplyCode::kNotLeader);
  EXPECT_EQ(cluster.replies[0].leader_hint, Name("n3"));
}

// --- Mutations, through Raft ---------------------------------------------------------------

RaftOptions WithLeaseMutations(LeaseMutations mutations) {
  RaftOptions options = RaftCluster::DefaultOptions();
  options.lease_mutations = mutations;
  return options;
}

TEST(RaftLeaseMutation, SelfLeaseWithoutMajorityLetsAnIsolatedLeaderExtendItsLease) {
  RaftCluster cluster(3, {}, WithLeaseMutations({.self_lease_without_majority = true}));
  Settle(cluster);

  for (int i = 0; i < 5; ++i) {
    cluster.Fire("n1");
    cluster.in_flight.clear();
  }

  EXPECT_EQ(cluster.node("n1").lease().lease_end(), cluster.now + kLease);
}

TEST(RaftLeaseMutation, AnchorAtReceiveTimeLetsADelayedGrantExtendTheFollowersLease) {
  RaftCluster cluster(3, {}, WithLeaseMutations({.anchor_at_receive_time = true}));
  Settle(cluster);
  cluster.Fire("n1");
  cluster.DeliverOnly([](const Message& m) { return !std::holds_alternative<LeaseGrant>(m.body); });
  std::vector<Message> grants = GrantsTo(cluster.TakeInFlight(), "n2");
  ASSERT_EQ(grants.size(), 1u);

  cluster.now = cluster.now + Duration(10'000);
  cluster.Deliver(grants[0]);

  EXPECT_EQ(cluster.node("n2").lease().lease_end(), cluster.now + kLease);
}

TEST(RaftLeaseMutation, NewLeaderWaitFromCandidacyCountsFromThePreVote) {
  RaftCluster cluster(3, {}, WithLeaseMutations({.new_leader_wait_from_candidacy = true}));
  cluster.StartAll();
  cluster.now = cluster.now + Duration(3000);
  cluster.Fire("n1");
  const Time candidacy = cluster.now;
  cluster.DeliverOnly(
      [](const Message& m) { return Is(m, "PreVoteRequest") || Is(m, "PreVoteResponse"); });
  cluster.now = cluster.now + Duration(400);  // The vote round takes 400ms.
  cluster.Stabilize([](const Message& m) { return !IsAppendReplyOrVoteOf(m, "n2"); });
  ASSERT_EQ(cluster.node("n1").role(), Role::kLeader);

  // Correct code: elected (candidacy + 400) + 2005 - 1000.
  EXPECT_EQ(cluster.node("n1").CertainExpiry(Name("n2"), kLease),
            candidacy + Duration(2005) - Duration(1000));
}

TEST(RaftLeaseMutation, ExpiryOnNotHeardFromCountsAnyMessageWithoutStretch) {
  RaftCluster cluster(3, {}, WithLeaseMutations({.expiry_on_not_heard_from = true}));
  Settle(cluster);

  EXPECT_EQ(cluster.node("n1").CertainExpiry(Name("n2"), kLease), cluster.now + kLease);
}

TEST(RaftLeaseMutation, NonceIgnoresIncarnationLetsARestartedFollowerUseAnOldGrant) {
  RaftCluster cluster(3, {}, WithLeaseMutations({.nonce_ignores_incarnation = true}));
  Settle(cluster);
  cluster.Fire("n1");
  cluster.DeliverOnly([](const Message& m) { return !std::holds_alternative<LeaseGrant>(m.body); });
  std::vector<Message> grants = GrantsTo(cluster.TakeInFlight(), "n2");
  ASSERT_EQ(grants.size(), 1u);
  const uint64_t seq = std::get<LeaseGrant>(grants[0].body).grant.nonce.seq;
  cluster.Restart("n2");
  for (uint64_t i = 0; i < seq; ++i) {  // The new incarnation issues the same seq again.
    cluster.Fire("n1");
    cluster.Stabilize([](const Message& m) { return !std::holds_alternative<LeaseGrant>(m.body); });
  }
  ASSERT_FALSE(cluster.node("n2").lease().lease_end().has_value());

  cluster.Deliver(grants[0]);

  EXPECT_TRUE(cluster.node("n2").lease().lease_end().has_value());
}

}  // namespace
}  // namespace cmcl::raft
