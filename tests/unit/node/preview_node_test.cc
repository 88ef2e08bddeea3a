// Node::Preview (node.h, preview.h) on a whole NodeCluster: the refusals a proposal gets
// before the log (CheckCommand) refuse the preview too; the ready leader previews with
// the coordinator's liveness and a follower says it does not; and previewing changes
// nothing anywhere (the leader's state and what the cluster then does).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cmcld/core/node/preview.h"
#include "tests/support/node_cluster.h"

namespace cmcl::node {
namespace {

using testing::NodeCluster;

const PackageName kDb("db");
const PackageName kApp("app");

std::vector<std::string> Moves(const PreviewPlan& plan) {
  std::vector<std::string> moves;
  for (const PreviewStep& step : plan.steps) {
    if (step.action != PreviewAction::kStart && step.action != PreviewAction::kHalt) continue;
    moves.push_back(std::string(PreviewActionName(step.action)) + " " + step.package->value() +
                    " " + step.node->value());
  }
  return moves;
}

NodeCluster DbAndApp() {
  NodeCluster cluster(3, {"db", "app"});
  cluster.package("app").depends_on.push_back(
      config::Dependency{.package = kDb, .location = config::DependencyLocation::kAnyNode});
  return cluster;
}

TEST(NodePreview, HaltingADependencyWhileItsDependentRunsPreviewsAsRefusedLikeTheCommand) {
  NodeCluster cluster = DbAndApp();
  cluster.StartAll();
  cluster.RunFor(Duration(5000));
  const Node& leader = cluster.node(*cluster.Leader());
  ASSERT_EQ(leader.state().StatusOf(kApp), PackageStatus::kUp);

  const PreviewPlan plan = leader.Preview({HaltOp{.package = kDb, .by = "root"}});

  EXPECT_FALSE(plan.accepted);
  EXPECT_TRUE(plan.authoritative);
  EXPECT_NE(plan.refused.find("depends on db: halt it first"), std::string::npos) << plan.refused;
  EXPECT_TRUE(plan.steps.empty());
}

TEST(NodePreview, TheLeaderPreviewsAMoveAndNothingMoves) {
  NodeCluster cluster(3, {"r1"});
  cluster.StartAll();
  cluster.RunFor(Duration(5000));
  const std::string leader_name = *cluster.Leader();
  const Node& leader = cluster.node(leader_name);
  const Assignment before = *leader.state().Find(PackageName("r1"));
  ASSERT_TRUE(before.owner.has_value());
  const NodeName target = *before.owner == NodeName("n3") ? NodeName("n2") : NodeName("n3");
  const std::string encoded = leader.state().Encode();

  const PreviewPlan plan =
      leader.Preview({MoveOp{.package = PackageName("r1"), .target = target, .by = "root"}});
  const std::string encoded_after = leader.state().Encode();
  cluster.RunFor(Duration(3000));

  EXPECT_TRUE(plan.accepted) << plan.refused;
  EXPECT_TRUE(plan.authoritative);
  EXPECT_EQ(Moves(plan), (std::vector<std::string>{"halt r1 " + before.owner->value(),
                                                   "start r1 " + target.value()}));
  EXPECT_EQ(encoded_after, encoded);
  EXPECT_EQ(cluster.node(leader_name).state().Find(PackageName("r1"))->epoch, before.epoch);
}

TEST(NodePreview, AFollowerPreviewsWithEveryMemberUpAndSaysItIsNotTheCoordinator) {
  NodeCluster cluster(3, {"r1"});
  cluster.StartAll();
  cluster.RunFor(Duration(5000));
  const std::string leader = *cluster.Leader();
  const std::string follower = leader == "n1" ? "n2" : "n1";

  const PreviewPlan plan =
      cluster.node(follower).Preview({HaltOp{.package = PackageName("r1"), .by = "root"}});

  EXPECT_TRUE(plan.accepted) << plan.refused;
  EXPECT_FALSE(plan.authoritative);
  ASSERT_EQ(Moves(plan).size(), 1U);
  EXPECT_EQ(Moves(plan)[0].rfind("halt r1 ", 0), 0U) << Moves(plan)[0];
}

}  // namespace
}  // namespace cmcl::node
