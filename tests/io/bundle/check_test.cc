// The checks of a proposed configuration version (io/bundle/bundle_check.h): what the
// control API refuses before proposing and what a member's verdict says, on real files
// in temporary folders (tests/io/bundle/test_config.h) and a replicated state fed with
// committed ops.
#include "cmcld/io/bundle/bundle_check.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "cmcld/io/bundle/bundle.h"
#include "tests/io/bundle/test_config.h"

namespace cmcl::io {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class BundleCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::WriteTestConfig(files_);
    applied_ = Config();
  }

  cmcl::config::ClusterConfig Config() { return testing::LoadOrFail(files_ / "etc/cluster.yaml"); }
  // The bundle of the files as they are now.
  std::string Bytes() {
    Result<Bundle> bundle = BuildBundle(Config());
    EXPECT_TRUE(bundle.ok()) << bundle.status().ToString();
    return bundle.ok() ? EncodeBundle(*bundle) : "";
  }
  void EditCluster(const std::string& from, const std::string& to) {
    std::string text = testing::kClusterYaml;
    text.replace(text.find("KEY"), 3, "cluster.key");
    text.replace(text.find(from), from.size(), to);
    files_.Write("etc/cluster.yaml", text);
  }
  std::string Key() const { return files_ / "etc/cluster.key"; }

  cmcl::testing::TempDir files_;
  cmcl::testing::TempDir state_;
  cmcl::config::ClusterConfig applied_;
};

TEST_F(BundleCheckTest, ACandidateIsDecodedHashedAndLoadedWithThisNodesKey) {
  const std::string bytes = Bytes();

  Result<Candidate> candidate = OpenCandidate(bytes, state_.path(), Key());

  ASSERT_TRUE(candidate.ok()) << candidate.status().ToString();
  EXPECT_EQ(candidate->hash, BundleHash(bytes));
  EXPECT_EQ(candidate->config.cluster_name.value(), "testcl");
  EXPECT_EQ(candidate->config.security.key_file, Key());
  EXPECT_EQ(candidate->config.packages.size(), 2U);
}

TEST_F(BundleCheckTest, TheScratchCopyIsGoneAfterTheCheck) {
  ASSERT_TRUE(OpenCandidate(Bytes(), state_.path(), Key()).ok());

  EXPECT_TRUE(fs::is_empty(state_ / "config"));
  EXPECT_FALSE(fs::exists(state_ / "incoming"));
}

TEST_F(BundleCheckTest, BytesThatAreNotABundleAreAnInvalidArgument) {
  Result<Candidate> candidate = OpenCandidate("not a bundle", state_.path(), Key());

  ASSERT_FALSE(candidate.ok());
  EXPECT_EQ(candidate.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(candidate.status().message(), HasSubstr("does not decode"));
}

TEST_F(BundleCheckTest, ABundleWithoutThisNodesKeyDoesNotLoad) {
  Result<Candidate> candidate = OpenCandidate(Bytes(), state_.path(), state_ / "no.key");

  ASSERT_FALSE(candidate.ok());
  EXPECT_EQ(candidate.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(candidate.status().message(), HasSubstr("not valid"));
}

TEST_F(BundleCheckTest, APackageChangeIsNoFixedSettingChange) {
  files_.Write("pkgs/web/halt.sh", "#!/bin/sh\necho another halt\n", 0755);

  EXPECT_EQ(FixedSettingChange(applied_, Config()), std::nullopt);
}

TEST_F(BundleCheckTest, AnAddedNodeIsRefusedNamingIt) {
  EditCluster("  - {name: q,", "  - {name: n4, addresses: [127.0.0.4:7101]}\n  - {name: q,");

  EXPECT_EQ(FixedSettingChange(applied_, Config()),
            "adding, removing or changing the role of a node is not supported in this version "
            "(node n4 added)");
}

TEST_F(BundleCheckTest, ARemovedNodeIsRefusedNamingIt) {
  cmcl::config::ClusterConfig next = Config();
  std::erase_if(next.nodes, [](const auto& node) { return node.name.value() == "q"; });

  EXPECT_THAT(FixedSettingChange(applied_, next).value_or(""), HasSubstr("(node q removed)"));
}

TEST_F(BundleCheckTest, ARoleChangeIsRefusedNamingIt) {
  EditCluster("role: arbitrator", "role: member");

  EXPECT_THAT(FixedSettingChange(applied_, Config()).value_or(""),
              HasSubstr("(node q: arbitrator to member)"));
}

TEST_F(BundleCheckTest, ARenamedClusterIsRefused) {
  EditCluster("cluster_name: testcl", "cluster_name: othercl");

  EXPECT_THAT(FixedSettingChange(applied_, Config()).value_or(""),
              HasSubstr("renaming the cluster is not supported by config apply in this version "
                        "(testcl to othercl)"));
}

TEST_F(BundleCheckTest, ANodeTimeoutChangeIsRefusedWithBothValues) {
  EditCluster("node_timeout: 3s", "node_timeout: 4s");

  EXPECT_THAT(FixedSettingChange(applied_, Config()).value_or(""),
              HasSubstr("changing node_timeout is not supported by config apply in this version "
                        "(3s to 4s)"));
}

TEST_F(BundleCheckTest, AMissingDriverIsNamedWithItsPackageAndFolder) {
  cmcl::config::ClusterConfig next = Config();
  next.driver_dir = state_ / "drivers";
  next.packages[0].driver = "libvirt";

  EXPECT_EQ(MissingDriver(next), "driver libvirt of package " + next.packages[0].name.value() +
                                     " not found in " + next.driver_dir + " (or not executable)");
}

TEST_F(BundleCheckTest, AnInstalledExecutableDriverIsFound) {
  state_.Write("drivers/libvirt", "#!/bin/sh\n", 0755);
  cmcl::config::ClusterConfig next = Config();
  next.driver_dir = state_ / "drivers";
  next.packages[0].driver = "libvirt";

  EXPECT_EQ(MissingDriver(next), std::nullopt);
}

TEST_F(BundleCheckTest, AnArbitratorsVerdictIgnoresDrivers) {
  cmcl::config::ClusterConfig next = Config();
  next.packages[0].driver = "nosuch";

  EXPECT_EQ(VerdictRefusal(applied_, next, NodeName("q")), std::nullopt);
  EXPECT_NE(VerdictRefusal(applied_, next, NodeName("n1")), std::nullopt);
}

TEST_F(BundleCheckTest, AVerdictOnBytesThatDoNotMatchTheirHashRefusesThem) {
  const std::string bytes = Bytes();

  const std::string reason = JudgeProposal(bytes, std::string(64, '0'), applied_, NodeName("n1"),
                                           state_.path(), Key());

  EXPECT_THAT(reason, HasSubstr("not to the announced"));
}

TEST_F(BundleCheckTest, AVerdictOnAGoodBundleIsEmpty) {
  files_.Write("pkgs/web/halt.sh", "#!/bin/sh\necho another halt\n", 0755);
  const std::string bytes = Bytes();

  EXPECT_EQ(JudgeProposal(bytes, BundleHash(bytes), applied_, NodeName("n1"), state_.path(),
                          Key()),
            "");
}

TEST_F(BundleCheckTest, PackageNodesResolveTheStar) {
  const std::map<PackageName, std::vector<NodeName>> packages = PackageNodes(Config());

  EXPECT_EQ(packages.at(PackageName("web")), (std::vector<NodeName>{NodeName("n1"),
                                                                    NodeName("n2")}));
  EXPECT_EQ(packages.at(PackageName("db")), (std::vector<NodeName>{NodeName("n1"),
                                                                   NodeName("n2")}));
}

// A replicated state in which `package` was assigned to `node` and reported started.
node::ClusterState StateWithUp(const std::string& package, const std::string& node) {
  node::ClusterState state(node::ClusterState::Options{});
  const auto commit = [&state](uint64_t index, const node::OpBatch& ops) {
    state.Apply(raft::ApplyEntry{
        .entry = raft::Entry{.term = raft::Term(1),
                             .index = raft::LogIndex(index),
                             .kind = raft::EntryKind::kCommand,
                             .command = {.client_id = raft::ClientId(7),
                                         .sequence = index,
                                         .payload = node::EncodeOps(ops),
                                         .revokes = {}}},
        .duplicate = false});
  };
  commit(1, {node::AssignOp{.resource = PackageName(package),
                            .node = NodeName(node),
                            .from_epoch = raft::LogIndex(0),
                            .reason = "test"}});
  commit(2, {node::ReportOp{.resource = PackageName(package),
                            .node = NodeName(node),
                            .epoch = raft::LogIndex(1),
                            .kind = node::ReportKind::kStarted}});
  return state;
}

TEST_F(BundleCheckTest, ARunningPackageAbsentFromTheNewVersionWouldBeStranded) {
  const node::ClusterState state = StateWithUp("web", "n1");
  cmcl::config::ClusterConfig next = Config();
  std::erase_if(next.packages, [](const auto& p) { return p.name.value() == "web"; });

  EXPECT_EQ(StrandedPackage(state, next),
            "package web is up on n1 and is not in the new version; halt it first");
}

TEST_F(BundleCheckTest, ARunningPackageWhoseNodeLeavesItsListWouldBeStranded) {
  const node::ClusterState state = StateWithUp("web", "n1");
  cmcl::config::ClusterConfig next = Config();
  next.packages[0].nodes = {NodeName("n2")};

  EXPECT_THAT(StrandedPackage(state, next).value_or(""),
              HasSubstr("package web is up on n1, which is not in its node list"));
}

TEST_F(BundleCheckTest, ARunningPackageThatKeepsItsNodeIsNotStranded) {
  const node::ClusterState state = StateWithUp("web", "n1");

  EXPECT_EQ(StrandedPackage(state, Config()), std::nullopt);
}

}  // namespace
}  // namespace cmcl::io
