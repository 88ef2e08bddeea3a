// MaterializeBootstrapBundle (io/runtime/bootstrap_bundle.h): v1 is this node's bundle
// when missing; an existing v1 is kept, and one that differs from this node's files is
// reported as a warning with both hashes, not an error.
#include "cmcld/io/runtime/bootstrap_bundle.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <memory>
#include <sstream>

#include "cmcld/io/bundle/bundle.h"
#include "tests/io/bundle/test_config.h"

namespace cmcl::io {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class BootstrapBundleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    previous_ = spdlog::default_logger();
    spdlog::set_default_logger(std::make_shared<spdlog::logger>(
        "test", std::make_shared<spdlog::sinks::ostream_sink_st>(log_)));
    testing::WriteTestConfig(files_);
    state_dir_ = state_ / "state";
  }
  void TearDown() override { spdlog::set_default_logger(previous_); }

  cmcl::config::ClusterConfig Config() {
    return testing::LoadOrFail(files_ / "etc/cluster.yaml");
  }
  static std::string HashOf(const Result<Bundle>& bundle) {
    EXPECT_TRUE(bundle.ok()) << bundle.status().ToString();
    return bundle.ok() ? BundleHash(EncodeBundle(*bundle)) : "";
  }

  std::shared_ptr<spdlog::logger> previous_;
  std::ostringstream log_;
  cmcl::testing::TempDir files_;
  cmcl::testing::TempDir state_;
  std::string state_dir_;
};

TEST_F(BootstrapBundleTest, AMissingV1IsThisNodesBundle) {
  Result<std::string> dir = MaterializeBootstrapBundle(Config(), state_dir_);

  ASSERT_TRUE(dir.ok()) << dir.status().ToString();
  EXPECT_EQ(*dir, state_dir_ + "/config/v1");
  EXPECT_EQ(HashOf(ReadBundleDir(*dir)), HashOf(BuildBundle(Config())));
  EXPECT_THAT(log_.str(), IsEmpty());
}

TEST_F(BootstrapBundleTest, AnEqualV1IsKeptWithoutAWarning) {
  ASSERT_TRUE(MaterializeBootstrapBundle(Config(), state_dir_).ok());

  Result<std::string> dir = MaterializeBootstrapBundle(Config(), state_dir_);

  ASSERT_TRUE(dir.ok()) << dir.status().ToString();
  EXPECT_THAT(log_.str(), IsEmpty());
}

TEST_F(BootstrapBundleTest, ADifferentV1IsKeptAndReportedWithBothHashes) {
  ASSERT_TRUE(MaterializeBootstrapBundle(Config(), state_dir_).ok());
  const std::string old_hash = HashOf(ReadBundleDir(state_dir_ + "/config/v1"));
  files_.Write("pkgs/web/run.sh", "#!/bin/sh\necho run web, changed\n", 0755);
  const std::string new_hash = HashOf(BuildBundle(Config()));

  Result<std::string> dir = MaterializeBootstrapBundle(Config(), state_dir_);

  ASSERT_TRUE(dir.ok()) << dir.status().ToString();
  EXPECT_EQ(HashOf(ReadBundleDir(*dir)), old_hash);
  EXPECT_THAT(log_.str(), HasSubstr("config/v1 differs from CLUSTER_YAML (bundle hash " +
                                    old_hash + " vs " + new_hash + ")"));
  EXPECT_THAT(log_.str(), HasSubstr("scripts run from config/v1"));
}

TEST_F(BootstrapBundleTest, AV1ThatIsNotABundleIsKeptAndReported) {
  fs::create_directories(state_dir_ + "/config/v1/packages/web");
  fs::create_symlink("/etc/passwd", state_dir_ + "/config/v1/packages/web/run.sh");

  Result<std::string> dir = MaterializeBootstrapBundle(Config(), state_dir_);

  ASSERT_TRUE(dir.ok()) << dir.status().ToString();
  EXPECT_TRUE(fs::is_symlink(state_dir_ + "/config/v1/packages/web/run.sh"));
  EXPECT_THAT(log_.str(), HasSubstr("config/v1 differs from CLUSTER_YAML"));
  EXPECT_THAT(log_.str(), HasSubstr("symbolic link"));
}

TEST_F(BootstrapBundleTest, FilesThatCannotBeBundledAreAnError) {
  const cmcl::config::ClusterConfig config = Config();
  fs::create_symlink("/etc/passwd", files_ / "pkgs/web/passwd");

  Result<std::string> dir = MaterializeBootstrapBundle(config, state_dir_);

  ASSERT_FALSE(dir.ok());
  EXPECT_THAT(dir.status().message(), HasSubstr(files_ / "pkgs/web/passwd"));
  EXPECT_FALSE(fs::exists(state_dir_ + "/config/v1"));
}

}  // namespace
}  // namespace cmcl::io
