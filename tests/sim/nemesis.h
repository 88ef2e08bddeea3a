// Nemeses: the named fault kinds of a simulated run (DESIGN.md section 7, STYLE.md rule
// 33; Jepsen's nemeses, FoundationDB's swizzle-clogging). Each is an object the seed
// turns on (SimOptions::nemeses) that draws from its own forked Rng, so turning one on
// or off does not shift another's draws, and each owns its faults, so they compose:
//
//  * crash_restart      daemon crash: a node's cmcld dies (writes in flight are lost)
//                       and restarts from its disk after a downtime; its guard and
//                       guests live on (the guard fences at its deadline).
//  * node_crash         node crash: the whole node loses power: cmcld, guard and
//                       guests die; it restarts from its disk with an empty guard.
//  * pause              the process stops (SIGSTOP): nothing is processed, its timers do
//                       not fire, messages to it queue; its clock keeps running. On
//                       resume everything queued is delivered and due timers fire.
//  * partition          symmetric (isolate a node, often the leader; split in two) or
//                       asymmetric (each directed link blocked with probability 1/3).
//  * flapping_partition one split that comes and goes every flap_period for a while,
//                       so elections start and stop half-way.
//  * one_way_loss       a few directed links lose most of their messages for a while.
//  * far_delay          single messages held up to 3 x node_timeout, arriving long
//                       after everyone moved on.
//  * swizzle_clog       clog a random subset of nodes one by one (their links hold
//                       messages, which arrive once unclogged), then unclog them in
//                       random order.
//  * clock_drift        each node's clock rate changes at random points, within
//                       +-clock_drift_max (every clock has a fixed offset and drift
//                       regardless).
//
// A nemesis acts through NemesisHost (the simulator) and its own scheduled events. At
// the liveness phase the simulator calls Heal() on each, which undoes its faults; the
// host then applies the liveness phase's own outcasts.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cmcld/core/common/names.h"
#include "cmcld/core/common/rng.h"
#include "cmcld/core/common/time.h"
#include "tests/sim/sim_network.h"
#include "tests/sim/sim_options.h"

namespace cmcl::sim {

// What a nemesis may do to the simulated cluster.
class NemesisHost {
 public:
  virtual ~NemesisHost() = default;
  virtual Time Now() const = 0;
  virtual const std::vector<NodeName>& Names() const = 0;
  virtual std::optional<size_t> LeaderIndex() const = 0;
  virtual bool IsRunning(size_t node) const = 0;  // cmcld not crashed (paused counts).
  virtual bool IsPaused(size_t node) const = 0;
  virtual void CrashNode(size_t node) = 0;       // Daemon crash.
  virtual void CrashWholeNode(size_t node) = 0;  // Node crash.
  virtual void RestartNode(size_t node) = 0;
  virtual void PauseNode(size_t node) = 0;
  virtual void ResumeNode(size_t node) = 0;
  virtual void SetClockDrift(size_t node, int64_t drift_ppm) = 0;
  // Clogged links hold their messages; unclogging releases them with ordinary delays.
  virtual void Clog(const Link& link) = 0;
  virtual void Unclog(const Link& link) = 0;
  virtual SimNetwork& Network() = 0;
  // Calls the nemesis's Act(tag) at `at`, unless the liveness phase has begun.
  virtual void ScheduleNemesis(Time at, size_t nemesis, uint64_t tag) = 0;
  virtual void TraceNemesis(const std::string& node, const std::string& what,
                            const std::string& detail) = 0;
};

class Nemesis {
 public:
  virtual ~Nemesis() = default;
  virtual NemesisKind kind() const = 0;
  virtual void Start(NemesisHost& host) = 0;
  virtual void Act(NemesisHost& host, uint64_t tag) = 0;
  virtual void Heal(NemesisHost& host) = 0;  // Undo every fault it caused.
};

// `index` is the nemesis's number for ScheduleNemesis.
std::unique_ptr<Nemesis> MakeNemesis(NemesisKind kind, const SimOptions& options, Rng rng,
                                     size_t index);

}  // namespace cmcl::sim
