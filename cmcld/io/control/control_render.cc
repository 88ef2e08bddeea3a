#include "cmcld/io/control/control_render.h"

#include <algorithm>
#include <sstream>
#include <utility>

#include "cmcld/core/common/json_writer.h"

namespace cmcl::io::control {

Table::Table(std::vector<std::string> header) { rows_.push_back(Row{std::move(header), {}}); }

void Table::Add(std::vector<std::string> row) { rows_.push_back(Row{std::move(row), {}}); }

void Table::Detail(std::string line) { rows_.back().details.push_back(std::move(line)); }

std::string Table::Render() const {
  std::vector<size_t> widths;
  for (const Row& row : rows_) {
    widths.resize(std::max(widths.size(), row.cells.size()), 0);
    for (size_t i = 0; i < row.cells.size(); ++i) {
      widths[i] = std::max(widths[i], row.cells[i].size());
    }
  }
  std::ostringstream out;
  for (const Row& row : rows_) {
    for (size_t i = 0; i < row.cells.size(); ++i) {
      out << row.cells[i];
      if (i + 1 < row.cells.size()) out << std::string(widths[i] - row.cells[i].size() + 2, ' ');
    }
    out << "\n";
    for (const std::string& detail : row.details) out << detail << "\n";
  }
  return out.str();
}

Answer ErrorAnswer(const std::string& code, const std::string& message, int exit_status) {
  JsonWriter json;
  json.BeginObject().Key("error").BeginObject().Key("code").String(code);
  json.Key("message").String(message).EndObject().EndObject();
  return Answer{.exit_status = exit_status, .json = json.str(), .text = message, .is_error = true};
}

Answer ValidationFailedAnswer(const std::string& message, const validation::CheckReport& report) {
  JsonWriter json;
  json.BeginObject().Key("error").BeginObject().Key("code").String("validation_failed");
  json.Key("message").String(message).Key("violations").BeginArray();
  std::string text = message;
  for (const validation::NodeResult& result : report.results) {
    for (const validation::Violation& violation : result.result.violations) {
      const std::string code = to_string(violation.code);
      json.BeginObject().Key("node").String(result.node.value()).Key("code").String(code);
      json.Key("message").String(violation.message).EndObject();
      text += "\n" + result.node.value() + ": " + code + ": " + violation.message;
    }
  }
  json.EndArray().EndObject().EndObject();
  return Answer{.exit_status = kExitRefused, .json = json.str(), .text = text, .is_error = true};
}

Answer DoneAnswer(const std::string& package, const std::string& message, uint64_t index) {
  return DoneAnswer("package", package, message, index);
}

Answer DoneAnswer(const std::string& key, const std::string& subject, const std::string& message,
                  uint64_t index) {
  JsonWriter json;
  json.BeginObject().Key(key).String(subject).Key("ok").Bool(true);
  json.Key("message").String(message).Key("index").Int(static_cast<int64_t>(index));
  json.EndObject();
  return Answer{.exit_status = kExitOk, .json = json.str(), .text = message, .is_error = false};
}

Answer ConfigShowAnswer(uint64_t version, const std::string& bundle_dir,
                        const std::string& cluster_yaml) {
  JsonWriter json;
  json.BeginObject().Key("version").Int(static_cast<int64_t>(version));
  json.Key("bundle_dir").String(bundle_dir).Key("cluster_yaml").String(cluster_yaml).EndObject();
  std::string text = "# cmcl applied configuration version " + std::to_string(version) + " (" +
                     bundle_dir + "/cluster.yaml)\n" + cluster_yaml;
  if (!text.empty() && text.back() != '\n') text += "\n";
  return Answer{.exit_status = kExitOk, .json = json.str(), .text = text, .is_error = false};
}

Answer ConfigApplyAnswer(uint64_t version, const std::string& bundle_hash,
                         const std::string& message, uint64_t index) {
  JsonWriter json;
  json.BeginObject().Key("config_version").Int(static_cast<int64_t>(version));
  json.Key("bundle_hash").String(bundle_hash).Key("ok").Bool(true);
  json.Key("message").String(message).Key("index").Int(static_cast<int64_t>(index));
  json.EndObject();
  return Answer{.exit_status = kExitOk, .json = json.str(), .text = message, .is_error = false};
}

namespace {

// The lines under one report: its violations and unchecked checks, and a summary.
void CheckLines(const validation::CheckReport& report, std::ostringstream& out) {
  for (const std::string& line : validation::CheckReportLines(report)) out << "  " << line << "\n";
  out << validation::CheckReportSummary(report) << "\n";
}

std::string SourceName(const validation::CheckReport& report) {
  return report.source ? report.source->value() : std::string("none");
}

}  // namespace

Answer CheckAnswer(const validation::CheckReport& report) {
  std::ostringstream text;
  text << "check " << report.package.value() << " (source " << SourceName(report) << ")\n";
  CheckLines(report, text);
  return Answer{.exit_status = report.ok() ? kExitOk : kExitRefused,
                .json = validation::CheckReportJson(report),
                .text = text.str(),
                .is_error = false};
}

Answer ReadinessAnswer(const std::vector<validation::PackageReadiness>& readiness) {
  std::ostringstream text;
  size_t ready = 0;
  for (const validation::PackageReadiness& report : readiness) {
    text << report.package.value() << " (source " << SourceName(report) << ")\n";
    CheckLines(report, text);
    if (report.ok()) ++ready;
  }
  text << ready << " of " << readiness.size() << " package(s) may fail over to every node "
       << "they may run on\n";
  return Answer{.exit_status = kExitOk,
                .json = validation::ReadinessJson(readiness),
                .text = text.str(),
                .is_error = false};
}

Answer EventsAnswer(const std::deque<node::ClusterEvent>& events, size_t limit) {
  const size_t skip = limit == 0 || limit >= events.size() ? 0 : events.size() - limit;
  JsonWriter json;
  json.BeginArray();
  std::ostringstream text;
  const size_t width = events.empty() ? 0 : std::to_string(events.back().index.value()).size();
  for (size_t i = skip; i < events.size(); ++i) {
    const node::ClusterEvent& event = events[i];
    json.BeginObject().Key("index").Int(static_cast<int64_t>(event.index.value()));
    json.Key("critical").Bool(event.critical).Key("text").String(event.text).EndObject();
    const std::string index = std::to_string(event.index.value());
    text << std::string(width - index.size(), ' ') << index << (event.critical ? " ! " : "   ")
         << event.text << "\n";
  }
  json.EndArray();
  return Answer{.exit_status = kExitOk, .json = json.str(), .text = text.str(), .is_error = false};
}

}  // namespace cmcl::io::control
