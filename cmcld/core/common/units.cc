#include "cmcld/core/common/units.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

namespace cmcl {
namespace {

bool IsHex(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isxdigit(static_cast<unsigned char>(c)) != 0;
  });
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool ParseIpv4(std::string_view text) {
  int parts = 0;
  size_t pos = 0;
  while (true) {
    size_t end = pos;
    while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) ++end;
    if (end == pos || end - pos > 3) return false;
    if (end - pos > 1 && text[pos] == '0') return false;  // No octal-looking parts.
    unsigned value = 0;
    std::from_chars(text.data() + pos, text.data() + end, value);
    if (value > 255) return false;
    ++parts;
    if (end == text.size()) break;
    if (text[end] != '.') return false;
    pos = end + 1;
  }
  return parts == 4;
}

bool ParseIpv6(std::string_view text) {
  // Groups of 1-4 hex digits separated by ':', at most one '::'. No zone ids.
  if (text.empty() || text.size() > 39) return false;
  int groups = 0;
  bool compressed = false;
  size_t pos = 0;
  if (text.substr(0, 2) == "::") {
    compressed = true;
    pos = 2;
    if (pos == text.size()) return true;
  }
  while (pos < text.size()) {
    size_t end = pos;
    while (end < text.size() && std::isxdigit(static_cast<unsigned char>(text[end]))) ++end;
    if (end == pos || end - pos > 4) return false;
    ++groups;
    if (end == text.size()) break;
    if (text[end] != ':') return false;
    if (end + 1 < text.size() && text[end + 1] == ':') {
      if (compressed) return false;
      compressed = true;
      pos = end + 2;
      if (pos == text.size()) break;
    } else {
      pos = end + 1;
      if (pos == text.size()) return false;
    }
  }
  return compressed ? groups < 8 : groups == 8;
}

struct SizeUnit {
  std::string_view name;
  uint64_t multiplier;
};
constexpr std::array<SizeUnit, 9> kSizeUnits = {{
    {"B", 1},
    {"KiB", uint64_t{1} << 10},
    {"MiB", uint64_t{1} << 20},
    {"GiB", uint64_t{1} << 30},
    {"TiB", uint64_t{1} << 40},
    {"kB", 1000},
    {"MB", 1000 * 1000},
    {"GB", 1000 * 1000 * 1000},
    {"TB", uint64_t{1000} * 1000 * 1000 * 1000},
}};

}  // namespace

std::string ByteSize::ToString() const {
  static constexpr std::array<std::string_view, 4> kNames = {"TiB", "GiB", "MiB", "KiB"};
  static constexpr std::array<int, 4> kShifts = {40, 30, 20, 10};
  for (size_t i = 0; i < kNames.size(); ++i) {
    const uint64_t unit = uint64_t{1} << kShifts[i];
    if (bytes_ >= unit && bytes_ % unit == 0) {
      return std::to_string(bytes_ / unit) + std::string(kNames[i]);
    }
  }
  return std::to_string(bytes_) + "B";
}

std::optional<ByteSize> ParseByteSize(std::string_view text) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) {
    ++digits;
  }
  if (digits == 0 || digits > 15) return std::nullopt;
  uint64_t number = 0;
  std::from_chars(text.data(), text.data() + digits, number);
  const std::string_view unit = text.substr(digits);
  for (const SizeUnit& candidate : kSizeUnits) {
    if (candidate.name != unit) continue;
    if (number > UINT64_MAX / candidate.multiplier / 1024) return std::nullopt;
    return ByteSize::FromBytes(number * candidate.multiplier);
  }
  return std::nullopt;
}

std::string Percentage::ToString() const {
  std::string text = std::to_string(ppm_ / 10000);
  uint32_t fraction = ppm_ % 10000;
  if (fraction != 0) {
    std::string digits = std::to_string(fraction);
    digits.insert(0, 4 - digits.size(), '0');
    while (digits.back() == '0') digits.pop_back();
    text += "." + digits;
  }
  return text + "%";
}

std::optional<Percentage> ParsePercentage(std::string_view text) {
  if (text.size() < 2 || text.back() != '%') return std::nullopt;
  text.remove_suffix(1);
  const size_t dot = text.find('.');
  const std::string_view whole = text.substr(0, dot);
  const std::string_view fraction =
      dot == std::string_view::npos ? std::string_view() : text.substr(dot + 1);
  if (whole.empty() || whole.size() > 3) return std::nullopt;
  if (dot != std::string_view::npos && (fraction.empty() || fraction.size() > 4)) {
    return std::nullopt;
  }
  auto all_digits = [](std::string_view s) {
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; });
  };
  if (!all_digits(whole) || !all_digits(fraction)) return std::nullopt;
  uint32_t ppm = 0;
  std::from_chars(whole.data(), whole.data() + whole.size(), ppm);
  ppm *= 10000;
  uint32_t scale = 1000;
  for (const char c : fraction) {
    ppm += static_cast<uint32_t>(c - '0') * scale;
    scale /= 10;
  }
  if (ppm > 1000000) return std::nullopt;
  return Percentage::FromPartsPerMillion(ppm);
}

std::string SocketAddress::ToString() const {
  if (ipv6) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

std::optional<SocketAddress> ParseSocketAddress(std::string_view text) {
  SocketAddress address;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return std::nullopt;
    }
    address.host = Lower(text.substr(1, close - 1));
    address.ipv6 = true;
    if (!ParseIpv6(address.host)) return std::nullopt;
    port_text = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    address.host = std::string(text.substr(0, colon));
    if (!ParseIpv4(address.host)) return std::nullopt;
    port_text = text.substr(colon + 1);
  }
  if (port_text.empty() || port_text.size() > 5) return std::nullopt;
  unsigned port = 0;
  const auto [end, error] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (error != std::errc() || end != port_text.data() + port_text.size()) return std::nullopt;
  if (port == 0 || port > 65535) return std::nullopt;
  address.port = static_cast<uint16_t>(port);
  return address;
}

std::optional<Wwid> ParseWwid(std::string_view text) {
  // `canonical` is the prefix the identifier is spelled with after parsing.
  auto hex_form = [&](std::string_view prefix, std::string_view canonical,
                      std::initializer_list<size_t> lengths) -> std::optional<Wwid> {
    const std::string_view digits = text.substr(prefix.size());
    if (!IsHex(digits)) return std::nullopt;
    if (std::find(lengths.begin(), lengths.end(), digits.size()) == lengths.end()) {
      return std::nullopt;
    }
    return Wwid{std::string(canonical) + Lower(digits)};
  };
  const std::string lower = Lower(text.substr(0, std::min<size_t>(4, text.size())));
  if (lower.starts_with("0x")) return hex_form("0x", "0x", {16, 32});
  if (lower == "naa.") return hex_form("naa.", "0x", {16, 32});
  if (lower == "eui.") return hex_form("eui.", "eui.", {16, 32});
  if (lower == "t10.") {
    const std::string_view id = text.substr(4);
    if (id.empty() || id.size() > 80) return std::nullopt;
    const bool printable = std::all_of(id.begin(), id.end(), [](char c) {
      return std::isprint(static_cast<unsigned char>(c)) != 0;
    });
    if (!printable) return std::nullopt;
    return Wwid{"t10." + std::string(id)};
  }
  return std::nullopt;
}

}  // namespace cmcl
