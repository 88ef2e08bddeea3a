// Trace: one line per simulator event in fixed columns (STYLE.md rule 37; TigerBeetle's
// testing.md), stamped with true simulated time, so two runs can be diffed:
//
//   time(ms)  node  role        term commit event         detail
//      12345  n2    leader         4     17 deliver       AppendResponse n3>n2 t=4 ...
//
// The node columns show the node's state as the simulator sees it after the event
// ("down" while crashed; a "/p" suffix while paused); "-" marks a cluster-wide event.
// The run hashes every line (FNV-1a) into its trace hash, a function of the seed and
// the options only, which sim.determinism compares. cmcl-sim keeps the lines in a
// TraceBuffer and prints them in full only on a failure or with --trace.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>

#include "cmcld/core/common/time.h"

namespace cmcl::sim {

struct TraceColumns {
  std::string node = "-";
  std::string role = "-";
  std::string term = "-";
  std::string commit = "-";
};

std::string FormatTraceLine(Time t, const TraceColumns& columns, const std::string& event,
                            const std::string& detail);
std::string TraceHeader();

// FNV-1a over each line and its newline.
uint64_t HashTraceLine(uint64_t hash, const std::string& line);
inline constexpr uint64_t kTraceHashSeed = 0xcbf29ce484222325ULL;

// The lines of one run, in memory: all of them up to `lines_max`, then the newest
// `lines_max` (a run within the simulator's event budget produces about as many lines
// as events, so the default keeps every line of every run that does not livelock).
class TraceBuffer {
 public:
  explicit TraceBuffer(size_t lines_max = 2'000'000) : lines_max_(lines_max) {}
  void Add(const std::string& line);
  void Clear();
  const std::deque<std::string>& lines() const { return lines_; }
  uint64_t dropped() const { return dropped_; }

 private:
  size_t lines_max_;
  std::deque<std::string> lines_;
  uint64_t dropped_ = 0;
};

}  // namespace cmcl::sim
