#include "tests/sim/simulator.h"

#include <cinttypes>
#include <cstdio>
#include <limits>
#include <memory>
#include <sstream>

#include "cmcld/core/common/check.h"
#include "tests/sim/simulation.h"

namespace cmcl::sim {
namespace internal {

std::string DescribeMessage(const Message& message) {
  std::ostringstream out;
  out << raft::MessageTypeName(message) << " " << message.header.from << ">" << message.header.to
      << " t=" << message.header.term;
  if (const auto* vote = std::get_if<raft::VoteResponse>(&message.body)) {
    out << (vote->granted ? " granted" : " refused");
  } else if (const auto* append = std::get_if<raft::AppendRequest>(&message.body)) {
    out << " prev=" << append->prev_log_index << "@" << append->prev_log_term
        << " n=" << append->entries.size() << " commit=" << append->leader_commit;
  } else if (const auto* install = std::get_if<raft::InstallSnapshot>(&message.body)) {
    out << " last=" << install->snapshot.last_index << "@" << install->snapshot.last_term
        << " bytes=" << install->snapshot.state.size();
  } else if (const auto* reply = std::get_if<raft::AppendResponse>(&message.body)) {
    if (reply->success) {
      out << " match=" << reply->match_index;
    } else {
      out << " rejected=" << reply->rejected_index << " last=" << reply->last_index;
    }
  }
  return out.str();
}

Simulation::Simulation(const SimOptions& options,
                       const std::function<void(const std::string&)>& trace)
    : options_(options),
      trace_(trace),
      root_(options.seed),
      nemesis_rng_(root_.Fork("nemesis")),
      client_rng_(root_.Fork("clients")),
      disk_rng_(root_.Fork("disk")) {
  result_.trace_hash = kTraceHashSeed;
  for (int i = 1; i <= options_.members; ++i) {
    voters_.push_back(
        raft::Voter{.name = NodeName("n" + std::to_string(i)), .role = config::NodeRole::kMember});
  }
  if (options_.arbitrator) {
    voters_.push_back(raft::Voter{.name = NodeName("arb"), .role = config::NodeRole::kArbitrator});
  }
  std::sort(voters_.begin(), voters_.end(),
            [](const raft::Voter& a, const raft::Voter& b) { return a.name < b.name; });
  for (const raft::Voter& voter : voters_) {
    names_.push_back(voter.name);
    NodeSlot slot;
    slot.name = voter.name;
    // An arbitrary offset (no absolute time crosses the wire) and a fixed drift.
    Rng clock_rng = root_.Fork("clock/" + voter.name.value());
    const int64_t max = options_.clock_drift_max_ppm;
    slot.clock = SimClock(Time(), Time::FromMilliseconds(clock_rng.Between(0, 1'000'000'000)),
                          clock_rng.Between(-max, max));
    slot.disk.Format(raft::PersistedState{
        .hard_state = {.cluster_id = raft::ClusterId(0xc1u),
                       .node_id = raft::NodeId(root_.Fork("node_id/" + voter.name.value()).Next()),
                       .term = raft::Term(0),
                       .voted_for = std::nullopt},
        .snapshot = std::nullopt,
        .entries = {}});
    nodes_.push_back(std::move(slot));
  }
  outcast_.assign(nodes_.size(), false);
  network_ = std::make_unique<SimNetwork>(options_, root_.Fork("network"), names_);
  for (const NemesisKind kind : options_.nemeses) {
    nemeses_.push_back(
        MakeNemesis(kind, options_, nemesis_rng_.Fork(NemesisName(kind)), nemeses_.size()));
  }
  for (int i = 0; i < options_.clients; ++i) {
    clients_.push_back(ClientState{.id = raft::ClientId(static_cast<uint64_t>(i + 1)),
                                   .sequence = 1,
                                   .token = 0,
                                   .target = std::nullopt});
  }
}

raft::RaftOptions Simulation::RaftOptionsFor(size_t node) const {
  raft::RaftOptions options;
  options.cluster_id = raft::ClusterId(0xc1u);
  options.self = nodes_[node].name;
  options.voters = voters_;
  options.election_timeout_min = options_.node_timeout;
  options.heartbeat_interval = options_.heartbeat_interval;
  options.entries_per_message_max = options_.entries_per_message_max;
  options.compact_keep_entries = options_.compact_keep_entries;
  options.mutations = options_.mutations;
  return options;
}

std::optional<size_t> Simulation::IndexOf(const NodeName& name) const {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].name == name) {
      return i;
    }
  }
  return std::nullopt;
}

void Simulation::Schedule(Time at, Event event) {
  queue_.emplace(std::make_pair(at.milliseconds(), sequence_++), std::move(event));
}

void Simulation::Trace(const std::string& node, const std::string& what,
                       const std::string& detail) {
  TraceColumns columns;
  columns.node = node;
  const std::optional<size_t> index = node == "-" ? std::nullopt : IndexOf(NodeName(node));
  if (index) {
    const NodeSlot& slot = nodes_[*index];
    if (slot.raft == nullptr) {
      columns.role = "down";
      columns.term = std::to_string(slot.disk.durable().hard_state.term.value());
    } else {
      columns.role = std::string(raft::RoleName(slot.raft->role())) + (slot.paused ? "/p" : "");
      columns.term = std::to_string(slot.raft->term().value());
      columns.commit = std::to_string(slot.raft->commit_index().value());
    }
  }
  const std::string line = FormatTraceLine(now_, columns, what, detail);
  result_.trace_hash = HashTraceLine(result_.trace_hash, line);
  if (trace_) {
    trace_(line);
  }
}

RunResult Simulation::Run() {
  Setup();
  RunUntil(std::nullopt);
  return Finish();
}

void Simulation::Setup() {
  Trace("-", "options", DescribeOptions(options_));
  for (size_t i = 0; i < nodes_.size(); ++i) {
    std::ostringstream detail;
    detail << "offset " << nodes_[i].clock.Peek(now_) << " drift " << nodes_[i].clock.drift_ppm()
           << "ppm";
    Trace(nodes_[i].name.value(), "clock", detail.str());
    StartNode(i);
  }
  for (const std::unique_ptr<Nemesis>& nemesis : nemeses_) {
    nemesis->Start(*this);
  }
  for (size_t c = 0; c < clients_.size(); ++c) {
    RetryClient(c, Duration(client_rng_.Between(0, options_.client_think_max.count())),
                std::nullopt);
  }
  Schedule(now_ + options_.fault_phase, GlobalEvent(EventKind::kHeal));
}

bool Simulation::RunUntil(std::optional<Time> until) {
  while (!queue_.empty() && !done_ && !checker_.violation() && !result_.violation) {
    if (until && Time::FromMilliseconds(queue_.begin()->first.first) > *until) {
      now_ = *until;
      return true;
    }
    auto handle = queue_.extract(queue_.begin());
    now_ = Time::FromMilliseconds(handle.key().first);
    if (++result_.events > kEventsMax) {
      result_.violation = "event budget exceeded (livelock?)";
      break;
    }
    Dispatch(handle.mapped());
    if (healed_ && !done_) {
      CheckLiveness();
    }
  }
  return !checker_.violation() && !result_.violation;
}

RunResult Simulation::Finish() {
  if (checker_.violation()) {
    result_.violation = checker_.violation();
  }
  result_.simulated_ms = now_.milliseconds();
  result_.acknowledged = checker_.acks();
  Trace("-", "end", result_.violation ? "violation: " + *result_.violation : "ok");
  return result_;
}

std::optional<NodeName> Simulation::Leader() const {
  std::optional<NodeName> leader;
  raft::Term term;
  for (const NodeSlot& slot : nodes_) {
    if (slot.raft != nullptr && slot.raft->role() == Role::kLeader && slot.raft->term() >= term) {
      leader = slot.name;
      term = slot.raft->term();
    }
  }
  return leader;
}

const Raft* Simulation::Node(const std::string& name) const {
  return nodes_.at(*IndexOf(NodeName(name))).raft.get();
}

void Simulation::Isolate(const std::string& name) {
  for (const NodeSlot& slot : nodes_) {
    if (slot.name.value() != name) {
      Block(name, slot.name.value());
      Block(slot.name.value(), name);
    }
  }
}

Time Simulation::LocalTime(const std::string& name) const {
  return nodes_.at(*IndexOf(NodeName(name))).clock.Peek(now_);
}

void Simulation::Block(const std::string& from, const std::string& to) {
  Trace("-", "block", from + ">" + to);
  network_->Block(NodeName(from), NodeName(to));
}

void Simulation::HealNetwork() {
  Trace("-", "unblock", "all links");
  network_->Unblock();
}

void Simulation::Crash(const std::string& name) { CrashNode(*IndexOf(NodeName(name))); }

void Simulation::Restart(const std::string& name) { StartNode(*IndexOf(NodeName(name))); }

void Simulation::Pause(const std::string& name) { PauseNode(*IndexOf(NodeName(name))); }

void Simulation::Resume(const std::string& name) { ResumeNode(*IndexOf(NodeName(name))); }

void Simulation::Dispatch(const Event& event) {
  NodeSlot* slot = event.node < nodes_.size() ? &nodes_[event.node] : nullptr;
  switch (event.kind) {
    case EventKind::kDeliver:
      if (slot->raft == nullptr) {
        Trace(slot->name.value(), "lost(down)", DescribeMessage(*event.message));
      } else if (healed_ && outcast_[*IndexOf(event.message->header.from)]) {
        Trace(slot->name.value(), "lost(outcast)", DescribeMessage(*event.message));
      } else if (!DeferIfPaused(event)) {
        Trace(slot->name.value(), "deliver", DescribeMessage(*event.message));
        Execute(event.node, slot->raft->Step(LocalNow(event.node), *event.message));
      }
      return;
    case EventKind::kWakeup:
      if (slot->raft == nullptr || event.token != slot->wakeup_token) {
        return;
      }
      slot->wakeup_at.reset();  // A paused node ticks on resume.
      if (!slot->paused) {
        Execute(event.node, slot->raft->Tick(LocalNow(event.node)));
      }
      return;
    case EventKind::kPersistDone:
      if (slot->raft == nullptr || event.token != slot->incarnation || DeferIfPaused(event)) {
        return;
      }
      slot->disk.Sync(event.persist_id);
      Trace(slot->name.value(), "durable", "persist " + std::to_string(event.persist_id));
      Execute(event.node, slot->raft->PersistCompleted(LocalNow(event.node), event.persist_id));
      return;
    case EventKind::kNemesis:
      if (!healed_) {
        nemeses_[event.node]->Act(*this, event.token);
      }
      return;
    case EventKind::kPropose:
      if (slot->raft != nullptr && !DeferIfPaused(event)) {
        Execute(event.node, slot->raft->Propose(LocalNow(event.node), *event.command));
      }
      return;
    default:
      DispatchGlobal(event);
      return;
  }
}

void Simulation::DispatchGlobal(const Event& event) {
  switch (event.kind) {
    case EventKind::kClientSend:
      if (event.token == clients_[event.client].token) {
        OnClientSend(event.client);
      }
      return;
    case EventKind::kClientTimeout:
      if (event.token == clients_[event.client].token) {
        // The next node in turn, whatever the redirects said: a random pick could keep
        // landing on crashed or paused nodes (seed 406226702197843532 --swarm), and
        // "the timed-out node + 1" could cycle between two outcasts whose stale leader
        // hints point at each other (seed 5788 --swarm: arb -> n7 -> arb).
        ClientState& client = clients_[event.client];
        client.cursor = (client.cursor + 1) % nodes_.size();
        RetryClient(event.client, Duration(0), client.cursor);
      }
      return;
    case EventKind::kHeal:
      OnHeal();
      return;
    case EventKind::kLivenessDeadline:
      if (!done_) {
        result_.violation = "liveness: no leader acknowledging a new command within " +
                            std::to_string(liveness_deadline_.count()) +
                            "ms after the faults healed (outcasts:" + outcasts_ + ")";
      }
      return;
    default:
      CMCL_CHECK(false) << "node event in DispatchGlobal";
  }
}

void Simulation::Execute(size_t node, Actions actions) {
  NodeSlot& slot = nodes_[node];
  // actions.h order rule: 1. persist, 2. sends, 3. applies, 4. replies.
  if (actions.persist) {
    ExecutePersist(node, *actions.persist);
  }
  if (actions.restore) {
    checker_.OnLogReset(slot.name, actions.restore->last_index, actions.restore->last_term,
                        slot.raft->log());
  }
  for (const Message& message : actions.sends) {
    checker_.OnSend(slot.name, message, slot.disk.durable());
    SendMessage(node, message);
  }
  if (actions.restore) {
    Restore(node, *actions.restore);
  }
  for (const raft::ApplyEntry& apply : actions.applies) {
    CMCL_CHECK(apply.entry.index <= slot.raft->commit_index()) << "applied past commit";
    checker_.OnApply(slot.name, apply);
    slot.machine.Apply(apply);
  }
  for (const ClientReply& reply : actions.replies) {
    CMCL_CHECK(reply.code != raft::ReplyCode::kApplied ||
               reply.applied_index <= slot.raft->applied_index())
        << "reply for an index not applied yet";
    checker_.OnReply(reply);
    OnReply(reply);
  }
  AfterCall(node);
}

void Simulation::ExecutePersist(size_t node, const raft::Persist& persist) {
  NodeSlot& slot = nodes_[node];
  slot.disk.Write(persist);
  const Time done_at =
      std::max(slot.disk.last_completion,
               now_ + Duration(disk_rng_.Between(1, options_.disk_latency_max.count())));
  slot.disk.last_completion = done_at;
  Event event = NodeEvent(EventKind::kPersistDone, node, slot.incarnation);
  event.persist_id = persist.id;
  Schedule(done_at, std::move(event));
  std::ostringstream detail;
  detail << "persist " << persist.id << " t=" << persist.hard_state.term << " vote="
         << (persist.hard_state.voted_for ? persist.hard_state.voted_for->value() : "-");
  if (persist.snapshot) {
    detail << " snapshot=" << persist.snapshot->last_index << "@" << persist.snapshot->last_term
           << " log_first=" << persist.log_first;
    checker_.CheckSnapshot(slot.name, *persist.snapshot);
  }
  if (persist.log_from) {
    detail << " log_from=" << *persist.log_from << " n=" << persist.entries.size();
    checker_.OnLogChanged(slot.name, slot.raft->log(), *persist.log_from);
  }
  Trace(slot.name.value(), "write", detail.str());
}

void Simulation::AfterCall(size_t node) {
  NodeSlot& slot = nodes_[node];
  const Raft& raft = *slot.raft;
  if (options_.compact_every > 0 &&
      raft.applied_index() >= raft.snapshot_index() + options_.compact_every) {
    CMCL_CHECK(slot.machine.applied == raft.applied_index()) << "state machine out of step";
    // Execute ends in AfterCall again, which then sees the compacted log.
    Execute(node, slot.raft->Compact(LocalNow(node), slot.machine.Encode()));
    return;
  }
  if (raft.role() != slot.role || raft.term() != slot.term) {
    slot.role = raft.role();
    slot.term = raft.term();
    std::ostringstream detail;
    detail << raft::RoleName(slot.role) << " t=" << slot.term << " last=" << raft.last_index()
           << " commit=" << raft.commit_index();
    Trace(slot.name.value(), "role", detail.str());
    checker_.OnRole(slot.name, slot.role, slot.term);
  }
  if (raft.role() == Role::kLeader && raft.commit_index() > slot.commit_checked) {
    slot.commit_checked = raft.commit_index();
    CheckCommitment(node);
  }
  ScheduleWakeup(node);
}

// The core's NextWakeup is in its local time; the queue runs in true time.
void Simulation::ScheduleWakeup(size_t node) {
  NodeSlot& slot = nodes_[node];
  const Time wakeup = slot.raft->NextWakeup();
  if (wakeup == Time::FromMilliseconds(std::numeric_limits<int64_t>::max()) ||
      slot.wakeup_at == wakeup) {
    return;
  }
  slot.wakeup_at = wakeup;
  ++slot.wakeup_token;
  const Time at = std::max(slot.clock.TrueTimeFor(wakeup, now_), now_ + Duration(1));
  Schedule(at, NodeEvent(EventKind::kWakeup, node, slot.wakeup_token));
}

void Simulation::CheckCommitment(size_t leader) {
  const Raft& raft = *nodes_[leader].raft;
  const raft::LogIndex commit = raft.commit_index();
  const auto term_at = [](const std::optional<raft::Snapshot>& snapshot,
                          const std::vector<raft::Entry>& log,
                          raft::LogIndex index) -> std::optional<raft::Term> {
    if (!log.empty() && index >= log.front().index && index <= log.back().index) {
      return log[(index - log.front().index.value()).value()].term;
    }
    if (snapshot && index == snapshot->last_index) {
      return snapshot->last_term;
    }
    return std::nullopt;
  };
  const std::optional<raft::Term> term = term_at(raft.snapshot(), raft.log(), commit);
  CMCL_CHECK(term.has_value()) << "leader lacks its commit index";
  std::vector<StateChecker::LogView> logs;
  for (const NodeSlot& slot : nodes_) {
    const std::optional<raft::Snapshot>& snapshot =
        slot.raft != nullptr ? slot.raft->snapshot() : slot.disk.durable().snapshot;
    const std::vector<raft::Entry>& log =
        slot.raft != nullptr ? slot.raft->log() : slot.disk.durable().entries;
    const raft::LogIndex snapshot_index = snapshot ? snapshot->last_index : raft::LogIndex(0);
    StateChecker::LogView view{.node = slot.name,
                               .last_index = log.empty() ? snapshot_index : log.back().index,
                               .last_term = log.empty()
                                                ? (snapshot ? snapshot->last_term : raft::Term(0))
                                                : log.back().term,
                               .term_at_commit = term_at(snapshot, log, commit)};
    if (commit < snapshot_index) {
      view.term_at_commit = *term;  // Inside its snapshot: committed, so the same entry.
    }
    logs.push_back(std::move(view));
  }
  checker_.OnCommit(nodes_[leader].name, commit, *term, logs);
}

void Simulation::Restore(size_t node, const raft::Snapshot& snapshot) {
  NodeSlot& slot = nodes_[node];
  checker_.OnRestore(slot.name, snapshot);
  const std::optional<SimStateMachine> machine = SimStateMachine::Decode(snapshot.state);
  CMCL_CHECK(machine.has_value()) << "undecodable snapshot state";
  slot.machine = *machine;
  std::ostringstream detail;
  detail << "snapshot " << snapshot.last_index << "@" << snapshot.last_term << " "
         << snapshot.state.size() << "B clients=" << snapshot.clients.size();
  Trace(slot.name.value(), "restore", detail.str());
}

void Simulation::StartNode(size_t node) {
  NodeSlot& slot = nodes_[node];
  ++slot.incarnation;
  slot.disk.last_completion = now_;
  Result<storage::RecoveredRaftLog> recovered = slot.disk.Recover();
  if (!recovered.ok()) {
    result_.violation = "recovery: " + slot.name.value() + ": " + recovered.status().ToString();
    return;
  }
  Trace(slot.name.value(), "recover",
        std::to_string(recovered->records) + " records, " +
            std::to_string(recovered->valid_length) + " bytes" +
            (recovered->dropped_reason.empty() ? "" : "; " + recovered->dropped_reason));
  checker_.OnRestart(slot.name);
  slot.machine = SimStateMachine{};
  if (recovered->state.snapshot) {
    Restore(node, *recovered->state.snapshot);
  }
  slot.paused = false;
  slot.queued.clear();
  slot.raft = std::make_unique<Raft>(
      RaftOptionsFor(node), recovered->state,
      root_.Fork("node/" + slot.name.value() + "/" + std::to_string(slot.incarnation)),
      LocalNow(node));
  slot.role = slot.raft->role();
  slot.term = slot.raft->term();
  slot.commit_checked = raft::LogIndex(0);
  slot.wakeup_at.reset();
  checker_.OnLogReset(slot.name, slot.raft->snapshot_index(),
                      slot.raft->snapshot() ? slot.raft->snapshot()->last_term : raft::Term(0),
                      slot.raft->log());
  std::ostringstream detail;
  detail << "incarnation " << slot.incarnation << " t=" << slot.term
         << " last=" << slot.raft->last_index();
  Trace(slot.name.value(), "start", detail.str());
  AfterCall(node);
}

}  // namespace internal

RunResult RunSimulation(const SimOptions& options,
                        const std::function<void(const std::string&)>& trace) {
  internal::Simulation simulation(options, trace);
  return simulation.Run();
}

}  // namespace cmcl::sim
