// ValidateMigration: may this package's guest start on this node? (DESIGN.md section 6)
//
// The one pure function behind every path that starts a guest: operator move and run,
// automatic failover (choosing among candidates), failback, cluster start, enable, and
// behind `pkgctl check` and the readiness view. It returns every violation, in the
// order of DESIGN.md section 6's table, never only the first: an operator fixes them
// all in one round. The checks are hpvmmigrate's prerequisites, made precise:
//
//   target_not_member     target is a configured member; online also up, authenticated
//                         and holding a lease (HPVM: root SSH trust both ways)
//   node_not_eligible     target in the package's node list, not an arbitrator; online
//                         also node switching enabled there and not in maintenance
//   shared_device         no dvd/cdrom attached to the guest, no guest device or storage
//                         that the source or target lists in shared_devices
//   unsupported_storage   lvol storage, a disk the target knows as a logical volume, and
//                         file storage not marked shared
//   device_missing        every disk of the guest exists on the target
//   wwid_mismatch         the disk's WWID on the target equals the source's and the pin
//   vswitch_mismatch      every vswitch exists on the target, on the source's (or the
//                         pinned) NIC
//   insufficient_capacity vCPUs and memory free on the target next to what runs there
//   storage_in_use        no other package whose guest may run (online: is placed
//                         somewhere; offline: is configured) uses the same disk path or
//                         WWID, unless both mark it shared
//
// Source: see ClusterView::SourceOf. Without a source inventory the WWIDs and NICs
// pinned in the spec stand in for it; checks with nothing to compare against, or on a
// node whose inventory is not known yet, go to `unchecked`. When the target is not a
// configured node at all, only target_not_member and node_not_eligible are reported:
// there is no inventory to check against.
#pragma once

#include <optional>

#include "cmcld/core/common/names.h"
#include "cmcld/core/config/cluster_config.h"
#include "cmcld/core/inventory/inventory_index.h"
#include "cmcld/core/validation/cluster_view.h"
#include "cmcld/core/validation/violation.h"

namespace cmcl::validation {

// One end of a migration: a node and its inventory as validation sees it.
struct Endpoint {
  NodeName node;
  // nullptr only for a node that is not configured (or an arbitrator): a configured
  // member always has one, with devices_known() false while its inventory is unknown.
  // A node agent re-probing before a start passes its fresh inventory here.
  const inventory::InventoryIndex* inventory = nullptr;
};

// The general form: explicit source (nullopt = none) and target ends.
ValidationResult ValidateMigration(const config::PackageSpec& package,
                                   const std::optional<Endpoint>& source, const Endpoint& target,
                                   const ClusterView& cluster);

// The usual form: source and both inventories as `cluster` says (DESIGN.md section 6).
ValidationResult ValidateMigration(const config::PackageSpec& package, const NodeName& target,
                                   const ClusterView& cluster);

}  // namespace cmcl::validation
