// ClusterState: the replicated state every node applies from the committed log
// (DESIGN.md section 3), and the operations a command carries. Pure and deterministic:
// two nodes that applied the same entries hold byte-identical states (Encode).
//
// Issue 6 scope: *virtual resources* R (what a package becomes in issue 7) with
// assignments assign(R, node, epoch), reports, release requests (the first step of a
// move), the cluster mode (armed / disarmed for D) with armed(F) reports, the lease
// length L and L_max (DESIGN.md section 4), and a bounded ring of events.
//
// Epochs (DESIGN.md section 4): an assignment's epoch is the log index of the entry that
// made it. A report names (R, node, epoch) and applies only if that is R's current
// assignment; otherwise it is stale: dropped, counted and logged. `stray` reports apply
// whatever the epoch (they are facts about a guest that runs where it must not).
//
// A command's payload is an encoded OpBatch (several ops, applied in order, all with the
// entry's index as epoch). Decoding is total: a malformed payload applies nothing and is
// counted, so a bad entry cannot stop the state machine.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "cmcld/core/common/names.h"
#include "cmcld/core/common/time.h"
#include "cmcld/core/raft/actions.h"
#include "cmcld/core/raft/lease.h"
#include "cmcld/core/raft/types.h"

namespace cmcl::node {

using raft::LogIndex;

// The digest chain over applied entries: NextDigest(digest of 1..i-1, entry i); 0 for
// none. Two states with the same (applied, digest) applied the same entries.
uint64_t HashEntry(const raft::Entry& entry);
uint64_t NextDigest(uint64_t digest, const raft::Entry& entry);

enum class ReportKind : uint8_t {
  kStarted,     // The guest runs on the owner at this epoch.
  kHalted,      // Stopped cleanly (after a release request or a halt): R is free.
  kFailed,      // Not running, stopped for certain (run failure, found dead after restart).
  kHaltFailed,  // May still be running (DESIGN.md section 5): never reassigned in issue 6.
  kFenced,      // The owner fenced it (lease ran out); stopped.
  kStray,       // Runs on a node that does not own it and would not die.
};
std::string_view ReportKindName(ReportKind kind);

enum class AssignmentStatus : uint8_t {
  kAssigned,    // Owner may start it.
  kStarted,     // Owner reported it running.
  kHalted,      // Released; free to assign.
  kFailed,      // Down for certain; free to assign.
  kHaltFailed,  // May be running; not reassigned automatically.
  kFenced,      // Down for certain; free to assign.
};
std::string_view AssignmentStatusName(AssignmentStatus status);

struct Assignment {
  std::optional<NodeName> owner;  // nullopt: never assigned.
  LogIndex epoch;                 // The index of the entry that made this assignment.
  AssignmentStatus status = AssignmentStatus::kHalted;
  bool release_requested = false;  // A move asked the owner to halt it (epoch-scoped).
  std::string reason;              // Why the last transition happened, for people.

  // True when the resource may be given to a node without waiting for anybody's lease:
  // never assigned, or its owner reported it stopped for certain at this epoch.
  bool Free() const;
  friend bool operator==(const Assignment&, const Assignment&) = default;
};

// --- Operations (one command = an OpBatch) -------------------------------------------

// Give R to `node` at epoch = this entry's index, if R's current epoch is still
// `from_epoch` (0 = never assigned): a compare-and-set, so a decision made from an older
// state applies nothing (counted as stale). `reason` goes to the event ring.
struct AssignOp {
  PackageName resource;
  NodeName node;
  LogIndex from_epoch;
  std::string reason;

  friend bool operator==(const AssignOp&, const AssignOp&) = default;
};
// A node's report about R at `epoch`.
struct ReportOp {
  PackageName resource;
  NodeName node;
  LogIndex epoch;
  ReportKind kind = ReportKind::kStarted;

  friend bool operator==(const ReportOp&, const ReportOp&) = default;
};
// Ask R's owner at `epoch` to halt it (a move's first step).
struct ReleaseOp {
  PackageName resource;
  LogIndex epoch;

  friend bool operator==(const ReleaseOp&, const ReleaseOp&) = default;
};
// DESIGN.md section 4, "Disarm is a long lease". `length` must be > 0 (an op without a
// duration is refused at apply and counted as malformed, unless the simulator's
// mutation disarm_without_duration is on, see Options).
struct DisarmOp {
  Duration length = Duration(0);

  friend bool operator==(const DisarmOp&, const DisarmOp&) = default;
};
struct ArmOp {
  friend bool operator==(const ArmOp&, const ArmOp&) = default;
};
// F's guard shortened its deadline after the latest arm.
// F's guard took the short deadline after the arm committed at index `arm`. It counts
// only for that arm (the latest one): an armed report that answers an earlier arm — a
// disarm and another arm came between — says nothing about the lease F holds now.
struct ArmedOp {
  NodeName node;
  LogIndex arm;

  friend bool operator==(const ArmedOp&, const ArmedOp&) = default;
};
// The configured lease length L changes (config apply, issue 9). L_max keeps the longer
// old value until a LeaseMaxOp commits (DESIGN.md section 4, notation).
struct LeaseLengthOp {
  Duration length = Duration(0);

  friend bool operator==(const LeaseLengthOp&, const LeaseLengthOp&) = default;
};
struct LeaseMaxOp {
  Duration length = Duration(0);

  friend bool operator==(const LeaseMaxOp&, const LeaseMaxOp&) = default;
};
using Op = std::variant<AssignOp, ReportOp, ReleaseOp, DisarmOp, ArmOp, ArmedOp, LeaseLengthOp,
                        LeaseMaxOp>;
using OpBatch = std::vector<Op>;

std::string EncodeOps(const OpBatch& ops);
std::optional<OpBatch> DecodeOps(const std::string& payload);
// For traces and logs: "assign(r1,n2) report(r1,n2,@7,started)".
std::string DescribeOps(const OpBatch& ops);

struct ClusterEvent {
  LogIndex index;
  bool critical = false;
  std::string text;  // "r1: assigned to n2 (n1's lease certainly expired)"

  friend bool operator==(const ClusterEvent&, const ClusterEvent&) = default;
};

class ClusterState {
 public:
  struct Options {
    Duration lease_length = std::chrono::seconds(2);  // node_timeout at bootstrap.
    size_t events_max = 256;
    // Simulator mutation: a DisarmOp without a duration is accepted; grants then carry
    // 10*L while every wait keeps using L_max (the bug the mutation test must catch).
    bool mutation_disarm_without_duration = false;
    // Simulator mutation: reports apply whatever their epoch (stale ones are not dropped).
    bool mutation_report_without_epoch_check = false;

    friend bool operator==(const Options&, const Options&) = default;
  };
  explicit ClusterState(Options options);

  // Applies one committed entry (no-ops and duplicates only advance applied/digest).
  // REQUIRES: apply.entry.index == applied() + 1 (or any index after a Restore).
  void Apply(const raft::ApplyEntry& apply);

  LogIndex applied() const { return applied_; }
  uint64_t digest() const { return digest_; }
  uint64_t executed() const { return executed_; }  // Commands applied, not duplicates.

  const std::map<PackageName, Assignment>& assignments() const { return assignments_; }
  const Assignment* Find(const PackageName& resource) const;
  // True if `node` owns R at its current epoch and R is assigned or started.
  bool Owns(const NodeName& node, const PackageName& resource) const;

  // Lease terms (DESIGN.md section 4).
  raft::LeaseMode mode() const { return mode_; }
  // What grants carry now: L when armed, D when disarmed.
  Duration GrantLength() const;
  Duration lease_length() const { return lease_length_; }
  Duration lease_length_max() const { return lease_length_max_; }
  // The wait for `node` in L4/N2: D while the node may still hold a disarm lease (the
  // cluster is disarmed, or armed(node) has not been committed since the latest arm),
  // else L_max. "D" is the longest D of the disarms committed after the node's latest
  // armed report, and at least L_max: the node may still hold an armed lease from before
  // the disarm (F2 only extends), or a longer D of an earlier disarm it never armed
  // from. With one disarm and D >= L_max this is just D. An armed report committed
  // while disarmed is dropped (it answered an arm that the disarm overtook).
  Duration WaitFor(const NodeName& node) const;
  bool ArmedSinceLatestArm(const NodeName& node) const;
  // The index of the latest committed arm (0: never armed).
  LogIndex latest_arm() const { return armed_at_; }

  uint64_t stale_reports() const { return stale_reports_; }
  // Decisions made from an older state: assigns whose from_epoch is not current, and
  // releases for an epoch that is not current (or not assigned/started). Dropped.
  uint64_t stale_assigns() const { return stale_assigns_; }
  uint64_t stale_releases() const { return stale_releases_; }
  uint64_t malformed_commands() const { return malformed_commands_; }
  const std::deque<ClusterEvent>& events() const { return events_; }

  // Snapshot bytes: the whole state, deterministic. Decode is total (nullopt on any
  // malformed input).
  std::string Encode() const;
  static std::optional<ClusterState> Decode(const std::string& bytes, Options options);

  friend bool operator==(const ClusterState&, const ClusterState&) = default;

 private:
  // Why `op` can never apply (the whole batch is then refused), or nullopt.
  std::optional<std::string> Refusal(const Op& op) const;
  void ApplyOp(LogIndex index, const Op& op);
  void ApplyAssign(LogIndex index, const AssignOp& op);
  void ApplyReport(LogIndex index, const ReportOp& op);
  void ApplyRelease(LogIndex index, const ReleaseOp& op);
  void ApplyDisarm(LogIndex index, const DisarmOp& op);
  void ApplyArm(LogIndex index);
  void ApplyArmed(LogIndex index, const ArmedOp& op);
  void Event(LogIndex index, bool critical, std::string text);

  Options options_;
  LogIndex applied_;
  uint64_t digest_ = 0;
  uint64_t executed_ = 0;
  std::map<PackageName, Assignment> assignments_;
  raft::LeaseMode mode_ = raft::LeaseMode::kArmed;
  Duration lease_length_;
  Duration lease_length_max_;
  Duration disarm_length_ = Duration(0);        // D of the latest disarm.
  LogIndex disarmed_at_;                        // Index of the latest disarm (0: never).
  LogIndex armed_at_;                           // Index of the latest arm (0: never).
  std::map<NodeName, LogIndex> node_armed_at_;  // Latest armed(F) per node.
  uint64_t stale_reports_ = 0;
  uint64_t stale_assigns_ = 0;
  uint64_t stale_releases_ = 0;
  uint64_t malformed_commands_ = 0;
  // (index, D) of the disarms a node may still hold a lease from: a disarm followed by
  // a longer one is dropped, so D strictly decreases (and the list stays short).
  std::vector<std::pair<LogIndex, Duration>> disarms_;
  std::deque<ClusterEvent> events_;
};

}  // namespace cmcl::node
