// Writes the generated seeds of the fuzz corpus (tools/fuzz.sh --seeds): one encoded
// peer message of every body type (tests/fuzz/corpus/peer_wire/) and a few fixed
// pseudo-random scripts for the node harness (corpus/node/). The committed files are
// its output; it runs again only when the wire format or the harnesses change.
//
//   fuzz_seeds CORPUS_DIR
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "cmcld/core/common/rng.h"
#include "cmcld/io/peer/peer_transport.h"

namespace {

namespace fs = std::filesystem;
using namespace cmcl;  // NOLINT: the seeds speak the core's types.

void Write(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

raft::Command SomeCommand(const std::string& payload) {
  return raft::Command{.client_id = raft::ClientId(7),
                       .sequence = 3,
                       .payload = payload,
                       .revokes = {NodeName("n3")}};
}

std::vector<raft::Body> EveryBody() {
  return {
      raft::VoteRequest{.kind = raft::VoteKind::kPreVote,
                        .last_log_index = raft::LogIndex(4),
                        .last_log_term = raft::Term(2),
                        .transfer = true},
      raft::VoteResponse{
          .kind = raft::VoteKind::kVote, .granted = true, .voter_node_id = raft::NodeId(102)},
      raft::AppendRequest{.prev_log_index = raft::LogIndex(4),
                          .prev_log_term = raft::Term(2),
                          .entries = {raft::Entry{.term = raft::Term(3),
                                                  .index = raft::LogIndex(5),
                                                  .kind = raft::EntryKind::kNoop,
                                                  .command = {}},
                                      raft::Entry{.term = raft::Term(3),
                                                  .index = raft::LogIndex(6),
                                                  .kind = raft::EntryKind::kCommand,
                                                  .command = SomeCommand(std::string(600, 'a'))},
                                      raft::Entry{.term = raft::Term(3),
                                                  .index = raft::LogIndex(7),
                                                  .kind = raft::EntryKind::kCommand,
                                                  .command = SomeCommand("op")}},
                          .leader_commit = raft::LogIndex(5),
                          .round = 9},
      raft::AppendResponse{.success = false,
                           .match_index = raft::LogIndex(0),
                           .rejected_index = raft::LogIndex(4),
                           .last_index = raft::LogIndex(3),
                           .node_id = raft::NodeId(103),
                           .round = 9,
                           .nonce = {.incarnation = 2, .seq = 5}},
      raft::InstallSnapshot{
          .snapshot = {.last_index = raft::LogIndex(40),
                       .last_term = raft::Term(3),
                       .clients = {raft::ClientSession{.client_id = raft::ClientId(7),
                                                       .sequence = 3,
                                                       .index = raft::LogIndex(38)}},
                       .state = "state"},
          .round = 4},
      raft::LeaseGrant{.grant = {.nonce = {.incarnation = 2, .seq = 5},
                                 .lease = Duration(2000),
                                 .mode = raft::LeaseMode::kDisarmed,
                                 .min_applied = raft::LogIndex(40)}},
      raft::ForwardRequest{.command = SomeCommand("forwarded")},
      raft::ForwardReply{.reply = {.client_id = raft::ClientId(7),
                                   .sequence = 3,
                                   .code = raft::ReplyCode::kNotLeader,
                                   .applied_index = raft::LogIndex(0),
                                   .leader_hint = NodeName("n2"),
                                   .detail = "not the leader"}},
      raft::TimeoutNow{},
  };
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz_seeds CORPUS_DIR\n";
    return 2;
  }
  const fs::path corpus = argv[1];
  for (const raft::Body& body : EveryBody()) {
    const raft::Message message{.header = {.cluster_id = raft::ClusterId(0xc1c1),
                                           .from = NodeName("n2"),
                                           .to = NodeName("n1"),
                                           .term = raft::Term(3)},
                                .body = body};
    Write(corpus / "peer_wire" / ("seed-" + raft::MessageTypeName(message)),
          io::EncodePeerMessage(message));
  }
  Rng rng(11);
  for (size_t length : {size_t{64}, size_t{256}, size_t{1024}, size_t{4096}}) {
    std::string script;
    for (size_t i = 0; i < length; ++i) script.push_back(static_cast<char>(rng.Uniform(256)));
    Write(corpus / "node" / ("seed-random-" + std::to_string(length)), script);
  }
  return 0;
}
