#include "cmcld/core/config/diagnostic.h"

#include <algorithm>

namespace cmcl::config {

std::string FormatDiagnostic(const Diagnostic& diagnostic) {
  std::string text = diagnostic.where.file;
  if (diagnostic.where.line > 0) {
    text += ":" + std::to_string(diagnostic.where.line);
    if (diagnostic.where.column > 0) text += ":" + std::to_string(diagnostic.where.column);
  }
  text += ": ";
  if (diagnostic.severity == Severity::kWarning) text += "warning: ";
  return text + diagnostic.message;
}

void SortDiagnostics(std::vector<Diagnostic>& diagnostics) {
  std::sort(diagnostics.begin(), diagnostics.end());
  diagnostics.erase(std::unique(diagnostics.begin(), diagnostics.end()), diagnostics.end());
}

size_t CountErrors(const std::vector<Diagnostic>& diagnostics) {
  return static_cast<size_t>(
      std::count_if(diagnostics.begin(), diagnostics.end(),
                    [](const Diagnostic& d) { return d.severity == Severity::kError; }));
}

}  // namespace cmcl::config
