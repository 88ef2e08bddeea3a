// ClusterState: the replicated state every node applies from the committed log
// (DESIGN.md section 3), and the operations a command carries. Pure and deterministic:
// two nodes that applied the same entries hold byte-identical states (Encode).
//
// Issue 6 scope: *virtual resources* R (what a package becomes in issue 7) with
// assignments assign(R, node, epoch), reports, release requests (the first step of a
// move), the cluster mode (armed / disarmed for D) with armed(F) reports, the lease
// length L and L_max (DESIGN.md section 4), and a bounded ring of events.
//
// Epochs (DESIGN.md section 4): an assignment's epoch is the log index of the entry that
// made it. A report names (R, node, epoch) and applies only if that is R's current
// assignment; otherwise it is stale: dropped, counted and logged. `stray` reports apply
// whatever the epoch (they are facts about a guest that runs where it must not).
//
// Issue 7: *packages*. The assignment above is the safety kernel of a package (who may
// run it at which epoch); PackageRecord adds what the operator and the coordinator
// decide around it (DESIGN.md sections 3 and 5): the wish that it runs, global and
// per-node switching, failed-node memory, restart and relocation counters, a pending
// multi-step intent (move, failback, node-halt migration), overrides, and the outcome of
// the last operator command for `pkgctl` to wait on. Records are created lazily: a
// package without one follows its configuration (auto_run). Per-node records hold the
// admin state (`node halt`) and the node_id `node readmit` committed; the cluster record
// whether initial placement has started and the applied configuration version.
//
// Who writes what: operator ops (RunOp, HaltOp, MoveOp, EnableOp, ClearOp, NodeAdminOp,
// ReadmitOp, ClusterRunOp, ClusterHaltOp, ConfigProposeOp) come from pkgctl through the
// control API and carry who issued them; coordinator ops (AssignOp, ReleaseOp,
// IntentStepOp, IntentDoneOp, NoteOp, UnassignOp, ClusterStartOp, ConfigApplyOp,
// ConfigAbortOp) from the leader; node agents send ReportOp, ArmedOp and
// ConfigVerdictOp. Apply never needs the configuration: every number that depends on it
// (max_restarts, the next node) was decided by whoever proposed.
//
// A command's payload is an encoded OpBatch (several ops, applied in order, all with the
// entry's index as epoch). Decoding is total: a malformed payload applies nothing and is
// counted, so a bad entry cannot stop the state machine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "cmcld/core/common/names.h"
#include "cmcld/core/common/time.h"
#include "cmcld/core/inventory/inventory.h"
#include "cmcld/core/raft/actions.h"
#include "cmcld/core/raft/lease.h"
#include "cmcld/core/raft/types.h"

namespace cmcl {
class ByteReader;
class ByteWriter;
}  // namespace cmcl

namespace cmcl::node {

using raft::LogIndex;

// The digest chain over applied entries: NextDigest(digest of 1..i-1, entry i); 0 for
// none. Two states with the same (applied, digest) applied the same entries.
uint64_t HashEntry(const raft::Entry& entry);
uint64_t NextDigest(uint64_t digest, const raft::Entry& entry);

enum class ReportKind : uint8_t {
  kStarted,     // The guest runs on the owner at this epoch.
  kHalted,      // Stopped cleanly (after a release request or a halt): R is free.
  kFailed,      // Not running, stopped for certain (run failure, found dead after restart).
  kHaltFailed,  // May still be running (DESIGN.md section 5): never reassigned in issue 6.
  kFenced,      // The owner fenced it (lease ran out); stopped.
  kStray,       // Runs on a node that does not own it and would not die.
};
std::string_view ReportKindName(ReportKind kind);

// Why a `failed` (or `halt_failed`) report says the guest stopped (DESIGN.md section 5,
// exit-code contract). Decides what follows: kExit1 turns global switching off (never
// restarted, never started elsewhere); kExit2, kTimeout and kServiceFailed restart, then
// relocate; kLost (found dead: a crash, a kill behind cmcld's back) is handled as a
// failover from this node.
enum class FailureKind : uint8_t {
  kNone,
  kExit1,          // Run script exit 1 (or any exit other than 0 and 2).
  kExit2,          // Run script exit 2: failed here, may start elsewhere.
  kTimeout,        // Run script passed run_timeout.
  kServiceFailed,  // A service failed past its restarts, or the guest died while up.
  kLost,           // Found not running (after a restart, or gone without a word).
  kHaltScript,     // The halt script failed (with halt_failed, or cleaned up by kill).
};
std::string_view FailureKindName(FailureKind kind);

// CMCL_REASON (DESIGN.md section 5): why a run or halt script runs. Carried by AssignOp
// (why the node starts it) and by halts.
enum class ActionReason : uint8_t {
  kStart,
  kRestart,
  kFailover,
  kMove,
  kFailback,
  kHalt,
  kNodeHalt,
  kShutdown,
  kRunFailed,
  kServiceFailed,
  kFence,
  kDependency,
  kDisplaced,  // Issue 10: halted to make room for a higher priority (append only).
};
std::string_view ActionReasonName(ActionReason reason);  // "start", "node_halt", ...

// The six values of INTERFACE.md (`view`, package `status`).
enum class PackageStatus : uint8_t { kDown, kStarting, kUp, kHalting, kFailed, kHaltFailed };
std::string_view PackageStatusName(PackageStatus status);

enum class AssignmentStatus : uint8_t {
  kAssigned,    // Owner may start it.
  kStarted,     // Owner reported it running.
  kHalted,      // Released; free to assign.
  kFailed,      // Down for certain; free to assign.
  kHaltFailed,  // May be running; not reassigned automatically.
  kFenced,      // Down for certain; free to assign.
};
std::string_view AssignmentStatusName(AssignmentStatus status);

struct Assignment {
  std::optional<NodeName> owner;  // nullopt: never assigned.
  LogIndex epoch;                 // The index of the entry that made this assignment.
  AssignmentStatus status = AssignmentStatus::kHalted;
  bool release_requested = false;  // Halt it (a move's first step, halt, node halt).
  std::string reason;              // Why the last transition happened, for people.
  // Issue 7. Why the owner starts it (CMCL_REASON) and, for a failover or move, the node
  // it comes from (CMCL_SOURCE_NODE). `halt_reason` is CMCL_REASON of the halt that a
  // release asks for. `failure` is the last failed/halt_failed report's kind.
  ActionReason start_reason = ActionReason::kStart;
  std::optional<NodeName> source;
  ActionReason halt_reason = ActionReason::kHalt;
  FailureKind failure = FailureKind::kNone;
  bool clear_requested = false;  // `pkgctl clear` asked the owner for the guest's status.
  // Issue 10: the ReleaseOp that halts it for a displacement named `displacer`, then at
  // `displacer_epoch`. Kept until the next assignment, so the room its halt frees stays
  // held for the displacer while it waits (coordinator.h, "Priority displacement").
  std::optional<PackageName> displacer;
  LogIndex displacer_epoch = LogIndex(0);

  // True when the resource may be given to a node without waiting for anybody's lease:
  // never assigned, or its owner reported it stopped for certain at this epoch.
  bool Free() const;
  friend bool operator==(const Assignment&, const Assignment&) = default;
};

// --- Operations (one command = an OpBatch) -------------------------------------------

// Give R to `node` at epoch = this entry's index, if R's current epoch is still
// `from_epoch` (0 = never assigned): a compare-and-set, so a decision made from an older
// state applies nothing (counted as stale). `reason` goes to the event ring.
//
// Issue 7: `why` is the owner's CMCL_REASON. The counters follow it: kRestart counts a
// restart on the same node; any other reason on another node resets the restarts; a
// `remember`ed node joins the failed-node memory and counts one relocation. Apply also
// sets the assignment's `source` (the previous owner, when it differs) for
// CMCL_SOURCE_NODE. A pending run ends when the assignment it led to reports.
//
// Issue 10, depends_on: `needs_up` names the dependencies the coordinator saw up (with
// their epochs) when it decided; apply drops the assign (stale) unless each is still
// started at that epoch with no halt asked of it, so an assign decided before a
// dependency went down never starts its dependent (ops format 3; format 2 had no field).
struct AssignOp {
  PackageName resource;
  NodeName node;
  LogIndex from_epoch;
  std::string reason;
  ActionReason why = ActionReason::kStart;
  std::optional<NodeName> remember;
  std::map<PackageName, LogIndex> needs_up;
  bool over_halt_failed = false;  // See UnassignOp.

  friend bool operator==(const AssignOp&, const AssignOp&) = default;
};
// A node's report about R at `epoch`.
//
// Issue 7: `failure` says why a failed/halt_failed report stopped it; `detail` is for
// people ("run script exit 2", "run script timed out after 60s"). A failed report with
// kExit1 turns the package's global switching off and drops the wish to run it.
// A halt_failed report at an epoch already halt_failed answers a `clear`: the guest
// still runs, so the clear is refused (outcome) and nothing else changes.
struct ReportOp {
  PackageName resource;
  NodeName node;
  LogIndex epoch;
  ReportKind kind = ReportKind::kStarted;
  FailureKind failure = FailureKind::kNone;
  std::string detail;

  friend bool operator==(const ReportOp&, const ReportOp&) = default;
};
// Ask R's owner at `epoch` to halt it (a move's first step).
// A displacement (why kDisplaced, ops format 4) also names the package it makes room for
// and that package's assignment epoch when the coordinator decided (0: none). The
// coordinator decides from the applied state while operator commands may be committed
// ahead of its batch, so apply checks again that the displacer still waits for room:
// same epoch and not assigned, not halted by the operator (wanted not false), not in
// maintenance, and the victim not in maintenance. Otherwise the release is dropped with
// the notes its batch gives the two packages (sim seed 16895546273079859409: a `halt` of
// the displacer committed just ahead of the release).
struct ReleaseOp {
  PackageName resource;
  LogIndex epoch;
  ActionReason why = ActionReason::kHalt;  // CMCL_REASON of the halt script.
  std::optional<PackageName> displacer;
  LogIndex displacer_epoch = LogIndex(0);

  friend bool operator==(const ReleaseOp&, const ReleaseOp&) = default;
};
// DESIGN.md section 4, "Disarm is a long lease". `length` must be > 0 (an op without a
// duration is refused at apply and counted as malformed, unless the simulator's
// mutation disarm_without_duration is on, see Options).
struct DisarmOp {
  Duration length = Duration(0);

  friend bool operator==(const DisarmOp&, const DisarmOp&) = default;
};
struct ArmOp {
  friend bool operator==(const ArmOp&, const ArmOp&) = default;
};
// F's guard shortened its deadline after the latest arm.
// F's guard took the short deadline after the arm committed at index `arm`. It counts
// only for that arm (the latest one): an armed report that answers an earlier arm — a
// disarm and another arm came between — says nothing about the lease F holds now.
struct ArmedOp {
  NodeName node;
  LogIndex arm;

  friend bool operator==(const ArmedOp&, const ArmedOp&) = default;
};
// The configured lease length L changes (config apply, issue 9). L_max keeps the longer
// old value until a LeaseMaxOp commits (DESIGN.md section 4, notation).
struct LeaseLengthOp {
  Duration length = Duration(0);

  friend bool operator==(const LeaseLengthOp&, const LeaseLengthOp&) = default;
};
struct LeaseMaxOp {
  Duration length = Duration(0);

  friend bool operator==(const LeaseMaxOp&, const LeaseMaxOp&) = default;
};

// --- Package records (issue 7) -----------------------------------------------------

// A multi-step operation (DESIGN.md section 5, "Multi-step operations are replicated
// intents"). Steps, each committed:
//   kValidating  committed by the MoveOp; the coordinator validates the target against
//                the state and either refuses (IntentDoneOp, nothing was halted) or
//                moves to kHalting (IntentStepOp, which also asks the source to halt).
//   kHalting     the source halts; once its `halted` report for source_epoch is applied
//                the coordinator assigns the target (AssignOp why=kMove) and commits
//                kStarting in the same batch. A halt_failed ends the intent (failed).
//   kStarting    the target starts it; `started` ends the intent (ok). A failed start
//                brings the guest back: the source is validated and assigned
//                (AssignOp) with kReturning in the same batch. A halt_failed there
//                (a start that could not be cleaned up) ends the intent (failed).
//   kReturning   `started` on the source ends the intent (failed, "back on SOURCE");
//                a failure (or halt_failed) there too ends it failed and leaves the
//                package to the failover policy.
// A new coordinator reads the intent from the state and continues from its step; when
// the target is no longer eligible before kStarting it aborts (= the kReturning path
// from kHalting: start again on the source, after validation).
enum class IntentKind : uint8_t { kMove, kFailback, kNodeHalt };
enum class IntentStep : uint8_t { kValidating, kHalting, kStarting, kReturning };
std::string_view IntentKindName(IntentKind kind);
std::string_view IntentStepName(IntentStep step);

struct Intent {
  LogIndex index;  // The entry that committed it: its id (pkgctl waits on it).
  IntentKind kind = IntentKind::kMove;
  NodeName source;
  NodeName target;
  LogIndex source_epoch;  // The assignment it moves the package away from.
  IntentStep step = IntentStep::kValidating;
  std::optional<uint32_t> vcpus;      // `move --vcpus`: committed as an override
  std::optional<uint64_t> memory_mb;  // when the target starts it.
  friend bool operator==(const Intent&, const Intent&) = default;
};

// Which operator command a package's `pending` outcome answers.
enum class CommandKind : uint8_t { kRun, kHalt, kMove, kClear, kEnable, kMaintenance };
std::string_view CommandKindName(CommandKind kind);

// The end of an operator command (`pkgctl run/halt/move/clear` wait for it).
struct Outcome {
  LogIndex command;  // The index of the entry that committed the command.
  CommandKind kind = CommandKind::kRun;
  bool ok = false;
  std::string message;  // "started on ivmcl02", "refused: ...", "halt script failed"
  friend bool operator==(const Outcome&, const Outcome&) = default;
};

struct PackageRecord {
  // nullopt: as configured (auto_run). `wanted`: it should run (run/enable set it, halt
  // and a run exit 1 clear it). `switching`: global switching — whether it may be placed
  // automatically after a failure or its owner's loss, and at cluster start.
  std::optional<bool> wanted;
  std::optional<bool> switching;
  std::set<NodeName> switching_off;    // Node switching disabled (`disable -n`).
  std::set<NodeName> failed_nodes;     // Tried nodes (restart-then-relocate memory).
  uint32_t restarts = 0;               // On the current node since it came there.
  uint32_t relocations = 0;            // Since the last operator run.
  std::optional<NodeName> last_node;   // The last node that reported it started.
  std::optional<NodeName> run_target;  // A pending `run -n NODE`.
  std::optional<Intent> intent;
  std::optional<uint32_t> vcpus;  // Overrides committed by a finished move.
  std::optional<uint64_t> memory_mb;
  // The operator command still waiting for its end (run, halt, clear), and the last end.
  std::optional<std::pair<LogIndex, CommandKind>> pending;
  std::optional<Outcome> outcome;
  // The outcomes before `outcome`, oldest first, at most kEarlierOutcomes: one op can end
  // two commands (a halt ends a pending run and itself), and each waiting pkgctl must
  // still find its own (OutcomeOf).
  std::vector<Outcome> earlier;
  static constexpr size_t kEarlierOutcomes = 3;
  // Records `o` as the latest outcome, keeping the one it replaces in `earlier`.
  void SetOutcome(Outcome o);
  std::string note;  // The coordinator's last word when it cannot act ("no node can run it: …").
  // Issue 10: `package maintenance PKG on` (MaintenanceOp). Snapshot format 4 keeps it.
  bool maintenance = false;

  bool Wanted(bool auto_run) const { return wanted.value_or(auto_run); }
  bool Switching(bool auto_run) const { return switching.value_or(auto_run); }
  friend bool operator==(const PackageRecord&, const PackageRecord&) = default;
};

struct NodeRecord {
  bool halted = false;   // `node halt`: out of service until `node run`.
  uint64_t node_id = 0;  // Committed by `node readmit` (0: the bootstrap one).
  std::string by;        // Who changed it last.
  // Issue 10: `node maintenance NODE on [--freeze]` (MaintenanceOp); frozen implies
  // maintenance. Snapshot format 4 keeps both.
  bool maintenance = false;
  bool frozen = false;
  friend bool operator==(const NodeRecord&, const NodeRecord&) = default;
};

// --- Operator ops (issue 7). `by` is who issued it ("root", "uid 1000"), for events. --

// `run PKG [-n NODE]`: wish it to run (now); `enable_switching` also turns global
// switching on (pkgctl run does; the cmrunpkg alias does not). Resets the restart and
// relocation counters; a target is taken out of the failed-node memory. Ends (outcome)
// at once when it is already up or starting ("already up on N"; with a different -n:
// refused, "use move"); else when it starts (ok), fails, or no node can run it. A
// command still pending (a run, a halt) ends failed, superseded by this run.
struct RunOp {
  PackageName package;
  std::optional<NodeName> node;
  bool enable_switching = true;
  std::string by;
  friend bool operator==(const RunOp&, const RunOp&) = default;
};
// `halt PKG`: global switching off, no wish to run, any intent dropped (its outcome:
// "interrupted by halt"), and the owner asked to halt it (release, why=kHalt). Ends when
// it is halted or fenced (ok), failed (ok: a start that failed, it is down),
// halt_failed (failed), or at once when it runs nowhere.
struct HaltOp {
  PackageName package;
  std::string by;
  friend bool operator==(const HaltOp&, const HaltOp&) = default;
};
// `move PKG -n NODE [--vcpus N] [--memory SIZE]`: an intent (kMove, kValidating).
// Refused at apply (outcome) when it is not up, already on NODE, or another intent runs.
//
// The coordinator proposes MoveOps too: kind kNodeHalt (shutdown_policy migrate) and
// kFailback (failback automatic); they never have an outcome of their own.
struct MoveOp {
  PackageName package;
  NodeName target;
  IntentKind kind = IntentKind::kMove;
  std::optional<uint32_t> vcpus;
  std::optional<uint64_t> memory_mb;
  std::string by;
  friend bool operator==(const MoveOp&, const MoveOp&) = default;
};
// `enable/disable PKG [-n NODE]`: global switching (enable also wishes it to run, as
// `cmmodpkg -e` starts a halted package) or node switching on NODE (enable -n also
// clears NODE from the failed-node memory).
struct EnableOp {
  PackageName package;
  std::optional<NodeName> node;
  bool enable = true;
  std::string by;
  friend bool operator==(const EnableOp&, const EnableOp&) = default;
};
// `clear PKG [--owner-is-down NODE]`. On halt_failed: with owner_is_down naming the
// owner, the operator's word ends it (failed, free to place; recorded with `by`);
// without, the owner is asked (clear_requested) and answers with a report: halted (it
// stopped: cleared) or halt_failed (still runs: refused); a clear still waiting for the
// owner's answer ends with the owner_is_down one (cleared) or a later clear (superseded).
// On failed: clears the failure and the failed-node memory. Otherwise: nothing to
// clear (ok).
struct ClearOp {
  PackageName package;
  std::optional<NodeName> owner_is_down;
  std::string by;
  friend bool operator==(const ClearOp&, const ClearOp&) = default;
};
// `node halt NODE` / `node run NODE`: out of (back into) service. The coordinator moves
// or halts its packages per shutdown_policy.
struct NodeAdminOp {
  NodeName node;
  bool halted = true;
  std::string by;
  friend bool operator==(const NodeAdminOp&, const NodeAdminOp&) = default;
};
// `node readmit NODE`: the node's new node_id (DESIGN.md section 3).
struct ReadmitOp {
  NodeName node;
  uint64_t node_id = 0;
  std::string by;
  friend bool operator==(const ReadmitOp&, const ReadmitOp&) = default;
};
// `cluster run`: initial placement starts now, without waiting for every member.
struct ClusterRunOp {
  std::string by;
  friend bool operator==(const ClusterRunOp&, const ClusterRunOp&) = default;
};
// `cluster halt [--force]`: without force it is refused at apply (cluster_outcome) while
// any package is up, starting or halting; with force every owned package is released
// (why kHalt), every package's wish and switching go back to its configuration, and the
// cluster is halted: nothing is placed until `cluster run` (cluster_halted()).
struct ClusterHaltOp {
  bool force = false;
  std::string by;
  friend bool operator==(const ClusterHaltOp&, const ClusterHaltOp&) = default;
};
// `config apply` (DESIGN.md section 8) is three steps, all in the log, so every node
// sees the same ones and a coordinator change in the middle loses nothing:
//  1. ConfigProposeOp (operator): the node pkgctl talks to built nothing itself — pkgctl
//     built the bundle from the caller's files — but decoded it, checked its hash and
//     size, loaded it and checked it against the applied state before proposing. It
//     carries the bundle bytes and what the core needs to judge stranding without
//     parsing YAML: every package of the new version with the nodes it may run on.
//     Applies only when `version` is config_version() + 1 and no proposal is pending;
//     otherwise it is refused (config_outcome, "another config apply is in progress" /
//     "version N is not next").
//  2. ConfigVerdictOp (node agents, Node::ConfigVerdict): each member validates the
//     pending bundle on its own (decode, hash, load with its own key, same voters and
//     roles, every package's driver present) and commits ok or its reason. A verdict for
//     another proposal (version, hash, index), or a second one from the same node, is
//     stale (dropped).
//  3. The coordinator ends it: ConfigApplyOp once every member it sees up (not halted,
//     live) has said ok and applying strands no package; ConfigAbortOp with the reason
//     on the first refusal ("n2: driver libvirt not found in /usr/lib/cmcl/drivers"),
//     when a package that is starting, up or halting would be stranded (absent from the
//     new version, or its owner not among its nodes there), or when not every verdict
//     came within its verdict timeout ("n3 did not validate within 10s").
// All or nothing: until ConfigApplyOp applies, every node keeps the old version. The
// applied bundle's bytes stay in the state (so in snapshots: a node that was away
// rebuilds any later version from them); version 1 is each node's own bootstrap copy
// (bytes empty) until the first apply.
//
// Core decisions (cluster_state_config.cc, coordinator.cc): a proposal larger than
// kBundleBytesMax is refused at apply (and by Node::Propose), because the snapshot holds
// the applied bundle and a pending one and must stay within raft::kSnapshotStateBytesMax.
// On apply, the records (assignment and PackageRecord) of packages absent from the new
// version are dropped when the package is down or failed: they describe nothing that
// runs, and an epoch only grows, so a package re-added later starts afresh ("never
// assigned") at a later epoch. A package still running there (which the coordinator
// never lets happen: it aborts first) keeps its records, and the event says so.
inline constexpr size_t kBundleBytesMax = 3U << 20;

struct ConfigProposeOp {
  uint64_t version = 0;
  std::string bundle_hash;  // SHA-256 of `bundle`, lowercase hex.
  std::string bundle;       // io::EncodeBundle bytes, at most kBundleBytesMax.
  std::map<PackageName, std::vector<NodeName>> packages;  // Package -> its node list.
  std::string by;
  friend bool operator==(const ConfigProposeOp&, const ConfigProposeOp&) = default;
};
// `proposal` (added by the core) names the proposal by its index as well: a late verdict
// on an aborted proposal must not count for a retry of the same bundle.
struct ConfigVerdictOp {
  uint64_t version = 0;
  std::string bundle_hash;
  LogIndex proposal;  // PendingConfig::proposed_at.
  NodeName node;
  bool ok = false;
  std::string reason;  // Empty when ok.
  friend bool operator==(const ConfigVerdictOp&, const ConfigVerdictOp&) = default;
};
// The coordinator's commit of the pending proposal: `version`/`bundle_hash` must be the
// pending ones (else stale). `by` is the proposal's issuer.
struct ConfigApplyOp {
  uint64_t version = 0;
  std::string bundle_hash;
  std::string by;
  friend bool operator==(const ConfigApplyOp&, const ConfigApplyOp&) = default;
};
struct ConfigAbortOp {
  uint64_t version = 0;
  std::string bundle_hash;
  std::string reason;
  friend bool operator==(const ConfigAbortOp&, const ConfigAbortOp&) = default;
};
// The proposal being validated (ClusterState::pending_config).
struct PendingConfig {
  LogIndex proposed_at;  // The ConfigProposeOp's index: the command pkgctl waits on.
  ConfigProposeOp proposal;
  std::map<NodeName, ConfigVerdictOp> verdicts;
  friend bool operator==(const PendingConfig&, const PendingConfig&) = default;
};
// How a `config apply` ended (ClusterState::config_outcome, ConfigOutcomeOf).
struct ConfigOutcome {
  LogIndex command;  // The ConfigProposeOp's index.
  uint64_t version = 0;
  bool ok = false;
  std::string message;  // "configuration version 3 applied" or the refusal.
  friend bool operator==(const ConfigOutcome&, const ConfigOutcome&) = default;
};

// --- Coordinator ops (issue 7) -----------------------------------------------------

// Moves the intent committed at `intent` to `step`. To kHalting it also requests the
// release of the source epoch (why = kMove, kFailback or kNodeHalt, as the intent).
// Stale (counted, dropped) when the package has no such intent.
struct IntentStepOp {
  PackageName package;
  LogIndex intent;
  IntentStep step = IntentStep::kHalting;
  std::string reason;
  friend bool operator==(const IntentStepOp&, const IntentStepOp&) = default;
};
// Ends the intent with its outcome. An ok move commits its vcpus/memory overrides.
struct IntentDoneOp {
  PackageName package;
  LogIndex intent;
  bool ok = false;
  std::string message;
  friend bool operator==(const IntentDoneOp&, const IntentDoneOp&) = default;
};
// The coordinator cannot act on the package ("no node can run it: …", "waiting for
// every member (2 of 3 up)"): recorded as its note, and ends a pending run (failed).
// Proposed only when the note changes, so a package that stays down never loops.
struct NoteOp {
  PackageName package;
  std::string note;
  bool ends_run = false;  // The pending run (if any) ends failed with this note.
  friend bool operator==(const NoteOp&, const NoteOp&) = default;
};
// The owner at `from_epoch` is certainly gone (lease expired) and the package is not to
// be placed again (not wanted, or switching off): it becomes down, owned by nobody, at
// epoch = this entry. Compare-and-set like AssignOp.
//
// `over_halt_failed` (both ops, format 3): decided knowing the package is halt_failed
// (only with a watchdog fence, after certain expiry). Without it, apply drops an assign
// or unassign that finds the package halt_failed: the decision was made while it was
// halting and the owner's halt_failed report committed in between (sim seed 27
// --config-apply 0.05: a halt_failed package was unassigned though it may still run).
struct UnassignOp {
  PackageName package;
  LogIndex from_epoch;
  std::string reason;
  bool over_halt_failed = false;
  friend bool operator==(const UnassignOp&, const UnassignOp&) = default;
};
// Initial placement begins (every member is up, or cluster_start_wait passed).
struct ClusterStartOp {
  std::string reason;
  friend bool operator==(const ClusterStartOp&, const ClusterStartOp&) = default;
};
// Issue 10: `cluster disarm --for D` (disarm_for set) / `cluster arm` (unset) from an
// operator, recorded with who issued it; or the coordinator's arm when a disarm's D has
// passed (Node::ReArmWhenDisarmEnds). Applies as DisarmOp / ArmOp do (those stay for the
// simulator and old logs); a disarm_for <= 0 is refused like a DisarmOp without one.
struct ClusterModeOp {
  std::optional<Duration> disarm_for;
  std::string by;
  friend bool operator==(const ClusterModeOp&, const ClusterModeOp&) = default;
};

// --- Maintenance (issue 10) -----------------------------------------------------------
//
// `node maintenance NODE on|off [--freeze]` and `package maintenance PKG on|off`
// (`cmmodpkg -m on|off PKG`): exactly one of `node` and `package` is set (else the
// batch is refused as malformed). The semantics, chosen after Serviceguard's package
// maintenance mode (cmmodpkg -m: the package keeps running, cmcld neither monitors nor
// fails it over) and Pacemaker's node standby (resources leave) versus node maintenance
// (resources stay, unmanaged):
//
//  * Package maintenance: the coordinator takes no automatic action on the package — no
//    start at cluster start, no restart, no relocation, no failover when its owner is
//    lost (it stays assigned there, so nothing can run it twice), no failback, no
//    node-halt migration or halt. Its owner's agent stops monitoring it: a guest found
//    stopped or a failed service is logged, not reported, so the administrator may stop
//    and start the guest by hand; the guest stays registered with the guard (fencing
//    still applies). Explicit operator commands still act (run, halt, move, clear): the
//    operator asked. Leaving maintenance asks the driver for the guest's status once;
//    from then on the policies apply (a guest found stopped fails over as usual), and the
//    event says so.
//  * Node maintenance: the node is never a placement target (validation refuses it:
//    start, restart, failover, failback, move and run -n). Without --freeze its packages
//    leave it as for `node halt` with shutdown_policy migrate (MoveOp kNodeHalt, through
//    validation); one that no node can take stays where it runs, with a note saying why
//    — never halted. With --freeze its packages stay and are in package maintenance
//    while their owner is frozen. Off: the node is a target again; nothing moves back
//    unless a policy (failback automatic) says so.
// Both are kept in the state (snapshot format 4), so they survive restarts and
// compaction. A package op ends with an outcome (CommandKind::kMaintenance) at once.
struct MaintenanceOp {
  std::optional<NodeName> node;
  std::optional<PackageName> package;
  bool on = true;
  bool freeze = false;  // Node only.
  std::string by;
  friend bool operator==(const MaintenanceOp&, const MaintenanceOp&) = default;
};

// Issue 12 (`inventory: probe`, DESIGN.md section 6): node `node` reports the inventory
// its Linux probe found. Proposed by that node's agent when the applied state holds
// another one or none; applied into inventories() on every node, and from there into
// validation for that node while its configuration says `inventory: probe`
// (Node::reported_inventories_). Kept in snapshots (format 6).
struct InventoryOp {
  NodeName node;
  inventory::NodeInventory inventory;
  friend bool operator==(const InventoryOp&, const InventoryOp&) = default;
};

using Op = std::variant<AssignOp, ReportOp, ReleaseOp, DisarmOp, ArmOp, ArmedOp, LeaseLengthOp,
                        LeaseMaxOp, RunOp, HaltOp, MoveOp, EnableOp, ClearOp, NodeAdminOp,
                        ReadmitOp, ClusterRunOp, ClusterHaltOp, ConfigApplyOp, IntentStepOp,
                        IntentDoneOp, NoteOp, UnassignOp, ClusterStartOp, ConfigProposeOp,
                        ConfigVerdictOp, ConfigAbortOp, MaintenanceOp, ClusterModeOp, InventoryOp>;
using OpBatch = std::vector<Op>;

std::string EncodeOps(const OpBatch& ops);
std::optional<OpBatch> DecodeOps(const std::string& payload);
// For traces and logs: "assign(r1,n2) report(r1,n2,@7,started)".
std::string DescribeOps(const OpBatch& ops);

struct ClusterEvent {
  LogIndex index;
  bool critical = false;
  std::string text;  // "r1: assigned to n2 (n1's lease certainly expired)"

  friend bool operator==(const ClusterEvent&, const ClusterEvent&) = default;
};

class ClusterState {
 public:
  struct Options {
    Duration lease_length = std::chrono::seconds(2);  // node_timeout at bootstrap.
    size_t events_max = 256;
    // Simulator mutation: a DisarmOp without a duration is accepted; grants then carry
    // 10*L while every wait keeps using L_max (the bug the mutation test must catch).
    bool mutation_disarm_without_duration = false;
    // Simulator mutation: reports apply whatever their epoch (stale ones are not dropped).
    bool mutation_report_without_epoch_check = false;

    friend bool operator==(const Options&, const Options&) = default;
  };
  explicit ClusterState(Options options);

  // Applies one committed entry (no-ops and duplicates only advance applied/digest).
  // REQUIRES: apply.entry.index == applied() + 1 (or any index after a Restore).
  void Apply(const raft::ApplyEntry& apply);

  LogIndex applied() const { return applied_; }
  uint64_t digest() const { return digest_; }
  uint64_t executed() const { return executed_; }  // Commands applied, not duplicates.

  const std::map<PackageName, Assignment>& assignments() const { return assignments_; }
  // Issue 7.
  const std::map<PackageName, PackageRecord>& packages() const { return packages_; }
  const PackageRecord* FindPackage(const PackageName& package) const;
  const std::map<NodeName, NodeRecord>& nodes() const { return nodes_; }
  // Issue 12 (InventoryOp): the latest inventory each node reported from its probe.
  const std::map<NodeName, inventory::NodeInventory>& inventories() const { return inventories_; }
  bool NodeHalted(const NodeName& node) const;
  // Issue 10 (MaintenanceOp). A package is in maintenance by its own record, or because
  // its owner (of any non-free assignment) is a frozen node.
  bool NodeInMaintenance(const NodeName& node) const;
  bool NodeFrozen(const NodeName& node) const;
  bool PackageInMaintenance(const PackageName& package) const;
  // The same for a record and an assignment already found (nullptr: no record).
  bool PackageInMaintenance(const PackageRecord* record, const Assignment& assignment) const;
  // Initial placement has begun (ClusterStartOp or ClusterRunOp; a forced cluster halt
  // resets it).
  bool cluster_started() const { return cluster_started_; }
  // A forced `cluster halt` happened and no `cluster run` since: nothing starts on its
  // own (the coordinator never proposes ClusterStartOp), as after Serviceguard's cmhaltcl.
  bool cluster_halted() const { return cluster_halted_; }
  uint64_t config_version() const { return config_version_; }
  const std::string& bundle_hash() const { return bundle_hash_; }
  // config apply (issue 9; see ConfigProposeOp above). The applied bundle's bytes (empty
  // for the bootstrap version 1), the proposal under validation, and how the latest
  // apply ended.
  const std::string& bundle() const;
  const std::optional<PendingConfig>& pending_config() const;
  const std::optional<ConfigOutcome>& config_outcome() const;
  // The outcome of the `config apply` committed at `command` (its ConfigProposeOp), if it
  // ended: the latest or one of the kEarlierConfigOutcomes before it (a refused second
  // proposal ends while the first still runs, and both callers wait for their own).
  std::optional<ConfigOutcome> ConfigOutcomeOf(LogIndex command) const;
  static constexpr size_t kEarlierConfigOutcomes = 3;
  // INTERFACE.md's package status from the assignment and record alone (a lost owner's
  // package is still `up` here; the view adds `owner_lost` from liveness).
  PackageStatus StatusOf(const PackageName& package) const;
  // The latest ended command on the package whose command index is `command`, if ended.
  std::optional<Outcome> OutcomeOf(const PackageName& package, LogIndex command) const;
  // A cluster-wide refusal (cluster halt without --force while packages run): the
  // command index and the message.
  const std::optional<Outcome>& cluster_outcome() const { return cluster_outcome_; }
  const Assignment* Find(const PackageName& resource) const;
  // True if `node` owns R at its current epoch and R is assigned or started.
  bool Owns(const NodeName& node, const PackageName& resource) const;
  // The same test on an assignment already found (a scan over assignments()).
  static bool OwnedBy(const Assignment& assignment, const NodeName& node);

  // Lease terms (DESIGN.md section 4).
  raft::LeaseMode mode() const { return mode_; }
  // What grants carry now: L when armed, D when disarmed.
  Duration GrantLength() const;
  Duration lease_length() const { return lease_length_; }
  Duration lease_length_max() const { return lease_length_max_; }
  // The wait for `node` in L4/N2: D while the node may still hold a disarm lease (the
  // cluster is disarmed, or armed(node) has not been committed since the latest arm),
  // else L_max. "D" is the longest D of the disarms committed after the node's latest
  // armed report, and at least L_max: the node may still hold an armed lease from before
  // the disarm (F2 only extends), or a longer D of an earlier disarm it never armed
  // from. With one disarm and D >= L_max this is just D. An armed report committed
  // while disarmed is dropped (it answered an arm that the disarm overtook).
  Duration WaitFor(const NodeName& node) const;
  bool ArmedSinceLatestArm(const NodeName& node) const;
  // The index of the latest committed arm (0: never armed).
  LogIndex latest_arm() const { return armed_at_; }
  // The latest disarm: its index (0: never) and D. Meaningful while mode() is disarmed.
  LogIndex latest_disarm() const { return disarmed_at_; }
  Duration disarm_length() const { return disarm_length_; }

  uint64_t stale_reports() const { return stale_reports_; }
  // Decisions made from an older state: assigns whose from_epoch is not current, and
  // releases for an epoch that is not current (or not assigned/started). Dropped.
  uint64_t stale_assigns() const { return stale_assigns_; }
  uint64_t stale_releases() const { return stale_releases_; }
  uint64_t malformed_commands() const { return malformed_commands_; }
  const std::deque<ClusterEvent>& events() const { return events_; }

  // Snapshot bytes: the whole state, deterministic. Decode is total (nullopt on any
  // malformed input).
  std::string Encode() const;
  static std::optional<ClusterState> Decode(const std::string& bytes, Options options);

  friend bool operator==(const ClusterState&, const ClusterState&) = default;

 private:
  // Why `op` can never apply (the whole batch is then refused), or nullopt.
  std::optional<std::string> Refusal(const Op& op) const;
  void ApplyOp(LogIndex index, const Op& op);
  void ApplyAssign(LogIndex index, const AssignOp& op);
  void ApplyReport(LogIndex index, const ReportOp& op);
  void ApplyRelease(LogIndex index, const ReleaseOp& op);
  // Why a displacement (ReleaseOp with why kDisplaced) no longer applies, or nullopt.
  std::optional<std::string> DisplacementGone(const ReleaseOp& op) const;
  void ApplyDisarm(LogIndex index, const DisarmOp& op);
  void ApplyArm(LogIndex index);
  void ApplyArmed(LogIndex index, const ArmedOp& op);
  void ApplyClusterMode(LogIndex index, const ClusterModeOp& op);
  void ApplyInventory(LogIndex index, const InventoryOp& op);
  void Event(LogIndex index, bool critical, std::string text);
  // Issue 7 (cluster_state_packages.cc).
  void ApplyPackageOp(LogIndex index, const Op& op);
  void ApplyRun(LogIndex index, const RunOp& op);
  void ApplyHalt(LogIndex index, const HaltOp& op);
  void ApplyMove(LogIndex index, const MoveOp& op);
  void ApplyEnable(LogIndex index, const EnableOp& op);
  void ApplyClear(LogIndex index, const ClearOp& op);
  void ApplyClusterHalt(LogIndex index, const ClusterHaltOp& op);
  void ApplyIntentStep(LogIndex index, const IntentStepOp& op);
  void ApplyIntentDone(LogIndex index, const IntentDoneOp& op);
  void ApplyNote(LogIndex index, const NoteOp& op);
  void ApplyUnassign(LogIndex index, const UnassignOp& op);
  // Issue 10 (cluster_state_maintenance.cc).
  void ApplyMaintenance(LogIndex index, const MaintenanceOp& op);
  void ReadMaintenance(ByteReader& in);
  void WriteMaintenance(ByteWriter& out) const;
  // Issue 9 (cluster_state_config.cc).
  bool SameAsApplied(const ConfigProposeOp& op) const;
  void ApplyConfigPropose(LogIndex index, const ConfigProposeOp& op);
  void ApplyConfigVerdict(LogIndex index, const ConfigVerdictOp& op);
  void ApplyConfigApply(LogIndex index, const ConfigApplyOp& op);
  void ApplyConfigAbort(LogIndex index, const ConfigAbortOp& op);
  // Whether `version`/`hash` name the pending proposal (else the op is stale: an event).
  bool IsPending(LogIndex index, std::string_view what, uint64_t version, const std::string& hash);
  void EndConfig(LogIndex command, uint64_t version, bool ok, std::string message);
  void DropRemovedPackages(LogIndex index, const ConfigProposeOp& proposal);
  // Decode's part for them (snapshot format 3).
  void ReadConfig(ByteReader& in);
  // After an assignment's status changed: end the pending command or intent it answers.
  void AfterReport(LogIndex index, const PackageName& package, const ReportOp& op);
  void End(LogIndex index, const PackageName& package, bool ok, std::string message);
  void EndIntent(LogIndex index, const PackageName& package, bool ok, std::string message);

  Options options_;
  LogIndex applied_;
  uint64_t digest_ = 0;
  uint64_t executed_ = 0;
  std::map<PackageName, Assignment> assignments_;
  raft::LeaseMode mode_ = raft::LeaseMode::kArmed;
  Duration lease_length_;
  Duration lease_length_max_;
  Duration disarm_length_ = Duration(0);        // D of the latest disarm.
  LogIndex disarmed_at_;                        // Index of the latest disarm (0: never).
  LogIndex armed_at_;                           // Index of the latest arm (0: never).
  std::map<NodeName, LogIndex> node_armed_at_;  // Latest armed(F) per node.
  uint64_t stale_reports_ = 0;
  uint64_t stale_assigns_ = 0;
  uint64_t stale_releases_ = 0;
  uint64_t malformed_commands_ = 0;
  // (index, D) of the disarms a node may still hold a lease from: a disarm followed by
  // a longer one is dropped, so D strictly decreases (and the list stays short).
  std::vector<std::pair<LogIndex, Duration>> disarms_;
  std::deque<ClusterEvent> events_;
  // Issue 7.
  std::map<PackageName, PackageRecord> packages_;
  std::map<NodeName, NodeRecord> nodes_;
  bool cluster_started_ = false;
  bool cluster_halted_ = false;
  uint64_t config_version_ = 1;
  std::string bundle_hash_;
  std::optional<Outcome> cluster_outcome_;
  // Issue 9.
  std::string bundle_;
  std::optional<PendingConfig> pending_config_;
  std::optional<ConfigOutcome> config_outcome_;
  std::vector<ConfigOutcome> config_earlier_;  // Oldest first, <= kEarlierConfigOutcomes.
  // Issue 12.
  std::map<NodeName, inventory::NodeInventory> inventories_;
};

}  // namespace cmcl::node
