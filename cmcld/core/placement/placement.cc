#include "cmcld/core/placement/placement.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <set>
#include <string_view>
#include <tuple>
#include <utility>

#include "cmcld/core/common/check.h"
#include "cmcld/core/validation/validate.h"

namespace cmcl::placement {

namespace {

using config::PackageSpec;
using validation::ClusterView;

std::string Join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string joined;
  for (const std::string& part : parts) {
    if (!joined.empty()) joined += separator;
    joined += part;
  }
  return joined;
}

// The order in which requests are decided: priority (lower first, none last), then
// package name, then request order (duplicates, decided once).
std::vector<size_t> DecisionOrder(const ClusterView& view,
                                  const std::vector<PlacementRequest>& requests) {
  using Key = std::tuple<uint64_t, const std::string*, size_t>;
  constexpr uint64_t kNoPriority = std::numeric_limits<uint64_t>::max();
  std::vector<Key> keys;
  keys.reserve(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    const PackageSpec* package = view.FindPackage(requests[i].package);
    const bool prioritised = package != nullptr && package->priority.has_value();
    keys.emplace_back(prioritised ? *package->priority : kNoPriority, &requests[i].package.value(),
                      i);
  }
  std::sort(keys.begin(), keys.end(), [](const Key& a, const Key& b) {
    if (std::get<0>(a) != std::get<0>(b)) return std::get<0>(a) < std::get<0>(b);
    if (*std::get<1>(a) != *std::get<1>(b)) return *std::get<1>(a) < *std::get<1>(b);
    return std::get<2>(a) < std::get<2>(b);
  });
  std::vector<size_t> order;
  order.reserve(keys.size());
  for (const Key& key : keys) order.push_back(std::get<2>(key));
  return order;
}

// The nodes considered, in preference order: the explicit target alone, else the
// package's configured members (arbitrators and unknown names never run packages).
std::vector<NodeName> Candidates(const ClusterView& view, const PackageSpec& package,
                                 const PlacementRequest& request) {
  if (request.target.has_value()) return {*request.target};
  std::vector<NodeName> nodes;
  for (const NodeName& node : view.NodesOf(package)) {
    const config::NodeSpec* spec = view.FindNode(node);
    if (spec == nullptr || spec->role != config::NodeRole::kMember) continue;
    if (std::find(nodes.begin(), nodes.end(), node) != nodes.end()) continue;
    nodes.push_back(node);
  }
  return nodes;
}

// Validates the candidates, chooses per the failover policy and adds the choice to the
// view's tally.
PlacementDecision Decide(ClusterView& view, const PackageSpec& package,
                         const PlacementRequest& request) {
  PlacementDecision decision{package.name, std::nullopt, {}, {}};
  const bool fewest = !request.target.has_value() &&
                      package.failover_policy == config::FailoverPolicy::kMinPackageNode;
  uint64_t fewest_count = 0;
  for (const NodeName& node : Candidates(view, package, request)) {
    CandidateVerdict verdict{node, request.avoid.contains(node), {}};
    if (!verdict.avoided) verdict.result = validation::ValidateMigration(package, node, view);
    const bool eligible = verdict.eligible();
    decision.candidates.push_back(std::move(verdict));
    if (!eligible) continue;
    if (!fewest) {
      decision.node = node;
      break;
    }
    // Strictly fewer: a tie keeps the earlier node of the list.
    const uint64_t count = view.UsedOn(node, package.name).packages;
    if (!decision.node.has_value() || count < fewest_count) {
      decision.node = node;
      fewest_count = count;
    }
  }
  if (decision.node.has_value()) {
    view.AddPlacement(package.name, {*decision.node, validation::Occupancy::kStarting});
  }
  return decision;
}

std::string Prefix(const PlacementRequest& request) {
  std::string line = request.package.value() + ": ";
  if (!request.why.empty()) line += request.why + "; ";
  return line;
}

std::string ReasonLine(const PlacementRequest& request, const PlacementDecision& decision) {
  std::vector<std::string> refused;
  std::vector<std::string> avoided;
  for (const CandidateVerdict& verdict : decision.candidates) {
    if (verdict.avoided) {
      avoided.push_back(verdict.node.value());
    } else if (!verdict.result.ok()) {
      refused.push_back(verdict.node.value() + " " + VerdictText(verdict));
    }
  }
  const std::string line = Prefix(request);
  if (decision.node.has_value()) {
    refused.push_back("started on " + decision.node->value());
    return line + Join(refused, "; ");
  }
  if (!refused.empty()) return line + "no node can run it: " + Join(refused, "; ");
  if (!avoided.empty()) {
    return line + "no node can run it: every candidate was tried before (" + Join(avoided, ", ") +
           ")";
  }
  return line + "no node can run it: its node list names no member";
}

PlacementDecision Unplaced(const PlacementRequest& request, const std::string& why) {
  return PlacementDecision{request.package, std::nullopt, {}, Prefix(request) + why};
}

}  // namespace

std::string VerdictText(const CandidateVerdict& verdict) {
  if (verdict.avoided) return "avoided: tried before";
  if (verdict.result.ok()) return "eligible";
  std::vector<std::string> messages;
  messages.reserve(verdict.result.violations.size());
  for (const validation::Violation& violation : verdict.result.violations) {
    messages.push_back(violation.message);
  }
  return "refused (" + Join(messages, "; ") + ")";
}

std::vector<PlacementDecision> PlaceBatch(const validation::ConfigIndex& index,
                                          const validation::ClusterFacts& facts,
                                          const std::vector<PlacementRequest>& requests) {
  ClusterView view(index, facts);
  return PlaceBatch(view, requests);
}

std::vector<PlacementDecision> PlaceBatch(ClusterView& view,
                                          const std::vector<PlacementRequest>& requests) {
  // Offline facts place nothing, so validation would not see the tally (Whereabouts).
  CMCL_CHECK(!view.facts().offline) << "placement needs online cluster facts";
  std::vector<std::optional<PlacementDecision>> decided(requests.size());
  std::set<PackageName> seen;
  for (const size_t i : DecisionOrder(view, requests)) {
    const PlacementRequest& request = requests[i];
    const PackageSpec* package = view.FindPackage(request.package);
    if (package == nullptr) {
      decided[i] = Unplaced(request, request.package.value() + " is not a configured package");
    } else if (!seen.insert(request.package).second) {
      decided[i] = Unplaced(request, "already decided in this batch");
    } else {
      PlacementDecision decision = Decide(view, *package, request);
      decision.reason = ReasonLine(request, decision);
      decided[i] = std::move(decision);
    }
  }
  std::vector<PlacementDecision> decisions;
  decisions.reserve(requests.size());
  for (std::optional<PlacementDecision>& decision : decided) {
    decisions.push_back(*std::move(decision));
  }
  return decisions;
}

}  // namespace cmcl::placement
