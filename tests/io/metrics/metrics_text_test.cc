#include "cmcld/io/metrics/metrics_text.h"

#include <gtest/gtest.h>

#include <limits>

namespace cmcl::io::metrics {
namespace {

TEST(MetricsText, LabelValuesEscapeBackslashQuoteAndNewline) {
  EXPECT_EQ(EscapeLabelValue(R"(a\b"c)"
                             "\nd"),
            R"(a\\b\"c\nd)");
}

TEST(MetricsText, HelpEscapesBackslashAndNewlineButNotQuotes) {
  EXPECT_EQ(EscapeHelp("say \"hi\" \\ \nbye"), "say \"hi\" \\\\ \\nbye");
}

TEST(MetricsText, EveryFamilyHasHelpAndTypeBeforeItsSamples) {
  const std::vector<Family> families = {
      Family{.name = "cmcl_quorum",
             .help = "1 with quorum.",
             .type = MetricType::kGauge,
             .samples = {Sample{.suffix = "", .labels = {}, .value = 1}}},
      Family{.name = "cmcl_peer_messages_dropped_total",
             .help = "Dropped.",
             .type = MetricType::kCounter,
             .samples = {Sample{.suffix = "", .labels = {{"reason", "replay"}}, .value = 3}}}};

  const std::string text = RenderText(families);

  EXPECT_EQ(text,
            "# HELP cmcl_quorum 1 with quorum.\n"
            "# TYPE cmcl_quorum gauge\n"
            "cmcl_quorum 1\n"
            "# HELP cmcl_peer_messages_dropped_total Dropped.\n"
            "# TYPE cmcl_peer_messages_dropped_total counter\n"
            "cmcl_peer_messages_dropped_total{reason=\"replay\"} 3\n");
}

TEST(MetricsText, LabelsKeepTheirOrderAndAreEscaped) {
  const std::vector<Family> families = {Family{
      .name = "cmcl_package_owner",
      .help = "h",
      .type = MetricType::kGauge,
      .samples = {Sample{
          .suffix = "", .labels = {{"package", "a\"b\\c\nd"}, {"node", "n1"}}, .value = 0}}}};

  EXPECT_EQ(RenderText(families),
            "# HELP cmcl_package_owner h\n# TYPE cmcl_package_owner gauge\n"
            "cmcl_package_owner{package=\"a\\\"b\\\\c\\nd\",node=\"n1\"} 0\n");
}

TEST(MetricsText, AFamilyWithoutSamplesStillHasHelpAndType) {
  EXPECT_EQ(RenderText({Family{.name = "cmcl_x", .help = "h", .type = MetricType::kCounter}}),
            "# HELP cmcl_x h\n# TYPE cmcl_x counter\n");
}

TEST(MetricsText, ValuesPrintAsTheFormatSpellsThem) {
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(42), "42");
  EXPECT_EQ(FormatValue(1.5), "1.5");
  EXPECT_EQ(FormatValue(0.25), "0.25");
  EXPECT_EQ(FormatValue(-3), "-3");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::quiet_NaN()), "NaN");
}

TEST(MetricsText, AHistogramHasCumulativeBucketsInfSumAndCount) {
  Histogram histogram({0.5, 1});
  histogram.Observe(0.25);
  histogram.Observe(0.75);
  histogram.Observe(3);
  Family family{.name = "cmcl_script_duration_seconds",
                .help = "h",
                .type = MetricType::kHistogram,
                .samples = {}};

  AddHistogramSamples(histogram, {{"verb", "run"}}, family.samples);

  EXPECT_EQ(RenderText({family}),
            "# HELP cmcl_script_duration_seconds h\n"
            "# TYPE cmcl_script_duration_seconds histogram\n"
            "cmcl_script_duration_seconds_bucket{verb=\"run\",le=\"0.5\"} 1\n"
            "cmcl_script_duration_seconds_bucket{verb=\"run\",le=\"1\"} 2\n"
            "cmcl_script_duration_seconds_bucket{verb=\"run\",le=\"+Inf\"} 3\n"
            "cmcl_script_duration_seconds_sum{verb=\"run\"} 4\n"
            "cmcl_script_duration_seconds_count{verb=\"run\"} 3\n");
}

}  // namespace
}  // namespace cmcl::io::metrics
