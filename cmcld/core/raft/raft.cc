// Raft: construction, the public entry points, batching, persistence bookkeeping and the
// outbox. Role behaviour lives in raft_election.cc and raft_replication.cc.
#include "cmcld/core/raft/raft.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "cmcld/core/common/check.h"

namespace cmcl::raft {

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kFollower:
      return "follower";
    case Role::kPreCandidate:
      return "precandidate";
    case Role::kCandidate:
      return "candidate";
    case Role::kLeader:
      return "leader";
  }
  return "?";
}

std::ostream& operator<<(std::ostream& out, const Entry& entry) {
  out << entry.index << "@" << entry.term;
  if (entry.kind == EntryKind::kNoop) {
    return out << ":noop";
  }
  return out << ":c" << entry.command.client_id << "." << entry.command.sequence;
}

std::string MessageTypeName(const Message& message) {
  struct Namer {
    std::string operator()(const VoteRequest& m) const {
      return m.kind == VoteKind::kPreVote ? "PreVoteRequest" : "VoteRequest";
    }
    std::string operator()(const VoteResponse& m) const {
      return m.kind == VoteKind::kPreVote ? "PreVoteResponse" : "VoteResponse";
    }
    std::string operator()(const AppendRequest&) const { return "AppendRequest"; }
    std::string operator()(const AppendResponse&) const { return "AppendResponse"; }
    std::string operator()(const InstallSnapshot&) const { return "InstallSnapshot"; }
    std::string operator()(const LeaseGrant&) const { return "LeaseGrant"; }
    std::string operator()(const ForwardRequest&) const { return "ForwardRequest"; }
    std::string operator()(const ForwardReply&) const { return "ForwardReply"; }
    std::string operator()(const TimeoutNow&) const { return "TimeoutNow"; }
  };
  return std::visit(Namer{}, message.body);
}

std::string_view ReplyCodeName(ReplyCode code) {
  switch (code) {
    case ReplyCode::kApplied:
      return "applied";
    case ReplyCode::kNotLeader:
      return "not_leader";
    case ReplyCode::kBusy:
      return "busy";
    case ReplyCode::kUnknownOutcome:
      return "unknown_outcome";
    case ReplyCode::kStale:
      return "stale";
    case ReplyCode::kRejected:
      return "rejected";
  }
  return "?";
}

Raft::Raft(RaftOptions options, PersistedState state, Rng rng, Time now)
    : options_(std::move(options)),
      rng_(std::move(rng)),
      node_id_(state.hard_state.node_id),
      now_(now),
      term_(state.hard_state.term),
      voted_for_(std::move(state.hard_state.voted_for)),
      log_(std::move(state.entries)),
      snapshot_(std::move(state.snapshot)),
      leader_heard_at_(now),
      lease_(rng_.Next(), options_.lease_mutations),
      grant_length_(options_.lease_length) {
  CMCL_CHECK(state.hard_state.cluster_id == options_.cluster_id)
      << "state_dir belongs to cluster " << state.hard_state.cluster_id << ", not "
      << options_.cluster_id;
  CMCL_CHECK(std::is_sorted(options_.voters.begin(), options_.voters.end(),
                            [](const Voter& a, const Voter& b) { return a.name < b.name; }));
  bool found_self = false;
  for (const Voter& voter : options_.voters) {
    if (voter.name == options_.self) {
      found_self = true;
      is_arbitrator_ = voter.role == config::NodeRole::kArbitrator;
    }
  }
  CMCL_CHECK(found_self) << options_.self << " is not a voter";
  CMCL_CHECK(options_.heartbeat_interval < options_.election_timeout_min);
  const LogIndex first = log_.empty() ? snapshot_index() + 1 : log_.front().index;
  for (size_t i = 0; i < log_.size(); ++i) {
    CMCL_CHECK(log_[i].index == first + i) << "persisted log has a gap at " << first + i;
  }
  CMCL_CHECK(first <= snapshot_index() + 1 && LastIndex() >= snapshot_index())
      << "persisted log " << first << ".." << LastIndex() << " does not meet snapshot "
      << snapshot_index();
  if (snapshot_) {
    // The driver restored its state machine from the snapshot (actions.h).
    commit_ = applied_ = snapshot_->last_index;
    for (const ClientSession& session : snapshot_->clients) {
      clients_[session.client_id] =
          ClientRecord{.sequence = session.sequence, .index = session.index};
    }
  }
  durable_index_ = LastIndex();
  ResetElectionTimer();
}

void Raft::Begin(Time now) {
  CMCL_CHECK(now >= now_) << "time went backwards: " << now << " < " << now_;
  now_ = now;
  actions_ = Actions{};
  if (role_ == Role::kLeader) {
    // Rounds confirmed before the no-op was applied (raft_lease.cc): the driver has set
    // the lease terms of its applied state since.
    SendConfirmedGrants();
  }
}

Actions Raft::Finish() {
  ApplyCommitted();
  Flush();
  return std::exchange(actions_, Actions{});
}

bool Raft::IsVoter(const NodeName& name) const {
  return std::any_of(options_.voters.begin(), options_.voters.end(),
                     [&](const Voter& voter) { return voter.name == name; });
}

Actions Raft::Step(Time now, const Message& message) {
  Begin(now);
  const Header& header = message.header;
  if (header.cluster_id != options_.cluster_id) {
    // DESIGN.md section 3: "peer X belongs to another cluster" is dropped and counted.
    ++foreign_messages_dropped_;
    return Finish();
  }
  if (header.to != options_.self || header.from == options_.self) {
    return Finish();
  }
  if (!IsVoter(header.from)) {
    // Only voters take part: a grant or acknowledgement from anyone else must never
    // count towards a majority, whatever io/ authenticated.
    ++non_voter_messages_dropped_;
    return Finish();
  }
  if (const auto* vote_request = std::get_if<VoteRequest>(&message.body)) {
    HandleVoteRequest(header, *vote_request);
  } else if (const auto* vote_response = std::get_if<VoteResponse>(&message.body)) {
    HandleVoteResponse(header, *vote_response);
  } else if (const auto* append_request = std::get_if<AppendRequest>(&message.body)) {
    HandleAppendRequest(header, *append_request);
  } else if (const auto* append_response = std::get_if<AppendResponse>(&message.body)) {
    HandleAppendResponse(header, *append_response);
  } else if (const auto* install = std::get_if<InstallSnapshot>(&message.body)) {
    HandleInstallSnapshot(header, *install);
  } else if (const auto* grant = std::get_if<LeaseGrant>(&message.body)) {
    HandleLeaseGrant(header, *grant);
  } else if (const auto* forward = std::get_if<ForwardRequest>(&message.body)) {
    HandleForwardRequest(header, *forward);
  } else if (const auto* answer = std::get_if<ForwardReply>(&message.body)) {
    actions_.replies.push_back(answer->reply);
  } else if (std::holds_alternative<TimeoutNow>(message.body)) {
    HandleTimeoutNow(header);
  }
  return Finish();
}

Actions Raft::Tick(Time now) {
  Begin(now);
  if (role_ == Role::kLeader) {
    if (now_ >= heartbeat_deadline_) {
      HeartbeatRound();
    }
    return Finish();
  }
  if ((!is_arbitrator_ || caretaker_wanted_) && now_ >= election_deadline_) {
    StartPreVote();
  }
  return Finish();
}

Actions Raft::Propose(Time now, Command command) {
  Begin(now);
  const ClientId client_id = command.client_id;
  const uint64_t sequence = command.sequence;
  if (const std::optional<ReplyCode> refused = ProposeLocally(std::move(command), std::nullopt)) {
    Reply(std::nullopt, ClientReply{.client_id = client_id,
                                    .sequence = sequence,
                                    .code = *refused,
                                    .applied_index = LogIndex(0),
                                    .leader_hint = LeaderHint(),
                                    .detail = {}});
  }
  return Finish();
}

Actions Raft::Forward(Time now, Command command) {
  // A caretaker leader would only refuse it: answer kNotLeader here at once.
  if (role_ == Role::kLeader || !leader_ || IsArbitrator(*leader_)) {
    return Propose(now, std::move(command));
  }
  Begin(now);
  Send(*leader_, ForwardRequest{.command = std::move(command)}, term_);
  return Finish();
}

void Raft::SetLeaseTerms(LeaseMode mode, Duration length) {
  CMCL_CHECK(length > Duration(0));
  grant_mode_ = mode;
  grant_length_ = length;
}

void Raft::HandleForwardRequest(const Header& header, const ForwardRequest& request) {
  const ClientId client_id = request.command.client_id;
  const uint64_t sequence = request.command.sequence;
  if (const std::optional<ReplyCode> refused = ProposeLocally(request.command, header.from)) {
    Reply(header.from, ClientReply{.client_id = client_id,
                                   .sequence = sequence,
                                   .code = *refused,
                                   .applied_index = LogIndex(0),
                                   .leader_hint = LeaderHint(),
                                   .detail = {}});
  }
}

void Raft::Reply(const std::optional<NodeName>& origin, ClientReply reply) {
  if (origin) {
    Send(*origin, ForwardReply{.reply = std::move(reply)}, term_);
  } else {
    actions_.replies.push_back(std::move(reply));
  }
}

std::optional<ReplyCode> Raft::ProposeLocally(Command command, std::optional<NodeName> origin) {
  // A caretaker serves no commands: it leads only to hand over to a member (raft.h).
  if (role_ != Role::kLeader || caretaker()) {
    return ReplyCode::kNotLeader;
  }
  const auto client = clients_.find(command.client_id);
  if (client != clients_.end() && command.sequence <= client->second.sequence) {
    // Thesis 6.3: already applied; answer from the client table, do not append again.
    // Only the latest sequence's index is remembered: an older one (a late retry) is
    // answered kStale rather than with another command's index.
    const bool latest = command.sequence == client->second.sequence;
    Reply(origin, ClientReply{.client_id = command.client_id,
                              .sequence = command.sequence,
                              .code = latest ? ReplyCode::kApplied : ReplyCode::kStale,
                              .applied_index = latest ? client->second.index : LogIndex(0),
                              .leader_hint = leader_,
                              .detail = {}});
    return std::nullopt;
  }
  if (proposals_.size() >= options_.proposals_pending_max) {
    return ReplyCode::kBusy;
  }
  const LogIndex index = LastIndex() + 1;
  AppendToLog(Entry{
      .term = term_, .index = index, .kind = EntryKind::kCommand, .command = std::move(command)});
  proposals_[index] = Proposal{.command = log_.back().command, .origin = std::move(origin)};
  BroadcastAppend();
  return std::nullopt;
}

Actions Raft::PersistCompleted(Time now, uint64_t up_to) {
  Begin(now);
  CMCL_CHECK(up_to <= persist_id_last_) << "persist " << up_to << " was never emitted";
  while (!pending_persists_.empty() && pending_persists_.front().id <= up_to) {
    durable_index_ = pending_persists_.front().last_index;
    pending_persists_.pop_front();
  }
  persist_id_durable_ = std::max(persist_id_durable_, up_to);
  std::vector<HeldMessage> still_held;
  for (HeldMessage& held : held_) {
    if (held.persist_id <= persist_id_durable_) {
      actions_.sends.push_back(std::move(held.message));
    } else {
      still_held.push_back(std::move(held));
    }
  }
  held_ = std::move(still_held);
  if (role_ == Role::kLeader && AdvanceCommit()) {
    BroadcastAppend();  // The followers learn the commit now (HandleAppendResponse).
  }
  return Finish();
}

Actions Raft::Compact(Time now, std::string state) {
  Begin(now);
  CMCL_CHECK(state.size() <= kSnapshotStateBytesMax)
      << "snapshot of " << state.size() << " bytes exceeds the bound";
  if (applied_ <= snapshot_index()) {
    return Finish();
  }
  // Thesis 5.1: a snapshot holds committed (here: applied) entries only.
  Snapshot snapshot{.last_index = applied_,
                    .last_term = TermAt(applied_),
                    .clients = {},
                    .state = std::move(state)};
  for (const auto& [client_id, record] : clients_) {
    if (options_.mutations.snapshot_without_client_table) {
      break;
    }
    snapshot.clients.push_back(
        ClientSession{.client_id = client_id, .sequence = record.sequence, .index = record.index});
  }
  snapshot_ = std::move(snapshot);
  snapshot_dirty_ = true;
  const uint64_t keep = options_.compact_keep_entries;
  const LogIndex first = applied_.value() > keep ? applied_ - keep + 1 : LogIndex(1);
  DropLogBefore(std::max(first, FirstIndex()));
  return Finish();
}

Time Raft::NextWakeup() const {
  if (role_ == Role::kLeader) {
    return heartbeat_deadline_;
  }
  if (is_arbitrator_ && !caretaker_wanted_) {
    return Time::FromMilliseconds(std::numeric_limits<int64_t>::max());
  }
  return election_deadline_;
}

bool Raft::PersistOutstanding() const {
  return hard_state_dirty_ || snapshot_dirty_ || log_dirty_from_.has_value() ||
         persist_id_last_ > persist_id_durable_;
}

void Raft::Send(const NodeName& to, Body body, Term term) {
  Message message{
      .header =
          Header{.cluster_id = options_.cluster_id, .from = options_.self, .to = to, .term = term},
      .body = std::move(body)};
  // actions.h, order rule 2: only leader AppendRequests and PreVote traffic leave before
  // the state they reflect is durable.
  const bool needs_durability = std::holds_alternative<AppendResponse>(message.body) ||
                                (std::holds_alternative<VoteRequest>(message.body) &&
                                 std::get<VoteRequest>(message.body).kind == VoteKind::kVote) ||
                                (std::holds_alternative<VoteResponse>(message.body) &&
                                 std::get<VoteResponse>(message.body).kind == VoteKind::kVote);
  if (needs_durability && PersistOutstanding()) {
    // Flush() gives the persist being built now the id persist_id_last_ + 1.
    const bool building = hard_state_dirty_ || snapshot_dirty_ || log_dirty_from_.has_value();
    HeldMessage held{.persist_id = persist_id_last_ + (building ? 1 : 0),
                     .message = std::move(message)};
    // Bounded while a disk stalls: the leader acts only on the newest acknowledgement, so
    // a newer held AppendResponse to the same peer in the same term replaces the older
    // one (it is released no earlier than the older one would have been).
    if (std::holds_alternative<AppendResponse>(held.message.body)) {
      for (HeldMessage& older : held_) {
        if (std::holds_alternative<AppendResponse>(older.message.body) &&
            older.message.header.to == held.message.header.to &&
            older.message.header.term == held.message.header.term) {
          older = std::move(held);
          return;
        }
      }
    }
    held_.push_back(std::move(held));
    return;
  }
  actions_.sends.push_back(std::move(message));
}

void Raft::Flush() {
  if (!hard_state_dirty_ && !snapshot_dirty_ && !log_dirty_from_) {
    return;
  }
  Persist persist;
  persist.id = ++persist_id_last_;
  persist.hard_state = HardState{.cluster_id = options_.cluster_id,
                                 .node_id = node_id_,
                                 .term = term_,
                                 .voted_for = voted_for_};
  if (options_.mutations.vote_not_persisted) {
    persist.hard_state.voted_for.reset();
  }
  if (snapshot_dirty_) {
    persist.snapshot = snapshot_;
    persist.log_first = FirstIndex();
  }
  if (log_dirty_from_) {
    persist.log_from = *log_dirty_from_;
    for (LogIndex i = *log_dirty_from_; i <= LastIndex(); i = i + 1) {
      persist.entries.push_back(EntryAt(i));
    }
  }
  pending_persists_.push_back(
      PendingPersist{.id = persist.id, .last_index = LastIndex(), .emitted_at = now_});
  actions_.persist = std::move(persist);
  hard_state_dirty_ = false;
  snapshot_dirty_ = false;
  log_dirty_from_.reset();
}

bool Raft::TermKnown(LogIndex index) const {
  return index == LogIndex(0) || index == snapshot_index() ||
         (index >= FirstIndex() && index <= LastIndex());
}

Term Raft::TermAt(LogIndex index) const {
  if (index == LogIndex(0)) {
    return Term(0);
  }
  if (index >= FirstIndex() && index <= LastIndex()) {
    return EntryAt(index).term;
  }
  CMCL_CHECK(index == snapshot_index()) << "no entry " << index;
  return snapshot_->last_term;
}

const Entry& Raft::EntryAt(LogIndex index) const {
  CMCL_CHECK(index >= FirstIndex() && index <= LastIndex())
      << "no entry " << index << " in " << FirstIndex() << ".." << LastIndex();
  return log_[(index - FirstIndex().value()).value()];
}

void Raft::DropLogBefore(LogIndex first) {
  const LogIndex from = FirstIndex();
  if (first <= from) {
    return;
  }
  const uint64_t count = std::min<uint64_t>((first - from.value()).value(), log_.size());
  log_.erase(log_.begin(), log_.begin() + static_cast<std::ptrdiff_t>(count));
}

void Raft::ClampDurable(LogIndex kept) {
  durable_index_ = std::min(durable_index_, kept);
  for (PendingPersist& pending : pending_persists_) {
    pending.last_index = std::min(pending.last_index, kept);
  }
}

void Raft::TruncateFrom(LogIndex index) {
  CMCL_CHECK(index > commit_) << "truncating committed entry " << index;
  CMCL_CHECK(index <= LastIndex() && index >= FirstIndex());
  log_.resize((index - FirstIndex().value()).value());
  // The disk keeps the old suffix until the next persist lands: only the common prefix
  // can count as durable, now and when earlier persists complete.
  ClampDurable(index - 1);
  log_dirty_from_ = log_dirty_from_ ? std::min(*log_dirty_from_, index) : index;
}

void Raft::AppendToLog(Entry entry) {
  CMCL_CHECK(entry.index == LastIndex() + 1) << "append of " << entry << " leaves a gap";
  CMCL_CHECK(entry.term >= LastTerm()) << "append of " << entry << " goes back in term";
  if (!log_dirty_from_) {
    log_dirty_from_ = entry.index;
  }
  log_.push_back(std::move(entry));
}

void Raft::ResetElectionTimer() {
  const auto min = static_cast<uint64_t>(options_.election_timeout_min.count());
  election_deadline_ = now_ + Duration(static_cast<int64_t>(min + rng_.Uniform(min)));
}

std::optional<NodeName> Raft::LeaderHint() const {
  // A caretaker is about to hand over; naming it would only send the client back here.
  if (caretaker() || (leader_ && IsArbitrator(*leader_))) {
    return std::nullopt;
  }
  return leader_;
}

bool Raft::IsArbitrator(const NodeName& name) const {
  return std::any_of(options_.voters.begin(), options_.voters.end(), [&](const Voter& voter) {
    return voter.name == name && voter.role == config::NodeRole::kArbitrator;
  });
}

bool Raft::InLease() const { return now_ < leader_heard_at_ + options_.election_timeout_min; }

}  // namespace cmcl::raft

namespace cmcl::raft {

void ApplyPersist(const Persist& persist, PersistedState& state) {
  state.hard_state = persist.hard_state;
  if (persist.snapshot) {
    state.snapshot = persist.snapshot;
    const auto kept = std::find_if(state.entries.begin(), state.entries.end(),
                                   [&](const Entry& e) { return e.index >= persist.log_first; });
    state.entries.erase(state.entries.begin(), kept);
  }
  if (persist.log_from) {
    const auto cut = std::find_if(state.entries.begin(), state.entries.end(),
                                  [&](const Entry& e) { return e.index >= *persist.log_from; });
    state.entries.erase(cut, state.entries.end());
    state.entries.insert(state.entries.end(), persist.entries.begin(), persist.entries.end());
  }
}

}  // namespace cmcl::raft
