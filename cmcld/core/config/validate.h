// Pure semantic validation of a parsed configuration (DESIGN.md section 8): every rule
// of INTERFACE.md's key tables and DESIGN.md section 4's parameter rules.
//
// io/config parses the YAML (syntax, types, unknown and missing keys) and gathers
// facts about the files the configuration names; ValidateConfig then checks names,
// references, bounds and those facts, and returns every finding at once, sorted
// (diagnostic.h). It never touches the file system: a file without facts is not
// checked, so a caller that cannot look (a unit test, a node checking a bundle) simply
// passes none.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "cmcld/core/config/cluster_config.h"
#include "cmcld/core/config/diagnostic.h"

namespace cmcl::config {

// What io/ saw of one file the configuration names.
struct FileFacts {
  bool exists = false;
  bool regular = false;     // A regular file (after following symlinks).
  bool executable = false;  // Any execute bit set.
  uint32_t mode = 0;        // Permission bits, e.g. 0600.
  uint64_t size = 0;        // Bytes.
};

struct ConfigFacts {
  // Keyed by the path ResolvePath gives: the key file, TLS files, run and halt
  // scripts, relative service commands, and driver_dir/DRIVER for each named driver.
  std::map<std::string, FileFacts> files;
};

// `path` if absolute, else `base_dir`/`path`. Both io/ (gathering facts) and the
// validator (looking them up) use it, so they agree on the key.
std::string ResolvePath(std::string_view base_dir, std::string_view path);

// The file a service command runs: its first word, resolved against the package
// folder when it contains a '/' (./monitor.sh); empty for a bare command name
// looked up in PATH.
std::string ServiceExecutable(const PackageSpec& package, const Service& service);

// A key file holds the cluster's shared secret (INTERFACE.md): at least this long.
constexpr uint64_t kKeyFileSizeMin = 32;

std::vector<Diagnostic> ValidateConfig(const ClusterConfig& config, const ConfigFacts& facts);

// 1200ms -> "1.2s", 600ms -> "600ms", 2000ms -> "2s": durations in messages.
std::string FormatSeconds(Duration duration);

}  // namespace cmcl::config
