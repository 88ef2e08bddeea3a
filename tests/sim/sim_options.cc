#include "tests/sim/sim_options.h"

#include <sstream>
#include <vector>

#include "cmcld/core/common/rng.h"

namespace cmcl::sim {
namespace {

template <typename T>
T Pick(Rng& rng, const std::vector<T>& choices) {
  return choices[rng.Uniform(choices.size())];
}

}  // namespace

SimOptions OptionsFromSeed(uint64_t seed, std::optional<int> members_override, bool swarm) {
  Rng rng = Rng(seed).Fork("options");
  SimOptions options;
  options.seed = seed;
  options.swarm = swarm;
  // Drawn even when overridden, so that --nodes does not shift the draws after it.
  const int members = Pick(rng, std::vector<int>{2, 3, 5, 7});
  options.members = members_override ? *members_override : members;
  options.arbitrator = options.members == 2;
  options.entries_per_message_max = Pick(rng, std::vector<uint64_t>{1, 8, 64});
  Rng snapshots = Rng(seed).Fork("snapshots");  // Own stream: shifts no other draw.
  options.compact_every = Pick(snapshots, std::vector<uint64_t>{0, 20, 35, 50});
  options.compact_keep_entries = Pick(snapshots, std::vector<uint64_t>{0, 2, 10});
  if (!swarm) {
    return options;
  }
  options.delay_max = Duration(Pick(rng, std::vector<int64_t>{5, 40, 150}));
  options.loss = Pick(rng, std::vector<double>{0.0, 0.01, 0.05, 0.2});
  options.duplication = Pick(rng, std::vector<double>{0.0, 0.02, 0.1});
  options.delay_far = Pick(rng, std::vector<double>{0.0, 0.002, 0.02});
  options.partitions = rng.Chance(3, 4);
  options.partition_interval_min = Duration(Pick(rng, std::vector<int64_t>{300, 1500, 5000}));
  options.crashes = rng.Chance(3, 4);
  options.crash_interval_mean = Duration(Pick(rng, std::vector<int64_t>{1000, 5000, 15000}));
  options.downtime_max = Duration(Pick(rng, std::vector<int64_t>{100, 1000, 6000}));
  options.disk_latency_max = Duration(Pick(rng, std::vector<int64_t>{1, 15, 200}));
  options.clients = static_cast<int>(rng.Between(1, 5));
  return options;
}

std::string DescribeOptions(const SimOptions& o) {
  std::ostringstream out;
  out << "seed=" << o.seed << " nodes=" << o.members << (o.arbitrator ? "+arbitrator" : "")
      << " swarm=" << (o.swarm ? 1 : 0)
      << " mutation=" << (o.mutation_name.empty() ? "none" : o.mutation_name)
      << " node_timeout=" << o.node_timeout.count()
      << "ms heartbeat=" << o.heartbeat_interval.count() << "ms delay=" << o.delay_min.count()
      << ".." << o.delay_max.count() << "ms loss=" << o.loss << " dup=" << o.duplication
      << " far=" << o.delay_far
      << " partitions=" << (o.partitions ? o.partition_interval_min.count() : 0) << "ms"
      << " crashes=" << (o.crashes ? o.crash_interval_mean.count() : 0) << "ms"
      << " downtime<=" << o.downtime_max.count() << "ms disk<=" << o.disk_latency_max.count()
      << "ms batch=" << o.entries_per_message_max << " compact=" << o.compact_every << "/keep"
      << o.compact_keep_entries << " clients=" << o.clients << " faults=" << o.fault_phase.count()
      << "ms liveness<=" << o.liveness_bound.count() << "ms";
  return out.str();
}

const std::vector<std::string>& MutationNames() {
  static const std::vector<std::string> names = {
      "commit_previous_term_by_count", "vote_not_persisted", "vote_without_log_check",
      "snapshot_ack_before_persist", "snapshot_without_client_table"};
  return names;
}

bool SetMutation(const std::string& name, raft::Mutations& mutations) {
  if (name == "commit_previous_term_by_count") {
    mutations.commit_previous_term_by_count = true;
  } else if (name == "vote_not_persisted") {
    mutations.vote_not_persisted = true;
  } else if (name == "vote_without_log_check") {
    mutations.vote_without_log_check = true;
  } else if (name == "snapshot_ack_before_persist") {
    mutations.snapshot_ack_before_persist = true;
  } else if (name == "snapshot_without_client_table") {
    mutations.snapshot_without_client_table = true;
  } else {
    return false;
  }
  return true;
}

}  // namespace cmcl::sim
