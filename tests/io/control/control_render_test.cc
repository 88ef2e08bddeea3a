// The control API's renderings without a socket: the view of a node without quorum
// (INTERFACE.md's staleness rule), the error forms, events and tables.
#include "cmcld/io/control/control_render.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "cmcld/io/control/view_render.h"
#include "tests/support/node_cluster.h"

namespace cmcl::io::control {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(ViewRender, ANodeWithoutQuorumMarksEverythingStaleAndSaysSo) {
  // A node that never heard from a leader: no lease, no quorum.
  node::testing::NodeCluster cluster(2, {"p1"});
  cluster.StartAll();
  const std::map<NodeName, std::vector<NetworkStatus>> networks = {
      {NodeName("n2"),
       {NetworkStatus{.address = SocketAddress{"127.0.0.1", 7102, false}, .up = true}}}};

  const ViewModel model = BuildViewModel(ViewInputs{.config = cluster.config(),
                                                    .node = cluster.node("n1"),
                                                    .now = cluster.now,
                                                    .networks = networks});
  const std::string json = ViewJson(model);
  const std::string table = ViewTable(model, false);

  EXPECT_FALSE(model.quorum);
  EXPECT_EQ(model.cluster_status, "no_quorum");
  EXPECT_FALSE(model.coordinator.has_value());
  ASSERT_EQ(model.nodes.size(), 2U);
  EXPECT_EQ(model.nodes[0].state, "no_quorum");
  EXPECT_EQ(model.nodes[1].state, "unknown");  // Heard on its network, but no quorum here.
  ASSERT_EQ(model.packages.size(), 1U);
  EXPECT_TRUE(model.packages[0].stale);
  EXPECT_THAT(json, HasSubstr(R"("quorum":false)"));
  EXPECT_THAT(json, HasSubstr(R"("stale":true)"));
  EXPECT_THAT(table, StartsWith("WARNING: n1 has no quorum: this is its last applied state"));
}

TEST(ViewRender, FilterKeepsANodeAndThePackagesPlacedOnIt) {
  ViewModel model;
  model.nodes = {NodeView{.name = "n1"}, NodeView{.name = "n2"}};
  model.packages = {PackageView{.name = "a", .node = "n1"}, PackageView{.name = "b", .node = "n2"},
                    PackageView{.name = "c"}};

  ViewModel by_node = model;
  ViewModel by_package = model;
  ViewModel by_nothing = model;

  EXPECT_TRUE(FilterView(by_node, "n2"));
  ASSERT_EQ(by_node.packages.size(), 1U);
  EXPECT_EQ(by_node.packages[0].name, "b");
  EXPECT_EQ(by_node.nodes.size(), 1U);
  EXPECT_TRUE(FilterView(by_package, "c"));
  EXPECT_TRUE(by_package.nodes.empty());
  EXPECT_FALSE(FilterView(by_nothing, "zz"));
  EXPECT_EQ(by_nothing.packages.size(), 3U);
}

TEST(ControlRender, AValidationRefusalListsEveryViolationWithItsNode) {
  validation::CheckReport report;
  report.package = PackageName("hpvm1");
  report.results.push_back(validation::NodeResult{
      .node = NodeName("ivmcl02"),
      .result = validation::ValidationResult{
          .violations = {validation::Violation{.code = validation::ViolationCode::kWwidMismatch,
                                               .message = "device /dev/rdisk/disk10: WWID differs",
                                               .node = NodeName("ivmcl02"),
                                               .subject = "/dev/rdisk/disk10"}},
          .unchecked = {}}});

  const Answer answer = ValidationFailedAnswer("move of hpvm1 to ivmcl02 refused", report);

  EXPECT_EQ(answer.exit_status, kExitRefused);
  EXPECT_TRUE(answer.is_error);
  EXPECT_EQ(answer.json,
            R"({"error":{"code":"validation_failed","message":"move of hpvm1 to ivmcl02 )"
            R"(refused","violations":[{"node":"ivmcl02","code":"wwid_mismatch","message":)"
            R"("device /dev/rdisk/disk10: WWID differs"}]}})");
  EXPECT_EQ(answer.text,
            "move of hpvm1 to ivmcl02 refused\n"
            "ivmcl02: wwid_mismatch: device /dev/rdisk/disk10: WWID differs");
}

TEST(ControlRender, EventsKeepTheNewestLastHonourTheLimitAndAlignTheirIndexes) {
  std::deque<node::ClusterEvent> events;
  for (uint64_t i = 1; i <= 4; ++i) {
    events.push_back(node::ClusterEvent{
        .index = raft::LogIndex(i * 3), .critical = i == 4, .text = "event " + std::to_string(i)});
  }

  const Answer two = EventsAnswer(events, 2);
  const Answer all = EventsAnswer(events, 0);

  EXPECT_EQ(two.json, R"([{"index":9,"critical":false,"text":"event 3"},)"
                      R"({"index":12,"critical":true,"text":"event 4"}])");
  EXPECT_EQ(two.text, " 9   event 3\n12 ! event 4\n");  // Indexes right-aligned.
  EXPECT_THAT(all.text, StartsWith(" 3   event 1\n"));
}

TEST(ControlRender, TablesAlignColumnsAndLeaveTheLastOneUnpadded) {
  Table table({"NAME", "STATUS", "REASON"});
  table.Add({"hpvm1", "up", "started by operator"});
  table.Detail("    more");
  table.Add({"a", "halt_failed", "-"});

  EXPECT_EQ(table.Render(),
            "NAME   STATUS       REASON\n"
            "hpvm1  up           started by operator\n"
            "    more\n"
            "a      halt_failed  -\n");
}

}  // namespace
}  // namespace cmcl::io::control
