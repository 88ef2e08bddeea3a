// RecordLog: the framing of an append-only file of checksummed records, and its recovery
// after a crash (DESIGN.md section 3: "every record carries a checksum; a torn tail after
// a crash is detected and truncated"; leveldb's log format, without blocks).
//
// A record is a 9-byte header then the payload:
//   crc32c  u32 LE   CRC-32C (Castagnoli) of the length, type and payload bytes
//   length  u32 LE   payload bytes, at most kRecordPayloadMax
//   type    u8       what the payload is; 0 is never written (zeroed space reads as it)
// The file is written only by appending and synced in order, so after a crash only its
// end can be wrong: a record cut short (a torn write), or garbage the disk had not
// synced. Recover() keeps every whole, valid record and truncates such a tail, saying
// why. A bad record followed by a valid one cannot come from a crash: that is
// corruption of synced data, and Recover() reports it as an error instead of skipping it.
//
// Pure: bytes in, bytes out. io/storage reads and writes the files.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cmcld/core/common/status.h"

namespace cmcl::storage {

inline constexpr size_t kRecordHeaderBytes = 9;
inline constexpr uint32_t kRecordPayloadMax = 64U << 20;

// CRC-32C of `data`, continuing from `crc` (0 to start). Check value: "123456789" gives
// 0xe3069283.
uint32_t Crc32c(std::string_view data, uint32_t crc = 0);

struct Record {
  uint8_t type = 0;
  std::string payload;

  friend bool operator==(const Record&, const Record&) = default;
};

// Appends the framed record to `out`. REQUIRES: type != 0, payload <= kRecordPayloadMax.
void AppendRecord(uint8_t type, std::string_view payload, std::string& out);

struct RecoveredRecords {
  std::vector<Record> records;
  // Bytes of whole, valid records from the start: the file is truncated to this.
  uint64_t valid_length = 0;
  uint64_t dropped_bytes = 0;
  // Empty if nothing was dropped, else why, for a log line: "torn record at offset 4096:
  // header claims 300 bytes, 120 remain; truncated 129 bytes".
  std::string dropped_reason;
};

// Reads every record of `bytes`. FailedPrecondition if a bad record is followed by a valid
// one (corruption before the tail), naming both offsets.
Result<RecoveredRecords> RecoverRecords(std::string_view bytes);

}  // namespace cmcl::storage
