// `pkgctl explain PKG` (issue 10): why a package is (not) running, in a few lines from
// the local cmcld's live state, with the command that would change it last
// (cmcld/core/node/explain.h says what it looks at). Answers without quorum too, from
// the last applied state, saying it may be stale.
#include <string>
#include <vector>

#include "pkgctl/client.h"
#include "pkgctl/commands.h"

namespace cmcl::pkgctl {

int RunExplain(const GlobalOptions& options, const std::vector<std::string>& args,
               std::ostream& out, std::ostream& err) {
  ::cmcl::control::ExplainRequest request;
  for (const std::string& arg : args) {
    if (arg == "-h" || arg == "--help") {
      out << kExplainHelp;
      return kExitOk;
    }
  }
  for (const std::string& arg : args) {
    if (!arg.empty() && arg[0] == '-') {
      return UsageError(options, "explain: unknown option " + arg, out, err);
    }
    if (!request.package().empty()) {
      return UsageError(options, "explain: one PKG only (unexpected " + arg + ")", out, err);
    }
    request.set_package(arg);
  }
  if (request.package().empty()) return UsageError(options, "explain: missing PKG", out, err);
  const Rpc rpc = [&request](auto& stub, auto& context, auto& reply) {
    return stub.Explain(&context, request, &reply);
  };
  return CallDaemon(options, rpc, kReadDeadline, false, out, err);
}

}  // namespace cmcl::pkgctl
