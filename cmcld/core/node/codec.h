// Field codecs for the cluster state's wire and snapshot formats (internal to node/).
//
// Put(out, a, b, c) writes fields in order; Get(in, a, b, c) reads them back into the
// same variables. Each field type has one encoding: names are checked (IsValidName) on
// read, enums are range-checked against their last value, optionals carry a flag, sets
// and maps are written in order and must read back strictly ascending (vectors keep
// their order), so every accepted encoding is the canonical one (Encode(Decode(b)) ==
// b). A failed read leaves the reader failed (ByteReader::ok()); the values read are
// then unspecified but valid.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "cmcld/core/common/bytes.h"
#include "cmcld/core/common/names.h"
#include "cmcld/core/node/cluster_state.h"
#include "cmcld/core/raft/types.h"

namespace cmcl::node::codec {

// The last value of each enum written on the wire (range check on read).
template <typename E>
constexpr E kLast = E{};
template <>
inline constexpr ReportKind kLast<ReportKind> = ReportKind::kStray;
template <>
inline constexpr AssignmentStatus kLast<AssignmentStatus> = AssignmentStatus::kFenced;
template <>
inline constexpr FailureKind kLast<FailureKind> = FailureKind::kHaltScript;
template <>
inline constexpr ActionReason kLast<ActionReason> = ActionReason::kDisplaced;
template <>
inline constexpr IntentKind kLast<IntentKind> = IntentKind::kNodeHalt;
template <>
inline constexpr IntentStep kLast<IntentStep> = IntentStep::kReturning;
template <>
inline constexpr CommandKind kLast<CommandKind> = CommandKind::kMaintenance;

inline void PutOne(ByteWriter& out, bool value) { out.Flag(value); }
inline void PutOne(ByteWriter& out, uint32_t value) { out.U32(value); }
inline void PutOne(ByteWriter& out, uint64_t value) { out.U64(value); }
inline void PutOne(ByteWriter& out, const std::string& value) { out.Str(value); }
inline void PutOne(ByteWriter& out, const NodeName& value) { out.Str(value.value()); }
inline void PutOne(ByteWriter& out, const PackageName& value) { out.Str(value.value()); }
inline void PutOne(ByteWriter& out, raft::LogIndex value) { out.U64(value.value()); }
inline void PutOne(ByteWriter& out, Duration value) { out.Ms(value); }
// Issue 12's inventories (InventoryOp, snapshot format 6); defined below the templates.
inline void PutOne(ByteWriter& out, const Wwid& value) { out.Str(value.value); }
inline void PutOne(ByteWriter& out, ByteSize value) { out.U64(value.bytes()); }
inline void PutOne(ByteWriter& out, const inventory::Disk& value);
inline void PutOne(ByteWriter& out, const inventory::LogicalVolume& value);
inline void PutOne(ByteWriter& out, const inventory::Vswitch& value);
inline void PutOne(ByteWriter& out, const inventory::Capacity& value);
inline void PutOne(ByteWriter& out, const inventory::NodeInventory& value);
template <typename E>
  requires std::is_enum_v<E>
void PutOne(ByteWriter& out, E value) {
  out.U8(static_cast<uint8_t>(value));
}
template <typename T>
void PutOne(ByteWriter& out, const std::optional<T>& value);
template <typename T>
void PutOne(ByteWriter& out, const std::set<T>& values);
template <typename A, typename B>
void PutOne(ByteWriter& out, const std::pair<A, B>& value);
template <typename T>
void PutOne(ByteWriter& out, const std::vector<T>& values);
template <typename K, typename V>
void PutOne(ByteWriter& out, const std::map<K, V>& values);

template <typename T>
void PutOne(ByteWriter& out, const std::optional<T>& value) {
  out.Flag(value.has_value());
  if (value) {
    PutOne(out, *value);
  }
}
template <typename T>
void PutOne(ByteWriter& out, const std::set<T>& values) {
  out.U32(static_cast<uint32_t>(values.size()));
  for (const T& value : values) {
    PutOne(out, value);
  }
}
template <typename A, typename B>
void PutOne(ByteWriter& out, const std::pair<A, B>& value) {
  PutOne(out, value.first);
  PutOne(out, value.second);
}
template <typename T>
void PutOne(ByteWriter& out, const std::vector<T>& values) {
  out.U32(static_cast<uint32_t>(values.size()));
  for (const T& value : values) {
    PutOne(out, value);
  }
}
template <typename K, typename V>
void PutOne(ByteWriter& out, const std::map<K, V>& values) {
  out.U32(static_cast<uint32_t>(values.size()));
  for (const auto& [key, value] : values) {
    PutOne(out, key);
    PutOne(out, value);
  }
}

template <typename... T>
void Put(ByteWriter& out, const T&... values) {
  (PutOne(out, values), ...);
}

inline void GetOne(ByteReader& in, bool& value) { value = in.Flag(); }
inline void GetOne(ByteReader& in, uint32_t& value) { value = in.U32(); }
inline void GetOne(ByteReader& in, uint64_t& value) { value = in.U64(); }
inline void GetOne(ByteReader& in, std::string& value) { value = in.Str(); }
inline void GetOne(ByteReader& in, NodeName& value) { value = NodeName(in.Name()); }
inline void GetOne(ByteReader& in, PackageName& value) { value = PackageName(in.Name()); }
inline void GetOne(ByteReader& in, raft::LogIndex& value) { value = raft::LogIndex(in.U64()); }
inline void GetOne(ByteReader& in, Duration& value) { value = in.Ms(); }
// A WWID reads back only in its canonical spelling (Encode(Decode(b)) == b).
inline void GetOne(ByteReader& in, Wwid& value) {
  value.value = in.Str();
  const std::optional<Wwid> parsed = ParseWwid(value.value);
  in.Require(parsed.has_value() && *parsed == value);
}
inline void GetOne(ByteReader& in, ByteSize& value) { value = ByteSize::FromBytes(in.U64()); }
inline void GetOne(ByteReader& in, inventory::Disk& value);
inline void GetOne(ByteReader& in, inventory::LogicalVolume& value);
inline void GetOne(ByteReader& in, inventory::Vswitch& value);
inline void GetOne(ByteReader& in, inventory::Capacity& value);
inline void GetOne(ByteReader& in, inventory::NodeInventory& value);
template <typename E>
  requires std::is_enum_v<E>
void GetOne(ByteReader& in, E& value) {
  const uint8_t raw = in.U8();
  in.Require(raw <= static_cast<uint8_t>(kLast<E>));
  value = static_cast<E>(in.ok() ? raw : 0);
}
template <typename T>
void GetOne(ByteReader& in, std::optional<T>& value);
template <typename T>
void GetOne(ByteReader& in, std::set<T>& values);
template <typename A, typename B>
void GetOne(ByteReader& in, std::pair<A, B>& value);
template <typename T>
void GetOne(ByteReader& in, std::vector<T>& values);
template <typename K, typename V>
void GetOne(ByteReader& in, std::map<K, V>& values);

template <typename T>
void GetOne(ByteReader& in, std::optional<T>& value) {
  value.reset();
  if (in.Flag()) {
    T inner{};
    GetOne(in, inner);
    value = std::move(inner);
  }
}
template <typename T>
void GetOne(ByteReader& in, std::set<T>& values) {
  values.clear();
  const uint32_t count = in.U32();
  for (uint32_t i = 0; i < count && in.ok(); ++i) {
    T value{};
    GetOne(in, value);
    in.Require(values.empty() || *values.rbegin() < value);
    values.insert(values.end(), std::move(value));
  }
}
template <typename A, typename B>
void GetOne(ByteReader& in, std::pair<A, B>& value) {
  GetOne(in, value.first);
  GetOne(in, value.second);
}
// No reserve(count): a garbage count must not allocate; the loop stops at the end.
template <typename T>
void GetOne(ByteReader& in, std::vector<T>& values) {
  values.clear();
  const uint32_t count = in.U32();
  for (uint32_t i = 0; i < count && in.ok(); ++i) {
    T value{};
    GetOne(in, value);
    values.push_back(std::move(value));
  }
}
template <typename K, typename V>
void GetOne(ByteReader& in, std::map<K, V>& values) {
  values.clear();
  const uint32_t count = in.U32();
  for (uint32_t i = 0; i < count && in.ok(); ++i) {
    K key{};
    V value{};
    GetOne(in, key);
    GetOne(in, value);
    in.Require(values.empty() || values.rbegin()->first < key);
    values.emplace_hint(values.end(), std::move(key), std::move(value));
  }
}

template <typename... T>
void Get(ByteReader& in, T&... values) {
  (GetOne(in, values), ...);
}

inline void PutOne(ByteWriter& out, const inventory::Disk& value) {
  Put(out, value.path, value.wwid);
}
inline void PutOne(ByteWriter& out, const inventory::LogicalVolume& value) { Put(out, value.path); }
inline void PutOne(ByteWriter& out, const inventory::Vswitch& value) {
  Put(out, value.name, value.nic);
}
inline void PutOne(ByteWriter& out, const inventory::Capacity& value) {
  Put(out, value.vcpus, value.memory);
}
inline void PutOne(ByteWriter& out, const inventory::NodeInventory& value) {
  Put(out, value.disks, value.lvols, value.vswitches, value.shared_devices, value.capacity,
      value.driver_versions);
}
inline void GetOne(ByteReader& in, inventory::Disk& value) { Get(in, value.path, value.wwid); }
inline void GetOne(ByteReader& in, inventory::LogicalVolume& value) { Get(in, value.path); }
inline void GetOne(ByteReader& in, inventory::Vswitch& value) { Get(in, value.name, value.nic); }
inline void GetOne(ByteReader& in, inventory::Capacity& value) {
  Get(in, value.vcpus, value.memory);
}
inline void GetOne(ByteReader& in, inventory::NodeInventory& value) {
  Get(in, value.disks, value.lvols, value.vswitches, value.shared_devices, value.capacity,
      value.driver_versions);
}

}  // namespace cmcl::node::codec
