// The dashboard on metrics_address (README "Dashboard"; issue 12 item 4) on a real
// three-node cluster: every node serves the page and its JSON from its own applied state,
// the JSON says the same as pkgctl view / readiness on that node, and it follows a move
// and a halt. The page in a real browser is tests/browser (full tier).
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <optional>
#include <set>
#include <string>

#include "tests/integration/http_get.h"
#include "tests/integration/local_cluster.h"

namespace cmcl::testing {
namespace {

using std::chrono::seconds;

LocalCluster::Options TwoPackages() {
  LocalCluster::Options options;
  options.metrics = true;
  options.packages = {
      PackageDef{.name = "g1", .nodes = {"node1", "node2", "node3"}},
      // node3 sees g2's disk with another WWID: readiness refuses g2 there.
      PackageDef{.name = "g2", .nodes = {"node2", "node3", "node1"}, .wwid_differs_on = {"node3"}},
  };
  return options;
}

class DashboardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster.StartAll();
    ASSERT_TRUE(LocalCluster::WaitFor(
        [&] {
          for (int node = 0; node < 3; ++node) {
            if (Owner(node, "g1") != "node1" || Owner(node, "g2") != "node2") return false;
          }
          return true;
        },
        seconds(30)));
    // A follower hears another follower only once its own connection to it is up, and
    // holds a lease only after a grant round: both can come after the packages are
    // placed (half the runs failed reading them once).
    ASSERT_TRUE(LocalCluster::WaitFor(
        [&] {
          for (int node = 0; node < 3; ++node) {
            const std::optional<JsonValue> dashboard = Dashboard(node);
            if (!dashboard || !(*dashboard)["answered_by"]["quorum"].Bool()) return false;
            for (int other = 0; other < 3; ++other) {
              const JsonValue& entry = (*dashboard)["view"].Named("nodes", cluster.Name(other));
              if (entry["status"].String() != "up") return false;
            }
          }
          return true;
        },
        seconds(10)));
  }

  // /dashboard.json of `node`, parsed (nullopt when it did not answer 200 with JSON).
  std::optional<JsonValue> Dashboard(int node) const {
    const HttpAnswer answer = HttpGet(cluster.MetricsPort(node), "/dashboard.json");
    if (answer.code != 200) return std::nullopt;
    return JsonValue::Parse(answer.body);
  }

  // The node `package` is up on in `node`'s dashboard ("" when not up or not answered).
  std::string Owner(int node, const std::string& package) const {
    const std::optional<JsonValue> dashboard = Dashboard(node);
    if (!dashboard) return "";
    const JsonValue& entry = (*dashboard)["view"].Named("packages", package);
    return entry["status"].String() == "up" ? entry["node"].String() : "";
  }

  LocalCluster cluster{TwoPackages()};
};

// The readiness result of `package` for `node` in a dashboard (null when none).
const JsonValue& ReadinessOf(const JsonValue& dashboard, const std::string& package,
                             const std::string& node) {
  const JsonValue& report = dashboard.Find(
      "readiness", [&](const JsonValue& r) { return r["package"].String() == package; });
  return report.Find("results", [&](const JsonValue& r) { return r["node"].String() == node; });
}

TEST_F(DashboardTest, EveryNodeServesThePageAndItsOwnView) {
  std::set<std::string> coordinators;
  for (int node = 0; node < 3; ++node) {
    SCOPED_TRACE(cluster.Name(node));
    const HttpAnswer page = HttpGet(cluster.MetricsPort(node), "/");
    EXPECT_EQ(page.code, 200);
    EXPECT_EQ(page.Header("Content-Type"), "text/html; charset=utf-8");
    EXPECT_NE(page.body.find("<title>cmcl dashboard</title>"), std::string::npos);
    EXPECT_NE(page.body.find("fetch(\"dashboard.json\""), std::string::npos);
    EXPECT_EQ(HttpGet(cluster.MetricsPort(node), "/dashboard").body, page.body);

    const HttpAnswer data = HttpGet(cluster.MetricsPort(node), "/dashboard.json");
    EXPECT_EQ(data.code, 200);
    EXPECT_EQ(data.Header("Content-Type"), "application/json");
    EXPECT_EQ(data.Header("Cache-Control"), "no-store");
    const std::optional<JsonValue> dashboard = JsonValue::Parse(data.body);
    ASSERT_TRUE(dashboard.has_value()) << data.body;
    const JsonValue& by = (*dashboard)["answered_by"];
    EXPECT_EQ(by["node"].String(), cluster.Name(node));
    EXPECT_EQ((*dashboard)["view"]["as_of"]["node"].String(), cluster.Name(node));
    EXPECT_TRUE(by["quorum"].Bool());
    EXPECT_GT(by["lease_remaining_ms"].Number(), 0) << data.body;
    if (by["is_coordinator"].Bool()) {
      coordinators.insert(cluster.Name(node));
      EXPECT_FALSE(by["may_lag"].Bool());
    } else {
      // A follower says so in a banner.
      EXPECT_TRUE(by["may_lag"].Bool());
      EXPECT_NE((*dashboard)["banners"][size_t{0}].String().find("not the coordinator"),
                std::string::npos)
          << data.body;
    }

    const JsonValue& view = (*dashboard)["view"];
    EXPECT_EQ(view["nodes"].size(), 3u);
    for (int other = 0; other < 3; ++other) {
      const JsonValue& entry = view.Named("nodes", cluster.Name(other));
      EXPECT_EQ(entry["status"].String(), "up") << cluster.Name(other);
      EXPECT_EQ(entry["networks"].size(), 1u) << cluster.Name(other);
    }
    EXPECT_EQ(view.Named("packages", "g1")["node"].String(), "node1");
    EXPECT_EQ(view.Named("packages", "g2")["node"].String(), "node2");

    // Readiness as pkgctl readiness: g2 refused on node3, ok on node1.
    const JsonValue& refused = ReadinessOf(*dashboard, "g2", "node3");
    EXPECT_FALSE(refused["ok"].Bool()) << data.body;
    EXPECT_EQ(refused["violations"][size_t{0}]["code"].String(), "wwid_mismatch");
    EXPECT_TRUE(ReadinessOf(*dashboard, "g2", "node1")["ok"].Bool());
    EXPECT_TRUE(ReadinessOf(*dashboard, "g1", "node3")["ok"].Bool());
    const CommandResult readiness = cluster.Pkgctl(node, {"readiness"});
    const std::optional<JsonValue> from_pkgctl = JsonValue::Parse(readiness.out);
    ASSERT_TRUE(from_pkgctl.has_value()) << readiness.out << readiness.err;
    EXPECT_EQ((*from_pkgctl)[size_t{1}]["results"][size_t{0}]["violations"][size_t{0}]["message"]
                  .String(),
              (*dashboard)["readiness"][size_t{1}]["results"][size_t{0}]["violations"][size_t{0}]
                          ["message"]
                              .String());

    EXPECT_GT((*dashboard)["events"].size(), 0u);
  }
  EXPECT_EQ(coordinators.size(), 1u);
}

TEST_F(DashboardTest, TheJsonFollowsAMoveAndAHalt) {
  const std::optional<JsonValue> before = Dashboard(1);
  ASSERT_TRUE(before.has_value());
  const JsonValue& last = (*before)["events"][(*before)["events"].size() - 1];
  const double last_index = last["index"].Number();

  const CommandResult moved = cluster.Pkgctl(0, {"move", "g1", "-n", "node3"});
  ASSERT_EQ(moved.exit_status, 0) << moved.out << moved.err;

  // Every node's dashboard shows g1 on node3, readiness now from node3, and the move among
  // its newest events.
  for (int node = 0; node < 3; ++node) {
    SCOPED_TRACE(cluster.Name(node));
    EXPECT_TRUE(LocalCluster::WaitFor([&] { return Owner(node, "g1") == "node3"; }, seconds(10)));
    const std::optional<JsonValue> after = Dashboard(node);
    ASSERT_TRUE(after.has_value());
    const JsonValue& report =
        after->Find("readiness", [](const JsonValue& r) { return r["package"].String() == "g1"; });
    EXPECT_EQ(report["source"].String(), "node3");
    bool seen = false;
    for (const JsonValue& event : (*after)["events"].Array()) {
      seen = seen ||
             (event["index"].Number() > last_index &&
              event["text"].String().find("g1: move from node1 to node3") != std::string::npos);
    }
    EXPECT_TRUE(seen) << "no move event among the newest";
  }

  const CommandResult halted = cluster.Pkgctl(2, {"halt", "g2"});
  ASSERT_EQ(halted.exit_status, 0) << halted.out << halted.err;
  for (int node = 0; node < 3; ++node) {
    SCOPED_TRACE(cluster.Name(node));
    EXPECT_TRUE(LocalCluster::WaitFor(
        [&] {
          const std::optional<JsonValue> after = Dashboard(node);
          if (!after) return false;
          const JsonValue& g2 = (*after)["view"].Named("packages", "g2");
          return g2["status"].String() == "down" && g2["node"].IsNull() && !g2["auto_run"].Bool();
        },
        seconds(10)));
  }
}

TEST_F(DashboardTest, AStoppedNodeShowsDownOnTheOthers) {
  ASSERT_TRUE(cluster.StopDaemon(2, seconds(20)));

  for (int node = 0; node < 2; ++node) {
    SCOPED_TRACE(cluster.Name(node));
    EXPECT_TRUE(LocalCluster::WaitFor(
        [&] {
          const std::optional<JsonValue> dashboard = Dashboard(node);
          return dashboard &&
                 (*dashboard)["view"].Named("nodes", "node3")["status"].String() != "up";
        },
        seconds(10)));
  }
  EXPECT_EQ(HttpGet(cluster.MetricsPort(2), "/dashboard.json", seconds(2)).code, 0);
}

TEST_F(DashboardTest, ANodeLeftAloneSaysItHasNoQuorumAndItsPackagesAreStale) {
  ASSERT_TRUE(cluster.StopDaemon(1, seconds(20)));
  ASSERT_TRUE(cluster.StopDaemon(2, seconds(20)));

  std::optional<JsonValue> alone;
  EXPECT_TRUE(LocalCluster::WaitFor(
      [&] {
        alone = Dashboard(0);
        return alone && !(*alone)["answered_by"]["quorum"].Bool();
      },
      seconds(10)));
  ASSERT_TRUE(alone.has_value());
  EXPECT_TRUE((*alone)["answered_by"]["may_lag"].Bool());
  EXPECT_EQ((*alone)["answered_by"]["lease_remaining_ms"].Number(), 0);  // Ended (or null).
  EXPECT_EQ((*alone)["banners"][size_t{0}].String().rfind("node1 has no quorum: ", 0), 0u)
      << (*alone)["banners"][size_t{0}].String();
  EXPECT_TRUE((*alone)["view"].Named("packages", "g2")["stale"].Bool());
  // The page itself is still served.
  EXPECT_EQ(HttpGet(cluster.MetricsPort(0), "/").code, 200);
}

// Not a benchmark (no threshold but a generous one): what a page's refresh costs the
// daemon, printed so that a change that makes it expensive shows.
TEST_F(DashboardTest, AHundredReadsOfTheDataInARowAreCheap) {
  constexpr int kReads = 100;
  size_t bytes = 0;
  int answered = 0;
  const auto before = std::chrono::steady_clock::now();
  for (int i = 0; i < kReads; ++i) {
    const HttpAnswer answer = HttpGet(cluster.MetricsPort(0), "/dashboard.json");
    answered += answer.code == 200 ? 1 : 0;
    bytes = answer.body.size();
  }
  const auto took = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - before);

  EXPECT_EQ(answered, kReads);
  const double mean_ms = static_cast<double>(took.count()) / kReads / 1000.0;
  std::cout << "dashboard: " << kReads << " sequential reads of /dashboard.json (" << bytes
            << " bytes; 3 nodes, 2 packages): " << mean_ms << " ms each\n";
  RecordProperty("read_mean_ms", std::to_string(mean_ms));
  EXPECT_LT(mean_ms, 50.0);
}

}  // namespace
}  // namespace cmcl::testing
