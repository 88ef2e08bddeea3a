// Hand-written lease scenarios on the deterministic simulator (DESIGN.md section 4 and
// 7): the fault kinds told apart (daemon crash, node crash, pause), the guard fencing
// without a core, and reassignment only after certain expiry. Same cluster, network and
// checkers (StateChecker, ExclusivityChecker) as the seed sweep; random nemeses off.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "tests/sim/simulation.h"

namespace cmcl::sim {
namespace {

SimOptions LeaseOptions() {
  SimOptions options;
  options.seed = 3;
  options.members = 3;
  options.loss = 0;
  options.duplication = 0;
  options.nemeses = {};
  options.outcasts = 0;
  options.fault_phase = Duration(1'000'000);  // The test places every fault.
  options.clients = 2;
  options.operator_chance = 0;
  options.disarm_chance = 0;
  options.package_faults = false;   // Healthy packages, driver kills that work,
  options.package_variety = false;  // every member eligible for every package.
  options.kill_failure = 0;
  // Placement at once, as in issue 6: the scenarios time their faults from the first
  // placement (cluster_start_wait itself is covered by coordinator_test).
  options.cluster_start_wait = Duration(0);
  options.packages = 3;  // As issue 6's three resources.
  return options;
}

class LeaseCluster {
 public:
  explicit LeaseCluster(SimOptions options = LeaseOptions())
      : options_(std::move(options)), sim_(options_, trace_) {
    sim_.Setup();
  }
  void RunFor(Duration duration) {
    ASSERT_TRUE(sim_.RunUntil(sim_.now() + duration)) << sim_.violation().value_or("");
  }
  // Runs in 10ms steps until `done` or `limit`; true if `done`.
  bool RunUntil(Duration limit, const std::function<bool()>& done) {
    const Time end = sim_.now() + limit;
    while (sim_.now() < end) {
      if (!sim_.RunUntil(sim_.now() + Duration(10))) {
        ADD_FAILURE() << *sim_.violation();
        return false;
      }
      if (done()) {
        return true;
      }
    }
    return false;
  }
  const node::Node* LeaderCore() const {
    const std::optional<NodeName> leader = sim_.Leader();
    return leader ? sim_.Core(leader->value()) : nullptr;
  }
  // R's assignment in the leader's applied state (nullptr without a leader).
  const node::Assignment* Assigned(const std::string& resource) const {
    const node::Node* leader = LeaderCore();
    return leader ? leader->state().Find(PackageName(resource)) : nullptr;
  }
  bool StartedOnItsOwner(const std::string& resource) const {
    const node::Assignment* a = Assigned(resource);
    if (a == nullptr || !a->owner || a->status != node::AssignmentStatus::kStarted) {
      return false;
    }
    const auto& held = sim_.Host(a->owner->value()).held();
    const auto it = held.find(PackageName(resource));
    return it != held.end() && it->second.epoch == a->epoch;
  }
  bool AllStarted() const {
    for (int r = 1; r <= options_.packages; ++r) {
      if (!StartedOnItsOwner("p" + std::to_string(r))) {
        return false;
      }
    }
    return true;
  }
  // A resource held by a member that is not the leader, and that member.
  std::pair<std::string, std::string> FollowerHeldResource() const {
    for (int r = 1; r <= options_.packages; ++r) {
      const std::string resource = "p" + std::to_string(r);
      const node::Assignment* a = Assigned(resource);
      if (a != nullptr && a->owner && *a->owner != *sim_.Leader()) {
        return {resource, a->owner->value()};
      }
    }
    return {};
  }
  internal::Simulation& sim() { return sim_; }
  // Receives every trace line from now on.
  void OnTrace(std::function<void(const std::string&)> trace) { trace_ = std::move(trace); }

 private:
  SimOptions options_;
  std::function<void(const std::string&)> trace_;
  internal::Simulation sim_;
};

TEST(LeaseScenario, TheCoordinatorPlacesEveryResourceOnAMemberAndItsGuestRuns) {
  LeaseCluster cluster;

  const bool started = cluster.RunUntil(Duration(10'000), [&] { return cluster.AllStarted(); });

  EXPECT_TRUE(started);
  EXPECT_EQ(cluster.sim().exclusivity().max_physical(), 1u);
}

TEST(LeaseScenario, ADaemonCrashLeavesTheGuestRunningAndTheRestartedDaemonAdoptsIt) {
  LeaseCluster cluster;
  ASSERT_TRUE(cluster.RunUntil(Duration(10'000), [&] { return cluster.AllStarted(); }));
  const auto [resource, holder] = cluster.FollowerHeldResource();
  ASSERT_FALSE(holder.empty());
  const raft::LogIndex epoch = cluster.Assigned(resource)->epoch;

  cluster.sim().Crash(holder);
  const bool runs_while_down = cluster.sim().Host(holder).Holds(PackageName(resource));
  cluster.RunFor(Duration(200));  // Well within the lease: the guard does not fence.
  cluster.sim().Restart(holder);
  cluster.RunFor(Duration(3000));

  EXPECT_TRUE(runs_while_down);
  EXPECT_FALSE(cluster.sim().Guard(holder).fenced());
  EXPECT_EQ(cluster.Assigned(resource)->epoch, epoch);  // Never reassigned.
  EXPECT_TRUE(cluster.StartedOnItsOwner(resource));
}

TEST(LeaseScenario, TheGuardFencesACrashedDaemonsGuestsByItsDeadlineAndTheResourceMoves) {
  LeaseCluster cluster;
  ASSERT_TRUE(cluster.RunUntil(Duration(10'000), [&] { return cluster.AllStarted(); }));
  const auto [resource, holder] = cluster.FollowerHeldResource();
  ASSERT_FALSE(holder.empty());
  const raft::LogIndex epoch = cluster.Assigned(resource)->epoch;

  cluster.sim().Crash(holder);  // And it stays down.
  const std::optional<Time> deadline = cluster.sim().Guard(holder).deadline();
  const bool moved = cluster.RunUntil(Duration(10'000), [&] {
    const node::Assignment* a = cluster.Assigned(resource);
    return a != nullptr && a->epoch != epoch && cluster.StartedOnItsOwner(resource);
  });

  ASSERT_TRUE(deadline.has_value());
  EXPECT_TRUE(cluster.sim().Guard(holder).fenced());
  EXPECT_FALSE(cluster.sim().Host(holder).Holds(PackageName(resource)));
  EXPECT_TRUE(moved);
  EXPECT_NE(cluster.Assigned(resource)->owner, NodeName(holder));
}

TEST(LeaseScenario, ANodeCrashKillsItsGuestsAtOnceAndItsResourcesMoveAfterCertainExpiry) {
  LeaseCluster cluster;
  ASSERT_TRUE(cluster.RunUntil(Duration(10'000), [&] { return cluster.AllStarted(); }));
  const auto [resource, holder] = cluster.FollowerHeldResource();
  ASSERT_FALSE(holder.empty());
  const raft::LogIndex epoch = cluster.Assigned(resource)->epoch;
  const Time crashed_at = cluster.sim().now();

  cluster.sim().CrashWhole(holder);
  const bool guests_gone = cluster.sim().Host(holder).held().empty();
  const bool guard_wiped = !cluster.sim().Guard(holder).deadline().has_value();
  const bool moved = cluster.RunUntil(Duration(10'000), [&] {
    const node::Assignment* a = cluster.Assigned(resource);
    return a != nullptr && a->epoch != epoch;
  });
  const Duration took = cluster.sim().now() - crashed_at;

  EXPECT_TRUE(guests_gone);
  EXPECT_TRUE(guard_wiped);
  ASSERT_TRUE(moved);
  // Not on "not heard from": the holder's lease (L = 1s, granted at most a heartbeat
  // round before the crash) must have certainly expired first.
  EXPECT_GE(took, Duration(700));
  EXPECT_TRUE(
      cluster.RunUntil(Duration(5000), [&] { return cluster.StartedOnItsOwner(resource); }));
}

// Losing the coordinator must not cost anyone else their guests. Leases come only from
// the coordinator's grants, so the followers keep theirs only if a new coordinator is
// elected and grants before they reach lease_end - fence_timeout; with
// election_timeout_min = node_timeout (before node::ElectionTimeoutMin) no election could
// finish in time and every guest of the cluster was fenced (found by the integration
// restart test, docs/KNOWN_GAPS.md until this fix).
struct CoordinatorLoss {
  std::map<std::string, std::map<PackageName, raft::LogIndex>> follower_guests;
  std::map<std::string, uint64_t> follower_fences;
  std::vector<std::string> coordinator_resources;
};

CoordinatorLoss BeforeLosingTheCoordinator(LeaseCluster& cluster, const std::string& leader) {
  CoordinatorLoss loss;
  for (const NodeName& name : cluster.sim().Names()) {
    for (const auto& [package, held] : cluster.sim().Host(name.value()).held()) {
      if (name.value() == leader) {
        loss.coordinator_resources.push_back(package.value());
      } else {
        loss.follower_guests[name.value()][package] = held.epoch;
      }
    }
    if (name.value() != leader) {
      loss.follower_fences[name.value()] = cluster.sim().Guard(name.value()).fences();
    }
  }
  return loss;
}

// Every guest a follower ran before is still running there at the same epoch, and no
// guard fenced.
void ExpectNoFollowerLostAGuest(LeaseCluster& cluster, const CoordinatorLoss& loss) {
  for (const auto& [node, guests] : loss.follower_guests) {
    for (const auto& [package, epoch] : guests) {
      const auto& held = cluster.sim().Host(node).held();
      const auto it = held.find(package);
      EXPECT_TRUE(it != held.end() && it->second.epoch == epoch)
          << package.value() << " on " << node << " was stopped";
    }
  }
  for (const auto& [node, fences] : loss.follower_fences) {
    EXPECT_EQ(cluster.sim().Guard(node).fences(), fences) << node << "'s guard fenced";
  }
}

SimOptions CoordinatorLossOptions() {
  SimOptions options = LeaseOptions();
  options.packages = 6;  // Two per member: the coordinator holds some.
  return options;
}

TEST(LeaseScenario, ACoordinatorDaemonCrashFencesNoOtherNodeAndANewCoordinatorTakesOver) {
  LeaseCluster cluster(CoordinatorLossOptions());
  ASSERT_TRUE(cluster.RunUntil(Duration(10'000), [&] { return cluster.AllStarted(); }));
  const std::string leader = cluster.sim().Leader()->value();
  const CoordinatorLoss loss = BeforeLosingTheCoordinator(cluster, leader);
  ASSERT_FALSE(loss.coordinator_resources.empty());

  cluster.sim().Crash(leader);  // Its guard lives on and fences its guests.
  const bool recovered = cluster.RunUntil(Duration(10'000), [&] {
    const std::optional<NodeName> now_leader = cluster.sim().Leader();
    return now_leader && now_leader->value() != leader && cluster.AllStarted();
  });
  cluster.RunFor(Duration(2000));

  ASSERT_TRUE(recovered);
  ExpectNoFollowerLostAGuest(cluster, loss);
  EXPECT_TRUE(cluster.sim().Guard(leader).fenced());
  for (const std::string& resource : loss.coordinator_resources) {
    EXPECT_NE(cluster.Assigned(resource)->owner, NodeName(leader)) << resource;
  }
  EXPECT_EQ(cluster.sim().exclusivity().max_physical(), 1u);
}

TEST(LeaseScenario, ACoordinatorNodeCrashFencesNoOtherNodeAndItsResourcesMoveAfterOneElection) {
  LeaseCluster cluster(CoordinatorLossOptions());
  ASSERT_TRUE(cluster.RunUntil(Duration(10'000), [&] { return cluster.AllStarted(); }));
  const std::string leader = cluster.sim().Leader()->value();
  const CoordinatorLoss loss = BeforeLosingTheCoordinator(cluster, leader);
  ASSERT_FALSE(loss.coordinator_resources.empty());
  const Time crashed_at = cluster.sim().now();

  cluster.sim().CrashWhole(leader);
  const bool moved = cluster.RunUntil(Duration(10'000), [&] {
    return std::all_of(loss.coordinator_resources.begin(), loss.coordinator_resources.end(),
                       [&](const std::string& r) { return cluster.StartedOnItsOwner(r); });
  });
  const Duration took = cluster.sim().now() - crashed_at;
  cluster.RunFor(Duration(2000));

  ASSERT_TRUE(moved);
  ExpectNoFollowerLostAGuest(cluster, loss);
  // The new coordinator waits for the old one's lease (N2(a)): at least about L = 1s
  // after the crash, and at most L, one election window (2 x 200ms) and the starts.
  EXPECT_GE(took, Duration(700));
  EXPECT_LE(took, Duration(1800));
}

TEST(LeaseScenario, APausedDaemonIsFencedByItsGuardAndDoesNotRestartTheMovedGuestOnResume) {
  LeaseCluster cluster;
  ASSERT_TRUE(cluster.RunUntil(Duration(10'000), [&] { return cluster.AllStarted(); }));
  const auto [resource, holder] = cluster.FollowerHeldResource();
  ASSERT_FALSE(holder.empty());
  const raft::LogIndex epoch = cluster.Assigned(resource)->epoch;

  cluster.sim().Pause(holder);
  cluster.RunFor(Duration(4000));
  const bool fenced = cluster.sim().Guard(holder).fenced();
  const bool moved = cluster.Assigned(resource)->epoch != epoch;
  cluster.sim().Resume(holder);
  cluster.RunFor(Duration(3000));

  EXPECT_TRUE(fenced);
  EXPECT_TRUE(moved);
  EXPECT_NE(cluster.Assigned(resource)->owner, NodeName(holder));
  EXPECT_FALSE(cluster.sim().Host(holder).Holds(PackageName(resource)));
  EXPECT_TRUE(cluster.StartedOnItsOwner(resource));
}

size_t IndexOf(internal::Simulation& sim, const std::string& name) {
  const std::vector<NodeName>& names = sim.Names();
  return static_cast<size_t>(std::find(names.begin(), names.end(), NodeName(name)) - names.begin());
}

// L4 without stretch (mutation expiry_on_not_heard_from): with clocks at the edges of a
// wide drift bound (20%), the leader's clock runs fast and the holder's slow, so "not
// heard from for L" on the leader's clock ends well before the holder's lease on its
// own clock. Isolating the holder then lets the leader reassign while the holder still
// holds authority (checker B). At rho = 0.1% the window is 2 ms, shorter than any
// reassignment takes, so the random seeds cannot catch it; this scenario does.
std::optional<std::string> IsolateAHolderUnderWideDrift(bool mutation, bool* moved) {
  SimOptions options = LeaseOptions();
  // The mutation shows only when the holder's last grant is recent at the cut, which the
  // heartbeat phase decides: 5 of seeds 1-12 show it (session 7; seed 3 did before the
  // election change moved the timers).
  options.seed = 5;
  options.clock_drift_max_ppm = 200'000;
  if (mutation) {
    EXPECT_TRUE(SetMutation("expiry_on_not_heard_from", options));
  }
  LeaseCluster cluster(options);
  EXPECT_TRUE(cluster.RunUntil(Duration(10'000), [&] { return cluster.AllStarted(); }));
  const auto [resource, holder] = cluster.FollowerHeldResource();
  EXPECT_FALSE(holder.empty());
  const raft::LogIndex epoch = cluster.Assigned(resource)->epoch;
  cluster.sim().SetClockDrift(IndexOf(cluster.sim(), cluster.sim().Leader()->value()), 200'000);
  cluster.sim().SetClockDrift(IndexOf(cluster.sim(), holder), -200'000);
  cluster.RunFor(Duration(500));

  cluster.sim().Isolate(holder);
  cluster.sim().RunUntil(cluster.sim().now() + Duration(4000));

  const node::Assignment* after = cluster.Assigned(resource);
  *moved = after != nullptr && after->epoch != epoch;
  return cluster.sim().violation();
}

TEST(LeaseScenario, MutationExpiryOnNotHeardFromIsCaughtUnderWideClockDrift) {
  bool moved = false;

  const std::optional<std::string> violation = IsolateAHolderUnderWideDrift(true, &moved);

  ASSERT_TRUE(violation.has_value());
  EXPECT_NE(violation->find("exclusivity (logical)"), std::string::npos) << *violation;
}

TEST(LeaseScenario, UnderWideClockDriftAnIsolatedHoldersResourceMovesSafely) {
  bool moved = false;

  const std::optional<std::string> violation = IsolateAHolderUnderWideDrift(false, &moved);

  EXPECT_FALSE(violation.has_value()) << *violation;
  EXPECT_TRUE(moved);
}

// F2 scoped to the incarnation (mutation nonce_ignores_incarnation): grants for the
// holder's nonces are held, the holder's daemon restarts, and once the new incarnation
// has itself issued those sequence numbers (its replies no longer reaching anybody),
// the old grants arrive. Scoped, they are dropped; unscoped, they anchor a lease at the
// new incarnation's send times, which the leader never saw, so the holder keeps
// authority past the leader's certain expiry. The restart rule and the guard mask this
// in random runs (a restarted node acts only on adopted guests), so the sweep does not
// reach it; this scenario does.
std::optional<std::string> ReplayOldGrantsAfterARestart(bool mutation, bool* released) {
  SimOptions options = LeaseOptions();
  options.fence_timeout = Duration(100);  // Fencing early would end its authority sooner.
  if (mutation) {
    EXPECT_TRUE(SetMutation("nonce_ignores_incarnation", options));
  }
  LeaseCluster cluster(options);
  EXPECT_TRUE(cluster.RunUntil(Duration(10'000), [&] { return cluster.AllStarted(); }));
  const auto [resource, holder] = cluster.FollowerHeldResource();
  EXPECT_FALSE(holder.empty());
  uint64_t issued = 0;  // The latest nonce seq the holder put on the wire.
  const std::string prefix = "AppendResponse " + holder + ">";
  cluster.OnTrace([&](const std::string& line) {
    const size_t at = line.find(prefix);
    const size_t nonce = line.find(" nonce=", at == std::string::npos ? line.size() : at);
    if (at != std::string::npos && nonce != std::string::npos) {
      issued = std::stoull(line.substr(nonce + 7));
    }
  });
  cluster.sim().HoldMessagesTo(holder, "LeaseGrant", true);
  cluster.RunFor(Duration(600));  // Short of its lease: its guests keep running.
  cluster.sim().HoldMessagesTo(holder, "LeaseGrant", false);
  uint64_t first = UINT64_MAX;
  uint64_t last = 0;
  for (const raft::Message& grant : cluster.sim().held_messages()) {
    const uint64_t seq = std::get<raft::LeaseGrant>(grant.body).grant.nonce.seq;
    first = std::min(first, seq);
    last = std::max(last, seq);
  }
  EXPECT_LT(first, last);

  cluster.sim().Crash(holder);
  cluster.sim().Restart(holder);  // Adopts its running guest, on grants of its own.
  issued = 0;
  EXPECT_TRUE(cluster.RunUntil(Duration(60'000), [&] { return issued + 1 >= first; }));
  for (const NodeName& other : cluster.sim().Names()) {
    if (other.value() != holder) {
      cluster.sim().Block(holder, other.value());  // Its new nonces reach nobody.
    }
  }
  EXPECT_TRUE(cluster.RunUntil(Duration(60'000), [&] { return issued >= last; }));
  cluster.sim().Isolate(holder);
  cluster.sim().ReleaseHeld();
  *released = true;
  cluster.sim().RunUntil(cluster.sim().now() + Duration(4000));
  return cluster.sim().violation();
}

TEST(LeaseScenario, MutationNonceIgnoresIncarnationIsCaughtByReplayingOldGrants) {
  bool released = false;

  const std::optional<std::string> violation = ReplayOldGrantsAfterARestart(true, &released);

  ASSERT_TRUE(released);
  ASSERT_TRUE(violation.has_value());
  EXPECT_NE(violation->find("exclusivity"), std::string::npos) << *violation;
}

TEST(LeaseScenario, GrantsForAnEarlierIncarnationsNoncesAnchorNothing) {
  bool released = false;

  const std::optional<std::string> violation = ReplayOldGrantsAfterARestart(false, &released);

  EXPECT_TRUE(released);
  EXPECT_FALSE(violation.has_value()) << *violation;
}

// N2(a) measured from the start of candidacy (mutation new_leader_wait_from_candidacy)
// instead of from e, the arrival of the last needed vote. The credit of vote stickiness
// is only as good as e: the voter V refused votes for election_timeout_min after it last
// heard the old leader A, so A's lease (from a round V answered) ends by e - eto_min + W.
// Here V answers A's round *after* B's candidacy began and B's vote request reaches V
// only once V's stickiness ran out, so e - candidacy is over a second; while disarmed
// (W = D = 3 s > eto_min) the mutated bound reassigns A's resource about that much too
// early, while the isolated A still holds its D-lease. The random seeds never line this
// up (a candidacy normally starts after the voters' stickiness ended); this does.
//
// It runs with election_timeout_min = node_timeout, as DESIGN.md section 3 first had it:
// with cmcld's shorter elections (docs/DESIGN_CHANGES.md) a candidacy restarts within
// 2 x 200ms, so the mutated bound is early by less than fence_timeout and the mutation
// does no visible harm; the arithmetic under test is the same for any value.
std::optional<std::string> ElectWithAHeldVote(bool mutation, bool* elected) {
  SimOptions options = LeaseOptions();
  options.clients = 1;
  options.election_timeout_min = options.node_timeout;
  // A must still lead when V hears it again, whichever comes first of B's election timer
  // ([min, 2 min)) and A's CheckQuorum: without this the seed decides (session 7's
  // election change moved the draws, and A stepped down first).
  options.check_quorum_period = 3 * options.node_timeout;
  if (mutation) {
    EXPECT_TRUE(SetMutation("new_leader_wait_from_candidacy", options));
  }
  LeaseCluster cluster(options);
  cluster.sim().ScriptClient({{node::DisarmOp{.length = Duration(3000)}}});
  EXPECT_TRUE(cluster.RunUntil(Duration(10'000), [&] {
    return cluster.AllStarted() &&
           cluster.LeaderCore()->state().mode() == raft::LeaseMode::kDisarmed;
  }));
  cluster.RunFor(Duration(1000));  // Disarmed grants everywhere.
  const std::string a = cluster.sim().Leader()->value();
  std::vector<std::string> others;
  for (const NodeName& name : cluster.sim().Names()) {
    if (name.value() != a) {
      others.push_back(name.value());
    }
  }
  const std::string b = others[0];
  const std::string v = others[1];
  bool a_holds = false;
  for (const auto& [resource, assignment] : cluster.LeaderCore()->state().assignments()) {
    a_holds = a_holds || assignment.owner == NodeName(a);
  }
  EXPECT_TRUE(a_holds);

  cluster.sim().Block(a, b);
  cluster.sim().Block(b, a);
  cluster.sim().Clog({NodeName(a), NodeName(v)});           // V stops hearing A, for now.
  cluster.sim().HoldMessagesTo(v, "VoteRequest", true);     // B's candidacy waits.
  cluster.sim().HoldMessagesTo(b, "PreVoteRequest", true);  // V never campaigns.
  cluster.sim().HoldMessagesTo(b, "VoteRequest", true);
  EXPECT_TRUE(cluster.RunUntil(
      Duration(10'000), [&] { return cluster.sim().Node(b)->role() == raft::Role::kCandidate; }));
  cluster.sim().Unclog({NodeName(a), NodeName(v)});  // V answers a round of A's now.
  cluster.RunFor(Duration(150));
  cluster.sim().Isolate(a);
  cluster.RunFor(Duration(1020));  // V's stickiness runs out.
  cluster.sim().HoldMessagesTo(v, "VoteRequest", false);
  cluster.sim().ReleaseHeld();
  cluster.sim().RunUntil(cluster.sim().now() + Duration(5000));
  *elected = cluster.sim().Leader() == NodeName(b);
  return cluster.sim().violation();
}

TEST(LeaseScenario, MutationNewLeaderWaitFromCandidacyIsCaughtWithAHeldVoteWhileDisarmed) {
  bool elected = false;

  const std::optional<std::string> violation = ElectWithAHeldVote(true, &elected);

  EXPECT_TRUE(elected);
  ASSERT_TRUE(violation.has_value());
  EXPECT_NE(violation->find("exclusivity"), std::string::npos) << *violation;
}

TEST(LeaseScenario, ANewLeaderElectedLateInItsCandidacyWaitsForTheOldLeadersDisarmLease) {
  bool elected = false;

  const std::optional<std::string> violation = ElectWithAHeldVote(false, &elected);

  EXPECT_TRUE(elected);
  EXPECT_FALSE(violation.has_value()) << *violation;
}

// Found by the sweep (`cmcl-sim --seed 44` before node.cc 57f02ab): a daemon restarted
// just before its guard's deadline asks for its guests' status, the guard fences them a
// moment later, and the node must not adopt them on the strength of the earlier
// "running" answer (the applied state would say started while nothing runs).
TEST(LeaseScenario, ARestartRacingTheGuardsFenceDoesNotAdoptTheFencedGuest) {
  LeaseCluster cluster;
  ASSERT_TRUE(cluster.RunUntil(Duration(10'000), [&] { return cluster.AllStarted(); }));
  const auto [resource, holder] = cluster.FollowerHeldResource();
  ASSERT_FALSE(holder.empty());
  cluster.sim().Crash(holder);
  const Time deadline = *cluster.sim().Guard(holder).deadline();
  while (cluster.sim().LocalTime(holder) < deadline - Duration(5)) {
    cluster.RunFor(Duration(1));
  }

  cluster.sim().Restart(holder);  // Its status query races the guard's kill.
  cluster.RunFor(Duration(3000));
  const bool placed =
      cluster.RunUntil(Duration(10'000), [&] { return cluster.StartedOnItsOwner(resource); });

  EXPECT_TRUE(cluster.sim().Guard(holder).fenced());
  EXPECT_TRUE(placed) << resource << " is "
                      << node::AssignmentStatusName(cluster.Assigned(resource)->status) << " on "
                      << cluster.Assigned(resource)->owner->value() << " but runs nowhere";
}

}  // namespace
}  // namespace cmcl::sim
