// Leases: see lease.h for the rules and the argument why they are safe.
#include "cmcld/core/raft/lease.h"

#include <algorithm>
#include <utility>

#include "cmcld/core/common/check.h"

namespace cmcl::raft {

Duration Stretch(Duration x, int64_t drift_ppm) {
  CMCL_CHECK(drift_ppm >= 0 && drift_ppm < 1'000'000) << "drift " << drift_ppm << "ppm";
  const int64_t up = 1'000'000 + drift_ppm;
  const int64_t down = 1'000'000 - drift_ppm;
  // x * up / down, rounded up; x is at most days, so x * up fits in int64.
  return Duration((x.count() * up + down - 1) / down);
}

// --- FollowerLease ---------------------------------------------------------------------

FollowerLease::FollowerLease(uint64_t incarnation, LeaseMutations mutations, size_t remembered_max)
    : incarnation_(incarnation), mutations_(mutations), remembered_max_(remembered_max) {
  CMCL_CHECK(remembered_max_ > 0);
}

Nonce FollowerLease::Issue(Time now) {
  const Nonce nonce{.incarnation = incarnation_, .seq = next_seq_++};
  sent_.emplace_back(nonce.seq, now);
  if (sent_.size() > remembered_max_) {
    sent_.pop_front();
  }
  return nonce;
}

bool FollowerLease::OnGrant(Time now, Term grant_term, Term current_term, const Grant& grant) {
  // F2: only grants of our own term or a later one, for a nonce this incarnation sent.
  if (grant_term < current_term ||
      (!mutations_.nonce_ignores_incarnation && grant.nonce.incarnation != incarnation_)) {
    ++grants_dropped_;
    return false;
  }
  const auto sent = std::lower_bound(
      sent_.begin(), sent_.end(), grant.nonce.seq,
      [](const std::pair<uint64_t, Time>& entry, uint64_t seq) { return entry.first < seq; });
  if (sent == sent_.end() || sent->first != grant.nonce.seq) {
    ++grants_dropped_;
    return false;
  }
  // A disarmed grant older than the arm that replaced the lease -- or for the arming nonce
  // itself: a leader confirms the same nonce in two rounds when no newer reply arrived in
  // between, disarmed before it applied `arm` and armed after, and the disarmed copy may
  // arrive last. Accepting it would bring the D-lease back after armed(F) was reported.
  if (grant.mode == LeaseMode::kDisarmed && grant.nonce.seq <= armed_from_seq_) {
    ++grants_dropped_;
    return false;
  }
  // The anchor: our own send time (mutation: the grant's arrival, which delay extends).
  const Time anchor = mutations_.anchor_at_receive_time ? now : sent->second;
  const std::optional<Time> before_end = lease_end_;
  const LogIndex before_c = min_applied_;
  Accept(anchor, grant.lease, grant.mode, grant.min_applied, grant.nonce.seq);
  return lease_end_ != before_end || min_applied_ != before_c;
}

void FollowerLease::OnSelfGrant(Time round_sent_at, Duration lease, LeaseMode mode,
                                LogIndex min_applied) {
  // The leader's "nonce" is its round; number it after every nonce issued so far, so the
  // disarm ordering below treats it as the newest.
  Accept(round_sent_at, lease, mode, min_applied, next_seq_);
}

void FollowerLease::Accept(Time sent_at, Duration lease, LeaseMode mode, LogIndex min_applied,
                           uint64_t seq) {
  const Time end = sent_at + lease;
  if (mode == LeaseMode::kArmed && mode_ == LeaseMode::kDisarmed) {
    // DESIGN.md section 4: the first armed grant *replaces* lease_end (shortening is
    // always safe), and disarmed grants for older nonces are ignored from now on.
    if (seq < armed_from_seq_) {
      return;
    }
    mode_ = LeaseMode::kArmed;
    armed_from_seq_ = seq;
    // Whether or not `end` is earlier, mode() now says armed: Node shortens its guard
    // and reports armed(F) from that and its applied state (level-triggered).
    lease_end_ = end;
  } else {
    if (mode == LeaseMode::kDisarmed) {
      mode_ = LeaseMode::kDisarmed;
    }
    lease_end_ = lease_end_ ? std::max(*lease_end_, end) : end;
  }
  min_applied_ = std::max(min_applied_, min_applied);
}

bool FollowerLease::Valid(Time now) const { return lease_end_ && now < *lease_end_; }

bool FollowerLease::AllowsStart(Time now, Duration fence_timeout, LogIndex applied) const {
  return lease_end_ && now + fence_timeout < *lease_end_ && applied >= min_applied_;
}

std::optional<Time> FollowerLease::FenceAt(Duration fence_timeout) const {
  if (!lease_end_) {
    return std::nullopt;
  }
  return *lease_end_ - fence_timeout;
}

// --- LeaderLeases ----------------------------------------------------------------------

namespace {
constexpr size_t kRoundsPendingMax = 64;  // Older unconfirmed rounds are forgotten.
}

LeaderLeases::LeaderLeases(Options options, Time elected_at, Time candidacy_at)
    : options_(std::move(options)), elected_at_(elected_at), candidacy_at_(candidacy_at) {
  std::sort(options_.voters.begin(), options_.voters.end());
}

uint64_t LeaderLeases::StartRound(Time now) {
  Round round;
  round.number = next_round_++;
  round.sent_at = now;
  for (const auto& [name, peer] : peers_) {
    if (peer.latest.seq != 0) {
      round.noted.emplace(name, peer.latest);  // L1: received before t_r.
    }
  }
  round.answered.push_back(options_.self);
  if (options_.mutations.self_lease_without_majority) {
    // The bug: the leader counts its round as confirmed at once.
    confirmed_.push_back(Confirmed{.round = round.number, .round_sent_at = now, .nonces = {}});
  }
  rounds_.push_back(std::move(round));
  if (rounds_.size() > kRoundsPendingMax) {
    rounds_.pop_front();
  }
  ConfirmReady();
  return next_round_ - 1;
}

void LeaderLeases::OnReply(const NodeName& from, uint64_t round, Nonce nonce, Time now) {
  Peer& peer = peers_[from];
  peer.heard_at = now;
  if (nonce.seq != 0) {
    // Nonces of one incarnation grow; a new incarnation's nonce is the latest by arrival.
    if (peer.latest.incarnation != nonce.incarnation || nonce.seq > peer.latest.seq) {
      peer.latest = nonce;
      peer.latest_at = now;
    }
  }
  if (round == 0) {
    return;
  }
  // A reply to round r' proves contact after t_r for every round r <= r'.
  for (Round& pending : rounds_) {
    if (pending.number > round) {
      break;
    }
    const auto at = std::lower_bound(pending.answered.begin(), pending.answered.end(), from);
    if (at == pending.answered.end() || *at != from) {
      pending.answered.insert(at, from);
    }
  }
  ConfirmReady();
}

void LeaderLeases::ConfirmReady() {
  const size_t majority = options_.voters.size() / 2 + 1;
  // The newest round with a majority confirms itself and supersedes every older one.
  for (auto it = rounds_.rbegin(); it != rounds_.rend(); ++it) {
    if (it->answered.size() < majority) {
      continue;
    }
    Confirmed confirmed{.round = it->number, .round_sent_at = it->sent_at, .nonces = {}};
    for (const auto& [name, nonce] : it->noted) {
      confirmed.nonces.emplace_back(name, nonce);
    }
    confirmed_.push_back(std::move(confirmed));
    if (confirmed_.size() > kRoundsPendingMax) {  // Not taken (a caretaker): newest count.
      confirmed_.erase(confirmed_.begin());
    }
    rounds_.erase(rounds_.begin(), it.base());
    return;
  }
}

std::vector<LeaderLeases::Confirmed> LeaderLeases::TakeConfirmed() {
  return std::exchange(confirmed_, {});
}

Time LeaderLeases::CertainExpiry(const NodeName& node, Duration wait) const {
  const auto peer = peers_.find(node);
  if (options_.mutations.expiry_on_not_heard_from) {
    // The bug: "not heard from for a lease length", no stretch, no new-leader wait.
    const Time heard =
        peer != peers_.end() && peer->second.heard_at ? *peer->second.heard_at : elected_at_;
    return heard + wait;
  }
  const Duration stretched = Stretch(wait, options_.drift_ppm);
  // N2(a): the credit of vote stickiness (none after a leadership transfer).
  const Time from = options_.mutations.new_leader_wait_from_candidacy ? candidacy_at_ : elected_at_;
  Time expiry = from + stretched;
  if (options_.stickiness_credit) {
    expiry = expiry - options_.election_timeout_min;
  }
  // N2(b) / L4: the latest nonce received in this term.
  if (peer != peers_.end() && peer->second.latest.seq != 0) {
    expiry = std::max(expiry, peer->second.latest_at + stretched);
  }
  return expiry;
}

std::optional<Time> LeaderLeases::LastNonceAt(const NodeName& node) const {
  const auto peer = peers_.find(node);
  if (peer == peers_.end() || peer->second.latest.seq == 0) {
    return std::nullopt;
  }
  return peer->second.latest_at;
}

}  // namespace cmcl::raft
