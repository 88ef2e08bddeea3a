// The Prometheus text exposition format 0.0.4 (what `GET /metrics` answers): metric
// families, each with its # HELP and # TYPE lines, then one line per sample.
//
// Pure: values in, text out. Label values are escaped as the format requires (backslash,
// double quote and newline); HELP text escapes backslash and newline. Names are the
// caller's and must already match [a-zA-Z_:][a-zA-Z0-9_:]* (checked: a bad name is a bug).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cmcl::io::metrics {

enum class MetricType { kGauge, kCounter, kHistogram };

struct Sample {
  // Appended to the family name: "" for gauges and counters, "_bucket", "_sum" and
  // "_count" for a histogram's lines.
  std::string suffix;
  std::vector<std::pair<std::string, std::string>> labels;  // (name, value), in order.
  double value = 0;
};

struct Family {
  std::string name;
  std::string help;
  MetricType type = MetricType::kGauge;
  std::vector<Sample> samples;
};

// A histogram's state (Prometheus histogram: cumulative buckets by upper bound). Owned by
// the adapter that observes; HistogramSamples turns it into a family's lines.
struct Histogram {
  explicit Histogram(std::vector<double> upper_bounds)
      : bounds(std::move(upper_bounds)), counts(bounds.size(), 0) {}
  void Observe(double value);

  std::vector<double> bounds;    // Ascending; +Inf is implied.
  std::vector<uint64_t> counts;  // Per bound, not cumulative: value <= bound, > the previous.
  uint64_t count = 0;
  double sum = 0;
};

// The `_bucket` lines (cumulative, with le="+Inf"), then `_sum` and `_count`, each with
// `labels` first.
void AddHistogramSamples(const Histogram& histogram,
                         const std::vector<std::pair<std::string, std::string>>& labels,
                         std::vector<Sample>& out);

// `\` -> `\\`, `"` -> `\"`, newline -> `\n`.
std::string EscapeLabelValue(std::string_view value);
// `\` -> `\\`, newline -> `\n`.
std::string EscapeHelp(std::string_view help);
// The shortest text that reads back as the same value (integers without a decimal
// point); +Inf, -Inf and NaN as the format spells them.
std::string FormatValue(double value);
// Every family in order: HELP, TYPE, samples. A family without samples still gets its
// HELP and TYPE lines (the metric exists, nothing to report now).
std::string RenderText(const std::vector<Family>& families);

}  // namespace cmcl::io::metrics
