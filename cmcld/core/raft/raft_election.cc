// Raft elections: roles, PreVote, RequestVote and vote stickiness (raft.h for the rules).
#include <utility>

#include "cmcld/core/common/check.h"
#include "cmcld/core/raft/raft.h"

namespace cmcl::raft {

void Raft::BecomeFollower(Term term, std::optional<NodeName> leader) {
  CMCL_CHECK(term >= term_);
  if (role_ == Role::kLeader) {
    AbortPendingProposals();
    progress_.clear();
    leader_leases_.reset();
    // DESIGN.md section 3: the stepped-down leader keeps refusing votes until
    // election_timeout_min after its last heartbeat round (leader_heard_at_).
  }
  if (term > term_) {
    term_ = term;
    voted_for_.reset();
    MarkHardStateDirty();
  }
  role_ = Role::kFollower;
  leader_ = std::move(leader);
  votes_.clear();
  vote_nonces_.clear();
  ResetElectionTimer();
}

void Raft::StartPreVote() {
  CMCL_CHECK(!is_arbitrator_ || caretaker_wanted_) << "arbitrators campaign only as caretakers";
  // Thesis 9.6: ask whether we could win in term+1 before disturbing anyone's term.
  role_ = Role::kPreCandidate;
  candidacy_at_ = now_;
  leader_.reset();
  votes_.clear();
  vote_nonces_.clear();
  votes_[options_.self] = true;
  ResetElectionTimer();
  if (CountGrants() >= Majority()) {
    BecomeCandidate();
    return;
  }
  for (const Voter& voter : options_.voters) {
    if (voter.name != options_.self) {
      Send(voter.name,
           VoteRequest{.kind = VoteKind::kPreVote,
                       .last_log_index = LastIndex(),
                       .last_log_term = LastTerm()},
           NextTerm(term_));
    }
  }
}

void Raft::BecomeCandidate(bool transfer) {
  // Paper figure 2, candidates: "increment currentTerm, vote for self, reset election
  // timer, send RequestVote RPCs to all other servers". The requests wait in the outbox
  // until the new term and the self-vote are durable.
  role_ = Role::kCandidate;
  transfer_candidacy_ = transfer;
  term_ = NextTerm(term_);
  voted_for_ = options_.self;
  leader_.reset();
  MarkHardStateDirty();
  votes_.clear();
  vote_nonces_.clear();
  votes_[options_.self] = true;
  ResetElectionTimer();
  if (CountGrants() >= Majority()) {
    BecomeLeader();
    return;
  }
  for (const Voter& voter : options_.voters) {
    if (voter.name != options_.self) {
      Send(voter.name,
           VoteRequest{.kind = VoteKind::kVote,
                       .last_log_index = LastIndex(),
                       .last_log_term = LastTerm(),
                       .transfer = transfer},
           term_);
    }
  }
}

void Raft::BecomeLeader() {
  role_ = Role::kLeader;
  caretaker_wanted_ = false;  // A caretaker leads for this one term only.
  leader_ = options_.self;
  leader_since_ = now_;
  votes_.clear();
  progress_.clear();
  for (const Voter& voter : options_.voters) {
    if (voter.name != options_.self) {
      // Paper figure 2: nextIndex initialized to leader last log index + 1.
      progress_[voter.name] = Progress{.next = LastIndex() + 1,
                                       .match = LogIndex(0),
                                       .last_response_at = {},
                                       .snapshot_sent_at = {}};
    }
  }
  // Paper section 8: a no-op at the start of the term lets the leader commit, and so
  // learn, everything committed before it.
  AppendToLog(
      Entry{.term = term_, .index = LastIndex() + 1, .kind = EntryKind::kNoop, .command = {}});
  term_start_index_ = LastIndex();
  StartLeaderLeases();  // e = now: the last needed vote arrived (N2); notes vote nonces.
  vote_nonces_.clear();
  HeartbeatRound();
}

bool Raft::LogUpToDate(LogIndex last_index, Term last_term) const {
  if (options_.mutations.vote_without_log_check) {
    return true;
  }
  // Paper 5.4.1: "If the logs have last entries with different terms, then the log with
  // the later term is more up-to-date. If the logs end with the same term, then
  // whichever log is longer is more up-to-date."
  if (last_term != LastTerm()) {
    return last_term > LastTerm();
  }
  return last_index >= LastIndex();
}

void Raft::HandleVoteRequest(const Header& header, const VoteRequest& request) {
  const auto respond = [&](bool granted, Term term) {
    // F1: a granted vote carries a nonce, anchored no later than the real send (the
    // reply waits in the outbox until the vote is durable).
    const bool vote = granted && request.kind == VoteKind::kVote;
    Send(header.from,
         VoteResponse{.kind = request.kind,
                      .granted = granted,
                      .voter_node_id = node_id_,
                      .nonce = vote ? lease_.Issue(now_) : Nonce{}},
         term);
  };
  if (InLease() && !(request.kind == VoteKind::kVote && request.transfer)) {
    // DESIGN.md section 3, stickiness: refuse, and do not adopt the requester's term. A
    // transfer candidate (thesis 3.10) was told to campaign by its leader; it takes no
    // stickiness credit for it (N2), so granting it is safe.
    respond(false, term_);
    return;
  }
  if (request.kind == VoteKind::kPreVote) {
    // Thesis 9.6: grant if the term is ahead of ours and the log up to date; a PreVote
    // changes nothing here.
    const bool grant =
        header.term > term_ && LogUpToDate(request.last_log_index, request.last_log_term);
    respond(grant, grant ? header.term : term_);
    NoteMemberBehind(header.from, request);
    return;
  }
  if (header.term > term_) {
    BecomeFollower(header.term, std::nullopt);
  }
  // Paper figure 2, RequestVote receiver: "1. Reply false if term < currentTerm. 2. If
  // votedFor is null or candidateId, and candidate's log is at least as up-to-date as
  // receiver's log, grant vote."
  const bool grant = header.term == term_ && (!voted_for_ || *voted_for_ == header.from) &&
                     LogUpToDate(request.last_log_index, request.last_log_term);
  if (grant) {
    if (!voted_for_) {
      voted_for_ = header.from;
      MarkHardStateDirty();
    }
    // Figure 2, followers: granting a vote resets the election timer.
    ResetElectionTimer();
  }
  respond(grant, term_);
  NoteMemberBehind(header.from, request);  // After BecomeFollower reset the timer.
}

void Raft::NoteMemberBehind(const NodeName& from, const VoteRequest& request) {
  // raft.h, caretaker: only an arbitrator, only for a member, only when our log is ahead
  // (not for refusals by stickiness, which mean a leader is alive). Campaign at the next
  // Tick.
  if (!is_arbitrator_ || IsArbitrator(from) || role_ == Role::kLeader ||
      LogUpToDate(request.last_log_index, request.last_log_term)) {
    return;
  }
  if (!caretaker_wanted_) {
    caretaker_wanted_ = true;
    election_deadline_ = now_;
  }
}

void Raft::HandleTimeoutNow(const Header& header) {
  // Thesis 3.10: only from our leader, in our term; a late or duplicated one (we have
  // moved on) is ignored. Arbitrators are never the target.
  if (is_arbitrator_ || role_ != Role::kFollower || header.term != term_ ||
      leader_ != header.from) {
    return;
  }
  BecomeCandidate(/*transfer=*/true);
}

void Raft::MaybeHandOver() {
  if (!caretaker()) {
    return;
  }
  const Progress* best = nullptr;
  const NodeName* target = nullptr;
  for (const auto& [name, progress] : progress_) {
    if (IsArbitrator(name) || progress.match != LastIndex() || !progress.last_response_at) {
      continue;
    }
    if (best == nullptr || *progress.last_response_at > *best->last_response_at) {
      best = &progress;
      target = &name;
    }
  }
  if (target != nullptr) {
    Send(*target, TimeoutNow{}, term_);
  }
}

void Raft::HandleVoteResponse(const Header& header, const VoteResponse& response) {
  if (header.term > term_ && !(response.kind == VoteKind::kPreVote && response.granted)) {
    BecomeFollower(header.term, std::nullopt);
    return;
  }
  const bool current_round =
      (response.kind == VoteKind::kPreVote && role_ == Role::kPreCandidate &&
       header.term == NextTerm(term_)) ||
      (response.kind == VoteKind::kVote && role_ == Role::kCandidate && header.term == term_);
  if (!current_round) {
    return;  // A refusal at another term, or a reply to an earlier round.
  }
  votes_[header.from] = response.granted;
  if (response.kind == VoteKind::kVote && response.granted && response.nonce.seq != 0) {
    vote_nonces_[header.from] = {response.nonce, now_};
  }
  if (CountGrants() < Majority()) {
    return;
  }
  if (role_ == Role::kPreCandidate) {
    BecomeCandidate();
    return;
  }
  BecomeLeader();
}

size_t Raft::CountGrants() const {
  size_t grants = 0;
  for (const auto& [name, granted] : votes_) {
    grants += granted ? 1 : 0;
  }
  return grants;
}

}  // namespace cmcl::raft
