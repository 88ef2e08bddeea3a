// cmcl-scenario: runs one scenario folder of tests/scenarios (README.md there) and
// compares the event log it produces with the folder's expected.log.
//
//   cmcl-scenario DIR [--update | --no-update] [--twice] [--print] [--trace]
//
// Exit 0 when the scenario ran clean (no checker violation, every expect held) and its
// log equals expected.log; else 1, with the reason and a unified diff (expected ->
// actual). --update (or CMCL_SCENARIO_UPDATE=1) rewrites expected.log with the actual
// log instead of comparing (only for a clean run): review the diff before committing.
// --no-update ignores the variable (the runner's own tests, whose logs are wrong on
// purpose).
// --twice runs it twice and fails unless both logs are the same bytes (determinism).
// --print writes the log to stdout; --trace the simulator's full trace.
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/sim/scenario_runner.h"

namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    lines.push_back(line);
  }
  return lines;
}

// A unified diff of two short texts (logs of a few hundred lines): LCS table, then
// hunks with three lines of context.
std::string UnifiedDiff(const std::string& expected, const std::string& actual) {
  const std::vector<std::string> a = Lines(expected);
  const std::vector<std::string> b = Lines(actual);
  std::vector<std::vector<size_t>> lcs(a.size() + 1, std::vector<size_t>(b.size() + 1, 0));
  for (size_t i = a.size(); i-- > 0;) {
    for (size_t j = b.size(); j-- > 0;) {
      lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  std::vector<std::pair<char, std::string>> ops;  // ' ', '-', '+'.
  size_t i = 0;
  size_t j = 0;
  while (i < a.size() || j < b.size()) {
    if (i < a.size() && j < b.size() && a[i] == b[j]) {
      ops.emplace_back(' ', a[i++]);
      ++j;
    } else if (j < b.size() && (i == a.size() || lcs[i][j + 1] >= lcs[i + 1][j])) {
      ops.emplace_back('+', b[j++]);
    } else {
      ops.emplace_back('-', a[i++]);
    }
  }
  std::string out = "--- expected.log\n+++ actual\n";
  constexpr size_t kContext = 3;
  size_t k = 0;
  while (k < ops.size()) {
    if (ops[k].first == ' ') {
      ++k;
      continue;
    }
    size_t start = k >= kContext ? k - kContext : 0;
    size_t end = k;
    while (end < ops.size()) {  // Extend the hunk while changes are within 2x context.
      size_t next = end;
      while (next < ops.size() && ops[next].first == ' ') ++next;
      if (next == ops.size() || next - end > 2 * kContext) break;
      end = next;
      while (end < ops.size() && ops[end].first != ' ') ++end;
    }
    end = std::min(ops.size(), end + kContext);
    out += "@@ line " + std::to_string(start + 1) + " @@\n";
    for (size_t m = start; m < end; ++m) out += ops[m].first + ops[m].second + "\n";
    k = end;
  }
  return out;
}

bool ReadFile(const std::string& path, std::string& text) {
  std::ifstream in(path);
  if (!in) return false;
  std::ostringstream content;
  content << in.rdbuf();
  text = content.str();
  return true;
}

int Usage() {
  std::cerr << "usage: cmcl-scenario DIR [--update | --no-update] [--twice] [--print] [--trace]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return Usage();
  const std::string dir = argv[1];
  const char* env = std::getenv("CMCL_SCENARIO_UPDATE");
  bool update = env != nullptr && std::string(env) == "1";
  bool twice = false;
  bool print = false;
  bool trace = false;
  for (int i = 2; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--update" || flag == "--no-update") {
      update = flag == "--update";
    } else if (flag == "--twice") {
      twice = true;
    } else if (flag == "--print") {
      print = true;
    } else if (flag == "--trace") {
      trace = true;
    } else {
      return Usage();
    }
  }
  std::string script;
  if (!ReadFile(dir + "/scenario", script)) {
    std::cerr << "cmcl-scenario: cannot read " << dir << "/scenario\n";
    return 2;
  }
  std::function<void(const std::string&)> tracer;
  if (trace) tracer = [](const std::string& line) { std::cout << line << "\n"; };
  const cmcl::sim::ScenarioResult result = cmcl::sim::RunScenario(script, tracer);
  if (print) std::cout << result.log;
  if (!result.ok) {
    std::cout << (print ? "" : result.log) << "cmcl-scenario: " << dir << ": " << result.error
              << "\n";
    return 1;
  }
  if (twice) {
    const cmcl::sim::ScenarioResult again = cmcl::sim::RunScenario(script);
    if (again.log != result.log) {
      std::cout << "cmcl-scenario: " << dir << ": two runs differ (not deterministic)\n"
                << UnifiedDiff(result.log, again.log);
      return 1;
    }
  }
  if (update) {
    std::ofstream(dir + "/expected.log") << result.log;
    std::cout << "cmcl-scenario: wrote " << dir << "/expected.log\n";
    return 0;
  }
  std::string expected;
  if (!ReadFile(dir + "/expected.log", expected)) {
    std::cout << (print ? "" : result.log) << "cmcl-scenario: " << dir
              << "/expected.log missing (run with --update, then review it)\n";
    return 1;
  }
  if (expected != result.log) {
    std::cout << "cmcl-scenario: " << dir << ": the log differs from expected.log\n"
              << UnifiedDiff(expected, result.log)
              << "If the change is intended: CMCL_SCENARIO_UPDATE=1 (or --update), then "
                 "review the diff before committing.\n";
    return 1;
  }
  return 0;
}
