// The dashboard's data (GET /dashboard.json on metrics_address; README "Dashboard"):
// what `pkgctl view`, `pkgctl readiness` and `pkgctl events` answer on this node, in one
// object, from the same builders (view_render.h, validation::ReadinessJson,
// control::EventsAnswer), so the page and pkgctl never disagree. Like the view it answers
// at once from this node's applied state; `answered_by` says which node answered and
// whether its state may lag the coordinator's.
//
// Two halves, as metrics_model.h: GatherDashboard reads the node (io thread, the Node's
// owner), DashboardJson turns plain facts into the JSON (pure, unit-tested).
//
// {"dashboard": 1,
//  "answered_by": {"node", "is_coordinator", "quorum", "may_lag",
//                  "lease_remaining_ms" (0 once ended, null without a lease)},
//  "banners": ["..."],     // What the page shows above everything, in this order.
//  "view": {...},          // pkgctl view -o json
//  "readiness": [...],     // pkgctl readiness -o json
//  "events": [...]}        // pkgctl events --limit kDashboardEvents -o json
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "cmcld/core/node/cluster_state.h"
#include "cmcld/core/validation/readiness.h"
#include "cmcld/io/control/view_render.h"

namespace cmcl::io::metrics {

// The newest events the dashboard shows.
inline constexpr size_t kDashboardEvents = 25;

struct DashboardFacts {
  control::ViewModel view;
  std::vector<validation::PackageReadiness> readiness;
  std::deque<node::ClusterEvent> events;  // Oldest first; DashboardJson keeps the newest.
  // This node's lease left (metrics_model.h's cmcl_lease_remaining_seconds): 0 once it
  // ended, nullopt when it never had one. Only the answering node's own lease is known.
  std::optional<int64_t> lease_remaining_ms;
};

// `readiness` is node::Node::Readiness() (not const: it caches), read by the caller.
DashboardFacts GatherDashboard(const control::ViewInputs& inputs,
                               const std::vector<validation::PackageReadiness>& readiness);

// The banners, each one sentence: no quorum (the view's warning), a follower's state that
// may lag, disarmed (control::DisarmedText), cold start waiting (control::StartWaitText).
std::vector<std::string> DashboardBanners(const control::ViewModel& view);
// True when this node's answer may lag the coordinator's: it is not the coordinator, or
// it has no quorum.
bool DashboardMayLag(const control::ViewModel& view);

std::string DashboardJson(const DashboardFacts& facts);

}  // namespace cmcl::io::metrics
