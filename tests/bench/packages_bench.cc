// packages_bench: issue 7 item 7 — "32 nodes x 3,000 packages in the simulator:
// simulated time from a node's loss to all its packages up elsewhere (zero-length
// scripts), and the wall-clock cost of the coordinator's decisions, shown not to grow
// with the square of the package count". Not a test: it prints JSON lines.
//
// The synthetic cluster is placement_bench's (synthetic_cluster.h): every node sees
// every package's two SAN disks and four vswitches, one node in eight differs in some
// WWIDs and one vswitch's NIC, one package in fifty shares a disk with its neighbour.
// Package i's list starts at node i mod nodes (so every node is first for ~N/nodes
// packages); policies alternate configured_node / min_package_node; one package in ten
// has a priority; node capacities are 0.8, 1 or 1.2 times an even share of a total
// "room" over what the packages need. Part "decide": room 1.25, every third package may
// run on only 8 consecutive nodes, disk pairs as in placement_bench. Part "failover":
// room 3, every package on every node, no disk pairs (Config, RunFailover say why).
//
// Part "decide" (--decide 750,1500,3000,6000): for each package count, a ClusterState
// built by applying committed entries (cluster run, one batch of assigns to each
// package's first node, one batch of `started` reports), and the wall-clock time of one
// node::Decide call (medians over --runs calls, ConfigIndex built once as the node keeps
// it): "steady", every member up and nothing to do (what the leader pays per input);
// "failover", node 0 unreachable with its lease certainly expired, so its ~N/nodes
// packages are failed over in one batch. Per call, per package, and the ratio to the
// previous size (~2 for linear growth, ~4 for quadratic).
//
// Part "failover" (--failover P): P packages on --nodes node::Node cores in the
// hand-driven NodeCluster (tests/support/node_cluster.h: one clock, messages, persists,
// guard requests and guest actions complete at once — zero-length scripts), advanced in
// --step ms steps. After the cluster started every package it can, a non-leader node
// holding packages crashes (power loss: guard and guests die). Simulated time from the
// crash to (1) the leader's certain expiry of its lease (the lease wait), (2) every lost
// package assigned elsewhere (applied on the leader), (3) every lost package running on
// its new owner's host, (4) the leader applied every one's `started` report; and the
// wall-clock time of the start-up and of the failover.
// Results and the command lines: docs/BENCHMARKS.md.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "cmcld/core/node/cluster_state.h"
#include "cmcld/core/node/coordinator.h"
#include "cmcld/core/validation/config_index.h"
#include "tests/bench/synthetic_cluster.h"
#include "tests/support/config_builder.h"
#include "tests/support/node_cluster.h"

namespace {

using cmcl::Duration;
using cmcl::NodeName;
using cmcl::PackageName;
using cmcl::Time;
using cmcl::node::AssignmentStatus;
using cmcl::node::ClusterState;
using cmcl::node::Liveness;
using cmcl::node::OpBatch;
using cmcl::test_support::Gib;
using Clock = std::chrono::steady_clock;
using namespace cmcl::bench;  // NOLINT: the shared synthetic cluster.

struct Options {
  std::vector<int> decide_sizes;       // Part "decide"; empty: not run.
  std::optional<int> failover_packages;  // Part "failover".
  int nodes = 32;
  int runs = 15;
  int step_ms = 1;
  int heartbeat_ms = 100;  // NodeCluster's heartbeat_interval (node_timeout is 1s).
  bool start_wait_zero = true;  // --start-wait 60 keeps the default cluster_start_wait.
  // --only steady / --only failover: time only that Decide call (for callgrind).
  std::string only;
};

std::vector<int> ParseList(const char* text) {
  std::vector<int> values;
  for (const char* at = text; *at != '\0';) {
    char* end = nullptr;
    values.push_back(static_cast<int>(std::strtol(at, &end, 10)));
    at = *end == ',' ? end + 1 : end + std::strlen(end);
  }
  return values;
}

Options Parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    const int value = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--decide") == 0) options.decide_sizes = ParseList(argv[i + 1]);
    if (std::strcmp(argv[i], "--failover") == 0) options.failover_packages = value;
    if (std::strcmp(argv[i], "--nodes") == 0) options.nodes = value;
    if (std::strcmp(argv[i], "--runs") == 0) options.runs = value;
    if (std::strcmp(argv[i], "--step") == 0) options.step_ms = value;
    if (std::strcmp(argv[i], "--heartbeat") == 0) options.heartbeat_ms = value;
    if (std::strcmp(argv[i], "--only") == 0) options.only = argv[i + 1];
    if (std::strcmp(argv[i], "--start-wait") == 0) options.start_wait_zero = value == 0;
  }
  if (options.decide_sizes.empty() && !options.failover_packages) {
    options.decide_sizes = {750, 1500, 3000, 6000};
    options.failover_packages = 3000;
  }
  options.nodes = std::max(options.nodes, 3);
  options.runs = std::max(options.runs, 1);
  options.step_ms = std::max(options.step_ms, 1);
  return options;
}

// NodeCluster's member names: n1, n2, ...
std::string MemberName(int node) { return "n" + std::to_string(node + 1); }

// `room`: total capacity over what the packages need (1.5 vCPUs and 2.5 GiB on average),
// spread unevenly: nodes get 0.8, 1 or 1.2 times their share. `varied`: every third
// package may run on only 8 nodes, and every fiftieth shares a disk with its neighbour
// (so one of the pair never runs); otherwise every package may run on every node.
cmcl::config::ClusterConfig Config(int packages, int nodes, double room, bool varied) {
  cmcl::test_support::ClusterBuilder cluster("bench");
  for (int node = 0; node < nodes; ++node) {
    const double share = room * (0.8 + 0.2 * (node % 3)) * packages / nodes;
    cluster.Node(MemberName(node),
                 SyntheticInventory(packages, node)
                     .Capacity(static_cast<uint32_t>(share * 1.5) + 4,
                               Gib(static_cast<uint64_t>(share * 2.5) + 8))
                     .Build());
  }
  for (int index = 0; index < packages; ++index) {
    char name[16];
    std::snprintf(name, sizeof name, "pkg%05d", index);
    const int span = varied && index % 3 == 2 ? 8 : 0;
    cmcl::config::PackageSpec package =
        SyntheticPackage(name, index, index % nodes, nodes, span, MemberName);
    if (!varied) package.guest.storage.front().path = DiskPath(index * 2);
    package.failover_policy = index % 2 == 0 ? cmcl::config::FailoverPolicy::kConfiguredNode
                                             : cmcl::config::FailoverPolicy::kMinPackageNode;
    if (index % 10 == 0) package.priority = static_cast<uint32_t>(1 + index % 3);
    cluster.Package(std::move(package));
  }
  return cluster.Build();
}

// --- Part "decide" ----------------------------------------------------------------------

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

// Every package assigned to, and reported started on, the first node of its list.
ClusterState AllUp(const cmcl::config::ClusterConfig& config) {
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

struct DecideTiming {
  double median_ms = 0;
  double min_ms = 0;
  size_t ops = 0;      // Ops in the decision.
  size_t assigns = 0;  // Of which AssignOps.
};

DecideTiming TimeDecide(int runs, const cmcl::config::ClusterConfig& config,
                        const cmcl::validation::ConfigIndex& index, const ClusterState& state,
                        const Liveness& liveness) {
  std::vector<double> ms;
  DecideTiming timing;
  for (int run = 0; run < runs; ++run) {
    const Clock::time_point start = Clock::now();
    const cmcl::node::Decision decision = cmcl::node::Decide(config, index, state, liveness);
    ms.push_back(Milliseconds(Clock::now() - start));
    timing.ops = decision.ops.size();
    timing.assigns = static_cast<size_t>(
        std::count_if(decision.ops.begin(), decision.ops.end(), [](const cmcl::node::Op& op) {
          return std::holds_alternative<cmcl::node::AssignOp>(op);
        }));
  }
  timing.median_ms = Median(ms);
  timing.min_ms = *std::min_element(ms.begin(), ms.end());
  return timing;
}

struct DecideResult {
  int packages = 0;
  size_t lost = 0;  // Packages node 0 held.
  DecideTiming steady;
  DecideTiming failover;
};

DecideResult MeasureDecide(const Options& options, int packages) {
  const cmcl::config::ClusterConfig config = Config(packages, options.nodes, 1.25, true);
  const cmcl::validation::ReportedInventories reported;
  const cmcl::validation::ConfigIndex index(config, reported);
  const ClusterState state = AllUp(config);
  DecideResult result;
  result.packages = packages;
  const NodeName lost(MemberName(0));
  for (const auto& [package, assignment] : state.assignments()) {
    result.lost += assignment.owner == lost ? 1u : 0u;
  }
  Liveness liveness;
  liveness.self = NodeName(MemberName(1));
  liveness.now = Time::FromMilliseconds(1'000'000);
  liveness.leader_since = liveness.now - Duration(60'000);
  for (int node = 0; node < options.nodes; ++node) liveness.up.insert(NodeName(MemberName(node)));
  liveness.reachable = liveness.up;
  if (options.only != "failover") {
    result.steady = TimeDecide(options.runs, config, index, state, liveness);
  }
  liveness.up.erase(lost);
  liveness.reachable.erase(lost);
  liveness.certain_expiry[lost] = liveness.now - Duration(1);
  if (options.only != "steady") {
    result.failover = TimeDecide(options.runs, config, index, state, liveness);
  }
  return result;
}

std::string DecideJson(const DecideResult& result, const DecideResult* previous) {
  const auto ns_per_package = [&](double ms) { return ms * 1e6 / result.packages; };
  const auto ratio = [](double now, double before) { return before > 0 ? now / before : 0.0; };
  char text[640];
  std::snprintf(
      text, sizeof text,
      "{\"packages\":%d,\"lost\":%zu,\"steady_ms_median\":%.3f,\"steady_ms_min\":%.3f,"
      "\"steady_ns_per_package\":%.0f,\"steady_ops\":%zu,\"failover_ms_median\":%.3f,"
      "\"failover_ms_min\":%.3f,\"failover_ns_per_package\":%.0f,\"failover_ops\":%zu,"
      "\"failover_assigns\":%zu,\"steady_ratio_to_previous\":%.2f,"
      "\"failover_ratio_to_previous\":%.2f}",
      result.packages, result.lost, result.steady.median_ms, result.steady.min_ms,
      ns_per_package(result.steady.median_ms), result.steady.ops, result.failover.median_ms,
      result.failover.min_ms, ns_per_package(result.failover.median_ms), result.failover.ops,
      result.failover.assigns,
      previous ? ratio(result.steady.median_ms, previous->steady.median_ms) : 0.0,
      previous ? ratio(result.failover.median_ms, previous->failover.median_ms) : 0.0);
  return text;
}

void RunDecide(const Options& options) {
  std::printf("{\"benchmark\":\"packages\",\"part\":\"decide\",\"nodes\":%d,\"runs\":%d,"
              "\"sizes\":[",
              options.nodes, options.runs);
  std::optional<DecideResult> previous;
  for (size_t i = 0; i < options.decide_sizes.size(); ++i) {
    const DecideResult result = MeasureDecide(options, options.decide_sizes[i]);
    std::printf("%s%s", i == 0 ? "" : ",",
                DecideJson(result, previous ? &*previous : nullptr).c_str());
    std::fflush(stdout);
    previous = result;
  }
  std::printf("]}\n");
}

// --- Part "failover" --------------------------------------------------------------------

using cmcl::node::testing::NodeCluster;

// One step of simulated time, with every queued delivery and completion done.
void Advance(NodeCluster& cluster, int step_ms) {
  cluster.RunFor(Duration(step_ms), Duration(step_ms));
  while (!cluster.Settled()) cluster.Settle();
}

const cmcl::node::Node* LeaderNode(NodeCluster& cluster) {
  const std::optional<std::string> leader = cluster.Leader();
  return leader ? &cluster.node(*leader) : nullptr;
}

// Packages the leader's applied state shows started (on any node).
size_t StartedCount(NodeCluster& cluster) {
  const cmcl::node::Node* leader = LeaderNode(cluster);
  if (leader == nullptr) return 0;
  size_t started = 0;
  for (const auto& [package, assignment] : leader->state().assignments()) {
    started += assignment.status == AssignmentStatus::kStarted ? 1u : 0u;
  }
  return started;
}

// Runs until the started count has not changed for `quiet` (and is not zero), or
// `limit` passed; returns the count.
size_t RunUntilQuiet(NodeCluster& cluster, int step_ms, Duration quiet, Duration limit) {
  const Time start = cluster.now;
  size_t started = 0;
  Time changed = cluster.now;
  while (cluster.now - start < limit) {
    Advance(cluster, step_ms);
    const size_t now_started = StartedCount(cluster);
    if (now_started != started) {
      started = now_started;
      changed = cluster.now;
    } else if (started > 0 && cluster.now - changed >= quiet) {
      break;
    }
  }
  return started;
}

// The member (not the leader) that the leader's state shows holding the most started
// packages, and those packages.
std::pair<std::string, std::set<PackageName>> Victim(NodeCluster& cluster) {
  const cmcl::node::Node& leader = *LeaderNode(cluster);
  std::map<NodeName, std::set<PackageName>> held;
  for (const auto& [package, assignment] : leader.state().assignments()) {
    if (assignment.status == AssignmentStatus::kStarted && assignment.owner &&
        *assignment.owner != leader.self()) {
      held[*assignment.owner].insert(package);
    }
  }
  std::pair<std::string, std::set<PackageName>> victim;
  for (auto& [node, packages] : held) {
    if (packages.size() > victim.second.size()) victim = {node.value(), std::move(packages)};
  }
  return victim;
}

struct FailoverTimes {
  std::optional<Time> expiry;        // The leader's certain expiry of the victim's lease.
  std::optional<Time> first_assign;  // Some lost package assigned elsewhere.
  std::optional<Time> all_assigned;  // Every lost package assigned elsewhere.
  std::optional<Time> all_running;   // Every lost package running on its new owner.
  std::optional<Time> all_started;   // Every lost package started and running elsewhere.
  size_t started_elsewhere = 0;
};

// Updates `times` from the leader's applied state and the fake hosts.
void Observe(NodeCluster& cluster, const std::string& victim,
             const std::set<PackageName>& lost, FailoverTimes& times) {
  const cmcl::node::Node* leader = LeaderNode(cluster);
  if (leader == nullptr) return;
  if (!times.expiry) {
    const NodeName gone(victim);
    times.expiry = leader->raft().CertainExpiry(gone, leader->state().WaitFor(gone));
  }
  size_t assigned = 0;
  size_t running = 0;
  size_t started = 0;
  for (const PackageName& package : lost) {
    const cmcl::node::Assignment* a = leader->state().Find(package);
    if (a == nullptr || !a->owner || a->owner->value() == victim) continue;
    ++assigned;
    const std::vector<std::string> holders = cluster.Holders(package.value());
    const bool runs = holders.size() == 1 && holders.front() == a->owner->value();
    running += runs ? 1u : 0u;
    started += runs && a->status == AssignmentStatus::kStarted ? 1u : 0u;
  }
  if (assigned > 0 && !times.first_assign) times.first_assign = cluster.now;
  if (assigned == lost.size() && !times.all_assigned) times.all_assigned = cluster.now;
  if (running == lost.size() && !times.all_running) times.all_running = cluster.now;
  if (started == lost.size() && !times.all_started) times.all_started = cluster.now;
  times.started_elsewhere = started;
}

long long Since(Time from, const std::optional<Time>& to) {
  return to ? static_cast<long long>((*to - from).count()) : -1;
}

void RunFailover(const Options& options) {
  const int packages = *options.failover_packages;
  NodeCluster cluster(static_cast<size_t>(options.nodes), {});
  cluster.options().raft.heartbeat_interval = Duration(options.heartbeat_ms);
  // Every package can run on every node, with room for all of them on a bare majority:
  // the coordinator never has a "no node can run it" note to write, whatever members
  // are caught up when it starts the cluster (docs/BENCHMARKS.md says why that matters).
  cmcl::config::ClusterConfig config = Config(packages, options.nodes, 3.0, false);
  // Initial placement at once (as after `cluster run`): the start-up is not measured.
  if (options.start_wait_zero) config.cluster_start_wait = Duration(0);
  cluster.options().config = std::make_shared<const cmcl::config::ClusterConfig>(config);
  // Wall clock moves with the machine's load; the process's CPU time much less.
  const Clock::time_point setup_start = Clock::now();
  const std::clock_t setup_cpu = std::clock();
  cluster.StartAll();
  const size_t started =
      RunUntilQuiet(cluster, options.step_ms, Duration(3'000), Duration(120'000));
  const double setup_wall_s = Milliseconds(Clock::now() - setup_start) / 1000.0;
  const double setup_cpu_s = static_cast<double>(std::clock() - setup_cpu) / CLOCKS_PER_SEC;
  const Time setup_sim = cluster.now;
  const std::string leader = cluster.Leader().value_or("none");
  const auto [victim, lost] = Victim(cluster);

  const Clock::time_point failover_start = Clock::now();
  const std::clock_t failover_cpu = std::clock();
  const Time crash = cluster.now;
  cluster.NodeCrash(victim);
  FailoverTimes times;
  while (!times.all_started && cluster.now - crash < Duration(60'000)) {
    Advance(cluster, options.step_ms);
    Observe(cluster, victim, lost, times);
  }
  const double failover_wall_ms = Milliseconds(Clock::now() - failover_start);
  const double failover_cpu_ms =
      static_cast<double>(std::clock() - failover_cpu) * 1000.0 / CLOCKS_PER_SEC;
  std::printf(
      "{\"benchmark\":\"packages\",\"part\":\"failover\",\"nodes\":%d,\"packages\":%d,"
      "\"step_ms\":%d,\"heartbeat_ms\":%d,\"started_before_crash\":%zu,\"setup_sim_ms\":%lld,"
      "\"setup_wall_s\":%.1f,\"setup_cpu_s\":%.1f,\"leader\":\"%s\",\"crashed\":\"%s\","
      "\"lost\":%zu,\"lease_wait_ms\":%lld,\"first_assign_ms\":%lld,\"all_assigned_ms\":%lld,"
      "\"all_running_ms\":%lld,\"all_started_ms\":%lld,\"started_elsewhere\":%zu,"
      "\"failover_wall_ms\":%.1f,\"failover_cpu_ms\":%.1f}\n",
      options.nodes, packages, options.step_ms, options.heartbeat_ms, started,
      static_cast<long long>(setup_sim.milliseconds()), setup_wall_s, setup_cpu_s,
      leader.c_str(), victim.c_str(), lost.size(), Since(crash, times.expiry),
      Since(crash, times.first_assign), Since(crash, times.all_assigned),
      Since(crash, times.all_running), Since(crash, times.all_started), times.started_elsewhere,
      failover_wall_ms, failover_cpu_ms);
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = Parse(argc, argv);
  if (!options.decide_sizes.empty()) RunDecide(options);
  if (options.failover_packages) RunFailover(options);
  return 0;
}
