// ClusterState, the replicated state every node applies from the committed log: epochs
// are entry indexes, decisions are compare-and-set on the epoch, stale reports are
// dropped and counted, disarm is a long lease that waits honour until armed(F), and the
// state and its op payloads encode deterministically and decode totally.
#include "cmcld/core/node/cluster_state.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cmcld/core/common/rng.h"

namespace cmcl::node {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

const PackageName kR1("r1");
const PackageName kR2("r2");
const NodeName kN1("n1");
const NodeName kN2("n2");
const NodeName kN3("n3");

raft::ApplyEntry CommandEntry(uint64_t index, const std::string& payload, uint64_t sequence,
                              bool duplicate = false) {
  return raft::ApplyEntry{.entry = raft::Entry{.term = raft::Term(1),
                                               .index = LogIndex(index),
                                               .kind = raft::EntryKind::kCommand,
                                               .command = {.client_id = raft::ClientId(7),
                                                           .sequence = sequence,
                                                           .payload = payload, .revokes = {}}},
                          .duplicate = duplicate};
}

// A committed log feeding one ClusterState, one entry per call, indexes from 1.
class Log {
 public:
  explicit Log(ClusterState::Options options = {}) : state_(options) {}

  // Commits `ops` as one command; returns the entry's index (= the epoch it assigns).
  LogIndex Commit(const OpBatch& ops) { return Raw(EncodeOps(ops)); }
  LogIndex Raw(const std::string& payload) { return Push(CommandEntry(Next(), payload, Next())); }
  LogIndex Duplicate(const OpBatch& ops) {
    return Push(CommandEntry(Next(), EncodeOps(ops), 1, /*duplicate=*/true));
  }
  LogIndex Noop() {
    return Push(raft::ApplyEntry{.entry = {.term = raft::Term(1),
                                           .index = LogIndex(Next()),
                                           .kind = raft::EntryKind::kNoop,
                                           .command = {}},
                                 .duplicate = false});
  }
  LogIndex Assign(const PackageName& r, const NodeName& n, LogIndex from,
                  std::string reason = "test") {
    return Commit({AssignOp{.resource = r, .node = n, .from_epoch = from, .reason = reason}});
  }
  LogIndex Report(const PackageName& r, const NodeName& n, LogIndex epoch, ReportKind kind) {
    return Commit({ReportOp{.resource = r, .node = n, .epoch = epoch, .kind = kind}});
  }

  ClusterState& state() { return state_; }
  const std::vector<raft::Entry>& entries() const { return entries_; }

 private:
  uint64_t Next() const { return state_.applied().value() + 1; }
  LogIndex Push(const raft::ApplyEntry& apply) {
    entries_.push_back(apply.entry);
    state_.Apply(apply);
    return apply.entry.index;
  }

  ClusterState state_;
  std::vector<raft::Entry> entries_;
};

ClusterState::Options WithLease(Duration lease) {
  ClusterState::Options options;
  options.lease_length = lease;
  return options;
}

// --- Assignments and epochs -----------------------------------------------------------

TEST(ClusterState, AnAssignmentsEpochIsTheIndexOfTheEntryThatMadeIt) {
  Log log;
  log.Noop();
  log.Noop();

  const LogIndex index = log.Assign(kR1, kN2, LogIndex(0), "initial placement");

  const Assignment* a = log.state().Find(kR1);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(index, LogIndex(3));
  EXPECT_EQ(a->epoch, index);
  EXPECT_EQ(a->owner, kN2);
  EXPECT_EQ(a->status, AssignmentStatus::kAssigned);
  EXPECT_EQ(a->reason, "initial placement");
  EXPECT_EQ(log.state().events().back().text, "r1: assigned to n2 (initial placement)");
  EXPECT_TRUE(log.state().Owns(kN2, kR1));
  EXPECT_FALSE(log.state().Owns(kN1, kR1));
}

TEST(ClusterState, AnAssignDecidedFromTheCurrentEpochMovesTheResource) {
  Log log;
  const LogIndex first = log.Assign(kR1, kN1, LogIndex(0));

  const LogIndex second = log.Assign(kR1, kN2, first);

  EXPECT_EQ(log.state().Find(kR1)->owner, kN2);
  EXPECT_EQ(log.state().Find(kR1)->epoch, second);
  EXPECT_FALSE(log.state().Owns(kN1, kR1));
  EXPECT_EQ(log.state().stale_assigns(), 0u);
}

TEST(ClusterState, AnAssignDecidedFromAnOlderEpochAppliesNothingAndIsCountedStale) {
  Log log;
  const LogIndex first = log.Assign(kR1, kN1, LogIndex(0));
  const LogIndex second = log.Assign(kR1, kN2, first);

  log.Assign(kR1, kN3, first);        // Decided before `second` applied.
  log.Assign(kR1, kN3, LogIndex(0));  // "Never assigned" is also an older epoch now.

  EXPECT_EQ(log.state().Find(kR1)->owner, kN2);
  EXPECT_EQ(log.state().Find(kR1)->epoch, second);
  EXPECT_EQ(log.state().stale_assigns(), 2u);
}

TEST(ClusterState, AnAssignOfANeverAssignedResourceMustComeFromEpochZero) {
  Log log;

  log.Assign(kR1, kN1, LogIndex(4));

  EXPECT_EQ(log.state().Find(kR1), nullptr);
  EXPECT_EQ(log.state().stale_assigns(), 1u);
}

// --- Reports ----------------------------------------------------------------------------

TEST(ClusterState, EachReportFromTheOwnerAtTheCurrentEpochSetsItsStatus) {
  const std::vector<std::pair<ReportKind, AssignmentStatus>> cases = {
      {ReportKind::kStarted, AssignmentStatus::kStarted},
      {ReportKind::kHalted, AssignmentStatus::kHalted},
      {ReportKind::kFailed, AssignmentStatus::kFailed},
      {ReportKind::kHaltFailed, AssignmentStatus::kHaltFailed},
      {ReportKind::kFenced, AssignmentStatus::kFenced},
  };
  for (const auto& [kind, status] : cases) {
    Log log;
    const LogIndex epoch = log.Assign(kR1, kN2, LogIndex(0));

    log.Report(kR1, kN2, epoch, kind);

    EXPECT_EQ(log.state().Find(kR1)->status, status) << ReportKindName(kind);
    EXPECT_EQ(log.state().stale_reports(), 0u);
  }
}

TEST(ClusterState, AStartedReportIsLoggedWithItsEpoch) {
  Log log;
  for (int i = 0; i < 6; ++i) log.Noop();
  const LogIndex epoch = log.Assign(kR1, kN2, LogIndex(0));

  log.Report(kR1, kN2, epoch, ReportKind::kStarted);

  EXPECT_EQ(epoch, LogIndex(7));
  EXPECT_EQ(log.state().events().back().text, "r1: n2 reported started at epoch 7");
  EXPECT_TRUE(log.state().Owns(kN2, kR1));
}

TEST(ClusterState, FreeMeansNeverAssignedOrStoppedForCertain) {
  EXPECT_TRUE(Assignment{}.Free());
  const std::vector<std::pair<AssignmentStatus, bool>> cases = {
      {AssignmentStatus::kAssigned, false},   {AssignmentStatus::kStarted, false},
      {AssignmentStatus::kHalted, true},      {AssignmentStatus::kFailed, true},
      {AssignmentStatus::kHaltFailed, false}, {AssignmentStatus::kFenced, true},
  };
  for (const auto& [status, free] : cases) {
    const Assignment a{.owner = kN1,
                       .epoch = LogIndex(3),
                       .status = status,
                       .release_requested = false,
                       .reason = ""};
    EXPECT_EQ(a.Free(), free) << AssignmentStatusName(status);
  }
}

TEST(ClusterState, OwnsOnlyWhileAssignedOrStarted) {
  Log log;
  const LogIndex epoch = log.Assign(kR1, kN2, LogIndex(0));
  log.Report(kR1, kN2, epoch, ReportKind::kStarted);
  EXPECT_TRUE(log.state().Owns(kN2, kR1));

  log.Report(kR1, kN2, epoch, ReportKind::kHalted);

  EXPECT_FALSE(log.state().Owns(kN2, kR1));
  EXPECT_FALSE(log.state().Owns(kN2, kR2));
}

TEST(ClusterState, AReportFromAnOlderEpochIsDroppedCountedAndLogged) {
  Log log;
  log.Noop();
  log.Noop();
  log.Noop();
  log.Noop();
  const LogIndex old_epoch = log.Assign(kR1, kN2, LogIndex(0));  // 5
  log.Noop();
  log.Noop();
  log.Noop();
  const LogIndex epoch = log.Assign(kR1, kN2, old_epoch);  // 9, same owner
  ASSERT_EQ(old_epoch, LogIndex(5));
  ASSERT_EQ(epoch, LogIndex(9));

  log.Report(kR1, kN2, old_epoch, ReportKind::kFailed);

  EXPECT_EQ(log.state().Find(kR1)->status, AssignmentStatus::kAssigned);
  EXPECT_EQ(log.state().stale_reports(), 1u);
  const std::string& text = log.state().events().back().text;
  EXPECT_NE(text.find("stale report"), std::string::npos) << text;
  EXPECT_NE(text.find("epoch 5"), std::string::npos) << text;
  EXPECT_NE(text.find("current 9"), std::string::npos) << text;
}

TEST(ClusterState, AReportFromANodeThatIsNotTheOwnerIsStale) {
  Log log;
  const LogIndex epoch = log.Assign(kR1, kN2, LogIndex(0));

  log.Report(kR1, kN3, epoch, ReportKind::kHalted);
  log.Report(kR2, kN3, epoch, ReportKind::kHalted);  // No such resource.

  EXPECT_EQ(log.state().Find(kR1)->status, AssignmentStatus::kAssigned);
  EXPECT_EQ(log.state().Find(kR2), nullptr);
  EXPECT_EQ(log.state().stale_reports(), 2u);
}

TEST(ClusterState, UnderTheEpochMutationAStaleReportApplies) {
  ClusterState::Options options;
  options.mutation_report_without_epoch_check = true;
  Log log(options);
  const LogIndex old_epoch = log.Assign(kR1, kN1, LogIndex(0));
  log.Assign(kR1, kN2, old_epoch);

  log.Report(kR1, kN1, old_epoch, ReportKind::kHalted);

  EXPECT_EQ(log.state().Find(kR1)->status, AssignmentStatus::kHalted);
  EXPECT_EQ(log.state().stale_reports(), 0u);
}

TEST(ClusterState, UnderTheEpochMutationAReportOnANeverAssignedResourceIsStillDropped) {
  ClusterState::Options options;
  options.mutation_report_without_epoch_check = true;
  Log log(options);

  log.Report(kR1, kN1, LogIndex(0), ReportKind::kStarted);

  EXPECT_EQ(log.state().Find(kR1), nullptr);
  EXPECT_EQ(log.state().stale_reports(), 1u);
}

TEST(ClusterState, AStrayReportIsRecordedAsCriticalWhateverTheEpoch) {
  Log log;
  const LogIndex epoch = log.Assign(kR1, kN2, LogIndex(0));

  log.Report(kR1, kN3, LogIndex(1234), ReportKind::kStray);
  const ClusterEvent on_known = log.state().events().back();
  log.Report(kR2, kN3, LogIndex(0), ReportKind::kStray);
  const ClusterEvent on_unknown = log.state().events().back();

  EXPECT_TRUE(on_known.critical);
  EXPECT_NE(on_known.text.find("r1: n3 reported stray"), std::string::npos) << on_known.text;
  EXPECT_TRUE(on_unknown.critical);
  EXPECT_NE(on_unknown.text.find("r2: n3 reported stray"), std::string::npos);
  EXPECT_EQ(log.state().stale_reports(), 0u);
  EXPECT_EQ(log.state().Find(kR1)->epoch, epoch);  // The assignment is untouched.
  EXPECT_EQ(log.state().Find(kR1)->owner, kN2);
}

// --- Release ----------------------------------------------------------------------------

TEST(ClusterState, AReleaseAtTheCurrentEpochAsksTheOwnerToHalt) {
  Log log;
  const LogIndex epoch = log.Assign(kR1, kN2, LogIndex(0));
  log.Report(kR1, kN2, epoch, ReportKind::kStarted);

  log.Commit({ReleaseOp{.resource = kR1, .epoch = epoch}});

  EXPECT_TRUE(log.state().Find(kR1)->release_requested);
  EXPECT_TRUE(log.state().Owns(kN2, kR1));  // Still the owner until it reports halted.
  log.Report(kR1, kN2, epoch, ReportKind::kHalted);
  EXPECT_TRUE(log.state().Find(kR1)->Free());
}

TEST(ClusterState, AReleaseForAnOlderEpochOrAStoppedResourceIsDropped) {
  Log log;
  const LogIndex old_epoch = log.Assign(kR1, kN1, LogIndex(0));
  const LogIndex epoch = log.Assign(kR1, kN2, old_epoch);

  log.Commit({ReleaseOp{.resource = kR1, .epoch = old_epoch}});
  EXPECT_FALSE(log.state().Find(kR1)->release_requested);
  log.Report(kR1, kN2, epoch, ReportKind::kFailed);
  log.Commit({ReleaseOp{.resource = kR1, .epoch = epoch}});

  EXPECT_FALSE(log.state().Find(kR1)->release_requested);
  EXPECT_EQ(log.state().stale_releases(), 2u);
}

TEST(ClusterState, ANewAssignmentClearsTheReleaseRequest) {
  Log log;
  const LogIndex epoch = log.Assign(kR1, kN1, LogIndex(0));
  log.Commit({ReleaseOp{.resource = kR1, .epoch = epoch}});
  log.Report(kR1, kN1, epoch, ReportKind::kHalted);

  log.Assign(kR1, kN2, epoch);

  EXPECT_FALSE(log.state().Find(kR1)->release_requested);
}

// --- Disarm, arm, armed(F), WaitFor ---------------------------------------------------

TEST(ClusterState, ANeverDisarmedClusterGrantsLAndWaitsLMax) {
  Log log(WithLease(seconds(2)));

  EXPECT_EQ(log.state().mode(), raft::LeaseMode::kArmed);
  EXPECT_EQ(log.state().GrantLength(), seconds(2));
  EXPECT_EQ(log.state().WaitFor(kN1), seconds(2));
  EXPECT_TRUE(log.state().ArmedSinceLatestArm(kN1));
}

TEST(ClusterState, WhileDisarmedGrantsCarryDAndEveryWaitIsD) {
  Log log(WithLease(seconds(2)));

  log.Commit({DisarmOp{.length = minutes(30)}});

  EXPECT_EQ(log.state().mode(), raft::LeaseMode::kDisarmed);
  EXPECT_EQ(log.state().GrantLength(), minutes(30));
  EXPECT_EQ(log.state().WaitFor(kN1), minutes(30));
  EXPECT_EQ(log.state().WaitFor(kN2), minutes(30));
  EXPECT_FALSE(log.state().ArmedSinceLatestArm(kN1));
}

TEST(ClusterState, AfterArmANodeWaitsDUntilItsArmedReportIsCommitted) {
  Log log(WithLease(seconds(2)));
  log.Commit({DisarmOp{.length = minutes(30)}});

  log.Commit({ArmOp{}});

  EXPECT_EQ(log.state().mode(), raft::LeaseMode::kArmed);
  EXPECT_EQ(log.state().GrantLength(), seconds(2));
  EXPECT_EQ(log.state().WaitFor(kN1), minutes(30));
  log.Commit({ArmedOp{.node = kN1, .arm = log.state().latest_arm()}});
  EXPECT_EQ(log.state().WaitFor(kN1), seconds(2));
  EXPECT_EQ(log.state().WaitFor(kN2), minutes(30));  // n2 has not armed yet.
}

TEST(ClusterState, AnArmedReportFromBeforeTheLatestArmDoesNotCount) {
  Log log(WithLease(seconds(2)));
  log.Commit({DisarmOp{.length = minutes(30)}});
  log.Commit({ArmOp{}});
  log.Commit({ArmedOp{.node = kN1, .arm = log.state().latest_arm()}});

  log.Commit({DisarmOp{.length = minutes(30)}});
  log.Commit({ArmOp{}});

  EXPECT_FALSE(log.state().ArmedSinceLatestArm(kN1));
  EXPECT_EQ(log.state().WaitFor(kN1), minutes(30));
}

TEST(ClusterState, ArmingAnArmedClusterDoesNotRestartTheWaitForArmedReports) {
  Log log(WithLease(seconds(2)));
  log.Commit({DisarmOp{.length = minutes(30)}});
  log.Commit({ArmOp{}});
  log.Commit({ArmedOp{.node = kN1, .arm = log.state().latest_arm()}});

  log.Commit({ArmOp{}});

  EXPECT_EQ(log.state().WaitFor(kN1), seconds(2));
}

TEST(ClusterState, AShortDisarmAfterALongOneKeepsTheLongerWait) {
  Log log(WithLease(seconds(2)));
  log.Commit({DisarmOp{.length = minutes(30)}});

  log.Commit({DisarmOp{.length = minutes(5)}});

  EXPECT_EQ(log.state().GrantLength(), minutes(5));
  EXPECT_EQ(log.state().WaitFor(kN1), minutes(30));
}

TEST(ClusterState, ALongDisarmANodeArmedFromNoLongerDecidesItsWait) {
  Log log(WithLease(seconds(2)));
  log.Commit({DisarmOp{.length = minutes(30)}});
  log.Commit({ArmOp{}});
  log.Commit({ArmedOp{.node = kN1, .arm = log.state().latest_arm()}});

  log.Commit({DisarmOp{.length = minutes(5)}});

  EXPECT_EQ(log.state().WaitFor(kN1), minutes(5));
  EXPECT_EQ(log.state().WaitFor(kN2), minutes(30));  // n2 never armed from the first.
}

// Arm, F's armed report is late; a disarm and a second arm come first. The late report
// answers the first arm: F may hold the second disarm's D, so it must not count.
TEST(ClusterState, AnArmedReportForAnEarlierArmDoesNotCountForTheLatest) {
  Log log(WithLease(seconds(2)));
  log.Commit({DisarmOp{.length = minutes(30)}});
  log.Commit({ArmOp{}});
  const LogIndex first_arm = log.state().latest_arm();
  log.Commit({DisarmOp{.length = minutes(20)}});
  log.Commit({ArmOp{}});

  log.Commit({ArmedOp{.node = kN1, .arm = first_arm}});

  EXPECT_FALSE(log.state().ArmedSinceLatestArm(kN1));
  EXPECT_EQ(log.state().WaitFor(kN1), minutes(30));
  log.Commit({ArmedOp{.node = kN1, .arm = log.state().latest_arm()}});
  EXPECT_TRUE(log.state().ArmedSinceLatestArm(kN1));
}

TEST(ClusterState, AnArmedReportCommittedWhileDisarmedIsDropped) {
  Log log(WithLease(seconds(2)));
  log.Commit({DisarmOp{.length = minutes(30)}});
  log.Commit({ArmOp{}});
  log.Commit({DisarmOp{.length = minutes(30)}});

  // Answers the first arm; the disarm overtook it.
  log.Commit({ArmedOp{.node = kN1, .arm = log.state().latest_arm()}});
  log.Commit({ArmOp{}});

  EXPECT_EQ(log.state().WaitFor(kN1), minutes(30));
  EXPECT_NE(log.state().events()[log.state().events().size() - 2].text.find("dropped"),
            std::string::npos);
}

TEST(ClusterState, ADisarmShorterThanLMaxStillWaitsLMax) {
  Log log(WithLease(seconds(2)));

  log.Commit({DisarmOp{.length = seconds(1)}});

  EXPECT_EQ(log.state().GrantLength(), seconds(1));
  EXPECT_EQ(log.state().WaitFor(kN1), seconds(2));
}

TEST(ClusterState, ADisarmWithoutADurationRefusesItsWholeCommand) {
  Log log(WithLease(seconds(2)));

  log.Commit({AssignOp{.resource = kR1, .node = kN1, .from_epoch = LogIndex(0), .reason = ""},
              DisarmOp{.length = Duration(0)}});

  EXPECT_EQ(log.state().mode(), raft::LeaseMode::kArmed);
  EXPECT_EQ(log.state().Find(kR1), nullptr);
  EXPECT_EQ(log.state().malformed_commands(), 1u);
  EXPECT_NE(log.state().events().back().text.find("a disarm needs a duration"), std::string::npos);
}

TEST(ClusterState, UnderTheDisarmMutationGrantsCarryTenLWhileWaitsStayLMax) {
  ClusterState::Options options = WithLease(seconds(2));
  options.mutation_disarm_without_duration = true;
  Log log(options);

  log.Commit({DisarmOp{.length = Duration(0)}});

  EXPECT_EQ(log.state().mode(), raft::LeaseMode::kDisarmed);
  EXPECT_EQ(log.state().malformed_commands(), 0u);
  EXPECT_EQ(log.state().GrantLength(), seconds(20));
  EXPECT_EQ(log.state().WaitFor(kN1), seconds(2));
}

// --- L and L_max ------------------------------------------------------------------------

TEST(ClusterState, AShorterLeaseLengthKeepsTheLongerLMaxUntilLeaseMaxCommits) {
  Log log(WithLease(seconds(4)));

  log.Commit({LeaseLengthOp{.length = seconds(2)}});
  EXPECT_EQ(log.state().lease_length(), seconds(2));
  EXPECT_EQ(log.state().GrantLength(), seconds(2));
  EXPECT_EQ(log.state().lease_length_max(), seconds(4));
  EXPECT_EQ(log.state().WaitFor(kN1), seconds(4));

  log.Commit({LeaseMaxOp{.length = seconds(2)}});

  EXPECT_EQ(log.state().lease_length_max(), seconds(2));
  EXPECT_EQ(log.state().WaitFor(kN1), seconds(2));
}

TEST(ClusterState, ALongerLeaseLengthRaisesLMaxAtOnce) {
  Log log(WithLease(seconds(2)));

  log.Commit({LeaseLengthOp{.length = seconds(5)}});

  EXPECT_EQ(log.state().lease_length_max(), seconds(5));
}

TEST(ClusterState, LMaxNeverDropsBelowL) {
  Log log(WithLease(seconds(2)));
  log.Commit({LeaseLengthOp{.length = seconds(5)}});

  log.Commit({LeaseMaxOp{.length = seconds(1)}});

  EXPECT_EQ(log.state().lease_length_max(), seconds(5));
}

TEST(ClusterState, ANonPositiveLeaseLengthIsRefused) {
  Log log(WithLease(seconds(2)));

  log.Commit({LeaseLengthOp{.length = Duration(0)}});
  log.Commit({LeaseMaxOp{.length = Duration(-1)}});

  EXPECT_EQ(log.state().lease_length(), seconds(2));
  EXPECT_EQ(log.state().malformed_commands(), 2u);
}

// --- Apply: no-ops, duplicates, malformed payloads, digest ------------------------------

TEST(ClusterState, NoopsOnlyAdvanceAppliedAndDigest) {
  Log log;

  log.Noop();

  EXPECT_EQ(log.state().applied(), LogIndex(1));
  EXPECT_NE(log.state().digest(), 0u);
  EXPECT_EQ(log.state().executed(), 0u);
  EXPECT_TRUE(log.state().events().empty());
}

TEST(ClusterStateDeathTest, ApplyingAnEntryAtOrBelowTheAppliedIndexAborts) {
  Log log;
  log.Noop();

  EXPECT_DEATH(log.state().Apply(CommandEntry(1, EncodeOps({ArmOp{}}), 1)), "apply of entry 1");
}

TEST(ClusterState, ADuplicateCommandIsNotExecuted) {
  Log log;
  const OpBatch assign = {
      AssignOp{.resource = kR1, .node = kN1, .from_epoch = LogIndex(0), .reason = ""}};

  log.Duplicate(assign);

  EXPECT_EQ(log.state().applied(), LogIndex(1));
  EXPECT_EQ(log.state().executed(), 0u);
  EXPECT_EQ(log.state().Find(kR1), nullptr);
  log.Commit(assign);
  EXPECT_EQ(log.state().executed(), 1u);
  EXPECT_NE(log.state().Find(kR1), nullptr);
}

TEST(ClusterState, AMalformedCommandIsCountedLoggedAndAppliesNothing) {
  Log log;
  std::string payload =
      EncodeOps({AssignOp{.resource = kR1, .node = kN1, .from_epoch = LogIndex(0), .reason = ""}});
  payload.pop_back();

  log.Raw(payload);
  log.Raw("not a batch");

  EXPECT_EQ(log.state().malformed_commands(), 2u);
  EXPECT_EQ(log.state().executed(), 2u);  // Executed, as the simulator counts them.
  EXPECT_EQ(log.state().Find(kR1), nullptr);
  EXPECT_NE(log.state().events().back().text.find("malformed command"), std::string::npos);
}

TEST(ClusterState, TheDigestIsTheChainOverTheAppliedEntries) {
  Log log;
  log.Noop();
  const LogIndex epoch = log.Assign(kR1, kN1, LogIndex(0));
  log.Report(kR1, kN1, epoch, ReportKind::kStarted);
  log.Raw("garbage");

  uint64_t expected = 0;
  for (const raft::Entry& entry : log.entries()) {
    expected = NextDigest(expected, entry);
  }

  EXPECT_EQ(log.state().digest(), expected);
  EXPECT_EQ(log.state().applied(), LogIndex(4));
}

TEST(ClusterState, EntriesThatDifferInAnyFieldHashDifferently) {
  const raft::Entry base = CommandEntry(3, "payload", 9).entry;
  std::vector<raft::Entry> variants(6, base);
  variants[1].term = raft::Term(2);
  variants[2].index = LogIndex(4);
  variants[3].kind = raft::EntryKind::kNoop;
  variants[4].command.sequence = 10;
  variants[5].command.payload = "payloaD";

  for (size_t i = 1; i < variants.size(); ++i) {
    EXPECT_NE(HashEntry(variants[i]), HashEntry(base)) << i;
    EXPECT_NE(NextDigest(0, variants[i]), NextDigest(0, base)) << i;
  }
}

// --- Determinism and encoding -----------------------------------------------------------

// Exercises every part of the state.
void BusyHistory(Log& log) {
  log.Noop();
  const LogIndex r1 = log.Assign(kR1, kN1, LogIndex(0), "initial placement");
  const LogIndex r2 = log.Assign(kR2, kN2, LogIndex(0), "initial placement");
  log.Report(kR1, kN1, r1, ReportKind::kStarted);
  log.Commit({ReleaseOp{.resource = kR2, .epoch = r2}});
  log.Report(kR2, kN3, LogIndex(1), ReportKind::kStray);
  log.Report(kR2, kN2, LogIndex(1), ReportKind::kHalted);  // Stale.
  log.Commit({DisarmOp{.length = minutes(10)}});
  log.Commit({ArmOp{}});
  log.Commit({ArmedOp{.node = kN2, .arm = log.state().latest_arm()}});
  log.Commit({LeaseLengthOp{.length = seconds(1)}});
  log.Raw("garbage");
  log.Duplicate({ArmOp{}});
}

TEST(ClusterState, TwoStatesApplyingTheSameEntriesAreEqualAndEncodeTheSame) {
  Log a;
  Log b;

  BusyHistory(a);
  BusyHistory(b);

  EXPECT_TRUE(a.state() == b.state());
  EXPECT_EQ(a.state().Encode(), b.state().Encode());
  b.Noop();
  EXPECT_FALSE(a.state() == b.state());
  EXPECT_NE(a.state().Encode(), b.state().Encode());
}

TEST(ClusterState, EncodeThenDecodeGivesTheSameState) {
  Log log;
  BusyHistory(log);

  const std::optional<ClusterState> decoded =
      ClusterState::Decode(log.state().Encode(), ClusterState::Options{});

  ASSERT_TRUE(decoded.has_value());
  EXPECT_TRUE(*decoded == log.state());
  EXPECT_EQ(decoded->Encode(), log.state().Encode());
  EXPECT_EQ(decoded->WaitFor(kN1), minutes(10));
  EXPECT_EQ(decoded->WaitFor(kN2), seconds(2));
}

TEST(ClusterState, AnEmptyStateRoundTrips) {
  const ClusterState empty(ClusterState::Options{});

  const std::optional<ClusterState> decoded =
      ClusterState::Decode(empty.Encode(), ClusterState::Options{});

  ASSERT_TRUE(decoded.has_value());
  EXPECT_TRUE(*decoded == empty);
}

TEST(ClusterState, DecodeRejectsEveryTruncationAndTrailingBytes) {
  Log log;
  BusyHistory(log);
  const std::string bytes = log.state().Encode();

  for (size_t size = 0; size < bytes.size(); ++size) {
    EXPECT_FALSE(ClusterState::Decode(bytes.substr(0, size), {}).has_value()) << size;
  }
  EXPECT_FALSE(ClusterState::Decode(bytes + '\0', {}).has_value());
}

TEST(ClusterState, DecodeRejectsRandomGarbageAndRandomCorruptionWithoutCrashing) {
  Log log;
  BusyHistory(log);
  const std::string bytes = log.state().Encode();
  Rng rng(0x5eed);

  for (int round = 0; round < 2000; ++round) {
    std::string garbage(rng.Uniform(200), '\0');
    for (char& c : garbage) c = static_cast<char>(rng.Uniform(256));
    EXPECT_FALSE(ClusterState::Decode(garbage, {}).has_value());
    // A corrupted valid encoding either fails or decodes to a state that re-encodes to
    // exactly those bytes (every accepted encoding is canonical).
    std::string corrupt = bytes;
    corrupt[rng.Uniform(corrupt.size())] = static_cast<char>(rng.Uniform(256));
    const std::optional<ClusterState> decoded = ClusterState::Decode(corrupt, {});
    if (decoded) {
      EXPECT_EQ(decoded->Encode(), corrupt);
    }
  }
}

TEST(ClusterState, DecodeRejectsResourcesOutOfOrder) {
  Log log;
  log.Assign(kR2, kN1, LogIndex(0));
  log.Assign(kR1, kN1, LogIndex(0));
  const std::string bytes = log.state().Encode();
  // Swap the two resource names: the keys are then out of order.
  std::string unordered = bytes;
  const size_t first = unordered.find("r1");
  const size_t second = unordered.find("r2");
  unordered[first + 1] = '2';
  unordered[second + 1] = '1';

  EXPECT_TRUE(ClusterState::Decode(bytes, {}).has_value());
  EXPECT_FALSE(ClusterState::Decode(unordered, {}).has_value());
}

TEST(ClusterState, TheEventRingKeepsTheNewestEventsMax) {
  ClusterState::Options options;
  options.events_max = 3;
  Log log(options);

  for (int i = 0; i < 5; ++i) log.Commit({ArmedOp{.node = kN1, .arm = log.state().latest_arm()}});

  ASSERT_EQ(log.state().events().size(), 3u);
  EXPECT_EQ(log.state().events().front().index, LogIndex(3));
  EXPECT_EQ(log.state().events().back().index, LogIndex(5));
}

// --- Op batches -------------------------------------------------------------------------

OpBatch EveryOp() {
  return {
      AssignOp{.resource = kR1, .node = kN2, .from_epoch = LogIndex(3), .reason = "move"},
      ReportOp{.resource = kR1, .node = kN2, .epoch = LogIndex(7), .kind = ReportKind::kHaltFailed},
      ReleaseOp{.resource = kR2, .epoch = LogIndex(9)},
      DisarmOp{.length = minutes(90)},
      ArmOp{},
      ArmedOp{.node = kN3, .arm = LogIndex(12)},
      LeaseLengthOp{.length = seconds(3)},
      LeaseMaxOp{.length = milliseconds(3500)},
      ClusterModeOp{.disarm_for = minutes(40), .by = "root@n1"},
      ClusterModeOp{.disarm_for = std::nullopt, .by = "alice@n2"}};
}

TEST(ClusterStateOps, EveryOpRoundTrips) {
  const OpBatch ops = EveryOp();

  const std::optional<OpBatch> decoded = DecodeOps(EncodeOps(ops));

  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, ops);
  EXPECT_EQ(DecodeOps(EncodeOps({})), OpBatch{});
}

TEST(ClusterStateOps, DecodeOpsRejectsEveryTruncationTrailingBytesAndGarbage) {
  const std::string bytes = EncodeOps(EveryOp());
  Rng rng(0x0b5);

  for (size_t size = 0; size < bytes.size(); ++size) {
    EXPECT_FALSE(DecodeOps(bytes.substr(0, size)).has_value()) << size;
  }
  EXPECT_FALSE(DecodeOps(bytes + 'x').has_value());
  for (int round = 0; round < 2000; ++round) {
    std::string garbage(rng.Uniform(100), '\0');
    for (char& c : garbage) c = static_cast<char>(rng.Uniform(256));
    EXPECT_FALSE(DecodeOps(garbage).has_value());
  }
}

TEST(ClusterStateOps, DecodeOpsRejectsAnUnknownTagAKindOutOfRangeAndAnInvalidName) {
  std::string unknown_tag = EncodeOps({ArmOp{}});
  unknown_tag.back() = static_cast<char>(99);
  std::string bad_kind = EncodeOps(
      {ReportOp{.resource = kR1, .node = kN1, .epoch = LogIndex(1), .kind = ReportKind::kStray}});
  // The kind byte comes before the failure kind (1 byte) and the empty detail (4 bytes).
  bad_kind[bad_kind.size() - 6] = static_cast<char>(6);
  const std::string bad_name =
      EncodeOps({ArmedOp{.node = NodeName("no spaces"), .arm = LogIndex(1)}});

  EXPECT_FALSE(DecodeOps(unknown_tag).has_value());
  EXPECT_FALSE(DecodeOps(bad_kind).has_value());
  EXPECT_FALSE(DecodeOps(bad_name).has_value());
}

TEST(ClusterStateOps, DescribeOpsNamesEveryOpInOrder) {
  EXPECT_EQ(DescribeOps(EveryOp()),
            "assign(r1,n2,@3,\"move\",start,-,{},false) report(r1,n2,@7,halt_failed,none,\"\") "
            "release(r2,@9,halt,-,@0) disarm(1h30m) arm() armed(n3,@12) lease_length(3s) "
            "lease_max(3s500ms) cluster_mode(40m,\"root@n1\") cluster_mode(-,\"alice@n2\")");
}

}  // namespace
}  // namespace cmcl::node

namespace cmcl::node {
namespace {

TEST(ClusterState, ALateStartedReportDoesNotUndoAStoppedStatusOfTheSameEpoch) {
  Log log(WithLease(seconds(2)));
  const LogIndex epoch = log.Assign(kR1, kN1, LogIndex(0), "initial placement");
  log.Report(kR1, kN1, epoch, ReportKind::kFenced);
  const uint64_t stale = log.state().stale_reports();

  log.Report(kR1, kN1, epoch, ReportKind::kStarted);  // An earlier incarnation's, delayed.

  EXPECT_EQ(log.state().Find(kR1)->status, AssignmentStatus::kFenced);
  EXPECT_TRUE(log.state().Find(kR1)->Free());
  EXPECT_EQ(log.state().stale_reports(), stale + 1);
}

TEST(ClusterState, TheFirstStoppedStatusOfAnEpochStaysButHaltFailedIsResolvedByStopped) {
  Log log(WithLease(seconds(2)));
  const LogIndex r1 = log.Assign(kR1, kN1, LogIndex(0), "initial placement");
  const LogIndex r2 = log.Assign(kR2, kN2, LogIndex(0), "initial placement");

  log.Report(kR1, kN1, r1, ReportKind::kFailed);
  log.Report(kR1, kN1, r1, ReportKind::kHaltFailed);
  log.Report(kR2, kN2, r2, ReportKind::kHaltFailed);
  log.Report(kR2, kN2, r2, ReportKind::kHalted);

  EXPECT_EQ(log.state().Find(kR1)->status, AssignmentStatus::kFailed);
  EXPECT_EQ(log.state().Find(kR2)->status, AssignmentStatus::kHalted);
}

// --- Issue 10: cluster disarm / arm from an operator ----------------------------------

TEST(ClusterState, AnOperatorDisarmAppliesAsADisarmAndTheEventSaysWhoDidIt) {
  Log log(WithLease(seconds(2)));

  const LogIndex at = log.Commit({ClusterModeOp{.disarm_for = minutes(40), .by = "root@n1"}});

  EXPECT_EQ(log.state().mode(), raft::LeaseMode::kDisarmed);
  EXPECT_EQ(log.state().GrantLength(), minutes(40));
  EXPECT_EQ(log.state().WaitFor(kN2), minutes(40));
  EXPECT_EQ(log.state().latest_disarm(), at);
  EXPECT_EQ(log.state().disarm_length(), minutes(40));
  EXPECT_EQ(log.state().events().back().text, "cluster disarmed for 40m by root@n1");
}

TEST(ClusterState, AnOperatorArmAppliesAsAnArmAndTheEventSaysWhoDidIt) {
  Log log(WithLease(seconds(2)));
  log.Commit({ClusterModeOp{.disarm_for = minutes(40), .by = "root@n1"}});

  const LogIndex at = log.Commit({ClusterModeOp{.disarm_for = std::nullopt, .by = "bob@n2"}});

  EXPECT_EQ(log.state().mode(), raft::LeaseMode::kArmed);
  EXPECT_EQ(log.state().latest_arm(), at);
  EXPECT_EQ(log.state().WaitFor(kN1), minutes(40));  // Until armed(n1) is committed.
  EXPECT_EQ(log.state().events().back().text, "cluster armed (lease 2s) by bob@n2");
}

TEST(ClusterState, AnOperatorDisarmWithoutAPositiveDurationIsRefusedWhole) {
  Log log(WithLease(seconds(2)));

  log.Commit({ClusterModeOp{.disarm_for = Duration(0), .by = "root@n1"}});

  EXPECT_EQ(log.state().mode(), raft::LeaseMode::kArmed);
  EXPECT_EQ(log.state().malformed_commands(), 1u);
}

}  // namespace
}  // namespace cmcl::node
