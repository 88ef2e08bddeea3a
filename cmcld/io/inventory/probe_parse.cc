#include "cmcld/io/inventory/probe_parse.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <utility>

namespace cmcl::io::inventory {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\0' || c == '\r'; }

std::string_view Trim(std::string_view text) {
  while (!text.empty() && IsBlank(text.front())) text.remove_prefix(1);
  while (!text.empty() && IsBlank(text.back())) text.remove_suffix(1);
  return text;
}

std::optional<uint64_t> Number(std::string_view text) {
  if (text.empty()) return std::nullopt;
  uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

bool StartsWithAny(const std::string& name, std::initializer_list<std::string_view> prefixes) {
  return std::any_of(prefixes.begin(), prefixes.end(),
                     [&](std::string_view prefix) { return name.starts_with(prefix); });
}

}  // namespace

std::optional<ByteSize> ParseMemTotal(std::string_view meminfo) {
  constexpr std::string_view kKey = "MemTotal:";
  size_t at = 0;
  while (at < meminfo.size()) {
    size_t end = meminfo.find('\n', at);
    if (end == std::string_view::npos) end = meminfo.size();
    const std::string_view line = meminfo.substr(at, end - at);
    at = end + 1;
    if (!line.starts_with(kKey)) continue;
    std::string_view rest = Trim(line.substr(kKey.size()));
    if (!rest.ends_with("kB")) return std::nullopt;
    rest = Trim(rest.substr(0, rest.size() - 2));
    const std::optional<uint64_t> kib = Number(rest);
    if (!kib || *kib > (uint64_t{1} << 50)) return std::nullopt;
    return ByteSize::FromMebibytes(*kib >> 10);
  }
  return std::nullopt;
}

std::optional<uint32_t> CountCpuList(std::string_view list) {
  list = Trim(list);
  if (list.empty()) return std::nullopt;
  uint64_t count = 0;
  size_t at = 0;
  while (at <= list.size()) {
    size_t end = list.find(',', at);
    if (end == std::string_view::npos) end = list.size();
    const std::string_view range = list.substr(at, end - at);
    at = end + 1;
    const size_t dash = range.find('-');
    const std::optional<uint64_t> first = Number(range.substr(0, dash));
    const std::optional<uint64_t> last =
        dash == std::string_view::npos ? first : Number(range.substr(dash + 1));
    if (!first || !last || *last < *first) return std::nullopt;
    count += *last - *first + 1;
    if (count > UINT32_MAX) return std::nullopt;
  }
  return static_cast<uint32_t>(count);
}

std::optional<Wwid> NormaliseSysfsWwid(std::string_view raw) {
  const std::string_view text = Trim(raw);
  if (text.empty()) return std::nullopt;
  return ParseWwid(text);
}

std::optional<Wwid> MultipathWwid(std::string_view dm_uuid) {
  constexpr std::string_view kPrefix = "mpath-3";  // scsi_id's designator type 3: NAA.
  const std::string_view text = Trim(dm_uuid);
  if (!text.starts_with(kPrefix)) return std::nullopt;
  return ParseWwid("0x" + std::string(text.substr(kPrefix.size())));
}

bool IsLvmUuid(std::string_view dm_uuid) { return Trim(dm_uuid).starts_with("LVM-"); }

std::string ChooseUplink(std::vector<BridgePort> ports) {
  // Lower rank is preferred: a physical NIC, then a virtual device.
  auto rank = [](const BridgePort& port) { return port.is_physical ? 0 : 1; };
  std::erase_if(ports, [](const BridgePort& port) {
    return port.is_tap || StartsWithAny(port.name, {"vnet", "tap", "vif"});
  });
  if (ports.empty()) return "";
  const auto best = std::min_element(ports.begin(), ports.end(),
                                     [&](const BridgePort& left, const BridgePort& right) {
                                       return std::pair(rank(left), std::string_view(left.name)) <
                                              std::pair(rank(right), std::string_view(right.name));
                                     });
  return best->name;
}

}  // namespace cmcl::io::inventory
