// PackageChecker: the package rules of DESIGN.md sections 1, 5 and 7 that the
// ExclusivityChecker does not see, read from ground truth after every step (issue 7
// item 5):
//
//  (b) no guest is started (kRun issued) on a node that failed migration validation at
//      the moment the decision was committed. The checker keeps its own copy of the
//      committed ClusterState (every entry, in index order, once) and re-validates each
//      AssignOp that took effect against the facts of the state it applied to, with
//      the tally of the AssignOps before it in the same batch (DESIGN.md section 5: a
//      batch never double-books). `unchecked` checks do not refuse (section 6). Every
//      kRun must then name a committed assignment of that node at that epoch that
//      passed; a run at an epoch no AssignOp gave the node is a violation too.
//  (c) `halt_failed` is never reassigned to another node (nor dropped by an
//      UnassignOp) while it is halt_failed: only the owner's report that the guest
//      stopped (halted/failed at that epoch) or the operator's `clear --owner-is-down`
//      ends it, or, with a watchdog (fence_action reboot), the owner's certain lease
//      expiry, which this checker then allows.
//  (d) depends_on (dependencies.h): an AssignOp of a dependent commits only while each
//      of its dependencies is started with no halt asked of it (same_node: on the
//      assigned node), checked with (b)'s validation, stale-decision excuse included.
//  (e) priority displacement (cmcld/core/node/displacement.h): a release with
//      CMCL_REASON=displaced that takes effect halts a started package, not in
//      maintenance, while some package with displace_lower_priority and a STRICTLY
//      higher priority is wanted and down. (That the displacer starts only once the
//      victims halted is (b): a halting guest still occupies its node's capacity.)
//
// The facts are built from the committed state the way coordinator.h describes them:
// up members = the configured members minus `node halt`ed ones (liveness is the
// leader's view, not a fact of the state; treating every member as up only makes
// target_not_member more lenient), node switching from the records, placements from
// every assignment that is not free, last nodes from the records, inventories from the
// configuration.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "cmcld/core/config/cluster_config.h"
#include "cmcld/core/node/cluster_state.h"
#include "cmcld/core/node/node.h"
#include "cmcld/core/raft/actions.h"
#include "cmcld/core/validation/cluster_view.h"
#include "cmcld/core/validation/config_index.h"

namespace cmcl::sim {

// The facts of `state` (see above). `up`: the members to treat as up (nullopt: every
// configured member that is not halted).
validation::ClusterFacts FactsOfState(const config::ClusterConfig& config,
                                      const node::ClusterState& state,
                                      const std::optional<std::set<NodeName>>& up = std::nullopt);

class PackageChecker {
 public:
  // `excuse_stale_decisions`: an AssignOp that fails validation at commit but passed
  // against the state right after its proposer's previous command (a coordinator
  // proposes one command at a time, so it decided from that state or a later one) is a
  // decision overtaken by entries committed meanwhile — a known core gap
  // (docs/KNOWN_GAPS.md), counted in stale_decisions() instead of refused.
  PackageChecker(std::shared_ptr<const config::ClusterConfig> config,
                 node::ClusterState::Options options, bool watchdog_fence,
                 bool excuse_stale_decisions = false);
  PackageChecker(const PackageChecker&) = delete;
  PackageChecker& operator=(const PackageChecker&) = delete;

  // A committed entry. Entries at or below the copy's applied index are ignored, so
  // every node's applies may be passed in; they must arrive without gaps.
  void OnCommitted(const raft::ApplyEntry& apply);
  // `node` issued a kRun for `guest` at true time `now`.
  void OnRun(Time now, const NodeName& node, const node::GuestRef& guest);

  const node::ClusterState& state() const { return state_; }
  const std::optional<std::string>& violation() const { return violation_; }
  uint64_t assigns_checked() const { return assigns_checked_; }
  uint64_t runs_checked() const { return runs_checked_; }
  uint64_t stale_decisions() const { return stale_decisions_; }
  uint64_t displacements_checked() const { return displacements_checked_; }

 private:
  struct Decision {
    NodeName node;
    std::string refused;  // Empty: it passed validation at commit.
  };
  // Validates the batch's AssignOps against the state before it (with the tally).
  std::map<size_t, std::string> ValidateAssigns(const node::ClusterState& state,
                                                const node::OpBatch& ops) const;
  // Rule (e), judged against the state the batch applies to: for each displaced release
  // that would halt a started package, why no displacer needs it (empty: one does).
  std::map<PackageName, std::string> JudgeDisplacements(const node::OpBatch& ops) const;
  // A judged release is a violation only if it took effect: apply may drop a displacement
  // that an operator command committed ahead of it made pointless (ReleaseOp).
  void CheckDisplacements(raft::LogIndex index, const node::OpBatch& ops,
                          const std::map<PackageName, std::string>& judged);
  void CheckHaltFailed(raft::LogIndex index, const node::OpBatch& ops,
                       const std::map<PackageName, node::Assignment>& before);

  std::shared_ptr<const config::ClusterConfig> config_;
  validation::ReportedInventories reported_;  // None: inventories are configured.
  validation::ConfigIndex index_;
  node::ClusterState state_;
  bool watchdog_fence_ = false;
  std::map<std::pair<PackageName, raft::LogIndex>, Decision> decisions_;
  bool excuse_stale_decisions_ = false;
  // Per client: the state right after its latest command applied.
  std::map<raft::ClientId, node::ClusterState> after_previous_;
  std::optional<node::ClusterState> after_noop_;  // After the latest leader's no-op.
  uint64_t stale_decisions_ = 0;
  std::optional<std::string> violation_;
  uint64_t assigns_checked_ = 0;
  uint64_t runs_checked_ = 0;
  uint64_t displacements_checked_ = 0;
};

}  // namespace cmcl::sim
