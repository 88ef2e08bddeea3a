// The fault controls of the simulation (NemesisHost): crash, pause and resume, clock
// drift, clogged links, and the liveness phase's choice of which minority stays faulty.
#include <sstream>

#include "cmcld/core/common/check.h"
#include "tests/sim/simulation.h"

namespace cmcl::sim::internal {

std::optional<size_t> Simulation::LeaderIndex() const {
  const std::optional<NodeName> leader = Leader();
  return leader ? IndexOf(*leader) : std::nullopt;
}

void Simulation::ScheduleNemesis(Time at, size_t nemesis, uint64_t tag) {
  Schedule(at, NodeEvent(EventKind::kNemesis, nemesis, tag));
}

// Daemon crash: cmcld's core is gone; the guard holds its deadline and the guests run
// on. The disk is treated as after a power loss (the unsynced tail is lost, partly
// kept or torn, SimDisk::Crash): a superset of what a killed process can leave.
void Simulation::CrashNode(size_t node) {
  NodeSlot& slot = nodes_[node];
  if (slot.core == nullptr) {
    return;
  }
  const std::string detail = std::to_string(slot.disk.unsynced_writes()) + " unsynced writes, " +
                             std::to_string(slot.queued.size()) + " queued events" +
                             (slot.paused ? " (was paused)" : "") + ", " +
                             std::to_string(slot.host->held().size()) + " guests run on";
  slot.core.reset();
  slot.paused = false;
  slot.queued.clear();
  Rng rng = disk_rng_.Fork("crash/" + slot.name.value() + "/" + std::to_string(slot.incarnation));
  Trace(slot.name.value(), "crash", detail + "; " + slot.disk.Crash(rng));
}

// Node crash: power loss. cmcld, the guard and every guest die at once.
void Simulation::CrashWholeNode(size_t node) {
  NodeSlot& slot = nodes_[node];
  const size_t guests = slot.host->held().size();
  CrashNode(node);
  slot.guard->Crash();
  slot.host->Crash();
  ScheduleGuard(node);
  ScheduleHost(node);
  Trace(slot.name.value(), "node-crash", std::to_string(guests) + " guests died with the node");
}

// The process stops; its clock does not. Events for it queue (DeferIfPaused).
void Simulation::PauseNode(size_t node) {
  NodeSlot& slot = nodes_[node];
  if (slot.core == nullptr || slot.paused) {
    return;
  }
  slot.paused = true;
  Trace(slot.name.value(), "pause", "local " + std::to_string(LocalNow(node).milliseconds()));
}

bool Simulation::DeferIfPaused(const Event& event) {
  NodeSlot& slot = nodes_[event.node];
  if (!slot.paused) {
    return false;
  }
  slot.queued.push_back(event);
  return true;
}

// Everything queued arrives at once, and the overdue timers fire: before or after the
// queue, as the seed picks (a resumed process may see its timers or its socket first).
void Simulation::ResumeNode(size_t node) {
  NodeSlot& slot = nodes_[node];
  if (slot.core == nullptr || !slot.paused) {
    return;
  }
  slot.paused = false;
  std::vector<Event> queued;
  queued.swap(slot.queued);
  const bool timers_first = nemesis_rng_.Chance(1, 2);
  Trace(slot.name.value(), "resume",
        std::to_string(queued.size()) + " queued events, timers " +
            (timers_first ? "first" : "last") + ", local " +
            std::to_string(slot.clock.Peek(now_).milliseconds()));
  if (timers_first) {
    Execute(node, slot.core->Tick(LocalNow(node)));
  }
  for (const Event& event : queued) {
    if (slot.core == nullptr || violation()) {
      return;
    }
    Dispatch(event);
  }
  if (!timers_first && slot.core != nullptr) {
    Execute(node, slot.core->Tick(LocalNow(node)));
  }
}

void Simulation::SetClockDrift(size_t node, int64_t drift_ppm) {
  NodeSlot& slot = nodes_[node];
  CMCL_CHECK(drift_ppm >= -options_.clock_drift_max_ppm &&
             drift_ppm <= options_.clock_drift_max_ppm);
  slot.clock.SetDrift(now_, drift_ppm);
  Trace(slot.name.value(), "drift", std::to_string(drift_ppm) + "ppm");
  if (slot.core != nullptr) {  // The pending timer was converted at the old rate.
    slot.wakeup_at.reset();
    ScheduleWakeup(node);
  }
  slot.guard_at.reset();  // So is the guard's deadline.
  ++slot.guard_token;
  ScheduleGuard(node);
}

void Simulation::Clog(const Link& link) { clogged_.insert(link); }

void Simulation::Unclog(const Link& link) {
  clogged_.erase(link);
  std::vector<std::pair<Link, Message>> still;
  for (auto& [held_link, message] : held_) {
    if (held_link != link) {
      still.emplace_back(held_link, std::move(message));
      continue;
    }
    Event event = NodeEvent(EventKind::kDeliver, *IndexOf(link.second));
    event.message = std::move(message);
    Schedule(now_ + network_->Delay(link.first, link.second), std::move(event));
  }
  held_.swap(still);
}

void Simulation::HoldMessagesTo(const std::string& name, const std::string& type, bool hold) {
  if (hold) {
    hold_to_.insert({NodeName(name), type});
  } else {
    hold_to_.erase({NodeName(name), type});
  }
}

void Simulation::ReleaseHeld() {
  for (Message& message : held_messages_) {
    Event event = NodeEvent(EventKind::kDeliver, *IndexOf(message.header.to));
    event.message = std::move(message);
    Schedule(now_ + Duration(1), std::move(event));
  }
  held_messages_.clear();
}

void Simulation::SendMessage(size_t from, const Message& message) {
  const std::optional<size_t> to = IndexOf(message.header.to);
  CMCL_CHECK(to.has_value()) << "send to unknown node " << message.header.to;
  if (!hold_to_.empty() &&
      hold_to_.contains({message.header.to, std::string(raft::MessageTypeName(message))})) {
    Trace(nodes_[from].name.value(), "held", DescribeMessage(message));
    held_messages_.push_back(message);
    return;
  }
  const Link link{message.header.from, message.header.to};
  if (clogged_.contains(link)) {
    Trace(nodes_[from].name.value(), "held", DescribeMessage(message));
    held_.emplace_back(link, message);
    return;
  }
  const std::vector<Duration> delays = network_->Route(link.first, link.second);
  if (delays.empty()) {
    Trace(nodes_[from].name.value(), "drop", DescribeMessage(message));
  }
  for (const Duration delay : delays) {
    Event event = NodeEvent(EventKind::kDeliver, *to);
    event.message = message;
    Schedule(now_ + delay, std::move(event));
  }
}

// A core can elect a leader only if some node of it holds a log at least as up to date
// (5.4.1) as every other core node's and can campaign: a member, or an arbitrator that
// leads as caretaker and hands over to a member of the core (raft.h). Otherwise every
// candidate in the core is refused by the node with the better log.
bool Simulation::CoreCanElect(const std::vector<bool>& outcast) const {
  // Last term and index of the whole log, snapshot included (logs are compacted).
  const auto last = [&](size_t i) {
    const Raft& raft = nodes_[i].core->raft();
    return std::make_pair(raft.last_term(), raft.last_index());
  };
  std::pair<raft::Term, raft::LogIndex> best;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (!outcast[i]) {
      best = std::max(best, last(i));
    }
  }
  bool member_in_core = false;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    member_in_core =
        member_in_core || (!outcast[i] && voters_[i].role == config::NodeRole::kMember);
  }
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (!outcast[i] && last(i) == best &&
        (voters_[i].role == config::NodeRole::kMember || member_in_core)) {
      return true;
    }
  }
  return false;
}

// The liveness phase keeps options_.outcasts voters (a minority) faulty for good:
// crashed, paused or isolated, as TigerBeetle's liveness mode keeps some replicas down.
// Messages they sent that are still in flight are lost (Dispatch), so that the core's
// logs change only through the core from now on.
void Simulation::PickOutcasts() {
  Rng rng = root_.Fork("liveness/outcasts");
  std::vector<size_t> order(nodes_.size());
  for (size_t i = 0; i < order.size(); ++i) {
    order[i] = i;
  }
  for (size_t i = order.size(); i > 1; --i) {
    std::swap(order[i - 1], order[rng.Uniform(i)]);
  }
  outcast_.assign(nodes_.size(), false);
  int picked = 0;
  for (const size_t node : order) {
    if (picked == options_.outcasts) {
      break;
    }
    outcast_[node] = true;
    if (!CoreCanElect(outcast_)) {
      outcast_[node] = false;
      continue;
    }
    ++picked;
  }
  std::set<Link> isolated;
  for (const size_t node : order) {
    if (!outcast_[node]) {
      continue;
    }
    const uint64_t how = rng.Uniform(4);
    static constexpr const char* kHow[] = {" crashed", " paused", " isolated", " node-crashed"};
    outcasts_ += " " + nodes_[node].name.value() + kHow[how];
    if (how == 0) {
      CrashNode(node);
    } else if (how == 1) {
      PauseNode(node);
    } else if (how == 3) {
      CrashWholeNode(node);
    }
    for (const NodeName& other : names_) {
      if (how == 2 && other != nodes_[node].name) {
        isolated.insert({other, nodes_[node].name});
        isolated.insert({nodes_[node].name, other});
      }
    }
  }
  network_->SetBlocked("liveness", std::move(isolated));
  if (outcasts_.empty()) {
    outcasts_ = " none";
  }
}

}  // namespace cmcl::sim::internal
