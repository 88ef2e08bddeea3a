// What cmcld exports on metrics_address (Prometheus conventions: `cmcl_` prefix, base
// units in names, `_total` for counters). Everything comes from what this node already
// holds: the `pkgctl view` model (view_render.h, so /metrics and view never disagree),
// its raft term and lease, and the counters the core and the peer transport keep. Nothing
// is estimated: a number the node does not have is not exported (docs/DESIGN_CHANGES.md,
// "Metrics", lists what is missing).
//
// Two halves: GatherFacts reads the node (io thread, the Node's owner; cheap: one view
// model), BuildFamilies turns plain facts into metric families (pure, unit-tested).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cmcld/core/validation/violation.h"
#include "cmcld/io/control/view_render.h"
#include "cmcld/io/metrics/failover_metrics.h"
#include "cmcld/io/metrics/metrics_text.h"
#include "cmcld/io/peer/peer_transport.h"

namespace cmcl::io::metrics {

struct MetricsFacts {
  control::ViewModel view;
  uint64_t raft_term = 0;
  // This node's lease (F2-F4) left at `now`; 0 without one or once it ended.
  double lease_remaining_seconds = 0;
  // Raft's own drops (this process): messages of another cluster or node, of a peer
  // breaking the protocol, of a non-voter (a wiped state_dir not yet readmitted).
  uint64_t raft_foreign_dropped = 0;
  uint64_t raft_protocol_violations = 0;
  uint64_t raft_non_voter_dropped = 0;
  // The applied state's counters (replicated, carried in snapshots): reports for an epoch
  // that is not current, assignments and releases for one, commands that did not decode.
  uint64_t stale_reports = 0;
  uint64_t stale_assigns = 0;
  uint64_t stale_releases = 0;
  uint64_t malformed_commands = 0;
  PeerCounters peers;
  // Guest actions this cmcld ran, by verb (run, halt, kill): from submitting the script or
  // driver to its result, queueing in the runner included (metrics_page.h ScriptHistogram).
  const std::map<std::string, Histogram>* script_durations = nullptr;
  // Failovers this node saw applied, and their durations (failover_metrics.h).
  const FailoverMetrics* failovers = nullptr;
  // Migration validation's refusals, by code: the placements this node's coordinator
  // decisions found refused (Node::validation_refusals), and the operator moves this
  // node refused before proposing them (CoreAccess::MoveRefused).
  std::map<validation::ViolationCode, uint64_t> coordinator_refusals;
  const std::map<validation::ViolationCode, uint64_t>* command_refusals = nullptr;
};

// The four values of cmcl_failovers_total's `reason` (failover_metrics.h).
inline constexpr const char* kFailoverReasons[] = {"node_lost", "package_failed", "fenced",
                                                   "halted"};

// The six package statuses, in this order (node::PackageStatusName spells them).
inline constexpr const char* kPackageStatuses[] = {"down",    "starting", "up",
                                                   "halting", "failed",   "halt_failed"};

MetricsFacts GatherFacts(const control::ViewInputs& inputs, const PeerCounters& peers);
std::vector<Family> BuildFamilies(const MetricsFacts& facts);
// metrics_page.h's MetricsPage: GatherFacts, BuildFamilies, RenderText.

}  // namespace cmcl::io::metrics
