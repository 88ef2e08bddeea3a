// MaterializeBundle, ReadBundleDir and LoadBundleConfig (io/bundle/bundle.h): a bundle
// written to STATE_DIR/config/vN loads to the same configuration as the files it was
// built from, with scripts inside the bundle and this node's key; a version never changes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "cmcld/io/bundle/bundle.h"
#include "tests/io/bundle/test_config.h"

namespace cmcl::io {
namespace {

namespace fs = std::filesystem;
using cmcl::config::ClusterConfig;
using cmcl::config::NodeSpec;
using cmcl::config::PackageSpec;
using ::testing::HasSubstr;

uint32_t ModeOf(const std::string& path) {
  struct stat info {};
  EXPECT_EQ(::stat(path.c_str(), &info), 0) << path;
  return static_cast<uint32_t>(info.st_mode & 07777);
}

// Same nodes, packages, timings and scripts: everything but where the files are.
void ExpectSameSubstance(const ClusterConfig& a, const ClusterConfig& b) {
  EXPECT_EQ(a.cluster_name, b.cluster_name);
  EXPECT_EQ(a.node_timeout, b.node_timeout);
  EXPECT_EQ(a.heartbeat_interval, b.heartbeat_interval);
  EXPECT_EQ(a.fence_timeout, b.fence_timeout);
  EXPECT_EQ(a.cluster_start_wait, b.cluster_start_wait);
  EXPECT_EQ(a.driver_dir, b.driver_dir);
  EXPECT_EQ(a.access.size(), b.access.size());
  ASSERT_EQ(a.nodes.size(), b.nodes.size());
  for (size_t i = 0; i < a.nodes.size(); ++i) {
    const NodeSpec& x = a.nodes[i];
    const NodeSpec& y = b.nodes[i];
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.addresses, y.addresses);
    EXPECT_EQ(x.role, y.role);
    EXPECT_EQ(x.capacity, y.capacity);
    EXPECT_EQ(x.inventory_source, y.inventory_source);
    EXPECT_EQ(x.inventory, y.inventory);
    EXPECT_EQ(x.state_dir, y.state_dir);
  }
  ASSERT_EQ(a.packages.size(), b.packages.size());
  for (size_t i = 0; i < a.packages.size(); ++i) {
    const PackageSpec& x = a.packages[i];
    const PackageSpec& y = b.packages[i];
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.nodes, y.nodes);
    EXPECT_EQ(x.driver, y.driver);
    EXPECT_EQ(x.run_script, y.run_script);
    EXPECT_EQ(x.halt_script, y.halt_script);
    EXPECT_EQ(x.run_timeout, y.run_timeout);
    EXPECT_EQ(x.halt_timeout, y.halt_timeout);
    EXPECT_EQ(x.guest.vcpus, y.guest.vcpus);
    EXPECT_EQ(x.guest.memory, y.guest.memory);
    ASSERT_EQ(x.services.size(), y.services.size());
    for (size_t k = 0; k < x.services.size(); ++k) {
      EXPECT_EQ(x.services[k].command, y.services[k].command);
      EXPECT_EQ(x.services[k].max_restarts, y.services[k].max_restarts);
    }
  }
}

class MaterializeBundleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::WriteTestConfig(files_);
    original_ = testing::LoadOrFail(files_ / "etc/cluster.yaml");
    Result<Bundle> built = BuildBundle(original_);
    ASSERT_TRUE(built.ok()) << built.status().ToString();
    bundle_ = *built;
    state_dir_ = state_ / "state";
  }

  cmcl::testing::TempDir files_;
  cmcl::testing::TempDir state_;
  ClusterConfig original_;
  Bundle bundle_;
  std::string state_dir_;
};

TEST_F(MaterializeBundleTest, WritesEveryFileWithItsModeUnderConfigVn) {
  Result<std::string> dir = MaterializeBundle(bundle_, 3, state_dir_);

  ASSERT_TRUE(dir.ok()) << dir.status().ToString();
  EXPECT_EQ(*dir, state_dir_ + "/config/v3");
  EXPECT_EQ(ModeOf(*dir + "/packages/web/run.sh"), 0755u);
  EXPECT_EQ(ModeOf(*dir + "/packages/db/stop.sh"), 0750u);
  EXPECT_EQ(ModeOf(*dir + "/packages/web/lib/helpers.sh"), 0644u);
  EXPECT_FALSE(fs::exists(state_dir_ + "/config/v3.tmp"));
  Result<Bundle> back = ReadBundleDir(*dir);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, bundle_);
}

TEST_F(MaterializeBundleTest, LoadsTheSameConfigurationWithScriptsInsideTheBundle) {
  Result<std::string> dir = MaterializeBundle(bundle_, 1, state_dir_);
  ASSERT_TRUE(dir.ok()) << dir.status().ToString();
  const std::string key = files_ / "etc/cluster.key";

  Result<ClusterConfig> loaded = LoadBundleConfig(*dir, key);

  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  ExpectSameSubstance(original_, *loaded);
  EXPECT_EQ(loaded->security.key_file, key);
  EXPECT_EQ(loaded->file, *dir + "/cluster.yaml");
  EXPECT_EQ(loaded->packages[0].folder, *dir + "/packages/web");
  EXPECT_EQ(loaded->nodes[1].inventory_file, *dir + "/inventories/n2.yaml");
  EXPECT_TRUE(fs::exists(loaded->packages[0].folder + "/" + loaded->packages[0].run_script));
}

TEST_F(MaterializeBundleTest, LoadingWithAMissingKeyFileSaysWhichFile) {
  Result<std::string> dir = MaterializeBundle(bundle_, 1, state_dir_);
  ASSERT_TRUE(dir.ok()) << dir.status().ToString();

  Result<ClusterConfig> loaded = LoadBundleConfig(*dir, files_ / "etc/no-such.key");

  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(loaded.status().message(), HasSubstr("no-such.key"));
}

TEST_F(MaterializeBundleTest, AnEqualBundleKeepsTheExistingFolder) {
  Result<std::string> first = MaterializeBundle(bundle_, 2, state_dir_);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  struct stat folder_before {};
  struct stat script_before {};
  ASSERT_EQ(::stat(first->c_str(), &folder_before), 0);
  ASSERT_EQ(::stat((*first + "/packages/web/run.sh").c_str(), &script_before), 0);

  Result<std::string> second = MaterializeBundle(bundle_, 2, state_dir_);

  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(*second, *first);
  struct stat folder_after {};
  struct stat script_after {};
  ASSERT_EQ(::stat(second->c_str(), &folder_after), 0);
  ASSERT_EQ(::stat((*second + "/packages/web/run.sh").c_str(), &script_after), 0);
  EXPECT_EQ(folder_after.st_ino, folder_before.st_ino);
  EXPECT_EQ(script_after.st_ino, script_before.st_ino);
}

TEST_F(MaterializeBundleTest, ADifferentBundleForAnExistingVersionIsAnError) {
  ASSERT_TRUE(MaterializeBundle(bundle_, 2, state_dir_).ok());
  Bundle other = bundle_;
  other.files.back().bytes += "# changed\n";

  Result<std::string> second = MaterializeBundle(other, 2, state_dir_);

  ASSERT_FALSE(second.ok());
  EXPECT_THAT(second.status().message(), HasSubstr("differs"));
  EXPECT_THAT(second.status().message(), HasSubstr(BundleHash(EncodeBundle(other))));
  Result<Bundle> kept = ReadBundleDir(state_dir_ + "/config/v2");
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(*kept, bundle_);
}

TEST_F(MaterializeBundleTest, ACrashLeftoverTmpFolderIsReplaced) {
  fs::create_directories(state_dir_ + "/config/v4.tmp/packages/web");
  std::ofstream(state_dir_ + "/config/v4.tmp/packages/web/run.sh") << "half a scr";
  std::ofstream(state_dir_ + "/config/v4.tmp/stale") << "from the crash";

  Result<std::string> dir = MaterializeBundle(bundle_, 4, state_dir_);

  ASSERT_TRUE(dir.ok()) << dir.status().ToString();
  EXPECT_FALSE(fs::exists(state_dir_ + "/config/v4.tmp"));
  Result<Bundle> back = ReadBundleDir(*dir);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, bundle_);
}

TEST_F(MaterializeBundleTest, RefusesAnInvalidBundleWritingNothing) {
  Bundle escaping = bundle_;
  escaping.files.push_back({"packages/web/../../../escaped", 0644, "x"});

  Result<std::string> dir = MaterializeBundle(escaping, 5, state_dir_);

  ASSERT_FALSE(dir.ok());
  EXPECT_FALSE(fs::exists(state_dir_ + "/config/v5"));
  EXPECT_FALSE(fs::exists(state_ / "escaped"));
}

TEST_F(MaterializeBundleTest, PathsOutsideTheBundleLoadAsTheyResolvedFromTheClusterFile) {
  std::string cluster = testing::kClusterYaml;
  cluster.replace(cluster.find("KEY"), 3, "cluster.key");
  cluster.insert(cluster.find("security:"), "driver_dir: ../drivers\n");
  cluster.insert(cluster.find("    inventory_file:"), "    state_dir: ../state/n2\n");
  files_.Write("etc/cluster.yaml", cluster);
  const ClusterConfig original = testing::LoadOrFail(files_ / "etc/cluster.yaml");
  Result<Bundle> built = BuildBundle(original);
  ASSERT_TRUE(built.ok()) << built.status().ToString();
  Result<std::string> dir = MaterializeBundle(*built, 1, state_dir_);
  ASSERT_TRUE(dir.ok()) << dir.status().ToString();

  Result<ClusterConfig> loaded = LoadBundleConfig(*dir, files_ / "etc/cluster.key");

  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->driver_dir, files_ / "drivers");
  EXPECT_EQ(loaded->nodes[1].state_dir, files_ / "state/n2");
  ExpectSameSubstance(original, *loaded);
}

TEST(DemoBundleTest, TheDemoConfigurationBundlesAndLoads) {
  cmcl::testing::TempDir dir;
  for (const char* folder : {"config", "packages"}) {
    fs::copy(fs::path(CMCL_SOURCE_DIR) / folder, dir / folder, fs::copy_options::recursive);
  }
  dir.Write("config/demo/cluster.key", std::string(32, 'x'), 0600);
  const ClusterConfig demo = testing::LoadOrFail(dir / "config/demo/cluster.yaml");
  Result<Bundle> bundle = BuildBundle(demo);
  ASSERT_TRUE(bundle.ok()) << bundle.status().ToString();
  Result<std::string> materialized = MaterializeBundle(*bundle, 1, dir / "state");
  ASSERT_TRUE(materialized.ok()) << materialized.status().ToString();

  Result<ClusterConfig> loaded = LoadBundleConfig(*materialized, dir / "config/demo/cluster.key");

  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  ExpectSameSubstance(demo, *loaded);
  EXPECT_EQ(loaded->packages.size(), 3u);
}

}  // namespace
}  // namespace cmcl::io
