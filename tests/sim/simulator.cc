#include "tests/sim/simulator.h"

#include <cinttypes>
#include <cstdio>
#include <limits>
#include <memory>
#include <sstream>

#include "cmcld/core/common/check.h"
#include "cmcld/core/node/node_options.h"
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
    out << " r" << reply->round << " nonce=" << reply->nonce.seq;
  } else if (const auto* grant = std::get_if<raft::LeaseGrant>(&message.body)) {
    out << " nonce=" << grant->grant.nonce.seq << " lease=" << grant->grant.lease.count() << "ms"
        << (grant->grant.mode == raft::LeaseMode::kDisarmed ? " disarmed" : "")
        << " c=" << grant->grant.min_applied;
  } else if (const auto* forward = std::get_if<raft::ForwardRequest>(&message.body)) {
    out << " c" << forward->command.client_id << "." << forward->command.sequence;
  }
  return out.str();
}

std::string DescribeGuardRequest(const node::GuardRequest& request) {
  std::ostringstream out;
  out << "#" << request.id << " ";
  if (const auto* set = std::get_if<node::SetDeadline>(&request.request)) {
    out << "deadline " << set->deadline.milliseconds() << (set->allow_earlier ? " (earlier)" : "");
  } else if (const auto* reg = std::get_if<node::Register>(&request.request)) {
    out << "register " << reg->guest.resource << "@" << reg->guest.epoch;
  } else if (const auto* unreg = std::get_if<node::Unregister>(&request.request)) {
    out << "unregister " << unreg->resource;
  }
  return out.str();
}

std::string DescribeReport(const SimHost::Report& report) {
  static constexpr const char* kStatus[] = {"running", "stopped", "failed", "unknown"};
  std::string text = std::string(node::GuestVerbName(report.verb)) + " " +
                     report.guest.resource.value() + "@" +
                     std::to_string(report.guest.epoch.value()) + " " +
                     kStatus[static_cast<size_t>(report.result.status)];
  if (report.result.status == node::GuestStatus::kFailed) {
    text += report.result.timed_out ? " (timed out)"
                                    : " (exit " + std::to_string(report.result.exit_code) + ")";
  }
  return text;
}

Simulation::Simulation(const SimOptions& options,
                       const std::function<void(const std::string&)>& trace,
                       std::shared_ptr<const SimPackages> packages)
    : options_(options),
      trace_(trace),
      root_(options.seed),
      nemesis_rng_(root_.Fork("nemesis")),
      client_rng_(root_.Fork("clients")),
      disk_rng_(root_.Fork("disk")),
      machine_rng_(root_.Fork("machines")) {
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
  std::vector<NodeName> voter_names;
  for (const raft::Voter& voter : voters_) {
    voter_names.push_back(voter.name);
  }
  packages_ = packages != nullptr ? std::move(packages)
                                  : std::make_shared<const SimPackages>(MakeSimPackages(
                                        options_, voter_names, root_.Fork("packages")));
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
    PowerOn(nodes_.size() - 1);
  }
  checker_.SetStateOptions(NodeOptionsFor(0).state);
  package_checker_ =
      std::make_unique<PackageChecker>(packages_->config, NodeOptionsFor(0).state,
                                       /*watchdog_fence=*/false, options_.excuse_known_gaps);
  outcast_.assign(nodes_.size(), false);
  network_ = std::make_unique<SimNetwork>(options_, root_.Fork("network"), names_);
  for (const NemesisKind kind : options_.nemeses) {
    nemeses_.push_back(
        MakeNemesis(kind, options_, nemesis_rng_.Fork(NemesisName(kind)), nemeses_.size()));
  }
  for (int i = 0; i < options_.clients; ++i) {
    clients_.push_back(ClientState{.id = raft::ClientId(static_cast<uint64_t>(i + 1)),
                                   .sequence = 1,
                                   .payload = std::nullopt,
                                   .script = std::nullopt,
                                   .token = 0,
                                   .target = std::nullopt});
  }
}

raft::RaftOptions Simulation::RaftOptionsFor(size_t node) const {
  raft::RaftOptions options;
  options.cluster_id = raft::ClusterId(0xc1u);
  options.self = nodes_[node].name;
  options.voters = voters_;
  options.election_timeout_min = options_.election_timeout_min.value_or(node::ElectionTimeoutMin(
      options_.node_timeout, options_.heartbeat_interval, options_.fence_timeout));
  options.check_quorum_period = options_.check_quorum_period.value_or(options_.node_timeout);
  options.heartbeat_interval = options_.heartbeat_interval;
  options.entries_per_message_max = options_.entries_per_message_max;
  options.compact_keep_entries = options_.compact_keep_entries;
  options.mutations = options_.mutations;
  options.lease_mutations = options_.lease_mutations;
  options.clock_drift_max_ppm = options_.clock_drift_max_ppm;
  options.lease_length = options_.node_timeout;
  return options;
}

node::NodeOptions Simulation::NodeOptionsFor(size_t node) const {
  node::NodeOptions options;
  options.raft = RaftOptionsFor(node);
  options.fence_timeout = options_.fence_timeout;
  options.config = packages_->config;
  options.state.lease_length = options_.node_timeout;
  options.state.mutation_report_without_epoch_check = options_.mutation_report_without_epoch_check;
  options.state.mutation_disarm_without_duration = options_.mutation_disarm_without_duration;
  options.mutations = options_.node_mutations;
  return options;
}

// A machine (re)gains power: a fresh guard process and no guests.
void Simulation::PowerOn(size_t node) {
  NodeSlot& slot = nodes_[node];
  const std::string name = slot.name.value() + "/" + std::to_string(slot.incarnation);
  slot.guard =
      std::make_unique<SimGuard>(SimGuard::Options{.ipc_latency_max = options_.guard_latency_max},
                                 machine_rng_.Fork("guard/" + name));
  slot.host =
      std::make_unique<SimHost>(SimHost::Options{.node = slot.name,
                                                 .packages = packages_,
                                                 .action_latency_max = options_.guest_latency_max,
                                                 .fence_timeout = options_.fence_timeout,
                                                 .kill_failure = options_.kill_failure},
                                machine_rng_.Fork("host/" + name));
  if (healed_) {
    slot.host->Calm();
  }
  slot.guard_at.reset();
  slot.host_at.reset();
  ++slot.guard_token;
  ++slot.host_token;
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
    if (slot.core == nullptr) {
      columns.role = "down";
      columns.term = std::to_string(slot.disk.durable().hard_state.term.value());
    } else {
      const Raft& raft = slot.core->raft();
      columns.role = std::string(raft::RoleName(raft.role())) + (slot.paused ? "/p" : "");
      columns.term = std::to_string(raft.term().value());
      columns.commit = std::to_string(raft.commit_index().value());
    }
  }
  if (observer_) {
    observer_(now_, node, what, detail);
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
  Trace("-", "packages", packages_->Describe());
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
  while (!queue_.empty() && !done_ && !violation()) {
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
    CheckExclusivity();
    if (healed_ && !done_) {
      CheckLiveness();
    }
  }
  return !violation();
}

RunResult Simulation::Finish() {
  if (checker_.violation()) {
    result_.violation = checker_.violation();
  } else if (exclusivity_.violation()) {
    result_.violation = exclusivity_.violation();
  } else if (package_checker_->violation()) {
    result_.violation = package_checker_->violation();
  } else if (config_checker_.violation()) {
    result_.violation = config_checker_.violation();
  }
  result_.simulated_ms = now_.milliseconds();
  result_.acknowledged = checker_.acks();
  result_.displacements = package_checker_->displacements_checked();
  Trace("-", "end", result_.violation ? "violation: " + *result_.violation : "ok");
  return result_;
}

std::optional<NodeName> Simulation::Leader() const {
  std::optional<NodeName> leader;
  raft::Term term;
  for (const NodeSlot& slot : nodes_) {
    if (slot.core != nullptr && slot.core->raft().role() == Role::kLeader &&
        slot.core->raft().term() >= term) {
      leader = slot.name;
      term = slot.core->raft().term();
    }
  }
  return leader;
}

const Raft* Simulation::Node(const std::string& name) const {
  const node::Node* core = Core(name);
  return core == nullptr ? nullptr : &core->raft();
}

const node::Node* Simulation::Core(const std::string& name) const {
  return nodes_.at(*IndexOf(NodeName(name))).core.get();
}

const SimGuard& Simulation::Guard(const std::string& name) const {
  return *nodes_.at(*IndexOf(NodeName(name))).guard;
}

const SimHost& Simulation::Host(const std::string& name) const {
  return *nodes_.at(*IndexOf(NodeName(name))).host;
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

void Simulation::CrashWhole(const std::string& name) { CrashWholeNode(*IndexOf(NodeName(name))); }

void Simulation::Restart(const std::string& name) { StartNode(*IndexOf(NodeName(name))); }

void Simulation::Pause(const std::string& name) { PauseNode(*IndexOf(NodeName(name))); }

void Simulation::Resume(const std::string& name) { ResumeNode(*IndexOf(NodeName(name))); }

void Simulation::Submit(const node::OpBatch& ops) {
  ClientState& client = clients_.at(0);
  if (!client.script) {
    client.script.emplace();
  }
  client.script->push_back(node::EncodeOps(ops));
  if (!client.payload) {
    RetryClient(0, Duration(0), client.target);  // Idle (or thinking): send it now.
  }
}

void Simulation::Dispatch(const Event& event) {
  NodeSlot* slot = event.node < nodes_.size() ? &nodes_[event.node] : nullptr;
  switch (event.kind) {
    case EventKind::kDeliver:
      if (slot->core == nullptr) {
        Trace(slot->name.value(), "lost(down)", DescribeMessage(*event.message));
      } else if (healed_ && outcast_[*IndexOf(event.message->header.from)]) {
        Trace(slot->name.value(), "lost(outcast)", DescribeMessage(*event.message));
      } else if (!DeferIfPaused(event)) {
        Trace(slot->name.value(), "deliver", DescribeMessage(*event.message));
        Execute(event.node, slot->core->Step(LocalNow(event.node), *event.message));
      }
      return;
    case EventKind::kWakeup:
      if (slot->core == nullptr || event.token != slot->wakeup_token) {
        return;
      }
      slot->wakeup_at.reset();  // A paused node ticks on resume.
      if (!slot->paused) {
        const Time now = LocalNow(event.node);
        Execute(event.node, slot->core->Tick(now));
        if (slot->core != nullptr) checker_.OnTicked(slot->name, now, slot->core->NextWakeup());
      }
      return;
    case EventKind::kPersistDone:
      if (slot->core == nullptr || event.token != slot->incarnation || DeferIfPaused(event)) {
        return;
      }
      slot->disk.Sync(event.persist_id);
      Trace(slot->name.value(), "durable", "persist " + std::to_string(event.persist_id));
      Execute(event.node, slot->core->PersistCompleted(LocalNow(event.node), event.persist_id));
      return;
    case EventKind::kNemesis:
      if (!healed_) {
        nemeses_[event.node]->Act(*this, event.token);
      }
      return;
    case EventKind::kPropose:
      if (slot->core != nullptr && !DeferIfPaused(event)) {
        Execute(event.node, slot->core->Propose(LocalNow(event.node), *event.command));
      }
      return;
    case EventKind::kGuardWakeup:
    case EventKind::kHostWakeup:
    case EventKind::kGuardAck:
    case EventKind::kGuestReport:
      DispatchMachine(event);
      return;
    default:
      DispatchGlobal(event);
      return;
  }
}

// The guard and the guests act on their own; what they tell cmcld reaches the core of
// the incarnation it was for, or nobody (and waits while cmcld is paused).
void Simulation::DispatchMachine(const Event& event) {
  NodeSlot& slot = nodes_[event.node];
  switch (event.kind) {
    case EventKind::kGuardWakeup:
      if (event.token == slot.guard_token) {
        slot.guard_at.reset();
        OnGuardWakeup(event.node);
      }
      return;
    case EventKind::kHostWakeup:
      if (event.token == slot.host_token) {
        slot.host_at.reset();
        OnHostWakeup(event.node);
      }
      return;
    case EventKind::kGuardAck:
      if (slot.core != nullptr && event.token == slot.incarnation && !DeferIfPaused(event)) {
        Execute(event.node, slot.core->GuardAcked(LocalNow(event.node), event.persist_id));
      }
      return;
    case EventKind::kGuestReport:
      if (slot.core != nullptr && event.token == slot.incarnation && !DeferIfPaused(event)) {
        const SimHost::Report& report = *event.report;
        Trace(slot.name.value(), "reported", DescribeReport(report));
        Execute(event.node, slot.core->GuestReported(LocalNow(event.node), report.guest,
                                                     report.verb, report.result));
      }
      return;
    default:
      CMCL_CHECK(false) << "not a machine event";
  }
}

void Simulation::OnGuardWakeup(size_t node) {
  NodeSlot& slot = nodes_[node];
  const uint64_t fences = slot.guard->fences();
  const std::vector<SimGuard::Ack> acks =
      slot.guard->Advance(now_, slot.clock.Peek(now_), *slot.host);
  if (slot.guard->fences() != fences) {
    Trace(slot.name.value(), "guard-fence",
          "deadline " + std::to_string(slot.guard->deadline()->milliseconds()) + " local " +
              std::to_string(slot.clock.Peek(now_).milliseconds()) + ", killing " +
              std::to_string(slot.guard->registered().size()) + " guests");
  }
  for (const SimGuard::Ack& ack : acks) {
    if (slot.core != nullptr && ack.incarnation == slot.incarnation) {
      Event event = NodeEvent(EventKind::kGuardAck, node, ack.incarnation);
      event.persist_id = ack.id;
      Dispatch(event);
    }
  }
  ScheduleGuard(node);
  ScheduleHost(node);
}

void Simulation::OnHostWakeup(size_t node) {
  NodeSlot& slot = nodes_[node];
  const uint64_t live = slot.core != nullptr ? slot.incarnation : 0;
  for (const SimHost::Report& report : slot.host->Advance(now_, live)) {
    Event event = NodeEvent(EventKind::kGuestReport, node, report.incarnation);
    event.report = report;
    Dispatch(event);
  }
  ScheduleHost(node);
}

void Simulation::ScheduleGuard(size_t node) {
  NodeSlot& slot = nodes_[node];
  const std::optional<Time> at = slot.guard->NextEvent(slot.clock, now_);
  if (at == slot.guard_at) {
    return;
  }
  slot.guard_at = at;
  ++slot.guard_token;
  if (at) {
    Schedule(std::max(*at, now_), NodeEvent(EventKind::kGuardWakeup, node, slot.guard_token));
  }
}

void Simulation::ScheduleHost(size_t node) {
  NodeSlot& slot = nodes_[node];
  const std::optional<Time> at = slot.host->NextEvent();
  if (at == slot.host_at) {
    return;
  }
  slot.host_at = at;
  ++slot.host_token;
  if (at) {
    Schedule(std::max(*at, now_), NodeEvent(EventKind::kHostWakeup, node, slot.host_token));
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
      if (!done_ && options_.safety_only) {
        Trace("-", "deadline", "liveness not reached (not checked: --safety-only)");
        done_ = true;
      } else if (!done_) {
        result_.violation =
            "liveness: no leader acknowledging a new command with every package "
            "that should run up within " +
            std::to_string(liveness_deadline_.count()) +
            "ms after the faults healed (outcasts:" + outcasts_ + ")" +
            (missing_.empty() ? "" : "; not placed: " + missing_);
      }
      return;
    default:
      CMCL_CHECK(false) << "node event in DispatchGlobal";
  }
}

// node.h's order rule: raft actions, then guard requests, then guest actions.
void Simulation::Execute(size_t node, node::NodeActions actions) {
  NodeSlot& slot = nodes_[node];
  // The simulated nodes' inventories are written in their configuration, never
  // `inventory: probe` (docs/KNOWN_GAPS.md): no node asks for a probe.
  CMCL_CHECK(!actions.probe_inventory) << slot.name.value() << " asked for an inventory probe";
  for (const Actions& batch : actions.raft) {
    ExecuteRaft(node, batch);
  }
  if (!actions.guard.empty()) {
    for (const node::GuardRequest& request : actions.guard) {
      Trace(slot.name.value(), "guard", DescribeGuardRequest(request));
    }
    slot.guard->Submit(now_, slot.incarnation, actions.guard);
    ScheduleGuard(node);
  }
  for (const node::GuestAction& action : actions.guests) {
    std::string detail = std::string(node::GuestVerbName(action.verb)) + " " +
                         action.guest.resource.value() + "@" +
                         std::to_string(action.guest.epoch.value());
    if (action.verb == node::GuestVerb::kRun || action.verb == node::GuestVerb::kHalt) {
      detail += std::string(" reason=") + std::string(node::ActionReasonName(action.reason));
    }
    Trace(slot.name.value(), "driver", detail);
    if (action.verb == node::GuestVerb::kRun) {
      package_checker_->OnRun(now_, slot.name, action.guest);
    }
    slot.host->Submit(now_, slot.incarnation, action);
  }
  if (!actions.guests.empty()) {
    ScheduleHost(node);
  }
  for (const node::LogLine& line : actions.log) {
    Trace(slot.name.value(), line.critical ? "log!" : "log", line.text);
  }
  // The simulated nodes run with fence_action kill (NodeOptions::watchdog_fence off; no
  // watchdog is modelled, docs/KNOWN_GAPS.md), so the core never asks for a reset here.
  // Modelling one would be CrashWholeNode after this call returns.
  CMCL_CHECK(!actions.reset) << slot.name << " asked for a reset without fence_action reboot: "
                             << actions.reset->why;
  AfterCall(node);
}

void Simulation::ExecuteRaft(size_t node, const Actions& actions) {
  NodeSlot& slot = nodes_[node];
  const Raft& raft = slot.core->raft();
  // actions.h order rule: 1. persist, 2. sends, 3. applies, 4. replies.
  if (actions.persist) {
    ExecutePersist(node, *actions.persist);
  }
  if (actions.restore) {
    checker_.OnLogReset(slot.name, actions.restore->last_index, actions.restore->last_term,
                        raft.log());
  }
  for (const Message& message : actions.sends) {
    checker_.OnSend(slot.name, message, slot.disk.durable());
    SendMessage(node, message);
  }
  if (actions.restore) {
    Restore(node, *actions.restore);
  }
  for (const raft::ApplyEntry& apply : actions.applies) {
    CMCL_CHECK(apply.entry.index <= raft.commit_index()) << "applied past commit";
    checker_.OnApply(slot.name, apply);
    TraceCommitted(apply);
    NoteReleases(apply);
  }
  for (const ClientReply& reply : actions.replies) {
    // A node's own forwarded commands are answered by the leader (ForwardReply), whose
    // applied index may be ahead of this node's; the simulator's clients propose
    // locally and are answered after the local apply.
    const bool own = reply.client_id.value() < 1 || reply.client_id.value() > clients_.size();
    CMCL_CHECK(own || reply.code != raft::ReplyCode::kApplied ||
               reply.applied_index <= raft.applied_index())
        << "reply for an index not applied yet";
    checker_.OnReply(reply);
    OnReply(reply);
  }
}

// The first apply of each entry goes to the package checker, and into the trace with
// its ops and the events the committed state logged for it (a replay shows what the
// coordinator decided and why).
void Simulation::TraceCommitted(const raft::ApplyEntry& apply) {
  const node::ClusterState& state = package_checker_->state();
  if (apply.entry.index <= state.applied()) {
    return;
  }
  config_checker_.OnCommitted(state, apply);
  package_checker_->OnCommitted(apply);
  if (apply.entry.kind != raft::EntryKind::kCommand || apply.duplicate) {
    return;
  }
  const std::optional<node::OpBatch> ops = node::DecodeOps(apply.entry.command.payload);
  Trace("-", "commit",
        "@" + std::to_string(apply.entry.index.value()) + " c" +
            std::to_string(apply.entry.command.client_id.value()) + " " +
            (ops ? node::DescribeOps(*ops) : std::string("(malformed)")));
  for (auto it = state.events().rbegin(); it != state.events().rend(); ++it) {
    if (it->index != apply.entry.index) {
      break;
    }
    Trace("-", it->critical ? "event!" : "event", it->text);
  }
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
    checker_.OnLogChanged(slot.name, slot.core->raft().log(), *persist.log_from);
  }
  Trace(slot.name.value(), "write", detail.str());
}

void Simulation::AfterCall(size_t node) {
  NodeSlot& slot = nodes_[node];
  const Raft& raft = slot.core->raft();
  checker_.OnProtocolViolations(slot.name, raft.protocol_violations());
  if (options_.compact_every > 0 &&
      raft.applied_index() >= raft.snapshot_index() + options_.compact_every) {
    CMCL_CHECK(slot.core->state().applied() == raft.applied_index()) << "cluster state out of step";
    // Execute ends in AfterCall again, which then sees the compacted log.
    Execute(node, slot.core->Compact(LocalNow(node)));
    return;
  }
  if (DriveConfig(node)) {
    return;  // Execute ended in AfterCall again.
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
  const Time wakeup = slot.core->NextWakeup();
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
  const Raft& raft = nodes_[leader].core->raft();
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
        slot.core != nullptr ? slot.core->raft().snapshot() : slot.disk.durable().snapshot;
    const std::vector<raft::Entry>& log =
        slot.core != nullptr ? slot.core->raft().log() : slot.disk.durable().entries;
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
  if (recovered->state.snapshot) {
    Restore(node, *recovered->state.snapshot);
  }
  slot.paused = false;
  slot.queued.clear();
  slot.core = std::make_unique<node::Node>(
      NodeOptionsFor(node), recovered->state,
      root_.Fork("node/" + slot.name.value() + "/" + std::to_string(slot.incarnation)),
      LocalNow(node));
  const Raft& raft = slot.core->raft();
  slot.role = raft.role();
  slot.term = raft.term();
  slot.commit_checked = raft::LogIndex(0);
  slot.wakeup_at.reset();
  checker_.OnLogReset(slot.name, raft.snapshot_index(),
                      raft.snapshot() ? raft.snapshot()->last_term : raft::Term(0), raft.log());
  const node::GuardState guard = slot.guard->State();
  std::ostringstream detail;
  detail << "incarnation " << slot.incarnation << " t=" << slot.term
         << " last=" << raft.last_index() << " guard: "
         << (guard.deadline ? std::to_string(guard.deadline->milliseconds()) : "unarmed") << ", "
         << guard.registered.size() << " guests" << (guard.fenced ? ", fenced" : "");
  Trace(slot.name.value(), "start", detail.str());
  Execute(node, slot.core->Attach(LocalNow(node), guard));
}

// A committed halted, failed or fenced report of (R, node, epoch) is that node's own
// release: R is free from then on (ClusterState::Assignment::Free), whatever the node's
// lagging applied state still says. Entries are decoded once, by the first node that
// applies them (state machine safety makes the others identical).
void Simulation::NoteReleases(const raft::ApplyEntry& apply) {
  if (apply.entry.index <= releases_decoded_ || apply.entry.kind != raft::EntryKind::kCommand) {
    releases_decoded_ = std::max(releases_decoded_, apply.entry.index);
    return;
  }
  releases_decoded_ = apply.entry.index;
  const std::optional<node::OpBatch> ops = node::DecodeOps(apply.entry.command.payload);
  for (const node::Op& op : ops ? *ops : node::OpBatch{}) {
    const auto* report = std::get_if<node::ReportOp>(&op);
    if (report != nullptr &&
        (report->kind == node::ReportKind::kHalted || report->kind == node::ReportKind::kFailed ||
         report->kind == node::ReportKind::kFenced)) {
      released_.insert({report->resource, report->epoch, report->node});
    }
  }
}

void Simulation::CheckExclusivity() {
  if (exclusivity_.violation()) {
    return;
  }
  std::vector<ExclusivityChecker::Claim> physical;
  std::vector<ExclusivityChecker::Claim> authority;
  for (const NodeSlot& slot : nodes_) {
    const Time local = slot.clock.Peek(now_);
    for (const auto& [resource, held] : slot.host->held()) {
      physical.push_back({.node = slot.name,
                          .resource = resource,
                          .epoch = held.epoch,
                          .local_now = local,
                          .since = held.since});
    }
    if (slot.core == nullptr) {
      continue;
    }
    for (const PackageName& resource : packages_->names) {
      if (slot.core->HasAuthority(resource, local)) {
        const node::Assignment* assignment = slot.core->state().Find(resource);
        if (released_.contains({resource, assignment->epoch, slot.name})) {
          continue;  // It released R itself; its applied state has not caught up.
        }
        authority.push_back({.node = slot.name,
                             .resource = resource,
                             .epoch = assignment ? assignment->epoch : raft::LogIndex(0),
                             .local_now = local,
                             .since = std::nullopt});
      }
    }
  }
  exclusivity_.Check(now_, physical, authority);
}

}  // namespace internal

RunResult RunSimulation(const SimOptions& options,
                        const std::function<void(const std::string&)>& trace) {
  internal::Simulation simulation(options, trace);
  return simulation.Run();
}

}  // namespace cmcl::sim
