#include "cmcld/io/metrics/metrics_text.h"

#include <array>
#include <charconv>
#include <cmath>

#include "cmcld/core/common/check.h"

namespace cmcl::io::metrics {
namespace {

bool ValidName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    const bool digit = c >= '0' && c <= '9';
    if (!letter && !(digit && i > 0)) return false;
  }
  return true;
}

std::string_view TypeName(MetricType type) {
  switch (type) {
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kCounter:
      return "counter";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string EscapeHelp(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (const char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // The shortest text that reads back as the same double: "42", "0.75", "1e+20".
  std::array<char, 32> buffer{};
  const std::to_chars_result written =
      std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  return std::string(buffer.data(), written.ptr);
}

void Histogram::Observe(double value) {
  ++count;
  sum += value;
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (value <= bounds[i]) {
      ++counts[i];
      return;
    }
  }
}

void AddHistogramSamples(const Histogram& histogram,
                         const std::vector<std::pair<std::string, std::string>>& labels,
                         std::vector<Sample>& out) {
  uint64_t cumulative = 0;
  for (size_t i = 0; i < histogram.bounds.size(); ++i) {
    cumulative += histogram.counts[i];
    auto bucket_labels = labels;
    bucket_labels.emplace_back("le", FormatValue(histogram.bounds[i]));
    out.push_back(Sample{.suffix = "_bucket",
                         .labels = std::move(bucket_labels),
                         .value = static_cast<double>(cumulative)});
  }
  auto infinity = labels;
  infinity.emplace_back("le", "+Inf");
  out.push_back(Sample{.suffix = "_bucket",
                       .labels = std::move(infinity),
                       .value = static_cast<double>(histogram.count)});
  out.push_back(Sample{.suffix = "_sum", .labels = labels, .value = histogram.sum});
  out.push_back(
      Sample{.suffix = "_count", .labels = labels, .value = static_cast<double>(histogram.count)});
}

std::string RenderText(const std::vector<Family>& families) {
  std::string out;
  for (const Family& family : families) {
    // A bad name is a programming error here, not an input: the names are constants.
    CMCL_CHECK(ValidName(family.name)) << family.name;
    out += "# HELP " + family.name + " " + EscapeHelp(family.help) + "\n";
    out += "# TYPE " + family.name + " " + std::string(TypeName(family.type)) + "\n";
    for (const Sample& sample : family.samples) {
      out += family.name + sample.suffix;
      if (!sample.labels.empty()) {
        out += '{';
        for (size_t i = 0; i < sample.labels.size(); ++i) {
          CMCL_CHECK(ValidName(sample.labels[i].first)) << sample.labels[i].first;
          out += (i ? "," : "") + sample.labels[i].first + "=\"" +
                 EscapeLabelValue(sample.labels[i].second) + "\"";
        }
        out += '}';
      }
      out += ' ' + FormatValue(sample.value) + '\n';
    }
  }
  return out;
}

}  // namespace cmcl::io::metrics
