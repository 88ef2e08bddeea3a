// ControlEngine's administration commands (issue 9; control_engine.h): enable, disable,
// clear, node halt|run|readmit, cluster run|halt and config show. Each one is authorized
// first (Refuse with its Permission), then its names are checked (did you mean), then
// its op is proposed through Operate with the check that says when it has ended.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <utility>
#include <vector>

#include "cmcld/io/control/control_engine.h"

namespace cmcl::io::control {
namespace pb = ::cmcl::control;

namespace {

bool Placed(node::PackageStatus status) {
  return status == node::PackageStatus::kUp || status == node::PackageStatus::kStarting ||
         status == node::PackageStatus::kHalting;
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

}  // namespace

ControlEngine::OutcomeCheck ControlEngine::AtCommit(const Subject& subject,
                                                    const std::string& message) const {
  return [subject, message](raft::LogIndex index) -> std::optional<Answer> {
    return DoneAnswer(subject.key, subject.name, message, index.value());
  };
}

void ControlEngine::Enable(const Caller& caller, const pb::EnableRequest& request,
                           std::shared_ptr<Call> call) {
  std::optional<Answer> refused = Refuse(caller, Permission::kPackageAdmin);
  if (!refused) refused = UnknownPackage(request.package());
  if (!refused && !request.node().empty()) refused = UnknownNode(request.node());
  if (refused) return call->Finish(*std::move(refused));
  node::EnableOp op{.package = PackageName(request.package()),
                    .node = std::nullopt,
                    .enable = request.enable(),
                    .by = By(caller)};
  std::string what = std::string(request.enable() ? "enable " : "disable ") + request.package();
  if (!request.node().empty()) {
    op.node = NodeName(request.node());
    what += " on " + request.node();
  }
  // The outcome is set when the op applies: the wait ends with the commit.
  Operate(what, op.package, {op}, false, default_timeout_, std::move(call));
}

void ControlEngine::Clear(const Caller& caller, const pb::ClearRequest& request,
                          std::shared_ptr<Call> call) {
  std::optional<Answer> refused = Refuse(caller, Permission::kPackageAdmin);
  if (!refused) refused = UnknownPackage(request.package());
  if (!refused && !request.owner_is_down().empty()) refused = UnknownNode(request.owner_is_down());
  if (refused) return call->Finish(*std::move(refused));
  node::ClearOp op{
      .package = PackageName(request.package()), .owner_is_down = std::nullopt, .by = By(caller)};
  if (!request.owner_is_down().empty()) op.owner_is_down = NodeName(request.owner_is_down());
  Operate("clear " + request.package(), op.package, {op}, request.no_wait(),
          TimeoutOf(request.timeout_ms()), std::move(call));
}

void ControlEngine::Node(const Caller& caller, const pb::NodeRequest& request,
                         std::shared_ptr<Call> call) {
  const std::string name = request.node().empty() ? core_.node().self().value() : request.node();
  std::optional<Answer> refused = Refuse(caller, Permission::kFullAdmin);
  if (!refused) refused = UnknownNode(name);
  if (refused) return call->Finish(*std::move(refused));
  const NodeName node(name);
  const Subject subject{"node", name};
  switch (request.action()) {
    case pb::NodeRequest::RUN: {
      node::NodeAdminOp op{.node = node, .halted = false, .by = By(caller)};
      return Operate("node run " + name, subject, {op}, false, default_timeout_,
                     AtCommit(subject, name + " is back in service"), std::move(call));
    }
    case pb::NodeRequest::READMIT: {
      // node_id 0: the raft does not track the node_ids voters present yet (raft.h); the
      // commit records the operator's word, and the node_id comes with that work.
      node::ReadmitOp op{.node = node, .node_id = 0, .by = By(caller)};
      return Operate("node readmit " + name, subject, {op}, false, default_timeout_,
                     AtCommit(subject, name + " readmitted"), std::move(call));
    }
    default: {
      node::NodeAdminOp op{.node = node, .halted = true, .by = By(caller)};
      const std::string what = "node halt " + name;
      OutcomeCheck outcome = [this, node, what](raft::LogIndex index) {
        return NodeHaltOutcome(node, what, index);
      };
      return Operate(what, subject, {op}, request.no_wait(), TimeoutOf(request.timeout_ms()),
                     std::move(outcome), std::move(call));
    }
  }
}

std::optional<Answer> ControlEngine::NodeHaltOutcome(const NodeName& node, const std::string& what,
                                                     raft::LogIndex index) const {
  const node::ClusterState& state = core_.node().state();
  if (!state.NodeHalted(node)) {
    return ErrorAnswer(
        "superseded", what + " was superseded: " + node.value() + " is back in service (node run)");
  }
  std::vector<std::string> placed;
  std::vector<std::string> halt_failed;
  for (const auto& [package, assignment] : state.assignments()) {
    if (assignment.owner != node) continue;
    const node::PackageStatus status = state.StatusOf(package);
    if (Placed(status)) placed.push_back(package.value());
    if (status == node::PackageStatus::kHaltFailed) halt_failed.push_back(package.value());
  }
  if (!placed.empty()) return std::nullopt;  // Its packages are still leaving.
  if (!halt_failed.empty()) {
    return ErrorAnswer("failed", what + ": " + node.value() + " is halted, but " +
                                     JoinNames(halt_failed) + " did not halt (halt_failed; see " +
                                     "pkgctl clear)");
  }
  return DoneAnswer("node", node.value(), node.value() + " halted; no package runs on it",
                    index.value());
}

void ControlEngine::ClusterRun(const Caller& caller, const pb::ClusterRunRequest& request,
                               std::shared_ptr<Call> call) {
  std::optional<Answer> refused = Refuse(caller, Permission::kFullAdmin);
  for (int i = 0; !refused && i < request.nodes_size(); ++i) {
    refused = UnknownNode(request.nodes(i));
  }
  if (refused) return call->Finish(*std::move(refused));
  // -n NODE ...: Serviceguard's cmruncl -n starts the cluster on those nodes; here they
  // must be up (heard from), so that placement does not start without them.
  const std::map<NodeName, std::vector<NetworkStatus>> networks = core_.Networks();
  std::vector<std::string> down;
  for (const std::string& name : request.nodes()) {
    if (NodeName(name) == core_.node().self()) continue;
    const auto it = networks.find(NodeName(name));
    const bool heard = it != networks.end() &&
                       std::any_of(it->second.begin(), it->second.end(),
                                   [](const NetworkStatus& network) { return network.up; });
    if (!heard) down.push_back(name);
  }
  if (!down.empty()) {
    return call->Finish(ErrorAnswer("node_down", "cluster run: " + JoinNames(down) +
                                                     " not heard from; start its cmcld first, " +
                                                     "or run without -n"));
  }
  node::ClusterRunOp op{.by = By(caller)};
  const std::string name = core_.config().cluster_name.value();
  const Subject subject{"cluster", name};
  Operate("cluster run", subject, {op}, false, default_timeout_,
          AtCommit(subject, "cluster " + name + ": placement starts"), std::move(call));
}

void ControlEngine::ClusterHalt(const Caller& caller, const pb::ClusterHaltRequest& request,
                                std::shared_ptr<Call> call) {
  if (std::optional<Answer> refused = Refuse(caller, Permission::kFullAdmin)) {
    return call->Finish(*std::move(refused));
  }
  node::ClusterHaltOp op{.force = request.force(), .by = By(caller)};
  const std::string what = request.force() ? "cluster halt --force" : "cluster halt";
  OutcomeCheck outcome = [this, what](raft::LogIndex index) {
    return ClusterHaltOutcome(what, index);
  };
  Operate(what, Subject{"cluster", core_.config().cluster_name.value()}, {op}, request.no_wait(),
          TimeoutOf(request.timeout_ms()), std::move(outcome), std::move(call));
}

std::optional<Answer> ControlEngine::ClusterHaltOutcome(const std::string& what,
                                                        raft::LogIndex index) const {
  const node::ClusterState& state = core_.node().state();
  const std::optional<node::Outcome>& end = state.cluster_outcome();
  if (end && end->command == index && !end->ok) {
    return ErrorAnswer("refused", what + " refused: " + end->message);
  }
  if (!state.cluster_halted()) {
    return ErrorAnswer("superseded", what + " was superseded: the cluster runs again");
  }
  std::vector<std::string> halt_failed;
  for (const auto& [package, assignment] : state.assignments()) {
    const node::PackageStatus status = state.StatusOf(package);
    if (Placed(status)) return std::nullopt;  // Still halting.
    if (status == node::PackageStatus::kHaltFailed) halt_failed.push_back(package.value());
  }
  const std::string name = core_.config().cluster_name.value();
  if (!halt_failed.empty()) {
    return ErrorAnswer("failed", what + ": " + JoinNames(halt_failed) +
                                     " did not halt (halt_failed; see pkgctl clear)");
  }
  return DoneAnswer("cluster", name, "cluster " + name + " halted; no package runs", index.value());
}

Answer ControlEngine::ConfigShow(const Caller& caller) {
  if (std::optional<Answer> refused = Refuse(caller, Permission::kRead)) return *refused;
  const std::string dir = core_.AppliedBundleDir();
  const std::string path = dir + "/cluster.yaml";
  std::ifstream in(path);
  if (dir.empty() || !in) {
    return ErrorAnswer("unavailable", "config show: no applied configuration bundle" +
                                          (dir.empty() ? std::string() : " at " + path));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return ConfigShowAnswer(core_.node().state().config_version(), dir, text.str());
}

}  // namespace cmcl::io::control
