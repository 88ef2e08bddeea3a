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

// election_timeout_min (DESIGN.md section 3, changed: docs/DESIGN_CHANGES.md):
// min(2 x heartbeat_interval, (node_timeout - fence_timeout - heartbeat_interval - 100ms)
// / 2), but at least heartbeat_interval + 100ms; each election timeout is drawn from
// [min, 2 x min).
//
// Why: leases come only from the coordinator's grants. When the coordinator dies, every
// follower's lease ends about node_timeout after its last confirmed nonce, which left up
// to a heartbeat before the coordinator's last round, and the follower fences
// fence_timeout before that. A new coordinator must be elected and grant within that
// window, or losing the coordinator fences every guest of the cluster. Elections start
// after [min, 2 x min) of silence, so 2 x min <= node_timeout - fence_timeout -
// heartbeat_interval - 100ms leaves at least 100ms for the PreVote, vote and first grant
// round trips. DESIGN.md section 4's rule (fence_timeout + 3 x heartbeat_interval +
// 300ms <= node_timeout) keeps that second term >= heartbeat_interval + 100ms, so the
// floor never eats the margin, and a live coordinator's heartbeats reset the timers.
// Two heartbeats (etcd's ratio is ten) is enough with PreVote and vote stickiness: a
// follower that misses heartbeats only asks, and is refused while the others still hear
// the coordinator. Safety pays nothing: the new coordinator's wait (N2(a)) grows by what
// the stickiness credit shrinks, and a coordinator's own packages now fail over in about
// stretch(node_timeout) plus at most min, not plus up to node_timeout.
Duration ElectionTimeoutMin(Duration node_timeout, Duration heartbeat_interval,
                            Duration fence_timeout);

// NodeOptions for `self` (which must be a configured node): the lease length is
// node_timeout, election_timeout_min as above, heartbeat_interval and fence_timeout as
// configured, the drift bound from clock_drift_max, disarm_max (and arm_when_disarm_ends
// on), and fence_action reboot as watchdog_fence.
NodeOptions NodeOptionsFor(std::shared_ptr<const config::ClusterConfig> config,
                           const NodeName& self);

}  // namespace cmcl::node
