// `pkgctl readiness`: for every package, whether it could fail over right now to every
// node it may run on, and if not, why (DESIGN.md section 6, the readiness view).
#include <string>
#include <vector>

#include "pkgctl/client.h"
#include "pkgctl/commands.h"

namespace cmcl::pkgctl {

int RunReadiness(const GlobalOptions& options, const std::vector<std::string>& args,
                 std::ostream& out, std::ostream& err) {
  for (const std::string& arg : args) {
    if (arg == "-h" || arg == "--help") {
      out << kReadinessHelp;
      return kExitOk;
    }
    return UsageError(options, "readiness: unexpected argument " + arg, out, err);
  }
  const ::cmcl::control::ReadinessRequest request;
  const Rpc rpc = [&request](auto& stub, auto& context, auto& reply) {
    return stub.Readiness(&context, request, &reply);
  };
  return CallDaemon(options, rpc, kReadDeadline, false, out, err);
}

}  // namespace cmcl::pkgctl
