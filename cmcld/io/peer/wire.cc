// The protobuf wire format of raft::Message (peer_transport.h, peer.proto).
//
// Encoding copies every field; decoding checks what protobuf cannot: enum numbers in
// range, node names valid, one body present, a snapshot's state within its bound. Any
// failure gives nullopt, so a malformed or hostile message never reaches the core.
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "cmcld/core/common/names.h"
#include "cmcld/io/peer/peer_transport.h"
#include "peer.pb.h"

namespace cmcl::io {
namespace {

namespace pb = ::cmcl::peer;

template <typename... Fs>
struct Overloaded : Fs... {
  using Fs::operator()...;
};
// clang 14 (the fuzz build) does not deduce an aggregate's template arguments by itself.
template <typename... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

// ---- encoding ----

void EncodeCommand(const raft::Command& in, pb::Command* out) {
  out->set_client_id(in.client_id.value());
  out->set_sequence(in.sequence);
  out->set_payload(in.payload);
  for (const NodeName& name : in.revokes) out->add_revokes(name.value());
}

void EncodeEntry(const raft::Entry& in, pb::Entry* out) {
  out->set_term(in.term.value());
  out->set_index(in.index.value());
  out->set_kind(static_cast<uint32_t>(in.kind));
  EncodeCommand(in.command, out->mutable_command());
}

void EncodeNonce(const raft::Nonce& in, pb::Nonce* out) {
  out->set_incarnation(in.incarnation);
  out->set_seq(in.seq);
}

void EncodeSnapshot(const raft::Snapshot& in, pb::Snapshot* out) {
  out->set_last_index(in.last_index.value());
  out->set_last_term(in.last_term.value());
  for (const raft::ClientSession& session : in.clients) {
    pb::ClientSession* s = out->add_clients();
    s->set_client_id(session.client_id.value());
    s->set_sequence(session.sequence);
    s->set_index(session.index.value());
  }
  out->set_state(in.state);
}

void EncodeGrant(const raft::Grant& in, pb::Grant* out) {
  EncodeNonce(in.nonce, out->mutable_nonce());
  out->set_lease_ms(in.lease.count());
  out->set_mode(static_cast<uint32_t>(in.mode));
  out->set_min_applied(in.min_applied.value());
}

void EncodeReply(const raft::ClientReply& in, pb::ClientReply* out) {
  out->set_client_id(in.client_id.value());
  out->set_sequence(in.sequence);
  out->set_code(static_cast<uint32_t>(in.code));
  out->set_applied_index(in.applied_index.value());
  if (in.leader_hint) out->set_leader_hint(in.leader_hint->value());
  out->set_detail(in.detail);
}

void EncodeAppendRequest(const raft::AppendRequest& in, pb::AppendRequest* out) {
  out->set_prev_log_index(in.prev_log_index.value());
  out->set_prev_log_term(in.prev_log_term.value());
  for (const raft::Entry& entry : in.entries) EncodeEntry(entry, out->add_entries());
  out->set_leader_commit(in.leader_commit.value());
  out->set_round(in.round);
}

void EncodeAppendResponse(const raft::AppendResponse& in, pb::AppendResponse* out) {
  out->set_success(in.success);
  out->set_match_index(in.match_index.value());
  out->set_rejected_index(in.rejected_index.value());
  out->set_last_index(in.last_index.value());
  out->set_node_id(in.node_id.value());
  out->set_round(in.round);
  EncodeNonce(in.nonce, out->mutable_nonce());
}

void EncodeBody(const raft::Body& body, pb::RaftMessage* out) {
  std::visit(Overloaded{
                 [&](const raft::VoteRequest& m) {
                   pb::VoteRequest* v = out->mutable_vote_request();
                   v->set_kind(static_cast<uint32_t>(m.kind));
                   v->set_last_log_index(m.last_log_index.value());
                   v->set_last_log_term(m.last_log_term.value());
                   v->set_transfer(m.transfer);
                 },
                 [&](const raft::VoteResponse& m) {
                   pb::VoteResponse* v = out->mutable_vote_response();
                   v->set_kind(static_cast<uint32_t>(m.kind));
                   v->set_granted(m.granted);
                   v->set_voter_node_id(m.voter_node_id.value());
                   if (m.nonce.seq != 0) EncodeNonce(m.nonce, v->mutable_nonce());
                 },
                 [&](const raft::AppendRequest& m) {
                   EncodeAppendRequest(m, out->mutable_append_request());
                 },
                 [&](const raft::AppendResponse& m) {
                   EncodeAppendResponse(m, out->mutable_append_response());
                 },
                 [&](const raft::InstallSnapshot& m) {
                   EncodeSnapshot(m.snapshot, out->mutable_install_snapshot()->mutable_snapshot());
                   out->mutable_install_snapshot()->set_round(m.round);
                 },
                 [&](const raft::LeaseGrant& m) {
                   EncodeGrant(m.grant, out->mutable_lease_grant()->mutable_grant());
                 },
                 [&](const raft::ForwardRequest& m) {
                   EncodeCommand(m.command, out->mutable_forward_request()->mutable_command());
                 },
                 [&](const raft::ForwardReply& m) {
                   EncodeReply(m.reply, out->mutable_forward_reply()->mutable_reply());
                 },
                 [&](const raft::TimeoutNow&) { out->mutable_timeout_now(); },
             },
             body);
}

// ---- decoding ----

std::optional<NodeName> DecodeName(const std::string& name) {
  if (!IsValidName(name)) return std::nullopt;
  return NodeName(name);
}

std::optional<raft::Command> DecodeCommand(const pb::Command& in) {
  raft::Command out{.client_id = raft::ClientId(in.client_id()),
                    .sequence = in.sequence(),
                    .payload = in.payload()};
  for (const std::string& name : in.revokes()) {
    std::optional<NodeName> node = DecodeName(name);
    if (!node) return std::nullopt;
    out.revokes.push_back(std::move(*node));
  }
  return out;
}

std::optional<raft::Entry> DecodeEntry(const pb::Entry& in) {
  if (in.kind() > static_cast<uint32_t>(raft::EntryKind::kCommand)) return std::nullopt;
  std::optional<raft::Command> command = DecodeCommand(in.command());
  if (!command) return std::nullopt;
  return raft::Entry{.term = raft::Term(in.term()),
                     .index = raft::LogIndex(in.index()),
                     .kind = static_cast<raft::EntryKind>(in.kind()),
                     .command = std::move(*command)};
}

raft::Nonce DecodeNonce(const pb::Nonce& in) {
  return raft::Nonce{.incarnation = in.incarnation(), .seq = in.seq()};
}

std::optional<raft::Snapshot> DecodeSnapshot(const pb::Snapshot& in) {
  if (in.state().size() > raft::kSnapshotStateBytesMax) return std::nullopt;
  raft::Snapshot out{.last_index = raft::LogIndex(in.last_index()),
                     .last_term = raft::Term(in.last_term()),
                     .clients = {},
                     .state = in.state()};
  for (const pb::ClientSession& s : in.clients()) {
    out.clients.push_back(raft::ClientSession{.client_id = raft::ClientId(s.client_id()),
                                              .sequence = s.sequence(),
                                              .index = raft::LogIndex(s.index())});
  }
  return out;
}

std::optional<raft::Grant> DecodeGrant(const pb::Grant& in) {
  if (in.mode() > static_cast<uint32_t>(raft::LeaseMode::kDisarmed)) return std::nullopt;
  if (in.lease_ms() < 0) return std::nullopt;
  return raft::Grant{.nonce = DecodeNonce(in.nonce()),
                     .lease = Duration(in.lease_ms()),
                     .mode = static_cast<raft::LeaseMode>(in.mode()),
                     .min_applied = raft::LogIndex(in.min_applied())};
}

std::optional<raft::ClientReply> DecodeReply(const pb::ClientReply& in) {
  if (in.code() > static_cast<uint32_t>(raft::ReplyCode::kRejected)) return std::nullopt;
  raft::ClientReply out{.client_id = raft::ClientId(in.client_id()),
                        .sequence = in.sequence(),
                        .code = static_cast<raft::ReplyCode>(in.code()),
                        .applied_index = raft::LogIndex(in.applied_index()),
                        .leader_hint = std::nullopt,
                        .detail = in.detail()};
  if (in.has_leader_hint()) {
    out.leader_hint = DecodeName(in.leader_hint());
    if (!out.leader_hint) return std::nullopt;
  }
  return out;
}

std::optional<raft::VoteKind> DecodeVoteKind(uint32_t kind) {
  if (kind > static_cast<uint32_t>(raft::VoteKind::kVote)) return std::nullopt;
  return static_cast<raft::VoteKind>(kind);
}

std::optional<raft::Body> DecodeVoteRequest(const pb::VoteRequest& in) {
  std::optional<raft::VoteKind> kind = DecodeVoteKind(in.kind());
  if (!kind) return std::nullopt;
  return raft::VoteRequest{.kind = *kind,
                           .last_log_index = raft::LogIndex(in.last_log_index()),
                           .last_log_term = raft::Term(in.last_log_term()),
                           .transfer = in.transfer()};
}

std::optional<raft::Body> DecodeVoteResponse(const pb::VoteResponse& in) {
  std::optional<raft::VoteKind> kind = DecodeVoteKind(in.kind());
  if (!kind) return std::nullopt;
  return raft::VoteResponse{.kind = *kind,
                            .granted = in.granted(),
                            .voter_node_id = raft::NodeId(in.voter_node_id()),
                            .nonce = DecodeNonce(in.nonce())};
}

std::optional<raft::Body> DecodeAppendRequest(const pb::AppendRequest& in) {
  raft::AppendRequest out{.prev_log_index = raft::LogIndex(in.prev_log_index()),
                          .prev_log_term = raft::Term(in.prev_log_term()),
                          .entries = {},
                          .leader_commit = raft::LogIndex(in.leader_commit()),
                          .round = in.round()};
  out.entries.reserve(static_cast<size_t>(in.entries_size()));
  for (const pb::Entry& e : in.entries()) {
    std::optional<raft::Entry> entry = DecodeEntry(e);
    if (!entry) return std::nullopt;
    out.entries.push_back(std::move(*entry));
  }
  return out;
}

raft::Body DecodeAppendResponse(const pb::AppendResponse& in) {
  return raft::AppendResponse{.success = in.success(),
                              .match_index = raft::LogIndex(in.match_index()),
                              .rejected_index = raft::LogIndex(in.rejected_index()),
                              .last_index = raft::LogIndex(in.last_index()),
                              .node_id = raft::NodeId(in.node_id()),
                              .round = in.round(),
                              .nonce = DecodeNonce(in.nonce())};
}

template <typename Out, typename In, typename Fn>
std::optional<raft::Body> Wrap(const In& in, Fn decode) {
  auto inner = decode(in);
  if (!inner) return std::nullopt;
  return raft::Body(Out{std::move(*inner)});
}

std::optional<raft::Body> DecodeBody(const pb::RaftMessage& in) {
  switch (in.body_case()) {
    case pb::RaftMessage::kVoteRequest:
      return DecodeVoteRequest(in.vote_request());
    case pb::RaftMessage::kVoteResponse:
      return DecodeVoteResponse(in.vote_response());
    case pb::RaftMessage::kAppendRequest:
      return DecodeAppendRequest(in.append_request());
    case pb::RaftMessage::kAppendResponse:
      return DecodeAppendResponse(in.append_response());
    case pb::RaftMessage::kInstallSnapshot: {
      std::optional<raft::Snapshot> snapshot = DecodeSnapshot(in.install_snapshot().snapshot());
      if (!snapshot) return std::nullopt;
      return raft::InstallSnapshot{.snapshot = std::move(*snapshot),
                                   .round = in.install_snapshot().round()};
    }
    case pb::RaftMessage::kLeaseGrant:
      return Wrap<raft::LeaseGrant>(in.lease_grant().grant(), DecodeGrant);
    case pb::RaftMessage::kForwardRequest:
      return Wrap<raft::ForwardRequest>(in.forward_request().command(), DecodeCommand);
    case pb::RaftMessage::kForwardReply:
      return Wrap<raft::ForwardReply>(in.forward_reply().reply(), DecodeReply);
    case pb::RaftMessage::kTimeoutNow:
      return raft::TimeoutNow{};
    case pb::RaftMessage::BODY_NOT_SET:
      break;
  }
  return std::nullopt;
}

}  // namespace

std::string EncodePeerMessage(const raft::Message& message) {
  pb::RaftMessage out;
  pb::Header* header = out.mutable_header();
  header->set_cluster_id(message.header.cluster_id.value());
  header->set_from(message.header.from.value());
  header->set_to(message.header.to.value());
  header->set_term(message.header.term.value());
  EncodeBody(message.body, &out);
  return out.SerializeAsString();
}

std::optional<raft::Message> DecodePeerMessage(const std::string& bytes) {
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return std::nullopt;
  }
  pb::RaftMessage in;
  if (!in.ParseFromString(bytes) || !in.has_header()) return std::nullopt;
  std::optional<NodeName> from = DecodeName(in.header().from());
  std::optional<NodeName> to = DecodeName(in.header().to());
  std::optional<raft::Body> body = DecodeBody(in);
  if (!from || !to || !body) return std::nullopt;
  return raft::Message{.header = {.cluster_id = raft::ClusterId(in.header().cluster_id()),
                                  .from = std::move(*from),
                                  .to = std::move(*to),
                                  .term = raft::Term(in.header().term())},
                       .body = std::move(*body)};
}

std::vector<raft::Message> SplitForWire(const raft::Message& message, size_t bytes_max) {
  const auto* append = std::get_if<raft::AppendRequest>(&message.body);
  if (append == nullptr || append->entries.size() < 2) return {message};
  // An entry costs its payload, its revoked names and a few varints; the header and the
  // frame are covered by the margin. Greedy: as many whole entries as fit.
  constexpr size_t kEntryOverhead = 64;
  constexpr size_t kMessageOverhead = 1024;
  const size_t budget = bytes_max > kMessageOverhead ? bytes_max - kMessageOverhead : 1;
  std::vector<raft::Message> parts;
  raft::AppendRequest part{.prev_log_index = append->prev_log_index,
                           .prev_log_term = append->prev_log_term,
                           .entries = {},
                           .leader_commit = append->leader_commit,
                           .round = append->round};
  size_t used = 0;
  const auto flush = [&] {
    const raft::Entry& last = part.entries.back();
    raft::AppendRequest next{.prev_log_index = last.index,
                             .prev_log_term = last.term,
                             .entries = {},
                             .leader_commit = append->leader_commit,
                             .round = append->round};
    parts.push_back(raft::Message{.header = message.header, .body = std::move(part)});
    part = std::move(next);
    used = 0;
  };
  for (const raft::Entry& entry : append->entries) {
    size_t cost = kEntryOverhead + entry.command.payload.size();
    for (const NodeName& name : entry.command.revokes) cost += name.value().size() + 2;
    if (!part.entries.empty() && used + cost > budget) flush();
    part.entries.push_back(entry);
    used += cost;
  }
  flush();
  return parts;
}

}  // namespace cmcl::io
