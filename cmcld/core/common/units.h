// Value types for configuration quantities: sizes, percentages, socket addresses and
// WWIDs. Each has a strict parser (nullopt on anything malformed) and a canonical
// spelling, so configuration is typed once at the edge and never re-parsed.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

namespace cmcl {

// A size in bytes. Parsed from "3GiB", "512MiB", "64KiB", "1TiB", "4096B" (binary
// units) or "2GB", "500MB", "1kB" (decimal units). A bare number is refused: sizes are
// too easy to get wrong by a factor of 1024.
class ByteSize {
 public:
  constexpr ByteSize() = default;
  static constexpr ByteSize FromBytes(uint64_t bytes) { return ByteSize(bytes); }
  static constexpr ByteSize FromMebibytes(uint64_t mib) { return ByteSize(mib << 20); }
  constexpr uint64_t bytes() const { return bytes_; }
  constexpr uint64_t mebibytes() const { return bytes_ >> 20; }
  friend constexpr auto operator<=>(ByteSize, ByteSize) = default;
  friend std::ostream& operator<<(std::ostream& out, ByteSize s) { return out << s.ToString(); }
  // The largest exact binary unit: 3221225472 -> "3GiB", 1536MiB stays "1536MiB".
  std::string ToString() const;

 private:
  constexpr explicit ByteSize(uint64_t bytes) : bytes_(bytes) {}
  uint64_t bytes_ = 0;
};
std::optional<ByteSize> ParseByteSize(std::string_view text);

// A percentage held exactly as parts per million. Parsed from "0.1%" (1000 ppm),
// "5%", "100%"; the % sign is required, at most four decimals, 0% to 100%.
class Percentage {
 public:
  constexpr Percentage() = default;
  static constexpr Percentage FromPartsPerMillion(uint32_t ppm) { return Percentage(ppm); }
  constexpr uint32_t parts_per_million() const { return ppm_; }
  constexpr double fraction() const { return ppm_ / 1e6; }
  friend constexpr auto operator<=>(Percentage, Percentage) = default;
  std::string ToString() const;

 private:
  constexpr explicit Percentage(uint32_t ppm) : ppm_(ppm) {}
  uint32_t ppm_ = 0;
};
std::optional<Percentage> ParsePercentage(std::string_view text);

// An IP literal and a port: "127.0.0.1:7101" or "[::1]:7101". Host names are refused:
// heartbeat must not depend on a name service.
struct SocketAddress {
  std::string host;  // Without brackets for IPv6.
  uint16_t port = 0;
  bool ipv6 = false;

  friend auto operator<=>(const SocketAddress&, const SocketAddress&) = default;
  std::string ToString() const;  // Canonical form, brackets around IPv6.
};
std::optional<SocketAddress> ParseSocketAddress(std::string_view text);

// A disk's World Wide Identifier, in one canonical spelling so that equal identifiers
// compare equal. Accepted forms:
//   0x + 16 or 32 hex digits          (HP-UX, udev's wwn-0x...: 0x600508b4000156d7...)
//   naa. + 16 or 32 hex digits        (Linux /sys/block/*/device/wwid, NAA designator)
//   eui. + 16 or 32 hex digits        (EUI-64; NVMe, whose NGUID Linux spells eui. + 32)
//   t10. + 1..80 printable characters (T10 vendor id; case and spaces kept)
// "0x" and "naa." spell the same NAA identifier: both become 0x + lower-case hex, so a
// disk pinned as naa.6005... matches an inventory that says 0x6005... (and two packages
// pinning one disk in two spellings are still seen to share it).
struct Wwid {
  std::string value;
  friend auto operator<=>(const Wwid&, const Wwid&) = default;
};
std::optional<Wwid> ParseWwid(std::string_view text);

}  // namespace cmcl
