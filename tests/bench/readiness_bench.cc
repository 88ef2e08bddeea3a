// readiness_bench: how long one full recompute of the readiness matrix takes
// (DESIGN.md section 6: "cheap enough to recompute on every change").
//
// Builds a synthetic cluster of --packages packages (default 3,000) on --nodes nodes
// (default 32): every node sees every package's two SAN disks (same WWIDs) and four
// vswitches; every package may run on every node and runs on one of them. One node in
// eight sees some disks with a different WWID and one vswitch on another NIC, and every
// fiftieth package shares a disk with its neighbour, so the matrix contains violations
// with real messages, not only the fast path. Times ComputeReadiness (view indexing
// included) --runs times, and again on a ConfigIndex kept across runs (what a caller
// recomputing on placement changes pays), and prints one JSON line of medians. Results
// and the command line: docs/BENCHMARKS.md.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cmcld/core/validation/readiness.h"
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
  int runs = 9;
};

cmcl::inventory::NodeInventory Inventory(const Options& options, int node) {
  return SyntheticInventory(options.packages, node).Capacity(512, Gib(4096)).Build();
}

cmcl::config::PackageSpec Package(const Options& options, int index) {
  char name[16];
  std::snprintf(name, sizeof name, "pkg%04d", index);
  return SyntheticPackage(name, index, index % options.nodes, options.nodes);
}

Options Parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    const int value = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--packages") == 0) options.packages = value;
    if (std::strcmp(argv[i], "--nodes") == 0) options.nodes = value;
    if (std::strcmp(argv[i], "--runs") == 0) options.runs = value;
  }
  return options;
}

struct Timing {
  std::vector<double> full_ms;   // ComputeReadiness(config, facts): everything indexed.
  std::vector<double> index_ms;  // Of which building the ClusterView.
  std::vector<double> kept_ms;   // A ClusterView on a kept ConfigIndex, then readiness.
  size_t pairs = 0;
  size_t refused = 0;
};

void Count(const std::vector<cmcl::validation::PackageReadiness>& readiness, Timing& timing) {
  timing.pairs = 0;
  timing.refused = 0;
  for (const auto& package : readiness) {
    timing.pairs += package.results.size();
    for (const auto& result : package.results) timing.refused += result.result.ok() ? 0u : 1u;
  }
}

Timing Measure(const cmcl::config::ClusterConfig& config,
               const cmcl::validation::ClusterFacts& facts, int runs) {
  Timing timing;
  const cmcl::validation::ConfigIndex kept(config, facts.reported_inventories);
  for (int run = 0; run < runs; ++run) {
    const auto start = std::chrono::steady_clock::now();
    const cmcl::validation::ClusterView view(config, facts);
    const auto indexed = std::chrono::steady_clock::now();
    Count(cmcl::validation::ComputeReadiness(view), timing);
    const auto stop = std::chrono::steady_clock::now();
    timing.full_ms.push_back(Milliseconds(stop - start));
    timing.index_ms.push_back(Milliseconds(indexed - start));

    const auto kept_start = std::chrono::steady_clock::now();
    const cmcl::validation::ClusterView kept_view(kept, facts);
    Count(cmcl::validation::ComputeReadiness(kept_view), timing);
    timing.kept_ms.push_back(Milliseconds(std::chrono::steady_clock::now() - kept_start));
  }
  return timing;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = Parse(argc, argv);
  cmcl::test_support::ClusterBuilder cluster;
  cmcl::validation::ClusterFacts facts;
  for (int node = 0; node < options.nodes; ++node) {
    cluster.Node(NodeNameOf(node), Inventory(options, node));
    facts.up_members.insert(NodeName(NodeNameOf(node)));
  }
  for (int index = 0; index < options.packages; ++index) {
    cmcl::config::PackageSpec package = Package(options, index);
    facts.placements[package.name] = {package.nodes.front(), cmcl::validation::Occupancy::kUp};
    cluster.Package(std::move(package));
  }
  const cmcl::config::ClusterConfig config = cluster.Build();

  const Timing timing = Measure(config, facts, std::max(options.runs, 1));

  const double median = Median(timing.full_ms);
  std::printf(
      "{\"benchmark\":\"readiness\",\"packages\":%d,\"nodes\":%d,\"pairs\":%zu,"
      "\"refused_pairs\":%zu,\"runs\":%d,\"ms_median\":%.1f,\"ms_min\":%.1f,"
      "\"ms_max\":%.1f,\"index_ms_median\":%.1f,\"kept_index_ms_median\":%.1f,"
      "\"us_per_pair\":%.2f}\n",
      options.packages, options.nodes, timing.pairs, timing.refused, options.runs, median,
      *std::min_element(timing.full_ms.begin(), timing.full_ms.end()),
      *std::max_element(timing.full_ms.begin(), timing.full_ms.end()), Median(timing.index_ms),
      Median(timing.kept_ms), median * 1000.0 / static_cast<double>(timing.pairs));
  return 0;
}
