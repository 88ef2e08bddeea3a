#include "cmcld/io/metrics/metrics_model.h"

#include <algorithm>
#include <string>
#include <utility>

#include "cmcld/io/metrics/metrics_page.h"

namespace cmcl::io::metrics {
namespace {

using Labels = std::vector<std::pair<std::string, std::string>>;

Family Gauge(std::string name, std::string help, double value) {
  return Family{.name = std::move(name),
                .help = std::move(help),
                .type = MetricType::kGauge,
                .samples = {Sample{.suffix = "", .labels = {}, .value = value}}};
}

Family Labelled(std::string name, std::string help, MetricType type) {
  return Family{.name = std::move(name), .help = std::move(help), .type = type, .samples = {}};
}

void Add(Family& family, Labels labels, double value) {
  family.samples.push_back(Sample{.suffix = "", .labels = std::move(labels), .value = value});
}

double Flag(bool value) { return value ? 1 : 0; }

void AddNodeFamilies(const MetricsFacts& facts, std::vector<Family>& out) {
  const control::ViewModel& view = facts.view;
  Family up = Labelled("cmcl_node_up",
                       "1 when this node hears the node (itself always), 0 when not or halted.",
                       MetricType::kGauge);
  Family coordinator = Labelled("cmcl_coordinator",
                                "1 for the cluster coordinator (raft leader) as this node sees it.",
                                MetricType::kGauge);
  for (const control::NodeView& node : view.nodes) {
    Add(up, {{"node", node.name}}, Flag(node.status == "up"));
    Add(coordinator, {{"node", node.name}}, Flag(view.coordinator == node.name));
  }
  out.push_back(std::move(up));
  out.push_back(std::move(coordinator));
  out.push_back(Gauge("cmcl_is_coordinator", "1 when this node is the cluster coordinator.",
                      Flag(view.coordinator == view.self)));
  out.push_back(Gauge("cmcl_quorum",
                      "1 when this node holds a valid lease from a coordinator with a majority.",
                      Flag(view.quorum)));
  out.push_back(Gauge("cmcl_raft_term", "This node's current raft term.",
                      static_cast<double>(facts.raft_term)));
  out.push_back(Gauge("cmcl_raft_applied_index", "The last raft log index applied here.",
                      static_cast<double>(view.applied_index)));
  out.push_back(Gauge("cmcl_lease_remaining_seconds",
                      "Time left of this node's lease (0 without one); it fences "
                      "fence_timeout before the end.",
                      facts.lease_remaining_seconds));
  out.push_back(Gauge("cmcl_config_version", "The applied configuration version.",
                      static_cast<double>(view.config_version)));
  out.push_back(Gauge("cmcl_disarmed", "1 while the cluster is disarmed (nothing fails over).",
                      Flag(view.mode == "disarmed")));
}

void AddPackageFamilies(const MetricsFacts& facts, std::vector<Family>& out) {
  const control::ViewModel& view = facts.view;
  out.push_back(
      Gauge("cmcl_packages", "Configured packages.", static_cast<double>(view.packages.size())));
  Family status = Labelled("cmcl_package_status",
                           "1 for the package's status in the applied state, 0 for the others "
                           "(last known values while this node has no quorum).",
                           MetricType::kGauge);
  Family owner = Labelled("cmcl_package_owner",
                          "1 for the node the package is placed on, per node of its list.",
                          MetricType::kGauge);
  for (const control::PackageView& package : view.packages) {
    for (const char* name : kPackageStatuses) {
      Add(status, {{"package", package.name}, {"status", name}}, Flag(package.status == name));
    }
    bool owner_listed = false;
    for (const auto& [node, switching] : package.switching) {
      owner_listed = owner_listed || package.node == node;
      Add(owner, {{"package", package.name}, {"node", node}}, Flag(package.node == node));
    }
    if (package.node && !owner_listed) {
      Add(owner, {{"package", package.name}, {"node", *package.node}}, 1);
    }
  }
  out.push_back(std::move(status));
  out.push_back(std::move(owner));
}

void AddCounters(const MetricsFacts& facts, std::vector<Family>& out) {
  const PeerCounters& peers = facts.peers;
  Family sent =
      Labelled("cmcl_peer_messages_sent_total",
               "Peer messages sent by this cmcld since it started.", MetricType::kCounter);
  Add(sent, {}, static_cast<double>(peers.sent));
  Family received =
      Labelled("cmcl_peer_messages_received_total",
               "Peer messages received by this cmcld since it started.", MetricType::kCounter);
  Add(received, {}, static_cast<double>(peers.received));
  Family dropped = Labelled("cmcl_peer_messages_dropped_total",
                            "Peer messages dropped by this cmcld since it started, by reason.",
                            MetricType::kCounter);
  for (const auto& [reason, count] : std::initializer_list<std::pair<const char*, uint64_t>>{
           {"queue_full", peers.dropped_queue_full},
           {"bad_mac", peers.dropped_bad_mac},
           {"replay", peers.dropped_replay},
           {"other_cluster", peers.dropped_other_cluster},
           {"non_member", peers.dropped_non_member},
           {"malformed", peers.dropped_malformed},
           {"misaddressed", peers.dropped_misaddressed},
           {"too_large", peers.dropped_too_large},
           {"raft_foreign", facts.raft_foreign_dropped},
           {"raft_protocol_violation", facts.raft_protocol_violations},
           {"raft_non_voter", facts.raft_non_voter_dropped}}) {
    Add(dropped, {{"reason", reason}}, static_cast<double>(count));
  }
  Family auth = Labelled("cmcl_peer_auth_failures_total",
                         "Peer handshakes refused (either side) since this cmcld started.",
                         MetricType::kCounter);
  Add(auth, {}, static_cast<double>(peers.auth_failures));
  Family stale = Labelled("cmcl_state_dropped_total",
                          "Committed entries the applied state dropped, by reason (a stale "
                          "epoch, or a command that did not decode); replicated, so every "
                          "node counts the same at the same applied index.",
                          MetricType::kCounter);
  for (const auto& [reason, count] : std::initializer_list<std::pair<const char*, uint64_t>>{
           {"stale_report", facts.stale_reports},
           {"stale_assign", facts.stale_assigns},
           {"stale_release", facts.stale_releases},
           {"malformed_command", facts.malformed_commands}}) {
    Add(stale, {{"reason", reason}}, static_cast<double>(count));
  }
  for (Family* family : {&sent, &received, &dropped, &auth, &stale}) {
    out.push_back(std::move(*family));
  }
  Family scripts = Labelled("cmcl_script_duration_seconds",
                            "Guest actions (run and halt scripts, driver kill) run by this cmcld "
                            "since it started: submitted to result, by verb.",
                            MetricType::kHistogram);
  if (facts.script_durations != nullptr) {
    for (const auto& [verb, histogram] : *facts.script_durations) {
      AddHistogramSamples(histogram, {{"verb", verb}}, scripts.samples);
    }
  }
  out.push_back(std::move(scripts));
}

// Issue 12 item 3's last two: failovers (every node counts the ones it applied,
// failover_metrics.h) and validation's refusals (where they happened).
void AddFailoversAndRefusals(const MetricsFacts& facts, std::vector<Family>& out) {
  Family failovers =
      Labelled("cmcl_failovers_total",
               "Failovers (assignments with CMCL_REASON failover) this node applied since cmcld "
               "started, by package and reason (node_lost, package_failed, fenced, halted); every "
               "node counts the same ones, so query one node or take max, not sum.",
               MetricType::kCounter);
  Family durations =
      Labelled("cmcl_failover_duration_seconds",
               "Failover outage as this node saw it: from when it last heard the lost owner "
               "(reason node_lost) or applied the report that stopped the package there (the "
               "others), to when it applied the package's started report on the new node; by "
               "reason.",
               MetricType::kHistogram);
  if (facts.failovers != nullptr) {
    for (const auto& [key, count] : facts.failovers->counts()) {
      Add(failovers, {{"package", key.first.value()}, {"reason", key.second}},
          static_cast<double>(count));
    }
  }
  for (const char* reason : kFailoverReasons) {
    const Histogram empty = FailoverHistogram();
    const Histogram* histogram = &empty;
    if (facts.failovers != nullptr) {
      const auto it = facts.failovers->durations().find(reason);
      if (it != facts.failovers->durations().end()) histogram = &it->second;
    }
    AddHistogramSamples(*histogram, {{"reason", reason}}, durations.samples);
  }
  out.push_back(std::move(failovers));
  out.push_back(std::move(durations));

  Family refusals =
      Labelled("cmcl_validation_refusals_total",
               "Migration validation refusals since cmcld started, by violation code and source: "
               "coordinator (placements this node's coordinator found refused, counted when a code "
               "starts refusing a package) or command (operator moves this node refused).",
               MetricType::kCounter);
  const auto count = [](const std::map<validation::ViolationCode, uint64_t>* counts,
                        validation::ViolationCode code) -> double {
    if (counts == nullptr) return 0;
    const auto it = counts->find(code);
    return it == counts->end() ? 0 : static_cast<double>(it->second);
  };
  for (int i = 0; i <= static_cast<int>(validation::ViolationCode::kStorageInUse); ++i) {
    const auto code = static_cast<validation::ViolationCode>(i);
    const std::string name(validation::ViolationCodeName(code));
    Add(refusals, {{"source", "coordinator"}, {"code", name}},
        count(&facts.coordinator_refusals, code));
    Add(refusals, {{"source", "command"}, {"code", name}}, count(facts.command_refusals, code));
  }
  out.push_back(std::move(refusals));
}

}  // namespace

Histogram ScriptHistogram() { return Histogram({0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}); }

MetricsFacts GatherFacts(const control::ViewInputs& inputs, const PeerCounters& peers) {
  MetricsFacts facts;
  facts.view = control::BuildViewModel(inputs);
  const raft::Raft& raft = inputs.node.raft();
  facts.raft_term = raft.term().value();
  if (const std::optional<Time> lease_end = raft.lease().lease_end()) {
    const Duration left = std::max(Duration(0), *lease_end - inputs.now);
    facts.lease_remaining_seconds = static_cast<double>(left.count()) / 1000.0;
  }
  facts.raft_foreign_dropped = raft.foreign_messages_dropped();
  facts.raft_protocol_violations = raft.protocol_violations();
  facts.raft_non_voter_dropped = raft.non_voter_messages_dropped();
  const node::ClusterState& state = inputs.node.state();
  facts.stale_reports = state.stale_reports();
  facts.stale_assigns = state.stale_assigns();
  facts.stale_releases = state.stale_releases();
  facts.malformed_commands = state.malformed_commands();
  facts.coordinator_refusals = inputs.node.validation_refusals();
  facts.peers = peers;
  return facts;
}

std::vector<Family> BuildFamilies(const MetricsFacts& facts) {
  std::vector<Family> out;
  AddNodeFamilies(facts, out);
  AddPackageFamilies(facts, out);
  AddCounters(facts, out);
  AddFailoversAndRefusals(facts, out);
  return out;
}

std::string MetricsPage(const cmcl::config::ClusterConfig& config, const node::Node& node, Time now,
                        const std::map<NodeName, std::vector<NetworkStatus>>& networks,
                        const PeerCounters& peers,
                        const std::map<std::string, Histogram>& script_durations,
                        const FailoverMetrics& failovers,
                        const std::map<validation::ViolationCode, uint64_t>& command_refusals) {
  const control::ViewInputs inputs{
      .config = config, .node = node, .now = now, .networks = networks};
  MetricsFacts facts = GatherFacts(inputs, peers);
  facts.script_durations = &script_durations;
  facts.failovers = &failovers;
  facts.command_refusals = &command_refusals;
  return RenderText(BuildFamilies(facts));
}

}  // namespace cmcl::io::metrics
