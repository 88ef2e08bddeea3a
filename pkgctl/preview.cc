// `-t/--preview` (issue 10 item 3; Serviceguard's cmrunpkg/cmhaltpkg/cmmodpkg -t): on run,
// halt, move, node halt, enable, node|package maintenance ... off and cluster arm, the
// command's own request goes to cmcld as a PreviewRequest (control.proto), and the
// daemon prints what it would do, changing nothing. The other commands (and forms:
// maintenance on, node run, disable, cluster disarm) refuse -t with a usage error (exit
// 2): they do not take it.
#include <algorithm>
#include <string>
#include <vector>

#include "pkgctl/client.h"
#include "pkgctl/commands.h"

namespace cmcl::pkgctl {

bool TakePreview(std::vector<std::string>& args) {
  const auto end = std::find(args.begin(), args.end(), "--");
  const auto is_flag = [](const std::string& arg) { return arg == "-t" || arg == "--preview"; };
  const bool found = std::any_of(args.begin(), end, is_flag);
  args.erase(std::remove_if(args.begin(), end, is_flag), end);
  return found;
}

int NoPreview(const GlobalOptions& options, const std::string& what, std::ostream& out,
              std::ostream& err) {
  return UsageError(options,
                    what + ": -t/--preview is for run, halt, move, node halt, enable, " +
                        "node|package maintenance ... off and cluster arm",
                    out, err);
}

int CallPreview(const GlobalOptions& options, ::cmcl::control::PreviewRequest request,
                const std::string& command, const std::vector<std::string>& args, std::ostream& out,
                std::ostream& err) {
  std::string line = "pkgctl " + command;
  for (const std::string& arg : args) line += " " + arg;
  request.set_command_line(line);
  const Rpc rpc = [&request](auto& stub, auto& context, auto& reply) {
    return stub.Preview(&context, request, &reply);
  };
  return CallDaemon(options, rpc, kReadDeadline, false, out, err);
}

}  // namespace cmcl::pkgctl
