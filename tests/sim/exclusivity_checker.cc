#include "tests/sim/exclusivity_checker.h"

#include <algorithm>
#include <map>
#include <sstream>

namespace cmcl::sim {

void ExclusivityChecker::Check(Time now, const std::vector<Claim>& physical,
                               const std::vector<Claim>& authority) {
  ++checks_;
  CheckKind(now, "physical", physical, max_physical_);
  CheckKind(now, "logical", authority, max_authority_);
}

void ExclusivityChecker::CheckKind(Time now, const char* kind, const std::vector<Claim>& claims,
                                   size_t& max_seen) {
  std::map<PackageName, std::vector<const Claim*>> by_resource;
  for (const Claim& claim : claims) {
    by_resource[claim.resource].push_back(&claim);
  }
  for (auto& [resource, holders] : by_resource) {
    max_seen = std::max(max_seen, holders.size());
    if (holders.size() < 2 || violation_) {
      continue;
    }
    std::sort(holders.begin(), holders.end(),
              [](const Claim* a, const Claim* b) { return a->node < b->node; });
    std::ostringstream text;
    text << "exclusivity (" << kind << "): " << resource << " held by " << holders.size()
         << " nodes at " << now.milliseconds() << "ms:";
    for (const Claim* claim : holders) {
      text << " " << claim->node << " (epoch " << claim->epoch << ", local "
           << claim->local_now.milliseconds() << "ms";
      if (claim->since) {
        text << ", started " << claim->since->milliseconds() << "ms";
      }
      text << ")";
    }
    violation_ = text.str();
  }
}

}  // namespace cmcl::sim
