// Bundle: one configuration version as a deterministic archive (DESIGN.md section 8):
// the cluster file, every package folder it lists and every inventory file, as (path,
// mode, bytes) sorted by path. The same files give the same bytes and so the same hash on
// every node; `config apply` commits (version, hash) and the bytes travel in the log
// entry and in snapshots (at most kBundleBytesMax), so any node can rebuild any applied
// version. Drivers (installed software) and the key file (per node) are not in it.
//
// Layout inside a bundle:
//   cluster.yaml              the cluster file, rewritten so that it loads from inside
//                             the bundle: its package list names packages/NAME and its
//                             inventory_file entries inventories/NODE.yaml. The key file
//                             is per node and not in the bundle: its path must not
//                             change the hash, and a node loading a bundle supplies its
//                             own key (LoadBundleConfig). It is the parsed file emitted
//                             again (yaml-cpp): comments and layout are not kept, and the
//                             paths that stay outside the bundle (driver_dir, state_dir,
//                             TLS files) are written as the absolute paths they resolved
//                             to, so a relative one makes the hash depend on where the
//                             cluster file is
//   packages/NAME/...         each package folder: package.yaml, scripts, anything else
//   inventories/NODE.yaml     each inventory_file (mode 0644: it is data)
// Refused (a clear Status naming the file): symbolic links, device files, sockets and
// fifos in a package folder, scripts and service commands outside their package folder,
// names that are not valid UTF-8 path components, more than kBundleFilesMax files or
// kBundleBytesMax bytes in all. A listed package folder may itself be a symbolic link.
//
// On disk a version lives in STATE_DIR/config/vN/ (MaterializeBundle), written to
// vN.tmp, fsync'ed file by file and folder by folder, then renamed: a crash leaves no vN
// or a whole one. Scripts run only from there.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cmcld/core/common/status.h"
#include "cmcld/core/config/cluster_config.h"

namespace cmcl::io {

// The replicated state holds the applied and a pending bundle, and a snapshot must fit a
// peer message: node::kBundleBytesMax (docs/DESIGN_CHANGES.md), the same 3 MiB.
inline constexpr size_t kBundleBytesMax = 3U << 20;
inline constexpr size_t kBundleFilesMax = 4096;

struct BundleFile {
  std::string path;  // Relative, '/'-separated: "packages/hpvm1/run.sh".
  uint32_t mode = 0644;  // Permission bits only (0755 for scripts).
  std::string bytes;
  friend bool operator==(const BundleFile&, const BundleFile&) = default;
};

struct Bundle {
  std::vector<BundleFile> files;  // Sorted by path, unique.
  friend bool operator==(const Bundle&, const Bundle&) = default;
};

// Builds the bundle of a loaded, valid configuration from its files on disk.
Result<Bundle> BuildBundle(const cmcl::config::ClusterConfig& config);

// The stable byte encoding (versioned; decoding is total: malformed bytes give an error,
// never a crash) and its hash (SHA-256, lowercase hex).
std::string EncodeBundle(const Bundle& bundle);
Result<Bundle> DecodeBundle(std::string_view bytes);
std::string BundleHash(std::string_view encoded);

// The shape every bundle has, checked by DecodeBundle and MaterializeBundle: at least
// cluster.yaml; paths sorted, unique, of the layout above (no empty, ".", ".." or non
// UTF-8 components, no file inside another file's path); modes within 0777; the limits.
Status ValidateBundle(const Bundle& bundle);

// Reads a materialized bundle folder back (its regular files, modes and bytes).
Result<Bundle> ReadBundleDir(const std::string& dir);

// Loads the configuration of a materialized bundle (its cluster.yaml), with this node's
// own key file `key_file` in place of the bundle's; every diagnostic as LoadCluster's.
// A configuration that loads comes without its key locations (config::DropKeyLocations):
// its holders keep it for the daemon's life, and its errors were told at load.
Result<cmcl::config::ClusterConfig> LoadBundleConfig(const std::string& bundle_dir,
                                                     const std::string& key_file);

// Writes `bundle` to STATE_DIR/config/vVERSION/ atomically and returns that folder. An
// existing folder is kept when its files equal the bundle's; one that differs is an
// error (a version never changes).
Result<std::string> MaterializeBundle(const Bundle& bundle, uint64_t version,
                                      const std::string& state_dir);

}  // namespace cmcl::io
