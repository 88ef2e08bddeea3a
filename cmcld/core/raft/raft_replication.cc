// Raft log replication: heartbeats, CheckQuorum, AppendEntries, commitment and apply.
#include <algorithm>
#include <utility>
#include <vector>

#include "cmcld/core/common/check.h"
#include "cmcld/core/raft/raft.h"

namespace cmcl::raft {

void Raft::HeartbeatRound() {
  CMCL_CHECK(role_ == Role::kLeader);
  if (now_ - leader_since_ >= CheckQuorumPeriod() && !QuorumActive()) {
    // Thesis 6.2, CheckQuorum: a leader that cannot hear from a majority steps down, so
    // clients find the real leader and stickiness no longer protects a dead one.
    BecomeFollower(term_, std::nullopt);
    return;
  }
  if (!pending_persists_.empty() &&
      now_ - pending_persists_.front().emitted_at >= CheckQuorumPeriod()) {
    // A leader whose disk stalls can neither apply nor answer clients, yet its heartbeats
    // would keep every follower sticky forever. It steps down without counting this
    // round, so stickiness expires and a node with a working disk takes over.
    BecomeFollower(term_, std::nullopt);
    return;
  }
  // DESIGN.md section 3: a leader counts its own heartbeat round as hearing from one.
  leader_heard_at_ = now_;
  heartbeat_deadline_ = now_ + options_.heartbeat_interval;
  leader_leases_->StartRound(now_);  // L1.
  BroadcastAppend();
  SendConfirmedGrants();  // A one-voter cluster confirms its round at once.
  MaybeHandOver();        // A caretaker repeats TimeoutNow until it steps down.
}

Duration Raft::CheckQuorumPeriod() const {
  return options_.check_quorum_period > Duration(0) ? options_.check_quorum_period
                                                    : options_.election_timeout_min;
}

bool Raft::QuorumActive() const {
  size_t active = 1;  // Itself.
  for (const auto& [name, progress] : progress_) {
    if (progress.last_response_at && now_ - *progress.last_response_at < CheckQuorumPeriod()) {
      ++active;
    }
  }
  return active >= Majority();
}

void Raft::BroadcastAppend() {
  for (const auto& [name, progress] : progress_) {
    SendAppend(name);
  }
}

void Raft::SendAppend(const NodeName& to) {
  Progress& progress = progress_.at(to);
  CMCL_CHECK(progress.next >= LogIndex(1) && progress.next <= LastIndex() + 1);
  if (progress.next < FirstIndex() || !TermKnown(progress.next - 1)) {
    // Thesis 5.1: the entries this follower needs next were compacted away. Sent at most
    // once per heartbeat interval (not for every proposal, it may be megabytes), again
    // at every heartbeat round until acknowledged, which retries a lost one.
    if (progress.snapshot_sent_at &&
        now_ - *progress.snapshot_sent_at < options_.heartbeat_interval) {
      return;
    }
    progress.snapshot_sent_at = now_;
    Send(to, InstallSnapshot{.snapshot = *snapshot_, .round = CurrentRound()}, term_);
    return;
  }
  AppendRequest request;
  request.prev_log_index = progress.next - 1;
  request.prev_log_term = TermAt(request.prev_log_index);
  const uint64_t end = std::min<uint64_t>(
      LastIndex().value(), request.prev_log_index.value() + options_.entries_per_message_max);
  for (LogIndex i = progress.next; i <= LogIndex(end); i = i + 1) {
    request.entries.push_back(EntryAt(i));
  }
  request.leader_commit = commit_;
  request.round = CurrentRound();
  Send(to, std::move(request), term_);
}

// Figure 2, AppendEntries receiver rule 1, for AppendEntries and InstallSnapshot alike:
// "Reply false if term < currentTerm", which tells a stale leader our term so that it
// steps down; otherwise the sender is the leader of its term, and we follow it.
// Returns false when the sender was refused.
bool Raft::FollowSender(const Header& header, LogIndex rejected_index) {
  if (header.term < term_) {
    AppendResponse refusal;
    refusal.rejected_index = rejected_index;
    refusal.last_index = LastIndex();
    refusal.node_id = node_id_;
    Send(header.from, refusal, term_);
    return false;
  }
  if (role_ == Role::kLeader && header.term == term_) {
    ++protocol_violations_;  // Two leaders in one term: the sender broke the protocol.
    return false;
  }
  if (header.term > term_ || role_ != Role::kFollower || leader_ != header.from) {
    BecomeFollower(header.term, header.from);
  }
  leader_heard_at_ = now_;
  caretaker_wanted_ = false;  // A leader exists: no caretaker needed.
  ResetElectionTimer();
  return true;
}

void Raft::HandleAppendRequest(const Header& header, const AppendRequest& request) {
  if (!FollowSender(header, request.prev_log_index)) {
    return;
  }
  const bool success = AppendEntries(request);
  AppendResponse response;
  response.success = success;
  response.node_id = node_id_;
  response.round = request.round;
  response.nonce = lease_.Issue(now_);  // F1; anchored no later than the real send.
  if (success) {
    response.match_index = request.prev_log_index + request.entries.size();
  } else {
    response.rejected_index = request.prev_log_index;
    response.last_index = LastIndex();
  }
  Send(header.from, response, term_);
}

bool Raft::AppendEntries(const AppendRequest& request) {
  // Figure 2, receiver rule 2: "Reply false if log doesn't contain an entry at
  // prevLogIndex whose term matches prevLogTerm".
  // An index whose term this node no longer knows lies below its snapshot, so it is
  // committed here and matches every leader's log (Log Matching): no check needed.
  if (request.prev_log_index > LastIndex() ||
      (TermKnown(request.prev_log_index) &&
       TermAt(request.prev_log_index) != request.prev_log_term)) {
    return false;
  }
  for (const Entry& entry : request.entries) {
    if (!TermKnown(entry.index) && entry.index < FirstIndex()) {
      continue;  // Compacted into the snapshot here: committed, hence the same entry.
    }
    // Rule 3: "If an existing entry conflicts with a new one (same index but different
    // terms), delete the existing entry and all that follow it". Rule 4: "Append any
    // new entries not already in the log". A matching entry is kept, so a delayed or
    // duplicated request never truncates what a later one appended.
    if (entry.index <= LastIndex()) {
      if (TermAt(entry.index) == entry.term) {
        continue;
      }
      if (entry.index <= commit_) {
        ++protocol_violations_;  // A leader rewriting a committed entry broke the protocol.
        return false;
      }
      TruncateFrom(entry.index);
    }
    AppendToLog(entry);
  }
  // Rule 5: "If leaderCommit > commitIndex, set commitIndex = min(leaderCommit, index of
  // last new entry)".
  const LogIndex last_new = request.prev_log_index + request.entries.size();
  if (request.leader_commit > commit_) {
    commit_ = std::max(commit_, std::min(request.leader_commit, last_new));
  }
  return true;
}

void Raft::HandleAppendResponse(const Header& header, const AppendResponse& response) {
  if (header.term > term_) {
    BecomeFollower(header.term, std::nullopt);
    return;
  }
  if (role_ != Role::kLeader || header.term < term_) {
    return;  // Stale.
  }
  Progress& progress = progress_.at(header.from);
  progress.last_response_at = now_;
  OnLeaseReply(header.from, response);
  // Only a reply that makes progress triggers the next send. Otherwise duplicated and
  // stale replies would each trigger one, and with duplication above loss the number of
  // messages in flight would grow without bound (the simulator found this).
  if (response.success) {
    if (response.match_index > LastIndex()) {
      ++protocol_violations_;  // It matches past our log: the sender broke the protocol.
      return;
    }
    if (response.match_index <= progress.match) {
      return;
    }
    progress.match = response.match_index;
    progress.next = std::max(progress.next, progress.match + 1);
    if (AdvanceCommit()) {
      // Every follower learns the new commit index now, not at the next heartbeat (a
      // heartbeat_interval later): its owner starts a failed-over guest, and a command's
      // result is seen on every node, that much sooner (etcd's bcastAppend on commit).
      // The replies to these make no progress, so they send nothing further.
      BroadcastAppend();
    } else if (progress.next <= LastIndex()) {
      SendAppend(header.from);
    }
    MaybeHandOver();
    return;
  }
  if (response.rejected_index != progress.next - 1) {
    return;  // A reply to an older probe; the current one is still in flight.
  }
  // Paper 5.3: decrement nextIndex and retry; the follower's last index lets us skip.
  const LogIndex backed_up = std::min(progress.next - 1, response.last_index + 1);
  const LogIndex next = std::max(std::max(backed_up, progress.match + 1), LogIndex(1));
  if (next == progress.next) {
    return;
  }
  progress.next = next;
  SendAppend(header.from);
}

void Raft::HandleInstallSnapshot(const Header& header, const InstallSnapshot& request) {
  const Snapshot& snapshot = request.snapshot;
  if (!FollowSender(header, snapshot.last_index)) {
    return;
  }
  // Thesis 5.1: a snapshot that does not go beyond what this node has committed brings
  // nothing new (it is a delayed or duplicated one); every entry up to it is committed
  // here and matches, so acknowledging its last index is true.
  if (snapshot.last_index > commit_) {
    InstallSnapshotLocally(snapshot);
  }
  AppendResponse response;
  response.success = true;
  response.match_index = snapshot.last_index;
  response.node_id = node_id_;
  response.round = request.round;
  response.nonce = lease_.Issue(now_);
  if (options_.mutations.snapshot_ack_before_persist) {
    actions_.sends.push_back(Message{.header = Header{.cluster_id = options_.cluster_id,
                                                      .from = options_.self,
                                                      .to = header.from,
                                                      .term = term_},
                                     .body = response});
    return;
  }
  Send(header.from, response, term_);  // Held until the snapshot is durable.
}

void Raft::InstallSnapshotLocally(Snapshot snapshot) {
  const LogIndex last = snapshot.last_index;
  CMCL_CHECK(last > commit_);
  if (last <= LastIndex() && TermKnown(last) && TermAt(last) == snapshot.last_term) {
    // Thesis 5.1: "If existing log entry has same index and term as snapshot's last
    // included entry, retain log entries following it". The suffix is unchanged on disk.
    DropLogBefore(last + 1);
  } else {
    // Discard the entire log. Entries above the old commit index may differ on disk
    // until this persist lands, so only the committed prefix counts as durable.
    ClampDurable(commit_);
    log_.clear();
    log_dirty_from_ = last + 1;
  }
  snapshot_ = std::move(snapshot);
  snapshot_dirty_ = true;
  commit_ = last;
  applied_ = last;
  clients_.clear();
  for (const ClientSession& session : snapshot_->clients) {
    clients_[session.client_id] =
        ClientRecord{.sequence = session.sequence, .index = session.index};
  }
  actions_.restore = snapshot_;
}

bool Raft::AdvanceCommit() {
  CMCL_CHECK(role_ == Role::kLeader);
  // Figure 2, leaders: "If there exists an N such that N > commitIndex, a majority of
  // matchIndex[i] >= N, and log[N].term == currentTerm: set commitIndex = N." The
  // leader's own matchIndex is what is durable on its disk.
  std::vector<LogIndex> matches{durable_index_};
  for (const auto& [name, progress] : progress_) {
    matches.push_back(progress.match);
  }
  std::sort(matches.begin(), matches.end(), std::greater<>());
  const LogIndex majority_match = matches[Majority() - 1];
  if (majority_match <= commit_) {
    return false;
  }
  if (TermAt(majority_match) != term_ && !options_.mutations.commit_previous_term_by_count) {
    // Section 5.4.2: "Raft never commits log entries from previous terms by counting
    // replicas"; the no-op of this term commits them (figure 8).
    return false;
  }
  commit_ = majority_match;
  return true;
}

void Raft::ApplyCommitted() {
  const LogIndex applicable = std::min(commit_, durable_index_);
  while (applied_ < applicable) {
    applied_ = applied_ + 1;
    const Entry& entry = EntryAt(applied_);
    ApplyEntry apply{.entry = entry, .duplicate = false};
    LogIndex effective = applied_;
    if (entry.kind == EntryKind::kCommand) {
      auto [client, inserted] =
          clients_.try_emplace(entry.command.client_id,
                               ClientRecord{.sequence = entry.command.sequence, .index = applied_});
      if (!inserted && entry.command.sequence <= client->second.sequence) {
        apply.duplicate = true;  // Thesis 6.3: applied before, at client->second.index.
        // Only the latest sequence's index is known; an older one gets no index.
        effective =
            entry.command.sequence == client->second.sequence ? client->second.index : LogIndex(0);
      } else {
        client->second = ClientRecord{.sequence = entry.command.sequence, .index = applied_};
      }
    }
    actions_.applies.push_back(std::move(apply));
    const auto proposal = proposals_.find(applied_);
    if (proposal == proposals_.end()) {
      continue;
    }
    Reply(proposal->second.origin,
          ClientReply{.client_id = proposal->second.command.client_id,
                      .sequence = proposal->second.command.sequence,
                      .code = effective == LogIndex(0) ? ReplyCode::kStale : ReplyCode::kApplied,
                      .applied_index = effective,
                      .leader_hint = leader_,
                      .detail = {}});
    proposals_.erase(proposal);
  }
}

void Raft::AbortPendingProposals() {
  for (const auto& [index, proposal] : proposals_) {
    Reply(proposal.origin, ClientReply{.client_id = proposal.command.client_id,
                                       .sequence = proposal.command.sequence,
                                       .code = ReplyCode::kUnknownOutcome,
                                       .applied_index = LogIndex(0),
                                       .leader_hint = std::nullopt,
                                       .detail = {}});
  }
  proposals_.clear();
}

}  // namespace cmcl::raft
