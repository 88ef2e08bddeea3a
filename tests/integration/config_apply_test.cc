// `config apply` on real daemons (DESIGN.md section 8; issue 9): a new version reaches
// every node all or nothing, a package it adds then runs, a running package is halted
// with the scripts of the version that started it, and a refused apply changes nothing
// anywhere. The halt scripts append to a marker file: the ground truth of which script
// version ran.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "tests/integration/local_cluster.h"

namespace cmcl::testing {
namespace {

using std::chrono::seconds;

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A halt script that records `tag` in MARKER, then stops the guest as the default does.
std::string MarkingHalt(const std::string& marker, const std::string& tag) {
  return "#!/bin/sh\necho " + tag + " >> " + marker + "\nexec \"$CMCL_DRIVER_DIR/process\" stop\n";
}

class ConfigApplyTest : public ::testing::Test {
 protected:
  static LocalCluster::Options OneGuest() {
    LocalCluster::Options options;
    options.packages = {PackageDef{.name = "g1", .nodes = {"node1", "node2", "node3"}}};
    return options;
  }
  void SetUp() override {
    cluster.WriteFile("packages/g1/halt.sh", MarkingHalt(Marker(), "v1"), 0755);
    cluster.StartAll();
    ASSERT_TRUE(LocalCluster::WaitFor([&] { return UpOn(0, "g1", "node1"); }, seconds(20)));
  }

  std::string Marker() const { return cluster.FilePath("halt-marker"); }
  bool UpOn(int from, const std::string& package, const std::string& node) const {
    const JsonValue entry = cluster.Package(from, package);
    return entry["status"].String() == "up" && entry["node"].String() == node;
  }
  // The configuration version `node` has applied (-1 when it does not answer).
  int64_t VersionOn(int node) const {
    const std::optional<JsonValue> view = cluster.View(node);
    return view ? static_cast<int64_t>((*view)["cluster"]["config_version"].Number()) : -1;
  }
  bool EveryNodeAt(int64_t version) const {
    for (int i = 0; i < 3; ++i) {
      if (VersionOn(i) != version) return false;
    }
    return true;
  }
  CommandResult Apply(int node) const {
    return cluster.Pkgctl(node, {"config", "apply", cluster.config_path()}, false);
  }

  LocalCluster cluster{OneGuest()};
};

TEST_F(ConfigApplyTest, AnAppliedPackageRunsAndARunningOneHaltsWithTheScriptThatStartedIt) {
  cluster.AddPackage(PackageDef{.name = "g2", .nodes = {"node2", "node3", "node1"}});
  cluster.WriteFile("packages/g1/halt.sh", MarkingHalt(Marker(), "v2"), 0755);

  const auto began = std::chrono::steady_clock::now();
  const CommandResult applied = Apply(2);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - began);

  ASSERT_EQ(applied.exit_status, 0) << applied.out << applied.err;
  EXPECT_EQ(applied.out, "configuration version 2 applied\n");
  std::cout << "config apply of version 2 (3 members validating) took " << took.count()
            << " ms\n";
  EXPECT_TRUE(LocalCluster::WaitFor([&] { return EveryNodeAt(2); }, seconds(10)));
  EXPECT_TRUE(LocalCluster::WaitFor([&] { return UpOn(0, "g2", "node2"); }, seconds(20)));
  EXPECT_EQ(cluster.RunningCopies("g2"), 1);

  // g1 was started by version 1: its halt is version 1's script.
  const CommandResult halted = cluster.Pkgctl(1, {"halt", "g1"});
  ASSERT_EQ(halted.exit_status, 0) << halted.out << halted.err;
  EXPECT_EQ(Slurp(Marker()), "v1\n");

  // Started again, by version 2: now version 2's script halts it.
  ASSERT_EQ(cluster.Pkgctl(1, {"run", "g1", "-n", "node1"}).exit_status, 0);
  ASSERT_EQ(cluster.Pkgctl(1, {"halt", "g1"}).exit_status, 0);
  EXPECT_EQ(Slurp(Marker()), "v1\nv2\n");
}

TEST_F(ConfigApplyTest, RefusedAppliesLeaveTheVersionOnEveryNode) {
  // The same files: nothing to do.
  const CommandResult same = Apply(0);
  EXPECT_EQ(same.exit_status, 0) << same.out << same.err;
  EXPECT_NE(same.out.find("applied already"), std::string::npos) << same.out;

  // A driver that is not installed.
  const std::string spec = Slurp(cluster.FilePath("packages/g1/package.yaml"));
  std::string other = spec;
  other.replace(other.find("driver: process"), 15, "driver: nosuch");
  cluster.WriteFile("packages/g1/package.yaml", other);
  const CommandResult driver = Apply(1);
  EXPECT_EQ(driver.exit_status, 1) << driver.out << driver.err;
  EXPECT_NE(driver.err.find("driver nosuch of package g1 not found"), std::string::npos)
      << driver.err;
  cluster.WriteFile("packages/g1/package.yaml", spec);

  // A running package that would be stranded.
  const std::string with_g1 = Slurp(cluster.config_path());
  cluster.RemovePackage("g1");
  const CommandResult stranded = Apply(0);
  EXPECT_EQ(stranded.exit_status, 1) << stranded.out << stranded.err;
  EXPECT_NE(stranded.err.find("package g1 is up on node1 and is not in the new version; halt it "
                              "first"),
            std::string::npos)
      << stranded.err;
  cluster.WriteFile("cluster.yaml", with_g1);

  // A voter change.
  const std::string yaml = with_g1;
  const std::string node3 = yaml.substr(yaml.find("  - name: node3"),
                                        yaml.find("packages:") - yaml.find("  - name: node3"));
  std::string node4 = node3;
  node4.replace(node4.find("node3"), 5, "node4");
  node4.replace(node4.find("127.0.0.1:"), 10, "127.0.0.2:");
  cluster.WriteFile("cluster.yaml", yaml.substr(0, yaml.find("packages:")) + node4 +
                                        yaml.substr(yaml.find("packages:")));
  const CommandResult voters = Apply(2);
  EXPECT_EQ(voters.exit_status, 1) << voters.out << voters.err;
  EXPECT_NE(voters.err.find("node node4 added"), std::string::npos) << voters.err;

  EXPECT_TRUE(EveryNodeAt(1));
  EXPECT_TRUE(UpOn(2, "g1", "node1"));
  EXPECT_EQ(cluster.RunningCopies("g1"), 1);
}

TEST_F(ConfigApplyTest, CmapplyconfAppliesTheFileOfDashC) {
  cluster.AddPackage(PackageDef{.name = "g2", .nodes = {"node3"}, .auto_run = false});
  const std::string link = cluster.FilePath("cmapplyconf");
  std::filesystem::create_symlink(PKGCTL_BINARY, link);

  const CommandResult applied = RunCommand(
      {"env", "CMCL_SOCKET=" + cluster.Socket(1), link, "-C", cluster.config_path()});

  EXPECT_EQ(applied.exit_status, 0) << applied.out << applied.err;
  EXPECT_EQ(applied.out, "configuration version 2 applied\n");
  EXPECT_TRUE(LocalCluster::WaitFor([&] { return EveryNodeAt(2); }, seconds(10)));
  EXPECT_EQ(cluster.Package(0, "g2")["status"].String(), "down");

  // A restarted daemon follows the applied version (its v1 is its own files).
  cluster.CrashDaemon(2);
  cluster.Start(2);
  EXPECT_TRUE(LocalCluster::WaitFor([&] { return VersionOn(2) == 2; }, seconds(10)));
  const CommandResult shown = cluster.Pkgctl(2, {"config", "show"}, false);
  EXPECT_NE(shown.out.find("configuration version 2"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("packages/g2"), std::string::npos) << shown.out;
}

}  // namespace
}  // namespace cmcl::testing
