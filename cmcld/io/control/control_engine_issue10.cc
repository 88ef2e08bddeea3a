// ControlEngine's commands of issue 10 (control_engine.h): cluster disarm / arm, and
// explain. Disarm and arm are full_admin commands that change the lease terms of the
// whole cluster (DESIGN.md section 4, "Disarm is a long lease"), so they are refused at
// once without quorum, rather than waiting out a timeout for a leader that is not there.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cmcld/core/common/json_writer.h"
#include "cmcld/io/control/control_engine.h"

namespace cmcl::io::control {
namespace pb = ::cmcl::control;

namespace {

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

// Whole seconds, rounded up, so that "0s left" is never said while time is left.
std::string Left(Duration left) {
  return FormatDuration(Duration((left.count() + 999) / 1000 * 1000));
}

Answer ExplainAnswer(const node::Explanation& e) {
  JsonWriter json;
  json.BeginObject().Key("package").String(e.package.value());
  json.Key("status").String(node::PackageStatusName(e.status)).Key("node");
  if (e.node) {
    json.String(e.node->value());
  } else {
    json.Null();
  }
  json.Key("findings").BeginArray();
  std::string text = e.findings.front().message + "\n";
  for (const node::Finding& f : e.findings) {
    json.BeginObject().Key("code").String(f.code).Key("message").String(f.message);
    json.Key("command");
    if (f.command.empty()) {
      json.Null();
    } else {
      json.String(f.command);
    }
    json.EndObject();
    if (&f != &e.findings.front()) text += "  - " + f.message + "\n";
  }
  json.EndArray().Key("command");
  if (e.command.empty()) {
    json.Null();
  } else {
    json.String(e.command);
  }
  json.EndObject();
  text += e.command.empty() ? "Nothing to do.\n" : "Suggested: " + e.command + "\n";
  return Answer{.exit_status = kExitOk, .json = json.str(), .text = text, .is_error = false};
}

}  // namespace

void ControlEngine::ClusterMode(const Caller& caller, const pb::ClusterModeRequest& request,
                                std::shared_ptr<Call> call) {
  if (std::optional<Answer> refused = Refuse(caller, Permission::kFullAdmin)) {
    return call->Finish(*std::move(refused));
  }
  const std::string name = core_.config().cluster_name.value();
  const Duration length(request.disarm_for_ms());
  const std::string what =
      request.disarm() ? "cluster disarm --for " + FormatDuration(length) : "cluster arm";
  if (request.disarm() && length <= Duration(0)) {
    return call->Finish(ErrorAnswer(
        "usage", "cluster disarm needs --for DURATION (at most disarm_max)", kExitUsage));
  }
  if (request.disarm() && length > core_.config().disarm_max) {
    return call->Finish(ErrorAnswer(
        "refused", what + " refused: " + FormatDuration(length) + " is longer than disarm_max (" +
                       FormatDuration(core_.config().disarm_max) + ")"));
  }
  const node::Node& node = core_.node();
  if (!request.disarm() && node.state().mode() == raft::LeaseMode::kArmed) {
    return call->Finish(DoneAnswer("cluster", name, "cluster " + name + " is armed already",
                                   node.state().applied().value()));
  }
  if (!node.HasQuorum(core_.Now())) {
    return call->Finish(ErrorAnswer(
        "no_quorum", what + " refused: " + node.self().value() +
                         " has no quorum (no coordinator with a majority heard within " +
                         "node_timeout); the cluster's mode changes only with a majority of " +
                         "the voters up"));
  }
  node::ClusterModeOp op{.disarm_for = std::nullopt, .by = By(caller)};
  OutcomeCheck outcome;
  if (request.disarm()) {
    op.disarm_for = length;
    outcome = [this](raft::LogIndex index) { return DisarmOutcome(index); };
  } else {
    // Wait up to 2 node_timeout after the commit for the armed(F) of every node heard from.
    auto since = std::make_shared<std::optional<Time>>();
    outcome = [this, since](raft::LogIndex index) {
      if (!*since) *since = core_.Now();
      return ArmOutcome(index, core_.Now() - **since >= 2 * core_.config().node_timeout);
    };
  }
  Operate(what, Subject{"cluster", name}, {op}, request.no_wait(), TimeoutOf(request.timeout_ms()),
          std::move(outcome), std::move(call));
}

std::optional<Answer> ControlEngine::DisarmOutcome(raft::LogIndex index) const {
  const node::Node& node = core_.node();
  const node::ClusterState& state = node.state();
  const std::string name = core_.config().cluster_name.value();
  if (state.mode() != raft::LeaseMode::kDisarmed || state.latest_disarm() != index) {
    return ErrorAnswer("superseded",
                       "cluster disarm was committed at index " + std::to_string(index.value()) +
                           ", but a later arm or disarm replaced it (see pkgctl view)");
  }
  const Duration length = state.disarm_length();
  const Duration left = node.DisarmLeft(core_.Now()).value_or(length);
  const std::string message = "cluster " + name + " disarmed for " + FormatDuration(length) + " (" +
                              Left(left) + " left): nothing fails over until a lost " +
                              "node's lease of " + FormatDuration(length) +
                              " ends; the coordinator arms it again when the time is up " +
                              "(pkgctl cluster arm ends it sooner)";
  JsonWriter json;
  json.BeginObject().Key("cluster").String(name).Key("ok").Bool(true);
  json.Key("mode").String("disarmed").Key("disarm_ms").Int(length.count());
  json.Key("disarmed_left_ms").Int(left.count()).Key("message").String(message);
  json.Key("index").Int(static_cast<int64_t>(index.value())).EndObject();
  return Answer{.exit_status = kExitOk, .json = json.str(), .text = message, .is_error = false};
}

std::optional<Answer> ControlEngine::ArmOutcome(raft::LogIndex index, bool waited) const {
  const node::ClusterState& state = core_.node().state();
  const std::string name = core_.config().cluster_name.value();
  if (state.latest_arm() != index) {
    const bool armed = state.mode() == raft::LeaseMode::kArmed;
    return DoneAnswer("cluster", name,
                      armed ? "cluster " + name + " was armed already"
                            : "cluster " + name + " was disarmed again after this arm",
                      index.value());
  }
  // armed(F) follows within a heartbeat or two on every node that is up; the answer says
  // who has not confirmed yet, and how long a failover from those still waits.
  const std::map<NodeName, std::vector<NetworkStatus>> networks = core_.Networks();
  std::vector<std::string> unconfirmed;
  Duration wait(0);
  bool heard_unconfirmed = false;
  for (const config::NodeSpec& spec : core_.config().nodes) {
    if (state.ArmedSinceLatestArm(spec.name)) continue;
    unconfirmed.push_back(spec.name.value());
    wait = std::max(wait, state.WaitFor(spec.name));
    const auto it = networks.find(spec.name);
    heard_unconfirmed =
        heard_unconfirmed || spec.name == core_.node().self() ||
        (it != networks.end() && std::any_of(it->second.begin(), it->second.end(),
                                             [](const NetworkStatus& n) { return n.up; }));
  }
  if (heard_unconfirmed && !waited) return std::nullopt;
  std::string message =
      "cluster " + name + " armed (lease " + FormatDuration(state.lease_length()) + ")";
  if (unconfirmed.empty()) {
    message += "; every node took the short lease";
  } else {
    message += "; not confirmed yet by " + JoinNames(unconfirmed) +
               ": a failover from them still waits up to " + FormatDuration(wait) +
               " until they do (within a heartbeat for a node that is up)";
  }
  JsonWriter json;
  json.BeginObject().Key("cluster").String(name).Key("ok").Bool(true);
  json.Key("mode").String("normal").Key("unconfirmed").BeginArray();
  for (const std::string& node : unconfirmed) json.String(node);
  json.EndArray().Key("unconfirmed_wait_ms").Int(wait.count());
  json.Key("message").String(message);
  json.Key("index").Int(static_cast<int64_t>(index.value())).EndObject();
  return Answer{.exit_status = kExitOk, .json = json.str(), .text = message, .is_error = false};
}

Answer ControlEngine::Explain(const Caller& caller, const pb::ExplainRequest& request) {
  if (std::optional<Answer> refused = Refuse(caller, Permission::kRead)) return *refused;
  if (std::optional<Answer> unknown = UnknownPackage(request.package())) return *unknown;
  const Result<node::Explanation> explanation =
      core_.node().Explain(PackageName(request.package()), core_.Now());
  if (!explanation.ok()) return ErrorAnswer("not_found", explanation.status().message());
  return ExplainAnswer(*explanation);
}

}  // namespace cmcl::io::control
