// ClusterState: issue 10's maintenance (MaintenanceOp in cluster_state.h, where the
// semantics are written down). Apply only records the operator's word and says so in the
// event ring; the coordinator and the node agent read it (PackageInMaintenance,
// NodeInMaintenance) and act on it. The flags are part of the snapshot (format 4), so a
// restart or a compaction never forgets them.
#include <string>
#include <utility>

#include "cmcld/core/common/bytes.h"
#include "cmcld/core/node/cluster_state.h"
#include "cmcld/core/node/codec.h"

namespace cmcl::node {

bool ClusterState::NodeInMaintenance(const NodeName& node) const {
  const auto it = nodes_.find(node);
  return it != nodes_.end() && it->second.maintenance;
}

bool ClusterState::NodeFrozen(const NodeName& node) const {
  const auto it = nodes_.find(node);
  return it != nodes_.end() && it->second.frozen;
}

bool ClusterState::PackageInMaintenance(const PackageName& package) const {
  const PackageRecord* record = FindPackage(package);
  if (record != nullptr && record->maintenance) {
    return true;
  }
  const Assignment* a = Find(package);
  return a != nullptr && PackageInMaintenance(nullptr, *a);
}

bool ClusterState::PackageInMaintenance(const PackageRecord* record,
                                        const Assignment& assignment) const {
  if (record != nullptr && record->maintenance) {
    return true;
  }
  return assignment.owner && !assignment.Free() && NodeFrozen(*assignment.owner);
}

void ClusterState::ApplyMaintenance(LogIndex index, const MaintenanceOp& op) {
  if (op.node) {
    NodeRecord& node = nodes_[*op.node];
    const bool was = node.maintenance;
    node.maintenance = op.on;
    node.frozen = op.on && op.freeze;
    node.by = op.by;
    Event(index, false,
          op.node->value() +
              (!op.on ? std::string(": maintenance off (") + op.by +
                            "): a placement target again; nothing moves back unless a policy "
                            "(failback automatic) says so"
               : op.freeze ? ": maintenance on, frozen (" + op.by +
                                 "): its packages stay and are not monitored; nothing new "
                                 "starts there"
                           : ": maintenance on (" + op.by +
                                 "): its packages move away where validation allows; nothing "
                                 "new starts there") +
              (was == op.on && op.on ? " (it was in maintenance already)" : ""));
    return;
  }
  PackageRecord& r = packages_[*op.package];
  const bool was = r.maintenance;
  r.maintenance = op.on;
  if (!op.on && was) {
    r.note.clear();  // The coordinator's maintenance note no longer holds.
  }
  const std::string what =
      op.on ? "maintenance on: not monitored, never restarted, failed over or moved "
              "automatically"
            : "maintenance off: monitoring and failover resume under its policies";
  Event(index, false, op.package->value() + ": " + what + " (" + op.by + ")");
  r.SetOutcome(Outcome{
      .command = index,
      .kind = CommandKind::kMaintenance,
      .ok = true,
      .message = was == op.on ? std::string(op.on ? "already in maintenance" : "not in maintenance")
                              : what});
}

// Format 4's part: the nodes in maintenance (name, frozen) and the packages in
// maintenance, both in key order. Each names a record that the node or package section
// of the snapshot holds already (apply creates it), so the encoding stays canonical.
void ClusterState::WriteMaintenance(ByteWriter& out) const {
  uint32_t nodes = 0;
  for (const auto& [node, record] : nodes_) nodes += record.maintenance ? 1 : 0;
  codec::Put(out, nodes);
  for (const auto& [node, record] : nodes_) {
    if (record.maintenance) codec::Put(out, node, record.frozen);
  }
  uint32_t packages = 0;
  for (const auto& [package, record] : packages_) packages += record.maintenance ? 1 : 0;
  codec::Put(out, packages);
  for (const auto& [package, record] : packages_) {
    if (record.maintenance) codec::Put(out, package);
  }
}

void ClusterState::ReadMaintenance(ByteReader& in) {
  uint32_t nodes = 0;
  codec::Get(in, nodes);
  std::optional<NodeName> previous_node;
  for (uint32_t i = 0; i < nodes && in.ok(); ++i) {
    NodeName node;
    bool frozen = false;
    codec::Get(in, node, frozen);
    const auto it = nodes_.find(node);
    in.Require(it != nodes_.end() && (!previous_node || *previous_node < node));
    if (!in.ok()) return;
    it->second.maintenance = true;
    it->second.frozen = frozen;
    previous_node = std::move(node);
  }
  uint32_t packages = 0;
  codec::Get(in, packages);
  std::optional<PackageName> previous_package;
  for (uint32_t i = 0; i < packages && in.ok(); ++i) {
    PackageName package;
    codec::Get(in, package);
    const auto it = packages_.find(package);
    in.Require(it != packages_.end() && (!previous_package || *previous_package < package));
    if (!in.ok()) return;
    it->second.maintenance = true;
    previous_package = std::move(package);
  }
}

}  // namespace cmcl::node
