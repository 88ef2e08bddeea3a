// ClusterState's packages (issue 7) as a specification: every operator and coordinator op
// applies as cluster_state.h's comments say — the wish to run, switching, failed-node
// memory and counters, intents step by step, the outcome each operator command ends
// with — and a state holding every kind of record, and every op, encodes and decodes
// exactly.
#include <gtest/gtest.h>

#include <functional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "cmcld/core/node/cluster_state.h"

namespace cmcl::node {
namespace {

const PackageName kP1("p1");
const PackageName kP2("p2");
const NodeName kN1("n1");
const NodeName kN2("n2");
const NodeName kN3("n3");

// A committed log feeding one ClusterState, one command entry per call, indexes from 1.
class Log {
 public:
  Log() : state_(ClusterState::Options{}) {}

  // Commits `ops` as one command; returns the entry's index (its epoch, its command id).
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
  LogIndex Assign(const PackageName& p, const NodeName& n, LogIndex from,
                  ActionReason why = ActionReason::kStart,
                  std::optional<NodeName> remember = std::nullopt) {
    return Commit({AssignOp{.resource = p,
                            .node = n,
                            .from_epoch = from,
                            .reason = "test",
                            .why = why,
                            .remember = std::move(remember)}});
  }
  LogIndex Report(const PackageName& p, const NodeName& n, LogIndex epoch, ReportKind kind,
                  FailureKind failure = FailureKind::kNone, std::string detail = {}) {
    return Commit({ReportOp{.resource = p,
                            .node = n,
                            .epoch = epoch,
                            .kind = kind,
                            .failure = failure,
                            .detail = std::move(detail)}});
  }
  // Assigned to `n` (from the current epoch) and reported started there; the epoch.
  LogIndex Up(const PackageName& p, const NodeName& n) {
    const Assignment* a = state_.Find(p);
    const LogIndex epoch = Assign(p, n, a ? a->epoch : LogIndex(0));
    Report(p, n, epoch, ReportKind::kStarted);
    return epoch;
  }
  LogIndex Run(const PackageName& p, std::optional<NodeName> node = std::nullopt) {
    return Commit({RunOp{.package = p, .node = std::move(node), .by = "root"}});
  }
  LogIndex Halt(const PackageName& p) { return Commit({HaltOp{.package = p, .by = "root"}}); }
  LogIndex Move(const PackageName& p, const NodeName& target,
                IntentKind kind = IntentKind::kMove) {
    return Commit({MoveOp{.package = p,
                          .target = target,
                          .kind = kind,
                          .vcpus = 4,
                          .memory_mb = 8192,
                          .by = "root"}});
  }
  LogIndex Step(const PackageName& p, LogIndex intent, IntentStep step) {
    return Commit(
        {IntentStepOp{.package = p, .intent = intent, .step = step, .reason = "test"}});
  }
  LogIndex Clear(const PackageName& p, std::optional<NodeName> owner_is_down = std::nullopt) {
    return Commit(
        {ClearOp{.package = p, .owner_is_down = std::move(owner_is_down), .by = "root"}});
  }

  const ClusterState& state() const { return state_; }
  const PackageRecord& record(const PackageName& p) const {
    const PackageRecord* r = state_.FindPackage(p);
    static const PackageRecord kNone;
    EXPECT_NE(r, nullptr) << p.value();
    return r ? *r : kNone;
  }
  const Assignment& assignment(const PackageName& p) const {
    const Assignment* a = state_.Find(p);
    static const Assignment kNone;
    EXPECT_NE(a, nullptr) << p.value();
    return a ? *a : kNone;
  }

 private:
  ClusterState state_;
};

// The outcome of `command`, or a failed one saying it has none (so tests read simply).
Outcome OutcomeOf(const Log& log, const PackageName& p, LogIndex command) {
  return log.state().OutcomeOf(p, command).value_or(
      Outcome{.command = LogIndex(0), .kind = CommandKind::kRun, .ok = false,
              .message = "<no outcome>"});
}

// --- run --------------------------------------------------------------------------------

TEST(ClusterStatePackages, RunOnADownPackageWishesItToRunAndWaitsForItsStart) {
  Log log;
  const LogIndex first = log.Assign(kP1, kN1, LogIndex(0), ActionReason::kStart);
  log.Report(kP1, kN1, first, ReportKind::kFailed, FailureKind::kExit2);
  const LogIndex second = log.Assign(kP1, kN2, first, ActionReason::kFailover, kN1);
  log.Report(kP1, kN2, second, ReportKind::kFailed, FailureKind::kExit2);
  log.Commit({NoteOp{.package = kP1, .note = "no node can run it", .ends_run = false}});

  const LogIndex run = log.Run(kP1, kN1);

  const PackageRecord& r = log.record(kP1);
  EXPECT_EQ(r.wanted, true);
  EXPECT_EQ(r.switching, true);
  EXPECT_EQ(r.run_target, kN1);
  EXPECT_FALSE(r.failed_nodes.contains(kN1)) << "the target leaves the failed-node memory";
  EXPECT_EQ(r.relocations, 0u);
  EXPECT_EQ(r.restarts, 0u);
  EXPECT_EQ(r.note, "");
  ASSERT_TRUE(r.pending.has_value());
  EXPECT_EQ(*r.pending, std::pair(run, CommandKind::kRun));
  EXPECT_FALSE(log.state().OutcomeOf(kP1, run).has_value()) << "not ended yet";
}

TEST(ClusterStatePackages, APendingRunEndsOkWhenTheAssignmentItLedToReportsStarted) {
  Log log;
  const LogIndex run = log.Run(kP1);
  const LogIndex epoch = log.Assign(kP1, kN2, LogIndex(0));

  log.Report(kP1, kN2, epoch, ReportKind::kStarted);

  const Outcome outcome = OutcomeOf(log, kP1, run);
  EXPECT_TRUE(outcome.ok);
  EXPECT_EQ(outcome.kind, CommandKind::kRun);
  EXPECT_EQ(outcome.message, "started on n2");
  EXPECT_FALSE(log.record(kP1).pending.has_value());
  EXPECT_EQ(log.record(kP1).last_node, kN2);
}

TEST(ClusterStatePackages, APendingRunEndsFailedWhenTheStartFails) {
  Log log;
  const LogIndex run = log.Run(kP1);
  const LogIndex epoch = log.Assign(kP1, kN2, LogIndex(0));

  log.Report(kP1, kN2, epoch, ReportKind::kFailed, FailureKind::kExit2, "run script exit 2");

  const Outcome outcome = OutcomeOf(log, kP1, run);
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.message, "failed on n2: run script exit 2");
}

TEST(ClusterStatePackages, APendingRunEndsFailedWhenTheStartLeavesItHaltFailed) {
  Log log;
  const LogIndex run = log.Run(kP1);
  const LogIndex epoch = log.Assign(kP1, kN2, LogIndex(0));

  log.Report(kP1, kN2, epoch, ReportKind::kHaltFailed, FailureKind::kExit2, "cleanup failed");

  const Outcome outcome = OutcomeOf(log, kP1, run);
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.message, "halt_failed on n2: cleanup failed");
}

TEST(ClusterStatePackages, ANoteThatEndsTheRunFailsItWithTheNoteAndOneThatDoesNotWaits) {
  Log log;
  const LogIndex run = log.Run(kP1, kN3);

  log.Commit({NoteOp{.package = kP1, .note = "waiting for every member", .ends_run = false}});
  EXPECT_TRUE(log.record(kP1).pending.has_value());
  EXPECT_EQ(log.record(kP1).note, "waiting for every member");
  log.Commit({NoteOp{.package = kP1, .note = "no node can run it: n3 is down", .ends_run = true}});

  const Outcome outcome = OutcomeOf(log, kP1, run);
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.message, "no node can run it: n3 is down");
  EXPECT_FALSE(log.record(kP1).run_target.has_value());
  EXPECT_FALSE(log.record(kP1).pending.has_value());
  EXPECT_EQ(log.record(kP1).note, "no node can run it: n3 is down");
}

TEST(ClusterStatePackages, RunOnAPackageAlreadyUpEndsAtOnceOk) {
  Log log;
  log.Up(kP1, kN1);

  const LogIndex run = log.Run(kP1);
  const LogIndex same = log.Run(kP1, kN1);

  EXPECT_FALSE(log.record(kP1).pending.has_value());
  ASSERT_TRUE(log.state().OutcomeOf(kP1, run).has_value()) << "earlier outcomes are kept";
  EXPECT_TRUE(log.state().OutcomeOf(kP1, run)->ok);
  const Outcome outcome = OutcomeOf(log, kP1, same);
  EXPECT_TRUE(outcome.ok);
  EXPECT_EQ(outcome.message, "already up on n1");
  EXPECT_EQ(log.record(kP1).switching, true);
}

TEST(ClusterStatePackages, RunOnAPackageStartingEndsAtOnceOk) {
  Log log;
  log.Assign(kP1, kN1, LogIndex(0));

  const LogIndex run = log.Run(kP1);

  EXPECT_TRUE(OutcomeOf(log, kP1, run).ok);
  EXPECT_EQ(OutcomeOf(log, kP1, run).message, "already starting on n1");
}

TEST(ClusterStatePackages, RunOnANodeOtherThanWhereItRunsIsRefusedWithAHintToMove) {
  Log log;
  log.Up(kP1, kN1);

  const LogIndex run = log.Run(kP1, kN2);

  const Outcome outcome = OutcomeOf(log, kP1, run);
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.message, "already up on n1; use move to take it to n2");
  EXPECT_FALSE(log.record(kP1).switching.has_value()) << "a refused run changes nothing";
}

TEST(ClusterStatePackages, RunOnAHaltFailedPackageIsRefused) {
  Log log;
  const LogIndex epoch = log.Up(kP1, kN1);
  log.Report(kP1, kN1, epoch, ReportKind::kHaltFailed, FailureKind::kHaltScript);

  const LogIndex run = log.Run(kP1);

  const Outcome outcome = OutcomeOf(log, kP1, run);
  EXPECT_FALSE(outcome.ok);
  EXPECT_NE(outcome.message.find("halt_failed on n1"), std::string::npos) << outcome.message;
  EXPECT_FALSE(log.record(kP1).wanted.has_value());
  EXPECT_FALSE(log.record(kP1).pending.has_value());
}

TEST(ClusterStatePackages, ASecondRunSupersedesAPendingRun) {
  Log log;
  const LogIndex first = log.Run(kP1, kN1);

  const LogIndex second = log.Run(kP1, kN2);

  const Outcome outcome = OutcomeOf(log, kP1, first);
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.message, "superseded by the run at " + std::to_string(second.value()));
  EXPECT_EQ(*log.record(kP1).pending, std::pair(second, CommandKind::kRun));
  EXPECT_EQ(log.record(kP1).run_target, kN2);
}

TEST(ClusterStatePackages, RunWithoutEnablingSwitchingLeavesGlobalSwitchingAsItWas) {
  Log log;

  log.Commit({RunOp{.package = kP1, .node = std::nullopt, .enable_switching = false, .by = ""}});

  EXPECT_EQ(log.record(kP1).wanted, true);
  EXPECT_FALSE(log.record(kP1).switching.has_value());
}

// A run while the package is halting (its halt still pending) must not leave the halt's
// waiter without an outcome.
TEST(ClusterStatePackages, ARunWhileAHaltIsPendingEndsTheHalt) {
  Log log;
  log.Up(kP1, kN1);
  const LogIndex halt = log.Halt(kP1);

  const LogIndex run = log.Run(kP1);

  const Outcome outcome = OutcomeOf(log, kP1, halt);
  EXPECT_EQ(outcome.kind, CommandKind::kHalt);
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.message, "superseded by the run at " + std::to_string(run.value()));
  EXPECT_EQ(*log.record(kP1).pending, std::pair(run, CommandKind::kRun));
}

// --- halt -------------------------------------------------------------------------------

TEST(ClusterStatePackages, HaltOfAnUpPackageAsksTheOwnerToHaltAndEndsWhenItHalted) {
  Log log;
  const LogIndex epoch = log.Up(kP1, kN1);
  log.Run(kP1);  // Wanted and switching on.

  const LogIndex halt = log.Halt(kP1);

  const PackageRecord& r = log.record(kP1);
  EXPECT_EQ(r.wanted, false);
  EXPECT_EQ(r.switching, false);
  EXPECT_TRUE(log.assignment(kP1).release_requested);
  EXPECT_EQ(log.assignment(kP1).halt_reason, ActionReason::kHalt);
  EXPECT_EQ(log.state().StatusOf(kP1), PackageStatus::kHalting);
  EXPECT_EQ(*r.pending, std::pair(halt, CommandKind::kHalt));
  log.Report(kP1, kN1, epoch, ReportKind::kHalted);
  EXPECT_TRUE(OutcomeOf(log, kP1, halt).ok);
  EXPECT_EQ(OutcomeOf(log, kP1, halt).message, "halted on n1");
  EXPECT_EQ(log.state().StatusOf(kP1), PackageStatus::kDown);
}

TEST(ClusterStatePackages, HaltOfAPackageThatRunsNowhereEndsAtOnce) {
  Log log;
  const LogIndex epoch = log.Up(kP2, kN1);
  log.Report(kP2, kN1, epoch, ReportKind::kHalted);

  const LogIndex never = log.Halt(kP1);
  const LogIndex halted = log.Halt(kP2);

  EXPECT_TRUE(OutcomeOf(log, kP1, never).ok);
  EXPECT_EQ(OutcomeOf(log, kP1, never).message, "already down");
  EXPECT_TRUE(OutcomeOf(log, kP2, halted).ok);
  EXPECT_EQ(log.record(kP1).wanted, false);
  EXPECT_FALSE(log.record(kP2).pending.has_value());
}

TEST(ClusterStatePackages, HaltOfAHaltFailedPackageIsRefused) {
  Log log;
  const LogIndex epoch = log.Up(kP1, kN1);
  log.Report(kP1, kN1, epoch, ReportKind::kHaltFailed, FailureKind::kHaltScript);

  const LogIndex halt = log.Halt(kP1);

  EXPECT_FALSE(OutcomeOf(log, kP1, halt).ok);
  EXPECT_NE(OutcomeOf(log, kP1, halt).message.find("may still run"), std::string::npos);
  EXPECT_EQ(log.state().StatusOf(kP1), PackageStatus::kHaltFailed);
}

TEST(ClusterStatePackages, AHaltEndsFailedWhenTheHaltFails) {
  Log log;
  const LogIndex epoch = log.Up(kP1, kN1);
  const LogIndex halt = log.Halt(kP1);

  log.Report(kP1, kN1, epoch, ReportKind::kHaltFailed, FailureKind::kHaltScript, "exit 1");

  EXPECT_FALSE(OutcomeOf(log, kP1, halt).ok);
  EXPECT_EQ(OutcomeOf(log, kP1, halt).message, "halt_failed on n1: exit 1");
}

// A halt while the run script still runs: the start fails and cleanup stops the guest.
// It is down, which is what the halt asked for; its waiter must hear so.
TEST(ClusterStatePackages, AHaltWhileStartingEndsOkWhenTheStartFailsAndStopsTheGuest) {
  Log log;
  const LogIndex epoch = log.Assign(kP1, kN1, LogIndex(0));
  const LogIndex halt = log.Halt(kP1);

  log.Report(kP1, kN1, epoch, ReportKind::kFailed, FailureKind::kExit2, "run script exit 2");

  const Outcome outcome = OutcomeOf(log, kP1, halt);
  EXPECT_TRUE(outcome.ok) << outcome.message;
  EXPECT_EQ(outcome.message, "failed on n1: run script exit 2");
  EXPECT_FALSE(log.record(kP1).pending.has_value());
}

// The run's own outcome ("interrupted by a halt") is overwritten at once by the halt's:
// a record keeps one outcome (reported to the lead as a limitation for pkgctl's wait).
TEST(ClusterStatePackages, AHaltInterruptsAPendingRun) {
  Log log;
  const LogIndex run = log.Run(kP1, kN2);

  const LogIndex halt = log.Halt(kP1);

  ASSERT_TRUE(log.state().OutcomeOf(kP1, run).has_value()) << "the run finds its own end";
  EXPECT_FALSE(log.state().OutcomeOf(kP1, run)->ok);
  EXPECT_EQ(log.state().OutcomeOf(kP1, run)->message, "interrupted by a halt (root)");
  EXPECT_FALSE(log.record(kP1).pending.has_value());
  EXPECT_FALSE(log.record(kP1).run_target.has_value());
  EXPECT_EQ(log.record(kP1).wanted, false);
  EXPECT_EQ(OutcomeOf(log, kP1, halt).message, "already down");
  bool interrupted = false;
  for (const ClusterEvent& event : log.state().events()) {
    interrupted |= event.text == "p1: run failed: interrupted by a halt (root)";
  }
  EXPECT_TRUE(interrupted);
}

TEST(ClusterStatePackages, AHaltInterruptsAMoveInProgress) {
  Log log;
  log.Up(kP1, kN1);
  const LogIndex move = log.Move(kP1, kN2);
  log.Step(kP1, move, IntentStep::kHalting);

  log.Halt(kP1);

  EXPECT_FALSE(log.record(kP1).intent.has_value());
  const Outcome outcome = OutcomeOf(log, kP1, move);
  EXPECT_EQ(outcome.kind, CommandKind::kMove);
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.message, "interrupted by a halt (root)");
  EXPECT_FALSE(log.record(kP1).vcpus.has_value()) << "an interrupted move commits nothing";
  EXPECT_EQ(log.assignment(kP1).halt_reason, ActionReason::kHalt);
}

// --- move and intents -------------------------------------------------------------------

TEST(ClusterStatePackages, MoveOfAnUpPackageCommitsAValidatingIntent) {
  Log log;
  const LogIndex epoch = log.Up(kP1, kN1);

  const LogIndex move = log.Move(kP1, kN2);

  ASSERT_TRUE(log.record(kP1).intent.has_value());
  const Intent expected{.index = move,
                        .kind = IntentKind::kMove,
                        .source = kN1,
                        .target = kN2,
                        .source_epoch = epoch,
                        .step = IntentStep::kValidating,
                        .vcpus = 4,
                        .memory_mb = 8192};
  EXPECT_EQ(*log.record(kP1).intent, expected);
  EXPECT_FALSE(log.state().OutcomeOf(kP1, move).has_value());
  EXPECT_FALSE(log.assignment(kP1).release_requested) << "nothing halts before validation";
}

TEST(ClusterStatePackages, AMoveWhileAnotherIntentRunsIsRefusedAndKeepsTheFirst) {
  Log log;
  log.Up(kP1, kN1);
  const LogIndex first = log.Move(kP1, kN2);

  const LogIndex second = log.Move(kP1, kN3);

  EXPECT_FALSE(OutcomeOf(log, kP1, second).ok);
  EXPECT_EQ(OutcomeOf(log, kP1, second).message, "a move to n2 is in progress");
  EXPECT_EQ(log.record(kP1).intent->index, first);
  EXPECT_EQ(log.record(kP1).intent->target, kN2);
}

TEST(ClusterStatePackages, EachMoveRefusalSaysWhy) {
  const auto refusal = [](const std::function<void(Log&)>& arrange, const NodeName& target) {
    Log log;
    arrange(log);
    const LogIndex move = log.Move(kP1, target);
    EXPECT_FALSE(OutcomeOf(log, kP1, move).ok);
    EXPECT_FALSE(log.record(kP1).intent.has_value() &&
                 log.record(kP1).intent->index == move);
    return OutcomeOf(log, kP1, move).message;
  };

  EXPECT_EQ(refusal([](Log&) {}, kN2),
            "it is down, not up: only a running package can be moved");
  EXPECT_EQ(refusal([](Log& log) { log.Assign(kP1, kN1, LogIndex(0)); }, kN2),
            "it is starting, not up: only a running package can be moved");
  EXPECT_EQ(refusal([](Log& log) { log.Up(kP1, kN1); }, kN1), "it already runs on n1");
}

TEST(ClusterStatePackages, ACoordinatorMoveThatIsRefusedHasNoOutcome) {
  Log log;
  log.Up(kP1, kN1);

  log.Move(kP1, kN1, IntentKind::kNodeHalt);

  EXPECT_FALSE(log.record(kP1).outcome.has_value());
  EXPECT_FALSE(log.record(kP1).intent.has_value());
  EXPECT_NE(log.state().events().back().text.find("node_halt to n1 refused"), std::string::npos);
}

TEST(ClusterStatePackages, TheHaltingStepAsksTheSourceToHaltWithTheIntentsReason) {
  const std::vector<std::pair<IntentKind, ActionReason>> cases = {
      {IntentKind::kMove, ActionReason::kMove},
      {IntentKind::kFailback, ActionReason::kFailback},
      {IntentKind::kNodeHalt, ActionReason::kNodeHalt}};
  for (const auto& [kind, reason] : cases) {
    Log log;
    log.Up(kP1, kN1);
    const LogIndex move = log.Move(kP1, kN2, kind);

    log.Step(kP1, move, IntentStep::kHalting);

    EXPECT_EQ(log.record(kP1).intent->step, IntentStep::kHalting) << IntentKindName(kind);
    EXPECT_TRUE(log.assignment(kP1).release_requested) << IntentKindName(kind);
    EXPECT_EQ(log.assignment(kP1).halt_reason, reason) << IntentKindName(kind);
    EXPECT_EQ(log.state().StatusOf(kP1), PackageStatus::kHalting);
  }
}

TEST(ClusterStatePackages, AnIntentStepOrEndForAnotherIntentIsStaleAndCounted) {
  Log log;
  log.Up(kP1, kN1);
  const LogIndex move = log.Move(kP1, kN2);
  const uint64_t stale = log.state().stale_assigns();

  log.Step(kP1, LogIndex(move.value() + 100), IntentStep::kHalting);
  log.Step(kP2, move, IntentStep::kHalting);
  log.Commit({IntentDoneOp{.package = kP1, .intent = LogIndex(1), .ok = true, .message = ""}});

  EXPECT_EQ(log.state().stale_assigns(), stale + 3);
  EXPECT_EQ(log.record(kP1).intent->step, IntentStep::kValidating);
  EXPECT_FALSE(log.assignment(kP1).release_requested);
}

// The whole happy path of a move: validated, source halted, target assigned, started.
TEST(ClusterStatePackages, AMoveEndsOkWhenTheTargetStartsAndCommitsItsOverrides) {
  Log log;
  const LogIndex source_epoch = log.Up(kP1, kN1);
  const LogIndex move = log.Move(kP1, kN2);
  log.Step(kP1, move, IntentStep::kHalting);
  log.Report(kP1, kN1, source_epoch, ReportKind::kHalted);
  const LogIndex target_epoch = log.Commit(
      {AssignOp{.resource = kP1,
                .node = kN2,
                .from_epoch = source_epoch,
                .reason = "move",
                .why = ActionReason::kMove,
                .remember = std::nullopt},
       IntentStepOp{.package = kP1, .intent = move, .step = IntentStep::kStarting, .reason = ""}});
  EXPECT_EQ(log.assignment(kP1).source, kN1);
  EXPECT_EQ(log.assignment(kP1).start_reason, ActionReason::kMove);

  log.Report(kP1, kN2, target_epoch, ReportKind::kStarted);

  const PackageRecord& r = log.record(kP1);
  EXPECT_FALSE(r.intent.has_value());
  EXPECT_EQ(r.vcpus, 4u);
  EXPECT_EQ(r.memory_mb, 8192u);
  const Outcome outcome = OutcomeOf(log, kP1, move);
  EXPECT_TRUE(outcome.ok);
  EXPECT_EQ(outcome.kind, CommandKind::kMove);
  EXPECT_EQ(outcome.message, "moved to n2");
}

// Up on n1 with a move to n2 at kStarting (target assigned); returns the move's index.
LogIndex MoveStarting(Log& log) {
  const LogIndex source_epoch = log.Up(kP1, kN1);
  const LogIndex move = log.Move(kP1, kN2);
  log.Step(kP1, move, IntentStep::kHalting);
  log.Report(kP1, kN1, source_epoch, ReportKind::kHalted);
  log.Commit(
      {AssignOp{.resource = kP1,
                .node = kN2,
                .from_epoch = source_epoch,
                .reason = "move",
                .why = ActionReason::kMove,
                .remember = std::nullopt},
       IntentStepOp{.package = kP1, .intent = move, .step = IntentStep::kStarting, .reason = ""}});
  return move;
}

// The target failed; the coordinator assigns the source back and commits kReturning.
LogIndex Returning(Log& log, LogIndex move) {
  const LogIndex target_epoch = log.assignment(kP1).epoch;
  log.Report(kP1, kN2, target_epoch, ReportKind::kFailed, FailureKind::kExit2);
  return log.Commit(
      {AssignOp{.resource = kP1,
                .node = kN1,
                .from_epoch = target_epoch,
                .reason = "return",
                .why = ActionReason::kMove,
                .remember = std::nullopt},
       IntentStepOp{.package = kP1, .intent = move, .step = IntentStep::kReturning, .reason = ""}});
}

TEST(ClusterStatePackages, AMoveThatReturnedToTheSourceEndsFailedWithoutItsOverrides) {
  Log log;
  const LogIndex move = MoveStarting(log);
  const LogIndex back = Returning(log, move);

  log.Report(kP1, kN1, back, ReportKind::kStarted);

  EXPECT_FALSE(log.record(kP1).intent.has_value());
  EXPECT_FALSE(log.record(kP1).vcpus.has_value());
  EXPECT_FALSE(OutcomeOf(log, kP1, move).ok);
  EXPECT_EQ(OutcomeOf(log, kP1, move).message, "the start on n2 failed; back on n1");
}

TEST(ClusterStatePackages, AMoveWhoseReturnFailsTooEndsFailed) {
  Log log;
  const LogIndex move = MoveStarting(log);
  const LogIndex back = Returning(log, move);

  log.Report(kP1, kN1, back, ReportKind::kFailed, FailureKind::kExit2);

  EXPECT_FALSE(log.record(kP1).intent.has_value());
  EXPECT_EQ(OutcomeOf(log, kP1, move).message,
            "the start on n2 failed and so did the return to n1");
}

TEST(ClusterStatePackages, AMoveWhoseSourceHaltFailsEndsFailed) {
  Log log;
  const LogIndex source_epoch = log.Up(kP1, kN1);
  const LogIndex move = log.Move(kP1, kN2);
  log.Step(kP1, move, IntentStep::kHalting);

  log.Report(kP1, kN1, source_epoch, ReportKind::kHaltFailed, FailureKind::kHaltScript);

  EXPECT_FALSE(log.record(kP1).intent.has_value());
  EXPECT_EQ(OutcomeOf(log, kP1, move).message,
            "the halt on n1 failed; the guest may still run there");
}

// A target whose failed start could not be cleaned up may still run the guest: the move
// cannot go back to the source, and must not stay in progress for ever.
TEST(ClusterStatePackages, AMoveWhoseTargetEndsHaltFailedEndsFailed) {
  Log log;
  const LogIndex move = MoveStarting(log);

  log.Report(kP1, kN2, log.assignment(kP1).epoch, ReportKind::kHaltFailed,
             FailureKind::kExit2);

  EXPECT_FALSE(log.record(kP1).intent.has_value());
  EXPECT_FALSE(OutcomeOf(log, kP1, move).ok);
  EXPECT_NE(OutcomeOf(log, kP1, move).message.find("may still run there"), std::string::npos)
      << OutcomeOf(log, kP1, move).message;
}

TEST(ClusterStatePackages, AnIntentDoneEndsTheIntentWithItsMessageAndOkCommitsOverrides) {
  Log refused;
  refused.Up(kP1, kN1);
  const LogIndex move = refused.Move(kP1, kN2);
  Log ended;
  const LogIndex target_move = MoveStarting(ended);

  refused.Commit({IntentDoneOp{
      .package = kP1, .intent = move, .ok = false, .message = "refused: n2 lacks WWID x"}});
  ended.Commit(
      {IntentDoneOp{.package = kP1, .intent = target_move, .ok = true, .message = "done"}});

  EXPECT_FALSE(refused.record(kP1).intent.has_value());
  EXPECT_EQ(OutcomeOf(refused, kP1, move).message, "refused: n2 lacks WWID x");
  EXPECT_FALSE(refused.record(kP1).vcpus.has_value());
  EXPECT_TRUE(OutcomeOf(ended, kP1, target_move).ok);
  EXPECT_EQ(ended.record(kP1).vcpus, 4u);
}

// --- enable / disable -------------------------------------------------------------------

TEST(ClusterStatePackages, GlobalDisableAndEnableSetSwitchingAndEnableWishesItToRun) {
  Log log;
  log.Commit({NoteOp{.package = kP1, .note = "no node", .ends_run = false}});

  const LogIndex disable =
      log.Commit({EnableOp{.package = kP1, .node = std::nullopt, .enable = false, .by = "root"}});
  EXPECT_EQ(log.record(kP1).switching, false);
  EXPECT_FALSE(log.record(kP1).wanted.has_value());
  EXPECT_TRUE(OutcomeOf(log, kP1, disable).ok);
  const LogIndex enable =
      log.Commit({EnableOp{.package = kP1, .node = std::nullopt, .enable = true, .by = "root"}});

  EXPECT_EQ(log.record(kP1).switching, true);
  EXPECT_EQ(log.record(kP1).wanted, true);
  EXPECT_EQ(log.record(kP1).note, "");
  EXPECT_EQ(OutcomeOf(log, kP1, enable).kind, CommandKind::kEnable);
  EXPECT_EQ(OutcomeOf(log, kP1, enable).message, "switching enabled");
}

TEST(ClusterStatePackages, NodeSwitchingIsPerNodeAndEnableOnANodeForgetsItsFailure) {
  Log log;
  const LogIndex first = log.Assign(kP1, kN1, LogIndex(0));
  log.Report(kP1, kN1, first, ReportKind::kFailed, FailureKind::kExit2);
  const LogIndex second = log.Assign(kP1, kN2, first, ActionReason::kFailover, kN1);
  log.Report(kP1, kN2, second, ReportKind::kFailed, FailureKind::kExit2);
  log.Assign(kP1, kN3, second, ActionReason::kFailover, kN2);

  log.Commit({EnableOp{.package = kP1, .node = kN1, .enable = false, .by = "root"},
              EnableOp{.package = kP1, .node = kN3, .enable = false, .by = "root"}});
  EXPECT_EQ(log.record(kP1).switching_off, (std::set<NodeName>{kN1, kN3}));
  log.Commit({EnableOp{.package = kP1, .node = kN1, .enable = true, .by = "root"}});

  EXPECT_EQ(log.record(kP1).switching_off, std::set<NodeName>{kN3});
  EXPECT_EQ(log.record(kP1).failed_nodes, std::set<NodeName>{kN2}) << "only n1 forgotten";
  EXPECT_FALSE(log.record(kP1).switching.has_value()) << "global switching untouched";
}

// --- clear ------------------------------------------------------------------------------

// Up on n1, then halt_failed there; returns the epoch.
LogIndex HaltFailed(Log& log) {
  const LogIndex epoch = log.Up(kP1, kN1);
  log.Halt(kP1);
  log.Report(kP1, kN1, epoch, ReportKind::kHaltFailed, FailureKind::kHaltScript);
  return epoch;
}

TEST(ClusterStatePackages, ClearOfHaltFailedAsksTheOwnerAndAHaltedAnswerClearsIt) {
  Log log;
  const LogIndex epoch = HaltFailed(log);

  const LogIndex clear = log.Clear(kP1);
  EXPECT_TRUE(log.assignment(kP1).clear_requested);
  EXPECT_FALSE(log.state().OutcomeOf(kP1, clear).has_value());
  log.Report(kP1, kN1, epoch, ReportKind::kHalted, FailureKind::kNone, "the guest is stopped");

  EXPECT_TRUE(OutcomeOf(log, kP1, clear).ok);
  EXPECT_EQ(OutcomeOf(log, kP1, clear).message, "cleared: the guest is stopped on n1");
  EXPECT_EQ(log.state().StatusOf(kP1), PackageStatus::kDown);
  EXPECT_FALSE(log.assignment(kP1).clear_requested);
  EXPECT_TRUE(log.assignment(kP1).Free());
}

TEST(ClusterStatePackages, ClearOfHaltFailedIsRefusedWhenTheOwnerSaysTheGuestStillRuns) {
  Log log;
  const LogIndex epoch = HaltFailed(log);
  const LogIndex clear = log.Clear(kP1);
  const uint64_t stale = log.state().stale_reports();

  log.Report(kP1, kN1, epoch, ReportKind::kHaltFailed, FailureKind::kHaltScript,
             "the driver says it still runs");

  EXPECT_FALSE(OutcomeOf(log, kP1, clear).ok);
  EXPECT_EQ(OutcomeOf(log, kP1, clear).message,
            "the guest still runs on n1: the driver says it still runs");
  EXPECT_EQ(log.state().StatusOf(kP1), PackageStatus::kHaltFailed);
  EXPECT_FALSE(log.assignment(kP1).clear_requested);
  EXPECT_EQ(log.state().stale_reports(), stale) << "an answer, not a stale report";
  log.Report(kP1, kN1, epoch, ReportKind::kHaltFailed);  // Not asked: stale.
  EXPECT_EQ(log.state().stale_reports(), stale + 1);
}

TEST(ClusterStatePackages, ClearWithOwnerIsDownNamingTheOwnerEndsHaltFailedAsFailed) {
  Log log;
  HaltFailed(log);

  const LogIndex wrong = log.Clear(kP1, kN2);
  EXPECT_FALSE(OutcomeOf(log, kP1, wrong).ok);
  EXPECT_EQ(OutcomeOf(log, kP1, wrong).message, "n2 is not the owner; n1 is");
  EXPECT_EQ(log.state().StatusOf(kP1), PackageStatus::kHaltFailed);
  const LogIndex right = log.Clear(kP1, kN1);

  EXPECT_TRUE(OutcomeOf(log, kP1, right).ok);
  EXPECT_EQ(log.state().StatusOf(kP1), PackageStatus::kFailed);
  EXPECT_EQ(log.assignment(kP1).failure, FailureKind::kLost);
  EXPECT_TRUE(log.assignment(kP1).Free());
  EXPECT_NE(log.assignment(kP1).reason.find("root"), std::string::npos) << "who said it";
}

// `clear` first asked an owner that never answers (it is down); the operator then says
// so. The first clear must end too, and no clear may stay pending.
TEST(ClusterStatePackages, ClearWithOwnerIsDownAlsoEndsAClearStillWaitingForTheOwner) {
  Log log;
  HaltFailed(log);
  const LogIndex asked = log.Clear(kP1);

  const LogIndex declared = log.Clear(kP1, kN1);

  EXPECT_FALSE(log.record(kP1).pending.has_value());
  EXPECT_FALSE(log.assignment(kP1).clear_requested);
  EXPECT_TRUE(OutcomeOf(log, kP1, declared).ok);
  EXPECT_NE(asked, declared);
}

TEST(ClusterStatePackages, ASecondClearSupersedesTheFirstAndTheAnswerEndsTheSecond) {
  Log log;
  const LogIndex epoch = HaltFailed(log);
  const LogIndex first = log.Clear(kP1);

  const LogIndex second = log.Clear(kP1);

  EXPECT_EQ(*log.record(kP1).pending, std::pair(second, CommandKind::kClear));
  EXPECT_TRUE(log.assignment(kP1).clear_requested);
  EXPECT_EQ(OutcomeOf(log, kP1, first).message,
            "superseded by the clear at " + std::to_string(second.value()));
  log.Report(kP1, kN1, epoch, ReportKind::kFenced);
  EXPECT_TRUE(OutcomeOf(log, kP1, second).ok);
  EXPECT_EQ(OutcomeOf(log, kP1, second).message, "cleared: the guest is stopped on n1");
}

TEST(ClusterStatePackages, ClearOfAFailedPackageForgetsTheFailureAndTheFailedNodes) {
  Log log;
  const LogIndex first = log.Assign(kP1, kN1, LogIndex(0));
  log.Report(kP1, kN1, first, ReportKind::kFailed, FailureKind::kExit2);
  const LogIndex second = log.Assign(kP1, kN1, first, ActionReason::kRestart);
  log.Report(kP1, kN1, second, ReportKind::kFailed, FailureKind::kExit2);
  const LogIndex third = log.Assign(kP1, kN2, second, ActionReason::kFailover, kN1);
  log.Report(kP1, kN2, third, ReportKind::kFailed, FailureKind::kTimeout);

  const LogIndex clear = log.Clear(kP1);

  EXPECT_TRUE(OutcomeOf(log, kP1, clear).ok);
  EXPECT_EQ(OutcomeOf(log, kP1, clear).message, "failure and failed-node memory cleared");
  EXPECT_EQ(log.assignment(kP1).failure, FailureKind::kNone);
  EXPECT_TRUE(log.record(kP1).failed_nodes.empty());
  EXPECT_EQ(log.record(kP1).restarts, 0u);
  EXPECT_EQ(log.record(kP1).relocations, 0u);
}

TEST(ClusterStatePackages, ClearOfAPackageWithNothingToClearEndsOk) {
  Log log;
  log.Up(kP1, kN1);

  const LogIndex clear = log.Clear(kP1);

  EXPECT_TRUE(OutcomeOf(log, kP1, clear).ok);
  EXPECT_EQ(OutcomeOf(log, kP1, clear).message, "nothing to clear");
  EXPECT_EQ(log.state().StatusOf(kP1), PackageStatus::kUp);
}

// --- node and cluster ops ---------------------------------------------------------------

TEST(ClusterStatePackages, ClusterHaltIsRefusedWhilePackagesRunAndNamesThem) {
  Log log;
  const std::vector<std::string> names = {"a1", "a2", "a3", "a4", "a5", "a6", "a7"};
  for (const std::string& name : names) {
    log.Up(PackageName(name), kN1);
  }
  log.Halt(PackageName("a7"));  // Halting counts as running.

  const LogIndex halt = log.Commit({ClusterHaltOp{.force = false, .by = "root"}});

  ASSERT_TRUE(log.state().cluster_outcome().has_value());
  const Outcome& outcome = *log.state().cluster_outcome();
  EXPECT_EQ(outcome.command, halt);
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.message,
            "packages are running (a1 on n1, a2 on n1, a3 on n1, a4 on n1, a5 on n1 and 2 "
            "more); halt them first or use --force");
  EXPECT_FALSE(log.assignment(PackageName("a1")).release_requested);
  EXPECT_FALSE(log.state().cluster_halted());
}

TEST(ClusterStatePackages, ForcedClusterHaltReleasesEveryPackageAndStopsPlacement) {
  Log log;
  log.Commit({ClusterStartOp{.reason = "every member is up"}});
  log.Up(kP1, kN1);
  log.Run(kP1);
  const LogIndex run = log.Run(kP2, kN3);

  log.Commit({ClusterHaltOp{.force = true, .by = "root"}});

  EXPECT_TRUE(log.assignment(kP1).release_requested);
  EXPECT_EQ(log.assignment(kP1).halt_reason, ActionReason::kHalt);
  EXPECT_FALSE(log.record(kP1).wanted.has_value()) << "back to its configuration";
  EXPECT_FALSE(log.record(kP1).switching.has_value());
  EXPECT_EQ(OutcomeOf(log, kP2, run).message, "interrupted by cluster halt");
  EXPECT_FALSE(log.record(kP2).run_target.has_value());
  EXPECT_TRUE(log.state().cluster_halted());
  EXPECT_FALSE(log.state().cluster_started());
  EXPECT_TRUE(log.state().cluster_outcome()->ok);
  EXPECT_EQ(log.state().cluster_outcome()->message, "halting p1 on n1");
  log.Commit({ClusterRunOp{.by = "root"}});
  EXPECT_FALSE(log.state().cluster_halted());
  EXPECT_TRUE(log.state().cluster_started());
}

TEST(ClusterStatePackages, ClusterHaltWithNothingRunningHaltsTheCluster) {
  Log log;

  log.Commit({ClusterHaltOp{.force = false, .by = "root"}});

  EXPECT_TRUE(log.state().cluster_outcome()->ok);
  EXPECT_EQ(log.state().cluster_outcome()->message, "cluster halted");
  EXPECT_TRUE(log.state().cluster_halted());
}

TEST(ClusterStatePackages, NodeAdminReadmitClusterStartAndConfigApplyAreRecorded) {
  Log log;
  EXPECT_FALSE(log.state().cluster_started());
  EXPECT_EQ(log.state().config_version(), 1u);

  log.Commit({NodeAdminOp{.node = kN2, .halted = true, .by = "root"},
              ReadmitOp{.node = kN3, .node_id = 42, .by = "uid 1000"},
              ClusterStartOp{.reason = "cluster_start_wait passed"},
              ConfigProposeOp{.version = 2, .bundle_hash = "abc", .bundle = "b", .packages = {},
                              .by = "root"},
              ConfigApplyOp{.version = 2, .bundle_hash = "abc", .by = "root"}});

  EXPECT_TRUE(log.state().NodeHalted(kN2));
  EXPECT_FALSE(log.state().NodeHalted(kN3));
  EXPECT_EQ(log.state().nodes().at(kN3).node_id, 42u);
  EXPECT_EQ(log.state().nodes().at(kN3).by, "uid 1000");
  EXPECT_TRUE(log.state().cluster_started());
  EXPECT_EQ(log.state().config_version(), 2u);
  EXPECT_EQ(log.state().bundle_hash(), "abc");
  log.Commit({NodeAdminOp{.node = kN2, .halted = false, .by = "root"}});
  EXPECT_FALSE(log.state().NodeHalted(kN2));
}

// --- assign, unassign, reports ----------------------------------------------------------

TEST(ClusterStatePackages, AssignCountsRestartsOnTheSameNodeAndResetsThemElsewhere) {
  Log log;
  const LogIndex first = log.Assign(kP1, kN1, LogIndex(0));
  log.Report(kP1, kN1, first, ReportKind::kFailed, FailureKind::kExit2);
  const LogIndex second = log.Assign(kP1, kN1, first, ActionReason::kRestart);
  log.Report(kP1, kN1, second, ReportKind::kFailed, FailureKind::kExit2);
  const LogIndex third = log.Assign(kP1, kN1, second, ActionReason::kRestart);
  EXPECT_EQ(log.record(kP1).restarts, 2u);
  EXPECT_FALSE(log.assignment(kP1).source.has_value()) << "same node: no source";
  log.Report(kP1, kN1, third, ReportKind::kFailed, FailureKind::kExit2);

  log.Assign(kP1, kN2, third, ActionReason::kFailover, kN1);

  const PackageRecord& r = log.record(kP1);
  EXPECT_EQ(r.restarts, 0u);
  EXPECT_EQ(r.relocations, 1u);
  EXPECT_EQ(r.failed_nodes, std::set<NodeName>{kN1});
  EXPECT_EQ(log.assignment(kP1).source, kN1);
  EXPECT_EQ(log.assignment(kP1).start_reason, ActionReason::kFailover);
  EXPECT_EQ(log.assignment(kP1).failure, FailureKind::kNone) << "a new epoch starts clean";
}

TEST(ClusterStatePackages, AnAssignClearsTheRunTargetAndTheNote) {
  Log log;
  log.Run(kP1, kN2);
  log.Commit({NoteOp{.package = kP1, .note = "waiting", .ends_run = false}});

  log.Assign(kP1, kN2, LogIndex(0));

  EXPECT_FALSE(log.record(kP1).run_target.has_value());
  EXPECT_EQ(log.record(kP1).note, "");
  EXPECT_TRUE(log.record(kP1).pending.has_value()) << "the run ends when it reports";
}

TEST(ClusterStatePackages, UnassignIsACompareAndSetThatLeavesThePackageDownAndOwnerless) {
  Log log;
  const LogIndex epoch = log.Up(kP1, kN1);
  const LogIndex halt = log.Halt(kP1);
  const uint64_t stale = log.state().stale_assigns();

  log.Commit({UnassignOp{
      .package = kP1, .from_epoch = LogIndex(epoch.value() + 1), .reason = "decided late"}});
  log.Commit({UnassignOp{.package = kP2, .from_epoch = LogIndex(0), .reason = "never"}});
  EXPECT_EQ(log.state().stale_assigns(), stale + 2);
  EXPECT_EQ(log.assignment(kP1).owner, kN1);
  const LogIndex unassign =
      log.Commit({UnassignOp{.package = kP1, .from_epoch = epoch, .reason = "n1 lost"}});

  const Assignment& a = log.assignment(kP1);
  EXPECT_FALSE(a.owner.has_value());
  EXPECT_EQ(a.epoch, unassign);
  EXPECT_EQ(a.status, AssignmentStatus::kHalted);
  EXPECT_EQ(a.reason, "n1 lost");
  EXPECT_EQ(log.state().StatusOf(kP1), PackageStatus::kDown);
  EXPECT_TRUE(OutcomeOf(log, kP1, halt).ok);
  EXPECT_EQ(OutcomeOf(log, kP1, halt).message, "down: n1 lost");
  EXPECT_EQ(log.state().Find(kP2), nullptr);
}

TEST(ClusterStatePackages, ARunScriptExit1TurnsGlobalSwitchingOffAndDropsTheWish) {
  Log log;
  log.Run(kP1);
  const LogIndex epoch = log.Assign(kP1, kN1, LogIndex(0));

  log.Report(kP1, kN1, epoch, ReportKind::kFailed, FailureKind::kExit1, "run script exit 1");

  EXPECT_EQ(log.record(kP1).wanted, false);
  EXPECT_EQ(log.record(kP1).switching, false);
  EXPECT_EQ(log.assignment(kP1).failure, FailureKind::kExit1);
  bool said = false;
  for (const ClusterEvent& event : log.state().events()) {
    said |= event.critical && event.text.find("global switching disabled") != std::string::npos;
  }
  EXPECT_TRUE(said);
}

TEST(ClusterStatePackages, OtherFailuresKeepTheWishAndSwitching) {
  for (const FailureKind failure : {FailureKind::kExit2, FailureKind::kTimeout,
                                    FailureKind::kServiceFailed, FailureKind::kLost}) {
    Log log;
    log.Run(kP1);
    const LogIndex epoch = log.Assign(kP1, kN1, LogIndex(0));

    log.Report(kP1, kN1, epoch, ReportKind::kFailed, failure);

    EXPECT_EQ(log.record(kP1).wanted, true) << FailureKindName(failure);
    EXPECT_EQ(log.record(kP1).switching, true) << FailureKindName(failure);
    EXPECT_EQ(log.assignment(kP1).failure, failure);
  }
}

// --- StatusOf and OutcomeOf -------------------------------------------------------------

TEST(ClusterStatePackages, StatusOfFollowsTheAssignmentAndItsReleaseRequest) {
  struct Case {
    std::string name;
    std::function<void(Log&)> arrange;
    PackageStatus status;
  };
  const auto release = [](Log& log) {
    log.Commit({ReleaseOp{.resource = kP1, .epoch = log.assignment(kP1).epoch}});
  };
  const auto report = [](Log& log, ReportKind kind) {
    log.Report(kP1, kN1, log.assignment(kP1).epoch, kind);
  };
  const std::vector<Case> cases = {
      {"never assigned", [](Log&) {}, PackageStatus::kDown},
      {"assigned", [](Log& log) { log.Assign(kP1, kN1, LogIndex(0)); }, PackageStatus::kStarting},
      {"assigned, released",
       [&](Log& log) {
         log.Assign(kP1, kN1, LogIndex(0));
         release(log);
       },
       PackageStatus::kHalting},
      {"started", [](Log& log) { log.Up(kP1, kN1); }, PackageStatus::kUp},
      {"started, released",
       [&](Log& log) {
         log.Up(kP1, kN1);
         release(log);
       },
       PackageStatus::kHalting},
      {"halted",
       [&](Log& log) {
         log.Up(kP1, kN1);
         report(log, ReportKind::kHalted);
       },
       PackageStatus::kDown},
      {"fenced",
       [&](Log& log) {
         log.Up(kP1, kN1);
         report(log, ReportKind::kFenced);
       },
       PackageStatus::kDown},
      {"failed",
       [&](Log& log) {
         log.Up(kP1, kN1);
         report(log, ReportKind::kFailed);
       },
       PackageStatus::kFailed},
      {"halt_failed",
       [&](Log& log) {
         log.Up(kP1, kN1);
         report(log, ReportKind::kHaltFailed);
       },
       PackageStatus::kHaltFailed},
      {"unassigned",
       [](Log& log) {
         const LogIndex epoch = log.Up(kP1, kN1);
         log.Commit({UnassignOp{.package = kP1, .from_epoch = epoch, .reason = "lost"}});
       },
       PackageStatus::kDown},
  };
  for (const Case& c : cases) {
    Log log;

    c.arrange(log);

    EXPECT_EQ(log.state().StatusOf(kP1), c.status)
        << c.name << ": " << PackageStatusName(log.state().StatusOf(kP1));
  }
}

TEST(ClusterStatePackages, OutcomeOfAnswersOnlyTheCommandThatEnded) {
  Log log;
  log.Up(kP1, kN1);
  const LogIndex halt = log.Halt(kP1);

  EXPECT_FALSE(log.state().OutcomeOf(kP1, halt).has_value()) << "still halting";
  EXPECT_FALSE(log.state().OutcomeOf(kP2, halt).has_value()) << "no such package";
  log.Report(kP1, kN1, log.assignment(kP1).epoch, ReportKind::kHalted);
  EXPECT_TRUE(log.state().OutcomeOf(kP1, halt).has_value());
  EXPECT_FALSE(log.state().OutcomeOf(kP1, LogIndex(halt.value() + 1)).has_value());
}

// --- Encoding ---------------------------------------------------------------------------

// A state holding every kind of package, node and cluster record.
void EveryRecord(Log& log) {
  const LogIndex failed = log.Assign(kP1, kN1, LogIndex(0));
  log.Report(kP1, kN1, failed, ReportKind::kFailed, FailureKind::kExit2, "exit 2");
  log.Assign(kP1, kN2, failed, ActionReason::kFailover, kN1);  // failed_nodes, source.
  log.Commit({EnableOp{.package = kP1, .node = kN3, .enable = false, .by = "root"},
              NoteOp{.package = kP1, .note = "a note", .ends_run = false}});
  log.Run(kP2, kN3);  // Pending run with a target.
  const PackageName moving("p3");
  log.Up(moving, kN1);
  const LogIndex move = log.Move(moving, kN2);  // Intent with overrides.
  log.Step(moving, move, IntentStep::kHalting);
  const PackageName moved("p4");
  log.Up(moved, kN1);
  const LogIndex done = log.Move(moved, kN2);
  log.Commit({IntentDoneOp{.package = moved, .intent = done, .ok = true, .message = "ok"}});
  const PackageName stuck("p5");
  log.Up(stuck, kN2);
  log.Report(stuck, kN2, log.assignment(stuck).epoch, ReportKind::kHaltFailed,
             FailureKind::kHaltScript, "halt script exit 1");
  log.Clear(stuck);  // clear_requested, pending clear.
  log.Commit({NodeAdminOp{.node = kN3, .halted = true, .by = "root"},
              ReadmitOp{.node = kN2, .node_id = 9, .by = "root"},
              ConfigProposeOp{.version = 2, .bundle_hash = "h2", .bundle = "v2",
                              .packages = {{kP1, {kN1, kN2}}, {kP2, {kN3}},
                                           {PackageName("p3"), {kN1}},
                                           {PackageName("p4"), {kN1, kN2}},
                                           {PackageName("p5"), {kN2}}},
                              .by = "root"},
              ConfigApplyOp{.version = 2, .bundle_hash = "h2", .by = "root"},
              ClusterStartOp{.reason = "start"}});
  log.Commit({ConfigProposeOp{.version = 3, .bundle_hash = "h3", .bundle = "v3",
                              .packages = {}, .by = "root"}});  // Pending.
  log.Commit({ClusterHaltOp{.force = false, .by = "root"}});  // Refused: cluster_outcome.
}

TEST(ClusterStatePackages, AStateWithEveryKindOfRecordRoundTripsExactly) {
  Log log;
  EveryRecord(log);
  const std::string bytes = log.state().Encode();

  const std::optional<ClusterState> decoded = ClusterState::Decode(bytes, {});

  ASSERT_TRUE(decoded.has_value());
  EXPECT_TRUE(*decoded == log.state());
  EXPECT_EQ(decoded->Encode(), bytes);
  EXPECT_EQ(decoded->packages().size(), 5u);
  EXPECT_TRUE(decoded->FindPackage(PackageName("p3"))->intent.has_value());
  EXPECT_TRUE(decoded->cluster_outcome().has_value());
}

TEST(ClusterStatePackages, TwoStatesDifferingInAnyPackageFieldAreNotEqual) {
  Log a;
  Log b;
  EveryRecord(a);
  EveryRecord(b);
  ASSERT_TRUE(a.state() == b.state());

  b.Commit({NoteOp{.package = kP1, .note = "another note", .ends_run = false}});
  a.Commit({NoteOp{.package = kP1, .note = "a note", .ends_run = false}});

  EXPECT_FALSE(a.state() == b.state());
  EXPECT_NE(a.state().Encode(), b.state().Encode());
}

TEST(ClusterStatePackages, DecodeRejectsEveryTruncationOfAStateWithEveryRecord) {
  Log log;
  EveryRecord(log);
  const std::string bytes = log.state().Encode();

  for (size_t size = 0; size < bytes.size(); ++size) {
    EXPECT_FALSE(ClusterState::Decode(bytes.substr(0, size), {}).has_value()) << size;
  }
  EXPECT_FALSE(ClusterState::Decode(bytes + '\1', {}).has_value());
}

// Every op of issue 7, with every optional field set, and again with each unset.
OpBatch EveryPackageOp() {
  return {
      AssignOp{.resource = kP1, .node = kN2, .from_epoch = LogIndex(3), .reason = "relocate",
               .why = ActionReason::kFailover, .remember = kN1},
      AssignOp{.resource = kP1, .node = kN2, .from_epoch = LogIndex(3), .reason = "",
               .why = ActionReason::kDependency, .remember = std::nullopt},
      ReportOp{.resource = kP1, .node = kN2, .epoch = LogIndex(7), .kind = ReportKind::kFailed,
               .failure = FailureKind::kHaltScript, .detail = "run script exit 2"},
      ReleaseOp{.resource = kP2, .epoch = LogIndex(9), .why = ActionReason::kNodeHalt},
      RunOp{.package = kP1, .node = kN3, .enable_switching = false, .by = "uid 1000"},
      RunOp{.package = kP1, .node = std::nullopt, .enable_switching = true, .by = "root"},
      HaltOp{.package = kP2, .by = "root"},
      MoveOp{.package = kP1, .target = kN2, .kind = IntentKind::kNodeHalt, .vcpus = 8,
             .memory_mb = 1ULL << 40, .by = "root"},
      MoveOp{.package = kP1, .target = kN2, .kind = IntentKind::kMove, .vcpus = std::nullopt,
             .memory_mb = std::nullopt, .by = ""},
      EnableOp{.package = kP1, .node = kN1, .enable = false, .by = "root"},
      EnableOp{.package = kP1, .node = std::nullopt, .enable = true, .by = "root"},
      ClearOp{.package = kP1, .owner_is_down = kN1, .by = "root"},
      ClearOp{.package = kP1, .owner_is_down = std::nullopt, .by = "root"},
      NodeAdminOp{.node = kN3, .halted = true, .by = "root"},
      ReadmitOp{.node = kN3, .node_id = 0xfeedfacecafeULL, .by = "root"},
      ClusterRunOp{.by = "root"},
      ClusterHaltOp{.force = true, .by = "root"},
      ConfigApplyOp{.version = 12, .bundle_hash = "sha256:00ff", .by = "root"},
      ConfigProposeOp{.version = 12, .bundle_hash = "00ff", .bundle = std::string("\0\xff", 2),
                      .packages = {{kP1, {kN2, kN1}}, {kP2, {}}}, .by = "uid 1000"},
      ConfigVerdictOp{.version = 12, .bundle_hash = "00ff", .proposal = LogIndex(40),
                      .node = kN3, .ok = false, .reason = "driver missing"},
      ConfigAbortOp{.version = 12, .bundle_hash = "00ff", .reason = "n3 did not validate"},
      IntentStepOp{.package = kP1, .intent = LogIndex(40), .step = IntentStep::kReturning,
                   .reason = "n2 failed"},
      IntentDoneOp{.package = kP1, .intent = LogIndex(40), .ok = true, .message = "moved"},
      NoteOp{.package = kP2, .note = "no node can run it", .ends_run = true},
      UnassignOp{.package = kP2, .from_epoch = LogIndex(11), .reason = "n1 lost"},
      ClusterStartOp{.reason = "every member is up"},
      MaintenanceOp{.node = kN2, .package = std::nullopt, .on = true, .freeze = true,
                    .by = "root"},
      MaintenanceOp{.node = std::nullopt, .package = kP1, .on = false, .freeze = false,
                    .by = "uid 1000"},
  };
}

TEST(ClusterStatePackages, EveryPackageOpRoundTripsThroughItsPayload) {
  const OpBatch ops = EveryPackageOp();

  const std::optional<OpBatch> decoded = DecodeOps(EncodeOps(ops));

  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, ops);
  EXPECT_EQ(EncodeOps(*decoded), EncodeOps(ops));
  std::set<size_t> kinds;
  for (const Op& op : ops) {
    kinds.insert(op.index());
  }
  // The lease ops (ClusterModeOp of issue 10 among them) are cluster_state_test's EveryOp,
  // InventoryOp (issue 12) is inventory_report_test's.
  EXPECT_EQ(kinds.size() + 7, std::variant_size_v<Op>) << "all but the six lease ops and inventory";
}

TEST(ClusterStatePackages, EachPackageOpAloneRoundTripsAndEveryTruncationFails) {
  for (const Op& op : EveryPackageOp()) {
    const std::string bytes = EncodeOps({op});

    const std::optional<OpBatch> decoded = DecodeOps(bytes);

    ASSERT_TRUE(decoded.has_value()) << DescribeOps({op});
    EXPECT_EQ(*decoded, OpBatch{op}) << DescribeOps({op});
    for (size_t size = 0; size < bytes.size(); ++size) {
      EXPECT_FALSE(DecodeOps(bytes.substr(0, size)).has_value())
          << DescribeOps({op}) << " cut at " << size;
    }
    EXPECT_FALSE(DecodeOps(bytes + '\0').has_value()) << DescribeOps({op});
  }
}

TEST(ClusterStatePackages, AnOutOfRangeEnumInAPackageOpFailsToDecode) {
  // The step is the last byte before the reason (a 4-byte length and its text).
  std::string bad_step = EncodeOps({IntentStepOp{
      .package = kP1, .intent = LogIndex(1), .step = IntentStep::kReturning, .reason = ""}});
  bad_step[bad_step.size() - 5] = static_cast<char>(4);
  std::string bad_flag = EncodeOps({ClusterHaltOp{.force = true, .by = ""}});
  bad_flag[bad_flag.size() - 5] = static_cast<char>(2);

  EXPECT_FALSE(DecodeOps(bad_step).has_value());
  EXPECT_FALSE(DecodeOps(bad_flag).has_value());
}

TEST(ClusterStatePackages, DescribeOpsShowsThePackageOpsFields) {
  EXPECT_EQ(DescribeOps({RunOp{.package = kP1, .node = kN3, .enable_switching = true,
                               .by = "root"},
                         MoveOp{.package = kP1, .target = kN2, .kind = IntentKind::kMove,
                                .vcpus = 2, .memory_mb = std::nullopt, .by = "root"},
                         IntentStepOp{.package = kP1, .intent = LogIndex(4),
                                      .step = IntentStep::kHalting, .reason = ""}}),
            "run(p1,n3,true,\"root\") move(p1,n2,move,2,-,\"root\") "
            "intent_step(p1,@4,halting,\"\")");
}

}  // namespace
}  // namespace cmcl::node
