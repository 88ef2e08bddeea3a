// `pkgctl clear PKG [--owner-is-down NODE] [--no-wait] [--timeout D]`: clear halt_failed
// once the guest is known to be stopped (the owner is asked, or the operator declares
// the owner down), or a failed package's failure and failed-node memory. Waits for the
// outcome.
#include <string>
#include <vector>

#include "pkgctl/client.h"
#include "pkgctl/commands.h"

namespace cmcl::pkgctl {

int RunClear(const GlobalOptions& options, const std::vector<std::string>& args, std::ostream& out,
             std::ostream& err) {
  ::cmcl::control::ClearRequest request;
  WaitFlags wait;
  std::string error;
  for (size_t i = 0; i < args.size() && error.empty(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h" || arg == "--help") {
      out << kClearHelp;
      return kExitOk;
    }
    if (ParseWaitFlag(args, i, wait, error)) continue;
    if (arg == "--owner-is-down") {
      if (i + 1 >= args.size()) {
        return UsageError(options, "clear: --owner-is-down needs a NODE", out, err);
      }
      request.set_owner_is_down(args[++i]);
    } else if (arg.size() > 1 && arg[0] == '-') {
      error = "unknown option " + arg + " (see pkgctl clear --help)";
    } else if (request.package().empty()) {
      request.set_package(arg);
    } else {
      error = "expected one PKG";
    }
  }
  if (error.empty() && request.package().empty()) error = "missing PKG (see pkgctl clear --help)";
  if (!error.empty()) return UsageError(options, "clear: " + error, out, err);
  request.set_no_wait(wait.no_wait);
  request.set_timeout_ms(TimeoutMs(wait));
  const Rpc rpc = [&request](auto& stub, auto& context, auto& reply) {
    return stub.Clear(&context, request, &reply);
  };
  return CallDaemon(options, rpc, WaitDeadline(wait), true, out, err);
}

}  // namespace cmcl::pkgctl
