// PeerTransport over gRPC's synchronous API (peer_transport.h).
//
// Direction. A node sends its messages only on its own outgoing connections (the client
// side of a stream) and receives only on its servers; the server side of a stream sends
// the Challenge and then a keepalive Frame every KeepaliveInterval (the first at once).
// So each message a→b rides a→b's connection, and each outgoing connection proves both
// directions of its network: it is up while authenticated and a keepalive (or anything)
// arrived on it within node_timeout.
//
// Threads. Each outgoing connection has one writer thread (handshake, then frames from
// its bounded queue) and, per stream, a reader thread for the keepalives. An incoming
// stream runs on a gRPC sync server thread and has a keepalive thread. Decoded messages
// are posted onto the io_context; a shared `alive` flag, cleared by the destructor on
// the io thread, keeps a posted message from reaching the callback after it returns.
//
// Stopping never waits on the network: every blocking gRPC call is ended by TryCancel
// on its context, and the servers shut down with a short deadline.
#include "cmcld/io/peer/peer_transport.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/post.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <utility>
#include <variant>

#include "cmcld/io/peer/auth.h"
#include "peer.grpc.pb.h"

namespace cmcl::io {
namespace {

namespace pb = ::cmcl::peer;
namespace auth = ::cmcl::io::peer_auth;
using Clock = std::chrono::steady_clock;
using ClientStream = grpc::ClientReaderWriter<pb::Packet, pb::Packet>;
using ServerStream = grpc::ServerReaderWriter<pb::Packet, pb::Packet>;

constexpr size_t kFrameOverheadBytes = 4096;
constexpr auto kRefusalLogInterval = std::chrono::seconds(10);
constexpr auto kShutdownGrace = std::chrono::milliseconds(100);

int Millis(Duration d) { return static_cast<int>(std::max<int64_t>(1, d.count())); }

// How often the server side of a stream proves the way back: node_timeout/4, so a
// network stays up through three lost keepalives, but never more often than heartbeats.
// Every heartbeat_interval (10 a second per node at 1 s / 100 ms, in both directions of
// every network) was most of an idle daemon's CPU (docs/BENCHMARKS.md, "Idle cost:
// the transport").
Duration KeepaliveInterval(const PeerOptions& options) {
  return std::max(options.heartbeat_interval, options.node_timeout / 4);
}

int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

// A name from the wire, printable in a log line whatever a hostile peer sent.
std::string Printable(const std::string& name) {
  return IsValidName(name) ? name : std::string("<invalid name>");
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

// One warning per (peer, reason) at most every kRefusalLogInterval.
class RefusalLog {
 public:
  void Warn(const std::string& peer, const std::string& reason, const std::string& line) {
    std::lock_guard lock(mu_);
    Clock::time_point now = Clock::now();
    if (last_.size() > 1000) last_.clear();  // Bounded under a flood of invented names.
    auto [it, inserted] = last_.try_emplace({peer, reason}, now);
    if (!inserted && now - it->second < kRefusalLogInterval) return;
    it->second = now;
    spdlog::warn("{}", line);
  }

 private:
  std::mutex mu_;
  std::map<std::pair<std::string, std::string>, Clock::time_point> last_;
};

// What every thread of one transport shares.
struct Delivery {
  std::atomic<bool> alive{true};
  PeerTransport::ReceiveFn fn;
};

struct Shared {
  PeerOptions options;
  boost::asio::io_context& io;
  std::shared_ptr<Delivery> delivery;
  AtomicCounters counters;
  RefusalLog refusals;
};

std::shared_ptr<grpc::Channel> MakeChannel(const PeerOptions& options,
                                           const SocketAddress& address) {
  grpc::ChannelArguments args;
  int heartbeat = Millis(options.heartbeat_interval);
  int timeout = Millis(options.node_timeout);
  // TOOLCHAIN.md: gRPC's default backoff (1 s, x1.6, up to 120 s) keeps healed links
  // down for minutes; the minimum is also the connect timeout.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, heartbeat);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, heartbeat);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, heartbeat);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, timeout);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, timeout);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // One connection per (peer, address), not shared with another transport's channel.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
  args.SetMaxSendMessageSize(static_cast<int>(options.message_bytes_max + kFrameOverheadBytes));
  return grpc::CreateCustomChannel(address.ToString(), grpc::InsecureChannelCredentials(), args);
}

// One outgoing connection to one address of one peer: a writer thread that connects,
// authenticates and sends the queue's frames, reconnecting every heartbeat_interval.
class Outgoing {
 public:
  Outgoing(Shared& shared, NodeName peer, SocketAddress address)
      : shared_(shared),
        peer_(std::move(peer)),
        address_(std::move(address)),
        stub_(pb::Peer::NewStub(MakeChannel(shared.options, address_))),
        thread_([this] { Run(); }) {}
  ~Outgoing() {
    Stop();
    thread_.join();
  }

  void Stop() {
    std::lock_guard lock(mu_);
    stop_ = true;
    if (context_ != nullptr) context_->TryCancel();
    cv_.notify_all();
  }

  void Enqueue(std::shared_ptr<const std::string> payload) {
    std::lock_guard lock(mu_);
    if (queue_.size() >= std::max<size_t>(1, shared_.options.queue_max)) {
      queue_.pop_front();
      ++shared_.counters.dropped_queue_full;
    }
    queue_.push_back(std::move(payload));
    // The writer waits only for an empty queue to fill: waking it per message would
    // make a burst of sends contend with it for mu_.
    if (queue_.size() == 1) cv_.notify_all();
  }

  NetworkStatus Network(int64_t now_ns) const {
    int64_t heard = last_heard_ns_.load();
    NetworkStatus status{.address = address_};
    if (heard < 0) return status;
    status.heard = true;
    status.last_heard_age =
        std::chrono::duration_cast<Duration>(std::chrono::nanoseconds(now_ns - heard));
    status.up = authenticated_.load() && status.last_heard_age < shared_.options.node_timeout;
    return status;
  }

 private:
  struct HandshakeFailure {
    bool cancel;  // We refused the server (or it broke the protocol): end the call.
  };

  void Run();
  void RunOneStream();
  std::variant<std::string, HandshakeFailure> Handshake(ClientStream& stream);
  void Pump(ClientStream& stream, const std::string& session);
  void ReadKeepalives(ClientStream& stream, const std::string& session);
  void NoteFinish(const grpc::Status& status, bool authenticated);

  Shared& shared_;
  const NodeName peer_;
  const SocketAddress address_;
  std::unique_ptr<pb::Peer::Stub> stub_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<const std::string>> queue_;
  bool stop_ = false;
  bool broken_ = false;                     // The current stream's reader ended.
  grpc::ClientContext* context_ = nullptr;  // The current stream's, for Stop().
  std::atomic<bool> authenticated_{false};
  std::atomic<int64_t> last_heard_ns_{-1};
  std::thread thread_;  // Last: starts after every other member is ready.
};

void Outgoing::Run() {
  while (true) {
    RunOneStream();
    authenticated_ = false;
    std::unique_lock lock(mu_);
    // gRPC's own backoff paces the TCP connects; this paces refused handshakes.
    cv_.wait_for(lock, shared_.options.heartbeat_interval, [this] { return stop_; });
    if (stop_) return;
  }
}

void Outgoing::RunOneStream() {
  grpc::ClientContext context;
  {
    std::lock_guard lock(mu_);
    if (stop_) return;
    context_ = &context;
    broken_ = false;
  }
  std::unique_ptr<ClientStream> stream = stub_->Stream(&context);
  std::variant<std::string, HandshakeFailure> handshake = Handshake(*stream);
  bool authenticated = std::holds_alternative<std::string>(handshake);
  if (authenticated) {
    const std::string& session = std::get<std::string>(handshake);
    authenticated_ = true;
    std::thread reader([&] { ReadKeepalives(*stream, session); });
    Pump(*stream, session);
    context.TryCancel();
    reader.join();
  } else if (std::get<HandshakeFailure>(handshake).cancel) {
    context.TryCancel();
  }
  grpc::Status status = stream->Finish();
  {
    std::lock_guard lock(mu_);
    context_ = nullptr;
  }
  NoteFinish(status, authenticated);
}

std::variant<std::string, Outgoing::HandshakeFailure> Outgoing::Handshake(ClientStream& stream) {
  const PeerOptions& options = shared_.options;
  auth::HandshakeFields fields{.cluster_id = options.cluster_id.value(),
                               .from = options.self.value(),
                               .to = peer_.value(),
                               .nonce_c = auth::RandomBytes(auth::kNonceBytes),
                               .nonce_s = {}};
  pb::Packet hello;
  hello.mutable_hello()->set_cluster_id(fields.cluster_id);
  hello.mutable_hello()->set_from(fields.from);
  hello.mutable_hello()->set_to(fields.to);
  hello.mutable_hello()->set_nonce(fields.nonce_c);
  if (!stream.Write(hello)) return HandshakeFailure{.cancel = false};
  pb::Packet challenge;
  if (!stream.Read(&challenge)) return HandshakeFailure{.cancel = false};
  fields.nonce_s = challenge.challenge().nonce();
  if (!challenge.has_challenge() || fields.nonce_s.size() != auth::kNonceBytes ||
      !auth::MacEqual(challenge.challenge().mac(), auth::ServerMac(options.key, fields))) {
    ++shared_.counters.auth_failures;
    shared_.refusals.Warn(peer_.value(), "server-mac",
                          fmt::format("peer {} at {} failed authentication (another cluster "
                                      "key, or not {}); not connecting",
                                      peer_.value(), address_.ToString(), peer_.value()));
    return HandshakeFailure{.cancel = true};
  }
  pb::Packet proof;
  proof.mutable_proof()->set_mac(auth::ClientMac(options.key, fields));
  if (!stream.Write(proof)) return HandshakeFailure{.cancel = false};
  return auth::SessionKey(options.key, fields);
}

// Sends queued frames until Stop, a failed write, the reader's end, or silence.
void Outgoing::Pump(ClientStream& stream, const std::string& session) {
  auth::FrameSigner signer(session, auth::Direction::kClientToServer);
  const Duration silence_max = shared_.options.node_timeout + shared_.options.heartbeat_interval;
  const Clock::time_point started = Clock::now();
  // The silence deadline: the last keepalive heard (or the start) plus silence_max.
  auto silence_end = [&] {
    Clock::time_point heard(std::chrono::duration_cast<Clock::duration>(
        std::chrono::nanoseconds(last_heard_ns_.load())));
    return std::max(started, heard) + silence_max;
  };
  while (true) {
    std::shared_ptr<const std::string> payload;
    {
      std::unique_lock lock(mu_);
      // Sleeps until there is work or the silence deadline, not every heartbeat: an idle
      // writer thread wakes only when the reader's keepalives have stopped.
      cv_.wait_until(lock, silence_end(), [this] { return stop_ || broken_ || !queue_.empty(); });
      if (stop_ || broken_) return;
      if (Clock::now() > silence_end()) {
        spdlog::warn("peer {} at {}: nothing heard for {} ms; reconnecting", peer_.value(),
                     address_.ToString(), silence_max.count());
        return;
      }
      if (queue_.empty()) continue;
      payload = std::move(queue_.front());
      queue_.pop_front();
    }
    auth::FrameSigner::Signed sig = signer.Sign(*payload);
    pb::Packet packet;
    packet.mutable_frame()->set_seq(sig.seq);
    packet.mutable_frame()->set_payload(*payload);
    packet.mutable_frame()->set_mac(std::move(sig.mac));
    if (!stream.Write(packet)) return;  // This message is lost; Raft retransmits.
    ++shared_.counters.sent;
  }
}

// The server's keepalives: each authenticated one refreshes the network's last_heard.
void Outgoing::ReadKeepalives(ClientStream& stream, const std::string& session) {
  auth::FrameVerifier verifier(session, auth::Direction::kServerToClient);
  pb::Packet packet;
  while (stream.Read(&packet)) {
    if (!packet.has_frame()) {
      ++shared_.counters.dropped_malformed;
      break;
    }
    const pb::Frame& frame = packet.frame();
    auth::FrameVerdict verdict = verifier.Verify(frame.seq(), frame.payload(), frame.mac());
    if (verdict == auth::FrameVerdict::kBadMac) {
      ++shared_.counters.dropped_bad_mac;
      shared_.refusals.Warn(peer_.value(), "bad-mac",
                            fmt::format("peer {} at {} sent a frame with a bad MAC; "
                                        "closing the connection",
                                        peer_.value(), address_.ToString()));
      break;
    }
    if (verdict == auth::FrameVerdict::kReplay) {
      ++shared_.counters.dropped_replay;
      continue;
    }
    last_heard_ns_ = NowNanos();
  }
  std::lock_guard lock(mu_);
  broken_ = true;
  cv_.notify_all();
}

void Outgoing::NoteFinish(const grpc::Status& status, bool authenticated) {
  if (status.error_code() == grpc::StatusCode::PERMISSION_DENIED) {
    ++shared_.counters.auth_failures;
    shared_.refusals.Warn(peer_.value(), "refused",
                          fmt::format("peer {} at {} refused this node: {}", peer_.value(),
                                      address_.ToString(), status.error_message()));
  } else if (authenticated && !status.ok() && status.error_code() != grpc::StatusCode::CANCELLED) {
    shared_.refusals.Warn(peer_.value(), "lost",
                          fmt::format("connection to peer {} at {} ended: {}", peer_.value(),
                                      address_.ToString(), status.error_message()));
  }
}

}  // namespace

namespace {

// The server side of every listen address: authenticates a stream, then receives its
// frames and posts their messages onto the io_context, sending keepalives meanwhile.
class Incoming {
 public:
  explicit Incoming(Shared& shared) : shared_(shared) {}

  grpc::Status Serve(grpc::ServerContext* context, ServerStream* stream);
  // Cancels every stream in progress and refuses new ones.
  void CancelAll() {
    std::lock_guard lock(mu_);
    stopping_ = true;
    for (grpc::ServerContext* context : contexts_) context->TryCancel();
  }

 private:
  std::optional<std::string> Refusal(const pb::Hello& hello);
  std::optional<std::string> Authenticate(ServerStream& stream, const pb::Hello& hello);
  void Receive(ServerStream& stream, const std::string& session, const NodeName& peer);
  void Deliver(const NodeName& peer, const std::string& payload);
  static void SendKeepalives(ServerStream& stream, const std::string& session, Duration interval,
                             std::mutex& mu, std::condition_variable& cv, const bool& done);

  Shared& shared_;
  std::mutex mu_;
  bool stopping_ = false;
  std::set<grpc::ServerContext*> contexts_;
};

// gRPC wants one service object per server; each forwards to the shared Incoming.
class PeerService final : public pb::Peer::Service {
 public:
  explicit PeerService(Incoming& incoming) : incoming_(incoming) {}
  grpc::Status Stream(grpc::ServerContext* context, ServerStream* stream) override {
    return incoming_.Serve(context, stream);
  }

 private:
  Incoming& incoming_;
};

grpc::Status Incoming::Serve(grpc::ServerContext* context, ServerStream* stream) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "shutting down");
    contexts_.insert(context);
  }
  struct Untrack {
    Incoming* self;
    grpc::ServerContext* context;
    ~Untrack() {
      std::lock_guard lock(self->mu_);
      self->contexts_.erase(context);
    }
  } untrack{this, context};

  pb::Packet hello;
  if (!stream->Read(&hello)) return grpc::Status::CANCELLED;
  if (!hello.has_hello()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "expected Hello");
  }
  if (std::optional<std::string> refusal = Refusal(hello.hello())) {
    ++shared_.counters.auth_failures;
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, *refusal);
  }
  std::optional<std::string> session = Authenticate(*stream, hello.hello());
  if (!session) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "authentication failed");
  }
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::thread keepalives(
      [&] { SendKeepalives(*stream, *session, KeepaliveInterval(shared_.options), mu, cv, done); });
  Receive(*stream, *session, NodeName(hello.hello().from()));
  {
    std::lock_guard lock(mu);
    done = true;
  }
  cv.notify_all();
  context->TryCancel();  // Ends a keepalive write blocked on a stalled peer.
  keepalives.join();
  return grpc::Status::OK;
}

// Why a Hello is refused (counted and logged here), or nullopt.
std::optional<std::string> Incoming::Refusal(const pb::Hello& hello) {
  const PeerOptions& options = shared_.options;
  std::string from = Printable(hello.from());
  if (hello.cluster_id() != options.cluster_id.value()) {
    ++shared_.counters.dropped_other_cluster;
    std::string line = fmt::format(
        "peer {} belongs to another cluster (cluster_id {}, "
        "ours {}); refused",
        from, hello.cluster_id(), options.cluster_id.value());
    shared_.refusals.Warn(from, "other-cluster", line);
    return line;
  }
  if (!IsValidName(hello.from()) || !options.peers.contains(NodeName(hello.from()))) {
    ++shared_.counters.dropped_non_member;
    std::string line =
        fmt::format("node {} is not a configured peer of {}; refused", from, options.self.value());
    shared_.refusals.Warn(from, "non-member", line);
    return line;
  }
  if (hello.to() != options.self.value() || hello.nonce().size() != auth::kNonceBytes) {
    std::string line = fmt::format("peer {} addressed node {} here at {}; refused", from,
                                   Printable(hello.to()), options.self.value());
    shared_.refusals.Warn(from, "misaddressed", line);
    return line;
  }
  return std::nullopt;
}

// Challenge, then the client's Proof; the session key, or nullopt (counted, logged).
std::optional<std::string> Incoming::Authenticate(ServerStream& stream, const pb::Hello& hello) {
  const PeerOptions& options = shared_.options;
  auth::HandshakeFields fields{.cluster_id = hello.cluster_id(),
                               .from = hello.from(),
                               .to = hello.to(),
                               .nonce_c = hello.nonce(),
                               .nonce_s = auth::RandomBytes(auth::kNonceBytes)};
  pb::Packet challenge;
  challenge.mutable_challenge()->set_nonce(fields.nonce_s);
  challenge.mutable_challenge()->set_mac(auth::ServerMac(options.key, fields));
  pb::Packet proof;
  if (!stream.Write(challenge) || !stream.Read(&proof)) return std::nullopt;
  if (!proof.has_proof() ||
      !auth::MacEqual(proof.proof().mac(), auth::ClientMac(options.key, fields))) {
    ++shared_.counters.auth_failures;
    shared_.refusals.Warn(hello.from(), "client-mac",
                          fmt::format("peer {} failed authentication (another cluster key?); "
                                      "refused",
                                      hello.from()));
    return std::nullopt;
  }
  return auth::SessionKey(options.key, fields);
}

// Frames until the stream ends or a bad MAC closes it; a replay is dropped, counted.
void Incoming::Receive(ServerStream& stream, const std::string& session, const NodeName& peer) {
  auth::FrameVerifier verifier(session, auth::Direction::kClientToServer);
  pb::Packet packet;
  while (stream.Read(&packet)) {
    if (!packet.has_frame()) {
      ++shared_.counters.dropped_malformed;
      continue;
    }
    const pb::Frame& frame = packet.frame();
    auth::FrameVerdict verdict = verifier.Verify(frame.seq(), frame.payload(), frame.mac());
    if (verdict == auth::FrameVerdict::kBadMac) {
      ++shared_.counters.dropped_bad_mac;
      shared_.refusals.Warn(peer.value(), "bad-mac",
                            fmt::format("peer {} sent a frame with a bad MAC; closing the "
                                        "connection",
                                        peer.value()));
      return;
    }
    if (verdict == auth::FrameVerdict::kReplay) {
      ++shared_.counters.dropped_replay;
      continue;
    }
    if (!frame.payload().empty()) Deliver(peer, frame.payload());
  }
}

// Decodes one authenticated payload and posts it unless its header disagrees with the
// connection: another cluster, another sender than the authenticated one, another
// receiver than this node.
void Incoming::Deliver(const NodeName& peer, const std::string& payload) {
  const PeerOptions& options = shared_.options;
  std::optional<raft::Message> message = DecodePeerMessage(payload);
  if (!message) {
    ++shared_.counters.dropped_malformed;
    shared_.refusals.Warn(
        peer.value(), "malformed",
        fmt::format("peer {} sent a message that does not decode; dropped", peer.value()));
    return;
  }
  const raft::Header& header = message->header;
  if (header.cluster_id != options.cluster_id) {
    ++shared_.counters.dropped_other_cluster;
    shared_.refusals.Warn(peer.value(), "message-other-cluster",
                          fmt::format("peer {} belongs to another cluster (message cluster_id "
                                      "{}); dropped",
                                      peer.value(), header.cluster_id.value()));
    return;
  }
  if (header.from != peer || header.to != options.self) {
    ++shared_.counters.dropped_misaddressed;
    shared_.refusals.Warn(peer.value(), "message-misaddressed",
                          fmt::format("peer {} sent a message from {} to {}; dropped", peer.value(),
                                      header.from.value(), header.to.value()));
    return;
  }
  ++shared_.counters.received;
  boost::asio::post(shared_.io, [delivery = shared_.delivery, m = std::move(*message)]() mutable {
    if (delivery->alive.load()) delivery->fn(std::move(m));
  });
}

// An authenticated empty frame every `interval`, the first at once, until `done`.
void Incoming::SendKeepalives(ServerStream& stream, const std::string& session, Duration interval,
                              std::mutex& mu, std::condition_variable& cv, const bool& done) {
  auth::FrameSigner signer(session, auth::Direction::kServerToClient);
  while (true) {
    auth::FrameSigner::Signed sig = signer.Sign("");
    pb::Packet packet;
    packet.mutable_frame()->set_seq(sig.seq);
    packet.mutable_frame()->set_mac(std::move(sig.mac));
    if (!stream.Write(packet)) return;
    std::unique_lock lock(mu);
    if (cv.wait_for(lock, interval, [&] { return done; })) return;
  }
}

}  // namespace

struct PeerTransport::Impl {
  explicit Impl(Shared* s) : shared(s), incoming(*s) {}
  std::unique_ptr<Shared> shared;
  Incoming incoming;
  std::vector<std::unique_ptr<PeerService>> services;
  std::vector<std::unique_ptr<grpc::Server>> servers;
  std::map<NodeName, std::vector<std::unique_ptr<Outgoing>>> outgoing;

  Status Listen(const SocketAddress& address);
};

Status PeerTransport::Impl::Listen(const SocketAddress& address) {
  const PeerOptions& options = shared->options;
  services.push_back(std::make_unique<PeerService>(incoming));
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(address.ToString(), grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(services.back().get());
  builder.SetMaxReceiveMessageSize(
      static_cast<int>(options.message_bytes_max + kFrameOverheadBytes));
  // gRPC binds with SO_REUSEPORT by default: a second daemon would share the port.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // Peers ping every node_timeout (keepalive); the default policy would refuse that.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             Millis(options.heartbeat_interval));
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, Millis(options.node_timeout));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, Millis(options.node_timeout));
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return Status::Unavailable(fmt::format("address {} is in use", address.ToString()));
  }
  servers.push_back(std::move(server));
  return Status::Ok();
}

Result<std::unique_ptr<PeerTransport>> PeerTransport::Start(boost::asio::io_context& io,
                                                            PeerOptions options,
                                                            ReceiveFn on_message) {
  if (options.key.size() < auth::kKeyBytesMin) {
    return Status::InvalidArgument(
        fmt::format("the cluster key has {} bytes; at least {} are needed", options.key.size(),
                    auth::kKeyBytesMin));
  }
  auto delivery = std::make_shared<Delivery>();
  delivery->fn = std::move(on_message);
  std::unique_ptr<PeerTransport> transport(new PeerTransport());
  transport->impl_ = std::make_unique<Impl>(new Shared{.options = std::move(options),
                                                       .io = io,
                                                       .delivery = std::move(delivery),
                                                       .counters = {},
                                                       .refusals = {}});
  Impl& impl = *transport->impl_;
  for (const SocketAddress& address : impl.shared->options.listen) {
    Status status = impl.Listen(address);
    if (!status.ok()) return status;
  }
  for (const auto& [peer, addresses] : impl.shared->options.peers) {
    std::vector<std::unique_ptr<Outgoing>>& connections = impl.outgoing[peer];
    for (const SocketAddress& address : addresses) {
      connections.push_back(std::make_unique<Outgoing>(*impl.shared, peer, address));
    }
  }
  return transport;
}

PeerTransport::~PeerTransport() {
  if (impl_ == nullptr) return;
  // Everything blocking is cancelled first, so the joins and waits below are short.
  for (auto& [peer, connections] : impl_->outgoing) {
    for (auto& connection : connections) connection->Stop();
  }
  impl_->incoming.CancelAll();
  auto deadline = std::chrono::system_clock::now() + kShutdownGrace;
  for (auto& server : impl_->servers) server->Shutdown(deadline);
  impl_->outgoing.clear();  // Joins the writer threads.
  for (auto& server : impl_->servers) server->Wait();
  impl_->servers.clear();
  // Messages already posted stay in the io_context's queue; they find this cleared.
  impl_->shared->delivery->alive = false;
}

void PeerTransport::Send(const raft::Message& message) {
  Shared& shared = *impl_->shared;
  auto it = impl_->outgoing.find(message.header.to);
  if (it == impl_->outgoing.end() || it->second.empty()) {
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
  constexpr size_t kEveryNetworkBytesMax = 64U << 10;
  int64_t now = NowNanos();
  bool queued = false;
  for (auto& connection : it->second) {
    if (connection->Network(now).up) {
      connection->Enqueue(payload);
      queued = true;
      if (payload->size() > kEveryNetworkBytesMax) return;
    }
  }
  if (queued) return;
  for (auto& connection : it->second) connection->Enqueue(payload);
}

std::map<NodeName, std::vector<NetworkStatus>> PeerTransport::Networks() const {
  std::map<NodeName, std::vector<NetworkStatus>> networks;
  int64_t now = NowNanos();
  for (const auto& [peer, connections] : impl_->outgoing) {
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
