// depends_on (dependencies.h) on a whole NodeCluster: start wait, same_node placement,
// dependents halted first, operator refusals, and dependents following their dependency.
#include "cmcld/core/node/dependencies.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/support/node_cluster.h"

namespace cmcl::node {
namespace {

using testing::NodeCluster;

const PackageName kDb("db");
const PackageName kApp("app");

// db and app on three nodes; app depends on db (`location`).
NodeCluster DbAndApp(config::DependencyLocation location) {
  NodeCluster cluster(3, {"db", "app"});
  cluster.package("app").depends_on.push_back(
      config::Dependency{.package = kDb, .location = location});
  return cluster;
}

std::optional<NodeName> OwnerOf(NodeCluster& cluster, const PackageName& package) {
  const Assignment* a = cluster.node(*cluster.Leader()).state().Find(package);
  return a == nullptr ? std::nullopt : a->owner;
}

PackageStatus StatusOf(NodeCluster& cluster, const PackageName& package) {
  return cluster.node(*cluster.Leader()).state().StatusOf(package);
}

// Index of the first action on `package` with `verb` on `node`'s host; -1: none.
int ActionIndex(NodeCluster& cluster, const std::string& node, const PackageName& package,
                GuestVerb verb) {
  const std::vector<GuestAction>& actions = cluster.host(node).actions;
  for (size_t i = 0; i < actions.size(); ++i) {
    if (actions[i].guest.resource == package && actions[i].verb == verb) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

TEST(Dependencies, ASameNodeDependentStartsAfterItsDependencyAndOnItsNode) {
  NodeCluster cluster = DbAndApp(config::DependencyLocation::kSameNode);
  cluster.StartAll();
  cluster.RunFor(Duration(5000));

  ASSERT_EQ(StatusOf(cluster, kDb), PackageStatus::kUp);
  ASSERT_EQ(StatusOf(cluster, kApp), PackageStatus::kUp);
  const NodeName owner = *OwnerOf(cluster, kDb);
  EXPECT_EQ(OwnerOf(cluster, kApp), owner);  // min_package_node alone would spread them.
  EXPECT_LT(ActionIndex(cluster, owner.value(), kDb, GuestVerb::kRun),
            ActionIndex(cluster, owner.value(), kApp, GuestVerb::kRun));
}

TEST(Dependencies, ADependentWaitsWithItsReasonWhileItsDependencyCannotStart) {
  NodeCluster cluster = DbAndApp(config::DependencyLocation::kAnyNode);
  for (const std::string name : {"n1", "n2", "n3"}) cluster.host(name).run_exit[kDb] = 1;
  cluster.StartAll();
  cluster.RunFor(Duration(5000));

  EXPECT_NE(StatusOf(cluster, kDb), PackageStatus::kUp);
  for (const std::string name : {"n1", "n2", "n3"}) {
    EXPECT_EQ(ActionIndex(cluster, name, kApp, GuestVerb::kRun), -1) << name;
  }
  const PackageRecord* record = cluster.node(*cluster.Leader()).state().FindPackage(kApp);
  ASSERT_NE(record, nullptr);
  EXPECT_EQ(record->note, "app: waiting for db (depends_on)");
}

TEST(Dependencies, HaltingOrMovingADependencyWhileItsDependentRunsIsRefused) {
  NodeCluster cluster = DbAndApp(config::DependencyLocation::kAnyNode);
  cluster.StartAll();
  cluster.RunFor(Duration(5000));
  ASSERT_EQ(StatusOf(cluster, kApp), PackageStatus::kUp);
  const std::string leader = *cluster.Leader();
  const NodeName elsewhere =
      *OwnerOf(cluster, kDb) == NodeName("n1") ? NodeName("n2") : NodeName("n1");

  cluster.ForwardOps(leader, {HaltOp{.package = kDb, .by = "root"}});
  cluster.ForwardOps(leader, {MoveOp{.package = kDb, .target = elsewhere, .by = "root"}});
  cluster.RunFor(Duration(1000));

  ASSERT_GE(cluster.replies.size(), 2U);
  for (size_t i = cluster.replies.size() - 2; i < cluster.replies.size(); ++i) {
    EXPECT_EQ(cluster.replies[i].code, raft::ReplyCode::kRejected);
    EXPECT_NE(cluster.replies[i].detail.find("depends on db: halt it first"), std::string::npos)
        << cluster.replies[i].detail;
  }
  EXPECT_EQ(StatusOf(cluster, kDb), PackageStatus::kUp);
  EXPECT_EQ(StatusOf(cluster, kApp), PackageStatus::kUp);
}

TEST(Dependencies, ASameNodeDependentCannotBeMovedAwayFromItsDependency) {
  NodeCluster cluster = DbAndApp(config::DependencyLocation::kSameNode);
  cluster.StartAll();
  cluster.RunFor(Duration(5000));
  const NodeName owner = *OwnerOf(cluster, kApp);
  const NodeName elsewhere = owner == NodeName("n1") ? NodeName("n2") : NodeName("n1");

  cluster.ForwardOps(*cluster.Leader(),
                     {MoveOp{.package = kApp, .target = elsewhere, .by = "root"}});
  cluster.RunFor(Duration(1000));

  ASSERT_FALSE(cluster.replies.empty());
  EXPECT_EQ(cluster.replies.back().code, raft::ReplyCode::kRejected);
  EXPECT_NE(cluster.replies.back().detail.find("app depends on db (same_node), which runs on"),
            std::string::npos)
      << cluster.replies.back().detail;
  EXPECT_EQ(OwnerOf(cluster, kApp), owner);
}

TEST(Dependencies, ANodeHaltHaltsTheDependentFirstAndBothComeUpTogetherElsewhere) {
  NodeCluster cluster = DbAndApp(config::DependencyLocation::kSameNode);
  cluster.StartAll();
  cluster.RunFor(Duration(5000));
  const NodeName owner = *OwnerOf(cluster, kDb);

  cluster.ForwardOps(*cluster.Leader(), {NodeAdminOp{.node = owner, .by = "root"}});
  cluster.RunFor(Duration(5000));

  const int app_halt = ActionIndex(cluster, owner.value(), kApp, GuestVerb::kHalt);
  const int db_halt = ActionIndex(cluster, owner.value(), kDb, GuestVerb::kHalt);
  ASSERT_GE(app_halt, 0);
  ASSERT_GE(db_halt, 0);
  EXPECT_LT(app_halt, db_halt);
  EXPECT_EQ(cluster.host(owner.value()).actions[static_cast<size_t>(app_halt)].reason,
            ActionReason::kDependency);
  EXPECT_EQ(StatusOf(cluster, kDb), PackageStatus::kUp);
  EXPECT_EQ(StatusOf(cluster, kApp), PackageStatus::kUp);
  EXPECT_NE(OwnerOf(cluster, kDb), owner);
  EXPECT_EQ(OwnerOf(cluster, kApp), OwnerOf(cluster, kDb));
}

TEST(Dependencies, ASameNodeDependentFollowsItsDependencyWhenTheirNodeIsLost) {
  NodeCluster cluster = DbAndApp(config::DependencyLocation::kSameNode);
  cluster.StartAll();
  cluster.RunFor(Duration(5000));
  const NodeName owner = *OwnerOf(cluster, kDb);
  if (*cluster.Leader() == owner.value()) {
    // Keep the test about the dependency: lose a node that is not the coordinator.
    cluster.ForwardOps(owner.value(), {NodeAdminOp{.node = owner, .by = "root"}});
    cluster.RunFor(Duration(5000));
    cluster.ForwardOps(*cluster.Leader(),
                       {NodeAdminOp{.node = owner, .halted = false, .by = "root"}});
    cluster.RunFor(Duration(2000));
  }
  const NodeName lost = *OwnerOf(cluster, kDb);

  cluster.NodeCrash(lost.value());
  cluster.RunFor(Duration(8000));

  EXPECT_EQ(StatusOf(cluster, kDb), PackageStatus::kUp);
  EXPECT_EQ(StatusOf(cluster, kApp), PackageStatus::kUp);
  EXPECT_NE(OwnerOf(cluster, kDb), lost);
  EXPECT_EQ(OwnerOf(cluster, kApp), OwnerOf(cluster, kDb));
}

TEST(Dependencies, AnAnyNodeDependentIsHaltedWhileItsDependencyIsDownAndStartsAgainAfter) {
  NodeCluster cluster = DbAndApp(config::DependencyLocation::kAnyNode);
  cluster.StartAll();
  cluster.RunFor(Duration(5000));
  ASSERT_EQ(StatusOf(cluster, kApp), PackageStatus::kUp);
  const NodeName app_node = *OwnerOf(cluster, kApp);
  // db exits 1 on its next start anywhere: it stays down (exit 1 is never restarted).
  for (const std::string name : {"n1", "n2", "n3"}) cluster.host(name).run_exit[kDb] = 1;

  const NodeName db_node = *OwnerOf(cluster, kDb);
  cluster.ServiceFails(db_node.value(), "db", "dbmon");  // Halted, then restarts exit 1.
  cluster.RunFor(Duration(5000));

  EXPECT_NE(StatusOf(cluster, kDb), PackageStatus::kUp);
  EXPECT_NE(StatusOf(cluster, kApp), PackageStatus::kUp);
  const std::vector<GuestAction>& actions =
      cluster.host(OwnerOf(cluster, kApp).value_or(app_node).value()).actions;
  EXPECT_TRUE(std::any_of(actions.begin(), actions.end(), [](const GuestAction& action) {
    return action.guest.resource == kApp && action.verb == GuestVerb::kHalt &&
           action.reason == ActionReason::kDependency;
  }));

  for (const std::string name : {"n1", "n2", "n3"}) cluster.host(name).run_exit.erase(kDb);
  cluster.ForwardOps(*cluster.Leader(), {RunOp{.package = kDb, .by = "root"}});
  cluster.RunFor(Duration(5000));

  EXPECT_EQ(StatusOf(cluster, kDb), PackageStatus::kUp);
  EXPECT_EQ(StatusOf(cluster, kApp), PackageStatus::kUp);
}

// Applies `ops` as the next committed entry of `state`.
void Commit(ClusterState& state, const OpBatch& ops) {
  const LogIndex index(state.applied().value() + 1);
  state.Apply(raft::ApplyEntry{.entry = {.term = raft::Term(1),
                                         .index = index,
                                         .kind = raft::EntryKind::kCommand,
                                         .command = {.client_id = raft::ClientId(7),
                                                     .sequence = index.value(),
                                                     .payload = EncodeOps(ops)}},
                               .duplicate = false});
}

// AssignOp::needs_up at apply: an assign decided while its dependency was up is dropped
// once the dependency is not (sim seed 6: p1 was fenced between the decision and commit).
TEST(Dependencies, AnAssignWhoseDependencyWentDownSinceTheDecisionIsDroppedAtApply) {
  ClusterState state(ClusterState::Options{});
  const auto apply = [&state](const OpBatch& ops) { Commit(state, ops); };
  apply({AssignOp{.resource = kDb, .node = NodeName("n1"), .from_epoch = LogIndex(0)}});
  apply({ReportOp{.resource = kDb, .node = NodeName("n1"), .epoch = LogIndex(1)}});
  ASSERT_EQ(state.StatusOf(kDb), PackageStatus::kUp);
  const AssignOp app{.resource = kApp,
                     .node = NodeName("n1"),
                     .from_epoch = LogIndex(0),
                     .needs_up = {{kDb, LogIndex(1)}}};
  apply({ReportOp{
      .resource = kDb, .node = NodeName("n1"), .epoch = LogIndex(1), .kind = ReportKind::kFenced}});

  apply({app});

  EXPECT_EQ(state.Find(kApp), nullptr);
  EXPECT_EQ(state.stale_assigns(), 1U);
  apply({AssignOp{.resource = kDb, .node = NodeName("n2"), .from_epoch = LogIndex(1)}});
  apply({ReportOp{.resource = kDb, .node = NodeName("n2"), .epoch = LogIndex(5)}});
  apply({AssignOp{.resource = kApp,
                  .node = NodeName("n2"),
                  .from_epoch = LogIndex(0),
                  .needs_up = {{kDb, LogIndex(5)}}}});
  ASSERT_NE(state.Find(kApp), nullptr);
  EXPECT_EQ(state.Find(kApp)->owner, NodeName("n2"));
}

// An assign or unassign decided while the package was halting, committed after its
// owner reported halt_failed, is dropped: the guest may still run (sim seed 27
// --config-apply 0.05). Decided knowing it (a watchdog fence), it applies.
TEST(Dependencies, AnAssignOrUnassignThatFindsThePackageHaltFailedIsDroppedUnlessItKnew) {
  ClusterState state(ClusterState::Options{});
  const auto apply = [&state](const OpBatch& ops) { Commit(state, ops); };
  apply({AssignOp{.resource = kDb, .node = NodeName("n1"), .from_epoch = LogIndex(0)}});
  apply({ReportOp{.resource = kDb, .node = NodeName("n1"), .epoch = LogIndex(1)}});
  apply({ReportOp{.resource = kDb,
                  .node = NodeName("n1"),
                  .epoch = LogIndex(1),
                  .kind = ReportKind::kHaltFailed,
                  .failure = FailureKind::kHaltScript}});
  ASSERT_EQ(state.StatusOf(kDb), PackageStatus::kHaltFailed);

  apply({UnassignOp{.package = kDb, .from_epoch = LogIndex(1), .reason = "n1 lost"}});
  apply({AssignOp{.resource = kDb, .node = NodeName("n2"), .from_epoch = LogIndex(1)}});

  EXPECT_EQ(state.StatusOf(kDb), PackageStatus::kHaltFailed);
  EXPECT_EQ(state.Find(kDb)->owner, NodeName("n1"));
  EXPECT_EQ(state.stale_assigns(), 2U);
  apply({AssignOp{.resource = kDb,
                  .node = NodeName("n2"),
                  .from_epoch = LogIndex(1),
                  .over_halt_failed = true}});
  EXPECT_EQ(state.Find(kDb)->owner, NodeName("n2"));
}

// Ops format 3 added AssignOp::needs_up; a format-2 payload (a log written before) still
// decodes, with no dependencies.
TEST(Dependencies, AFormat2AssignStillDecodesWithoutNeedsUp) {
  const AssignOp assign{.resource = kApp, .node = NodeName("n1"), .from_epoch = LogIndex(4)};
  const std::string format4 = EncodeOps({assign});  // Format 4 left AssignOp as it was.
  ASSERT_EQ(format4[0], '\x04');
  // Format 3 appended the empty map (its 4-byte count) and a 1-byte flag.
  const std::string format2 = "\x02" + format4.substr(1, format4.size() - 1 - 5);

  const std::optional<OpBatch> decoded = DecodeOps(format2);

  ASSERT_TRUE(decoded.has_value());
  ASSERT_EQ(decoded->size(), 1U);
  EXPECT_EQ(std::get<AssignOp>(decoded->front()), assign);
  EXPECT_EQ(DecodeOps("\x03" + format4.substr(1)), decoded);
  EXPECT_FALSE(DecodeOps("\x01" + format4.substr(1)).has_value());
}

}  // namespace
}  // namespace cmcl::node
