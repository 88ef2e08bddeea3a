// ClusterFacts and ClusterView: what migration validation knows about the cluster.
//
// ClusterFacts is what the live cluster adds to the configuration: which nodes are up,
// authenticated members holding a lease, node maintenance, per-(package, node)
// switching, where each package's guest may be running, where each package last ran,
// and the inventories nodes reported (probe or re-probe). The node core fills it from
// its applied state; `pkgctl check --offline` uses ClusterFacts::Offline(), in which
// nothing runs and the members are the configured ones (DESIGN.md section 6).
//
// ClusterView indexes a configuration plus its facts once: a ConfigIndex (one
// InventoryIndex per node, dense per-node disk tables), the vCPUs and memory each node
// already carries, and which packages use each disk path and WWID. Validation then costs
// a few lookups per device per (package, node) pair, which is what lets the readiness
// matrix be recomputed on every change. A view borrows: the config (or the ConfigIndex)
// and the facts must outlive it. Pure and deterministic.
//
// A view can also carry a tally on top of its facts: AddPlacement records a decision
// (a guest about to start on a node) in O(the package's disks), without copying the
// facts or rebuilding the indexes, so that placing a batch of packages validates each
// one against the capacity and disks the batch's earlier decisions already took
// (DESIGN.md section 5: a batch never double-books). Every question a view answers
// (UsedOn, PlacementOf, UsersOfWwid, and so validation) sees those placements.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "cmcld/core/common/names.h"
#include "cmcld/core/config/cluster_config.h"
#include "cmcld/core/inventory/inventory.h"
#include "cmcld/core/inventory/inventory_index.h"
#include "cmcld/core/validation/config_index.h"

namespace cmcl::validation {

// A package status in which its guest may be running on a node, so it holds that
// node's capacity and its disks.
enum class Occupancy { kStarting, kUp, kHalting, kHaltFailed };
std::string_view OccupancyName(Occupancy occupancy);  // "starting", "up", ...

struct Placement {
  NodeName node;
  Occupancy occupancy = Occupancy::kUp;
};

struct ClusterFacts {
  // Offline: no daemon was asked. Membership is "configured as a member", nothing runs,
  // switching and maintenance are unknown (not checked).
  bool offline = false;
  std::set<NodeName> up_members;  // Up, authenticated, holding a lease.
  std::set<NodeName> maintenance_nodes;
  std::set<std::pair<PackageName, NodeName>> switching_disabled;  // Node switching off.
  std::map<PackageName, Placement> placements;  // Packages whose guest may run somewhere.
  std::map<PackageName, NodeName> last_nodes;   // The last node that ran each package.
  // Inventories nodes reported; they override the configured ones.
  ReportedInventories reported_inventories;

  static ClusterFacts Offline() {
    ClusterFacts facts;
    facts.offline = true;
    return facts;
  }
};

// vCPUs and memory that running guests take on one node, and how many guests.
struct Usage {
  uint64_t vcpus = 0;
  uint64_t memory_bytes = 0;
  uint64_t packages = 0;  // Placed packages (any occupancy): min_package_node's count.
};

// One package's use of one disk, found by path or WWID.
struct StorageUse {
  size_t package_index = 0;  // Into config.packages.
  bool shared = false;
};

class ClusterView {
 public:
  // Indexes `config` and the inventories in `facts` itself.
  // REQUIRES: `config` and `facts` outlive the view.
  ClusterView(const config::ClusterConfig& config, const ClusterFacts& facts);
  // Reuses `index` (built once per configuration and reported inventories); only the
  // placement-dependent part is built. `facts.reported_inventories` is not consulted:
  // the index's inventories are. REQUIRES: `index` and `facts` outlive the view.
  ClusterView(const ConfigIndex& index, const ClusterFacts& facts);
  ClusterView(const ClusterView&) = delete;
  ClusterView& operator=(const ClusterView&) = delete;

  const config::ClusterConfig& config() const { return index_.config(); }
  const ClusterFacts& facts() const { return facts_; }
  const ConfigIndex& index() const { return index_; }

  const config::NodeSpec* FindNode(const NodeName& name) const { return index_.FindNode(name); }
  const config::PackageSpec* FindPackage(const PackageName& name) const {
    return index_.FindPackage(name);
  }
  // The node's inventory as validation sees it; nullptr when the node is not configured.
  const inventory::InventoryIndex* Inventory(const NodeName& name) const {
    return index_.Inventory(name);
  }
  // The nodes the package may run on, in preference order ("*" = every member).
  const std::vector<NodeName>& NodesOf(const config::PackageSpec& package) const {
    return index_.NodesOf(package);
  }
  // DESIGN.md section 6: the node the guest may run on, else the last node that ran it;
  // offline, the first node of the package's list other than `target`. nullopt: none.
  std::optional<NodeName> SourceOf(const config::PackageSpec& package,
                                   const std::optional<NodeName>& target) const;
  // Where the package's guest may run: its last AddPlacement, else the facts' placement;
  // nullptr when neither places it.
  const Placement* PlacementOf(const PackageName& package) const;
  // What other packages' guests take on `node` (never counts `except`), plus the room
  // held there for a package of a priority at least as high as `except`'s (Reserve).
  Usage UsedOn(const NodeName& node, const PackageName& except) const;
  // Packages using the disk at `path` / with WWID `wwid`; empty when none.
  const std::vector<StorageUse>& UsersOfPath(const std::string& path) const;
  const std::vector<StorageUse>& UsersOfWwid(const Wwid& wwid) const;

  // The tally of a placement batch: from now on this view answers as if the facts
  // placed `package`'s guest on `placement.node` (the facts themselves are not
  // changed). The node's usage gains the guest, and the WWIDs that node reports for the
  // guest's disks become the package's too, so storage_in_use sees them. Where the facts
  // place the guest elsewhere, that node keeps carrying it: the guest runs there until
  // it is halted (DESIGN.md section 5, move). A second AddPlacement of the same package
  // replaces the first's usage; WWIDs once added stay (conservative: at worst an extra
  // storage_in_use). Costs O(the package's disks x users of each of its WWIDs).
  // Returns false, changing nothing, when the package is not configured.
  bool AddPlacement(const PackageName& package, const Placement& placement);

  // Priority displacement (issue 10): holds `package`'s vCPUs and memory on `node`, the
  // room its displacement freed there, until an AddPlacement places it. UsedOn counts
  // the held room for every package except `package` itself and those of a strictly
  // higher priority (a batch decides them first: holding room against them would turn
  // the priorities round), so no lower or equal priority takes it first (sim seed
  // 11556099375813343026 --swarm). Usage::packages does not count it. Returns false,
  // changing nothing, when the package is not configured.
  bool Reserve(const PackageName& package, const NodeName& node);

 private:
  void IndexUsage();
  void IndexStorage();
  std::optional<NodeName> HomeOf(const config::PackageSpec& package) const;
  // Whether `node`'s usage counts the package: the facts or an AddPlacement put it there.
  bool CountsOn(const PackageName& package, const NodeName& node) const;
  void AddUsage(const NodeName& node, const config::PackageSpec& package);
  void RemoveUsage(const NodeName& node, const config::PackageSpec& package);
  void AddWwidsOn(size_t package_index, const NodeName& node);

  std::optional<ConfigIndex> owned_index_;  // Set by the first constructor only.
  const ConfigIndex& index_;
  const ClusterFacts& facts_;
  // Hash maps for lookups only, never iterated: no order reaches an output.
  std::unordered_map<NodeName, Usage> usage_;  // Of every placed package.
  // Keyed by views of the configuration's and the index's strings, which outlive the view:
  // copying every path and WWID was most of the cost of building a view (a move's check
  // and its placement each build one; docs/BENCHMARKS.md).
  std::unordered_map<std::string_view, std::vector<StorageUse>> path_users_;
  std::unordered_map<std::string_view, std::vector<StorageUse>> wwid_users_;
  std::unordered_map<PackageName, Placement> added_;  // By AddPlacement.
  // By Reserve, until the package's AddPlacement. Few (one per waiting displacer).
  std::map<PackageName, std::set<NodeName>> reserved_;
};

}  // namespace cmcl::validation
