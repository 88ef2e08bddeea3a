// `pkgctl halt PKG [--no-wait] [--timeout D]` (Serviceguard: cmhaltpkg pkg): halt a
// package; it stays down (global switching off). Waits until it is halted.
#include <string>
#include <vector>

#include "pkgctl/client.h"
#include "pkgctl/commands.h"

namespace cmcl::pkgctl {

int RunHalt(const GlobalOptions& options, const std::vector<std::string>& command_args,
            std::ostream& out, std::ostream& err) {
  std::vector<std::string> args = command_args;
  const bool preview = TakePreview(args);
  ::cmcl::control::HaltRequest request;
  WaitFlags wait;
  std::string error;
  for (size_t i = 0; i < args.size() && error.empty(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h" || arg == "--help") {
      out << kHaltHelp;
      return kExitOk;
    }
    if (ParseWaitFlag(args, i, wait, error)) continue;
    if (arg.size() > 1 && arg[0] == '-') {
      error = "unknown option " + arg + " (see pkgctl halt --help)";
    } else if (request.package().empty()) {
      request.set_package(arg);
    } else {
      error = "expected one PKG";
    }
  }
  if (error.empty() && request.package().empty()) error = "missing PKG (see pkgctl halt --help)";
  if (!error.empty()) return UsageError(options, "halt: " + error, out, err);
  if (preview) {
    ::cmcl::control::PreviewRequest preview_request;
    *preview_request.mutable_halt() = request;
    return CallPreview(options, preview_request, "halt", args, out, err);
  }
  request.set_no_wait(wait.no_wait);
  request.set_timeout_ms(TimeoutMs(wait));
  const Rpc rpc = [&request](auto& stub, auto& context, auto& reply) {
    return stub.Halt(&context, request, &reply);
  };
  return CallDaemon(options, rpc, WaitDeadline(wait), true, out, err);
}

}  // namespace cmcl::pkgctl
