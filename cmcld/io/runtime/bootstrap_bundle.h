// The bootstrap bundle: configuration v1 materialized in STATE_DIR/config/v1/ (DESIGN.md
// section 8: "each node writes the bundle atomically to state_dir/config/vN/ and runs
// scripts only from there"). Until `config apply` (issue 9) commits v1 through the log,
// each node builds v1 from its own files (io/bundle/bundle.h: BuildBundle, then
// MaterializeBundle). An existing v1 is kept as it is, also when it differs from this
// node's files (a restart runs the scripts that started its guests): the difference is
// logged as a warning with both bundle hashes, not an error.
#pragma once

#include <string>

#include "cmcld/core/common/status.h"
#include "cmcld/core/config/cluster_config.h"

namespace cmcl::io {

// Returns STATE_DIR/config/v1, creating it from `config`'s files when missing.
Result<std::string> MaterializeBootstrapBundle(const cmcl::config::ClusterConfig& config,
                                               const std::string& state_dir);

}  // namespace cmcl::io
