// PeerTransport: raft::Messages between cmcld nodes over TCP, authenticated with the
// cluster key (DESIGN.md sections 2, 3 and 9; STYLE.md rule 8, the weak transport
// contract: a message may be lost, duplicated or reordered, and the core copes).
//
// Networks. A node listens on each of its `addresses` (one acceptor per address) and
// keeps, per peer and per address of that peer, one outgoing connection — each address
// pair is a heartbeat network with its own up/down state. A message goes out on every up
// network (a large one, above 64 KiB, on the first up one only), or on every network when
// none is up; the receiver gets the duplicates (the weak contract). A network is up while
// its connection is authenticated and something arrived on it within node_timeout
// (keepalives make that continuous).
//
// Wire format (peer.proto): each direction of a connection is a sequence of Packets, each
// a 4-byte big-endian length then the serialized Packet. A length above what the phase
// allows (small before authentication; message_bytes_max plus a little after) closes the
// connection, counted as malformed, before anything is allocated for it.
//
// Authentication (DESIGN.md section 9), per connection:
//   client → Hello{cluster_id, from, to, nonce_c (32 random bytes)}
//   server → Challenge{nonce_s, mac_s = HMAC-SHA256(key, "cmcl-server" | cluster_id |
//            from | to | nonce_c | nonce_s)}, or Refusal{reason} and close
//   client → Proof{mac_c = HMAC-SHA256(key, "cmcl-client" | cluster_id | from | to |
//            nonce_c | nonce_s)}        (each side checks the other's MAC first)
//   session key = HMAC-SHA256(key, "cmcl-session" | nonce_c | nonce_s)
//   then frames {seq, payload, mac = HMAC-SHA256(session, direction | seq | payload)}
//   with seq strictly increasing per direction from 1: a frame with a bad MAC or a seq
//   not above the last accepted one is dropped and counted (a replay), and a connection
//   with a bad MAC is closed. A Hello for another cluster_id, from a name that is not a
//   configured peer, or addressed to another node is refused and counted, with one log
//   line per peer and reason at most every 10 s ("peer ivmcl03 belongs to another
//   cluster"). Messages that decode but whose Header does not match the connection's
//   authenticated sender (header.from), or carry another cluster_id, are dropped. An
//   accepted connection that has not authenticated within node_timeout is closed, and at
//   most 64 are authenticating at once (more are closed when accepted).
//
// Connections. A client connects with a timeout of max(heartbeat_interval, 100 ms) and
// tries again every heartbeat_interval after a failure or a close; an authenticated
// connection that heard nothing for node_timeout is closed and made again (a healed
// partition gets a fresh connection, not a TCP in retransmission backoff). A send never
// blocks: each connection has a bounded queue (`queue_max` messages; when full the oldest
// is dropped and counted — Raft retransmits), written by one gathered write at a time.
//
// Direction (peer_transport.cc): a node sends only on its own outgoing connections and
// receives only on its listeners; the server side of a connection sends the Challenge and
// then an authenticated keepalive frame every max(heartbeat_interval, node_timeout/4), the
// first at once, which is what "something arrived" means for the outgoing connection's
// network. A delivered message's header.from is the connection's authenticated peer
// (others are dropped and counted).
//
// Threads: none. Everything runs on the io_context given to Start (cmcld's io thread):
// sockets, timers, and on_message, called directly from the read that completed a
// message. Call Start, Send and the destructor on that thread. Networks and counters only
// read atomics (and a map fixed at Start), so another thread may call them too.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "cmcld/core/common/names.h"
#include "cmcld/core/common/status.h"
#include "cmcld/core/common/time.h"
#include "cmcld/core/common/units.h"
#include "cmcld/core/raft/messages.h"

namespace cmcl::io {

struct PeerOptions {
  raft::ClusterId cluster_id;
  NodeName self;
  std::vector<SocketAddress> listen;  // This node's addresses, primary first.
  // Every other voter and its addresses (primary first), from the configuration.
  std::map<NodeName, std::vector<SocketAddress>> peers;
  std::string key;  // The cluster key file's bytes (>= 32).
  Duration heartbeat_interval = std::chrono::milliseconds(200);
  Duration node_timeout = std::chrono::seconds(2);
  size_t queue_max = 1024;
  // The largest message sent or taken. A config apply puts its bundle in a log entry (up
  // to node::kBundleBytesMax, 3 MiB) and InstallSnapshot carries up to 8 MiB of state:
  // with room to spare, as an entry's bound may grow. An AppendRequest of many entries
  // above it is cut into several (SplitForWire).
  size_t message_bytes_max = 32U << 20;
};

struct PeerCounters {
  uint64_t sent = 0;
  uint64_t received = 0;
  uint64_t dropped_queue_full = 0;
  uint64_t dropped_bad_mac = 0;
  uint64_t dropped_replay = 0;
  uint64_t dropped_other_cluster = 0;
  uint64_t dropped_non_member = 0;
  uint64_t dropped_malformed = 0;
  uint64_t dropped_misaddressed = 0;  // Header.from not the authenticated peer, or to not us.
  uint64_t dropped_too_large = 0;     // Encoded above message_bytes_max; not sent.
  uint64_t split = 0;                 // AppendRequests cut in parts (SplitForWire).
  uint64_t auth_failures = 0;  // Handshakes refused (either side).
};

struct NetworkStatus {
  SocketAddress address;  // The peer's address of this network.
  bool up = false;
  Duration last_heard_age = Duration(0);  // Since anything arrived on it (if ever).
  bool heard = false;                     // Anything arrived on it (last_heard_age counts).
};

class PeerTransport {
 public:
  using ReceiveFn = std::function<void(raft::Message message)>;  // On the io thread.

  // Binds every listen address (an address in use: Unavailable "address 127.0.0.1:7101
  // is in use"), starts connecting to the peers. `on_message` gets every authenticated
  // message addressed to this node, on the io thread.
  static Result<std::unique_ptr<PeerTransport>> Start(boost::asio::io_context& io,
                                                      PeerOptions options, ReceiveFn on_message);
  // Closes the listeners and connections and returns at once, also with peers
  // unreachable; no callback runs after it returns (call it on the io thread).
  ~PeerTransport();

  // Queues `message` for message.header.to (which must be a configured peer).
  // REQUIRES: on the io thread.
  void Send(const raft::Message& message);
  // Per peer, one status per network (the peer's addresses, in configured order).
  std::map<NodeName, std::vector<NetworkStatus>> Networks() const;
  PeerCounters counters() const;

 private:
  PeerTransport() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The wire format of raft::Message (protobuf; DESIGN.md: "the wire format stays out of
// the core"). Decoding is total: malformed bytes give nullopt, never a crash.
std::string EncodePeerMessage(const raft::Message& message);
std::optional<raft::Message> DecodePeerMessage(const std::string& bytes);

// Send's cut of an AppendRequest whose encoding passes `bytes_max`: consecutive
// AppendRequests of the same entries (each with the prev_log_index/term of the entry
// before it, the same leader_commit and round), each of as many whole entries as fit —
// what a leader with a smaller batch would have sent, so the follower needs nothing
// new. Another message, or one with fewer than two entries: itself.
std::vector<raft::Message> SplitForWire(const raft::Message& message, size_t bytes_max);

}  // namespace cmcl::io
