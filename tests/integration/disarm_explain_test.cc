// Integration tests of issue 10's `cluster disarm --for D` / `cluster arm` and
// `explain PKG`, on real daemons (local_cluster.h). Ground truth for "nothing failed
// over" is the guests' ledger and the number of running copies, not only the views.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "tests/integration/local_cluster.h"

namespace cmcl::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

LocalCluster::Options ThreeGuests() {
  LocalCluster::Options options;
  options.packages = {
      PackageDef{.name = "g1", .nodes = {"node1", "node2", "node3"}},
      PackageDef{.name = "g2", .nodes = {"node2", "node3", "node1"}},
      PackageDef{.name = "g3", .nodes = {"node3", "node1", "node2"}},
  };
  return options;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::optional<JsonValue> Json(const CommandResult& result) { return JsonValue::Parse(result.out); }

bool UpOn(const LocalCluster& cluster, int from, const std::string& package,
          const std::string& node) {
  const JsonValue entry = cluster.Package(from, package);
  return entry["status"].String() == "up" && entry["node"].String() == node;
}

bool EveryGuestUp(const LocalCluster& cluster) {
  return UpOn(cluster, 0, "g1", "node1") && UpOn(cluster, 0, "g2", "node2") &&
         UpOn(cluster, 0, "g3", "node3");
}

std::string Mode(const LocalCluster& cluster, int node) {
  const std::optional<JsonValue> view = cluster.View(node);
  return view ? (*view)["cluster"]["mode"].String() : "";
}

// Resumes a SIGSTOPped daemon even when an assertion ends the test early.
class Frozen {
 public:
  explicit Frozen(pid_t pid) : pid_(pid) { ::kill(pid_, SIGSTOP); }
  ~Frozen() { Thaw(); }
  void Thaw() {
    if (pid_ > 0) ::kill(pid_, SIGCONT);
    pid_ = -1;
  }

 private:
  pid_t pid_;
};

TEST(DisarmTest, AFrozenNodeKeepsItsGuestWhileDisarmedAndFailoverWorksAgainAfterArm) {
  LocalCluster cluster(ThreeGuests());
  cluster.StartAll();
  ASSERT_TRUE(LocalCluster::WaitFor([&] { return EveryGuestUp(cluster); }, seconds(30)));
  const std::optional<JsonValue> before = cluster.View(0);
  ASSERT_TRUE(before.has_value());
  // Freeze a node that is not the coordinator: the coordinator keeps deciding.
  const std::string coordinator = (*before)["cluster"]["coordinator"].String();
  const int frozen = coordinator == "node2" ? 2 : 1;
  const std::string guest = frozen == 2 ? "g3" : "g2";
  const std::string asker_name = coordinator;  // Never the frozen one.
  const int asker = cluster.IndexOf(asker_name);

  const CommandResult disarmed = cluster.Pkgctl(asker, {"cluster", "disarm", "--for", "5m"});
  ASSERT_EQ(disarmed.exit_status, 0) << disarmed.out << disarmed.err;
  const std::optional<JsonValue> answer = Json(disarmed);
  ASSERT_TRUE(answer.has_value()) << disarmed.out;
  EXPECT_EQ((*answer)["mode"].String(), "disarmed");
  EXPECT_EQ((*answer)["disarm_ms"].Number(), 300000);
  // The frozen node must hold a D-lease first: it applied the disarm, then a grant or two.
  ASSERT_TRUE(
      LocalCluster::WaitFor([&] { return Mode(cluster, frozen) == "disarmed"; }, seconds(20)));
  ::usleep(1'000'000);
  const size_t records = cluster.Ledger(guest).size();

  Frozen freeze(cluster.daemon_pid(frozen));
  ::usleep(8'000'000);  // Eight node_timeouts.
  const JsonValue kept = cluster.Package(asker, guest);
  const CommandResult table = cluster.Pkgctl(asker, {"view"}, false);
  const std::optional<JsonValue> view = cluster.View(asker);
  const CommandResult lines = cluster.Pkgctl(asker, {"view", "--format", "line"}, false);
  const CommandResult why = cluster.Pkgctl(asker, {"explain", guest});
  const int copies = cluster.RunningCopies(guest);
  const size_t records_frozen = cluster.Ledger(guest).size();
  freeze.Thaw();

  EXPECT_EQ(kept["node"].String(), cluster.Name(frozen)) << "nothing failed over";
  EXPECT_EQ(copies, 1) << "its guest kept running";
  EXPECT_EQ(records_frozen, records) << "no start or stop anywhere";
  EXPECT_TRUE(Contains(table.out, "DISARMED, 5 min left")) << table.out;
  ASSERT_TRUE(view.has_value());
  EXPECT_EQ((*view)["cluster"]["mode"].String(), "disarmed");
  EXPECT_GT((*view)["cluster"]["disarmed_left_ms"].Number(), 200000);
  EXPECT_LE((*view)["cluster"]["disarmed_left_ms"].Number(), 300000);
  EXPECT_TRUE(Contains(lines.out, "mode=disarmed")) << lines.out;
  EXPECT_TRUE(Contains(lines.out, "disarmed_left_ms=")) << lines.out;
  EXPECT_EQ(why.exit_status, 0) << why.out << why.err;
  EXPECT_TRUE(Contains(why.out, "\"code\":\"disarmed\"")) << why.out;

  // Arm: committed, and every node (the thawed one too) takes the short lease.
  ASSERT_TRUE(LocalCluster::WaitFor(
      [&] { return cluster.Package(asker, guest)["state"].String() != "owner_lost"; },
      seconds(20)));
  const CommandResult armed = cluster.Pkgctl(asker, {"cluster", "arm"});
  ASSERT_EQ(armed.exit_status, 0) << armed.out << armed.err;
  EXPECT_EQ((*Json(armed))["mode"].String(), "normal");
  const std::string armed_report = cluster.Name(frozen) + ": armed";
  ASSERT_TRUE(LocalCluster::WaitFor(
      [&] { return Contains(cluster.Pkgctl(asker, {"events"}, false).out, armed_report); },
      seconds(20)));
  const CommandResult events = cluster.Pkgctl(asker, {"events"}, false);
  EXPECT_TRUE(Contains(events.out, "cluster disarmed for 5m by root@" + asker_name)) << events.out;
  EXPECT_TRUE(Contains(events.out, "cluster armed (lease 1s) by root@" + asker_name)) << events.out;
  EXPECT_EQ(Mode(cluster, asker), "normal");

  // Normal failover again: the node's machine goes away, its guest starts elsewhere well
  // before the 5 minutes a D-lease would have made the coordinator wait.
  cluster.CrashNode(frozen);
  EXPECT_TRUE(LocalCluster::WaitFor(
      [&] {
        const JsonValue entry = cluster.Package(asker, guest);
        return entry["status"].String() == "up" && entry["node"].String() != cluster.Name(frozen);
      },
      seconds(60)));
}

TEST(DisarmTest, DisarmIsRefusedPastDisarmMaxAndWithoutQuorumAndExplainStillAnswers) {
  LocalCluster cluster(ThreeGuests());
  cluster.StartAll();
  ASSERT_TRUE(LocalCluster::WaitFor([&] { return EveryGuestUp(cluster); }, seconds(30)));

  const CommandResult too_long = cluster.Pkgctl(0, {"cluster", "disarm", "--for", "5h"});
  const CommandResult no_length = cluster.Pkgctl(0, {"cluster", "disarm"});
  const CommandResult armed_already = cluster.Pkgctl(0, {"cluster", "arm"}, false);
  cluster.CrashDaemon(1);
  cluster.CrashDaemon(2);
  ASSERT_TRUE(LocalCluster::WaitFor(
      [&] {
        const std::optional<JsonValue> view = cluster.View(0);
        return view && !(*view)["cluster"]["quorum"].Bool();
      },
      seconds(20)));
  const auto start = std::chrono::steady_clock::now();
  const CommandResult no_quorum = cluster.Pkgctl(0, {"cluster", "disarm", "--for", "10m"}, false);
  const auto took = std::chrono::steady_clock::now() - start;
  const CommandResult why = cluster.Pkgctl(0, {"explain", "g1"});

  EXPECT_EQ(too_long.exit_status, 1) << too_long.out << too_long.err;
  EXPECT_TRUE(Contains(too_long.out, "longer than disarm_max (4h)")) << too_long.out;
  EXPECT_EQ(no_length.exit_status, 2) << no_length.out;
  EXPECT_TRUE(Contains(no_length.out, "--for DURATION is required")) << no_length.out;
  EXPECT_EQ(armed_already.exit_status, 0) << armed_already.err;
  EXPECT_TRUE(Contains(armed_already.out, "is armed already")) << armed_already.out;
  EXPECT_EQ(no_quorum.exit_status, 1) << no_quorum.out << no_quorum.err;
  EXPECT_TRUE(Contains(no_quorum.err, "cluster disarm --for 10m refused: node1 has no quorum"))
      << no_quorum.err;
  // Refused at once, not after the daemon's 120 s default wait for a leader.
  EXPECT_LT(took, seconds(30));
  EXPECT_EQ(Mode(cluster, 0), "normal");
  ASSERT_EQ(why.exit_status, 0) << why.out << why.err;
  const std::optional<JsonValue> explained = Json(why);
  ASSERT_TRUE(explained.has_value()) << why.out;
  EXPECT_EQ((*explained)["findings"][1]["code"].String(), "no_quorum") << why.out;
  EXPECT_TRUE(Contains((*explained)["findings"][1]["message"].String(), "may be stale"));
}

TEST(ExplainTest, ExplainNamesEveryNodeValidationRefusesAndSuggestsRunForAHaltedPackage) {
  LocalCluster::Options options;
  options.packages = {
      PackageDef{.name = "g1", .nodes = {"node1", "node2", "node3"}},
      PackageDef{.name = "pinned",
                 .nodes = {"node1", "node2", "node3"},
                 .wwid_differs_on = {"node2", "node3"}},
  };
  LocalCluster cluster(options);
  cluster.StartAll();
  ASSERT_TRUE(
      LocalCluster::WaitFor([&] { return UpOn(cluster, 0, "pinned", "node1"); }, seconds(30)));
  ASSERT_TRUE(LocalCluster::WaitFor([&] { return UpOn(cluster, 0, "g1", "node1"); }, seconds(30)));

  const CommandResult pinned = cluster.Pkgctl(1, {"explain", "pinned"});
  const CommandResult halted = cluster.Pkgctl(0, {"halt", "g1"});
  const CommandResult table = cluster.Pkgctl(0, {"explain", "g1"}, false);
  const CommandResult json = cluster.Pkgctl(0, {"explain", "g1"});
  const CommandResult unknown = cluster.Pkgctl(0, {"explain", "g2"}, false);
  const CommandResult help = cluster.Pkgctl(0, {"explain", "--help"}, false);

  ASSERT_EQ(pinned.exit_status, 0) << pinned.out << pinned.err;
  const std::optional<JsonValue> report = Json(pinned);
  ASSERT_TRUE(report.has_value()) << pinned.out;
  EXPECT_EQ((*report)["status"].String(), "up");
  EXPECT_EQ((*report)["node"].String(), "node1");
  std::vector<std::string> refused;
  for (const JsonValue& finding : (*report)["findings"].Array()) {
    if (finding["code"].String() != "validation_refused") continue;
    refused.push_back(finding["message"].String());
  }
  ASSERT_EQ(refused.size(), 2u) << pinned.out;
  EXPECT_TRUE(Contains(refused[0], "node2 refused: wwid_mismatch")) << refused[0];
  EXPECT_TRUE(Contains(refused[1], "node3 refused: wwid_mismatch")) << refused[1];
  ASSERT_EQ(halted.exit_status, 0) << halted.out << halted.err;
  EXPECT_EQ(table.exit_status, 0) << table.err;
  EXPECT_TRUE(Contains(table.out, "g1 is down")) << table.out;
  EXPECT_TRUE(table.out.ends_with("Suggested: pkgctl run g1\n")) << table.out;
  const std::optional<JsonValue> down = Json(json);
  ASSERT_TRUE(down.has_value()) << json.out;
  EXPECT_EQ((*down)["command"].String(), "pkgctl run g1");
  EXPECT_EQ((*down)["status"].String(), "down");
  EXPECT_EQ(unknown.exit_status, 1);
  EXPECT_TRUE(Contains(unknown.err, "did you mean \"g1\"")) << unknown.err;
  EXPECT_EQ(help.exit_status, 0);
  EXPECT_TRUE(Contains(help.out, "pkgctl explain - why a package")) << help.out;
}

}  // namespace
}  // namespace cmcl::testing
