// The parts of PeerTransport (peer_transport.h) that both sides of a connection share:
// the framing of Packets on a socket (a 4-byte big-endian length, then the serialized
// peer.proto Packet), the transport's shared state, and Link, the read loop and the
// gathered writes of one connection. Internal to cmcld/io/peer; everything here runs on
// the transport's io_context (peer_transport.cc, "Threads").
#pragma once

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "cmcld/io/peer/auth.h"
#include "cmcld/io/peer/peer_transport.h"
#include "peer.pb.h"

namespace cmcl::io::peer_net {

namespace asio = ::boost::asio;
namespace pb = ::cmcl::peer;
namespace auth = ::cmcl::io::peer_auth;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using ErrorCode = boost::system::error_code;

inline constexpr size_t kLengthBytes = 4;
// A Frame's fields around its payload (seq, MAC, tags and lengths), with room to spare.
inline constexpr size_t kFrameOverheadBytes = 4096;
// Hello, Challenge, Proof, Refusal and keepalives are far smaller (names are at most 39
// bytes, nonces and MACs 32).
inline constexpr size_t kHandshakeBytesMax = 4096;
inline constexpr size_t kReadChunkBytes = 16U << 10;
// A write gathers queued frames up to this many bytes (always at least one frame).
inline constexpr size_t kWriteBatchBytesMax = 1U << 20;
// Connections accepted but not yet authenticated, over all listeners: more are closed at
// once, so a flood of silent clients holds at most this many sockets for node_timeout.
inline constexpr size_t kUnauthenticatedMax = 64;
// A message above this goes on the first up network only (Send).
inline constexpr size_t kEveryNetworkBytesMax = 64U << 10;
inline constexpr auto kRefusalLogInterval = std::chrono::seconds(10);
inline constexpr auto kAcceptRetry = std::chrono::milliseconds(100);
inline constexpr auto kConnectTimeoutMin = std::chrono::milliseconds(100);

// How often the server side of a connection sends a keepalive (link.cc says why).
Duration KeepaliveInterval(const PeerOptions& options);
// The timeout of one TCP connect attempt.
Duration ConnectTimeout(const PeerOptions& options);
int64_t NowNanos();  // steady_clock.
int64_t Millis(Clock::duration d);
// A name from the wire, printable in a log line whatever a hostile peer sent.
std::string Printable(const std::string& name);
// A refusal's reason from the wire: printable ASCII, at most 200 characters.
std::string PrintableReason(const std::string& text);

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

// A Packet with its length prefix, ready to write.
std::string EncodePacket(const pb::Packet& packet);

enum class Take : uint8_t { kNeedMore, kPacket, kTooLarge, kMalformed };
// The next whole packet of what was read, if there is one; kTooLarge is decided on the
// length alone, before anything is allocated.
Take TakePacket(Wire& wire, pb::Packet& packet);
// Where the next read goes (link.cc).
boost::asio::mutable_buffer ReadSpace(Wire& wire);

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
// async_write at a time (whatever was queued meanwhile goes in the next one).
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

}  // namespace cmcl::io::peer_net
