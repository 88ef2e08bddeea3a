// Outgoing: the client side of one heartbeat network, one per (peer, peer address)
// (peer_transport.h, "Connections"). Internal to cmcld/io/peer; on the io thread.
#pragma once

#include <atomic>
#include <deque>
#include <optional>
#include <string>

#include "cmcld/io/peer/link.h"

namespace cmcl::io::peer_net {

// ---- Client side: one outgoing connection per (peer, peer address) ----

// Connects, authenticates and sends the queue's frames; after a failure or a close it
// connects again every heartbeat_interval. The queue outlives connections: what was sent
// while the peer was away goes out once it is back (the newest queue_max messages).
class Outgoing final : public Link {
 public:
  Outgoing(std::shared_ptr<Shared> shared, NodeName peer, SocketAddress address,
           tcp::endpoint endpoint)
      : Link(std::move(shared)),
        peer_(std::move(peer)),
        address_(std::move(address)),
        endpoint_(std::move(endpoint)),
        timer_(shared_->io) {}

  void Connect();
  void Stop();
  void Enqueue(std::shared_ptr<const std::string> payload);
  // On each transport tick: gives up a connection that heard nothing for node_timeout, or
  // whose write has not completed for as long.
  void Check(Clock::time_point now);
  NetworkStatus Network(int64_t now_ns) const;

 private:
  enum class Phase : uint8_t { kWaiting, kConnecting, kHandshake, kAuthenticated };

  void OnConnected();
  void OnPacket(pb::Packet& packet) override;
  void OnChallenge(const pb::Challenge& challenge);
  void Fail(const std::string& why) override;
  void BeforeWrite() override;
  void AfterWrite() override;
  // `action` runs after `delay` unless another attempt began (or Stop) meanwhile.
  void After(Duration delay, void (Outgoing::*action)());
  void HandshakeTimedOut();
  std::string Describe() const override {
    return fmt::format("peer {} at {}", peer_.value(), address_.ToString());
  }
  std::shared_ptr<Outgoing> self() {
    return std::static_pointer_cast<Outgoing>(shared_from_this());
  }

  const NodeName peer_;
  const SocketAddress address_;
  const tcp::endpoint endpoint_;
  asio::steady_timer timer_;  // The attempt's deadline, or the wait before the next one.
  uint64_t attempt_ = 0;      // Tells a stale timer or flush from the current attempt.
  Phase phase_ = Phase::kWaiting;
  bool stopped_ = false;
  bool flush_posted_ = false;
  auth::HandshakeFields fields_;
  std::optional<auth::FrameSigner> signer_;
  std::optional<auth::FrameVerifier> verifier_;
  Clock::time_point authenticated_at_;
  std::deque<std::shared_ptr<const std::string>> queue_;
  uint64_t frames_in_flight_ = 0;
  // Read by Networks(), which a caller on another thread may use.
  std::atomic<bool> authenticated_{false};
  std::atomic<int64_t> last_heard_ns_{-1};
};

}  // namespace cmcl::io::peer_net
