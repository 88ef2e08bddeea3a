// Loading a cluster's configuration from files: the one entry point that cmcld's
// startup and `pkgctl config check` share (DESIGN.md section 8, STYLE.md rule 38).
//
// LoadCluster reads the cluster file, every package folder it lists (each holds
// package.yaml) and every inventory file, gathers facts about the files they name
// (key file, scripts, drivers), runs the core's ValidateConfig and returns the typed
// configuration with every finding, sorted by FILE:LINE:COLUMN. Files are named in
// messages as the user reached them: the cluster file as given, the others relative to
// the file that names them. Nothing is thrown: yaml-cpp's exceptions end here.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cmcld/core/config/cluster_config.h"
#include "cmcld/core/config/diagnostic.h"
#include "cmcld/core/config/validate.h"

namespace cmcl::io::config {

struct LoadedConfig {
  // As far as it could be read; only meaningful when ok().
  cmcl::config::ClusterConfig config;
  // Errors and warnings, sorted by file, line and column.
  std::vector<cmcl::config::Diagnostic> diagnostics;

  bool ok() const { return cmcl::config::CountErrors(diagnostics) == 0; }
};

struct LoadOptions {
  // This node's own key file, in place of the cluster file's security.key_file (which must
  // still be written). A bundle's cluster.yaml names no real key file: the key is per node
  // and not in the bundle (io/bundle/bundle.h).
  std::optional<std::string> key_file;
};

LoadedConfig LoadCluster(const std::string& path, const LoadOptions& options = {});

// Clears every KeyLocations of `config` (the mapping's own and each key's), releasing their
// memory. For a configuration that loaded without errors and is kept by a long-lived
// holder (cmcld's own files and each configuration version): its diagnostics were given at
// load, and nothing reads the locations afterwards (a `config apply` reports the errors of
// the bundle it loads, with that bundle's locations). With 1,000 packages they were about
// 3.1 of the 4.8 MiB of heap each loaded copy held (docs/DESIGN_CHANGES.md).
void DropKeyLocations(cmcl::config::ClusterConfig& config);

// What the file system says about `path` (stat, following symlinks).
cmcl::config::FileFacts StatFile(const std::string& path);

}  // namespace cmcl::io::config
