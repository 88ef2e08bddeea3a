// Leases as pure bookkeeping (lease.h; DESIGN.md section 4): the follower side F1-F4 with
// disarm, the leader side L1-L4 and N2, and stretch(x). Written from the specification:
// every expected time below is computed by hand from the rule it checks.
#include "cmcld/core/raft/lease.h"

#include <gtest/gtest.h>

#include <optional>
#include <utility>
#include <vector>

namespace cmcl::raft {
namespace {

constexpr uint64_t kIncarnation = 0xabc;
const Term kTerm(3);

Time At(int64_t ms) { return Time::FromMilliseconds(ms); }
Duration Ms(int64_t ms) { return Duration(ms); }

Grant ArmedGrant(Nonce nonce, int64_t lease_ms, uint64_t c = 0) {
  return Grant{
      .nonce = nonce, .lease = Ms(lease_ms), .mode = LeaseMode::kArmed, .min_applied = LogIndex(c)};
}

Grant DisarmedGrant(Nonce nonce, int64_t lease_ms) {
  return Grant{.nonce = nonce,
               .lease = Ms(lease_ms),
               .mode = LeaseMode::kDisarmed,
               .min_applied = LogIndex(0)};
}

// --- stretch ---------------------------------------------------------------------------

TEST(Stretch, IsXTimesOnePlusRhoOverOneMinusRhoRoundedUp) {
  // 1000 * 1.001 / 0.999 = 1002.002..., rounded up.
  EXPECT_EQ(Stretch(Ms(1000), 1000), Ms(1003));
  // 2000 * 1.01 / 0.99 = 2040.40...
  EXPECT_EQ(Stretch(Ms(2000), 10'000), Ms(2041));
  // Exact quotients stay exact: 999 * 1.001 / 0.999 = 1001.
  EXPECT_EQ(Stretch(Ms(999), 1000), Ms(1001));
}

TEST(Stretch, WithoutDriftIsTheIdentity) { EXPECT_EQ(Stretch(Ms(1234), 0), Ms(1234)); }

// --- FollowerLease: F1, F2 ------------------------------------------------------------

TEST(FollowerLease, NoncesAreNumberedWithinTheIncarnation) {
  FollowerLease lease(kIncarnation);

  const Nonce first = lease.Issue(At(10));
  const Nonce second = lease.Issue(At(20));

  EXPECT_EQ(first.incarnation, kIncarnation);
  EXPECT_EQ(second.incarnation, kIncarnation);
  EXPECT_NE(first.seq, 0u);
  EXPECT_GT(second.seq, first.seq);
}

TEST(FollowerLease, StartsWithoutALease) {
  FollowerLease lease(kIncarnation);

  EXPECT_FALSE(lease.lease_end().has_value());
  EXPECT_FALSE(lease.Valid(At(0)));
  EXPECT_FALSE(lease.FenceAt(Ms(100)).has_value());
  EXPECT_FALSE(lease.AllowsStart(At(0), Ms(0), LogIndex(0)));
}

TEST(FollowerLease, LeaseIsAnchoredAtTheNonceSendTimeNotAtTheGrantArrival) {
  FollowerLease lease(kIncarnation);
  const Nonce nonce = lease.Issue(At(1000));

  // The grant arrives 700ms later; the lease still counts from 1000.
  const bool changed = lease.OnGrant(At(1700), kTerm, kTerm, ArmedGrant(nonce, 2000));

  EXPECT_TRUE(changed);
  EXPECT_EQ(lease.lease_end(), At(3000));
}

TEST(FollowerLease, GrantDeliveredLateDoesNotExtendTheLease) {
  FollowerLease lease(kIncarnation);
  const Nonce nonce = lease.Issue(At(1000));

  // Delivered after the lease it names has already ended.
  lease.OnGrant(At(3500), kTerm, kTerm, ArmedGrant(nonce, 2000));

  EXPECT_EQ(lease.lease_end(), At(3000));
  EXPECT_FALSE(lease.Valid(At(3500)));
}

TEST(FollowerLease, DuplicatedOrReplayedGrantChangesNothing) {
  FollowerLease lease(kIncarnation);
  const Nonce nonce = lease.Issue(At(1000));
  lease.OnGrant(At(1100), kTerm, kTerm, ArmedGrant(nonce, 2000, 5));

  const bool duplicate = lease.OnGrant(At(1150), kTerm, kTerm, ArmedGrant(nonce, 2000, 5));
  const bool replay = lease.OnGrant(At(2900), kTerm, kTerm, ArmedGrant(nonce, 2000, 5));

  EXPECT_FALSE(duplicate);
  EXPECT_FALSE(replay);
  EXPECT_EQ(lease.lease_end(), At(3000));
  EXPECT_EQ(lease.min_applied(), LogIndex(5));
}

TEST(FollowerLease, GrantForANonceOfAnotherIncarnationIsDropped) {
  FollowerLease lease(kIncarnation);
  const Nonce own = lease.Issue(At(1000));
  const Nonce foreign{.incarnation = kIncarnation + 1, .seq = own.seq};

  const bool changed = lease.OnGrant(At(1100), kTerm, kTerm, ArmedGrant(foreign, 2000));

  EXPECT_FALSE(changed);
  EXPECT_FALSE(lease.lease_end().has_value());
  EXPECT_EQ(lease.grants_dropped(), 1u);
}

TEST(FollowerLease, GrantForANonceNeverIssuedIsDropped) {
  FollowerLease lease(kIncarnation);
  const Nonce issued = lease.Issue(At(1000));
  const Nonce never{.incarnation = kIncarnation, .seq = issued.seq + 1};

  const bool changed = lease.OnGrant(At(1100), kTerm, kTerm, ArmedGrant(never, 2000));

  EXPECT_FALSE(changed);
  EXPECT_FALSE(lease.lease_end().has_value());
  EXPECT_EQ(lease.grants_dropped(), 1u);
}

TEST(FollowerLease, GrantForAForgottenNonceIsDropped) {
  FollowerLease lease(kIncarnation, {}, /*remembered_max=*/2);
  const Nonce oldest = lease.Issue(At(1000));
  lease.Issue(At(1100));
  const Nonce newest = lease.Issue(At(1200));  // Pushes `oldest` out.

  const bool old_changed = lease.OnGrant(At(1300), kTerm, kTerm, ArmedGrant(oldest, 2000));
  const bool new_changed = lease.OnGrant(At(1300), kTerm, kTerm, ArmedGrant(newest, 2000));

  EXPECT_FALSE(old_changed);
  EXPECT_TRUE(new_changed);
  EXPECT_EQ(lease.lease_end(), At(3200));
  EXPECT_EQ(lease.grants_dropped(), 1u);
}

TEST(FollowerLease, GrantOfAnOlderTermIsDropped) {
  FollowerLease lease(kIncarnation);
  const Nonce nonce = lease.Issue(At(1000));

  const bool changed = lease.OnGrant(At(1100), Term(2), Term(3), ArmedGrant(nonce, 2000));

  EXPECT_FALSE(changed);
  EXPECT_FALSE(lease.lease_end().has_value());
  EXPECT_EQ(lease.grants_dropped(), 1u);
}

TEST(FollowerLease, GrantOfALaterTermIsAccepted) {
  FollowerLease lease(kIncarnation);
  const Nonce nonce = lease.Issue(At(1000));

  const bool changed = lease.OnGrant(At(1100), Term(4), Term(3), ArmedGrant(nonce, 2000));

  EXPECT_TRUE(changed);
  EXPECT_EQ(lease.lease_end(), At(3000));
}

TEST(FollowerLease, LeaseEndAndMinAppliedAreTheMaximumOverGrants) {
  FollowerLease lease(kIncarnation);
  const Nonce early = lease.Issue(At(1000));
  const Nonce late = lease.Issue(At(1500));

  // The later nonce's grant arrives first, with the higher c.
  lease.OnGrant(At(1600), kTerm, kTerm, ArmedGrant(late, 2000, 9));
  const bool older_changed = lease.OnGrant(At(1700), kTerm, kTerm, ArmedGrant(early, 2000, 4));

  EXPECT_FALSE(older_changed);
  EXPECT_EQ(lease.lease_end(), At(3500));
  EXPECT_EQ(lease.min_applied(), LogIndex(9));
}

TEST(FollowerLease, HigherMinAppliedAloneCountsAsAChange) {
  FollowerLease lease(kIncarnation);
  const Nonce nonce = lease.Issue(At(1000));
  lease.OnGrant(At(1100), kTerm, kTerm, ArmedGrant(nonce, 2000, 4));

  const bool changed = lease.OnGrant(At(1200), kTerm, kTerm, ArmedGrant(nonce, 2000, 6));

  EXPECT_TRUE(changed);
  EXPECT_EQ(lease.lease_end(), At(3000));
  EXPECT_EQ(lease.min_applied(), LogIndex(6));
}

// --- FollowerLease: F3, F4 -------------------------------------------------------------

TEST(FollowerLease, ValidUntilJustBeforeLeaseEnd) {
  FollowerLease lease(kIncarnation);
  const Nonce nonce = lease.Issue(At(1000));
  lease.OnGrant(At(1100), kTerm, kTerm, ArmedGrant(nonce, 2000));

  EXPECT_TRUE(lease.Valid(At(2999)));
  EXPECT_FALSE(lease.Valid(At(3000)));
}

TEST(FollowerLease, AllowsStartOnlyWithFenceTimeoutToSpareBeforeLeaseEnd) {
  FollowerLease lease(kIncarnation);
  const Nonce nonce = lease.Issue(At(1000));
  lease.OnGrant(At(1100), kTerm, kTerm, ArmedGrant(nonce, 2000));

  // lease_end 3000, fence_timeout 500: starting needs now + 500 < 3000.
  EXPECT_TRUE(lease.AllowsStart(At(2499), Ms(500), LogIndex(0)));
  EXPECT_FALSE(lease.AllowsStart(At(2500), Ms(500), LogIndex(0)));
}

TEST(FollowerLease, AllowsStartOnlyWithAppliedAtLeastC) {
  FollowerLease lease(kIncarnation);
  const Nonce nonce = lease.Issue(At(1000));
  lease.OnGrant(At(1100), kTerm, kTerm, ArmedGrant(nonce, 2000, 7));

  EXPECT_FALSE(lease.AllowsStart(At(1200), Ms(500), LogIndex(6)));
  EXPECT_TRUE(lease.AllowsStart(At(1200), Ms(500), LogIndex(7)));
}

TEST(FollowerLease, FencesFenceTimeoutBeforeLeaseEnd) {
  FollowerLease lease(kIncarnation);
  const Nonce nonce = lease.Issue(At(1000));
  lease.OnGrant(At(1100), kTerm, kTerm, ArmedGrant(nonce, 2000));

  EXPECT_EQ(lease.FenceAt(Ms(500)), At(2500));
}

// --- FollowerLease: the leader's own lease ----------------------------------------------

TEST(FollowerLease, SelfGrantAnchorsAtTheRoundSendTime) {
  FollowerLease lease(kIncarnation);

  lease.OnSelfGrant(At(4000), Ms(2000), LeaseMode::kArmed, LogIndex(3));

  EXPECT_EQ(lease.lease_end(), At(6000));
  EXPECT_EQ(lease.min_applied(), LogIndex(3));
}

// --- FollowerLease: disarm and arm -----------------------------------------------------

TEST(FollowerLease, DisarmedGrantsExtendTheLeaseByD) {
  FollowerLease lease(kIncarnation);
  const Nonce armed = lease.Issue(At(1000));
  const Nonce disarmed = lease.Issue(At(1200));
  lease.OnGrant(At(1100), kTerm, kTerm, ArmedGrant(armed, 2000));

  lease.OnGrant(At(1300), kTerm, kTerm, DisarmedGrant(disarmed, 60'000));

  EXPECT_EQ(lease.mode(), LeaseMode::kDisarmed);
  EXPECT_EQ(lease.lease_end(), At(61'200));
}

TEST(FollowerLease, FirstArmedGrantReplacesTheDisarmedLease) {
  FollowerLease lease(kIncarnation);
  const Nonce disarmed = lease.Issue(At(1000));
  const Nonce armed = lease.Issue(At(5000));
  lease.OnGrant(At(1100), kTerm, kTerm, DisarmedGrant(disarmed, 60'000));

  const bool changed = lease.OnGrant(At(5100), kTerm, kTerm, ArmedGrant(armed, 2000));

  EXPECT_TRUE(changed);
  EXPECT_EQ(lease.mode(), LeaseMode::kArmed);
  EXPECT_EQ(lease.lease_end(), At(7000));  // Shortened from 61'000.
  EXPECT_EQ(lease.mode(), LeaseMode::kArmed);
}

TEST(FollowerLease, ArmedGrantsAfterTheFirstExtendByMaxAgain) {
  FollowerLease lease(kIncarnation);
  const Nonce disarmed = lease.Issue(At(1000));
  const Nonce armed = lease.Issue(At(5000));
  const Nonce next = lease.Issue(At(5200));
  lease.OnGrant(At(1100), kTerm, kTerm, DisarmedGrant(disarmed, 60'000));
  lease.OnGrant(At(5100), kTerm, kTerm, ArmedGrant(armed, 2000));

  lease.OnGrant(At(5300), kTerm, kTerm, ArmedGrant(next, 2000));

  EXPECT_EQ(lease.lease_end(), At(7200));
}

TEST(FollowerLease, DisarmedGrantForAnOlderNonceIsIgnoredAfterTheArm) {
  FollowerLease lease(kIncarnation);
  const Nonce disarmed = lease.Issue(At(1000));
  const Nonce older = lease.Issue(At(2000));
  const Nonce armed = lease.Issue(At(5000));
  lease.OnGrant(At(1100), kTerm, kTerm, DisarmedGrant(disarmed, 60'000));
  lease.OnGrant(At(5100), kTerm, kTerm, ArmedGrant(armed, 2000));

  // Delayed: a disarmed grant sent before the arm took effect.
  const bool changed = lease.OnGrant(At(5200), kTerm, kTerm, DisarmedGrant(older, 60'000));

  EXPECT_FALSE(changed);
  EXPECT_EQ(lease.mode(), LeaseMode::kArmed);
  EXPECT_EQ(lease.lease_end(), At(7000));
}

TEST(FollowerLease, DisarmedGrantForTheArmingNonceItselfIsIgnoredAfterTheArm) {
  // A leader confirms the same nonce in two rounds when no newer reply arrived in
  // between: disarmed in the first, armed in the second (the arm applied between). The
  // disarmed copy, delayed past the armed one, must not bring the D-lease back.
  FollowerLease lease(kIncarnation);
  const Nonce nonce = lease.Issue(At(1000));
  lease.OnGrant(At(1100), kTerm, kTerm, DisarmedGrant(nonce, 60'000));
  lease.OnGrant(At(1200), kTerm, kTerm, ArmedGrant(nonce, 2000));
  ASSERT_EQ(lease.mode(), LeaseMode::kArmed);

  const bool changed = lease.OnGrant(At(1300), kTerm, kTerm, DisarmedGrant(nonce, 60'000));

  EXPECT_FALSE(changed);
  EXPECT_EQ(lease.mode(), LeaseMode::kArmed);
  EXPECT_EQ(lease.lease_end(), At(3000));
}

TEST(FollowerLease, DisarmedGrantForANewerNonceAfterTheArmDisarmsAgain) {
  FollowerLease lease(kIncarnation);
  const Nonce first = lease.Issue(At(1000));
  const Nonce armed = lease.Issue(At(5000));
  const Nonce newer = lease.Issue(At(6000));
  lease.OnGrant(At(1100), kTerm, kTerm, DisarmedGrant(first, 60'000));
  lease.OnGrant(At(5100), kTerm, kTerm, ArmedGrant(armed, 2000));

  lease.OnGrant(At(6100), kTerm, kTerm, DisarmedGrant(newer, 60'000));  // A new disarm.

  EXPECT_EQ(lease.mode(), LeaseMode::kDisarmed);
  EXPECT_EQ(lease.lease_end(), At(66'000));
}

TEST(FollowerLease, ArmingIsReportedEvenWhenTheArmedLeaseEndsLater) {
  // The disarmed lease was about to run out; the first armed grant replaces it with a
  // later end. The node must still learn that it is armed (its lease mode), or it never reports armed(F)
  // and every wait for it keeps using D.
  FollowerLease lease(kIncarnation);
  const Nonce disarmed = lease.Issue(At(1000));
  const Nonce armed = lease.Issue(At(10'500));
  lease.OnGrant(At(1100), kTerm, kTerm, DisarmedGrant(disarmed, 10'000));

  lease.OnGrant(At(10'600), kTerm, kTerm, ArmedGrant(armed, 2000));

  EXPECT_EQ(lease.lease_end(), At(12'500));
  EXPECT_EQ(lease.mode(), LeaseMode::kArmed);
}

TEST(FollowerLease, ArmedSelfGrantReplacesADisarmedLease) {
  FollowerLease lease(kIncarnation);
  lease.OnSelfGrant(At(1000), Ms(60'000), LeaseMode::kDisarmed, LogIndex(0));

  lease.OnSelfGrant(At(2000), Ms(2000), LeaseMode::kArmed, LogIndex(0));

  EXPECT_EQ(lease.lease_end(), At(4000));
  EXPECT_EQ(lease.mode(), LeaseMode::kArmed);
}

// --- FollowerLease: mutations ----------------------------------------------------------

TEST(FollowerLeaseMutation, AnchorAtReceiveTimeLetsALateGrantExtendTheLease) {
  FollowerLease lease(kIncarnation, LeaseMutations{.anchor_at_receive_time = true});
  const Nonce nonce = lease.Issue(At(1000));

  lease.OnGrant(At(3500), kTerm, kTerm, ArmedGrant(nonce, 2000));

  EXPECT_EQ(lease.lease_end(), At(5500));  // Correct code: 3000.
}

TEST(FollowerLeaseMutation, NonceIgnoresIncarnationAcceptsAnotherIncarnationsGrant) {
  FollowerLease lease(kIncarnation, LeaseMutations{.nonce_ignores_incarnation = true});
  const Nonce own = lease.Issue(At(1000));
  const Nonce foreign{.incarnation = kIncarnation + 1, .seq = own.seq};

  const bool changed = lease.OnGrant(At(1100), kTerm, kTerm, ArmedGrant(foreign, 2000));

  EXPECT_TRUE(changed);  // Correct code: dropped.
  EXPECT_EQ(lease.lease_end(), At(3000));
}

// --- LeaderLeases: L1, L2 --------------------------------------------------------------

LeaderLeases::Options ThreeVoters(LeaseMutations mutations = {}) {
  return LeaderLeases::Options{.self = NodeName("n1"),
                               .voters = {NodeName("n1"), NodeName("n2"), NodeName("n3")},
                               .election_timeout_min = Ms(1000),
                               .drift_ppm = 1000,
                               .stickiness_credit = true,
                               .mutations = mutations};
}

Nonce N(uint64_t incarnation, uint64_t seq) {
  return Nonce{.incarnation = incarnation, .seq = seq};
}

TEST(LeaderLeases, RoundsAreNumberedFromOne) {
  LeaderLeases leases(ThreeVoters(), At(0), At(0));

  EXPECT_EQ(leases.StartRound(At(10)), 1u);
  EXPECT_EQ(leases.StartRound(At(20)), 2u);
  EXPECT_EQ(leases.current_round(), 2u);
}

TEST(LeaderLeases, RoundAnsweredByAMajorityConfirmsTheNoncesReceivedBeforeIt) {
  LeaderLeases leases(ThreeVoters(), At(0), At(0));
  leases.OnReply(NodeName("n2"), 0, N(2, 5), At(50));
  const uint64_t round = leases.StartRound(At(100));

  leases.OnReply(NodeName("n2"), round, N(2, 6), At(150));  // Received after t_r.
  const std::vector<LeaderLeases::Confirmed> confirmed = leases.TakeConfirmed();

  ASSERT_EQ(confirmed.size(), 1u);
  EXPECT_EQ(confirmed[0].round, round);
  EXPECT_EQ(confirmed[0].round_sent_at, At(100));
  ASSERT_EQ(confirmed[0].nonces.size(), 1u);
  EXPECT_EQ(confirmed[0].nonces[0].first, NodeName("n2"));
  EXPECT_EQ(confirmed[0].nonces[0].second, N(2, 5));  // Not 6: it came after t_r.
  EXPECT_TRUE(leases.TakeConfirmed().empty());        // Returned once.
}

TEST(LeaderLeases, NonceIsNotConfirmedByTheRoundItAnswers) {
  LeaderLeases leases(ThreeVoters(), At(0), At(0));
  const uint64_t round = leases.StartRound(At(100));

  leases.OnReply(NodeName("n2"), round, N(2, 1), At(150));
  const std::vector<LeaderLeases::Confirmed> confirmed = leases.TakeConfirmed();

  ASSERT_EQ(confirmed.size(), 1u);  // The leader's own lease only.
  EXPECT_TRUE(confirmed[0].nonces.empty());
}

TEST(LeaderLeases, MinorityOfRepliesConfirmsNothing) {
  LeaderLeases leases(
      LeaderLeases::Options{.self = NodeName("n1"),
                            .voters = {NodeName("n1"), NodeName("n2"), NodeName("n3"),
                                       NodeName("n4"), NodeName("n5")},
                            .election_timeout_min = Ms(1000),
                            .drift_ppm = 1000,
                            .stickiness_credit = true,
                            .mutations = {}},
      At(0), At(0));
  leases.OnReply(NodeName("n2"), 0, N(2, 1), At(50));
  const uint64_t round = leases.StartRound(At(100));

  leases.OnReply(NodeName("n2"), round, N(2, 2), At(150));
  leases.OnReply(NodeName("n2"), round, N(2, 3), At(160));  // The same voter twice.

  EXPECT_TRUE(leases.TakeConfirmed().empty());
}

TEST(LeaderLeases, ReplyWithoutARoundConfirmsNothing) {
  LeaderLeases leases(ThreeVoters(), At(0), At(0));
  leases.StartRound(At(100));

  leases.OnReply(NodeName("n2"), 0, N(2, 1), At(150));

  EXPECT_TRUE(leases.TakeConfirmed().empty());
}

TEST(LeaderLeases, ReplyToALaterRoundAlsoAnswersEarlierOnes) {
  LeaderLeases leases(ThreeVoters(), At(0), At(0));
  leases.OnReply(NodeName("n2"), 0, N(2, 1), At(50));
  leases.StartRound(At(100));
  leases.OnReply(NodeName("n3"), 0, N(3, 1), At(150));
  const uint64_t second = leases.StartRound(At(200));

  leases.OnReply(NodeName("n2"), second, N(2, 2), At(250));
  const std::vector<LeaderLeases::Confirmed> confirmed = leases.TakeConfirmed();

  // The newest round with a majority confirms itself and supersedes the older one.
  ASSERT_EQ(confirmed.size(), 1u);
  EXPECT_EQ(confirmed[0].round, second);
  EXPECT_EQ(confirmed[0].round_sent_at, At(200));
  ASSERT_EQ(confirmed[0].nonces.size(), 2u);
  EXPECT_EQ(confirmed[0].nonces[0].second, N(2, 1));
  EXPECT_EQ(confirmed[0].nonces[1].second, N(3, 1));
}

TEST(LeaderLeases, ReplyToAnEarlierRoundDoesNotAnswerALaterOne) {
  LeaderLeases leases(ThreeVoters(), At(0), At(0));
  const uint64_t first = leases.StartRound(At(100));
  leases.StartRound(At(200));

  leases.OnReply(NodeName("n2"), first, N(2, 1), At(250));
  const std::vector<LeaderLeases::Confirmed> confirmed = leases.TakeConfirmed();

  ASSERT_EQ(confirmed.size(), 1u);
  EXPECT_EQ(confirmed[0].round, first);
  EXPECT_EQ(confirmed[0].round_sent_at, At(100));
}

TEST(LeaderLeases, OneVoterConfirmsItsRoundAtOnce) {
  LeaderLeases leases(LeaderLeases::Options{.self = NodeName("n1"),
                                            .voters = {NodeName("n1")},
                                            .election_timeout_min = Ms(1000),
                                            .drift_ppm = 1000,
                                            .stickiness_credit = true,
                                            .mutations = {}},
                      At(0), At(0));

  const uint64_t round = leases.StartRound(At(100));
  const std::vector<LeaderLeases::Confirmed> confirmed = leases.TakeConfirmed();

  ASSERT_EQ(confirmed.size(), 1u);
  EXPECT_EQ(confirmed[0].round, round);
  EXPECT_EQ(confirmed[0].round_sent_at, At(100));
}

TEST(LeaderLeases, ReorderedOlderNonceDoesNotReplaceTheLatest) {
  LeaderLeases leases(ThreeVoters(), At(0), At(0));
  leases.OnReply(NodeName("n2"), 0, N(2, 7), At(50));
  leases.OnReply(NodeName("n2"), 0, N(2, 6), At(60));  // Delayed.

  EXPECT_EQ(leases.LastNonceAt(NodeName("n2")), At(50));
  const uint64_t round = leases.StartRound(At(100));
  leases.OnReply(NodeName("n3"), round, N(3, 1), At(150));
  const std::vector<LeaderLeases::Confirmed> confirmed = leases.TakeConfirmed();
  ASSERT_EQ(confirmed.size(), 1u);
  ASSERT_EQ(confirmed[0].nonces.size(), 1u);
  EXPECT_EQ(confirmed[0].nonces[0].second, N(2, 7));
}

TEST(LeaderLeases, NewIncarnationsNonceIsTheLatest) {
  LeaderLeases leases(ThreeVoters(), At(0), At(0));
  leases.OnReply(NodeName("n2"), 0, N(2, 700), At(50));
  leases.OnReply(NodeName("n2"), 0, N(9, 1), At(60));  // n2 restarted.

  const uint64_t round = leases.StartRound(At(100));
  leases.OnReply(NodeName("n3"), round, N(3, 1), At(150));
  const std::vector<LeaderLeases::Confirmed> confirmed = leases.TakeConfirmed();

  EXPECT_EQ(leases.LastNonceAt(NodeName("n2")), At(60));
  ASSERT_EQ(confirmed.size(), 1u);
  ASSERT_EQ(confirmed[0].nonces.size(), 1u);
  EXPECT_EQ(confirmed[0].nonces[0].second, N(9, 1));
}

// --- LeaderLeases: L4, N2 --------------------------------------------------------------

TEST(LeaderLeases, CertainExpiryWithoutNoncesIsTheStickinessCreditedWait) {
  LeaderLeases leases(ThreeVoters(), At(10'000), At(8000));

  // e + stretch(2000) - election_timeout_min = 10'000 + 2005 - 1000.
  EXPECT_EQ(leases.CertainExpiry(NodeName("n2"), Ms(2000)), At(11'005));
  EXPECT_FALSE(leases.LastNonceAt(NodeName("n2")).has_value());
}

TEST(LeaderLeases, CertainExpiryIsTheLaterOfN2aAndTheLatestNoncePlusStretch) {
  LeaderLeases leases(ThreeVoters(), At(10'000), At(8000));
  leases.OnReply(NodeName("n2"), 0, N(2, 1), At(10'100));

  // max(11'005, 10'100 + 2005). A nonce of this term arrives after e, so once one has,
  // L4 is the later bound.
  EXPECT_EQ(leases.CertainExpiry(NodeName("n2"), Ms(2000)), At(12'105));

  leases.OnReply(NodeName("n2"), 0, N(2, 2), At(12'000));
  // max(11'005, 12'000 + 2005).
  EXPECT_EQ(leases.CertainExpiry(NodeName("n2"), Ms(2000)), At(14'005));
  EXPECT_EQ(leases.LastNonceAt(NodeName("n2")), At(12'000));
}

TEST(LeaderLeases, CertainExpiryIgnoresRepliesWithoutANonce) {
  LeaderLeases leases(ThreeVoters(), At(10'000), At(8000));
  leases.OnReply(NodeName("n2"), 0, N(2, 1), At(12'000));

  leases.OnReply(NodeName("n2"), 0, Nonce{}, At(13'000));  // A refusal: no nonce.

  EXPECT_EQ(leases.CertainExpiry(NodeName("n2"), Ms(2000)), At(14'005));
}

TEST(LeaderLeases, CertainExpiryUsesTheWaitItIsGiven) {
  LeaderLeases leases(ThreeVoters(), At(10'000), At(8000));
  leases.OnReply(NodeName("n2"), 0, N(2, 1), At(12'000));

  // A disarmed node: D = 60s, stretch(60'000) = 60'120.12 -> 60'121.
  EXPECT_EQ(leases.CertainExpiry(NodeName("n2"), Ms(60'000)), At(72'121));
}

TEST(LeaderLeases, LeaderElectedByTransferTakesNoStickinessCredit) {
  LeaderLeases::Options options = ThreeVoters();
  options.stickiness_credit = false;
  LeaderLeases leases(options, At(10'000), At(8000));

  EXPECT_EQ(leases.CertainExpiry(NodeName("n2"), Ms(2000)), At(12'005));
}

// --- LeaderLeases: mutations -----------------------------------------------------------

TEST(LeaderLeasesMutation, SelfLeaseWithoutMajorityConfirmsARoundNobodyAnswered) {
  LeaderLeases correct(ThreeVoters(), At(0), At(0));
  LeaderLeases mutated(ThreeVoters(LeaseMutations{.self_lease_without_majority = true}), At(0),
                       At(0));

  correct.StartRound(At(100));
  mutated.StartRound(At(100));

  EXPECT_TRUE(correct.TakeConfirmed().empty());
  const std::vector<LeaderLeases::Confirmed> confirmed = mutated.TakeConfirmed();
  ASSERT_EQ(confirmed.size(), 1u);
  EXPECT_EQ(confirmed[0].round_sent_at, At(100));
}

TEST(LeaderLeasesMutation, ExpiryOnNotHeardFromIsLastMessagePlusWaitUnstretched) {
  LeaderLeases leases(ThreeVoters(LeaseMutations{.expiry_on_not_heard_from = true}), At(10'000),
                      At(8000));
  leases.OnReply(NodeName("n2"), 0, N(2, 1), At(12'000));
  leases.OnReply(NodeName("n2"), 0, Nonce{}, At(13'000));

  // Correct code: 14'005 (latest nonce 12'000 + stretch(2000)).
  EXPECT_EQ(leases.CertainExpiry(NodeName("n2"), Ms(2000)), At(15'000));
  // Never heard from: e + wait, without N2's stretch.
  EXPECT_EQ(leases.CertainExpiry(NodeName("n3"), Ms(2000)), At(12'000));
}

TEST(LeaderLeasesMutation, NewLeaderWaitFromCandidacyCountsN2aFromTheCandidacyStart) {
  LeaderLeases leases(ThreeVoters(LeaseMutations{.new_leader_wait_from_candidacy = true}),
                      At(10'000), At(8000));

  // Correct code: 10'000 + 2005 - 1000 = 11'005.
  EXPECT_EQ(leases.CertainExpiry(NodeName("n2"), Ms(2000)), At(9005));
}

}  // namespace
}  // namespace cmcl::raft
