// cmcl_failovers_total and cmcl_failover_duration_seconds (metrics_model.h): failovers as
// this node saw them applying the log. Pure: the daemon hands over the applied state, its
// clock and when it last heard each peer; nothing here reads a clock or a socket.
//
// What counts. A failover is a new assignment whose CMCL_REASON is `failover`
// (AssignOp why=kFailover: the owner lost, or the package failed, was fenced or halted
// there and goes elsewhere; coordinator.h). Every node applies the same log, so every
// node counts the same failovers: a node's /metrics is the cluster's history since that
// cmcld started (query one node, or max() over nodes; sum() counts each one per node).
// Counting only on the coordinator was rejected: the node that decided a failover is
// often not the one that sees it end (the lost owner was the coordinator, or the
// coordinator changes while the package starts), and durations need the start and the
// end on one clock. Assignments this incarnation recovered from its own log (epoch at or
// below `horizon`) were seen by an earlier one and are not counted again.
//
// Label `reason`, from the assignment the failover replaced as this node last saw it:
//   node_lost       it was assigned, started or halt_failed: its owner was lost (lease
//                   certainly expired)
//   package_failed  its owner reported it failed (found dead, a service failed, a run
//                   script failed past its restarts)
//   fenced          its owner fenced it
//   halted          it was halted there (node halt with shutdown_policy halt, an ended
//                   move) and placed again
// A node that applied several changes at once (catching up) sees only the last of them,
// so it may call a package_failed one node_lost; the count is right either way.
//
// Duration: from the outage's start to when this node applied the `started` report of
// the failover's epoch (the package runs again), where the outage starts
//   node_lost: when this node last heard the lost owner (any network, keepalives
//              included): what an operator feels, detection (node_timeout and the
//              lease wait) plus the new owner's run script;
//   otherwise: when this node applied the report that ended it on the old owner.
// Not observed (the failover still counts) when this node does not know that start: it
// did not hear the owner in this incarnation, it is itself the lost owner, it heard the
// "lost" owner less than half the lease length (L_max) before applying the failover (its
// view of the owner is not the coordinator's: it was on the owner's side of a partition), or the
// report that ended it was applied before this node began observing. A failover that
// never starts (another assignment replaces it) observes nothing; a later failover of
// the same package is measured from its own start.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "cmcld/core/common/names.h"
#include "cmcld/core/common/time.h"
#include "cmcld/core/node/cluster_state.h"
#include "cmcld/io/metrics/metrics_text.h"

namespace cmcl::io::metrics {

// The buckets of cmcl_failover_duration_seconds: node_timeout is 1-10 s and the lease
// wait one to two of it, then a run script (seconds for a process, a minute or more for
// a VM that boots).
Histogram FailoverHistogram();

class FailoverMetrics {
 public:
  // When this node last heard `node` (nullopt: not in this incarnation).
  using LastHeardFn = std::function<std::optional<Time>(const NodeName& node)>;

  // `horizon`: the last log index this incarnation recovered from its own storage.
  FailoverMetrics(NodeName self, node::LogIndex horizon);

  // After inputs: compares `state` with what the previous call saw. Cheap when the
  // applied index did not move; O(packages) when it did. The first call only learns.
  void Observe(const node::ClusterState& state, Time now, const LastHeardFn& last_heard);

  // (package, reason) -> failovers counted.
  const std::map<std::pair<PackageName, std::string>, uint64_t>& counts() const { return counts_; }
  // reason -> durations observed.
  const std::map<std::string, Histogram>& durations() const { return durations_; }

 private:
  struct Seen {
    node::LogIndex epoch;
    node::AssignmentStatus status = node::AssignmentStatus::kHalted;
    std::optional<NodeName> owner;
    std::optional<Time> since;  // When this node saw (epoch, status) begin; nullopt: before.
  };
  struct Pending {
    node::LogIndex epoch;
    std::string reason;
    std::optional<Time> outage_since;
  };

  void Failover(const PackageName& package, const node::Assignment& now_assigned,
                const Seen* before, Time now, Duration lease, const LastHeardFn& last_heard);

  NodeName self_;
  node::LogIndex horizon_;
  bool learned_ = false;
  node::LogIndex applied_;
  std::map<PackageName, Seen> seen_;
  std::map<PackageName, Pending> pending_;
  std::map<std::pair<PackageName, std::string>, uint64_t> counts_;
  std::map<std::string, Histogram> durations_;
};

}  // namespace cmcl::io::metrics
