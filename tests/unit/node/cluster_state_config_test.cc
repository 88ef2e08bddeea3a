// ClusterState's config apply (issue 9, ConfigProposeOp in cluster_state.h) as a
// specification: a proposal becomes pending only for the next version and only alone;
// verdicts count once per node and proposal; the coordinator's apply installs exactly the
// pending proposal (and drops the records of removed packages that are down) and its
// abort ends it refused; anything else is stale. The bundle, the pending proposal and the
// outcomes survive a snapshot, and Decode stays total.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "cmcld/core/node/cluster_state.h"

namespace cmcl::node {
namespace {

using ::testing::HasSubstr;

const PackageName kP1("p1");
const PackageName kP2("p2");
const NodeName kN1("n1");
const NodeName kN2("n2");
const NodeName kN3("n3");

// A committed log feeding one ClusterState, one command entry per call, indexes from 1.
class Log {
 public:
  Log() : state_(ClusterState::Options{}) {}

  LogIndex Commit(const OpBatch& ops) {
    const LogIndex index(state_.applied().value() + 1);
    state_.Apply(raft::ApplyEntry{
        .entry = raft::Entry{.term = raft::Term(1),
                             .index = index,
                             .kind = raft::EntryKind::kCommand,
                             .command = {.client_id = raft::ClientId(7),
                                         .sequence = index.value(),
                                         .payload = EncodeOps(ops),
                                         .revokes = {}}},
        .duplicate = false});
    return index;
  }
  // Proposes `version` with bundle "bundle-<version>" (hash "h<version>"), p1 on n1 and
  // n2, p2 on every node.
  LogIndex Propose(uint64_t version, std::string by = "root") {
    return Commit({Proposal(version, std::move(by))});
  }
  static ConfigProposeOp Proposal(uint64_t version, std::string by = "root") {
    return ConfigProposeOp{.version = version,
                           .bundle_hash = "h" + std::to_string(version),
                           .bundle = "bundle-" + std::to_string(version),
                           .packages = {{kP1, {kN1, kN2}}, {kP2, {kN1, kN2, kN3}}},
                           .by = std::move(by)};
  }
  LogIndex Verdict(const NodeName& node, bool ok, std::string reason = {}) {
    const PendingConfig& pending = *state_.pending_config();
    return Commit({ConfigVerdictOp{.version = pending.proposal.version,
                                   .bundle_hash = pending.proposal.bundle_hash,
                                   .proposal = pending.proposed_at,
                                   .node = node,
                                   .ok = ok,
                                   .reason = std::move(reason)}});
  }
  LogIndex Apply(uint64_t version) {
    return Commit({ConfigApplyOp{
        .version = version, .bundle_hash = "h" + std::to_string(version), .by = "root"}});
  }
  LogIndex Up(const PackageName& p, const NodeName& n) {
    const Assignment* a = state_.Find(p);
    const LogIndex epoch = Commit({AssignOp{.resource = p,
                                            .node = n,
                                            .from_epoch = a ? a->epoch : LogIndex(0),
                                            .reason = "test",
                                            .why = ActionReason::kStart,
                                            .remember = std::nullopt}});
    Commit({ReportOp{.resource = p, .node = n, .epoch = epoch, .kind = ReportKind::kStarted,
                     .failure = FailureKind::kNone, .detail = ""}});
    return epoch;
  }
  std::string LastEvent() const {
    return state_.events().empty() ? "" : state_.events().back().text;
  }
  const ClusterState& state() const { return state_; }

 private:
  ClusterState state_;
};

// --- propose ------------------------------------------------------------------------------

TEST(ClusterStateConfig, AProposalForTheNextVersionBecomesPendingWithNoVerdicts) {
  Log log;

  const LogIndex proposed = log.Propose(2, "uid 1000");

  ASSERT_TRUE(log.state().pending_config().has_value());
  const PendingConfig& pending = *log.state().pending_config();
  EXPECT_EQ(pending.proposed_at, proposed);
  EXPECT_EQ(pending.proposal, Log::Proposal(2, "uid 1000"));
  EXPECT_TRUE(pending.verdicts.empty());
  EXPECT_EQ(log.state().config_version(), 1u) << "nothing applies before the coordinator's word";
  EXPECT_EQ(log.state().bundle(), "");
  EXPECT_FALSE(log.state().config_outcome().has_value());
  EXPECT_THAT(log.LastEvent(), HasSubstr("configuration version 2 proposed by uid 1000"));
}

TEST(ClusterStateConfig, ASecondProposalWhileOneIsPendingIsRefusedAndBothFindTheirOutcomes) {
  Log log;
  const LogIndex first = log.Propose(2);

  const LogIndex second = log.Propose(2, "uid 1000");

  EXPECT_EQ(log.state().pending_config()->proposed_at, first) << "the first stays pending";
  ASSERT_TRUE(log.state().ConfigOutcomeOf(second).has_value());
  EXPECT_FALSE(log.state().ConfigOutcomeOf(second)->ok);
  EXPECT_THAT(log.state().ConfigOutcomeOf(second)->message,
              HasSubstr("another config apply is in progress"));
  log.Apply(2);
  EXPECT_TRUE(log.state().ConfigOutcomeOf(first)->ok);
  EXPECT_FALSE(log.state().ConfigOutcomeOf(second)->ok) << "kept among the earlier outcomes";
}

TEST(ClusterStateConfig, AProposalThatIsNotTheNextVersionIsRefused) {
  Log log;
  const LogIndex skipping = log.Propose(3);
  log.Propose(2);
  log.Apply(2);

  const LogIndex behind = log.Propose(1);

  EXPECT_FALSE(log.state().pending_config().has_value());
  EXPECT_EQ(log.state().ConfigOutcomeOf(skipping)->message,
            "version 3 is not next (applied: 1, next: 2)");
  EXPECT_EQ(log.state().ConfigOutcomeOf(behind)->message,
            "version 1 is not next (applied: 2, next: 3)");
  EXPECT_EQ(log.state().config_outcome()->command, behind);
}

// A proposer that is behind (restarted, not yet caught up) proposes the applied bundle
// under the version after its own: the log knows it is applied already.
TEST(ClusterStateConfig, TheAppliedBundleIsAppliedAlreadyWhateverVersionTheProposalNames) {
  Log log;
  log.Propose(2);
  log.Apply(2);
  ConfigProposeOp from_behind = Log::Proposal(2);
  ConfigProposeOp from_current = Log::Proposal(2);
  from_current.version = 3;

  const LogIndex behind = log.Commit({from_behind});
  const LogIndex current = log.Commit({from_current});

  for (const LogIndex index : {behind, current}) {
    ASSERT_TRUE(log.state().ConfigOutcomeOf(index).has_value());
    EXPECT_TRUE(log.state().ConfigOutcomeOf(index)->ok);
    EXPECT_EQ(log.state().ConfigOutcomeOf(index)->version, 2u);
    EXPECT_EQ(log.state().ConfigOutcomeOf(index)->message,
              "configuration version 2 is applied already (same bundle); nothing to do");
  }
  EXPECT_FALSE(log.state().pending_config().has_value());
  EXPECT_EQ(log.state().config_version(), 2u);
}

// Version 1 is each node's own copy (no hash in the state): a proposal naming version 1
// is the proposer's word that the bundle is that copy, true only while 1 is applied.
TEST(ClusterStateConfig, TheBootstrapVersionIsTheSameOnlyWhileItIsApplied) {
  Log log;

  const LogIndex same = log.Propose(1);
  log.Propose(2);
  log.Apply(2);
  const LogIndex late = log.Propose(1);

  EXPECT_TRUE(log.state().ConfigOutcomeOf(same)->ok);
  EXPECT_EQ(log.state().ConfigOutcomeOf(same)->message,
            "configuration version 1 is applied already (same bundle); nothing to do");
  EXPECT_FALSE(log.state().ConfigOutcomeOf(late)->ok);
  EXPECT_EQ(log.state().ConfigOutcomeOf(late)->message,
            "version 1 is not next (applied: 2, next: 3)");
}

TEST(ClusterStateConfig, AProposalLargerThanTheBundleLimitIsRefused) {
  Log log;
  ConfigProposeOp big = Log::Proposal(2);
  big.bundle = std::string(kBundleBytesMax + 1, 'x');
  ConfigProposeOp largest = Log::Proposal(2);
  largest.bundle = std::string(kBundleBytesMax, 'x');

  const LogIndex refused = log.Commit({big});
  const LogIndex accepted = log.Commit({largest});

  EXPECT_THAT(log.state().ConfigOutcomeOf(refused)->message, HasSubstr("more than"));
  ASSERT_TRUE(log.state().pending_config().has_value());
  EXPECT_EQ(log.state().pending_config()->proposed_at, accepted);
}

// --- verdicts -----------------------------------------------------------------------------

TEST(ClusterStateConfig, EachNodesFirstVerdictIsRecordedAndARepeatIsStale) {
  Log log;
  log.Propose(2);

  log.Verdict(kN1, true);
  log.Verdict(kN2, false, "driver libvirt not found");
  log.Verdict(kN2, true);  // A repeat, even changing its mind.

  const auto& verdicts = log.state().pending_config()->verdicts;
  ASSERT_EQ(verdicts.size(), 2u);
  EXPECT_TRUE(verdicts.at(kN1).ok);
  EXPECT_FALSE(verdicts.at(kN2).ok);
  EXPECT_EQ(verdicts.at(kN2).reason, "driver libvirt not found");
  EXPECT_THAT(log.LastEvent(), HasSubstr("a repeat, dropped"));
}

TEST(ClusterStateConfig, AVerdictOnAnotherVersionHashOrProposalIsStale) {
  Log log;
  const LogIndex aborted = log.Propose(2);
  log.Commit({ConfigAbortOp{.version = 2, .bundle_hash = "h2", .reason = "test"}});
  const LogIndex retried = log.Propose(2);  // The same bundle again.
  const auto verdict = [&](uint64_t version, std::string hash, LogIndex proposal) {
    return ConfigVerdictOp{.version = version, .bundle_hash = std::move(hash),
                           .proposal = proposal, .node = kN2, .ok = false, .reason = "no"};
  };

  log.Commit({verdict(3, "h2", retried)});
  log.Commit({verdict(2, "h3", retried)});
  log.Commit({verdict(2, "h2", aborted)});

  EXPECT_TRUE(log.state().pending_config()->verdicts.empty());
  EXPECT_THAT(log.LastEvent(), HasSubstr("on the proposal at " + std::to_string(aborted.value())));
}

TEST(ClusterStateConfig, AVerdictWithNothingPendingIsStale) {
  Log log;
  const ClusterState before = log.state();

  log.Commit({ConfigVerdictOp{.version = 2, .bundle_hash = "h2", .proposal = LogIndex(1),
                              .node = kN1, .ok = true, .reason = ""}});

  EXPECT_FALSE(log.state().pending_config().has_value());
  EXPECT_THAT(log.LastEvent(), HasSubstr("nothing pending"));
  EXPECT_EQ(log.state().config_version(), before.config_version());
}

// --- apply and abort ----------------------------------------------------------------------

TEST(ClusterStateConfig, AnApplyOfThePendingProposalInstallsItsVersionHashAndBundle) {
  Log log;
  const LogIndex proposed = log.Propose(2, "uid 1000");
  log.Verdict(kN1, true);

  log.Commit({ConfigApplyOp{.version = 2, .bundle_hash = "h2", .by = "uid 1000"}});

  EXPECT_EQ(log.state().config_version(), 2u);
  EXPECT_EQ(log.state().bundle_hash(), "h2");
  EXPECT_EQ(log.state().bundle(), "bundle-2");
  EXPECT_FALSE(log.state().pending_config().has_value());
  ASSERT_TRUE(log.state().config_outcome().has_value());
  EXPECT_EQ(*log.state().config_outcome(),
            (ConfigOutcome{.command = proposed, .version = 2, .ok = true,
                           .message = "configuration version 2 applied"}));
  EXPECT_EQ(log.LastEvent(), "configuration version 2 applied (by uid 1000)");
}

TEST(ClusterStateConfig, AnApplyThatIsNotThePendingProposalIsStaleAndChangesNothing) {
  Log log;
  log.Apply(2);  // Nothing pending.
  EXPECT_EQ(log.state().config_version(), 1u);
  EXPECT_THAT(log.LastEvent(), HasSubstr("stale apply for configuration version 2"));
  log.Propose(2);

  log.Commit({ConfigApplyOp{.version = 2, .bundle_hash = "other", .by = "root"}});
  log.Commit({ConfigApplyOp{.version = 3, .bundle_hash = "h2", .by = "root"}});

  EXPECT_EQ(log.state().config_version(), 1u);
  EXPECT_EQ(log.state().bundle_hash(), "");
  EXPECT_TRUE(log.state().pending_config().has_value());
  EXPECT_FALSE(log.state().config_outcome().has_value());
}

TEST(ClusterStateConfig, ApplyDropsTheRecordsOfRemovedPackagesThatAreDownButNotOfRunningOnes) {
  Log log;
  const PackageName gone("p3");
  const PackageName running("p4");
  const LogIndex epoch = log.Up(gone, kN1);
  log.Commit({ReportOp{.resource = gone, .node = kN1, .epoch = epoch,
                       .kind = ReportKind::kFailed, .failure = FailureKind::kExit1,
                       .detail = ""}});
  log.Up(running, kN2);
  log.Up(kP1, kN1);
  log.Propose(2);  // Neither p3 nor p4 is in it.

  log.Apply(2);

  EXPECT_EQ(log.state().Find(gone), nullptr);
  EXPECT_EQ(log.state().FindPackage(gone), nullptr);
  ASSERT_NE(log.state().Find(running), nullptr);
  EXPECT_EQ(log.state().StatusOf(running), PackageStatus::kUp);
  EXPECT_EQ(log.state().StatusOf(kP1), PackageStatus::kUp);
  bool said = false;
  for (const ClusterEvent& event : log.state().events()) {
    said = said || (event.critical && event.text.find("p4: not in configuration version 2 but "
                                                      "up on n2") != std::string::npos);
  }
  EXPECT_TRUE(said);
}

TEST(ClusterStateConfig, AnAbortEndsTheProposalRefusedWithItsReasonAndAllowsTheNext) {
  Log log;
  const LogIndex proposed = log.Propose(2);

  log.Commit({ConfigAbortOp{.version = 2, .bundle_hash = "h2",
                            .reason = "n2: driver libvirt not found"}});

  EXPECT_FALSE(log.state().pending_config().has_value());
  EXPECT_EQ(log.state().config_version(), 1u);
  EXPECT_EQ(*log.state().config_outcome(),
            (ConfigOutcome{.command = proposed, .version = 2, .ok = false,
                           .message = "n2: driver libvirt not found"}));
  EXPECT_EQ(log.LastEvent(), "configuration version 2 aborted: n2: driver libvirt not found");
  log.Propose(2);
  EXPECT_TRUE(log.state().pending_config().has_value());
}

TEST(ClusterStateConfig, AnAbortOfAnotherProposalIsStale) {
  Log log;
  log.Propose(2);

  log.Commit({ConfigAbortOp{.version = 2, .bundle_hash = "h9", .reason = "x"}});

  EXPECT_TRUE(log.state().pending_config().has_value());
  EXPECT_THAT(log.LastEvent(), HasSubstr("with another bundle hash"));
}

// --- snapshot and wire --------------------------------------------------------------------

// Version 2 applied (with a package removed), a refused proposal, version 3 pending with
// two verdicts and binary bundle bytes.
void EveryConfigRecord(Log& log) {
  log.Up(kP1, kN1);
  log.Propose(2);
  log.Verdict(kN1, true);
  log.Apply(2);
  log.Propose(5);  // Refused.
  ConfigProposeOp third = Log::Proposal(3, "uid 1000");
  third.bundle = std::string("\0\1\2\xff bundle", 11);
  log.Commit({third});
  log.Verdict(kN1, true);
  log.Verdict(kN3, false, "key mismatch");
}

TEST(ClusterStateConfig, AStateWithAPendingProposalAndBundleBytesRoundTripsExactly) {
  Log log;
  EveryConfigRecord(log);
  const std::string bytes = log.state().Encode();

  const std::optional<ClusterState> decoded = ClusterState::Decode(bytes, {});

  ASSERT_TRUE(decoded.has_value());
  EXPECT_TRUE(*decoded == log.state());
  EXPECT_EQ(decoded->Encode(), bytes);
  EXPECT_EQ(decoded->bundle(), "bundle-2");
  ASSERT_TRUE(decoded->pending_config().has_value());
  EXPECT_EQ(decoded->pending_config()->proposal.bundle.size(), 11u);
  EXPECT_EQ(decoded->pending_config()->verdicts.size(), 2u);
  EXPECT_EQ(decoded->config_outcome()->message, "version 5 is not next (applied: 2, next: 3)");
}

TEST(ClusterStateConfig, DecodeRejectsEveryTruncationOfAStateWithAPendingProposal) {
  Log log;
  EveryConfigRecord(log);
  const std::string bytes = log.state().Encode();

  for (size_t size = 0; size < bytes.size(); ++size) {
    EXPECT_FALSE(ClusterState::Decode(bytes.substr(0, size), {}).has_value()) << size;
  }
  EXPECT_FALSE(ClusterState::Decode(bytes + '\0', {}).has_value());
}

TEST(ClusterStateConfig, TwoStatesDifferingOnlyInAVerdictEncodeDifferently) {
  Log a;
  Log b;
  a.Propose(2);
  b.Propose(2);

  a.Verdict(kN2, true);
  b.Verdict(kN2, false, "no");

  EXPECT_FALSE(a.state() == b.state());
  EXPECT_NE(a.state().Encode(), b.state().Encode());
}

TEST(ClusterStateConfig, ASnapshotOfTheFormatBeforeConfigApplyStillDecodes) {
  Log log;
  log.Up(kP1, kN1);
  std::string bytes = log.state().Encode();
  // Format 3 appends: the bundle (u32 length 0), no pending (flag), no outcome (flag), no
  // earlier outcomes (u32 0). Format 2 ends before them; its version byte follows the magic.
  const size_t appended = 4 + 1 + 1 + 4;
  const size_t maintenance = 4 + 4;  // Format 4 (issue 10): no node, no package (u32 0s).
  const size_t displacers = 4;       // Format 5: no displacer (u32 0).
  const size_t inventories = 4;      // Format 6 (issue 12): no inventory (u32 0).
  std::string old =
      bytes.substr(0, bytes.size() - appended - maintenance - displacers - inventories);
  old[6] = 2;

  const std::optional<ClusterState> decoded = ClusterState::Decode(old, {});

  ASSERT_TRUE(decoded.has_value());
  EXPECT_TRUE(*decoded == log.state());
  EXPECT_FALSE(ClusterState::Decode(old + std::string(appended, '\0'), {}).has_value())
      << "format 2 has nothing after the cluster outcome";
}

TEST(ClusterStateConfig, ConfigOpsRoundTripThroughTheirPayloadAndEveryTruncationFails) {
  const OpBatch ops = {Log::Proposal(4, "uid 1000"),
                       ConfigProposeOp{.version = 2, .bundle_hash = "", .bundle = "",
                                       .packages = {}, .by = ""},
                       ConfigVerdictOp{.version = 4, .bundle_hash = "h4",
                                       .proposal = LogIndex(17), .node = kN3, .ok = false,
                                       .reason = "driver missing"},
                       ConfigApplyOp{.version = 4, .bundle_hash = "h4", .by = "root"},
                       ConfigAbortOp{.version = 4, .bundle_hash = "h4", .reason = "late"}};
  const std::string bytes = EncodeOps(ops);

  const std::optional<OpBatch> decoded = DecodeOps(bytes);

  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, ops);
  for (size_t size = 0; size < bytes.size(); ++size) {
    EXPECT_FALSE(DecodeOps(bytes.substr(0, size)).has_value()) << size;
  }
}

TEST(ClusterStateConfig, APackageListOutOfOrderOrWithABadNameFailsToDecode) {
  const std::string good = EncodeOps({ConfigProposeOp{
      .version = 2, .bundle_hash = "h", .bundle = "", .packages = {{PackageName("pa"), {}},
                                                                   {PackageName("pb"), {}}},
      .by = ""}});
  std::string swapped = good;
  const size_t at = swapped.find("pa");
  swapped[at + 1] = 'c';  // "pc" before "pb": not ascending.
  std::string bad_name = good;
  bad_name[bad_name.find("pb")] = '/';

  EXPECT_TRUE(DecodeOps(good).has_value());
  EXPECT_FALSE(DecodeOps(swapped).has_value());
  EXPECT_FALSE(DecodeOps(bad_name).has_value());
}

TEST(ClusterStateConfig, DescribeOpsHidesStringsWithControlBytesButShowsUtf8Text) {
  ConfigProposeOp op = Log::Proposal(2, "j\xc3\xb6rg");
  op.bundle = std::string("\0\1", 2);
  op.packages.clear();

  EXPECT_EQ(DescribeOps({op}), "config_propose(2,\"h2\",<2 bytes>,{},\"j\xc3\xb6rg\")");
}

TEST(ClusterStateConfig, DescribeOpsShowsABundleAsItsSizeAndThePackagesWithTheirNodes) {
  ConfigProposeOp op = Log::Proposal(2);
  op.bundle = std::string(1000, 'x');

  EXPECT_EQ(DescribeOps({op}),
            "config_propose(2,\"h2\",<1000 bytes>,{p1:[n1,n2],p2:[n1,n2,n3]},\"root\")");
}

}  // namespace
}  // namespace cmcl::node
