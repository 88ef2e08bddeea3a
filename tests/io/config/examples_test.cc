// Every example configuration in the source tree's config/ folder loads without an
// error. Key files are not in git, so the examples are copied with packages/ into a
// temporary folder and each gets a fresh 32-byte mode-0600 key, as tools/demo.sh does.
#include <gtest/gtest.h>

#include <filesystem>

#include "cmcld/io/config/load.h"
#include "tests/support/temp_dir.h"

namespace cmcl::io::config {
namespace {

namespace fs = std::filesystem;

class ExamplesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* folder : {"config", "packages"}) {
      fs::copy(fs::path(CMCL_SOURCE_DIR) / folder, dir_ / folder, fs::copy_options::recursive);
    }
  }
  LoadedConfig LoadExample(const std::string& name) {
    dir_.Write("config/" + name + "/cluster.key", std::string(32, 'x'), 0600);
    return LoadCluster(dir_ / ("config/" + name + "/cluster.yaml"));
  }
  static std::string Errors(const LoadedConfig& loaded) {
    std::string text;
    for (const auto& d : loaded.diagnostics) text += cmcl::config::FormatDiagnostic(d) + "\n";
    return text;
  }

  testing::TempDir dir_;
};

TEST_F(ExamplesTest, EveryExampleClusterLoadsWithoutErrors) {
  size_t examples = 0;
  for (const auto& entry : fs::directory_iterator(dir_ / "config")) {
    if (!fs::exists(entry.path() / "cluster.yaml")) continue;
    ++examples;

    const LoadedConfig loaded = LoadExample(entry.path().filename().string());

    EXPECT_TRUE(loaded.ok()) << entry.path() << ":\n" << Errors(loaded);
  }
  EXPECT_GE(examples, 2u);
}

TEST_F(ExamplesTest, DemoHasThreeMembersOnLoopbackEachWithItsOwnStateDir) {
  const LoadedConfig loaded = LoadExample("demo");

  ASSERT_TRUE(loaded.ok()) << Errors(loaded);
  const auto& nodes = loaded.config.nodes;
  ASSERT_EQ(loaded.config.Members().size(), 3u);
  EXPECT_NE(nodes[0].state_dir, nodes[1].state_dir);
  EXPECT_NE(nodes[1].state_dir, nodes[2].state_dir);
  for (const auto& node : nodes) EXPECT_EQ(node.addresses[0].host.rfind("127.", 0), 0u);
  EXPECT_GE(loaded.config.packages.size(), 2u);
}

TEST_F(ExamplesTest, HpvmExampleMirrorsIvmclWithGuestHpvm1) {
  const LoadedConfig loaded = LoadExample("hpvm");

  ASSERT_TRUE(loaded.ok()) << Errors(loaded);
  const auto& config = loaded.config;
  const auto* ivmcl01 = config.FindNode(NodeName("ivmcl01"));
  const auto* ivmcl02 = config.FindNode(NodeName("ivmcl02"));
  const auto* hpvm1 = config.FindPackage(PackageName("hpvm1"));
  ASSERT_TRUE(ivmcl01 && ivmcl02 && hpvm1);
  EXPECT_EQ(ivmcl01->inventory.vswitches[0].name, "vlan2");
  EXPECT_EQ(ivmcl01->inventory.vswitches[0].nic, "lan0");
  EXPECT_EQ(ivmcl01->inventory.shared_devices[0], "/dev/rdsk/c1t4d0");
  EXPECT_EQ(ivmcl02->inventory.disks[0].wwid, ivmcl01->inventory.disks[0].wwid);
  EXPECT_EQ(hpvm1->guest.storage[0].path, "/dev/rdisk/disk10");
  EXPECT_TRUE(hpvm1->guest.storage[0].wwid.has_value());
  EXPECT_EQ(hpvm1->guest.devices[0].path, "/dev/rdsk/c1t4d0");
  EXPECT_EQ(hpvm1->guest.networks[0].vswitch, "vlan2");
}

}  // namespace
}  // namespace cmcl::io::config
