// `pkgctl view [-v] [PKG|NODE]` (INTERFACE.md; Serviceguard's cmviewcl [-v], HPVM's
// hpvmstatus): the cluster, its nodes and packages, answered at once by the local cmcld
// from its applied state (it never waits for a leader; without quorum it says so).
#include <string>
#include <vector>

#include "pkgctl/client.h"
#include "pkgctl/commands.h"

namespace cmcl::pkgctl {

int RunView(const GlobalOptions& options, const std::vector<std::string>& args, std::ostream& out,
            std::ostream& err) {
  ::cmcl::control::ViewRequest request;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h" || arg == "--help") {
      out << kViewHelp;
      return kExitOk;
    }
    if (arg == "--format") {
      // The aliases' text forms: "line" (cmviewcl -f line), "hpvmstatus".
      const bool known = i + 1 < args.size() && (args[i + 1] == "line" ||
                                                 args[i + 1] == "hpvmstatus" ||
                                                 args[i + 1] == "table");
      if (!known) {
        return UsageError(options, "view: --format is line, hpvmstatus or table", out, err);
      }
      request.set_format(args[i + 1] == "table" ? "" : args[i + 1]);
      ++i;
    } else if (arg == "-v" || arg == "--verbose") {
      request.set_verbose(true);
    } else if (arg.size() > 1 && arg[0] == '-') {
      return UsageError(options, "view: unknown option " + arg + " (see pkgctl view --help)", out,
                        err);
    } else if (request.target().empty()) {
      request.set_target(arg);
    } else {
      return UsageError(options, "view: expected at most one PKG or NODE", out, err);
    }
  }
  const Rpc rpc = [&request](auto& stub, auto& context, auto& reply) {
    return stub.View(&context, request, &reply);
  };
  return CallDaemon(options, rpc, kReadDeadline, false, out, err);
}

}  // namespace cmcl::pkgctl
