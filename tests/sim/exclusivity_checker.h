// ExclusivityChecker: the one rule that matters most (DESIGN.md section 1), read from
// ground truth after every simulator event (DESIGN.md section 7):
//
//  (a) physical: at every instant of simulated real time at most one node physically
//      holds each resource (SimHost: from a start's issue until its stop or kill
//      completes, or the node crashes);
//  (b) logical (checker B): at most one node whose applied state names it the
//      resource's owner while its lease is valid (node::Node::HasAuthority(R, that
//      node's local now)).
//
// The simulator hands in both sets as claims; the checker is pure bookkeeping, so it
// can be tested without a cluster. The first violation is kept and names the resource,
// the nodes, their epochs, the true time and each node's local time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cmcld/core/common/names.h"
#include "cmcld/core/common/time.h"
#include "cmcld/core/raft/types.h"

namespace cmcl::sim {

class ExclusivityChecker {
 public:
  struct Claim {
    NodeName node;
    PackageName resource;
    raft::LogIndex epoch;
    Time local_now;             // The node's clock at the check.
    std::optional<Time> since;  // Physical claims: true time the start was issued.
  };

  // Checks one instant (true time `now`). `physical`: every guest physically running;
  // `authority`: every (node, resource) with authority. Order does not matter.
  void Check(Time now, const std::vector<Claim>& physical, const std::vector<Claim>& authority);

  const std::optional<std::string>& violation() const { return violation_; }
  uint64_t checks() const { return checks_; }
  // The most claims of either kind seen on one resource (1 in a correct run with load).
  size_t max_physical() const { return max_physical_; }

 private:
  void CheckKind(Time now, const char* kind, const std::vector<Claim>& claims, size_t& max_seen);

  std::optional<std::string> violation_;
  uint64_t checks_ = 0;
  size_t max_physical_ = 0;
  size_t max_authority_ = 0;
};

}  // namespace cmcl::sim
