#include "cmcld/io/runtime/bootstrap_bundle.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <system_error>

#include "cmcld/io/bundle/bundle.h"

namespace cmcl::io {

Result<std::string> MaterializeBootstrapBundle(const cmcl::config::ClusterConfig& config,
                                               const std::string& state_dir) {
  Result<Bundle> own = BuildBundle(config);
  if (!own.ok()) {
    return own.status();
  }
  const std::filesystem::path v1 = std::filesystem::path(state_dir) / "config" / "v1";
  std::error_code error;
  if (!std::filesystem::exists(v1, error)) {
    return MaterializeBundle(*own, 1, state_dir);
  }
  // A v1 from an earlier start (perhaps of other files): its scripts started the guests
  // that may still run, so it stays; the difference is reported.
  Result<Bundle> existing = ReadBundleDir(v1.string());
  const std::string own_hash = BundleHash(EncodeBundle(*own));
  if (!existing.ok()) {
    spdlog::warn("config/v1 differs from CLUSTER_YAML (cannot read it back: {}; bundle hash of "
                 "CLUSTER_YAML {}); scripts run from config/v1; config apply (issue 9) makes "
                 "it the same everywhere",
                 existing.status().message(), own_hash);
  } else if (*existing != *own) {
    spdlog::warn("config/v1 differs from CLUSTER_YAML (bundle hash {} vs {}); scripts run "
                 "from config/v1; config apply (issue 9) makes it the same everywhere",
                 BundleHash(EncodeBundle(*existing)), own_hash);
  }
  return v1.string();
}

}  // namespace cmcl::io
