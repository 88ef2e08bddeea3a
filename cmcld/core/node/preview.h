// Preview: what an operator command would do, changing nothing (`pkgctl ... -t`, issue 10
// item 3; Serviceguard's cmrunpkg/cmhaltpkg/cmmodpkg -t). One pure function plays the
// command forward on a copy of the applied ClusterState with the code that really runs:
// ClusterState::Apply applies the command's ops (and refuses what apply refuses), then the
// coordinator's Decide runs, its ops are applied, and every start and halt they ask of an
// up node is answered at once as a success (the `started` / `halted` reports the agents
// would send), until Decide proposes nothing more. When Decide then only waits for a time
// (a lost owner's lease certainly expiring, Decision::wakeup), the preview moves its
// clock there and goes on, so a failover the command leads to later is listed too, with
// how long from now. The caller's refusals that come before the log (Node::CheckCommand:
// dependencies, maintenance names, disarm bounds) are the caller's: Node::Preview runs
// them first and only previews a command they let through.
//
// Contract: the state passed in is never changed (the function works on its own copy);
// nothing is proposed or logged. Steps come in the order they would happen: the
// command's own effects, then each decision in turn (packages in the map order of the
// state within one decision). A step is derived from what apply did, not from the ops:
// an op that apply drops (stale) shows nothing. The plan assumes nothing else changes —
// no node is lost or comes back, every script succeeds — and stops after kRounds
// decisions (`bounded` then says the plan may go on). The result is deterministic.
//
// Accepted: the batch applies (no apply refusal) and the command's outcome, if it has
// one (run, halt, move, enable, package maintenance), is not a failure by the end of
// the plan: a move that migration validation refuses, or a run no node can take, is not
// accepted, with the outcome's message, as the real command would fail.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cmcld/core/common/names.h"
#include "cmcld/core/common/time.h"
#include "cmcld/core/config/cluster_config.h"
#include "cmcld/core/node/cluster_state.h"
#include "cmcld/core/node/coordinator.h"
#include "cmcld/core/validation/config_index.h"

namespace cmcl::node {

enum class PreviewAction : uint8_t {
  kStart,         // `node` is assigned the package and starts it (from `from`, if it ran there).
  kHalt,          // `node` is asked to halt it.
  kDown,          // Its lost owner's assignment ends; it is placed nowhere.
  kStaysDown,     // It does not run and will not: `reason` is the coordinator's note.
  kStays,         // It keeps running where it is, with the coordinator's note (`reason`).
  kEnded,         // An operator command or intent on it ends (`reason`: its outcome).
  kClusterStart,  // Initial placement begins (`reason`).
};
std::string_view PreviewActionName(PreviewAction action);  // "start", "stays_down", ...

struct PreviewStep {
  PreviewAction action = PreviewAction::kStart;
  std::optional<PackageName> package;
  std::optional<NodeName> node;
  std::optional<NodeName> from;  // kStart: where it ran before (a move, failover, failback).
  std::string reason;            // "move", "failback", "node_halt", a note, an outcome.
  Duration after = Duration(0);  // From now: 0 unless the plan waited (a lease expiry).
  std::string text;              // One line: "start hpvm1 on ivmcl02 (move, from ivmcl01)".
  friend bool operator==(const PreviewStep&, const PreviewStep&) = default;
};

struct PreviewPlan {
  bool accepted = false;
  std::string refused;  // !accepted: why (apply's refusal, or the failed outcome).
  std::vector<PreviewStep> steps;
  bool bounded = false;  // kRounds decisions were made and Decide still had more.
  // Set by Node::Preview: the plan uses the coordinator's own liveness (this node is the
  // ready leader); false: every member not halted was counted up, none lost.
  bool authoritative = true;
  friend bool operator==(const PreviewPlan&, const PreviewPlan&) = default;
};

struct PreviewInputs {
  const config::ClusterConfig& config;
  const validation::ConfigIndex& index;
  const ClusterState& state;  // The applied state; copied, never changed.
  // The liveness the coordinator would decide from, for a given state (the certain
  // expiries depend on ClusterState::WaitFor, which an arm or disarm changes). The
  // preview sets `now` itself when it waits for a wakeup.
  std::function<Liveness(const ClusterState&)> liveness;
  OpBatch command;  // The operator's ops, as the control API would propose them.
};

inline constexpr int kPreviewRounds = 64;  // Decisions (Decide calls that proposed).
inline constexpr int kPreviewWakeups = 8;  // Times the clock may move to a wakeup.
inline constexpr Duration kPreviewHorizon = std::chrono::hours(24);  // No wakeup later.

// REQUIRES: `index` indexes `config`.
PreviewPlan Preview(const PreviewInputs& in);

}  // namespace cmcl::node
