// `pkgctl events [--limit N]`: the cluster's event history from the replicated state
// (membership changes, decisions and their reasons, who did what), newest last.
#include <cstdlib>
#include <string>
#include <vector>

#include "pkgctl/client.h"
#include "pkgctl/commands.h"

namespace cmcl::pkgctl {
namespace {

// A positive decimal count, or nullopt.
std::optional<uint32_t> ParseCount(const std::string& text) {
  if (text.empty() || text.size() > 9 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  const auto count = static_cast<uint32_t>(std::strtoul(text.c_str(), nullptr, 10));
  return count > 0 ? std::optional<uint32_t>(count) : std::nullopt;
}

}  // namespace

int RunEvents(const GlobalOptions& options, const std::vector<std::string>& args, std::ostream& out,
              std::ostream& err) {
  ::cmcl::control::EventsRequest request;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "-h" || args[i] == "--help") {
      out << kEventsHelp;
      return kExitOk;
    }
    if (args[i] != "--limit" && args[i] != "-l") {
      return UsageError(options, "events: unexpected argument " + args[i], out, err);
    }
    const std::optional<uint32_t> limit =
        i + 1 < args.size() ? ParseCount(args[++i]) : std::nullopt;
    if (!limit) return UsageError(options, "events: --limit needs a positive count", out, err);
    request.set_limit(*limit);
  }
  const Rpc rpc = [&request](auto& stub, auto& context, auto& reply) {
    return stub.Events(&context, request, &reply);
  };
  return CallDaemon(options, rpc, kReadDeadline, false, out, err);
}

}  // namespace cmcl::pkgctl
