#include "cmcld/core/validation/violation.h"

#include <algorithm>

namespace cmcl::validation {

std::string_view ViolationCodeName(ViolationCode code) {
  switch (code) {
    case ViolationCode::kTargetNotMember:
      return "target_not_member";
    case ViolationCode::kNodeNotEligible:
      return "node_not_eligible";
    case ViolationCode::kSharedDevice:
      return "shared_device";
    case ViolationCode::kUnsupportedStorage:
      return "unsupported_storage";
    case ViolationCode::kDeviceMissing:
      return "device_missing";
    case ViolationCode::kWwidMismatch:
      return "wwid_mismatch";
    case ViolationCode::kVswitchMismatch:
      return "vswitch_mismatch";
    case ViolationCode::kInsufficientCapacity:
      return "insufficient_capacity";
    case ViolationCode::kStorageInUse:
      return "storage_in_use";
  }
  return "unknown";
}

bool ValidationResult::Has(ViolationCode code) const {
  return std::any_of(violations.begin(), violations.end(),
                     [code](const Violation& violation) { return violation.code == code; });
}

namespace {
std::vector<ViolationCode> CodesOf(const std::vector<Violation>& list) {
  std::vector<ViolationCode> codes;
  codes.reserve(list.size());
  for (const Violation& violation : list) codes.push_back(violation.code);
  return codes;
}
}  // namespace

std::vector<ViolationCode> ValidationResult::Codes() const { return CodesOf(violations); }
std::vector<ViolationCode> ValidationResult::UncheckedCodes() const { return CodesOf(unchecked); }

}  // namespace cmcl::validation
