// `pkgctl config check [CLUSTER_YAML]` (INTERFACE.md): validates the configuration
// files offline with the same loader cmcld uses, and prints a summary or every error.
#include <cstdlib>
#include <iomanip>
#include <sstream>

#include "cmcld/io/config/load.h"
#include "pkgctl/commands.h"
#include "pkgctl/json_writer.h"

namespace cmcl::pkgctl {
namespace {

using cmcl::config::ClusterConfig;
using cmcl::config::Diagnostic;
using cmcl::config::Severity;

std::string Plural(size_t count, const std::string& noun) {
  return std::to_string(count) + " " + noun + (count == 1 ? "" : "s");
}

void WriteDiagnostics(JsonWriter& json, const std::vector<Diagnostic>& diagnostics, bool errors) {
  json.BeginArray();
  for (const Diagnostic& d : diagnostics) {
    if ((d.severity == Severity::kError) != errors) continue;
    json.BeginObject()
        .Key("file")
        .String(d.where.file)
        .Key("line")
        .Int(d.where.line)
        .Key("column")
        .Int(d.where.column)
        .Key("severity")
        .String(errors ? "error" : "warning")
        .Key("message")
        .String(d.message)
        .EndObject();
  }
  json.EndArray();
}

void WriteSummaryJson(const std::string& path, const io::config::LoadedConfig& loaded,
                      std::ostream& out) {
  const ClusterConfig& config = loaded.config;
  JsonWriter json;
  json.BeginObject().Key("file").String(path).Key("cluster").String(config.cluster_name.value());
  json.Key("nodes").BeginArray();
  for (const auto& node : config.nodes) {
    json.BeginObject().Key("name").String(node.name.value());
    json.Key("role").String(node.role == config::NodeRole::kMember ? "member" : "arbitrator");
    json.Key("addresses").BeginArray();
    for (const auto& address : node.addresses) json.String(address.ToString());
    json.EndArray().EndObject();
  }
  json.EndArray().Key("packages").BeginArray();
  for (const auto& package : config.packages) {
    json.BeginObject().Key("name").String(package.name.value()).Key("nodes").BeginArray();
    for (const auto& node : package.nodes) json.String(node.value());
    json.EndArray().Key("driver");
    package.driver ? json.String(*package.driver) : json.Null();
    json.Key("auto_run").Bool(package.auto_run).EndObject();
  }
  json.EndArray().Key("warnings");
  WriteDiagnostics(json, loaded.diagnostics, false);
  json.EndObject();
  out << json.str() << "\n";
}

std::string Joined(const std::vector<std::string>& items) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : ",") + item;
  return text.empty() ? "-" : text;
}

void WriteSummaryTable(const std::string& path, const io::config::LoadedConfig& loaded,
                       std::ostream& out) {
  const ClusterConfig& config = loaded.config;
  const size_t warnings = loaded.diagnostics.size();
  out << path << ": cluster " << config.cluster_name << " is valid ("
      << Plural(config.nodes.size(), "node") << ", " << Plural(config.packages.size(), "package")
      << (warnings ? ", " + Plural(warnings, "warning") : "") << ")\n\n";
  out << std::left << std::setw(16) << "NODE" << std::setw(12) << "ROLE"
      << "ADDRESSES\n";
  for (const auto& node : config.nodes) {
    std::vector<std::string> addresses;
    for (const auto& address : node.addresses) addresses.push_back(address.ToString());
    out << std::setw(16) << node.name.value() << std::setw(12)
        << (node.role == config::NodeRole::kMember ? "member" : "arbitrator") << Joined(addresses)
        << "\n";
  }
  out << "\n"
      << std::setw(16) << "PACKAGE" << std::setw(10) << "AUTO_RUN" << std::setw(10) << "DRIVER"
      << "NODES\n";
  for (const auto& package : config.packages) {
    std::vector<std::string> nodes;
    for (const auto& node : package.nodes) nodes.push_back(node.value());
    out << std::setw(16) << package.name.value() << std::setw(10)
        << (package.auto_run ? "yes" : "no") << std::setw(10) << package.driver.value_or("-")
        << Joined(nodes) << "\n";
  }
}

}  // namespace

int ReportConfigErrors(const GlobalOptions& options, const std::string& path,
                       const io::config::LoadedConfig& loaded, std::ostream& out,
                       std::ostream& err) {
  const size_t errors = config::CountErrors(loaded.diagnostics);
  const std::string message = path + ": " + Plural(errors, "error") +
                              "; the configuration is "
                              "not valid";
  if (options.output == OutputFormat::kJson) {
    JsonWriter json;
    json.BeginObject().Key("error").BeginObject();
    json.Key("code").String("invalid_config").Key("message").String(message);
    json.Key("diagnostics");
    WriteDiagnostics(json, loaded.diagnostics, true);
    json.Key("warnings");
    WriteDiagnostics(json, loaded.diagnostics, false);
    json.EndObject().EndObject();
    out << json.str() << "\n";
    return kExitUsage;
  }
  for (const Diagnostic& d : loaded.diagnostics) err << config::FormatDiagnostic(d) << "\n";
  err << "pkgctl: " << message << "\n";
  return kExitUsage;
}

std::string ClusterYamlPath(const std::vector<std::string>& positional) {
  if (!positional.empty()) return positional.front();
  const char* from_environment = std::getenv("CMCL_CONFIG");
  if (from_environment != nullptr && *from_environment != '\0') return from_environment;
  return "/etc/cmcl/cmcl.yaml";
}

int RunConfigCheck(const GlobalOptions& options, const std::vector<std::string>& args,
                   std::ostream& out, std::ostream& err) {
  std::vector<std::string> positional;
  for (const std::string& arg : args) {
    if (arg == "-h" || arg == "--help") {
      out << kConfigCheckHelp;
      return kExitOk;
    }
    if (arg.size() > 1 && arg[0] == '-') {
      return UsageError(
          options, "config check: unknown option " + arg + " (see pkgctl config --help)", out, err);
    }
    positional.push_back(arg);
  }
  if (positional.size() > 1) {
    return UsageError(
        options,
        "config check: expected at most one CLUSTER_YAML, got " + std::to_string(positional.size()),
        out, err);
  }
  const std::string path = ClusterYamlPath(positional);
  const io::config::LoadedConfig loaded = io::config::LoadCluster(path);
  if (!loaded.ok()) return ReportConfigErrors(options, path, loaded, out, err);
  if (options.output == OutputFormat::kJson) {
    WriteSummaryJson(path, loaded, out);
    return kExitOk;
  }
  for (const Diagnostic& d : loaded.diagnostics) err << config::FormatDiagnostic(d) << "\n";
  WriteSummaryTable(path, loaded, out);
  return kExitOk;
}

}  // namespace cmcl::pkgctl
