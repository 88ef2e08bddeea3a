// Helpers of the peer transport's io tests: free loopback ports, options with short
// timers, and bounded waits that run an io_context on the test thread.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "cmcld/io/peer/peer_transport.h"

namespace cmcl::io {

inline const raft::ClusterId kLoopbackCluster(0xC1);

// A port nobody listens on right now on `host`: bind port 0, read the number, close.
inline uint16_t FreePort(const char* host) {
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

inline SocketAddress LoopbackAddress(const char* host) {
  return SocketAddress{.host = host, .port = FreePort(host)};
}

// Heartbeats every 50 ms, a network is down after 500 ms of silence.
inline PeerOptions LoopbackOptions(const std::string& self, std::vector<SocketAddress> listen) {
  return PeerOptions{.cluster_id = kLoopbackCluster,
                     .self = NodeName(self),
                     .listen = std::move(listen),
                     .peers = {},
                     .key = "0123456789abcdef0123456789abcdef-cluster-key",
                     .heartbeat_interval = std::chrono::milliseconds(50),
                     .node_timeout = std::chrono::milliseconds(500)};
}

// A small message whose term tells it apart.
inline raft::Message LoopbackVote(const std::string& from, const std::string& to, uint64_t term) {
  return raft::Message{.header = {.cluster_id = kLoopbackCluster,
                                  .from = NodeName(from),
                                  .to = NodeName(to),
                                  .term = raft::Term(term)},
                       .body = raft::VoteRequest{.last_log_index = raft::LogIndex(term)}};
}

// Runs `io` (which must have work) until `done` holds or `limit` passes; whether it held.
inline bool PollIo(boost::asio::io_context& io, const std::function<bool()>& done,
                   std::chrono::milliseconds limit = std::chrono::seconds(5)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    io.run_one_for(std::chrono::milliseconds(5));  // Back as soon as one handler ran.
  }
  return true;
}

// Runs `io` for `duration`, to show that something does NOT happen meanwhile.
inline void RunIo(boost::asio::io_context& io, std::chrono::milliseconds duration) {
  auto deadline = std::chrono::steady_clock::now() + duration;
  while (std::chrono::steady_clock::now() < deadline) {
    io.run_one_for(std::chrono::milliseconds(5));
  }
}

}  // namespace cmcl::io
