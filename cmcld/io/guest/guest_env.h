// The CMCL_* environment and the guest spec file a package's scripts and driver get
// (DESIGN.md section 5; the list is in guest_runner.h). Pure functions of their inputs,
// so the guard can be given exactly what the runner gives the scripts.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "cmcld/core/config/cluster_config.h"
#include "cmcld/core/node/node.h"

namespace cmcl::io {

struct GuestEnvContext {
  NodeName node;
  std::string state_dir;
  std::string driver_dir;
};

// STATE_DIR/guests/PACKAGE.spec.json.
std::string GuestSpecPath(const std::string& state_dir, const std::string& package);

// PATH and LANG (fixed, so a script sees the same whoever started cmcld), then CMCL_*.
// `action_name` is CMCL_ACTION ("run", "halt", "kill", "status").
std::vector<std::string> GuestEnvironment(const GuestEnvContext& context,
                                          const node::GuestAction& action,
                                          const config::PackageSpec& package,
                                          std::string_view action_name);

// The guest spec as one JSON object: package, node, epoch, vcpus, memory_mb (the move's
// overrides applied), label, storage [{path, type, shared, wwid?}], networks
// [{vswitch, nic?}], devices [{path, type}].
std::string GuestSpecJson(const GuestEnvContext& context, const node::GuestAction& action,
                          const config::PackageSpec& package);

// CMCL_ACTION of a verb: "run", "halt", "kill", "status".
std::string_view GuestActionName(node::GuestVerb verb);

}  // namespace cmcl::io
