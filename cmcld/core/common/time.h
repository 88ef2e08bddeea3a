// Time and Duration: time is a value handed to the core, never read by it (STYLE.md
// rule 9).
//
// Time is CLOCK_BOOTTIME in milliseconds (DESIGN.md section 2): monotonic, and it keeps
// counting through suspend. Only io/ reads the clock; the simulator makes its own.
// Duration is std::chrono::milliseconds. No absolute Time ever crosses the wire
// (DESIGN.md section 4): messages carry durations and nonces only.
#pragma once

#include <chrono>
#include <compare>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

namespace cmcl {

using Duration = std::chrono::milliseconds;

class Time {
 public:
  constexpr Time() = default;
  static constexpr Time FromMilliseconds(int64_t ms) { return Time(ms); }
  constexpr int64_t milliseconds() const { return ms_; }

  friend constexpr auto operator<=>(Time, Time) = default;
  friend constexpr Time operator+(Time t, Duration d) { return Time(t.ms_ + d.count()); }
  friend constexpr Time operator-(Time t, Duration d) { return Time(t.ms_ - d.count()); }
  friend constexpr Duration operator-(Time a, Time b) { return Duration(a.ms_ - b.ms_); }
  constexpr Time& operator+=(Duration d) {
    ms_ += d.count();
    return *this;
  }
  friend std::ostream& operator<<(std::ostream& out, Time t) { return out << t.ms_ << "ms"; }

 private:
  constexpr explicit Time(int64_t ms) : ms_(ms) {}
  int64_t ms_ = 0;
};

// "2s", "200ms", "1h30m", "1.5s" -> Duration. Units: ms, s, m, h, d. A bare number or
// an unknown unit is an error (nullopt); so is anything below one millisecond.
std::optional<Duration> ParseDuration(std::string_view text);

// The shortest exact spelling: 2000ms -> "2s", 90s -> "1m30s", 250ms -> "250ms".
std::string FormatDuration(Duration d);

}  // namespace cmcl
