// placement_bench: the wall-clock cost of the coordinator's placement decisions
// (placement::PlaceBatch, DESIGN.md section 5; issue 7: "the wall-clock cost of the
// coordinator's decisions, shown not to grow with the square of the package count").
//
// Synthetic cluster of --packages packages (default 3,000) on --nodes nodes (default 32),
// shaped like readiness_bench: every node sees every package's two SAN disks (same
// WWIDs) and four vswitches, except that one node in eight sees some disks with another
// WWID and one vswitch on another NIC; every fiftieth package shares a disk with its
// neighbour. Packages may run on every node (lists rotated per package), alternate
// configured_node and min_package_node, and one in ten has a priority.
//
// Two scenarios, chosen by --requests:
//   failover  (--requests R < packages, default 125): node00 is lost; the first R
//             packages ran there and are requested ("node00 lost", avoiding node00);
//             every other package is up on the first node of its list (never node00).
//   start     (--requests equal to --packages): cluster start; nothing runs, every
//             package is requested.
// The ConfigIndex is built once (the coordinator keeps it per configuration); each run
// times what PlaceBatch(index, facts, requests) does — one ClusterView over the facts
// (O(packages)), then every decision — and the two parts apart: the decisions' cost
// must not depend on the package count. Prints one JSON line of medians over --runs.
// Results and the command line: docs/BENCHMARKS.md.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "cmcld/core/placement/placement.h"
#include "cmcld/core/validation/cluster_view.h"
#include "cmcld/core/validation/config_index.h"
#include "tests/bench/synthetic_cluster.h"
#include "tests/support/config_builder.h"

namespace {

using cmcl::NodeName;
using cmcl::PackageName;
using cmcl::test_support::Gib;
using namespace cmcl::bench;  // NOLINT: the shared synthetic cluster.

struct Options {
  int packages = 3000;
  int nodes = 32;
  int requests = 125;
  int runs = 9;
};

cmcl::inventory::NodeInventory Inventory(const Options& options, int node) {
  cmcl::test_support::InventoryBuilder inventory = SyntheticInventory(options.packages, node);
  // About 1.25 times what an even spread of the guests needs (1.5 vCPUs and 2.5GiB on
  // average): a lost node's guests do not all fit on the next node of their lists, so
  // the tally's insufficient_capacity refusals are part of what is measured.
  const auto vcpus = static_cast<uint32_t>(options.packages * 3 / 2 * 5 / 4 / options.nodes + 4);
  const auto memory = static_cast<uint64_t>(options.packages * 5 / 2 * 5 / 4 / options.nodes + 8);
  return inventory.Capacity(vcpus, Gib(memory)).Build();
}

// The first node of the package's list: node00 for the packages the failover scenario
// loses with it, never node00 for the others.
int HomeNode(const Options& options, int index) {
  const bool failover = options.requests < options.packages;
  if (failover && index < options.requests) return 0;
  if (failover) return 1 + index % (options.nodes - 1);
  return index % options.nodes;
}

cmcl::config::PackageSpec Package(const Options& options, int index) {
  char name[16];
  std::snprintf(name, sizeof name, "pkg%05d", index);
  cmcl::config::PackageSpec package =
      SyntheticPackage(name, index, HomeNode(options, index), options.nodes);
  package.failover_policy = index % 2 == 0 ? cmcl::config::FailoverPolicy::kConfiguredNode
                                           : cmcl::config::FailoverPolicy::kMinPackageNode;
  if (index % 10 == 0) package.priority = static_cast<uint32_t>(1 + index % 3);
  return package;
}

Options Parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    const int value = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--packages") == 0) options.packages = value;
    if (std::strcmp(argv[i], "--nodes") == 0) options.nodes = value;
    if (std::strcmp(argv[i], "--requests") == 0) options.requests = value;
    if (std::strcmp(argv[i], "--runs") == 0) options.runs = value;
  }
  options.nodes = std::max(options.nodes, 2);
  options.packages = std::max(options.packages, 1);
  options.requests = std::clamp(options.requests, 1, options.packages);
  options.runs = std::max(options.runs, 1);
  return options;
}

struct Scenario {
  cmcl::config::ClusterConfig config;
  cmcl::validation::ClusterFacts facts;
  std::vector<cmcl::placement::PlacementRequest> requests;
  bool start = false;
};

Scenario Build(const Options& options) {
  Scenario scenario;
  scenario.start = options.requests == options.packages;
  cmcl::test_support::ClusterBuilder cluster;
  for (int node = 0; node < options.nodes; ++node) {
    cluster.Node(NodeNameOf(node), Inventory(options, node));
    if (scenario.start || node != 0) scenario.facts.up_members.insert(NodeName(NodeNameOf(node)));
  }
  for (int index = 0; index < options.packages; ++index) {
    cmcl::config::PackageSpec package = Package(options, index);
    cmcl::placement::PlacementRequest request{package.name, "cluster start", {}, {}};
    if (!scenario.start && index < options.requests) {
      scenario.facts.last_nodes[package.name] = NodeName(NodeNameOf(0));
      request = {package.name, "node00 lost", {NodeName(NodeNameOf(0))}, {}};
    } else if (!scenario.start) {
      scenario.facts.placements[package.name] = {package.nodes.front(),
                                                 cmcl::validation::Occupancy::kUp};
    }
    if (index < options.requests) scenario.requests.push_back(std::move(request));
    cluster.Package(std::move(package));
  }
  scenario.config = cluster.Build();
  return scenario;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = Parse(argc, argv);
  const Scenario scenario = Build(options);
  const cmcl::validation::ConfigIndex index(scenario.config, scenario.facts.reported_inventories);

  std::vector<double> wall_ms;
  std::vector<double> view_ms;
  std::vector<double> decide_ms;
  size_t placed = 0;
  size_t validations = 0;
  std::map<cmcl::validation::ViolationCode, size_t> refusals;  // Violations by code.
  for (int run = 0; run < options.runs; ++run) {
    // What PlaceBatch(index, facts, requests) does, timed in its two parts.
    const auto start = std::chrono::steady_clock::now();
    cmcl::validation::ClusterView view(index, scenario.facts);
    const auto indexed = std::chrono::steady_clock::now();
    const std::vector<cmcl::placement::PlacementDecision> decisions =
        cmcl::placement::PlaceBatch(view, scenario.requests);
    const auto stop = std::chrono::steady_clock::now();
    wall_ms.push_back(Milliseconds(stop - start));
    view_ms.push_back(Milliseconds(indexed - start));
    decide_ms.push_back(Milliseconds(stop - indexed));
    placed = 0;
    validations = 0;
    refusals.clear();
    for (const auto& decision : decisions) {
      placed += decision.node.has_value() ? 1u : 0u;
      for (const auto& verdict : decision.candidates) {
        validations += verdict.avoided ? 0u : 1u;
        for (const auto code : verdict.result.Codes()) refusals[code] += 1;
      }
    }
  }

  std::string violations;
  for (const auto& [code, count] : refusals) {
    if (!violations.empty()) violations += ',';
    violations += "\"" + cmcl::validation::to_string(code) + "\":" + std::to_string(count);
  }
  const double median = Median(wall_ms);
  std::printf(
      "{\"benchmark\":\"placement\",\"scenario\":\"%s\",\"packages\":%d,\"nodes\":%d,"
      "\"requests\":%d,\"placed\":%zu,\"validations\":%zu,\"runs\":%d,\"wall_ms_median\":%.2f,"
      "\"wall_ms_min\":%.2f,\"wall_ms_max\":%.2f,\"view_ms_median\":%.2f,"
      "\"decide_ms_median\":%.2f,\"decide_us_per_request\":%.1f,\"violations\":{%s}}\n",
      scenario.start ? "start" : "failover", options.packages, options.nodes, options.requests,
      placed, validations, options.runs, median, *std::min_element(wall_ms.begin(), wall_ms.end()),
      *std::max_element(wall_ms.begin(), wall_ms.end()), Median(view_ms), Median(decide_ms),
      Median(decide_ms) * 1000.0 / options.requests, violations.c_str());
  return 0;
}
