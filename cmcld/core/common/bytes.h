// ByteWriter and ByteReader: the little-endian field encoding every stored or replicated
// structure of the core uses (the Raft records, the cluster state and its operations).
//
// Fixed-width unsigned integers (u8, u32, u64, little-endian), flags (u8 0 or 1),
// durations (u64 milliseconds, never negative), strings (u32 length then bytes) and raw
// literals. The reader is total: once a read runs past the end or a check fails, every
// later read fails too, so a decoder reads everything and asks ok() or done() once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>

#include "cmcld/core/common/names.h"
#include "cmcld/core/common/time.h"

namespace cmcl {

class ByteWriter {
 public:
  void U8(uint8_t value) { out_.push_back(static_cast<char>(value)); }
  void U32(uint32_t value) { Fixed(value, 4); }
  void U64(uint64_t value) { Fixed(value, 8); }
  void Flag(bool value) { U8(value ? 1 : 0); }
  void Ms(Duration value) { U64(static_cast<uint64_t>(value.count())); }
  void Str(std::string_view value) {
    U32(static_cast<uint32_t>(value.size()));
    out_.append(value);
  }
  void Raw(std::string_view value) { out_.append(value); }
  std::string Take() { return std::move(out_); }

 private:
  void Fixed(uint64_t value, int bytes) {
    for (int i = 0; i < bytes; ++i) {
      out_.push_back(static_cast<char>((value >> (8 * i)) & 0xffU));
    }
  }
  std::string out_;
};

class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  void Fail() { ok_ = false; }
  void Require(bool condition) { ok_ = ok_ && condition; }
  bool done() const { return ok_ && at_ == in_.size(); }
  uint64_t Fixed(size_t bytes) {
    if (!ok_ || in_.size() - at_ < bytes) {
      ok_ = false;
      return 0;
    }
    uint64_t value = 0;
    for (size_t i = 0; i < bytes; ++i) {
      value |= static_cast<uint64_t>(static_cast<unsigned char>(in_[at_ + i])) << (8 * i);
    }
    at_ += bytes;
    return value;
  }
  uint8_t U8() { return static_cast<uint8_t>(Fixed(1)); }
  uint32_t U32() { return static_cast<uint32_t>(Fixed(4)); }
  uint64_t U64() { return Fixed(8); }
  bool Flag() {
    const uint8_t value = U8();
    Require(value <= 1);
    return value == 1;
  }
  Duration Ms() {
    const uint64_t value = U64();
    Require(value <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()));
    return ok_ ? Duration(static_cast<int64_t>(value)) : Duration(0);
  }
  std::string Str() {
    const uint32_t size = U32();
    if (!ok_ || in_.size() - at_ < size) {
      ok_ = false;
      return {};
    }
    std::string value(in_.substr(at_, size));
    at_ += size;
    return value;
  }
  // A node or resource name: it must be valid (names.h), so nothing odd reaches the logs.
  std::string Name() {
    std::string value = Str();
    Require(IsValidName(value));
    return value;
  }
  void Expect(std::string_view literal) {
    if (!ok_ || in_.size() - at_ < literal.size() || in_.substr(at_, literal.size()) != literal) {
      ok_ = false;
      return;
    }
    at_ += literal.size();
  }

 private:
  std::string_view in_;
  size_t at_ = 0;
  bool ok_ = true;
};

}  // namespace cmcl
