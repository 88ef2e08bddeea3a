// The server side of the peer protocol: Session, one per accepted connection, and
// Listener, one per listen address (peer_transport.h, "Authentication"). Internal to
// cmcld/io/peer; on the io thread.
#pragma once

#include <optional>
#include <string>

#include "cmcld/io/peer/link.h"

namespace cmcl::io::peer_net {

// ---- Server side: one session per accepted connection ----

// Authenticates the client within node_timeout, then delivers its frames' messages and
// sends it keepalives (on the transport's tick).
class Session final : public Link {
 public:
  Session(std::shared_ptr<Shared> shared, tcp::socket socket, size_t listen_index)
      : Link(std::move(shared)), listen_index_(listen_index), deadline_(shared_->io) {
    wire_ = std::make_shared<Wire>(std::move(socket));
    ErrorCode error;
    tcp::endpoint remote = wire_->socket.remote_endpoint(error);
    remote_ = error ? std::string("?") : remote.address().to_string();
  }

  void Start();
  void Close();  // Without a word, as the destructor does.
  // On each transport tick: a keepalive, unless the last write is still under way (a
  // client that stopped reading is given up after node_timeout).
  void Tick(Clock::time_point now);

 private:
  enum class Phase : uint8_t { kHello, kProof, kAuthenticated, kRefused };

  void OnPacket(pb::Packet& packet) override;
  void OnHello(const pb::Hello& hello);
  void OnProof(const pb::Proof& proof);
  void OnFrame(const pb::Frame& frame);
  void Deliver(const std::string& payload);
  std::optional<std::string> Refusal(const pb::Hello& hello);
  void Keepalive();
  void Fail(const std::string& why) override;
  void AfterWrite() override {
    if (phase_ == Phase::kRefused) Fail("refused");  // The Refusal is out: now close.
  }
  std::string Describe() const override {
    return peer_ ? "peer " + peer_->value() : "a connection from " + remote_;
  }
  std::shared_ptr<Session> self() { return std::static_pointer_cast<Session>(shared_from_this()); }

  const size_t listen_index_;
  asio::steady_timer deadline_;  // For the handshake.
  std::string remote_;           // The client's IP address, for log lines.
  Phase phase_ = Phase::kHello;
  std::optional<NodeName> peer_;  // Once authenticated.
  auth::HandshakeFields fields_;
  std::optional<auth::FrameSigner> signer_;
  std::optional<auth::FrameVerifier> verifier_;
};

// ---- Listeners ----

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(std::shared_ptr<Shared> shared, size_t index)
      : shared_(std::move(shared)), index_(index), acceptor_(shared_->io), retry_(shared_->io) {}

  Status Bind(const SocketAddress& address);
  void Accept();
  void Close() {
    ErrorCode ignored;
    acceptor_.close(ignored);
    retry_.cancel();
  }

 private:
  std::shared_ptr<Shared> shared_;
  const size_t index_;  // Into options.listen.
  tcp::acceptor acceptor_;
  asio::steady_timer retry_;  // Accept again after an error.
};

}  // namespace cmcl::io::peer_net
