// Framing and the shared read/write loop of a peer connection (link.h).
#include "cmcld/io/peer/link.h"

#include <algorithm>
#include <boost/asio/write.hpp>
#include <cstring>

namespace cmcl::io::peer_net {

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

namespace {

size_t ReadLength(const char* bytes) {
  const auto* b = reinterpret_cast<const unsigned char*>(bytes);  // NOLINT: bytes as octets.
  return (size_t{b[0]} << 24) | (size_t{b[1]} << 16) | (size_t{b[2]} << 8) | size_t{b[3]};
}

}  // namespace

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

}  // namespace cmcl::io::peer_net
