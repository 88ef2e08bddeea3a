// ScenarioScript: a parsed scenario (tests/scenarios/README.md has the format) — the
// simulator options, the cluster's configuration and package behaviours built from the
// header lines, and the timed steps, still as words (scenario_runner.cc runs them).
//
// Parse is total: any line it cannot read is an error naming the line, so a typo in a
// scenario fails it before anything runs rather than silently changing what it shows.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cmcld/core/common/status.h"
#include "cmcld/core/common/time.h"
#include "tests/sim/sim_options.h"
#include "tests/sim/sim_packages.h"

namespace cmcl::sim {

struct ScenarioStep {
  int line = 0;
  std::optional<Time> at;          // `at 2s:`; nullopt: right after the previous step.
  std::vector<std::string> words;  // The step itself, split on blanks.
  std::string text;                // As written (after the `at …:` prefix), for the log.
};

struct ScenarioScript {
  SimOptions options;
  std::shared_ptr<const SimPackages> packages;
  std::vector<ScenarioStep> steps;
};

Result<ScenarioScript> ParseScenario(const std::string& text);

// Helpers shared with the runner.
std::vector<std::string> SplitWords(const std::string& line);
std::optional<Duration> ParseScenarioDuration(const std::string& text);

}  // namespace cmcl::sim
