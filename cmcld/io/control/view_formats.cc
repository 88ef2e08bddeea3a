// The other text forms of the view model (view_render.h): `view -v` as Serviceguard's
// cmviewcl -v tree, cmviewcl -f line's key=value lines, and hpvmstatus's guest table.
#include <algorithm>
#include <sstream>

#include "cmcld/io/control/control_render.h"
#include "cmcld/io/control/view_render.h"

namespace cmcl::io::control {
namespace {

std::string Indent(const std::string& text, size_t spaces) {
  std::ostringstream out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    out << (line.empty() ? "" : std::string(spaces, ' ') + line) << "\n";
  }
  return out.str();
}

std::string Join(const std::vector<std::string>& values) {
  std::string out;
  for (const std::string& value : values) out += (out.empty() ? "" : ", ") + value;
  return out.empty() ? "-" : out;
}

std::string Enabled(bool on) { return on ? "enabled" : "disabled"; }

std::string NodeStatus(const std::vector<NodeView>& nodes, const std::string& name) {
  const auto it =
      std::find_if(nodes.begin(), nodes.end(), [&](const NodeView& n) { return n.name == name; });
  return it == nodes.end() ? "unknown" : it->status;
}

std::string PackageRow(const PackageView& p) {
  Table table({"PACKAGE", "STATUS", "STATE", "AUTO_RUN", "NODE"});
  table.Add({p.name,
             p.status + (p.stale ? " (stale)" : "") + (p.maintenance ? " (maintenance)" : ""),
             p.state, Enabled(p.auto_run), p.node.value_or("unowned")});
  return table.Render();
}

// One package's block, as cmviewcl -v prints it under its node (indent 4).
std::string PackageBlock(const PackageView& p, const std::vector<NodeView>& nodes) {
  std::ostringstream out;
  out << PackageRow(p) << "\n";
  Table policy({"POLICY_NAME", "CONFIGURED_VALUE"});
  policy.Add({"Failover", p.failover_policy});
  policy.Add({"Failback", p.failback_policy});
  out << "  Policy_Parameters:\n" << Indent(policy.Render(), 2) << "\n";
  Table script({"ITEM", "STATUS", "MAX_RESTARTS", "RESTARTS", "NAME"});
  script.Add(
      {"Package", p.status, std::to_string(p.max_restarts), std::to_string(p.restarts), p.name});
  for (const ServiceView& s : p.services) {
    script.Add({"Service", s.status, std::to_string(s.max_restarts),
                std::to_string(s.restart_count), s.name});
  }
  out << "  Script_Parameters:\n" << Indent(script.Render(), 2) << "\n";
  Table switching({"NODE_TYPE", "STATUS", "SWITCHING", "NAME"});
  for (size_t i = 0; i < p.switching.size(); ++i) {
    const auto& [node, on] = p.switching[i];
    const bool current = p.node && *p.node == node;
    switching.Add({i == 0 ? "Primary" : "Alternate", NodeStatus(nodes, node), Enabled(on),
                   node + (current ? "  (current)" : "")});
  }
  out << "  Node_Switching_Parameters:\n" << Indent(switching.Render(), 2) << "\n";
  out << "  Other_Parameters:\n";
  out << "    Failed_Nodes:  " << Join(p.failed_nodes) << "\n";
  out << "    Relocations:   " << p.relocations << "\n";
  out << "    Epoch:         " << p.epoch << "\n";
  out << "    Pending:       " << p.pending.value_or("-") << "\n";
  out << "    Intent:        " << p.intent.value_or("-") << "\n";
  out << "    Reason:        " << (p.reason.empty() ? "-" : p.reason) << "\n";
  out << "    Guest:         " << p.vcpus << " vCPU(s), " << p.memory_mb << " MiB"
      << (p.label.empty() ? "" : " (" + p.label + ")") << "; storage " << Join(p.storage)
      << "; networks " << Join(p.networks) << "; devices " << Join(p.devices) << "\n\n";
  return out.str();
}

std::string NodeBlock(const NodeView& node) {
  std::ostringstream out;
  Table row({"NODE", "STATUS", "STATE", "ROLE"});
  row.Add({node.name, node.status, node.state + (node.frozen ? " (frozen)" : ""), node.role});
  out << row.Render() << "\n";
  if (!node.networks.empty()) {
    Table networks({"INTERFACE", "STATUS", "ADDRESS"});
    for (size_t i = 0; i < node.networks.size(); ++i) {
      networks.Add(
          {i == 0 ? "PRIMARY" : "STANDBY", node.networks[i].status, node.networks[i].address});
    }
    out << "  Network_Parameters:\n" << Indent(networks.Render(), 2) << "\n";
  }
  return out.str();
}

}  // namespace

std::string ViewTree(const ViewModel& model, const std::vector<NodeView>& all_nodes) {
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
  out << "\n";
  for (const NodeView& node : model.nodes) {
    out << Indent(NodeBlock(node), 2);
    for (const PackageView& p : model.packages) {
      if (p.node == node.name) out << Indent(PackageBlock(p, all_nodes), 4);
    }
  }
  bool unowned_header = false;
  for (const PackageView& p : model.packages) {
    const bool shown = p.node && std::any_of(model.nodes.begin(), model.nodes.end(),
                                             [&](const NodeView& n) { return n.name == *p.node; });
    if (shown) continue;
    if (!unowned_header && !p.node) {
      out << "UNOWNED_PACKAGES\n\n";
      unowned_header = true;
    }
    out << Indent(PackageBlock(p, all_nodes), 4);
  }
  return out.str();
}

namespace {

void Line(std::ostringstream& out, const std::string& prefix, const std::string& key,
          const std::string& value) {
  out << prefix << key << "=" << value << "\n";
}

void PackageLines(std::ostringstream& out, const PackageView& p) {
  const std::string prefix = "package:" + p.name + "|";
  const bool degraded = p.status == "failed" || p.status == "halt_failed" || p.stale;
  Line(out, prefix, "name", p.name);
  Line(out, prefix, "status", p.status);
  Line(out, prefix, "state", p.state);
  Line(out, prefix, "summary", degraded ? "degraded" : "ok");
  Line(out, prefix, "autorun", Enabled(p.auto_run));
  Line(out, prefix, "owner", p.node.value_or("unowned"));
  Line(out, prefix, "failover_policy", p.failover_policy);
  Line(out, prefix, "failback_policy", p.failback_policy);
  Line(out, prefix, "restarts", std::to_string(p.restarts));
  Line(out, prefix, "max_restarts", std::to_string(p.max_restarts));
  Line(out, prefix, "reason", p.reason);
  if (p.intent) Line(out, prefix, "intent", *p.intent);
  if (p.pending) Line(out, prefix, "pending", *p.pending);
  Line(out, prefix, "vcpus", std::to_string(p.vcpus));
  Line(out, prefix, "memory_mb", std::to_string(p.memory_mb));
  for (const auto& [node, on] : p.switching) {
    const std::string node_prefix = prefix + "node:" + node + "|";
    Line(out, node_prefix, "name", node);
    Line(out, node_prefix, "switching", Enabled(on));
    const bool failed =
        std::find(p.failed_nodes.begin(), p.failed_nodes.end(), node) != p.failed_nodes.end();
    Line(out, node_prefix, "failed", failed ? "yes" : "no");
  }
  for (const ServiceView& s : p.services) {
    const std::string service_prefix = prefix + "service:" + s.name + "|";
    Line(out, service_prefix, "name", s.name);
    Line(out, service_prefix, "status", s.status);
    Line(out, service_prefix, "restarts", std::to_string(s.restart_count));
    Line(out, service_prefix, "max_restarts", std::to_string(s.max_restarts));
  }
}

}  // namespace

std::string ViewLines(const ViewModel& model) {
  std::ostringstream out;
  const bool nodes_down = std::any_of(model.nodes.begin(), model.nodes.end(),
                                      [](const NodeView& n) { return n.status != "up"; });
  Line(out, "", "name", model.cluster_name);
  Line(out, "", "status", model.cluster_status);
  Line(out, "", "summary", model.quorum && !nodes_down ? "ok" : "degraded");
  Line(out, "", "quorum", model.quorum ? "yes" : "no");
  Line(out, "", "coordinator", model.coordinator.value_or(""));
  Line(out, "", "config_version", std::to_string(model.config_version));
  Line(out, "", "mode", model.mode);
  if (model.mode == "disarmed") {
    Line(out, "", "disarm_ms", std::to_string(model.disarm_ms));
    if (model.disarmed_left_ms) {
      Line(out, "", "disarmed_left_ms", std::to_string(*model.disarmed_left_ms));
    }
  }
  if (model.start_wait) {
    // The cluster file's key and what it waits for; the rest is in the JSON.
    Line(out, "", "cluster_start_waiting_for", Join(model.start_wait->waiting_for));
    if (model.start_wait->left_ms) {
      Line(out, "", "cluster_start_left_ms", std::to_string(*model.start_wait->left_ms));
    }
  }
  for (const NodeView& node : model.nodes) {
    const std::string prefix = "node:" + node.name + "|";
    Line(out, prefix, "name", node.name);
    Line(out, prefix, "status", node.status);
    Line(out, prefix, "state", node.state);
    Line(out, prefix, "summary", node.status == "up" ? "ok" : "degraded");
    Line(out, prefix, "role", node.role);
    for (size_t i = 0; i < node.networks.size(); ++i) {
      const std::string net = prefix + "interface:" + std::to_string(i + 1) + "|";
      Line(out, net, "address", node.networks[i].address);
      Line(out, net, "status", node.networks[i].status);
    }
  }
  for (const PackageView& p : model.packages) PackageLines(out, p);
  return out.str();
}

namespace {

std::string HpvmState(const PackageView& p) {
  if (p.status == "up") return "On (OS)";
  if (p.status == "starting") return "On (starting)";
  if (p.status == "halting") return "On (halting)";
  if (p.status == "failed") return "Off (failed)";
  if (p.status == "halt_failed") return "Unknown";
  return "Off";
}

std::string HpvmMemory(uint64_t mebibytes) {
  if (mebibytes % 1024 == 0) return std::to_string(mebibytes / 1024) + " GB";
  return std::to_string(mebibytes) + " MB";
}

}  // namespace

std::string HpvmStatus(const ViewModel& model) {
  Table table({"Virtual Machine Name", "VM #", "OS Type", "State", "#VCPUs", "#Devs", "#Nets",
               "Memory", "Runsysid"});
  table.Add({"====================", "=====", "=======", "=========", "======", "=====", "=====",
             "=======", "========"});
  for (const PackageView& p : model.packages) {
    table.Add({p.name, std::to_string(p.number), "UNKNOWN", HpvmState(p), std::to_string(p.vcpus),
               std::to_string(p.storage.size() + p.devices.size()),
               std::to_string(p.networks.size()), HpvmMemory(p.memory_mb), p.node.value_or("-")});
  }
  return "[Virtual Machines]\n" + table.Render();
}

}  // namespace cmcl::io::control
