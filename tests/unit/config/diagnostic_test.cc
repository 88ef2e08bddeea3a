#include "cmcld/core/config/diagnostic.h"

#include <gtest/gtest.h>

namespace cmcl::config {
namespace {

TEST(FormatDiagnostic, PrintsFileLineColumnThenTheMessage) {
  const Diagnostic error{{"cluster.yaml", 4, 21}, Severity::kError, "bad"};
  const Diagnostic warning{{"p/package.yaml", 2, 9}, Severity::kWarning, "careful"};
  const Diagnostic whole_file{{"cluster.yaml", 0, 0}, Severity::kError, "empty"};

  EXPECT_EQ(FormatDiagnostic(error), "cluster.yaml:4:21: bad");
  EXPECT_EQ(FormatDiagnostic(warning), "p/package.yaml:2:9: warning: careful");
  EXPECT_EQ(FormatDiagnostic(whole_file), "cluster.yaml: empty");
}

TEST(SortDiagnostics, OrdersByFileLineAndColumnAndDropsRepeats) {
  std::vector<Diagnostic> diagnostics = {
      {{"b.yaml", 1, 1}, Severity::kError, "x"},   {{"a.yaml", 9, 1}, Severity::kError, "y"},
      {{"a.yaml", 2, 5}, Severity::kWarning, "z"}, {{"a.yaml", 2, 3}, Severity::kError, "w"},
      {{"a.yaml", 9, 1}, Severity::kError, "y"},
  };

  SortDiagnostics(diagnostics);

  ASSERT_EQ(diagnostics.size(), 4u);
  EXPECT_EQ(FormatDiagnostic(diagnostics[0]), "a.yaml:2:3: w");
  EXPECT_EQ(FormatDiagnostic(diagnostics[1]), "a.yaml:2:5: warning: z");
  EXPECT_EQ(FormatDiagnostic(diagnostics[2]), "a.yaml:9:1: y");
  EXPECT_EQ(FormatDiagnostic(diagnostics[3]), "b.yaml:1:1: x");
  EXPECT_EQ(CountErrors(diagnostics), 3u);
}

}  // namespace
}  // namespace cmcl::config
