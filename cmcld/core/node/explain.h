// Explain: "why is it not running?" (`pkgctl explain PKG`, issue 10). One pure function
// answers from live state in a few findings: quorum, cluster start and halt, the cluster
// mode, halt_failed, the operator's wish and switching (global and per node), failed-node
// memory, pending commands and intents, restarts and relocations, the validation verdict
// for every candidate node, and the coordinator's last note and reason — each with the
// command that would change it, when there is one.
//
// Contract: Explain never decides anything; it reads what the coordinator reads
// (ClusterState, configuration, Liveness) and the validation report the caller computed
// for the package (validation::Check against every node it may run on except its
// source, with the same facts the coordinator uses). Findings come in a fixed order:
// the package's status first, then what blocks it, most fundamental first (quorum,
// cluster, halt_failed, the operator's word, switching, used-up restarts/relocations,
// node switching and failed-node memory), then context (a lost owner, intent, pending
// command, per-node verdicts, the coordinator's note, the last reason).
// `command` of the Explanation is the first finding's command after the status: the
// one thing to do first. Deterministic: nodes in the package's preference order.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cmcld/core/common/names.h"
#include "cmcld/core/common/status.h"
#include "cmcld/core/config/cluster_config.h"
#include "cmcld/core/node/cluster_state.h"
#include "cmcld/core/node/coordinator.h"
#include "cmcld/core/validation/readiness.h"

namespace cmcl::node {

struct Finding {
  std::string code;     // Stable, snake_case: "halted_by_operator", "validation_refused".
  std::string message;  // One line for people.
  std::string command;  // What would change it ("pkgctl run hpvm1"); empty: none.
  friend bool operator==(const Finding&, const Finding&) = default;
};

struct Explanation {
  PackageName package;
  PackageStatus status = PackageStatus::kDown;
  std::optional<NodeName> node;  // Where it runs (or may run: halt_failed), if anywhere.
  std::vector<Finding> findings;
  std::string command;  // The first command among the findings; empty when none.
};

struct ExplainInputs {
  const config::ClusterConfig& config;
  const ClusterState& state;
  // What the coordinator would use. `authoritative`: this node is the ready leader, so
  // `up`, `reachable` and `certain_expiry` are what placement decides from; otherwise
  // the caller passes what it knows (Node::ValidationLiveness) and no finding claims a
  // node is lost.
  const Liveness& liveness;
  bool authoritative = false;
  // This node holds a lease from a leader: false means no quorum here, and the state may
  // be stale (answered from the last applied state anyway, as view does).
  bool quorum = true;
  // The validation of the package against its candidate nodes (validation::Check with
  // no target); nullopt when the caller could not compute it.
  const std::optional<validation::CheckReport>& candidates;
  // Time left of a disarm, as Node::DisarmLeft says (nullopt: unknown or armed).
  std::optional<Duration> disarm_left;
};

// NotFound ("unknown package \"x\"; did you mean \"y\"?") when `package` is not in the
// configuration.
Result<Explanation> Explain(const ExplainInputs& in, const PackageName& package);

// Maintenance and depends_on findings, from the state alone, appended after the
// switching findings and before the intent: package_maintenance, node_frozen (its
// owner), node_maintenance (each of its nodes in maintenance), dependency_down (with
// "pkgctl run DEP"), dependency_same_node (where a same_node dependency pins it).
std::vector<Finding> MaintenanceAndDependencyFindings(const ExplainInputs& in,
                                                      const config::PackageSpec& spec);

}  // namespace cmcl::node
