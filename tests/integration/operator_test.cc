// Integration tests of the operator interface (issue 9; INTERFACE.md "pkgctl", "Aliases",
// "Exit status"; DESIGN.md section 9): real cmcld nodes driven by pkgctl as root and as
// other users (setpriv), through the Serviceguard/HPVM alias symlinks, and with bad
// requests. Ground truth is the guests' ledger and disk lock (local_cluster.h), not only
// what the daemons answer. A view answers from its node's own applied state, so right after
// a command the tests read the view of the node the command went through (another node
// may apply it a heartbeat later).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "tests/integration/local_cluster.h"

namespace cmcl::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Users of the test machine (Debian's passwd): nobody is the monitor, daemon the
// package_admin, and uid 4242 has no name and no role.
constexpr int kMonitorUid = 65534;
constexpr int kPackageAdminUid = 1;
constexpr int kNoRoleUid = 4242;

LocalCluster::Options ThreeGuests() {
  LocalCluster::Options options;
  options.packages = {
      PackageDef{.name = "g1", .nodes = {"node1", "node2", "node3"}},
      PackageDef{.name = "g2", .nodes = {"node2", "node3", "node1"}},
      PackageDef{.name = "g3", .nodes = {"node1", "node2", "node3"},
                 .wwid_differs_on = {"node3"}},
  };
  return options;
}

bool UpOn(const LocalCluster& cluster, int from, const std::string& package,
          const std::string& node) {
  const JsonValue entry = cluster.Package(from, package);
  return entry["status"].String() == "up" && entry["node"].String() == node;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string ErrorCode(const CommandResult& result) {
  const std::optional<JsonValue> answer = JsonValue::Parse(result.out);
  return answer ? (*answer)["error"]["code"].String() : "";
}

// ---- Roles (DESIGN.md section 9) ----------------------------------------------------

class RolesTest : public ::testing::Test {
 protected:
  static LocalCluster::Options WithRoles() {
    LocalCluster::Options options = ThreeGuests();
    options.access = {"{user: nobody, role: monitor}", "{user: daemon, role: package_admin}"};
    return options;
  }
  void SetUp() override {
    // mkdtemp made the cluster's folder 0700; the sockets inside must be reachable for
    // other users, as /run/cmcld is (the socket itself is 0666).
    ASSERT_EQ(::chmod(cluster.dir().c_str(), 0755), 0);
  }
  // pkgctl as `uid` (its own gid, no supplementary groups) against `node`'s socket.
  CommandResult As(int uid, int node, const std::vector<std::string>& args,
                   bool json = true) const {
    std::vector<std::string> argv = {"setpriv",        "--reuid=" + std::to_string(uid),
                                     "--regid=" + std::to_string(uid), "--clear-groups",
                                     PKGCTL_BINARY,    "--socket",
                                     cluster.Socket(node)};
    if (json) argv.insert(argv.end(), {"-o", "json"});
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, seconds(60));
  }

  LocalCluster cluster{WithRoles()};
};

TEST_F(RolesTest, MonitorMayViewButEveryChangeIsRefusedAndNothingChanges) {
  cluster.StartAll();
  ASSERT_TRUE(LocalCluster::WaitFor([&] { return UpOn(cluster, 0, "g1", "node1"); }, seconds(20)));
  const size_t records = cluster.Ledger("g1").size();

  const CommandResult view = As(kMonitorUid, 1, {"view"});
  const std::vector<std::vector<std::string>> changes = {
      {"move", "g1", "-n", "node2"}, {"halt", "g1"},        {"run", "g1", "-n", "node2"},
      {"disable", "g1"},             {"node", "halt", "node2"}, {"cluster", "halt", "--force"},
      {"clear", "g1"}};
  std::vector<CommandResult> refused;
  for (const std::vector<std::string>& change : changes) {
    refused.push_back(As(kMonitorUid, 1, change));
  }
  const CommandResult table = As(kMonitorUid, 1, {"move", "g1", "-n", "node2"}, false);

  ASSERT_EQ(view.exit_status, 0) << view.out << view.err;
  const std::optional<JsonValue> parsed = JsonValue::Parse(view.out);
  ASSERT_TRUE(parsed.has_value()) << view.out;
  EXPECT_EQ(parsed->Named("packages", "g1")["node"].String(), "node1");
  for (size_t i = 0; i < changes.size(); ++i) {
    EXPECT_EQ(refused[i].exit_status, 1) << changes[i][0] << ": " << refused[i].out;
    EXPECT_EQ(ErrorCode(refused[i]), "permission_denied") << refused[i].out;
    EXPECT_TRUE(Contains(refused[i].out, "monitor")) << refused[i].out;
  }
  EXPECT_EQ(table.exit_status, 1);
  EXPECT_EQ(table.out, "");
  EXPECT_EQ(table.err,
            "pkgctl: permission denied: nobody (uid 65534) has role monitor; this command needs "
            "package_admin\n");
  // Nothing changed: the guest never stopped, every node is in service, switching is on.
  EXPECT_TRUE(UpOn(cluster, 2, "g1", "node1"));
  EXPECT_EQ(cluster.Ledger("g1").size(), records);
  EXPECT_EQ(cluster.RunningCopies("g1"), 1);
  const std::optional<JsonValue> after = cluster.View(0);
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->Named("nodes", "node2")["status"].String(), "up");
  EXPECT_TRUE(after->Named("packages", "g1")["auto_run"].Bool());
  EXPECT_EQ((*after)["cluster"]["status"].String(), "up");
}

TEST_F(RolesTest, PackageAdminMayMoveButNotHaltANodeAndEventsNameWhoDidWhat) {
  cluster.StartAll();
  ASSERT_TRUE(LocalCluster::WaitFor([&] { return UpOn(cluster, 0, "g1", "node1"); }, seconds(20)));
  ASSERT_TRUE(LocalCluster::WaitFor([&] { return UpOn(cluster, 0, "g2", "node2"); }, seconds(20)));

  const CommandResult moved = As(kPackageAdminUid, 0, {"move", "g1", "-n", "node3"});
  const CommandResult node_halt = As(kPackageAdminUid, 0, {"node", "halt", "node3"});
  const CommandResult halted = cluster.Pkgctl(1, {"halt", "g2"});
  // On node2, which applied the move before the halt it answered for.
  const CommandResult events = As(kMonitorUid, 1, {"events"}, false);

  EXPECT_EQ(moved.exit_status, 0) << moved.out << moved.err;
  EXPECT_TRUE(UpOn(cluster, 0, "g1", "node3"));
  EXPECT_EQ(node_halt.exit_status, 1) << node_halt.out;
  EXPECT_EQ(ErrorCode(node_halt), "permission_denied");
  EXPECT_TRUE(Contains(node_halt.out, "daemon (uid 1) has role package_admin; this command "
                                      "needs full_admin"))
      << node_halt.out;
  EXPECT_EQ(cluster.View(0)->Named("nodes", "node3")["status"].String(), "up");
  EXPECT_EQ(halted.exit_status, 0) << halted.out << halted.err;
  ASSERT_EQ(events.exit_status, 0) << events.err;
  // Who issued each command, and on which node's socket.
  EXPECT_TRUE(Contains(events.out, "g1: move from node1 to node3 (daemon@node1)")) << events.out;
  EXPECT_TRUE(Contains(events.out, "g2: halt (root@node2)")) << events.out;
}

// DESIGN.md section 9: anyone the access list does not name is refused, reading included.
TEST_F(RolesTest, ACallerWithNoRoleIsRefusedEvenReading) {
  cluster.Start(0);

  std::vector<CommandResult> reads;
  for (const std::vector<std::string>& read : std::vector<std::vector<std::string>>{
           {"view"}, {"check", "g1"}, {"readiness"}, {"events"}, {"config", "show"}}) {
    reads.push_back(As(kNoRoleUid, 0, read));
  }
  const CommandResult table = As(kNoRoleUid, 0, {"view"}, false);
  const CommandResult monitor = As(kMonitorUid, 0, {"readiness"});

  for (const CommandResult& read : reads) {
    EXPECT_EQ(read.exit_status, 1) << read.out << read.err;
    EXPECT_EQ(ErrorCode(read), "permission_denied") << read.out;
  }
  EXPECT_EQ(table.exit_status, 1);
  EXPECT_EQ(table.err,
            "pkgctl: permission denied: uid 4242 is not in the cluster's access list; this "
            "command needs role monitor (or higher)\n");
  EXPECT_EQ(monitor.exit_status, 0) << monitor.out << monitor.err;
}

// ---- Aliases (INTERFACE.md "Aliases") -------------------------------------------------

class AliasTest : public ::testing::Test {
 protected:
  // pkgctl through a symlink named `alias` (in a folder of this test), with
  // CMCL_SOCKET naming `node`'s socket, as an operator's shell would call it.
  CommandResult Alias(const std::string& alias, const std::vector<std::string>& args,
                      int node = 0) const {
    const std::string link = links / alias;
    if (!std::filesystem::is_symlink(link)) {
      std::filesystem::create_symlink(PKGCTL_BINARY, link);
    }
    std::vector<std::string> argv = {"env", "CMCL_SOCKET=" + cluster.Socket(node), link};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, seconds(60));
  }
  void StartAndWait() {
    cluster.StartAll();
    ASSERT_TRUE(
        LocalCluster::WaitFor([&] { return UpOn(cluster, 0, "g1", "node1"); }, seconds(20)));
    ASSERT_TRUE(
        LocalCluster::WaitFor([&] { return UpOn(cluster, 0, "g2", "node2"); }, seconds(20)));
  }

  TempDir links;
  LocalCluster cluster{ThreeGuests()};
};

TEST_F(AliasTest, CmviewclPrintsTheTableTheTreeAndKeyValueLines) {
  StartAndWait();

  const CommandResult table = Alias("cmviewcl", {});
  const CommandResult tree = Alias("cmviewcl", {"-v"});
  const CommandResult lines = Alias("cmviewcl", {"-f", "line"});
  const CommandResult one = Alias("cmviewcl", {"-f", "line", "-p", "g2"});
  const CommandResult bad = Alias("cmviewcl", {"-x"});

  EXPECT_EQ(table.exit_status, 0) << table.err;
  EXPECT_TRUE(Contains(table.out, "CLUSTER")) << table.out;
  EXPECT_EQ(tree.exit_status, 0) << tree.err;
  for (const char* part : {"Network_Parameters:", "Policy_Parameters:",
                           "Node_Switching_Parameters:", "g1", "node3"}) {
    EXPECT_TRUE(Contains(tree.out, part)) << part << " not in\n" << tree.out;
  }
  EXPECT_EQ(lines.exit_status, 0) << lines.err;
  for (const char* part : {"name=it\n", "quorum=yes\n", "node:node2|status=up\n",
                           "package:g1|status=up\n", "package:g1|owner=node1\n",
                           "package:g2|node:node3|switching=enabled\n"}) {
    EXPECT_TRUE(Contains(lines.out, part)) << part << " not in\n" << lines.out;
  }
  EXPECT_EQ(one.exit_status, 0) << one.err;
  EXPECT_TRUE(Contains(one.out, "package:g2|owner=node2\n")) << one.out;
  EXPECT_FALSE(Contains(one.out, "package:g1|")) << one.out;
  EXPECT_EQ(bad.exit_status, 2);
  EXPECT_TRUE(Contains(bad.err, "usage: cmviewcl")) << bad.err;
}

TEST_F(AliasTest, HpvmstatusListsTheGuestsWithHpvmsColumns) {
  StartAndWait();

  const CommandResult all = Alias("hpvmstatus", {});
  const CommandResult one = Alias("hpvmstatus", {"-P", "g2"});

  EXPECT_EQ(all.exit_status, 0) << all.err;
  EXPECT_TRUE(Contains(all.out, "[Virtual Machines]")) << all.out;
  EXPECT_TRUE(Contains(all.out, "Virtual Machine Name")) << all.out;
  EXPECT_TRUE(Contains(all.out, "On (OS)")) << all.out;
  EXPECT_TRUE(Contains(all.out, "g3")) << all.out;
  EXPECT_EQ(one.exit_status, 0) << one.err;
  EXPECT_TRUE(Contains(one.out, "g2")) << one.out;
  EXPECT_FALSE(Contains(one.out, "g1 ")) << one.out;
}

TEST_F(AliasTest, CmhaltpkgCmrunpkgAndCmmodpkgKeepServiceguardsSwitchingRules) {
  StartAndWait();

  const CommandResult halted = Alias("cmhaltpkg", {"g2"});
  const bool halted_switching = cluster.Package(0, "g2")["auto_run"].Bool();
  const CommandResult run = Alias("cmrunpkg", {"-n", "node3", "g2"}, 1);
  const JsonValue after_run = cluster.Package(1, "g2");
  const CommandResult enabled = Alias("cmmodpkg", {"-e", "g2"});
  const bool enabled_switching = cluster.Package(0, "g2")["auto_run"].Bool();
  const CommandResult node_off = Alias("cmmodpkg", {"-d", "-n", "node1", "g2"});
  const JsonValue after_node_off = cluster.Package(0, "g2");
  const CommandResult both = Alias("cmmodpkg", {"-e", "-d", "g2"});
  const CommandResult no_package = Alias("cmrunpkg", {"-n", "node3"});

  EXPECT_EQ(halted.exit_status, 0) << halted.out << halted.err;
  EXPECT_FALSE(halted_switching);
  EXPECT_EQ(run.exit_status, 0) << run.out << run.err;
  EXPECT_EQ(after_run["status"].String(), "up");
  EXPECT_EQ(after_run["node"].String(), "node3");
  EXPECT_FALSE(after_run["auto_run"].Bool()) << "cmrunpkg enabled global switching";
  EXPECT_EQ(enabled.exit_status, 0) << enabled.out << enabled.err;
  EXPECT_TRUE(enabled_switching);
  EXPECT_EQ(node_off.exit_status, 0) << node_off.out << node_off.err;
  EXPECT_FALSE(after_node_off["switching"]["node1"].Bool());
  EXPECT_TRUE(after_node_off["switching"]["node2"].Bool());
  EXPECT_EQ(both.exit_status, 2);
  EXPECT_EQ(no_package.exit_status, 2);
  EXPECT_EQ(cluster.RunningCopies("g2"), 1);
}

TEST_F(AliasTest, HpvmmigrateMovesTheGuestOrPrintsEveryViolation) {
  StartAndWait();
  ASSERT_TRUE(LocalCluster::WaitFor([&] { return UpOn(cluster, 0, "g3", "node1"); }, seconds(20)));

  const CommandResult checked = Alias("hpvmmigrate", {"-s", "-P", "g1", "-h", "node2"});
  const CommandResult moved = Alias("hpvmmigrate", {"-P", "g1", "-h", "node3"});
  const CommandResult refused = Alias("hpvmmigrate", {"-P", "g3", "-h", "node3"});
  const CommandResult no_host = Alias("hpvmmigrate", {"-P", "g1"});

  EXPECT_EQ(checked.exit_status, 0) << checked.out << checked.err;
  EXPECT_TRUE(UpOn(cluster, 0, "g3", "node1"));
  EXPECT_EQ(moved.exit_status, 0) << moved.out << moved.err;
  EXPECT_EQ(moved.out, "hpvmmigrate: Guest migrated successfully.\n");
  EXPECT_TRUE(UpOn(cluster, 0, "g1", "node3"));
  EXPECT_EQ(refused.exit_status, 1) << refused.out << refused.err;
  EXPECT_TRUE(Contains(refused.err, "WWID")) << refused.err;
  std::istringstream lines(refused.err);
  for (std::string line; std::getline(lines, line);) {
    EXPECT_EQ(line.rfind("hpvmmigrate: ", 0), 0U) << line;
  }
  EXPECT_TRUE(UpOn(cluster, 0, "g3", "node1"));
  EXPECT_EQ(no_host.exit_status, 2);
}

TEST_F(AliasTest, CmhaltnodeAndCmrunnodeTakeTheLocalNodeOutAndBack) {
  StartAndWait();

  const CommandResult halted = Alias("cmhaltnode", {}, 2);
  const std::string halted_status = cluster.View(2)->Named("nodes", "node3")["status"].String();
  const CommandResult back = Alias("cmrunnode", {"node3"}, 0);
  const std::string back_status = cluster.View(0)->Named("nodes", "node3")["status"].String();
  const CommandResult two = Alias("cmhaltnode", {"node2", "node3"});

  EXPECT_EQ(halted.exit_status, 0) << halted.out << halted.err;
  EXPECT_EQ(halted_status, "halted");
  EXPECT_EQ(back.exit_status, 0) << back.out << back.err;
  EXPECT_EQ(back_status, "up");
  EXPECT_EQ(two.exit_status, 2);
}

TEST_F(AliasTest, CmcheckconfValidatesTheClusterFileOffline) {
  const CommandResult good = Alias("cmcheckconf", {"-C", cluster.config_path()});
  const CommandResult missing = Alias("cmcheckconf", {"-C", cluster.dir() + "/nonexistent.yaml"});

  EXPECT_EQ(good.exit_status, 0) << good.out << good.err;
  EXPECT_EQ(missing.exit_status, 2) << missing.out << missing.err;
}

// ---- Bad requests and their exit statuses (INTERFACE.md "Exit status") ---------------

class BadRequestTest : public ::testing::Test {
 protected:
  LocalCluster cluster{ThreeGuests()};
};

TEST_F(BadRequestTest, UnknownNamesAreRefusedWithDidYouMeanAndChangeNothing) {
  cluster.StartAll();
  ASSERT_TRUE(LocalCluster::WaitFor([&] { return UpOn(cluster, 0, "g1", "node1"); }, seconds(20)));

  const CommandResult package = cluster.Pkgctl(0, {"move", "g11", "-n", "node2"});
  const CommandResult node = cluster.Pkgctl(0, {"move", "g1", "-n", "nod2"});
  const CommandResult halt = cluster.Pkgctl(0, {"halt", "gx1"}, false);
  const CommandResult view = cluster.Pkgctl(0, {"view", "node33"});
  const CommandResult node_halt = cluster.Pkgctl(0, {"node", "halt", "node4"});

  EXPECT_EQ(package.exit_status, 1);
  EXPECT_TRUE(Contains(package.out, "unknown package \\\"g11\\\"; did you mean \\\"g1\\\"?"))
      << package.out;
  EXPECT_EQ(node.exit_status, 1);
  EXPECT_TRUE(Contains(node.out, "did you mean \\\"node2\\\"?")) << node.out;
  EXPECT_EQ(halt.exit_status, 1);
  EXPECT_EQ(halt.err, "pkgctl: unknown package \"gx1\"; did you mean \"g1\"?\n");
  EXPECT_EQ(view.exit_status, 1);
  EXPECT_TRUE(Contains(view.out, "did you mean \\\"node3\\\"?")) << view.out;
  EXPECT_EQ(node_halt.exit_status, 1);
  EXPECT_EQ(ErrorCode(node_halt), "not_found") << node_halt.out;
  EXPECT_TRUE(UpOn(cluster, 0, "g1", "node1"));
  EXPECT_EQ(cluster.Ledger("g1").size(), 1U);
}

// Usage errors are found before any daemon is asked (none runs here): exit 2, not 3.
TEST(PkgctlUsageTest, MissingArgumentsAreUsageErrorsWithoutADaemon) {
  TempDir dir;
  const std::string socket = dir / "none.sock";
  const std::vector<std::vector<std::string>> usages = {
      {"run"}, {"halt"}, {"move", "g1"}, {"move", "-n", "node2"}, {"node", "halt", "a", "b"},
      {"cluster"}, {"enable"}, {"movee", "g1"}, {"events", "--limit", "x"}};

  for (const std::vector<std::string>& usage : usages) {
    std::vector<std::string> argv = {PKGCTL_BINARY, "--socket", socket};
    argv.insert(argv.end(), usage.begin(), usage.end());
    const CommandResult result = RunCommand(argv);
    EXPECT_EQ(result.exit_status, 2) << usage[0] << ": " << result.out << result.err;
    EXPECT_EQ(result.err.rfind("pkgctl: ", 0), 0U) << result.err;
  }
}

TEST_F(BadRequestTest, UnreachableDaemonIsExit3WellUnderASecond) {
  cluster.Start(0);
  cluster.CrashDaemon(0);  // Leaves its socket file with nobody behind it.
  const std::string absent = cluster.dir() + "/no-such.sock";

  const auto started = std::chrono::steady_clock::now();
  const CommandResult stale = cluster.Pkgctl(0, {"view"});
  const auto stale_took = std::chrono::steady_clock::now() - started;
  const CommandResult missing = RunCommand({PKGCTL_BINARY, "--socket", absent, "halt", "g1"});
  const auto both_took = std::chrono::steady_clock::now() - started;

  EXPECT_EQ(stale.exit_status, 3) << stale.out << stale.err;
  EXPECT_EQ(ErrorCode(stale), "unreachable") << stale.out;
  EXPECT_EQ(missing.exit_status, 3);
  EXPECT_TRUE(Contains(missing.err, "cannot reach cmcld at " + absent)) << missing.err;
  const auto stale_ms = std::chrono::duration_cast<milliseconds>(stale_took).count();
  const auto missing_ms = std::chrono::duration_cast<milliseconds>(both_took - stale_took).count();
  std::cout << "unreachable daemon answered in " << stale_ms << " ms (stale socket) and "
            << missing_ms << " ms (no socket), process start included\n";
  EXPECT_LT(stale_ms, 1000);
  EXPECT_LT(missing_ms, 1000);
}

TEST_F(BadRequestTest, TimeoutExpiryIsExit4AndTheOperationGoesOn) {
  cluster.StartAll();
  ASSERT_TRUE(LocalCluster::WaitFor([&] { return UpOn(cluster, 0, "g1", "node1"); }, seconds(20)));

  // A halt takes a commit, the halt script and its report: far more than a millisecond.
  const CommandResult halt = cluster.Pkgctl(1, {"halt", "g1", "--timeout", "1ms"});

  EXPECT_EQ(halt.exit_status, 4) << halt.out << halt.err;
  EXPECT_EQ(ErrorCode(halt), "timeout") << halt.out;
  EXPECT_TRUE(LocalCluster::WaitFor(
      [&] { return cluster.Package(0, "g1")["status"].String() == "down"; }, seconds(20)));
  EXPECT_EQ(cluster.RunningCopies("g1"), 0);
}

}  // namespace
}  // namespace cmcl::testing
