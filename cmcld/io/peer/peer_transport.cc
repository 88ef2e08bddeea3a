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
//
// Files: link.h (framing, shared state, the read/write loop), outgoing.h (client side),
// incoming.h (server side); this file wires them together and holds the public API.
#include "cmcld/io/peer/peer_transport.h"

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <utility>

#include "cmcld/io/peer/incoming.h"
#include "cmcld/io/peer/link.h"
#include "cmcld/io/peer/outgoing.h"

namespace cmcl::io {

// This file is the public face of peer_net, the transport's internals.
using namespace ::cmcl::io::peer_net;  // NOLINT(google-build-using-namespace)

namespace {

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
