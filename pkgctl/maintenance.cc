// `pkgctl node maintenance NODE on|off [--freeze]` and `pkgctl package maintenance PKG
// on|off` (Serviceguard: cmmodpkg -m on|off PKG). Issue 10; the semantics are
// MaintenanceOp's (cmcld/core/node/cluster_state.h): node maintenance moves the node's
// packages away through validation (or, with --freeze, keeps them unmonitored) and
// keeps the node out of placement; package maintenance stops monitoring and failover of
// the package without halting it. Both survive restarts.
#include <string>
#include <vector>

#include "cmcld/core/common/names.h"
#include "pkgctl/client.h"
#include "pkgctl/commands.h"

namespace cmcl::pkgctl {

// `args` follow "maintenance": NAME on|off [--freeze] [--no-wait] [--timeout D].
int RunMaintenance(const GlobalOptions& options, bool for_node,
                   const std::vector<std::string>& command_args, std::ostream& out,
                   std::ostream& err) {
  namespace pb = ::cmcl::control;
  std::vector<std::string> args = command_args;
  const bool preview = TakePreview(args);
  const char* help = for_node ? kNodeHelp : kPackageHelp;
  const std::string what = for_node ? "node maintenance" : "package maintenance";
  const std::string subject = for_node ? "NODE" : "PKG";
  pb::MaintenanceRequest request;
  WaitFlags wait;
  std::string error;
  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size() && error.empty(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h" || arg == "--help") {
      out << help;
      return kExitOk;
    }
    if (ParseWaitFlag(args, i, wait, error)) continue;
    if (arg == "--freeze" && for_node) {
      request.set_freeze(true);
    } else if (arg.size() > 1 && arg[0] == '-') {
      error =
          "unknown option " + arg + " (see pkgctl " + (for_node ? "node" : "package") + " --help)";
    } else {
      positional.push_back(arg);
    }
  }
  if (error.empty() && positional.size() != 2) error = "expected " + subject + " on|off";
  if (error.empty() && positional[1] != "on" && positional[1] != "off") {
    const std::string match = ClosestMatch(positional[1], {"on", "off"});
    error = "expected on or off, not \"" + positional[1] + "\"" +
            (match.empty() ? "" : "; did you mean \"" + match + "\"?");
  }
  if (error.empty() && request.freeze() && positional[1] == "off") {
    error = "--freeze goes with on";
  }
  if (!error.empty()) return UsageError(options, what + ": " + error, out, err);
  if (for_node) {
    request.set_node(positional[0]);
  } else {
    request.set_package(positional[0]);
  }
  request.set_on(positional[1] == "on");
  if (preview && request.on()) return NoPreview(options, what + " on", out, err);
  if (preview) {
    pb::PreviewRequest preview_request;
    *preview_request.mutable_maintenance() = request;
    args.insert(args.begin(), "maintenance");
    return CallPreview(options, preview_request, for_node ? "node" : "package", args, out, err);
  }
  request.set_no_wait(wait.no_wait);
  request.set_timeout_ms(TimeoutMs(wait));
  const Rpc rpc = [&request](auto& stub, auto& context, auto& reply) {
    return stub.Maintenance(&context, request, &reply);
  };
  return CallDaemon(options, rpc, WaitDeadline(wait), true, out, err);
}

int RunPackage(const GlobalOptions& options, const std::vector<std::string>& args,
               std::ostream& out, std::ostream& err) {
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    out << kPackageHelp;
    return args.empty() ? kExitUsage : kExitOk;
  }
  if (args[0] != "maintenance") {
    const std::string match = ClosestMatch(args[0], {"maintenance"});
    return UsageError(options,
                      "package: unknown subcommand \"" + args[0] + "\"" +
                          (match.empty() ? "" : "; did you mean \"" + match + "\"?"),
                      out, err);
  }
  return RunMaintenance(options, false, std::vector<std::string>(args.begin() + 1, args.end()), out,
                        err);
}

}  // namespace cmcl::pkgctl
