#include "tests/sim/sim_network.h"

#include <algorithm>

namespace cmcl::sim {

SimNetwork::SimNetwork(const SimOptions& options, Rng rng, std::vector<NodeName> nodes)
    : options_(options), rng_(std::move(rng)), nodes_(std::move(nodes)) {
  for (const NodeName& from : nodes_) {
    for (const NodeName& to : nodes_) {
      link_delay_max_[{from, to}] =
          rng_.Between(options_.delay_min.count(), options_.delay_max.count());
    }
  }
}

bool SimNetwork::Blocked(const Link& link) const {
  return std::any_of(blocked_.begin(), blocked_.end(),
                     [&](const auto& owner) { return owner.second.contains(link); });
}

Duration SimNetwork::Delay(const NodeName& from, const NodeName& to) {
  return Duration(rng_.Between(options_.delay_min.count(), link_delay_max_.at({from, to})));
}

std::vector<Duration> SimNetwork::Route(const NodeName& from, const NodeName& to) {
  std::vector<Duration> delays;
  if (Blocked({from, to}) || rng_.ChanceOf(options_.loss)) {
    return delays;
  }
  for (const auto& [owner, losses] : loss_) {
    const auto it = losses.find({from, to});
    if (it != losses.end() && rng_.ChanceOf(it->second)) {
      return delays;
    }
  }
  const int copies = rng_.ChanceOf(options_.duplication) ? 2 : 1;
  for (int i = 0; i < copies; ++i) {
    if (far_delay_ > 0 && rng_.ChanceOf(far_delay_)) {
      delays.push_back(
          Duration(rng_.Between(options_.node_timeout.count(), 3 * options_.node_timeout.count())));
      continue;
    }
    delays.push_back(Delay(from, to));
  }
  return delays;
}

void SimNetwork::SetBlocked(const std::string& owner, std::set<Link> links) {
  blocked_[owner] = std::move(links);
}

void SimNetwork::SetLoss(const std::string& owner, std::map<Link, double> loss) {
  loss_[owner] = std::move(loss);
}

void SimNetwork::HealForever(const std::string& keep) {
  std::erase_if(blocked_, [&](const auto& owner) { return owner.first != keep; });
  loss_.clear();
  options_.loss = 0;
  options_.duplication = 0;
  far_delay_ = 0;
}

}  // namespace cmcl::sim
