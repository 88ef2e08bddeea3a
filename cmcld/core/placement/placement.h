// Placement: choosing the node for each package of a batch (DESIGN.md section 5,
// "Failover policy"), with migration validation deciding who may run it (section 6).
//
// The coordinator hands over a batch of requests — the packages a lost node leaves, an
// operator's run or move, every auto_run package at cluster start — and gets back one
// decision per request: the chosen node or none, the verdict of every candidate it
// considered, in the package's preference order, and one reason line for the event ring.
// Nothing is performed or committed here; the caller turns decisions into intents.
//
// Candidates. With an explicit target (`run -n`, `move -n`) only that node is
// considered, whatever it is (validation says why an arbitrator or a stranger is
// refused). Otherwise the package's `nodes` in order ("*" = the members in file order),
// skipping arbitrators and names that are not configured members: they are never
// chosen, and not listed. A candidate in the request's `avoid` set (failed-node memory,
// the node a failover leaves) is skipped unvalidated, verdict "avoided: tried before";
// the set applies to an explicit target too, so the caller decides whether an operator
// overrides the memory (`enable -n` clears it). A package's current node is a candidate
// like any other: a failover or a node halt puts the node it leaves into `avoid`. Each
// candidate not avoided is validated with ValidateMigration against the view; it is
// eligible when no check failed (unchecked checks do not refuse: they are in its verdict
// for the caller to log, DESIGN.md section 6).
//   configured_node   the first eligible candidate; later ones are not considered.
//   min_package_node  every candidate is validated; the eligible one with the fewest
//                     placed packages (any occupancy, earlier decisions included) wins,
//                     ties going to the earlier in the list.
//
// The tally. Requests are decided in order of priority (lower number first, none last),
// then package name, and each decision is added to the view (AddPlacement, occupancy
// starting) before the next is validated: capacity and storage_in_use see the batch's
// earlier decisions, so a batch never double-books a node or a disk, and scarce capacity
// goes to the higher priority. Decisions come back parallel to the requests. A package
// requested twice is decided once; its later requests get no node ("already decided in
// this batch"). A package that is not configured gets no node.
//
// Reason lines keep the violations' own messages, joined by "; " inside the parentheses:
//   "hpvm1: ivmcl01 lost; ivmcl02 refused (MESSAGE); started on ivmcl03"
//   "hpvm1: ivmcl01 lost; no node can run it: ivmcl02 refused (MESSAGE); ivmcl03 refused (…)"
// Refused candidates are listed in preference order; avoided ones are not (the verdicts
// and the failed-node memory show them) unless nothing else was considered: "no node can
// run it: every candidate was tried before (ivmcl02, ivmcl03)". "started on" names the
// decision; the start itself is the caller's.
//
// Cost. PlaceBatch(index, facts, …) builds one ClusterView, O(N) for N configured
// packages (the ConfigIndex is the caller's, built once per configuration). Each request
// then costs O(c · v): c candidates (at most the package's node list), v one validation
// (O(the package's disks × packages sharing them + its networks and devices), a few
// hashed lookups each), plus O(its disks) for the tally and O(log k) for the ordering.
// Deciding k requests is O(N + k log k + k · c · v), never O(N · k): no step scans the
// other packages. docs/BENCHMARKS.md has the numbers for 32 nodes × 3,000 packages.
//
// Pure and deterministic: no clock, no randomness, ordered iteration only.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cmcld/core/common/names.h"
#include "cmcld/core/validation/cluster_view.h"
#include "cmcld/core/validation/config_index.h"
#include "cmcld/core/validation/violation.h"

namespace cmcl::placement {

struct PlacementRequest {
  PackageName package;
  // Why it is placed, the reason line's first words: "ivmcl01 lost", "operator run",
  // "cluster start". Empty: the line starts with the verdicts.
  std::string why;
  std::set<NodeName> avoid;        // Skipped unvalidated: failed-node memory, the source.
  std::optional<NodeName> target;  // Operator `run -n` / `move -n`: only this node.
};

struct CandidateVerdict {
  NodeName node;
  bool avoided = false;                 // In the request's avoid set: not validated.
  validation::ValidationResult result;  // Empty when avoided.
  bool eligible() const { return !avoided && result.ok(); }
};

struct PlacementDecision {
  PackageName package;
  std::optional<NodeName> node;              // The chosen node; nullopt: none can run it.
  std::vector<CandidateVerdict> candidates;  // Those considered, in preference order.
  std::string reason;                        // One line for the event ring.
};

// Decides every request against `facts` and the batch's own earlier decisions.
// REQUIRES: `facts` is online (ClusterFacts::Offline() places nothing).
std::vector<PlacementDecision> PlaceBatch(const validation::ConfigIndex& index,
                                          const validation::ClusterFacts& facts,
                                          const std::vector<PlacementRequest>& requests);

// The same on a view the caller keeps: every decision is added to `view`
// (AddPlacement), so later batches on it see this one's too.
std::vector<PlacementDecision> PlaceBatch(validation::ClusterView& view,
                                          const std::vector<PlacementRequest>& requests);

// A verdict as the reason line and `view -v` show it: "avoided: tried before",
// "refused (MESSAGE; MESSAGE)", or "eligible".
std::string VerdictText(const CandidateVerdict& verdict);

}  // namespace cmcl::placement
