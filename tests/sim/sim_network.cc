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

std::vector<Duration> SimNetwork::Route(const NodeName& from, const NodeName& to) {
  std::vector<Duration> delays;
  if (blocked_.contains({from, to}) || rng_.ChanceOf(options_.loss)) {
    return delays;
  }
  const int copies = rng_.ChanceOf(options_.duplication) ? 2 : 1;
  for (int i = 0; i < copies; ++i) {
    if (rng_.ChanceOf(options_.delay_far)) {
      delays.push_back(
          Duration(rng_.Between(options_.node_timeout.count(), 3 * options_.node_timeout.count())));
      continue;
    }
    delays.push_back(
        Duration(rng_.Between(options_.delay_min.count(), link_delay_max_.at({from, to}))));
  }
  return delays;
}

void SimNetwork::BlockBothWays(const std::vector<NodeName>& side_a,
                               const std::vector<NodeName>& side_b) {
  for (const NodeName& a : side_a) {
    for (const NodeName& b : side_b) {
      blocked_.insert({a, b});
      blocked_.insert({b, a});
    }
  }
}

std::string SimNetwork::ChangePartition(const std::optional<NodeName>& leader) {
  blocked_.clear();
  const uint64_t mode = rng_.Uniform(5);
  if (mode == 0) {
    return "heal";
  }
  if (mode == 1 || mode == 4) {  // Isolate one node (4: the leader), symmetric.
    const NodeName lone = mode == 4 && leader ? *leader : nodes_[rng_.Uniform(nodes_.size())];
    std::vector<NodeName> rest;
    std::copy_if(nodes_.begin(), nodes_.end(), std::back_inserter(rest),
                 [&](const NodeName& n) { return n != lone; });
    BlockBothWays({lone}, rest);
    return "isolate " + lone.value();
  }
  if (mode == 2) {  // Random split into two sides, symmetric.
    std::vector<NodeName> side_a;
    std::vector<NodeName> side_b;
    for (const NodeName& node : nodes_) {
      (rng_.Chance(1, 2) ? side_a : side_b).push_back(node);
    }
    BlockBothWays(side_a, side_b);
    std::string text = "split";
    for (const NodeName& node : side_a) {
      text += " " + node.value();
    }
    return text + " |";
  }
  // Asymmetric: each directed link is blocked with probability 1/3.
  std::string text = "one-way";
  for (const NodeName& from : nodes_) {
    for (const NodeName& to : nodes_) {
      if (from != to && rng_.Chance(1, 3)) {
        blocked_.insert({from, to});
        text += " " + from.value() + ">" + to.value();
      }
    }
  }
  return text;
}

void SimNetwork::HealForever() {
  blocked_.clear();
  options_.loss = 0;
  options_.duplication = 0;
  options_.delay_far = 0;
}

}  // namespace cmcl::sim
