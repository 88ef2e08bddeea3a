// Fuzz harness: the core's message handling (issue 11 item 4). The input is a script of
// inputs to one cmcl::node::Node ("n1" of a fixed three-member cluster with two
// packages): messages from its peers, built field by field from the input bytes, mixed
// with what its driver does (time passing, persists completing, guard acknowledgements,
// guest results, commands, compaction). The driver part keeps the contract of node.h and
// raft/actions.h — persists are completed in order and only once emitted, guests are
// answered once per action — so every CMCL_CHECK that fires is one that a peer's message
// could fire in cmcld: a bug (a peer, even a buggy or hostile one, must not stop a node).
//
// Peers also answer the node's own messages as the protocol says (AnswerHonestly), so
// that it can win elections and lead. Messages are otherwise hostile but near the mark, so that the
// fuzzer reaches deep states: terms and indices are picked around the node's own (term - 1 .. term
// + 3, last_index - 3 .. last_index + 3), names among the voters, self and a stranger, payloads
// among valid encoded ops and raw bytes, snapshot states among valid encoded states and raw bytes.
//
// Properties beyond "no crash": the node's term and commit index never go back, it
// applies only committed entries, and everything it sends comes from n1.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "cmcld/core/common/check.h"
#include "cmcld/core/node/cluster_state.h"
#include "cmcld/core/node/node.h"

namespace {

using namespace cmcl;        // NOLINT: the harness speaks the core's types.
using namespace cmcl::node;  // NOLINT

constexpr uint64_t kClusterId = 0xc1c1;
constexpr size_t kStepsMax = 400;  // Bounds one input's run time (libFuzzer -timeout).
constexpr size_t kSentKept = 16;   // The node's messages kept for honest answers.

// The input bytes, read front to back; zeros once they run out.
class Bytes {
 public:
  Bytes(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool empty() const { return at_ >= size_; }
  uint8_t Next() { return at_ < size_ ? data_[at_++] : 0; }
  uint64_t Below(uint64_t n) { return Next() % n; }
  bool Flag() { return (Next() & 1) != 0; }
  uint64_t U64() {
    uint64_t value = 0;
    for (int i = 0; i < 8; ++i) value = (value << 8) | Next();
    return value;
  }
  std::string Text(size_t max) {
    const size_t length = static_cast<size_t>(Below(max + 1));
    std::string text;
    for (size_t i = 0; i < length && !empty(); ++i) text.push_back(static_cast<char>(Next()));
    return text;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t at_ = 0;
};

std::vector<raft::Voter> Voters() {
  std::vector<raft::Voter> voters;
  for (const char* name : {"n1", "n2", "n3"}) {
    voters.push_back(raft::Voter{.name = NodeName(name), .role = config::NodeRole::kMember});
  }
  return voters;
}

NodeOptions Options() {
  NodeOptions options;
  options.raft.cluster_id = raft::ClusterId(kClusterId);
  options.raft.self = NodeName("n1");
  options.raft.voters = Voters();
  options.raft.election_timeout_min = Duration(1000);
  options.raft.heartbeat_interval = Duration(100);
  options.raft.lease_length = Duration(1000);
  options.fence_timeout = Duration(200);
  options.state.lease_length = Duration(1000);
  auto config = std::make_shared<config::ClusterConfig>();
  config->cluster_name = ClusterName("fuzz");
  for (const raft::Voter& voter : options.raft.voters) {
    config->nodes.push_back(config::NodeSpec{});
    config->nodes.back().name = voter.name;
    config->nodes.back().role = voter.role;
  }
  for (const char* name : {"p1", "p2"}) {
    config::PackageSpec package;
    package.name = PackageName(name);
    package.all_nodes = true;
    package.nodes = config->Members();
    config->packages.push_back(std::move(package));
  }
  options.config = std::move(config);
  return options;
}

// One Node and its driver's bookkeeping.
class Harness {
 public:
  explicit Harness(Bytes& in)
      : in_(in),
        node_(Options(),
              raft::PersistedState{.hard_state = {.cluster_id = raft::ClusterId(kClusterId),
                                                  .node_id = raft::NodeId(101),
                                                  .term = raft::Term(0),
                                                  .voted_for = std::nullopt},
                                   .snapshot = std::nullopt,
                                   .entries = {}},
              Rng(in.U64()), now_) {
    Take(node_.Attach(now_, GuardState{}));
  }

  void Run() {
    for (size_t step = 0; step < kStepsMax && !in_.empty(); ++step) One();
  }

 private:
  void One() {
    switch (in_.Below(11)) {
      case 0:
        now_ += Duration(in_.Next() * 8);
        Take(node_.Tick(now_));
        return;
      case 1:
        if (persist_done_ < persist_last_) {
          persist_done_ = persist_last_ - in_.Below(persist_last_ - persist_done_);
          Take(node_.PersistCompleted(now_, persist_done_));
        }
        return;
      case 2:
        if (guard_last_ > 0) Take(node_.GuardAcked(now_, guard_last_));
        return;
      case 3:
        AnswerGuest();
        return;
      case 4:
        Take(in_.Flag() ? node_.Propose(now_, ClientCommand())
                        : node_.Forward(now_, ClientCommand()));
        return;
      case 5:
        if (in_.Below(4) == 0) Take(node_.Compact(now_));
        return;
      case 6:
        AnswerHonestly();
        return;
      default:
        Take(node_.Step(now_, PeerMessage()));
        return;
    }
  }

  // A peer that follows the protocol answers one of the node's messages (the oldest
  // kept, or one dropped): votes granted, appends matched, leases confirmed. It lets the
  // fuzzer reach the leader's paths (commit, leases, the coordinator, guests started).
  void AnswerHonestly() {
    if (sent_.empty()) return;
    if (in_.Below(4) == 0) {
      sent_.pop_front();  // Lost.
      return;
    }
    const raft::Message request = std::move(sent_.front());
    sent_.pop_front();
    const NodeName& peer = request.header.to;
    const raft::NodeId id(peer == NodeName("n2") ? 102 : 103);
    raft::Header header{.cluster_id = raft::ClusterId(kClusterId),
                        .from = peer,
                        .to = NodeName("n1"),
                        .term = request.header.term};
    if (const auto* vote = std::get_if<raft::VoteRequest>(&request.body)) {
      Take(node_.Step(
          now_, raft::Message{.header = header,
                              .body = raft::VoteResponse{
                                  .kind = vote->kind, .granted = true, .voter_node_id = id}}));
    } else if (const auto* append = std::get_if<raft::AppendRequest>(&request.body)) {
      Take(node_.Step(
          now_, raft::Message{.header = header,
                              .body = raft::AppendResponse{
                                  .success = true,
                                  .match_index = append->prev_log_index + append->entries.size(),
                                  .rejected_index = {},
                                  .last_index = {},
                                  .node_id = id,
                                  .round = append->round,
                                  .nonce = {.incarnation = 1, .seq = ++nonce_seq_}}}));
    }
  }

  void AnswerGuest() {
    if (guests_.empty()) return;
    const GuestAction action = guests_.front();
    guests_.pop_front();
    // What the runtime can answer to each verb (node.h, GuestStatus).
    GuestResult result;
    switch (action.verb) {
      case GuestVerb::kRun:
      case GuestVerb::kHalt: {
        const bool ok = in_.Flag();
        result.status = !ok                              ? GuestStatus::kFailed
                        : action.verb == GuestVerb::kRun ? GuestStatus::kRunning
                                                         : GuestStatus::kStopped;
        result.exit_code = ok ? 0 : static_cast<int>(1 + in_.Below(2));
        result.timed_out = !ok && in_.Below(4) == 0;
        break;
      }
      case GuestVerb::kKill:
        result.status = in_.Flag() ? GuestStatus::kStopped : GuestStatus::kUnknown;
        break;
      case GuestVerb::kStatus:
        result.status = static_cast<GuestStatus>(in_.Below(3)) == GuestStatus::kFailed
                            ? GuestStatus::kUnknown
                            : static_cast<GuestStatus>(in_.Below(2));
        break;
    }
    Take(node_.GuestReported(now_, action.guest, action.verb, result));
  }

  // Checks the properties and keeps what the driver must answer.
  void Take(NodeActions actions) {
    const raft::Raft& raft = node_.raft();
    CMCL_CHECK(raft.term() >= term_) << "term went back from " << term_ << " to " << raft.term();
    CMCL_CHECK(raft.commit_index() >= commit_)
        << "commit index went back from " << commit_ << " to " << raft.commit_index();
    CMCL_CHECK(raft.applied_index() <= raft.commit_index())
        << "applied " << raft.applied_index() << " past commit " << raft.commit_index();
    term_ = raft.term();
    commit_ = raft.commit_index();
    for (const raft::Actions& batch : actions.raft) {
      if (batch.persist) persist_last_ = batch.persist->id;
      for (const raft::Message& message : batch.sends) {
        CMCL_CHECK(message.header.from == NodeName("n1")) << "sent as " << message.header.from;
        if (sent_.size() < kSentKept) sent_.push_back(message);
      }
    }
    for (const GuardRequest& request : actions.guard) guard_last_ = request.id;
    for (GuestAction& action : actions.guests) guests_.push_back(std::move(action));
  }

  NodeName Name() {
    switch (in_.Below(8)) {
      case 0:
        return NodeName("n1");
      case 1:
        return NodeName("x9");  // Not a voter.
      default:
        return NodeName(in_.Flag() ? "n2" : "n3");
    }
  }
  raft::Term Term() {
    const uint64_t term = node_.raft().term().value();
    const uint64_t pick = in_.Next();
    if (pick >= 250) return raft::Term(in_.U64());
    return raft::Term(term + pick % 5 > 0 ? term + pick % 5 - 1 : 0);
  }
  raft::LogIndex Index() {
    const uint64_t last = node_.raft().last_index().value();
    const uint64_t pick = in_.Next();
    if (pick >= 250) return raft::LogIndex(in_.U64());
    return raft::LogIndex(last + pick % 7 >= 3 ? last + pick % 7 - 3 : 0);
  }

  std::string OpsPayload() {
    const PackageName package(in_.Flag() ? "p1" : "p2");
    OpBatch ops;
    switch (in_.Below(8)) {
      case 0:
        ops.push_back(
            AssignOp{.resource = package, .node = Name(), .from_epoch = Index(), .reason = "fuzz"});
        break;
      case 1:
        ops.push_back(ReportOp{.resource = package,
                               .node = Name(),
                               .epoch = Index(),
                               .kind = static_cast<ReportKind>(
                                   in_.Below(static_cast<uint64_t>(ReportKind::kStray) + 1))});
        break;
      case 2:
        ops.push_back(RunOp{.package = package, .node = std::nullopt, .by = "fuzz"});
        break;
      case 3:
        ops.push_back(HaltOp{.package = package, .by = "fuzz"});
        break;
      case 4:
        ops.push_back(ClusterRunOp{.by = "fuzz"});
        break;
      case 5:
        ops.push_back(DisarmOp{.length = Duration(in_.Next() * 100)});
        break;
      case 6:
        ops.push_back(ArmOp{});
        break;
      default:
        return in_.Text(48);  // Raw bytes: mostly not an op batch.
    }
    return EncodeOps(ops);
  }

  raft::Command ClientCommand() {
    raft::Command command{.client_id = raft::ClientId(1 + in_.Below(4)),
                          .sequence = in_.Below(8),
                          .payload = OpsPayload()};
    if (in_.Below(8) == 0) command.revokes.push_back(Name());
    return command;
  }

  std::vector<raft::Entry> Entries(raft::LogIndex prev, raft::Term prev_term) {
    std::vector<raft::Entry> entries;
    const uint64_t count = in_.Below(4);
    raft::Term term = prev_term;
    for (uint64_t i = 0; i < count; ++i) {
      if (in_.Below(4) == 0) term = Term();
      const bool noop = in_.Below(4) == 0;
      entries.push_back(
          raft::Entry{.term = term,
                      .index = raft::LogIndex(prev.value() + i + 1),
                      .kind = noop ? raft::EntryKind::kNoop : raft::EntryKind::kCommand,
                      .command = noop ? raft::Command{} : ClientCommand()});
    }
    return entries;
  }

  std::string SnapshotState() {
    switch (in_.Below(3)) {
      case 0:
        return node_.state().Encode();
      case 1:
        return ClusterState(ClusterState::Options{}).Encode();
      default:
        return in_.Text(64);
    }
  }

  raft::Body Body() {
    switch (in_.Below(9)) {
      case 0:
        return raft::VoteRequest{
            .kind = in_.Flag() ? raft::VoteKind::kVote : raft::VoteKind::kPreVote,
            .last_log_index = Index(),
            .last_log_term = Term(),
            .transfer = in_.Below(4) == 0};
      case 1:
        return raft::VoteResponse{
            .kind = in_.Flag() ? raft::VoteKind::kVote : raft::VoteKind::kPreVote,
            .granted = in_.Below(4) != 0,
            .voter_node_id = raft::NodeId(100 + in_.Below(4))};
      case 2:
      case 3: {
        const raft::LogIndex prev = Index();
        const raft::Term prev_term = Term();
        return raft::AppendRequest{.prev_log_index = prev,
                                   .prev_log_term = prev_term,
                                   .entries = Entries(prev, prev_term),
                                   .leader_commit = Index(),
                                   .round = in_.Below(16)};
      }
      case 4:
        return raft::AppendResponse{.success = in_.Flag(),
                                    .match_index = Index(),
                                    .rejected_index = Index(),
                                    .last_index = Index(),
                                    .node_id = raft::NodeId(100 + in_.Below(4)),
                                    .round = in_.Below(16),
                                    .nonce = {.incarnation = in_.Below(4), .seq = in_.Below(16)}};
      case 5:
        return raft::InstallSnapshot{.snapshot = {.last_index = Index(),
                                                  .last_term = Term(),
                                                  .clients = {},
                                                  .state = SnapshotState()},
                                     .round = in_.Below(16)};
      case 6:
        return raft::LeaseGrant{
            .grant = {.nonce = {.incarnation = in_.Below(4), .seq = in_.Below(16)},
                      .lease = Duration(in_.Next() * 16),
                      .mode = static_cast<raft::LeaseMode>(
                          in_.Below(static_cast<uint64_t>(raft::LeaseMode::kDisarmed) + 1)),
                      .min_applied = Index()}};
      case 7:
        if (in_.Flag()) return raft::ForwardRequest{.command = ClientCommand()};
        return raft::ForwardReply{
            .reply = {.client_id = raft::ClientId(in_.Below(4)),
                      .sequence = in_.Below(8),
                      .code = static_cast<raft::ReplyCode>(
                          in_.Below(static_cast<uint64_t>(raft::ReplyCode::kRejected) + 1)),
                      .applied_index = Index(),
                      .leader_hint = std::nullopt,
                      .detail = {}}};
      default:
        return raft::TimeoutNow{};
    }
  }

  raft::Message PeerMessage() {
    const uint64_t cluster = in_.Below(16) == 0 ? in_.U64() : kClusterId;
    raft::Header header{.cluster_id = raft::ClusterId(cluster),
                        .from = Name(),
                        .to = in_.Below(8) == 0 ? Name() : NodeName("n1"),
                        .term = Term()};
    return raft::Message{.header = std::move(header), .body = Body()};
  }

  Bytes& in_;
  Time now_ = Time::FromMilliseconds(1000);
  Node node_;
  raft::Term term_;
  raft::LogIndex commit_;
  uint64_t persist_last_ = 0;
  uint64_t persist_done_ = 0;
  uint64_t guard_last_ = 0;
  std::deque<GuestAction> guests_;
  std::deque<raft::Message> sent_;  // What the node sent, for AnswerHonestly.
  uint64_t nonce_seq_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Bytes in(data, size);
  Harness harness(in);
  harness.Run();
  return 0;
}
