// The package checker (package_checker.h) as a specification: committed entries go in,
// runs are checked against the validation of the assignment that allowed them, and a
// halt_failed package given to another node is caught. No cluster: hand-made entries.
#include "tests/sim/package_checker.h"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "tests/support/config_builder.h"

namespace cmcl::sim {
namespace {

using node::AssignOp;
using node::OpBatch;
using node::ReportKind;
using node::ReportOp;
using test_support::ClusterBuilder;
using test_support::Gib;
using test_support::InventoryBuilder;
using test_support::PackageBuilder;

constexpr const char* kWwid1 = "0x600508b400000001";
constexpr const char* kWwid2 = "0x600508b400000002";

// n1 and n2 see p1's disk with its pinned WWID, n3 with another one; n2 has room for
// one 2-vCPU guest only.
std::shared_ptr<const config::ClusterConfig> Config() {
  const auto inventory = [](const char* p1_wwid, uint32_t vcpus) {
    return InventoryBuilder()
        .Disk("/dev/rdisk/p1", p1_wwid)
        .Disk("/dev/rdisk/p2", kWwid2)
        .Capacity(vcpus, Gib(64))
        .Build();
  };
  return std::make_shared<const config::ClusterConfig>(
      ClusterBuilder()
          .Node("n1", inventory(kWwid1, 8))
          .Node("n2", inventory(kWwid1, 2))
          .Node("n3", inventory("0x600508b4bad00001", 8))
          .Package(PackageBuilder("p1")
                       .Nodes({"n1", "n2", "n3"})
                       .Vcpus(2)
                       .Disk("/dev/rdisk/p1", kWwid1)
                       .Build())
          .Package(PackageBuilder("p2")
                       .Nodes({"n2", "n1", "n3"})
                       .Vcpus(2)
                       .Disk("/dev/rdisk/p2", kWwid2)
                       .Build())
          .Build());
}

class Committer {
 public:
  explicit Committer(std::shared_ptr<const config::ClusterConfig> config = Config())
      : checker_(std::move(config), node::ClusterState::Options{}, /*watchdog_fence=*/false) {}
  // Commits `ops` as the next entry; returns its index.
  raft::LogIndex Commit(const OpBatch& ops) {
    ++index_;
    raft::ApplyEntry apply;
    apply.entry.term = raft::Term(1);
    apply.entry.index = raft::LogIndex(index_);
    apply.entry.kind = raft::EntryKind::kCommand;
    apply.entry.command = raft::Command{.client_id = raft::ClientId(1),
                                        .sequence = index_,
                                        .payload = node::EncodeOps(ops),
                                        .revokes = {}};
    checker_.OnCommitted(apply);
    return raft::LogIndex(index_);
  }
  void Run(const std::string& node, const std::string& package, raft::LogIndex epoch) {
    checker_.OnRun(Time(), NodeName(node),
                   node::GuestRef{.resource = PackageName(package), .epoch = epoch});
  }
  PackageChecker& checker() { return checker_; }

 private:
  PackageChecker checker_;
  uint64_t index_ = 0;
};

AssignOp Assign(const std::string& package, const std::string& node, uint64_t from_epoch) {
  AssignOp op;
  op.resource = PackageName(package);
  op.node = NodeName(node);
  op.from_epoch = raft::LogIndex(from_epoch);
  op.reason = "test";
  return op;
}

ReportOp Report(const std::string& package, const std::string& node, raft::LogIndex epoch,
                ReportKind kind) {
  ReportOp op;
  op.resource = PackageName(package);
  op.node = NodeName(node);
  op.epoch = epoch;
  op.kind = kind;
  return op;
}

TEST(PackageChecker, AcceptsARunThatItsCommittedAssignmentAllowedAfterValidation) {
  Committer committer;

  const raft::LogIndex epoch = committer.Commit({Assign("p1", "n1", 0)});
  committer.Run("n1", "p1", epoch);

  EXPECT_FALSE(committer.checker().violation().has_value());
  EXPECT_EQ(committer.checker().assigns_checked(), 1u);
  EXPECT_EQ(committer.checker().runs_checked(), 1u);
}

TEST(PackageChecker, CatchesARunOnANodeThatFailedValidationWhenTheAssignmentCommitted) {
  Committer committer;

  const raft::LogIndex epoch = committer.Commit({Assign("p1", "n3", 0)});
  committer.Run("n3", "p1", epoch);

  ASSERT_TRUE(committer.checker().violation().has_value());
  EXPECT_NE(committer.checker().violation()->find("wwid_mismatch"), std::string::npos)
      << *committer.checker().violation();
}

TEST(PackageChecker, CatchesARunAtAnEpochNoAssignmentGaveThatNode) {
  Committer committer;
  const raft::LogIndex epoch = committer.Commit({Assign("p1", "n1", 0)});

  committer.Run("n2", "p1", epoch);

  ASSERT_TRUE(committer.checker().violation().has_value());
  EXPECT_NE(committer.checker().violation()->find("gave it to n1"), std::string::npos);
}

TEST(PackageChecker, CatchesABatchThatDoubleBooksANodesCapacity) {
  Committer committer;

  const raft::LogIndex epoch = committer.Commit({Assign("p2", "n2", 0), Assign("p1", "n2", 0)});
  committer.Run("n2", "p2", epoch);
  const bool first_ok = !committer.checker().violation().has_value();
  committer.Run("n2", "p1", epoch);

  EXPECT_TRUE(first_ok);
  ASSERT_TRUE(committer.checker().violation().has_value());
  EXPECT_NE(committer.checker().violation()->find("insufficient_capacity"), std::string::npos)
      << *committer.checker().violation();
}

TEST(PackageChecker, CatchesAHaltFailedPackageAssignedToAnotherNode) {
  Committer committer;
  const raft::LogIndex epoch = committer.Commit({Assign("p1", "n1", 0)});
  committer.Commit({Report("p1", "n1", epoch, ReportKind::kStarted)});
  committer.Commit({Report("p1", "n1", epoch, ReportKind::kHaltFailed)});

  // A coordinator that reassigns it knowingly (over_halt_failed, as with a watchdog
  // fence): apply takes it, and without a watchdog the checker must object.
  node::AssignOp reassign = Assign("p1", "n2", epoch.value());
  reassign.over_halt_failed = true;
  committer.Commit({reassign});

  ASSERT_TRUE(committer.checker().violation().has_value());
  EXPECT_NE(committer.checker().violation()->find("halt_failed reassigned: p1"), std::string::npos)
      << *committer.checker().violation();
}

TEST(PackageChecker, AcceptsAReassignmentOnceTheOwnerReportedTheGuestStopped) {
  Committer committer;
  const raft::LogIndex epoch = committer.Commit({Assign("p1", "n1", 0)});
  committer.Commit({Report("p1", "n1", epoch, ReportKind::kStarted)});
  committer.Commit({Report("p1", "n1", epoch, ReportKind::kFailed)});

  const raft::LogIndex moved = committer.Commit({Assign("p1", "n2", epoch.value())});
  committer.Run("n2", "p1", moved);

  EXPECT_FALSE(committer.checker().violation().has_value()) << *committer.checker().violation();
}

// (e): low (priority 20) runs on n1; high (`high_priority`, displace_lower_priority
// `flag`) needs all of n1 and has never run.
std::shared_ptr<const config::ClusterConfig> DisplacementConfig(
    std::optional<uint32_t> high_priority, bool flag) {
  config::PackageSpec low = PackageBuilder("low").Nodes({"n1"}).Vcpus(2).Build();
  low.priority = 20;
  config::PackageSpec high = PackageBuilder("high").Nodes({"n1"}).Vcpus(4).Build();
  high.priority = high_priority;
  high.displace_lower_priority = flag;
  return std::make_shared<const config::ClusterConfig>(
      ClusterBuilder()
          .Node("n1", InventoryBuilder().Capacity(4, Gib(64)).Build())
          .Package(low)
          .Package(high)
          .Build());
}

// Commits low's start and a displaced release of it; the checker's verdict.
std::optional<std::string> DisplaceLow(std::optional<uint32_t> high_priority, bool flag) {
  Committer committer(DisplacementConfig(high_priority, flag));
  const raft::LogIndex epoch = committer.Commit({Assign("low", "n1", 0)});
  committer.Commit({Report("low", "n1", epoch, ReportKind::kStarted)});
  committer.Commit({node::ReleaseOp{
      .resource = PackageName("low"), .epoch = epoch, .why = node::ActionReason::kDisplaced}});
  EXPECT_EQ(committer.checker().displacements_checked(), 1U);
  return committer.checker().violation();
}

TEST(PackageChecker, AcceptsADisplacementForAWantedStrictlyHigherPriorityThatIsDown) {
  const std::optional<std::string> violation = DisplaceLow(10, true);

  EXPECT_FALSE(violation.has_value()) << *violation;
}

TEST(PackageChecker, CatchesADisplacementWithoutAStrictlyHigherDisplacer) {
  const std::optional<std::string> equal = DisplaceLow(20, true);
  const std::optional<std::string> unflagged = DisplaceLow(10, false);
  const std::optional<std::string> no_priority = DisplaceLow(std::nullopt, true);

  for (const std::optional<std::string>& violation : {equal, unflagged, no_priority}) {
    ASSERT_TRUE(violation.has_value());
    EXPECT_NE(violation->find("displacement: entry 3 halts low on n1 (displaced), but no "
                              "package with displace_lower_priority and a higher priority "
                              "than 20 is down and wanted"),
              std::string::npos)
        << *violation;
  }
}

}  // namespace
}  // namespace cmcl::sim
