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

    view [-v] [PKG|NODE]
        The cluster, its nodes (with heartbeat networks) and packages, from the local
        cmcld's applied state, at once. (Serviceguard: cmviewcl [-v]; HPVM: hpvmstatus)

    run PKG [-n NODE] [--no-wait] [--timeout DURATION]
        Start a down package, on NODE or where its policy says, and enable its global
        switching. (Serviceguard: cmrunpkg [-n node] pkg; cmmodpkg -e pkg)

    halt PKG [--no-wait] [--timeout DURATION]
        Halt a package; it stays down. (Serviceguard: cmhaltpkg pkg)

    move PKG -n NODE [--vcpus N] [--memory SIZE] [--no-wait] [--timeout DURATION]
        Validate, halt on its node, start on NODE. (HPVM: hpvmmigrate -P guest -h host)

    check PKG [-n NODE] [--offline [CLUSTER_YAML]]
        Migration validation only: can PKG run on NODE (or on each node it may run
        on)? Every violation, with a code and what to fix. --offline reads the
        configuration files instead of asking cmcld. (HPVM: hpvmmigrate -s)

    readiness
        For every package: could it fail over right now, and if not, why.

    events [--limit N]
        The cluster's event history, newest last.

    enable PKG [-n NODE] / disable PKG [-n NODE]
        Global switching (may it run and fail over), or node switching on NODE
        (enable -n also clears NODE's failure memory). (Serviceguard: cmmodpkg -e/-d)

    clear PKG [--owner-is-down NODE] [--no-wait] [--timeout DURATION]
        Clear halt_failed once the guest is known to be stopped, or a failure.

    node halt|run|readmit NODE [--no-wait] [--timeout DURATION]
        Take a node out of service (its packages leave per shutdown_policy; waits),
        put it back, or let a node whose state_dir was lost vote again.
        (Serviceguard: cmhaltnode / cmrunnode)

    node maintenance NODE on|off [--freeze] [--no-wait] [--timeout DURATION]
        Maintenance: NODE takes no packages; its own move away through validation
        (waits), or with --freeze stay where they are, unmonitored. Survives restarts.

    package maintenance PKG on|off
        Stop (resume) monitoring and failover of PKG without halting it.
        (Serviceguard: cmmodpkg -m on|off PKG)

    cluster run [-n NODE ...] / cluster halt [--force]
        Start placement now / halt every package (refused while packages run, unless
        --force). (Serviceguard: cmruncl / cmhaltcl)

    cluster disarm --for DURATION / cluster arm
        Disarm for network maintenance: for DURATION nothing fails over and packages
        keep running while nodes lose contact; arm returns to the normal lease.

    explain PKG
        Why is it (not) running: quorum, switching, failures, validation on every
        candidate node, the last decision, and the command that would change it.

    config apply [CLUSTER_YAML] [--no-wait] [--timeout DURATION]
        Commit the files as the next configuration version on every node, all or
        nothing: every member validates it first. (Serviceguard: cmapplyconf)

    config show
        The applied configuration (cluster.yaml) with its version. (Serviceguard:
        cmgetconf)

    guest import --libvirt DOMAIN [-d DIR] [--nodes N1,N2]
        Write a package folder (DIR, default ./DOMAIN) for an existing libvirt domain,
        run by the libvirt driver: its domain.xml, package.yaml (vCPUs, memory, disks
        by /dev/disk/by-id path, bridges and networks as vswitches) and run/halt
        scripts. Offline, no daemon. (HPVM: hpvmcreate of an existing guest)

    inventory probe [--root DIR]
        This host's inventory from the Linux probe (what inventory: probe reports):
        disks with WWIDs and by-id paths, bridges as vswitches on their uplink NIC,
        CD/DVD drives, CPUs and memory, printed as an inventory file. Offline.

ALIASES
    Invoked through a symlink of one of these names, pkgctl takes that command's
    flags (the socket from $CMCL_SOCKET; NAME --help prints its usage):
        cmviewcl [-v] [-f table|line] [-p PKG | -n NODE]     view (-f line: key=value)
        cmrunpkg [-n NODE] PKG        run, global switching NOT enabled (cmmodpkg -e)
        cmhaltpkg PKG                 halt
        cmmodpkg -e|-d [-n NODE] PKG  enable / disable
        cmmodpkg -m on|off PKG        package maintenance on / off
        cmrunnode [NODE], cmhaltnode [NODE]   node run / halt (default: this node)
        cmruncl [-n NODE ...], cmhaltcl [-f]  cluster run / halt [--force]
        cmcheckconf [-C CLUSTER_YAML]         config check
        cmapplyconf [-C CLUSTER_YAML]         config apply
        cmgetconf [-C OUTPUT_FILE]            config show (into OUTPUT_FILE with -C)
        hpvmmigrate -P GUEST -h HOST [-s] [-c N] [-r SIZE]   move (-s: check)
        hpvmstatus [-P GUEST]                 view as HPVM's guest table

OPTIONS
    --socket PATH
        The control socket of the local cmcld. Default: $CMCL_SOCKET, else
        /run/cmcld/cmcld.sock.
    -o, --output table|json
        table (the default) prints for people; json prints one JSON object, and on
        failure {"error": {"code": ..., "message": ...}}.
    -t, --preview
        On run, halt, move, node halt, enable, node|package maintenance ... off and
        cluster arm: print what the command would do, changing nothing (Serviceguard's
        -t). The command passes its own checks (permission, names, migration
        validation; refusals exit 1 with the reason, as the command would), then is
        played forward on a copy of the cluster state with the coordinator's own
        decisions, every start and halt assumed to succeed: each step is printed in
        order, e.g. halt hpvm1 on ivmcl01 (move to ivmcl02), then start hpvm1 on
        ivmcl02 (move, from ivmcl01), or hpvm2: stays down: no node can run it: ...;
        a step that waits for a lost node's lease starts with "in 35m:". Leaving
        maintenance and arming move nothing the preview does not list. Answered by the
        node pkgctl talks to: on the coordinator with its view of who is up; elsewhere
        every member not halted counts as up (the answer says so). Exit 0: it would be
        accepted; 1: refused; 2: -t on a command that does not take it.
        json: {"preview": true, "command", "accepted", "refused", "node",
        "authoritative", "coordinator", "bounded", "steps": [{"action", "package",
        "node", "from", "reason", "after_ms", "text"}]}.
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
    pkgctl view -v
    pkgctl move hpvm1 -n ivmcl02 --timeout 5m
    pkgctl config check config/demo/cluster.yaml
    pkgctl -o json config check /etc/cmcl/cmcl.yaml
    pkgctl check hpvm1 -n ivmcl02 --offline config/hpvm/cluster.yaml
    CMCL_CONFIG=config/hpvm/cluster.yaml pkgctl config check
)";

const char* const kConfigHelp = R"(NAME
    pkgctl config - check, apply and show the cluster configuration

SYNOPSIS
    pkgctl [-o|--output table|json] config check [CLUSTER_YAML]
    pkgctl [--socket PATH] [-o|--output table|json] config apply [CLUSTER_YAML]
           [--no-wait] [--timeout DURATION]
    pkgctl [--socket PATH] [-o|--output table|json] config show

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

    show
        The applied configuration: the cluster.yaml of the bundle the local cmcld
        applied, under a comment line with its version. Works without quorum.
        json: {"version": N, "bundle_dir": "...", "cluster_yaml": "..."}.
        (Serviceguard: cmgetconf)

    apply [CLUSTER_YAML]
        Commit the files as the next configuration version, cluster-wide, all or
        nothing; see pkgctl config apply --help. (Serviceguard: cmapplyconf)

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

const char* const kConfigApplyHelp = R"(NAME
    pkgctl config apply - commit a new configuration version cluster-wide

SYNOPSIS
    pkgctl [--socket PATH] [-o|--output table|json] config apply [CLUSTER_YAML]
           [--no-wait] [--timeout DURATION]
    cmapplyconf [-C CLUSTER_YAML]

DESCRIPTION
    Reads the cluster file and every package folder and inventory file it names, as
    the caller, and checks them exactly as config check does (every error is printed
    as FILE:LINE:COLUMN: message, exit 2). Then it builds the configuration bundle
    (the cluster file and every package folder: paths, modes and bytes; at most
    3 MiB, since every version travels in the replicated log) and sends it to the
    local cmcld, which:
      1. checks it against the applied version: it must load with that node's key;
         it may not rename the cluster, add, remove or change the role or addresses
         of a node, or change node_timeout, heartbeat_interval, fence_timeout,
         fence_action, clock_drift_max, disarm_max, driver_dir or the watchdog
         settings (cmcld reads those at start); every driver a package names must be
         installed on that node; and no package that is starting, up, halting or
         halt_failed may lose the node it runs on (absent from the new version, or
         its node no longer in its node list): halt it first;
      2. commits the proposal as version N+1; every up member validates the bundle on
         its own (decode, hash, load with its own key, same nodes, drivers present);
      3. the coordinator applies it once every up member said ok, or refuses it with
         the first reason ("node2: driver libvirt of package hpvm1 not found in
         /usr/lib/cmcl/drivers").
    Until it is applied every node keeps the old version; once it is applied each node
    writes it to STATE_DIR/config/vN and runs scripts from there. A package keeps the
    scripts of the version that started it: it is halted with them, even when the new
    version changed them. Drivers and the key file are not in the bundle.
    The same files as the applied version: nothing is proposed, exit 0.
    Only full_admin callers (root always) may apply.

OPTIONS
    CLUSTER_YAML
        The cluster file. Default: $CMCL_CONFIG, else /etc/cmcl/cmcl.yaml.
    --no-wait
        Return once the proposal is committed, before the members validated it.
    --timeout DURATION
        Wait at most this long (e.g. 30s); then exit 4: the apply goes on.
        Default: cmcld's (2 minutes).
    --socket PATH, -o table|json
        See pkgctl --help. json prints {"config_version": N, "bundle_hash": "...",
        "ok": true, "message": "configuration version N applied", "index": I}, or
        {"error": {"code": "refused"|"invalid_config"|..., "message": ...}}.

EXIT STATUS
    0   applied (or nothing to apply)
    1   refused (by a check or a member; the applied version stays), no quorum,
        permission denied
    2   usage or configuration error
    3   cmcld could not be reached
    4   --timeout expired while the apply goes on

ENVIRONMENT
    CMCL_CONFIG    the cluster file used when no CLUSTER_YAML is given
    CMCL_SOCKET    the control socket used when --socket is not given

EXAMPLES
    pkgctl config apply /etc/cmcl/cmcl.yaml
    cmapplyconf -C /etc/cmcl/cmcl.yaml
    pkgctl -o json config apply --timeout 1m
)";

const char* const kViewHelp = R"(NAME
    pkgctl view - the cluster, its nodes and packages

SYNOPSIS
    pkgctl [--socket PATH] [-o table|json] view [-v] [PKG|NODE]

DESCRIPTION
    Prints the cluster (status, coordinator, quorum, configuration version, lease
    mode), every node (status up, down or halted; state running, fencing, no_quorum,
    maintenance or unknown; role) and every package (status down, starting, up,
    halting, failed or halt_failed; state; the node it runs on; global switching; the
    reason of its last change). The local cmcld answers at once from the state it
    applied; it never waits for a leader. On a node without quorum a banner says so,
    the other nodes show unknown and the packages their last known values, marked
    stale. (Serviceguard: cmviewcl; HPVM: hpvmstatus)

OPTIONS
    -v, --verbose
        The tree of Serviceguard's cmviewcl -v: per node its heartbeat networks and
        the packages it runs, each with its policies, services and restarts, node
        switching per node (current marked), failed-node memory, relocations, epoch,
        pending command and move, reason and guest (vCPUs, memory, storage, networks,
        devices); then UNOWNED_PACKAGES.
    --format table|line|hpvmstatus
        The text form: line prints Serviceguard's cmviewcl -f line `key=value` lines
        (cluster keys unprefixed, then node:NODE|key=value and package:PKG|key=value,
        with package:PKG|node:NODE|switching=... and package:PKG|service:S|...);
        hpvmstatus prints HPVM's guest columns. json is unchanged by it.
    PKG | NODE
        Only this package, or only this node and the packages placed on it.
    --socket PATH, -o table|json
        See pkgctl --help. json: {"as_of", "cluster", "nodes", "packages"}
        (INTERFACE.md "JSON output").

EXIT STATUS
    0   done
    1   refused or failed (validation, script failure, no quorum, permission denied,
        unknown package or node, with "did you mean")
    2   usage error
    3   cmcld could not be reached
    4   --timeout expired while the operation goes on

ENVIRONMENT
    CMCL_SOCKET    the control socket used when --socket is not given
                   (else /run/cmcld/cmcld.sock)

EXAMPLES
    pkgctl view
    pkgctl view -v hpvm1
    pkgctl -o json view ivmcl02
)";

const char* const kRunHelp = R"(NAME
    pkgctl run - start a package

SYNOPSIS
    pkgctl [--socket PATH] [-o table|json] run PKG [-n NODE] [--no-wait]
           [--timeout DURATION]

DESCRIPTION
    Starts a down package on NODE, or where its failover policy places it, after
    migration validation, and turns its global switching on (so it fails over from
    now on). Waits until it is up, or has failed, and prints the outcome, e.g.
    "started on ivmcl02". A package already up is left alone ("already up on N").
    Only root may run it (issue 9 adds the access list).
    (Serviceguard: cmrunpkg [-n node] pkg, then cmmodpkg -e pkg)

OPTIONS
    -n, --node NODE
        Start it on this node.
    --keep-switching
        Leave global switching as it is (the cmrunpkg alias: Serviceguard's cmrunpkg
        does not enable it; follow with pkgctl enable PKG).
    -t, --preview
        Print what would happen, changing nothing: the same checks as the command
        (refusals exit 1 with the reason), then every start and halt the coordinator
        would order, in order, from the same placement code (see pkgctl --help).
    --no-wait
        Return once the operation is committed (replicated), without waiting for it
        to finish.
    --timeout DURATION
        Wait at most this long (e.g. 30s, 5m); then exit 4: the operation goes on.
        Default: cmcld's (2 minutes).
    --socket PATH, -o table|json
        See pkgctl --help.

EXIT STATUS
    0   done
    1   refused or failed (validation, script failure, no quorum, permission denied,
        unknown package or node, with "did you mean")
    2   usage error
    3   cmcld could not be reached
    4   --timeout expired while the operation goes on

ENVIRONMENT
    CMCL_SOCKET    the control socket used when --socket is not given
                   (else /run/cmcld/cmcld.sock)

EXAMPLES
    pkgctl run hpvm1
    pkgctl run hpvm1 -n ivmcl02 --timeout 90s
)";

const char* const kHaltHelp = R"(NAME
    pkgctl halt - halt a package

SYNOPSIS
    pkgctl [--socket PATH] [-o table|json] halt PKG [--no-wait] [--timeout DURATION]

DESCRIPTION
    Halts a package on its node (its halt script runs) and turns its global
    switching off, so it stays down until pkgctl run. Waits until it is halted; a
    halt script that fails leaves it halt_failed (it may still run) and exits 1.
    Only root may halt it. (Serviceguard: cmhaltpkg pkg)

OPTIONS
    -t, --preview
        Print what would happen, changing nothing: the same checks as the command
        (refusals exit 1 with the reason), then every start and halt the coordinator
        would order, in order, from the same placement code (see pkgctl --help).
    --no-wait
        Return once the operation is committed (replicated), without waiting for it
        to finish.
    --timeout DURATION
        Wait at most this long (e.g. 30s, 5m); then exit 4: the operation goes on.
        Default: cmcld's (2 minutes).
    --socket PATH, -o table|json
        See pkgctl --help.

EXIT STATUS
    0   done
    1   refused or failed (validation, script failure, no quorum, permission denied,
        unknown package or node, with "did you mean")
    2   usage error
    3   cmcld could not be reached
    4   --timeout expired while the operation goes on

ENVIRONMENT
    CMCL_SOCKET    the control socket used when --socket is not given
                   (else /run/cmcld/cmcld.sock)

EXAMPLES
    pkgctl halt hpvm1
    pkgctl halt hpvm1 --no-wait
)";

const char* const kMoveHelp = R"(NAME
    pkgctl move - move a guest to another node

SYNOPSIS
    pkgctl [--socket PATH] [-o table|json] move PKG -n NODE [--vcpus N]
           [--memory SIZE] [--no-wait] [--timeout DURATION]

DESCRIPTION
    Validates NODE for the package's guest (the checks of pkgctl check), halts it on
    its node, and starts it on NODE once the halt is committed. When validation
    refuses the move, nothing is halted: the guest keeps running, and every
    violation is printed, one line each. A start on NODE that fails brings the
    guest back to its node. Waits until the move has finished. Only root may move.
    (HPVM: hpvmmigrate -P guest -h host [-c N] [-r SIZE])

OPTIONS
    -n, --node NODE
        The target node (required).
    --vcpus N, --memory SIZE
        Start it there with this many vCPUs / this much memory (e.g. 4GiB);
        committed as a package override when the move succeeds.
    -t, --preview
        Print what would happen, changing nothing: the same checks as the command
        (refusals exit 1 with the reason), then every start and halt the coordinator
        would order, in order, from the same placement code (see pkgctl --help).
    --no-wait
        Return once the operation is committed (replicated), without waiting for it
        to finish.
    --timeout DURATION
        Wait at most this long (e.g. 30s, 5m); then exit 4: the operation goes on.
        Default: cmcld's (2 minutes).
    --socket PATH, -o table|json
        See pkgctl --help.

EXIT STATUS
    0   done
    1   refused or failed (validation, script failure, no quorum, permission denied,
        unknown package or node, with "did you mean")
    2   usage error
    3   cmcld could not be reached
    4   --timeout expired while the operation goes on

ENVIRONMENT
    CMCL_SOCKET    the control socket used when --socket is not given
                   (else /run/cmcld/cmcld.sock)

EXAMPLES
    pkgctl move hpvm1 -n ivmcl02
    pkgctl -o json move hpvm1 -n ivmcl02 --memory 4GiB --timeout 5m
)";

const char* const kReadinessHelp = R"(NAME
    pkgctl readiness - which failovers would be refused now

SYNOPSIS
    pkgctl [--socket PATH] [-o table|json] readiness

DESCRIPTION
    For every package, the migration validation of pkgctl check against every node
    it may run on other than the one it runs on: which failovers would be refused,
    and why, before a node is lost. Checks that cannot run yet (an inventory not
    known) are listed as unchecked.

OPTIONS
    --socket PATH, -o table|json
        See pkgctl --help. json: a list of check reports ({"package", "source",
        "results": [{"node", "ok", "violations", "unchecked"}]}).

EXIT STATUS
    0   done
    1   refused or failed (validation, script failure, no quorum, permission denied,
        unknown package or node, with "did you mean")
    2   usage error
    3   cmcld could not be reached
    4   --timeout expired while the operation goes on

ENVIRONMENT
    CMCL_SOCKET    the control socket used when --socket is not given
                   (else /run/cmcld/cmcld.sock)

EXAMPLES
    pkgctl readiness
    pkgctl -o json readiness
)";

const char* const kEventsHelp = R"(NAME
    pkgctl events - the cluster's event history

SYNOPSIS
    pkgctl [--socket PATH] [-o table|json] events [--limit N]

DESCRIPTION
    The events the cluster recorded in its replicated state: membership changes,
    placement decisions and their reasons, and every operator command with who
    issued it from which node ("root@ivmcl01"). Newest last; critical events are
    marked "!". The state keeps the latest 256.

OPTIONS
    -l, --limit N
        Only the newest N events.
    --socket PATH, -o table|json
        See pkgctl --help. json: [{"index", "critical", "text"}].

EXIT STATUS
    0   done
    1   refused or failed (validation, script failure, no quorum, permission denied,
        unknown package or node, with "did you mean")
    2   usage error
    3   cmcld could not be reached
    4   --timeout expired while the operation goes on

ENVIRONMENT
    CMCL_SOCKET    the control socket used when --socket is not given
                   (else /run/cmcld/cmcld.sock)

EXAMPLES
    pkgctl events --limit 20
)";

const char* const kEnableHelp = R"(NAME
    pkgctl enable, pkgctl disable - package switching

SYNOPSIS
    pkgctl [--socket PATH] [-o table|json] enable PKG [-n NODE]
    pkgctl [--socket PATH] [-o table|json] disable PKG [-n NODE]

DESCRIPTION
    Without -n: global switching (AUTO_RUN). enable also wishes the package to run,
    so a halted package starts where its policy says; disable keeps it where it is
    but stops automatic placement and failover. With -n NODE: node switching, whether
    the package may run on NODE; enable -n also takes NODE out of the package's
    failed-node memory. Answers once the change is committed. Needs package_admin
    (root in this build). (Serviceguard: cmmodpkg -e|-d [-n node] pkg)

OPTIONS
    -n, --node NODE
        Node switching on NODE instead of global switching.
    -t, --preview
        (enable only) Print what would happen, changing nothing: the same checks as
        the command (refusals exit 1 with the reason), then every start and halt the
        coordinator would order, in order, from the same placement code (see pkgctl
        --help).
    --socket PATH, -o table|json
        See pkgctl --help. json: {"package", "ok", "message", "index"}.

EXIT STATUS
    0   done
    1   refused or failed (no quorum, permission denied, unknown package or node,
        with "did you mean")
    2   usage error
    3   cmcld could not be reached
    4   --timeout expired while the operation goes on

ENVIRONMENT
    CMCL_SOCKET    the control socket used when --socket is not given
                   (else /run/cmcld/cmcld.sock)

EXAMPLES
    pkgctl enable hpvm1
    pkgctl disable hpvm1 -n ivmcl02
)";

const char* const kClearHelp = R"(NAME
    pkgctl clear - clear a package's halt_failed or failed status

SYNOPSIS
    pkgctl [--socket PATH] [-o table|json] clear PKG [--owner-is-down NODE]
           [--no-wait] [--timeout DURATION]

DESCRIPTION
    A halt_failed package may still run on its owner: nothing else starts it until it
    is cleared. Without --owner-is-down the owner is asked whether the guest still
    runs (cleared when it stopped, refused when it still runs); --owner-is-down NODE
    is the operator's word that the owner NODE is down (powered off), recorded with
    who said it. On a failed package it clears the failure and the failed-node
    memory. Waits for the outcome. Needs package_admin (root in this build).

OPTIONS
    --owner-is-down NODE
        The owner is known to be down; NODE must be the owner.
    --no-wait, --timeout DURATION
        Answer once committed / bound the wait (exit 4 when it expires).
    --socket PATH, -o table|json
        See pkgctl --help. json: {"package", "ok", "message", "index"}.

EXIT STATUS
    0   done
    1   refused or failed (no quorum, permission denied, unknown package or node,
        with "did you mean")
    2   usage error
    3   cmcld could not be reached
    4   --timeout expired while the operation goes on

ENVIRONMENT
    CMCL_SOCKET    the control socket used when --socket is not given
                   (else /run/cmcld/cmcld.sock)

EXAMPLES
    pkgctl clear hpvm1
    pkgctl clear hpvm1 --owner-is-down ivmcl01
)";

const char* const kNodeHelp = R"(NAME
    pkgctl node - take a node out of or back into service

SYNOPSIS
    pkgctl [--socket PATH] [-o table|json] node halt NODE [--no-wait] [--timeout D]
    pkgctl [--socket PATH] [-o table|json] node run NODE
    pkgctl [--socket PATH] [-o table|json] node readmit NODE
    pkgctl [--socket PATH] [-o table|json] node maintenance NODE on|off [--freeze]
           [--no-wait] [--timeout D]

DESCRIPTION
    halt: NODE leaves service; its packages move or halt per shutdown_policy. Waits
    until no package is up, starting or halting on it (exit 1 when one is left
    halt_failed there). run: NODE is back in service (answers once committed).
    readmit: a node whose state_dir was lost may vote again (answers once
    committed). Needs full_admin (root). (Serviceguard: cmhaltnode / cmrunnode)

    maintenance on: NODE is never a placement target (start, failover, failback,
    move, run -n are refused by validation) and its packages move away as for a
    node halt with shutdown_policy migrate; one that no node can take stays up
    there, and the answer and its note say why: nothing is halted. Waits until none
    is still leaving. --freeze: its packages stay where they are and are in package
    maintenance while there (not monitored, not failed over). off: NODE takes
    packages again; nothing moves back unless failback_policy automatic says so.
    Kept in the replicated state: survives restarts of every daemon. `view` shows
    the node's state as maintenance (with --freeze, the table adds "frozen").

OPTIONS
    -t, --preview
        (halt, maintenance off) Print what would happen, changing nothing: the
        same checks as the command (refusals exit 1 with the reason), then every
        start and halt the coordinator would order, in order, from the same placement
        code (see pkgctl --help).
    --freeze
        With maintenance on: keep the node's packages in place.
    --no-wait, --timeout DURATION
        Answer once committed / bound the wait (exit 4 when it expires).
    --socket PATH, -o table|json
        See pkgctl --help. json: {"node", "ok", "message", "index"}.

EXIT STATUS
    0   done
    1   refused or failed (no quorum, permission denied, unknown package or node,
        with "did you mean")
    2   usage error
    3   cmcld could not be reached
    4   --timeout expired while the operation goes on

ENVIRONMENT
    CMCL_SOCKET    the control socket used when --socket is not given
                   (else /run/cmcld/cmcld.sock)

EXAMPLES
    pkgctl node halt ivmcl02 --timeout 10m
    pkgctl node run ivmcl02
    pkgctl node maintenance ivmcl02 on
    pkgctl node maintenance ivmcl02 off
)";

const char* const kPackageHelp = R"(NAME
    pkgctl package - per-package administration: maintenance mode

SYNOPSIS
    pkgctl [--socket PATH] [-o table|json] package maintenance PKG on|off

DESCRIPTION
    maintenance on: cmcld stops monitoring PKG and takes no automatic action on it —
    no start, restart, relocation, failover (a lost owner keeps it assigned, so it
    can never run twice), failback or node-halt migration — without halting it. Its
    guest may be stopped and started by hand; a stop is logged, not acted on. An
    operator's run, halt, move and clear still act. off: monitoring resumes (the
    owner asks the driver once whether the guest runs) and the policies apply again
    (a guest found stopped then fails over as usual); the event says so. Answers
    once committed; kept in the replicated state (survives restarts). Needs
    package_admin. `view` marks it (json "maintenance": true).
    (Serviceguard: cmmodpkg -m on|off PKG)

OPTIONS
    -t, --preview
        (maintenance off) Print what would happen, changing nothing: the same checks as
        the command (refusals exit 1 with the reason), then every start and halt the
        coordinator would order, in order, from the same placement code (see pkgctl
        --help).
    --socket PATH, -o table|json
        See pkgctl --help. json: {"package", "ok", "message", "index"}.

EXIT STATUS
    0   done
    1   refused (no quorum, permission denied, unknown package with "did you mean")
    2   usage error
    3   cmcld could not be reached

EXAMPLES
    pkgctl package maintenance hpvm1 on
    cmmodpkg -m off hpvm1
)";

const char* const kClusterHelp = R"(NAME
    pkgctl cluster - start placement, halt every package, disarm or arm

SYNOPSIS
    pkgctl [--socket PATH] [-o table|json] cluster run [-n NODE ...]
    pkgctl [--socket PATH] [-o table|json] cluster halt [--force] [--no-wait]
           [--timeout DURATION]
    pkgctl [--socket PATH] [-o table|json] cluster disarm --for DURATION [--no-wait]
           [--timeout DURATION]
    pkgctl [--socket PATH] [-o table|json] cluster arm [--no-wait] [--timeout DURATION]

DESCRIPTION
    run: initial placement starts now, without waiting cluster_start_wait for every
    member; each -n NODE must be up (heard from), else it is refused. Answers once
    committed. halt: refused (exit 1, naming them) while packages are up, starting or
    halting; with --force every package is halted, switching goes back to each
    package's configuration and nothing starts until cluster run. Waits until no
    package runs. Needs full_admin (root). (Serviceguard: cmruncl / cmhaltcl [-f])

    disarm --for DURATION: for network maintenance. Every lease becomes DURATION long
    (at most disarm_max, 4h by default): a node that loses contact keeps its guests
    running, and nothing fails over from it, until DURATION after its last contact.
    Answers once committed; view shows "DISARMED, 37m left". When DURATION has passed
    the coordinator arms the cluster by itself. Refused without quorum (exit 1) and
    past disarm_max (exit 1). arm: back to the normal lease (node_timeout) now.
    Answers once committed and every node heard from took the short lease (at most
    2 node_timeout); it names the nodes that did not yet, whose packages still wait
    up to DURATION before they fail over. Both are recorded in events with who did it.

OPTIONS
    -n, --node NODE
        (run) A node that must be up; repeatable.
    -f, --force
        (halt) Halt the packages that run.
    -t, --preview
        (arm) Print what would happen, changing nothing: the same checks as
        the command (refusals exit 1 with the reason), then every start and halt the
        coordinator would order, in order, from the same placement code (see pkgctl
        --help).
    --no-wait, --timeout DURATION
        Answer once committed / bound the wait (exit 4 when it expires).
    --socket PATH, -o table|json
        See pkgctl --help. json: {"cluster", "ok", "message", "index"}; disarm adds
        "mode": "disarmed", "disarm_ms", "disarmed_left_ms"; arm adds "mode":
        "normal", "unconfirmed" (nodes) and "unconfirmed_wait_ms".
    --for DURATION
        (disarm) How long, e.g. 30m, 2h. Required.

EXIT STATUS
    0   done
    1   refused or failed (no quorum, permission denied, unknown package or node,
        with "did you mean"; disarm past disarm_max)
    2   usage error
    3   cmcld could not be reached
    4   --timeout expired while the operation goes on

ENVIRONMENT
    CMCL_SOCKET    the control socket used when --socket is not given
                   (else /run/cmcld/cmcld.sock)

EXAMPLES
    pkgctl cluster run
    pkgctl cluster halt --force
    pkgctl cluster disarm --for 2h
    pkgctl cluster arm
)";

const char* const kExplainHelp = R"(NAME
    pkgctl explain - why a package is (not) running, and what would change it

SYNOPSIS
    pkgctl [--socket PATH] [-o table|json] explain PKG

DESCRIPTION
    Answers at once from the local cmcld's live state, in a few lines: the package's
    status, then what keeps it where it is, most fundamental first (quorum, cluster
    start or halt, disarm, halt_failed, an operator's halt or a run script's exit 1,
    global and node switching, failed-node memory), then context (a lost owner, an
    intent in progress, the pending command, restarts and relocations, the migration
    validation verdict for every candidate node with its violation codes, the
    coordinator's last note, the last transition and command). The last line is the
    command that would change it. Without quorum it still answers, from the last
    applied state, and says it may be stale. Needs the monitor role or higher.

OPTIONS
    --socket PATH, -o table|json
        See pkgctl --help. json: {"package", "status", "node", "findings": [{"code",
        "message", "command"}], "command"} (command null when there is none).

EXIT STATUS
    0   answered
    1   unknown package (with "did you mean"), permission denied
    2   usage error
    3   cmcld could not be reached

EXAMPLES
    pkgctl explain hpvm1
    pkgctl -o json explain hpvm1
)";

const char* const kGuestHelp = R"(NAME
    pkgctl guest import - make a package of an existing libvirt domain

SYNOPSIS
    pkgctl [-o table|json] guest import --libvirt DOMAIN [-d|--dir DIR] [--nodes N1,N2]

DESCRIPTION
    Reads the domain with `virsh dumpxml DOMAIN --inactive` and writes the folder DIR
    (default: ./DOMAIN; refused when it exists):
        domain.xml    the dumpxml, from which the libvirt driver creates the guest
                      as a transient domain named DOMAIN (packages/drivers/README.md)
        package.yaml  name DOMAIN, driver libvirt, auto_run false, nodes N1,N2 (default
                      ["*"]), and the guest: vCPUs, memory; disks of type block by
                      their /dev/disk/by-id path (a link resolving to the same device,
                      wwn-* first; kept as they are, with a warning, without one), file
                      disks as type file; bridges, libvirt networks and direct
                      interfaces as vswitches of those names; CD-ROMs as devices
        run.sh, halt.sh   the driver's start and stop
    Warns about what migration validation will refuse (a CD-ROM: a host-shared
    device) and what is not imported (network or volume disks, host devices).
    The domain's name becomes the package's and must follow the name rule. Works
    offline: no cmcld is asked. Then add DIR to the cluster file's packages, check
    with pkgctl config check, undefine the domain (the cluster starts it from now on)
    and apply the configuration.

OPTIONS
    --libvirt DOMAIN
        The libvirt domain to import, on the connection $CMCL_LIBVIRT_URI (default
        qemu:///system), with the virsh of $CMCL_VIRSH (default virsh on PATH).
    -d, --dir DIR
        The package folder to write. Default: ./DOMAIN.
    --nodes N1,N2
        The package's nodes, in preference order. Default: every member ("*").
    -o table|json
        See pkgctl --help. json: {"package", "folder", "warnings": [...]}.

ENVIRONMENT
    CMCL_DISK_BY_ID   the folder of stable disk links (default /dev/disk/by-id; tests)

EXIT STATUS
    0   written (warnings on stderr)
    1   refused: DIR exists, virsh failed, the domain name or XML cannot be used
    2   usage error

EXAMPLES
    pkgctl guest import --libvirt hpvm1 --nodes ivmcl01,ivmcl02
    pkgctl guest import --libvirt hpvm1 -d /etc/cmcl/packages/hpvm1
)";

const char* const kInventoryHelp = R"(NAME
    pkgctl inventory probe - this host's inventory, as the Linux probe sees it

SYNOPSIS
    pkgctl [-o table|json] inventory probe [--root DIR]

DESCRIPTION
    Probes this host the way cmcld does for a node with inventory: probe and prints
    the result in the shape of an inventory file (the mapping a node's inventory:
    holds), so that it can be saved, named by inventory_file: and checked with
    pkgctl config check. The node's capacity (online CPUs, MemTotal rounded down to
    MiB) has no key in an inventory file: it is printed as a comment to copy to the
    node's capacity: key. Read from:
        disks           every whole disk of /sys/block, as /dev/NAME and as each
                        /dev/disk/by-id link to it, with its WWID (device/wwid, or
                        wwid for NVMe; a multipath map's from dm/uuid) where the
                        disk has one in a form the configuration accepts.
                        Partitions, RAM disks (ram*, zram*), loop devices bound to
                        no file and devices of size 0 are left out.
        lvols           device-mapper LVM volumes (/dev/dm-N, /dev/mapper/NAME).
        vswitches       every Linux bridge (/sys/class/net/*/bridge), on its uplink
                        port: not a tap or a guest port (vnet*, tap*, vif*); a
                        physical NIC before a virtual one, then the first by name.
                        A bridge without one is host-local: nic "local". Open
                        vSwitch bridges are not probed.
        shared_devices  CD/DVD drives (sr*, SCSI type 5) and their by-id links.
    A device that cannot be read fully is skipped or listed without a WWID, with a
    note on stderr; the probe fails only when /sys/block, /sys/class/net,
    /proc/meminfo or /sys/devices/system/cpu/online cannot be read. Works offline: no
    cmcld is asked. In a network namespace, run it with ip netns exec, which mounts
    the namespace's own /sys.

OPTIONS
    --root DIR
        Read DIR/sys, DIR/dev and DIR/proc instead of /sys, /dev and /proc (a copy
        of another host's trees; tests). Paths are still printed as /dev/....
    -o table|json
        See pkgctl --help. json: {"disks", "lvols", "vswitches", "shared_devices",
        "capacity": {"vcpus", "memory"}, "notes"}.

EXIT STATUS
    0   probed
    1   the probe failed: a file every Linux host has could not be read
    2   usage error

EXAMPLES
    pkgctl inventory probe > /etc/cmcl/inventory/ivmcl01.yaml
    pkgctl -o json inventory probe
)";

}  // namespace cmcl::pkgctl
