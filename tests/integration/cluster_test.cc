// Integration tests: real cmcld processes driven by pkgctl (DESIGN.md section 7;
// issue 8). Ground truth is the process driver's disk lock and ledger, not the daemons'
// own views: a guest that runs holds an exclusive lock on its stand-in disk, and each
// start, stop and kill is recorded with a CLOCK_BOOTTIME stamp.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/local_cluster.h"

namespace cmcl::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

LocalCluster::Options ThreeNodesTwoGuests() {
  LocalCluster::Options options;
  options.packages = {
      PackageDef{.name = "g1", .nodes = {"node1", "node2", "node3"}},
      PackageDef{.name = "g2", .nodes = {"node2", "node3", "node1"}},
      PackageDef{.name = "g3", .nodes = {"node1", "node2", "node3"},
                 .wwid_differs_on = {"node3"}},
  };
  return options;
}

// True once `package` is up on `node` as seen from observer `from`.
bool UpOn(const LocalCluster& cluster, int from, const std::string& package,
          const std::string& node) {
  const JsonValue entry = cluster.Package(from, package);
  return entry["status"].String() == "up" && entry["node"].String() == node;
}

// True once `package` is up somewhere, as seen from observer `from`.
bool UpAnywhere(const LocalCluster& cluster, int from, const std::string& package) {
  return cluster.Package(from, package)["status"].String() == "up";
}

// Every start in the ledger came after the stop or kill of the copy before it: two
// copies never ran at once (the disk lock makes a second start fail besides).
void ExpectNoOverlap(const std::vector<LedgerRecord>& ledger) {
  bool running = false;
  for (const LedgerRecord& record : ledger) {
    if (record.what == "start") {
      EXPECT_FALSE(running) << "a second copy started at " << record.at_ms << " on "
                            << record.node << " while one ran";
      running = true;
    } else if (record.what == "stop" || record.what == "kill") {
      running = false;
    }
  }
}

class ClusterTest : public ::testing::Test {
 protected:
  LocalCluster cluster{ThreeNodesTwoGuests()};
};

TEST_F(ClusterTest, StartsEveryAutoRunPackageOnItsFirstNode) {
  cluster.StartAll();

  EXPECT_TRUE(LocalCluster::WaitFor([&] { return UpOn(cluster, 0, "g1", "node1"); }, seconds(20)));
  EXPECT_TRUE(LocalCluster::WaitFor([&] { return UpOn(cluster, 1, "g2", "node2"); }, seconds(20)));
  EXPECT_EQ(cluster.RunningCopies("g1"), 1);
  EXPECT_EQ(cluster.RunningCopies("g2"), 1);
  // node3 may have applied the starts before its own first lease grant (a follower's lease
  // needs a nonce round; the commits reach it at once): quorum comes within a heartbeat or
  // two. Seen when pkgctl got fast enough to ask in between.
  std::optional<JsonValue> view;
  EXPECT_TRUE(LocalCluster::WaitFor(
      [&] {
        view = cluster.View(2);
        return view && (*view)["cluster"]["quorum"].Bool();
      },
      seconds(5)));
  ASSERT_TRUE(view.has_value());
  EXPECT_EQ(view->Named("nodes", "node1")["status"].String(), "up");
}

// The scheduling policy of a process (/proc/PID/stat field 41): 0 normal, 2 SCHED_RR.
int PolicyOf(const std::string& pid) {
  std::ifstream in("/proc/" + pid + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t end_of_name = stat.rfind(')');
  if (end_of_name == std::string::npos) return -1;
  std::istringstream fields(stat.substr(end_of_name + 2));  // From field 3 on.
  std::string field;
  for (int i = 3; i <= 41 && fields >> field; ++i) {
    if (i == 41) return std::stoi(field);
  }
  return -1;
}

// The (host) pids of the processes whose argv[0] ends with `program` and whose command
// line names `text`: the cmcl-guards of a cluster, or a guest by its marker.
std::vector<std::string> PidsOf(const std::string& program, const std::string& text) {
  std::vector<std::string> pids;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string pid = entry.path().filename();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::string argv0 = cmdline.substr(0, cmdline.find('\0'));
    if (argv0.ends_with(program) && cmdline.find(text) != std::string::npos) {
      pids.push_back(pid);
    }
  }
  return pids;
}

// cmcld and cmcl-guard run SCHED_RR so that a busy machine cannot starve their lease
// renewals and fences (cmcld/io/realtime.h); the guests their scripts start do not.
TEST_F(ClusterTest, DaemonsAndGuardsRunRealTimeAndGuestsAtTheNormalPolicy) {
  cluster.StartAll();
  ASSERT_TRUE(LocalCluster::WaitFor([&] { return UpOn(cluster, 0, "g1", "node1"); }, seconds(20)));
  for (int node = 0; node < 3; ++node) {
    EXPECT_EQ(PolicyOf(std::to_string(cluster.daemon_pid(node))), 2) << cluster.Name(node);
  }
  const std::vector<std::string> guards = PidsOf("/cmcl-guard", cluster.dir());
  EXPECT_EQ(guards.size(), 3U);
  for (const std::string& pid : guards) EXPECT_EQ(PolicyOf(pid), 2) << "guard " << pid;
  // The process driver's guest: `sh -c BODY MARKER DISK ...` (packages/drivers/process).
  const std::vector<std::string> guest =
      PidsOf("sh", std::string("cmcl-guest:g1") + '\0' + cluster.FilePath("disks/g1.img"));
  ASSERT_EQ(guest.size(), 1U);
  EXPECT_EQ(PolicyOf(guest.front()), 0) << "guest g1, pid " << guest.front();
}

TEST_F(ClusterTest, HaltStopsTheGuestAndRunStartsItAgain) {
  cluster.StartAll();
  ASSERT_TRUE(LocalCluster::WaitFor([&] { return UpOn(cluster, 0, "g1", "node1"); }, seconds(20)));

  const CommandResult halted = cluster.Pkgctl(2, {"halt", "g1"});
  EXPECT_EQ(halted.exit_status, 0) << halted.out << halted.err;
  EXPECT_EQ(cluster.Package(2, "g1")["status"].String(), "down");
  EXPECT_EQ(cluster.RunningCopies("g1"), 0);

  const CommandResult run = cluster.Pkgctl(1, {"run", "g1", "-n", "node2"});
  EXPECT_EQ(run.exit_status, 0) << run.out << run.err;
  EXPECT_TRUE(UpOn(cluster, 1, "g1", "node2"));
  EXPECT_EQ(cluster.RunningCopies("g1"), 1);
  ExpectNoOverlap(cluster.Ledger("g1"));
}

TEST_F(ClusterTest, MoveHaltsOnTheSourceThenStartsOnTheTarget) {
  cluster.StartAll();
  ASSERT_TRUE(LocalCluster::WaitFor([&] { return UpOn(cluster, 0, "g1", "node1"); }, seconds(20)));

  const CommandResult moved = cluster.Pkgctl(0, {"move", "g1", "-n", "node3"});

  EXPECT_EQ(moved.exit_status, 0) << moved.out << moved.err;
  EXPECT_TRUE(UpOn(cluster, 0, "g1", "node3"));
  const std::vector<LedgerRecord> ledger = cluster.Ledger("g1");
  ASSERT_GE(ledger.size(), 3U);
  EXPECT_EQ(ledger.back().what, "start");
  EXPECT_EQ(ledger.back().node, "node3");
  ExpectNoOverlap(ledger);
}

TEST_F(ClusterTest, MoveRefusedByValidationLeavesTheGuestRunning) {
  cluster.StartAll();
  ASSERT_TRUE(LocalCluster::WaitFor([&] { return UpOn(cluster, 0, "g3", "node1"); }, seconds(20)));
  const size_t records = cluster.Ledger("g3").size();

  const CommandResult refused = cluster.Pkgctl(0, {"move", "g3", "-n", "node3"});

  EXPECT_EQ(refused.exit_status, 1) << refused.out << refused.err;
  const std::optional<JsonValue> error = JsonValue::Parse(refused.out);
  ASSERT_TRUE(error.has_value()) << refused.out;
  EXPECT_EQ((*error)["error"]["code"].String(), "validation_failed");
  EXPECT_EQ((*error)["error"]["violations"][size_t{0}]["code"].String(), "wwid_mismatch");
  EXPECT_TRUE(UpOn(cluster, 1, "g3", "node1"));
  EXPECT_EQ(cluster.Ledger("g3").size(), records) << "the guest was stopped or restarted";
  EXPECT_EQ(cluster.RunningCopies("g3"), 1);
}

TEST_F(ClusterTest, CheckListsTheViolationsOfEveryNode) {
  cluster.StartAll();
  ASSERT_TRUE(LocalCluster::WaitFor([&] { return UpOn(cluster, 0, "g3", "node1"); }, seconds(20)));

  const CommandResult refused = cluster.Pkgctl(1, {"check", "g3", "-n", "node3"});
  const CommandResult fine = cluster.Pkgctl(1, {"check", "g3", "-n", "node2"});

  EXPECT_EQ(refused.exit_status, 1) << refused.out << refused.err;
  EXPECT_NE(refused.out.find("wwid_mismatch"), std::string::npos) << refused.out;
  EXPECT_EQ(fine.exit_status, 0) << fine.out << fine.err;
}

TEST_F(ClusterTest, NodeCrashFailsItsPackagesOverAfterTheLease) {
  cluster.StartAll();
  ASSERT_TRUE(LocalCluster::WaitFor([&] { return UpOn(cluster, 0, "g2", "node2"); }, seconds(20)));

  const auto crashed_at = std::chrono::steady_clock::now();
  cluster.CrashNode(1);

  EXPECT_TRUE(LocalCluster::WaitFor([&] { return UpOn(cluster, 0, "g2", "node3"); }, seconds(20)));
  const auto took = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() -
                                                             crashed_at);
  std::cout << "g2 up on node3 " << took.count() << " ms after node2 crashed\n";
  // The crashed copy died without a record (the kernel killed it); the start on node3
  // succeeded, and a start succeeds only once the disk lock is free: no double run.
  EXPECT_EQ(cluster.RunningCopies("g2"), 1);
  const std::vector<LedgerRecord> ledger = cluster.Ledger("g2");
  ASSERT_FALSE(ledger.empty());
  EXPECT_EQ(ledger.back().what, "start");
  EXPECT_EQ(ledger.back().node, "node3");
}

// Losing the coordinator's whole node: a new coordinator is elected and grants before
// the other nodes' leases run out (docs/DESIGN_CHANGES.md), so only the lost node's
// packages move; nothing running elsewhere is stopped.
TEST_F(ClusterTest, CoordinatorNodeCrashMovesOnlyItsOwnPackages) {
  cluster.StartAll();
  for (const char* package : {"g1", "g2", "g3"}) {
    ASSERT_TRUE(LocalCluster::WaitFor([&] { return UpAnywhere(cluster, 0, package); },
                                      seconds(20)));
  }
  const std::string coordinator = (*cluster.View(0))["cluster"]["coordinator"].String();
  int lost = 0;
  while (cluster.Name(lost) != coordinator) {
    ASSERT_LT(++lost, 3) << "no coordinator named " << coordinator;
  }
  const int observer = lost == 0 ? 1 : 0;
  std::vector<std::string> moving;
  std::map<std::string, size_t> staying;  // Package -> ledger records before the crash.
  for (const char* package : {"g1", "g2", "g3"}) {
    if (cluster.Package(observer, package)["node"].String() == coordinator) {
      moving.push_back(package);
    } else {
      staying[package] = cluster.Ledger(package).size();
    }
  }

  const auto crashed_at = std::chrono::steady_clock::now();
  cluster.CrashNode(lost);
  const bool moved = LocalCluster::WaitFor(
      [&] {
        return std::all_of(moving.begin(), moving.end(), [&](const std::string& package) {
          const JsonValue entry = cluster.Package(observer, package);
          return entry["status"].String() == "up" && entry["node"].String() != coordinator;
        });
      },
      seconds(20));
  const auto took = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() -
                                                             crashed_at);

  ASSERT_TRUE(moved);
  std::cout << moving.size() << " package(s) of the coordinator " << coordinator << " up elsewhere "
            << took.count() << " ms after its node crashed\n";
  for (const auto& [package, records] : staying) {
    EXPECT_EQ(cluster.Ledger(package).size(), records) << package << " was stopped";
    EXPECT_EQ(cluster.RunningCopies(package), 1) << package;
  }
  for (const std::string& package : moving) {
    EXPECT_EQ(cluster.RunningCopies(package), 1) << package;
  }
}

TEST_F(ClusterTest, DaemonCrashGuardFencesBeforeTheFailover) {
  cluster.StartAll();
  ASSERT_TRUE(LocalCluster::WaitFor([&] { return UpOn(cluster, 0, "g2", "node2"); }, seconds(20)));

  cluster.CrashDaemon(1);

  ASSERT_TRUE(LocalCluster::WaitFor([&] { return UpOn(cluster, 0, "g2", "node3"); }, seconds(20)));
  const std::vector<LedgerRecord> ledger = cluster.Ledger("g2");
  ASSERT_GE(ledger.size(), 3U);
  // The guard killed node2's copy (kill record from node2) before node3 started one.
  const LedgerRecord& fenced = ledger[ledger.size() - 2];
  EXPECT_EQ(fenced.what, "kill");
  EXPECT_EQ(fenced.node, "node2");
  EXPECT_EQ(ledger.back().what, "start");
  EXPECT_EQ(ledger.back().node, "node3");
  EXPECT_LT(fenced.at_ms, ledger.back().at_ms);
  ExpectNoOverlap(ledger);
}

// fence_action reboot (DESIGN.md section 4) on real daemons, each node's guard with the
// recording fake watchdog (CMCL_TEST_FAKE_WATCHDOG, test-only: nothing is opened or
// reset). A crashed daemon's guard fences its guest before the failover, as with kill,
// and — the fence having seen the guest stopped — keeps petting: the node is not reset.
class WatchdogClusterTest : public ::testing::Test {
 protected:
  static LocalCluster::Options RebootOptions() {
    LocalCluster::Options options = ThreeNodesTwoGuests();
    options.node_timeout = "3s";  // watchdog_timeout 1s + 2 × 300ms + 300ms <= 3s.
    options.heartbeat_interval = "300ms";
    // The fence (kill, then status) must see the guest stopped by lease_end or the guard
    // resets: room for both steps on a loaded machine.
    options.fence_timeout = "800ms";
    return options;
  }
  ~WatchdogClusterTest() override { ::unsetenv("CMCL_TEST_FAKE_WATCHDOG"); }

  std::string Record(int node) const { return cluster.dir() + "/watchdog-" + cluster.Name(node); }
  std::string Calls(int node) const {
    std::ifstream in(Record(node));
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  size_t Count(int node, const std::string& what) const {
    size_t count = 0;
    std::istringstream lines(Calls(node));
    for (std::string line; std::getline(lines, line);) {
      if (line.substr(line.find(' ') + 1) == what) ++count;
    }
    return count;
  }

  LocalCluster cluster{RebootOptions()};
};

TEST_F(WatchdogClusterTest, ADaemonCrashIsFencedByTheGuardAndTheNodeIsNotReset) {
  std::ifstream in(cluster.config_path());
  std::stringstream yaml;
  yaml << in.rdbuf();
  std::string text = yaml.str();
  ASSERT_NE(text.find("fence_action: kill"), std::string::npos);
  text.replace(text.find("fence_action: kill"), 18, "fence_action: reboot");
  cluster.WriteFile("cluster.yaml", text);
  for (int node = 0; node < 3; ++node) {
    ::setenv("CMCL_TEST_FAKE_WATCHDOG", Record(node).c_str(), 1);  // Each guard its own.
    cluster.Start(node);
  }
  ::unsetenv("CMCL_TEST_FAKE_WATCHDOG");
  ASSERT_TRUE(LocalCluster::WaitFor([&] { return UpOn(cluster, 0, "g2", "node2"); }, seconds(20)));
  EXPECT_NE(Calls(1).find(" open /dev/watchdog 1\n"), std::string::npos) << Calls(1);
  EXPECT_GT(Count(1, "pet"), 0U) << Calls(1);

  cluster.CrashDaemon(1);

  ASSERT_TRUE(LocalCluster::WaitFor([&] { return UpOn(cluster, 0, "g2", "node3"); }, seconds(20)));
  const std::vector<LedgerRecord> ledger = cluster.Ledger("g2");
  ASSERT_GE(ledger.size(), 3U);
  EXPECT_EQ(ledger[ledger.size() - 2].what, "kill");
  EXPECT_EQ(ledger[ledger.size() - 2].node, "node2");
  ExpectNoOverlap(ledger);
  const size_t pets = Count(1, "pet");
  std::this_thread::sleep_for(milliseconds(1500));
  EXPECT_GT(Count(1, "pet"), pets) << "node2's guard stopped petting after a fence that worked";
  EXPECT_EQ(Calls(1).find(" reset "), std::string::npos) << Calls(1);
  EXPECT_EQ(Calls(1).find(" close"), std::string::npos) << Calls(1);
}

// A restarted daemon must get its first grant before the guard's deadline (lease_end −
// fence_timeout of its last grant): a longer lease than the other tests' 1 s leaves room
// for a restart on a loaded machine.
class RestartTest : public ::testing::Test {
 protected:
  static LocalCluster::Options SlowerLease() {
    LocalCluster::Options options = ThreeNodesTwoGuests();
    options.node_timeout = "3s";
    options.heartbeat_interval = "300ms";
    return options;
  }
  LocalCluster cluster{SlowerLease()};
};

TEST_F(RestartTest, RestartedDaemonAdoptsItsGuestsAndKeepsCommittedCommands) {
  cluster.StartAll();
  ASSERT_TRUE(LocalCluster::WaitFor([&] { return UpOn(cluster, 0, "g1", "node1"); }, seconds(20)));
  ASSERT_TRUE(LocalCluster::WaitFor([&] { return UpOn(cluster, 0, "g2", "node2"); }, seconds(20)));
  const CommandResult halted = cluster.Pkgctl(0, {"halt", "g3"});
  ASSERT_EQ(halted.exit_status, 0) << halted.out << halted.err;
  // Restart the coordinator's daemon: a new coordinator is elected and grants before
  // anyone's lease runs out (docs/DESIGN_CHANGES.md, election timeouts), so no guest
  // anywhere is fenced, and the restarted daemon adopts its own.
  const std::string coordinator = (*cluster.View(0))["cluster"]["coordinator"].String();
  int restarted = 0;
  while (cluster.Name(restarted) != coordinator) {
    ASSERT_LT(++restarted, 3) << "no coordinator named " << coordinator;
  }
  const int other = restarted == 0 ? 1 : 0;
  const size_t g1_records = cluster.Ledger("g1").size();
  const size_t g2_records = cluster.Ledger("g2").size();

  // A daemon crash and a restart well within the lease.
  cluster.CrashDaemon(restarted);
  cluster.Start(restarted);

  EXPECT_TRUE(LocalCluster::WaitFor(
      [&] {
        const std::optional<JsonValue> view = cluster.View(other);
        return view && (*view)["cluster"]["coordinator"].String() != "" &&
               UpOn(cluster, other, "g1", "node1") && UpOn(cluster, other, "g2", "node2");
      },
      seconds(10)));
  EXPECT_EQ(cluster.Ledger("g1").size(), g1_records) << "g1 was stopped and started again";
  EXPECT_EQ(cluster.Ledger("g2").size(), g2_records) << "g2 was stopped and started again";
  EXPECT_EQ(cluster.RunningCopies("g1"), 1);
  EXPECT_EQ(cluster.RunningCopies("g2"), 1);

  // Every node restarted: the acknowledged halt of g3 survives in the persisted log.
  for (int i = 0; i < 3; ++i) {
    cluster.CrashNode(i);
  }
  cluster.StartAll();
  // Its guest died with its node: placed again (where, is the failover policy's choice).
  EXPECT_TRUE(LocalCluster::WaitFor([&] { return UpAnywhere(cluster, 2, "g1"); }, seconds(30)));
  EXPECT_EQ(cluster.Package(2, "g3")["status"].String(), "down");
  EXPECT_EQ(cluster.RunningCopies("g3"), 0);
}

TEST_F(ClusterTest, NodeWithTheWrongClusterKeyCannotJoin) {
  cluster.UseWrongKey(2);
  cluster.StartAll();
  ASSERT_TRUE(LocalCluster::WaitFor([&] { return UpOn(cluster, 0, "g1", "node1"); }, seconds(20)));

  // Three more seconds of heartbeats: node3 never becomes an up member.
  std::this_thread::sleep_for(seconds(3));

  const std::optional<JsonValue> view = cluster.View(0);
  ASSERT_TRUE(view.has_value());
  EXPECT_NE(view->Named("nodes", "node3")["status"].String(), "up");
  const std::optional<JsonValue> outsider = cluster.View(2);
  ASSERT_TRUE(outsider.has_value());
  EXPECT_FALSE((*outsider)["cluster"]["quorum"].Bool());
}

}  // namespace
}  // namespace cmcl::testing
