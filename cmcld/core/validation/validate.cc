#include "cmcld/core/validation/validate.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "cmcld/core/common/check.h"
#include "cmcld/core/common/units.h"

namespace cmcl::validation {

namespace {

using config::GuestStorage;
using config::PackageSpec;

// hpvmmigrate's own words, quoted in our messages (reference section 6.6).
constexpr std::string_view kHpvmDeviceMissing = " (hpvmmigrate: Device does not exist)";
constexpr std::string_view kHpvmWwidMismatch = " (hpvmmigrate: Device WWID does not match)";
constexpr std::string_view kHpvmVswitch = " (hpvmmigrate: vswitch validation failed)";

std::string SharedDeviceMessage(const std::string& path) {
  return "Device " + path + " is shared. Guest with shared storage devices cannot be migrated.";
}

// Full WWIDs, never elided: the operator compares them with what the array shows, and
// the longest form (32 hex digits) still fits a line.
const std::string& WwidText(const Wwid& wwid) { return wwid.value; }

bool Contains(const std::vector<NodeName>& nodes, const NodeName& node) {
  return std::find(nodes.begin(), nodes.end(), node) != nodes.end();
}

class Validator {
 public:
  Validator(const PackageSpec& package, const std::optional<Endpoint>& source,
            const Endpoint& target, const ClusterView& cluster)
      : package_(package), source_(source), target_(target), cluster_(cluster) {}

  ValidationResult Run() && {
    CheckMembership();
    CheckEligibility();
    // An unknown node has no inventory and an arbitrator runs nothing: the two checks
    // above already refuse them, device findings would only be noise.
    const config::NodeSpec* node = cluster_.FindNode(target_.node);
    const bool runs_guests = node == nullptr || node->role == config::NodeRole::kMember;
    // A configured member always comes with an index; "not known yet" is an index whose
    // devices_known() is false, which reports unchecked. nullptr here would silently skip
    // every device check (DESIGN.md section 1).
    CMCL_CHECK(node == nullptr || !runs_guests || target_.inventory != nullptr)
        << "validation of " << name() << " on member " << target() << " without an inventory";
    if (target_.inventory != nullptr && runs_guests) {
      LookUpDisks();
      CheckSharedDevices();
      for (size_t i = 0; i < package_.guest.storage.size(); ++i) CheckStorage(i);
      for (const config::GuestNetwork& network : package_.guest.networks) {
        CheckNetwork(network);
      }
      CheckCapacity();
      CheckStorageInUse();
    }
    const auto by_code = [](const Violation& a, const Violation& b) { return a.code < b.code; };
    std::stable_sort(result_.violations.begin(), result_.violations.end(), by_code);
    std::stable_sort(result_.unchecked.begin(), result_.unchecked.end(), by_code);
    return std::move(result_);
  }

 private:
  void Fail(ViolationCode code, std::string subject, std::string message) {
    result_.violations.push_back({code, std::move(message), target_.node, std::move(subject)});
  }
  void Skip(ViolationCode code, std::string subject, std::string message) {
    result_.unchecked.push_back({code, std::move(message), target_.node, std::move(subject)});
  }
  const std::string& target() const { return target_.node.value(); }
  const std::string& name() const { return package_.name.value(); }
  // The source's inventory when its devices are known, else nullptr.
  const inventory::InventoryIndex* KnownSource() const {
    if (!source_.has_value() || source_->inventory == nullptr) return nullptr;
    return source_->inventory->devices_known() ? source_->inventory : nullptr;
  }

  // Each guest disk looked up once on each end: the inventories hold thousands of disks
  // and readiness validates every (package, node) pair.
  struct DiskLookup {
    const inventory::Disk* on_target = nullptr;  // nullptr: absent or target unknown.
    const Wwid* source_wwid = nullptr;           // nullptr: no source, absent or no WWID.
  };
  void LookUpDisks();

  void CheckMembership();
  void CheckEligibility();
  void CheckSharedDevices();
  std::optional<std::string> SharedBy(const std::string& path) const;
  void CheckStorage(size_t index);
  void CheckDisk(const GuestStorage& storage, const DiskLookup& lookup);
  void CheckWwid(const GuestStorage& storage, const DiskLookup& lookup);
  void CheckNetwork(const config::GuestNetwork& network);
  void CheckCapacity();
  void CheckStorageInUse();
  std::vector<const Wwid*> WwidsOf(const GuestStorage& storage, const DiskLookup& lookup) const;
  std::optional<std::string> Whereabouts(const PackageSpec& other) const;

  const PackageSpec& package_;
  const std::optional<Endpoint>& source_;
  const Endpoint& target_;
  const ClusterView& cluster_;
  std::vector<DiskLookup> disks_;  // Parallel to package_.guest.storage.
  ValidationResult result_;
};

void Validator::LookUpDisks() {
  const inventory::InventoryIndex* source = KnownSource();
  const bool target_known = target_.inventory->devices_known();
  // The view's dense tables when it built these indexes, else hashed lookups.
  const std::vector<uint32_t>* ids = cluster_.index().PathIdsOf(package_);
  const auto* target_disks =
      ids != nullptr ? cluster_.index().DisksByPath(target_.inventory) : nullptr;
  const auto* source_disks = ids != nullptr ? cluster_.index().DisksByPath(source) : nullptr;
  disks_.resize(package_.guest.storage.size());
  for (size_t i = 0; i < disks_.size(); ++i) {
    const std::string& path = package_.guest.storage[i].path;
    if (target_disks != nullptr) {
      disks_[i].on_target = (*target_disks)[(*ids)[i]];
    } else if (target_known) {
      disks_[i].on_target = target_.inventory->FindDisk(path);
    }
    const inventory::Disk* on_source = nullptr;
    if (source_disks != nullptr) {
      on_source = (*source_disks)[(*ids)[i]];
    } else if (source != nullptr) {
      on_source = source->FindDisk(path);
    }
    if (on_source != nullptr && on_source->wwid.has_value()) {
      disks_[i].source_wwid = &*on_source->wwid;
    }
  }
}

void Validator::CheckMembership() {
  const config::NodeSpec* node = cluster_.FindNode(target_.node);
  if (node == nullptr) {
    std::vector<std::string> names;
    for (const config::NodeSpec& known : cluster_.config().nodes) {
      names.push_back(known.name.value());
    }
    std::string message = "target node " + target() + " is not a node of cluster " +
                          cluster_.config().cluster_name.value();
    const std::string guess = ClosestMatch(target(), names);
    if (!guess.empty()) message += " (did you mean " + guess + "?)";
    Fail(ViolationCode::kTargetNotMember, target(), std::move(message));
    return;
  }
  // Offline nothing is known of who is up: being configured is all that can be checked.
  if (cluster_.facts().offline) return;
  if (!cluster_.facts().up_members.contains(target_.node)) {
    Fail(ViolationCode::kTargetNotMember, target(),
         "target node " + target() + " is not an up member of the cluster");
  }
}

void Validator::CheckEligibility() {
  const config::NodeSpec* node = cluster_.FindNode(target_.node);
  if (node != nullptr && node->role == config::NodeRole::kArbitrator) {
    Fail(ViolationCode::kNodeNotEligible, target(),
         target() + " is an arbitrator and runs no packages");
  } else if (!package_.all_nodes && !Contains(package_.nodes, target_.node)) {
    Fail(ViolationCode::kNodeNotEligible, target(),
         target() + " is not in the node list of " + name());
  }
  const ClusterFacts& facts = cluster_.facts();
  if (facts.offline) return;  // Switching and maintenance live in the cluster state.
  if (facts.switching_disabled.contains({package_.name, target_.node})) {
    Fail(ViolationCode::kNodeNotEligible, target(),
         "node switching of " + name() + " is disabled on " + target() + " (pkgctl enable " +
             name() + " -n " + target() + ")");
  }
  if (facts.maintenance_nodes.contains(target_.node)) {
    Fail(ViolationCode::kNodeNotEligible, target(),
         target() + " is in maintenance (pkgctl node maintenance " + target() + " off)");
  }
}

// Which end lists `path` among its host-shared devices (target first), if any.
std::optional<std::string> Validator::SharedBy(const std::string& path) const {
  if (target_.inventory->devices_known() && target_.inventory->IsSharedDevice(path)) {
    return target();
  }
  const inventory::InventoryIndex* source = KnownSource();
  if (source != nullptr && source->IsSharedDevice(path)) return source_->node.value();
  return std::nullopt;
}

// A host CD/DVD attached to the guest is shared whether or not a node lists it: it is
// the host's drive, not the guest's (hpvmmigrate refuses it the same way).
void Validator::CheckSharedDevices() {
  std::set<std::string> reported;
  const auto report = [&](const std::string& path, const std::string& why) {
    if (!reported.insert(path).second) return;
    Fail(ViolationCode::kSharedDevice, path, SharedDeviceMessage(path) + why);
  };
  for (const config::GuestDevice& device : package_.guest.devices) {
    const std::optional<std::string> host = SharedBy(device.path);
    if (device.type == config::DeviceType::kDvd || device.type == config::DeviceType::kCdrom) {
      report(device.path, "");
    } else if (host.has_value()) {
      report(device.path, " (" + *host + " lists it in shared_devices)");
    }
  }
  for (const GuestStorage& storage : package_.guest.storage) {
    const std::optional<std::string> host = SharedBy(storage.path);
    if (host.has_value()) report(storage.path, " (" + *host + " lists it in shared_devices)");
  }
}

void Validator::CheckStorage(size_t index) {
  const GuestStorage& storage = package_.guest.storage[index];
  switch (storage.type) {
    case config::StorageType::kLvol:
      // A logical volume belongs to one host's volume group; HPVM 3.5 refused them too.
      Fail(ViolationCode::kUnsupportedStorage, storage.path,
           "storage " + storage.path + " is a logical volume; only whole disks can be migrated");
      return;
    case config::StorageType::kFile:
      // A file lives on some host file system. Only a file on storage every node mounts
      // (NFS, a cluster file system: HPVM's "files on CFS") can follow the guest, and
      // only the operator knows which it is: `shared: true` says so.
      if (!storage.shared) {
        Fail(ViolationCode::kUnsupportedStorage, storage.path,
             "storage " + storage.path + " is a file; only whole disks can be migrated " +
                 "(mark it shared: true if every node mounts it from shared storage)");
        return;
      }
      Skip(ViolationCode::kDeviceMissing, storage.path,
           "file " + storage.path + " is shared storage; its presence on " + target() +
               " is not checked");
      return;
    case config::StorageType::kDisk:
      CheckDisk(storage, disks_[index]);
      return;
  }
}

void Validator::CheckDisk(const GuestStorage& storage, const DiskLookup& lookup) {
  const inventory::InventoryIndex& inventory = *target_.inventory;
  if (!inventory.devices_known()) {
    const std::string why =
        "inventory of " + target() + " is not known yet; device " + storage.path + " not checked";
    Skip(ViolationCode::kDeviceMissing, storage.path, why);
    Skip(ViolationCode::kWwidMismatch, storage.path, why);
    return;
  }
  if (inventory.IsLogicalVolume(storage.path)) {
    Fail(ViolationCode::kUnsupportedStorage, storage.path,
         "storage " + storage.path + " is a logical volume on " + target() +
             "; only whole disks can be migrated");
    return;
  }
  if (lookup.on_target == nullptr) {
    Fail(ViolationCode::kDeviceMissing, storage.path,
         "target node " + target() + ": device " + storage.path + " does not exist" +
             std::string(kHpvmDeviceMissing));
    return;
  }
  CheckWwid(storage, lookup);
}

// The target's WWID must equal the source's (the disk the guest uses now) and the pin
// (what the operator wrote down); one violation per disk, the source's first.
void Validator::CheckWwid(const GuestStorage& storage, const DiskLookup& lookup) {
  const std::string& path = storage.path;
  const Wwid* source_wwid = lookup.source_wwid;
  const std::optional<Wwid>& target_wwid = lookup.on_target->wwid;
  // A WWID is expected (the source's or the pin) but the target shows none: nothing proves
  // its disk is the guest's, so this refuses like any other mismatch (DESIGN.md section 1).
  if (!target_wwid.has_value() && (source_wwid != nullptr || storage.wwid.has_value())) {
    const std::string expected = source_wwid != nullptr
                                     ? WwidText(*source_wwid) + " on " + source_->node.value()
                                     : WwidText(*storage.wwid) + " pinned in " + name();
    Fail(ViolationCode::kWwidMismatch, path,
         "device " + path + ": WWID " + expected + " but " + target() + " reports no WWID for it" +
             std::string(kHpvmWwidMismatch));
    return;
  }
  if (!target_wwid.has_value()) {
    Skip(ViolationCode::kWwidMismatch, path,
         "device " + path + ": " + target() + " reports no WWID for it; WWID not checked");
    return;
  }
  if (source_wwid != nullptr && *source_wwid != *target_wwid) {
    Fail(ViolationCode::kWwidMismatch, path,
         "device " + path + ": WWID " + WwidText(*source_wwid) + " on " + source_->node.value() +
             " but " + WwidText(*target_wwid) + " on " + target() + std::string(kHpvmWwidMismatch));
    return;
  }
  if (storage.wwid.has_value() && *storage.wwid != *target_wwid) {
    Fail(ViolationCode::kWwidMismatch, path,
         "device " + path + ": WWID " + WwidText(*storage.wwid) + " pinned in " + name() + " but " +
             WwidText(*target_wwid) + " on " + target() + std::string(kHpvmWwidMismatch));
    return;
  }
  if (source_wwid != nullptr || storage.wwid.has_value()) return;
  const std::string why = source_.has_value()
                              ? "its WWID on " + source_->node.value() + " is not known"
                              : "there is no source node";
  Skip(ViolationCode::kWwidMismatch, path,
       "device " + path + ": " + why + " and " + name() + " pins no wwid; WWID " +
           WwidText(*target_wwid) + " on " + target() + " not checked");
}

void Validator::CheckNetwork(const config::GuestNetwork& network) {
  const std::string& vswitch = network.vswitch;
  if (!target_.inventory->devices_known()) {
    Skip(ViolationCode::kVswitchMismatch, vswitch,
         "inventory of " + target() + " is not known yet; vswitch " + vswitch + " not checked");
    return;
  }
  const std::string* target_nic = target_.inventory->FindVswitchNic(vswitch);
  if (target_nic == nullptr) {
    Fail(ViolationCode::kVswitchMismatch, vswitch,
         "vswitch " + vswitch + " does not exist on " + target() + std::string(kHpvmVswitch));
    return;
  }
  const inventory::InventoryIndex* source = KnownSource();
  const std::string* source_nic = source != nullptr ? source->FindVswitchNic(vswitch) : nullptr;
  if (source_nic != nullptr && *source_nic != *target_nic) {
    Fail(ViolationCode::kVswitchMismatch, vswitch,
         "vswitch " + vswitch + " uses " + *source_nic + " on " + source_->node.value() + " but " +
             *target_nic + " on " + target() + std::string(kHpvmVswitch));
    return;
  }
  if (network.nic.has_value() && *network.nic != *target_nic) {
    Fail(ViolationCode::kVswitchMismatch, vswitch,
         "vswitch " + vswitch + " is pinned to " + *network.nic + " in " + name() + " but uses " +
             *target_nic + " on " + target() + std::string(kHpvmVswitch));
    return;
  }
  if (source_nic != nullptr || network.nic.has_value()) return;
  const std::string why = source_.has_value() ? "it is not known on " + source_->node.value()
                                              : "there is no source node";
  Skip(ViolationCode::kVswitchMismatch, vswitch,
       "vswitch " + vswitch + ": " + why + " and " + name() + " pins no nic; NIC " + *target_nic +
           " on " + target() + " not checked");
}

void Validator::CheckCapacity() {
  const std::optional<inventory::Capacity>& capacity = target_.inventory->capacity();
  if (!capacity.has_value()) {
    Skip(ViolationCode::kInsufficientCapacity, target(),
         "capacity of " + target() + " is not known; vCPUs and memory not checked");
    return;
  }
  const Usage used = cluster_.UsedOn(target_.node, package_.name);
  const uint64_t vcpus_free = capacity->vcpus > used.vcpus ? capacity->vcpus - used.vcpus : 0;
  if (package_.guest.vcpus > vcpus_free) {
    Fail(ViolationCode::kInsufficientCapacity, target(),
         target() + " has " + std::to_string(vcpus_free) + " of " +
             std::to_string(capacity->vcpus) + " vCPUs free; " + name() + " needs " +
             std::to_string(package_.guest.vcpus));
  }
  const uint64_t memory_total = capacity->memory.bytes();
  const uint64_t memory_free =
      memory_total > used.memory_bytes ? memory_total - used.memory_bytes : 0;
  if (package_.guest.memory.bytes() > memory_free) {
    Fail(ViolationCode::kInsufficientCapacity, target(),
         target() + " has " + ByteSize::FromBytes(memory_free).ToString() + " of " +
             capacity->memory.ToString() + " memory free; " + name() + " needs " +
             package_.guest.memory.ToString());
  }
}

// Every WWID this disk is known by (pinned, on the source, on the target), each once,
// in WWID order. Points into the spec and the inventory indexes, which outlive the call.
std::vector<const Wwid*> Validator::WwidsOf(const GuestStorage& storage,
                                            const DiskLookup& lookup) const {
  std::vector<const Wwid*> wwids;
  if (storage.wwid.has_value()) wwids.push_back(&*storage.wwid);
  if (lookup.source_wwid != nullptr) wwids.push_back(lookup.source_wwid);
  if (lookup.on_target != nullptr && lookup.on_target->wwid.has_value()) {
    wwids.push_back(&*lookup.on_target->wwid);
  }
  const auto by_value = [](const Wwid* a, const Wwid* b) { return *a < *b; };
  const auto same = [](const Wwid* a, const Wwid* b) { return *a == *b; };
  std::sort(wwids.begin(), wwids.end(), by_value);
  wwids.erase(std::unique(wwids.begin(), wwids.end(), same), wwids.end());
  return wwids;
}

// Where `other`'s guest may run, or nullopt when it cannot run concurrently. Online only
// a placed guest (starting, up, halting, halt_failed) holds its disks; a down package is
// refused by its own validation when it starts. Offline nothing runs, so any package
// that could run is a conflict waiting to happen.
std::optional<std::string> Validator::Whereabouts(const PackageSpec& other) const {
  if (!cluster_.facts().offline) {
    // The view's placement: the facts', or a decision earlier in the same batch.
    const Placement* placed = cluster_.PlacementOf(other.name);
    if (placed == nullptr) return std::nullopt;
    return std::string(OccupancyName(placed->occupancy)) + " on " + placed->node.value();
  }
  if (other.all_nodes) return "which may run on every member";
  std::string nodes;
  for (const NodeName& node : other.nodes) {
    nodes += (nodes.empty() ? "" : ", ") + node.value();
  }
  return "which may run on " + nodes;
}

void Validator::CheckStorageInUse() {
  for (size_t i = 0; i < package_.guest.storage.size(); ++i) {
    const GuestStorage& storage = package_.guest.storage[i];
    std::map<size_t, std::string> conflicts;  // Package index -> message; config order.
    // `what` is only built for a real conflict: readiness calls this for every pair.
    const auto consider = [&](const StorageUse& use, std::string_view kind,
                              const std::string& value) {
      const PackageSpec& other = cluster_.config().packages[use.package_index];
      if (other.name == package_.name || (storage.shared && use.shared)) return;
      if (conflicts.contains(use.package_index)) return;
      const std::optional<std::string> where = Whereabouts(other);
      if (!where.has_value()) return;
      conflicts.emplace(use.package_index, std::string(kind) + value + " is also used by " +
                                               other.name.value() + " (" + *where + ")");
    };
    for (const Wwid* wwid : WwidsOf(storage, disks_[i])) {
      for (const StorageUse& use : cluster_.UsersOfWwid(*wwid)) {
        consider(use, "disk WWID ", WwidText(*wwid));
      }
    }
    const std::string_view kind = storage.type == config::StorageType::kDisk ? "disk " : "storage ";
    for (const StorageUse& use : cluster_.UsersOfPath(storage.path)) {
      consider(use, kind, storage.path);
    }
    for (auto& [index, message] : conflicts) {
      Fail(ViolationCode::kStorageInUse, storage.path, std::move(message));
    }
  }
}

}  // namespace

ValidationResult ValidateMigration(const config::PackageSpec& package,
                                   const std::optional<Endpoint>& source, const Endpoint& target,
                                   const ClusterView& cluster) {
  return Validator(package, source, target, cluster).Run();
}

ValidationResult ValidateMigration(const config::PackageSpec& package, const NodeName& target,
                                   const ClusterView& cluster) {
  std::optional<Endpoint> source;
  if (const std::optional<NodeName> node = cluster.SourceOf(package, target)) {
    source = Endpoint{*node, cluster.Inventory(*node)};
  }
  return ValidateMigration(package, source, Endpoint{target, cluster.Inventory(target)}, cluster);
}

}  // namespace cmcl::validation
