// StateDir against real folders: identity creation, the lock, and every refusal.
#include "cmcld/io/storage/state_dir.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "tests/support/temp_dir.h"

namespace cmcl::io {
namespace {

const NodeName kNode("ivmcl01");
constexpr raft::ClusterId kCluster(456);

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

Result<std::unique_ptr<StateDir>> OpenDir(const std::string& path, const NodeName& node = kNode,
                                          raft::ClusterId cluster = kCluster, uint64_t seed = 7) {
  Rng rng(seed);
  return StateDir::Open(path, node, cluster, rng);
}

TEST(StateDir, AnEmptyPathIsCreatedWithItsIdentityAndLock) {
  testing::TempDir temp;
  const std::string path = temp / "var/lib/cmcl";

  Result<std::unique_ptr<StateDir>> dir = OpenDir(path);

  ASSERT_TRUE(dir.ok()) << dir.status().ToString();
  EXPECT_TRUE((*dir)->created());
  EXPECT_EQ((*dir)->cluster_id(), kCluster);
  EXPECT_NE((*dir)->node_id().value(), 0U);
  EXPECT_EQ(ReadFile(path + "/identity"),
            "format_version 1\ncluster_id 456\nnode ivmcl01\nnode_id " +
                std::to_string((*dir)->node_id().value()) + "\n");
  EXPECT_EQ(ReadFile(path + "/lock"), std::to_string(::getpid()) + "\n");
  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0700U);
  EXPECT_EQ((*dir)->Path("raft.log"), path + "/raft.log");
}

TEST(StateDir, ReopeningKeepsTheNodeIdWhateverTheRng) {
  testing::TempDir temp;
  raft::NodeId first;
  {
    Result<std::unique_ptr<StateDir>> dir = OpenDir(temp.path(), kNode, kCluster, 1);
    ASSERT_TRUE(dir.ok()) << dir.status().ToString();
    first = (*dir)->node_id();
  }

  Result<std::unique_ptr<StateDir>> again = OpenDir(temp.path(), kNode, kCluster, 2);

  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_FALSE((*again)->created());
  EXPECT_EQ((*again)->node_id(), first);
}

TEST(StateDir, ASecondOpenWhileTheFirstHoldsTheLockIsRefusedNamingThePid) {
  testing::TempDir temp;
  Result<std::unique_ptr<StateDir>> first = OpenDir(temp.path());
  ASSERT_TRUE(first.ok()) << first.status().ToString();

  Result<std::unique_ptr<StateDir>> second = OpenDir(temp.path());

  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(second.status().message(), "state dir " + temp.path() + " is locked by pid " +
                                           std::to_string(::getpid()) + " (another cmcld)");
}

TEST(StateDir, TheLockIsReleasedWhenTheStateDirIsDestroyed) {
  testing::TempDir temp;
  Result<std::unique_ptr<StateDir>> first = OpenDir(temp.path());
  ASSERT_TRUE(first.ok()) << first.status().ToString();

  first = Status::Internal("dropped");
  Result<std::unique_ptr<StateDir>> second = OpenDir(temp.path());

  EXPECT_TRUE(second.ok()) << second.status().ToString();
}

TEST(StateDir, ALockHeldByAnotherProcessIsRefusedNamingThatProcess) {
  testing::TempDir temp;
  int ready[2];
  int release[2];
  ASSERT_EQ(::pipe(ready), 0);
  ASSERT_EQ(::pipe(release), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(release[1]);  // Else the read below never sees the parent's close.
    Result<std::unique_ptr<StateDir>> held = OpenDir(temp.path());
    const char status = held.ok() ? 'y' : 'n';
    (void)::write(ready[1], &status, 1);
    char ignored;
    (void)::read(release[0], &ignored, 1);  // Holds the lock until the parent closes.
    ::_exit(0);
  }
  ::close(release[0]);
  char child_status = 0;
  ASSERT_EQ(::read(ready[0], &child_status, 1), 1);
  ASSERT_EQ(child_status, 'y');

  Result<std::unique_ptr<StateDir>> dir = OpenDir(temp.path());

  ::close(release[1]);
  int wait_status = 0;
  ::waitpid(child, &wait_status, 0);
  ::close(ready[0]);
  ::close(ready[1]);
  ASSERT_FALSE(dir.ok());
  EXPECT_NE(dir.status().message().find("is locked by pid " + std::to_string(child)),
            std::string::npos)
      << dir.status().message();
}

TEST(StateDir, AnIdentityOfANewerFormatIsRefused) {
  testing::TempDir temp;
  temp.Write("identity", "format_version 2\nsomething_new yes\n");

  Result<std::unique_ptr<StateDir>> dir = OpenDir(temp.path());

  ASSERT_FALSE(dir.ok());
  EXPECT_EQ(dir.status().message(),
            "state dir " + temp.path() + " has format_version 2, newer than this cmcld's 1");
}

TEST(StateDir, AnIdentityOfAnotherClusterIsRefused) {
  testing::TempDir temp;
  temp.Write("identity", "format_version 1\ncluster_id 123\nnode ivmcl01\nnode_id 9\n");

  Result<std::unique_ptr<StateDir>> dir = OpenDir(temp.path());

  ASSERT_FALSE(dir.ok());
  EXPECT_EQ(
      dir.status().message(),
      "state dir " + temp.path() + " belongs to cluster 123, this configuration is cluster 456");
}

TEST(StateDir, AnIdentityOfAnotherNodeIsRefused) {
  testing::TempDir temp;
  temp.Write("identity", "format_version 1\ncluster_id 456\nnode ivmcl02\nnode_id 9\n");

  Result<std::unique_ptr<StateDir>> dir = OpenDir(temp.path());

  ASSERT_FALSE(dir.ok());
  EXPECT_EQ(dir.status().message(),
            "state dir " + temp.path() + " belongs to node ivmcl02, this node is ivmcl01");
}

TEST(StateDir, AnIdentityThatDoesNotParseIsRefusedNamingTheFile) {
  const char* const kBroken[] = {
      "garbage",
      "format_version 1\ncluster_id 456\nnode ivmcl01\n",
      "format_version 1\ncluster_id 4x\nnode ivmcl01\nnode_id 9\n",
      "format_version 1\ncluster_id 456\nnode ivmcl01\nnode_id 9\nnode_id 9\n",
      "format_version 1\ncluster_id 456\nnode ivmcl01\nnode_id 9\ncolour blue\n",
  };
  for (const char* text : kBroken) {
    testing::TempDir temp;
    temp.Write("identity", text);

    Result<std::unique_ptr<StateDir>> dir = OpenDir(temp.path());

    ASSERT_FALSE(dir.ok()) << text;
    EXPECT_NE(
        dir.status().message().find("identity file " + temp.path() + "/identity does not parse"),
        std::string::npos)
        << dir.status().message();
  }
}

TEST(StateDir, APathItCannotCreateIsRefusedNamingIt) {
  testing::TempDir temp;
  temp.Write("file", "not a folder");

  Result<std::unique_ptr<StateDir>> dir = OpenDir(temp / "file/state");

  ASSERT_FALSE(dir.ok());
  EXPECT_EQ(dir.status().message(), "state dir " + temp.path() + "/file/state: cannot create " +
                                        temp.path() + "/file/state: Not a directory");
}

TEST(StateDir, ARaftLogWithoutAnIdentityIsNotAnEmptyStateDir) {
  testing::TempDir temp;
  temp.Write("raft.log", "records");

  Result<std::unique_ptr<StateDir>> dir = OpenDir(temp.path());

  ASSERT_FALSE(dir.ok());
  EXPECT_EQ(dir.status().message(), "state dir " + temp.path() + " has a raft.log but no identity");
}

}  // namespace
}  // namespace cmcl::io
