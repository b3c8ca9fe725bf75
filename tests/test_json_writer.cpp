#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "json_writer.h"

using dprof::analyzer::JsonWriter;

TEST(JsonWriter, WritesNestedDocumentsThatParse) {
  std::ostringstream out;
  JsonWriter json(out);
  json.begin_object();
  json.field("name", "quote \" backslash \\ newline \n tab \t bell \x07");
  json.field("count", uint64_t{18446744073709551615ull});
  json.field("negative", int64_t{-5});
  json.field("ratio", 0.25);
  json.key("nothing").null();
  json.key("list").begin_array();
  json.value(1u).value(2u);
  json.begin_object().field("inner", true).end_object();
  json.end_array();
  json.key("empty").begin_array().end_array();
  json.end_object();
  auto parsed = nlohmann::json::parse(out.str());
  EXPECT_EQ(parsed["name"], "quote \" backslash \\ newline \n tab \t bell \x07");
  EXPECT_EQ(parsed["count"].get<uint64_t>(), 18446744073709551615ull);
  EXPECT_EQ(parsed["negative"], -5);
  EXPECT_DOUBLE_EQ(parsed["ratio"].get<double>(), 0.25);
  EXPECT_TRUE(parsed["nothing"].is_null());
  EXPECT_EQ(parsed["list"].size(), 3u);
  EXPECT_EQ(parsed["list"][2]["inner"], true);
  EXPECT_TRUE(parsed["empty"].empty());
}

TEST(JsonWriter, NonFiniteNumbersBecomeNull) {
  std::ostringstream out;
  JsonWriter json(out, false);
  json.begin_array().value(1.0 / 0.0).end_array();
  EXPECT_EQ(out.str(), "[null]");
}
