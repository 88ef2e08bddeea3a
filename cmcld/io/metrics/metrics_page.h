// The whole /metrics page of this node (metrics_model.h), for the daemon: a header that
// does not pull in the view model, whose `config::` names would be ambiguous inside
// cmcl::io where io/config lives too.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "cmcld/core/common/names.h"
#include "cmcld/core/common/time.h"
#include "cmcld/core/config/cluster_config.h"
#include "cmcld/core/node/node.h"
#include "cmcld/core/validation/violation.h"
#include "cmcld/io/metrics/failover_metrics.h"
#include "cmcld/io/metrics/metrics_text.h"
#include "cmcld/io/peer/peer_transport.h"

namespace cmcl::io::metrics {

// The buckets of cmcl_script_duration_seconds: run and halt scripts take from
// milliseconds (a process) to minutes (a VM's guest OS shutdown; halt_timeout).
Histogram ScriptHistogram();

// On the Node's thread: `config` is the applied configuration (as for `pkgctl view`).
std::string MetricsPage(const cmcl::config::ClusterConfig& config, const node::Node& node, Time now,
                        const std::map<NodeName, std::vector<NetworkStatus>>& networks,
                        const PeerCounters& peers,
                        const std::map<std::string, Histogram>& script_durations,
                        const FailoverMetrics& failovers,
                        const std::map<validation::ViolationCode, uint64_t>& command_refusals);

}  // namespace cmcl::io::metrics
