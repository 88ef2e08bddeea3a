#include "cmcld/io/metrics/dashboard_model.h"

#include <gtest/gtest.h>

#include <string>

#include "cmcld/io/control/control_render.h"
#include "tests/support/json_value.h"

namespace cmcl::io::metrics {
namespace {

using cmcl::testing::JsonValue;

// n1 answers, n2 coordinates; db runs on n2, and n3 would refuse it (wwid_mismatch).
DashboardFacts ThreeNodes() {
  DashboardFacts facts;
  control::ViewModel& view = facts.view;
  view.self = "n1";
  view.applied_index = 17;
  view.cluster_name = "lab";
  view.cluster_status = "up";
  view.quorum = true;
  view.coordinator = "n2";
  view.config_version = 3;
  view.mode = "normal";
  view.nodes = {
      control::NodeView{.name = "n1",
                        .status = "up",
                        .state = "running",
                        .role = "member",
                        .networks = {{.address = "127.0.0.1:7101", .status = "up"},
                                     {.address = "127.0.0.2:7101", .status = "down"}}},
      control::NodeView{.name = "n2", .status = "up", .state = "running", .role = "member"},
      control::NodeView{.name = "n3", .status = "down", .state = "unknown", .role = "member"}};
  control::PackageView db;
  db.name = "db";
  db.status = "up";
  db.state = "running";
  db.node = "n2";
  db.auto_run = true;
  db.switching = {{"n2", true}, {"n1", true}, {"n3", false}};
  control::PackageView web;
  web.name = "web<script>";
  web.status = "down";
  web.state = "halted";
  facts.view.packages = {db, web};
  facts.readiness = {validation::PackageReadiness{
      .package = PackageName("db"),
      .source = NodeName("n2"),
      .results = {
          validation::NodeResult{.node = NodeName("n1"), .result = {}},
          validation::NodeResult{.node = NodeName("n3"),
                                 .result = {.violations = {validation::Violation{
                                                .code = validation::ViolationCode::kWwidMismatch,
                                                .message = "disk \"/dev/x\" has another WWID on n3",
                                                .node = NodeName("n3"),
                                                .subject = "/dev/x"}},
                                            .unchecked = {}}}}}};
  for (uint64_t index = 1; index <= 30; ++index) {
    facts.events.push_back(node::ClusterEvent{.index = raft::LogIndex(index),
                                              .critical = index == 30,
                                              .text = "event " + std::to_string(index)});
  }
  facts.lease_remaining_ms = 850;
  return facts;
}

JsonValue Parsed(const DashboardFacts& facts) {
  const std::optional<JsonValue> json = JsonValue::Parse(DashboardJson(facts));
  EXPECT_TRUE(json.has_value()) << DashboardJson(facts);
  return json.value_or(JsonValue());
}

TEST(DashboardModel, TheViewIsPkgctlViewsJsonVerbatim) {
  const DashboardFacts facts = ThreeNodes();
  const std::string json = DashboardJson(facts);

  EXPECT_NE(json.find("\"view\":" + control::ViewJson(facts.view) + ","), std::string::npos);
  const JsonValue dashboard = Parsed(facts);
  EXPECT_EQ(dashboard["dashboard"].Number(), 1);
  EXPECT_EQ(dashboard["view"]["cluster"]["name"].String(), "lab");
  EXPECT_EQ(dashboard["view"]["nodes"][size_t{0}]["networks"][size_t{1}]["status"].String(),
            "down");
  EXPECT_EQ(dashboard["view"]["packages"][size_t{0}]["node"].String(), "n2");
  EXPECT_EQ(dashboard["view"]["packages"][size_t{1}]["name"].String(), "web<script>");
}

TEST(DashboardModel, ReadinessIsPkgctlReadinessJsonVerbatim) {
  const DashboardFacts facts = ThreeNodes();
  const std::string json = DashboardJson(facts);

  EXPECT_NE(json.find("\"readiness\":" + validation::ReadinessJson(facts.readiness) + ","),
            std::string::npos);
  const JsonValue results = Parsed(facts)["readiness"][size_t{0}]["results"];
  EXPECT_EQ(Parsed(facts)["readiness"][size_t{0}]["source"].String(), "n2");
  EXPECT_TRUE(results[size_t{0}]["ok"].Bool());
  EXPECT_FALSE(results[size_t{1}]["ok"].Bool());
  EXPECT_EQ(results[size_t{1}]["violations"][size_t{0}]["code"].String(), "wwid_mismatch");
  EXPECT_EQ(results[size_t{1}]["violations"][size_t{0}]["message"].String(),
            "disk \"/dev/x\" has another WWID on n3");
}

TEST(DashboardModel, EventsAreTheNewestOnesOldestFirstAsPkgctlEventsLimit) {
  const DashboardFacts facts = ThreeNodes();
  const JsonValue events = Parsed(facts)["events"];

  ASSERT_EQ(events.size(), kDashboardEvents);
  EXPECT_EQ(events[size_t{0}]["index"].Number(), static_cast<double>(30 - kDashboardEvents + 1));
  EXPECT_EQ(events[kDashboardEvents - 1]["text"].String(), "event 30");
  EXPECT_TRUE(events[kDashboardEvents - 1]["critical"].Bool());
  EXPECT_NE(DashboardJson(facts).find(
                "\"events\":" + control::EventsAnswer(facts.events, kDashboardEvents).json + "}"),
            std::string::npos);
}

TEST(DashboardModel, AFollowerSaysWhoAnsweredAndThatItMayLag) {
  const JsonValue dashboard = Parsed(ThreeNodes());
  const JsonValue by = dashboard["answered_by"];

  EXPECT_EQ(by["node"].String(), "n1");
  EXPECT_FALSE(by["is_coordinator"].Bool());
  EXPECT_TRUE(by["quorum"].Bool());
  EXPECT_TRUE(by["may_lag"].Bool());
  EXPECT_EQ(by["lease_remaining_ms"].Number(), 850);
  ASSERT_EQ(dashboard["banners"].size(), 1u);
  EXPECT_EQ(dashboard["banners"][size_t{0}].String(),
            "Answered by n1, not the coordinator (n2): what it shows is its own applied state "
            "(index 17), which may lag the coordinator's by a moment");
}

TEST(DashboardModel, TheCoordinatorWithQuorumHasNoBanner) {
  DashboardFacts facts = ThreeNodes();
  facts.view.coordinator = "n1";

  const JsonValue dashboard = Parsed(facts);

  EXPECT_TRUE(dashboard["answered_by"]["is_coordinator"].Bool());
  EXPECT_FALSE(dashboard["answered_by"]["may_lag"].Bool());
  EXPECT_EQ(dashboard["banners"].size(), 0u);
}

TEST(DashboardModel, WithoutQuorumTheBannerSaysTheStateIsTheLastApplied) {
  DashboardFacts facts = ThreeNodes();
  facts.view.coordinator = "n1";
  facts.view.quorum = false;
  facts.lease_remaining_ms = std::nullopt;

  const JsonValue dashboard = Parsed(facts);

  EXPECT_TRUE(dashboard["answered_by"]["may_lag"].Bool());
  EXPECT_TRUE(dashboard["answered_by"]["lease_remaining_ms"].IsNull());
  ASSERT_EQ(dashboard["banners"].size(), 1u);
  EXPECT_EQ(dashboard["banners"][size_t{0}].String(),
            "n1 has no quorum: this is its last applied state (index 17); other nodes are "
            "unknown and packages may be stale");
}

TEST(DashboardModel, DisarmedAndColdStartAddTheirBanners) {
  DashboardFacts facts = ThreeNodes();
  facts.view.coordinator = "n1";
  facts.view.mode = "disarmed";
  facts.view.disarm_ms = 3'600'000;
  facts.view.disarmed_left_ms = 60'000;
  facts.view.start_wait = control::StartWaitView{
      .decided_here = true, .waiting_for = {"n3"}, .wait_ms = 10'000, .left_ms = 4'000};

  const JsonValue dashboard = Parsed(facts);

  ASSERT_EQ(dashboard["banners"].size(), 2u);
  EXPECT_EQ(dashboard["banners"][size_t{0}].String(), control::DisarmedText(facts.view));
  EXPECT_EQ(dashboard["banners"][size_t{1}].String(),
            control::StartWaitText(*facts.view.start_wait));
}

TEST(DashboardModel, NamesAreEscapedAsJsonStrings) {
  DashboardFacts facts = ThreeNodes();
  facts.view.packages[1].reason = "said \"no\"\n</script><b>";

  const std::string json = DashboardJson(facts);

  EXPECT_TRUE(JsonValue::Parse(json).has_value());
  EXPECT_EQ(Parsed(facts)["view"]["packages"][size_t{1}]["reason"].String(),
            "said \"no\"\n</script><b>");
}

}  // namespace
}  // namespace cmcl::io::metrics
