// ControlEngine's maintenance command (issue 10; MaintenanceOp in cluster_state.h has the
// semantics): `node maintenance NODE on|off [--freeze]` needs kFullAdmin like the other
// node commands, `package maintenance PKG on|off` (cmmodpkg -m) kPackageAdmin like
// enable/disable. Names are checked first (did you mean). A package's answer is its
// outcome (set when the op applies); `node maintenance on` without --freeze waits until
// none of the node's packages is still leaving it: each one left, or stays because no
// node can take it (its note says why, and the answer names it). Off and --freeze answer
// once committed: they move nothing themselves.
#include <spdlog/spdlog.h>

#include <string>
#include <utility>
#include <vector>

#include "cmcld/io/control/control_engine.h"

namespace cmcl::io::control {
namespace pb = ::cmcl::control;

void ControlEngine::Maintenance(const Caller& caller, const pb::MaintenanceRequest& request,
                                std::shared_ptr<Call> call) {
  const bool for_node = !request.node().empty();
  if (for_node == !request.package().empty()) {
    return call->Finish(ErrorAnswer("usage", "maintenance names a node or a package", kExitUsage));
  }
  if (!for_node && request.freeze()) {
    return call->Finish(ErrorAnswer("usage", "--freeze is for node maintenance only", kExitUsage));
  }
  std::optional<Answer> refused =
      Refuse(caller, for_node ? Permission::kFullAdmin : Permission::kPackageAdmin);
  if (!refused)
    refused = for_node ? UnknownNode(request.node()) : UnknownPackage(request.package());
  if (refused) return call->Finish(*std::move(refused));
  const std::string state = request.on() ? "on" : "off";
  node::MaintenanceOp op{.node = std::nullopt,
                         .package = std::nullopt,
                         .on = request.on(),
                         .freeze = request.on() && request.freeze(),
                         .by = By(caller)};
  if (!for_node) {
    op.package = PackageName(request.package());
    return Operate("package maintenance " + request.package() + " " + state, *op.package, {op},
                   request.no_wait(), TimeoutOf(request.timeout_ms()), std::move(call));
  }
  const NodeName node(request.node());
  op.node = node;
  const std::string what =
      "node maintenance " + request.node() + " " + state + (op.freeze ? " --freeze" : "");
  const Subject subject{"node", request.node()};
  if (!op.on || op.freeze) {
    const std::string message =
        !op.on ? request.node() +
                     " is out of maintenance; nothing moves back unless a "
                     "policy (failback automatic) says so"
               : request.node() + " is in maintenance, frozen: its packages stay, unmonitored";
    return Operate(what, subject, {op}, request.no_wait(), TimeoutOf(request.timeout_ms()),
                   AtCommit(subject, message), std::move(call));
  }
  OutcomeCheck outcome = [this, node, what](raft::LogIndex index) {
    return NodeMaintenanceOutcome(node, what, index);
  };
  Operate(what, subject, {op}, request.no_wait(), TimeoutOf(request.timeout_ms()),
          std::move(outcome), std::move(call));
}

std::optional<Answer> ControlEngine::NodeMaintenanceOutcome(const NodeName& node,
                                                            const std::string& what,
                                                            raft::LogIndex index) const {
  const node::ClusterState& state = core_.node().state();
  if (!state.NodeInMaintenance(node) || state.NodeFrozen(node)) {
    return ErrorAnswer("superseded", what + " was superseded by a later maintenance command");
  }
  std::vector<std::string> staying;
  for (const auto& [package, assignment] : state.assignments()) {
    if (assignment.owner != node || assignment.Free()) continue;
    const node::PackageRecord* record = state.FindPackage(package);
    if (record != nullptr && record->intent) return std::nullopt;  // Still leaving.
    if (state.PackageInMaintenance(package)) {
      staying.push_back(package.value() + " (in package maintenance)");
    } else if (record != nullptr && !record->note.empty()) {
      staying.push_back(package.value() + " (" + record->note + ")");
    } else {
      return std::nullopt;  // Not decided yet (starting, or the coordinator's next call).
    }
  }
  std::string message = node.value() + " is in maintenance; ";
  if (staying.empty()) {
    message += "no package runs on it";
  } else {
    message += "staying there: ";
    for (size_t i = 0; i < staying.size(); ++i) message += (i ? "; " : "") + staying[i];
  }
  return DoneAnswer("node", node.value(), message, index.value());
}

}  // namespace cmcl::io::control
