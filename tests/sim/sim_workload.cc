// The workload (clients with at most one command outstanding, retrying with the same
// sequence after a timeout, a redirect or an unknown outcome) and the liveness phase.
#include <algorithm>
#include <cstdint>
#include <sstream>

#include "tests/sim/simulation.h"

namespace cmcl::sim::internal {

void Simulation::OnReply(const ClientReply& reply) {
  ClientState& client = clients_.at(reply.client_id.value() - 1);
  if (reply.sequence != client.sequence) {
    return;  // A late reply for a command already acknowledged.
  }
  std::ostringstream detail;
  detail << "c" << reply.client_id << "." << reply.sequence << " ";
  switch (reply.code) {
    case raft::ReplyCode::kApplied:
      detail << "applied at " << reply.applied_index;
      ++client.sequence;
      Trace("-", "ack", detail.str());
      RetryClient(reply.client_id.value() - 1,
                  Duration(client_rng_.Between(0, options_.client_think_max.count())),
                  client.target);
      return;
    case raft::ReplyCode::kNotLeader:
      Trace("-", "redirect", detail.str() + (reply.leader_hint ? reply.leader_hint->value() : "?"));
      RetryClient(reply.client_id.value() - 1, kClientRedirectDelay,
                  reply.leader_hint ? IndexOf(*reply.leader_hint) : std::nullopt);
      return;
    case raft::ReplyCode::kRejected:
      // The core refused the command as malformed: a bug in the workload, not a fault.
      CMCL_CHECK(false) << "command rejected: " << reply.detail;
      return;
    case raft::ReplyCode::kStale:
      // A late copy of an older request: the client has moved on; nothing to do.
      Trace("-", "stale", detail.str());
      return;
    case raft::ReplyCode::kBusy:
    case raft::ReplyCode::kUnknownOutcome:
      Trace("-", "unknown", detail.str());
      RetryClient(reply.client_id.value() - 1, kClientRedirectDelay, std::nullopt);
      return;
  }
}

void Simulation::RetryClient(size_t client, Duration after, std::optional<size_t> target) {
  ClientState& state = clients_[client];
  ++state.token;
  state.target = target;
  Schedule(now_ + after, ClientEvent(EventKind::kClientSend, client, state.token));
}

void Simulation::OnClientSend(size_t client) {
  ClientState& state = clients_[client];
  if (!state.target) {
    state.target = client_rng_.Uniform(nodes_.size());
  }
  ++state.token;
  Schedule(now_ + options_.client_retry_timeout,
           ClientEvent(EventKind::kClientTimeout, client, state.token));
  NodeSlot& slot = nodes_[*state.target];
  std::ostringstream detail;
  detail << "c" << state.id << "." << state.sequence << " to " << slot.name;
  Trace("-", "propose", detail.str());
  if (slot.raft == nullptr) {
    return;  // The timeout retries elsewhere.
  }
  Event propose = NodeEvent(EventKind::kPropose, *state.target, state.sequence);
  propose.command = raft::Command{.client_id = state.id,
                                  .sequence = state.sequence,
                                  .payload = "set x" + std::to_string(state.sequence), .revokes = {}};
  Dispatch(propose);  // Queued if the node is paused.
}

void Simulation::OnHeal() {
  healed_ = true;
  healed_at_ = now_;
  acks_at_heal_ = checker_.acks();
  for (const std::unique_ptr<Nemesis>& nemesis : nemeses_) {
    nemesis->Heal(*this);
  }
  network_->HealForever("liveness");
  for (const Link& link : std::set<Link>(clogged_)) {
    Unclog(link);
  }
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].raft == nullptr) {
      StartNode(i);
    }
    ResumeNode(i);
  }
  PickOutcasts();
  liveness_deadline_ = options_.liveness_bound + CatchUpAllowance();
  Trace("-", "heal",
        "nemeses stopped, loss stopped; outcasts:" + outcasts_ + "; deadline in " +
            std::to_string(liveness_deadline_.count()) + "ms");
  Schedule(now_ + liveness_deadline_, GlobalEvent(EventKind::kLivenessDeadline));
}

// A new command commits only once a majority holds the log up to it, so a core member
// that lags L entries behind the longest core log must first catch up: at worst one
// batch of entries_per_message_max per round trip (two network delays, the follower's
// persist, and a heartbeat interval for a retransmission). With batch 1 and a long
// partition that is tens of seconds, which no election-based bound covers.
Duration Simulation::CatchUpAllowance() const {
  uint64_t longest = 0;
  uint64_t shortest = UINT64_MAX;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (!outcast_[i] && nodes_[i].raft != nullptr) {
      longest = std::max<uint64_t>(longest, nodes_[i].raft->last_index().value());
      shortest = std::min<uint64_t>(shortest, nodes_[i].raft->last_index().value());
    }
  }
  const uint64_t batches =
      (longest - std::min(shortest, longest) + options_.entries_per_message_max - 1) /
      options_.entries_per_message_max;
  const int64_t round_trip = 2 * options_.delay_max.count() + options_.disk_latency_max.count() +
                             options_.heartbeat_interval.count();
  return Duration(static_cast<int64_t>(batches) * round_trip);
}

void Simulation::CheckLiveness() {
  for (const NodeSlot& slot : nodes_) {
    if (slot.raft == nullptr || slot.paused || slot.raft->role() != Role::kLeader) {
      continue;
    }
    if (!result_.leader_after_heal_ms) {
      result_.leader_after_heal_ms = (now_ - healed_at_).count();
    }
    if (checker_.acks() > acks_at_heal_ &&
        slot.raft->applied_index() >= checker_.acked_index_max()) {
      Trace(slot.name.value(), "live", "leader acknowledged a command after the heal");
      done_ = true;
      return;
    }
  }
}

}  // namespace cmcl::sim::internal
