// `pkgctl config show` (Serviceguard: cmgetconf): the applied configuration's
// cluster.yaml and its version, from the local cmcld (no quorum needed).
#include <string>
#include <vector>

#include "pkgctl/client.h"
#include "pkgctl/commands.h"

namespace cmcl::pkgctl {

int RunConfigShow(const GlobalOptions& options, const std::vector<std::string>& args,
                  std::ostream& out, std::ostream& err) {
  for (const std::string& arg : args) {
    if (arg == "-h" || arg == "--help") {
      out << kConfigHelp;
      return kExitOk;
    }
    return UsageError(options, "config show: unexpected " + arg, out, err);
  }
  const ::cmcl::control::ConfigShowRequest request;
  const Rpc rpc = [&request](auto& stub, auto& context, auto& reply) {
    return stub.ConfigShow(&context, request, &reply);
  };
  return CallDaemon(options, rpc, kReadDeadline, false, out, err);
}

}  // namespace cmcl::pkgctl
