// pkgctl's commands, one file each (STYLE.md section 3), and what they share: the
// global options and the exit statuses of INTERFACE.md.
//
// A command writes its normal output to `out` and its messages to `err`, and returns
// the process exit status, so that tests can drive it without a process.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace cmcl::io::config {
struct LoadedConfig;
}

namespace cmcl::pkgctl {

// INTERFACE.md "Exit status".
enum ExitStatus : int {
  kExitOk = 0,
  kExitRefused = 1,
  kExitUsage = 2,  // Also a configuration error.
  kExitUnreachable = 3,
  kExitTimeout = 4,
};

enum class OutputFormat { kTable, kJson };

struct GlobalOptions {
  std::string socket;  // --socket, else $CMCL_SOCKET, else /run/cmcld/cmcld.sock.
  OutputFormat output = OutputFormat::kTable;
};

// Prints a usage or configuration error the way INTERFACE.md asks (a JSON error object
// with -o json, one line on `err` otherwise) and returns kExitUsage.
int UsageError(const GlobalOptions& options, const std::string& message, std::ostream& out,
               std::ostream& err);

// The CLUSTER_YAML to use: the argument, else $CMCL_CONFIG, else /etc/cmcl/cmcl.yaml.
std::string ClusterYamlPath(const std::vector<std::string>& positional);

// Prints every diagnostic of a configuration that did not load (a JSON error object
// with -o json) and returns kExitUsage.
int ReportConfigErrors(const GlobalOptions& options, const std::string& path,
                       const io::config::LoadedConfig& loaded, std::ostream& out,
                       std::ostream& err);

// `pkgctl config check [CLUSTER_YAML]`. `args` follow "check".
int RunConfigCheck(const GlobalOptions& options, const std::vector<std::string>& args,
                   std::ostream& out, std::ostream& err);

// `pkgctl check PKG [-n NODE] [--offline [CLUSTER_YAML]]`. `args` follow "check".
int RunCheck(const GlobalOptions& options, const std::vector<std::string>& args,
             std::ostream& out, std::ostream& err);

// Commands answered by cmcld over the control socket (pkgctl/client.h). `args` follow
// the command word.
int RunView(const GlobalOptions& options, const std::vector<std::string>& args,
            std::ostream& out, std::ostream& err);
int RunRun(const GlobalOptions& options, const std::vector<std::string>& args,
           std::ostream& out, std::ostream& err);
int RunHalt(const GlobalOptions& options, const std::vector<std::string>& args,
            std::ostream& out, std::ostream& err);
int RunMove(const GlobalOptions& options, const std::vector<std::string>& args,
            std::ostream& out, std::ostream& err);
int RunReadiness(const GlobalOptions& options, const std::vector<std::string>& args,
                 std::ostream& out, std::ostream& err);
int RunEvents(const GlobalOptions& options, const std::vector<std::string>& args,
              std::ostream& out, std::ostream& err);
// Issue 9.
int RunEnable(const GlobalOptions& options, const std::vector<std::string>& args,
              std::ostream& out, std::ostream& err);
int RunDisable(const GlobalOptions& options, const std::vector<std::string>& args,
               std::ostream& out, std::ostream& err);
int RunClear(const GlobalOptions& options, const std::vector<std::string>& args,
             std::ostream& out, std::ostream& err);
// `args` start with halt|run|readmit.
int RunNode(const GlobalOptions& options, const std::vector<std::string>& args,
            std::ostream& out, std::ostream& err);
// The same; `node_optional`: no NODE means the daemon's own node (cmrunnode/cmhaltnode).
int RunNodeCommand(const GlobalOptions& options, const std::vector<std::string>& args,
                   bool node_optional, std::ostream& out, std::ostream& err);
// Issue 10 (pkgctl/maintenance.cc): `args` follow "maintenance" (NAME on|off ...), and
// `pkgctl package maintenance ...` (`args` follow "package").
int RunMaintenance(const GlobalOptions& options, bool for_node,
                   const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int RunPackage(const GlobalOptions& options, const std::vector<std::string>& args,
               std::ostream& out, std::ostream& err);
// `args` start with run|halt.
int RunCluster(const GlobalOptions& options, const std::vector<std::string>& args,
               std::ostream& out, std::ostream& err);
// Issue 10: `pkgctl explain PKG`.
int RunExplain(const GlobalOptions& options, const std::vector<std::string>& args,
               std::ostream& out, std::ostream& err);
// Issue 12: `pkgctl guest import --libvirt DOMAIN [-d DIR] [--nodes N1,N2]`
// (pkgctl/guest_import.cc). `args` follow "guest". Offline: no daemon.
int RunGuest(const GlobalOptions& options, const std::vector<std::string>& args, std::ostream& out,
             std::ostream& err);
// Issue 12: `pkgctl inventory probe [--root DIR]` (pkgctl/inventory.cc): this host's
// inventory from the Linux probe, as an inventory file. `args` follow "inventory".
// Offline: no daemon.
int RunInventory(const GlobalOptions& options, const std::vector<std::string>& args,
                 std::ostream& out, std::ostream& err);
// `pkgctl config apply [CLUSTER_YAML]`. `args` follow "apply".
int RunConfigApply(const GlobalOptions& options, const std::vector<std::string>& args,
                   std::ostream& out, std::ostream& err);
// `pkgctl config show`. `args` follow "show".
int RunConfigShow(const GlobalOptions& options, const std::vector<std::string>& args,
                  std::ostream& out, std::ostream& err);

// Serviceguard/HPVM aliases (pkgctl/aliases.cc; INTERFACE.md "Aliases"): whether
// `name` (argv[0]'s basename) is one, and running it with its own arguments.
bool IsAlias(const std::string& name);
int RunAlias(const std::string& name, const std::vector<std::string>& args, std::ostream& out,
             std::ostream& err);

// The manual pages printed by --help.
extern const char* const kMainHelp;
extern const char* const kPackageHelp;  // Issue 10.
extern const char* const kConfigHelp;
extern const char* const kConfigCheckHelp;
extern const char* const kConfigApplyHelp;
extern const char* const kCheckHelp;
extern const char* const kViewHelp;
extern const char* const kRunHelp;
extern const char* const kHaltHelp;
extern const char* const kMoveHelp;
extern const char* const kReadinessHelp;
extern const char* const kEventsHelp;
extern const char* const kEnableHelp;
extern const char* const kClearHelp;
extern const char* const kNodeHelp;
extern const char* const kClusterHelp;
extern const char* const kExplainHelp;
extern const char* const kGuestHelp;      // Issue 12.
extern const char* const kInventoryHelp;  // Issue 12.

}  // namespace cmcl::pkgctl
