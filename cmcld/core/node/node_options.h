// The daemon's NodeOptions from the cluster configuration (DESIGN.md sections 3-4):
// what cmcld and the integration tests build a core::Node with. Pure.
#pragma once

#include <memory>

#include "cmcld/core/config/cluster_config.h"
#include "cmcld/core/node/node.h"
#include "cmcld/core/raft/types.h"

namespace cmcl::node {

// cluster_id = a stable 64-bit hash (FNV-1a) of the cluster name and the voters sorted by
// name with their roles (DESIGN.md section 3): the same on every node that reads the
// same cluster file, different for another cluster or another voter set. Never 0.
raft::ClusterId ClusterIdOf(const config::ClusterConfig& config);

// Every voter (members and arbitrators), sorted by name, as RaftOptions wants them.
std::vector<raft::Voter> VotersOf(const config::ClusterConfig& config);

// NodeOptions for `self` (which must be a configured node): election_timeout_min and the
// lease length are node_timeout, heartbeat_interval and fence_timeout as configured, the
// drift bound from clock_drift_max, disarm_max, and fence_action reboot as
// watchdog_fence.
NodeOptions NodeOptionsFor(std::shared_ptr<const config::ClusterConfig> config,
                           const NodeName& self);

}  // namespace cmcl::node
