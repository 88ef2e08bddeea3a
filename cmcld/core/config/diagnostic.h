// Diagnostic: one finding about configuration files, for people to read and fix.
//
// Every finding carries the FILE:LINE:COLUMN it is about and says what is wrong and
// what was expected. Errors fail `pkgctl config check` and refuse a daemon start;
// warnings are printed but fail nothing. Lists of diagnostics are kept sorted by
// location, so the output order never depends on the order rules ran in.
#pragma once

#include <string>
#include <vector>

#include "cmcld/core/config/cluster_config.h"

namespace cmcl::config {

enum class Severity { kError, kWarning };

struct Diagnostic {
  SourceLocation where;
  Severity severity = Severity::kError;
  std::string message;
  friend auto operator<=>(const Diagnostic&, const Diagnostic&) = default;
};

// "cluster.yaml:4:21: message", "cluster.yaml:4:21: warning: message"; the line and
// column are left out when they are 0 (a finding about the whole file or line).
std::string FormatDiagnostic(const Diagnostic& diagnostic);

// Sorts by file, line, column, then severity and message; drops exact duplicates.
void SortDiagnostics(std::vector<Diagnostic>& diagnostics);

size_t CountErrors(const std::vector<Diagnostic>& diagnostics);

}  // namespace cmcl::config
