// `pkgctl cluster run [-n NODE ...]` / `pkgctl cluster halt [--force]` (Serviceguard:
// cmruncl / cmhaltcl): start placement without waiting for every member (the named
// nodes must be up), or halt every package; without --force the halt is refused while
// packages run (exit 1, naming them). cluster halt waits until nothing runs.
// Issue 10: `cluster disarm --for DURATION` / `cluster arm` (DESIGN.md section 4, the
// long lease), answered once committed; refused without quorum or past disarm_max.
#include <string>
#include <vector>

#include "cmcld/core/common/names.h"
#include "cmcld/core/common/time.h"
#include "pkgctl/client.h"
#include "pkgctl/commands.h"

namespace cmcl::pkgctl {
namespace {

int RunClusterRun(const GlobalOptions& options, const std::vector<std::string>& args,
                  std::ostream& out, std::ostream& err) {
  ::cmcl::control::ClusterRunRequest request;
  WaitFlags wait;
  std::string error;
  for (size_t i = 1; i < args.size() && error.empty(); ++i) {
    const std::string& arg = args[i];
    if (ParseWaitFlag(args, i, wait, error)) continue;
    if (arg == "-n" || arg == "--node") {
      if (i + 1 >= args.size()) {
        return UsageError(options, "cluster run: -n needs a NODE", out, err);
      }
      request.add_nodes(args[++i]);
    } else {
      error = "unexpected " + arg + " (see pkgctl cluster --help)";
    }
  }
  if (!error.empty()) return UsageError(options, "cluster run: " + error, out, err);
  request.set_no_wait(wait.no_wait);
  request.set_timeout_ms(TimeoutMs(wait));
  const Rpc rpc = [&request](auto& stub, auto& context, auto& reply) {
    return stub.ClusterRun(&context, request, &reply);
  };
  return CallDaemon(options, rpc, WaitDeadline(wait), true, out, err);
}

int RunClusterHalt(const GlobalOptions& options, const std::vector<std::string>& args,
                   std::ostream& out, std::ostream& err) {
  ::cmcl::control::ClusterHaltRequest request;
  WaitFlags wait;
  std::string error;
  for (size_t i = 1; i < args.size() && error.empty(); ++i) {
    const std::string& arg = args[i];
    if (ParseWaitFlag(args, i, wait, error)) continue;
    if (arg == "--force" || arg == "-f") {
      request.set_force(true);
    } else {
      error = "unexpected " + arg + " (see pkgctl cluster --help)";
    }
  }
  if (!error.empty()) return UsageError(options, "cluster halt: " + error, out, err);
  request.set_no_wait(wait.no_wait);
  request.set_timeout_ms(TimeoutMs(wait));
  const Rpc rpc = [&request](auto& stub, auto& context, auto& reply) {
    return stub.ClusterHalt(&context, request, &reply);
  };
  return CallDaemon(options, rpc, WaitDeadline(wait), true, out, err);
}

// cluster disarm --for DURATION / cluster arm (`disarm` says which).
int RunClusterMode(const GlobalOptions& options, const std::vector<std::string>& command_args,
                   bool disarm, std::ostream& out, std::ostream& err) {
  std::vector<std::string> args = command_args;
  const bool preview = TakePreview(args);
  ::cmcl::control::ClusterModeRequest request;
  request.set_disarm(disarm);
  const std::string command = disarm ? "cluster disarm" : "cluster arm";
  WaitFlags wait;
  std::string error;
  for (size_t i = 1; i < args.size() && error.empty(); ++i) {
    const std::string& arg = args[i];
    if (ParseWaitFlag(args, i, wait, error)) continue;
    if (disarm && (arg == "--for" || arg.rfind("--for=", 0) == 0)) {
      std::string value;
      if (arg == "--for") {
        if (i + 1 >= args.size()) {
          return UsageError(options, command + ": --for needs a DURATION", out, err);
        }
        value = args[++i];
      } else {
        value = arg.substr(6);
      }
      const std::optional<Duration> length = ParseDuration(value);
      if (!length || *length <= Duration(0)) {
        error = "--for: \"" + value + "\" is not a positive duration (e.g. 30m, 2h)";
      } else {
        request.set_disarm_for_ms(length->count());
      }
    } else {
      error = "unexpected " + arg + " (see pkgctl cluster --help)";
    }
  }
  if (error.empty() && disarm && request.disarm_for_ms() <= 0) {
    error = "--for DURATION is required (at most disarm_max, 4h by default)";
  }
  if (!error.empty()) return UsageError(options, command + ": " + error, out, err);
  if (preview && disarm) return NoPreview(options, command, out, err);
  if (preview) {
    ::cmcl::control::PreviewRequest preview_request;
    *preview_request.mutable_cluster_mode() = request;
    return CallPreview(options, preview_request, "cluster", args, out, err);
  }
  request.set_no_wait(wait.no_wait);
  request.set_timeout_ms(TimeoutMs(wait));
  const Rpc rpc = [&request](auto& stub, auto& context, auto& reply) {
    return stub.ClusterMode(&context, request, &reply);
  };
  return CallDaemon(options, rpc, WaitDeadline(wait), true, out, err);
}

}  // namespace

int RunCluster(const GlobalOptions& options, const std::vector<std::string>& args,
               std::ostream& out, std::ostream& err) {
  for (const std::string& arg : args) {
    if (arg == "-h" || arg == "--help") {
      out << kClusterHelp;
      return kExitOk;
    }
  }
  if (args.empty()) {
    return UsageError(options, "cluster: missing run, halt, disarm or arm", out, err);
  }
  if (args[0] == "run") return RunClusterRun(options, args, out, err);
  if (args[0] == "halt") return RunClusterHalt(options, args, out, err);
  if (args[0] == "disarm") return RunClusterMode(options, args, true, out, err);
  if (args[0] == "arm") return RunClusterMode(options, args, false, out, err);
  const std::string match = ClosestMatch(args[0], {"run", "halt", "disarm", "arm"});
  return UsageError(options,
                    "cluster: unknown subcommand \"" + args[0] + "\"" +
                        (match.empty() ? "" : "; did you mean \"" + match + "\"?"),
                    out, err);
}

}  // namespace cmcl::pkgctl
