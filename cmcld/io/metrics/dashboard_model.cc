#include "cmcld/io/metrics/dashboard_model.h"

#include <algorithm>

#include "cmcld/core/common/json_writer.h"
#include "cmcld/io/control/control_render.h"
#include "cmcld/io/metrics/dashboard_page.h"

namespace cmcl::io::metrics {

DashboardFacts GatherDashboard(const control::ViewInputs& inputs,
                               const std::vector<validation::PackageReadiness>& readiness) {
  DashboardFacts facts;
  facts.view = control::BuildViewModel(inputs);
  facts.readiness = readiness;
  const std::deque<node::ClusterEvent>& events = inputs.node.state().events();
  const size_t skip = events.size() > kDashboardEvents ? events.size() - kDashboardEvents : 0;
  facts.events.assign(events.begin() + static_cast<std::ptrdiff_t>(skip), events.end());
  if (const std::optional<Time> lease_end = inputs.node.raft().lease().lease_end()) {
    facts.lease_remaining_ms = std::max(Duration(0), *lease_end - inputs.now).count();
  }
  return facts;
}

bool DashboardMayLag(const control::ViewModel& view) {
  return !view.quorum || view.coordinator != view.self;
}

std::vector<std::string> DashboardBanners(const control::ViewModel& view) {
  std::vector<std::string> banners;
  if (!view.quorum) {
    // The same words as the view's table banner (view_render.cc).
    banners.push_back(view.self + " has no quorum: this is its last applied state (index " +
                      std::to_string(view.applied_index) +
                      "); other nodes are unknown and packages may be stale");
  } else if (view.coordinator != view.self) {
    banners.push_back("Answered by " + view.self + ", not the coordinator (" +
                      view.coordinator.value_or("none known") +
                      "): what it shows is its own applied state (index " +
                      std::to_string(view.applied_index) +
                      "), which may lag the coordinator's by a moment");
  }
  if (const std::string disarmed = control::DisarmedText(view); !disarmed.empty()) {
    banners.push_back(disarmed);
  }
  if (view.start_wait) banners.push_back(control::StartWaitText(*view.start_wait));
  return banners;
}

std::string DashboardJson(const DashboardFacts& facts) {
  const control::ViewModel& view = facts.view;
  JsonWriter json;
  json.BeginObject().Key("dashboard").Int(1);
  json.Key("answered_by").BeginObject().Key("node").String(view.self);
  json.Key("is_coordinator").Bool(view.coordinator == view.self);
  json.Key("quorum").Bool(view.quorum).Key("may_lag").Bool(DashboardMayLag(view));
  json.Key("lease_remaining_ms");
  if (facts.lease_remaining_ms) {
    json.Int(*facts.lease_remaining_ms);
  } else {
    json.Null();
  }
  json.EndObject().Key("banners").BeginArray();
  for (const std::string& banner : DashboardBanners(view)) json.String(banner);
  json.EndArray();
  json.Key("view").Raw(control::ViewJson(view));
  json.Key("readiness").Raw(validation::ReadinessJson(facts.readiness));
  json.Key("events").Raw(control::EventsAnswer(facts.events, kDashboardEvents).json);
  json.EndObject();
  return json.str();
}

std::string DashboardJsonPage(const cmcl::config::ClusterConfig& config, node::Node& node, Time now,
                              const std::map<NodeName, std::vector<NetworkStatus>>& networks) {
  const control::ViewInputs inputs{
      .config = config, .node = node, .now = now, .networks = networks};
  return DashboardJson(GatherDashboard(inputs, node.Readiness()));
}

}  // namespace cmcl::io::metrics
