// The record framing and its crash recovery (leveldb's log_test, for our format): a torn
// or corrupt tail is truncated with a reason; corruption before the tail is an error.
#include "cmcld/core/storage/record_log.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace cmcl::storage {
namespace {

std::string FileOf(const std::vector<std::string>& payloads) {
  std::string file;
  for (const std::string& payload : payloads) {
    AppendRecord(7, payload, file);
  }
  return file;
}

std::vector<std::string> PayloadsOf(const RecoveredRecords& recovered) {
  std::vector<std::string> payloads;
  for (const Record& record : recovered.records) {
    payloads.push_back(record.payload);
  }
  return payloads;
}

TEST(Crc32c, MatchesTheCastagnoliCheckValue) {
  EXPECT_EQ(Crc32c("123456789"), 0xe3069283U);
  EXPECT_EQ(Crc32c(""), 0U);
  EXPECT_EQ(Crc32c("6789", Crc32c("12345")), Crc32c("123456789"));
}

TEST(RecordLog, EmptyFileRecoversNothingAndDropsNothing) {
  const Result<RecoveredRecords> recovered = RecoverRecords("");

  ASSERT_TRUE(recovered.ok());
  EXPECT_TRUE(recovered->records.empty());
  EXPECT_EQ(recovered->valid_length, 0u);
  EXPECT_TRUE(recovered->dropped_reason.empty());
}

TEST(RecordLog, RecordsOfEverySizeRoundTripWithTheirType) {
  const std::vector<std::string> payloads = {"", "a", std::string(1000, 'x'),
                                             std::string(200'000, '\0')};
  std::string file;
  AppendRecord(1, payloads[0], file);
  AppendRecord(2, payloads[1], file);
  AppendRecord(3, payloads[2], file);
  AppendRecord(255, payloads[3], file);

  const Result<RecoveredRecords> recovered = RecoverRecords(file);

  ASSERT_TRUE(recovered.ok());
  EXPECT_EQ(PayloadsOf(*recovered), payloads);
  EXPECT_EQ(recovered->records[3].type, 255);
  EXPECT_EQ(recovered->valid_length, file.size());
  EXPECT_EQ(recovered->dropped_bytes, 0u);
}

TEST(RecordLog, TruncatedTrailingRecordIsIgnoredAtEveryCutPoint) {
  const std::string whole = FileOf({"first", "second", "the third record"});
  const size_t two = FileOf({"first", "second"}).size();

  for (size_t cut = two + 1; cut < whole.size(); ++cut) {
    const Result<RecoveredRecords> recovered = RecoverRecords(whole.substr(0, cut));

    ASSERT_TRUE(recovered.ok()) << "cut at " << cut << ": " << recovered.status().ToString();
    EXPECT_EQ(PayloadsOf(*recovered), (std::vector<std::string>{"first", "second"}));
    EXPECT_EQ(recovered->valid_length, two);
    EXPECT_EQ(recovered->dropped_bytes, cut - two);
    EXPECT_NE(recovered->dropped_reason.find("torn"), std::string::npos)
        << recovered->dropped_reason;
  }
}

TEST(RecordLog, BadChecksumAtEndIsTruncated) {
  std::string file = FileOf({"first", "second"});
  const size_t one = FileOf({"first"}).size();
  file[file.size() - 1] ^= 0x01;

  const Result<RecoveredRecords> recovered = RecoverRecords(file);

  ASSERT_TRUE(recovered.ok());
  EXPECT_EQ(PayloadsOf(*recovered), (std::vector<std::string>{"first"}));
  EXPECT_EQ(recovered->valid_length, one);
  EXPECT_NE(recovered->dropped_reason.find("checksum mismatch"), std::string::npos);
  EXPECT_NE(recovered->dropped_reason.find("offset " + std::to_string(one)), std::string::npos);
}

TEST(RecordLog, ChecksumMismatchInMiddleIsAnError) {
  std::string file = FileOf({"first", "second", "third"});
  const size_t one = FileOf({"first"}).size();
  file[one + kRecordHeaderBytes] ^= 0x40;  // First payload byte of "second".

  const Result<RecoveredRecords> recovered = RecoverRecords(file);

  ASSERT_FALSE(recovered.ok());
  EXPECT_EQ(recovered.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(recovered.status().message().find("offset " + std::to_string(one)), std::string::npos)
      << recovered.status().ToString();
}

TEST(RecordLog, CorruptLengthInMiddleIsAnError) {
  std::string file = FileOf({"first", "second", "third"});
  const size_t one = FileOf({"first"}).size();
  file[one + 4] = static_cast<char>(0xff);  // The length of "second" becomes 255.

  const Result<RecoveredRecords> recovered = RecoverRecords(file);

  EXPECT_FALSE(recovered.ok());
}

TEST(RecordLog, GarbageAfterTheLastRecordIsTruncated) {
  const std::string good = FileOf({"first", "second"});
  const std::string garbage = "\x13\x57\x9b\xdf\x02\x46\x8a\xce\x11\x22\x33\x44\x55";

  const Result<RecoveredRecords> recovered = RecoverRecords(good + garbage);

  ASSERT_TRUE(recovered.ok());
  EXPECT_EQ(recovered->records.size(), 2u);
  EXPECT_EQ(recovered->valid_length, good.size());
  EXPECT_EQ(recovered->dropped_bytes, garbage.size());
}

TEST(RecordLog, ZeroedSpaceAfterTheLastRecordIsTruncated) {
  const std::string good = FileOf({"first"});

  const Result<RecoveredRecords> recovered = RecoverRecords(good + std::string(4096, '\0'));

  ASSERT_TRUE(recovered.ok());
  EXPECT_EQ(recovered->records.size(), 1u);
  EXPECT_EQ(recovered->valid_length, good.size());
  EXPECT_NE(recovered->dropped_reason.find("zeroed"), std::string::npos);
}

}  // namespace
}  // namespace cmcl::storage
