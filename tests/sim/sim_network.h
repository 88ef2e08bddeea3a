// SimNetwork: the weak transport of STYLE.md rule 8, simulated. A message may be lost,
// duplicated, delayed (each link has its own delay range; occasionally far beyond
// node_timeout), which also reorders messages, or blocked by a partition. Partitions
// are sets of blocked directed links, so a partition is symmetric (both directions
// blocked) or asymmetric (one way only). All randomness comes from the Rng it is given.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "cmcld/core/common/names.h"
#include "cmcld/core/common/rng.h"
#include "cmcld/core/common/time.h"
#include "tests/sim/sim_options.h"

namespace cmcl::sim {

class SimNetwork {
 public:
  SimNetwork(const SimOptions& options, Rng rng, std::vector<NodeName> nodes);

  // The delays after which copies of a message from `from` to `to` arrive: none if it
  // is lost or blocked, two if duplicated.
  std::vector<Duration> Route(const NodeName& from, const NodeName& to);

  // Replaces the current partition with a random one (or heals); returns a description
  // for the trace. `leader`, the node the simulator sees leading (if any), may be the
  // one isolated: Jepsen's "partition the leader" nemesis, which makes leader changes
  // with entries in flight common.
  std::string ChangePartition(const std::optional<NodeName>& leader);
  // Scenario controls: block one directed link; unblock every link.
  void Block(const NodeName& from, const NodeName& to) { blocked_.insert({from, to}); }
  void Unblock() { blocked_.clear(); }
  // Liveness phase: no partition, no loss, no far delays, no duplication.
  void HealForever();

 private:
  void BlockBothWays(const std::vector<NodeName>& side_a, const std::vector<NodeName>& side_b);

  SimOptions options_;
  Rng rng_;
  std::vector<NodeName> nodes_;
  std::set<std::pair<NodeName, NodeName>> blocked_;  // (from, to)
  // Per directed link, its own upper bound on delay within [delay_min, delay_max]: some
  // links are fast and some slow, as across racks.
  std::map<std::pair<NodeName, NodeName>, int64_t> link_delay_max_;
};

}  // namespace cmcl::sim
