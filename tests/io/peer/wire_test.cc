// The wire format of raft::Message: every field of every message survives a round trip,
// and malformed bytes decode to nullopt without crashing.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "cmcld/io/peer/peer_transport.h"

namespace cmcl::io {
namespace {

using namespace std::chrono_literals;

raft::Header SomeHeader() {
  return raft::Header{.cluster_id = raft::ClusterId(0xFEDCBA9876543210ULL),
                      .from = NodeName("ivmcl01"),
                      .to = NodeName("ivmcl02"),
                      .term = raft::Term(77)};
}

raft::Command SomeCommand(uint64_t salt) {
  return raft::Command{.client_id = raft::ClientId(1000 + salt),
                       .sequence = 2000 + salt,
                       .payload = std::string("pay\0load", 8) + std::to_string(salt),
                       .revokes = {NodeName("ivmcl03"), NodeName("ivmcl04")}};
}

raft::Nonce SomeNonce() { return raft::Nonce{.incarnation = 0xABCDEF, .seq = 42}; }

// One message of each body type, every field away from its default.
std::vector<raft::Message> EveryMessage() {
  std::vector<raft::Body> bodies = {
      raft::VoteRequest{.kind = raft::VoteKind::kPreVote,
                        .last_log_index = raft::LogIndex(11),
                        .last_log_term = raft::Term(12),
                        .transfer = true},
      raft::VoteResponse{.kind = raft::VoteKind::kVote,
                         .granted = true,
                         .voter_node_id = raft::NodeId(UINT64_MAX),
                         .nonce = raft::Nonce{.incarnation = UINT64_MAX, .seq = 9}},
      raft::AppendRequest{.prev_log_index = raft::LogIndex(21),
                          .prev_log_term = raft::Term(22),
                          .entries = {raft::Entry{.term = raft::Term(22),
                                                  .index = raft::LogIndex(22),
                                                  .kind = raft::EntryKind::kCommand,
                                                  .command = SomeCommand(1)},
                                      raft::Entry{.term = raft::Term(23),
                                                  .index = raft::LogIndex(23),
                                                  .kind = raft::EntryKind::kNoop,
                                                  .command = SomeCommand(2)}},
                          .leader_commit = raft::LogIndex(20),
                          .round = 24},
      raft::AppendResponse{.success = true,
                           .match_index = raft::LogIndex(31),
                           .rejected_index = raft::LogIndex(32),
                           .last_index = raft::LogIndex(33),
                           .node_id = raft::NodeId(34),
                           .round = 35,
                           .nonce = SomeNonce()},
      raft::InstallSnapshot{
          .snapshot = raft::Snapshot{.last_index = raft::LogIndex(41),
                                     .last_term = raft::Term(42),
                                     .clients = {raft::ClientSession{.client_id = raft::ClientId(1),
                                                                     .sequence = 43,
                                                                     .index = raft::LogIndex(40)},
                                                 raft::ClientSession{.client_id = raft::ClientId(2),
                                                                     .sequence = 44,
                                                                     .index = raft::LogIndex(39)}},
                                     .state = std::string(100000, 's')},
          .round = 45},
      raft::LeaseGrant{.grant = raft::Grant{.nonce = SomeNonce(),
                                            .lease = 5500ms,
                                            .mode = raft::LeaseMode::kDisarmed,
                                            .min_applied = raft::LogIndex(51)}},
      raft::ForwardRequest{.command = SomeCommand(3)},
      raft::ForwardReply{.reply = raft::ClientReply{.client_id = raft::ClientId(61),
                                                    .sequence = 62,
                                                    .code = raft::ReplyCode::kRejected,
                                                    .applied_index = raft::LogIndex(63),
                                                    .leader_hint = NodeName("ivmcl05"),
                                                    .detail = "package p1 is unknown"}},
      raft::TimeoutNow{},
  };
  std::vector<raft::Message> messages;
  for (raft::Body& body : bodies) {
    messages.push_back(raft::Message{.header = SomeHeader(), .body = std::move(body)});
  }
  return messages;
}

void ExpectBodyEq(const raft::Body& a, const raft::Body& b) {
  ASSERT_EQ(a.index(), b.index());
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        const T& y = std::get<T>(b);
        if constexpr (std::is_same_v<T, raft::VoteRequest>) {
          EXPECT_EQ(x.kind, y.kind);
          EXPECT_EQ(x.last_log_index, y.last_log_index);
          EXPECT_EQ(x.last_log_term, y.last_log_term);
          EXPECT_EQ(x.transfer, y.transfer);
        } else if constexpr (std::is_same_v<T, raft::VoteResponse>) {
          EXPECT_EQ(x.kind, y.kind);
          EXPECT_EQ(x.granted, y.granted);
          EXPECT_EQ(x.voter_node_id, y.voter_node_id);
          EXPECT_EQ(x.nonce, y.nonce);
        } else if constexpr (std::is_same_v<T, raft::AppendRequest>) {
          EXPECT_EQ(x.prev_log_index, y.prev_log_index);
          EXPECT_EQ(x.prev_log_term, y.prev_log_term);
          EXPECT_EQ(x.entries, y.entries);  // Entry and Command compare every field.
          EXPECT_EQ(x.leader_commit, y.leader_commit);
          EXPECT_EQ(x.round, y.round);
        } else if constexpr (std::is_same_v<T, raft::AppendResponse>) {
          EXPECT_EQ(x.success, y.success);
          EXPECT_EQ(x.match_index, y.match_index);
          EXPECT_EQ(x.rejected_index, y.rejected_index);
          EXPECT_EQ(x.last_index, y.last_index);
          EXPECT_EQ(x.node_id, y.node_id);
          EXPECT_EQ(x.round, y.round);
          EXPECT_EQ(x.nonce, y.nonce);
        } else if constexpr (std::is_same_v<T, raft::InstallSnapshot>) {
          EXPECT_EQ(x.snapshot, y.snapshot);
          EXPECT_EQ(x.round, y.round);
        } else if constexpr (std::is_same_v<T, raft::LeaseGrant>) {
          EXPECT_EQ(x.grant, y.grant);
        } else if constexpr (std::is_same_v<T, raft::ForwardRequest>) {
          EXPECT_EQ(x.command, y.command);
        } else if constexpr (std::is_same_v<T, raft::ForwardReply>) {
          EXPECT_EQ(x.reply.client_id, y.reply.client_id);
          EXPECT_EQ(x.reply.sequence, y.reply.sequence);
          EXPECT_EQ(x.reply.code, y.reply.code);
          EXPECT_EQ(x.reply.applied_index, y.reply.applied_index);
          EXPECT_EQ(x.reply.leader_hint, y.reply.leader_hint);
          EXPECT_EQ(x.reply.detail, y.reply.detail);
        }
      },
      a);
}

TEST(PeerWireTest, EveryMessageTypeSurvivesARoundTripWithEveryField) {
  std::vector<raft::Message> messages = EveryMessage();
  ASSERT_EQ(messages.size(), std::variant_size_v<raft::Body>);

  for (const raft::Message& message : messages) {
    std::optional<raft::Message> decoded = DecodePeerMessage(EncodePeerMessage(message));

    ASSERT_TRUE(decoded.has_value()) << raft::MessageTypeName(message);
    EXPECT_EQ(decoded->header.cluster_id, message.header.cluster_id);
    EXPECT_EQ(decoded->header.from, message.header.from);
    EXPECT_EQ(decoded->header.to, message.header.to);
    EXPECT_EQ(decoded->header.term, message.header.term);
    ExpectBodyEq(decoded->body, message.body);
  }
}

TEST(PeerWireTest, AReplyWithoutLeaderHintStaysWithoutOne) {
  raft::Message message{.header = SomeHeader(),
                        .body = raft::ForwardReply{.reply = {.leader_hint = std::nullopt}}};

  std::optional<raft::Message> decoded = DecodePeerMessage(EncodePeerMessage(message));

  ASSERT_TRUE(decoded.has_value());
  EXPECT_FALSE(std::get<raft::ForwardReply>(decoded->body).reply.leader_hint.has_value());
}

TEST(PeerWireTest, EmptyAndGarbageBytesDecodeToNothing) {
  EXPECT_FALSE(DecodePeerMessage("").has_value());  // No header, no body.
  EXPECT_FALSE(DecodePeerMessage("\xff\xff\xff\xff").has_value());
  EXPECT_FALSE(DecodePeerMessage("hello, world").has_value());
}

TEST(PeerWireTest, TruncatedMessagesDecodeToNothing) {
  for (const raft::Message& message : EveryMessage()) {
    std::string bytes = EncodePeerMessage(message);
    for (size_t keep : {size_t{1}, size_t{5}, bytes.size() / 2, bytes.size() - 1}) {
      EXPECT_FALSE(DecodePeerMessage(bytes.substr(0, keep)).has_value())
          << raft::MessageTypeName(message) << " cut to " << keep;
    }
  }
}

TEST(PeerWireTest, OutOfRangeEnumsAndInvalidNamesDecodeToNothing) {
  raft::Message bad_name{.header = SomeHeader(), .body = raft::TimeoutNow{}};
  bad_name.header.from = NodeName("not a name!");
  raft::Message bad_revoke{.header = SomeHeader(),
                           .body = raft::ForwardRequest{.command = SomeCommand(9)}};
  std::get<raft::ForwardRequest>(bad_revoke.body).command.revokes.push_back(NodeName(""));
  raft::Message bad_kind{.header = SomeHeader(),
                         .body = raft::VoteRequest{.kind = static_cast<raft::VoteKind>(7)}};

  EXPECT_FALSE(DecodePeerMessage(EncodePeerMessage(bad_name)).has_value());
  EXPECT_FALSE(DecodePeerMessage(EncodePeerMessage(bad_revoke)).has_value());
  EXPECT_FALSE(DecodePeerMessage(EncodePeerMessage(bad_kind)).has_value());
}

// Random byte flips, insertions and cuts: decoding never crashes, and whatever it
// accepts re-encodes and decodes to itself (so it is a complete, valid message).
TEST(PeerWireTest, ThousandsOfRandomMutationsNeverCrashTheDecoder) {
  std::vector<std::string> seeds;
  for (const raft::Message& message : EveryMessage()) {
    if (!std::holds_alternative<raft::InstallSnapshot>(message.body)) {
      seeds.push_back(EncodePeerMessage(message));
    }
  }
  std::mt19937_64 rng(20261126);
  int accepted = 0;
  int rejected = 0;

  for (int i = 0; i < 5000; ++i) {
    std::string bytes = seeds[rng() % seeds.size()];
    for (uint64_t edits = 1 + rng() % 4; edits > 0; --edits) {
      size_t at = rng() % bytes.size();
      switch (rng() % 3) {
        case 0:
          bytes[at] = static_cast<char>(rng());
          break;
        case 1:
          bytes.insert(at, 1, static_cast<char>(rng()));
          break;
        default:
          bytes.resize(std::max<size_t>(1, at));
          break;
      }
    }
    std::optional<raft::Message> decoded = DecodePeerMessage(bytes);
    if (!decoded) {
      ++rejected;
      continue;
    }
    ++accepted;
    std::string again = EncodePeerMessage(*decoded);
    std::optional<raft::Message> twice = DecodePeerMessage(again);
    ASSERT_TRUE(twice.has_value());
    EXPECT_EQ(EncodePeerMessage(*twice), again);
  }

  EXPECT_GT(rejected, 0);
  EXPECT_GT(accepted + rejected, 4999);
}

}  // namespace
}  // namespace cmcl::io
