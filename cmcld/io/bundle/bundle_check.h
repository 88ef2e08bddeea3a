// Checking a proposed configuration version (`config apply`, DESIGN.md section 8; the
// protocol is the comment above ConfigProposeOp in core/node/cluster_state.h). Two
// places judge a proposal with these functions: the control API before it proposes
// (ControlEngine::ConfigApply, which also checks stranding against its applied state),
// and every member's runtime before it commits its verdict. Both load the bundle with
// their own key file, so a node never judges a configuration it could not run.
//
// What a new version may not change in this version of cmcl (FixedSettingChange, against
// the settings in effect on the judging node: its own files, which its cluster_id,
// addresses and timing come from — not the applied version, which may differ after the
// files were changed and the cluster restarted): the
// cluster name and the voters with their roles (both are the cluster_id every peer
// message carries; DESIGN.md section 3: voter changes are a later feature), and the
// settings a running cmcld reads only at start: node_timeout, heartbeat_interval,
// fence_timeout, fence_action, clock_drift_max, disarm_max (the lease arithmetic of
// DESIGN.md section 4 assumes every node uses the same ones), driver_dir, the watchdog
// settings and the nodes' addresses. Refusing them keeps "applied" equal to "in
// effect": `config show` never shows a timing no node uses.
//
// Files and threads: OpenCandidate writes STATE_DIR/config/incoming-HASH-PID-N (a name of
// its own, so calls may run on several threads at once) and removes it again before it
// returns; the rest is pure and thread-safe.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cmcld/core/common/names.h"
#include "cmcld/core/common/status.h"
#include "cmcld/core/config/cluster_config.h"
#include "cmcld/core/node/cluster_state.h"
#include "cmcld/io/bundle/bundle.h"

namespace cmcl::io {

// A proposed version, decoded, hashed and loaded.
struct Candidate {
  std::string hash;  // BundleHash of the encoded bytes.
  Bundle bundle;
  cmcl::config::ClusterConfig config;  // Loaded with this node's key file.
};

// Decodes `bytes` (at most kBundleBytesMax, ValidateBundle's shape), hashes them and loads
// the configuration they hold with `key_file` in place of the bundle's: materialized in
// STATE_DIR/config/incoming-HASH-PID-N for the load, removed afterwards. InvalidArgument with
// the cause ("the bundle does not decode: ...", or the load's first diagnostic);
// FailedPrecondition when the scratch folder cannot be written.
Result<Candidate> OpenCandidate(std::string_view bytes, const std::string& state_dir,
                                const std::string& key_file);

// The first setting `next` changes that a running cluster cannot take (see above), as
// the refusal: "adding, removing or changing the role of a node is not supported in this
// version (node n4 added)"; nullopt when there is none.
std::optional<std::string> FixedSettingChange(const cmcl::config::ClusterConfig& applied,
                                              const cmcl::config::ClusterConfig& next);

// Every package of `next` that names a driver must find it in next's driver_dir as an
// executable regular file (drivers are installed software, not in the bundle). The first
// one missing: "driver libvirt of package hpvm1 not found in /usr/lib/cmcl/drivers".
std::optional<std::string> MissingDriver(const cmcl::config::ClusterConfig& next);

// The check of a member's verdict: FixedSettingChange against the applied version, then
// MissingDriver when `self` is a member (an arbitrator runs no package).
std::optional<std::string> VerdictRefusal(const cmcl::config::ClusterConfig& applied,
                                          const cmcl::config::ClusterConfig& next,
                                          const NodeName& self);

// A member's whole verdict on a proposal (version `bytes` announced with `hash`): ""
// when it may be applied here, else the reason — the bytes do not hash to `hash`, do not
// decode or load with this node's key (OpenCandidate), or VerdictRefusal.
std::string JudgeProposal(std::string_view bytes, const std::string& hash,
                          const cmcl::config::ClusterConfig& applied, const NodeName& self,
                          const std::string& state_dir, const std::string& key_file);

// The stranding pre-check against an applied state: a package that is starting, up,
// halting or halt_failed (it may still run) whose owner would no longer be allowed to
// run it — absent from `next`, or its owner not in its node list there. The first one:
// "package hpvm1 is up on n2 and is not in the new version; halt it first".
std::optional<std::string> StrandedPackage(const node::ClusterState& state,
                                           const cmcl::config::ClusterConfig& next);

// Every package of `next` with the nodes it may run on ("*" resolved): what the core
// needs to judge stranding without parsing YAML (ConfigProposeOp::packages).
std::map<PackageName, std::vector<NodeName>> PackageNodes(const cmcl::config::ClusterConfig& next);

}  // namespace cmcl::io
