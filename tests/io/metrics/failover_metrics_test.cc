// FailoverMetrics (failover_metrics.h): what cmcl_failovers_total counts and what
// cmcl_failover_duration_seconds measures, from a real ClusterState fed committed ops
// and a clock the test moves.
#include "cmcld/io/metrics/failover_metrics.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>

#include "cmcld/core/node/cluster_state.h"
#include "cmcld/io/metrics/metrics_model.h"

namespace cmcl::io::metrics {
namespace {

using node::ActionReason;
using node::AssignOp;
using node::LogIndex;
using node::ReportKind;
using node::ReportOp;

const PackageName kG1("g1");
const NodeName kN1("n1");
const NodeName kN2("n2");
const NodeName kN3("n3");

Time At(int64_t ms) { return Time::FromMilliseconds(ms); }

class FailoverMetricsTest : public ::testing::Test {
 protected:
  LogIndex Commit(const node::OpBatch& ops) {
    const LogIndex index(state.applied().value() + 1);
    state.Apply(raft::ApplyEntry{.entry = raft::Entry{.term = raft::Term(1),
                                                      .index = index,
                                                      .kind = raft::EntryKind::kCommand,
                                                      .command = {.client_id = raft::ClientId(7),
                                                                  .sequence = index.value(),
                                                                  .payload = node::EncodeOps(ops),
                                                                  .revokes = {}}},
                                 .duplicate = false});
    return index;
  }
  LogIndex Assign(const NodeName& node, ActionReason why) {
    const node::Assignment* a = state.Find(kG1);
    return Commit({AssignOp{.resource = kG1,
                            .node = node,
                            .from_epoch = a != nullptr ? a->epoch : LogIndex(0),
                            .reason = "test",
                            .why = why}});
  }
  void Report(const NodeName& node, LogIndex epoch, ReportKind kind,
              node::FailureKind failure = node::FailureKind::kNone) {
    Commit({ReportOp{
        .resource = kG1, .node = node, .epoch = epoch, .kind = kind, .failure = failure}});
  }
  void Observe(int64_t ms) {
    metrics.Observe(state, At(ms), [&](const NodeName& node) -> std::optional<Time> {
      const auto it = heard.find(node);
      if (it == heard.end()) return std::nullopt;
      return it->second;
    });
  }
  uint64_t Count(const std::string& reason) const {
    const auto it = metrics.counts().find({kG1, reason});
    return it == metrics.counts().end() ? 0 : it->second;
  }
  const Histogram* Durations(const std::string& reason) const {
    const auto it = metrics.durations().find(reason);
    return it == metrics.durations().end() ? nullptr : &it->second;
  }

  // Lease length 2 s (ClusterState::Options' default): L_max 2 s.
  node::ClusterState state{node::ClusterState::Options{}};
  FailoverMetrics metrics{kN3, LogIndex(0)};
  std::map<NodeName, Time> heard;
};

TEST_F(FailoverMetricsTest, LostOwnerCountsOnceAndMeasuresFromLastHeardToStarted) {
  const LogIndex first = Assign(kN1, ActionReason::kStart);
  Report(kN1, first, ReportKind::kStarted);
  Observe(1'000);           // Learns the state.
  heard[kN1] = At(10'000);  // n1 dies just after 10 s.

  const LogIndex failover = Assign(kN2, ActionReason::kFailover);
  Observe(13'000);
  Observe(13'500);  // Nothing applied: nothing new.
  EXPECT_EQ(Count("node_lost"), 1u);
  EXPECT_EQ(Durations("node_lost"), nullptr);  // Not started yet.

  Report(kN2, failover, ReportKind::kStarted);
  Observe(14'500);
  Observe(15'000);

  EXPECT_EQ(Count("node_lost"), 1u);
  ASSERT_NE(Durations("node_lost"), nullptr);
  EXPECT_EQ(Durations("node_lost")->count, 1u);
  EXPECT_DOUBLE_EQ(Durations("node_lost")->sum, 4.5);  // 10 s heard, 14.5 s started.
}

TEST_F(FailoverMetricsTest, PackageFailedMeasuresFromTheFailedReport) {
  const LogIndex first = Assign(kN1, ActionReason::kStart);
  Report(kN1, first, ReportKind::kStarted);
  Observe(1'000);
  Report(kN1, first, ReportKind::kFailed, node::FailureKind::kLost);
  Observe(2'000);  // The cluster knows it is down from here.
  const LogIndex failover = Assign(kN2, ActionReason::kFailover);
  Observe(2'100);
  Report(kN2, failover, ReportKind::kStarted);
  Observe(5'000);

  EXPECT_EQ(Count("package_failed"), 1u);
  EXPECT_EQ(Count("node_lost"), 0u);
  ASSERT_NE(Durations("package_failed"), nullptr);
  EXPECT_DOUBLE_EQ(Durations("package_failed")->sum, 3.0);
}

TEST_F(FailoverMetricsTest, StartsAndMovesAreNotFailovers) {
  const LogIndex first = Assign(kN1, ActionReason::kStart);
  Observe(1'000);
  Report(kN1, first, ReportKind::kStarted);
  Observe(2'000);
  Commit({node::ReleaseOp{.resource = kG1, .epoch = first, .why = ActionReason::kMove}});
  Report(kN1, first, ReportKind::kHalted);
  Observe(3'000);
  const LogIndex moved = Assign(kN2, ActionReason::kMove);
  Report(kN2, moved, ReportKind::kStarted);
  Observe(4'000);

  EXPECT_TRUE(metrics.counts().empty());
  EXPECT_TRUE(metrics.durations().empty());
}

TEST_F(FailoverMetricsTest, WhatTheFirstObservationFindsIsHistory) {
  const LogIndex first = Assign(kN1, ActionReason::kStart);
  Report(kN1, first, ReportKind::kStarted);
  const LogIndex failover = Assign(kN2, ActionReason::kFailover);
  Report(kN2, failover, ReportKind::kStarted);
  Observe(1'000);
  Observe(2'000);

  EXPECT_TRUE(metrics.counts().empty());
}

TEST_F(FailoverMetricsTest, RecoveredEntriesAreNotCountedAgainAfterARestart) {
  const LogIndex first = Assign(kN1, ActionReason::kStart);
  Report(kN1, first, ReportKind::kStarted);
  FailoverMetrics restarted(kN3, LogIndex(3));  // This incarnation recovered 1..3.
  restarted.Observe(state, At(1'000), [](const NodeName&) { return std::nullopt; });
  Assign(kN2, ActionReason::kFailover);  // Index 3: replayed, an earlier one counted it.
  restarted.Observe(state, At(2'000), [](const NodeName&) { return std::nullopt; });
  EXPECT_TRUE(restarted.counts().empty());

  Report(kN2, LogIndex(3), ReportKind::kFailed, node::FailureKind::kLost);
  Assign(kN1, ActionReason::kFailover);  // Index 5: new.
  restarted.Observe(state, At(3'000), [](const NodeName&) { return std::nullopt; });
  ASSERT_EQ(restarted.counts().size(), 1u);
  EXPECT_EQ(restarted.counts().begin()->second, 1u);
}

TEST_F(FailoverMetricsTest, NoDurationWhenThisNodeStillHeardTheLostOwner) {
  const LogIndex first = Assign(kN1, ActionReason::kStart);
  Report(kN1, first, ReportKind::kStarted);
  Observe(1'000);
  heard[kN1] = At(9'900);  // This node was on n1's side: heard it 0.1 s ago.
  const LogIndex failover = Assign(kN2, ActionReason::kFailover);
  Report(kN2, failover, ReportKind::kStarted);
  Observe(10'000);

  EXPECT_EQ(Count("node_lost"), 1u);
  EXPECT_EQ(Durations("node_lost"), nullptr);
}

TEST_F(FailoverMetricsTest, AFailoverThatNeverStartsMeasuresNothing) {
  const LogIndex first = Assign(kN1, ActionReason::kStart);
  Report(kN1, first, ReportKind::kStarted);
  Observe(1'000);
  heard[kN1] = At(1'000);
  const LogIndex failover = Assign(kN2, ActionReason::kFailover);
  Observe(5'000);
  Report(kN2, failover, ReportKind::kFailed, node::FailureKind::kExit2);
  Observe(6'000);
  const LogIndex again = Assign(kN3, ActionReason::kFailover);
  Observe(6'100);
  Report(kN3, again, ReportKind::kStarted);
  Observe(7'000);

  EXPECT_EQ(Count("node_lost"), 1u);
  EXPECT_EQ(Count("package_failed"), 1u);
  EXPECT_EQ(Durations("node_lost"), nullptr);
  ASSERT_NE(Durations("package_failed"), nullptr);
  EXPECT_DOUBLE_EQ(Durations("package_failed")->sum, 1.0);  // From n2's failed report.
}

TEST_F(FailoverMetricsTest, TheModelExportsCountsDurationsAndRefusals) {
  const LogIndex first = Assign(kN1, ActionReason::kStart);
  Report(kN1, first, ReportKind::kStarted);
  Observe(1'000);
  heard[kN1] = At(1'000);
  const LogIndex failover = Assign(kN2, ActionReason::kFailover);
  Report(kN2, failover, ReportKind::kStarted);
  Observe(4'000);
  MetricsFacts facts;
  facts.failovers = &metrics;
  facts.coordinator_refusals[validation::ViolationCode::kInsufficientCapacity] = 2;
  const std::map<validation::ViolationCode, uint64_t> moves{
      {validation::ViolationCode::kTargetNotMember, 1}};
  facts.command_refusals = &moves;

  const std::string text = "\n" + RenderText(BuildFamilies(facts));

  EXPECT_NE(text.find("\n# TYPE cmcl_failovers_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("\ncmcl_failovers_total{package=\"g1\",reason=\"node_lost\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("\n# TYPE cmcl_failover_duration_seconds histogram\n"), std::string::npos);
  EXPECT_NE(text.find("\ncmcl_failover_duration_seconds_bucket{reason=\"node_lost\",le=\"2\"} 0\n"),
            std::string::npos);
  EXPECT_NE(text.find("\ncmcl_failover_duration_seconds_bucket{reason=\"node_lost\",le=\"5\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("\ncmcl_failover_duration_seconds_sum{reason=\"node_lost\"} 3\n"),
            std::string::npos);
  EXPECT_NE(text.find("\ncmcl_failover_duration_seconds_count{reason=\"fenced\"} 0\n"),
            std::string::npos);
  EXPECT_NE(text.find("\ncmcl_validation_refusals_total{source=\"coordinator\",code=\""
                      "insufficient_capacity\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("\ncmcl_validation_refusals_total{source=\"command\",code=\""
                      "target_not_member\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("\ncmcl_validation_refusals_total{source=\"command\",code=\""
                      "storage_in_use\"} 0\n"),
            std::string::npos);
}

}  // namespace
}  // namespace cmcl::io::metrics
