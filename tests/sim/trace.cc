#include "tests/sim/trace.h"

#include <cinttypes>
#include <cstdio>

namespace cmcl::sim {

std::string FormatTraceLine(Time t, const TraceColumns& c, const std::string& event,
                            const std::string& detail) {
  char line[128];
  std::snprintf(line, sizeof line, "%9" PRId64 "  %-5s %-11s %5s %6s %-13s ", t.milliseconds(),
                c.node.c_str(), c.role.c_str(), c.term.c_str(), c.commit.c_str(), event.c_str());
  return line + detail;
}

std::string TraceHeader() {
  TraceColumns header{.node = "node", .role = "role", .term = "term", .commit = "commit"};
  std::string line = FormatTraceLine(Time(), header, "event", "detail");
  line.replace(0, 9, " time(ms)");
  return line;
}

uint64_t HashTraceLine(uint64_t hash, const std::string& line) {
  for (const char c : line) {
    hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  }
  return (hash ^ '\n') * 0x100000001b3ULL;
}

void TraceBuffer::Add(const std::string& line) {
  lines_.push_back(line);
  if (lines_.size() > lines_max_) {
    lines_.pop_front();
    ++dropped_;
  }
}

void TraceBuffer::Clear() {
  lines_.clear();
  dropped_ = 0;
}

}  // namespace cmcl::sim
