// The dashboard in headless Chromium (issue 12 item 4; full tier, run through run.sh,
// which installs Chromium and playwright-core first). A real 3-node cluster
// (tests/integration/local_cluster.h, which stops every daemon it started, by PID, on
// failure too); dashboard_check.mjs opens node1's dashboard, checks the nodes, the
// packages with their owners and the readiness matrix, moves g1 with pkgctl and waits for
// the page to follow by itself, and saves screenshots under CMCL_BROWSER_ARTIFACTS.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>

#include "cmcld/core/common/json_writer.h"
#include "tests/integration/local_cluster.h"

namespace cmcl::testing {
namespace {

using std::chrono::seconds;

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

TEST(DashboardBrowser, ChromiumShowsTheClusterAndFollowsAMove) {
  const std::string artifacts = Env("CMCL_BROWSER_ARTIFACTS");
  ASSERT_FALSE(Env("CMCL_BROWSER_MODULES").empty() || artifacts.empty())
      << "run through tests/browser/run.sh (ctest -R browser), which installs what it needs";

  LocalCluster::Options options;
  options.metrics = true;
  options.packages = {
      PackageDef{.name = "g1", .nodes = {"node1", "node2", "node3"}},
      PackageDef{.name = "g2", .nodes = {"node2", "node3", "node1"}, .wwid_differs_on = {"node3"}},
      PackageDef{.name = "g3", .nodes = {"node3", "node1"}},
  };
  LocalCluster cluster(options);
  cluster.StartAll();
  ASSERT_TRUE(LocalCluster::WaitFor(
      [&] {
        return cluster.Package(0, "g1")["node"].String() == "node1" &&
               cluster.Package(0, "g2")["node"].String() == "node2" &&
               cluster.Package(0, "g3")["node"].String() == "node3" &&
               cluster.Package(0, "g3")["status"].String() == "up";
      },
      seconds(30)));

  JsonWriter config;
  config.BeginObject();
  config.Key("url").String("http://127.0.0.1:" + std::to_string(cluster.MetricsPort(0)) + "/");
  config.Key("chromium").String("/usr/bin/chromium");
  config.Key("pkgctl").String(PKGCTL_BINARY).Key("socket").String(cluster.Socket(0));
  config.Key("screenshot_dir").String(artifacts);
  config.Key("nodes").BeginArray().String("node1").String("node2").String("node3").EndArray();
  config.Key("owners").BeginObject().Key("g1").String("node1").Key("g2").String("node2");
  config.Key("g3").String("node3").EndObject();
  config.Key("refused").BeginObject().Key("package").String("g2").Key("node").String("node3");
  config.Key("code").String("wwid_mismatch").EndObject();
  config.Key("move").BeginObject().Key("package").String("g1").Key("to").String("node2");
  config.EndObject().EndObject();

  const CommandResult run = RunCommand(
      {"/usr/bin/env", "node", CMCL_SOURCE_DIR "/tests/browser/dashboard_check.mjs", config.str()},
      seconds(150));
  std::cout << run.out << run.err;

  EXPECT_EQ(run.exit_status, 0) << "dashboard_check.mjs failed (its output is above)";
  EXPECT_NE(run.out.find("dashboard in Chromium: ok"), std::string::npos);
  // Ground truth beside the page: g1 did move.
  EXPECT_EQ(cluster.Package(1, "g1")["node"].String(), "node2");
  std::cout << "screenshots (test artifacts): " << artifacts << "/dashboard.png, " << artifacts
            << "/dashboard-before.png, " << artifacts << "/dashboard-unreachable.png\n";
}

}  // namespace
}  // namespace cmcl::testing
