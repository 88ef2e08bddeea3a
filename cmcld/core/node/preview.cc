#include "cmcld/core/node/preview.h"

#include <map>
#include <set>
#include <utility>

namespace cmcl::node {
namespace {

using Touched = std::set<std::pair<PackageName, LogIndex>>;

// The package an operator command has an outcome on (OutcomeOf), if any.
std::optional<PackageName> CommandPackage(const OpBatch& ops) {
  for (const Op& op : ops) {
    if (const auto* run = std::get_if<RunOp>(&op)) return run->package;
    if (const auto* halt = std::get_if<HaltOp>(&op)) return halt->package;
    if (const auto* move = std::get_if<MoveOp>(&op)) return move->package;
    if (const auto* enable = std::get_if<EnableOp>(&op)) return enable->package;
    if (const auto* maintenance = std::get_if<MaintenanceOp>(&op)) return maintenance->package;
  }
  return std::nullopt;
}

// One simulated run of the plan: the copy of the state, its clock and what it found.
class Simulation {
 public:
  Simulation(const PreviewInputs& in, PreviewPlan& plan)
      : in_(in), plan_(plan), state_(in.state), start_(in.liveness(in.state).now), now_(start_) {}

  // Applies the operator's command; false (with plan.refused) when apply refuses it.
  bool ApplyCommand() {
    command_index_ = LogIndex(state_.applied().value() + 1);
    return Commit(in_.command);
  }
  void Run();
  // The command's outcome by the end of the plan (nullopt: none, or still pending).
  std::optional<Outcome> CommandOutcome() const {
    const std::optional<PackageName> package = CommandPackage(in_.command);
    if (!package) return std::nullopt;
    return state_.OutcomeOf(*package, command_index_);
  }

 private:
  bool Commit(const OpBatch& ops);
  OpBatch Reports() const;
  void Diff(const std::map<PackageName, Assignment>& before,
            const std::map<PackageName, PackageRecord>& records_before, const OpBatch& ops);
  void AssignmentStep(const PackageName& package, const Assignment* was, const Assignment& is,
                      const OpBatch& ops);
  void RecordStep(const PackageName& package, const PackageRecord* was, const PackageRecord& is);
  void Add(PreviewStep step) {
    step.after = now_ - start_;
    if (step.after > Duration(0)) step.text = "in " + FormatDuration(step.after) + ": " + step.text;
    plan_.steps.push_back(std::move(step));
  }

  const PreviewInputs& in_;
  PreviewPlan& plan_;
  ClusterState state_;
  const Time start_;
  Time now_;
  LogIndex command_index_;
  Touched touched_;  // (package, epoch) the plan started or halted: their reports follow.
};

bool Simulation::Commit(const OpBatch& ops) {
  const std::map<PackageName, Assignment> before = state_.assignments();
  const std::map<PackageName, PackageRecord> records = state_.packages();
  const uint64_t refused = state_.malformed_commands();
  const bool started = state_.cluster_started();
  const LogIndex index(state_.applied().value() + 1);
  state_.Apply(raft::ApplyEntry{.entry = raft::Entry{.term = raft::Term(1),
                                                     .index = index,
                                                     .kind = raft::EntryKind::kCommand,
                                                     .command = {.client_id = raft::ClientId(0),
                                                                 .sequence = index.value(),
                                                                 .payload = EncodeOps(ops),
                                                                 .revokes = {}}},
                                .duplicate = false});
  if (state_.malformed_commands() != refused) {
    // Apply's own refusal of the batch, as its event says it ("refused command ...: why").
    const std::string& event = state_.events().back().text;
    const size_t colon = event.rfind(": ");
    plan_.refused = colon == std::string::npos ? event : event.substr(colon + 2);
    return false;
  }
  if (!started && state_.cluster_started()) {
    std::string reason = "cluster run";
    for (const Op& op : ops) {
      if (const auto* start = std::get_if<ClusterStartOp>(&op)) reason = start->reason;
    }
    Add(PreviewStep{.action = PreviewAction::kClusterStart,
                    .reason = reason,
                    .text = "cluster start: initial placement begins (" + reason + ")"});
  }
  Diff(before, records, ops);
  return true;
}

// The agents' answers, all successes: `started` for what the plan assigned to an up node,
// `halted` for what it asked an up node to halt.
OpBatch Simulation::Reports() const {
  const Liveness live = in_.liveness(state_);
  OpBatch reports;
  for (const auto& [package, epoch] : touched_) {
    const Assignment* a = state_.Find(package);
    if (a == nullptr || a->epoch != epoch || !a->owner || live.up.count(*a->owner) == 0) continue;
    const bool placed =
        a->status == AssignmentStatus::kAssigned || a->status == AssignmentStatus::kStarted;
    ReportKind kind = ReportKind::kStarted;
    if (a->release_requested && placed) {
      kind = ReportKind::kHalted;
    } else if (a->status != AssignmentStatus::kAssigned) {
      continue;
    }
    reports.push_back(ReportOp{
        .resource = package, .node = *a->owner, .epoch = a->epoch, .kind = kind, .detail = ""});
  }
  return reports;
}

void Simulation::Run() {
  int decisions = 0;
  int wakeups = 0;
  while (true) {
    if (const OpBatch reports = Reports(); !reports.empty()) Commit(reports);
    Liveness live = in_.liveness(state_);
    live.now = now_;
    const Decision decision = Decide(in_.config, in_.index, state_, live);
    if (!decision.ops.empty()) {
      if (decisions == kPreviewRounds) {
        plan_.bounded = true;
        return;
      }
      ++decisions;
      Commit(decision.ops);
      continue;
    }
    if (!Reports().empty()) continue;
    // Decide waits for a time (a lease certainly expiring): go there, if not too far.
    if (!decision.wakeup || *decision.wakeup <= now_ || wakeups == kPreviewWakeups ||
        *decision.wakeup - start_ > kPreviewHorizon) {
      return;
    }
    ++wakeups;
    now_ = *decision.wakeup;
  }
}

void Simulation::Diff(const std::map<PackageName, Assignment>& before,
                      const std::map<PackageName, PackageRecord>& records_before,
                      const OpBatch& ops) {
  for (const auto& [package, is] : state_.assignments()) {
    const auto was = before.find(package);
    AssignmentStep(package, was == before.end() ? nullptr : &was->second, is, ops);
  }
  for (const auto& [package, is] : state_.packages()) {
    const auto was = records_before.find(package);
    RecordStep(package, was == records_before.end() ? nullptr : &was->second, is);
  }
}

std::string Why(std::string_view why, const std::optional<NodeName>& from) {
  return std::string(why) + (from ? ", from " + from->value() : "");
}

void Simulation::AssignmentStep(const PackageName& package, const Assignment* was,
                                const Assignment& is, const OpBatch& ops) {
  const bool new_epoch = was == nullptr || was->epoch != is.epoch;
  if (new_epoch && is.owner && is.status == AssignmentStatus::kAssigned) {
    std::optional<NodeName> from;
    if (was != nullptr && was->owner && was->owner != is.owner) from = was->owner;
    // A move, failback or node-halt migration starts with why=kMove: say which one.
    std::string why(ActionReasonName(is.start_reason));
    const PackageRecord* record = state_.FindPackage(package);
    if (record != nullptr && record->intent && record->intent->target == *is.owner) {
      why = IntentKindName(record->intent->kind);
    }
    touched_.emplace(package, is.epoch);
    Add(PreviewStep{.action = PreviewAction::kStart,
                    .package = package,
                    .node = is.owner,
                    .from = from,
                    .reason = why,
                    .text = "start " + package.value() + " on " + is.owner->value() + " (" +
                            Why(why, from) + ")"});
  } else if (new_epoch && !is.owner && was != nullptr && was->owner) {
    std::string reason;
    for (const Op& op : ops) {
      const auto* unassign = std::get_if<UnassignOp>(&op);
      if (unassign != nullptr && unassign->package == package) reason = unassign->reason;
    }
    Add(PreviewStep{.action = PreviewAction::kDown,
                    .package = package,
                    .from = was->owner,
                    .reason = reason,
                    .text = package.value() + ": down, placed nowhere (" + reason + ")"});
  } else if (!new_epoch && is.release_requested && !was->release_requested && is.owner) {
    std::string why(ActionReasonName(is.halt_reason));
    const PackageRecord* record = state_.FindPackage(package);
    if (record != nullptr && record->intent && record->intent->step == IntentStep::kHalting) {
      why += " to " + record->intent->target.value();
    }
    touched_.emplace(package, is.epoch);
    Add(PreviewStep{
        .action = PreviewAction::kHalt,
        .package = package,
        .node = is.owner,
        .reason = why,
        .text = "halt " + package.value() + " on " + is.owner->value() + " (" + why + ")"});
  }
}

void Simulation::RecordStep(const PackageName& package, const PackageRecord* was,
                            const PackageRecord& is) {
  if (is.outcome && (was == nullptr || was->outcome != is.outcome)) {
    const std::string what(CommandKindName(is.outcome->kind));
    Add(PreviewStep{.action = PreviewAction::kEnded,
                    .package = package,
                    .reason = is.outcome->message,
                    .text = package.value() + ": " + what +
                            (is.outcome->ok ? " done: " : " fails: ") + is.outcome->message});
  }
  if (!is.note.empty() && (was == nullptr || was->note != is.note)) {
    // Notes often name their package already ("hpvm2: halted on ivmcl01; ...").
    const std::string prefix = package.value() + ": ";
    const std::string note =
        is.note.rfind(prefix, 0) == 0 ? is.note.substr(prefix.size()) : is.note;
    const PackageStatus status = state_.StatusOf(package);
    const bool down = status == PackageStatus::kDown || status == PackageStatus::kFailed;
    const Assignment* a = state_.Find(package);
    std::optional<NodeName> node;
    if (!down && a != nullptr) node = a->owner;
    Add(PreviewStep{.action = down ? PreviewAction::kStaysDown : PreviewAction::kStays,
                    .package = package,
                    .node = node,
                    .reason = is.note,
                    .text = package.value() +
                            (down ? ": stays down: "
                                  : ": stays" + (node ? " on " + node->value() : "") + ": ") +
                            note});
  }
}

}  // namespace

std::string_view PreviewActionName(PreviewAction action) {
  constexpr std::string_view kNames[] = {"start", "halt",  "down",         "stays_down",
                                         "stays", "ended", "cluster_start"};
  return kNames[static_cast<size_t>(action)];
}

PreviewPlan Preview(const PreviewInputs& in) {
  PreviewPlan plan;
  Simulation simulation(in, plan);
  if (!simulation.ApplyCommand()) return plan;
  simulation.Run();
  if (const std::optional<Outcome> outcome = simulation.CommandOutcome(); outcome && !outcome->ok) {
    plan.refused = outcome->message;
    return plan;
  }
  plan.accepted = true;
  return plan;
}

}  // namespace cmcl::node
