// Node: see node.h. Every input runs the same loop: call Raft, absorb its actions into
// the ClusterState, then drive the agent and the coordinator from the state as it is
// now (level-triggered: the decisions depend on the state, not on which input came).
#include "cmcld/core/node/node.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "cmcld/core/common/check.h"
#include "cmcld/core/node/dependencies.h"
#include "cmcld/core/node/peer_input.h"
#include "cmcld/core/validation/validate.h"

namespace cmcl::node {
namespace {

constexpr Time kNever = Time::FromMilliseconds(std::numeric_limits<int64_t>::max());

ClusterState RestoredState(const NodeOptions& options, const raft::PersistedState& state) {
  if (!state.snapshot) {
    return ClusterState(options.state);
  }
  std::optional<ClusterState> restored = ClusterState::Decode(state.snapshot->state, options.state);
  CMCL_CHECK(restored.has_value()) << "the stored snapshot does not hold a cluster state";
  return std::move(*restored);
}

// The entry of `map` for `key`, or map.end(), found by moving `cursor` forward. Walking
// a second map by cursor while iterating the first in key order (both are ordered by
// package name) costs one pass over both, where a find() per package cost about ten name
// compares each: at 1,000 packages that was a third of an idle node's CPU, since the node
// agent looks at every local guest on every input (docs/BENCHMARKS.md, idle cost). Keys
// must be visited in increasing order; inserting into `map` meanwhile is fine (std::map
// iterators stay valid), erasing is not.
template <typename Map, typename Iterator>
Iterator Seek(Map& map, Iterator& cursor, const PackageName& key) {
  while (cursor != map.end() && cursor->first < key) {
    ++cursor;
  }
  return cursor != map.end() && cursor->first == key ? cursor : map.end();
}

}  // namespace

std::string_view GuestVerbName(GuestVerb verb) {
  switch (verb) {
    case GuestVerb::kRun:
      return "run";
    case GuestVerb::kHalt:
      return "halt";
    case GuestVerb::kKill:
      return "kill";
    case GuestVerb::kStatus:
      return "status";
  }
  return "?";
}

Node::Node(NodeOptions options, raft::PersistedState state, Rng rng, Time now)
    : options_(std::move(options)), state_(RestoredState(options_, state)), now_(now) {
  // Every entry an earlier incarnation can have applied (and so acted on) is in the
  // recovered log: applies only ever cover durable entries.
  restart_horizon_ = state.entries.empty()
                         ? (state.snapshot ? state.snapshot->last_index : LogIndex(0))
                         : state.entries.back().index;
  Rng clients = rng.Fork("clients");
  agent_.id = raft::ClientId(clients.Next());
  coordinator_.id = raft::ClientId(clients.Next());
  options_.raft.lease_length = state_.GrantLength();
  raft_ = std::make_unique<raft::Raft>(options_.raft, std::move(state), rng.Fork("raft"), now);
  raft_->SetLeaseTerms(state_.mode(), state_.GrantLength());
  CMCL_CHECK(options_.config != nullptr) << "a node needs its configuration";
  SyncReportedInventories();  // Builds index_.
  config_version_ = options_.config_version;
}

// --- Inputs ----------------------------------------------------------------------------

NodeActions Node::Attach(Time now, const GuardState& guard) {
  now_ = now;
  CMCL_CHECK(!attached_) << "Attach is called once";
  attached_ = true;
  walk_memo_.reset();
  guard_fenced_ = guard.fenced;
  deadline_acked_ = guard.deadline;
  deadline_pushed_ = guard.deadline;
  for (const GuestRef& guest : guard.registered) {
    Local& local = local_[guest.resource];
    local.epoch = guest.epoch;
    local.phase = Phase::kQuerying;
    local.fenced = guard.fenced;
    local.register_id = 0;  // Registered by an earlier incarnation: acknowledged.
    Guest(guest.resource, guest.epoch, GuestVerb::kStatus);
  }
  if (!guard.registered.empty() || guard.fenced) {
    out_.log.push_back(
        LogLine{.critical = guard.fenced,
                .text = "attached to the guard: " + std::to_string(guard.registered.size()) +
                        " registered guest(s)" + (guard.fenced ? ", fenced at its deadline" : "")});
  }
  Drive();
  return Take();
}

NodeActions Node::Step(Time now, const raft::Message& message) {
  now_ = now;
  // A message no correct peer sends must not reach Raft, whose checks would abort cmcld
  // (peer_input.h; found by tests/fuzz/node_fuzzer.cc, issue 11).
  if (const std::optional<std::string> problem = PeerMessageProblem(message, options_.state)) {
    out_.log.push_back(LogLine{.critical = false,
                               .text = "dropped a " + raft::MessageTypeName(message) + " from " +
                                       message.header.from.value() + ": " + *problem});
    return Take();
  }
  Absorb(raft_->Step(now, message));
  Drive();
  return Take();
}

NodeActions Node::Tick(Time now) {
  now_ = now;
  Absorb(raft_->Tick(now));
  Drive();
  return Take();
}

NodeActions Node::Propose(Time now, raft::Command command) {
  return Submit(now, std::move(command), /*forward=*/false);
}

NodeActions Node::Forward(Time now, raft::Command command) {
  return Submit(now, std::move(command), /*forward=*/true);
}

NodeActions Node::Submit(Time now, raft::Command command, bool forward) {
  now_ = now;
  if (const std::optional<std::string> problem = CheckCommand(command)) {
    raft::Actions refusal;
    refusal.replies.push_back(raft::ClientReply{.client_id = command.client_id,
                                                .sequence = command.sequence,
                                                .code = raft::ReplyCode::kRejected,
                                                .applied_index = LogIndex(0),
                                                .leader_hint = std::nullopt,
                                                .detail = *problem});
    out_.raft.push_back(std::move(refusal));
    return Take();
  }
  Absorb(forward ? raft_->Forward(now, std::move(command))
                 : raft_->Propose(now, std::move(command)));
  Drive();
  return Take();
}

NodeActions Node::PersistCompleted(Time now, uint64_t up_to) {
  now_ = now;
  Absorb(raft_->PersistCompleted(now, up_to));
  Drive();
  return Take();
}

NodeActions Node::GuardAcked(Time now, uint64_t id) {
  now_ = now;
  guard_acked_ = std::max(guard_acked_, id);
  for (auto it = deadlines_pending_.begin(); it != deadlines_pending_.end() && it->first <= id;) {
    deadline_acked_ = it->second;
    if (arm_deadline_request_ && it->first >= *arm_deadline_request_) {
      arm_deadline_request_.reset();  // The guard took the short deadline (Drive reports).
    }
    it = deadlines_pending_.erase(it);
  }
  Drive();
  return Take();
}

NodeActions Node::GuestReported(Time now, const GuestRef& guest, GuestVerb verb,
                                const GuestResult& result) {
  now_ = now;
  const auto it = local_.find(guest.resource);
  if (it == local_.end() || it->second.epoch != guest.epoch) {
    return Take();  // About a guest this node no longer tracks at that epoch.
  }
  walk_memo_.reset();  // A phase moves: the package walk must look again.
  OnScriptOrDriver(guest.resource, it->second, verb, result);
  Drive();
  return Take();
}

// One step of DESIGN.md section 5's sequences. A result that does not fit the phase (a
// script that finished after a fence took over) is ignored: the newer action decides.
void Node::OnScriptOrDriver(const PackageName& resource, Local& local, GuestVerb verb,
                            const GuestResult& result) {
  const bool stopped = result.status == GuestStatus::kStopped;
  const auto script = [&](std::string_view what) {
    return std::string(what) +
           (result.timed_out ? " timed out" : " exit " + std::to_string(result.exit_code));
  };
  const auto stop = [&] {
    local.phase = Phase::kStopped;
    Guard(Unregister{.resource = resource});
  };
  switch (local.phase) {
    case Phase::kQuerying:
      if (verb == GuestVerb::kStatus) {
        // Unknown counts as running: the guest must be adopted or killed, not forgotten.
        local.phase = stopped ? Phase::kStopped : Phase::kRunning;
      }
      return;
    case Phase::kStarting:
      if (verb == GuestVerb::kRun) {
        if (result.status == GuestStatus::kRunning) {
          local.phase = Phase::kRunning;
        } else {
          CleanUp(resource, local,
                  result.timed_out        ? FailureKind::kTimeout
                  : result.exit_code == 2 ? FailureKind::kExit2
                                          : FailureKind::kExit1,
                  script("run script"), ActionReason::kRunFailed);
        }
      }
      return;
    case Phase::kRunning:
      if (verb == GuestVerb::kStatus && (stopped || !result.failed_service.empty()) &&
          state_.PackageInMaintenance(resource)) {
        // Not monitored (issue 10): the administrator may stop it by hand. Leaving
        // maintenance asks for its status again (ManageLocals).
        out_.log.push_back(
            LogLine{.critical = false,
                    .text = resource.value() + ": " +
                            (stopped ? std::string("the guest stopped")
                                     : "service " + result.failed_service + " failed") +
                            " while in maintenance: not monitored, nothing done"});
        return;
      }
      if (verb == GuestVerb::kStatus && !result.failed_service.empty() &&
          ServiceFailFast(resource)) {
        out_.log.push_back(LogLine{.critical = true,
                                   .text = resource.value() + ": service " + result.failed_service +
                                           " failed with service_fail_fast_enabled: fencing "
                                           "this node"});
        fail_fast_fence_ = true;  // Fence() kills every guest here; they are reported fenced.
        // DESIGN.md section 5: "a reset with fence_action: reboot". At once, without
        // waiting for the kill fence to end: the reset stops every guest for certain, the
        // kills are only what is left if the reset does not happen (docs/DESIGN_CHANGES.md).
        RequestReset(resource.value() + ": service " + result.failed_service +
                     " failed with service_fail_fast_enabled");
      } else if (verb == GuestVerb::kStatus && !result.failed_service.empty()) {
        CleanUp(resource, local, FailureKind::kServiceFailed,
                "service " + result.failed_service + " failed past its max_restarts",
                ActionReason::kServiceFailed);
      } else if (verb == GuestVerb::kStatus && stopped) {
        CleanUp(resource, local, FailureKind::kServiceFailed, "the guest stopped by itself",
                ActionReason::kServiceFailed);
      }
      return;
    case Phase::kStopping:
      if (verb == GuestVerb::kHalt) {
        if (stopped) {
          local.halted = true;
          stop();
        } else {
          local.detail = script("halt script");
          local.phase = Phase::kHaltCheck;
          Guest(resource, local.epoch, GuestVerb::kStatus);
        }
      }
      return;
    case Phase::kFailFastKill:
      if (verb == GuestVerb::kKill) {
        local.phase = Phase::kHaltCheck;
        Guest(resource, local.epoch, GuestVerb::kStatus);
      }
      return;
    case Phase::kHaltCheck:
      if (verb != GuestVerb::kStatus) {
        return;
      }
      if (stopped) {
        local.halted = true;
        local.detail += "; the guest is stopped";
        stop();
      } else if (!local.fail_fast_done && FailFast(resource)) {
        local.fail_fast_done = true;
        local.phase = Phase::kFailFastKill;
        Guest(resource, local.epoch, GuestVerb::kKill);
      } else {
        local.phase = Phase::kHaltFailed;
        local.halt_failed = true;
        local.failure = FailureKind::kHaltScript;
        if (local.fail_fast_done) {
          // DESIGN.md section 5: "if it still runs and fence_action is reboot, resets
          // itself". halt_failed is queued first; if the reset beats its commit, the
          // restarted node finds no guest and reports the package lost.
          RequestReset(resource.value() +
                       ": node_fail_fast_enabled: the halt failed and a kill did not stop "
                       "the guest");
        }
      }
      return;
    case Phase::kCleanupHalt:
      if (verb == GuestVerb::kHalt) {
        local.phase = Phase::kCleanupKill;
        Guest(resource, local.epoch, GuestVerb::kKill);
      }
      return;
    case Phase::kCleanupKill:
      if (verb == GuestVerb::kKill) {
        local.phase = Phase::kCleanupStatus;
        Guest(resource, local.epoch, GuestVerb::kStatus);
      }
      return;
    case Phase::kCleanupStatus:
      if (verb == GuestVerb::kStatus) {
        if (stopped) {
          stop();
        } else {
          local.phase = Phase::kHaltFailed;
          local.halt_failed = true;
          local.detail += "; the cleanup could not stop the guest";
        }
      }
      return;
    case Phase::kClearStatus:
      if (verb == GuestVerb::kStatus) {
        if (stopped) {
          // Once, like every report (AnswerClears would report the stopped guest again).
          Report(resource, local.epoch, ReportKind::kHalted, FailureKind::kNone,
                 "the guest is stopped");
          local.halt_failed = false;
          local.halted = true;
          stop();
        } else {
          // The answer to `clear`, sent even though halt_failed was reported before.
          report_queue_.push_back(ReportOp{.resource = resource,
                                           .node = self(),
                                           .epoch = local.epoch,
                                           .kind = ReportKind::kHaltFailed,
                                           .failure = FailureKind::kHaltScript,
                                           .detail = "the driver says it still runs"});
          local.phase = Phase::kHaltFailed;
        }
      }
      return;
    case Phase::kKilling:
      // A kill that did not see the guest stop is followed by a status, and the kill is
      // tried again while the status does not say stopped: a guest that died late must
      // not leave its package stuck (sim seed 900024 --swarm).
      if (verb == GuestVerb::kKill && stopped) {
        stop();
      } else if (verb == GuestVerb::kKill) {
        local.kill_failed = true;
        out_.log.push_back(
            LogLine{.critical = true, .text = resource.value() + ": kill did not stop the guest"});
        Guest(resource, local.epoch, GuestVerb::kStatus);
      } else if (verb == GuestVerb::kStatus && local.kill_failed) {
        if (stopped) {
          local.kill_failed = false;  // Not a stray: it is gone.
          local.survived_kill = false;
          stop();
        } else {
          local.survived_kill = true;  // ManageLocals: a stray, if not ours.
          Guest(resource, local.epoch, GuestVerb::kKill);
        }
      }
      return;
    case Phase::kHaltFailed:
      if (verb == GuestVerb::kStatus && stopped) {
        // The runtime saw the guest stop after its halt failed: the owner's word that it
        // stopped at this epoch frees it (DESIGN.md section 5); AnswerClears reports it.
        local.halt_failed = false;
        local.halted = true;
        stop();
      }
      return;
    case Phase::kStopped:
      return;
  }
}

// DESIGN.md section 5: any run failure (or a guest found dead) is cleaned up before
// anything is reported: the halt script, then driver kill, then driver status.
void Node::CleanUp(const PackageName& resource, Local& local, FailureKind failure,
                   std::string detail, ActionReason reason) {
  local.failure = failure;
  local.detail = std::move(detail);
  if (options_.mutations.skip_run_failure_cleanup) {
    local.phase = Phase::kStopped;  // The mutation: reports failed with the guest running.
    return;
  }
  local.phase = Phase::kCleanupHalt;
  Guest(resource, local.epoch, GuestVerb::kHalt, reason);
}

bool Node::ServiceFailFast(const PackageName& resource) const {
  const config::PackageSpec* spec = index_->FindPackage(resource);
  return spec != nullptr && spec->service_fail_fast_enabled;
}

bool Node::FailFast(const PackageName& resource) const {
  const config::PackageSpec* spec = index_->FindPackage(resource);
  return spec != nullptr && spec->node_fail_fast_enabled;
}

void Node::RequestReset(const std::string& why) {
  if (!options_.watchdog_fence || reset_requested_) {
    return;  // fence_action kill: reported and logged critical only, as before.
  }
  reset_requested_ = true;
  out_.log.push_back(
      LogLine{.critical = true, .text = why + "; resetting this node (fence_action reboot)"});
  out_.reset = ResetNode{.why = why};
}

NodeActions Node::Compact(Time now) {
  now_ = now;
  Absorb(raft_->Compact(now, state_.Encode()));
  return Take();
}

std::optional<std::string> Node::CheckCommand(const raft::Command& command) const {
  const std::optional<OpBatch> ops = DecodeOps(command.payload);
  if (!ops) {
    return "the command does not decode as cluster operations";
  }
  for (const Op& op : *ops) {
    if (const auto* propose = std::get_if<ConfigProposeOp>(&op)) {
      if (propose->bundle.size() > kBundleBytesMax) {
        return "the configuration bundle has " + std::to_string(propose->bundle.size()) +
               " bytes, more than " + std::to_string(kBundleBytesMax);
      }
    }
    if (std::optional<std::string> refusal = DependencyRefusal(op)) {
      return refusal;
    }
    if (const auto* maintenance = std::get_if<MaintenanceOp>(&op)) {
      if (std::optional<std::string> problem = CheckMaintenance(*maintenance)) return problem;
    }
    std::optional<Duration> disarm_for;
    if (const auto* disarm = std::get_if<DisarmOp>(&op)) {
      if (disarm->length <= Duration(0) && !options_.state.mutation_disarm_without_duration) {
        return "disarm needs a duration (--for DURATION)";
      }
      disarm_for = disarm->length;
    } else if (const auto* mode = std::get_if<ClusterModeOp>(&op)) {
      if (mode->disarm_for && *mode->disarm_for <= Duration(0)) {
        return "disarm needs a duration (--for DURATION)";
      }
      disarm_for = mode->disarm_for;
    }
    if (disarm_for && *disarm_for > options_.disarm_max) {
      return "disarm for " + FormatDuration(*disarm_for) + " is longer than disarm_max (" +
             FormatDuration(options_.disarm_max) + ")";
    }
  }
  return std::nullopt;
}

// dependencies.h, operator refusals: the dependents of a package halt before it, and a
// same_node dependent moves nowhere its dependency is not.
std::optional<std::string> Node::DependencyRefusal(const Op& op) const {
  const PackageName* package = nullptr;
  if (const auto* halt = std::get_if<HaltOp>(&op)) package = &halt->package;
  const auto* move = std::get_if<MoveOp>(&op);
  if (move != nullptr && move->kind == IntentKind::kMove) package = &move->package;
  if (package == nullptr) {
    return std::nullopt;
  }
  const std::vector<std::string> live =
      LiveDependents(Dependents(*options_.config), state_, *package);
  if (!live.empty()) {
    std::string names;
    for (const std::string& dependent : live) {
      names += (names.empty() ? "" : ", ") + dependent;
    }
    return names + " depend" + (live.size() == 1 ? "s" : "") + " on " + package->value() +
           ": halt " + (live.size() == 1 ? "it" : "them") + " first";
  }
  const config::PackageSpec* spec = index_->FindPackage(*package);
  if (move == nullptr || spec == nullptr) {
    return std::nullopt;
  }
  for (const config::Dependency& dependency : spec->depends_on) {
    const Assignment* there = state_.Find(dependency.package);
    if (dependency.location == config::DependencyLocation::kSameNode && there != nullptr &&
        there->owner && *there->owner != move->target) {
      return package->value() + " depends on " + dependency.package.value() +
             " (same_node), which runs on " + there->owner->value() + ", not " +
             move->target.value();
    }
  }
  return std::nullopt;
}

// Issue 10: one subject, and a configured one (pkgctl checked the names already; this is
// for any other client).
std::optional<std::string> Node::CheckMaintenance(const MaintenanceOp& op) const {
  if (op.node.has_value() == op.package.has_value()) {
    return "maintenance names a node or a package";
  }
  if (op.node && !IsMember(*op.node)) {
    return "maintenance: " + op.node->value() + " is not a member of the cluster";
  }
  if (op.package && options_.config->FindPackage(*op.package) == nullptr) {
    return "maintenance: package " + op.package->value() + " is not configured";
  }
  return std::nullopt;
}

// --- The loop --------------------------------------------------------------------------

void Node::Absorb(raft::Actions actions) {
  if (actions.restore) {
    std::optional<ClusterState> restored =
        ClusterState::Decode(actions.restore->state, options_.state);
    CMCL_CHECK(restored.has_value()) << "a snapshot from the leader holds no cluster state";
    state_ = std::move(*restored);
  }
  for (const raft::ApplyEntry& apply : actions.applies) {
    state_.Apply(apply);
  }
  if (actions.restore || !actions.applies.empty()) {
    SyncReportedInventories();
  }
  std::vector<raft::ClientReply> callers;
  for (raft::ClientReply& reply : actions.replies) {
    if (reply.client_id == agent_.id || reply.client_id == coordinator_.id) {
      OnOwnReply(reply);
    } else {
      callers.push_back(std::move(reply));
    }
  }
  actions.replies = std::move(callers);
  NoteDisarm();
  raft_->SetLeaseTerms(state_.mode(), state_.GrantLength());
  if (!actions.empty()) {
    out_.raft.push_back(std::move(actions));
  }
}

void Node::OnOwnReply(const raft::ClientReply& reply) {
  OwnClient& client = reply.client_id == agent_.id ? agent_ : coordinator_;
  if (!client.in_flight || client.in_flight->sequence != reply.sequence) {
    return;  // A reply to a retry of a command already answered.
  }
  switch (reply.code) {
    case raft::ReplyCode::kApplied:
    case raft::ReplyCode::kStale:
    case raft::ReplyCode::kRejected:  // Never for our own commands; nothing to retry.
      client.in_flight.reset();
      return;
    case raft::ReplyCode::kNotLeader:
    case raft::ReplyCode::kBusy:
    case raft::ReplyCode::kUnknownOutcome:
      if (&client == &coordinator_) {
        // A decision is only good for the state it was made from: never retried.
        client.in_flight.reset();
      } else {
        client.resend_at = now_ + options_.raft.heartbeat_interval;
      }
      return;
  }
}

void Node::Drive() {
  NoteLeaseRenewal();
  if (attached_) {
    PushGuardDeadline();
    Fence();
    if (!reconciled_) {
      Reconcile();
    }
    if (reconciled_) {
      WalkPackages();
    } else {
      ReportOwnedNotHere();
    }
    if (shutting_down_) {
      ShutdownStep();
    }
    FlushReports();
  }
  ProbeStep();
  Coordinate();
}

NodeActions Node::Take() { return std::exchange(out_, NodeActions{}); }

Liveness Node::ValidationLiveness() const {
  Liveness liveness = CurrentLiveness();
  if (!raft_->LeaderReady()) {
    liveness.up.clear();
    for (const NodeName& member : options_.config->Members()) {
      liveness.up.insert(member);
    }
  }
  return liveness;
}

Result<validation::CheckReport> Node::Check(const PackageName& package,
                                            const std::optional<NodeName>& target,
                                            std::optional<uint32_t> vcpus,
                                            std::optional<uint64_t> memory_mb) const {
  const validation::ClusterFacts facts = FactsOf(state_, ValidationLiveness());
  const validation::ClusterView view(*index_, facts);
  const config::PackageSpec* spec = view.FindPackage(package);
  if (spec == nullptr || !target || (!vcpus && !memory_mb)) {
    return validation::Check(view, package, target);
  }
  // A copy at the new size (validation accepts a spec outside the configuration).
  config::PackageSpec resized = *spec;
  resized.guest.vcpus = vcpus.value_or(resized.guest.vcpus);
  if (memory_mb) {
    resized.guest.memory = ByteSize::FromMebibytes(*memory_mb);
  }
  return validation::CheckReport{
      .package = package,
      .source = view.SourceOf(*spec, target),
      .results = {validation::NodeResult{
          .node = *target, .result = validation::ValidateMigration(resized, *target, view)}}};
}

const std::vector<validation::PackageReadiness>& Node::Readiness() {
  const Liveness liveness = ValidationLiveness();
  if (!readiness_.valid || readiness_.applied != state_.applied() ||
      readiness_.config_generation != config_generation_ || readiness_.up != liveness.up) {
    const validation::ClusterFacts facts = FactsOf(state_, liveness);
    const validation::ClusterView view(*index_, facts);
    readiness_ = ReadinessCache{.applied = state_.applied(),
                                .config_generation = config_generation_,
                                .up = liveness.up,
                                .valid = true,
                                .result = validation::ComputeReadiness(view)};
  }
  return readiness_.result;
}

void Node::SetConfig(std::shared_ptr<const config::ClusterConfig> config,
                     std::optional<uint64_t> version) {
  CMCL_CHECK(config != nullptr) << "a node needs its configuration";
  // The index borrows the configuration: the new one first, then the old config goes.
  std::shared_ptr<const config::ClusterConfig> old = std::move(options_.config);
  options_.config = std::move(config);
  index_.reset();
  SyncReportedInventories();  // Which nodes probe may have changed; builds index_.
  ++config_generation_;
  config_version_ = version.value_or(state_.config_version());
  config_wait_logged_ = false;
  coordinator_wakeup_ = now_;  // Decide again under the new configuration at once.
}

std::optional<std::pair<uint64_t, std::string>> Node::ConfigToValidate() const {
  const std::optional<PendingConfig>& pending = state_.pending_config();
  if (!pending || pending->verdicts.contains(self())) {
    return std::nullopt;
  }
  if (verdicts_given_.contains(pending->proposed_at)) {
    return std::nullopt;
  }
  return std::pair(pending->proposal.version, pending->proposal.bundle_hash);
}

NodeActions Node::ConfigVerdict(Time now, uint64_t version, const std::string& bundle_hash, bool ok,
                                std::string reason) {
  now_ = now;
  const std::optional<std::pair<uint64_t, std::string>> wanted = ConfigToValidate();
  if (wanted && wanted->first == version && wanted->second == bundle_hash) {
    verdicts_given_.insert(state_.pending_config()->proposed_at);
    out_.log.push_back(LogLine{.critical = !ok,
                               .text = "configuration version " + std::to_string(version) +
                                       (ok ? " validated here" : " refused here: " + reason)});
    report_queue_.push_back(ConfigVerdictOp{.version = version,
                                            .bundle_hash = bundle_hash,
                                            .proposal = state_.pending_config()->proposed_at,
                                            .node = self(),
                                            .ok = ok,
                                            .reason = ok ? std::string() : std::move(reason)});
  }
  Drive();
  return Take();
}

std::optional<StartWait> Node::StartWaitOf(Time now) const {
  if (state_.cluster_started() || state_.cluster_halted()) {
    return std::nullopt;
  }
  StartWait wait{.decided_here = false,
                 .waiting_for = {},
                 .wait = options_.config->cluster_start_wait,
                 .left = std::nullopt};
  if (!raft_->LeaderReady() || !leader_since_) {
    return wait;
  }
  Liveness liveness = CurrentLiveness();
  liveness.now = now;
  const ClusterStartGate gate = CheckClusterStart(*options_.config, *index_, state_, liveness);
  if (gate.verdict != ClusterStartGate::Verdict::kWaiting) {
    return std::nullopt;  // Placement starts with the coordinator's next decision.
  }
  wait.decided_here = true;
  wait.waiting_for = gate.waiting_for;
  wait.left = gate.deadline - now;
  return wait;
}

NodeActions Node::Shutdown(Time now) {
  now_ = now;
  if (!shutting_down_) {
    shutting_down_ = true;
    out_.log.push_back(LogLine{.critical = false,
                               .text = "shutting down: " + std::to_string(LocalGuests().size()) +
                                       " guest(s) to leave this node"});
  }
  Drive();
  return Take();
}

// With quorum the node asks for its own `node halt` and the coordinator moves or halts
// its packages (shutdown_policy). Once its lease is no longer being renewed, that halt
// cannot commit (and no move can either), and the fence point comes within the lease:
// so it halts its guests itself, with their halt scripts, before they are fenced —
// stopping never needs quorum (DESIGN.md section 5). Halting a guest this node runs is
// always safe; only the policy's migration is given up.
void Node::ShutdownStep() {
  if (!shutdown_proposed_ && !state_.NodeHalted(self())) {
    shutdown_proposed_ = true;
    report_queue_.push_back(
        NodeAdminOp{.node = self(), .halted = true, .by = "cmcld shutdown on " + self().value()});
  }
  if (LeaseRenewing()) {
    return;
  }
  for (auto& [resource, local] : local_) {
    if (local.phase == Phase::kRunning) {
      local.phase = Phase::kStopping;
      Guest(resource, local.epoch, GuestVerb::kHalt, ActionReason::kShutdown);
    }
  }
}

std::optional<Time> Node::LeaseGivenUpAt() const {
  const std::optional<Time> fence_at = raft_->lease().FenceAt(options_.fence_timeout);
  if (!fence_at || !lease_renewed_at_) {
    return std::nullopt;
  }
  // Grants come about once per heartbeat round; two rounds without one mean the leader
  // is gone or cut off. The fence point bounds it too (a round before it), whatever the
  // renewals did.
  const Duration round = options_.raft.heartbeat_interval;
  return std::min(*lease_renewed_at_ + kLeaseRenewalRounds * round, *fence_at - round);
}

bool Node::LeaseRenewing() const {
  const std::optional<Time> given_up_at = LeaseGivenUpAt();
  return raft_->lease().Valid(now_) && given_up_at && now_ < *given_up_at;
}

void Node::NoteLeaseRenewal() {
  const std::optional<Time> lease_end = raft_->lease().lease_end();
  // Any change is a grant: forward, or back when arming replaced a D-lease by L (with
  // "forward only" the renewal went unseen for up to D after an arm).
  if (lease_end && lease_end != lease_end_seen_) {
    lease_end_seen_ = lease_end;
    lease_renewed_at_ = now_;
  }
}

// --- Agent -----------------------------------------------------------------------------

void Node::PushGuardDeadline() {
  const std::optional<Time> fence_at = raft_->lease().FenceAt(options_.fence_timeout);
  if (!fence_at) {
    return;  // F4: a restarted node leaves the guard's deadline alone until a grant.
  }
  // Arming (DESIGN.md section 4): once the arm is applied and an armed grant arrived, the
  // guard must take the short deadline — the one case where it moves back, on this
  // request only — and only then is armed(F) reported for that arm.
  const LogIndex arm = state_.latest_arm();
  if (state_.mode() == raft::LeaseMode::kArmed && !state_.ArmedSinceLatestArm(self()) &&
      raft_->lease().mode() == raft::LeaseMode::kArmed && arm != armed_reported_for_) {
    const bool guard_short = deadline_acked_ && *deadline_acked_ <= *fence_at;
    if (guard_short || options_.mutations.guard_not_rearmed) {  // The mutation: never asks.
      armed_reported_for_ = arm;
      report_queue_.push_back(ArmedOp{.node = self(), .arm = arm});
    } else if (!arm_deadline_request_) {
      deadline_pushed_ = *fence_at;
      arm_deadline_request_ = Guard(SetDeadline{.deadline = *fence_at, .allow_earlier = true});
    }
    return;
  }
  if (!deadline_pushed_ || *fence_at > *deadline_pushed_) {
    deadline_pushed_ = *fence_at;
    Guard(SetDeadline{.deadline = *fence_at, .allow_earlier = false});
  }
}

void Node::Fence() {
  const std::optional<Time> fence_at = raft_->lease().FenceAt(options_.fence_timeout);
  const bool lease_over = fence_at && now_ >= *fence_at;
  // The guard fences every registered guest once its deadline passes, whatever this
  // incarnation believes (a status answered "running" a moment before may be stale).
  const bool guard_fired = deadline_acked_ && now_ >= *deadline_acked_;
  if (!lease_over && !guard_fired && !fail_fast_fence_) {
    return;  // Without any lease yet (after a restart) the guard's deadline rules.
  }
  for (auto& [resource, local] : local_) {
    if (local.phase == Phase::kStopped || local.phase == Phase::kKilling) {
      continue;
    }
    // F4: fence early, so the guest is down by lease_end; our own kill confirms it.
    local.phase = Phase::kKilling;
    local.fenced = true;
    Guest(resource, local.epoch, GuestVerb::kKill);
    out_.log.push_back(LogLine{
        .critical = true,
        .text = resource.value() + (lease_over ? ": fenced, the lease ends at " +
                                                     std::to_string(fence_at->milliseconds() +
                                                                    options_.fence_timeout.count())
                                    : guard_fired ? ": fenced by the guard's deadline"
                                                  : ": fenced (service_fail_fast_enabled)")});
  }
}

// DESIGN.md section 4, "After a restart or a fence": nothing starts on this node's own
// authority; once every guest's status is known and a grant with applied >= c is held,
// running guests are adopted or killed and missing owned ones reported.
void Node::Reconcile() {
  for (const auto& [resource, local] : local_) {
    if (local.phase == Phase::kQuerying) {
      return;
    }
  }
  if (!raft_->lease().Valid(now_) || state_.applied() < raft_->lease().min_applied()) {
    return;
  }
  reconciled_ = true;
  for (auto& [resource, local] : local_) {
    const Assignment* assignment = state_.Find(resource);
    const bool owned = state_.Owns(self(), resource) && assignment->epoch == local.epoch;
    if (local.phase == Phase::kRunning) {
      if (owned) {
        out_.log.push_back(
            LogLine{.critical = false, .text = resource.value() + ": adopted the running guest"});
      } else {
        local.phase = Phase::kKilling;
        Guest(resource, local.epoch, GuestVerb::kKill);
        out_.log.push_back(LogLine{.critical = true,
                                   .text = resource.value() + ": runs here without ownership; "
                                                              "killing it"});
      }
    }
  }
}

void Node::WalkPackages() {
  const WalkMemo key{.applied = state_.applied(),
                     .config_generation = config_generation_,
                     .effects = effects_,
                     .guard_fenced = guard_fenced_,
                     .shutting_down = shutting_down_,
                     .fail_fast_fence = fail_fast_fence_};
  if (walk_memo_ == key) {
    return;
  }
  walk_memo_.reset();
  walk_waits_ = false;
  ManageOwned();
  ManageLocals();
  if (effects_ == key.effects && !walk_waits_) {
    walk_memo_ = key;
  }
}

void Node::ManageOwned() {
  auto local_cursor = local_.begin();
  for (const auto& [resource, assignment] : state_.assignments()) {
    if (!ClusterState::OwnedBy(assignment, self())) {  // Owns, without a second lookup.
      continue;
    }
    const LogIndex epoch = assignment.epoch;
    // local_.find(resource); TryStart and GiveUpStartAfterTimeout below may insert
    // `resource` behind the cursor, which Seek allows.
    auto it = Seek(local_, local_cursor, resource);
    if (it != local_.end() && it->second.epoch != epoch &&
        (it->second.phase == Phase::kRunning || it->second.phase == Phase::kStarting)) {
      // Reassigned to us while our guest runs: it is ours at the new epoch.
      it->second.epoch = epoch;
      it->second.register_id = Guard(Register{.guest = {.resource = resource, .epoch = epoch}});
    }
    const bool here = it != local_.end() && it->second.epoch == epoch;
    const Phase phase = here ? it->second.phase : Phase::kStopped;
    if (assignment.release_requested) {
      if (phase == Phase::kRunning) {
        it->second.phase = Phase::kStopping;
        Guest(resource, epoch, GuestVerb::kHalt, assignment.halt_reason);
      } else if (phase == Phase::kStopped) {
        if (here) {
          ReportStopped(resource, it->second);
        } else {
          Report(resource, epoch, ReportKind::kHalted, FailureKind::kNone, "it was not running");
        }
      } else if (phase == Phase::kHaltFailed) {
        ReportStopped(resource, it->second);
      }
      continue;
    }
    if (phase == Phase::kRunning) {
      if (assignment.status == AssignmentStatus::kAssigned) {
        Report(resource, epoch, ReportKind::kStarted);
      }
      continue;
    }
    if (phase == Phase::kHaltFailed) {
      ReportStopped(resource, it->second);
      continue;
    }
    if (phase != Phase::kStopped) {
      continue;  // A script or the driver is at work: wait for it.
    }
    if (here &&
        (it->second.fenced || it->second.failure != FailureKind::kNone || it->second.halted)) {
      ReportStopped(resource, it->second);
    } else if (assignment.status == AssignmentStatus::kStarted || epoch <= restart_horizon_) {
      // It ran here at this epoch and is gone (a node crash, or killed behind our back),
      // or an earlier incarnation may have acted on this assignment — started it, failed
      // it and reported so (the report may still be on its way): DESIGN.md section 4,
      // "an owned guest that is not running is reported, and the coordinator decides".
      Report(resource, epoch, guard_fenced_ ? ReportKind::kFenced : ReportKind::kFailed,
             FailureKind::kLost, guard_fenced_ ? "fenced by the guard" : "found not running");
    } else {
      walk_waits_ = true;  // The lease, the guard's answer or run_timeout: the time.
      TryStart(resource, assignment);
      GiveUpStartAfterTimeout(resource, assignment);
    }
  }
  AnswerClears();
}

// Before reconciling, for what needs no authority: an owned assignment with no guest of
// this package here at all (none registered with the guard, so none runs) is reported
// lost, or halted if a release was asked, as ManageOwned would. These are facts about this node,
// checked against the epoch when they apply, so a state that lags is harmless. Without this, a
// restarted node whose applied index never reaches its grants' c (it replicates about as fast as
// the log grows) never reconciles, and a guest an earlier incarnation started and lost stays "up"
// in the state forever (sim seed 821 --swarm). Starts and adoptions still wait for Reconcile.
void Node::ReportOwnedNotHere() {
  if (!raft_->lease().Valid(now_)) {
    return;  // No leader heard since the restart: its state may not even name us.
  }
  for (const auto& [resource, assignment] : state_.assignments()) {
    if (!state_.Owns(self(), resource) || local_.contains(resource)) {
      continue;
    }
    if (assignment.release_requested) {
      Report(resource, assignment.epoch, ReportKind::kHalted, FailureKind::kNone,
             "it was not running");
    } else if (assignment.status == AssignmentStatus::kStarted ||
               assignment.epoch <= restart_horizon_) {
      Report(resource, assignment.epoch, guard_fenced_ ? ReportKind::kFenced : ReportKind::kFailed,
             FailureKind::kLost, guard_fenced_ ? "fenced by the guard" : "found not running");
    }
    // A newer assignment waits for Reconcile (and its run_timeout starts there): giving
    // up on it here gave up on sound nodes that reconcile in a moment (sim seed 66).
  }
}

// An owner that cannot start its package (no lease with applied >= c: it lags far
// behind; or the guard does not answer) would keep it forever, since its lease is being
// renewed and so never certainly expires. After run_timeout it gives up: it reports the
// start failed (kTimeout) — true, since it never ran the run script at this epoch — and
// the coordinator restarts or relocates it (docs/KNOWN_GAPS.md, issue 6's lagging owner).
void Node::GiveUpStartAfterTimeout(const PackageName& resource, const Assignment& assignment) {
  const auto it = local_.find(resource);
  if (it != local_.end() && it->second.epoch == assignment.epoch &&
      it->second.phase != Phase::kStopped) {
    start_waits_.erase(resource);  // The run script runs (or ran): not waiting any more.
    return;
  }
  auto [wait, created] = start_waits_.try_emplace(resource, assignment.epoch, now_);
  if (created || wait->second.first != assignment.epoch) {
    wait->second = {assignment.epoch, now_};
    return;
  }
  const config::PackageSpec* spec = index_->FindPackage(resource);
  const Duration timeout = spec != nullptr ? spec->run_timeout : Duration(60000);
  if (now_ < wait->second.second + timeout) {
    return;
  }
  start_waits_.erase(wait);
  Local& local = local_[resource];
  if (local.epoch == assignment.epoch && local.register_id != 0) {
    Guard(Unregister{.resource = resource});
  }
  local = Local{};
  local.epoch = assignment.epoch;
  local.phase = Phase::kStopped;
  local.failure = FailureKind::kTimeout;
  local.detail = "could not start within run_timeout " + FormatDuration(timeout) +
                 " (no lease with the log caught up, or the guard did not answer)";
  out_.log.push_back(LogLine{.critical = true, .text = resource.value() + ": " + local.detail});
  ReportStopped(resource, local);
}

// What a stopped (or stuck) guest's history says, as one report.
void Node::ReportStopped(const PackageName& resource, const Local& local) {
  if (local.fenced) {
    Report(resource, local.epoch, ReportKind::kFenced);
  } else if (local.halt_failed) {
    Report(resource, local.epoch, ReportKind::kHaltFailed, local.failure, local.detail);
  } else if (local.failure != FailureKind::kNone) {
    Report(resource, local.epoch, ReportKind::kFailed, local.failure, local.detail);
  } else {
    Report(resource, local.epoch, ReportKind::kHalted, FailureKind::kNone, local.detail);
  }
}

// Packages this node left halt_failed: answer a `clear` with the driver's status, and
// report a guest that has stopped since (a fence or a kill did it).
void Node::AnswerClears() {
  for (const auto& [resource, assignment] : state_.assignments()) {
    if (assignment.status != AssignmentStatus::kHaltFailed || assignment.owner != self()) {
      continue;
    }
    auto it = local_.find(resource);
    if (it != local_.end() && it->second.epoch == assignment.epoch &&
        it->second.phase == Phase::kStopped) {
      Report(resource, assignment.epoch,
             it->second.fenced ? ReportKind::kFenced : ReportKind::kHalted, FailureKind::kNone,
             "the guest stopped after its halt failed");
      continue;
    }
    if (!assignment.clear_requested) {
      continue;
    }
    if (it == local_.end() || it->second.epoch != assignment.epoch) {
      // Not tracked here (an earlier incarnation's): ask the driver all the same.
      Local& local = local_[resource];
      local = Local{};
      local.epoch = assignment.epoch;
      local.phase = Phase::kHaltFailed;
      local.halt_failed = true;
      it = local_.find(resource);
    }
    // Asked once per clear: the answer takes a commit to reset clear_requested.
    const PackageRecord* record = state_.FindPackage(resource);
    const LogIndex clear =
        record != nullptr && record->pending && record->pending->second == CommandKind::kClear
            ? record->pending->first
            : LogIndex(0);
    if (it->second.phase == Phase::kHaltFailed && it->second.clear_asked != clear) {
      it->second.clear_asked = clear;
      it->second.phase = Phase::kClearStatus;
      Guest(resource, assignment.epoch, GuestVerb::kStatus);
    }
  }
}

void Node::TryStart(const PackageName& resource, const Assignment& assignment) {
  if (shutting_down_ || fail_fast_fence_) {
    return;  // A node on its way out, or fenced by a service, starts nothing new.
  }
  // F3, the lease part: now + fence_timeout < lease_end and applied >= c.
  const raft::LogIndex applied =
      options_.mutations.start_without_min_applied ? raft::LogIndex(~0ULL) : state_.applied();
  if (!raft_->lease().AllowsStart(now_, options_.fence_timeout, applied)) {
    return;
  }
  if (config_version_ != 0 && config_version_ < state_.config_version()) {
    // A config apply is applied but the runtime has not handed this node the new version
    // yet (it writes vN in the background): the package may not even be in the old one,
    // and a guest registered now would run the old version's scripts. SetConfig ends this.
    return;
  }
  auto [it, created] = local_.try_emplace(resource);
  Local& local = it->second;
  if (created) {
    local.phase = Phase::kStopped;
  }
  if (local.epoch != assignment.epoch && local.phase != Phase::kStopped) {
    return;  // The guest of an older epoch is still being stopped here.
  }
  if (local.epoch != assignment.epoch || local.register_id == 0) {
    local = Local{};
    local.epoch = assignment.epoch;
    local.phase = Phase::kStopped;
    local.register_id = Guard(Register{.guest = {.resource = resource, .epoch = assignment.epoch}});
  }
  // DESIGN.md section 6: a probe node re-probes before it starts a guest, asked with the
  // guard registration so that the two overlap.
  const bool probes = ProbesInventory();
  if (probes && local.start_probe == 0) {
    local.start_probe = WantProbe();
  }
  // F3, the guard part: it acknowledged the registration and a deadline far enough away.
  if (!Registered(local) || !deadline_acked_ || *deadline_acked_ <= now_ + options_.fence_timeout) {
    return;
  }
  if (probes && probe_answered_ < local.start_probe) {
    return;  // InventoryProbed continues.
  }
  if (probes) {
    if (std::string refusal = ReprobeRefusal(resource, assignment); !refusal.empty()) {
      local.failure = FailureKind::kExit2;  // Failed here, may start elsewhere.
      local.detail = "refused before the run script: the re-probed inventory of " + self().value() +
                     " fails validation: " + refusal;
      out_.log.push_back(
          LogLine{.critical = false, .text = resource.value() + ": " + local.detail});
      Guard(Unregister{.resource = resource});
      local.register_id = 0;
      ReportStopped(resource, local);
      return;
    }
  }
  local.phase = Phase::kStarting;
  Guest(resource, assignment.epoch, GuestVerb::kRun, assignment.start_reason);
}

void Node::ManageLocals() {
  const std::map<PackageName, Assignment>& assignments = state_.assignments();
  const std::map<PackageName, PackageRecord>& packages = state_.packages();
  auto assignment_cursor = assignments.begin();
  auto package_cursor = packages.begin();
  for (auto& [resource, local] : local_) {
    if (local.phase != Phase::kRunning && local.phase != Phase::kStarting) {
      continue;
    }
    const auto assignment = Seek(assignments, assignment_cursor, resource);
    if (assignment != assignments.end() && ClusterState::OwnedBy(assignment->second, self()) &&
        assignment->second.epoch == local.epoch) {
      const auto package = Seek(packages, package_cursor, resource);
      ResumeMonitoring(
          resource, local,
          state_.PackageInMaintenance(package != packages.end() ? &package->second : nullptr,
                                      assignment->second));
      continue;
    }
    // Not ours (any more): it must not run here. Never expected — a lease that ended
    // fenced it first — so say so loudly.
    local.phase = Phase::kKilling;
    Guest(resource, local.epoch, GuestVerb::kKill);
    out_.log.push_back(
        LogLine{.critical = true,
                .text = resource.value() + ": running here but owned elsewhere; killing"});
  }
  for (const auto& [resource, local] : local_) {
    if (local.kill_failed && !state_.Owns(self(), resource)) {
      Report(resource, local.epoch, ReportKind::kStray);
      if (local.survived_kill) {
        // DESIGN.md section 4: "if it will not die, the node reports stray(P, node,
        // epoch) ... (with fence_action: reboot the node resets itself)". The stray
        // report is only queued: the reset may come before it is committed. That is safe
        // for section 1's rule: the reset stops the guest for certain, and no other
        // node's claim on P depends on this report (P is already owned elsewhere, or
        // free, by the committed state that made it a stray here).
        RequestReset(resource.value() + "@" + std::to_string(local.epoch.value()) +
                     ": stray: runs here without ownership and a kill did not stop it");
      }
    }
  }
}

// Issue 10: when its package leaves maintenance, a running guest's status is asked for
// once: a guest stopped meanwhile is then handled as found dead (the policies apply).
void Node::ResumeMonitoring(const PackageName& resource, Local& local, bool maintenance) {
  if (local.maintenance && !maintenance && local.phase == Phase::kRunning) {
    out_.log.push_back(LogLine{
        .critical = false,
        .text = resource.value() + ": maintenance ended; monitoring resumes (status asked)"});
    Guest(resource, local.epoch, GuestVerb::kStatus);
  }
  local.maintenance = maintenance;
}

void Node::Report(const PackageName& resource, LogIndex epoch, ReportKind kind, FailureKind failure,
                  std::string detail) {
  if (!reported_.emplace(resource, epoch, kind).second) {
    return;  // Epochs only grow: the same report is never needed twice.
  }
  ++effects_;
  report_queue_.push_back(ReportOp{.resource = resource,
                                   .node = self(),
                                   .epoch = epoch,
                                   .kind = kind,
                                   .failure = failure,
                                   .detail = std::move(detail)});
}

void Node::SetProbedInventory(inventory::NodeInventory inventory) {
  probed_inventory_ = std::move(inventory);
}

NodeActions Node::InventoryProbed(Time now, uint64_t id, Result<inventory::NodeInventory> probed) {
  now_ = now;
  walk_memo_.reset();  // A start waiting for this probe goes on in the walk.
  probe_answered_ = std::max(probe_answered_, id);
  if (probed.ok()) {
    if (probe_failing_) {
      out_.log.push_back(LogLine{.critical = false, .text = "inventory probe works again"});
      probe_failing_ = false;
    }
    if (probed_inventory_ && *probed_inventory_ != probed.value() && ProbesInventory()) {
      out_.log.push_back(LogLine{
          .critical = false,
          .text = "inventory probe: this host's inventory changed; reporting it to the cluster"});
    }
    SetProbedInventory(std::move(probed).value());
  } else if (!probe_failing_) {
    probe_failing_ = true;
    out_.log.push_back(LogLine{
        .critical = false,
        .text = "inventory probe failed: " + probed.status().message() +
                "; the last good inventory stays in use (said once until a probe succeeds)"});
  }
  Drive();
  return Take();
}

bool Node::ProbesInventory() const {
  const config::NodeSpec* spec = options_.config->FindNode(self());
  return spec != nullptr && spec->inventory_source == config::InventorySource::kProbe;
}

uint64_t Node::WantProbe() {
  const uint64_t id = probe_asked_ + 1;
  probe_wanted_ = std::max(probe_wanted_, id);
  return id;
}

void Node::ProbeStep() {
  if (!ProbesInventory()) {
    next_probe_.reset();
    return;
  }
  const Duration interval = options_.config->inventory_probe_interval;
  if (!next_probe_ || *next_probe_ > now_ + interval) {
    next_probe_ = now_ + interval;  // First call, or a shorter interval applied.
  } else if (now_ >= *next_probe_) {
    WantProbe();
    next_probe_ = now_ + interval;
  }
  if (probe_wanted_ > probe_asked_ && probe_asked_ == probe_answered_) {
    probe_asked_ = probe_wanted_;
    out_.probe_inventory = probe_asked_;
  }
}

// The device checks of DESIGN.md section 6 with this node's fresh inventory as the
// target's. The source is where the guest comes from (a failover's or move's source),
// else the last node that ran it, never this node itself: its own committed inventory
// is what the probe replaces. Capacity, membership, eligibility and storage_in_use are
// the coordinator's (they do not depend on what the probe sees).
std::string Node::ReprobeRefusal(const PackageName& resource, const Assignment& assignment) const {
  const config::PackageSpec* spec = index_->FindPackage(resource);
  const config::NodeSpec* node = options_.config->FindNode(self());
  if (spec == nullptr || node == nullptr || !probed_inventory_) {
    return {};  // No inventory yet: the device checks are unchecked, as before.
  }
  const validation::ClusterFacts facts = FactsOf(state_, ValidationLiveness());
  const validation::ClusterView view(*index_, facts);
  std::optional<NodeName> from = assignment.source;
  if (!from || *from == self()) {
    const PackageRecord* record = state_.FindPackage(resource);
    from = record != nullptr ? record->last_node : std::nullopt;
  }
  std::optional<validation::Endpoint> source;
  if (from && *from != self()) {
    source = validation::Endpoint{.node = *from, .inventory = view.Inventory(*from)};
  }
  const inventory::InventoryIndex fresh =
      inventory::InventoryIndex::Of(*probed_inventory_, node->capacity);
  const validation::ValidationResult result = validation::ValidateMigration(
      *spec, source, validation::Endpoint{.node = self(), .inventory = &fresh}, view);
  std::string refusal;
  for (const validation::Violation& violation : result.violations) {
    switch (violation.code) {
      case validation::ViolationCode::kSharedDevice:
      case validation::ViolationCode::kUnsupportedStorage:
      case validation::ViolationCode::kDeviceMissing:
      case validation::ViolationCode::kWwidMismatch:
      case validation::ViolationCode::kVswitchMismatch:
        refusal += (refusal.empty() ? "" : "; ") + violation.message;
        break;
      case validation::ViolationCode::kTargetNotMember:
      case validation::ViolationCode::kNodeNotEligible:
      case validation::ViolationCode::kInsufficientCapacity:
      case validation::ViolationCode::kStorageInUse:
        break;
    }
  }
  return refusal;
}

void Node::QueueInventoryReport() {
  if (!probed_inventory_) {
    return;
  }
  const config::NodeSpec* spec = options_.config->FindNode(self());
  if (spec == nullptr || spec->inventory_source != config::InventorySource::kProbe) {
    return;
  }
  const auto known = state_.inventories().find(self());
  if (known != state_.inventories().end() && known->second == *probed_inventory_) {
    return;
  }
  const bool queued = std::any_of(report_queue_.begin(), report_queue_.end(), [](const Op& op) {
    return std::holds_alternative<InventoryOp>(op);
  });
  if (!queued) {
    report_queue_.push_back(InventoryOp{.node = self(), .inventory = *probed_inventory_});
  }
}

void Node::SyncReportedInventories() {
  validation::ReportedInventories probed;
  for (const auto& [node, inventory] : state_.inventories()) {
    const config::NodeSpec* spec = options_.config->FindNode(node);
    if (spec != nullptr && spec->inventory_source == config::InventorySource::kProbe) {
      probed.emplace(node, inventory);
    }
  }
  const bool indexed = index_ != nullptr;  // Not at construction or in SetConfig.
  if (indexed && probed == reported_inventories_) {
    return;
  }
  // The index points into reported_inventories_: it is rebuilt at once, before any use.
  reported_inventories_ = std::move(probed);
  index_ = std::make_unique<validation::ConfigIndex>(*options_.config, reported_inventories_);
  if (indexed) {
    coordinator_wakeup_ = now_;  // Decide again with the new inventories at once.
  }
}

void Node::FlushReports() {
  if (reported_.size() > 4 * options_.config->packages.size() + 64) {
    // Forget reports about epochs that are over: they can never be needed again.
    std::erase_if(reported_, [&](const auto& report) {
      const Assignment* assignment = state_.Find(std::get<0>(report));
      return assignment != nullptr && assignment->epoch > std::get<1>(report);
    });
  }
  if (agent_.in_flight) {
    if (now_ >= agent_.resend_at) {
      Resend(agent_);
    }
    return;
  }
  QueueInventoryReport();
  if (report_queue_.empty()) {
    return;
  }
  agent_.in_flight = raft::Command{.client_id = agent_.id,
                                   .sequence = agent_.next_sequence++,
                                   .payload = EncodeOps(report_queue_),
                                   .revokes = {}};
  report_queue_.clear();
  Resend(agent_);
}

void Node::Resend(OwnClient& client) {
  // No reply within the CheckQuorum period (node_timeout): the leader may have changed;
  // the same sequence is applied at most once (thesis 6.3). Not the election timeout,
  // which is short (node::ElectionTimeoutMin): on a slow, lossy network every resend is
  // one more log entry, and resending every 200ms made the log grow faster than a
  // lagging follower could catch up (sim swarm seeds 1137, 1283).
  client.resend_at = now_ + raft_->CheckQuorumPeriod();
  Absorb(raft_->Forward(now_, *client.in_flight));
}

void Node::Guest(const PackageName& resource, LogIndex epoch, GuestVerb verb, ActionReason reason) {
  ++effects_;
  GuestAction action{.guest = GuestRef{.resource = resource, .epoch = epoch},
                     .verb = verb,
                     .reason = reason,
                     .source = std::nullopt,
                     .vcpus = std::nullopt,
                     .memory_mb = std::nullopt};
  if (verb == GuestVerb::kRun) {
    // CMCL_SOURCE_NODE and the overrides: a move's own (while it starts on its target),
    // else those a finished move committed.
    // Only a guest that comes from somewhere has a source (DESIGN.md section 5); a start
    // after a halt elsewhere does not, though the assignment remembers the last owner.
    const bool from_elsewhere = reason == ActionReason::kFailover ||
                                reason == ActionReason::kMove || reason == ActionReason::kFailback;
    if (const Assignment* assignment = state_.Find(resource); assignment && from_elsewhere) {
      action.source = assignment->source;
    }
    if (const PackageRecord* record = state_.FindPackage(resource)) {
      const bool moving = record->intent && record->intent->step == IntentStep::kStarting;
      action.vcpus = moving && record->intent->vcpus ? record->intent->vcpus : record->vcpus;
      action.memory_mb =
          moving && record->intent->memory_mb ? record->intent->memory_mb : record->memory_mb;
    }
  }
  out_.guests.push_back(std::move(action));
}

uint64_t Node::Guard(std::variant<SetDeadline, Register, Unregister> request) {
  const uint64_t id = next_guard_id_++;
  if (const auto* deadline = std::get_if<SetDeadline>(&request)) {
    deadlines_pending_[id] = deadline->deadline;
  } else {
    ++effects_;  // A registration changes what the guard fences; not every heartbeat's deadline.
  }
  out_.guard.push_back(GuardRequest{.id = id, .request = std::move(request)});
  return id;
}

bool Node::Registered(const Local& local) const {
  return local.register_id == 0 || guard_acked_ >= local.register_id;
}

bool Node::MayStartGuests(Time now) const {
  return raft_->lease().AllowsStart(now, options_.fence_timeout, state_.applied()) &&
         deadline_acked_ && *deadline_acked_ > now + options_.fence_timeout;
}

bool Node::GaveUp(const PackageName& resource, LogIndex epoch) const {
  for (const ReportKind kind :
       {ReportKind::kHalted, ReportKind::kFailed, ReportKind::kFenced, ReportKind::kStray}) {
    if (reported_.contains({resource, epoch, kind})) {
      return true;
    }
  }
  return false;
}

bool Node::HasAuthority(const PackageName& resource, Time now) const {
  if (!state_.Owns(self(), resource)) {
    return false;
  }
  const Assignment& assignment = *state_.Find(resource);
  if (assignment.release_requested || GaveUp(resource, assignment.epoch) ||
      !raft_->lease().Valid(now) || state_.applied() < raft_->lease().min_applied()) {
    return false;
  }
  if (assignment.epoch > restart_horizon_) {
    return true;
  }
  // An assignment from before this incarnation: only a guest adopted at that epoch.
  const auto local = local_.find(resource);
  return reconciled_ && local != local_.end() && local->second.epoch == assignment.epoch &&
         (local->second.phase == Phase::kRunning || local->second.phase == Phase::kStarting);
}

bool Node::RunsGuest(const PackageName& resource) const {
  const auto it = local_.find(resource);
  return it != local_.end() && it->second.phase != Phase::kStopped;
}

std::vector<GuestRef> Node::LocalGuests() const {
  std::vector<GuestRef> guests;
  for (const auto& [resource, local] : local_) {
    if (local.phase != Phase::kStopped) {
      guests.push_back(GuestRef{.resource = resource, .epoch = local.epoch});
    }
  }
  return guests;
}

// --- Coordinator -----------------------------------------------------------------------

bool Node::IsMember(const NodeName& node) const {
  for (const raft::Voter& voter : options_.raft.voters) {
    if (voter.name == node) {
      return voter.role == config::NodeRole::kMember;
    }
  }
  return false;
}

// A member that can take a resource now: its nonces arrive (it answers this leader's
// requests both ways) and it is not far behind. A node far behind could not start
// anything soon (F3 needs applied >= c, and c is the commit index), so placing there
// would strand the resource until it caught up (or gave up after run_timeout). "Far" is
// more than kUpLagEntries: demanding match >= commit dropped a healthy node after every
// commit, until its next acknowledgement, and refused moves to it at random (sim seed 34).
bool Node::Up(const NodeName& node) const {
  constexpr uint64_t kUpLagEntries = 64;
  if (node == self()) {
    return IsMember(node);
  }
  return IsMember(node) && Reachable(node) &&
         raft_->MatchIndex(node).value_or(LogIndex(0)).value() + kUpLagEntries >=
             raft_->commit_index().value();
}

// Its nonces arrive: its lease is being renewed, so it is not lost. Within the
// CheckQuorum period (node_timeout), not the election timeout: elections are short
// (node::ElectionTimeoutMin), and a lossy link that drops a few nonces in a row must not
// make a healthy member look lost to placement and moves.
bool Node::Reachable(const NodeName& node) const {
  const std::optional<Time> heard = raft_->LastNonceAt(node);
  return heard && now_ - *heard < raft_->CheckQuorumPeriod();
}

Liveness Node::CurrentLiveness() const { return LivenessFor(state_); }

Liveness Node::LivenessFor(const ClusterState& state) const {
  Liveness liveness{.self = self(),
                    .now = now_,
                    .up = {},
                    .reachable = {},
                    .certain_expiry = {},
                    .leader_since = leader_since_.value_or(now_),
                    .watchdog_fence = options_.watchdog_fence,
                    .term_start = leader_term_start_,
                    .config_pending_since = config_pending_seen_
                                                ? std::optional<Time>(config_pending_seen_->second)
                                                : std::nullopt};
  for (const raft::Voter& voter : options_.raft.voters) {
    if (Up(voter.name)) {
      liveness.up.insert(voter.name);
    }
    if (voter.name == self() || Reachable(voter.name)) {
      liveness.reachable.insert(voter.name);
    } else if (const std::optional<Time> expiry =
                   raft_->CertainExpiry(voter.name, state.WaitFor(voter.name))) {
      liveness.certain_expiry[voter.name] = *expiry;
    }
  }
  return liveness;
}

void Node::Coordinate() {
  coordinator_wakeup_.reset();
  if (!raft_->LeaderReady()) {
    leader_since_.reset();
    config_pending_seen_.reset();
    return;
  }
  if (!leader_since_) {
    leader_since_ = now_;
    leader_term_start_ = state_.applied();
  }
  if (const std::optional<PendingConfig>& pending = state_.pending_config()) {
    if (!config_pending_seen_ || config_pending_seen_->first != pending->proposed_at) {
      config_pending_seen_.emplace(pending->proposed_at, now_);
    }
  } else {
    config_pending_seen_.reset();
  }
  if (coordinator_.in_flight) {
    return;  // N1: no placement before this term's no-op is applied; one at a time.
  }
  if (config_version_ != 0 && config_version_ < state_.config_version()) {
    // NodeOptions::config_version: the runtime's SetConfig brings the new packages.
    if (!config_wait_logged_) {
      config_wait_logged_ = true;
      out_.log.push_back(LogLine{.critical = false,
                                 .text = "coordinator waits: configuration version " +
                                         std::to_string(state_.config_version()) +
                                         " applied, this node still uses " +
                                         std::to_string(config_version_)});
    }
    return;
  }
  const CoordinatorMutations mutations{
      .failover_without_validation = options_.mutations.failover_without_validation,
      .halt_failed_reassigned = options_.mutations.halt_failed_reassigned,
      .capacity_not_tallied = options_.mutations.capacity_not_tallied,
      .start_before_halted = options_.mutations.start_before_halted,
      .intent_lost_on_coordinator_change = options_.mutations.intent_lost_on_coordinator_change};
  Liveness liveness = CurrentLiveness();
  Liveness timeless = liveness;
  timeless.now = Time{};
  Decision decision;
  if (decide_memo_ && decide_memo_->applied == state_.applied() &&
      decide_memo_->config_generation == config_generation_ &&
      (!decide_memo_->wakeup || now_ < *decide_memo_->wakeup) &&
      decide_memo_->liveness == timeless) {
    decision.wakeup = decide_memo_->wakeup;  // Decide would ask for nothing again.
  } else {
    decision = Decide(*options_.config, *index_, state_, liveness, mutations);
    if (decision.refusals) CountRefusals(std::move(*decision.refusals));
    decide_memo_.reset();
    if (decision.ops.empty()) {
      decide_memo_ = DecideMemo{.applied = state_.applied(),
                                .config_generation = config_generation_,
                                .liveness = std::move(timeless),
                                .wakeup = decision.wakeup};
    }
  }
  coordinator_wakeup_ = decision.wakeup;
  // Both depend on the time without a wakeup of Decide's: they run on every call.
  LowerLeaseMax(decision.ops);
  ReArmWhenDisarmEnds(decision.ops);
  if (decision.ops.empty()) {
    return;
  }
  coordinator_.in_flight =
      raft::Command{.client_id = coordinator_.id,
                    .sequence = coordinator_.next_sequence++,
                    .payload = EncodeOps(decision.ops),
                    .revokes = {decision.revokes.begin(), decision.revokes.end()}};
  Absorb(raft_->Propose(now_, *coordinator_.in_flight));
}

void Node::CountRefusals(std::map<PackageName, std::set<validation::ViolationCode>> refusals) {
  for (const auto& [package, codes] : refusals) {
    const auto before = refusing_.find(package);
    for (const validation::ViolationCode code : codes) {
      if (before == refusing_.end() || !before->second.contains(code)) {
        ++validation_refusals_[code];
      }
    }
  }
  refusing_ = std::move(refusals);
}

// DESIGN.md section 4, notation: after a shorter L is applied, grants of the old, longer
// L may still be held; only stretch(old L) after this node applied the shorter one can
// no such lease remain, and then L_max comes down to L.
void Node::LowerLeaseMax(OpBatch& ops) {
  if (state_.lease_length_max() <= state_.lease_length()) {
    lease_shortened_at_.reset();
    return;
  }
  if (!lease_shortened_at_) {
    lease_shortened_at_ = now_;
  }
  const Time safe_at = *lease_shortened_at_ +
                       raft::Stretch(state_.lease_length_max(), options_.raft.clock_drift_max_ppm);
  if (now_ < safe_at) {
    coordinator_wakeup_ = std::min(coordinator_wakeup_.value_or(kNever), safe_at);
    return;
  }
  ops.push_back(LeaseMaxOp{.length = state_.lease_length()});
}

bool Node::HasQuorum(Time now) const {
  return MayKeepGuests(now) && lease_renewed_at_ &&
         now - *lease_renewed_at_ < raft_->CheckQuorumPeriod();
}

Result<Explanation> Node::Explain(const PackageName& package, Time now) const {
  const bool authoritative = raft_->LeaderReady();
  const Liveness liveness = authoritative ? CurrentLiveness() : ValidationLiveness();
  const validation::ClusterFacts facts = FactsOf(state_, liveness);
  const validation::ClusterView view(*index_, facts);
  std::optional<validation::CheckReport> candidates;
  if (Result<validation::CheckReport> report = validation::Check(view, package, std::nullopt);
      report.ok()) {
    candidates = *std::move(report);
  }
  const ExplainInputs in{.config = *options_.config,
                         .state = state_,
                         .liveness = liveness,
                         .authoritative = authoritative,
                         .quorum = HasQuorum(now),
                         .candidates = candidates,
                         .disarm_left = DisarmLeft(now)};
  return ::cmcl::node::Explain(in, package);
}

PreviewPlan Node::Preview(const OpBatch& ops) const {
  raft::Command command{.client_id = raft::ClientId(0),
                        .sequence = 0,
                        .payload = EncodeOps(ops),
                        .revokes = {}};
  const bool authoritative = raft_->LeaderReady();
  PreviewPlan plan;
  if (std::optional<std::string> refusal = CheckCommand(command)) {
    plan.refused = *std::move(refusal);
  } else {
    // Off the leader (as Explain): every member not halted counts as up, none as lost.
    const auto liveness_of = [this, authoritative](const ClusterState& state) {
      Liveness live = LivenessFor(state);
      if (!authoritative) {
        live.certain_expiry.clear();
        for (const NodeName& member : options_.config->Members()) {
          live.up.insert(member);
          live.reachable.insert(member);
        }
      }
      return live;
    };
    plan = ::cmcl::node::Preview(PreviewInputs{.config = *options_.config,
                                               .index = *index_,
                                               .state = state_,
                                               .liveness = liveness_of,
                                               .command = ops});
  }
  plan.authoritative = authoritative;
  return plan;
}

void Node::NoteDisarm() {
  if (state_.mode() != raft::LeaseMode::kDisarmed) {
    disarm_seen_.reset();
  } else if (!disarm_seen_ || disarm_seen_->first != state_.latest_disarm()) {
    disarm_seen_.emplace(state_.latest_disarm(), now_);
  }
}

std::optional<Duration> Node::DisarmLeft(Time now) const {
  if (!disarm_seen_ || state_.mode() != raft::LeaseMode::kDisarmed) {
    return std::nullopt;
  }
  return std::max(Duration(0), disarm_seen_->second + state_.disarm_length() - now);
}

// `cluster disarm --for D` means for D: when D has passed since this leader applied the
// disarm, it commits the arm itself. Arming later than D is always safe (the waits use D
// until every node reported armed), so a leader that applied the disarm late (a restart
// replayed it, a snapshot brought it) only arms late, never early.
void Node::ReArmWhenDisarmEnds(OpBatch& ops) {
  const std::optional<Duration> left = DisarmLeft(now_);
  if (!left || !options_.arm_when_disarm_ends) {
    return;
  }
  if (*left > Duration(0)) {
    coordinator_wakeup_ = std::min(coordinator_wakeup_.value_or(kNever), now_ + *left);
    return;
  }
  ops.push_back(ClusterModeOp{.disarm_for = std::nullopt,
                              .by = "coordinator " + self().value() + " (the disarm for " +
                                    FormatDuration(state_.disarm_length()) + " ended)"});
}

Time Node::NextWakeup() const {
  Time wakeup = raft_->NextWakeup();
  if (coordinator_wakeup_) {
    wakeup = std::min(wakeup, *coordinator_wakeup_);
  }
  if (agent_.in_flight) {
    wakeup = std::min(wakeup, agent_.resend_at);
  }
  if (next_probe_) {
    wakeup = std::min(wakeup, *next_probe_);  // The periodic re-probe (ProbeStep).
  }
  // A wakeup for a step still to take, never for one taken: a time in the past with
  // nothing left to do there is a busy loop. Waking "now" while fenced guests were being
  // killed spun cmcld's io thread at 100 % of a core, at real-time priority, until the
  // kill ended — and starved that very kill, a normal-priority script, past lease_end
  // (PartitionTest on 2 cores). ShutdownStep halts running guests, Fence() kills every
  // guest not stopped or being killed; the results of both come as inputs.
  bool running = false;
  bool unfenced = false;
  for (const auto& [resource, local] : local_) {
    running = running || local.phase == Phase::kRunning;
    unfenced = unfenced || (local.phase != Phase::kStopped && local.phase != Phase::kKilling);
  }
  if (shutting_down_ && running) {
    if (const std::optional<Time> given_up_at = LeaseGivenUpAt()) {
      wakeup = std::min(wakeup, std::max(*given_up_at, now_));  // ShutdownStep halts then.
    }
  }
  if (unfenced) {
    const std::optional<Time> fence_at = raft_->lease().FenceAt(options_.fence_timeout);
    if (fence_at) {
      wakeup = std::min(wakeup, std::max(*fence_at, now_));
    }
    if (deadline_acked_) {
      wakeup = std::min(wakeup, std::max(*deadline_acked_, now_));
    }
  }
  return wakeup;
}

}  // namespace cmcl::node
