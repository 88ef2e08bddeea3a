// Hand-written scenarios on the deterministic simulator (STYLE.md rule 36): the same
// cluster, network and checkers as the seed sweep, with the random nemeses off and the
// faults placed by the test. Every scenario also runs the StateChecker after each step.
#include <gtest/gtest.h>

#include "tests/sim/simulation.h"

namespace cmcl::sim {
namespace {

using raft::Role;

SimOptions ScenarioOptions(int members) {
  SimOptions options;
  options.seed = 1;
  options.members = members;
  options.arbitrator = members == 2;
  options.loss = 0;
  options.duplication = 0;
  options.nemeses = {};
  options.outcasts = 0;
  options.fault_phase = Duration(1'000'000);  // The test places every fault.
  return options;
}

class Cluster {
 public:
  explicit Cluster(int members) : options_(ScenarioOptions(members)), sim_(options_, trace_) {
    sim_.Setup();
  }
  void RunFor(Duration duration) {
    EXPECT_TRUE(sim_.RunUntil(sim_.now() + duration)) << sim_.violation().value_or("");
  }
  std::string Leader() const {
    const std::optional<NodeName> leader = sim_.Leader();
    return leader ? leader->value() : "";
  }
  const raft::Raft& Node(const std::string& name) const { return *sim_.Node(name); }
  internal::Simulation& sim() { return sim_; }

 private:
  SimOptions options_;
  std::function<void(const std::string&)> trace_;
  internal::Simulation sim_;
};

TEST(SimScenario, PartitionIsolatingTheLeaderSymmetricElectsANewLeaderAndLosesNothing) {
  Cluster cluster(3);
  cluster.RunFor(Duration(5000));
  const std::string old_leader = cluster.Leader();
  ASSERT_FALSE(old_leader.empty());
  const raft::Term old_term = cluster.Node(old_leader).term();
  const uint64_t acks_before = cluster.sim().checker().acks();

  cluster.sim().Isolate(old_leader);
  cluster.RunFor(Duration(5000));
  const std::string new_leader = cluster.Leader();
  const uint64_t acks_during = cluster.sim().checker().acks();
  cluster.sim().HealNetwork();
  cluster.RunFor(Duration(3000));

  EXPECT_NE(new_leader, old_leader);
  EXPECT_FALSE(new_leader.empty());
  EXPECT_GT(cluster.Node(new_leader).term(), old_term);
  EXPECT_GT(acks_during, acks_before);  // The majority kept serving clients.
  EXPECT_EQ(cluster.Node(old_leader).role(), Role::kFollower);
  EXPECT_EQ(cluster.Node(old_leader).leader(), NodeName(new_leader));
}

// PreVote (thesis 9.6): the follower that stops hearing the leader cannot win a PreVote,
// its log falls behind and the others still hear the leader, so it never raises its
// term and never deposes the leader. (Checked: without PreVote this test fails; vote
// stickiness alone has its unit tests in raft_election_test.cc.)
TEST(SimScenario, OneWayLinkFromTheLeaderToAFollowerDoesNotDeposeTheLeader) {
  Cluster cluster(3);
  cluster.RunFor(Duration(5000));
  const std::string leader = cluster.Leader();
  ASSERT_FALSE(leader.empty());
  const raft::Term term = cluster.Node(leader).term();
  const std::string follower = leader == "n1" ? "n2" : "n1";

  cluster.sim().Block(leader, follower);
  cluster.RunFor(Duration(10'000));

  EXPECT_EQ(cluster.Leader(), leader);
  EXPECT_EQ(cluster.Node(leader).term(), term);
  EXPECT_EQ(cluster.Node(follower).term(), term);
}

TEST(SimScenario, CrashedLeaderRestartsFromItsDiskAndFollowsTheNewLeader) {
  Cluster cluster(5);
  cluster.RunFor(Duration(5000));
  const std::string old_leader = cluster.Leader();
  ASSERT_FALSE(old_leader.empty());
  const raft::LogIndex old_commit = cluster.Node(old_leader).commit_index();

  cluster.sim().Crash(old_leader);
  cluster.RunFor(Duration(4000));
  const std::string new_leader = cluster.Leader();
  cluster.sim().Restart(old_leader);
  cluster.RunFor(Duration(3000));

  EXPECT_NE(new_leader, old_leader);
  EXPECT_FALSE(new_leader.empty());
  EXPECT_EQ(cluster.Node(old_leader).leader(), NodeName(new_leader));
  EXPECT_GT(cluster.Node(old_leader).commit_index(), old_commit);
}

TEST(SimScenario, TwoMembersAndAnArbitratorSurviveTheLossOfTheLeadingMember) {
  Cluster cluster(2);
  cluster.RunFor(Duration(5000));
  const std::string old_leader = cluster.Leader();
  ASSERT_TRUE(old_leader == "n1" || old_leader == "n2");
  const uint64_t acks_before = cluster.sim().checker().acks();

  cluster.sim().Crash(old_leader);
  cluster.RunFor(Duration(5000));

  EXPECT_EQ(cluster.Leader(), old_leader == "n1" ? "n2" : "n1");  // Never the arbitrator.
  EXPECT_GT(cluster.sim().checker().acks(), acks_before);
}

// Pause is not a crash: the process keeps its memory, its clock runs on, and what was
// sent to it while stopped arrives on resume. The stale leader must not act on its old
// lease: it hears the higher term among the queued messages and steps down.
TEST(SimScenario, PausedLeaderIsReplacedAndStepsDownWhenItsQueuedMessagesArriveOnResume) {
  Cluster cluster(3);
  cluster.RunFor(Duration(5000));
  const std::string old_leader = cluster.Leader();
  ASSERT_FALSE(old_leader.empty());
  const raft::Term old_term = cluster.Node(old_leader).term();
  const Time local_before = cluster.sim().LocalTime(old_leader);

  cluster.sim().Pause(old_leader);
  cluster.RunFor(Duration(5000));
  const std::string new_leader = cluster.Leader() == old_leader ? "" : cluster.Leader();
  const raft::Term old_leader_term_while_paused = cluster.Node(old_leader).term();
  const Time local_paused = cluster.sim().LocalTime(old_leader);
  cluster.sim().Resume(old_leader);
  cluster.RunFor(Duration(2000));

  EXPECT_FALSE(new_leader.empty());
  EXPECT_EQ(old_leader_term_while_paused, old_term);       // Nothing ran while stopped.
  EXPECT_GE(local_paused - local_before, Duration(4990));  // Its clock kept running.
  EXPECT_EQ(cluster.Node(old_leader).role(), Role::kFollower);
  EXPECT_EQ(cluster.Node(old_leader).term(), cluster.Node(new_leader).term());
  EXPECT_EQ(cluster.Leader(), new_leader);
}

// Swizzle-clog, by hand: a clogged link holds messages rather than dropping them, so a
// follower clogged for less than node_timeout catches up without any election.
TEST(SimScenario, ClogHoldsMessagesAndUnclogDeliversThemWithoutAnElection) {
  Cluster cluster(3);
  cluster.RunFor(Duration(5000));
  const std::string leader = cluster.Leader();
  ASSERT_FALSE(leader.empty());
  const std::string follower = leader == "n1" ? "n2" : "n1";
  const raft::Term term = cluster.Node(leader).term();

  cluster.sim().Clog({NodeName(leader), NodeName(follower)});
  cluster.RunFor(Duration(600));
  const raft::LogIndex follower_commit_clogged = cluster.Node(follower).commit_index();
  const raft::LogIndex leader_commit = cluster.Node(leader).commit_index();
  const size_t held = cluster.sim().held();
  cluster.sim().Unclog({NodeName(leader), NodeName(follower)});
  const size_t held_after = cluster.sim().held();
  cluster.RunFor(Duration(300));

  EXPECT_GE(held, 5u);  // Six heartbeat rounds' worth, at least.
  EXPECT_EQ(held_after, 0u);
  EXPECT_LT(follower_commit_clogged, leader_commit);  // The workload went on without it.
  EXPECT_GE(cluster.Node(follower).commit_index(), leader_commit);
  EXPECT_EQ(cluster.Node(follower).term(), term);
  EXPECT_EQ(cluster.Leader(), leader);
}

}  // namespace
}  // namespace cmcl::sim
