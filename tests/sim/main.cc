// cmcl-sim: runs the deterministic simulator over one seed or a sweep of seeds (STYLE.md
// rules 30-31). Exits 1 on the first violation, printing it, the run's whole trace
// (kept in memory, trace.h) and the one-line command that replays the run with --trace.
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <optional>
#include <set>
#include <sstream>
#include <string>

#include "cmcld/core/common/time.h"
#include "tests/sim/sim_options.h"
#include "tests/sim/simulator.h"
#include "tests/sim/trace.h"

namespace {

using cmcl::sim::NemesisKind;
using cmcl::sim::SimOptions;

struct Flags {
  std::optional<uint64_t> seed;
  uint64_t seeds = 1;
  std::optional<uint64_t> first_seed;
  std::optional<int> nodes;
  bool swarm = false;
  bool safety_only = false;
  bool excuse_known_gaps = false;
  bool trace = false;
  std::string mutation;
  std::string nemesis_text;  // As given, for the replay command.
  std::optional<std::set<NemesisKind>> nemeses;
  std::optional<cmcl::Duration> time_budget;
  std::string config_apply;  // --config-apply CHANCE, as given (empty: off).
  std::string maintenance;   // --maintenance CHANCE, as given (empty: off).
};

char g_replay[512];  // Printed if the core aborts on a CMCL_CHECK mid-run.
// With a mutation on, the core's own CMCL_CHECK tripping is a catch like any checker's:
// exit 1 (as for a violation) rather than die by SIGABRT, so the mutation CTests can
// read the replay line. Without one, the abort goes on (a core dump helps).
volatile std::sig_atomic_t g_mutation_active = 0;

void OnAbort(int) {
  const char prefix[] = "\ncmcl-sim: aborted; replay: ";
  (void)!write(2, prefix, sizeof prefix - 1);
  (void)!write(2, g_replay, std::strlen(g_replay));
  (void)!write(2, "\n", 1);
  if (g_mutation_active) {
    _exit(1);
  }
}

[[noreturn]] void Usage(const std::string& error) {
  std::cerr << "cmcl-sim: " << error << "\n"
            << "usage: cmcl-sim [--seed S | --seeds N [--first-seed S]] [--nodes 2|3|5|7]\n"
            << "                [--swarm] [--nemesis NAME[,NAME...]|none] [--trace]\n"
            << "                [--mutation NAME] [--list-mutations] [--list-nemeses]\n"
            << "                [--safety-only] [--excuse-known-gaps] [--config-apply CHANCE]\n"
            << "                [--maintenance CHANCE]\n"
            << "                [--time-budget 60s]\n"
            << "  A seed is a decimal number or a 40-hex git commit (its low 64 bits).\n"
            << "  --first-seed defaults to $CMCL_SIM_SEED or 1.\n";
  std::exit(2);
}

// A decimal number, or a 40-hex git commit hash taken as a 160-bit number truncated to
// its low 64 bits (TigerBeetle's parse_seed), so CI can pass the commit it tests.
uint64_t ParseSeed(const std::string& text) {
  if (text.size() == 40 && text.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos) {
    return std::strtoull(text.substr(24).c_str(), nullptr, 16);
  }
  char* end = nullptr;
  const unsigned long long value = std::strtoull(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || text.find_first_not_of("0123456789") != std::string::npos) {
    Usage("a seed is a decimal number or a 40-hex commit hash, not '" + text + "'");
  }
  return value;
}

std::set<NemesisKind> ParseNemeses(const std::string& text) {
  std::set<NemesisKind> kinds;
  std::istringstream in(text);
  std::string name;
  while (std::getline(in, name, ',')) {
    NemesisKind kind;
    if (name == "none") {
      continue;
    }
    if (!cmcl::sim::ParseNemesis(name, kind)) {
      Usage("unknown nemesis '" + name + "' (see --list-nemeses)");
    }
    kinds.insert(kind);
  }
  return kinds;
}

Flags ParseFlags(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        Usage(arg + " needs a value");
      }
      return argv[++i];
    };
    if (arg == "--seed") {
      flags.seed = ParseSeed(value());
    } else if (arg == "--seeds") {
      flags.seeds = std::strtoull(value().c_str(), nullptr, 10);
    } else if (arg == "--first-seed") {
      flags.first_seed = ParseSeed(value());
    } else if (arg == "--nodes") {
      flags.nodes = std::atoi(value().c_str());
      if (*flags.nodes != 2 && *flags.nodes != 3 && *flags.nodes != 5 && *flags.nodes != 7) {
        Usage("--nodes must be 2 (plus an arbitrator), 3, 5 or 7");
      }
    } else if (arg == "--swarm") {
      flags.swarm = true;
    } else if (arg == "--safety-only") {
      flags.safety_only = true;
    } else if (arg == "--excuse-known-gaps") {
      flags.excuse_known_gaps = true;
    } else if (arg == "--config-apply") {
      flags.config_apply = value();
      const double chance = std::atof(flags.config_apply.c_str());
      if (!(chance > 0 && chance <= 1)) {
        Usage("--config-apply wants a chance in (0, 1], such as 0.05");
      }
    } else if (arg == "--maintenance") {
      flags.maintenance = value();
      const double chance = std::atof(flags.maintenance.c_str());
      if (!(chance > 0 && chance <= 1)) {
        Usage("--maintenance wants a chance in (0, 1], such as 0.1");
      }
    } else if (arg == "--trace") {
      flags.trace = true;
    } else if (arg == "--mutation") {
      flags.mutation = value();
    } else if (arg == "--time-budget") {
      flags.time_budget = cmcl::ParseDuration(value());
      if (!flags.time_budget) {
        Usage("--time-budget wants a duration such as 90s");
      }
    } else if (arg == "--nemesis") {
      flags.nemesis_text = value();
      flags.nemeses = ParseNemeses(flags.nemesis_text);
    } else if (arg == "--list-nemeses") {
      for (const NemesisKind kind : cmcl::sim::AllNemeses()) {
        std::cout << cmcl::sim::NemesisName(kind) << "\n";
      }
      std::exit(0);
    } else if (arg == "--list-mutations") {
      for (const std::string& name : cmcl::sim::MutationNames()) {
        std::cout << name << "\n";
      }
      std::exit(0);
    } else {
      Usage("unknown argument '" + arg + "'");
    }
  }
  return flags;
}

std::string ReplayCommand(const Flags& flags, const SimOptions& options) {
  std::string command = "cmcl-sim --seed " + std::to_string(options.seed);
  if (flags.nodes) {
    command += " --nodes " + std::to_string(*flags.nodes);
  }
  if (flags.swarm) {
    command += " --swarm";
  }
  if (flags.safety_only) {
    command += " --safety-only";
  }
  if (flags.excuse_known_gaps) {
    command += " --excuse-known-gaps";
  }
  if (flags.nemeses) {
    command += " --nemesis " + flags.nemesis_text;
  }
  if (!flags.mutation.empty()) {
    command += " --mutation " + flags.mutation;
  }
  if (!flags.config_apply.empty()) {
    command += " --config-apply " + flags.config_apply;
  }
  if (!flags.maintenance.empty()) {
    command += " --maintenance " + flags.maintenance;
  }
  return command + " --trace";
}

struct Totals {
  uint64_t seeds = 0;
  uint64_t events = 0;
  int64_t simulated_ms = 0;
  uint64_t displacements = 0;
  uint64_t seeds_displacing = 0;
};

// Runs one seed; prints its result line, or the violation report. False on violation.
bool RunSeed(const Flags& flags, uint64_t seed, bool verbose, Totals& totals) {
  SimOptions options = cmcl::sim::OptionsFromSeed(seed, flags.nodes, flags.swarm, flags.nemeses);
  options.safety_only = flags.safety_only;
  options.excuse_known_gaps = flags.excuse_known_gaps;
  if (!flags.config_apply.empty()) {
    options.config_apply_chance = std::atof(flags.config_apply.c_str());
  }
  if (!flags.maintenance.empty()) {
    options.maintenance_chance = std::atof(flags.maintenance.c_str());
  }
  if (!flags.mutation.empty()) {
    options.mutation_name = flags.mutation;
    g_mutation_active = 1;
    if (!cmcl::sim::SetMutation(flags.mutation, options)) {
      Usage("unknown mutation '" + flags.mutation +
            "' (see --list-mutations; a listed one this core lacks the flag for)");
    }
  }
  const std::string replay = ReplayCommand(flags, options);
  std::snprintf(g_replay, sizeof g_replay, "%s", replay.c_str());
  static cmcl::sim::TraceBuffer buffer;
  buffer.Clear();
  const std::function<void(const std::string&)> keep = [&](const std::string& line) {
    if (flags.trace) {
      std::cout << line << "\n";
    } else {
      buffer.Add(line);
    }
  };
  if (verbose || flags.trace) {
    std::cout << cmcl::sim::DescribeOptions(options) << std::endl;  // Line 1 of a run.
  }
  if (flags.trace) {
    std::cout << cmcl::sim::TraceHeader() << "\n";
  }
  const cmcl::sim::RunResult result = cmcl::sim::RunSimulation(options, keep);
  ++totals.seeds;
  totals.events += result.events;
  totals.simulated_ms += result.simulated_ms;
  totals.displacements += result.displacements;
  totals.seeds_displacing += result.displacements > 0 ? 1 : 0;
  if (result.violation) {
    if (!flags.trace) {
      if (!verbose) {
        std::cout << cmcl::sim::DescribeOptions(options) << "\n";
      }
      std::cout << "trace (" << buffer.lines().size() << " lines";
      if (buffer.dropped() > 0) {
        std::cout << ", the first " << buffer.dropped() << " dropped";
      }
      std::cout << "):\n" << cmcl::sim::TraceHeader() << "\n";
      for (const std::string& line : buffer.lines()) {
        std::cout << line << "\n";
      }
    }
    std::cout << "violation: " << *result.violation << "\n"
              << "seeds run before the failure: " << totals.seeds - 1 << "\n"
              << "replay: " << replay << std::endl;
    return false;
  }
  std::printf(
      "seed=%llu ok events=%llu simulated=%lldms acks=%llu leader_after_heal=%lldms "
      "hash=%016llx\n",
      static_cast<unsigned long long>(seed), static_cast<unsigned long long>(result.events),
      static_cast<long long>(result.simulated_ms),
      static_cast<unsigned long long>(result.acknowledged),
      static_cast<long long>(result.leader_after_heal_ms.value_or(-1)),
      static_cast<unsigned long long>(result.trace_hash));
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const Flags flags = ParseFlags(argc, argv);
  uint64_t first = 1;
  if (flags.seed) {
    first = *flags.seed;
  } else if (flags.first_seed) {
    first = *flags.first_seed;
  } else if (const char* env = std::getenv("CMCL_SIM_SEED"); env != nullptr && *env) {
    first = ParseSeed(env);
  }
  const uint64_t count = flags.seed ? 1 : flags.seeds;
  std::signal(SIGABRT, OnAbort);
  const auto started = std::chrono::steady_clock::now();
  Totals totals;
  for (uint64_t seed = first; seed - first < count; ++seed) {
    if (flags.time_budget && std::chrono::steady_clock::now() - started > *flags.time_budget) {
      break;
    }
    if (!RunSeed(flags, seed, count == 1, totals)) {
      return 1;
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf(
      "ran %llu seeds (%llu events) from %llu in %.1fs: %.1f seeds/s, %.0f events/s, "
      "%.0fx real time; %llu displacements in %llu seeds\n",
      static_cast<unsigned long long>(totals.seeds), static_cast<unsigned long long>(totals.events),
      static_cast<unsigned long long>(first), seconds, static_cast<double>(totals.seeds) / seconds,
      static_cast<double>(totals.events) / seconds,
      static_cast<double>(totals.simulated_ms) / 1000.0 / seconds,
      static_cast<unsigned long long>(totals.displacements),
      static_cast<unsigned long long>(totals.seeds_displacing));
  return 0;
}
