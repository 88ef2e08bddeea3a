#include "cmcld/core/node/cluster_state.h"

#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "cmcld/core/common/bytes.h"
#include "cmcld/core/common/check.h"
#include "cmcld/core/node/codec.h"

namespace cmcl::node {
namespace {

// Snapshot and payload formats. A leading version lets a later release read (or refuse
// with a clear nullopt) what an older one wrote.
constexpr std::string_view kStateMagic = "cmclst";
// 2: issue 7's package and node records. 3: issue 9's applied bundle, pending proposal
// and config outcomes, appended; a format-2 snapshot still decodes (none of them).
// 4: issue 10's maintenance flags, appended; formats 2 and 3 decode without any.
// 5: Assignment::displacer and ::displacer_epoch, appended; formats 2 to 4 decode without.
// 6: issue 12's reported inventories, appended; formats 2 to 5 decode without any.
constexpr uint8_t kStateFormat = 6;
constexpr uint8_t kStateFormatWithoutInventories = 5;
constexpr uint8_t kStateFormatWithoutDisplacers = 4;
constexpr uint8_t kStateFormatWithoutMaintenance = 3;
constexpr uint8_t kStateFormatWithoutConfig = 2;

uint64_t Mix(uint64_t hash, uint64_t value) {
  hash ^= value + 0x9e3779b97f4a7c15ULL + (hash << 6) + (hash >> 2);
  return hash * 0x100000001b3ULL;
}

std::string Epoch(LogIndex epoch) { return std::to_string(epoch.value()); }

using Writer = ByteWriter;
using Reader = ByteReader;

// --- The snapshot's parts ---------------------------------------------------------------

void WriteAssignment(const PackageName& resource, const Assignment& a, Writer& out) {
  codec::Put(out, resource, a.owner, a.epoch, a.status, a.release_requested, a.reason,
             a.start_reason, a.source, a.halt_reason, a.failure, a.clear_requested);
}

Assignment ReadAssignment(Reader& in) {
  Assignment a;
  codec::Get(in, a.owner, a.epoch, a.status, a.release_requested, a.reason, a.start_reason,
             a.source, a.halt_reason, a.failure, a.clear_requested);
  return a;
}

// Format 5: the assignments a displacement asked to halt, with their displacers.
void WriteDisplacers(const std::map<PackageName, Assignment>& assignments, Writer& out) {
  uint32_t count = 0;
  for (const auto& [resource, a] : assignments) count += a.displacer ? 1U : 0U;
  codec::Put(out, count);
  for (const auto& [resource, a] : assignments) {
    if (a.displacer) codec::Put(out, resource, *a.displacer, a.displacer_epoch);
  }
}

void ReadDisplacers(Reader& in, std::map<PackageName, Assignment>& assignments) {
  uint32_t count = 0;
  codec::Get(in, count);
  std::optional<PackageName> previous;
  for (uint32_t i = 0; i < count && in.ok(); ++i) {
    PackageName resource;
    PackageName displacer;
    LogIndex epoch;
    codec::Get(in, resource, displacer, epoch);
    const auto it = assignments.find(resource);
    in.Require(it != assignments.end() && (!previous || *previous < resource));
    if (!in.ok()) return;
    it->second.displacer = std::move(displacer);
    it->second.displacer_epoch = epoch;
    previous = std::move(resource);
  }
}

void WriteRecord(const PackageRecord& r, Writer& out) {
  codec::Put(out, r.wanted, r.switching, r.switching_off, r.failed_nodes, r.restarts, r.relocations,
             r.last_node, r.run_target, r.intent.has_value());
  if (r.intent) {
    const Intent& i = *r.intent;
    codec::Put(out, i.index, i.kind, i.source, i.target, i.source_epoch, i.step, i.vcpus,
               i.memory_mb);
  }
  codec::Put(out, r.vcpus, r.memory_mb, r.pending, r.outcome.has_value());
  if (r.outcome) {
    codec::Put(out, r.outcome->command, r.outcome->kind, r.outcome->ok, r.outcome->message);
  }
  codec::Put(out, r.note, static_cast<uint32_t>(r.earlier.size()));
  for (const Outcome& o : r.earlier) {
    codec::Put(out, o.command, o.kind, o.ok, o.message);
  }
}

PackageRecord ReadRecord(Reader& in) {
  PackageRecord r;
  bool has_intent = false;
  codec::Get(in, r.wanted, r.switching, r.switching_off, r.failed_nodes, r.restarts, r.relocations,
             r.last_node, r.run_target, has_intent);
  if (has_intent) {
    Intent i;
    codec::Get(in, i.index, i.kind, i.source, i.target, i.source_epoch, i.step, i.vcpus,
               i.memory_mb);
    r.intent = std::move(i);
  }
  bool has_outcome = false;
  codec::Get(in, r.vcpus, r.memory_mb, r.pending, has_outcome);
  if (has_outcome) {
    Outcome o;
    codec::Get(in, o.command, o.kind, o.ok, o.message);
    r.outcome = std::move(o);
  }
  uint32_t earlier = 0;
  codec::Get(in, r.note, earlier);
  in.Require(earlier <= PackageRecord::kEarlierOutcomes);
  for (uint32_t i = 0; i < earlier && in.ok(); ++i) {
    Outcome o;
    codec::Get(in, o.command, o.kind, o.ok, o.message);
    r.earlier.push_back(std::move(o));
  }
  return r;
}

void WriteConfigOutcome(const ConfigOutcome& o, Writer& out) {
  codec::Put(out, o.command, o.version, o.ok, o.message);
}

ConfigOutcome ReadConfigOutcome(Reader& in) {
  ConfigOutcome o;
  codec::Get(in, o.command, o.version, o.ok, o.message);
  return o;
}

// Issue 9's part of the snapshot (format 3).
void WriteConfig(const std::string& bundle, const std::optional<PendingConfig>& pending,
                 const std::optional<ConfigOutcome>& outcome,
                 const std::vector<ConfigOutcome>& earlier, Writer& out) {
  codec::Put(out, bundle, pending.has_value());
  if (pending) {
    const ConfigProposeOp& p = pending->proposal;
    codec::Put(out, pending->proposed_at, p.version, p.bundle_hash, p.bundle, p.packages, p.by,
               static_cast<uint32_t>(pending->verdicts.size()));
    for (const auto& [node, v] : pending->verdicts) {
      codec::Put(out, v.version, v.bundle_hash, v.proposal, v.node, v.ok, v.reason);
    }
  }
  codec::Put(out, outcome.has_value());
  if (outcome) {
    WriteConfigOutcome(*outcome, out);
  }
  codec::Put(out, static_cast<uint32_t>(earlier.size()));
  for (const ConfigOutcome& o : earlier) {
    WriteConfigOutcome(o, out);
  }
}

PendingConfig ReadPendingConfig(Reader& in) {
  PendingConfig pending;
  ConfigProposeOp& p = pending.proposal;
  uint32_t verdicts = 0;
  codec::Get(in, pending.proposed_at, p.version, p.bundle_hash, p.bundle, p.packages, p.by,
             verdicts);
  for (uint32_t i = 0; i < verdicts && in.ok(); ++i) {
    ConfigVerdictOp v;
    codec::Get(in, v.version, v.bundle_hash, v.proposal, v.node, v.ok, v.reason);
    // Keyed by the verdict's node, ascending; only verdicts on this proposal are kept.
    in.Require(v.version == p.version && v.bundle_hash == p.bundle_hash &&
               v.proposal == pending.proposed_at &&
               (pending.verdicts.empty() || pending.verdicts.rbegin()->first < v.node));
    NodeName node = v.node;
    pending.verdicts.emplace_hint(pending.verdicts.end(), std::move(node), std::move(v));
  }
  return pending;
}

// Indexes strictly increase and durations strictly decrease (ApplyDisarm).
std::vector<std::pair<LogIndex, Duration>> ReadDisarms(Reader& in) {
  std::vector<std::pair<LogIndex, Duration>> disarms;
  const uint32_t count = in.U32();
  for (uint32_t i = 0; i < count && in.ok(); ++i) {
    const LogIndex index(in.U64());
    const Duration length = in.Ms();
    in.Require(disarms.empty() || (disarms.back().first < index && disarms.back().second > length));
    disarms.emplace_back(index, length);
  }
  return disarms;
}

// Maps are written in key order; a decoder demands strictly ascending keys so that every
// accepted encoding is the canonical one (Encode(Decode(b)) == b).
void ReadCollections(Reader& in, size_t events_max, std::map<PackageName, Assignment>& assignments,
                     std::map<NodeName, LogIndex>& node_armed_at,
                     std::deque<ClusterEvent>& events) {
  const uint32_t assignment_count = in.U32();
  for (uint32_t i = 0; i < assignment_count && in.ok(); ++i) {
    PackageName resource(in.Name());
    Assignment a = ReadAssignment(in);
    in.Require(assignments.empty() || assignments.rbegin()->first < resource);
    assignments.emplace_hint(assignments.end(), std::move(resource), std::move(a));
  }
  const uint32_t node_count = in.U32();
  for (uint32_t i = 0; i < node_count && in.ok(); ++i) {
    NodeName node(in.Name());
    const LogIndex index(in.U64());
    in.Require(node_armed_at.empty() || node_armed_at.rbegin()->first < node);
    node_armed_at.emplace_hint(node_armed_at.end(), std::move(node), index);
  }
  const uint32_t event_count = in.U32();
  for (uint32_t i = 0; i < event_count && in.ok(); ++i) {
    ClusterEvent event;
    event.index = LogIndex(in.U64());
    event.critical = in.Flag();
    event.text = in.Str();
    events.push_back(std::move(event));
  }
  // A smaller events_max than the writer's keeps the newest events.
  while (events.size() > events_max) {
    events.pop_front();
  }
}

// The status a report (other than stray) at the current epoch leaves R in.
AssignmentStatus StatusAfter(ReportKind kind) {
  switch (kind) {
    case ReportKind::kStarted:
      return AssignmentStatus::kStarted;
    case ReportKind::kHalted:
      return AssignmentStatus::kHalted;
    case ReportKind::kFailed:
      return AssignmentStatus::kFailed;
    case ReportKind::kHaltFailed:
      return AssignmentStatus::kHaltFailed;
    case ReportKind::kFenced:
      return AssignmentStatus::kFenced;
    case ReportKind::kStray:
      break;
  }
  CMCL_CHECK(false);  // kStray is recorded as an event only; kinds are decoded in range.
  return AssignmentStatus::kFailed;
}

// The order of statuses within one epoch: assigned, then started, then one stopped
// status. The first stopped status stays, except that halt_failed ("may still run") is
// resolved by a later report that it stopped (DESIGN.md section 5).
bool Advances(AssignmentStatus from, AssignmentStatus to) {
  const auto rank = [](AssignmentStatus status) {
    switch (status) {
      case AssignmentStatus::kAssigned:
        return 0;
      case AssignmentStatus::kStarted:
        return 1;
      default:
        return 2;
    }
  };
  if (from == AssignmentStatus::kHaltFailed) {
    return to == AssignmentStatus::kHalted || to == AssignmentStatus::kFailed ||
           to == AssignmentStatus::kFenced;
  }
  return rank(to) > rank(from);
}

}  // namespace

uint64_t HashEntry(const raft::Entry& entry) {
  uint64_t hash = Mix(entry.term.value(), entry.index.value());
  hash = Mix(hash, static_cast<uint64_t>(entry.kind));
  hash = Mix(hash, entry.command.client_id.value());
  hash = Mix(hash, entry.command.sequence);
  for (const char c : entry.command.payload) {
    hash = Mix(hash, static_cast<unsigned char>(c));
  }
  for (const NodeName& node : entry.command.revokes) {
    hash = Mix(hash, 0x2cULL);  // A separator, so ["ab"] and ["a","b"] differ.
    for (const char c : node.value()) {
      hash = Mix(hash, static_cast<unsigned char>(c));
    }
  }
  return hash;
}

uint64_t NextDigest(uint64_t digest, const raft::Entry& entry) {
  digest ^= HashEntry(entry) + 0x9e3779b97f4a7c15ULL + (digest << 6) + (digest >> 2);
  return digest * 0x100000001b3ULL;
}

bool Assignment::Free() const {
  return !owner || status == AssignmentStatus::kHalted || status == AssignmentStatus::kFailed ||
         status == AssignmentStatus::kFenced;
}

// --- ClusterState ---------------------------------------------------------------------

ClusterState::ClusterState(Options options)
    : options_(options),
      lease_length_(options.lease_length),
      lease_length_max_(options.lease_length) {}

void ClusterState::Apply(const raft::ApplyEntry& apply) {
  const raft::Entry& entry = apply.entry;
  CMCL_CHECK(entry.index > applied_) << "apply of entry " << entry.index << " after " << applied_;
  applied_ = entry.index;
  digest_ = NextDigest(digest_, entry);
  if (entry.kind != raft::EntryKind::kCommand || apply.duplicate) {
    return;
  }
  ++executed_;
  const std::optional<OpBatch> ops = DecodeOps(entry.command.payload);
  if (!ops) {
    ++malformed_commands_;
    Event(entry.index, false,
          "malformed command from client " + std::to_string(entry.command.client_id.value()) +
              " seq " + std::to_string(entry.command.sequence) + " (" +
              std::to_string(entry.command.payload.size()) + " bytes): not applied");
    return;
  }
  // A batch applies whole or not at all: an op no apply could accept refuses the batch.
  for (const Op& op : *ops) {
    if (std::optional<std::string> why = Refusal(op)) {
      ++malformed_commands_;
      Event(entry.index, false, "refused command " + DescribeOps(*ops) + ": " + *why);
      return;
    }
  }
  // Packages whose displacement this batch dropped: the notes it gives them go too.
  std::set<PackageName> displacement_dropped;
  for (const Op& op : *ops) {
    if (const auto* note = std::get_if<NoteOp>(&op);
        note != nullptr && displacement_dropped.contains(note->package)) {
      continue;
    }
    if (const auto* release = std::get_if<ReleaseOp>(&op);
        release != nullptr && release->why == ActionReason::kDisplaced) {
      if (std::optional<std::string> gone = DisplacementGone(*release)) {
        ++stale_releases_;
        Event(entry.index, false,
              release->resource.value() + ": displacement" +
                  (release->displacer ? " for " + release->displacer->value() : std::string()) +
                  " dropped: " + *gone + " (decided before that committed)");
        displacement_dropped.insert(release->resource);
        if (release->displacer) displacement_dropped.insert(*release->displacer);
        continue;
      }
    }
    ApplyOp(entry.index, op);
  }
}

std::optional<std::string> ClusterState::Refusal(const Op& op) const {
  if (const auto* disarm = std::get_if<DisarmOp>(&op)) {
    if (disarm->length <= Duration(0) && !options_.mutation_disarm_without_duration) {
      return "a disarm needs a duration";
    }
  } else if (const auto* mode = std::get_if<ClusterModeOp>(&op)) {
    if (mode->disarm_for && *mode->disarm_for <= Duration(0)) {
      return "a disarm needs a duration";
    }
  } else if (const auto* length = std::get_if<LeaseLengthOp>(&op)) {
    if (length->length <= Duration(0)) {
      return "the lease length must be positive";
    }
  } else if (const auto* max = std::get_if<LeaseMaxOp>(&op)) {
    if (max->length <= Duration(0)) {
      return "the lease length must be positive";
    }
  } else if (const auto* maintenance = std::get_if<MaintenanceOp>(&op)) {
    if (maintenance->node.has_value() == maintenance->package.has_value()) {
      return "a maintenance op names a node or a package";
    }
  }
  return std::nullopt;
}

void ClusterState::ApplyOp(LogIndex index, const Op& op) {
  std::visit(
      [this, index](const auto& o) {
        using T = std::decay_t<decltype(o)>;
        if constexpr (std::is_same_v<T, AssignOp>) {
          ApplyAssign(index, o);
        } else if constexpr (std::is_same_v<T, ReportOp>) {
          ApplyReport(index, o);
        } else if constexpr (std::is_same_v<T, ReleaseOp>) {
          ApplyRelease(index, o);
        } else if constexpr (std::is_same_v<T, DisarmOp>) {
          ApplyDisarm(index, o);
        } else if constexpr (std::is_same_v<T, ArmOp>) {
          ApplyArm(index);
        } else if constexpr (std::is_same_v<T, ArmedOp>) {
          ApplyArmed(index, o);
        } else if constexpr (std::is_same_v<T, ClusterModeOp>) {
          ApplyClusterMode(index, o);
        } else if constexpr (std::is_same_v<T, InventoryOp>) {
          ApplyInventory(index, o);
        } else if constexpr (std::is_same_v<T, LeaseLengthOp>) {
          lease_length_ = o.length;
          lease_length_max_ = std::max(lease_length_max_, o.length);
          Event(index, false,
                "lease length " + FormatDuration(o.length) + " (L_max " +
                    FormatDuration(lease_length_max_) + ")");
        } else if constexpr (std::is_same_v<T, LeaseMaxOp>) {
          lease_length_max_ = std::max(o.length, lease_length_);
          Event(index, false, "L_max " + FormatDuration(lease_length_max_));
        } else {
          ApplyPackageOp(index, o);
        }
      },
      op);
}

void ClusterState::ApplyInventory(LogIndex index, const InventoryOp& op) {
  const auto [it, inserted] = inventories_.try_emplace(op.node);
  if (!inserted && it->second == op.inventory) {
    return;  // A resend of what is known.
  }
  it->second = op.inventory;
  Event(index, false,
        op.node.value() +
            ": inventory reported by its probe: " + std::to_string(op.inventory.disks.size()) +
            " disk paths, " + std::to_string(op.inventory.lvols.size()) + " lvols, " +
            std::to_string(op.inventory.vswitches.size()) + " vswitches, " +
            std::to_string(op.inventory.shared_devices.size()) + " shared devices");
}

void ClusterState::ApplyAssign(LogIndex index, const AssignOp& op) {
  const auto it = assignments_.find(op.resource);
  const LogIndex current = it == assignments_.end() ? LogIndex(0) : it->second.epoch;
  if (current != op.from_epoch) {
    ++stale_assigns_;
    Event(index, false,
          op.resource.value() + ": stale assign to " + op.node.value() + " decided at epoch " +
              Epoch(op.from_epoch) + ", current " + Epoch(current) + ": dropped");
    return;
  }
  if (it != assignments_.end() && it->second.status == AssignmentStatus::kHaltFailed &&
      !op.over_halt_failed) {
    ++stale_assigns_;
    Event(index, false,
          op.resource.value() + ": assign to " + op.node.value() +
              " dropped: it is halt_failed (decided before that report committed)");
    return;
  }
  for (const auto& [dependency, epoch] : op.needs_up) {
    const auto d = assignments_.find(dependency);
    if (d == assignments_.end() || d->second.epoch != epoch ||
        d->second.status != AssignmentStatus::kStarted || d->second.release_requested) {
      // Decided while the dependency was up; it is not any more (issue 10, depends_on).
      ++stale_assigns_;
      Event(index, false,
            op.resource.value() + ": assign to " + op.node.value() +
                " dropped: " + dependency.value() +
                ", which it depends on, is no longer up at epoch " + Epoch(epoch));
      return;
    }
  }
  const PackageRecord* record = FindPackage(op.resource);
  if (NodeHalted(op.node) || NodeInMaintenance(op.node) ||
      (record != nullptr && record->switching_off.contains(op.node))) {
    // Decided before a `node halt`, `node maintenance` or `disable -n` committed: the
    // compare-and-set on the epoch does not see those, so apply does (sim seed 1077).
    ++stale_assigns_;
    Event(index, false,
          op.resource.value() + ": assign to " + op.node.value() + " dropped: " +
              (NodeHalted(op.node)          ? "the node is halted"
               : NodeInMaintenance(op.node) ? "the node is in maintenance"
                                            : "node switching is off there"));
    return;
  }
  Assignment& a = assignments_[op.resource];
  const std::optional<NodeName> previous = a.owner ? a.owner : std::optional<NodeName>();
  a = Assignment{};
  a.owner = op.node;
  a.epoch = index;
  a.status = AssignmentStatus::kAssigned;
  a.reason = op.reason;
  a.start_reason = op.why;
  a.source = previous != op.node ? previous : std::nullopt;
  PackageRecord& r = packages_[op.resource];
  if (op.why == ActionReason::kRestart) {
    ++r.restarts;
  } else if (previous != op.node) {
    r.restarts = 0;
  }
  if (op.remember) {
    r.failed_nodes.insert(*op.remember);
    ++r.relocations;
  }
  r.run_target.reset();
  r.note.clear();
  Event(index, false,
        op.resource.value() + ": assigned to " + op.node.value() + " (" + op.reason + ")");
}

void ClusterState::ApplyReport(LogIndex index, const ReportOp& op) {
  const std::string what = op.resource.value() + ": " + op.node.value() + " reported " +
                           std::string(ReportKindName(op.kind)) + " at epoch " + Epoch(op.epoch);
  if (op.kind == ReportKind::kStray) {
    // A fact about a guest that runs where it must not: recorded whatever the epoch.
    Event(index, true, what + ": runs where it must not and would not die");
    return;
  }
  const auto it = assignments_.find(op.resource);
  if (it == assignments_.end()) {
    ++stale_reports_;
    Event(index, false, "stale report: " + what + ", never assigned: dropped");
    return;
  }
  Assignment& a = it->second;
  const bool current = a.epoch == op.epoch && a.owner == op.node;
  if (!current && !options_.mutation_report_without_epoch_check) {
    ++stale_reports_;
    Event(index, false,
          "stale report: " + what + ", current " + Epoch(a.epoch) + " on " +
              (a.owner ? a.owner->value() : std::string("-")) + ": dropped");
    return;
  }
  if (op.kind == ReportKind::kHaltFailed && a.status == AssignmentStatus::kHaltFailed &&
      a.clear_requested) {
    // The owner's answer to `clear`: the guest still runs. Nothing else changes.
    a.clear_requested = false;
    Event(index, true, what + ": the guest still runs; clear refused");
    End(index, op.resource, false,
        "the guest still runs on " + op.node.value() + (op.detail.empty() ? "" : ": " + op.detail));
    return;
  }
  const AssignmentStatus next = StatusAfter(op.kind);
  if (!Advances(a.status, next)) {
    // Within an epoch the status only moves forward: a late `started` from an earlier
    // incarnation (delayed in the network) must not undo the `fenced` its successor
    // reported, or the resource would look up with nothing running (sim seed 5033).
    ++stale_reports_;
    Event(index, false,
          "stale report: " + what + ", already " + std::string(AssignmentStatusName(a.status)) +
              ": dropped");
    return;
  }
  a.status = next;
  a.reason = op.node.value() + " reported " + std::string(ReportKindName(op.kind)) +
             (op.detail.empty() ? "" : " (" + op.detail + ")");
  if (op.kind == ReportKind::kFailed || op.kind == ReportKind::kHaltFailed) {
    a.failure = op.failure;
  }
  a.clear_requested = false;
  Event(index, op.kind == ReportKind::kHaltFailed,
        what + (op.detail.empty() ? "" : " (" + op.detail + ")"));
  AfterReport(index, op.resource, op);
}

void ClusterState::ApplyRelease(LogIndex index, const ReleaseOp& op) {
  const auto it = assignments_.find(op.resource);
  const bool current = it != assignments_.end() && it->second.epoch == op.epoch &&
                       (it->second.status == AssignmentStatus::kAssigned ||
                        it->second.status == AssignmentStatus::kStarted);
  if (!current) {
    ++stale_releases_;
    Event(index, false,
          op.resource.value() + ": stale release for epoch " + Epoch(op.epoch) + ": dropped");
    return;
  }
  it->second.release_requested = true;
  it->second.halt_reason = op.why;
  if (op.why == ActionReason::kDisplaced) {
    it->second.displacer = op.displacer;
    it->second.displacer_epoch = op.displacer ? op.displacer_epoch : LogIndex(0);
  }
  Event(index, false,
        op.resource.value() + ": release requested from " + it->second.owner->value() +
            " at epoch " + Epoch(op.epoch));
}

std::optional<std::string> ClusterState::DisplacementGone(const ReleaseOp& op) const {
  const Assignment* victim = Find(op.resource);
  if (victim == nullptr || victim->epoch != op.epoch ||
      victim->status != AssignmentStatus::kStarted || victim->release_requested) {
    return op.resource.value() + " is no longer up at epoch " + Epoch(op.epoch);
  }
  if (PackageInMaintenance(op.resource)) {
    return op.resource.value() + " is in maintenance";
  }
  if (!op.displacer) {
    return std::nullopt;  // Ops format 3: nothing more to check.
  }
  const PackageName& displacer = *op.displacer;
  const Assignment* a = Find(displacer);
  if ((a == nullptr ? LogIndex(0) : a->epoch) != op.displacer_epoch) {  // Assigned since.
    return displacer.value() + " was placed";
  }
  const PackageRecord* record = FindPackage(displacer);
  if (record != nullptr && record->wanted.has_value() && !*record->wanted) {
    return displacer.value() + " was halted";
  }
  if (record != nullptr && record->maintenance) {
    return displacer.value() + " is in maintenance";
  }
  return std::nullopt;
}

void ClusterState::ApplyDisarm(LogIndex index, const DisarmOp& op) {
  mode_ = raft::LeaseMode::kDisarmed;
  disarm_length_ = op.length;
  disarmed_at_ = index;
  // An earlier disarm no longer than this one can never decide a wait again: any node
  // that may hold its D may hold this one too (WaitFor takes the disarms after the
  // node's latest armed report). So D strictly decreases along disarms_.
  while (!disarms_.empty() && disarms_.back().second <= op.length) {
    disarms_.pop_back();
  }
  disarms_.emplace_back(index, op.length);
  Event(index, false, "cluster disarmed for " + FormatDuration(op.length));
}

void ClusterState::ApplyArm(LogIndex index) {
  if (mode_ == raft::LeaseMode::kArmed) {
    // Re-arming an armed cluster changes nothing; moving armed_at_ would wait for armed
    // reports that never come (no node has a disarmed lease to shorten).
    Event(index, false, "arm: the cluster is already armed");
    return;
  }
  mode_ = raft::LeaseMode::kArmed;
  armed_at_ = index;
  Event(index, false, "cluster armed (lease " + FormatDuration(lease_length_) + ")");
}

void ClusterState::ApplyArmed(LogIndex index, const ArmedOp& op) {
  if (mode_ == raft::LeaseMode::kDisarmed) {
    // It answers an arm that a later disarm overtook: the node may hold a D-lease again.
    Event(index, false, op.node.value() + ": armed report while disarmed: dropped");
    return;
  }
  if (op.arm != armed_at_ || armed_at_ == LogIndex(0)) {
    Event(index, false,
          op.node.value() + ": armed report for the arm at " + std::to_string(op.arm.value()) +
              ", not the latest (" + std::to_string(armed_at_.value()) + "): dropped");
    return;
  }
  node_armed_at_[op.node] = index;
  Event(index, false, op.node.value() + ": armed (its guard took the short deadline)");
}

void ClusterState::ApplyClusterMode(LogIndex index, const ClusterModeOp& op) {
  if (op.disarm_for) {
    ApplyDisarm(index, DisarmOp{.length = *op.disarm_for});
  } else {
    ApplyArm(index);
  }
  // Who did it goes into the event the apply just wrote (DESIGN.md section 3: the events
  // say who did what).
  if (!events_.empty() && events_.back().index == index) {
    events_.back().text += " by " + op.by;
  }
}

void ClusterState::Event(LogIndex index, bool critical, std::string text) {
  events_.push_back(ClusterEvent{.index = index, .critical = critical, .text = std::move(text)});
  while (events_.size() > options_.events_max) {
    events_.pop_front();
  }
}

const Assignment* ClusterState::Find(const PackageName& resource) const {
  const auto it = assignments_.find(resource);
  return it == assignments_.end() ? nullptr : &it->second;
}

bool ClusterState::Owns(const NodeName& node, const PackageName& resource) const {
  const Assignment* a = Find(resource);
  return a != nullptr && OwnedBy(*a, node);
}

bool ClusterState::OwnedBy(const Assignment& a, const NodeName& node) {
  return a.owner == node &&
         (a.status == AssignmentStatus::kAssigned || a.status == AssignmentStatus::kStarted);
}

Duration ClusterState::GrantLength() const {
  if (mode_ == raft::LeaseMode::kArmed) {
    return lease_length_;
  }
  if (disarm_length_ <= Duration(0)) {
    // DELIBERATE BUG, reachable only with Options::mutation_disarm_without_duration: a
    // disarm without a duration grants 10*L while WaitFor still answers L_max, so a
    // coordinator reassigns while the old owner's lease is still valid. The simulator's
    // mutation test must catch it; without the mutation such a DisarmOp is refused.
    return 10 * lease_length_;
  }
  return disarm_length_;
}

bool ClusterState::ArmedSinceLatestArm(const NodeName& node) const {
  if (mode_ == raft::LeaseMode::kDisarmed) {
    return false;
  }
  if (disarmed_at_ == LogIndex(0)) {
    return true;  // Never disarmed: no node ever held a D-lease.
  }
  const auto it = node_armed_at_.find(node);
  // Strictly after: armed(F) answers an armed grant, which follows the arm's commit.
  return it != node_armed_at_.end() && it->second > armed_at_;
}

Duration ClusterState::WaitFor(const NodeName& node) const {
  if (ArmedSinceLatestArm(node)) {
    return lease_length_max_;
  }
  // F may hold the D of any disarm committed after its latest armed report (a short
  // disarm after a long one does not shorten a lease F already holds), or still an
  // armed lease of up to L_max taken before the disarm (F2 only extends).
  const auto it = node_armed_at_.find(node);
  const LogIndex armed_at = it == node_armed_at_.end() ? LogIndex(0) : it->second;
  Duration wait = lease_length_max_;
  for (const auto& [index, length] : disarms_) {
    if (index > armed_at) {
      wait = std::max(wait, length);
    }
  }
  return wait;
}

std::string ClusterState::Encode() const {
  Writer out;
  out.Raw(kStateMagic);
  out.U8(kStateFormat);
  out.U64(applied_.value());
  out.U64(digest_);
  out.U64(executed_);
  out.U8(static_cast<uint8_t>(mode_));
  out.Ms(lease_length_);
  out.Ms(lease_length_max_);
  out.Ms(disarm_length_);
  out.U64(disarmed_at_.value());
  out.U64(armed_at_.value());
  out.U64(stale_reports_);
  out.U64(stale_assigns_);
  out.U64(stale_releases_);
  out.U64(malformed_commands_);
  out.U32(static_cast<uint32_t>(disarms_.size()));
  for (const auto& [index, length] : disarms_) {
    out.U64(index.value());
    out.Ms(length);
  }
  out.U32(static_cast<uint32_t>(assignments_.size()));
  for (const auto& [resource, assignment] : assignments_) {
    WriteAssignment(resource, assignment, out);
  }
  out.U32(static_cast<uint32_t>(node_armed_at_.size()));
  for (const auto& [node, index] : node_armed_at_) {
    out.Str(node.value());
    out.U64(index.value());
  }
  out.U32(static_cast<uint32_t>(events_.size()));
  for (const ClusterEvent& event : events_) {
    out.U64(event.index.value());
    out.Flag(event.critical);
    out.Str(event.text);
  }
  out.U32(static_cast<uint32_t>(packages_.size()));
  for (const auto& [package, record] : packages_) {
    codec::Put(out, package);
    WriteRecord(record, out);
  }
  out.U32(static_cast<uint32_t>(nodes_.size()));
  for (const auto& [node, record] : nodes_) {
    codec::Put(out, node, record.halted, record.node_id, record.by);
  }
  codec::Put(out, cluster_started_, cluster_halted_, config_version_, bundle_hash_,
             cluster_outcome_.has_value());
  if (cluster_outcome_) {
    codec::Put(out, cluster_outcome_->command, cluster_outcome_->kind, cluster_outcome_->ok,
               cluster_outcome_->message);
  }
  WriteConfig(bundle_, pending_config_, config_outcome_, config_earlier_, out);
  WriteMaintenance(out);
  WriteDisplacers(assignments_, out);
  codec::Put(out, inventories_);
  return out.Take();
}

std::optional<ClusterState> ClusterState::Decode(const std::string& bytes, Options options) {
  Reader in(bytes);
  in.Expect(kStateMagic);
  const uint8_t format = in.U8();
  in.Require(format == kStateFormat || format == kStateFormatWithoutInventories ||
             format == kStateFormatWithoutDisplacers || format == kStateFormatWithoutMaintenance ||
             format == kStateFormatWithoutConfig);
  ClusterState state(options);
  state.applied_ = LogIndex(in.U64());
  state.digest_ = in.U64();
  state.executed_ = in.U64();
  const uint8_t mode = in.U8();
  in.Require(mode <= static_cast<uint8_t>(raft::LeaseMode::kDisarmed));
  state.mode_ = static_cast<raft::LeaseMode>(in.ok() ? mode : 0);
  state.lease_length_ = in.Ms();
  state.lease_length_max_ = in.Ms();
  state.disarm_length_ = in.Ms();
  in.Require(state.lease_length_ > Duration(0) && state.lease_length_max_ >= state.lease_length_);
  state.disarmed_at_ = LogIndex(in.U64());
  state.armed_at_ = LogIndex(in.U64());
  state.stale_reports_ = in.U64();
  state.stale_assigns_ = in.U64();
  state.stale_releases_ = in.U64();
  state.malformed_commands_ = in.U64();
  state.disarms_ = ReadDisarms(in);
  // The latest disarm is always the last of disarms_ (ApplyDisarm).
  in.Require(state.disarms_.empty()
                 ? state.disarmed_at_ == LogIndex(0) && state.disarm_length_ == Duration(0)
                 : state.disarms_.back() == std::pair(state.disarmed_at_, state.disarm_length_));
  ReadCollections(in, options.events_max, state.assignments_, state.node_armed_at_, state.events_);
  const uint32_t package_count = in.U32();
  for (uint32_t i = 0; i < package_count && in.ok(); ++i) {
    PackageName package;
    codec::Get(in, package);
    PackageRecord record = ReadRecord(in);
    in.Require(state.packages_.empty() || state.packages_.rbegin()->first < package);
    state.packages_.emplace_hint(state.packages_.end(), std::move(package), std::move(record));
  }
  const uint32_t node_count = in.U32();
  for (uint32_t i = 0; i < node_count && in.ok(); ++i) {
    NodeName node;
    NodeRecord record;
    codec::Get(in, node, record.halted, record.node_id, record.by);
    in.Require(state.nodes_.empty() || state.nodes_.rbegin()->first < node);
    state.nodes_.emplace_hint(state.nodes_.end(), std::move(node), std::move(record));
  }
  bool has_outcome = false;
  codec::Get(in, state.cluster_started_, state.cluster_halted_, state.config_version_,
             state.bundle_hash_, has_outcome);
  if (has_outcome) {
    Outcome o;
    codec::Get(in, o.command, o.kind, o.ok, o.message);
    state.cluster_outcome_ = std::move(o);
  }
  if (format >= kStateFormatWithoutMaintenance) {
    state.ReadConfig(in);
  }
  if (format >= kStateFormatWithoutDisplacers) {
    state.ReadMaintenance(in);
  }
  if (format >= kStateFormatWithoutInventories) {
    ReadDisplacers(in, state.assignments_);
  }
  if (format >= kStateFormat) {
    codec::Get(in, state.inventories_);
  }
  if (!in.done()) {
    return std::nullopt;
  }
  return state;
}

void ClusterState::ReadConfig(ByteReader& in) {
  bool has_pending = false;
  codec::Get(in, bundle_, has_pending);
  if (has_pending) {
    pending_config_ = ReadPendingConfig(in);
    in.Require(pending_config_->proposal.version == config_version_ + 1);
  }
  bool has_outcome = false;
  codec::Get(in, has_outcome);
  if (has_outcome) {
    config_outcome_ = ReadConfigOutcome(in);
  }
  uint32_t earlier = 0;
  codec::Get(in, earlier);
  in.Require(earlier <= kEarlierConfigOutcomes && (earlier == 0 || config_outcome_));
  for (uint32_t i = 0; i < earlier && in.ok(); ++i) {
    config_earlier_.push_back(ReadConfigOutcome(in));
  }
}

}  // namespace cmcl::node
