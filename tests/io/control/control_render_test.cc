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
using ::testing::Not;
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

// A model of two nodes: hpvm1 runs on ivmcl01 after failing on ivmcl02, hpvm2 is down.
ViewModel TwoNodeModel() {
  ViewModel model;
  model.self = "ivmcl01";
  model.cluster_name = "ivmcl";
  model.cluster_status = "up";
  model.coordinator = "ivmcl01";
  model.quorum = true;
  model.config_version = 3;
  model.mode = "normal";
  model.nodes = {NodeView{.name = "ivmcl01",
                          .status = "up",
                          .state = "running",
                          .role = "member",
                          .networks = {{"127.0.0.1:7101", "up"}, {"10.0.0.1:7101", "down"}}},
                 NodeView{.name = "ivmcl02",
                          .status = "halted",
                          .state = "running",
                          .role = "member",
                          .networks = {{"127.0.0.1:7102", "up"}}}};
  PackageView up{.name = "hpvm1", .status = "up", .state = "running", .node = "ivmcl01"};
  up.epoch = 12;
  up.auto_run = true;
  up.switching = {{"ivmcl02", false}, {"ivmcl01", true}};
  up.failed_nodes = {"ivmcl02"};
  up.reason = "failed over from ivmcl02";
  up.vcpus = 2;
  up.memory_mb = 3072;
  up.storage = {"/dev/rdisk/disk10"};
  up.networks = {"vlan2"};
  up.services = {ServiceView{.name = "guestmon", .status = "up", .restart_count = 1,
                             .max_restarts = 3}};
  up.restarts = 1;
  up.max_restarts = 2;
  up.relocations = 1;
  up.failover_policy = "configured_node";
  up.failback_policy = "manual";
  up.number = 1;
  PackageView down{.name = "hpvm2", .status = "down", .state = "halted"};
  down.switching = {{"ivmcl01", true}};
  down.pending = "run (index 40)";
  down.vcpus = 1;
  down.memory_mb = 512;
  down.devices = {"/dev/rdsk/c1t4d0"};
  down.failover_policy = "min_package_node";
  down.failback_policy = "automatic";
  down.number = 2;
  model.packages = {up, down};
  return model;
}

TEST(ViewRender, VerboseViewIsTheCmviewclDashVTree) {
  const ViewModel model = TwoNodeModel();

  const std::string tree = ViewTable(model, true);

  EXPECT_EQ(tree, R"(CLUSTER  STATUS  COORDINATOR  QUORUM  CONFIG  MODE
ivmcl    up      ivmcl01      yes     3       normal

  NODE     STATUS  STATE    ROLE
  ivmcl01  up      running  member

    Network_Parameters:
    INTERFACE  STATUS  ADDRESS
    PRIMARY    up      127.0.0.1:7101
    STANDBY    down    10.0.0.1:7101

    PACKAGE  STATUS  STATE    AUTO_RUN  NODE
    hpvm1    up      running  enabled   ivmcl01

      Policy_Parameters:
      POLICY_NAME  CONFIGURED_VALUE
      Failover     configured_node
      Failback     manual

      Script_Parameters:
      ITEM     STATUS  MAX_RESTARTS  RESTARTS  NAME
      Package  up      2             1         hpvm1
      Service  up      3             1         guestmon

      Node_Switching_Parameters:
      NODE_TYPE  STATUS  SWITCHING  NAME
      Primary    halted  disabled   ivmcl02
      Alternate  up      enabled    ivmcl01  (current)

      Other_Parameters:
        Failed_Nodes:  ivmcl02
        Relocations:   1
        Epoch:         12
        Pending:       -
        Intent:        -
        Reason:        failed over from ivmcl02
        Guest:         2 vCPU(s), 3072 MiB; storage /dev/rdisk/disk10; networks vlan2; devices -

  NODE     STATUS  STATE    ROLE
  ivmcl02  halted  running  member

    Network_Parameters:
    INTERFACE  STATUS  ADDRESS
    PRIMARY    up      127.0.0.1:7102

UNOWNED_PACKAGES

    PACKAGE  STATUS  STATE   AUTO_RUN  NODE
    hpvm2    down    halted  disabled  unowned

      Policy_Parameters:
      POLICY_NAME  CONFIGURED_VALUE
      Failover     min_package_node
      Failback     automatic

      Script_Parameters:
      ITEM     STATUS  MAX_RESTARTS  RESTARTS  NAME
      Package  down    0             0         hpvm2

      Node_Switching_Parameters:
      NODE_TYPE  STATUS  SWITCHING  NAME
      Primary    up      enabled    ivmcl01

      Other_Parameters:
        Failed_Nodes:  -
        Relocations:   0
        Epoch:         0
        Pending:       run (index 40)
        Intent:        -
        Reason:        -
        Guest:         1 vCPU(s), 512 MiB; storage -; networks -; devices /dev/rdsk/c1t4d0

)");
}

TEST(ViewRender, LineFormatPrefixesNodeAndPackageKeysAsServiceguardDoes) {
  ViewModel model = TwoNodeModel();
  ASSERT_TRUE(FilterView(model, "hpvm1"));

  const std::string lines = ViewLines(model);

  EXPECT_EQ(lines, R"(name=ivmcl
status=up
summary=ok
quorum=yes
coordinator=ivmcl01
config_version=3
mode=normal
package:hpvm1|name=hpvm1
package:hpvm1|status=up
package:hpvm1|state=running
package:hpvm1|summary=ok
package:hpvm1|autorun=enabled
package:hpvm1|owner=ivmcl01
package:hpvm1|failover_policy=configured_node
package:hpvm1|failback_policy=manual
package:hpvm1|restarts=1
package:hpvm1|max_restarts=2
package:hpvm1|reason=failed over from ivmcl02
package:hpvm1|vcpus=2
package:hpvm1|memory_mb=3072
package:hpvm1|node:ivmcl02|name=ivmcl02
package:hpvm1|node:ivmcl02|switching=disabled
package:hpvm1|node:ivmcl02|failed=yes
package:hpvm1|node:ivmcl01|name=ivmcl01
package:hpvm1|node:ivmcl01|switching=enabled
package:hpvm1|node:ivmcl01|failed=no
package:hpvm1|service:guestmon|name=guestmon
package:hpvm1|service:guestmon|status=up
package:hpvm1|service:guestmon|restarts=1
package:hpvm1|service:guestmon|max_restarts=3
)");
}

TEST(ViewRender, HpvmstatusHasHpvmsColumns) {
  const std::string status = HpvmStatus(TwoNodeModel());

  EXPECT_EQ(status, R"([Virtual Machines]
Virtual Machine Name  VM #   OS Type  State      #VCPUs  #Devs  #Nets  Memory   Runsysid
====================  =====  =======  =========  ======  =====  =====  =======  ========
hpvm1                 1      UNKNOWN  On (OS)    2       1      1      3 GB     ivmcl01
hpvm2                 2      UNKNOWN  Off        1       1      0      512 MB   -
)");
}

TEST(ViewRender, AColdStartSaysWhomItWaitsForAndOnTheCoordinatorHowLong) {
  ViewModel model = TwoNodeModel();
  model.cluster_status = "starting";
  model.start_wait = StartWaitView{.decided_here = true,
                                   .waiting_for = {"ivmcl03"},
                                   .wait_ms = 600'000,
                                   .left_ms = 551'200};
  const StartWaitView follower{
      .decided_here = false, .waiting_for = {"ivmcl03"}, .wait_ms = 60'000, .left_ms = {}};
  const StartWaitView hears_all{
      .decided_here = false, .waiting_for = {}, .wait_ms = 60'000, .left_ms = {}};

  const std::string table = ViewTable(model, false);
  const std::string tree = ViewTable(model, true);
  const std::string lines = ViewLines(model);
  const std::string json = ViewJson(model);

  const std::string leader_text =
      "cluster start: waiting for ivmcl03 (cluster_start_wait 10m, 9m12s left)";
  EXPECT_EQ(StartWaitText(*model.start_wait), leader_text);
  EXPECT_EQ(StartWaitText(follower),
            "cluster start: waiting for ivmcl03 (not heard from here; cluster_start_wait 1m)");
  EXPECT_EQ(StartWaitText(hears_all),
            "cluster start: waiting for the coordinator to see every member "
            "(cluster_start_wait 1m)");
  EXPECT_THAT(table, HasSubstr("normal\n" + leader_text + "\n\nNODE"));
  EXPECT_THAT(tree, HasSubstr("normal\n" + leader_text + "\n\n  NODE"));
  EXPECT_THAT(lines, HasSubstr("mode=normal\ncluster_start_waiting_for=ivmcl03\n"
                               "cluster_start_left_ms=551200\n"));
  EXPECT_THAT(json, HasSubstr(R"("mode":"normal","start_wait":{"waiting_for":["ivmcl03"],)"
                              R"("decided_here":true,"cluster_start_wait_ms":600000,)"
                              R"("left_ms":551200,"text":")" +
                              leader_text + R"("}})"));
}

TEST(ViewRender, AStartedClusterHasNoStartWait) {
  const ViewModel model = TwoNodeModel();

  EXPECT_THAT(ViewJson(model), HasSubstr(R"("mode":"normal","start_wait":null})"));
  EXPECT_THAT(ViewTable(model, false), Not(HasSubstr("cluster start:")));
}

TEST(ViewRender, ADisarmedClusterShowsTheBannerAndTheTimeLeftInEveryForm) {
  ViewModel model = TwoNodeModel();
  model.mode = "disarmed";
  model.disarm_ms = 3'600'000;
  model.disarmed_left_ms = 36 * 60'000 + 12'000;

  const std::string table = ViewTable(model, false);
  const std::string tree = ViewTable(model, true);
  const std::string lines = ViewLines(model);
  const std::string json = ViewJson(model);
  model.disarmed_left_ms = 45'500;
  const std::string last_minute = DisarmedText(model);
  model.disarmed_left_ms.reset();
  const std::string unknown = DisarmedText(model);

  const std::string banner =
      "DISARMED, 37 min left (cluster disarm --for 1h): nothing fails over; pkgctl cluster arm "
      "ends it";
  EXPECT_TRUE(table.starts_with(banner + "\n\nCLUSTER")) << table;
  EXPECT_TRUE(tree.starts_with(banner + "\n\nCLUSTER")) << tree;
  EXPECT_THAT(lines, HasSubstr("mode=disarmed\ndisarm_ms=3600000\ndisarmed_left_ms=2172000\n"));
  EXPECT_THAT(json, HasSubstr(R"("mode":"disarmed","disarm_ms":3600000,)"
                              R"("disarmed_left_ms":2172000,"start_wait":null)"));
  EXPECT_THAT(last_minute, HasSubstr("DISARMED, 46 s left"));
  EXPECT_THAT(unknown, HasSubstr("DISARMED, time left unknown here"));
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
