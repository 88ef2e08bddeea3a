// lease_bench: failover times under leases, in simulated time (issue 6 item 7; DESIGN.md
// section 4). Not a test: it prints one JSON line.
//
// For each (node_timeout, heartbeat_interval) in {1s, 2s} x {100ms, 200ms}, with
// fence_timeout = min(300ms, the largest DESIGN.md's rule allows), it runs --seeds
// seeds of the deterministic simulator (3 members, no random faults, no message loss,
// per-node clocks with random offsets and drifts within 0.1%, network delay 1-40ms)
// and measures, from the instant of a node crash (power loss: guard and guests die):
//
//  (i)  holder:      a resource's holder (not the coordinator) crashes -> the
//                    resource's reassignment is committed (a node applied the assign);
//  (ii) coordinator: the coordinator crashes -> a new coordinator is *able* to reassign
//                    the old one's resources: it leads, has applied an entry of its own
//                    term (N1) and its CertainExpiry for the old coordinator (L4/N2)
//                    has passed; and, for runs where the old coordinator held a
//                    resource, -> that resource's reassignment is committed.
//
// The cluster first settles (every resource started) before the crash. Results and the
// command: docs/BENCHMARKS.md.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tests/sim/simulation.h"

namespace {

using cmcl::Duration;
using cmcl::NodeName;
using cmcl::PackageName;
using cmcl::Time;
using cmcl::sim::SimOptions;
using cmcl::sim::internal::Simulation;

constexpr Duration kStep = Duration(1);  // Polling resolution of the measurements.

SimOptions BenchOptions(uint64_t seed, Duration node_timeout, Duration heartbeat) {
  SimOptions options;
  options.seed = seed;
  options.members = 3;
  options.loss = 0;
  options.duplication = 0;
  options.nemeses = {};
  options.outcasts = 0;
  options.fault_phase = Duration(1'000'000);
  options.node_timeout = node_timeout;
  options.heartbeat_interval = heartbeat;
  const Duration rule_max = node_timeout - 3 * heartbeat - Duration(300);
  options.fence_timeout = std::min(Duration(300), rule_max);
  options.clients = 2;
  options.operator_chance = 0;  // No operator commands: only the crash moves packages.
  options.disarm_chance = 0;
  options.package_faults = false;  // Scripts succeed: the numbers are the lease's.
  options.package_variety = false;
  options.cluster_start_wait = Duration(0);
  return options;
}

// The leader's view, or nullptr.
const cmcl::node::Node* LeaderCore(const Simulation& sim) {
  const std::optional<NodeName> leader = sim.Leader();
  return leader ? sim.Core(leader->value()) : nullptr;
}

bool AllStarted(const Simulation& sim, int resources) {
  const cmcl::node::Node* leader = LeaderCore(sim);
  if (leader == nullptr) {
    return false;
  }
  for (int r = 1; r <= resources; ++r) {
    const cmcl::node::Assignment* a = leader->state().Find(PackageName("p" + std::to_string(r)));
    if (a == nullptr || a->status != cmcl::node::AssignmentStatus::kStarted) {
      return false;
    }
  }
  return true;
}

// Runs until `done` or `limit`; the simulated time it took, or nullopt.
std::optional<int64_t> RunUntilTrue(Simulation& sim, Duration limit,
                                    const std::function<bool()>& done) {
  const Time start = sim.now();
  while (sim.now() - start < limit) {
    if (!sim.RunUntil(sim.now() + kStep)) {
      std::fprintf(stderr, "lease_bench: violation: %s\n", sim.violation()->c_str());
      std::exit(1);
    }
    if (done()) {
      return (sim.now() - start).count();
    }
  }
  return std::nullopt;
}

// True if some running node applied an assignment of `resource` other than `epoch`.
bool Reassigned(const Simulation& sim, const PackageName& resource, cmcl::raft::LogIndex epoch) {
  for (const NodeName& name : sim.Names()) {
    const cmcl::node::Node* core = sim.Core(name.value());
    const cmcl::node::Assignment* a = core ? core->state().Find(resource) : nullptr;
    if (a != nullptr && a->epoch != epoch) {
      return true;
    }
  }
  return false;
}

// (ii): a leader other than `old` that applied an entry of its term and whose certain
// expiry for `old` has passed on its clock.
bool CoordinatorAble(const Simulation& sim, const NodeName& old) {
  const std::optional<NodeName> leader = sim.Leader();
  if (!leader || *leader == old) {
    return false;
  }
  const cmcl::node::Node& core = *sim.Core(leader->value());
  const cmcl::raft::Raft& raft = core.raft();
  const std::vector<cmcl::raft::Entry>& log = raft.log();
  if (log.empty() || log.back().term != raft.term()) {
    return false;
  }
  cmcl::raft::LogIndex first_of_term = log.back().index;
  for (auto it = log.rbegin(); it != log.rend() && it->term == raft.term(); ++it) {
    first_of_term = it->index;
  }
  const std::optional<Time> expiry = raft.CertainExpiry(old, core.state().WaitFor(old));
  return raft.applied_index() >= first_of_term && expiry &&
         sim.LocalTime(leader->value()) >= *expiry;
}

struct Samples {
  std::vector<int64_t> values;
  int failed = 0;  // Never happened within the limit.
};

std::string Summary(Samples& samples) {
  std::vector<int64_t>& v = samples.values;
  std::sort(v.begin(), v.end());
  char text[200];
  if (v.empty()) {
    std::snprintf(text, sizeof text, "{\"n\":0,\"failed\":%d}", samples.failed);
    return text;
  }
  const auto at = [&](double q) {
    return v[static_cast<size_t>(q * static_cast<double>(v.size() - 1))];
  };
  std::snprintf(text, sizeof text,
                "{\"n\":%zu,\"failed\":%d,\"min\":%lld,\"median\":%lld,\"p99\":%lld,\"max\":%lld}",
                v.size(), samples.failed, static_cast<long long>(v.front()),
                static_cast<long long>(at(0.5)), static_cast<long long>(at(0.99)),
                static_cast<long long>(v.back()));
  return text;
}

// One seed, one crash kind. Returns false if the cluster did not settle.
bool RunHolderCrash(const SimOptions& options, Samples& reassign) {
  const std::function<void(const std::string&)> no_trace;
  Simulation sim(options, no_trace);
  sim.Setup();
  if (!RunUntilTrue(sim, Duration(30'000), [&] { return AllStarted(sim, options.packages); })) {
    return false;
  }
  sim.RunUntil(sim.now() + Duration(500));
  const cmcl::node::Node* leader = LeaderCore(sim);
  for (int r = 1; r <= options.packages && leader != nullptr; ++r) {
    const PackageName resource("p" + std::to_string(r));
    const cmcl::node::Assignment* a = leader->state().Find(resource);
    if (a == nullptr || !a->owner || *a->owner == leader->self()) {
      continue;
    }
    const cmcl::raft::LogIndex epoch = a->epoch;
    sim.CrashWhole(a->owner->value());
    const std::optional<int64_t> took =
        RunUntilTrue(sim, Duration(60'000), [&] { return Reassigned(sim, resource, epoch); });
    took ? reassign.values.push_back(*took) : static_cast<void>(++reassign.failed);
    return true;
  }
  return false;  // Every resource on the coordinator: no holder to crash.
}

bool RunCoordinatorCrash(const SimOptions& options, Samples& able, Samples& reassign) {
  const std::function<void(const std::string&)> no_trace;
  Simulation sim(options, no_trace);
  sim.Setup();
  if (!RunUntilTrue(sim, Duration(30'000), [&] { return AllStarted(sim, options.packages); })) {
    return false;
  }
  sim.RunUntil(sim.now() + Duration(500));
  const cmcl::node::Node* leader = LeaderCore(sim);
  if (leader == nullptr) {
    return false;
  }
  const NodeName old = leader->self();
  std::optional<std::pair<PackageName, cmcl::raft::LogIndex>> held;
  for (const auto& [resource, a] : leader->state().assignments()) {
    if (a.owner == old) {
      held = std::make_pair(resource, a.epoch);
    }
  }
  sim.CrashWhole(old.value());
  const Time crashed = sim.now();
  const std::optional<int64_t> took =
      RunUntilTrue(sim, Duration(60'000), [&] { return CoordinatorAble(sim, old); });
  took ? able.values.push_back(*took) : static_cast<void>(++able.failed);
  if (held) {
    const std::optional<int64_t> more = RunUntilTrue(
        sim, Duration(60'000), [&] { return Reassigned(sim, held->first, held->second); });
    more ? reassign.values.push_back((sim.now() - crashed).count())
         : static_cast<void>(++reassign.failed);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t seeds = 200;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--seeds") == 0) {
      seeds = std::strtoull(argv[i + 1], nullptr, 10);
    }
  }
  std::printf(
      "{\"bench\":\"lease_failover\",\"seeds\":%llu,\"unit\":\"simulated ms\",\"results\":[",
      static_cast<unsigned long long>(seeds));
  const char* separator = "";
  for (const int64_t node_timeout : {1000, 2000}) {
    for (const int64_t heartbeat : {100, 200}) {
      Samples holder;
      Samples able;
      Samples coordinator_reassign;
      int unsettled = 0;
      for (uint64_t seed = 1; seed <= seeds; ++seed) {
        const SimOptions options = BenchOptions(seed, Duration(node_timeout), Duration(heartbeat));
        unsettled += RunHolderCrash(options, holder) ? 0 : 1;
        unsettled += RunCoordinatorCrash(options, able, coordinator_reassign) ? 0 : 1;
      }
      const SimOptions shown = BenchOptions(1, Duration(node_timeout), Duration(heartbeat));
      std::printf(
          "%s{\"node_timeout_ms\":%lld,\"heartbeat_ms\":%lld,\"fence_timeout_ms\":%lld,"
          "\"skipped\":%d,\"holder_crash_to_reassign\":%s,\"coordinator_crash_to_able\":%s,"
          "\"coordinator_crash_to_reassign\":%s}",
          separator, static_cast<long long>(node_timeout), static_cast<long long>(heartbeat),
          static_cast<long long>(shown.fence_timeout.count()), unsettled, Summary(holder).c_str(),
          Summary(able).c_str(), Summary(coordinator_reassign).c_str());
      std::fflush(stdout);
      separator = ",";
    }
  }
  std::printf("]}\n");
  return 0;
}
