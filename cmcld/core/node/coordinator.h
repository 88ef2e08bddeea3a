// The coordinator's decisions (DESIGN.md section 5): what the leader proposes, given the
// applied ClusterState, the configuration and what it knows about the other nodes'
// liveness. One pure function; Node calls it whenever its state or liveness may have
// changed (level-triggered) and proposes the ops as one command, one at a time.
//
// Per package, in configuration order, at most one step per call:
//
//  * Cluster start. Until ClusterState::cluster_started(), nothing is placed except a
//    pending `run`. ClusterStartOp is proposed when every member is up, when
//    `cluster_start_wait` has passed since this node became the ready leader, or when
//    some package already runs (a coordinator change, not a cold start); meanwhile each
//    wanted package carries the note "waiting for every member (2 of 3 up) or
//    cluster_start_wait (41s left)".
//  * Owned, owner reachable (or self). Not wanted → ReleaseOp(kHalt). Owner `node halt`ed
//    → shutdown_policy: `migrate` proposes MoveOp(kind kNodeHalt) to the node placement
//    picks (owner avoided), else (policy halt, or nowhere to go) ReleaseOp(kNodeHalt).
//    Failback `automatic` (configured_node policy): a more preferred node up and eligible
//    → MoveOp(kind kFailback).
//  * Owned, owner unreachable. Waits until Liveness::certain_expiry (L4/N2; wakeup). Then
//    halt_failed is left alone (note: "clear with --owner-is-down N") unless the cluster
//    fences with a watchdog; otherwise, wanted and switching on and the cluster started
//    → failover (AssignOp why=kFailover, the owner in `revokes`, L3); else UnassignOp
//    (revokes too) — so after a forced cluster halt nothing is failed over.
//  * Free (never assigned, halted, failed, fenced). If wanted (or a run is pending):
//    after failed kExit2/kTimeout/kServiceFailed on N → restart on N while restarts <
//    max_restarts (why=kRestart), then — switching on and relocations < max_relocations
//    (default: the package's node count) — relocate, avoiding N and the failed-node
//    memory, remembering N (why=kFailover); after kExit1 nothing (apply cleared the
//    wish); after kLost/fenced, or a release of a node halt → place by policy
//    (why=kFailover) when switching is on; never assigned (or operator run) → place
//    (why=kStart, explicit target for `run -n`). No node → NoteOp with placement's reason
//    (ending a pending run), proposed only when the note differs from the record's.
//  * Priority displacement (issue 10, displacement.h). A package with
//    displace_lower_priority that placement leaves without a node (start, failover,
//    relocation, `run` without -n; never an explicit target) → ReleaseOp(kDisplaced) of
//    the fewest strictly lower priorities on the first candidate refused for capacity
//    alone, a NoteOp "displaced by g1 (priority 10)" on each, and the displacer's
//    NoteOp "g1: waiting for g3 to halt on n2 (displaced for priority 10)" (a pending
//    run stays pending). While packages halting for a displacement there suffice, it
//    only waits; it is placed by the normal path once they reported halted. Until then
//    the room is held for it (displacement.h, "Held room"): no lower or equal priority
//    is placed into it. A victim that then finds no node keeps "displaced by g1
//    (priority 10); " before its note.
//  * Intent (IntentStep comment in cluster_state.h): kValidating → validate the target
//    (PlaceBatch with the explicit target) → IntentStepOp(kHalting), or IntentDoneOp
//    refused with the violations; kHalting and the source reported halted (or failed,
//    fenced, or certainly expired) → AssignOp(target, why=kMove) + IntentStepOp(kStarting),
//    or, the target no longer eligible, AssignOp(source) + IntentStepOp(kReturning);
//    kStarting and the target failed (or certainly expired) → AssignOp(source) +
//    IntentStepOp(kReturning); kReturning and the source failed → IntentDoneOp failed.
//    Apply itself ends intents on `started` (ClusterState::AfterReport).
//  * Config apply (issue 9; ConfigProposeOp in cluster_state.h). While a proposal is
//    pending: a verdict that refuses it → ConfigAbortOp("n2: <its reason>"); a package
//    starting, up, halting or halt_failed that the new version would strand (absent
//    from it, or its owner not among its nodes there) → ConfigAbortOp naming each such
//    package and node ("halt it first"); every member up (Liveness::up, not halted; at
//    least one) said ok → ConfigApplyOp; none of these within the verdict timeout,
//    max(10s, 5 * node_timeout) from Liveness::config_pending_since → ConfigAbortOp
//    naming the members that did not answer. A config op is proposed alone (the next
//    call decides the packages, by then under the new configuration); apply clears the
//    proposal either way, so each decision is proposed once.
//
// Every placement goes through placement::PlaceBatch, once per call, with every request
// of the call: validation decides who may run it, and the running tally keeps one batch
// from double-booking a node. Facts: up members = Liveness::up minus halted nodes;
// switching_disabled from the records; placements from every non-free assignment
// (assigned → starting, started → up or halting, halt_failed); last nodes from records.
// Cost: O(packages) to scan; the view and placement only when some package needs one.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cmcld/core/common/names.h"
#include "cmcld/core/common/time.h"
#include "cmcld/core/config/cluster_config.h"
#include "cmcld/core/node/cluster_state.h"
#include "cmcld/core/validation/cluster_view.h"
#include "cmcld/core/validation/config_index.h"
#include "cmcld/core/validation/violation.h"

namespace cmcl::node {

struct Liveness {
  NodeName self;
  Time now;
  // Members that can take a package now (Node::Up: reachable and caught up); self too.
  std::set<NodeName> up;
  // Nodes whose nonces arrive (their leases are being renewed): not lost. Self too.
  std::set<NodeName> reachable;
  // For every owner that is not reachable: when its lease has certainly expired.
  std::map<NodeName, Time> certain_expiry;
  // When this node became the ready leader (cluster_start_wait counts from it).
  Time leader_since;
  // fence_action reboot: a lost owner's halt_failed package may be re-placed after its
  // lease certainly expired (the watchdog reset it, DESIGN.md section 5).
  bool watchdog_fence = false;
  // The applied index when this node became the ready leader (simulator mutation
  // intent_lost_on_coordinator_change only).
  LogIndex term_start;
  // When this leader first saw the pending config proposal (ClusterState::pending_config)
  // pending: its verdict timeout counts from then (nullopt: from now). Volatile: a new
  // leader starts the clock again.
  std::optional<Time> config_pending_since;

  friend bool operator==(const Liveness&, const Liveness&) = default;
};

// Known bugs the simulator switches on (tests/sim only), each one of issue 7's list.
struct CoordinatorMutations {
  bool failover_without_validation = false;  // A lost owner's package to the first up member.
  bool halt_failed_reassigned = false;       // halt_failed failed over on owner loss.
  bool capacity_not_tallied = false;         // Each request of a batch on a fresh view.
  bool start_before_halted = false;          // A move assigns the target before `halted`.
  bool intent_lost_on_coordinator_change = false;  // Intents from before this term ignored.
};

struct Decision {
  OpBatch ops;
  std::set<NodeName> revokes;  // L3: owners an assignment takes a package from.
  std::optional<Time> wakeup;  // When calling again may decide more (a lease expiry).
  // Validation's refusals this call acted on (cmcl_validation_refusals_total, Node): per
  // package that placement left without a node — a start, restart, failover or
  // relocation, a `run -n` or move target, a node-halt or maintenance migration; not a
  // failback, which only looks whether a better node is free — the codes of the
  // violations of every candidate it validated. nullopt when this call did not look at
  // the packages (a config op is proposed alone). Not in `ops`: nothing replicated.
  std::optional<std::map<PackageName, std::set<validation::ViolationCode>>> refusals;
};

// Cold start as the coordinator sees it (DESIGN.md section 5, "Cluster start"): while
// ClusterState::cluster_started() is false and the cluster is not halted, initial
// placement waits until every member (not halted) is up, or `cluster_start_wait` has
// passed since this node became the ready leader (Liveness::leader_since), or some
// package already runs (a coordinator change, not a cold start). Decide proposes
// ClusterStartOp once `start` is set; the view shows `waiting_for` and `deadline`
// meanwhile.
struct ClusterStartGate {
  enum class Verdict : uint8_t {
    kNotStarting,  // Started already, or halted (only `cluster run` starts it then).
    kStart,        // Initial placement may begin now, for `reason`.
    kWaiting,      // Waits for `waiting_for` until `deadline`.
  };
  Verdict verdict = Verdict::kNotStarting;
  std::string reason;                 // kStart: "every member is up (3 of 3 up)".
  std::vector<NodeName> waiting_for;  // Members, not halted, that are not up (file order).
  size_t members = 0;                 // Members not halted.
  Time deadline;                      // leader_since + cluster_start_wait.
};
ClusterStartGate CheckClusterStart(const config::ClusterConfig& config,
                                   const validation::ConfigIndex& index,
                                   const ClusterState& state, const Liveness& liveness);

// What validation knows from the applied state and liveness (cmcld/core/node/facts.cc):
// up members = Liveness::up minus halted nodes; switching_disabled from the records'
// switching_off; placements from every non-free assignment (assigned → starting, started
// → up, or halting while a release is requested; halt_failed); last nodes from the
// records. Decide, the readiness view and `pkgctl check` all validate against these.
validation::ClusterFacts FactsOf(const ClusterState& state, const Liveness& liveness);

// REQUIRES: `index` indexes `config` (and the inventories nodes reported).
Decision Decide(const config::ClusterConfig& config, const validation::ConfigIndex& index,
                const ClusterState& state, const Liveness& liveness,
                const CoordinatorMutations& mutations = {});

}  // namespace cmcl::node
