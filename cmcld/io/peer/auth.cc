// HMAC-SHA256 helpers of the peer protocol (auth.h), on OpenSSL 3's one-shot HMAC().
#include "cmcld/io/peer/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <utility>

#include "cmcld/core/common/check.h"

namespace cmcl::io::peer_auth {
namespace {

void AppendU64(std::string& out, uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((value >> shift) & 0xFFU));
  }
}

void AppendField(std::string& out, std::string_view field) {
  AppendU64(out, field.size());
  out.append(field);
}

std::string HandshakeInput(std::string_view label, const HandshakeFields& f) {
  std::string data;
  AppendField(data, label);
  AppendU64(data, f.cluster_id);
  AppendField(data, f.from);
  AppendField(data, f.to);
  AppendField(data, f.nonce_c);
  AppendField(data, f.nonce_s);
  return data;
}

}  // namespace

std::string RandomBytes(size_t size) {
  std::string out(size, '\0');
  // NOLINTNEXTLINE: OpenSSL takes unsigned char*.
  int ok = RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(size));
  CMCL_CHECK(ok == 1) << "RAND_bytes failed: the system has no entropy source";
  return out;
}

std::string Hmac(std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  const unsigned char* result =
      HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &mac_len);
  CMCL_CHECK(result != nullptr && mac_len == kMacBytes) << "HMAC-SHA256 failed";
  return std::string(reinterpret_cast<const char*>(mac), mac_len);
}

bool MacEqual(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string ServerMac(std::string_view key, const HandshakeFields& fields) {
  return Hmac(key, HandshakeInput("cmcl-server", fields));
}

std::string ClientMac(std::string_view key, const HandshakeFields& fields) {
  return Hmac(key, HandshakeInput("cmcl-client", fields));
}

std::string SessionKey(std::string_view key, const HandshakeFields& fields) {
  std::string data;
  AppendField(data, "cmcl-session");
  AppendField(data, fields.nonce_c);
  AppendField(data, fields.nonce_s);
  return Hmac(key, data);
}

std::string FrameMac(std::string_view session, Direction direction, uint64_t seq,
                     std::string_view payload) {
  std::string data;
  data.reserve(payload.size() + 17);
  data.push_back(static_cast<char>(direction));
  AppendU64(data, seq);
  AppendField(data, payload);
  return Hmac(session, data);
}

FrameSigner::Signed FrameSigner::Sign(std::string_view payload) {
  uint64_t seq = next_seq_++;
  return Signed{.seq = seq, .mac = FrameMac(session_, direction_, seq, payload)};
}

FrameVerdict FrameVerifier::Verify(uint64_t seq, std::string_view payload, std::string_view mac) {
  if (!MacEqual(mac, FrameMac(session_, direction_, seq, payload))) {
    return FrameVerdict::kBadMac;
  }
  if (seq <= last_seq_) return FrameVerdict::kReplay;
  last_seq_ = seq;
  return FrameVerdict::kAccepted;
}

}  // namespace cmcl::io::peer_auth
