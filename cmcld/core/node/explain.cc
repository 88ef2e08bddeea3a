#include "cmcld/core/node/explain.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "cmcld/core/node/displacement.h"

namespace cmcl::node {
namespace {

using validation::ViolationCode;

// What Explain reads about one package, looked up once.
struct Subject {
  const ExplainInputs& in;
  const config::PackageSpec& spec;
  const PackageRecord* record;   // nullptr: as configured.
  const Assignment* assignment;  // nullptr: never assigned.
  PackageStatus status;
  std::string name;  // The package's name, for messages and commands.

  bool Placed() const {
    return status == PackageStatus::kStarting || status == PackageStatus::kUp ||
           status == PackageStatus::kHalting;
  }
  bool Wanted() const { return record != nullptr ? record->Wanted(spec.auto_run) : spec.auto_run; }
  bool Switching() const {
    return record != nullptr ? record->Switching(spec.auto_run) : spec.auto_run;
  }
  std::string Command(const std::string& verb, const std::string& rest = {}) const {
    return "pkgctl " + verb + " " + name + (rest.empty() ? "" : " " + rest);
  }
};

void Add(std::vector<Finding>& out, std::string code, std::string message,
         std::string command = {}) {
  out.push_back(Finding{
      .code = std::move(code), .message = std::move(message), .command = std::move(command)});
}

std::string Join(const std::vector<std::string>& words, const std::string& separator) {
  std::string out;
  for (const std::string& word : words) out += (out.empty() ? "" : separator) + word;
  return out;
}

Finding StatusFinding(const Subject& s) {
  const std::string owner =
      s.assignment != nullptr && s.assignment->owner ? s.assignment->owner->value() : "";
  const std::string epoch =
      s.assignment != nullptr ? " (epoch " + std::to_string(s.assignment->epoch.value()) + ")" : "";
  std::string message;
  switch (s.status) {
    case PackageStatus::kUp:
      message = s.name + " is up on " + owner + epoch;
      break;
    case PackageStatus::kStarting:
      message = s.name + " is starting on " + owner + epoch;
      break;
    case PackageStatus::kHalting:
      message = s.name + " is halting on " + owner + epoch;
      break;
    case PackageStatus::kHaltFailed:
      message = s.name + " did not halt on " + owner + " (halt_failed): it may still run there";
      break;
    case PackageStatus::kFailed:
      message = s.name + " failed on " + owner +
                (s.assignment->reason.empty() ? "" : ": " + s.assignment->reason);
      break;
    case PackageStatus::kDown:
      message = s.name + " is down";
      if (s.record != nullptr && s.record->last_node) {
        message += " (it last ran on " + s.record->last_node->value() + ")";
      }
      break;
  }
  return Finding{.code = "status", .message = message, .command = {}};
}

void ClusterFindings(const Subject& s, std::vector<Finding>& out) {
  const ClusterState& state = s.in.state;
  if (!s.in.quorum) {
    Add(out, "no_quorum",
        s.in.liveness.self.value() + " has no quorum: this is its last applied state (index " +
            std::to_string(state.applied().value()) +
            ") and may be stale; nothing is placed, started or failed over until a majority "
            "of the voters is up");
  }
  if (state.cluster_halted()) {
    Add(out, "cluster_halted",
        "the cluster was halted (cluster halt --force): nothing starts until cluster run",
        "pkgctl cluster run");
  } else if (!state.cluster_started() && !s.Placed() && s.Wanted()) {
    Add(out, "cluster_start_wait",
        "initial placement has not started: it waits for every member, or "
        "cluster_start_wait",
        "pkgctl cluster run");
  }
  if (state.mode() == raft::LeaseMode::kDisarmed) {
    std::string left;
    if (s.in.disarm_left) left = ", " + FormatDuration(*s.in.disarm_left) + " left";
    Add(out, "disarmed",
        "the cluster is disarmed (for " + FormatDuration(state.disarm_length()) + left +
            "): a lost node's packages are failed over only after that long",
        "pkgctl cluster arm");
  }
}

// halt_failed, and the operator's (or a run script's) word that it stays down.
void WishFindings(const Subject& s, std::vector<Finding>& out) {
  if (s.status == PackageStatus::kHaltFailed) {
    const NodeName& owner = *s.assignment->owner;
    const bool lost = s.in.authoritative && !s.in.liveness.reachable.contains(owner);
    Add(out, "halt_failed",
        owner.value() + " could not halt it: nothing places it again until it is cleared" +
            (lost ? " (" + owner.value() +
                        " is not heard from; clear it once you know the "
                        "guest is stopped)"
                  : " (clear asks " + owner.value() + " whether the guest stopped)"),
        lost ? s.Command("clear", "--owner-is-down " + owner.value()) : s.Command("clear"));
    return;
  }
  bool run_says = false;  // A finding already suggests run, which turns switching on.
  const bool exit1 = s.assignment != nullptr && s.status == PackageStatus::kFailed &&
                     s.assignment->failure == FailureKind::kExit1;
  if (s.Placed()) {
    // Up, starting or halting: only switching matters (a halt in progress is not).
  } else if (s.record != nullptr && s.record->wanted == false && exit1) {
    run_says = true;
    Add(out, "run_failed",
        "its run script failed with exit 1 on " + s.assignment->owner->value() +
            ": it is neither restarted nor started elsewhere until an operator runs it",
        s.Command("run"));
  } else if (s.record != nullptr && s.record->wanted == false) {
    run_says = true;
    Add(out, "halted_by_operator",
        "halted by an operator (global switching off): it stays down until it is run",
        s.Command("run"));
  } else if (!s.Wanted()) {
    run_says = true;
    Add(out, "auto_run_off", "auto_run is false and nobody ran it: it starts only when asked",
        s.Command("run"));
  }
  if (!run_says && s.Wanted() && !s.Switching()) {
    Add(out, "switching_off",
        s.Placed() ? "global switching is off: it is not failed over if its node fails"
                   : "global switching is off: it is not placed or failed over automatically",
        s.Command("enable"));
  }
}

// Node switching and failed-node memory, in the package's preference order.
void NodeFindings(const Subject& s, std::vector<Finding>& out) {
  if (s.record == nullptr) return;
  for (const NodeName& node : s.spec.nodes) {
    if (s.record->switching_off.contains(node)) {
      Add(out, "node_switching_off",
          "node switching is off on " + node.value() + ": it is not placed there",
          s.Command("enable", "-n " + node.value()));
    }
    if (s.record->failed_nodes.contains(node)) {
      Add(out, "failed_node",
          "it failed on " + node.value() +
              " before (failed-node memory): it is not placed there again",
          s.Command("enable", "-n " + node.value()));
    }
  }
}

std::string IntentText(const Intent& intent) {
  std::string kind(IntentKindName(intent.kind));
  std::replace(kind.begin(), kind.end(), '_', ' ');
  return kind + " from " + intent.source.value() + " to " + intent.target.value() + " (" +
         std::string(IntentStepName(intent.step)) + ", index " +
         std::to_string(intent.index.value()) + ")";
}

// A lost owner, an intent in progress, a pending operator command.
void ProgressFindings(const Subject& s, std::vector<Finding>& out) {
  if (s.Placed() && s.in.authoritative && s.assignment->owner) {
    const NodeName& owner = *s.assignment->owner;
    if (!s.in.liveness.reachable.contains(owner)) {
      std::string when = "once its lease has certainly expired";
      const auto expiry = s.in.liveness.certain_expiry.find(owner);
      if (expiry != s.in.liveness.certain_expiry.end()) {
        when += " (in " +
                FormatDuration(std::max(Duration(0), expiry->second - s.in.liveness.now)) + ")";
      }
      Add(out, "owner_lost", owner.value() + " is not heard from: the package fails over " + when);
    }
  }
  if (s.record == nullptr) return;
  if (s.record->intent) {
    Add(out, "intent", "in progress: " + IntentText(*s.record->intent), s.Command("view"));
  }
  if (s.record->pending) {
    Add(out, "pending",
        "the operator's " + std::string(CommandKindName(s.record->pending->second)) + " (index " +
            std::to_string(s.record->pending->first.value()) + ") waits for its outcome");
  }
}

// Restarts and relocations used up: what keeps a failed package down (run resets them).
void CounterFindings(const Subject& s, std::vector<Finding>& out) {
  if (s.record == nullptr || s.status != PackageStatus::kFailed) return;
  const uint32_t max_relocations =
      s.spec.max_relocations.value_or(static_cast<uint32_t>(s.spec.nodes.size()));
  if (s.spec.max_restarts > 0 && s.record->restarts >= s.spec.max_restarts) {
    Add(out, "restarts_exhausted",
        "restarted " + std::to_string(s.record->restarts) + " times on its node (max_restarts " +
            std::to_string(s.spec.max_restarts) + ")");
  }
  if (s.record->relocations >= max_relocations) {
    Add(out, "relocations_exhausted",
        "relocated " + std::to_string(s.record->relocations) + " times (max_relocations " +
            std::to_string(max_relocations) +
            "): not relocated again until an operator runs it (run resets the counters)",
        s.Command("run"));
  }
}

std::string Codes(const std::vector<validation::Violation>& violations) {
  std::vector<std::string> codes;
  for (const validation::Violation& v : violations) {
    codes.emplace_back(validation::ViolationCodeName(v.code));
  }
  return Join(codes, ", ");
}

// The verdict for every candidate node, then — when it is down and wanted and every
// candidate refused — why nothing can run it.
void ValidationFindings(const Subject& s, std::vector<Finding>& out) {
  if (!s.in.candidates) return;
  size_t refused = 0;
  size_t capacity_only = 0;
  for (const validation::NodeResult& result : s.in.candidates->results) {
    const std::string node = result.node.value();
    std::string unchecked;
    if (!result.result.unchecked.empty()) {
      unchecked = " (unchecked: " + Codes(result.result.unchecked) + ")";
    }
    if (result.result.ok()) {
      Add(out, "validation_ok", node + ": may run it" + unchecked);
      continue;
    }
    ++refused;
    const bool capacity =
        std::all_of(result.result.violations.begin(), result.result.violations.end(),
                    [](const validation::Violation& v) {
                      return v.code == ViolationCode::kInsufficientCapacity;
                    });
    capacity_only += capacity ? 1 : 0;
    Add(out, "validation_refused",
        node + " refused: " + Codes(result.result.violations) + " — " +
            result.result.violations.front().message + unchecked,
        s.Command("check", "-n " + node));
  }
  const bool stuck = !s.Placed() && s.status != PackageStatus::kHaltFailed && s.Wanted();
  if (!stuck || refused == 0 || refused != s.in.candidates->results.size()) return;
  if (capacity_only == refused) {
    Add(out, "no_capacity",
        "no candidate node has the capacity for it (" + std::to_string(s.spec.guest.vcpus) +
            " vCPUs, " + s.spec.guest.memory.ToString() + ")");
  } else {
    Add(out, "no_node", "no candidate node passes migration validation");
  }
}

// Issue 10 (displacement.h): halted, or halting, to make room for a higher priority. The
// displacer's name comes from the note the coordinator gave it ("displaced by g1 (…)").
void DisplacementFindings(const Subject& s, std::vector<Finding>& out) {
  if (s.assignment == nullptr || s.record == nullptr ||
      s.assignment->halt_reason != ActionReason::kDisplaced ||
      (s.status != PackageStatus::kHalting && s.status != PackageStatus::kDown)) {
    return;
  }
  const std::string by = DisplacedByPrefix(s.record->note);
  const size_t open = by.find(" (");
  if (by.empty() || open == std::string::npos) return;
  const std::string displacer =
      by.substr(std::string("displaced by ").size(), open - std::string("displaced by ").size());
  Add(out, "displaced",
      s.name + " was " + by + " (displace_lower_priority): " +
          (s.status == PackageStatus::kHalting
               ? "it is halting, then starts wherever a node has the capacity"
               : "it starts again once a node has the capacity; halting " + displacer +
                     " frees its node"),
      "pkgctl halt " + displacer);
}

// The coordinator's last word and the last transition, and the last operator command.
void HistoryFindings(const Subject& s, std::vector<Finding>& out) {
  if (s.record != nullptr && !s.record->note.empty()) {
    Add(out, "note", "coordinator: " + s.record->note);
  }
  if (s.assignment != nullptr && !s.assignment->reason.empty() &&
      s.status != PackageStatus::kFailed) {
    Add(out, "last_reason", "last transition: " + s.assignment->reason);
  }
  if (s.record != nullptr && s.record->outcome) {
    const Outcome& o = *s.record->outcome;
    Add(out, "last_command",
        "last command: " + std::string(CommandKindName(o.kind)) + " (index " +
            std::to_string(o.command.value()) + ") " + (o.ok ? "ended: " : "failed: ") + o.message);
  }
}

}  // namespace

std::vector<Finding> MaintenanceAndDependencyFindings(const ExplainInputs& in,
                                                      const config::PackageSpec& spec) {
  std::vector<Finding> out;
  const ClusterState& state = in.state;
  const std::string& name = spec.name.value();
  const Assignment* a = state.Find(spec.name);
  const PackageRecord* record = state.FindPackage(spec.name);
  if (record != nullptr && record->maintenance) {
    out.push_back(Finding{.code = "package_maintenance",
                          .message = name + " is in maintenance: no automatic start, restart, "
                                            "failover or move",
                          .command = "pkgctl package maintenance " + name + " off"});
  } else if (a != nullptr && a->owner && !a->Free() && state.NodeFrozen(*a->owner)) {
    out.push_back(Finding{.code = "node_frozen",
                          .message = a->owner->value() + " is frozen for maintenance: " + name +
                                     " stays there, unmanaged",
                          .command = "pkgctl node maintenance " + a->owner->value() + " off"});
  }
  for (const NodeName& node : in.config.Members()) {
    if (!state.NodeInMaintenance(node)) continue;
    const bool listed =
        spec.all_nodes || std::find(spec.nodes.begin(), spec.nodes.end(), node) != spec.nodes.end();
    if (!listed) continue;
    out.push_back(Finding{.code = "node_maintenance",
                          .message = node.value() + " is in maintenance: it takes no package",
                          .command = "pkgctl node maintenance " + node.value() + " off"});
  }
  // depends_on (dependencies.h): each dependency that is not up, and where a same_node
  // one pins it.
  for (const config::Dependency& dependency : spec.depends_on) {
    const std::string& d = dependency.package.value();
    const Assignment* da = state.Find(dependency.package);
    const bool up = state.StatusOf(dependency.package) == PackageStatus::kUp;
    if (!up) {
      out.push_back(
          Finding{.code = "dependency_down",
                  .message = name + " depends on " + d + ", which is " +
                             std::string(PackageStatusName(state.StatusOf(dependency.package))) +
                             ": it starts once " + d + " is up",
                  .command = "pkgctl run " + d});
    } else if (dependency.location == config::DependencyLocation::kSameNode && da != nullptr &&
               da->owner) {
      out.push_back(Finding{.code = "dependency_same_node",
                            .message = name + " depends on " + d +
                                       " on the same node: it may "
                                       "run only on " +
                                       da->owner->value(),
                            .command = {}});
    }
  }
  return out;
}

Result<Explanation> Explain(const ExplainInputs& in, const PackageName& package) {
  const config::PackageSpec* spec = in.config.FindPackage(package);
  if (spec == nullptr) {
    std::vector<std::string> names;
    for (const config::PackageSpec& p : in.config.packages) names.push_back(p.name.value());
    const std::string match = ClosestMatch(package.value(), names);
    return Status::NotFound("unknown package \"" + package.value() + "\"" +
                            (match.empty() ? "" : "; did you mean \"" + match + "\"?"));
  }
  const Subject s{.in = in,
                  .spec = *spec,
                  .record = in.state.FindPackage(package),
                  .assignment = in.state.Find(package),
                  .status = in.state.StatusOf(package),
                  .name = package.value()};
  Explanation explanation{
      .package = package, .status = s.status, .node = {}, .findings = {}, .command = {}};
  if ((s.Placed() || s.status == PackageStatus::kHaltFailed) && s.assignment != nullptr) {
    explanation.node = s.assignment->owner;
  }
  std::vector<Finding>& out = explanation.findings;
  out.push_back(StatusFinding(s));
  ClusterFindings(s, out);
  WishFindings(s, out);
  CounterFindings(s, out);
  NodeFindings(s, out);
  for (Finding& finding : MaintenanceAndDependencyFindings(in, *spec)) {
    out.push_back(std::move(finding));
  }
  DisplacementFindings(s, out);
  ProgressFindings(s, out);
  ValidationFindings(s, out);
  HistoryFindings(s, out);
  const auto first =
      std::find_if(out.begin() + 1, out.end(), [](const Finding& f) { return !f.command.empty(); });
  if (first != out.end()) explanation.command = first->command;
  return explanation;
}

}  // namespace cmcl::node
