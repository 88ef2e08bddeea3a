// PeerTransport over plain TCP with Boost.Asio, on the daemon's io thread
// (peer_transport.h).
//
// Wire format. Each direction of a connection is a sequence of peer.proto Packets, each
// preceded by its length as 4 bytes big-endian. A length above the bound of the reading
// side (kHandshakeBytesMax until the peer has authenticated, and always for what a server
// sends; message_bytes_max + kFrameOverheadBytes for a client's frames) closes the
// connection before anything is allocated for it: four bytes from a stranger must not
// reserve 4 GiB.
//
// Direction. A node sends its messages only on its own outgoing connections (the client
// side) and receives only on its listeners; the server side of a connection sends the
// Challenge and then a keepalive Frame every KeepaliveInterval (the first at once). So
// each message a→b rides a→b's connection, and each outgoing connection proves both
// directions of its network: it is up while authenticated and a keepalive (or anything)
// arrived on it within node_timeout. An outgoing connection that heard nothing for
// node_timeout is closed and connected again: after a partition heals, a fresh connection
// is up within a heartbeat or two, where the old TCP would sit in retransmission backoff.
//
// Threads. None of its own: every socket, timer and callback runs on the io_context given
// to Start, which cmcld runs on its single io thread. A raft message costs one write on
// the sender (several queued messages share one gathered write) and one read on the
// receiver, which calls on_message directly. gRPC's synchronous API cost 3-4 thread
// handoffs per message on each side and keepalive threads per stream, which was most of an
// idle daemon's CPU (docs/DESIGN_CHANGES.md, "The peer protocol leaves gRPC").
//
// Lifetime. Outgoing connections, incoming sessions and listeners are shared_ptr-owned, and
// every pending handler holds its object, so no handler touches freed memory. The
// destructor clears Shared::alive, closes every socket, cancels every timer and returns
// at once; the handlers still queued then run with operation_aborted or find `alive`
// cleared, and do nothing.
#include "cmcld/io/peer/peer_transport.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstring>
#include <deque>
#include <optional>
#include <set>
#include <string_view>
#include <utility>

#include "cmcld/io/peer/auth.h"
#include "peer.pb.h"

namespace cmcl::io {
namespace {

namespace asio = ::boost::asio;
namespace pb = ::cmcl::peer;
namespace auth = ::cmcl::io::peer_auth;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using ErrorCode = boost::system::error_code;

constexpr size_t kLengthBytes = 4;
// A Frame's fields around its payload (seq, MAC, tags and lengths), with room to spare.
constexpr size_t kFrameOverheadBytes = 4096;
// Hello, Challenge, Proof, Refusal and keepalives are far smaller (names are at most 63
// bytes, nonces and MACs 32).
constexpr size_t kHandshakeBytesMax = 4096;
constexpr size_t kReadChunkBytes = 16U << 10;
// A write gathers queued frames up to this many bytes (always at least one frame).
constexpr size_t kWriteBatchBytesMax = 1U << 20;
// Connections accepted but not yet authenticated, over all listeners: more are closed at
// once, so a flood of silent clients holds at most this many sockets for node_timeout.
constexpr size_t kUnauthenticatedMax = 64;
// A message above this goes on the first up network only (Send).
constexpr size_t kEveryNetworkBytesMax = 64U << 10;
constexpr auto kRefusalLogInterval = std::chrono::seconds(10);
constexpr auto kAcceptRetry = std::chrono::milliseconds(100);
constexpr auto kConnectTimeoutMin = std::chrono::milliseconds(100);

// How often the server side of a connection proves the way back: node_timeout/4, so a
// network stays up through three lost keepalives, but never more often than heartbeats.
// Every heartbeat_interval (10 a second per node at 1 s / 100 ms, in both directions of
// every network) was most of an idle daemon's CPU (docs/BENCHMARKS.md, "Idle cost:
// the transport").
Duration KeepaliveInterval(const PeerOptions& options) {
  return std::max(options.heartbeat_interval, options.node_timeout / 4);
}

// A TCP connect to a live LAN peer takes well under a millisecond; a dead one is retried
// every heartbeat_interval, so waiting longer than that for one attempt gains nothing.
Duration ConnectTimeout(const PeerOptions& options) {
  return std::max<Duration>(options.heartbeat_interval, kConnectTimeoutMin);
}

int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

int64_t Millis(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

// A name from the wire, printable in a log line whatever a hostile peer sent.
std::string Printable(const std::string& name) {
  return IsValidName(name) ? name : std::string("<invalid name>");
}

// A refusal's reason from the wire: printable ASCII, at most 200 characters.
std::string PrintableReason(const std::string& text) {
  std::string out = text.substr(0, 200);
  for (char& c : out) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  return out;
}

struct AtomicCounters {
  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> received{0};
  std::atomic<uint64_t> dropped_queue_full{0};
  std::atomic<uint64_t> dropped_bad_mac{0};
  std::atomic<uint64_t> dropped_replay{0};
  std::atomic<uint64_t> dropped_other_cluster{0};
  std::atomic<uint64_t> dropped_non_member{0};
  std::atomic<uint64_t> dropped_malformed{0};
  std::atomic<uint64_t> dropped_misaddressed{0};
  std::atomic<uint64_t> dropped_too_large{0};
  std::atomic<uint64_t> split{0};
  std::atomic<uint64_t> auth_failures{0};
};

// One warning per (peer, reason) at most every kRefusalLogInterval. On the io thread only.
class RefusalLog {
 public:
  void Warn(const std::string& peer, const std::string& reason, const std::string& line) {
    Clock::time_point now = Clock::now();
    if (last_.size() > 1000) last_.clear();  // Bounded under a flood of invented names.
    auto [it, inserted] = last_.try_emplace({peer, reason}, now);
    if (!inserted && now - it->second < kRefusalLogInterval) return;
    it->second = now;
    spdlog::warn("{}", line);
  }

 private:
  std::map<std::pair<std::string, std::string>, Clock::time_point> last_;
};

// ---- Length-prefixed Packets on one socket ----

// One TCP connection: its socket, what was read and not yet parsed, and the write queue.
// Shared between its owner and the owner's pending handlers; `closed` tells a handler that
// its connection was given up (a reconnect makes a new Wire).
struct Wire {
  explicit Wire(tcp::socket s) : socket(std::move(s)) {}
  tcp::socket socket;
  bool closed = false;
  size_t packet_bytes_max = kHandshakeBytesMax;  // Of what this side reads.

  std::vector<char> in = std::vector<char>(kReadChunkBytes);
  size_t in_begin = 0;  // Unparsed bytes are in[in_begin, in_end).
  size_t in_end = 0;

  std::vector<std::string> out_pending;         // Encoded packets waiting for the write in flight.
  std::vector<std::string> out_flight;          // The write in flight's packets and buffers:
  std::vector<asio::const_buffer> out_buffers;  // only one async_write at a time.
  bool writing = false;
  Clock::time_point write_started;

  void Close() {
    closed = true;
    ErrorCode ignored;
    socket.close(ignored);
  }
  bool WriteStalled(Clock::time_point now, Duration limit) const {
    return writing && now - write_started > limit;
  }
};

size_t ReadLength(const char* bytes) {
  const auto* b = reinterpret_cast<const unsigned char*>(bytes);  // NOLINT: bytes as octets.
  return (size_t{b[0]} << 24) | (size_t{b[1]} << 16) | (size_t{b[2]} << 8) | size_t{b[3]};
}

std::string EncodePacket(const pb::Packet& packet) {
  const size_t size = packet.ByteSizeLong();
  std::string bytes(kLengthBytes + size, '\0');
  bytes[0] = static_cast<char>((size >> 24) & 0xff);
  bytes[1] = static_cast<char>((size >> 16) & 0xff);
  bytes[2] = static_cast<char>((size >> 8) & 0xff);
  bytes[3] = static_cast<char>(size & 0xff);
  packet.SerializeToArray(bytes.data() + kLengthBytes, static_cast<int>(size));
  return bytes;
}

enum class Take : uint8_t { kNeedMore, kPacket, kTooLarge, kMalformed };

// The next whole packet of what was read, if there is one.
Take TakePacket(Wire& wire, pb::Packet& packet) {
  const size_t available = wire.in_end - wire.in_begin;
  if (available < kLengthBytes) return Take::kNeedMore;
  const size_t length = ReadLength(wire.in.data() + wire.in_begin);
  if (length > wire.packet_bytes_max) return Take::kTooLarge;  // Before any allocation.
  if (available < kLengthBytes + length) return Take::kNeedMore;
  const char* body = wire.in.data() + wire.in_begin + kLengthBytes;
  wire.in_begin += kLengthBytes + length;
  packet.Clear();
  return packet.ParseFromArray(body, static_cast<int>(length)) ? Take::kPacket : Take::kMalformed;
}

// Where the next read goes: the unparsed tail moved to the front, then room for the whole
// packet under way (its length already checked by TakePacket) or a chunk. A buffer grown
// for a big message shrinks back once it is consumed.
asio::mutable_buffer ReadSpace(Wire& wire) {
  if (wire.in_begin > 0) {
    std::memmove(wire.in.data(), wire.in.data() + wire.in_begin, wire.in_end - wire.in_begin);
    wire.in_end -= wire.in_begin;
    wire.in_begin = 0;
  }
  size_t want = kReadChunkBytes;
  if (wire.in_end >= kLengthBytes) {
    want = std::max(want, kLengthBytes + ReadLength(wire.in.data()));
  }
  if (wire.in.size() < want) {
    wire.in.resize(want);
  } else if (wire.in.size() > kReadChunkBytes && want == kReadChunkBytes) {
    wire.in.resize(kReadChunkBytes);
    wire.in.shrink_to_fit();
  }
  return asio::buffer(wire.in.data() + wire.in_end, wire.in.size() - wire.in_end);
}

// ---- What the transport's objects share ----

class Outgoing;
class Session;
class Listener;

struct Shared {
  Shared(asio::io_context& context, PeerOptions peer_options, PeerTransport::ReceiveFn fn)
      : io(context), options(std::move(peer_options)), on_message(std::move(fn)), tick(context) {}

  asio::io_context& io;
  const PeerOptions options;
  PeerTransport::ReceiveFn on_message;
  bool alive = true;  // Cleared by the destructor: no handler acts after it.
  AtomicCounters counters;
  RefusalLog refusals;

  // Fixed after Start (Send and Networks read it), emptied by the destructor.
  std::map<NodeName, std::vector<std::shared_ptr<Outgoing>>> outgoing;
  std::vector<std::shared_ptr<Listener>> listeners;
  std::set<std::shared_ptr<Session>> handshaking;  // At most kUnauthenticatedMax.
  // Per (peer, listen address index): its authenticated session. A newer one replaces
  // the older, which a vanished client may have left behind.
  std::map<std::pair<NodeName, size_t>, std::shared_ptr<Session>> sessions;
  asio::steady_timer tick;  // Every KeepaliveInterval: keepalives, silence checks.
};

// The reading and writing common to both sides of a connection: reads until the Wire is
// closed and hands each packet to OnPacket; writes what is queued, one gathered
// async_write at a time.
class Link : public std::enable_shared_from_this<Link> {
 public:
  explicit Link(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}
  virtual ~Link() = default;
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

 protected:
  virtual void OnPacket(pb::Packet& packet) = 0;
  // The connection broke (read or write error, malformed input): close and clean up.
  virtual void Fail(const std::string& why) = 0;
  virtual void BeforeWrite() {}              // Last chance to add packets to wire_->out_pending.
  virtual void AfterWrite() {}               // The write in flight completed.
  virtual std::string Describe() const = 0;  // Who is at the other end, for log lines.

  void Read();
  void Write();
  void Queue(const pb::Packet& packet) { wire_->out_pending.push_back(EncodePacket(packet)); }

  std::shared_ptr<Shared> shared_;
  std::shared_ptr<Wire> wire_;
};

void Link::Read() {
  std::shared_ptr<Wire> wire = wire_;
  wire->socket.async_read_some(ReadSpace(*wire), [self = shared_from_this(), wire](
                                                     const ErrorCode& error, size_t bytes) {
    if (wire->closed || !self->shared_->alive) return;
    if (error) {
      self->Fail(error == asio::error::eof ? std::string("closed by the peer") : error.message());
      return;
    }
    wire->in_end += bytes;
    pb::Packet packet;
    while (true) {
      Take take = TakePacket(*wire, packet);
      if (take == Take::kNeedMore) break;
      if (take != Take::kPacket) {
        ++self->shared_->counters.dropped_malformed;
        const std::string why = take == Take::kTooLarge ? "a packet longer than the bound"
                                                        : "a packet that does not parse";
        const std::string who = self->Describe();
        self->shared_->refusals.Warn(who, "malformed-packet",
                                     fmt::format("{} sent {}; closing the connection", who, why));
        self->Fail(why);
        return;
      }
      self->OnPacket(packet);
      // OnPacket may have closed the connection, or on_message the transport.
      if (wire->closed || !self->shared_->alive) return;
    }
    self->Read();
  });
}

void Link::Write() {
  if (wire_ == nullptr || wire_->closed || wire_->writing) return;
  BeforeWrite();
  Wire& wire = *wire_;
  if (wire.out_pending.empty()) return;
  wire.out_flight.swap(wire.out_pending);
  wire.out_buffers.clear();
  for (const std::string& bytes : wire.out_flight) wire.out_buffers.push_back(asio::buffer(bytes));
  wire.writing = true;
  wire.write_started = Clock::now();
  asio::async_write(wire.socket, wire.out_buffers,
                    [self = shared_from_this(), wire = wire_](const ErrorCode& error, size_t) {
                      if (wire->closed || !self->shared_->alive) return;
                      if (error) {
                        self->Fail("write failed: " + error.message());
                        return;
                      }
                      wire->writing = false;
                      wire->out_flight.clear();
                      wire->out_buffers.clear();
                      self->AfterWrite();
                      self->Write();
                    });
}

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
// wakeup for the whole transport.
void ArmTick(const std::shared_ptr<Shared>& shared) {
  shared->tick.expires_after(KeepaliveInterval(shared->options));
  shared->tick.async_wait([shared](const ErrorCode& error) {
    if (error || !shared->alive) return;
    const Clock::time_point now = Clock::now();
    // Copies: a failing session leaves `sessions`, a failing connection stays listed.
    std::vector<std::shared_ptr<Session>> sessions;
    for (const auto& [key, session] : shared->sessions) sessions.push_back(session);
    for (const std::shared_ptr<Session>& session : sessions) session->Tick(now);
    for (const auto& [peer, connections] : shared->outgoing) {
      for (const std::shared_ptr<Outgoing>& connection : connections) connection->Check(now);
    }
    ArmTick(shared);
  });
}

}  // namespace

struct PeerTransport::Impl {
  std::shared_ptr<Shared> shared;
};

Result<std::unique_ptr<PeerTransport>> PeerTransport::Start(boost::asio::io_context& io,
                                                            PeerOptions options,
                                                            ReceiveFn on_message) {
  if (options.key.size() < auth::kKeyBytesMin) {
    return Status::InvalidArgument(
        fmt::format("the cluster key has {} bytes; at least {} are needed", options.key.size(),
                    auth::kKeyBytesMin));
  }
  // Peers' addresses first: an invalid one refuses the start before anything listens.
  std::map<NodeName, std::vector<tcp::endpoint>> endpoints;
  for (const auto& [peer, addresses] : options.peers) {
    for (const SocketAddress& address : addresses) {
      ErrorCode error;
      const asio::ip::address ip = asio::ip::make_address(address.host, error);
      if (error) {
        return Status::InvalidArgument(
            fmt::format("peer {}: {} is not an IP address", peer.value(), address.host));
      }
      endpoints[peer].emplace_back(ip, address.port);
    }
  }
  std::unique_ptr<PeerTransport> transport(new PeerTransport());
  transport->impl_ = std::make_unique<Impl>();
  auto shared = std::make_shared<Shared>(io, std::move(options), std::move(on_message));
  transport->impl_->shared = shared;
  for (size_t i = 0; i < shared->options.listen.size(); ++i) {
    auto listener = std::make_shared<Listener>(shared, i);
    shared->listeners.push_back(listener);  // So the destructor closes it, also on failure.
    Status status = listener->Bind(shared->options.listen[i]);
    if (!status.ok()) return status;
  }
  for (const std::shared_ptr<Listener>& listener : shared->listeners) listener->Accept();
  for (const auto& [peer, addresses] : shared->options.peers) {
    std::vector<std::shared_ptr<Outgoing>>& connections = shared->outgoing[peer];
    for (size_t i = 0; i < addresses.size(); ++i) {
      connections.push_back(
          std::make_shared<Outgoing>(shared, peer, addresses[i], endpoints[peer][i]));
      connections.back()->Connect();
    }
  }
  ArmTick(shared);
  return transport;
}

PeerTransport::~PeerTransport() {
  if (impl_ == nullptr) return;
  Shared& shared = *impl_->shared;
  // Nothing here waits: sockets close and timers cancel at once, and the handlers that
  // still run (with operation_aborted) find `alive` cleared. Emptying the containers
  // breaks the Shared <-> object cycles, so the last handler frees everything.
  shared.alive = false;
  shared.tick.cancel();
  for (const std::shared_ptr<Listener>& listener : shared.listeners) listener->Close();
  for (const auto& [peer, connections] : shared.outgoing) {
    for (const std::shared_ptr<Outgoing>& connection : connections) connection->Stop();
  }
  for (const std::shared_ptr<Session>& session : shared.handshaking) session->Close();
  for (const auto& [key, session] : shared.sessions) session->Close();
  shared.listeners.clear();
  shared.outgoing.clear();
  shared.handshaking.clear();
  shared.sessions.clear();
}

void PeerTransport::Send(const raft::Message& message) {
  Shared& shared = *impl_->shared;
  auto it = shared.outgoing.find(message.header.to);
  if (it == shared.outgoing.end() || it->second.empty()) {
    shared.refusals.Warn(message.header.to.value(), "send-unknown",
                         fmt::format("no address for node {}: {} not sent",
                                     message.header.to.value(), raft::MessageTypeName(message)));
    return;
  }
  auto payload = std::make_shared<const std::string>(EncodePeerMessage(message));
  if (payload->size() > shared.options.message_bytes_max) {
    // Several entries of up to 8 MiB each (config apply bundles): send them in parts.
    std::vector<raft::Message> parts = SplitForWire(message, shared.options.message_bytes_max);
    if (parts.size() > 1) {
      ++shared.counters.split;
      for (const raft::Message& part : parts) Send(part);
      return;
    }
    ++shared.counters.dropped_too_large;
    shared.refusals.Warn(message.header.to.value(), "send-too-large",
                         fmt::format("{} for {} has {} bytes, more than {}; not sent",
                                     raft::MessageTypeName(message), message.header.to.value(),
                                     payload->size(), shared.options.message_bytes_max));
    return;
  }
  // Every up network gets the message, as Serviceguard sends heartbeats on every
  // heartbeat network: a network that just died looks up for up to node_timeout, and
  // sending only on the first up one lost everything for that long, past the fence point
  // (tests/integration/partition_test.cc, a lost primary fenced its node). The core copes
  // with the duplicates. A large message (bundle, snapshot) goes on the first up network
  // only: no lease depends on it, and Raft sends it again if that network was dead.
  int64_t now = NowNanos();
  bool queued = false;
  for (const std::shared_ptr<Outgoing>& connection : it->second) {
    if (connection->Network(now).up) {
      connection->Enqueue(payload);
      queued = true;
      if (payload->size() > kEveryNetworkBytesMax) return;
    }
  }
  if (queued) return;
  for (const std::shared_ptr<Outgoing>& connection : it->second) connection->Enqueue(payload);
}

std::map<NodeName, std::vector<NetworkStatus>> PeerTransport::Networks() const {
  std::map<NodeName, std::vector<NetworkStatus>> networks;
  int64_t now = NowNanos();
  for (const auto& [peer, connections] : impl_->shared->outgoing) {
    std::vector<NetworkStatus>& statuses = networks[peer];
    for (const auto& connection : connections) statuses.push_back(connection->Network(now));
  }
  return networks;
}

PeerCounters PeerTransport::counters() const {
  const AtomicCounters& c = impl_->shared->counters;
  return PeerCounters{.sent = c.sent,
                      .received = c.received,
                      .dropped_queue_full = c.dropped_queue_full,
                      .dropped_bad_mac = c.dropped_bad_mac,
                      .dropped_replay = c.dropped_replay,
                      .dropped_other_cluster = c.dropped_other_cluster,
                      .dropped_non_member = c.dropped_non_member,
                      .dropped_malformed = c.dropped_malformed,
                      .dropped_misaddressed = c.dropped_misaddressed,
                      .dropped_too_large = c.dropped_too_large,
                      .split = c.split,
                      .auth_failures = c.auth_failures};
}

}  // namespace cmcl::io
