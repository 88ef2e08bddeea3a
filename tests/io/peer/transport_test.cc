// PeerTransport on loopback: transports in this process, kernel-chosen free ports on
// 127.0.0.1 and 127.0.0.2, the io_context run on the test thread with bounded waits.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cmcld/io/peer/peer_transport.h"

namespace cmcl::io {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

const raft::ClusterId kCluster(0xC1);
const std::string kKey = "0123456789abcdef0123456789abcdef-cluster-key";

// A port nobody listens on right now: bind port 0, read the number, close.
uint16_t FreePort(const char* host) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  ::inet_pton(AF_INET, host, &addr.sin_addr);
  // NOLINTNEXTLINE: the sockets API takes sockaddr*.
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  // NOLINTNEXTLINE: the sockets API takes sockaddr*.
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

SocketAddress Address(const char* host) { return SocketAddress{.host = host, .port = FreePort(host)}; }

raft::Message Vote(const std::string& from, const std::string& to, uint64_t term) {
  return raft::Message{.header = {.cluster_id = kCluster,
                                  .from = NodeName(from),
                                  .to = NodeName(to),
                                  .term = raft::Term(term)},
                       .body = raft::VoteRequest{.last_log_index = raft::LogIndex(term)}};
}

// One node under test: its options, its transport, what it received.
struct TestNode {
  PeerOptions options;
  std::unique_ptr<PeerTransport> transport;
  std::vector<raft::Message> inbox;

  Status Start(boost::asio::io_context& io) {
    Result<std::unique_ptr<PeerTransport>> started = PeerTransport::Start(
        io, options, [this](raft::Message message) { inbox.push_back(std::move(message)); });
    if (!started.ok()) return started.status();
    transport = std::move(started.value());
    return Status::Ok();
  }
  bool NetworkUp(const std::string& peer, size_t index) const {
    return transport->Networks().at(NodeName(peer)).at(index).up;
  }
};

PeerOptions Options(const std::string& self, std::vector<SocketAddress> listen) {
  return PeerOptions{.cluster_id = kCluster,
                     .self = NodeName(self),
                     .listen = std::move(listen),
                     .peers = {},
                     .key = kKey,
                     .heartbeat_interval = 50ms,
                     .node_timeout = 500ms};
}

class PeerTransportTest : public ::testing::Test {
 protected:
  // Runs the io_context until `done` holds or 5 s pass; whether it held.
  bool PollUntil(const std::function<bool()>& done, std::chrono::milliseconds limit = 5s) {
    auto deadline = SteadyClock::now() + limit;
    while (!done()) {
      if (SteadyClock::now() > deadline) return false;
      io_.run_one_for(5ms);  // Back as soon as one handler ran.
    }
    return true;
  }
  // Runs the io_context for `duration` (to show that something does NOT happen).
  void RunFor(std::chrono::milliseconds duration) {
    auto deadline = SteadyClock::now() + duration;
    while (SteadyClock::now() < deadline) io_.run_for(5ms);
  }
  // a and b know each other at their listen addresses.
  static void Introduce(TestNode& a, TestNode& b) {
    a.options.peers[b.options.self] = b.options.listen;
    b.options.peers[a.options.self] = a.options.listen;
  }

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ =
      boost::asio::make_work_guard(io_);
};

TEST_F(PeerTransportTest, TwoNodesExchangeMessagesBothWays) {
  TestNode a{.options = Options("ivmcl01", {Address("127.0.0.1")})};
  TestNode b{.options = Options("ivmcl02", {Address("127.0.0.1")})};
  Introduce(a, b);
  ASSERT_TRUE(a.Start(io_).ok());
  ASSERT_TRUE(b.Start(io_).ok());

  for (uint64_t i = 1; i <= 10; ++i) {
    a.transport->Send(Vote("ivmcl01", "ivmcl02", i));
    b.transport->Send(Vote("ivmcl02", "ivmcl01", 100 + i));
  }

  ASSERT_TRUE(PollUntil([&] { return a.inbox.size() == 10 && b.inbox.size() == 10; }))
      << a.inbox.size() << " " << b.inbox.size();
  for (uint64_t i = 1; i <= 10; ++i) {  // One connection each way: order is kept.
    EXPECT_EQ(b.inbox[i - 1].header.term, raft::Term(i));
    EXPECT_EQ(b.inbox[i - 1].header.from, NodeName("ivmcl01"));
    EXPECT_EQ(a.inbox[i - 1].header.term, raft::Term(100 + i));
    EXPECT_EQ(std::get<raft::VoteRequest>(a.inbox[i - 1].body).last_log_index,
              raft::LogIndex(100 + i));
  }
  EXPECT_EQ(a.transport->counters().sent, 10U);
  EXPECT_EQ(b.transport->counters().received, 10U);
}

TEST_F(PeerTransportTest, ThreeNodesReachEachOther) {
  std::vector<TestNode> nodes(3);
  for (int i = 0; i < 3; ++i) {
    nodes[static_cast<size_t>(i)].options =
        Options("ivmcl0" + std::to_string(i + 1), {Address("127.0.0.1")});
  }
  Introduce(nodes[0], nodes[1]);
  Introduce(nodes[0], nodes[2]);
  Introduce(nodes[1], nodes[2]);
  for (TestNode& node : nodes) ASSERT_TRUE(node.Start(io_).ok());

  for (TestNode& from : nodes) {
    for (const auto& [peer, addresses] : from.options.peers) {
      from.transport->Send(Vote(from.options.self.value(), peer.value(), 1));
    }
  }

  EXPECT_TRUE(PollUntil([&] {
    return std::all_of(nodes.begin(), nodes.end(), [](auto& n) { return n.inbox.size() == 2; });
  }));
}

TEST_F(PeerTransportTest, BothNetworksOfTwoAddressesComeUp) {
  TestNode a{.options = Options("ivmcl01", {Address("127.0.0.1"), Address("127.0.0.2")})};
  TestNode b{.options = Options("ivmcl02", {Address("127.0.0.1"), Address("127.0.0.2")})};
  Introduce(a, b);
  ASSERT_TRUE(a.Start(io_).ok());
  ASSERT_TRUE(b.Start(io_).ok());

  EXPECT_TRUE(PollUntil([&] {
    return a.NetworkUp("ivmcl02", 0) && a.NetworkUp("ivmcl02", 1) &&
           b.NetworkUp("ivmcl01", 0) && b.NetworkUp("ivmcl01", 1);
  }));
  std::vector<NetworkStatus> networks = a.transport->Networks().at(NodeName("ivmcl02"));
  ASSERT_EQ(networks.size(), 2U);
  EXPECT_EQ(networks[0].address, b.options.listen[0]);
  EXPECT_EQ(networks[1].address, b.options.listen[1]);
  EXPECT_LT(networks[1].last_heard_age, 500ms);
}

TEST_F(PeerTransportTest, ANetworkNobodyListensOnIsDownWhileMessagesFlow) {
  TestNode a{.options = Options("ivmcl01", {Address("127.0.0.1")})};
  TestNode b{.options = Options("ivmcl02", {Address("127.0.0.1")})};
  Introduce(a, b);
  a.options.peers[NodeName("ivmcl02")].push_back(Address("127.0.0.3"));  // Nobody there.
  ASSERT_TRUE(a.Start(io_).ok());
  ASSERT_TRUE(b.Start(io_).ok());
  ASSERT_TRUE(PollUntil([&] { return a.NetworkUp("ivmcl02", 0); }));

  for (uint64_t i = 1; i <= 20; ++i) a.transport->Send(Vote("ivmcl01", "ivmcl02", i));

  EXPECT_TRUE(PollUntil([&] { return b.inbox.size() == 20; }));
  EXPECT_TRUE(a.NetworkUp("ivmcl02", 0));
  EXPECT_FALSE(a.NetworkUp("ivmcl02", 1));
}

TEST_F(PeerTransportTest, NetworksGoDownWhenThePeerStops) {
  TestNode a{.options = Options("ivmcl01", {Address("127.0.0.1"), Address("127.0.0.2")})};
  TestNode b{.options = Options("ivmcl02", {Address("127.0.0.1"), Address("127.0.0.2")})};
  Introduce(a, b);
  ASSERT_TRUE(a.Start(io_).ok());
  ASSERT_TRUE(b.Start(io_).ok());
  ASSERT_TRUE(PollUntil([&] { return a.NetworkUp("ivmcl02", 0) && a.NetworkUp("ivmcl02", 1); }));

  b.transport.reset();

  EXPECT_TRUE(PollUntil(
      [&] { return !a.NetworkUp("ivmcl02", 0) && !a.NetworkUp("ivmcl02", 1); }, 2s));
}

TEST_F(PeerTransportTest, AWrongKeyDeliversNothingAndCountsAuthFailures) {
  TestNode a{.options = Options("ivmcl01", {Address("127.0.0.1")})};
  TestNode b{.options = Options("ivmcl02", {Address("127.0.0.1")})};
  Introduce(a, b);
  b.options.key = std::string(40, 'w');
  ASSERT_TRUE(a.Start(io_).ok());
  ASSERT_TRUE(b.Start(io_).ok());

  for (uint64_t i = 1; i <= 5; ++i) {
    a.transport->Send(Vote("ivmcl01", "ivmcl02", i));
    b.transport->Send(Vote("ivmcl02", "ivmcl01", i));
  }

  ASSERT_TRUE(PollUntil([&] {
    return a.transport->counters().auth_failures > 0 && b.transport->counters().auth_failures > 0;
  }));
  RunFor(300ms);
  EXPECT_TRUE(a.inbox.empty());
  EXPECT_TRUE(b.inbox.empty());
  EXPECT_FALSE(a.NetworkUp("ivmcl02", 0));
  EXPECT_EQ(b.transport->counters().received, 0U);
}

TEST_F(PeerTransportTest, AnotherClusterIsRefusedAndCounted) {
  TestNode a{.options = Options("ivmcl01", {Address("127.0.0.1")})};
  TestNode b{.options = Options("ivmcl02", {Address("127.0.0.1")})};
  Introduce(a, b);
  b.options.cluster_id = raft::ClusterId(0xC2);
  ASSERT_TRUE(a.Start(io_).ok());
  ASSERT_TRUE(b.Start(io_).ok());

  b.transport->Send(Vote("ivmcl02", "ivmcl01", 1));

  ASSERT_TRUE(PollUntil([&] { return a.transport->counters().dropped_other_cluster > 0; }));
  RunFor(200ms);
  EXPECT_TRUE(a.inbox.empty());
  EXPECT_GT(a.transport->counters().auth_failures, 0U);
  EXPECT_GT(b.transport->counters().auth_failures, 0U);  // It heard why.
}

TEST_F(PeerTransportTest, ANodeThatIsNotAConfiguredPeerIsRefused) {
  TestNode a{.options = Options("ivmcl01", {Address("127.0.0.1")})};
  TestNode stranger{.options = Options("ivmcl09", {Address("127.0.0.1")})};
  stranger.options.peers[a.options.self] = a.options.listen;  // a does not know it.
  a.options.peers[NodeName("ivmcl02")] = {Address("127.0.0.1")};
  ASSERT_TRUE(a.Start(io_).ok());
  ASSERT_TRUE(stranger.Start(io_).ok());

  stranger.transport->Send(Vote("ivmcl09", "ivmcl01", 1));

  ASSERT_TRUE(PollUntil([&] { return a.transport->counters().dropped_non_member > 0; }));
  RunFor(200ms);
  EXPECT_TRUE(a.inbox.empty());
}

TEST_F(PeerTransportTest, MessagesWithAnotherSenderOrClusterInTheHeaderAreDropped) {
  TestNode a{.options = Options("ivmcl01", {Address("127.0.0.1")})};
  TestNode b{.options = Options("ivmcl02", {Address("127.0.0.1")})};
  Introduce(a, b);
  ASSERT_TRUE(a.Start(io_).ok());
  ASSERT_TRUE(b.Start(io_).ok());
  raft::Message forged = Vote("ivmcl03", "ivmcl02", 1);  // a speaks for ivmcl03.
  raft::Message foreign = Vote("ivmcl01", "ivmcl02", 2);
  foreign.header.cluster_id = raft::ClusterId(0xC2);

  a.transport->Send(forged);
  a.transport->Send(foreign);
  a.transport->Send(Vote("ivmcl01", "ivmcl02", 3));

  ASSERT_TRUE(PollUntil([&] { return b.inbox.size() == 1; }));
  EXPECT_EQ(b.inbox[0].header.term, raft::Term(3));
  EXPECT_EQ(b.transport->counters().dropped_misaddressed, 1U);
  EXPECT_EQ(b.transport->counters().dropped_other_cluster, 1U);
}

TEST_F(PeerTransportTest, AnAddressInUseIsRefusedAtStart) {
  TestNode a{.options = Options("ivmcl01", {Address("127.0.0.1")})};
  TestNode twin{.options = Options("ivmcl01", a.options.listen)};
  ASSERT_TRUE(a.Start(io_).ok());

  Status status = twin.Start(io_);

  EXPECT_EQ(status.code(), StatusCode::kUnavailable);
  EXPECT_NE(status.message().find("is in use"), std::string::npos) << status.message();
}

TEST_F(PeerTransportTest, APeerThatIsDownBlocksNeitherSendNorTheDestructor) {
  TestNode a{.options = Options("ivmcl01", {Address("127.0.0.1")})};
  a.options.peers[NodeName("ivmcl02")] = {Address("127.0.0.1"), Address("127.0.0.2")};
  a.options.queue_max = 100;
  ASSERT_TRUE(a.Start(io_).ok());
  RunFor(100ms);  // Connection attempts are under way.

  auto send_start = SteadyClock::now();
  for (uint64_t i = 1; i <= 1000; ++i) a.transport->Send(Vote("ivmcl01", "ivmcl02", i));
  auto send_time = SteadyClock::now() - send_start;
  auto stop_start = SteadyClock::now();
  a.transport.reset();
  auto stop_time = SteadyClock::now() - stop_start;

  EXPECT_LT(send_time, 200ms);
  EXPECT_LT(stop_time, 500ms);
}

TEST_F(PeerTransportTest, TheDestructorIsFastWhenAPeerAddressSwallowsPackets) {
  TestNode a{.options = Options("ivmcl01", {Address("127.0.0.1")})};
  // TEST-NET-1 (RFC 5737): a connect there hangs or fails, it never completes.
  a.options.peers[NodeName("ivmcl02")] = {SocketAddress{.host = "192.0.2.1", .port = 7101}};
  ASSERT_TRUE(a.Start(io_).ok());
  a.transport->Send(Vote("ivmcl01", "ivmcl02", 1));
  RunFor(100ms);

  auto stop_start = SteadyClock::now();
  a.transport.reset();

  EXPECT_LT(SteadyClock::now() - stop_start, 500ms);
}

TEST_F(PeerTransportTest, QueuedMessagesFlowSoonAfterALatePeerComesUp) {
  TestNode a{.options = Options("ivmcl01", {Address("127.0.0.1")})};
  TestNode b{.options = Options("ivmcl02", {Address("127.0.0.1")})};
  Introduce(a, b);
  a.options.queue_max = 10;
  ASSERT_TRUE(a.Start(io_).ok());
  for (uint64_t i = 1; i <= 30; ++i) a.transport->Send(Vote("ivmcl01", "ivmcl02", i));
  RunFor(1500ms);  // Several failed connects: gRPC's backoff would have grown by now.
  EXPECT_EQ(a.transport->counters().dropped_queue_full, 20U);

  auto up_at = SteadyClock::now();
  ASSERT_TRUE(b.Start(io_).ok());

  ASSERT_TRUE(PollUntil([&] { return b.inbox.size() == 10; }));
  auto delay = SteadyClock::now() - up_at;
  EXPECT_LT(delay, 1s);
  EXPECT_EQ(b.inbox.front().header.term, raft::Term(21));  // The oldest were dropped.
  std::printf("late peer: first messages after %lld ms\n",
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(delay).count()));
}

// Not a pass/fail bound: prints the median round trip (a→b, b answers b→a) on loopback.
TEST_F(PeerTransportTest, RoundTripLatencyOnLoopbackIsMeasured) {
  TestNode a{.options = Options("ivmcl01", {Address("127.0.0.1")})};
  TestNode b{.options = Options("ivmcl02", {Address("127.0.0.1")})};
  Introduce(a, b);
  ASSERT_TRUE(a.Start(io_).ok());
  ASSERT_TRUE(b.Start(io_).ok());
  ASSERT_TRUE(PollUntil([&] { return a.NetworkUp("ivmcl02", 0) && b.NetworkUp("ivmcl01", 0); }));
  std::vector<double> micros;

  for (uint64_t i = 1; i <= 1000; ++i) {
    auto start = SteadyClock::now();
    a.transport->Send(Vote("ivmcl01", "ivmcl02", i));
    ASSERT_TRUE(PollUntil([&] { return b.inbox.size() == i; }));
    b.transport->Send(Vote("ivmcl02", "ivmcl01", i));
    ASSERT_TRUE(PollUntil([&] { return a.inbox.size() == i; }));
    micros.push_back(
        std::chrono::duration<double, std::micro>(SteadyClock::now() - start).count());
  }

  std::sort(micros.begin(), micros.end());
  std::printf("round trip over loopback: median %.0f us, p99 %.0f us (1000 round trips)\n",
              micros[500], micros[990]);
  EXPECT_EQ(a.transport->counters().received, 1000U);
}

}  // namespace
}  // namespace cmcl::io
