#include "cmcld/core/node/displacement.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <set>
#include <tuple>
#include <utility>

#include "cmcld/core/node/dependencies.h"

namespace cmcl::node {

namespace {

using config::PackageSpec;

constexpr const char* kDisplacedBy = "displaced by ";

// Priority as a rank: none is the lowest (after every number).
uint64_t Rank(const PackageSpec& package) {
  return package.priority.has_value() ? *package.priority : std::numeric_limits<uint64_t>::max();
}

bool StrictlyLower(const PackageSpec& candidate, const PackageSpec& displacer) {
  return Rank(candidate) > Rank(displacer);
}

// vCPUs and memory, summed over packages.
struct Amount {
  uint64_t vcpus = 0;
  uint64_t memory_bytes = 0;
  void Add(const PackageSpec& package) {
    vcpus += package.guest.vcpus;
    memory_bytes += package.guest.memory.bytes();
  }
};

// What one candidate node offers: its capacity and usage, and the packages there that
// are halting for a displacement or could be displaced.
class NodeScan {
 public:
  NodeScan(const PackageSpec& package, const NodeName& node, const DisplacementInputs& inputs)
      : package_(package), node_(node), in_(inputs) {}

  // False when the node's capacity is unknown (then it was not refused for capacity).
  bool Scan();
  bool HaltingSuffice() const { return !halting_.empty() && Fits(freed_); }
  // The shortest prefix of the victims (lowest priority first) that makes it fit.
  std::optional<std::vector<PackageName>> Victims() const;
  const std::vector<PackageName>& halting() const { return halting_; }

 private:
  bool Fits(const Amount& freed) const;
  bool Displaceable(const PackageName& name, const Assignment& a, const PackageSpec& spec) const;

  const PackageSpec& package_;
  const NodeName& node_;
  const DisplacementInputs& in_;
  inventory::Capacity capacity_;
  validation::Usage used_;
  Amount freed_;                         // By the packages already halting.
  std::vector<PackageName> halting_;     // In name order.
  std::vector<const PackageSpec*> can_;  // Displaceable, lowest priority first.
};

bool NodeScan::Scan() {
  const inventory::InventoryIndex* inventory = in_.view.Inventory(node_);
  if (inventory == nullptr || !inventory->capacity().has_value()) return false;
  capacity_ = *inventory->capacity();
  used_ = in_.view.UsedOn(node_, package_.name);
  for (const auto& [name, a] : in_.state.assignments()) {
    if (a.owner != node_) continue;
    const PackageSpec* spec = in_.view.FindPackage(name);
    if (spec == nullptr || !StrictlyLower(*spec, package_)) continue;
    const bool leaving =
        a.status == AssignmentStatus::kAssigned || a.status == AssignmentStatus::kStarted;
    if (in_.released_now.contains(name) ||
        (leaving && a.release_requested && a.halt_reason == ActionReason::kDisplaced)) {
      halting_.push_back(name);
      freed_.Add(*spec);
    } else if (Displaceable(name, a, *spec)) {
      can_.push_back(spec);
    }
  }
  std::sort(can_.begin(), can_.end(), [](const PackageSpec* a, const PackageSpec* b) {
    return std::tuple(Rank(*b), a->name) < std::tuple(Rank(*a), b->name);
  });
  return true;
}

bool NodeScan::Fits(const Amount& freed) const {
  const uint64_t vcpus = used_.vcpus - std::min(used_.vcpus, freed.vcpus);
  const uint64_t memory = used_.memory_bytes - std::min(used_.memory_bytes, freed.memory_bytes);
  return vcpus + package_.guest.vcpus <= capacity_.vcpus &&
         memory + package_.guest.memory.bytes() <= capacity_.memory.bytes();
}

// Whether `package` depends on `name`, directly or through its dependencies'.
bool DependsOn(const config::ClusterConfig& config, const PackageSpec& package,
               const PackageName& name) {
  std::set<PackageName> seen;
  std::vector<const PackageSpec*> next{&package};
  while (!next.empty()) {
    const PackageSpec* at = next.back();
    next.pop_back();
    for (const config::Dependency& dependency : at->depends_on) {
      if (dependency.package == name) return true;
      const PackageSpec* spec = config.FindPackage(dependency.package);
      if (spec != nullptr && seen.insert(dependency.package).second) next.push_back(spec);
    }
  }
  return false;
}

bool NodeScan::Displaceable(const PackageName& name, const Assignment& a,
                            const PackageSpec& spec) const {
  if (a.status != AssignmentStatus::kStarted || a.release_requested || a.clear_requested) {
    return false;
  }
  // Never what the displacer itself needs: it would wait for it, displace it again when
  // it is back, and so on for ever (sim seed 5037131625826412200 --swarm).
  if (DependsOn(in_.view.config(), package_, name)) return false;
  const ClusterState& state = in_.state;
  if (state.PackageInMaintenance(name) || state.NodeInMaintenance(node_)) return false;
  if (const PackageRecord* record = state.FindPackage(name);
      record != nullptr && (record->intent.has_value() || record->pending.has_value() ||
                            !record->Wanted(spec.auto_run))) {
    return false;
  }
  if (!LiveDependents(in_.dependents, state, name).empty() ||
      !DependencyBroken(spec, in_.view.config(), state, node_).empty()) {
    return false;  // Its dependents would halt too, or it is being released already.
  }
  // A dependent this call places (not yet in the state): it would start, lose its
  // dependency and go down again (sim seed 5037131625826412200 --swarm).
  if (const auto it = in_.dependents.find(name); it != in_.dependents.end()) {
    for (const PackageSpec* dependent : it->second) {
      if (in_.view.PlacementOf(dependent->name) != nullptr) return false;
    }
  }
  // Placement moves it elsewhere in this call (a failback): leave it to that.
  const validation::Placement* placed = in_.view.PlacementOf(name);
  return placed != nullptr && placed->node == node_ &&
         placed->occupancy == validation::Occupancy::kUp;
}

std::optional<std::vector<PackageName>> NodeScan::Victims() const {
  Amount freed = freed_;
  std::vector<PackageName> victims;
  for (const PackageSpec* spec : can_) {
    if (Fits(freed)) break;
    freed.Add(*spec);
    victims.push_back(spec->name);
  }
  if (victims.empty() || !Fits(freed)) return std::nullopt;
  return victims;
}

// Refused for capacity alone: the only refusal halting guests can cure.
bool CapacityOnly(const placement::CandidateVerdict& verdict) {
  if (verdict.avoided || verdict.result.ok()) return false;
  return std::all_of(verdict.result.violations.begin(), verdict.result.violations.end(),
                     [](const validation::Violation& violation) {
                       return violation.code == validation::ViolationCode::kInsufficientCapacity;
                     });
}

std::string Names(const std::vector<PackageName>& names) {
  std::string joined;
  for (const PackageName& name : names) {
    if (!joined.empty()) joined += ", ";
    joined += name.value();
  }
  return joined;
}

}  // namespace

std::optional<Displacement> FindDisplacement(
    const PackageSpec& package, const std::vector<placement::CandidateVerdict>& candidates,
    const DisplacementInputs& inputs) {
  if (!package.displace_lower_priority || !package.priority.has_value()) return std::nullopt;
  std::vector<std::pair<NodeName, NodeScan>> scans;
  for (const placement::CandidateVerdict& verdict : candidates) {
    if (!CapacityOnly(verdict)) continue;
    NodeScan scan(package, verdict.node, inputs);
    if (scan.Scan()) scans.emplace_back(verdict.node, std::move(scan));
  }
  // Decided once: packages already halting for a displacement are waited for first.
  for (const auto& [node, scan] : scans) {
    if (scan.HaltingSuffice()) return Displacement{node, scan.halting(), {}};
  }
  for (const auto& [node, scan] : scans) {
    if (std::optional<std::vector<PackageName>> victims = scan.Victims()) {
      return Displacement{node, scan.halting(), *std::move(victims)};
    }
  }
  return std::nullopt;
}

std::map<PackageName, std::map<NodeName, bool>> HeldForDisplacers(
    const config::ClusterConfig& config, const ClusterState& state) {
  std::map<PackageName, std::map<NodeName, bool>> held;
  for (const auto& [name, victim] : state.assignments()) {
    if (!victim.displacer || !victim.owner || victim.halt_reason != ActionReason::kDisplaced ||
        victim.status == AssignmentStatus::kHaltFailed) {
      continue;
    }
    const PackageSpec* spec = config.FindPackage(name);
    const PackageSpec* displacer = config.FindPackage(*victim.displacer);
    if (spec == nullptr || displacer == nullptr || !displacer->displace_lower_priority ||
        !displacer->priority.has_value() || !StrictlyLower(*spec, *displacer)) {
      continue;  // The configuration changed since.
    }
    const Assignment* a = state.Find(*victim.displacer);
    if ((a == nullptr ? LogIndex(0) : a->epoch) != victim.displacer_epoch ||
        (a != nullptr && !a->Free())) {
      continue;  // Placed since (or not waiting at all).
    }
    const bool halting =
        victim.status == AssignmentStatus::kAssigned || victim.status == AssignmentStatus::kStarted;
    held[*victim.displacer][*victim.owner] |= halting;
  }
  return held;
}

std::string DisplacedByNote(const PackageSpec& displacer) {
  return kDisplacedBy + displacer.name.value() + " (priority " +
         (displacer.priority.has_value() ? std::to_string(*displacer.priority) : "none") + ")";
}

std::string DisplacementWaitNote(const PackageSpec& displacer, const Displacement& displacement) {
  std::vector<PackageName> all = displacement.halting;
  all.insert(all.end(), displacement.victims.begin(), displacement.victims.end());
  return displacer.name.value() + ": waiting for " + Names(all) + " to halt on " +
         displacement.node.value() + " (displaced for priority " +
         std::to_string(displacer.priority.value_or(0)) + ")";
}

std::string DisplacedByPrefix(const std::string& note) {
  if (!note.starts_with(kDisplacedBy)) return {};
  const size_t end = note.find(')');
  return end == std::string::npos ? std::string() : note.substr(0, end + 1);
}

}  // namespace cmcl::node
