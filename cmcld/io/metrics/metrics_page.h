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
#include "cmcld/io/peer/peer_transport.h"

namespace cmcl::io::metrics {

// On the Node's thread: `config` is the applied configuration (as for `pkgctl view`).
std::string MetricsPage(const cmcl::config::ClusterConfig& config, const node::Node& node, Time now,
                        const std::map<NodeName, std::vector<NetworkStatus>>& networks,
                        const PeerCounters& peers);

}  // namespace cmcl::io::metrics
