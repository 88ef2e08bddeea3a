#include "cmcld/core/storage/record_log.h"

#include <array>

#include "cmcld/core/common/check.h"

namespace cmcl::storage {
namespace {

constexpr std::array<uint32_t, 256> MakeCrcTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 1U) != 0 ? (crc >> 1) ^ 0x82f63b78U : crc >> 1;  // Castagnoli, reflected.
    }
    table[i] = crc;
  }
  return table;
}

constexpr std::array<uint32_t, 256> kCrcTable = MakeCrcTable();

uint32_t ReadU32(std::string_view bytes, size_t at) {
  uint32_t value = 0;
  for (size_t i = 0; i < 4; ++i) {
    value |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[at + i])) << (8 * i);
  }
  return value;
}

void WriteU32(uint32_t value, std::string& out) {
  for (int i = 0; i < 4; ++i) {
    out.push_back(static_cast<char>((value >> (8 * i)) & 0xffU));
  }
}

enum class Parse { kOk, kShortHeader, kBadLength, kShortPayload, kZeroType, kBadChecksum };

struct Parsed {
  Parse status = Parse::kOk;
  uint32_t length = 0;
};

Parsed ParseAt(std::string_view bytes, size_t at) {
  Parsed parsed;
  const size_t remaining = bytes.size() - at;
  if (remaining < kRecordHeaderBytes) {
    parsed.status = Parse::kShortHeader;
    return parsed;
  }
  parsed.length = ReadU32(bytes, at + 4);
  if (parsed.length > kRecordPayloadMax) {
    parsed.status = Parse::kBadLength;
  } else if (parsed.length > remaining - kRecordHeaderBytes) {
    parsed.status = Parse::kShortPayload;
  } else if (bytes[at + 8] == 0) {
    parsed.status = Parse::kZeroType;
  } else if (Crc32c(bytes.substr(at + 4, 5 + parsed.length)) != ReadU32(bytes, at)) {
    parsed.status = Parse::kBadChecksum;
  }
  return parsed;
}

std::string Describe(const Parsed& parsed, std::string_view bytes, size_t at) {
  const size_t remaining = bytes.size() - at;
  const std::string where = " at offset " + std::to_string(at);
  switch (parsed.status) {
    case Parse::kOk:
      return "valid record" + where;
    case Parse::kShortHeader:
      return "torn record header" + where + " (" + std::to_string(remaining) + " of " +
             std::to_string(kRecordHeaderBytes) + " bytes)";
    case Parse::kBadLength:
      return "record" + where + " claims " + std::to_string(parsed.length) +
             " bytes, beyond the limit";
    case Parse::kShortPayload:
      return "torn record" + where + ": header claims " + std::to_string(parsed.length) +
             " bytes, " + std::to_string(remaining - kRecordHeaderBytes) + " remain";
    case Parse::kZeroType:
      return "zeroed space" + where;
    case Parse::kBadChecksum:
      return "checksum mismatch in record" + where;
  }
  return "?";
}

}  // namespace

uint32_t Crc32c(std::string_view data, uint32_t crc) {
  crc = ~crc;
  for (const char c : data) {
    crc = kCrcTable[(crc ^ static_cast<unsigned char>(c)) & 0xffU] ^ (crc >> 8);
  }
  return ~crc;
}

void AppendRecord(uint8_t type, std::string_view payload, std::string& out) {
  CMCL_CHECK(type != 0) << "record type 0 is reserved";
  CMCL_CHECK(payload.size() <= kRecordPayloadMax) << "record of " << payload.size() << " bytes";
  std::string body;
  body.reserve(5 + payload.size());
  WriteU32(static_cast<uint32_t>(payload.size()), body);
  body.push_back(static_cast<char>(type));
  body.append(payload);
  WriteU32(Crc32c(body), out);
  out.append(body);
}

Result<RecoveredRecords> RecoverRecords(std::string_view bytes) {
  RecoveredRecords recovered;
  size_t at = 0;
  while (at < bytes.size()) {
    const Parsed parsed = ParseAt(bytes, at);
    if (parsed.status == Parse::kOk) {
      recovered.records.push_back(
          Record{.type = static_cast<uint8_t>(bytes[at + 8]),
                 .payload = std::string(bytes.substr(at + kRecordHeaderBytes, parsed.length))});
      at += kRecordHeaderBytes + parsed.length;
      continue;
    }
    // A crash can only damage the end. If any valid record starts after the bad one, the
    // bad one is not a tail: synced data was corrupted.
    for (size_t later = at + 1; later + kRecordHeaderBytes <= bytes.size(); ++later) {
      if (ParseAt(bytes, later).status == Parse::kOk) {
        return Status::FailedPrecondition("corrupt log: " + Describe(parsed, bytes, at) +
                                          ", but a valid record follows at offset " +
                                          std::to_string(later));
      }
    }
    recovered.dropped_bytes = bytes.size() - at;
    recovered.dropped_reason = Describe(parsed, bytes, at) + "; truncated " +
                               std::to_string(recovered.dropped_bytes) + " bytes";
    break;
  }
  recovered.valid_length = at;
  return recovered;
}

}  // namespace cmcl::storage
