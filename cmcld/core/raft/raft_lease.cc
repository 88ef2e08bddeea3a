// Raft's side of the leases (lease.h; DESIGN.md section 4): rounds, confirmations,
// grants with L3's hold, and the follower's handling of grants.
#include <algorithm>
#include <utility>
#include <vector>

#include "cmcld/core/common/check.h"
#include "cmcld/core/raft/raft.h"

namespace cmcl::raft {

void Raft::StartLeaderLeases() {
  LeaderLeases::Options options;
  options.self = options_.self;
  for (const Voter& voter : options_.voters) {
    options.voters.push_back(voter.name);
  }
  options.election_timeout_min = options_.election_timeout_min;
  options.drift_ppm = options_.clock_drift_max_ppm;
  // N2: a leader elected by leadership transfer took votes that stickiness would have
  // refused, so it takes no credit.
  options.stickiness_credit = !transfer_candidacy_;
  options.mutations = options_.lease_mutations;
  leader_leases_.emplace(std::move(options), now_, candidacy_at_);
  // The voters' nonces arrived in this term, before the first round: that round
  // confirms them (lease.h, point 3), two trips sooner than a nonce of its replies.
  for (const auto& [voter, nonce] : vote_nonces_) {
    leader_leases_->OnReply(voter, 0, nonce.first, nonce.second);
  }
}

uint64_t Raft::CurrentRound() const { return leader_leases_ ? leader_leases_->current_round() : 0; }

void Raft::OnLeaseReply(const NodeName& from, const AppendResponse& response) {
  CMCL_CHECK(leader_leases_.has_value());
  leader_leases_->OnReply(from, response.round, response.nonce, now_);
  SendConfirmedGrants();
}

// L3: an uncommitted entry takes a resource away from `node`.
bool Raft::RevokePending(const NodeName& node) const {
  for (LogIndex i = commit_ + 1; i <= LastIndex(); i = i + 1) {
    const std::vector<NodeName>& revokes = EntryAt(i).command.revokes;
    if (std::binary_search(revokes.begin(), revokes.end(), node)) {
      return true;
    }
  }
  return false;
}

void Raft::SendConfirmedGrants() {
  if (!leader_leases_ || !LeaderReady()) {
    // What grants carry (SetLeaseTerms) follows this node's applied state, and a new
    // leader may not yet have applied a committed `arm` (or `disarm`): it would grant D
    // to a node whose armed(F) is committed, and then wait for it only by L. Until its
    // no-op is applied (N1) it grants nothing, its own lease included; the confirmed
    // rounds wait (a lease from nonce n ends at sent_at(n) + L however late its grant
    // comes, point 1) and are granted by the first Step or Tick after it is ready,
    // with the terms of the applied state then. The first round's majority usually
    // commits the no-op too, so the voters' leases continue without a second round:
    // dropping them here cost a heartbeat, and followers far from the new leader
    // fenced (tests/scenarios/coordinator-crash). A caretaker is never ready: it
    // grants nothing (it leads only to hand over).
    return;
  }
  std::vector<LeaderLeases::Confirmed> confirmed_rounds = leader_leases_->TakeConfirmed();
  for (const LeaderLeases::Confirmed& confirmed : confirmed_rounds) {
    // L2: the leader's own lease, from majority rounds only; L3 holds it too.
    if (!RevokePending(options_.self)) {
      lease_.OnSelfGrant(confirmed.round_sent_at, grant_length_, grant_mode_, commit_);
    }
    for (const auto& [node, nonce] : confirmed.nonces) {
      if (RevokePending(node)) {
        continue;
      }
      Send(node,
           LeaseGrant{.grant = Grant{.nonce = nonce,
                                     .lease = grant_length_,
                                     .mode = grant_mode_,
                                     .min_applied = commit_}},
           term_);
    }
  }
}

void Raft::HandleLeaseGrant(const Header& header, const LeaseGrant& grant) {
  // F2 drops grants of terms below ours. A grant of a later term was confirmed by a
  // majority of that term: its sender leads it, and we follow.
  if (header.term > term_) {
    BecomeFollower(header.term, header.from);
  }
  lease_.OnGrant(now_, header.term, term_, grant.grant);
}

std::optional<Time> Raft::CertainExpiry(const NodeName& node, Duration wait) const {
  if (role_ != Role::kLeader || !leader_leases_) {
    return std::nullopt;
  }
  return leader_leases_->CertainExpiry(node, wait);
}

std::optional<Time> Raft::LastNonceAt(const NodeName& node) const {
  if (role_ != Role::kLeader || !leader_leases_) {
    return std::nullopt;
  }
  return leader_leases_->LastNonceAt(node);
}

}  // namespace cmcl::raft
