#include "cmcld/core/validation/readiness.h"

#include <algorithm>
#include <string_view>
#include <utility>

#include "cmcld/core/common/json.h"
#include "cmcld/core/validation/validate.h"

namespace cmcl::validation {

namespace {

// Validates `package` against each of `targets` with one shared source.
CheckReport Report(const ClusterView& cluster, const config::PackageSpec& package,
                   const std::optional<NodeName>& source, const std::vector<NodeName>& targets) {
  CheckReport report{package.name, source, {}};
  report.results.reserve(targets.size());
  std::optional<Endpoint> source_end;
  if (source.has_value()) source_end = Endpoint{*source, cluster.Inventory(*source)};
  for (const NodeName& target : targets) {
    report.results.push_back(
        {target, ValidateMigration(package, source_end, Endpoint{target, cluster.Inventory(target)},
                                   cluster)});
  }
  return report;
}

std::vector<NodeName> AllBut(const std::vector<NodeName>& nodes,
                             const std::optional<NodeName>& except) {
  std::vector<NodeName> others;
  others.reserve(nodes.size());
  for (const NodeName& node : nodes) {
    if (node != except) others.push_back(node);
  }
  return others;
}

void AppendViolations(std::string& out, const std::vector<Violation>& violations) {
  out += '[';
  for (size_t i = 0; i < violations.size(); ++i) {
    if (i > 0) out += ',';
    out += "{\"code\":";
    AppendJsonString(out, ViolationCodeName(violations[i].code));
    out += ",\"message\":";
    AppendJsonString(out, violations[i].message);
    out += '}';
  }
  out += ']';
}

}  // namespace

bool CheckReport::ok() const {
  return std::all_of(results.begin(), results.end(),
                     [](const NodeResult& result) { return result.result.ok(); });
}

std::vector<PackageReadiness> ComputeReadiness(const config::ClusterConfig& config,
                                               const ClusterFacts& facts) {
  const ClusterView cluster(config, facts);
  return ComputeReadiness(cluster);
}

std::vector<PackageReadiness> ComputeReadiness(const ClusterView& cluster) {
  std::vector<PackageReadiness> readiness;
  readiness.reserve(cluster.config().packages.size());
  for (const config::PackageSpec& package : cluster.config().packages) {
    const Placement* placed = cluster.PlacementOf(package.name);
    const std::optional<NodeName> here =
        placed == nullptr ? std::nullopt : std::optional(placed->node);
    readiness.push_back(Report(cluster, package, cluster.SourceOf(package, std::nullopt),
                               AllBut(cluster.NodesOf(package), here)));
  }
  return readiness;
}

Result<CheckReport> Check(const ClusterView& cluster, const PackageName& package,
                          const std::optional<NodeName>& target) {
  const config::PackageSpec* spec = cluster.FindPackage(package);
  if (spec == nullptr) {
    std::vector<std::string> names;
    for (const config::PackageSpec& known : cluster.config().packages) {
      names.push_back(known.name.value());
    }
    std::string message = package.value() + " is not a configured package name";
    const std::string guess = ClosestMatch(package.value(), names);
    if (!guess.empty()) message += " (did you mean " + guess + "?)";
    return Status::NotFound(std::move(message));
  }
  const std::optional<NodeName> source = cluster.SourceOf(*spec, target);
  if (target.has_value()) return Report(cluster, *spec, source, {*target});
  return Report(cluster, *spec, source, AllBut(cluster.NodesOf(*spec), source));
}

Result<CheckReport> CheckOffline(const config::ClusterConfig& config, const PackageName& package,
                                 const std::optional<NodeName>& target) {
  const ClusterFacts facts = ClusterFacts::Offline();
  const ClusterView cluster(config, facts);
  return Check(cluster, package, target);
}

std::string CheckReportJson(const CheckReport& report) {
  std::string out = "{\"package\":";
  AppendJsonString(out, report.package.value());
  out += ",\"source\":";
  if (report.source.has_value()) {
    AppendJsonString(out, report.source->value());
  } else {
    out += "null";
  }
  out += ",\"results\":[";
  for (size_t i = 0; i < report.results.size(); ++i) {
    const NodeResult& result = report.results[i];
    if (i > 0) out += ',';
    out += "{\"node\":";
    AppendJsonString(out, result.node.value());
    out += result.result.ok() ? ",\"ok\":true" : ",\"ok\":false";
    out += ",\"violations\":";
    AppendViolations(out, result.result.violations);
    out += ",\"unchecked\":";
    AppendViolations(out, result.result.unchecked);
    out += '}';
  }
  out += "]}";
  return out;
}

std::string ReadinessJson(const std::vector<PackageReadiness>& readiness) {
  std::string out = "[";
  for (size_t i = 0; i < readiness.size(); ++i) {
    if (i > 0) out += ',';
    out += CheckReportJson(readiness[i]);
  }
  out += ']';
  return out;
}

std::vector<std::string> CheckReportLines(const CheckReport& report) {
  std::vector<std::string> lines;
  for (const NodeResult& result : report.results) {
    const std::string& node = result.node.value();
    for (const Violation& violation : result.result.violations) {
      lines.push_back(node + ": " + to_string(violation.code) + ": " + violation.message);
    }
    for (const Violation& violation : result.result.unchecked) {
      lines.push_back(node + ": unchecked " + to_string(violation.code) + ": " + violation.message);
    }
    if (result.result.violations.empty() && result.result.unchecked.empty()) {
      lines.push_back(node + ": ok");
    }
  }
  return lines;
}

std::string CheckReportSummary(const CheckReport& report) {
  const std::string& package = report.package.value();
  if (report.results.empty()) {
    // "May run on every node checked" would be true of no node at all.
    const std::string source = report.source ? report.source->value() : std::string("none");
    return package + ": no node checked; its node list holds only its source " + source +
           " (check it with -n " + source + ")";
  }
  const size_t refused = static_cast<size_t>(
      std::count_if(report.results.begin(), report.results.end(),
                    [](const NodeResult& result) { return !result.result.ok(); }));
  if (refused == 0) return package + " may run on every node checked";
  return package + ": " + std::to_string(refused) + " of " + std::to_string(report.results.size()) +
         " node(s) refused";
}

}  // namespace cmcl::validation
