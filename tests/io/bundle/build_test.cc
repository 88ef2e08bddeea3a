// BuildBundle (io/bundle/bundle.h): the files of a configuration, sorted, with their
// modes, the cluster file rewritten to load from inside the bundle, the same hash for the
// same files wherever they are, and refusals that name the offending path.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>

#include "cmcld/io/bundle/bundle.h"
#include "tests/io/bundle/test_config.h"

namespace cmcl::io {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

std::vector<std::string> Paths(const Bundle& bundle) {
  std::vector<std::string> paths;
  for (const BundleFile& file : bundle.files) paths.push_back(file.path);
  return paths;
}

const BundleFile* Find(const Bundle& bundle, const std::string& path) {
  for (const BundleFile& file : bundle.files) {
    if (file.path == path) return &file;
  }
  return nullptr;
}

class BuildBundleTest : public ::testing::Test {
 protected:
  void SetUp() override { testing::WriteTestConfig(dir_); }
  Result<Bundle> Build(cmcl::testing::TempDir& dir) {
    return BuildBundle(testing::LoadOrFail(dir / "etc/cluster.yaml"));
  }
  std::string HashOf(cmcl::testing::TempDir& dir) {
    Result<Bundle> bundle = Build(dir);
    EXPECT_TRUE(bundle.ok()) << bundle.status().ToString();
    return bundle.ok() ? BundleHash(EncodeBundle(*bundle)) : "";
  }

  cmcl::testing::TempDir dir_;
};

TEST_F(BuildBundleTest, HoldsTheClusterFilePackagesAndInventoriesSortedByPath) {
  Result<Bundle> bundle = Build(dir_);

  ASSERT_TRUE(bundle.ok()) << bundle.status().ToString();
  EXPECT_THAT(Paths(*bundle),
              ElementsAre("cluster.yaml", "inventories/n2.yaml", "packages/db/package.yaml",
                          "packages/db/start.sh", "packages/db/stop.sh",
                          "packages/web/bin/monitor.sh", "packages/web/halt.sh",
                          "packages/web/lib/helpers.sh", "packages/web/package.yaml",
                          "packages/web/run.sh"));
  EXPECT_EQ(Find(*bundle, "packages/web/run.sh")->bytes, "#!/bin/sh\necho run web\n");
  EXPECT_EQ(Find(*bundle, "inventories/n2.yaml")->bytes, testing::kInventoryYaml);
}

TEST_F(BuildBundleTest, KeepsEachFilesPermissionBits) {
  Result<Bundle> bundle = Build(dir_);

  ASSERT_TRUE(bundle.ok()) << bundle.status().ToString();
  EXPECT_EQ(Find(*bundle, "packages/web/run.sh")->mode, 0755u);
  EXPECT_EQ(Find(*bundle, "packages/db/stop.sh")->mode, 0750u);
  EXPECT_EQ(Find(*bundle, "packages/web/lib/helpers.sh")->mode, 0644u);
  EXPECT_EQ(Find(*bundle, "cluster.yaml")->mode, 0644u);
}

TEST_F(BuildBundleTest, RewritesThePackageListInventoryFileAndKeyFile) {
  Result<Bundle> bundle = Build(dir_);

  ASSERT_TRUE(bundle.ok()) << bundle.status().ToString();
  const std::string& yaml = Find(*bundle, "cluster.yaml")->bytes;
  EXPECT_THAT(yaml, HasSubstr("packages/web"));
  EXPECT_THAT(yaml, HasSubstr("packages/db"));
  EXPECT_THAT(yaml, Not(HasSubstr("../pkgs")));
  EXPECT_THAT(yaml, HasSubstr("inventory_file: inventories/n2.yaml"));
  EXPECT_THAT(yaml, Not(HasSubstr("cluster.key")));
  EXPECT_THAT(yaml, Not(HasSubstr("this comment")));
}

TEST_F(BuildBundleTest, TheSameFilesElsewhereWithTheKeyAtAnotherPathHashTheSame) {
  cmcl::testing::TempDir other;
  testing::WriteTestConfig(other, "../secrets/node2.key");

  EXPECT_EQ(HashOf(dir_), HashOf(other));
}

TEST_F(BuildBundleTest, OneChangedScriptByteChangesTheHash) {
  const std::string before = HashOf(dir_);
  dir_.Write("pkgs/web/run.sh", "#!/bin/sh\necho run wEb\n", 0755);

  EXPECT_NE(HashOf(dir_), before);
}

TEST_F(BuildBundleTest, OneChangedModeChangesTheHash) {
  const std::string before = HashOf(dir_);
  ::chmod((dir_ / "pkgs/web/lib/helpers.sh").c_str(), 0600);

  EXPECT_NE(HashOf(dir_), before);
}

TEST_F(BuildBundleTest, RefusesASymbolicLinkNamingIt) {
  const auto config = testing::LoadOrFail(dir_ / "etc/cluster.yaml");
  fs::create_symlink("/etc/passwd", dir_ / "pkgs/web/lib/passwd");

  Result<Bundle> bundle = BuildBundle(config);

  ASSERT_FALSE(bundle.ok());
  EXPECT_THAT(bundle.status().message(), HasSubstr(dir_ / "pkgs/web/lib/passwd"));
  EXPECT_THAT(bundle.status().message(), HasSubstr("symbolic link"));
}

TEST_F(BuildBundleTest, RefusesAFifoNamingIt) {
  const auto config = testing::LoadOrFail(dir_ / "etc/cluster.yaml");
  ASSERT_EQ(::mkfifo((dir_ / "pkgs/db/pipe").c_str(), 0600), 0);

  Result<Bundle> bundle = BuildBundle(config);

  ASSERT_FALSE(bundle.ok());
  EXPECT_THAT(bundle.status().message(), HasSubstr(dir_ / "pkgs/db/pipe"));
  EXPECT_THAT(bundle.status().message(), HasSubstr("fifo"));
}

TEST_F(BuildBundleTest, RefusesASocketNamingIt) {
  const auto config = testing::LoadOrFail(dir_ / "etc/cluster.yaml");
  const std::string path = dir_ / "pkgs/db/sock";
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  ASSERT_LT(path.size(), sizeof(address.sun_path));
  path.copy(address.sun_path, path.size());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ::close(fd);

  Result<Bundle> bundle = BuildBundle(config);

  ASSERT_FALSE(bundle.ok());
  EXPECT_THAT(bundle.status().message(), HasSubstr(path));
  EXPECT_THAT(bundle.status().message(), HasSubstr("socket"));
}

TEST_F(BuildBundleTest, RefusesAScriptOutsideItsPackageFolderNamingIt) {
  dir_.Write("pkgs/common/run.sh", "#!/bin/sh\n", 0755);
  std::string package = testing::kDbPackage;
  package.replace(package.find("start.sh"), 8, "../common/run.sh");
  dir_.Write("pkgs/db/package.yaml", package);
  const auto config = testing::LoadOrFail(dir_ / "etc/cluster.yaml");

  Result<Bundle> bundle = BuildBundle(config);

  ASSERT_FALSE(bundle.ok());
  EXPECT_THAT(bundle.status().message(), HasSubstr("../common/run.sh"));
  EXPECT_THAT(bundle.status().message(), HasSubstr("outside the package folder"));
}

TEST_F(BuildBundleTest, RefusesAServiceCommandOutsideItsPackageFolder) {
  dir_.Write("pkgs/shared/monitor.sh", "#!/bin/sh\n", 0755);
  std::string package = testing::kWebPackage;
  package.replace(package.find("./bin/monitor.sh"), 16, "../shared/monitor.sh");
  dir_.Write("pkgs/web/package.yaml", package);
  const auto config = testing::LoadOrFail(dir_ / "etc/cluster.yaml");

  Result<Bundle> bundle = BuildBundle(config);

  ASSERT_FALSE(bundle.ok());
  EXPECT_THAT(bundle.status().message(), HasSubstr("../shared/monitor.sh"));
}

TEST_F(BuildBundleTest, RefusesMoreThanEightMebibytesNamingTheLargestFiles) {
  const auto config = testing::LoadOrFail(dir_ / "etc/cluster.yaml");
  dir_.Write("pkgs/web/big.img", std::string(9U << 20, 'x'));
  dir_.Write("pkgs/db/medium.img", std::string(100U << 10, 'y'));

  Result<Bundle> bundle = BuildBundle(config);

  ASSERT_FALSE(bundle.ok());
  EXPECT_THAT(bundle.status().message(), HasSubstr("bundle is 9.1 MiB; at most 3 MiB"));
  EXPECT_THAT(bundle.status().message(), HasSubstr(dir_ / "pkgs/web/big.img (9 MiB)"));
  EXPECT_THAT(bundle.status().message(), HasSubstr(dir_ / "pkgs/db/medium.img (100.0 KiB)"));
}

TEST_F(BuildBundleTest, RefusesMoreThanTheMostFiles) {
  const auto config = testing::LoadOrFail(dir_ / "etc/cluster.yaml");
  for (size_t i = 0; i <= kBundleFilesMax; ++i) {
    dir_.Write("pkgs/web/many/f" + std::to_string(i), "");
  }

  Result<Bundle> bundle = BuildBundle(config);

  ASSERT_FALSE(bundle.ok());
  EXPECT_THAT(bundle.status().message(),
              HasSubstr("at most " + std::to_string(kBundleFilesMax) + " files"));
  EXPECT_THAT(bundle.status().message(), HasSubstr(dir_ / "pkgs/web/many/"));
}

TEST_F(BuildBundleTest, RefusesAFileNameThatIsNotUtf8) {
  const auto config = testing::LoadOrFail(dir_ / "etc/cluster.yaml");
  dir_.Write("pkgs/web/bad\xff.sh", "");

  Result<Bundle> bundle = BuildBundle(config);

  ASSERT_FALSE(bundle.ok());
  EXPECT_THAT(bundle.status().message(), HasSubstr("not valid UTF-8"));
}

}  // namespace
}  // namespace cmcl::io
