// ValidateConfig (core/config/validate.h) on hand-built configurations: the rules of
// INTERFACE.md's key tables and DESIGN.md section 4, with no file system involved.
#include "cmcld/core/config/validate.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace cmcl::config {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr uint32_t kExecutable = 0755;

SourceLocation At(int line, int column, std::string file = "cluster.yaml") {
  return {std::move(file), line, column};
}

NodeSpec Member(const std::string& name, int index) {
  NodeSpec node;
  node.name = NodeName(name);
  node.addresses.push_back(*ParseSocketAddress("127.0.0." + std::to_string(index) + ":7101"));
  node.where.self = At(10 + index, 5);
  node.where.keys["name"] = At(10 + index, 11);
  node.where.keys["addresses[0]"] = At(10 + index, 28);
  return node;
}

PackageSpec Package(const std::string& name, std::vector<std::string> nodes) {
  PackageSpec package;
  package.name = PackageName(name);
  package.folder = "/etc/cmcl/" + name;
  package.driver = "process";
  package.run_script = "run.sh";
  package.halt_script = "halt.sh";
  const std::string file = name + "/package.yaml";
  package.where.self = At(0, 0, file);
  package.where.keys["name"] = At(1, 7, file);
  package.where.keys["driver"] = At(3, 9, file);
  for (size_t i = 0; i < nodes.size(); ++i) {
    package.nodes.emplace_back(nodes[i]);
    package.where.keys["nodes[" + std::to_string(i) + "]"] =
        At(2, 9 + 4 * static_cast<int>(i), file);
  }
  return package;
}

// Three members, one package, and facts saying every file is as it should be.
struct Fixture {
  ClusterConfig config;
  ConfigFacts facts;

  Fixture() {
    config.cluster_name = ClusterName("ivmcl");
    config.driver_dir = "/usr/lib/cmcl/drivers";
    config.security.key_file = "/etc/cmcl/cluster.key";
    config.security.where.keys["key_file"] = At(3, 22);
    config.where.self = At(0, 0);
    config.where.keys["nodes"] = At(5, 3);
    for (int i = 1; i <= 3; ++i) config.nodes.push_back(Member("ivmcl0" + std::to_string(i), i));
    config.packages.push_back(Package("hpvm1", {"ivmcl01", "ivmcl02"}));
    facts.files["/etc/cmcl/cluster.key"] = {true, true, false, 0600, 32};
    facts.files["/etc/cmcl/hpvm1/run.sh"] = {true, true, true, kExecutable, 100};
    facts.files["/etc/cmcl/hpvm1/halt.sh"] = {true, true, true, kExecutable, 100};
    facts.files["/usr/lib/cmcl/drivers/process"] = {true, true, true, kExecutable, 100};
  }

  std::vector<std::string> Check() const {
    std::vector<std::string> lines;
    for (const Diagnostic& d : ValidateConfig(config, facts)) lines.push_back(FormatDiagnostic(d));
    return lines;
  }
};

TEST(ValidateConfig, AWellFormedClusterHasNoFindings) {
  const Fixture fixture;

  EXPECT_THAT(fixture.Check(), IsEmpty());
}

TEST(ValidateConfig, FenceRuleShowsItsArithmetic) {
  Fixture fixture;
  fixture.config.node_timeout = std::chrono::seconds(1);
  fixture.config.heartbeat_interval = std::chrono::milliseconds(200);
  fixture.config.fence_timeout = std::chrono::milliseconds(300);
  fixture.config.where.keys["fence_timeout"] = At(4, 16);

  EXPECT_THAT(fixture.Check(),
              ElementsAre("cluster.yaml:4:16: fence_timeout (300ms) + 3 × heartbeat_interval "
                          "(600ms) + 300ms = 1.2s exceeds node_timeout (1s); lower "
                          "fence_timeout or heartbeat_interval, or raise node_timeout"));
}

TEST(ValidateConfig, FenceRuleAcceptsTheExactBound) {
  Fixture fixture;
  fixture.config.node_timeout = std::chrono::milliseconds(1200);
  fixture.config.heartbeat_interval = std::chrono::milliseconds(200);
  fixture.config.fence_timeout = std::chrono::milliseconds(300);

  EXPECT_THAT(fixture.Check(), IsEmpty());
}

TEST(ValidateConfig, HeartbeatMustFitFiveTimesIntoNodeTimeout) {
  Fixture fixture;
  fixture.config.node_timeout = std::chrono::seconds(2);
  fixture.config.heartbeat_interval = std::chrono::milliseconds(401);
  fixture.config.fence_timeout = std::chrono::milliseconds(100);
  fixture.config.where.keys["heartbeat_interval"] = At(2, 21);

  EXPECT_THAT(fixture.Check(),
              ElementsAre("cluster.yaml:2:21: heartbeat_interval (401ms) exceeds node_timeout "
                          "/ 5 (400ms); expected at most a fifth of node_timeout, so one lost "
                          "heartbeat never costs a lease"));
}

TEST(ValidateConfig, HeartbeatOfExactlyAFifthOfNodeTimeoutIsAccepted) {
  Fixture fixture;
  fixture.config.node_timeout = std::chrono::seconds(2);
  fixture.config.heartbeat_interval = std::chrono::milliseconds(400);
  fixture.config.fence_timeout = std::chrono::milliseconds(100);  // 100 + 1200 + 300 <= 2000.

  EXPECT_THAT(fixture.Check(), IsEmpty());
}

TEST(ValidateConfig, WatchdogRuleAcceptsTheExactBoundAndRefusesOneMillisecondMore) {
  Fixture fixture;
  fixture.config.fence_action = FenceAction::kReboot;
  fixture.config.node_timeout = std::chrono::milliseconds(1700);
  fixture.config.heartbeat_interval = std::chrono::milliseconds(200);
  fixture.config.fence_timeout = std::chrono::milliseconds(200);
  fixture.config.watchdog_timeout = std::chrono::seconds(1);  // 1000 + 400 + 300 = 1700.
  const auto at_bound = fixture.Check();
  fixture.config.watchdog_timeout = std::chrono::milliseconds(1001);

  const auto over = fixture.Check();

  EXPECT_THAT(at_bound, IsEmpty());
  EXPECT_THAT(over, ElementsAre(HasSubstr("= 1.701s exceeds node_timeout (1.7s)")));
}

TEST(ValidateConfig, AnUnsetHeartbeatOfZeroPointsAtNodeTimeout) {
  Fixture fixture;
  fixture.config.node_timeout = std::chrono::milliseconds(5);
  fixture.config.heartbeat_interval = std::chrono::milliseconds(0);  // node_timeout / 10.
  fixture.config.fence_timeout = std::chrono::milliseconds(1);
  fixture.config.where.keys["node_timeout"] = At(3, 15);

  const std::vector<std::string> findings = fixture.Check();

  EXPECT_THAT(findings, Contains("cluster.yaml:3:15: heartbeat_interval (unset: node_timeout / "
                                 "10) is 0ms; expected a node_timeout of at least 10ms, or set "
                                 "heartbeat_interval"));
  EXPECT_THAT(findings, Not(Contains(HasSubstr("heartbeat_interval: must be longer"))));
}

TEST(ValidateConfig, WatchdogRuleAppliesOnlyToReboot) {
  Fixture fixture;
  fixture.config.node_timeout = std::chrono::milliseconds(1500);
  fixture.config.fence_timeout = std::chrono::milliseconds(200);
  fixture.config.heartbeat_interval = std::chrono::milliseconds(200);
  const auto with_kill = fixture.Check();
  fixture.config.fence_action = FenceAction::kReboot;
  fixture.config.where.keys["fence_action"] = At(6, 15);

  const auto with_reboot = fixture.Check();

  EXPECT_THAT(with_kill, IsEmpty());
  EXPECT_THAT(with_reboot,
              ElementsAre("cluster.yaml:6:15: fence_action reboot: watchdog_timeout (1s) + 2 × "
                          "heartbeat_interval (400ms) + 300ms = 1.7s exceeds node_timeout "
                          "(1.5s); lower watchdog_timeout or heartbeat_interval, or raise "
                          "node_timeout"));
}

TEST(ValidateConfig, TwoMembersNeedAnArbitratorOrTheExplicitFlag) {
  Fixture fixture;
  fixture.config.nodes.pop_back();
  const auto without = fixture.Check();
  fixture.config.allow_two_node_without_arbitrator = true;
  const auto allowed = fixture.Check();
  fixture.config.allow_two_node_without_arbitrator = false;
  fixture.config.nodes.push_back(Member("ivmq", 9));
  fixture.config.nodes.back().role = NodeRole::kArbitrator;

  const auto with_arbitrator = fixture.Check();

  ASSERT_EQ(without.size(), 1u);
  EXPECT_EQ(without[0].rfind("cluster.yaml:5:3: nodes: a cluster of two members needs a third "
                             "vote",
                             0),
            0u);
  EXPECT_THAT(allowed, IsEmpty());
  EXPECT_THAT(with_arbitrator, IsEmpty());
}

TEST(ValidateConfig, UnknownNodeInAPackageSuggestsTheClosestName) {
  Fixture fixture;
  fixture.config.packages[0] = Package("hpvm1", {"ivmcl3"});

  EXPECT_THAT(fixture.Check(),
              ElementsAre("hpvm1/package.yaml:2:9: node \"ivmcl3\" is not a node of cluster "
                          "ivmcl; did you mean \"ivmcl03\"?"));
}

TEST(ValidateConfig, NodeListedTwiceInAPackageIsAnError) {
  Fixture fixture;
  fixture.config.packages[0] = Package("hpvm1", {"ivmcl01", "ivmcl01"});

  EXPECT_THAT(fixture.Check(),
              ElementsAre("hpvm1/package.yaml:2:13: node \"ivmcl01\" is listed twice"));
}

TEST(ValidateConfig, FilesWithoutFactsAreNotChecked) {
  Fixture fixture;
  fixture.facts.files.clear();

  EXPECT_THAT(fixture.Check(), IsEmpty());
}

TEST(ValidateConfig, KeyFileOpenToOthersAndTooShortGivesBothErrors) {
  Fixture fixture;
  fixture.facts.files["/etc/cmcl/cluster.key"] = {true, true, false, 0640, 16};

  EXPECT_THAT(
      fixture.Check(),
      ElementsAre("cluster.yaml:3:22: key_file: /etc/cmcl/cluster.key holds 16 bytes; "
                  "expected at least 32 random bytes: head -c 32 /dev/urandom > "
                  "/etc/cmcl/cluster.key; chmod 600 /etc/cmcl/cluster.key",
                  "cluster.yaml:3:22: key_file: /etc/cmcl/cluster.key is open to group or "
                  "others (mode 0640); expected mode 0600: chmod 600 /etc/cmcl/cluster.key"));
}

TEST(ValidateConfig, PackageWithoutDriverIsOnlyAsSafeAsItsHaltScript) {
  Fixture fixture;
  fixture.config.packages[0].driver.reset();

  EXPECT_THAT(fixture.Check(),
              ElementsAre("hpvm1/package.yaml:1:7: warning: package hpvm1 has no driver: a "
                          "fence kills its run script's process group and runs halt.sh, so it "
                          "is only as safe as its halt script is fast"));
}

TEST(ValidateConfig, DisplacingWithoutAPriorityOfItsOwnIsAWarning) {
  Fixture fixture;
  fixture.config.packages[0].displace_lower_priority = true;
  fixture.config.packages[0].where.keys["displace_lower_priority"] =
      At(9, 26, "hpvm1/package.yaml");
  const auto without = fixture.Check();
  fixture.config.packages[0].priority = 10;

  const auto with = fixture.Check();

  EXPECT_THAT(without,
              ElementsAre("hpvm1/package.yaml:9:26: warning: displace_lower_priority: package "
                          "hpvm1 has no priority, the lowest, so it never displaces anything; "
                          "set priority"));
  EXPECT_THAT(with, IsEmpty());
}

TEST(ValidateConfig, DriverNameMayNotBeAPath) {
  Fixture fixture;
  fixture.config.packages[0].driver = "../bin/sh";

  EXPECT_THAT(fixture.Check(),
              ElementsAre("hpvm1/package.yaml:3:9: driver: \"../bin/sh\" is not a driver "
                          "name; expected a file name in driver_dir, e.g. process or libvirt"));
}

TEST(ValidateConfig, StorageSharedByTwoPackagesIsAllowedOnlyWhenBothSaySo) {
  Fixture fixture;
  fixture.config.packages.push_back(Package("hpvm2", {"ivmcl02"}));
  fixture.facts.files["/etc/cmcl/hpvm2/run.sh"] = {true, true, true, kExecutable, 1};
  fixture.facts.files["/etc/cmcl/hpvm2/halt.sh"] = {true, true, true, kExecutable, 1};
  for (auto& package : fixture.config.packages) {
    GuestStorage storage;
    storage.path = "/dev/rdsk/c1t4d0";
    storage.shared = true;
    storage.where.self = At(7, 7, package.name.value() + "/package.yaml");
    package.guest.storage.push_back(storage);
  }
  const auto both_shared = fixture.Check();
  fixture.config.packages[0].guest.storage[0].shared = false;

  const auto one_shared = fixture.Check();

  EXPECT_THAT(both_shared, IsEmpty());
  EXPECT_THAT(one_shared,
              ElementsAre("hpvm2/package.yaml:7:7: storage /dev/rdsk/c1t4d0 is also used by "
                          "package hpvm1 (hpvm1/package.yaml:7); expected shared: true in both "
                          "packages if they may really use it together"));
}

TEST(ValidateConfig, ADependencyCycleIsReportedOnceWithItsPath) {
  Fixture fixture;
  fixture.facts.files.clear();
  fixture.config.packages = {Package("a", {"ivmcl01"}), Package("b", {"ivmcl01"}),
                             Package("c", {"ivmcl01"})};
  const std::vector<std::pair<size_t, std::string>> edges = {{0, "b"}, {1, "c"}, {2, "a"}};
  for (const auto& [from, to] : edges) {
    Dependency dependency;
    dependency.package = PackageName(to);
    const std::string file = fixture.config.packages[from].name.value() + "/package.yaml";
    dependency.where.self = At(5, 5, file);
    fixture.config.packages[from].depends_on.push_back(dependency);
  }

  EXPECT_THAT(fixture.Check(),
              ElementsAre("a/package.yaml:5:5: dependency cycle: a -> b -> c -> a; expected "
                          "packages that can start one after another"));
}

TEST(ValidateConfig, ArbitratorsRunNoPackages) {
  Fixture fixture;
  fixture.config.nodes[2].role = NodeRole::kArbitrator;
  fixture.config.packages[0] = Package("hpvm1", {"ivmcl03"});

  EXPECT_THAT(fixture.Check(),
              ElementsAre("hpvm1/package.yaml:2:9: node \"ivmcl03\" is an arbitrator; "
                          "arbitrators vote but run no packages, expected a member"));
}

TEST(ValidateConfig, NoMemberAtAllIsAnError) {
  Fixture fixture;
  fixture.config.packages.clear();
  for (auto& node : fixture.config.nodes) node.role = NodeRole::kArbitrator;

  EXPECT_THAT(fixture.Check(),
              ElementsAre("cluster.yaml:5:3: nodes: no node has role member; expected at least "
                          "one member to run packages"));
}

TEST(FormatSeconds, UsesMillisecondsBelowASecondAndDecimalsAbove) {
  EXPECT_EQ(FormatSeconds(std::chrono::milliseconds(600)), "600ms");
  EXPECT_EQ(FormatSeconds(std::chrono::milliseconds(1200)), "1.2s");
  EXPECT_EQ(FormatSeconds(std::chrono::milliseconds(1250)), "1.25s");
  EXPECT_EQ(FormatSeconds(std::chrono::seconds(2)), "2s");
}

TEST(ServiceExecutable, ResolvesPathsButNotBareCommands) {
  PackageSpec package = Package("p", {});
  Service relative{"mon", "./monitor.sh -v", 0, {}};
  Service bare{"ping", "ping -c1 host", 0, {}};

  EXPECT_EQ(ServiceExecutable(package, relative), "/etc/cmcl/p/./monitor.sh");
  EXPECT_EQ(ServiceExecutable(package, bare), "");
}

}  // namespace
}  // namespace cmcl::config
