// The server side of a peer connection (incoming.h).
#include "cmcld/io/peer/incoming.h"

#include <utility>

namespace cmcl::io::peer_net {

void Session::Start() {
  ErrorCode ignored;
  wire_->socket.set_option(tcp::no_delay(true), ignored);
  // A client that says nothing, or too little, must not hold a socket (and one of the
  // kUnauthenticatedMax places) longer than a peer that lost its network would.
  deadline_.expires_after(shared_->options.node_timeout);
  deadline_.async_wait([self = self()](const ErrorCode& error) {
    if (error || !self->shared_->alive || self->wire_->closed) return;
    if (self->phase_ == Phase::kAuthenticated) return;
    if (self->phase_ == Phase::kRefused) {
      self->Fail("refusal not read");  // Logged when refused.
      return;
    }
    self->shared_->refusals.Warn(
        self->remote_, "handshake-timeout",
        fmt::format("a connection from {} did not authenticate "
                    "within {} ms; closed",
                    self->remote_, self->shared_->options.node_timeout.count()));
    self->Fail("handshake timeout");
  });
  Read();
}

void Session::OnPacket(pb::Packet& packet) {
  switch (phase_) {
    case Phase::kHello:
      if (!packet.has_hello()) break;
      OnHello(packet.hello());
      return;
    case Phase::kProof:
      if (!packet.has_proof()) break;
      OnProof(packet.proof());
      return;
    case Phase::kAuthenticated:
      if (!packet.has_frame()) break;
      OnFrame(packet.frame());
      return;
    case Phase::kRefused:
      return;  // Closing once the Refusal is written.
  }
  ++shared_->counters.dropped_malformed;
  shared_->refusals.Warn(
      remote_, "unexpected-packet",
      fmt::format("a connection from {} broke the peer protocol; closed", remote_));
  Fail("unexpected packet");
}

// Why a Hello is refused (counted and logged here), or nullopt.
std::optional<std::string> Session::Refusal(const pb::Hello& hello) {
  const PeerOptions& options = shared_->options;
  std::string from = Printable(hello.from());
  if (hello.cluster_id() != options.cluster_id.value()) {
    ++shared_->counters.dropped_other_cluster;
    std::string line = fmt::format(
        "peer {} belongs to another cluster (cluster_id {}, "
        "ours {}); refused",
        from, hello.cluster_id(), options.cluster_id.value());
    shared_->refusals.Warn(from, "other-cluster", line);
    return line;
  }
  if (!IsValidName(hello.from()) || !options.peers.contains(NodeName(hello.from()))) {
    ++shared_->counters.dropped_non_member;
    std::string line =
        fmt::format("node {} is not a configured peer of {}; refused", from, options.self.value());
    shared_->refusals.Warn(from, "non-member", line);
    return line;
  }
  if (hello.to() != options.self.value() || hello.nonce().size() != auth::kNonceBytes) {
    std::string line = fmt::format("peer {} addressed node {} here at {}; refused", from,
                                   Printable(hello.to()), options.self.value());
    shared_->refusals.Warn(from, "misaddressed", line);
    return line;
  }
  return std::nullopt;
}

void Session::OnHello(const pb::Hello& hello) {
  const PeerOptions& options = shared_->options;
  if (std::optional<std::string> refusal = Refusal(hello)) {
    ++shared_->counters.auth_failures;
    pb::Packet packet;
    packet.mutable_refusal()->set_reason(*refusal);
    Queue(packet);
    phase_ = Phase::kRefused;  // AfterWrite closes; the handshake deadline bounds the wait.
    Write();
    return;
  }
  fields_ = auth::HandshakeFields{.cluster_id = hello.cluster_id(),
                                  .from = hello.from(),
                                  .to = hello.to(),
                                  .nonce_c = hello.nonce(),
                                  .nonce_s = auth::RandomBytes(auth::kNonceBytes)};
  pb::Packet challenge;
  challenge.mutable_challenge()->set_nonce(fields_.nonce_s);
  challenge.mutable_challenge()->set_mac(auth::ServerMac(options.key, fields_));
  Queue(challenge);
  phase_ = Phase::kProof;
  Write();
}

void Session::OnProof(const pb::Proof& proof) {
  const PeerOptions& options = shared_->options;
  if (!auth::MacEqual(proof.mac(), auth::ClientMac(options.key, fields_))) {
    ++shared_->counters.auth_failures;
    shared_->refusals.Warn(fields_.from, "client-mac",
                           fmt::format("peer {} failed authentication (another cluster key?); "
                                       "refused",
                                       fields_.from));
    Fail("client failed authentication");
    return;
  }
  std::string session = auth::SessionKey(options.key, fields_);
  signer_.emplace(session, auth::Direction::kServerToClient);
  verifier_.emplace(std::move(session), auth::Direction::kClientToServer);
  phase_ = Phase::kAuthenticated;
  peer_ = NodeName(fields_.from);
  wire_->packet_bytes_max = options.message_bytes_max + kFrameOverheadBytes;
  deadline_.cancel();
  std::shared_ptr<Session> me = self();
  shared_->handshaking.erase(me);
  std::shared_ptr<Session>& slot = shared_->sessions[{*peer_, listen_index_}];
  if (slot != nullptr) slot->Close();  // Its client connected again: that one is dead.
  slot = me;
  Keepalive();  // The first at once: the client's network comes up now.
}

void Session::OnFrame(const pb::Frame& frame) {
  auth::FrameVerdict verdict = verifier_->Verify(frame.seq(), frame.payload(), frame.mac());
  if (verdict == auth::FrameVerdict::kBadMac) {
    ++shared_->counters.dropped_bad_mac;
    shared_->refusals.Warn(peer_->value(), "bad-mac",
                           fmt::format("peer {} sent a frame with a bad MAC; closing the "
                                       "connection",
                                       peer_->value()));
    Fail("bad MAC");
    return;
  }
  if (verdict == auth::FrameVerdict::kReplay) {
    ++shared_->counters.dropped_replay;
    return;
  }
  if (!frame.payload().empty()) Deliver(frame.payload());
}

// Decodes one authenticated payload and delivers it unless its header disagrees with the
// connection: another cluster, another sender than the authenticated one, another
// receiver than this node.
void Session::Deliver(const std::string& payload) {
  const PeerOptions& options = shared_->options;
  const NodeName& peer = *peer_;
  std::optional<raft::Message> message = DecodePeerMessage(payload);
  if (!message) {
    ++shared_->counters.dropped_malformed;
    shared_->refusals.Warn(
        peer.value(), "malformed",
        fmt::format("peer {} sent a message that does not decode; dropped", peer.value()));
    return;
  }
  const raft::Header& header = message->header;
  if (header.cluster_id != options.cluster_id) {
    ++shared_->counters.dropped_other_cluster;
    shared_->refusals.Warn(peer.value(), "message-other-cluster",
                           fmt::format("peer {} belongs to another cluster (message cluster_id "
                                       "{}); dropped",
                                       peer.value(), header.cluster_id.value()));
    return;
  }
  if (header.from != peer || header.to != options.self) {
    ++shared_->counters.dropped_misaddressed;
    shared_->refusals.Warn(peer.value(), "message-misaddressed",
                           fmt::format("peer {} sent a message from {} to {}; dropped",
                                       peer.value(), header.from.value(), header.to.value()));
    return;
  }
  ++shared_->counters.received;
  shared_->on_message(std::move(*message));  // On the io thread already: no handoff.
}

void Session::Keepalive() {
  if (wire_->writing) return;  // Tick gives up a write that does not complete.
  auth::FrameSigner::Signed sig = signer_->Sign("");
  pb::Packet packet;
  packet.mutable_frame()->set_seq(sig.seq);
  packet.mutable_frame()->set_mac(std::move(sig.mac));
  Queue(packet);
  Write();
}

void Session::Tick(Clock::time_point now) {
  if (phase_ != Phase::kAuthenticated || wire_->closed) return;
  if (wire_->WriteStalled(now, shared_->options.node_timeout)) {
    shared_->refusals.Warn(peer_->value(), "keepalive-stalled",
                           fmt::format("peer {} does not read its keepalives; closing the "
                                       "connection",
                                       peer_->value()));
    Fail("stalled");
    return;
  }
  Keepalive();
}

void Session::Close() {
  deadline_.cancel();
  wire_->Close();
}

void Session::Fail(const std::string& /*why*/) {
  Close();
  std::shared_ptr<Session> me = self();
  shared_->handshaking.erase(me);
  if (peer_) {
    auto it = shared_->sessions.find({*peer_, listen_index_});
    if (it != shared_->sessions.end() && it->second == me) shared_->sessions.erase(it);
  }
}

Status Listener::Bind(const SocketAddress& address) {
  ErrorCode error;
  const asio::ip::address ip = asio::ip::make_address(address.host, error);
  if (error) return Status::InvalidArgument(fmt::format("{}: not an IP address", address.host));
  const tcp::endpoint endpoint(ip, address.port);
  acceptor_.open(endpoint.protocol(), error);
  // SO_REUSEADDR: a restarted daemon binds again despite its old connections in
  // TIME_WAIT; on Linux it still refuses a port another socket listens on.
  if (!error) acceptor_.set_option(tcp::acceptor::reuse_address(true), error);
  if (!error) acceptor_.bind(endpoint, error);
  if (error == asio::error::address_in_use) {
    return Status::Unavailable(fmt::format("address {} is in use", address.ToString()));
  }
  if (!error) acceptor_.listen(tcp::socket::max_listen_connections, error);
  if (error) {
    return Status::Unavailable(
        fmt::format("cannot listen on {}: {}", address.ToString(), error.message()));
  }
  return Status::Ok();
}

void Listener::Accept() {
  acceptor_.async_accept([self = shared_from_this()](const ErrorCode& error, tcp::socket socket) {
    Shared& shared = *self->shared_;
    if (!shared.alive || error == asio::error::operation_aborted) return;
    if (error) {
      // Out of descriptors, say: try again a little later rather than spin on it.
      shared.refusals.Warn("", "accept",
                           fmt::format("peer listener: accept failed: {}", error.message()));
      self->retry_.expires_after(kAcceptRetry);
      self->retry_.async_wait([self](const ErrorCode& cancelled) {
        if (!cancelled && self->shared_->alive) self->Accept();
      });
      return;
    }
    if (shared.handshaking.size() >= kUnauthenticatedMax) {
      shared.refusals.Warn("", "handshake-limit",
                           fmt::format("{} peer connections are authenticating at once; "
                                       "closing new ones",
                                       kUnauthenticatedMax));
      ErrorCode ignored;
      socket.close(ignored);
    } else {
      auto session = std::make_shared<Session>(self->shared_, std::move(socket), self->index_);
      shared.handshaking.insert(session);
      session->Start();
    }
    self->Accept();
  });
}

// Every KeepaliveInterval: the servers' keepalives and the clients' silence checks, in one

}  // namespace cmcl::io::peer_net
