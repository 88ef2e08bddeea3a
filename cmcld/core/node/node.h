// Node: one cmcld's whole core (DESIGN.md section 2): Raft with leases, the replicated
// ClusterState, the node agent that drives this node's guests, and — while this node
// is the leader — the coordinator that places virtual resources. Pure: inputs in,
// NodeActions out; the caller (io/ or the simulator) performs them.
//
// Node agent (DESIGN.md section 4, F3-F4 and "After a restart or a fence"):
//  * Nothing happens to guests before Attach() told the node what its guard holds (the
//    guard outlives cmcld). The node then asks the driver for the status of every
//    registered guest and starts nothing until it holds a grant and applied >= c. Then a
//    running guest it owns at the current epoch is adopted; a running guest it does not
//    own is killed (reported `stray` if it will not die, and with fence_action reboot
//    the node then resets itself, NodeActions::reset); an owned guest that is not
//    running is reported (`fenced` if a fence stopped it, else `failed`).
//  * A guest is started only if F3 holds: now + fence_timeout < lease_end, applied >= c,
//    the guard acknowledged its registration and a deadline later than now +
//    fence_timeout, and the applied state names this node the owner at the current
//    epoch (and no release is requested).
//  * At lease_end - fence_timeout the node fences: kills every guest it runs (F4). Every
//    change of lease_end is pushed to the guard (SetDeadline), forward only, except the
//    shortening that arming asks for; armed(F) is reported once the guard acknowledged.
//  * Packages (issue 7, DESIGN.md section 5). Start = the run script (kRun, CMCL_REASON
//    = the assignment's start_reason). Exit 0: report started. Any run failure is
//    cleaned up before anything is reported: the halt script (reason run_failed), then
//    driver kill, then driver status; stopped → report failed with the failure kind
//    (exit 2 → kExit2, timeout → kTimeout, any other exit → kExit1); otherwise
//    halt_failed. Halt (a release) = the halt script with the release's reason; exit 0 →
//    halted; a failure → driver status: stopped → halted, else (node_fail_fast_enabled:
//    kill, then status, and with fence_action reboot a reset if it still runs)
//    halt_failed. A service failure with service_fail_fast_enabled fences the node (a
//    kill of every guest here) and, with fence_action reboot, resets it. A guest found
//    dead while up (an unsolicited status `stopped`) is cleaned up like a run failure
//    (reason service_failed) and reported failed kServiceFailed. `clear` on a halt_failed
//    package this node owns: driver status, once per clear; stopped → halted, else
//    halt_failed again (the clear is refused). A halt_failed guest seen stopped
//    (unsolicited status) is reported halted.
//    Issue 10: while its package is in maintenance (ClusterState::PackageInMaintenance)
//    a running guest is not monitored: a stop or a failed service is logged, not acted
//    on (no report, no cleanup, no service fail-fast), and it stays registered; when
//    maintenance ends the agent asks the driver for its status once, and a stopped
//    guest is then handled as a guest found dead.
//  * Reports (started, halted, failed, fenced, stray, armed) are batched into commands
//    of the node's own client, forwarded to the leader, and retried with the same
//    sequence until applied (at most once, thesis 6.3).
//
// Coordinator (leader only, after its no-op is applied, N1): keeps every configured
// resource assigned to an up member. A resource is (re)assigned only when it is free
// (never assigned, or its owner reported it stopped for certain at its epoch) or when its
// owner's lease has *certainly* expired (Raft::CertainExpiry with ClusterState::WaitFor,
// L4/N2). An assignment that takes a resource from a node that did not release it names
// that node in Command::revokes (L3). Coordinator commands are proposed on this node
// only, one at a time, and never retried elsewhere: a decision is only good for the
// state it was made from (AssignOp carries the epoch it replaces, compare-and-set).
//
// Order rule (extends raft/actions.h): the raft batches first, in order (each: persist,
// sends, restore, applies, replies), then guard requests, then guest actions, then log
// lines, and a reset (NodeActions::reset) last of all: everything else the input asked
// for is handed on first (submitted, not necessarily durable or delivered — a report
// queued with it may be lost, which the reset makes harmless: see RequestReset). A guest
// starts only from the applied state, which is committed and durable here. Replies to
// the node's own commands stay inside; `raft[].replies` holds only the callers'.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

#include "cmcld/core/common/rng.h"
#include "cmcld/core/common/status.h"
#include "cmcld/core/common/time.h"
#include "cmcld/core/config/cluster_config.h"
#include "cmcld/core/node/cluster_state.h"
#include "cmcld/core/node/coordinator.h"
#include "cmcld/core/node/explain.h"
#include "cmcld/core/node/preview.h"
#include "cmcld/core/raft/raft.h"
#include "cmcld/core/validation/config_index.h"
#include "cmcld/core/validation/readiness.h"

namespace cmcl::node {

// Known bugs the simulator switches on (tests/sim only; raft and lease ones live in
// RaftOptions).
struct NodeMutations {
  bool start_without_min_applied = false;  // F3 without applied >= c.
  bool guard_not_rearmed = false;          // Arm: armed(F) reported, guard left at D.
  // Issue 7: a failed run is reported `failed` without the halt/kill/status cleanup,
  // leaving a guest that survived its run script running.
  bool skip_run_failure_cleanup = false;
  // The coordinator's (CoordinatorMutations).
  bool failover_without_validation = false;
  bool halt_failed_reassigned = false;
  bool capacity_not_tallied = false;
  bool start_before_halted = false;
  bool intent_lost_on_coordinator_change = false;
};

struct NodeOptions {
  raft::RaftOptions raft;  // Its lease_mutations and drift bound included.
  // F4: how long a fence may take; guests are killed this long before lease_end.
  Duration fence_timeout = std::chrono::milliseconds(500);
  // The applied configuration: packages (the coordinator places them, the agent runs
  // their scripts), nodes and their inventories, cluster_start_wait, shutdown_policy.
  // Shared, immutable; a config apply (issue 9) swaps it.
  std::shared_ptr<const config::ClusterConfig> config;
  // Its version (issue 9); 0: unknown until the first SetConfig. Once known, while the
  // applied state's version is newer (a ConfigApplyOp applied, SetConfig not called yet)
  // this node coordinates nothing: decisions from the old packages could place one the
  // new version dropped.
  uint64_t config_version = 0;
  // fence_action reboot (DESIGN.md section 4): see Liveness::watchdog_fence.
  bool watchdog_fence = false;
  ClusterState::Options state;
  // Upper bound of `cluster disarm --for` (INTERFACE.md, disarm_max).
  Duration disarm_max = std::chrono::hours(4);
  // Issue 10: the ready leader commits the arm itself once a disarm's D has passed
  // (Node::DisarmLeft). NodeOptionsFor (cmcld) turns it on; off by default so that the
  // simulator's disarm workload, which arms on its own schedule, keeps its scenarios.
  bool arm_when_disarm_ends = false;
  NodeMutations mutations;
};

// --- What the guard holds and is asked ---------------------------------------------

struct GuestRef {
  PackageName resource;
  LogIndex epoch;
  friend auto operator<=>(const GuestRef&, const GuestRef&) = default;
};

// What the guard reports when cmcld (re)attaches: its deadline (local clock; nullopt if
// never armed) and the guests registered with it, with whether it fenced them.
struct GuardState {
  std::optional<Time> deadline;
  std::vector<GuestRef> registered;
  bool fenced = false;  // The deadline passed and the guard killed the registered guests.
};

struct SetDeadline {
  Time deadline;               // lease_end - fence_timeout, local clock.
  bool allow_earlier = false;  // Only for arming (DESIGN.md section 4).
};
struct Register {
  GuestRef guest;
};
struct Unregister {
  PackageName resource;
};
struct GuardRequest {
  uint64_t id = 0;  // 1, 2, 3 ... per Node; GuardAcked(id) acknowledges it and all before.
  std::variant<SetDeadline, Register, Unregister> request;
};

// --- Guests ------------------------------------------------------------------------

// kRun and kHalt run the package's run and halt scripts (from the applied bundle, in
// their own process group, with the CMCL_* environment of DESIGN.md section 5); the
// runner enforces run_timeout / halt_timeout (SIGTERM to the group, then SIGKILL after
// kill_timeout) and says so in GuestResult::timed_out. kKill and kStatus call the
// driver. Each action is answered by exactly one GuestReported with the same guest and
// verb.
enum class GuestVerb : uint8_t { kRun, kHalt, kKill, kStatus };
std::string_view GuestVerbName(GuestVerb verb);

struct GuestAction {
  GuestRef guest;
  GuestVerb verb = GuestVerb::kStatus;
  // For kRun and kHalt: CMCL_REASON, CMCL_SOURCE_NODE (failover and move), and the
  // vCPU/memory overrides a move committed (CMCL_GUEST_VCPUS / _MEMORY_MB otherwise
  // come from the package's guest spec).
  ActionReason reason = ActionReason::kStart;
  std::optional<NodeName> source;
  std::optional<uint32_t> vcpus;
  std::optional<uint64_t> memory_mb;
};

enum class GuestStatus : uint8_t {
  kRunning,  // kRun exited 0, or kStatus says running.
  kStopped,  // kHalt exited 0, kKill saw it stop, or kStatus says stopped.
  kFailed,   // kRun or kHalt exited non-zero or timed out (see exit_code, timed_out).
  kUnknown,  // kKill did not see it stop, or kStatus could not tell.
};

struct GuestResult {
  GuestStatus status = GuestStatus::kUnknown;
  int exit_code = 0;       // kRun / kHalt: the script's exit status (-1: killed).
  bool timed_out = false;  // kRun / kHalt: passed its timeout; the runner killed it.
  // Unsolicited (with verb kStatus): this service of the package failed past its
  // max_restarts. Services are the runtime's: it starts them after the run script, and
  // restarts a service that exits up to its max_restarts without running the run script
  // again (Serviceguard's service_restart); past that it reports here, and the agent
  // halts the package (reason service_failed, the run-failure cleanup) — or, with
  // service_fail_fast_enabled, fences the whole node at once.
  std::string failed_service;
};

struct LogLine {
  bool critical = false;
  std::string text;
};

// The node resets itself (`fence_action: reboot` only; DESIGN.md sections 4 and 5): a
// stray guest that a kill did not stop, a guest that survived node_fail_fast_enabled's
// kill after a failed halt, a service failure with service_fail_fast_enabled. The
// runtime asks cmcl-guard to reset the node (guard.h); `why` names the package and
// the cause, for the guard's CRITICAL line. With `fence_action: kill` it is never asked:
// those cases are reported and logged critical only.
struct ResetNode {
  std::string why;
};

// One input can call Raft more than once (the input itself, then the agent's reports and
// the coordinator's decisions): `raft` holds those batches in the order they must be
// executed, each by the order rule of raft/actions.h.
struct NodeActions {
  std::vector<raft::Actions> raft;
  std::vector<GuardRequest> guard;
  std::vector<GuestAction> guests;
  std::vector<LogLine> log;
  // `inventory: probe` (issue 12): probe this host's inventory and answer with
  // Node::InventoryProbed(id). At most one probe is asked at a time: the next is asked
  // only after this one was answered. Never set on a node whose inventory is not `probe`.
  std::optional<uint64_t> probe_inventory;
  // Executed last, after everything above was handed on (see the order rule). Asked at
  // most once per Node.
  std::optional<ResetNode> reset;
};

// What initial placement waits for, as one node can know it (Node::StartWaitOf).
struct StartWait {
  // The ready leader decides the cluster start (coordinator.h, ClusterStartGate): it
  // knows whom it waits for and until when. Any other node knows only that the cluster
  // has not started yet.
  bool decided_here = false;
  std::vector<NodeName> waiting_for;  // decided_here: members (not halted) not up.
  Duration wait = Duration(0);        // cluster_start_wait.
  std::optional<Duration> left;       // decided_here: until it stops waiting.
};

class Node {
 public:
  // `state` as storage recovered it; the ClusterState is restored from its snapshot.
  Node(NodeOptions options, raft::PersistedState state, Rng rng, Time now);
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // The guard's state at (re)attach. Call once, right after construction.
  NodeActions Attach(Time now, const GuardState& guard);
  NodeActions Step(Time now, const raft::Message& message);
  NodeActions Tick(Time now);
  // A client command (its payload an encoded OpBatch). Replies come in raft.replies. A
  // payload that does not decode, or a disarm without a duration or longer than
  // disarm_max, is answered kRejected with the reason and never reaches the log.
  NodeActions Propose(Time now, raft::Command command);
  // Propose, sent on to the leader when this node is not it (raft::Raft::Forward): what
  // cmcld does with operator commands, so pkgctl may talk to any node. The leader answers
  // with the reply once the command is applied; a forward lost on the way is never
  // answered, so the caller resends it with the same sequence (applied at most once).
  NodeActions Forward(Time now, raft::Command command);
  NodeActions PersistCompleted(Time now, uint64_t up_to);
  NodeActions GuardAcked(Time now, uint64_t id);
  // The answer to a GuestAction. Also unsolicited, from the runtime's monitoring: a
  // kStatus with kStopped for a guest the agent believes up means the guest died (handled
  // as a service failure: cleanup, then restart-then-relocate).
  NodeActions GuestReported(Time now, const GuestRef& guest, GuestVerb verb,
                            const GuestResult& result);
  // The readiness view (DESIGN.md section 6): every package validated against every
  // other node it may run on, from the applied state, the configuration and its
  // inventories, recomputed when any of them changed since the last call. On the leader
  // "up" is what the coordinator sees; on a follower, which cannot see the others'
  // liveness, every configured member that is not halted counts as up.
  const std::vector<validation::PackageReadiness>& Readiness();
  // `pkgctl check PKG [-n NODE]` (and a move's validation before it is proposed) on this
  // node: validation::Check against the same facts and the same "up" as Readiness(), for
  // `target` or every node the package may run on except its source. NotFound (with "did
  // you mean") for a package that is not configured. `vcpus` / `memory_mb` (a move's
  // --vcpus / --memory, with a target) validate the guest at that size instead.
  Result<validation::CheckReport> Check(const PackageName& package,
                                        const std::optional<NodeName>& target,
                                        std::optional<uint32_t> vcpus = std::nullopt,
                                        std::optional<uint64_t> memory_mb = std::nullopt) const;
  // A new applied configuration (config apply, issue 9): the packages, nodes and
  // inventories every later decision and script uses. The runtime calls it once the
  // ConfigApplyOp is applied and the bundle materialized; `version` is the config's
  // (nullopt: the applied state's, ClusterState::config_version). The coordinator and the
  // readiness view use it from the next input on; NextWakeup() asks for that input now.
  void SetConfig(std::shared_ptr<const config::ClusterConfig> config,
                 std::optional<uint64_t> version = std::nullopt);
  // `inventory: probe` (issue 12; io/inventory/linux_probe.h): what this host's probe
  // found. While this node's configuration says `inventory: probe` and the applied state
  // holds another inventory for it (or none), the agent commits it (InventoryOp), one at
  // a time; every node's validation then uses it for this node.
  void SetProbedInventory(inventory::NodeInventory inventory);
  // The answer to NodeActions::probe_inventory (DESIGN.md section 2's InventoryProbed):
  // the host's inventory, or why the probe failed. A probe node asks every
  // inventory_probe_interval (the periodic re-probe) and before each start: the agent
  // runs no run script on a probe node until a probe asked after it decided to start
  // has answered, and refuses the start when the guest fails the device checks
  // (shared_device, unsupported_storage, device_missing, wwid_mismatch,
  // vswitch_mismatch) against that fresh inventory: reported failed kExit2 ("failed
  // here, may start elsewhere") with the violations as its detail, so the coordinator
  // places it elsewhere. A new inventory is committed as SetProbedInventory says; an
  // unchanged one commits nothing. A failed probe keeps the last good inventory (a start
  // is checked against it) and is logged once until a probe succeeds again.
  NodeActions InventoryProbed(Time now, uint64_t id, Result<inventory::NodeInventory> probed);
  // The version of the configuration this node uses (NodeOptions::config_version; 0:
  // not known).
  uint64_t config_version() const { return config_version_; }
  // config apply (issue 9): this node's verdict on the pending proposal (version, hash),
  // after the runtime validated its bundle locally; committed through the agent's own
  // client as a ConfigVerdictOp. Once per proposal (its index) and incarnation: a repeat,
  // or a verdict on something no longer pending, does nothing. (Not once per (version,
  // hash): the same bundle proposed again after an abort is validated again.)
  NodeActions ConfigVerdict(Time now, uint64_t version, const std::string& bundle_hash, bool ok,
                            std::string reason);
  // The (version, hash) of the pending proposal this node has not given its verdict on in
  // this incarnation, if any: what the runtime validates next.
  std::optional<std::pair<uint64_t, std::string>> ConfigToValidate() const;
  // SIGTERM (or the runtime's own stop) for this node, DESIGN.md section 5 "Cluster
  // start": from now on nothing new starts here. With quorum the node commits its own
  // `node halt` and the coordinator moves or halts its packages per shutdown_policy;
  // whenever it holds no lease it halts its running guests itself (halt scripts, reason
  // shutdown), since stopping never needs quorum. ShutdownDone() once no guest runs here
  // (a halt_failed guest keeps it from being done: the runtime's stop timeout decides).
  NodeActions Shutdown(Time now);
  bool ShutdownDone() const { return shutting_down_ && LocalGuests().empty(); }
  // `view` (DESIGN.md section 5, "Cluster start": view says what it waits for): nullopt
  // unless initial placement waits — the cluster has not started, is not halted, and (on
  // the ready leader) the gate says kWaiting at `now`.
  std::optional<StartWait> StartWaitOf(Time now) const;
  // Issue 10, `cluster disarm --for D`: how much of D is left while the cluster is
  // disarmed (nullopt when armed), counted from when this node applied the disarm — a
  // node-local anchor (no time crosses the wire), so a node that applied it late (after
  // a restart or from a snapshot) says more is left than there is. When nothing is left
  // the ready leader commits the arm (ClusterModeOp, by "coordinator N (...)"), with
  // NodeOptions::arm_when_disarm_ends.
  std::optional<Duration> DisarmLeft(Time now) const;
  // This node hears a leader with a majority now: its lease is valid and a grant came
  // within the CheckQuorum period (node_timeout). While disarmed a lease stays valid for
  // D without any contact, so MayKeepGuests alone does not say so. Operator commands
  // that need quorum (disarm, arm) are refused at once when this is false.
  bool HasQuorum(Time now) const;
  // `pkgctl explain PKG` (explain.h) from this node's applied state: on the ready leader
  // with the liveness the coordinator decides from; elsewhere with every member counted
  // up (as Readiness) and no claim that a node is lost. Without quorum it still answers,
  // its first blocker saying the state may be stale. NotFound (did you mean) for a
  // package that is not configured.
  Result<Explanation> Explain(const PackageName& package, Time now) const;
  // `pkgctl ... -t/--preview` (preview.h): what the operator command `ops` would do,
  // from this node's applied state, changing nothing. First the refusals a proposal gets
  // here (CheckCommand), then node::Preview: on the ready leader with the liveness the
  // coordinator decides from (for each state the plan reaches: an arm changes the
  // waits); elsewhere — a follower cannot see the others' liveness, and forwarding a
  // read to the leader has no path — every member not halted counts as up and none as
  // lost, and PreviewPlan::authoritative is false.
  PreviewPlan Preview(const OpBatch& ops) const;
  // Snapshot the ClusterState and compact the log (raft::Raft::Compact).
  NodeActions Compact(Time now);
  Time NextWakeup() const;

  const raft::Raft& raft() const { return *raft_; }
  const ClusterState& state() const { return state_; }
  const NodeName& self() const { return options_.raft.self; }
  // Checker B (DESIGN.md section 7): this node would keep or start R now — its applied
  // state names it R's owner at the current epoch, no release is requested, it has not
  // itself reported R stopped at that epoch, its lease is valid and applied >= c, and an
  // assignment from before its last restart counts only for a guest it adopted.
  bool HasAuthority(const PackageName& resource, Time now) const;
  // F3-F4 as this node sees them now (for view, metrics and the watchdog): it may keep
  // guests; it may start one (lease part and guard deadline; ownership is per resource);
  // when it fences (nullopt without a lease).
  bool MayKeepGuests(Time now) const { return raft_->lease().Valid(now); }
  bool MayStartGuests(Time now) const;
  std::optional<Time> FenceAt() const { return raft_->lease().FenceAt(options_.fence_timeout); }
  // Guests this node believes it runs (starting, running, stopping or being killed).
  std::vector<GuestRef> LocalGuests() const;
  bool RunsGuest(const PackageName& resource) const;  // One of LocalGuests(), without a copy.
  // cmcl_validation_refusals_total (metrics_model.h): this node's coordinator decisions
  // that validation refused a placement (Decision::refusals), per violation code, since
  // this Node was made. Counted when a code starts refusing a package, not on every
  // Decide that finds it still refused: an unplaceable package is judged again on each
  // applied change. A package refused, then placed (or no longer asked for), counts
  // again when refused again; a new coordinator counts an ongoing refusal once more.
  const std::map<validation::ViolationCode, uint64_t>& validation_refusals() const {
    return validation_refusals_;
  }

 private:
  // What the agent is doing with a guest (DESIGN.md section 5's sequences).
  enum class Phase : uint8_t {
    kQuerying,       // kStatus after attach.
    kStarting,       // The run script runs.
    kRunning,        // Up (or found running).
    kStopping,       // The halt script runs (a release).
    kHaltCheck,      // The halt script failed: kStatus.
    kFailFastKill,   // node_fail_fast_enabled: kill after a failed halt, then kHaltCheck.
    kCleanupHalt,    // A run failure or a dead guest: the halt script (run_failed/...),
    kCleanupKill,    // then driver kill,
    kCleanupStatus,  // then driver status.
    kHaltFailed,     // May still run: halt_failed reported; waits for clear or a fence.
    kClearStatus,    // `clear`: kStatus of a halt_failed guest.
    kKilling,        // A fence, or a guest that must not run here.
    kStopped,
  };
  // A guest this node runs or knows about, by resource.
  struct Local {
    LogIndex epoch;
    Phase phase = Phase::kQuerying;
    bool fenced = false;                       // Stopped by a fence (ours or the guard's).
    FailureKind failure = FailureKind::kNone;  // Why it stopped, if it failed.
    std::string detail;                        // For the report: "run script exit 2".
    bool halted = false;                       // Stopped cleanly after a release request.
    bool halt_failed = false;                  // Could not be stopped: may still run.
    bool fail_fast_done = false;
    bool kill_failed = false;  // A kill did not see it stop.
    // kKilling: a status after a failed kill did not say stopped (a stray that will not
    // die, once this node does not own it).
    bool survived_kill = false;
    // The `clear` (its command index; 0 if none is pending) this node already asked the
    // driver about: each clear is answered once, not on every input until it applies.
    std::optional<LogIndex> clear_asked;
    uint64_t register_id = 0;  // The guard request registering it at `epoch` (0: none).
    // Issue 10: its package was in maintenance when last looked at (ManageLocals): a
    // stop or a failed service is not acted on then, and leaving asks for its status.
    bool maintenance = false;
    // Issue 12: the inventory probe this start waits for (0: none asked yet).
    uint64_t start_probe = 0;
  };
  // One of the node's own command streams (agent reports, coordinator decisions).
  struct OwnClient {
    raft::ClientId id;
    uint64_t next_sequence = 1;
    std::optional<raft::Command> in_flight;
    Time resend_at;
  };

  NodeActions Submit(Time now, raft::Command command, bool forward);
  void Absorb(raft::Actions actions);
  std::optional<std::string> CheckCommand(const raft::Command& command) const;
  std::optional<std::string> DependencyRefusal(const Op& op) const;
  std::optional<std::string> CheckMaintenance(const MaintenanceOp& op) const;
  void OnOwnReply(const raft::ClientReply& reply);
  void Drive();
  void PushGuardDeadline();
  void Fence();
  void Reconcile();
  void WalkPackages();  // ManageOwned and ManageLocals, unless walk_memo_ says no change.
  void ManageOwned();
  void ReportOwnedNotHere();
  void ManageLocals();
  // `maintenance`: state_.PackageInMaintenance(resource), found by the caller.
  void ResumeMonitoring(const PackageName& resource, Local& local, bool maintenance);
  void TryStart(const PackageName& resource, const Assignment& assignment);
  void ReportStopped(const PackageName& resource, const Local& local);
  void AnswerClears();
  void OnScriptOrDriver(const PackageName& resource, Local& local, GuestVerb verb,
                        const GuestResult& result);
  void CleanUp(const PackageName& resource, Local& local, FailureKind failure, std::string detail,
               ActionReason reason);
  bool FailFast(const PackageName& resource) const;  // node_fail_fast_enabled.
  // With fence_action reboot (options_.watchdog_fence): asks the runtime once to reset
  // this node (NodeActions::reset), with a critical log line. Otherwise nothing.
  void RequestReset(const std::string& why);
  bool ServiceFailFast(const PackageName& resource) const;
  void GiveUpStartAfterTimeout(const PackageName& resource, const Assignment& assignment);
  void ShutdownStep();
  // Shutdown without quorum: when this node stops counting on its lease being renewed —
  // kLeaseRenewalRounds heartbeat intervals after the last renewal, and at the latest a
  // heartbeat interval before the fence point (nullopt without a lease).
  std::optional<Time> LeaseGivenUpAt() const;
  // The lease is valid and LeaseGivenUpAt() has not come.
  bool LeaseRenewing() const;
  // Records when lease_end last moved forward (a grant arrived).
  void NoteLeaseRenewal();
  void Report(const PackageName& resource, LogIndex epoch, ReportKind kind,
              FailureKind failure = FailureKind::kNone, std::string detail = {});
  void Coordinate();
  // validation_refusals(): counts the codes that newly refuse a package (Decide's).
  void CountRefusals(std::map<PackageName, std::set<validation::ViolationCode>> refusals);
  Liveness CurrentLiveness() const;
  // CurrentLiveness as it would be with `state` applied (its waits; Preview).
  Liveness LivenessFor(const ClusterState& state) const;
  // CurrentLiveness, except that a node that is not the ready leader counts every
  // configured member as up (it cannot see the others' liveness): what Readiness and
  // Check validate against.
  Liveness ValidationLiveness() const;
  void LowerLeaseMax(OpBatch& ops);
  // Issue 10: records when this node applied the latest disarm; the leader arms once its
  // D has passed (DisarmLeft).
  void NoteDisarm();
  void ReArmWhenDisarmEnds(OpBatch& ops);
  void FlushReports();
  // Issue 12: queues this node's InventoryOp when the state lacks its probed inventory.
  void QueueInventoryReport();
  // Issue 12: reported_inventories_ (and the index over it) from the applied state's,
  // for the nodes whose configuration says `inventory: probe`.
  void SyncReportedInventories();
  // This node's configuration says `inventory: probe`.
  bool ProbesInventory() const;
  // A probe asked after now: its id (the one in flight, if any, is not fresh enough).
  uint64_t WantProbe();
  // The periodic re-probe, and asks the runtime for the probe wanted, one at a time.
  void ProbeStep();
  // The start of `resource` fails the device checks against the fresh probe: the
  // violations, joined for people (empty: it passes, or there is nothing to check).
  std::string ReprobeRefusal(const PackageName& resource, const Assignment& assignment) const;
  void Resend(OwnClient& client);
  void Guest(const PackageName& resource, LogIndex epoch, GuestVerb verb,
             ActionReason reason = ActionReason::kStart);
  uint64_t Guard(std::variant<SetDeadline, Register, Unregister> request);
  bool Registered(const Local& local) const;
  // This incarnation reported R stopped (or stray) at `epoch`: it gave R up.
  bool GaveUp(const PackageName& resource, LogIndex epoch) const;
  bool IsMember(const NodeName& node) const;
  bool Up(const NodeName& node) const;
  bool Reachable(const NodeName& node) const;
  NodeActions Take();

  NodeOptions options_;
  std::unique_ptr<raft::Raft> raft_;
  ClusterState state_;
  Time now_;
  NodeActions out_;

  // Agent.
  bool attached_ = false;
  bool reconciled_ = false;
  bool guard_fenced_ = false;  // The guard fenced before this incarnation attached.
  // The last log index recovered at start: assignments up to it may have been acted on
  // by an earlier incarnation, so this one never starts them (it reports them instead).
  LogIndex restart_horizon_;
  std::map<PackageName, Local> local_;
  bool shutting_down_ = false;
  // A service failed with service_fail_fast_enabled: this node fences (kills every
  // guest, reported fenced) and starts nothing more; with fence_action reboot it also
  // asks for a reset at once (RequestReset).
  bool fail_fast_fence_ = false;
  bool reset_requested_ = false;    // RequestReset asked for the reset (once per Node).
  bool shutdown_proposed_ = false;  // This node's own NodeAdminOp is queued.
  static constexpr int kLeaseRenewalRounds = 2;
  std::optional<Time> lease_end_seen_;    // The latest lease_end NoteLeaseRenewal saw,
  std::optional<Time> lease_renewed_at_;  // and when it saw it.
  // Owned packages not started yet: the epoch and since when (GiveUpStartAfterTimeout).
  std::map<PackageName, std::pair<LogIndex, Time>> start_waits_;
  // The package walk (ManageOwned with AnswerClears, then ManageLocals) is a function of
  // the applied state, the configuration, this node's guests and the flags below, and of
  // the time only where a start waits (TryStart, GiveUpStartAfterTimeout). A walk that
  // emitted nothing and reached no waiting start would emit nothing again on the same
  // inputs (what it changes without emitting, it sets to the same value each time), so
  // WalkPackages skips it until one of them changes. It walks every package: with 1,000
  // it was most of an idle node's io thread (docs/BENCHMARKS.md).
  struct WalkMemo {
    LogIndex applied;
    uint64_t config_generation = 0;
    uint64_t effects = 0;  // effects_ then: nothing emitted since (a fence's kills...).
    bool guard_fenced = false;
    bool shutting_down = false;
    bool fail_fast_fence = false;
    bool operator==(const WalkMemo&) const = default;
  };
  std::optional<WalkMemo> walk_memo_;  // Reset by every input that changes local_.
  uint64_t effects_ = 0;               // Guest actions, guard registrations, new reports.
  bool walk_waits_ = false;            // This walk reached a start that waits on the time.
  std::set<std::tuple<PackageName, LogIndex, ReportKind>> reported_;
  OpBatch report_queue_;
  OwnClient agent_;
  LogIndex armed_reported_for_;  // The arm this incarnation reported armed(F) for.
  std::optional<uint64_t> arm_deadline_request_;

  // Guard bookkeeping.
  uint64_t next_guard_id_ = 1;
  uint64_t guard_acked_ = 0;
  std::optional<Time> deadline_pushed_;
  std::optional<Time> deadline_acked_;
  std::map<uint64_t, Time> deadlines_pending_;  // SetDeadline requests by id.

  // Coordinator.
  validation::ReportedInventories reported_inventories_;      // Of the state's, probe nodes only.
  std::optional<inventory::NodeInventory> probed_inventory_;  // SetProbedInventory.
  // The re-probe (InventoryProbed): ids asked of the runtime, answered, and wanted.
  uint64_t probe_asked_ = 0;
  uint64_t probe_answered_ = 0;
  uint64_t probe_wanted_ = 0;
  std::optional<Time> next_probe_;                        // The periodic re-probe's next time.
  bool probe_failing_ = false;                            // The last probe failed (logged once).
  std::unique_ptr<validation::ConfigIndex> index_;        // Of options_.config.
  std::optional<Time> leader_since_;  // When this node last became the ready leader.
  LogIndex leader_term_start_;        // The applied index then.
  struct ReadinessCache {
    LogIndex applied;
    uint64_t config_generation = 0;
    std::set<NodeName> up;
    bool valid = false;
    std::vector<validation::PackageReadiness> result;
  };
  ReadinessCache readiness_;
  uint64_t config_generation_ = 1;   // SetConfig counts up.
  uint64_t config_version_ = 0;      // Of options_.config (0: not known).
  bool config_wait_logged_ = false;  // The coordinator waits for SetConfig; said once.
  // When this leader first saw the pending proposal (its index): the verdict timeout.
  std::optional<std::pair<LogIndex, Time>> config_pending_seen_;
  std::set<LogIndex> verdicts_given_;  // Proposals this incarnation gave its verdict on.
  OwnClient coordinator_;
  std::optional<Time> coordinator_wakeup_;
  // The inputs of the last Decide that asked for nothing. Decide is a function of the
  // configuration, the applied state and the liveness, and of the time only through the
  // wakeup it returns; while all of them are the same and that wakeup has not come, it
  // would ask for nothing again, so Coordinate does not call it. (It scans every package:
  // at 1,000 packages it was a third of an idle coordinator's CPU, docs/BENCHMARKS.md.)
  struct DecideMemo {
    LogIndex applied;
    uint64_t config_generation = 0;
    Liveness liveness;  // `now` cleared.
    std::optional<Time> wakeup;
  };
  std::optional<DecideMemo> decide_memo_;
  // validation_refusals(): the codes refusing each package at the last Decide that
  // looked at the packages, and the counts.
  std::map<PackageName, std::set<validation::ViolationCode>> refusing_;
  std::map<validation::ViolationCode, uint64_t> validation_refusals_;
  // When this node first applied a lease length below L_max (the old, longer L).
  std::optional<Time> lease_shortened_at_;
  // The latest disarm (its index) and when this node applied it (DisarmLeft).
  std::optional<std::pair<LogIndex, Time>> disarm_seen_;
};

}  // namespace cmcl::node
