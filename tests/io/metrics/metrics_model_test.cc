#include "cmcld/io/metrics/metrics_model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>

namespace cmcl::io::metrics {
namespace {

MetricsFacts ThreeNodes() {
  MetricsFacts facts;
  facts.view.self = "n1";
  facts.view.applied_index = 17;
  facts.view.quorum = true;
  facts.view.coordinator = "n2";
  facts.view.config_version = 1;
  facts.view.mode = "normal";
  facts.view.nodes = {control::NodeView{.name = "n1", .status = "up"},
                      control::NodeView{.name = "n2", .status = "up"},
                      control::NodeView{.name = "n3", .status = "down"}};
  control::PackageView db;
  db.name = "db";
  db.status = "up";
  db.node = "n2";
  db.switching = {{"n1", true}, {"n2", true}};
  control::PackageView web;
  web.name = "web";
  web.status = "halt_failed";
  web.switching = {{"n3", true}};
  facts.view.packages = {db, web};
  facts.raft_term = 4;
  facts.lease_remaining_seconds = 0.75;
  facts.peers.dropped_replay = 2;
  return facts;
}

std::string Text() { return RenderText(BuildFamilies(ThreeNodes())); }

bool Has(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

TEST(MetricsModel, NodesUpAndTheCoordinatorAsThisNodeSeesThem) {
  const std::string text = Text();

  EXPECT_TRUE(Has(text, "cmcl_node_up{node=\"n1\"} 1"));
  EXPECT_TRUE(Has(text, "cmcl_node_up{node=\"n3\"} 0"));
  EXPECT_TRUE(Has(text, "cmcl_coordinator{node=\"n2\"} 1"));
  EXPECT_TRUE(Has(text, "cmcl_coordinator{node=\"n1\"} 0"));
  EXPECT_TRUE(Has(text, "cmcl_is_coordinator 0"));
  EXPECT_TRUE(Has(text, "cmcl_quorum 1"));
  EXPECT_TRUE(Has(text, "cmcl_raft_term 4"));
  EXPECT_TRUE(Has(text, "cmcl_raft_applied_index 17"));
  EXPECT_TRUE(Has(text, "cmcl_lease_remaining_seconds 0.75"));
}

TEST(MetricsModel, PackageStatusIsOneHotOverTheSixStatuses) {
  const std::string text = Text();

  for (const char* status : kPackageStatuses) {
    const std::string one = std::string(status) == "halt_failed" ? "1" : "0";
    EXPECT_TRUE(Has(
        text, "cmcl_package_status{package=\"web\",status=\"" + std::string(status) + "\"} " + one))
        << status;
  }
  size_t ones = 0;
  for (size_t at = text.find("cmcl_package_status{package=\"db\""); at != std::string::npos;
       at = text.find("cmcl_package_status{package=\"db\"", at + 1)) {
    if (text.compare(text.find('\n', at) - 2, 2, " 1") == 0) ++ones;
  }
  EXPECT_EQ(ones, 1u);
  EXPECT_TRUE(Has(text, "cmcl_packages 2"));
}

TEST(MetricsModel, OwnerIsOneForThePlacedNodeOfItsList) {
  const std::string text = Text();

  EXPECT_TRUE(Has(text, "cmcl_package_owner{package=\"db\",node=\"n2\"} 1"));
  EXPECT_TRUE(Has(text, "cmcl_package_owner{package=\"db\",node=\"n1\"} 0"));
  EXPECT_TRUE(Has(text, "cmcl_package_owner{package=\"web\",node=\"n3\"} 0"));
}

TEST(MetricsModel, CountersEndInTotalAndCarryTheirReason) {
  const std::string text = Text();

  EXPECT_TRUE(Has(text, "# TYPE cmcl_peer_messages_dropped_total counter"));
  EXPECT_TRUE(Has(text, "cmcl_peer_messages_dropped_total{reason=\"replay\"} 2"));
  EXPECT_TRUE(Has(text, "cmcl_state_dropped_total{reason=\"stale_report\"} 0"));
}

TEST(MetricsModel, ScriptDurationsAreAHistogramByVerb) {
  MetricsFacts facts = ThreeNodes();
  std::map<std::string, Histogram> durations;
  durations.emplace("run", Histogram({1, 10}));
  durations.at("run").Observe(2);
  facts.script_durations = &durations;

  const std::string text = RenderText(BuildFamilies(facts));

  EXPECT_TRUE(Has(text, "# TYPE cmcl_script_duration_seconds histogram"));
  EXPECT_TRUE(Has(text, "cmcl_script_duration_seconds_bucket{verb=\"run\",le=\"1\"} 0"));
  EXPECT_TRUE(Has(text, "cmcl_script_duration_seconds_bucket{verb=\"run\",le=\"10\"} 1"));
  EXPECT_TRUE(Has(text, "cmcl_script_duration_seconds_count{verb=\"run\"} 1"));
}

TEST(MetricsModel, EveryFamilyIsNamedByConvention) {
  for (const Family& family : BuildFamilies(ThreeNodes())) {
    EXPECT_EQ(family.name.rfind("cmcl_", 0), 0u) << family.name;
    EXPECT_FALSE(family.help.empty()) << family.name;
    const bool total =
        family.name.size() > 6 && family.name.compare(family.name.size() - 6, 6, "_total") == 0;
    EXPECT_EQ(total, family.type == MetricType::kCounter) << family.name;
  }
}

}  // namespace
}  // namespace cmcl::io::metrics
