// Integration tests of `-t/--preview` (issue 10 item 3; cmcld/core/node/preview.h): real
// cmcld nodes driven by pkgctl. A previewed move prints its plan (the halt, then the
// start) and the guest stays where it was; the preview of leaving node maintenance with
// failback automatic lists the failback, and leaving then does exactly that. -t on a
// command or form that does not take it is a usage error. Ground truth is the guests'
// ledger (local_cluster.h).
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/local_cluster.h"

namespace cmcl::testing {
namespace {

using std::chrono::seconds;

bool UpOn(const LocalCluster& cluster, int from, const std::string& package,
          const std::string& node) {
  const JsonValue entry = cluster.Package(from, package);
  return entry["status"].String() == "up" && entry["node"].String() == node;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// "halt g1 node1" for each start and halt step of a preview's JSON.
std::vector<std::string> Moves(const JsonValue& preview) {
  std::vector<std::string> moves;
  for (const JsonValue& step : preview["steps"].Array()) {
    const std::string action = step["action"].String();
    if (action != "start" && action != "halt") continue;
    moves.push_back(action + " " + step["package"].String() + " " + step["node"].String());
  }
  return moves;
}

size_t Starts(const LocalCluster& cluster, const std::string& package) {
  size_t count = 0;
  for (const LedgerRecord& record : cluster.Ledger(package)) count += record.what == "start";
  return count;
}

class PreviewTest : public ::testing::Test {
 protected:
  explicit PreviewTest(std::string g1_yaml = "") : cluster(Options(std::move(g1_yaml))) {}
  static LocalCluster::Options Options(std::string g1_yaml) {
    LocalCluster::Options options;
    options.packages = {
        PackageDef{.name = "g1", .nodes = {"node1", "node2", "node3"}, .extra_yaml = g1_yaml},
        PackageDef{.name = "g2", .nodes = {"node2", "node3", "node1"}},
    };
    return options;
  }
  void StartAndPlace() {
    cluster.StartAll();
    ASSERT_TRUE(
        LocalCluster::WaitFor([&] { return UpOn(cluster, 0, "g1", "node1"); }, seconds(30)));
    ASSERT_TRUE(
        LocalCluster::WaitFor([&] { return UpOn(cluster, 0, "g2", "node2"); }, seconds(30)));
  }
  // The preview as the coordinator answers it (the node whose answer is authoritative),
  // with the index of that node; nullopt when no node answered so within 10s.
  std::optional<std::pair<int, JsonValue>> CoordinatorPreview(
      const std::vector<std::string>& args) {
    std::optional<std::pair<int, JsonValue>> found;
    LocalCluster::WaitFor(
        [&] {
          for (int node = 0; node < 3; ++node) {
            const CommandResult result = cluster.Pkgctl(node, args);
            std::optional<JsonValue> json = JsonValue::Parse(result.out);
            if (json && (*json)["authoritative"].Bool()) {
              found.emplace(node, *std::move(json));
              return true;
            }
          }
          return false;
        },
        seconds(10));
    return found;
  }

  LocalCluster cluster;
};

TEST_F(PreviewTest, MovePreviewPrintsThePlanAndTheGuestStaysWhereItWas) {
  StartAndPlace();
  const size_t started = Starts(cluster, "g1");

  const std::optional<std::pair<int, JsonValue>> preview =
      CoordinatorPreview({"move", "g1", "-n", "node3", "-t"});
  ASSERT_TRUE(preview.has_value());
  const CommandResult table =
      cluster.Pkgctl(preview->first, {"move", "g1", "--preview", "-n", "node3"}, false);
  std::this_thread::sleep_for(seconds(2));  // Time for a move that wrongly went ahead.

  const JsonValue& json = preview->second;
  EXPECT_TRUE(json["preview"].Bool());
  EXPECT_TRUE(json["accepted"].Bool()) << json["refused"].String();
  EXPECT_EQ(Moves(json), (std::vector<std::string>{"halt g1 node1", "start g1 node3"}));
  EXPECT_EQ(table.exit_status, 0) << table.out << table.err;
  EXPECT_TRUE(Contains(table.out, "preview: pkgctl move g1 -n node3 (nothing changed)"))
      << table.out;
  EXPECT_TRUE(Contains(table.out, "start g1 on node3 (move, from node1)")) << table.out;
  EXPECT_TRUE(UpOn(cluster, 0, "g1", "node1"));
  EXPECT_EQ(Starts(cluster, "g1"), started);
  EXPECT_EQ(cluster.RunningCopies("g1"), 1);
}

TEST_F(PreviewTest, RefusedAndUnsupportedPreviewsExitOneAndTwo) {
  StartAndPlace();

  const CommandResult unknown = cluster.Pkgctl(0, {"move", "g1", "-n", "node9", "-t"});
  const CommandResult view = cluster.Pkgctl(0, {"view", "-t"});
  const CommandResult on = cluster.Pkgctl(0, {"node", "maintenance", "node1", "on", "-t"});
  const CommandResult disable = cluster.Pkgctl(0, {"disable", "g1", "-t"});
  const CommandResult run_elsewhere = cluster.Pkgctl(0, {"run", "g1", "-n", "node2", "-t"});

  EXPECT_EQ(unknown.exit_status, 1) << unknown.out << unknown.err;
  EXPECT_TRUE(Contains(unknown.out, "did you mean")) << unknown.out;
  EXPECT_EQ(view.exit_status, 2) << view.out << view.err;
  EXPECT_EQ(on.exit_status, 2) << on.out << on.err;
  EXPECT_EQ(disable.exit_status, 2) << disable.out << disable.err;
  EXPECT_EQ(run_elsewhere.exit_status, 1) << run_elsewhere.out << run_elsewhere.err;
  const std::optional<JsonValue> refused = JsonValue::Parse(run_elsewhere.out);
  ASSERT_TRUE(refused.has_value()) << run_elsewhere.out;
  EXPECT_FALSE((*refused)["accepted"].Bool());
  EXPECT_TRUE(Contains((*refused)["refused"].String(), "move")) << run_elsewhere.out;
  EXPECT_TRUE(UpOn(cluster, 0, "g1", "node1"));
}

class FailbackPreviewTest : public PreviewTest {
 protected:
  FailbackPreviewTest() : PreviewTest("failback_policy: automatic\n") {}
};

TEST_F(FailbackPreviewTest, LeavingMaintenancePreviewListsTheFailbackAndLeavingDoesJustThat) {
  StartAndPlace();
  const CommandResult on = cluster.Pkgctl(0, {"node", "maintenance", "node1", "on"});
  ASSERT_EQ(on.exit_status, 0) << on.out << on.err;
  ASSERT_TRUE(LocalCluster::WaitFor(
      [&] { return UpOn(cluster, 0, "g1", "node2") || UpOn(cluster, 0, "g1", "node3"); },
      seconds(20)));
  const std::string away = cluster.Package(0, "g1")["node"].String();

  const std::optional<std::pair<int, JsonValue>> preview =
      CoordinatorPreview({"node", "maintenance", "node1", "off", "-t"});
  std::this_thread::sleep_for(seconds(2));  // The preview must not have let it back.
  const bool still_away = UpOn(cluster, 0, "g1", away);
  const CommandResult off = cluster.Pkgctl(0, {"node", "maintenance", "node1", "off"});
  const bool back =
      LocalCluster::WaitFor([&] { return UpOn(cluster, 0, "g1", "node1"); }, seconds(30));

  ASSERT_TRUE(preview.has_value());
  EXPECT_TRUE(preview->second["accepted"].Bool());
  EXPECT_EQ(Moves(preview->second),
            (std::vector<std::string>{"halt g1 " + away, "start g1 node1"}));
  EXPECT_TRUE(still_away);
  EXPECT_EQ(off.exit_status, 0) << off.out << off.err;
  EXPECT_TRUE(back);
  EXPECT_TRUE(UpOn(cluster, 0, "g2", "node2"));  // Not in the preview: it did not move.
  EXPECT_EQ(cluster.RunningCopies("g1"), 1);
}

}  // namespace
}  // namespace cmcl::testing
