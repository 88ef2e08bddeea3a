// `pkgctl enable|disable PKG [-n NODE]` (Serviceguard: cmmodpkg -e|-d [-n node] pkg):
// global switching, or node switching on NODE (enable -n also clears NODE from the
// failed-node memory). Answers once committed: the switch is the commit.
#include <string>
#include <vector>

#include "pkgctl/client.h"
#include "pkgctl/commands.h"

namespace cmcl::pkgctl {
namespace {

int RunSwitching(bool enable, const GlobalOptions& options,
                 const std::vector<std::string>& command_args, std::ostream& out,
                 std::ostream& err) {
  const std::string name = enable ? "enable" : "disable";
  std::vector<std::string> args = command_args;
  const bool preview = TakePreview(args);
  if (preview && !enable) return NoPreview(options, name, out, err);
  ::cmcl::control::EnableRequest request;
  request.set_enable(enable);
  std::string error;
  for (size_t i = 0; i < args.size() && error.empty(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h" || arg == "--help") {
      out << kEnableHelp;
      return kExitOk;
    }
    if (arg == "-n" || arg == "--node") {
      if (i + 1 >= args.size()) return UsageError(options, name + ": -n needs a NODE", out, err);
      request.set_node(args[++i]);
    } else if (arg.size() > 1 && arg[0] == '-') {
      error = "unknown option " + arg + " (see pkgctl " + name + " --help)";
    } else if (request.package().empty()) {
      request.set_package(arg);
    } else {
      error = "expected one PKG";
    }
  }
  if (error.empty() && request.package().empty()) {
    error = "missing PKG (see pkgctl " + name + " --help)";
  }
  if (!error.empty()) return UsageError(options, name + ": " + error, out, err);
  if (preview) {
    ::cmcl::control::PreviewRequest preview_request;
    *preview_request.mutable_enable() = request;
    return CallPreview(options, preview_request, name, args, out, err);
  }
  const Rpc rpc = [&request](auto& stub, auto& context, auto& reply) {
    return stub.Enable(&context, request, &reply);
  };
  return CallDaemon(options, rpc, kWriteDeadline, true, out, err);
}

}  // namespace

int RunEnable(const GlobalOptions& options, const std::vector<std::string>& args, std::ostream& out,
              std::ostream& err) {
  return RunSwitching(true, options, args, out, err);
}

int RunDisable(const GlobalOptions& options, const std::vector<std::string>& args,
               std::ostream& out, std::ostream& err) {
  return RunSwitching(false, options, args, out, err);
}

}  // namespace cmcl::pkgctl
