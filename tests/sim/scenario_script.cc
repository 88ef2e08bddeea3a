#include "tests/sim/scenario_script.h"

#include <cstdio>
#include <map>
#include <set>
#include <sstream>
#include <utility>

#include "cmcld/core/common/units.h"
#include "tests/support/config_builder.h"

namespace cmcl::sim {
namespace {

using test_support::ClusterBuilder;
using test_support::Gib;
using test_support::InventoryBuilder;
using test_support::PackageBuilder;

// Every package's disk is /dev/rdisk/<package> with WWID 0x600508b4 0000 <k>; an
// `inventory NODE wwid-mismatch PKG` node sees it with 0x600508b4 bad0 <k>.
std::string WwidOf(size_t k, bool odd) {
  char text[40];
  std::snprintf(text, sizeof text, "0x600508b4%04x%04x", odd ? 0xbad0u : 0u,
                static_cast<unsigned>(k));
  return text;
}

// How one node's inventory differs from the default (every disk, vsw0 on lan0, 8 vCPUs
// and 16 GiB).
struct NodeInventoryPlan {
  std::set<std::string> missing_disks;
  std::set<std::string> odd_wwids;
  std::map<std::string, std::string> vswitches = {{"vsw0", "lan0"}};
  uint32_t vcpus = 8;
  ByteSize memory = Gib(16);
  std::vector<std::string> shared;
};

class Parser {
 public:
  Result<ScenarioScript> Parse(const std::string& text);

 private:
  Status Header(const std::vector<std::string>& words);
  Status Package(const std::vector<std::string>& words);
  Status PackageKey(config::PackageSpec& spec, const std::string& key, const std::string& value);
  Status Behaviour(const std::vector<std::string>& words);
  Status Inventory(const std::vector<std::string>& words);
  Status Step(const std::string& line);
  Status Build();
  Status Error(const std::string& why) const {
    return Status::InvalidArgument("line " + std::to_string(line_) + ": " + why);
  }

  int line_ = 0;
  ScenarioScript script_;
  std::vector<config::PackageSpec> specs_;
  std::map<PackageName, PackageBehaviour> behaviour_;
  std::map<NodeName, NodeInventoryPlan> inventories_;
  std::optional<config::ShutdownPolicy> shutdown_policy_;
};

bool ParseCount(const std::string& text, int64_t& out) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos ||
      text.size() > 9) {
    return false;
  }
  out = std::stoll(text);
  return true;
}

std::vector<std::string> SplitOn(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(text);
  while (std::getline(in, part, separator)) {
    parts.push_back(part);
  }
  return parts;
}

std::optional<double> ParseChance(const std::string& text) {
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || value < 0 || value > 1) {
    return std::nullopt;
  }
  return value;
}

Result<ScenarioScript> Parser::Parse(const std::string& text) {
  script_.options.seed = 1;
  script_.options.members = 3;
  script_.options.loss = 0;
  script_.options.duplication = 0;
  script_.options.nemeses = {};
  script_.options.outcasts = 0;
  script_.options.fault_phase = Duration(100'000'000);  // The script places every fault.
  script_.options.clients = 1;
  script_.options.operator_chance = 0;
  script_.options.disarm_chance = 0;
  script_.options.kill_failure = 0;
  script_.options.cluster_start_wait = Duration(5000);
  std::istringstream in(text);
  std::string line;
  bool in_steps = false;
  while (std::getline(in, line)) {
    ++line_;
    const std::string content = line.substr(0, line.find('#'));
    const std::vector<std::string> words = SplitWords(content);
    if (words.empty()) {
      continue;
    }
    static const std::set<std::string> kHeader = {"seed",       "nodes",          "arbitrator",
                                                  "package",    "behaviour",      "inventory",
                                                  "start_wait", "shutdown_policy"};
    const bool header = kHeader.contains(words[0]);
    if (header && in_steps) {
      return Error("'" + words[0] + "' belongs before the first step");
    }
    in_steps = in_steps || !header;
    Status status = header ? Header(words) : Step(content);
    if (!status.ok()) {
      return status;
    }
  }
  if (Status status = Build(); !status.ok()) {
    return status;
  }
  return std::move(script_);
}

Status Parser::Header(const std::vector<std::string>& words) {
  const std::string& key = words[0];
  int64_t number = 0;
  if (key == "package") {
    return Package(words);
  }
  if (key == "behaviour") {
    return Behaviour(words);
  }
  if (key == "inventory") {
    return Inventory(words);
  }
  if (key == "arbitrator" && words.size() == 1) {
    script_.options.arbitrator = true;
    return Status::Ok();
  }
  if (words.size() != 2) {
    return Error("'" + key + "' takes one value");
  }
  if (key == "seed" && ParseCount(words[1], number)) {
    script_.options.seed = static_cast<uint64_t>(number);
  } else if (key == "nodes" && ParseCount(words[1], number) && number >= 2 && number <= 7) {
    script_.options.members = static_cast<int>(number);
  } else if (key == "start_wait" && ParseScenarioDuration(words[1])) {
    script_.options.cluster_start_wait = *ParseScenarioDuration(words[1]);
  } else if (key == "shutdown_policy" && (words[1] == "migrate" || words[1] == "halt")) {
    shutdown_policy_ =
        words[1] == "halt" ? config::ShutdownPolicy::kHalt : config::ShutdownPolicy::kMigrate;
  } else {
    return Error("bad value for '" + key + "': " + words[1]);
  }
  return Status::Ok();
}

// package NAME key=value...
Status Parser::Package(const std::vector<std::string>& words) {
  if (words.size() < 2 || !IsValidName(words[1])) {
    return Error("package needs a name");
  }
  config::PackageSpec spec = PackageBuilder(words[1])
                                 .Nodes({})
                                 .Disk("/dev/rdisk/" + words[1], WwidOf(specs_.size() + 1, false))
                                 .Build();
  spec.run_timeout = Duration(500);
  spec.halt_timeout = Duration(500);
  spec.kill_timeout = Duration(50);
  bool vswitch = false;
  for (size_t i = 2; i < words.size(); ++i) {
    const size_t eq = words[i].find('=');
    if (eq == std::string::npos) {
      return Error("package options are key=value: " + words[i]);
    }
    const std::string key = words[i].substr(0, eq);
    vswitch = vswitch || key == "vswitch";
    if (Status status = PackageKey(spec, key, words[i].substr(eq + 1)); !status.ok()) {
      return status;
    }
  }
  if (!vswitch) {
    spec.guest.networks.push_back(config::GuestNetwork{.vswitch = "vsw0", .nic = {}, .where = {}});
  }
  if (spec.nodes.empty() && !spec.all_nodes) {
    return Error("package " + words[1] + " needs nodes=...");
  }
  behaviour_[spec.name];
  specs_.push_back(std::move(spec));
  return Status::Ok();
}

Status Parser::PackageKey(config::PackageSpec& spec, const std::string& key,
                          const std::string& value) {
  int64_t number = 0;
  if (key == "nodes") {
    spec.all_nodes = value == "*";
    for (const std::string& node :
         spec.all_nodes ? std::vector<std::string>{} : SplitOn(value, ',')) {
      spec.nodes.emplace_back(node);
    }
  } else if (key == "max_restarts" && ParseCount(value, number)) {
    spec.max_restarts = static_cast<uint32_t>(number);
  } else if (key == "max_relocations" && ParseCount(value, number)) {
    spec.max_relocations = static_cast<uint32_t>(number);
  } else if (key == "priority" && ParseCount(value, number)) {
    spec.priority = static_cast<uint32_t>(number);
  } else if (key == "displace" && (value == "yes" || value == "no")) {
    spec.displace_lower_priority = value == "yes";
  } else if (key == "vcpus" && ParseCount(value, number)) {
    spec.guest.vcpus = static_cast<uint32_t>(number);
  } else if (key == "memory" && ParseByteSize(value)) {
    spec.guest.memory = *ParseByteSize(value);
  } else if (key == "failover" && (value == "configured_node" || value == "min_package_node")) {
    spec.failover_policy = value == "configured_node" ? config::FailoverPolicy::kConfiguredNode
                                                      : config::FailoverPolicy::kMinPackageNode;
  } else if (key == "failback" && (value == "manual" || value == "automatic")) {
    spec.failback_policy =
        value == "manual" ? config::FailbackPolicy::kManual : config::FailbackPolicy::kAutomatic;
  } else if (key == "auto_run" && (value == "yes" || value == "no")) {
    spec.auto_run = value == "yes";
  } else if (key == "shutdown_policy" && (value == "migrate" || value == "halt")) {
    spec.shutdown_policy =
        value == "halt" ? config::ShutdownPolicy::kHalt : config::ShutdownPolicy::kMigrate;
  } else if ((key == "run_timeout" || key == "halt_timeout") && ParseScenarioDuration(value)) {
    (key == "run_timeout" ? spec.run_timeout : spec.halt_timeout) = *ParseScenarioDuration(value);
  } else if (key == "cdrom") {
    spec.guest.devices.push_back(
        config::GuestDevice{.path = value, .type = config::DeviceType::kCdrom, .where = {}});
  } else if (key == "vswitch") {
    spec.guest.networks.push_back(config::GuestNetwork{.vswitch = value, .nic = {}, .where = {}});
  } else if (key == "depends") {  // depends=p1[:same_node],p2 (condition up)
    for (const std::string& item : SplitOn(value, ',')) {
      const std::vector<std::string> parts = SplitOn(item, ':');
      if (parts.empty() || parts.size() > 2 || !IsValidName(parts[0]) ||
          (parts.size() == 2 && parts[1] != "same_node" && parts[1] != "any_node")) {
        return Error("depends=PKG[:same_node|:any_node],...: " + item);
      }
      spec.depends_on.push_back(
          config::Dependency{.package = PackageName(parts[0]),
                             .condition = config::DependencyCondition::kUp,
                             .location = parts.size() == 2 && parts[1] == "same_node"
                                             ? config::DependencyLocation::kSameNode
                                             : config::DependencyLocation::kAnyNode,
                             .where = {}});
    }
  } else {
    return Error("bad package option " + key + "=" + value);
  }
  return Status::Ok();
}

// behaviour PKG bad_on=n1,n2 fail_first=n1:2 halt_fail survive die=0.5 exit1=1 ...
Status Parser::Behaviour(const std::vector<std::string>& words) {
  if (words.size() < 3 || !behaviour_.contains(PackageName(words[1]))) {
    return Error("behaviour names a declared package and what it does");
  }
  PackageBehaviour& b = behaviour_[PackageName(words[1])];
  for (size_t i = 2; i < words.size(); ++i) {
    const size_t eq = words[i].find('=');
    const std::string key = words[i].substr(0, eq);
    const std::string value = eq == std::string::npos ? "1" : words[i].substr(eq + 1);
    const std::optional<double> chance = ParseChance(value);
    int64_t count = 0;
    if (key == "bad_on") {
      for (const std::string& node : SplitOn(value, ',')) b.bad_on.insert(NodeName(node));
    } else if (key == "fail_first") {
      const std::vector<std::string> parts = SplitOn(value, ':');
      if (parts.size() != 2 || !ParseCount(parts[1], count)) {
        return Error("fail_first=NODE:COUNT");
      }
      b.fail_first[NodeName(parts[0])] = static_cast<int>(count);
    } else if (chance && key == "halt_fail") {
      b.halt_fail = *chance;
    } else if (chance && key == "halt_hang") {
      b.halt_hang = *chance;
    } else if (chance && key == "survive") {
      b.survive = *chance;
    } else if (chance && key == "die") {
      b.die = *chance;
    } else if (chance && key == "exit1") {
      b.exit1 = *chance;
    } else if (chance && key == "exit2") {
      b.exit2 = *chance;
    } else if (chance && key == "hang") {
      b.hang = *chance;
    } else {
      return Error("bad behaviour " + words[i]);
    }
  }
  return Status::Ok();
}

// inventory NODE wwid-mismatch PKG | no-disk PKG | vswitch NAME NIC | no-vswitch NAME |
//           capacity VCPUS MEMORY | shared PATH
Status Parser::Inventory(const std::vector<std::string>& words) {
  if (words.size() < 4) {
    return Error("inventory NODE WHAT ARGS");
  }
  NodeInventoryPlan& plan = inventories_[NodeName(words[1])];
  const std::string& what = words[2];
  int64_t vcpus = 0;
  if (what == "wwid-mismatch" && words.size() == 4) {
    plan.odd_wwids.insert(words[3]);
  } else if (what == "no-disk" && words.size() == 4) {
    plan.missing_disks.insert(words[3]);
  } else if (what == "vswitch" && words.size() == 5) {
    plan.vswitches[words[3]] = words[4];
  } else if (what == "no-vswitch" && words.size() == 4) {
    plan.vswitches.erase(words[3]);
  } else if (what == "capacity" && words.size() == 5 && ParseCount(words[3], vcpus) &&
             ParseByteSize(words[4])) {
    plan.vcpus = static_cast<uint32_t>(vcpus);
    plan.memory = *ParseByteSize(words[4]);
  } else if (what == "shared" && words.size() == 4) {
    plan.shared.push_back(words[3]);
  } else {
    return Error("bad inventory line");
  }
  return Status::Ok();
}

Status Parser::Step(const std::string& line) {
  ScenarioStep step;
  step.line = line_;
  std::string rest = line;
  const std::vector<std::string> words = SplitWords(line);
  if (words[0] == "at") {
    const size_t colon = line.find(':');
    const std::vector<std::string> when =
        SplitWords(colon == std::string::npos ? "" : line.substr(0, colon));
    const std::optional<Duration> at =
        when.size() == 2 ? ParseScenarioDuration(when[1]) : std::nullopt;
    if (!at) {
      return Error("'at TIME: STEP' (e.g. at 2s: crash n1)");
    }
    step.at = Time() + *at;
    rest = line.substr(colon + 1);
  }
  step.words = SplitWords(rest);
  if (step.words.empty()) {
    return Error("a step is missing after 'at'");
  }
  for (const std::string& word : step.words) {
    step.text += (step.text.empty() ? "" : " ") + word;
  }
  script_.steps.push_back(std::move(step));
  return Status::Ok();
}

Status Parser::Build() {
  if (specs_.empty()) {
    return Status::InvalidArgument("a scenario declares at least one package");
  }
  SimOptions& options = script_.options;
  options.packages = static_cast<int>(specs_.size());
  ClusterBuilder cluster("sim");
  for (int i = 1; i <= options.members; ++i) {
    const NodeName node("n" + std::to_string(i));
    const NodeInventoryPlan& plan = inventories_[node];
    InventoryBuilder inventory;
    for (size_t k = 1; k <= specs_.size(); ++k) {
      const std::string& name = specs_[k - 1].name.value();
      if (!plan.missing_disks.contains(name)) {
        inventory.Disk("/dev/rdisk/" + name, WwidOf(k, plan.odd_wwids.contains(name)));
      }
    }
    for (const auto& [vswitch, nic] : plan.vswitches) inventory.Vswitch(vswitch, nic);
    for (const std::string& path : plan.shared) inventory.Shared(path);
    inventory.Capacity(plan.vcpus, plan.memory);
    cluster.Node(node.value(), inventory.Build());
  }
  for (const auto& [node, plan] : inventories_) {
    if (node.value().size() < 2 || node.value()[0] != 'n' ||
        std::stoi(node.value().substr(1)) > options.members) {
      return Status::InvalidArgument("inventory for an unknown node " + node.value());
    }
  }
  if (options.arbitrator) {
    cluster.Arbitrator("arb");
  }
  auto packages = std::make_shared<SimPackages>();
  for (const config::PackageSpec& spec : specs_) {
    packages->names.push_back(spec.name);
    cluster.Package(spec);
  }
  config::ClusterConfig config = cluster.Build();
  ApplySimTimings(options, config);
  if (shutdown_policy_) {
    config.shutdown_policy = *shutdown_policy_;
  }
  packages->config = std::make_shared<const config::ClusterConfig>(std::move(config));
  packages->behaviour = behaviour_;
  script_.packages = std::move(packages);
  return Status::Ok();
}

}  // namespace

std::vector<std::string> SplitWords(const std::string& line) {
  std::vector<std::string> words;
  std::istringstream in(line);
  std::string word;
  while (in >> word) {
    words.push_back(word);
  }
  return words;
}

std::optional<Duration> ParseScenarioDuration(const std::string& text) {
  return ParseDuration(text);
}

Result<ScenarioScript> ParseScenario(const std::string& text) { return Parser().Parse(text); }

}  // namespace cmcl::sim
