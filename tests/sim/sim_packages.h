// SimPackages: the packages of one simulated cluster (issue 7) — the configuration the
// cores get (NodeOptions::config) and how each package's scripts and guest behave on
// the simulated hosts (sim_host.h).
//
// The configuration is drawn from the seed: members n1..nN (and the arbitrator),
// packages p1..pK with node lists, guest sizes, a disk each (WWID pinned in the spec),
// vswitches, failover_policy configured_node or min_package_node, failback manual or
// automatic, max_restarts 0-2, auto_run mostly true, and short run/halt/kill timeouts
// (simulated time). Inventories DIFFER between nodes, so that validation has work to
// do: some package's disk has another WWID on one node (wwid_mismatch) or is missing
// there (device_missing); vswitch vsw1 is missing on one node or sits on another NIC
// (vswitch_mismatch); capacities are small enough that a node fills up
// (insufficient_capacity).
//
// Behaviour, also from the seed: most packages are healthy (the run script takes a
// random time and exits 0; the halt script stops the guest); some are flaky (the run
// script exits 1 or 2, hangs past run_timeout, and may leave the guest running when it
// fails; the halt script fails or hangs and may leave the guest running; a running
// guest may die on its own); some are "bad on" a few nodes: the run script exits 2
// there, always (a node-specific fault validation cannot see). Once the faults heal
// (SimHost::Calm) flaky packages behave, "bad on" ones stay bad.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cmcld/core/common/names.h"
#include "cmcld/core/common/rng.h"
#include "cmcld/core/config/cluster_config.h"
#include "tests/sim/sim_options.h"

namespace cmcl::sim {

struct PackageBehaviour {
  // Run script: exits 1, exits 2, or hangs (past run_timeout) with these chances.
  double exit1 = 0.0;
  double exit2 = 0.0;
  double hang = 0.0;
  // A failed run script (or a failed halt script) leaves the guest running.
  double survive = 0.0;
  // Halt script: fails (exit 1) or hangs past halt_timeout.
  double halt_fail = 0.0;
  double halt_hang = 0.0;
  // A guest that came up dies on its own some time later.
  double die = 0.0;
  std::set<NodeName> bad_on = {};  // The run script exits 2 on these nodes, always.
  // Scenarios: the first N runs on a node exit 2 (counted per host power-on), then 0.
  std::map<NodeName, int> fail_first = {};

  bool Healthy() const {
    return exit1 == 0 && exit2 == 0 && hang == 0 && halt_fail == 0 && halt_hang == 0 &&
           die == 0 && bad_on.empty() && fail_first.empty();
  }
};

struct SimPackages {
  std::shared_ptr<const config::ClusterConfig> config;
  std::map<PackageName, PackageBehaviour> behaviour;
  std::vector<PackageName> names;  // p1..pK, in configuration order.

  const PackageBehaviour& Of(const PackageName& package) const;
  const config::PackageSpec& Spec(const PackageName& package) const;
  // "p1:healthy p2:flaky p3:bad_on(n2)" for line 1 of a run.
  std::string Describe() const;
};

// The cluster-wide settings the simulator's options decide (node_timeout, heartbeat,
// fence_timeout, drift bound, cluster_start_wait), written into `config`.
void ApplySimTimings(const SimOptions& options, config::ClusterConfig& config);

// `voters`: every voter's name (members n1..nN, "arb" an arbitrator), sorted.
SimPackages MakeSimPackages(const SimOptions& options, const std::vector<NodeName>& voters,
                            Rng rng);

}  // namespace cmcl::sim
