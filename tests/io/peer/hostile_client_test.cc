// A hand-written client speaking the peer protocol (4-byte big-endian length, then a
// peer.proto Packet) over a raw TCP socket to a real PeerTransport: replayed frames and
// flipped bits on an authenticated connection are dropped and counted, a bad MAC closes
// the connection, Hellos of another cluster, a non-member or for another node are refused,
// and whatever breaks the framing (an oversized length, garbage, silence) closes the
// connection (peer_transport.h, DESIGN.md section 9).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <cerrno>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cmcld/io/peer/auth.h"
#include "cmcld/io/peer/peer_transport.h"
#include "peer.pb.h"
#include "tests/io/peer/loopback.h"

namespace cmcl::io {
namespace {

using namespace std::chrono_literals;
namespace auth = peer_auth;
namespace pb = ::cmcl::peer;

std::string LengthPrefix(uint32_t length) {
  return {static_cast<char>(length >> 24), static_cast<char>((length >> 16) & 0xff),
          static_cast<char>((length >> 8) & 0xff), static_cast<char>(length & 0xff)};
}

std::string Framed(const pb::Packet& packet) {
  std::string body = packet.SerializeAsString();
  return LengthPrefix(static_cast<uint32_t>(body.size())) + body;
}

// One raw TCP connection to the transport under test. The test thread also runs the
// transport's io_context, so every read here is non-blocking, interleaved with io.
class RawClient {
 public:
  RawClient(boost::asio::io_context& io, const SocketAddress& server)
      : io_(io), fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(server.port);
    ::inet_pton(AF_INET, server.host.c_str(), &addr.sin_addr);
    // NOLINTNEXTLINE: the sockets API takes sockaddr*.
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawClient() { ::close(fd_); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return connected_; }

  bool WriteBytes(const std::string& bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }
  bool WritePacket(const pb::Packet& packet) { return WriteBytes(Framed(packet)); }

  // Runs io until a whole packet arrived; nullopt if the connection closed first or 2 s
  // passed.
  std::optional<pb::Packet> ReadPacket() {
    std::optional<pb::Packet> packet;
    PollIo(
        io_,
        [&] {
          Pull();
          if (in_.size() >= 4) {
            const auto* b = reinterpret_cast<const unsigned char*>(in_.data());  // NOLINT
            size_t length =
                (size_t{b[0]} << 24) | (size_t{b[1]} << 16) | (size_t{b[2]} << 8) | size_t{b[3]};
            if (in_.size() >= 4 + length) {
              packet.emplace();
              if (!packet->ParseFromArray(in_.data() + 4, static_cast<int>(length))) {
                packet.reset();
              }
              in_.erase(0, 4 + length);
              return true;
            }
          }
          return eof_;
        },
        2s);
    return packet;
  }

  // Runs io until the server closed the connection (reads end or reset), or `limit` passed.
  bool ClosedByServer(std::chrono::milliseconds limit = 2s) {
    return PollIo(
        io_,
        [&] {
          Pull();
          return eof_;
        },
        limit);
  }

  // The whole handshake as `as` (whose first peer is the server). On success, frames can
  // be sent.
  bool Authenticate(const PeerOptions& as) { return AuthenticateAs(as, as.key); }
  bool AuthenticateAs(const PeerOptions& as, const std::string& key) {
    auth::HandshakeFields fields{.cluster_id = as.cluster_id.value(),
                                 .from = as.self.value(),
                                 .to = as.peers.begin()->first.value(),
                                 .nonce_c = auth::RandomBytes(auth::kNonceBytes),
                                 .nonce_s = {}};
    if (!WritePacket(HelloPacket(fields))) return false;
    std::optional<pb::Packet> challenge = ReadPacket();
    if (!challenge || !challenge->has_challenge()) return false;
    fields.nonce_s = challenge->challenge().nonce();
    // A real client stops at a server MAC that does not verify; this one sends its Proof
    // anyway, so that the server's check of it is tested too.
    bool server_ok = auth::MacEqual(challenge->challenge().mac(), auth::ServerMac(key, fields));
    pb::Packet proof;
    proof.mutable_proof()->set_mac(auth::ClientMac(key, fields));
    session_ = auth::SessionKey(key, fields);
    return WritePacket(proof) && server_ok;
  }

  static pb::Packet HelloPacket(const auth::HandshakeFields& fields) {
    pb::Packet packet;
    packet.mutable_hello()->set_cluster_id(fields.cluster_id);
    packet.mutable_hello()->set_from(fields.from);
    packet.mutable_hello()->set_to(fields.to);
    packet.mutable_hello()->set_nonce(fields.nonce_c);
    return packet;
  }

  // Writes one frame; `corrupt` flips a bit of its MAC.
  bool SendFrame(uint64_t seq, const std::string& payload, bool corrupt = false) {
    std::string mac = auth::FrameMac(session_, auth::Direction::kClientToServer, seq, payload);
    if (corrupt) mac[0] = static_cast<char>(mac[0] ^ 0x01);
    pb::Packet packet;
    packet.mutable_frame()->set_seq(seq);
    packet.mutable_frame()->set_payload(payload);
    packet.mutable_frame()->set_mac(mac);
    return WritePacket(packet);
  }

 private:
  // Whatever the kernel holds for us now, without blocking.
  void Pull() {
    char buffer[4096];
    while (!eof_) {
      ssize_t got = ::recv(fd_, buffer, sizeof buffer, MSG_DONTWAIT);
      if (got > 0) {
        in_.append(buffer, static_cast<size_t>(got));
        continue;
      }
      if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      eof_ = true;  // 0: closed; another error (ECONNRESET): closed too.
    }
  }

  boost::asio::io_context& io_;
  int fd_;
  bool connected_ = false;
  bool eof_ = false;
  std::string in_;
  std::string session_;
};

class PeerHostileClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_options_ = LoopbackOptions("ivmcl02", {LoopbackAddress("127.0.0.1")});
    client_options_ = LoopbackOptions("ivmcl01", {LoopbackAddress("127.0.0.1")});
    server_options_.peers[client_options_.self] = client_options_.listen;
    client_options_.peers[server_options_.self] = server_options_.listen;
    auto started = PeerTransport::Start(io_, server_options_,
                                        [&](raft::Message m) { inbox_.push_back(std::move(m)); });
    ASSERT_TRUE(started.ok());
    transport_ = std::move(started.value());
  }
  void TearDown() override { transport_.reset(); }

  std::unique_ptr<RawClient> Connect() {
    auto client = std::make_unique<RawClient>(io_, server_options_.listen[0]);
    EXPECT_TRUE(client->connected());
    return client;
  }
  // A Hello as the client node, changed by `change`; what the server answers.
  std::optional<pb::Packet> HelloAnswer(RawClient& client,
                                        const std::function<void(auth::HandshakeFields&)>& change) {
    auth::HandshakeFields fields{.cluster_id = client_options_.cluster_id.value(),
                                 .from = client_options_.self.value(),
                                 .to = server_options_.self.value(),
                                 .nonce_c = auth::RandomBytes(auth::kNonceBytes),
                                 .nonce_s = {}};
    change(fields);
    EXPECT_TRUE(client.WritePacket(RawClient::HelloPacket(fields)));
    return client.ReadPacket();
  }
  PeerCounters counters() const { return transport_->counters(); }

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ =
      boost::asio::make_work_guard(io_);
  PeerOptions server_options_;
  PeerOptions client_options_;
  std::vector<raft::Message> inbox_;
  std::unique_ptr<PeerTransport> transport_;
};

TEST_F(PeerHostileClientTest, ReplaysAndFlippedBitsAreDroppedAndABadMacCloses) {
  std::unique_ptr<RawClient> client = Connect();
  ASSERT_TRUE(client->Authenticate(client_options_));
  std::string one = EncodePeerMessage(LoopbackVote("ivmcl01", "ivmcl02", 1));
  std::string two = EncodePeerMessage(LoopbackVote("ivmcl01", "ivmcl02", 2));

  EXPECT_TRUE(client->SendFrame(1, one));
  EXPECT_TRUE(client->SendFrame(1, one));  // Replayed.
  EXPECT_TRUE(client->SendFrame(2, two));
  ASSERT_TRUE(PollIo(io_, [&] { return counters().received == 2; }));
  EXPECT_TRUE(client->SendFrame(3, one, /*corrupt=*/true));
  ASSERT_TRUE(PollIo(io_, [&] { return counters().dropped_bad_mac == 1; }));
  client->SendFrame(4, two);  // The connection is closed: never delivered.
  EXPECT_TRUE(client->ClosedByServer());
  RunIo(io_, 100ms);

  ASSERT_EQ(inbox_.size(), 2U);
  EXPECT_EQ(inbox_[0].header.term, raft::Term(1));
  EXPECT_EQ(inbox_[1].header.term, raft::Term(2));
  EXPECT_EQ(counters().dropped_replay, 1U);
  EXPECT_EQ(counters().received, 2U);
}

TEST_F(PeerHostileClientTest, TheServerSendsAKeepaliveAtOnceAfterTheProof) {
  std::unique_ptr<RawClient> client = Connect();
  ASSERT_TRUE(client->Authenticate(client_options_));

  std::optional<pb::Packet> keepalive = client->ReadPacket();

  ASSERT_TRUE(keepalive.has_value());
  ASSERT_TRUE(keepalive->has_frame());
  EXPECT_EQ(keepalive->frame().seq(), 1U);
  EXPECT_TRUE(keepalive->frame().payload().empty());
}

TEST_F(PeerHostileClientTest, AHelloOfAnotherClusterIsRefusedWithAReasonAndClosed) {
  std::unique_ptr<RawClient> client = Connect();

  std::optional<pb::Packet> answer =
      HelloAnswer(*client, [](auth::HandshakeFields& f) { f.cluster_id = 0xC2; });

  ASSERT_TRUE(answer.has_value());
  ASSERT_TRUE(answer->has_refusal());
  EXPECT_NE(answer->refusal().reason().find("another cluster"), std::string::npos);
  EXPECT_TRUE(client->ClosedByServer());
  EXPECT_EQ(counters().dropped_other_cluster, 1U);
  EXPECT_EQ(counters().auth_failures, 1U);
}

TEST_F(PeerHostileClientTest, AHelloFromANonMemberIsRefusedAndClosed) {
  std::unique_ptr<RawClient> client = Connect();

  std::optional<pb::Packet> answer =
      HelloAnswer(*client, [](auth::HandshakeFields& f) { f.from = "ivmcl09"; });

  ASSERT_TRUE(answer.has_value());
  EXPECT_TRUE(answer->has_refusal());
  EXPECT_TRUE(client->ClosedByServer());
  EXPECT_EQ(counters().dropped_non_member, 1U);
  EXPECT_EQ(counters().auth_failures, 1U);
}

TEST_F(PeerHostileClientTest, AHelloForAnotherNodeIsRefusedAndClosed) {
  std::unique_ptr<RawClient> client = Connect();

  std::optional<pb::Packet> answer =
      HelloAnswer(*client, [](auth::HandshakeFields& f) { f.to = "ivmcl07"; });

  ASSERT_TRUE(answer.has_value());
  EXPECT_TRUE(answer->has_refusal());
  EXPECT_TRUE(client->ClosedByServer());
  EXPECT_EQ(counters().auth_failures, 1U);
}

TEST_F(PeerHostileClientTest, AProofWithAnotherKeyIsRefusedAndClosed) {
  std::unique_ptr<RawClient> client = Connect();

  EXPECT_FALSE(client->AuthenticateAs(client_options_, std::string(40, 'w')));

  EXPECT_TRUE(client->ClosedByServer());
  EXPECT_EQ(counters().auth_failures, 1U);
  EXPECT_TRUE(inbox_.empty());
}

TEST_F(PeerHostileClientTest, MessagesThatDoNotDecodeOrSpeakForAnotherNodeAreDropped) {
  std::unique_ptr<RawClient> client = Connect();
  ASSERT_TRUE(client->Authenticate(client_options_));

  EXPECT_TRUE(client->SendFrame(1, "not a raft message \xff\xff\xff"));
  EXPECT_TRUE(client->SendFrame(2, EncodePeerMessage(LoopbackVote("ivmcl03", "ivmcl02", 1))));
  EXPECT_TRUE(client->SendFrame(3, EncodePeerMessage(LoopbackVote("ivmcl01", "ivmcl02", 3))));

  ASSERT_TRUE(PollIo(io_, [&] { return inbox_.size() == 1; }));
  EXPECT_EQ(inbox_[0].header.term, raft::Term(3));
  EXPECT_EQ(counters().dropped_malformed, 1U);
  EXPECT_EQ(counters().dropped_misaddressed, 1U);
}

TEST_F(PeerHostileClientTest, AnOversizedLengthBeforeAuthenticationClosesAtOnce) {
  std::unique_ptr<RawClient> client = Connect();

  // 4 GiB announced: refused on the length alone, nothing allocated, nothing awaited.
  EXPECT_TRUE(client->WriteBytes(LengthPrefix(0xFFFFFFFFU)));

  EXPECT_TRUE(client->ClosedByServer(200ms));
  EXPECT_EQ(counters().dropped_malformed, 1U);
}

TEST_F(PeerHostileClientTest, AnOversizedLengthAfterAuthenticationClosesAtOnce) {
  std::unique_ptr<RawClient> client = Connect();
  ASSERT_TRUE(client->Authenticate(client_options_));

  EXPECT_TRUE(client->WriteBytes(
      LengthPrefix(static_cast<uint32_t>(server_options_.message_bytes_max + (1U << 20)))));

  EXPECT_TRUE(client->ClosedByServer(200ms));
  EXPECT_EQ(counters().dropped_malformed, 1U);
}

TEST_F(PeerHostileClientTest, GarbageBytesClose) {
  std::unique_ptr<RawClient> client = Connect();

  EXPECT_TRUE(client->WriteBytes(LengthPrefix(6) + "\xff\xff\xff\xff\xff\xff"));

  EXPECT_TRUE(client->ClosedByServer(200ms));
  EXPECT_EQ(counters().dropped_malformed, 1U);
}

TEST_F(PeerHostileClientTest, AnHttpRequestCloses) {
  std::unique_ptr<RawClient> client = Connect();

  EXPECT_TRUE(client->WriteBytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));

  EXPECT_TRUE(client->ClosedByServer(200ms));
  EXPECT_EQ(counters().dropped_malformed, 1U);
}

TEST_F(PeerHostileClientTest, AClientThatSaysNothingIsClosedAfterTheHandshakeDeadline) {
  std::unique_ptr<RawClient> client = Connect();
  auto connected_at = std::chrono::steady_clock::now();

  EXPECT_FALSE(client->ClosedByServer(300ms));  // node_timeout is 500 ms.
  EXPECT_TRUE(client->ClosedByServer(2s));

  EXPECT_LT(std::chrono::steady_clock::now() - connected_at, 1500ms);
}

TEST_F(PeerHostileClientTest, AHalfHelloIsClosedAfterTheHandshakeDeadline) {
  std::unique_ptr<RawClient> client = Connect();
  std::string hello = Framed(RawClient::HelloPacket({.cluster_id = 0xC1,
                                                     .from = "ivmcl01",
                                                     .to = "ivmcl02",
                                                     .nonce_c = std::string(32, 'n'),
                                                     .nonce_s = {}}));

  EXPECT_TRUE(client->WriteBytes(hello.substr(0, hello.size() / 2)));

  EXPECT_TRUE(client->ClosedByServer(2s));
}

TEST_F(PeerHostileClientTest, ConnectionsAuthenticatingAtOnceAreBounded) {
  std::vector<std::unique_ptr<RawClient>> silent;
  for (int i = 0; i < 64; ++i) silent.push_back(Connect());
  RunIo(io_, 100ms);  // All accepted, none authenticated.

  std::unique_ptr<RawClient> extra = Connect();

  EXPECT_TRUE(extra->ClosedByServer(200ms));
  EXPECT_FALSE(silent.front()->ClosedByServer(50ms));
}

}  // namespace
}  // namespace cmcl::io
