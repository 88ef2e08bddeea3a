// The client side of a peer connection (outgoing.h).
#include "cmcld/io/peer/outgoing.h"

#include <algorithm>
#include <boost/asio/post.hpp>

namespace cmcl::io::peer_net {

void Outgoing::After(Duration delay, void (Outgoing::*action)()) {
  timer_.expires_after(delay);
  timer_.async_wait([self = self(), attempt = attempt_, action](const ErrorCode& error) {
    if (error || attempt != self->attempt_ || self->stopped_ || !self->shared_->alive) return;
    ((*self).*action)();
  });
}

void Outgoing::Connect() {
  if (stopped_) return;
  ++attempt_;
  wire_ = std::make_shared<Wire>(tcp::socket(shared_->io));
  phase_ = Phase::kConnecting;
  // The connect's deadline, then (OnConnected) the handshake's: both end the attempt.
  After(ConnectTimeout(shared_->options), &Outgoing::HandshakeTimedOut);
  wire_->socket.async_connect(endpoint_, [self = self(), wire = wire_](const ErrorCode& error) {
    if (wire->closed || !self->shared_->alive) return;
    if (error) {
      self->Fail("connect failed: " + error.message());
      return;
    }
    self->OnConnected();
  });
}

void Outgoing::HandshakeTimedOut() {
  Fail(phase_ == Phase::kConnecting ? "connect timed out" : "no handshake within node_timeout");
}

void Outgoing::OnConnected() {
  const PeerOptions& options = shared_->options;
  ErrorCode ignored;
  wire_->socket.set_option(tcp::no_delay(true), ignored);  // Heartbeats are latency.
  phase_ = Phase::kHandshake;
  After(options.node_timeout, &Outgoing::HandshakeTimedOut);
  fields_ = auth::HandshakeFields{.cluster_id = options.cluster_id.value(),
                                  .from = options.self.value(),
                                  .to = peer_.value(),
                                  .nonce_c = auth::RandomBytes(auth::kNonceBytes),
                                  .nonce_s = {}};
  pb::Packet hello;
  hello.mutable_hello()->set_cluster_id(fields_.cluster_id);
  hello.mutable_hello()->set_from(fields_.from);
  hello.mutable_hello()->set_to(fields_.to);
  hello.mutable_hello()->set_nonce(fields_.nonce_c);
  Queue(hello);
  Write();
  Read();
}

void Outgoing::OnPacket(pb::Packet& packet) {
  if (phase_ == Phase::kHandshake) {
    if (packet.has_refusal()) {
      ++shared_->counters.auth_failures;
      shared_->refusals.Warn(
          peer_.value(), "refused",
          fmt::format("peer {} at {} refused this node: {}", peer_.value(), address_.ToString(),
                      PrintableReason(packet.refusal().reason())));
      Fail("refused");
      return;
    }
    if (!packet.has_challenge()) {
      ++shared_->counters.dropped_malformed;
      Fail("expected a Challenge");
      return;
    }
    OnChallenge(packet.challenge());
    return;
  }
  // Authenticated: the server sends only keepalive frames.
  if (!packet.has_frame()) {
    ++shared_->counters.dropped_malformed;
    Fail("expected a Frame");
    return;
  }
  const pb::Frame& frame = packet.frame();
  auth::FrameVerdict verdict = verifier_->Verify(frame.seq(), frame.payload(), frame.mac());
  if (verdict == auth::FrameVerdict::kBadMac) {
    ++shared_->counters.dropped_bad_mac;
    shared_->refusals.Warn(peer_.value(), "bad-mac",
                           fmt::format("peer {} at {} sent a frame with a bad MAC; "
                                       "closing the connection",
                                       peer_.value(), address_.ToString()));
    Fail("bad MAC");
    return;
  }
  if (verdict == auth::FrameVerdict::kReplay) {
    ++shared_->counters.dropped_replay;
    return;
  }
  last_heard_ns_ = NowNanos();
}

void Outgoing::OnChallenge(const pb::Challenge& challenge) {
  const PeerOptions& options = shared_->options;
  fields_.nonce_s = challenge.nonce();
  if (fields_.nonce_s.size() != auth::kNonceBytes ||
      !auth::MacEqual(challenge.mac(), auth::ServerMac(options.key, fields_))) {
    ++shared_->counters.auth_failures;
    shared_->refusals.Warn(peer_.value(), "server-mac",
                           fmt::format("peer {} at {} failed authentication (another cluster "
                                       "key, or not {}); not connecting",
                                       peer_.value(), address_.ToString(), peer_.value()));
    Fail("server failed authentication");
    return;
  }
  pb::Packet proof;
  proof.mutable_proof()->set_mac(auth::ClientMac(options.key, fields_));
  Queue(proof);
  std::string session = auth::SessionKey(options.key, fields_);
  signer_.emplace(session, auth::Direction::kClientToServer);
  verifier_.emplace(std::move(session), auth::Direction::kServerToClient);
  phase_ = Phase::kAuthenticated;
  authenticated_at_ = Clock::now();
  authenticated_ = true;
  timer_.cancel();  // The handshake's deadline; Check watches for silence from now on.
  Write();          // The Proof, and the frames queued meanwhile behind it.
}

// Signs queued frames into the write about to start: the seq is taken at write time, so
// frames dropped from a full queue leave no gap the receiver could mistake.
void Outgoing::BeforeWrite() {
  if (phase_ != Phase::kAuthenticated) return;
  size_t batch_bytes = 0;
  frames_in_flight_ = 0;
  while (!queue_.empty() && (frames_in_flight_ == 0 || batch_bytes < kWriteBatchBytesMax)) {
    const std::string& payload = *queue_.front();
    auth::FrameSigner::Signed sig = signer_->Sign(payload);
    pb::Packet packet;
    packet.mutable_frame()->set_seq(sig.seq);
    packet.mutable_frame()->set_payload(payload);
    packet.mutable_frame()->set_mac(std::move(sig.mac));
    Queue(packet);
    batch_bytes += payload.size();
    ++frames_in_flight_;
    queue_.pop_front();
  }
}

void Outgoing::AfterWrite() {
  shared_->counters.sent += frames_in_flight_;
  frames_in_flight_ = 0;
}

void Outgoing::Enqueue(std::shared_ptr<const std::string> payload) {
  if (queue_.size() >= std::max<size_t>(1, shared_->options.queue_max)) {
    queue_.pop_front();
    ++shared_->counters.dropped_queue_full;
  }
  queue_.push_back(std::move(payload));
  if (phase_ != Phase::kAuthenticated || flush_posted_) return;
  // Every Send of one io handler (a batch of the core's actions) shares one write.
  flush_posted_ = true;
  asio::post(shared_->io, [self = self()] {
    self->flush_posted_ = false;
    if (self->shared_->alive && self->phase_ == Phase::kAuthenticated) self->Write();
  });
}

void Outgoing::Check(Clock::time_point now) {
  if (phase_ != Phase::kAuthenticated) return;
  const Duration node_timeout = shared_->options.node_timeout;
  Clock::time_point heard = authenticated_at_;
  if (int64_t ns = last_heard_ns_.load(); ns >= 0) {
    heard = std::max(heard, Clock::time_point(std::chrono::duration_cast<Clock::duration>(
                                std::chrono::nanoseconds(ns))));
  }
  if (now - heard >= node_timeout) {
    shared_->refusals.Warn(peer_.value(), "silent",
                           fmt::format("peer {} at {}: nothing heard for {} ms; reconnecting",
                                       peer_.value(), address_.ToString(), Millis(now - heard)));
    Fail("silent");
    return;
  }
  if (wire_->WriteStalled(now, node_timeout)) {
    shared_->refusals.Warn(peer_.value(), "stalled",
                           fmt::format("peer {} at {}: a write has not completed for {} ms; "
                                       "reconnecting",
                                       peer_.value(), address_.ToString(), node_timeout.count()));
    Fail("stalled");
  }
}

void Outgoing::Fail(const std::string& why) {
  if (wire_ != nullptr) wire_->Close();
  if (phase_ == Phase::kAuthenticated && why != "silent" && why != "stalled") {
    shared_->refusals.Warn(peer_.value(), "lost",
                           fmt::format("connection to peer {} at {} ended: {}", peer_.value(),
                                       address_.ToString(), why));
  }
  // Frames of the failed write are lost (Raft retransmits); the queue stays.
  frames_in_flight_ = 0;
  authenticated_ = false;
  signer_.reset();
  verifier_.reset();
  phase_ = Phase::kWaiting;
  ++attempt_;
  if (!stopped_) After(shared_->options.heartbeat_interval, &Outgoing::Connect);
}

void Outgoing::Stop() {
  stopped_ = true;
  ++attempt_;
  timer_.cancel();
  if (wire_ != nullptr) wire_->Close();
  authenticated_ = false;
}

NetworkStatus Outgoing::Network(int64_t now_ns) const {
  int64_t heard = last_heard_ns_.load();
  NetworkStatus status{.address = address_};
  if (heard < 0) return status;
  status.heard = true;
  status.last_heard_age =
      std::chrono::duration_cast<Duration>(std::chrono::nanoseconds(now_ns - heard));
  status.up = authenticated_.load() && status.last_heard_age < shared_->options.node_timeout;
  return status;
}

}  // namespace cmcl::io::peer_net
