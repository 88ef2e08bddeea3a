// coordinator_bench: the wall-clock cost of one node::Decide call (coordinator.h) on the
// synthetic cluster of placement_bench: --packages packages (default 3,000) on --nodes
// nodes (default 32), each package up on the first node of its (rotated) list.
//
// Two scenarios, each timed over --runs calls (medians):
//   steady    every member up, everything running where it should: the call the leader
//             makes on every message it handles. Must scan without building a view.
//   failover  node00 lost and its lease certainly expired: its packages are placed in
//             one PlaceBatch (view + decisions) and the AssignOps built.
// The ConfigIndex is built once, as the node keeps it per configuration. Prints one
// JSON line. Results and the command line: docs/BENCHMARKS.md.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cmcld/core/node/cluster_state.h"
#include "cmcld/core/node/coordinator.h"
#include "cmcld/core/validation/config_index.h"
#include "tests/bench/synthetic_cluster.h"
#include "tests/support/config_builder.h"

namespace {

using cmcl::NodeName;
using cmcl::node::ClusterState;
using cmcl::node::Decision;
using cmcl::node::Liveness;
using cmcl::node::OpBatch;
using cmcl::test_support::Gib;
using namespace cmcl::bench;  // NOLINT: the shared synthetic cluster.

struct Options {
  int packages = 3000;
  int nodes = 32;
  int runs = 9;
};

Options Parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    const int value = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--packages") == 0) options.packages = value;
    if (std::strcmp(argv[i], "--nodes") == 0) options.nodes = value;
    if (std::strcmp(argv[i], "--runs") == 0) options.runs = value;
  }
  options.nodes = std::max(options.nodes, 2);
  options.packages = std::max(options.packages, 1);
  options.runs = std::max(options.runs, 1);
  return options;
}

cmcl::config::ClusterConfig Config(const Options& options) {
  cmcl::test_support::ClusterBuilder cluster;
  // Room for twice an even spread: a lost node's guests fit elsewhere.
  const auto vcpus = static_cast<uint32_t>(options.packages * 3 / options.nodes + 4);
  const auto memory = static_cast<uint64_t>(options.packages * 5 / options.nodes + 8);
  for (int node = 0; node < options.nodes; ++node) {
    cluster.Node(NodeNameOf(node),
                 SyntheticInventory(options.packages, node).Capacity(vcpus, Gib(memory)).Build());
  }
  for (int index = 0; index < options.packages; ++index) {
    char name[16];
    std::snprintf(name, sizeof name, "pkg%05d", index);
    cluster.Package(SyntheticPackage(name, index, index % options.nodes, options.nodes));
  }
  return cluster.Build();
}

void Commit(ClusterState& state, const OpBatch& ops) {
  const cmcl::raft::LogIndex index(state.applied().value() + 1);
  state.Apply(cmcl::raft::ApplyEntry{
      .entry = {.term = cmcl::raft::Term(1),
                .index = index,
                .kind = cmcl::raft::EntryKind::kCommand,
                .command = {.client_id = cmcl::raft::ClientId(1),
                            .sequence = index.value(),
                            .payload = cmcl::node::EncodeOps(ops),
                            .revokes = {}}},
      .duplicate = false});
}

// Every package assigned to, and started on, the first node of its list.
ClusterState Running(const cmcl::config::ClusterConfig& config) {
  ClusterState state{ClusterState::Options{}};
  Commit(state, {cmcl::node::ClusterRunOp{.by = "bench"}});
  OpBatch assigns;
  for (const cmcl::config::PackageSpec& package : config.packages) {
    assigns.push_back(cmcl::node::AssignOp{.resource = package.name,
                                           .node = package.nodes.front(),
                                           .from_epoch = cmcl::raft::LogIndex(0),
                                           .reason = "bench",
                                           .why = cmcl::node::ActionReason::kStart,
                                           .remember = std::nullopt});
  }
  Commit(state, assigns);
  OpBatch reports;
  for (const cmcl::config::PackageSpec& package : config.packages) {
    reports.push_back(cmcl::node::ReportOp{.resource = package.name,
                                           .node = package.nodes.front(),
                                           .epoch = state.Find(package.name)->epoch,
                                           .kind = cmcl::node::ReportKind::kStarted,
                                           .failure = cmcl::node::FailureKind::kNone,
                                           .detail = ""});
  }
  Commit(state, reports);
  return state;
}

struct Timing {
  double median_ms = 0;
  size_t ops = 0;
};

Timing Time(const Options& options, const cmcl::config::ClusterConfig& config,
            const cmcl::validation::ConfigIndex& index, const ClusterState& state,
            const Liveness& live) {
  std::vector<double> ms;
  Timing timing;
  for (int run = 0; run < options.runs; ++run) {
    const auto start = std::chrono::steady_clock::now();
    const Decision decision = cmcl::node::Decide(config, index, state, live);
    ms.push_back(Milliseconds(std::chrono::steady_clock::now() - start));
    timing.ops = decision.ops.size();
  }
  timing.median_ms = Median(ms);
  return timing;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = Parse(argc, argv);
  const cmcl::config::ClusterConfig config = Config(options);
  const cmcl::validation::ReportedInventories reported;
  const cmcl::validation::ConfigIndex index(config, reported);
  const ClusterState state = Running(config);

  Liveness live;
  live.self = NodeName(NodeNameOf(1));
  live.now = cmcl::Time::FromMilliseconds(1'000'000);
  live.leader_since = live.now;
  for (int node = 0; node < options.nodes; ++node) {
    live.up.insert(NodeName(NodeNameOf(node)));
  }
  live.reachable = live.up;
  const Timing steady = Time(options, config, index, state, live);

  const NodeName lost(NodeNameOf(0));
  live.up.erase(lost);
  live.reachable.erase(lost);
  live.certain_expiry[lost] = live.now;
  const Timing failover = Time(options, config, index, state, live);

  std::printf(
      "{\"benchmark\":\"coordinator\",\"packages\":%d,\"nodes\":%d,\"runs\":%d,"
      "\"steady_ms_median\":%.3f,\"steady_ops\":%zu,\"failover_ms_median\":%.2f,"
      "\"failover_ops\":%zu}\n",
      options.packages, options.nodes, options.runs, steady.median_ms, steady.ops,
      failover.median_ms, failover.ops);
  return 0;
}
