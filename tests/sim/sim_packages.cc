#include "tests/sim/sim_packages.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "cmcld/core/common/check.h"
#include "tests/support/config_builder.h"

namespace cmcl::sim {
namespace {

using test_support::ClusterBuilder;
using test_support::Gib;
using test_support::InventoryBuilder;
using test_support::PackageBuilder;

template <typename T>
T Pick(Rng& rng, const std::vector<T>& choices) {
  return choices[rng.Uniform(choices.size())];
}

std::string WwidText(size_t package, bool odd) {
  char text[40];
  std::snprintf(text, sizeof text, "0x600508b4%04x%04x", odd ? 0xbad0u : 0u,
                static_cast<unsigned>(package));
  return text;
}

std::string DiskPath(size_t package) { return "/dev/rdisk/p" + std::to_string(package); }

// How package k's environment differs on one node (the node `odd` names).
enum class Oddity { kNone, kWwid, kMissingDisk, kNoVsw1, kVsw1OtherNic };

struct PackagePlan {
  std::vector<NodeName> nodes;
  bool all_nodes = false;
  bool uses_vsw1 = false;
  Oddity oddity = Oddity::kNone;
  NodeName odd;
};

PackagePlan PlanPackage(Rng& rng, const SimOptions& options, const std::vector<NodeName>& members) {
  PackagePlan plan;
  if (!options.package_variety) {
    plan.all_nodes = true;
    plan.nodes = members;
    return plan;
  }
  std::vector<NodeName> order = members;
  for (size_t i = order.size(); i > 1; --i) {
    std::swap(order[i - 1], order[rng.Uniform(i)]);
  }
  if (rng.Chance(1, 6)) {
    plan.all_nodes = true;
    plan.nodes = members;
  } else {
    const size_t count =
        static_cast<size_t>(rng.Between(static_cast<int64_t>(std::min<size_t>(2, order.size())),
                                        static_cast<int64_t>(order.size())));
    plan.nodes.assign(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(count));
  }
  plan.uses_vsw1 = rng.Chance(1, 3);
  if (rng.Chance(1, 3)) {
    plan.odd = plan.nodes[rng.Uniform(plan.nodes.size())];
    plan.oddity = Pick(rng, std::vector<Oddity>{Oddity::kWwid, Oddity::kMissingDisk,
                                                Oddity::kNoVsw1, Oddity::kVsw1OtherNic});
    if (!plan.uses_vsw1 &&
        (plan.oddity == Oddity::kNoVsw1 || plan.oddity == Oddity::kVsw1OtherNic)) {
      plan.uses_vsw1 = true;
    }
  }
  return plan;
}

PackageBehaviour PickBehaviour(Rng& rng, const SimOptions& options, const PackagePlan& plan) {
  PackageBehaviour behaviour;
  if (!options.package_faults) {
    return behaviour;
  }
  const uint64_t kind = rng.Uniform(8);
  if (kind < 2) {  // Flaky.
    behaviour.exit1 = Pick(rng, std::vector<double>{0.0, 0.02, 0.05});
    behaviour.exit2 = Pick(rng, std::vector<double>{0.05, 0.15, 0.3});
    behaviour.hang = Pick(rng, std::vector<double>{0.0, 0.05, 0.15});
    behaviour.survive = Pick(rng, std::vector<double>{0.0, 0.3, 0.7});
    behaviour.halt_fail = Pick(rng, std::vector<double>{0.0, 0.05, 0.2});
    behaviour.halt_hang = Pick(rng, std::vector<double>{0.0, 0.02, 0.1});
    behaviour.die = Pick(rng, std::vector<double>{0.0, 0.05, 0.2});
  } else if (kind == 2 && plan.nodes.size() >= 2) {  // Bad on one node (sometimes two).
    behaviour.bad_on.insert(plan.nodes[rng.Uniform(plan.nodes.size())]);
    if (plan.nodes.size() >= 3 && rng.Chance(1, 3)) {
      behaviour.bad_on.insert(plan.nodes[rng.Uniform(plan.nodes.size())]);
    }
  }
  return behaviour;
}

config::PackageSpec BuildSpec(Rng& rng, const SimOptions& options, size_t k,
                              const PackagePlan& plan) {
  PackageBuilder builder("p" + std::to_string(k));
  if (plan.all_nodes) {
    builder.AllNodes();
  } else {
    std::vector<std::string> nodes;
    for (const NodeName& node : plan.nodes) nodes.push_back(node.value());
    builder.Nodes(nodes);
  }
  builder.Vcpus(static_cast<uint32_t>(rng.Between(1, 3)))
      .Memory(Gib(static_cast<uint64_t>(rng.Between(1, 3))))
      .Disk(DiskPath(k), WwidText(k, false))
      .Network("vsw0");
  if (plan.uses_vsw1) {
    builder.Network("vsw1", "lan1");
  }
  config::PackageSpec spec = builder.Build();
  if (!options.package_variety) {
    // Spread over the members as issue 6's resources were (the lease scenarios need a
    // package on the leader and one on a follower).
    spec.failover_policy = config::FailoverPolicy::kMinPackageNode;
    return spec;
  }
  spec.auto_run = !rng.Chance(1, 8);
  spec.failover_policy = rng.Chance(1, 2) ? config::FailoverPolicy::kConfiguredNode
                                          : config::FailoverPolicy::kMinPackageNode;
  spec.failback_policy =
      rng.Chance(1, 4) ? config::FailbackPolicy::kAutomatic : config::FailbackPolicy::kManual;
  spec.max_restarts = static_cast<uint32_t>(rng.Between(0, 2));
  spec.run_timeout = Duration(Pick(rng, options.run_timeouts));
  spec.halt_timeout = Duration(Pick(rng, options.run_timeouts));
  spec.kill_timeout = Duration(Pick(rng, std::vector<int64_t>{20, 100, 200}));
  return spec;
}

inventory::NodeInventory BuildInventory(Rng& rng, const SimOptions& options, const NodeName& node,
                                        const std::vector<PackagePlan>& plans) {
  InventoryBuilder inventory;
  if (options.package_variety) {
    inventory.Capacity(static_cast<uint32_t>(Pick(rng, std::vector<int64_t>{4, 6, 8})),
                       Gib(static_cast<uint64_t>(Pick(rng, std::vector<int64_t>{6, 8, 16}))));
  } else {
    inventory.Capacity(1000, Gib(10'000));
  }
  bool has_vsw1 = true;
  std::string vsw1_nic = "lan1";
  for (size_t k = 1; k <= plans.size(); ++k) {
    const PackagePlan& plan = plans[k - 1];
    const bool odd = plan.oddity != Oddity::kNone && plan.odd == node;
    if (odd && plan.oddity == Oddity::kMissingDisk) {
      continue;
    }
    inventory.Disk(DiskPath(k), WwidText(k, odd && plan.oddity == Oddity::kWwid));
    has_vsw1 = has_vsw1 && !(odd && plan.oddity == Oddity::kNoVsw1);
    if (odd && plan.oddity == Oddity::kVsw1OtherNic) {
      vsw1_nic = "lan2";
    }
  }
  inventory.Vswitch("vsw0", "lan0");
  if (has_vsw1) {
    inventory.Vswitch("vsw1", vsw1_nic);
  }
  return inventory.Build();
}

}  // namespace

const PackageBehaviour& SimPackages::Of(const PackageName& package) const {
  const auto it = behaviour.find(package);
  CMCL_CHECK(it != behaviour.end()) << "no behaviour for " << package;
  return it->second;
}

const config::PackageSpec& SimPackages::Spec(const PackageName& package) const {
  const config::PackageSpec* spec = config->FindPackage(package);
  CMCL_CHECK(spec != nullptr) << "not configured: " << package;
  return *spec;
}

std::string SimPackages::Describe() const {
  std::ostringstream out;
  std::string separator;
  for (const PackageName& name : names) {
    const PackageBehaviour& b = Of(name);
    const config::PackageSpec& spec = Spec(name);
    out << separator << name << ":";
    separator = " ";
    if (!b.bad_on.empty()) {
      out << "bad_on(";
      std::string comma;
      for (const NodeName& node : b.bad_on) {
        out << comma << node;
        comma = ",";
      }
      out << ")";
    } else {
      out << (b.Healthy() ? "healthy" : "flaky");
    }
    out << (spec.auto_run ? "" : ",manual") << ",r" << spec.max_restarts
        << (spec.failover_policy == config::FailoverPolicy::kMinPackageNode ? ",min" : "")
        << (spec.failback_policy == config::FailbackPolicy::kAutomatic ? ",failback" : "");
    if (spec.priority) {
      out << ",prio" << *spec.priority << (spec.displace_lower_priority ? ",displace" : "");
    }
    for (const config::Dependency& dependency : spec.depends_on) {
      out << ",dep(" << dependency.package
          << (dependency.location == config::DependencyLocation::kSameNode ? ",same" : "") << ")";
    }
  }
  return out.str();
}

void ApplySimTimings(const SimOptions& options, config::ClusterConfig& config) {
  config.node_timeout = options.node_timeout;
  config.heartbeat_interval = options.heartbeat_interval;
  config.fence_timeout = options.fence_timeout;
  config.clock_drift_max =
      Percentage::FromPartsPerMillion(static_cast<uint32_t>(options.clock_drift_max_ppm));
  config.cluster_start_wait = options.cluster_start_wait;
}

SimPackages MakeSimPackages(const SimOptions& options, const std::vector<NodeName>& voters,
                            Rng rng) {
  std::vector<NodeName> members;
  for (const NodeName& voter : voters) {
    if (voter.value() != "arb") members.push_back(voter);
  }
  std::vector<PackagePlan> plans;
  SimPackages packages;
  for (int k = 1; k <= options.packages; ++k) {
    plans.push_back(PlanPackage(rng, options, members));
  }
  ClusterBuilder cluster("sim");
  for (const NodeName& voter : voters) {
    if (voter.value() == "arb") {
      cluster.Arbitrator(voter.value());
    } else {
      cluster.Node(voter.value(), BuildInventory(rng, options, voter, plans));
    }
  }
  // Issue 10: priorities and displace_lower_priority from a stream of their own (Fork
  // is const), so every other choice of a seed stays what it was.
  Rng priorities = rng.Fork("priorities");
  for (size_t k = 1; k <= plans.size(); ++k) {
    config::PackageSpec spec = BuildSpec(rng, options, k, plans[k - 1]);
    if (options.package_variety && priorities.Chance(1, 2)) {
      spec.priority = static_cast<uint32_t>(10 * priorities.Between(1, 4));
      spec.displace_lower_priority = priorities.Chance(1, 3);
    }
    if (options.package_variety && k >= 2 && rng.Chance(1, 4)) {
      // depends_on an earlier package (so never a cycle). A same_node dependent whose
      // node list misses its dependency's node waits there: that path is attacked too.
      const size_t on = 1 + rng.Uniform(k - 1);
      spec.depends_on.push_back(
          config::Dependency{.package = PackageName("p" + std::to_string(on)),
                             .location = rng.Chance(1, 2) ? config::DependencyLocation::kSameNode
                                                          : config::DependencyLocation::kAnyNode});
    }
    packages.behaviour[spec.name] = PickBehaviour(rng, options, plans[k - 1]);
    packages.names.push_back(spec.name);
    cluster.Package(std::move(spec));
  }
  config::ClusterConfig config = cluster.Build();
  ApplySimTimings(options, config);
  config.shutdown_policy =
      rng.Chance(1, 2) ? config::ShutdownPolicy::kMigrate : config::ShutdownPolicy::kHalt;
  config.allow_two_node_without_arbitrator = true;
  packages.config = std::make_shared<const config::ClusterConfig>(std::move(config));
  return packages;
}

}  // namespace cmcl::sim
