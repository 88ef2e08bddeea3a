// Raft: one node's consensus state machine, pure (STYLE.md rules 2-5; etcd's RawNode).
//
// Implements the Raft paper (Ongaro & Ousterhout, figure 2) with the thesis' PreVote and
// CheckQuorum, plus vote stickiness as DESIGN.md section 3 words it:
//  * Election: a follower (or a candidate) whose election timer, drawn from
//    [election_timeout_min, 2*election_timeout_min) with the injected Rng, expires first
//    runs a PreVote round for term+1 without changing its term; only with PreVote grants
//    from a majority does it increment its term and request real votes.
//  * Stickiness: a node that heard from a leader within election_timeout_min refuses
//    PreVote and RequestVote, and does not adopt the requester's term. A leader counts
//    each of its heartbeat rounds as hearing from a leader, so it refuses votes for
//    election_timeout_min after its last round, also after stepping down. A node counts
//    its construction (start or restart) as hearing from a leader.
//  * CheckQuorum: at every heartbeat round a leader that has led for at least
//    check_quorum_period (options.h) and has not heard from a majority of voters
//    (itself included) within it steps down.
//  * A new leader appends a no-op in its term (paper section 8) and commits only entries
//    of its current term by counting replicas (section 5.4.2); earlier entries commit
//    with them.
//  * Arbitrators vote and hold the log and campaign only as a caretaker: an arbitrator
//    that refused a member's (Pre)Vote because its own log is ahead (5.4.1) would
//    otherwise leave a two-member cluster without a leader for as long as the other
//    member is down (docs/KNOWN_GAPS.md history). Such an arbitrator runs its election
//    timer until it hears from a leader and, if elected, leads one term as caretaker():
//    it refuses every command (kNotLeader, no leader hint), grants no lease and is never
//    LeaderReady() (so it places nothing); it appends its no-op, replicates, and as soon
//    as a member's log matches its own sends that member TimeoutNow (thesis 3.10), again
//    at every heartbeat round until it steps down. The member campaigns at once, without
//    PreVote, with vote requests marked `transfer`, which voters grant despite
//    stickiness; a leader elected so takes no stickiness credit (N2).
//  * Persistence: see actions.h for the order rule. The leader counts its own log
//    towards commitment only up to what PersistCompleted reported durable.
//  * Client commands carry (client_id, sequence). Only the leader accepts them; it
//    replies once the entry is committed and applied. The apply layer keeps the last
//    applied sequence per client, so a command retried after a leader change is
//    marked `duplicate` and applied at most once (thesis 6.3).
//  * Snapshots (thesis chapter 5): the driver decides when. After it executed a batch's
//    applies, its state machine is at applied_index(); it may then call Compact(now,
//    state bytes). The core makes a Snapshot at applied_index() (committed entries only,
//    with its dedup table), persists it, and drops the log up to applied_index() -
//    compact_keep_entries. A leader whose follower needs an entry it no longer holds
//    sends the snapshot in one InstallSnapshot message. The follower ignores a snapshot
//    that does not go beyond its commit index; otherwise it keeps the log suffix after
//    the snapshot if its entry at last_index has the same term (else drops the whole
//    log), sets commit and applied to last_index, emits Actions::restore, persists, and
//    acknowledges (AppendResponse, match_index = last_index) once durable.
//  * Leases (lease.h; DESIGN.md section 4): every AppendResponse carries a fresh nonce of
//    this incarnation (F1) and echoes the leader's round; the leader numbers its
//    heartbeat rounds (L1), confirms nonces when a majority answered a round and sends
//    LeaseGrant (L2) with c = its commit index, except to a node named in the revokes
//    of an uncommitted entry (L3); it takes its own lease from the same rounds. The
//    follower side keeps lease_end and c; CertainExpiry gives L4 with N2.
//  * Forwarding: Forward() sends a command to the leader (ForwardRequest) when this node
//    is not the leader; the leader proposes it and answers with ForwardReply once it
//    is applied, refused or aborted; the answer comes out of this node's `replies`.
//  * node_id: votes and append replies carry the voter's node_id, and the hard state
//    carries this node's. Not yet done (later issue, with `pkgctl node readmit`): the
//    first committed entry recording every voter's node_id, and refusing to count a
//    vote or acknowledgement whose node_id differs from the recorded one.
//
// Every call takes `now` and returns the Actions to perform. Maps are std::map, so the
// order of sends is a function of the inputs only. Not thread-safe; one owner.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cmcld/core/common/rng.h"
#include "cmcld/core/common/time.h"
#include "cmcld/core/raft/actions.h"
#include "cmcld/core/raft/lease.h"
#include "cmcld/core/raft/messages.h"
#include "cmcld/core/raft/options.h"
#include "cmcld/core/raft/types.h"

namespace cmcl::raft {

enum class Role : uint8_t { kFollower, kPreCandidate, kCandidate, kLeader };
std::string_view RoleName(Role role);

class Raft {
 public:
  // A fresh node passes a PersistedState with its new identity, term 0 and no entries.
  // REQUIRES: options.voters is sorted, unique and contains options.self;
  // state.hard_state.cluster_id == options.cluster_id.
  Raft(RaftOptions options, PersistedState state, Rng rng, Time now);
  Raft(const Raft&) = delete;
  Raft& operator=(const Raft&) = delete;

  // A peer message arrived. Messages for another cluster or another node are dropped.
  Actions Step(Time now, const Message& message);
  // Timers: call at (or after) NextWakeup(); calling earlier is harmless.
  Actions Tick(Time now);
  // A client command. Non-leaders reply kNotLeader at once.
  Actions Propose(Time now, Command command);
  // A command of this node: proposed here on the leader, else forwarded to the known
  // leader (the reply comes later, in `replies`); kNotLeader at once with no leader known.
  Actions Forward(Time now, Command command);
  // What grants carry from now on (the applied cluster mode: L, or D when disarmed).
  // The driver calls it after executing a batch's applies and before its next call, so
  // the terms match applied_index(); a leader grants nothing until LeaderReady().
  void SetLeaseTerms(LeaseMode mode, Duration length);
  // Storage made every persist with id <= up_to durable.
  Actions PersistCompleted(Time now, uint64_t up_to);
  // The driver's state machine, which reflects every apply up to applied_index(), is
  // `state`: snapshot it there and compact the log (see above). A no-op if
  // applied_index() is not beyond the current snapshot.
  // REQUIRES: state.size() <= kSnapshotStateBytesMax.
  Actions Compact(Time now, std::string state);
  // The earliest time Tick has something to do.
  Time NextWakeup() const;

  Role role() const { return role_; }
  Term term() const { return term_; }
  const std::optional<NodeName>& voted_for() const { return voted_for_; }
  const std::optional<NodeName>& leader() const { return leader_; }
  LogIndex commit_index() const { return commit_; }
  LogIndex applied_index() const { return applied_; }
  LogIndex durable_index() const { return durable_index_; }
  LogIndex last_index() const { return LastIndex(); }
  Term last_term() const { return LastTerm(); }  // The snapshot's term when the log is empty.
  // The retained log: entries first_index() .. last_index() (empty if they are equal+1).
  LogIndex first_index() const { return FirstIndex(); }
  const std::vector<Entry>& log() const { return log_; }
  const std::optional<Snapshot>& snapshot() const { return snapshot_; }
  LogIndex snapshot_index() const { return snapshot_ ? snapshot_->last_index : LogIndex(0); }
  const NodeName& self() const { return options_.self; }
  bool is_arbitrator() const { return is_arbitrator_; }
  uint64_t foreign_messages_dropped() const { return foreign_messages_dropped_; }
  // Messages dropped because their sender broke the protocol (issue 11, tests/fuzz): a
  // second leader in this node's term, a match past this leader's log, a rewrite of a
  // committed entry. A correct peer never causes one; 0 in every simulation.
  uint64_t protocol_violations() const { return protocol_violations_; }
  // This node's lease (F2-F4), also while it leads.
  const FollowerLease& lease() const { return lease_; }
  // Leader only (else nullopt): when `node`'s lease has certainly expired on this
  // node's clock, for a lease length `wait` (L_max, or D), per L4 and N2.
  std::optional<Time> CertainExpiry(const NodeName& node, Duration wait) const;
  // Leader only: when the latest nonce of `node` arrived in this term.
  std::optional<Time> LastNonceAt(const NodeName& node) const;
  // options.check_quorum_period, or election_timeout_min when that is zero: how long a
  // voter may stay silent before the leader stops counting it (CheckQuorum), and before
  // the node agent stops counting it reachable.
  Duration CheckQuorumPeriod() const;
  // Leader only (else nullopt): the highest index known to be replicated on `node`.
  std::optional<LogIndex> MatchIndex(const NodeName& node) const {
    const auto it = progress_.find(node);
    if (role_ != Role::kLeader || it == progress_.end()) {
      return std::nullopt;
    }
    return it->second.match;
  }
  // N1: leader (not a caretaker), and its start-of-term no-op is applied.
  bool LeaderReady() const {
    return role_ == Role::kLeader && !caretaker() && applied_ >= term_start_index_;
  }
  // An arbitrator leading only to hand over to a member (see above): node code must not
  // place anything through it.
  bool caretaker() const { return role_ == Role::kLeader && is_arbitrator_; }
  uint64_t non_voter_messages_dropped() const { return non_voter_messages_dropped_; }

 private:
  struct Progress {
    LogIndex next = LogIndex(1);
    LogIndex match;
    std::optional<Time> last_response_at;
    std::optional<Time> snapshot_sent_at;
  };
  struct HeldMessage {
    uint64_t persist_id;  // Sent once this persist is durable.
    Message message;
  };
  struct PendingPersist {
    uint64_t id;
    LogIndex last_index;  // Durable prefix once this persist completes.
    Time emitted_at;      // A leader whose disk holds a persist this long steps down.
  };
  struct ClientRecord {
    uint64_t sequence;
    LogIndex index;
  };
  struct Proposal {
    Command command;
    std::optional<NodeName> origin;  // Forwarded by this node; it gets the reply.
  };

  // raft.cc: batches, persistence and the outbox.
  void Begin(Time now);
  Actions Finish();
  void Send(const NodeName& to, Body body, Term term);
  void MarkHardStateDirty() { hard_state_dirty_ = true; }
  void Flush();
  bool PersistOutstanding() const;
  Term TermAt(LogIndex index) const;
  // False for an index compacted away (below the snapshot, not retained).
  bool TermKnown(LogIndex index) const;
  const Entry& EntryAt(LogIndex index) const;
  LogIndex FirstIndex() const { return log_.empty() ? snapshot_index() + 1 : log_.front().index; }
  LogIndex LastIndex() const { return log_.empty() ? snapshot_index() : log_.back().index; }
  void DropLogBefore(LogIndex first);
  void ClampDurable(LogIndex kept);
  Term LastTerm() const { return TermAt(LastIndex()); }
  void TruncateFrom(LogIndex index);
  void AppendToLog(Entry entry);
  size_t VoterCount() const { return options_.voters.size(); }
  size_t Majority() const { return VoterCount() / 2 + 1; }
  bool IsVoter(const NodeName& name) const;
  bool IsArbitrator(const NodeName& name) const;
  // leader_, except none while a caretaker leads (it would refuse the client anyway).
  std::optional<NodeName> LeaderHint() const;
  void ResetElectionTimer();
  bool InLease() const;

  // Appends `command` (leader only) or returns the refusal to answer with.
  std::optional<ReplyCode> ProposeLocally(Command command, std::optional<NodeName> origin);
  void Reply(const std::optional<NodeName>& origin, ClientReply reply);
  void HandleForwardRequest(const Header& header, const ForwardRequest& request);

  // raft_lease.cc
  void StartLeaderLeases();
  void OnLeaseReply(const NodeName& from, const AppendResponse& response);
  void SendConfirmedGrants();
  bool RevokePending(const NodeName& node) const;
  void HandleLeaseGrant(const Header& header, const LeaseGrant& grant);
  uint64_t CurrentRound() const;

  // raft_election.cc
  void BecomeFollower(Term term, std::optional<NodeName> leader);
  void StartPreVote();
  // `transfer`: campaigning on TimeoutNow (thesis 3.10), without PreVote.
  void BecomeCandidate(bool transfer = false);
  void BecomeLeader();
  void HandleVoteRequest(const Header& header, const VoteRequest& request);
  void HandleVoteResponse(const Header& header, const VoteResponse& response);
  bool LogUpToDate(LogIndex last_index, Term last_term) const;
  size_t CountGrants() const;
  void HandleTimeoutNow(const Header& header);
  // Arbitrator: a member asked for a vote with a log behind ours (caretaker_wanted_).
  void NoteMemberBehind(const NodeName& from, const VoteRequest& request);
  // A caretaker hands over to the most recently heard member whose log matches its own.
  void MaybeHandOver();

  // raft_replication.cc
  void HeartbeatRound();
  bool QuorumActive() const;
  void SendAppend(const NodeName& to);
  void BroadcastAppend();
  bool FollowSender(const Header& header, LogIndex rejected_index);
  void HandleAppendRequest(const Header& header, const AppendRequest& request);
  void HandleAppendResponse(const Header& header, const AppendResponse& response);
  void HandleInstallSnapshot(const Header& header, const InstallSnapshot& request);
  // Installs `snapshot` (beyond commit_); returns nothing, queues restore and persist.
  void InstallSnapshotLocally(Snapshot snapshot);
  bool AppendEntries(const AppendRequest& request);
  bool AdvanceCommit();  // True when the commit index moved.
  void ApplyCommitted();
  void AbortPendingProposals();

  RaftOptions options_;
  Rng rng_;
  NodeId node_id_;
  bool is_arbitrator_ = false;
  Time now_;
  Actions actions_;

  Role role_ = Role::kFollower;
  Term term_;
  std::optional<NodeName> voted_for_;
  std::optional<NodeName> leader_;
  std::vector<Entry> log_;
  LogIndex commit_;
  LogIndex applied_;
  std::optional<Snapshot> snapshot_;
  bool snapshot_dirty_ = false;  // snapshot_ (and the log_ prefix drop) not yet persisted.

  // Persistence bookkeeping (see actions.h).
  bool hard_state_dirty_ = false;
  std::optional<LogIndex> log_dirty_from_;
  uint64_t persist_id_last_ = 0;
  uint64_t persist_id_durable_ = 0;
  std::deque<PendingPersist> pending_persists_;
  LogIndex durable_index_;
  std::vector<HeldMessage> held_;

  // Timers.
  Time election_deadline_;
  Time heartbeat_deadline_;
  Time leader_heard_at_;  // Stickiness: the last time this node heard from a leader.
  Time leader_since_;

  std::map<NodeName, bool> votes_;  // This round's (pre)vote replies, self included.
  // Nonces of this candidacy's granted votes, with their arrival (VoteResponse).
  std::map<NodeName, std::pair<Nonce, Time>> vote_nonces_;
  std::map<NodeName, Progress> progress_;     // Leader only; peers only.
  std::map<ClientId, ClientRecord> clients_;  // Applied state: last sequence per client.
  std::map<LogIndex, Proposal> proposals_;    // Leader only: awaiting apply, by index.

  // Leases.
  FollowerLease lease_;
  std::optional<LeaderLeases> leader_leases_;  // Leader only, for its term.
  LeaseMode grant_mode_ = LeaseMode::kArmed;
  Duration grant_length_;
  Time candidacy_at_;                // When the last PreVote round started (a mutation uses it).
  bool caretaker_wanted_ = false;    // Arbitrator: refused a member whose log is behind.
  bool transfer_candidacy_ = false;  // This candidacy (and its leadership) came from TimeoutNow.
  LogIndex term_start_index_;        // The leader's no-op.
  uint64_t foreign_messages_dropped_ = 0;
  uint64_t protocol_violations_ = 0;
  uint64_t non_voter_messages_dropped_ = 0;
};

}  // namespace cmcl::raft
