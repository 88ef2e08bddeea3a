// SimNetwork: the weak transport of STYLE.md rule 8, simulated. A message may be lost,
// duplicated, delayed (each link has its own delay range; while the FarDelay nemesis is
// on, single messages are held far beyond node_timeout), which also reorders messages,
// or dropped on a blocked link. Faults are owned: each nemesis blocks its own set of
// directed links and sets its own extra loss per directed link, and a link is blocked
// if any owner blocks it, so nemeses compose without undoing each other. A symmetric
// partition blocks both directions, an asymmetric one a single direction. All
// randomness comes from the Rng it is given.
#pragma once

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "cmcld/core/common/names.h"
#include "cmcld/core/common/rng.h"
#include "cmcld/core/common/time.h"
#include "tests/sim/sim_options.h"

namespace cmcl::sim {

using Link = std::pair<NodeName, NodeName>;  // (from, to)

class SimNetwork {
 public:
  SimNetwork(const SimOptions& options, Rng rng, std::vector<NodeName> nodes);

  // The delays after which copies of a message from `from` to `to` arrive: none if it
  // is lost or blocked, two if duplicated.
  std::vector<Duration> Route(const NodeName& from, const NodeName& to);
  // The ordinary delay of one message on a link (no loss, no far delay).
  Duration Delay(const NodeName& from, const NodeName& to);

  // `owner`'s blocked links replace its previous set; other owners' stay.
  void SetBlocked(const std::string& owner, std::set<Link> links);
  // `owner`'s extra loss probability per directed link.
  void SetLoss(const std::string& owner, std::map<Link, double> loss);
  void SetFarDelay(double probability) { far_delay_ = probability; }
  // Scenario controls: block one directed link; unblock every link of every owner.
  void Block(const NodeName& from, const NodeName& to) { blocked_["scenario"].insert({from, to}); }
  void Unblock() { blocked_.clear(); }
  // Liveness phase: no baseline loss, no far delays, no duplication, and every owner's
  // blocks and losses cleared except `keep`'s (the liveness phase's own isolation).
  void HealForever(const std::string& keep);
  bool Blocked(const Link& link) const;

 private:
  SimOptions options_;
  Rng rng_;
  std::vector<NodeName> nodes_;
  double far_delay_ = 0;
  std::map<std::string, std::set<Link>> blocked_;
  std::map<std::string, std::map<Link, double>> loss_;
  // Per directed link, its own upper bound on delay within [delay_min, delay_max]: some
  // links are fast and some slow, as across racks.
  std::map<Link, int64_t> link_delay_max_;
};

}  // namespace cmcl::sim
