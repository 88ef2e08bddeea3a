// The bootstrap bundle: configuration v1 materialized in STATE_DIR/config/v1/ (DESIGN.md
// section 8: "each node writes the bundle atomically to state_dir/config/vN/ and runs
// scripts only from there"). Issue 8 builds v1 from this node's own files: the cluster
// file as cluster.yaml and every package folder as packages/NAME/ (regular files and
// folders, modes kept; symlinks refused). It is written to config/v1.tmp, fsync'ed and
// renamed, so a crash leaves either no v1 or a whole one; an existing v1 is kept as it
// is (a restart runs the scripts that started its guests). The replicated bundle and
// `config apply` come with issue 9.
#pragma once

#include <string>

#include "cmcld/core/common/status.h"
#include "cmcld/core/config/cluster_config.h"

namespace cmcl::io {

// Returns STATE_DIR/config/v1, creating it from `config`'s files when missing.
Result<std::string> MaterializeBootstrapBundle(const cmcl::config::ClusterConfig& config,
                                               const std::string& state_dir);

}  // namespace cmcl::io
