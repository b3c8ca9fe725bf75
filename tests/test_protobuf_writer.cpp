// The analyzer's protobuf encoder against libprotobuf: the same Profile built through both comes
// out as the same bytes (libprotobuf writes fields in field order, leaves proto3 zeros out and
// packs repeated numbers; so must the encoder).
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "profile.pb.h"
#include "protobuf_writer.h"

using dprof::analyzer::ProtobufWriter;

TEST(ProtobufWriter, WritesWhatLibprotobufWrites) {
  namespace pb = perftools::profiles;
  pb::Profile expected;
  ProtobufWriter profile;

  // Two sample types, the second with a zero (left out) index.
  ProtobufWriter type_a;
  type_a.add_int(1, 1);
  type_a.add_int(2, 2);
  profile.add_message(1, type_a);
  auto* expected_type = expected.add_sample_type();
  expected_type->set_type(1);
  expected_type->set_unit(2);
  ProtobufWriter type_b;
  type_b.add_int(1, 0);
  type_b.add_int(2, 3);
  profile.add_message(1, type_b);
  expected.add_sample_type()->set_unit(3);

  // A sample: packed ids and values, zeros, a negative and a 10-byte value among them.
  std::vector<uint64_t> ids = {1, 300, UINT64_MAX};
  std::vector<int64_t> values = {0, 5, -1, INT64_MAX, 1 << 20};
  ProtobufWriter sample;
  sample.add_packed(1, ids);
  sample.add_packed(2, values);
  profile.add_message(2, sample);
  auto* expected_sample = expected.add_sample();
  for (uint64_t id : ids) expected_sample->add_location_id(id);
  for (int64_t value : values) expected_sample->add_value(value);
  profile.add_message(2, ProtobufWriter());  // an empty sample is still a sample
  expected.add_sample();

  // A mapping with its flags, one false.
  ProtobufWriter mapping;
  mapping.add_uint(1, 1);
  mapping.add_uint(2, 0x400000);
  mapping.add_uint(3, 0x401000);
  mapping.add_int(5, 4);
  mapping.add_bool(7, true);
  mapping.add_bool(8, false);
  profile.add_message(3, mapping);
  auto* expected_mapping = expected.add_mapping();
  expected_mapping->set_id(1);
  expected_mapping->set_memory_start(0x400000);
  expected_mapping->set_memory_limit(0x401000);
  expected_mapping->set_filename(4);
  expected_mapping->set_has_functions(true);

  // A location with two lines.
  ProtobufWriter location;
  location.add_uint(1, 7);
  location.add_uint(3, 0x400123);
  for (int line_number : {10, 0}) {
    ProtobufWriter line;
    line.add_uint(1, 2);
    line.add_int(2, line_number);
    location.add_message(4, line);
  }
  profile.add_message(4, location);
  auto* expected_location = expected.add_location();
  expected_location->set_id(7);
  expected_location->set_address(0x400123);
  expected_location->add_line()->set_function_id(2);
  expected_location->mutable_line(0)->set_line(10);
  expected_location->add_line()->set_function_id(2);

  // The string table, empty string first; strings longer than 127 bytes.
  for (const std::string& text : {std::string(), std::string("main"), std::string(300, 'x')}) {
    profile.add_bytes(6, text);
    expected.add_string_table(text);
  }

  // Scalars after the repeated fields, and a singular submessage.
  profile.add_int(9, 1'700'000'000'000'000'000);
  expected.set_time_nanos(1'700'000'000'000'000'000);
  profile.add_int(10, 0);
  ProtobufWriter period_type;
  period_type.add_int(1, 1);
  profile.add_message(11, period_type);
  expected.mutable_period_type()->set_type(1);
  profile.add_int(12, 1);
  expected.set_period(1);
  std::vector<int64_t> comments = {1, 2};
  profile.add_packed(13, comments);
  expected.add_comment(1);
  expected.add_comment(2);
  profile.add_packed(13, std::vector<int64_t>());  // nothing at all
  profile.add_int(14, 2);
  expected.set_default_sample_type(2);

  EXPECT_EQ(profile.bytes(), expected.SerializeAsString());
  pb::Profile parsed;
  ASSERT_TRUE(parsed.ParseFromString(profile.bytes()));
  EXPECT_EQ(parsed.string_table(2).size(), 300u);
  EXPECT_EQ(parsed.sample(0).value(2), -1);
}
