// The workload (clients with at most one command outstanding, retrying with the same
// sequence after a timeout, a redirect or an unknown outcome) and the liveness phase.
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
                                  .payload = "set x" + std::to_string(state.sequence)};
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
  Trace("-", "heal", "nemeses stopped, loss stopped; outcasts:" + outcasts_);
  Schedule(now_ + options_.liveness_bound, GlobalEvent(EventKind::kLivenessDeadline));
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
