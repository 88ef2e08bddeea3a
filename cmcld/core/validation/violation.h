// Violations: the verdict of migration validation (DESIGN.md section 6), as data.
//
// A ViolationCode is stable: its snake_case name (ViolationCodeName) is what JSON,
// scripts and tests match on, so enumerators are only ever added, never renamed. A
// Violation's message is for the operator: it names the node, the device and the
// values, says what to fix, and keeps hpvmmigrate's wording where HPVM had one.
//
// A ValidationResult carries two lists. `violations` are checks that ran and failed: a
// move or start is refused while any exists. `unchecked` are checks that could not run
// (no source node and nothing pinned in the spec, an inventory not known yet): they do
// not refuse anything, a start goes ahead and logs them (DESIGN.md section 6). Domain
// verdicts are data, never a Status (STYLE.md rule 16).
#pragma once

#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "cmcld/core/common/names.h"

namespace cmcl::validation {

// In the order of DESIGN.md section 6's table; results list violations in this order.
enum class ViolationCode {
  kTargetNotMember,
  kNodeNotEligible,
  kSharedDevice,
  kUnsupportedStorage,
  kDeviceMissing,
  kWwidMismatch,
  kVswitchMismatch,
  kInsufficientCapacity,
  kStorageInUse,
};

// "target_not_member", "node_not_eligible", ...
std::string_view ViolationCodeName(ViolationCode code);
inline std::string to_string(ViolationCode code) { return std::string(ViolationCodeName(code)); }
inline std::ostream& operator<<(std::ostream& out, ViolationCode code) {
  return out << ViolationCodeName(code);
}

struct Violation {
  ViolationCode code = ViolationCode::kTargetNotMember;
  std::string message;
  // What it is about, for machines that group or filter: the target node checked, and
  // the device path, vswitch name or other package involved (empty when none).
  NodeName node;
  std::string subject;
  friend bool operator==(const Violation&, const Violation&) = default;
};

struct ValidationResult {
  std::vector<Violation> violations;
  std::vector<Violation> unchecked;
  // True when no check failed (unchecked ones do not count).
  bool ok() const { return violations.empty(); }
  bool Has(ViolationCode code) const;
  // The codes of `violations`, in order, for tests and summaries.
  std::vector<ViolationCode> Codes() const;
  std::vector<ViolationCode> UncheckedCodes() const;
};

}  // namespace cmcl::validation
