// The shapes of the cluster file, package files and inventory documents
// (INTERFACE.md "Configuration files"), read into the core's config structs. Internal to
// io/config; load.h is the entry point.
#pragma once

#include <string>

#include "cmcld/core/config/cluster_config.h"
#include "cmcld/io/config/yaml_reader.h"

namespace cmcl::io::config {

// How messages name a file that `from` refers to as `written`: relative to the
// directory of from's display name, so that paths in messages match what the user typed.
std::string DisplayPathFor(const YamlFile& from, const std::string& written);

// The cluster file's root mapping. Nodes' inventory files are read here too; package
// folders are only listed (config->package_folders, locations in where["packages[i]"]).
void ParseCluster(YamlFile& file, const YAML::Node& root, cmcl::config::ClusterConfig* config);

// One package.yaml. `package->folder` and `package->file` are set by the caller. False
// when the file is not a mapping at all (reported): there is no package to validate.
bool ParsePackage(YamlFile& file, const YAML::Node& root, cmcl::config::PackageSpec* package);

}  // namespace cmcl::io::config
