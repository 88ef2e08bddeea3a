// The package half of ValidateConfig (validate.h): names, node lists, scripts, drivers,
// guests, storage shared between packages, and dependencies.
#include <algorithm>
#include <set>
#include <utility>

#include "cmcld/core/common/names.h"
#include "cmcld/core/config/validate.h"

namespace cmcl::config {
namespace {

using Diagnostics = std::vector<Diagnostic>;

void Error(Diagnostics& out, const SourceLocation& where, std::string message) {
  out.push_back({where, Severity::kError, std::move(message)});
}

void Warning(Diagnostics& out, const SourceLocation& where, std::string message) {
  out.push_back({where, Severity::kWarning, std::move(message)});
}

std::string Quote(std::string_view text) { return "\"" + std::string(text) + "\""; }

std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates) {
  const std::string match = ClosestMatch(word, candidates);
  return match.empty() ? std::string() : "; did you mean " + Quote(match) + "?";
}

std::string Where(const SourceLocation& where) {
  return where.file + ":" + std::to_string(where.line);
}

std::string Indexed(const char* key, size_t index) {
  return std::string(key) + "[" + std::to_string(index) + "]";
}

void ValidateNodeList(const ClusterConfig& config, const PackageSpec& package, Diagnostics& out) {
  // Without the key at all, io/ reported the missing key.
  const bool written = package.where.keys.count("nodes") != 0 || package.where.keys.empty();
  if (package.nodes.empty() && !package.all_nodes && written) {
    Error(out, package.where.Of("nodes"),
          "nodes: no nodes; expected node names in preference order, or [\"*\"] for every "
          "member");
  }
  if (package.all_nodes) return;  // "*" is resolved to the members by io/.
  std::vector<std::string> names;
  for (const NodeSpec& node : config.nodes) names.push_back(node.name.value());
  std::set<NodeName> seen;
  for (size_t i = 0; i < package.nodes.size(); ++i) {
    const NodeName& name = package.nodes[i];
    const SourceLocation& where = package.where.Of(Indexed("nodes", i));
    const NodeSpec* node = config.FindNode(name);
    if (node == nullptr) {
      Error(out, where,
            "node " + Quote(name.value()) + " is not a node of cluster " +
                config.cluster_name.value() + DidYouMean(name.value(), names));
    } else if (node->role == NodeRole::kArbitrator) {
      Error(out, where,
            "node " + Quote(name.value()) +
                " is an arbitrator; arbitrators vote but run no packages, expected a member");
    }
    if (!seen.insert(name).second) {
      Error(out, where, "node " + Quote(name.value()) + " is listed twice");
    }
  }
}

void CheckExecutable(const ConfigFacts& facts, const SourceLocation& where, const char* key,
                     const std::string& written, const std::string& path, Diagnostics& out) {
  const auto it = facts.files.find(path);
  if (written.empty() || it == facts.files.end()) return;
  const FileFacts& file = it->second;
  if (!file.exists) {
    Error(out, where,
          std::string(key) + ": " + written +
              " does not exist; expected an executable in "
              "the package folder");
  } else if (!file.regular) {
    Error(out, where,
          std::string(key) + ": " + written + " is not a regular file; expected an executable");
  } else if (!file.executable) {
    Error(out, where,
          std::string(key) + ": " + written + " is not executable; expected chmod +x " + written);
  }
}

void ValidateDriver(const ClusterConfig& config, const ConfigFacts& facts,
                    const PackageSpec& package, Diagnostics& out) {
  if (!package.driver.has_value()) {
    Warning(out, package.where.Of("name"),
            "package " + package.name.value() +
                " has no driver: a fence kills its run script's process group and runs " +
                (package.halt_script.empty() ? "its halt script" : package.halt_script) +
                ", so it is only as safe as its halt script is fast");
    return;
  }
  const std::string& driver = *package.driver;
  if (driver.empty() || driver.find('/') != std::string::npos || driver[0] == '.') {
    Error(out, package.where.Of("driver"),
          "driver: " + Quote(driver) +
              " is not a driver name; expected a file name in "
              "driver_dir, e.g. process or libvirt");
    return;
  }
  const std::string path = ResolvePath(config.driver_dir, driver);
  const auto it = facts.files.find(path);
  if (it == facts.files.end()) return;
  if (!it->second.exists || !it->second.executable) {
    Warning(out, package.where.Of("driver"),
            "driver " + Quote(driver) + " is not installed: " + path + " is " +
                (it->second.exists ? "not executable" : "missing") +
                " (drivers are installed software; each node checks again before a start)");
  }
}

void ValidateGuestAndServices(const ConfigFacts& facts, const PackageSpec& package,
                              Diagnostics& out) {
  const GuestSpec& guest = package.guest;
  if (guest.vcpus == 0) {
    Error(out, guest.where.Of("vcpus"), "guest.vcpus: 0; expected at least 1");
  }
  if (guest.memory.bytes() == 0) {
    Error(out, guest.where.Of("memory"), "guest.memory: 0B; expected a size, e.g. 2GiB");
  }
  for (const char* key : {"run_timeout", "halt_timeout", "kill_timeout"}) {
    const Duration value = std::string(key) == "run_timeout"    ? package.run_timeout
                           : std::string(key) == "halt_timeout" ? package.halt_timeout
                                                                : package.kill_timeout;
    if (value.count() <= 0) {
      Error(out, package.where.Of(key), std::string(key) + ": must be longer than 0s");
    }
  }
  std::map<std::string, const Service*> names;
  for (const Service& service : package.services) {
    // io/ reads '' and '   ' as strings; a service needs a name and something to run.
    if (service.where.keys.count("name") != 0 && service.name.empty()) {
      Error(out, service.where.Of("name"), "service name: empty; expected a name, e.g. guestmon");
    }
    if (service.where.keys.count("command") != 0 &&
        service.command.find_first_not_of(" \t") == std::string::npos) {
      Error(out, service.where.Of("command"),
            "command: empty; expected a command to run, e.g. ./monitor.sh");
    }
    const auto [it, inserted] = names.emplace(service.name, &service);
    if (!inserted) {
      Error(out, service.where.Of("name"),
            "service " + Quote(service.name) + " is defined twice (first at " +
                Where(it->second->where.Of("name")) + ")");
    }
    const std::string executable = ServiceExecutable(package, service);
    const std::string written =
        service.command.substr(service.command.find_first_not_of(" \t") == std::string::npos
                                   ? 0
                                   : service.command.find_first_not_of(" \t"));
    CheckExecutable(facts, service.where.Of("command"), "command",
                    written.substr(0, written.find_first_of(" \t")), executable, out);
  }
}

// Two packages may name the same storage only when both mark it shared.
void ValidateSharedStorage(const ClusterConfig& config, Diagnostics& out) {
  struct User {
    const PackageSpec* package;
    const GuestStorage* storage;
  };
  std::map<std::string, User> by_path;
  std::map<Wwid, User> by_wwid;
  auto check = [&out](const User& first, const User& second, const std::string& what) {
    if (first.package == second.package) return;
    if (first.storage->shared && second.storage->shared) return;
    Error(out, second.storage->where.self,
          what + " is also used by package " + first.package->name.value() + " (" +
              Where(first.storage->where.self) +
              "); expected shared: true in both packages if they may really use it together");
  };
  for (const PackageSpec& package : config.packages) {
    for (const GuestStorage& storage : package.guest.storage) {
      const User user{&package, &storage};
      const auto [it, inserted] = by_path.emplace(storage.path, user);
      if (!inserted) {
        check(it->second, user, "storage " + storage.path);
        continue;  // The same path: one message is enough.
      }
      if (!storage.wwid.has_value()) continue;
      const auto [wwid_it, wwid_inserted] = by_wwid.emplace(*storage.wwid, user);
      if (!wwid_inserted) check(wwid_it->second, user, "WWID " + storage.wwid->value);
    }
  }
}

// Every cycle once, written from the package where the search entered it.
void FindCycles(const ClusterConfig& config, Diagnostics& out) {
  std::set<std::set<std::string>> reported;
  std::vector<const PackageSpec*> path;
  std::set<std::string> on_path;
  std::set<std::string> done;
  auto visit = [&](auto&& self, const PackageSpec& package) -> void {
    path.push_back(&package);
    on_path.insert(package.name.value());
    for (const Dependency& dependency : package.depends_on) {
      const PackageSpec* next = config.FindPackage(dependency.package);
      if (next == nullptr || next == &package || done.count(next->name.value())) continue;
      if (on_path.count(next->name.value()) == 0) {
        self(self, *next);
        continue;
      }
      auto start = std::find(path.begin(), path.end(), next);
      std::set<std::string> members;
      std::string text;
      for (auto it = start; it != path.end(); ++it) {
        members.insert((*it)->name.value());
        text += (*it)->name.value() + " -> ";
      }
      if (!reported.insert(members).second) continue;
      // Point at the first package's edge into the cycle: where the path text starts.
      const PackageName second = start + 1 == path.end() ? next->name : (*(start + 1))->name;
      const Dependency* first_edge = &dependency;
      for (const Dependency& candidate : (*start)->depends_on) {
        if (candidate.package == second) first_edge = &candidate;
      }
      Error(out, first_edge->where.self,
            "dependency cycle: " + text + next->name.value() +
                "; expected packages that can start one after another");
    }
    on_path.erase(package.name.value());
    done.insert(package.name.value());
    path.pop_back();
  };
  for (const PackageSpec& package : config.packages) {
    if (done.count(package.name.value()) == 0) visit(visit, package);
  }
}

void ValidateDependencies(const ClusterConfig& config, const PackageSpec& package,
                          Diagnostics& out) {
  std::vector<std::string> names;
  for (const PackageSpec& other : config.packages) names.push_back(other.name.value());
  for (const Dependency& dependency : package.depends_on) {
    const std::string& name = dependency.package.value();
    if (dependency.package == package.name) {
      Error(out, dependency.where.Of("package"),
            "package " + package.name.value() + " depends on itself");
    } else if (config.FindPackage(dependency.package) == nullptr) {
      Error(out, dependency.where.Of("package"),
            "depends_on: package " + Quote(name) + " is not configured in cluster " +
                config.cluster_name.value() + DidYouMean(name, names));
    }
  }
}

// Issue 10: displacement halts packages of strictly lower priority; with no priority of
// its own (the lowest) nothing is lower, so the key would do nothing.
void ValidateDisplacement(const PackageSpec& package, Diagnostics& out) {
  if (!package.displace_lower_priority || package.priority.has_value()) return;
  Warning(out, package.where.Of("displace_lower_priority"),
          "displace_lower_priority: package " + package.name.value() +
              " has no priority, the lowest, so it never displaces anything; set priority");
}

}  // namespace

void ValidatePackages(const ClusterConfig& config, const ConfigFacts& facts, Diagnostics& out) {
  std::map<std::string, const PackageSpec*> seen;
  for (const PackageSpec& package : config.packages) {
    const std::string& name = package.name.value();
    if (!name.empty() && !IsValidName(name)) {
      Error(out, package.where.Of("name"),
            "package name " + Quote(name) +
                " breaks the name rule; expected 1 to 39 letters, digits, '_', '.' or '-', "
                "starting with a letter or digit");
    }
    const auto [it, inserted] = seen.emplace(name, &package);
    if (!inserted && !name.empty()) {
      Error(out, package.where.Of("name"),
            "package name " + Quote(name) + " is used twice (first in " +
                it->second->where.self.file + "); expected unique package names");
    }
    ValidateNodeList(config, package, out);
    CheckExecutable(facts, package.where.Of("run_script"), "run_script", package.run_script,
                    ResolvePath(package.folder, package.run_script), out);
    CheckExecutable(facts, package.where.Of("halt_script"), "halt_script", package.halt_script,
                    ResolvePath(package.folder, package.halt_script), out);
    ValidateDriver(config, facts, package, out);
    ValidateGuestAndServices(facts, package, out);
    ValidateDependencies(config, package, out);
    ValidateDisplacement(package, out);
  }
  ValidateSharedStorage(config, out);
  FindCycles(config, out);
}

}  // namespace cmcl::config
