#include "cmcld/core/common/time.h"

#include <cctype>
#include <cstdint>

namespace cmcl {
namespace {

constexpr int64_t kMaxMilliseconds = int64_t{1} << 53;

// Milliseconds per unit; 0 for an unknown unit.
int64_t UnitMilliseconds(std::string_view unit) {
  if (unit == "ms") return 1;
  if (unit == "s") return 1000;
  if (unit == "m" || unit == "min") return 60 * 1000;
  if (unit == "h") return 3600 * 1000;
  if (unit == "d") return 24 * 3600 * 1000;
  return 0;
}

}  // namespace

std::optional<Duration> ParseDuration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  int64_t total = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    // Number: digits with an optional fraction.
    int64_t whole = 0;
    int64_t fraction = 0;
    int64_t fraction_scale = 1;
    size_t digits = 0;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
      whole = whole * 10 + (text[pos] - '0');
      if (whole > kMaxMilliseconds) return std::nullopt;
      ++pos;
      ++digits;
    }
    if (pos < text.size() && text[pos] == '.') {
      ++pos;
      while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
        if (fraction_scale < 1000000) {
          fraction = fraction * 10 + (text[pos] - '0');
          fraction_scale *= 10;
        }
        ++pos;
        ++digits;
      }
    }
    if (digits == 0) return std::nullopt;
    const size_t unit_start = pos;
    while (pos < text.size() && std::isalpha(static_cast<unsigned char>(text[pos]))) ++pos;
    const int64_t unit = UnitMilliseconds(text.substr(unit_start, pos - unit_start));
    if (unit == 0) return std::nullopt;
    // Checked before multiplying: 2^53 days would overflow int64 into a negative duration.
    if (whole > kMaxMilliseconds / unit) return std::nullopt;
    const int64_t part = whole * unit + fraction * unit / fraction_scale;
    if (fraction * unit % fraction_scale != 0) return std::nullopt;  // Below 1ms.
    total += part;
    if (total > kMaxMilliseconds) return std::nullopt;
  }
  return Duration(total);
}

std::string FormatDuration(Duration d) {
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string text;
  if (ms < 0) {
    text = "-";
    ms = -ms;
  }
  struct Unit {
    int64_t ms;
    const char* name;
  };
  static constexpr Unit kUnits[] = {
      {24 * 3600 * 1000, "d"}, {3600 * 1000, "h"}, {60 * 1000, "m"}, {1000, "s"}, {1, "ms"}};
  for (const Unit& unit : kUnits) {
    if (ms >= unit.ms) {
      text += std::to_string(ms / unit.ms) + unit.name;
      ms %= unit.ms;
    }
  }
  return text;
}

}  // namespace cmcl
