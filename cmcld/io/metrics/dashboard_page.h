// The dashboard on metrics_address (README "Dashboard"), for the daemon and the server: a
// header that does not pull in the view model, whose `config::` names would be ambiguous
// inside cmcl::io where io/config lives too (as metrics_page.h).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "cmcld/core/common/names.h"
#include "cmcld/core/common/time.h"
#include "cmcld/core/config/cluster_config.h"
#include "cmcld/core/node/node.h"
#include "cmcld/io/peer/peer_transport.h"

namespace cmcl::io::metrics {

// The page served at / and /dashboard: one self-contained HTML document (inline style and
// script, nothing fetched from elsewhere) that reads /dashboard.json every two seconds
// and builds its tables with textContent only. Read-only: it changes nothing.
std::string_view DashboardHtml();

// GET /dashboard.json, on the Node's thread: `config` is the applied configuration (as
// for `pkgctl view`); `node` is not const only because its readiness view is cached.
std::string DashboardJsonPage(const cmcl::config::ClusterConfig& config, node::Node& node, Time now,
                              const std::map<NodeName, std::vector<NetworkStatus>>& networks);

}  // namespace cmcl::io::metrics
