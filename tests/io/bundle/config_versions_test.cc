// ConfigVersions (io/runtime/config_versions.h): the versions a node holds in
// STATE_DIR/config/vN, and the version each guest was started from — DESIGN.md section
// 8: "a package is halted with the scripts of the version that started it; a node keeps
// the latest version and every version a running package was started from".
#include "cmcld/io/runtime/config_versions.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "cmcld/io/bundle/bundle.h"
#include "tests/io/bundle/test_config.h"

namespace cmcl::io {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const PackageName kWeb("web");

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

class ConfigVersionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::WriteTestConfig(files_);
    versions_ = std::make_unique<ConfigVersions>(state_ / "s", files_ / "etc/cluster.key");
    own_ = std::make_shared<const cmcl::config::ClusterConfig>(
        testing::LoadOrFail(files_ / "etc/cluster.yaml"));
    ASSERT_TRUE(versions_->StartWithBootstrap(own_).ok());
  }

  // The bundle bytes of the files after web's halt script became `halt`.
  std::string NextBytes(const std::string& halt) {
    files_.Write("pkgs/web/halt.sh", halt, 0755);
    Result<Bundle> bundle = BuildBundle(testing::LoadOrFail(files_ / "etc/cluster.yaml"));
    EXPECT_TRUE(bundle.ok());
    return bundle.ok() ? EncodeBundle(*bundle) : "";
  }
  std::string V(uint64_t n) const { return state_ / ("s/config/v" + std::to_string(n)); }

  cmcl::testing::TempDir files_;
  cmcl::testing::TempDir state_;
  std::unique_ptr<ConfigVersions> versions_;
  std::shared_ptr<const cmcl::config::ClusterConfig> own_;
};

TEST_F(ConfigVersionsTest, TheBootstrapVersionIsOneFromThisNodesFiles) {
  EXPECT_EQ(versions_->current().number, 1U);
  EXPECT_EQ(versions_->current().dir, V(1));
  EXPECT_EQ(versions_->current().config->packages.size(), 2U);
  EXPECT_TRUE(fs::exists(V(1) + "/packages/web/halt.sh"));
}

TEST_F(ConfigVersionsTest, AnAppliedVersionIsWrittenLoadedAndCurrent) {
  const std::string bytes = NextBytes("#!/bin/sh\necho new halt\n");

  Result<const ConfigVersions::Version*> v2 = versions_->Apply(2, bytes, BundleHash(bytes));

  ASSERT_TRUE(v2.ok()) << v2.status().ToString();
  EXPECT_EQ(versions_->current().number, 2U);
  EXPECT_EQ((*v2)->dir, V(2));
  EXPECT_EQ(Slurp(V(2) + "/packages/web/halt.sh"), "#!/bin/sh\necho new halt\n");
  EXPECT_EQ((*v2)->config->security.key_file, files_ / "etc/cluster.key");
}

TEST_F(ConfigVersionsTest, BytesThatDoNotMatchTheAppliedHashAreNotWritten) {
  const std::string bytes = NextBytes("#!/bin/sh\necho new halt\n");

  Result<const ConfigVersions::Version*> v2 = versions_->Apply(2, bytes, std::string(64, 'f'));

  EXPECT_FALSE(v2.ok());
  EXPECT_FALSE(fs::exists(V(2)));
  EXPECT_EQ(versions_->current().number, 1U);
}

TEST_F(ConfigVersionsTest, ALeftoverVersionFolderThatDiffersIsReplaced) {
  state_.Write("s/config/v2/cluster.yaml", "cluster_name: stale\n");
  const std::string bytes = NextBytes("#!/bin/sh\necho new halt\n");

  Result<const ConfigVersions::Version*> v2 = versions_->Apply(2, bytes, BundleHash(bytes));

  ASSERT_TRUE(v2.ok()) << v2.status().ToString();
  EXPECT_EQ((*v2)->config->cluster_name.value(), "testcl");
}

TEST_F(ConfigVersionsTest, ARunningGuestKeepsTheVersionThatStartedIt) {
  versions_->Register(kWeb, false);
  versions_->Forget([](const PackageName& package) { return package == kWeb; });
  const std::string bytes = NextBytes("#!/bin/sh\necho new halt\n");
  ASSERT_TRUE(versions_->Apply(2, bytes, BundleHash(bytes)).ok());
  versions_->Prune();

  const ConfigVersions::Version& version = versions_->ForGuest(kWeb);

  EXPECT_EQ(version.number, 1U);
  EXPECT_EQ(Slurp(version.dir + "/packages/web/halt.sh"), "#!/bin/sh\necho halt web\n");
  EXPECT_TRUE(fs::exists(V(1)));
}

TEST_F(ConfigVersionsTest, AReRegistrationOfARunningGuestKeepsItsVersion) {
  versions_->Register(kWeb, false);
  const std::string bytes = NextBytes("#!/bin/sh\necho new halt\n");
  ASSERT_TRUE(versions_->Apply(2, bytes, BundleHash(bytes)).ok());

  EXPECT_EQ(versions_->Register(kWeb, true).number, 1U);
  EXPECT_EQ(versions_->Register(kWeb, false).number, 2U);
}

TEST_F(ConfigVersionsTest, AnOldVersionIsDeletedOnceItsLastGuestIsGone) {
  versions_->Register(kWeb, false);
  const std::string bytes = NextBytes("#!/bin/sh\necho new halt\n");
  ASSERT_TRUE(versions_->Apply(2, bytes, BundleHash(bytes)).ok());
  versions_->Prune();
  ASSERT_TRUE(fs::exists(V(1)));

  versions_->Unregister(kWeb);

  EXPECT_FALSE(fs::exists(V(1)));
  EXPECT_TRUE(fs::exists(V(2)));
  EXPECT_EQ(versions_->ForGuest(kWeb).number, 2U);
}

TEST_F(ConfigVersionsTest, AGuestNoLongerRunningHereIsForgotten) {
  versions_->Register(kWeb, false);
  versions_->Forget([](const PackageName& package) { return package == kWeb; });
  const std::string bytes = NextBytes("#!/bin/sh\necho new halt\n");
  ASSERT_TRUE(versions_->Apply(2, bytes, BundleHash(bytes)).ok());

  versions_->Forget([](const PackageName&) { return false; });

  EXPECT_FALSE(fs::exists(V(1)));
}

TEST_F(ConfigVersionsTest, WhileEveryGuestIsOfTheCurrentVersionForgetAsksNothing) {
  versions_->Register(kWeb, false);
  versions_->Forget([](const PackageName&) { return true; });  // Started: not starting now.
  int asked = 0;

  versions_->Forget([&asked](const PackageName&) { return ++asked, false; });

  EXPECT_EQ(asked, 0);
}

TEST_F(ConfigVersionsTest, AStoppedGuestLeftAtTheCurrentVersionIsForgottenOnceItIsOlder) {
  versions_->Register(kWeb, false);
  versions_->Forget([](const PackageName&) { return true; });
  versions_->Forget([](const PackageName&) { return false; });  // Stopped: nothing to free.
  const std::string bytes = NextBytes("#!/bin/sh\necho new halt\n");
  ASSERT_TRUE(versions_->Apply(2, bytes, BundleHash(bytes)).ok());
  ASSERT_TRUE(fs::exists(V(1)));

  versions_->Forget([](const PackageName&) { return false; });

  EXPECT_FALSE(fs::exists(V(1)));
  EXPECT_EQ(versions_->ForGuest(kWeb).number, 2U);
}

TEST_F(ConfigVersionsTest, AGuestRegisteredForAStartIsKeptUntilItRuns) {
  const std::string bytes = NextBytes("#!/bin/sh\necho new halt\n");
  ASSERT_TRUE(versions_->Apply(2, bytes, BundleHash(bytes)).ok());
  versions_->Register(kWeb, false);

  versions_->Forget([](const PackageName&) { return false; });

  EXPECT_EQ(versions_->ForGuest(kWeb).number, 2U);
}

TEST_F(ConfigVersionsTest, AfterARestartAGuestTakesTheVersionOfItsGuardWorkDir) {
  const std::string bytes = NextBytes("#!/bin/sh\necho new halt\n");
  ASSERT_TRUE(versions_->Apply(2, bytes, BundleHash(bytes)).ok());
  ConfigVersions restarted(state_ / "s", files_ / "etc/cluster.key");
  ASSERT_TRUE(restarted.StartWithBootstrap(own_).ok());
  ASSERT_TRUE(restarted.Apply(2, bytes, BundleHash(bytes)).ok());

  restarted.AdoptGuests({{kWeb, V(1) + "/packages/web"}});

  EXPECT_EQ(restarted.ForGuest(kWeb).number, 1U);
  EXPECT_EQ(restarted.ForGuest(PackageName("db")).number, 2U);
}

TEST_F(ConfigVersionsTest, TheVersionOfAPathIsTheVersionFolderItIsIn) {
  EXPECT_EQ(versions_->VersionOf(V(12) + "/packages/web"), 12U);
  EXPECT_EQ(versions_->VersionOf(V(3)), 3U);
  EXPECT_EQ(versions_->VersionOf(state_ / "s/config/v2.tmp/packages/web"), std::nullopt);
  EXPECT_EQ(versions_->VersionOf("/elsewhere/config/v2/packages/web"), std::nullopt);
}

TEST_F(ConfigVersionsTest, LeftoversOfInterruptedWritesGoAtStartOnly) {
  state_.Write("s/config/v3.tmp/cluster.yaml", "x");
  state_.Write("s/config/incoming-abc/cluster.yaml", "x");
  versions_->Prune();
  ASSERT_TRUE(fs::exists(state_ / "s/config/v3.tmp")) << "it may be being written";

  ConfigVersions restarted(state_ / "s", files_ / "etc/cluster.key");
  ASSERT_TRUE(restarted.StartWithBootstrap(own_).ok());

  EXPECT_FALSE(fs::exists(state_ / "s/config/v3.tmp"));
  EXPECT_FALSE(fs::exists(state_ / "s/config/incoming-abc"));
  EXPECT_TRUE(fs::exists(V(1)));
}

TEST_F(ConfigVersionsTest, APreparedVersionIsWrittenButNotCurrentUntilInstalled) {
  const std::string bytes = NextBytes("#!/bin/sh\necho new halt\n");

  Result<ConfigVersions::Version> v2 = ConfigVersions::Prepare(
      2, bytes, BundleHash(bytes), versions_->state_dir(), versions_->key_file());

  ASSERT_TRUE(v2.ok()) << v2.status().ToString();
  EXPECT_TRUE(fs::exists(V(2) + "/packages/web/halt.sh"));
  EXPECT_EQ(versions_->current().number, 1U);
  versions_->Install(std::move(v2).value());
  EXPECT_EQ(versions_->current().number, 2U);
}

}  // namespace
}  // namespace cmcl::io
