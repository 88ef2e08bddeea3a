// `pkgctl node halt|run|readmit NODE` (Serviceguard: cmhaltnode / cmrunnode): take a
// node out of service (its packages leave per shutdown_policy; waits until none runs
// there), put it back (answers once committed), or let a node whose state_dir was lost
// vote again. An empty NODE (the cmrunnode/cmhaltnode aliases) is the daemon's node.
#include <string>
#include <vector>

#include "cmcld/core/common/names.h"
#include "pkgctl/client.h"
#include "pkgctl/commands.h"

namespace cmcl::pkgctl {

int RunNodeCommand(const GlobalOptions& options, const std::vector<std::string>& command_args,
                   bool node_optional, std::ostream& out, std::ostream& err) {
  namespace pb = ::cmcl::control;
  // Issue 10 (pkgctl/maintenance.cc), which takes its own -t.
  if (!command_args.empty() && command_args[0] == "maintenance" && !node_optional) {
    return RunMaintenance(options, true, {command_args.begin() + 1, command_args.end()}, out, err);
  }
  std::vector<std::string> args = command_args;
  const bool preview = TakePreview(args);
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    out << kNodeHelp;
    return args.empty() ? kExitUsage : kExitOk;
  }
  pb::NodeRequest request;
  const std::string& action = args[0];
  if (action == "halt") {
    request.set_action(pb::NodeRequest::HALT);
  } else if (action == "run") {
    request.set_action(pb::NodeRequest::RUN);
  } else if (action == "readmit") {
    request.set_action(pb::NodeRequest::READMIT);
  } else {
    const std::string match = ClosestMatch(action, {"halt", "run", "readmit", "maintenance"});
    return UsageError(options,
                      "node: unknown subcommand \"" + action + "\"" +
                          (match.empty() ? "" : "; did you mean \"" + match + "\"?"),
                      out, err);
  }
  WaitFlags wait;
  std::string error;
  for (size_t i = 1; i < args.size() && error.empty(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h" || arg == "--help") {
      out << kNodeHelp;
      return kExitOk;
    }
    if (ParseWaitFlag(args, i, wait, error)) continue;
    if (arg.size() > 1 && arg[0] == '-') {
      error = "unknown option " + arg + " (see pkgctl node --help)";
    } else if (request.node().empty()) {
      request.set_node(arg);
    } else {
      error = "expected one NODE";
    }
  }
  if (error.empty() && request.node().empty() && !node_optional) error = "missing NODE";
  if (!error.empty()) return UsageError(options, "node " + action + ": " + error, out, err);
  if (preview && action != "halt") return NoPreview(options, "node " + action, out, err);
  if (preview) {
    pb::PreviewRequest preview_request;
    *preview_request.mutable_node() = request;
    return CallPreview(options, preview_request, "node", args, out, err);
  }
  request.set_no_wait(wait.no_wait);
  request.set_timeout_ms(TimeoutMs(wait));
  const Rpc rpc = [&request](auto& stub, auto& context, auto& reply) {
    return stub.Node(&context, request, &reply);
  };
  return CallDaemon(options, rpc, WaitDeadline(wait), true, out, err);
}

int RunNode(const GlobalOptions& options, const std::vector<std::string>& args, std::ostream& out,
            std::ostream& err) {
  return RunNodeCommand(options, args, false, out, err);
}

}  // namespace cmcl::pkgctl
