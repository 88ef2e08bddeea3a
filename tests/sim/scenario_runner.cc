#include "tests/sim/scenario_runner.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

#include "tests/sim/scenario_script.h"
#include "tests/sim/simulation.h"

namespace cmcl::sim {
namespace {

constexpr Duration kStep = Duration(10);  // `within`/`for` are checked every 10 ms.

// The bundle's stand-in hash: the same on every standard library (std::hash is not).
std::string Fnv1a(const std::string& text) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (const char c : text) {
    hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  }
  return std::to_string(hash);
}

std::string Stamp(Time t) {
  const int64_t ms = t.milliseconds();
  char text[32];
  std::snprintf(text, sizeof text, "%4lld.%02llds", static_cast<long long>(ms / 1000),
                static_cast<long long>(ms % 1000 / 10));
  return text;
}

// The event log: the simulator's trace, filtered and reworded (scenario_runner.h).
class EventLog {
 public:
  void Add(Time t, const std::string& who, const std::string& what) {
    char who_column[8];
    std::snprintf(who_column, sizeof who_column, "%-4s", who.c_str());
    text_ += Stamp(t) + "  " + who_column + " " + what + "\n";
  }
  void Observe(Time t, const std::string& node, const std::string& what, const std::string& detail);
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  std::map<std::string, bool> leader_;  // Per node: the last role trace said leader.
};

std::string After(const std::string& text, const std::string& prefix) {
  return text.rfind(prefix, 0) == 0 ? text.substr(prefix.size()) : text;
}

void EventLog::Observe(Time t, const std::string& node, const std::string& what,
                       const std::string& detail) {
  if (what == "role") {
    const bool leader = detail.rfind("leader", 0) == 0;
    if (leader && !leader_[node]) {
      const size_t term = detail.find("t=");
      Add(t, node,
          "becomes coordinator (term " +
              detail.substr(term + 2, detail.find(' ', term) - term - 2) + ")");
    } else if (!leader && leader_[node]) {
      Add(t, node, "is no longer coordinator");
    }
    leader_[node] = leader;
  } else if (what == "event" || what == "event!") {
    Add(t, "--", (what == "event!" ? "! " : "") + detail);
  } else if (what == "driver") {
    const size_t reason = detail.find(" reason=");
    Add(t, node,
        reason == std::string::npos
            ? detail
            : detail.substr(0, reason) + " (" + detail.substr(reason + 8) + ")");
  } else if (what == "reported") {
    const size_t space = detail.find(' ', detail.find(' ') + 1);
    Add(t, node, detail.substr(0, space) + ":" + detail.substr(space));
  } else if (what == "guard-fence") {
    const size_t killing = detail.find("killing ");
    Add(t, node, "guard fences: " + detail.substr(killing));
  } else if (what == "start") {
    const size_t guard = detail.find("guard: ");
    const std::string state = detail.substr(guard + 7);
    Add(t, node, "cmcld starts (guard: " + state.substr(state.find(", ") + 2) + ")");
  } else if (what == "node-crash") {
    Add(t, node, "node crashed: " + detail);
  } else if (what == "crash") {
    Add(t, node, "cmcld crashed");
  } else if (what == "rejected") {
    Add(t, "--", "command rejected: " + After(detail, detail.substr(0, detail.find(' ') + 1)));
  } else if (what == "verdict") {
    Add(t, node, "config verdict: " + detail);
  } else if (what == "config") {
    Add(t, node, detail);
  } else if (what == "log!") {
    Add(t, node, "! " + detail);
  }
}

struct Expectation {
  std::string subject;             // A package, a node, or "coordinator".
  std::vector<std::string> claim;  // What is expected of it.
  enum class Mode { kNow, kWithin, kFor } mode = Mode::kNow;
  Duration span = Duration(0);
};

class Runner {
 public:
  Runner(const ScenarioScript& script, const std::function<void(const std::string&)>& trace)
      : script_(script), trace_(trace), sim_(script_.options, trace_, script_.packages) {
    sim_.ScriptClient({});  // Only the scenario's commands, none of the random workload.
    sim_.Observe([this](Time t, const std::string& node, const std::string& what,
                        const std::string& detail) { log_.Observe(t, node, what, detail); });
  }
  ScenarioResult Run();

 private:
  std::optional<std::string> Do(const ScenarioStep& step);
  std::optional<std::string> Fault(const std::vector<std::string>& w);
  std::optional<std::string> Command(const std::vector<std::string>& w);
  std::optional<std::string> PackageCommand(const std::vector<std::string>& w);
  std::optional<std::string> Config(const std::vector<std::string>& w);
  std::optional<std::string> Expect(const std::vector<std::string>& w);
  std::optional<std::string> Holds(const Expectation& e) const;  // nullopt: it holds.
  std::optional<std::string> PackageHolds(const std::string& package,
                                          const std::vector<std::string>& claim) const;
  bool Advance(Time until);  // False on a violation.
  bool IsNode(const std::string& name) const;
  bool IsPackage(const std::string& name) const;
  const node::ClusterState* LeaderState() const;

  const ScenarioScript& script_;
  std::function<void(const std::string&)> trace_;
  internal::Simulation sim_;
  EventLog log_;
};

bool Runner::IsNode(const std::string& name) const {
  for (const NodeName& node : sim_.Names()) {
    if (node.value() == name) return true;
  }
  return false;
}

bool Runner::IsPackage(const std::string& name) const {
  return script_.packages->config->FindPackage(PackageName(name)) != nullptr;
}

const node::ClusterState* Runner::LeaderState() const {
  const std::optional<NodeName> leader = sim_.Leader();
  return leader ? &sim_.Core(leader->value())->state() : nullptr;
}

bool Runner::Advance(Time until) {
  if (until <= sim_.now()) {
    return !sim_.violation();
  }
  return sim_.RunUntil(until);
}

ScenarioResult Runner::Run() {
  ScenarioResult result;
  sim_.Setup();
  for (const ScenarioStep& step : script_.steps) {
    if (step.at && *step.at < sim_.now()) {
      result.error = "line " + std::to_string(step.line) + ": step at " + Stamp(*step.at) +
                     " but the scenario is already at " + Stamp(sim_.now());
      break;
    }
    if (step.at && !Advance(*step.at)) {
      break;
    }
    log_.Add(sim_.now(), "==", step.text);
    if (std::optional<std::string> error = Do(step)) {
      result.error = "line " + std::to_string(step.line) + ": " + *error;
      break;
    }
    if (sim_.violation()) {
      break;
    }
  }
  if (sim_.violation()) {
    result.error = "violation: " + *sim_.violation();
  }
  result.log = log_.text();
  if (!result.error.empty()) {
    result.log += Stamp(sim_.now()) + "  FAILED " + result.error + "\n";
  }
  result.ok = result.error.empty();
  return result;
}

std::optional<std::string> Runner::Do(const ScenarioStep& step) {
  const std::vector<std::string>& w = step.words;
  if (w[0] == "wait" && w.size() == 2 && ParseScenarioDuration(w[1])) {
    Advance(sim_.now() + *ParseScenarioDuration(w[1]));
    return std::nullopt;
  }
  if (w[0] == "expect") {
    return Expect(w);
  }
  static const std::set<std::string> kFaults = {
      "crash", "kill", "restart", "pause", "resume", "isolate", "partition", "heal", "block"};
  return kFaults.contains(w[0]) ? Fault(w) : Command(w);
}

std::optional<std::string> Runner::Fault(const std::vector<std::string>& w) {
  if (w[0] == "heal" && w.size() == 1) {
    sim_.HealNetwork();
    return std::nullopt;
  }
  if (w[0] == "partition") {
    // partition n1 | n2 n3: every link between the two sides is cut, both ways.
    std::vector<std::string> left;
    std::vector<std::string> right;
    bool bar = false;
    for (size_t i = 1; i < w.size(); ++i) {
      if (w[i] == "|") {
        bar = true;
      } else if (!IsNode(w[i])) {
        return "unknown node " + w[i];
      } else {
        (bar ? right : left).push_back(w[i]);
      }
    }
    if (!bar || left.empty() || right.empty()) {
      return "partition A [B...] | C [D...]";
    }
    for (const std::string& a : left) {
      for (const std::string& b : right) {
        sim_.Block(a, b);
        sim_.Block(b, a);
      }
    }
    return std::nullopt;
  }
  if (w[0] == "block" && w.size() == 3 && IsNode(w[1]) && IsNode(w[2])) {
    sim_.Block(w[1], w[2]);  // One way: w[1]'s messages to w[2] are lost.
    return std::nullopt;
  }
  if (w.size() != 2 || !IsNode(w[1])) {
    return w[0] + " takes one node";
  }
  if (w[0] == "crash") {
    sim_.CrashWhole(w[1]);
  } else if (w[0] == "kill") {
    sim_.Crash(w[1]);
  } else if (w[0] == "restart") {
    if (sim_.Core(w[1]) != nullptr) {
      return "restart: cmcld runs on " + w[1] + " (crash or kill it first)";
    }
    sim_.Restart(w[1]);
  } else if (w[0] == "pause") {
    sim_.Pause(w[1]);
  } else if (w[0] == "resume") {
    sim_.Resume(w[1]);
  } else {
    sim_.Isolate(w[1]);
  }
  return std::nullopt;
}

std::optional<std::string> Runner::Command(const std::vector<std::string>& w) {
  const std::string by = "scenario";
  if (w[0] == "node" && w.size() == 3 && (w[1] == "halt" || w[1] == "run") && IsNode(w[2])) {
    sim_.Submit({node::NodeAdminOp{.node = NodeName(w[2]), .halted = w[1] == "halt", .by = by}});
  } else if (w[0] == "cluster" && w.size() >= 2 && w[1] == "halt") {
    sim_.Submit({node::ClusterHaltOp{.force = w.size() == 3 && w[2] == "--force", .by = by}});
  } else if (w[0] == "cluster" && w.size() == 2 && w[1] == "run") {
    sim_.Submit({node::ClusterRunOp{.by = by}});
  } else if (w[0] == "disarm" && w.size() == 2 && ParseScenarioDuration(w[1])) {
    sim_.Submit({node::DisarmOp{.length = *ParseScenarioDuration(w[1])}});
  } else if (w[0] == "arm" && w.size() == 1) {
    sim_.Submit({node::ArmOp{}});
  } else if (w[0] == "maintenance" && (w.size() == 3 || w.size() == 4) &&
             (w[2] == "on" || w[2] == "off") && (IsNode(w[1]) || IsPackage(w[1]))) {
    // maintenance NODE on [--freeze] | maintenance NODE off | maintenance PKG on|off
    const bool freeze = w.size() == 4 && w[3] == "--freeze";
    if (w.size() == 4 && (!freeze || w[2] != "on" || !IsNode(w[1]))) {
      return "maintenance NODE on [--freeze] | NODE off | PKG on|off";
    }
    node::MaintenanceOp op{.on = w[2] == "on", .freeze = freeze, .by = by};
    if (IsNode(w[1])) {
      op.node = NodeName(w[1]);
    } else {
      op.package = PackageName(w[1]);
    }
    sim_.Submit({op});
  } else if (w[0] == "config") {
    return Config(w);
  } else if (w.size() >= 2 && IsPackage(w[1])) {
    return PackageCommand(w);
  } else {
    return "unknown step";
  }
  return std::nullopt;
}

// run/halt/move/enable/disable/clear PKG [-n NODE] [--owner-is-down NODE] [--vcpus N]
// [--memory SIZE] [--no-switching] (the cmrunpkg alias: run without enabling switching).
std::optional<std::string> Runner::PackageCommand(const std::vector<std::string>& w) {
  const PackageName package(w[1]);
  std::optional<NodeName> node;
  std::optional<NodeName> owner_is_down;
  std::optional<uint32_t> vcpus;
  std::optional<uint64_t> memory_mb;
  bool switching = true;
  for (size_t i = 2; i < w.size(); ++i) {
    const bool has_value = i + 1 < w.size();
    if (w[i] == "--no-switching") {
      switching = false;
    } else if (has_value && (w[i] == "-n" || w[i] == "--owner-is-down")) {
      (w[i] == "-n" ? node : owner_is_down) = NodeName(w[i + 1]);
      ++i;
    } else if (has_value && w[i] == "--vcpus") {
      vcpus = static_cast<uint32_t>(std::stoul(w[++i]));
    } else if (has_value && w[i] == "--memory" && ParseByteSize(w[i + 1])) {
      memory_mb = ParseByteSize(w[++i])->bytes() >> 20;
    } else {
      return "bad option " + w[i];
    }
  }
  const std::string by = "scenario";
  const std::string& verb = w[0];
  if (verb == "run") {
    sim_.Submit(
        {node::RunOp{.package = package, .node = node, .enable_switching = switching, .by = by}});
  } else if (verb == "halt") {
    sim_.Submit({node::HaltOp{.package = package, .by = by}});
  } else if (verb == "move" && node) {
    sim_.Submit({node::MoveOp{.package = package,
                              .target = *node,
                              .kind = node::IntentKind::kMove,
                              .vcpus = vcpus,
                              .memory_mb = memory_mb,
                              .by = by}});
  } else if (verb == "enable" || verb == "disable") {
    sim_.Submit(
        {node::EnableOp{.package = package, .node = node, .enable = verb == "enable", .by = by}});
  } else if (verb == "clear") {
    sim_.Submit({node::ClearOp{.package = package, .owner_is_down = owner_is_down, .by = by}});
  } else {
    return "unknown package command " + verb;
  }
  return std::nullopt;
}

// config apply [refused-by NODE] [PKG not-on NODE] [without PKG]: a `config apply` of
// the next version, as sim_config.cc simulates one (the nodes keep using the
// scenario's configuration; the core decides around applying it).
std::optional<std::string> Runner::Config(const std::vector<std::string>& w) {
  const node::ClusterState* state = LeaderState();
  if (w.size() < 2 || w[1] != "apply") {
    return "config apply [refused-by NODE] [PKG not-on NODE] [without PKG]";
  }
  const uint64_t version = (state != nullptr ? state->config_version() : 1) + 1;
  std::map<PackageName, std::vector<NodeName>> lists;
  for (const PackageName& package : script_.packages->names) {
    const config::PackageSpec& spec = script_.packages->Spec(package);
    lists[package] = spec.all_nodes ? script_.packages->config->Members() : spec.nodes;
  }
  std::string bundle = "sim configuration version " + std::to_string(version) + ";";
  for (size_t i = 2; i < w.size(); ++i) {
    if (w[i] == "refused-by" && i + 1 < w.size() && IsNode(w[i + 1])) {
      bundle += " refused by " + w[++i] + ";";
    } else if (w[i] == "without" && i + 1 < w.size() && IsPackage(w[i + 1])) {
      lists.erase(PackageName(w[++i]));
      bundle += " without " + w[i] + ";";
    } else if (IsPackage(w[i]) && i + 2 < w.size() && w[i + 1] == "not-on" && IsNode(w[i + 2])) {
      std::erase(lists[PackageName(w[i])], NodeName(w[i + 2]));
      bundle += " " + w[i] + " not on " + w[i + 2] + ";";
      i += 2;
    } else {
      return "bad config apply option " + w[i];
    }
  }
  sim_.Submit({node::ConfigProposeOp{.version = version,
                                     .bundle_hash = Fnv1a(bundle),
                                     .bundle = bundle,
                                     .packages = std::move(lists),
                                     .by = "scenario"}});
  return std::nullopt;
}

// expect SUBJECT CLAIM... [within D | for D]
std::optional<std::string> Runner::Expect(const std::vector<std::string>& w) {
  Expectation e;
  size_t end = w.size();
  if (w.size() >= 4 && (w[w.size() - 2] == "within" || w[w.size() - 2] == "for")) {
    const std::optional<Duration> span = ParseScenarioDuration(w.back());
    if (!span) {
      return "bad duration " + w.back();
    }
    e.mode = w[w.size() - 2] == "within" ? Expectation::Mode::kWithin : Expectation::Mode::kFor;
    e.span = *span;
    end -= 2;
  }
  if (end < 3) {
    return "expect SUBJECT CLAIM [within D | for D]";
  }
  e.subject = w[1];
  e.claim.assign(w.begin() + 2, w.begin() + static_cast<std::ptrdiff_t>(end));
  const Time limit = sim_.now() + e.span;
  std::optional<std::string> why = Holds(e);
  if (why && why->rfind("bad expect", 0) == 0) {
    return why;
  }
  while (e.mode != Expectation::Mode::kNow && sim_.now() < limit && !sim_.violation()) {
    if (e.mode == Expectation::Mode::kWithin && !why) {
      break;
    }
    if (e.mode == Expectation::Mode::kFor && why) {
      break;
    }
    Advance(std::min(limit, sim_.now() + kStep));
    why = Holds(e);
  }
  if (sim_.violation()) {
    return std::nullopt;  // Run() reports it.
  }
  if (why) {
    return "expectation failed: " + *why;
  }
  log_.Add(sim_.now(), "==", "ok");
  return std::nullopt;
}

std::optional<std::string> Runner::Holds(const Expectation& e) const {
  const std::vector<std::string>& c = e.claim;
  if (e.subject == "coordinator") {
    const std::optional<NodeName> leader = sim_.Leader();
    const std::string actual = leader ? leader->value() : "none";
    if (c.size() == 1 && (c[0] == "none" || c[0] == "some")) {
      return (c[0] == "none") == !leader ? std::nullopt
                                         : std::optional<std::string>("coordinator " + actual);
    }
    if (c.size() == 1 && IsNode(c[0])) {
      return actual == c[0] ? std::nullopt : std::optional<std::string>("coordinator " + actual);
    }
    return "bad expect: coordinator NODE|none|some";
  }
  if (IsNode(e.subject)) {
    const SimHost& host = sim_.Host(e.subject);
    if (c.size() == 1 && (c[0] == "fenced" || c[0] == "unfenced")) {
      const bool fenced = sim_.Guard(e.subject).fenced();
      return fenced == (c[0] == "fenced")
                 ? std::nullopt
                 : std::optional<std::string>(e.subject + (fenced ? " fenced" : " not fenced"));
    }
    if (c.size() == 2 && c[0] == "runs" && (c[1] == "nothing" || IsPackage(c[1]))) {
      std::string held;
      for (const auto& [package, unused] : host.held()) held += " " + package.value();
      const bool ok = c[1] == "nothing" ? host.held().empty() : host.Holds(PackageName(c[1]));
      return ok ? std::nullopt
                : std::optional<std::string>(e.subject + " runs" +
                                             (held.empty() ? " nothing" : held));
    }
    if (c.size() == 1 && (c[0] == "in_maintenance" || c[0] == "not_in_maintenance")) {
      const node::ClusterState* state = LeaderState();
      if (state == nullptr) return std::string("no coordinator");
      const bool in = state->NodeInMaintenance(NodeName(e.subject));
      return in == (c[0] == "in_maintenance")
                 ? std::nullopt
                 : std::optional<std::string>(e.subject + (in ? " in" : " not in") +
                                              " maintenance");
    }
    return "bad expect: NODE fenced|unfenced|in_maintenance|not_in_maintenance | NODE runs "
           "PKG|nothing";
  }
  if (IsPackage(e.subject)) {
    return PackageHolds(e.subject, c);
  }
  return "bad expect: unknown subject " + e.subject;
}

// PKG STATUS [on NODE] | PKG remembers NODE | PKG forgets NODE, in the coordinator's
// applied state; `up on NODE` also needs NODE's host to run it at the current epoch.
std::optional<std::string> Runner::PackageHolds(const std::string& name,
                                                const std::vector<std::string>& c) const {
  const node::ClusterState* state = LeaderState();
  if (state == nullptr) {
    return "no coordinator";
  }
  const PackageName package(name);
  const node::Assignment* a = state->Find(package);
  const node::PackageRecord* record = state->FindPackage(package);
  if (c.size() == 2 && (c[0] == "remembers" || c[0] == "forgets") && IsNode(c[1])) {
    const bool remembered = record != nullptr && record->failed_nodes.contains(NodeName(c[1]));
    return remembered == (c[0] == "remembers")
               ? std::nullopt
               : std::optional<std::string>(name + (remembered ? " remembers " : " forgets ") +
                                            c[1]);
  }
  const std::string status(node::PackageStatusName(state->StatusOf(package)));
  const std::string owner = a != nullptr && a->owner ? a->owner->value() : "-";
  const std::string actual = name + " " + status + " (owner " + owner + ")";
  if (c.size() != 1 && !(c.size() == 3 && c[1] == "on" && IsNode(c[2]))) {
    return "bad expect: PKG STATUS [on NODE] | PKG remembers|forgets NODE";
  }
  if (status != c[0] || (c.size() == 3 && owner != c[2])) {
    return actual;
  }
  if (c[0] == "up" && c.size() == 3) {
    const auto& held = sim_.Host(c[2]).held();
    const auto it = held.find(package);
    if (it == held.end() || it->second.epoch != a->epoch) {
      return actual + " but " + c[2] + "'s host does not run it at its epoch";
    }
  }
  return std::nullopt;
}

}  // namespace

ScenarioResult RunScenario(const std::string& script,
                           const std::function<void(const std::string&)>& trace) {
  Result<ScenarioScript> parsed = ParseScenario(script);
  if (!parsed.ok()) {
    return ScenarioResult{.ok = false, .log = "", .error = parsed.status().message()};
  }
  Runner runner(*parsed, trace);
  return runner.Run();
}

}  // namespace cmcl::sim
