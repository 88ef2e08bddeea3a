// A hand-written client speaking the peer protocol to a real PeerTransport: replayed
// frames and flipped bits on an authenticated connection are dropped and counted, and
// a bad MAC closes the connection (peer_transport.h, DESIGN.md section 9).
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "cmcld/io/peer/auth.h"
#include "cmcld/io/peer/peer_transport.h"
#include "peer.grpc.pb.h"
#include "tests/io/peer/loopback.h"

namespace cmcl::io {
namespace {

using namespace std::chrono_literals;
namespace auth = peer_auth;
namespace pb = ::cmcl::peer;

// Client side of one authenticated stream, with full control over the frames it sends.
class RawClient {
 public:
  RawClient(const SocketAddress& server, const PeerOptions& as)
      : stub_(pb::Peer::NewStub(
            grpc::CreateChannel(server.ToString(), grpc::InsecureChannelCredentials()))),
        stream_(stub_->Stream(&context_)) {
    auth::HandshakeFields fields{.cluster_id = as.cluster_id.value(),
                                 .from = as.self.value(),
                                 .to = as.peers.begin()->first.value(),
                                 .nonce_c = auth::RandomBytes(auth::kNonceBytes),
                                 .nonce_s = {}};
    pb::Packet packet;
    packet.mutable_hello()->set_cluster_id(fields.cluster_id);
    packet.mutable_hello()->set_from(fields.from);
    packet.mutable_hello()->set_to(fields.to);
    packet.mutable_hello()->set_nonce(fields.nonce_c);
    ok_ = stream_->Write(packet) && stream_->Read(&packet) && packet.has_challenge();
    if (!ok_) return;
    fields.nonce_s = packet.challenge().nonce();
    ok_ = auth::MacEqual(packet.challenge().mac(), auth::ServerMac(as.key, fields));
    packet.mutable_proof()->set_mac(auth::ClientMac(as.key, fields));
    ok_ = ok_ && stream_->Write(packet);
    session_ = auth::SessionKey(as.key, fields);
  }
  ~RawClient() {
    context_.TryCancel();
    (void)stream_->Finish();
  }

  bool authenticated() const { return ok_; }
  // Writes one frame; `corrupt` flips a bit of its MAC.
  bool SendFrame(uint64_t seq, const std::string& payload, bool corrupt = false) {
    std::string mac = auth::FrameMac(session_, auth::Direction::kClientToServer, seq, payload);
    if (corrupt) mac[0] = static_cast<char>(mac[0] ^ 0x01);
    pb::Packet packet;
    packet.mutable_frame()->set_seq(seq);
    packet.mutable_frame()->set_payload(payload);
    packet.mutable_frame()->set_mac(mac);
    return stream_->Write(packet);
  }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<pb::Peer::Stub> stub_;
  std::unique_ptr<grpc::ClientReaderWriter<pb::Packet, pb::Packet>> stream_;
  bool ok_ = false;
  std::string session_;
};

TEST(PeerHostileClientTest, ReplaysAndFlippedBitsAreDroppedAndABadMacCloses) {
  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  PeerOptions server_options = LoopbackOptions("ivmcl02", {LoopbackAddress("127.0.0.1")});
  PeerOptions client_options = LoopbackOptions("ivmcl01", {LoopbackAddress("127.0.0.1")});
  server_options.peers[client_options.self] = client_options.listen;
  client_options.peers[server_options.self] = server_options.listen;
  std::vector<raft::Message> inbox;
  auto server = PeerTransport::Start(io, server_options,
                                     [&](raft::Message m) { inbox.push_back(std::move(m)); });
  ASSERT_TRUE(server.ok());
  PeerTransport& transport = *server.value();
  RawClient client(server_options.listen[0], client_options);
  ASSERT_TRUE(client.authenticated());
  std::string one = EncodePeerMessage(LoopbackVote("ivmcl01", "ivmcl02", 1));
  std::string two = EncodePeerMessage(LoopbackVote("ivmcl01", "ivmcl02", 2));

  EXPECT_TRUE(client.SendFrame(1, one));
  EXPECT_TRUE(client.SendFrame(1, one));  // Replayed.
  EXPECT_TRUE(client.SendFrame(2, two));
  ASSERT_TRUE(PollIo(io, [&] { return transport.counters().received == 2; }));
  EXPECT_TRUE(client.SendFrame(3, one, /*corrupt=*/true));
  ASSERT_TRUE(PollIo(io, [&] { return transport.counters().dropped_bad_mac == 1; }));
  client.SendFrame(4, two);  // The connection is closed: never delivered.
  RunIo(io, 200ms);

  ASSERT_EQ(inbox.size(), 2U);
  EXPECT_EQ(inbox[0].header.term, raft::Term(1));
  EXPECT_EQ(inbox[1].header.term, raft::Term(2));
  EXPECT_EQ(transport.counters().dropped_replay, 1U);
  EXPECT_EQ(transport.counters().received, 2U);
}

}  // namespace
}  // namespace cmcl::io
