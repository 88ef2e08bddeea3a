#include "cmcld/core/common/units.h"

#include <gtest/gtest.h>

namespace cmcl {
namespace {

TEST(ParseByteSize, BinaryAndDecimalUnits) {
  EXPECT_EQ(ParseByteSize("3GiB")->bytes(), 3ULL << 30);
  EXPECT_EQ(ParseByteSize("512MiB")->mebibytes(), 512u);
  EXPECT_EQ(ParseByteSize("2GB")->bytes(), 2000000000ULL);
  EXPECT_EQ(ParseByteSize("4096B")->bytes(), 4096u);
}

TEST(ParseByteSize, RefusesBareNumbersAndUnknownUnits) {
  EXPECT_EQ(ParseByteSize("1024"), std::nullopt);
  EXPECT_EQ(ParseByteSize("3 GiB"), std::nullopt);
  EXPECT_EQ(ParseByteSize("3gib"), std::nullopt);
  EXPECT_EQ(ParseByteSize("GiB"), std::nullopt);
  EXPECT_EQ(ParseByteSize("-1GiB"), std::nullopt);
}

TEST(ByteSize, PrintsLargestExactUnit) {
  EXPECT_EQ(ByteSize::FromBytes(3ULL << 30).ToString(), "3GiB");
  EXPECT_EQ(ByteSize::FromMebibytes(1536).ToString(), "1536MiB");
  EXPECT_EQ(ByteSize::FromBytes(100).ToString(), "100B");
}

TEST(ParsePercentage, ExactPartsPerMillion) {
  EXPECT_EQ(ParsePercentage("0.1%")->parts_per_million(), 1000u);
  EXPECT_EQ(ParsePercentage("5%")->parts_per_million(), 50000u);
  EXPECT_EQ(ParsePercentage("100%")->parts_per_million(), 1000000u);
  EXPECT_EQ(ParsePercentage("0.1%")->ToString(), "0.1%");
}

TEST(ParsePercentage, RefusesMissingSignAndOutOfRange) {
  EXPECT_EQ(ParsePercentage("0.1"), std::nullopt);
  EXPECT_EQ(ParsePercentage("101%"), std::nullopt);
  EXPECT_EQ(ParsePercentage("-1%"), std::nullopt);
  EXPECT_EQ(ParsePercentage("1.%"), std::nullopt);
  EXPECT_EQ(ParsePercentage("0.00001%"), std::nullopt);
}

TEST(ParseSocketAddress, Ipv4AndBracketedIpv6) {
  const auto v4 = ParseSocketAddress("127.0.0.1:7101");
  const auto v6 = ParseSocketAddress("[::1]:7101");

  ASSERT_TRUE(v4.has_value());
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 7101);
  ASSERT_TRUE(v6.has_value());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->ToString(), "[::1]:7101");
}

TEST(ParseSocketAddress, RefusesNamesBadPortsAndBadIps) {
  EXPECT_EQ(ParseSocketAddress("localhost:7101"), std::nullopt);
  EXPECT_EQ(ParseSocketAddress("127.0.0.1"), std::nullopt);
  EXPECT_EQ(ParseSocketAddress("127.0.0.1:0"), std::nullopt);
  EXPECT_EQ(ParseSocketAddress("127.0.0.1:70000"), std::nullopt);
  EXPECT_EQ(ParseSocketAddress("256.0.0.1:7101"), std::nullopt);
  EXPECT_EQ(ParseSocketAddress("127.0.0:7101"), std::nullopt);
  EXPECT_EQ(ParseSocketAddress("::1:7101"), std::nullopt);
  EXPECT_EQ(ParseSocketAddress("[1:2:3:4:5:6:7:8:9]:1"), std::nullopt);
}

TEST(ParseWwid, NormalizesHexFormsToLowerCase) {
  EXPECT_EQ(ParseWwid("0x600508B4000156D700012000000B0000")->value,
            "0x600508b4000156d700012000000b0000");
  EXPECT_EQ(ParseWwid("eui.0025385B71B1E3F1")->value, "eui.0025385b71b1e3f1");
  // An NVMe NGUID: 128 bits, which Linux's /sys/block/nvme*/wwid spells eui. + 32 hex.
  EXPECT_EQ(ParseWwid("eui.E8238FA6BF530001001B448B4A5E1C2D")->value,
            "eui.e8238fa6bf530001001b448b4a5e1c2d");
}

TEST(ParseWwid, NaaAndHexPrefixSpellTheSameIdentifier) {
  EXPECT_EQ(ParseWwid("naa.600508B4000156D7")->value, "0x600508b4000156d7");
  EXPECT_EQ(ParseWwid("naa.600508b4000156d700012000000b0000"),
            ParseWwid("0x600508B4000156D700012000000B0000"));
}

TEST(ParseWwid, KeepsOtherFormsAsWritten) {
  EXPECT_EQ(ParseWwid("eui.0025385b71b1e3f1")->value, "eui.0025385b71b1e3f1");
  EXPECT_EQ(ParseWwid("t10.ATA QEMU HARDDISK QM00001")->value, "t10.ATA QEMU HARDDISK QM00001");
}

TEST(ParseWwid, RefusesWrongLengthsAndNonHex) {
  EXPECT_EQ(ParseWwid("0x6005"), std::nullopt);
  EXPECT_EQ(ParseWwid("0x600508b4000156d70001200000zz0000"), std::nullopt);
  EXPECT_EQ(ParseWwid("600508b4000156d7"), std::nullopt);
  EXPECT_EQ(ParseWwid("t10."), std::nullopt);
  EXPECT_EQ(ParseWwid("eui.0025385b71b1e3f1aa"), std::nullopt);
  EXPECT_EQ(ParseWwid(""), std::nullopt);
}

}  // namespace
}  // namespace cmcl
