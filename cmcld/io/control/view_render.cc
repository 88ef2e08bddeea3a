#include "cmcld/io/control/view_render.h"

#include <algorithm>
#include <sstream>

#include "cmcld/core/common/json_writer.h"
#include "cmcld/io/control/control_render.h"

namespace cmcl::io::control {
namespace {

bool AnyNetworkUp(const std::vector<NetworkStatus>& networks) {
  return std::any_of(networks.begin(), networks.end(),
                     [](const NetworkStatus& network) { return network.up; });
}

// Whether `name` is heard from: self always; a peer while one of its networks is up.
bool Heard(const ViewInputs& in, const NodeName& name) {
  if (name == in.node.self()) return true;
  const auto it = in.networks.find(name);
  return it != in.networks.end() && AnyNetworkUp(it->second);
}

NodeView BuildNode(const ViewInputs& in, const config::NodeSpec& spec, bool quorum) {
  const node::ClusterState& state = in.node.state();
  NodeView view{.name = spec.name.value(),
                .status = "up",
                .state = "running",
                .role = spec.role == config::NodeRole::kArbitrator ? "arbitrator" : "member",
                .networks = {}};
  if (spec.name == in.node.self()) {
    for (const SocketAddress& address : spec.addresses) {
      view.networks.push_back(NetworkView{.address = address.ToString(), .status = "up"});
    }
    if (!quorum) view.state = in.node.LocalGuests().empty() ? "no_quorum" : "fencing";
  } else {
    const auto it = in.networks.find(spec.name);
    if (it != in.networks.end()) {
      for (const NetworkStatus& network : it->second) {
        view.networks.push_back(NetworkView{.address = network.address.ToString(),
                                            .status = network.up ? "up" : "down"});
      }
    }
    view.status = Heard(in, spec.name) ? "up" : "down";
    if (!quorum || view.status == "down") view.state = "unknown";
  }
  if (state.NodeHalted(spec.name)) view.status = "halted";
  if (state.NodeInMaintenance(spec.name) && view.state != "unknown") {
    view.state = "maintenance";  // Issue 10.
  }
  view.frozen = state.NodeFrozen(spec.name);
  return view;
}

std::string PackageState(const ViewInputs& in, const config::PackageSpec& spec,
                         node::PackageStatus status, const node::Assignment* assignment) {
  const node::ClusterState& state = in.node.state();
  const node::PackageRecord* record = state.FindPackage(spec.name);
  const bool wanted = record != nullptr ? record->Wanted(spec.auto_run) : spec.auto_run;
  switch (status) {
    case node::PackageStatus::kUp:
      if (assignment != nullptr && assignment->owner && !Heard(in, *assignment->owner)) {
        return "owner_lost";
      }
      return "running";
    case node::PackageStatus::kStarting:
      return "starting";
    case node::PackageStatus::kHalting:
      return "halting";
    case node::PackageStatus::kDown:
      if (wanted && !state.cluster_started() && !state.cluster_halted()) return "start_wait";
      // depends_on (dependencies.h): it starts once every dependency is up.
      if (wanted && std::any_of(spec.depends_on.begin(), spec.depends_on.end(),
                                [&state](const config::Dependency& dependency) {
                                  return state.StatusOf(dependency.package) !=
                                         node::PackageStatus::kUp;
                                })) {
        return "start_wait";
      }
      return "halted";
    case node::PackageStatus::kFailed:
      return "failed";
    case node::PackageStatus::kHaltFailed:
      return "unknown";  // May still run: DESIGN.md section 5.
  }
  return "unknown";
}

void AddGuest(const config::PackageSpec& spec, const node::PackageRecord* record,
              PackageView& view) {
  view.vcpus = record != nullptr && record->vcpus ? *record->vcpus : spec.guest.vcpus;
  view.memory_mb =
      record != nullptr && record->memory_mb ? *record->memory_mb : spec.guest.memory.mebibytes();
  for (const config::GuestStorage& storage : spec.guest.storage) {
    view.storage.push_back(storage.path);
  }
  for (const config::GuestNetwork& network : spec.guest.networks) {
    view.networks.push_back(network.vswitch);
  }
  for (const config::GuestDevice& device : spec.guest.devices) {
    view.devices.push_back(device.path);
  }
  for (const config::Service& service : spec.services) {
    view.services.push_back(ServiceView{.name = service.name,
                                        .status = view.status == "up" ? "up" : "down",
                                        .restart_count = 0,
                                        .max_restarts = service.max_restarts});
  }
}

PackageView BuildPackage(const ViewInputs& in, const config::PackageSpec& spec, bool quorum) {
  const node::ClusterState& state = in.node.state();
  const node::PackageStatus status = state.StatusOf(spec.name);
  const node::Assignment* assignment = state.Find(spec.name);
  const node::PackageRecord* record = state.FindPackage(spec.name);
  PackageView view;
  view.name = spec.name.value();
  view.status = std::string(node::PackageStatusName(status));
  view.state = PackageState(in, spec, status, assignment);
  const bool placed =
      status != node::PackageStatus::kDown && status != node::PackageStatus::kFailed;
  if (placed && assignment != nullptr && assignment->owner) {
    view.node = assignment->owner->value();
  }
  view.epoch = assignment != nullptr ? assignment->epoch.value() : 0;
  view.auto_run = record != nullptr ? record->Switching(spec.auto_run) : spec.auto_run;
  for (const NodeName& node : spec.nodes) {
    const bool off = record != nullptr && record->switching_off.contains(node);
    view.switching.emplace_back(node.value(), !off);
  }
  if (record != nullptr) {
    for (const NodeName& node : record->failed_nodes) view.failed_nodes.push_back(node.value());
    if (record->intent) {
      view.intent = std::string(node::IntentKindName(record->intent->kind)) + " to " +
                    record->intent->target.value() + " (" +
                    std::string(node::IntentStepName(record->intent->step)) + ")";
    }
  }
  if (record != nullptr && !record->note.empty()) {
    view.reason = record->note;
  } else if (assignment != nullptr) {
    view.reason = assignment->reason;
  }
  AddGuest(spec, record, view);
  view.stale = !quorum;
  view.maintenance = state.PackageInMaintenance(spec.name);
  view.max_restarts = spec.max_restarts;
  view.failover_policy = spec.failover_policy == config::FailoverPolicy::kConfiguredNode
                             ? "configured_node"
                             : "min_package_node";
  view.failback_policy =
      spec.failback_policy == config::FailbackPolicy::kManual ? "manual" : "automatic";
  view.label = spec.guest.label;
  if (record != nullptr) {
    view.restarts = record->restarts;
    view.relocations = record->relocations;
    if (record->pending) {
      view.pending = std::string(node::CommandKindName(record->pending->second)) + " (index " +
                     std::to_string(record->pending->first.value()) + ")";
    }
  }
  return view;
}

std::optional<int64_t> LeaderContactAge(const ViewInputs& in) {
  const raft::Raft& raft = in.node.raft();
  if (raft.role() == raft::Role::kLeader && in.node.MayKeepGuests(in.now)) return 0;
  const std::optional<Time> lease_end = raft.lease().lease_end();
  if (!lease_end) return std::nullopt;
  // lease_end = the sent time of the last nonce a leader answered + the grant's length.
  const Time contact = *lease_end - in.node.state().GrantLength();
  return std::max<int64_t>(0, (in.now - contact).count());
}

std::optional<StartWaitView> BuildStartWait(const ViewInputs& in,
                                            const std::vector<NodeView>& nodes) {
  const std::optional<node::StartWait> wait = in.node.StartWaitOf(in.now);
  if (!wait) return std::nullopt;
  StartWaitView view{.decided_here = wait->decided_here,
                     .waiting_for = {},
                     .wait_ms = wait->wait.count(),
                     .left_ms = std::nullopt};
  if (wait->decided_here) {
    for (const NodeName& node : wait->waiting_for) view.waiting_for.push_back(node.value());
    if (wait->left) view.left_ms = std::max<int64_t>(0, wait->left->count());
    return view;
  }
  for (const NodeView& node : nodes) {
    if (node.role == "member" && node.status == "down") view.waiting_for.push_back(node.name);
  }
  return view;
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

}  // namespace

std::string StartWaitText(const StartWaitView& wait) {
  const std::string length = "cluster_start_wait " + FormatDuration(Duration(wait.wait_ms));
  if (wait.decided_here) {
    // Whole seconds, rounded up: "9m12s left", never "0s left" while it waits.
    const int64_t left_s = (wait.left_ms.value_or(0) + 999) / 1000;
    return "cluster start: waiting for " + JoinNames(wait.waiting_for) + " (" + length + ", " +
           FormatDuration(Duration(left_s * 1000)) + " left)";
  }
  if (wait.waiting_for.empty()) {
    return "cluster start: waiting for the coordinator to see every member (" + length + ")";
  }
  return "cluster start: waiting for " + JoinNames(wait.waiting_for) + " (not heard from here; " +
         length + ")";
}

std::string DisarmedText(const ViewModel& model) {
  if (model.mode != "disarmed") return "";
  std::string left = "time left unknown here";
  if (model.disarmed_left_ms) {
    // Whole minutes, rounded up, as an operator reads it; seconds in the last minute.
    const int64_t ms = *model.disarmed_left_ms;
    left = ms > 60'000 ? std::to_string((ms + 59'999) / 60'000) + " min left"
                       : std::to_string((ms + 999) / 1000) + " s left";
  }
  return "DISARMED, " + left + " (cluster disarm --for " +
         FormatDuration(Duration(model.disarm_ms)) +
         "): nothing fails over; pkgctl cluster arm ends it";
}

ViewModel BuildViewModel(const ViewInputs& in) {
  const node::ClusterState& state = in.node.state();
  ViewModel model;
  model.self = in.node.self().value();
  model.applied_index = state.applied().value();
  model.leader_contact_age_ms = LeaderContactAge(in);
  model.cluster_name = in.config.cluster_name.value();
  model.quorum = in.node.MayKeepGuests(in.now);
  if (model.quorum && in.node.raft().leader()) {
    model.coordinator = in.node.raft().leader()->value();
  }
  if (!model.quorum) {
    model.cluster_status = "no_quorum";
  } else if (state.cluster_halted()) {
    model.cluster_status = "down";
  } else if (!state.cluster_started()) {
    model.cluster_status = "starting";
  } else {
    model.cluster_status = "up";
  }
  model.config_version = state.config_version();
  model.mode = state.mode() == raft::LeaseMode::kArmed ? "normal" : "disarmed";
  if (state.mode() == raft::LeaseMode::kDisarmed) {
    model.disarm_ms = state.disarm_length().count();
    if (const std::optional<Duration> left = in.node.DisarmLeft(in.now)) {
      model.disarmed_left_ms = left->count();
    }
  }
  for (const config::NodeSpec& spec : in.config.nodes) {
    model.nodes.push_back(BuildNode(in, spec, model.quorum));
  }
  model.start_wait = BuildStartWait(in, model.nodes);
  for (const config::PackageSpec& spec : in.config.packages) {
    model.packages.push_back(BuildPackage(in, spec, model.quorum));
    model.packages.back().number = static_cast<uint32_t>(model.packages.size());
  }
  return model;
}

bool FilterView(ViewModel& model, const std::string& target) {
  const auto package = std::find_if(model.packages.begin(), model.packages.end(),
                                    [&](const PackageView& p) { return p.name == target; });
  if (package != model.packages.end()) {
    const PackageView kept = *package;
    model.packages = {kept};
    model.nodes.clear();
    return true;
  }
  const auto node = std::find_if(model.nodes.begin(), model.nodes.end(),
                                 [&](const NodeView& n) { return n.name == target; });
  if (node == model.nodes.end()) return false;
  const NodeView kept = *node;
  model.nodes = {kept};
  std::erase_if(model.packages, [&](const PackageView& p) { return p.node != target; });
  return true;
}

namespace {

void WriteStrings(JsonWriter& json, const std::vector<std::string>& values) {
  json.BeginArray();
  for (const std::string& value : values) json.String(value);
  json.EndArray();
}

void WriteOptional(JsonWriter& json, const std::optional<std::string>& value) {
  if (value) {
    json.String(*value);
  } else {
    json.Null();
  }
}

void WriteNodeJson(JsonWriter& json, const NodeView& node) {
  json.BeginObject().Key("name").String(node.name).Key("status").String(node.status);
  json.Key("state").String(node.state).Key("role").String(node.role);
  json.Key("frozen").Bool(node.frozen);
  json.Key("networks").BeginArray();
  for (const NetworkView& network : node.networks) {
    json.BeginObject().Key("address").String(network.address);
    json.Key("status").String(network.status).EndObject();
  }
  json.EndArray().EndObject();
}

void WritePackageJson(JsonWriter& json, const PackageView& p) {
  json.BeginObject().Key("name").String(p.name).Key("status").String(p.status);
  json.Key("state").String(p.state).Key("node");
  WriteOptional(json, p.node);
  json.Key("epoch").Int(static_cast<int64_t>(p.epoch)).Key("since").Null();
  json.Key("auto_run").Bool(p.auto_run).Key("switching").BeginObject();
  for (const auto& [node, on] : p.switching) json.Key(node).Bool(on);
  json.EndObject().Key("failed_nodes");
  WriteStrings(json, p.failed_nodes);
  json.Key("reason").String(p.reason).Key("intent");
  WriteOptional(json, p.intent);
  json.Key("guest").BeginObject().Key("vcpus").Int(p.vcpus);
  json.Key("memory_mb").Int(static_cast<int64_t>(p.memory_mb)).Key("storage");
  WriteStrings(json, p.storage);
  json.Key("networks");
  WriteStrings(json, p.networks);
  json.Key("devices");
  WriteStrings(json, p.devices);
  json.EndObject().Key("services").BeginArray();
  for (const ServiceView& s : p.services) {
    json.BeginObject().Key("name").String(s.name).Key("status").String(s.status);
    json.Key("restart_count").Int(s.restart_count).Key("max_restarts").Int(s.max_restarts);
    json.EndObject();
  }
  json.EndArray();
  json.Key("restarts").Int(p.restarts).Key("relocations").Int(p.relocations);
  json.Key("pending");
  WriteOptional(json, p.pending);
  json.Key("maintenance").Bool(p.maintenance);
  if (p.stale) json.Key("stale").Bool(true);
  json.EndObject();
}

}  // namespace

std::string ViewJson(const ViewModel& model) {
  JsonWriter json;
  json.BeginObject().Key("as_of").BeginObject().Key("node").String(model.self);
  json.Key("applied_index").Int(static_cast<int64_t>(model.applied_index));
  json.Key("leader_contact_age_ms");
  if (model.leader_contact_age_ms) {
    json.Int(*model.leader_contact_age_ms);
  } else {
    json.Null();
  }
  json.EndObject().Key("cluster").BeginObject().Key("name").String(model.cluster_name);
  json.Key("status").String(model.cluster_status).Key("coordinator");
  WriteOptional(json, model.coordinator);
  json.Key("quorum").Bool(model.quorum);
  json.Key("config_version").Int(static_cast<int64_t>(model.config_version));
  json.Key("mode").String(model.mode);
  if (model.mode == "disarmed") {
    json.Key("disarm_ms").Int(model.disarm_ms).Key("disarmed_left_ms");
    if (model.disarmed_left_ms) {
      json.Int(*model.disarmed_left_ms);
    } else {
      json.Null();
    }
  }
  json.Key("start_wait");
  if (model.start_wait) {
    const StartWaitView& wait = *model.start_wait;
    json.BeginObject().Key("waiting_for");
    WriteStrings(json, wait.waiting_for);
    json.Key("decided_here").Bool(wait.decided_here);
    json.Key("cluster_start_wait_ms").Int(wait.wait_ms).Key("left_ms");
    if (wait.left_ms) {
      json.Int(*wait.left_ms);
    } else {
      json.Null();
    }
    json.Key("text").String(StartWaitText(wait)).EndObject();
  } else {
    json.Null();
  }
  json.EndObject().Key("nodes").BeginArray();
  for (const NodeView& node : model.nodes) WriteNodeJson(json, node);
  json.EndArray().Key("packages").BeginArray();
  for (const PackageView& package : model.packages) WritePackageJson(json, package);
  json.EndArray().EndObject();
  return json.str();
}

std::string ViewTable(const ViewModel& model, bool verbose) {
  if (verbose) return ViewTree(model, model.nodes);
  std::ostringstream out;
  if (!model.quorum) {
    out << "WARNING: " << model.self << " has no quorum: this is its last applied state (index "
        << model.applied_index << "); other nodes are unknown and packages may be stale\n\n";
  }
  if (model.mode == "disarmed") out << DisarmedText(model) << "\n\n";
  Table cluster({"CLUSTER", "STATUS", "COORDINATOR", "QUORUM", "CONFIG", "MODE"});
  cluster.Add({model.cluster_name, model.cluster_status, model.coordinator.value_or("-"),
               model.quorum ? "yes" : "no", std::to_string(model.config_version), model.mode});
  out << cluster.Render();
  if (model.start_wait) out << StartWaitText(*model.start_wait) << "\n";
  if (!model.nodes.empty()) {
    Table nodes({"NODE", "STATUS", "STATE", "ROLE"});
    for (const NodeView& node : model.nodes) {
      nodes.Add({node.name, node.status, node.state + (node.frozen ? " (frozen)" : ""), node.role});
    }
    out << "\n" << nodes.Render();
  }
  if (!model.packages.empty()) {
    Table packages({"PACKAGE", "STATUS", "STATE", "NODE", "AUTO_RUN", "REASON"});
    for (const PackageView& p : model.packages) {
      packages.Add(
          {p.name, p.status + (p.stale ? " (stale)" : "") + (p.maintenance ? " (maintenance)" : ""),
           p.state, p.node.value_or("-"), p.auto_run ? "yes" : "no",
           p.reason.empty() ? "-" : p.reason});
    }
    out << "\n" << packages.Render();
  }
  return out.str();
}

}  // namespace cmcl::io::control
