// The `pkgctl view` model and its two renderings (INTERFACE.md "JSON output" and the
// table form): one ViewModel is built from the local node's applied state, and both the
// JSON and the table are printed from it, so they never disagree.
//
// The view answers at once from what this node applied; it never waits for a leader.
// Staleness rule (INTERFACE.md): when this node has no valid lease (no quorum), the
// other nodes show state `unknown`, the packages keep their last values marked
// `"stale": true`, and the table starts with a banner saying so.
//
// What the applied state does not hold yet, and the view therefore cannot show: a
// package's `since` (null), and service restart counts (0; the runtime owns services).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cmcld/core/common/names.h"
#include "cmcld/core/common/time.h"
#include "cmcld/core/config/cluster_config.h"
#include "cmcld/core/node/node.h"
#include "cmcld/io/peer/peer_transport.h"

namespace cmcl::io::control {

struct NetworkView {
  std::string address;
  std::string status;  // "up", "down".
};

struct NodeView {
  std::string name;
  std::string status;  // up, down, halted.
  std::string state;   // running, fencing, no_quorum, maintenance, unknown.
  std::string role;    // member, arbitrator.
  std::vector<NetworkView> networks;
  bool frozen = false;  // Issue 10: node maintenance --freeze (JSON "frozen").
};

struct ServiceView {
  std::string name;
  std::string status;
  uint32_t restart_count = 0;
  uint32_t max_restarts = 0;
};

struct PackageView {
  std::string name;
  std::string status;  // down, starting, up, halting, failed, halt_failed.
  std::string state;   // running, halted, start_wait, relocate_wait, owner_lost, ...
  std::optional<std::string> node;
  uint64_t epoch = 0;
  bool auto_run = false;
  std::vector<std::pair<std::string, bool>> switching;  // Per node of its list.
  std::vector<std::string> failed_nodes;
  std::string reason;
  uint32_t vcpus = 0;
  uint64_t memory_mb = 0;
  std::vector<std::string> storage;
  std::vector<std::string> networks;
  std::vector<std::string> devices;
  std::vector<ServiceView> services;
  std::optional<std::string> intent;  // "move to ivmcl02 (halting)".
  bool stale = false;
  // For view -v (and additive JSON fields): the restart-then-relocate counters, the
  // operator command still waiting for its end, and the configured policies.
  uint32_t restarts = 0;
  uint32_t max_restarts = 0;
  uint32_t relocations = 0;
  std::optional<std::string> pending;  // "run (index 12)".
  std::string failover_policy;
  std::string failback_policy;
  std::string label;
  uint32_t number = 0;  // Its position in the configuration, from 1 (hpvmstatus's VM #).
  // Issue 10: package maintenance, or its owner frozen (JSON "maintenance"; the tables
  // add " (maintenance)" to STATUS).
  bool maintenance = false;
};

// Cold start (DESIGN.md section 5): initial placement waits for every member or
// cluster_start_wait. The coordinator knows whom it waits for and the time left; another
// node names the members it does not hear from itself.
struct StartWaitView {
  bool decided_here = false;             // This node is the coordinator deciding it.
  std::vector<std::string> waiting_for;  // Members not up (here: not heard from).
  int64_t wait_ms = 0;                   // cluster_start_wait.
  std::optional<int64_t> left_ms;        // The coordinator only.
};
// "cluster start: waiting for node3 (cluster_start_wait 10m, 9m12s left)".
std::string StartWaitText(const StartWaitView& wait);

struct ViewModel {
  std::string self;
  uint64_t applied_index = 0;
  std::optional<int64_t> leader_contact_age_ms;  // nullopt: no lease from a leader.
  std::string cluster_name;
  std::string cluster_status;  // up, starting, no_quorum, down.
  std::optional<std::string> coordinator;
  bool quorum = false;
  uint64_t config_version = 0;
  std::string mode;  // normal, disarmed.
  // Issue 10, while disarmed: D, and what is left of it as this node counts (nullopt:
  // not known here).
  int64_t disarm_ms = 0;
  std::optional<int64_t> disarmed_left_ms;
  std::optional<StartWaitView> start_wait;  // While initial placement waits.
  std::vector<NodeView> nodes;
  std::vector<PackageView> packages;
};

struct ViewInputs {
  const config::ClusterConfig& config;
  const node::Node& node;
  Time now;
  const std::map<NodeName, std::vector<NetworkStatus>>& networks;
};

ViewModel BuildViewModel(const ViewInputs& inputs);
// Issue 10, the banner while disarmed: "DISARMED, 37 min left (cluster disarm --for 1h):
// nothing fails over; pkgctl cluster arm ends it". Empty when the mode is normal.
std::string DisarmedText(const ViewModel& model);

// Keeps only what `target` names: a package (and no nodes), or a node and the packages
// placed on it. False (nothing changed) when it names neither.
bool FilterView(ViewModel& model, const std::string& target);

std::string ViewJson(const ViewModel& model);
// The table; `verbose` gives ViewTree instead.
std::string ViewTable(const ViewModel& model, bool verbose);

// view_formats.cc. `view -v` (cmviewcl -v): the cluster, per node its networks and the
// packages it runs (each with its policies, services, restarts, node switching per node,
// failed-node memory, pending command and intent, reason and guest), then
// UNOWNED_PACKAGES. The node STATUS under a package's switching comes from model.nodes
// (`unknown` when the model was filtered to that package; pass the unfiltered nodes).
std::string ViewTree(const ViewModel& model, const std::vector<NodeView>& all_nodes);
// cmviewcl -f line: `key=value` lines, the cluster's unprefixed, then `node:N|key=value`
// and `package:P|key=value` (with `|node:N|` and `|service:S|` below a package), as
// Serviceguard's -f line prints them.
std::string ViewLines(const ViewModel& model);
// hpvmstatus: HPVM's guest columns (name, #, OS type, state, #VCPUs, #Devs, #Nets,
// memory, node), one row per package; # is its position in the configuration.
std::string HpvmStatus(const ViewModel& model);

}  // namespace cmcl::io::control
