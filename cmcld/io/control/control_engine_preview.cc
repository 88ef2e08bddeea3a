// ControlEngine's `-t/--preview` (issue 10 item 3; control_engine.h, Preview): the inner
// request passes the same gates as the command itself — its Permission, its names (did
// you mean), a move's migration validation (RefuseMove), an arm's quorum — and is turned
// into the same op; then Node::Preview plays it forward on a copy of the applied state
// (cmcld/core/node/preview.h) and the plan is rendered. A gate that refuses answers as the
// command would (the same error object and exit status); a plan the state or the
// coordinator would refuse answers the preview object with "accepted": false, exit 1.
//
// Where it is answered: on the node pkgctl talks to, from its own applied state. The
// ready leader decides from its own liveness, so its plan is the coordinator's. A
// follower cannot see the others' liveness and has no path to ask the leader for a read
// (forwarding carries log commands only), so it counts every member not halted as up and
// none as lost, and says so in the answer ("authoritative": false, with the coordinator
// to ask).
//
// JSON: {"preview": true, "command", "accepted", "refused" (null when accepted), "node"
// (who answered), "authoritative", "coordinator" (null: unknown), "bounded", "steps":
// [{"action", "package", "node", "from", "reason", "after_ms", "text"}]}.
#include <spdlog/spdlog.h>

#include <string>
#include <utility>
#include <variant>

#include "cmcld/core/common/json_writer.h"
#include "cmcld/io/control/control_engine.h"

namespace cmcl::io::control {
namespace pb = ::cmcl::control;

namespace {

void OptionalString(JsonWriter& json, std::string_view key, const std::string* value) {
  json.Key(key);
  if (value == nullptr) {
    json.Null();
  } else {
    json.String(*value);
  }
}

void StepJson(JsonWriter& json, const node::PreviewStep& step) {
  json.BeginObject().Key("action").String(node::PreviewActionName(step.action));
  const std::string package = step.package ? step.package->value() : "";
  const std::string where = step.node ? step.node->value() : "";
  const std::string from = step.from ? step.from->value() : "";
  OptionalString(json, "package", step.package ? &package : nullptr);
  OptionalString(json, "node", step.node ? &where : nullptr);
  OptionalString(json, "from", step.from ? &from : nullptr);
  json.Key("reason").String(step.reason).Key("after_ms").Int(step.after.count());
  json.Key("text").String(step.text).EndObject();
}

Answer PreviewAnswer(const std::string& command, const node::PreviewPlan& plan,
                     const NodeName& self, const std::optional<NodeName>& coordinator) {
  JsonWriter json;
  json.BeginObject().Key("preview").Bool(true).Key("command").String(command);
  json.Key("accepted").Bool(plan.accepted);
  OptionalString(json, "refused", plan.accepted ? nullptr : &plan.refused);
  json.Key("node").String(self.value()).Key("authoritative").Bool(plan.authoritative);
  const std::string leader = coordinator ? coordinator->value() : "";
  OptionalString(json, "coordinator", coordinator ? &leader : nullptr);
  json.Key("bounded").Bool(plan.bounded).Key("steps").BeginArray();
  std::string text = "preview: " + command + " (nothing changed)\n";
  if (!plan.authoritative) {
    text += "  (" + self.value() + " is not the coordinator: every member not halted counted " +
            "up, none lost" + (coordinator ? "; ask " + coordinator->value() : std::string()) +
            " for the coordinator's view)\n";
  }
  for (const node::PreviewStep& step : plan.steps) {
    StepJson(json, step);
    text += "  " + step.text + "\n";
  }
  json.EndArray().EndObject();
  if (plan.steps.empty()) text += "  nothing would start, halt or move\n";
  if (plan.bounded) text += "  ... and more (the plan was cut after its first decisions)\n";
  if (!plan.accepted) text += "would be refused: " + plan.refused + "\n";
  return Answer{.exit_status = plan.accepted ? kExitOk : kExitRefused,
                .json = json.str(),
                .text = text,
                .is_error = false};
}

std::string CommandLine(const pb::PreviewRequest& request, const node::OpBatch& ops) {
  return request.command_line().empty() ? node::DescribeOps(ops) : request.command_line();
}

Answer NoPreview(const std::string& what) {
  return ErrorAnswer("usage",
                     what + " has no preview (-t): it " +
                         "moves nothing by itself, or is not a command that takes -t",
                     kExitUsage);
}

}  // namespace

// run, halt, move and enable: package_admin, like the commands.
std::variant<node::OpBatch, Answer> ControlEngine::PackagePreviewOps(
    const Caller& caller, const pb::PreviewRequest& request) {
  using Request = pb::PreviewRequest;
  std::optional<Answer> refused;
  switch (request.command_case()) {
    case Request::kRun: {
      const pb::RunRequest& r = request.run();
      refused = RefuseWrite(caller);
      if (!refused) refused = UnknownPackage(r.package());
      if (!refused && !r.node().empty()) refused = UnknownNode(r.node());
      if (refused) return *std::move(refused);
      node::RunOp op{.package = PackageName(r.package()),
                     .node = std::nullopt,
                     .enable_switching = !r.keep_switching(),
                     .by = By(caller)};
      if (!r.node().empty()) op.node = NodeName(r.node());
      return node::OpBatch{op};
    }
    case Request::kHalt: {
      refused = RefuseWrite(caller);
      if (!refused) refused = UnknownPackage(request.halt().package());
      if (refused) return *std::move(refused);
      return node::OpBatch{
          node::HaltOp{.package = PackageName(request.halt().package()), .by = By(caller)}};
    }
    case Request::kMove: {
      const pb::MoveRequest& r = request.move();
      refused = RefuseWrite(caller);
      if (!refused) refused = UnknownPackage(r.package());
      if (!refused) refused = UnknownNode(r.node());
      if (!refused) refused = RefuseMove(r);
      if (refused) return *std::move(refused);
      node::MoveOp op{.package = PackageName(r.package()),
                      .target = NodeName(r.node()),
                      .kind = node::IntentKind::kMove,
                      .vcpus = std::nullopt,
                      .memory_mb = std::nullopt,
                      .by = By(caller)};
      if (r.has_vcpus()) op.vcpus = r.vcpus();
      if (r.has_memory_mb()) op.memory_mb = r.memory_mb();
      return node::OpBatch{op};
    }
    case Request::kEnable: {
      const pb::EnableRequest& r = request.enable();
      if (!r.enable()) return NoPreview("disable");
      refused = RefuseWrite(caller);
      if (!refused) refused = UnknownPackage(r.package());
      if (!refused && !r.node().empty()) refused = UnknownNode(r.node());
      if (refused) return *std::move(refused);
      node::EnableOp op{.package = PackageName(r.package()),
                        .node = std::nullopt,
                        .enable = true,
                        .by = By(caller)};
      if (!r.node().empty()) op.node = NodeName(r.node());
      return node::OpBatch{op};
    }
    default:
      return ErrorAnswer("usage", "preview: no command to preview", kExitUsage);
  }
}

std::variant<node::OpBatch, Answer> ControlEngine::PreviewOps(const Caller& caller,
                                                              const pb::PreviewRequest& request) {
  using Request = pb::PreviewRequest;
  switch (request.command_case()) {
    case Request::kRun:
    case Request::kHalt:
    case Request::kMove:
    case Request::kEnable:
      return PackagePreviewOps(caller, request);
    case Request::kNode: {
      const pb::NodeRequest& r = request.node();
      if (r.action() != pb::NodeRequest::HALT) return NoPreview("node run/readmit");
      const std::string name = r.node().empty() ? core_.node().self().value() : r.node();
      std::optional<Answer> refused = Refuse(caller, Permission::kFullAdmin);
      if (!refused) refused = UnknownNode(name);
      if (refused) return *std::move(refused);
      return node::OpBatch{
          node::NodeAdminOp{.node = NodeName(name), .halted = true, .by = By(caller)}};
    }
    case Request::kMaintenance:
      return MaintenanceOffOps(caller, request.maintenance());
    case Request::kClusterMode: {
      if (request.cluster_mode().disarm()) return NoPreview("cluster disarm");
      if (std::optional<Answer> no = Refuse(caller, Permission::kFullAdmin)) return *no;
      const node::Node& node = core_.node();
      if (node.state().mode() == raft::LeaseMode::kArmed) {
        // As the command: armed already, nothing would be proposed.
        node::PreviewPlan nothing{.accepted = true};
        nothing.authoritative = node.raft().LeaderReady();
        return PreviewAnswer(CommandLine(request, {}), nothing, node.self(), node.raft().leader());
      }
      if (!node.HasQuorum(core_.Now())) {
        return ErrorAnswer("no_quorum", "cluster arm refused: " + node.self().value() +
                                            " has no quorum (no coordinator with a majority " +
                                            "heard within node_timeout)");
      }
      return node::OpBatch{node::ClusterModeOp{.disarm_for = std::nullopt, .by = By(caller)}};
    }
    case Request::COMMAND_NOT_SET:
      break;
  }
  return ErrorAnswer("usage", "preview: no command to preview", kExitUsage);
}

std::variant<node::OpBatch, Answer> ControlEngine::MaintenanceOffOps(
    const Caller& caller, const pb::MaintenanceRequest& request) {
  if (request.on()) return NoPreview("maintenance on");
  const bool for_node = !request.node().empty();
  if (for_node == !request.package().empty()) {
    return ErrorAnswer("usage", "maintenance names a node or a package", kExitUsage);
  }
  std::optional<Answer> refused =
      Refuse(caller, for_node ? Permission::kFullAdmin : Permission::kPackageAdmin);
  if (!refused) {
    refused = for_node ? UnknownNode(request.node()) : UnknownPackage(request.package());
  }
  if (refused) return *std::move(refused);
  node::MaintenanceOp op{.node = std::nullopt,
                         .package = std::nullopt,
                         .on = false,
                         .freeze = false,
                         .by = By(caller)};
  if (for_node) {
    op.node = NodeName(request.node());
  } else {
    op.package = PackageName(request.package());
  }
  return node::OpBatch{op};
}

Answer ControlEngine::Preview(const Caller& caller, const pb::PreviewRequest& request) {
  std::variant<node::OpBatch, Answer> ops = PreviewOps(caller, request);
  if (Answer* answer = std::get_if<Answer>(&ops)) return std::move(*answer);
  const node::Node& node = core_.node();
  const node::PreviewPlan plan = node.Preview(std::get<node::OpBatch>(ops));
  const std::string command = request.command_line().empty()
                                  ? node::DescribeOps(std::get<node::OpBatch>(ops))
                                  : request.command_line();
  spdlog::debug("control: preview of {}: {} step(s), {}", command, plan.steps.size(),
                plan.accepted ? "accepted" : "refused: " + plan.refused);
  return PreviewAnswer(command, plan, node.self(), node.raft().leader());
}

}  // namespace cmcl::io::control
