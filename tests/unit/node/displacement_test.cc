// Priority displacement (displacement.h, issue 10) through the coordinator's Decide, every
// decision applied to a real ClusterState: only with displace_lower_priority, only
// strictly lower priorities, the fewest victims, decided once, the displacer placed only
// after the victims halted, victims placed again elsewhere, no displacement for an
// operator's explicit target, and maintenance or dependency victims skipped.
#include "cmcld/core/node/displacement.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cmcld/core/node/coordinator.h"
#include "cmcld/core/node/explain.h"
#include "tests/support/config_builder.h"
#include "tests/support/decision_ops.h"

namespace cmcl::node {
namespace {

using test_support::ClusterBuilder;
using test_support::Gib;
using test_support::InventoryBuilder;
using test_support::PackageBuilder;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

const NodeName kN1("ivmcl01");
const NodeName kN2("ivmcl02");
const PackageName kHigh("high");
const PackageName kLow("low");
const PackageName kLower("lower");

using test_support::OpsOf;

std::vector<std::string> Released(const Decision& decision) {
  std::vector<std::string> names;
  for (const ReleaseOp& op : OpsOf<ReleaseOp>(decision)) {
    if (op.why == ActionReason::kDisplaced) names.push_back(op.resource.value());
  }
  return names;
}

config::PackageSpec Package(const std::string& name, std::optional<uint32_t> priority,
                            uint32_t vcpus, const std::vector<std::string>& nodes = {"ivmcl01"}) {
  config::PackageSpec spec = PackageBuilder(name).Nodes(nodes).Vcpus(vcpus).Build();
  spec.priority = priority;
  return spec;
}

config::PackageSpec Displacer(uint32_t priority, uint32_t vcpus, bool flag = true) {
  config::PackageSpec spec = Package("high", priority, vcpus);
  spec.displace_lower_priority = flag;
  return spec;
}

// ivmcl01 (8 vCPUs unless a test says otherwise) and ivmcl02 (4); this node the leader.
class DisplacementTest : public ::testing::Test {
 protected:
  void Configure(const std::vector<config::PackageSpec>& packages, uint32_t n1_vcpus = 8) {
    ClusterBuilder builder;
    builder.Node("ivmcl01", InventoryBuilder().Capacity(n1_vcpus, Gib(64)).Build())
        .Node("ivmcl02", InventoryBuilder().Capacity(4, Gib(64)).Build());
    for (const config::PackageSpec& package : packages) builder.Package(package);
    config_ = std::make_unique<config::ClusterConfig>(builder.Build());
    index_ = std::make_unique<validation::ConfigIndex>(*config_, reported_);
  }
  void Commit(const OpBatch& ops) {
    const LogIndex index(state_.applied().value() + 1);
    state_.Apply(raft::ApplyEntry{.entry = raft::Entry{.term = raft::Term(1),
                                                       .index = index,
                                                       .kind = raft::EntryKind::kCommand,
                                                       .command = {.client_id = raft::ClientId(1),
                                                                   .sequence = index.value(),
                                                                   .payload = EncodeOps(ops),
                                                                   .revokes = {}}},
                                  .duplicate = false});
  }
  Decision Step() {
    Decision decision = node::Decide(*config_, *index_, state_, live_);
    if (!decision.ops.empty()) Commit(decision.ops);
    return decision;
  }
  void Report(const PackageName& package, ReportKind kind) {
    const Assignment* a = state_.Find(package);
    ASSERT_NE(a, nullptr) << package;
    Commit({ReportOp{.resource = package, .node = *a->owner, .epoch = a->epoch, .kind = kind}});
  }
  // Every assigned package reports started.
  void StartAssigned() {
    std::vector<PackageName> assigned;
    for (const auto& [package, a] : state_.assignments()) {
      if (a.status == AssignmentStatus::kAssigned) assigned.push_back(package);
    }
    for (const PackageName& package : assigned) Report(package, ReportKind::kStarted);
  }
  // `running` start and come up; then the configuration gains `later` (auto_run).
  void RunThenAdd(const std::vector<config::PackageSpec>& running,
                  const std::vector<config::PackageSpec>& later, uint32_t n1_vcpus = 8) {
    Configure(running, n1_vcpus);
    Commit({ClusterRunOp{.by = "root"}});
    for (int round = 0; round < 2; ++round) {  // A dependent starts a round after.
      Step();
      StartAssigned();
    }
    std::vector<config::PackageSpec> all = running;
    all.insert(all.end(), later.begin(), later.end());
    Configure(all, n1_vcpus);
  }
  AssignmentStatus StatusOf(const PackageName& package) const {
    const Assignment* a = state_.Find(package);
    return a == nullptr ? AssignmentStatus::kHalted : a->status;
  }
  std::string NoteOf(const PackageName& package) const {
    const PackageRecord* record = state_.FindPackage(package);
    return record == nullptr ? "" : record->note;
  }

  validation::ReportedInventories reported_;
  std::unique_ptr<config::ClusterConfig> config_;
  std::unique_ptr<validation::ConfigIndex> index_;
  ClusterState state_{ClusterState::Options{}};
  Liveness live_{.self = kN1,
                 .now = Time::FromMilliseconds(100'000),
                 .up = {kN1, kN2},
                 .reachable = {kN1, kN2},
                 .certain_expiry = {},
                 .leader_since = Time::FromMilliseconds(100'000),
                 .watchdog_fence = false};
};

TEST_F(DisplacementTest, AHigherPriorityDisplacesALowerOneOnlyWithTheFlag) {
  RunThenAdd({Package("low", 20, 4), Package("lower", 30, 4)}, {Displacer(10, 4, false)});

  const Decision without = Step();
  const std::string note_without = NoteOf(kHigh);
  Configure({Package("low", 20, 4), Package("lower", 30, 4), Displacer(10, 4)});
  const Decision with = Step();

  EXPECT_THAT(OpsOf<ReleaseOp>(without), IsEmpty());
  EXPECT_THAT(note_without, HasSubstr("no node can run it"));
  EXPECT_THAT(Released(with), ElementsAre("lower"));
  EXPECT_TRUE(OpsOf<AssignOp>(with).empty()) << DescribeOps(with.ops);
  EXPECT_EQ(NoteOf(kHigh),
            "high: waiting for lower to halt on ivmcl01 (displaced for priority 10)");
  EXPECT_EQ(NoteOf(kLower), "displaced by high (priority 10)");
  EXPECT_EQ(StatusOf(kLow), AssignmentStatus::kStarted);
  EXPECT_TRUE(state_.Find(kLower)->release_requested);
  EXPECT_EQ(state_.Find(kLower)->halt_reason, ActionReason::kDisplaced);
}

TEST_F(DisplacementTest, OnlyStrictlyLowerPrioritiesAreDisplaced) {
  // An equal priority and a higher one fill ivmcl01; nothing there is lower.
  RunThenAdd({Package("low", 10, 4), Package("lower", 5, 4)}, {Displacer(10, 4)});

  const Decision equal_or_higher = Step();
  Configure({Package("low", 10, 4), Package("lower", std::nullopt, 4), Displacer(10, 4)});
  const Decision none_is_lowest = Step();

  EXPECT_THAT(OpsOf<ReleaseOp>(equal_or_higher), IsEmpty());
  EXPECT_THAT(Released(none_is_lowest), ElementsAre("lower"));
}

TEST_F(DisplacementTest, TheFewestLowestPriorityVictimsAreHalted) {
  // a (20, 2), b (30, 2), c (none, 4), d (40, 4) fill 12 vCPUs; high needs 6. Lowest
  // priority first: c frees 4, not enough; c and d free 8; a and b stay.
  RunThenAdd({Package("a", 20, 2), Package("b", 30, 2), Package("c", std::nullopt, 4),
              Package("d", 40, 4)},
             {Displacer(10, 6)}, 12);

  const Decision decision = Step();

  EXPECT_THAT(Released(decision), ElementsAre("c", "d"));
  EXPECT_EQ(NoteOf(kHigh), "high: waiting for c, d to halt on ivmcl01 (displaced for priority 10)");
}

TEST_F(DisplacementTest, TheDisplacerStartsOnlyOnceItsVictimsHaltedAndIsDecidedOnce) {
  RunThenAdd({Package("low", 20, 4), Package("lower", 30, 4)}, {Displacer(10, 4)});
  Step();

  live_.now = live_.now + std::chrono::seconds(30);
  const Decision halting = Step();
  Report(kLower, ReportKind::kHalted);
  const Decision halted = Step();

  EXPECT_TRUE(halting.ops.empty()) << DescribeOps(halting.ops);  // No more victims, no start.
  ASSERT_EQ(OpsOf<AssignOp>(halted).size(), 1U) << DescribeOps(halted.ops);
  EXPECT_EQ(OpsOf<AssignOp>(halted)[0].resource, kHigh);
  EXPECT_EQ(OpsOf<AssignOp>(halted)[0].node, kN1);
  EXPECT_EQ(StatusOf(kLow), AssignmentStatus::kStarted);
  // The victim cannot go anywhere (it runs on ivmcl01 only) and says why.
  EXPECT_THAT(NoteOf(kLower), HasSubstr("displaced by high (priority 10); lower: "));
  EXPECT_THAT(NoteOf(kLower), HasSubstr("no node can run it"));
}

TEST_F(DisplacementTest, AVictimThatFitsElsewhereStartsThere) {
  RunThenAdd({Package("low", 20, 4), Package("lower", 30, 4, {"ivmcl01", "ivmcl02"})},
             {Displacer(10, 4)});
  ASSERT_THAT(Released(Step()), ElementsAre("lower"));
  Report(kLower, ReportKind::kHalted);

  const Decision decision = Step();

  ASSERT_EQ(OpsOf<AssignOp>(decision).size(), 2U) << DescribeOps(decision.ops);
  EXPECT_EQ(state_.Find(kHigh)->owner, kN1);
  EXPECT_EQ(state_.Find(kLower)->owner, kN2);
  EXPECT_EQ(state_.Find(kLower)->start_reason, ActionReason::kStart);
}

TEST_F(DisplacementTest, AnOperatorRunDisplacesButAnExplicitTargetNeverDoes) {
  config::PackageSpec high = Displacer(10, 4);
  high.auto_run = false;
  RunThenAdd({Package("low", 20, 4), Package("lower", 30, 4)}, {high});
  Step();

  Commit({RunOp{.package = kHigh, .node = kN1, .by = "root"}});
  const Decision targeted = Step();
  Commit({RunOp{.package = kHigh, .by = "root"}});
  const Decision anywhere = Step();

  EXPECT_THAT(OpsOf<ReleaseOp>(targeted), IsEmpty());
  ASSERT_FALSE(OpsOf<NoteOp>(targeted).empty());
  EXPECT_TRUE(OpsOf<NoteOp>(targeted)[0].ends_run);  // The run -n ends, refused.
  EXPECT_THAT(Released(anywhere), ElementsAre("lower"));
  const PackageRecord* record = state_.FindPackage(kHigh);
  ASSERT_NE(record, nullptr);
  EXPECT_TRUE(record->pending.has_value());  // The run goes on while they halt.
}

TEST_F(DisplacementTest, PackagesInMaintenanceOrWithRunningDependentsAreNotVictims) {
  // 12 vCPUs on ivmcl01: m (40) in maintenance, d (35) with a dependent on ivmcl02, v (20).
  config::PackageSpec app = Package("app", 50, 1, {"ivmcl02"});
  app.depends_on.push_back(config::Dependency{.package = PackageName("d")});
  RunThenAdd({Package("m", 40, 4), Package("d", 35, 4), Package("v", 20, 4), app},
             {Displacer(10, 4)}, 12);
  ASSERT_EQ(StatusOf(PackageName("app")), AssignmentStatus::kStarted);
  Commit({MaintenanceOp{.package = PackageName("m"), .by = "root"}});

  const Decision decision = Step();

  EXPECT_THAT(Released(decision), ElementsAre("v"));
}

// The coordinator decides from the applied state; an operator command committed ahead of
// its batch can make the displacement pointless. Apply then drops the release and the
// notes that came with it (sim seed 16895546273079859409: the displacer was halted).
TEST_F(DisplacementTest, ADisplacementOvertakenByACommandIsDroppedAtApply) {
  const auto decide = [this] { return node::Decide(*config_, *index_, state_, live_); };
  const auto untouched = [this](const char* what) {
    SCOPED_TRACE(what);
    EXPECT_EQ(StatusOf(kLower), AssignmentStatus::kStarted);
    EXPECT_FALSE(state_.Find(kLower)->release_requested);
    EXPECT_EQ(NoteOf(kLower), "");
  };
  RunThenAdd({Package("low", 20, 4), Package("lower", 30, 4)}, {Displacer(10, 4)});
  const uint64_t stale_before = state_.stale_releases();

  const Decision halted_since = decide();
  ASSERT_THAT(Released(halted_since), ElementsAre("lower"));
  Commit({HaltOp{.package = kHigh, .by = "root"}});
  Commit(halted_since.ops);
  untouched("the displacer was halted");
  EXPECT_THAT(NoteOf(kHigh), Not(HasSubstr("waiting for")));
  EXPECT_THAT(state_.events().back().text,
              HasSubstr("lower: displacement for high dropped: high was halted"));

  Commit({RunOp{.package = kHigh, .by = "root"}});
  const Decision victim_in_maintenance = decide();
  ASSERT_THAT(Released(victim_in_maintenance), ElementsAre("lower"));
  Commit({MaintenanceOp{.package = kLower, .on = true, .by = "root"}});
  Commit(victim_in_maintenance.ops);
  untouched("the victim went into maintenance");
  Commit({MaintenanceOp{.package = kLower, .on = false, .by = "root"}});

  const Decision placed_since = decide();
  ASSERT_THAT(Released(placed_since), ElementsAre("lower"));
  Commit({AssignOp{.resource = kHigh, .node = kN2, .from_epoch = LogIndex(0), .reason = "test"}});
  Commit(placed_since.ops);
  untouched("the displacer was placed elsewhere");
  EXPECT_EQ(state_.stale_releases(), stale_before + 3);

  // Still current: the release applies (the ops carry the displacer, format 4).
  Commit({HaltOp{.package = kHigh, .by = "root"}});
  Report(kHigh, ReportKind::kHalted);
  Commit({RunOp{.package = kHigh, .by = "root"}});
  const Decision current = decide();
  ASSERT_EQ(OpsOf<ReleaseOp>(current).size(), 1U) << DescribeOps(current.ops);
  EXPECT_EQ(OpsOf<ReleaseOp>(current)[0].displacer, kHigh);
  Commit(current.ops);
  EXPECT_TRUE(state_.Find(kLower)->release_requested);
  EXPECT_EQ(NoteOf(kLower), "displaced by high (priority 10)");
}

// Ops format 4 appended ReleaseOp::displacer and ::displacer_epoch; a format-3 release
// (a log written before) still decodes, without them, and applies as it did.
TEST(DisplacementOps, AFormat3ReleaseStillDecodesWithoutItsDisplacer) {
  const ReleaseOp release{
      .resource = kLower, .epoch = LogIndex(7), .why = ActionReason::kDisplaced};
  const std::string format4 = EncodeOps({release});
  ASSERT_EQ(format4[0], '\x04');
  // Format 4 appended an absent optional (1 byte) and an 8-byte index.
  const std::string format3 = "\x03" + format4.substr(1, format4.size() - 1 - 9);

  const std::optional<OpBatch> decoded = DecodeOps(format3);

  ASSERT_TRUE(decoded.has_value());
  ASSERT_EQ(decoded->size(), 1U);
  EXPECT_EQ(std::get<ReleaseOp>(decoded->front()), release);
  ReleaseOp with_displacer = release;
  with_displacer.displacer = kHigh;
  with_displacer.displacer_epoch = LogIndex(5);
  EXPECT_EQ(DecodeOps(EncodeOps({with_displacer})), OpBatch{with_displacer});
}

// A displacer that depends on the lowest priority there displaces the next one instead:
// halting its own dependency would make it wait for it, and displace it again once back
// (sim seed 5037131625826412200 --swarm).
TEST_F(DisplacementTest, ADisplacerNeverHaltsWhatItDependsOn) {
  config::PackageSpec high = Displacer(10, 4);
  high.depends_on.push_back(config::Dependency{.package = kLower});
  RunThenAdd({Package("low", 20, 4), Package("lower", 30, 4)}, {high});

  const Decision decision = Step();

  EXPECT_THAT(Released(decision), ElementsAre("low"));
}

// A dependent placed in the same call as the displacement is not in the state yet: it
// would start, lose its dependency to the displacer, go down, and the two would take
// turns for ever (sim seed 5037131625826412200 --swarm).
TEST_F(DisplacementTest, AVictimWhoseDependentThisCallPlacesIsNotHalted) {
  config::PackageSpec app = Package("app", 50, 1, {"ivmcl02"});
  app.depends_on.push_back(config::Dependency{.package = kLower});
  RunThenAdd({Package("low", 20, 4), Package("lower", 30, 4)}, {Displacer(10, 4), app});

  const Decision decision = Step();

  EXPECT_THAT(Released(decision), ElementsAre("low"));
  EXPECT_EQ(StatusOf(PackageName("app")), AssignmentStatus::kAssigned);
}

// The room a displacement frees is held for the displacer until it is placed. Fenced on
// ivmcl01, high avoids it in its first request, so lower (placed before high's second
// request) takes the free half and high displaces low. Once low halted, low must not
// take the room back before high's second request does: it did, high then displaced
// lower, lower came back, and so on (sim seed 11556099375813343026 --swarm).
TEST_F(DisplacementTest, TheRoomADisplacementFreedIsHeldForTheDisplacer) {
  RunThenAdd({Package("low", 20, 4), Displacer(10, 4)}, {Package("lower", 30, 4)});
  ASSERT_EQ(StatusOf(kHigh), AssignmentStatus::kStarted);
  Report(kHigh, ReportKind::kFenced);
  const Decision displaced = Step();
  ASSERT_THAT(Released(displaced), ElementsAre("low"));
  ASSERT_EQ(StatusOf(kLower), AssignmentStatus::kAssigned);
  StartAssigned();
  EXPECT_EQ(state_.Find(kLow)->displacer, kHigh);
  // A snapshot keeps the displacer (state format 5), so a new coordinator holds the room.
  const std::optional<ClusterState> decoded = ClusterState::Decode(state_.Encode(), {});
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, state_);

  EXPECT_TRUE(Step().ops.empty());  // While low halts, nothing takes its room.
  Report(kLow, ReportKind::kHalted);
  const Decision halted = Step();

  ASSERT_EQ(OpsOf<AssignOp>(halted).size(), 1U) << DescribeOps(halted.ops);
  EXPECT_EQ(OpsOf<AssignOp>(halted)[0].resource, kHigh);
  EXPECT_EQ(state_.Find(kHigh)->owner, kN1);
  EXPECT_EQ(StatusOf(kLow), AssignmentStatus::kHalted);
  EXPECT_THAT(NoteOf(kLow), HasSubstr("displaced by high (priority 10); "));
  StartAssigned();
  EXPECT_THAT(OpsOf<ReleaseOp>(Step()), IsEmpty());  // Nothing more is displaced.
}

TEST_F(DisplacementTest, ExplainSaysADisplacedPackageWasDisplacedAndByWhom) {
  RunThenAdd({Package("low", 20, 4), Package("lower", 30, 4)}, {Displacer(10, 4)});
  Step();
  Report(kLower, ReportKind::kHalted);
  Step();
  const std::optional<validation::CheckReport> candidates;

  const Result<Explanation> explanation = Explain(ExplainInputs{.config = *config_,
                                                                .state = state_,
                                                                .liveness = live_,
                                                                .authoritative = true,
                                                                .quorum = true,
                                                                .candidates = candidates,
                                                                .disarm_left = std::nullopt},
                                                  kLower);

  ASSERT_TRUE(explanation.ok());
  const std::vector<Finding>& findings = explanation->findings;
  const auto displaced = std::find_if(findings.begin(), findings.end(),
                                      [](const Finding& f) { return f.code == "displaced"; });
  ASSERT_NE(displaced, findings.end());
  EXPECT_THAT(displaced->message, HasSubstr("lower was displaced by high (priority 10)"));
  EXPECT_EQ(displaced->command, "pkgctl halt high");
}

}  // namespace
}  // namespace cmcl::node
