// `pkgctl run PKG [-n NODE] [--no-wait] [--timeout D]` (Serviceguard: cmrunpkg [-n node]
// pkg, then cmmodpkg -e): start a down package where its policy says, or on NODE, and
// turn its global switching on; wait until it is up (or failed) and print the outcome.
#include <string>
#include <vector>

#include "pkgctl/client.h"
#include "pkgctl/commands.h"

namespace cmcl::pkgctl {

int RunRun(const GlobalOptions& options, const std::vector<std::string>& command_args,
           std::ostream& out, std::ostream& err) {
  std::vector<std::string> args = command_args;
  const bool preview = TakePreview(args);
  ::cmcl::control::RunRequest request;
  WaitFlags wait;
  std::string error;
  for (size_t i = 0; i < args.size() && error.empty(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h" || arg == "--help") {
      out << kRunHelp;
      return kExitOk;
    }
    if (ParseWaitFlag(args, i, wait, error)) continue;
    if (arg == "-n" || arg == "--node") {
      if (i + 1 >= args.size()) return UsageError(options, "run: -n needs a NODE", out, err);
      request.set_node(args[++i]);
    } else if (arg == "--keep-switching") {
      request.set_keep_switching(true);  // cmrunpkg: global switching stays as it is.
    } else if (arg.size() > 1 && arg[0] == '-') {
      error = "unknown option " + arg + " (see pkgctl run --help)";
    } else if (request.package().empty()) {
      request.set_package(arg);
    } else {
      error = "expected one PKG";
    }
  }
  if (error.empty() && request.package().empty()) error = "missing PKG (see pkgctl run --help)";
  if (!error.empty()) return UsageError(options, "run: " + error, out, err);
  if (preview) {
    ::cmcl::control::PreviewRequest preview_request;
    *preview_request.mutable_run() = request;
    return CallPreview(options, preview_request, "run", args, out, err);
  }
  request.set_no_wait(wait.no_wait);
  request.set_timeout_ms(TimeoutMs(wait));
  const Rpc rpc = [&request](auto& stub, auto& context, auto& reply) {
    return stub.Run(&context, request, &reply);
  };
  return CallDaemon(options, rpc, WaitDeadline(wait), true, out, err);
}

}  // namespace cmcl::pkgctl
