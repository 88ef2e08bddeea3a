// ConfigChecker: config apply (issue 9, ConfigProposeOp in cluster_state.h) in the
// simulator, read from the committed stream and from every node's applied state:
//
//  (a) no package is stranded: when a ConfigApplyOp applies, no package that may run
//      (starting, up, halting, halt_failed) in the committed state it applies to is
//      absent from the pending proposal or owned by a node outside its list there;
//  (b) every node that applied version N holds the bundle hash and bundle bytes that the
//      committed stream applied as N (a snapshot that lost them, or a node that applied
//      another proposal, shows here).
//
// It also counts what happened (proposals, applies, aborts) for the result line.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "cmcld/core/common/names.h"
#include "cmcld/core/node/cluster_state.h"
#include "cmcld/core/raft/actions.h"

namespace cmcl::sim {

class ConfigChecker {
 public:
  // `before`: the committed state just before `apply` (each entry once, in order).
  void OnCommitted(const node::ClusterState& before, const raft::ApplyEntry& apply);
  // `node`'s applied state after a call.
  void OnNodeState(const NodeName& node, const node::ClusterState& state);

  const std::optional<std::string>& violation() const { return violation_; }
  uint64_t applied() const { return applied_; }
  uint64_t aborted() const { return aborted_; }

 private:
  void CheckStranding(const node::ClusterState& before, const node::PendingConfig& pending);

  std::map<uint64_t, std::pair<std::string, std::string>> versions_;  // Hash, bundle.
  uint64_t applied_ = 0;
  uint64_t aborted_ = 0;
  std::optional<std::string> violation_;
};

}  // namespace cmcl::sim
