// The scenario suite's runner (issue 10; tests/scenarios/README.md has the script format):
// a scenario is a small line-based script — a cluster shape (members, packages with
// node lists, policies, inventories, script behaviours) and then timed steps (faults,
// operator commands, waits and `expect` assertions) — that runs on the deterministic
// simulator with its random nemeses and random workload off, and produces an event log.
//
// Contract:
//  * The log is a function of the script alone: the simulator is deterministic from the
//    scenario's seed, so two runs (and two machines) give the same bytes.
//  * The log is normalized to be read by people: one line per interesting fact with the
//    simulated time in seconds (to 10 ms), who, and what — the scenario's own steps, the
//    coordinator's elections, the events of the committed cluster state (who/why), the
//    guest actions each node's cmcld issues (with epoch and CMCL_REASON) and their
//    results, guard fences. Heartbeats, votes, disk writes and grants are left out.
//  * Every checker of the simulator (state, exclusivity, packages, config) runs
//    throughout; a violation ends the run and fails it. A failed `expect` fails it too.
//    Either way the log so far is returned, ending with a line that says why.
//  * A malformed script is an error before anything runs (line number and why).
#pragma once

#include <functional>
#include <string>

namespace cmcl::sim {

struct ScenarioResult {
  bool ok = false;    // Parsed, ran to the end, no violation, every expect held.
  std::string log;    // The normalized event log (also on failure: up to the failure).
  std::string error;  // Why not ok.
};

// `trace`, if set, receives every line of the simulator's full trace (for --trace).
ScenarioResult RunScenario(const std::string& script,
                           const std::function<void(const std::string&)>& trace = {});

}  // namespace cmcl::sim
