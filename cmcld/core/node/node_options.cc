#include "cmcld/core/node/node_options.h"

#include <algorithm>
#include <string_view>

#include "cmcld/core/common/check.h"

namespace cmcl::node {
namespace {

constexpr uint64_t kFnvOffset = 14695981039346656037ULL;
constexpr uint64_t kFnvPrime = 1099511628211ULL;

void Mix(uint64_t& hash, std::string_view text) {
  for (const char c : text) {
    hash ^= static_cast<uint8_t>(c);
    hash *= kFnvPrime;
  }
  hash ^= 0xffU;  // A separator no name can contain.
  hash *= kFnvPrime;
}

}  // namespace

std::vector<raft::Voter> VotersOf(const config::ClusterConfig& config) {
  std::vector<raft::Voter> voters;
  for (const config::NodeSpec& node : config.nodes) {
    voters.push_back(raft::Voter{.name = node.name, .role = node.role});
  }
  std::sort(voters.begin(), voters.end(),
            [](const raft::Voter& a, const raft::Voter& b) { return a.name < b.name; });
  return voters;
}

raft::ClusterId ClusterIdOf(const config::ClusterConfig& config) {
  uint64_t hash = kFnvOffset;
  Mix(hash, "cmcl-cluster-v1");
  Mix(hash, config.cluster_name.value());
  for (const raft::Voter& voter : VotersOf(config)) {
    Mix(hash, voter.name.value());
    Mix(hash, voter.role == config::NodeRole::kArbitrator ? "arbitrator" : "member");
  }
  return raft::ClusterId(hash == 0 ? 1 : hash);
}

Duration ElectionTimeoutMin(Duration node_timeout, Duration heartbeat_interval,
                            Duration fence_timeout) {
  constexpr Duration kGrantMargin = std::chrono::milliseconds(100);
  const Duration window = (node_timeout - fence_timeout - heartbeat_interval - kGrantMargin) / 2;
  // At least a heartbeat plus 100ms, which the window always is when the configuration
  // keeps DESIGN.md section 4's rule; one that breaks it (config check refuses it; unit
  // tests build some) still gets a timeout above the heartbeat, as raft requires.
  return std::max(std::min(2 * heartbeat_interval, window), heartbeat_interval + kGrantMargin);
}

NodeOptions NodeOptionsFor(std::shared_ptr<const config::ClusterConfig> config,
                           const NodeName& self) {
  CMCL_CHECK(config != nullptr && config->FindNode(self) != nullptr)
      << "NodeOptionsFor: " << self.value() << " is not a configured node";
  NodeOptions options;
  options.raft.cluster_id = ClusterIdOf(*config);
  options.raft.self = self;
  options.raft.voters = VotersOf(*config);
  options.raft.election_timeout_min =
      ElectionTimeoutMin(config->node_timeout, config->heartbeat_interval, config->fence_timeout);
  options.raft.check_quorum_period = config->node_timeout;
  options.raft.heartbeat_interval = config->heartbeat_interval;
  options.raft.clock_drift_max_ppm = config->clock_drift_max.parts_per_million();
  options.raft.lease_length = config->node_timeout;
  options.fence_timeout = config->fence_timeout;
  options.watchdog_fence = config->fence_action == config::FenceAction::kReboot;
  options.state.lease_length = config->node_timeout;
  options.disarm_max = config->disarm_max;
  options.arm_when_disarm_ends = true;  // `cluster disarm --for D` ends after D.
  options.config = std::move(config);
  return options;
}

}  // namespace cmcl::node
