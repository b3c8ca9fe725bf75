#include <gtest/gtest.h>

#include "units.h"

using dprof::analyzer::format_bytes;
using dprof::analyzer::format_count;
using dprof::analyzer::parse_percentage;
using dprof::analyzer::parse_size;

TEST(ParseSize, AcceptsPlainBinaryAndDecimalUnits) {
  EXPECT_EQ(parse_size("4096"), 4096u);
  EXPECT_EQ(parse_size("512KiB"), 512u * 1024);
  EXPECT_EQ(parse_size("2MiB"), 2u * 1024 * 1024);
  EXPECT_EQ(parse_size("1.5GB"), 1500000000u);
  EXPECT_EQ(parse_size("1.5GiB"), 1610612736u);
  EXPECT_EQ(parse_size("10 MB"), 10000000u);
  EXPECT_EQ(parse_size("7B"), 7u);
}

TEST(ParseSize, RejectsNonsenseWithAReason) {
  std::string error;
  EXPECT_FALSE(parse_size("12QB", &error));
  EXPECT_NE(error.find("unknown unit 'QB'"), std::string::npos) << error;
  EXPECT_FALSE(parse_size("", &error));
  EXPECT_FALSE(parse_size("MiB", &error));
  EXPECT_FALSE(parse_size("1.2.3MiB", &error));
  EXPECT_FALSE(parse_size("1.5", &error));  // fractional bytes
  EXPECT_FALSE(parse_size("99999999999999999999TiB", &error));
}

TEST(ParsePercentage, NeedsThePercentSign) {
  EXPECT_DOUBLE_EQ(*parse_percentage("5%"), 5.0);
  EXPECT_DOUBLE_EQ(*parse_percentage("0.5%"), 0.5);
  EXPECT_FALSE(parse_percentage("5"));
  EXPECT_FALSE(parse_percentage("x%"));
  EXPECT_FALSE(parse_percentage("-1%"));
}

TEST(Format, BytesAndCounts) {
  EXPECT_EQ(format_bytes(0), "0 B");
  EXPECT_EQ(format_bytes(1023), "1023 B");
  EXPECT_EQ(format_bytes(1536), "1.50 KiB");
  EXPECT_EQ(format_bytes(10ull * 1024 * 1024), "10.0 MiB");
  EXPECT_EQ(format_count(0), "0");
  EXPECT_EQ(format_count(1234567), "1,234,567");
  EXPECT_EQ(format_count(100), "100");
}
