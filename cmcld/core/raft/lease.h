// Leases: the follower side (F1-F4) and the leader side (L1-L4, N1-N2) of DESIGN.md
// section 4, as two pure bookkeeping classes that raft::Raft drives. No clock is read:
// every time is the caller's `now` on its own clock; no absolute time crosses the wire.
//
// Why this is safe (DESIGN.md section 4; rho = clock_drift_max, stretch(x) =
// x(1+rho)/(1-rho), so a duration measured as x on one clock is at most stretch(x) when
// measured on any other):
//
//  1. A follower F's lease can only come from a grant for a nonce F sent in this
//     incarnation, and it ends at sent_at[nonce] + lease_ms on F's own clock (F2). The
//     anchor is F's send time, which is before the leader received the nonce and before
//     the leader's round t_r; a delayed, duplicated or replayed grant therefore never
//     extends the lease beyond "lease_ms after a moment F really was in contact". A
//     nonce of an earlier incarnation is unknown to the new incarnation (its sent_at map
//     starts empty), so a grant sent before a restart cannot anchor a lease after it.
//  2. The leader N knows recv_at(n) >= F's real send time of n, so on N's clock F's lease
//     from n has ended by recv_at(n) + stretch(lease_ms) (L4). N takes the *latest* nonce
//     from F it received in its term: every grant N confirmed is for that nonce or an
//     earlier one. A node whose nonces stop arriving stops getting grants; its lease runs
//     out on its own, and N can compute when.
//  3. A grant is confirmed only when a majority answered a round sent after the nonce was
//     received (L1-L2). Each of those voters heard from N, in term T, after t_r, and by
//     vote stickiness refuses every vote for election_timeout_min after that. A new leader
//     N', elected at its time e, needed a vote from one of them, so e comes at least
//     election_timeout_min (on that voter's clock) after t_r. F's lease from a nonce
//     confirmed by N ends by t_r + lease_ms on F's clock, so on N''s clock by
//     e + stretch(L_max) - election_timeout_min (N2(a)); N' knows no recv_at of N's
//     nonces, so it waits for that bound, or for L4 computed from nonces it received
//     itself (N2(b)), whichever is later. A restarted voter counts its start as "last
//     heard", so a restart does not shorten the bound.
//  4. L3 closes the last gap: a grant carries c = N's commit index, and N confirms no
//     nonce of F while an entry that takes a package away from F is uncommitted. F acts
//     as an owner only with applied >= c, so a lease F holds was confirmed either before
//     the revoking entry existed (and has then certainly expired before any reassignment
//     is decided, by 2 and 3) or after it committed (and then F has applied it and knows
//     it is no longer the owner).
//  5. F fences at lease_end - fence_timeout (F4), so its guests are down by lease_end,
//     which is before any node may be assigned them. The guard enforces the same
//     deadline outside cmcld, so a crashed or paused cmcld does not change the argument.
//  6. Disarm only changes lease_ms: every step above holds with D in place of L. Arming
//     replaces lease_end by sent_at + L on the first armed grant; until armed(F) is
//     committed every wait for F uses D.
//
// The leader's own lease: N is a follower of itself whose "nonce" is the round's send
// time t_r; it gets lease_end = t_r + lease_ms only when a majority answered round r
// (L2), by the same argument as 3.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <vector>

#include "cmcld/core/common/names.h"
#include "cmcld/core/common/time.h"
#include "cmcld/core/raft/types.h"

namespace cmcl::raft {

// F1: a nonce names one reply a follower sent: its process incarnation (random per
// start) and a sequence number within it.
struct Nonce {
  uint64_t incarnation = 0;
  uint64_t seq = 0;  // 0 = no nonce (never issued).

  friend bool operator==(const Nonce&, const Nonce&) = default;
};

enum class LeaseMode : uint8_t { kArmed, kDisarmed };

// F2: what a leader grants for one confirmed nonce. Travels in a LeaseGrant message
// whose header carries the leader's term.
struct Grant {
  Nonce nonce;
  Duration lease = Duration(0);  // L of the applied configuration, or D when disarmed.
  LeaseMode mode = LeaseMode::kArmed;
  LogIndex min_applied;  // c: the leader's commit index when it confirmed the nonce (L3).

  friend bool operator==(const Grant&, const Grant&) = default;
};

// stretch(x) = x(1+rho)/(1-rho), rounded up; rho in parts per million (< 1'000'000).
Duration Stretch(Duration x, int64_t drift_ppm);

// What the simulator's mutation tests switch on in the lease code (tests/sim only).
struct LeaseMutations {
  bool anchor_at_receive_time = false;          // F2 anchored at the grant's arrival.
  bool self_lease_without_majority = false;     // L2: leader extends its lease at send time.
  bool nonce_ignores_incarnation = false;       // F2: any incarnation's nonce accepted.
  bool expiry_on_not_heard_from = false;        // L4: last message + L, no stretch, no N2.
  bool new_leader_wait_from_candidacy = false;  // N2(a) measured from candidacy start.
};

// The follower side, one per process incarnation (never persisted: a restarted node
// has no lease, F4).
class FollowerLease {
 public:
  // Remembers sent_at for the latest `remembered_max` nonces; a grant for an older one is
  // dropped (it would anchor an old, short lease anyway).
  explicit FollowerLease(uint64_t incarnation, LeaseMutations mutations = {},
                         size_t remembered_max = 256);

  // F1: a new nonce for a reply leaving now.
  Nonce Issue(Time now);
  // F2: a grant from the leader of `grant_term` while this node is in `current_term`.
  // Dropped (returns false) for a nonce not issued by this incarnation or forgotten, or
  // for grant_term < current_term. Armed grant after disarmed ones: lease_end is
  // *replaced* by sent_at + lease (shortening), and disarmed grants for that nonce or
  // earlier ones are dropped from then on. Returns true if lease_end or min_applied changed.
  bool OnGrant(Time now, Term grant_term, Term current_term, const Grant& grant);
  // L2: the leader's own lease, from its round r sent at `round_sent_at`, confirmed by a
  // majority. Same rules as OnGrant with sent_at = round_sent_at.
  void OnSelfGrant(Time round_sent_at, Duration lease, LeaseMode mode, LogIndex min_applied);

  std::optional<Time> lease_end() const { return lease_end_; }
  LogIndex min_applied() const { return min_applied_; }
  LeaseMode mode() const { return mode_; }
  // F3: may keep guests: now < lease_end.
  bool Valid(Time now) const;
  // F3's lease part: now + fence_timeout < lease_end and applied >= min_applied.
  bool AllowsStart(Time now, Duration fence_timeout, LogIndex applied) const;
  // F4: lease_end - fence_timeout; nullopt without a lease.
  std::optional<Time> FenceAt(Duration fence_timeout) const;
  uint64_t incarnation() const { return incarnation_; }
  uint64_t grants_dropped() const { return grants_dropped_; }

 private:
  void Accept(Time sent_at, Duration lease, LeaseMode mode, LogIndex min_applied, uint64_t seq);

  uint64_t incarnation_;
  LeaseMutations mutations_;
  size_t remembered_max_;
  uint64_t next_seq_ = 1;
  std::deque<std::pair<uint64_t, Time>> sent_;  // (seq, sent_at), ascending seq.
  std::optional<Time> lease_end_;
  LogIndex min_applied_;
  LeaseMode mode_ = LeaseMode::kArmed;
  uint64_t armed_from_seq_ = 0;  // Disarmed grants for nonces up to it are dropped.
  uint64_t grants_dropped_ = 0;
};

// The leader side for one term. Raft creates it when it becomes leader and drops it
// when it steps down.
class LeaderLeases {
 public:
  struct Options {
    NodeName self;
    std::vector<NodeName> voters;  // Every voter, self included.
    Duration election_timeout_min;
    int64_t drift_ppm = 1000;
    // N2: false for a leader elected by leadership transfer (no stickiness credit).
    bool stickiness_credit = true;
    LeaseMutations mutations;
  };
  // `elected_at` = e, the arrival of the last needed vote (N2); `candidacy_at` is only
  // used by the new_leader_wait_from_candidacy mutation.
  LeaderLeases(Options options, Time elected_at, Time candidacy_at);

  // L1: round r leaves now; notes, per follower, the latest nonce received before now.
  // Returns r (1, 2, 3 ... per term).
  uint64_t StartRound(Time now);
  uint64_t current_round() const { return next_round_ - 1; }
  // A reply from `from` in this term, received now, answering round `round` (0 = none)
  // and carrying `nonce` (seq 0 = none).
  void OnReply(const NodeName& from, uint64_t round, Nonce nonce, Time now);
  struct Confirmed {
    uint64_t round = 0;
    Time round_sent_at;
    std::vector<std::pair<NodeName, Nonce>> nonces;  // L2: grant these (minus L3's).
  };
  // Rounds that reached a majority (self included) since the last call, oldest first;
  // each is returned once.
  std::vector<Confirmed> TakeConfirmed();
  // L4 with N2: the time on this leader's clock from which `node`'s lease has certainly
  // expired, for a lease length (or L_max, or D) of `wait`. Never earlier than N2(a).
  Time CertainExpiry(const NodeName& node, Duration wait) const;
  // The latest time a nonce from `node` arrived in this term.
  std::optional<Time> LastNonceAt(const NodeName& node) const;
  Time elected_at() const { return elected_at_; }

 private:
  struct Round {
    uint64_t number = 0;
    Time sent_at;
    std::map<NodeName, Nonce> noted;  // L1.
    std::vector<NodeName> answered;   // Sorted, unique; self included.
  };
  struct Peer {
    Nonce latest;
    Time latest_at;
    std::optional<Time> heard_at;  // Any reply (mutation expiry_on_not_heard_from).
  };

  void ConfirmReady();

  Options options_;
  Time elected_at_;
  Time candidacy_at_;
  uint64_t next_round_ = 1;
  std::deque<Round> rounds_;  // Unconfirmed rounds, oldest first.
  std::map<NodeName, Peer> peers_;
  std::vector<Confirmed> confirmed_;
};

}  // namespace cmcl::raft
