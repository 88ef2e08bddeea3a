// Priority displacement (issue 10; Serviceguard: "a higher-priority package can force a
// lower-priority one to halt or move"): which running packages to halt so that a package
// with `displace_lower_priority: true` fits where placement found no node for it. Pure
// functions of the configuration, the applied ClusterState and the coordinator's
// placement view; the coordinator (coordinator.h) proposes what they find.
//
// Contract:
//  * Only for a package with the flag AND a priority (none is the lowest: nothing is
//    lower), placed automatically (start, failover, relocation, `run` without -n). An
//    explicit target (`run -n`, `move -n`, a same_node dependency's node) never displaces.
//  * A candidate node qualifies when placement refused it for capacity alone: every
//    violation is insufficient_capacity (an avoided node, one that is down, in
//    maintenance, without the storage or the network, is never made to fit).
//  * Victims are started packages there of STRICTLY lower priority (a larger number, or
//    none), lowest priority first, then name; the shortest prefix of that order that
//    frees enough vCPUs and memory. Never a victim (when in doubt, not a victim): a
//    package starting or halting, halt_failed, asked to clear, in maintenance (its own or
//    its node's), with an intent or a pending command, not wanted, with a dependent
//    that is assigned, started or halting, whose dependency is broken (it is being
//    released for that already), or which this call's placement moves elsewhere.
//  * Decided once. Packages already halting there with CMCL_REASON=displaced (and those
//    released earlier in the same call) count as freed: while they suffice, the
//    displacer waits for them and nothing more is released. Capacity is freed only by a
//    confirmed halt (a halting or halt_failed package occupies its node, facts.cc), so
//    the displacer is placed by the normal path once they reported halted, first in its
//    batch by priority. A victim is then placed like any other wanted package; being of
//    strictly lower priority it can never displace its displacer back.
//  * Held room. Until the displacer is placed, the room its displacement freed stays
//    held for it (ClusterView::Reserve): from the release on, while the victims halt
//    and after they halted, the victims' nodes count its vCPUs and memory for every
//    package but a strictly higher priority (where it fits, or is refused for capacity
//    alone while a victim still halts there: Decider::HoldDisplacedRoom in
//    coordinator.cc). Derived from the state on every call (the
//    victims' Assignment::displacer, at the displacer's epoch), so a coordinator change
//    keeps it. Without it a lower priority placed before the displacer in a call (a
//    fenced displacer avoids its old node in its first request) took the room, and the
//    displacer displaced it, and so on (sim seed 11556099375813343026 --swarm).
//  * Preference: first a candidate (in the package's order) where the packages already
//    halting suffice; else the first where victims can be found.
//
// Cost: O(candidates × packages assigned) per displacer that placement left unplaced.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cmcld/core/common/names.h"
#include "cmcld/core/config/cluster_config.h"
#include "cmcld/core/node/cluster_state.h"
#include "cmcld/core/placement/placement.h"
#include "cmcld/core/validation/cluster_view.h"

namespace cmcl::node {

struct Displacement {
  NodeName node;
  std::vector<PackageName> halting;  // Displaced earlier, still halting there.
  std::vector<PackageName> victims;  // To release now (CMCL_REASON=displaced).
};

struct DisplacementInputs {
  const validation::ClusterView& view;  // Placement's view, this call's decisions included.
  const ClusterState& state;
  const std::map<PackageName, std::vector<const config::PackageSpec*>>& dependents;
  const std::set<PackageName>& released_now;  // Displaced earlier in this call.
};

// Where `package` would fit once lower priorities are halted; nullopt: nowhere (or the
// package may not displace). `candidates`: placement's verdicts for it, in its order.
std::optional<Displacement> FindDisplacement(
    const config::PackageSpec& package, const std::vector<placement::CandidateVerdict>& candidates,
    const DisplacementInputs& inputs);

// For each displacer still waiting for room (not assigned since its displacement, at
// the epoch its ReleaseOps named, configured to displace), the nodes of its victims that
// halt or halted there (not halt_failed: that one keeps its room, and the displacer
// looks again) and were not assigned since: true while one of them still halts there.
// The coordinator holds that room for it.
std::map<PackageName, std::map<NodeName, bool>> HeldForDisplacers(
    const config::ClusterConfig& config, const ClusterState& state);

// "displaced by g1 (priority 10)": the note a victim carries (and keeps, as its first
// words, while it cannot be placed again).
std::string DisplacedByNote(const config::PackageSpec& displacer);
// "g1: waiting for g3, g4 to halt on node2 (displaced for priority 10)".
std::string DisplacementWaitNote(const config::PackageSpec& displacer,
                                 const Displacement& displacement);
// The "displaced by g1 (priority 10)" prefix of a victim's note; empty when it has none.
std::string DisplacedByPrefix(const std::string& note);

}  // namespace cmcl::node
