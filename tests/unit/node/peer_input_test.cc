// What a node takes from a peer (peer_input.h, issue 11): the messages the fuzzer
// (tests/fuzz/node_fuzzer.cc) found aborting a node are dropped, and the node goes on.
#include "cmcld/core/node/peer_input.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "tests/support/node_cluster.h"

namespace cmcl::node {
namespace {

using testing::NodeCluster;

raft::Message From(const std::string& from, const std::string& to, raft::Term term,
                   raft::Body body) {
  return raft::Message{.header = {.cluster_id = raft::ClusterId(0xc1c1),
                                  .from = NodeName(from),
                                  .to = NodeName(to),
                                  .term = term},
                       .body = std::move(body)};
}

raft::InstallSnapshot SnapshotOf(std::string state, raft::LogIndex last_index) {
  return raft::InstallSnapshot{.snapshot = {.last_index = last_index,
                                            .last_term = raft::Term(1),
                                            .clients = {},
                                            .state = std::move(state)},
                               .round = 1};
}

bool Logged(const NodeActions& actions, const std::string& text) {
  return std::any_of(actions.log.begin(), actions.log.end(), [&](const LogLine& line) {
    return line.text.find(text) != std::string::npos;
  });
}

std::string Follower(const std::string& leader) { return leader == "n1" ? "n2" : "n1"; }

TEST(PeerInput, SnapshotWhoseStateIsNotAClusterStateIsRefusedAndAValidOneTaken) {
  const ClusterState::Options options;
  const std::string valid = ClusterState(options).Encode();

  const auto garbage = PeerMessageProblem(
      From("n2", "n1", raft::Term(2), SnapshotOf("\x01garbage", raft::LogIndex(5))), options);
  const auto good = PeerMessageProblem(
      From("n2", "n1", raft::Term(2), SnapshotOf(valid, raft::LogIndex(5))), options);

  ASSERT_TRUE(garbage.has_value());
  EXPECT_NE(garbage->find("not a cluster state"), std::string::npos);
  EXPECT_FALSE(good.has_value()) << *good;
}

TEST(PeerInput, IndexNearTwoToThe64IsRefusedBeforeItCanWrapTheLog) {
  const std::string valid = ClusterState(ClusterState::Options{}).Encode();

  const auto problem = PeerMessageProblem(
      From("n2", "n1", raft::Term(2), SnapshotOf(valid, raft::LogIndex(~uint64_t{0}))), {});

  EXPECT_TRUE(problem.has_value());
}

TEST(PeerInput, AppendRequestWhoseEntriesSkipAnIndexOrGoBackInTermIsRefused) {
  const auto entry = [](uint64_t index, uint64_t term) {
    return raft::Entry{.term = raft::Term(term),
                       .index = raft::LogIndex(index),
                       .kind = raft::EntryKind::kNoop,
                       .command = {}};
  };
  const auto append = [&](std::vector<raft::Entry> entries) {
    return From("n2", "n1", raft::Term(3),
                raft::AppendRequest{.prev_log_index = raft::LogIndex(4),
                                    .prev_log_term = raft::Term(2),
                                    .entries = std::move(entries),
                                    .leader_commit = raft::LogIndex(4),
                                    .round = 1});
  };

  EXPECT_FALSE(PeerMessageProblem(append({entry(5, 2), entry(6, 3)}), {}).has_value());
  EXPECT_TRUE(PeerMessageProblem(append({entry(5, 2), entry(7, 3)}), {}).has_value());
  EXPECT_TRUE(PeerMessageProblem(append({entry(5, 3), entry(6, 2)}), {}).has_value());
  EXPECT_TRUE(PeerMessageProblem(append({entry(5, 1)}), {}).has_value());
  EXPECT_TRUE(PeerMessageProblem(append({entry(5, 4)}), {}).has_value());
}

TEST(PeerInput, FollowerGivenASnapshotOfGarbageDropsItAndKeepsItsState) {
  NodeCluster cluster(3, {"r1"});
  cluster.StartAll();
  cluster.RunFor(Duration(4000));
  const std::optional<std::string> leader = cluster.Leader();
  ASSERT_TRUE(leader.has_value());
  const std::string follower = Follower(*leader);
  Node& node = cluster.node(follower);
  const raft::LogIndex applied = node.state().applied();

  const NodeActions actions =
      node.Step(cluster.now, From(*leader, follower, node.raft().term(),
                                  SnapshotOf("garbage", node.raft().last_index() + 10)));

  EXPECT_TRUE(Logged(actions, "not a cluster state"));
  EXPECT_EQ(node.state().applied(), applied);
}

TEST(PeerInput, FollowerRefusesALeaderThatRewritesACommittedEntryAndCountsIt) {
  NodeCluster cluster(3, {"r1"});
  cluster.StartAll();
  cluster.RunFor(Duration(4000));
  const std::optional<std::string> leader = cluster.Leader();
  ASSERT_TRUE(leader.has_value());
  const std::string follower = Follower(*leader);
  Node& node = cluster.node(follower);
  const raft::Raft& raft = node.raft();
  const raft::LogIndex commit = raft.commit_index();
  ASSERT_GE(commit.value(), raft.first_index().value() + 1);
  const raft::Term term(raft.term().value() + 1);
  const raft::Entry& before = raft.log()[(commit - 1 - raft.first_index().value()).value()];
  const std::string other = (*leader == "n3" || follower == "n3") ? "n1" : "n3";
  const std::string sender = other == follower ? *leader : other;

  node.Step(
      cluster.now,
      From(sender, follower, term,
           raft::AppendRequest{
               .prev_log_index = before.index,
               .prev_log_term = before.term,
               .entries = {raft::Entry{
                   .term = term, .index = commit, .kind = raft::EntryKind::kNoop, .command = {}}},
               .leader_commit = commit,
               .round = 1}));

  EXPECT_EQ(raft.protocol_violations(), 1u);
  EXPECT_EQ(raft.commit_index(), commit);
}

TEST(PeerInput, LeaderGivenAnAppendFromASecondLeaderInItsTermCountsItAndStaysLeader) {
  NodeCluster cluster(3, {"r1"});
  cluster.StartAll();
  cluster.RunFor(Duration(4000));
  const std::optional<std::string> leader = cluster.Leader();
  ASSERT_TRUE(leader.has_value());
  Node& node = cluster.node(*leader);
  const raft::Raft& raft = node.raft();

  node.Step(cluster.now, From(Follower(*leader), *leader, raft.term(),
                              raft::AppendRequest{.prev_log_index = raft::LogIndex(0),
                                                  .prev_log_term = raft::Term(0),
                                                  .entries = {},
                                                  .leader_commit = raft::LogIndex(0),
                                                  .round = 1}));

  EXPECT_EQ(raft.protocol_violations(), 1u);
  EXPECT_EQ(raft.role(), raft::Role::kLeader);
}

}  // namespace
}  // namespace cmcl::node
