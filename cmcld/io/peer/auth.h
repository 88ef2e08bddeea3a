// The cryptography of the peer protocol (peer_transport.h, DESIGN.md section 9): the
// handshake MACs, the session key, and per-frame MACs with sequence numbers.
//
// Every MAC is HMAC-SHA256 over an unambiguous encoding: a label, then each field as an
// 8-byte big-endian length (or value, for integers) followed by its bytes, so no two
// different field tuples share an input. FrameVerifier is the receiving side's state of
// one direction of one connection: it accepts a frame only if its MAC verifies and its
// seq is above the last accepted one; anything else is refused with the reason, and the
// caller counts it (a bad MAC also closes the connection).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace cmcl::io::peer_auth {

inline constexpr size_t kNonceBytes = 32;
inline constexpr size_t kMacBytes = 32;
inline constexpr size_t kKeyBytesMin = 32;

// `size` cryptographically random bytes (OpenSSL RAND_bytes).
std::string RandomBytes(size_t size);

// HMAC-SHA256(key, data).
std::string Hmac(std::string_view key, std::string_view data);

// Equal length and equal bytes, in time independent of where they differ.
bool MacEqual(std::string_view a, std::string_view b);

struct HandshakeFields {
  uint64_t cluster_id = 0;
  std::string from;  // The client (connecting) node.
  std::string to;    // The server (listening) node.
  std::string nonce_c;
  std::string nonce_s;
};

// mac_s: "cmcl-server" | fields; mac_c: "cmcl-client" | fields.
std::string ServerMac(std::string_view key, const HandshakeFields& fields);
std::string ClientMac(std::string_view key, const HandshakeFields& fields);
// "cmcl-session" | nonce_c | nonce_s.
std::string SessionKey(std::string_view key, const HandshakeFields& fields);

enum class Direction : uint8_t { kClientToServer = 'c', kServerToClient = 's' };

// HMAC-SHA256(session, direction | seq | payload).
std::string FrameMac(std::string_view session, Direction direction, uint64_t seq,
                     std::string_view payload);

// The sending side of one direction: numbers frames 1, 2, 3 ...
class FrameSigner {
 public:
  FrameSigner(std::string session, Direction direction)
      : session_(std::move(session)), direction_(direction) {}
  struct Signed {
    uint64_t seq;
    std::string mac;
  };
  Signed Sign(std::string_view payload);

 private:
  std::string session_;
  Direction direction_;
  uint64_t next_seq_ = 1;
};

enum class FrameVerdict : uint8_t { kAccepted, kBadMac, kReplay };

// The receiving side of one direction.
class FrameVerifier {
 public:
  FrameVerifier(std::string session, Direction direction)
      : session_(std::move(session)), direction_(direction) {}
  // Checks the MAC first (an unauthenticated seq says nothing), then the order.
  FrameVerdict Verify(uint64_t seq, std::string_view payload, std::string_view mac);
  uint64_t last_accepted() const { return last_seq_; }

 private:
  std::string session_;
  Direction direction_;
  uint64_t last_seq_ = 0;
};

}  // namespace cmcl::io::peer_auth
