// The peer protocol's cryptography: HMAC-SHA256 against RFC 4231, handshake MACs bound
// to every field, and the frame verifier refusing replays and flipped bits.
#include "cmcld/io/peer/auth.h"

#include <gtest/gtest.h>

#include <string>

namespace cmcl::io::peer_auth {
namespace {

std::string Hex(const std::string& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (char c : bytes) {
    auto b = static_cast<unsigned char>(c);
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xF]);
  }
  return out;
}

HandshakeFields SomeFields() {
  return HandshakeFields{.cluster_id = 7,
                         .from = "ivmcl01",
                         .to = "ivmcl02",
                         .nonce_c = std::string(kNonceBytes, 'c'),
                         .nonce_s = std::string(kNonceBytes, 's')};
}

const std::string kKey(32, 'k');

TEST(PeerAuthTest, HmacMatchesRfc4231TestCase2) {
  EXPECT_EQ(Hex(Hmac("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(PeerAuthTest, HandshakeMacsChangeWithEveryFieldAndTheKey) {
  const std::string base = ServerMac(kKey, SomeFields());
  HandshakeFields other_cluster = SomeFields();
  other_cluster.cluster_id = 8;
  HandshakeFields other_from = SomeFields();
  other_from.from = "ivmcl03";
  HandshakeFields other_nonce = SomeFields();
  other_nonce.nonce_s[0] = 't';
  // Moving a byte from one field to the next must change the MAC (length prefixes).
  HandshakeFields shifted = SomeFields();
  shifted.from = "ivmcl01i";
  shifted.to = "vmcl02";

  EXPECT_NE(ServerMac(std::string(32, 'x'), SomeFields()), base);
  EXPECT_NE(ServerMac(kKey, other_cluster), base);
  EXPECT_NE(ServerMac(kKey, other_from), base);
  EXPECT_NE(ServerMac(kKey, other_nonce), base);
  EXPECT_NE(ServerMac(kKey, shifted), base);
  EXPECT_NE(ClientMac(kKey, SomeFields()), base);
  EXPECT_NE(SessionKey(kKey, SomeFields()), base);
  EXPECT_NE(SessionKey(kKey, other_nonce), SessionKey(kKey, SomeFields()));
}

TEST(PeerAuthTest, RandomBytesHaveTheSizeAskedAndDiffer) {
  EXPECT_EQ(RandomBytes(kNonceBytes).size(), kNonceBytes);
  EXPECT_NE(RandomBytes(kNonceBytes), RandomBytes(kNonceBytes));
}

TEST(PeerAuthTest, FramesInOrderAreAcceptedAndGapsAreFine) {
  FrameSigner signer("session", Direction::kClientToServer);
  FrameVerifier verifier("session", Direction::kClientToServer);
  FrameSigner::Signed first = signer.Sign("one");
  FrameSigner::Signed lost = signer.Sign("two");
  FrameSigner::Signed third = signer.Sign("three");

  EXPECT_EQ(verifier.Verify(first.seq, "one", first.mac), FrameVerdict::kAccepted);
  EXPECT_EQ(verifier.Verify(third.seq, "three", third.mac), FrameVerdict::kAccepted);
  EXPECT_EQ(lost.seq, 2U);
  EXPECT_EQ(verifier.last_accepted(), 3U);
}

TEST(PeerAuthTest, AReplayedOrOlderFrameIsRefusedAsReplay) {
  FrameSigner signer("session", Direction::kClientToServer);
  FrameVerifier verifier("session", Direction::kClientToServer);
  FrameSigner::Signed first = signer.Sign("one");
  FrameSigner::Signed second = signer.Sign("two");
  ASSERT_EQ(verifier.Verify(second.seq, "two", second.mac), FrameVerdict::kAccepted);

  EXPECT_EQ(verifier.Verify(second.seq, "two", second.mac), FrameVerdict::kReplay);
  EXPECT_EQ(verifier.Verify(first.seq, "one", first.mac), FrameVerdict::kReplay);
  EXPECT_EQ(verifier.last_accepted(), 2U);
}

TEST(PeerAuthTest, AFlippedBitAnywhereIsABadMac) {
  FrameSigner signer("session", Direction::kClientToServer);
  FrameVerifier verifier("session", Direction::kClientToServer);
  FrameSigner::Signed frame = signer.Sign("payload");
  std::string flipped_mac = frame.mac;
  flipped_mac[5] = static_cast<char>(flipped_mac[5] ^ 0x01);

  EXPECT_EQ(verifier.Verify(frame.seq, "pbyload", frame.mac), FrameVerdict::kBadMac);
  EXPECT_EQ(verifier.Verify(frame.seq, "payload", flipped_mac), FrameVerdict::kBadMac);
  EXPECT_EQ(verifier.Verify(frame.seq + 1, "payload", frame.mac), FrameVerdict::kBadMac);
  EXPECT_EQ(verifier.Verify(frame.seq, "payload", ""), FrameVerdict::kBadMac);
  EXPECT_EQ(verifier.last_accepted(), 0U);  // Nothing bad moved the window.
  EXPECT_EQ(verifier.Verify(frame.seq, "payload", frame.mac), FrameVerdict::kAccepted);
}

TEST(PeerAuthTest, AFrameOfTheOtherDirectionOrSessionIsABadMac) {
  FrameSigner server("session", Direction::kServerToClient);
  FrameSigner other_session("another", Direction::kClientToServer);
  FrameVerifier verifier("session", Direction::kClientToServer);
  FrameSigner::Signed reflected = server.Sign("x");
  FrameSigner::Signed foreign = other_session.Sign("x");

  EXPECT_EQ(verifier.Verify(reflected.seq, "x", reflected.mac), FrameVerdict::kBadMac);
  EXPECT_EQ(verifier.Verify(foreign.seq, "x", foreign.mac), FrameVerdict::kBadMac);
}

}  // namespace
}  // namespace cmcl::io::peer_auth
