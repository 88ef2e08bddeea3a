// Package dependencies (`depends_on`, issue 10; Serviceguard's dependency_name /
// dependency_condition UP / dependency_location): what the coordinator and the operator
// commands ask of them. Pure functions of the applied ClusterState and the configuration.
//
// Semantics (DESIGN.md section 5 and Serviceguard's, reference/serviceguard-hpvm.md 4.10):
//  * Start wait. P is placed only while every dependency D is *up*: reported started,
//    no halt asked of it, on a node that is up (a lost owner's D is not up, even before
//    its lease certainly expired). With `same_node` P goes to D's node (an explicit
//    target), nowhere else; with `any_node` anywhere. Until then P stays down with the
//    note "waiting for D (depends_on)", and an operator `run P` ends with that reason.
//  * Dependents go first. When D is *leaving* — a halt is asked of it, it is neither
//    assigned nor started (down, failed), it is no longer wanted, or its node was
//    `node halt`ed — every dependent P that runs is
//    halted (ReleaseOp, CMCL_REASON=dependency) and stays wanted: it starts again once D
//    is up. D itself is released (halt, node halt, a forced cluster halt excepted) only
//    once none of its dependents is assigned, started or halting: "halts before them".
//  * Fails over with them. A same_node dependent whose D now runs on another node (D
//    failed over, P's node survived) is halted and placed again on D's node; when both
//    were on a lost node, P's failover waits for D to be up elsewhere and follows it.
//  * Operator refusals (Node::CheckCommand): `halt D` and `move D` while a dependent
//    runs ("halt P first"), and `move P -n N` when P depends same_node on a D that runs
//    elsewhere. A forced `cluster halt` releases everything at once (known gap: no order).
//
// Cost: O(dependencies of P) per check; the reverse index is built once per Decide.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cmcld/core/common/names.h"
#include "cmcld/core/config/cluster_config.h"
#include "cmcld/core/node/cluster_state.h"

namespace cmcl::node {

// D counts as up for a dependent's start: started, no halt asked of it, its owner in
// `up_nodes`. (A D being failed over — assigned, not started yet — is not up for a start
// but does not make running dependents halt: see DependencyLeaving.)
bool DependencyUp(const ClusterState& state, const PackageName& package,
                  const std::set<NodeName>& up_nodes);

// D is leaving: a dependent of D that runs must halt now (see the header comment).
bool DependencyLeaving(const ClusterState& state, const config::PackageSpec& dependency,
                       const PackageRecord* record);

struct DependencyGate {
  bool met = true;
  std::optional<NodeName> node;  // same_node: P must run there (D's owner).
  std::string waiting;           // Not met: "waiting for d (depends_on)".
};

// May P start now, and where? `target`: the node the caller would place it on, if fixed.
DependencyGate CheckDependencies(const config::PackageSpec& package, const ClusterState& state,
                                 const std::set<NodeName>& up_nodes,
                                 const std::optional<NodeName>& target);

// Why P, running on `owner`, must halt now because of a dependency; empty: it need not.
std::string DependencyBroken(const config::PackageSpec& package,
                             const config::ClusterConfig& config, const ClusterState& state,
                             const NodeName& owner);

// The packages that depend on each package (its dependents), in configuration order.
std::map<PackageName, std::vector<const config::PackageSpec*>> Dependents(
    const config::ClusterConfig& config);

// The dependents of `package` that are assigned, started or halting (not free), as
// "p1 (up on n1)" for messages; empty: none runs.
std::vector<std::string> LiveDependents(
    const std::map<PackageName, std::vector<const config::PackageSpec*>>& dependents,
    const ClusterState& state, const PackageName& package);

}  // namespace cmcl::node
