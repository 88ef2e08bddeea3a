// `pkgctl check PKG [-n NODE] [--offline [CLUSTER_YAML]]` (INTERFACE.md; HPVM's
// `hpvmmigrate -s`): migration validation only, nothing is halted or started.
//
// With --offline the check runs from the configuration files alone, with DESIGN.md
// section 6's offline rules: the source is the first node of the package's list other
// than the target, and "member" means "configured as a member". Without --offline the
// local cmcld answers from its applied state and what it knows of the other nodes.
#include <string>
#include <vector>

#include "cmcld/core/validation/readiness.h"
#include "cmcld/io/config/load.h"
#include "pkgctl/client.h"
#include "pkgctl/commands.h"
#include "pkgctl/json_writer.h"

namespace cmcl::pkgctl {
namespace {

struct CheckArguments {
  std::string package;
  std::optional<std::string> node;
  bool offline = false;
  std::vector<std::string> files;  // CLUSTER_YAML, at most one.
  bool help = false;
  std::string error;
};

CheckArguments ParseCheckArguments(const std::vector<std::string>& args) {
  CheckArguments parsed;
  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h" || arg == "--help") {
      parsed.help = true;
    } else if (arg == "--offline") {
      parsed.offline = true;
    } else if (arg == "-n" || arg == "--node") {
      if (i + 1 >= args.size()) {
        parsed.error = "check: " + arg + " needs a NODE";
        return parsed;
      }
      parsed.node = args[++i];
    } else if (arg.size() > 1 && arg[0] == '-') {
      parsed.error = "check: unknown option " + arg + " (see pkgctl check --help)";
      return parsed;
    } else {
      positional.push_back(arg);
    }
  }
  if (parsed.help) return parsed;
  if (positional.empty()) {
    parsed.error = "check: missing PKG (see pkgctl check --help)";
    return parsed;
  }
  parsed.package = positional.front();
  parsed.files.assign(positional.begin() + 1, positional.end());
  if (parsed.files.size() > 1) {
    parsed.error = "check: expected PKG and at most one CLUSTER_YAML";
  } else if (!parsed.files.empty() && !parsed.offline) {
    parsed.error = "check: CLUSTER_YAML is read only with --offline";
  }
  return parsed;
}

int Refused(const GlobalOptions& options, const Status& status, std::ostream& out,
            std::ostream& err) {
  if (options.output == OutputFormat::kJson) {
    JsonWriter json;
    json.BeginObject().Key("error").BeginObject();
    json.Key("code").String(std::string(StatusCodeName(status.code())));
    json.Key("message").String(status.message()).EndObject().EndObject();
    out << json.str() << "\n";
  } else {
    err << "pkgctl: " << status.message() << "\n";
  }
  return kExitRefused;
}

void WriteTable(const validation::CheckReport& report, std::ostream& out) {
  out << "check " << report.package << " (offline; source "
      << (report.source ? report.source->value() : std::string("none")) << ")\n";
  for (const std::string& line : validation::CheckReportLines(report)) out << "  " << line << "\n";
  out << validation::CheckReportSummary(report) << "\n";
}

}  // namespace

int RunCheck(const GlobalOptions& options, const std::vector<std::string>& args,
             std::ostream& out, std::ostream& err) {
  const CheckArguments parsed = ParseCheckArguments(args);
  if (parsed.help) {
    out << kCheckHelp;
    return kExitOk;
  }
  if (!parsed.error.empty()) return UsageError(options, parsed.error, out, err);
  if (!parsed.offline) {
    ::cmcl::control::CheckRequest request;
    request.set_package(parsed.package);
    if (parsed.node) request.set_node(*parsed.node);
    const Rpc rpc = [&request](auto& stub, auto& context, auto& reply) {
      return stub.Check(&context, request, &reply);
    };
    return CallDaemon(options, rpc, kReadDeadline, false, out, err);
  }
  const std::string path = ClusterYamlPath(parsed.files);
  const io::config::LoadedConfig loaded = io::config::LoadCluster(path);
  if (!loaded.ok()) return ReportConfigErrors(options, path, loaded, out, err);

  std::optional<NodeName> target;
  if (parsed.node) target = NodeName(*parsed.node);
  const Result<validation::CheckReport> report =
      validation::CheckOffline(loaded.config, PackageName(parsed.package), target);
  if (!report.ok()) return Refused(options, report.status(), out, err);
  if (options.output == OutputFormat::kJson) {
    out << validation::CheckReportJson(*report) << "\n";
  } else {
    WriteTable(*report, out);
  }
  return report->ok() ? kExitOk : kExitRefused;
}

const char* const kCheckHelp = R"(NAME
    pkgctl check - migration validation, without moving anything

SYNOPSIS
    pkgctl [--socket PATH] [-o table|json] check PKG [-n NODE]
    pkgctl [-o table|json] check PKG [-n NODE] --offline [CLUSTER_YAML]

DESCRIPTION
    Runs the migration validation that every move, failover and start runs first
    (hpvmmigrate's prerequisites, made precise): the target is an up member in the
    package's node list with switching enabled, the guest uses no host-shared device
    (CD/DVD), its storage is whole disks that exist on the target with the same WWID,
    every vswitch it uses sits on the same NIC on the source and the target, the target
    has the vCPUs and memory, and no other package uses the same disk.

    Every violation is listed with a stable code and a message that says what to fix.
    Checks that cannot run (no source inventory and nothing pinned in the package) are
    listed as "unchecked"; they do not refuse the node.

    --offline checks from the configuration files alone, so a migration plan can be
    tested before the cluster runs: the source is the first node of the package's node
    list other than the target, and a target counts as a member when it is configured
    as one. Without --offline the local cmcld answers from live state: the source is
    the node the guest runs on (else the last one that ran it), and a target must be
    an up member holding a lease.

OPTIONS
    -n, --node NODE
        Check this target only. Default: every node the package may run on except
        its source.
    --offline
        Read the configuration files instead of asking cmcld.
    CLUSTER_YAML
        With --offline: the cluster file. Default: $CMCL_CONFIG, else
        /etc/cmcl/cmcl.yaml.

OUTPUT
    table: one line per violation, "NODE: CODE: message", then one per unchecked
    check, and "NODE: ok" for a node with neither. json: {"package", "source",
    "results": [{"node", "ok", "violations": [{"code", "message"}], "unchecked": [...]}]}.

EXIT STATUS
    0   every node checked may run the package
    1   at least one node is refused, or the package is unknown
    2   usage or configuration error
    3   (without --offline) cmcld could not be reached

EXAMPLES
    pkgctl check hpvm1 -n ivmcl02
    pkgctl check hpvm1 -n ivmcl02 --offline config/hpvm/cluster.yaml
    pkgctl -o json check guest2 --offline config/demo/cluster.yaml
)";

}  // namespace cmcl::pkgctl
