// `pkgctl config apply [CLUSTER_YAML] [--no-wait] [--timeout D]` (Serviceguard:
// cmapplyconf): loads and validates the files as the caller, with the same loader and
// diagnostics as `config check` (exit 2 on an error), builds the bundle from them
// (io/bundle/bundle.h) and sends its bytes to the local cmcld, which checks it, proposes
// it and waits until every member validated it and it was applied or refused.
#include <algorithm>
#include <string>
#include <vector>

#include "cmcld/core/node/cluster_state.h"
#include "cmcld/io/bundle/bundle.h"
#include "cmcld/io/config/load.h"
#include "pkgctl/client.h"
#include "pkgctl/commands.h"

namespace cmcl::pkgctl {

int RunConfigApply(const GlobalOptions& options, const std::vector<std::string>& args,
                   std::ostream& out, std::ostream& err) {
  std::vector<std::string> positional;
  WaitFlags wait;
  std::string error;
  for (size_t i = 0; i < args.size() && error.empty(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h" || arg == "--help") {
      out << kConfigApplyHelp;
      return kExitOk;
    }
    if (ParseWaitFlag(args, i, wait, error)) continue;
    if (arg.size() > 1 && arg[0] == '-') {
      error = "unknown option " + arg + " (see pkgctl config apply --help)";
    } else {
      positional.push_back(arg);
    }
  }
  if (error.empty() && positional.size() > 1) {
    error = "expected at most one CLUSTER_YAML, got " + std::to_string(positional.size());
  }
  if (!error.empty()) return UsageError(options, "config apply: " + error, out, err);

  const std::string path = ClusterYamlPath(positional);
  const io::config::LoadedConfig loaded = io::config::LoadCluster(path);
  if (!loaded.ok()) return ReportConfigErrors(options, path, loaded, out, err);
  if (options.output != OutputFormat::kJson) {
    for (const config::Diagnostic& d : loaded.diagnostics) {
      err << config::FormatDiagnostic(d) << "\n";
    }
  }
  const Result<io::Bundle> bundle = io::BuildBundle(loaded.config);
  if (!bundle.ok()) {
    return Fail(options, "invalid_config", "config apply: " + bundle.status().message(),
                kExitUsage, out, err);
  }
  ::cmcl::control::ConfigApplyRequest request;
  request.set_bundle(io::EncodeBundle(*bundle));
  // The replicated state holds the bundle (node::kBundleBytesMax, below the bundle's own
  // bound): refused here rather than by the cluster.
  const size_t bytes_max = std::min(io::kBundleBytesMax, node::kBundleBytesMax);
  if (request.bundle().size() > bytes_max) {
    return Fail(options, "invalid_config",
                "config apply: the bundle of " + path + " encodes to " +
                    std::to_string(request.bundle().size()) + " bytes, more than the " +
                    std::to_string(bytes_max) + " a configuration version may have (scripts " +
                    "and package files only: keep images and data out of package folders)",
                kExitUsage, out, err);
  }
  request.set_source(loaded.config.file);
  request.set_no_wait(wait.no_wait);
  request.set_timeout_ms(TimeoutMs(wait));
  const Rpc rpc = [&request](auto& stub, auto& context, auto& reply) {
    return stub.ConfigApply(&context, request, &reply);
  };
  return CallDaemon(options, rpc, WaitDeadline(wait), true, out, err);
}

}  // namespace cmcl::pkgctl
