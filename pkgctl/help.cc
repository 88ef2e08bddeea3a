// pkgctl's manual pages, printed by --help. Kept next to the code so they cannot drift
// from the commands that exist.
#include "pkgctl/commands.h"

namespace cmcl::pkgctl {

const char* const kMainHelp = R"(NAME
    pkgctl - operate a cmcl cluster of virtual-machine guests

SYNOPSIS
    pkgctl [--socket PATH] [-o|--output table|json] COMMAND [ARGS...]
    pkgctl COMMAND --help

DESCRIPTION
    pkgctl is the operator's tool for cmcl, a Serviceguard-style cluster package
    manager: every guest is a package with run and halt scripts that cmcld starts,
    stops, moves and fails over between the nodes of a cluster, after checking that the
    target can run it. Commands that read configuration files work offline; the others
    talk to the local cmcld over its control socket.

COMMANDS
    config check [CLUSTER_YAML]
        Validate the cluster file, every package folder it lists and every inventory
        file, offline. Prints a summary, or every error as FILE:LINE:COLUMN: message.
        (Serviceguard: cmcheckconf)

    check PKG [-n NODE] --offline [CLUSTER_YAML]
        Migration validation only, from the configuration files: can PKG run on NODE
        (or on each node it may run on)? Every violation, with a code and what to fix.
        (HPVM: hpvmmigrate -s)

    Not yet available in this build (they need cmcld, which later work adds):
    view, run, halt, move, check without --offline, readiness, enable, disable, clear, node, cluster,
    config apply, config show, events.

OPTIONS
    --socket PATH
        The control socket of the local cmcld. Default: $CMCL_SOCKET, else
        /run/cmcld/cmcld.sock.
    -o, --output table|json
        table (the default) prints for people; json prints one JSON object, and on
        failure {"error": {"code": ..., "message": ...}}.
    -h, --help
        Print this page, or with a command, that command's page.

EXIT STATUS
    0   done
    1   refused or failed
    2   usage or configuration error
    3   the daemon could not be reached
    4   --timeout expired while the operation goes on

ENVIRONMENT
    CMCL_CONFIG    the cluster file used when no CLUSTER_YAML is given
                   (else /etc/cmcl/cmcl.yaml)
    CMCL_SOCKET    the control socket used when --socket is not given

EXAMPLES
    pkgctl config check config/demo/cluster.yaml
    pkgctl -o json config check /etc/cmcl/cmcl.yaml
    pkgctl check hpvm1 -n ivmcl02 --offline config/hpvm/cluster.yaml
    CMCL_CONFIG=config/hpvm/cluster.yaml pkgctl config check
)";

const char* const kConfigHelp = R"(NAME
    pkgctl config - check cluster configuration files

SYNOPSIS
    pkgctl [-o|--output table|json] config check [CLUSTER_YAML]

DESCRIPTION
    The cluster file names the cluster, its nodes (addresses, role, capacity and
    inventory), its timing and fencing parameters, its security key and the package
    folders; each package folder holds package.yaml and the package's scripts. Paths
    are relative to the file that names them.

COMMANDS
    check [CLUSTER_YAML]
        Read every file and check every rule: unknown keys (with "did you mean"),
        missing keys, malformed durations, sizes, addresses, WWIDs and percentages,
        the name rule, duplicate names and addresses, references to unknown nodes or
        packages, the timing rules (heartbeat_interval <= node_timeout/5;
        fence_timeout + 3 x heartbeat_interval + 300ms <= node_timeout; with
        fence_action reboot, watchdog_timeout + 2 x heartbeat_interval + 300ms <=
        node_timeout), two members without an arbitrator, storage used by two packages
        without shared: true, dependency cycles, scripts that are missing or not
        executable, and a key file that is missing, shorter than 32 bytes or open to
        group or others. Warnings (a package without a driver, a driver not installed
        here) are printed but do not fail the check.

    apply, show
        Not yet available in this build (they need cmcld).

OPTIONS
    -o, --output table|json
        json prints {"cluster": ..., "nodes": [...], "packages": [...],
        "warnings": [...]} or {"error": {"code": "invalid_config", "message": ...,
        "diagnostics": [{"file", "line", "column", "severity", "message"}]}}.

EXIT STATUS
    0   the configuration is valid (warnings may have been printed)
    2   it is not, or the command was used wrongly

ENVIRONMENT
    CMCL_CONFIG    the cluster file used when no CLUSTER_YAML is given
                   (else /etc/cmcl/cmcl.yaml)

EXAMPLES
    pkgctl config check config/demo/cluster.yaml
    pkgctl -o json config check config/hpvm/cluster.yaml
)";

const char* const kConfigCheckHelp = kConfigHelp;

}  // namespace cmcl::pkgctl
