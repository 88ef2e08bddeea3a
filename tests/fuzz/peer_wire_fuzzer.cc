// Fuzz harness: the peer-message decoding (issue 11 item 4). The input is the bytes of a
// frame's payload as a peer (or anyone who got past the handshake) could send them,
// decoded by DecodePeerMessage (cmcld/io/peer/peer_transport.h, wire.cc).
//
// Properties: decoding never crashes (it is total: bytes in, a message or nullopt out);
// a message that decodes re-encodes to bytes that decode again to the same message (its
// encoding is a fixed point: encode(decode(encode(m))) == encode(m)); and SplitForWire,
// at a size limit taken from the input, cuts an AppendRequest into parts that carry
// exactly its entries, in order, each part starting where the one before ended.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "cmcld/core/common/check.h"
#include "cmcld/io/peer/peer_transport.h"

namespace {

using cmcl::raft::AppendRequest;
using cmcl::raft::Message;

// The size limit for the split: from the input's first bytes, small enough to cut.
size_t SplitLimit(const std::string& bytes) {
  size_t limit = 0;
  for (size_t i = 0; i < bytes.size() && i < 2; ++i) {
    limit = limit * 256 + static_cast<unsigned char>(bytes[i]);
  }
  return 512 + limit;
}

void CheckSplit(const Message& message, size_t limit) {
  const std::vector<Message> parts = cmcl::io::SplitForWire(message, limit);
  const auto* whole = std::get_if<AppendRequest>(&message.body);
  if (whole == nullptr || whole->entries.size() < 2) {
    CMCL_CHECK(parts.size() == 1) << "a message that is not cut gave " << parts.size();
    CMCL_CHECK(cmcl::io::EncodePeerMessage(parts[0]) == cmcl::io::EncodePeerMessage(message));
    return;
  }
  size_t next = 0;
  cmcl::raft::LogIndex prev_index = whole->prev_log_index;
  cmcl::raft::Term prev_term = whole->prev_log_term;
  for (const Message& part : parts) {
    const auto* append = std::get_if<AppendRequest>(&part.body);
    CMCL_CHECK(append != nullptr && !append->entries.empty()) << "an empty or foreign part";
    CMCL_CHECK(append->prev_log_index == prev_index && append->prev_log_term == prev_term)
        << "a part does not start where the one before ended";
    CMCL_CHECK(append->leader_commit == whole->leader_commit && append->round == whole->round);
    for (const cmcl::raft::Entry& entry : append->entries) {
      CMCL_CHECK(next < whole->entries.size()) << "the parts carry more entries than the whole";
      const cmcl::raft::Entry& original = whole->entries[next++];
      CMCL_CHECK(entry.index == original.index && entry.term == original.term &&
                 entry.command.payload == original.command.payload)
          << "part entry " << entry.index << " is not the whole's entry " << original.index;
    }
    prev_index = append->entries.back().index;
    prev_term = append->entries.back().term;
  }
  CMCL_CHECK(next == whole->entries.size()) << "the parts lost entries";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  const std::optional<Message> message = cmcl::io::DecodePeerMessage(bytes);
  if (!message) return 0;

  const std::string encoded = cmcl::io::EncodePeerMessage(*message);
  const std::optional<Message> again = cmcl::io::DecodePeerMessage(encoded);
  CMCL_CHECK(again.has_value()) << "a decoded message does not decode once re-encoded";
  CMCL_CHECK(cmcl::io::EncodePeerMessage(*again) == encoded)
      << "decode(encode(m)) differs from m (" << cmcl::raft::MessageTypeName(*message) << ")";
  CMCL_CHECK(again->header.from == message->header.from && again->header.to == message->header.to &&
             again->header.term == message->header.term &&
             again->body.index() == message->body.index());
  CheckSplit(*message, SplitLimit(bytes));
  return 0;
}
