// NodeOptionsFor and ClusterIdOf: what cmcld builds its core with from the cluster file.
#include "cmcld/core/node/node_options.h"

#include <gtest/gtest.h>

#include "tests/support/config_builder.h"

namespace cmcl::node {
namespace {

using test_support::ClusterBuilder;
using test_support::InventoryBuilder;

config::ClusterConfig ThreeNodes(const std::string& name = "ivmcl") {
  return ClusterBuilder(name)
      .Node("ivmcl02", InventoryBuilder().Build())
      .Node("ivmcl01", InventoryBuilder().Build())
      .Arbitrator("quorum1")
      .Build();
}

TEST(ClusterIdOf, IsTheSameForTheSameClusterWhateverTheNodeOrder) {
  config::ClusterConfig a = ThreeNodes();
  config::ClusterConfig b = ThreeNodes();
  std::swap(b.nodes[0], b.nodes[1]);
  EXPECT_EQ(ClusterIdOf(a), ClusterIdOf(b));
}

TEST(ClusterIdOf, DiffersForAnotherNameAnotherVoterOrAnotherRole) {
  const config::ClusterConfig base = ThreeNodes();
  EXPECT_NE(ClusterIdOf(base), ClusterIdOf(ThreeNodes("ivmcl2")));
  config::ClusterConfig fewer = base;
  fewer.nodes.pop_back();
  EXPECT_NE(ClusterIdOf(base), ClusterIdOf(fewer));
  config::ClusterConfig role = base;
  role.nodes.back().role = config::NodeRole::kMember;
  EXPECT_NE(ClusterIdOf(base), ClusterIdOf(role));
}

TEST(NodeOptionsFor, TakesTimingFromTheClusterFileAndSortsTheVoters) {
  config::ClusterConfig config = ThreeNodes();
  config.node_timeout = std::chrono::milliseconds(1000);
  config.heartbeat_interval = std::chrono::milliseconds(100);
  config.fence_timeout = std::chrono::milliseconds(200);
  config.clock_drift_max = Percentage::FromPartsPerMillion(2000);
  const auto shared = std::make_shared<const config::ClusterConfig>(config);

  const NodeOptions options = NodeOptionsFor(shared, NodeName("ivmcl01"));

  EXPECT_EQ(options.raft.self, NodeName("ivmcl01"));
  EXPECT_EQ(options.raft.cluster_id, ClusterIdOf(config));
  ASSERT_EQ(options.raft.voters.size(), 3U);
  EXPECT_EQ(options.raft.voters[0].name, NodeName("ivmcl01"));
  EXPECT_EQ(options.raft.voters[1].name, NodeName("ivmcl02"));
  EXPECT_EQ(options.raft.voters[2].role, config::NodeRole::kArbitrator);
  // min(2 x 100ms, (1000 - 200 - 100 - 100) / 2 = 300ms).
  EXPECT_EQ(options.raft.election_timeout_min, std::chrono::milliseconds(200));
  EXPECT_EQ(options.raft.check_quorum_period, std::chrono::milliseconds(1000));
  EXPECT_EQ(options.raft.lease_length, std::chrono::milliseconds(1000));
  EXPECT_EQ(options.state.lease_length, std::chrono::milliseconds(1000));
  EXPECT_EQ(options.raft.heartbeat_interval, std::chrono::milliseconds(100));
  EXPECT_EQ(options.fence_timeout, std::chrono::milliseconds(200));
  EXPECT_EQ(options.raft.clock_drift_max_ppm, 2000);
  EXPECT_FALSE(options.watchdog_fence);
  EXPECT_TRUE(options.arm_when_disarm_ends);  // Issue 10: cmcld arms when D has passed.
  EXPECT_EQ(options.config, shared);
}

// docs/DESIGN_CHANGES.md: a new coordinator must be elected and grant before the
// followers fence. The worst election ends 2 x min after they last heard the old one;
// their fence point is at least node_timeout - heartbeat_interval - fence_timeout after.
TEST(ElectionTimeoutMin, EndsEveryElectionWindowBeforeTheFollowersFencePoint) {
  using std::chrono::milliseconds;
  struct Timing {
    int64_t node_timeout, heartbeat, fence;
  };
  // The defaults, the integration tests' timing, and the edges of DESIGN.md section 4's
  // rule fence_timeout + 3 x heartbeat_interval + 300ms <= node_timeout.
  for (const Timing t : {Timing{2000, 200, 300}, Timing{1000, 100, 200}, Timing{1000, 200, 100},
                         Timing{1000, 100, 400}, Timing{2000, 400, 500}, Timing{400, 20, 40},
                         Timing{60000, 1000, 1000}}) {
    const Duration min = ElectionTimeoutMin(milliseconds(t.node_timeout),
                                            milliseconds(t.heartbeat), milliseconds(t.fence));
    const Duration fence_point = milliseconds(t.node_timeout - t.heartbeat - t.fence);
    EXPECT_LE(2 * min + milliseconds(100), fence_point) << t.node_timeout << "/" << t.heartbeat;
    EXPECT_GE(min, milliseconds(t.heartbeat + 100)) << t.node_timeout;
  }
  EXPECT_EQ(ElectionTimeoutMin(milliseconds(2000), milliseconds(200), milliseconds(300)),
            milliseconds(400));
}

}  // namespace
}  // namespace cmcl::node
