#include "pkgctl/json_writer.h"

#include <gtest/gtest.h>

namespace cmcl::pkgctl {
namespace {

TEST(JsonWriter, NestsObjectsAndArraysWithCommasBetweenValues) {
  JsonWriter json;

  json.BeginObject().Key("a").Int(-1).Key("b").BeginArray().Bool(true).Null().String("x");
  json.EndArray().Key("c").BeginObject().EndObject().EndObject();

  EXPECT_EQ(json.str(), R"({"a":-1,"b":[true,null,"x"],"c":{}})");
}

TEST(JsonWriter, EscapesQuotesBackslashesAndControlCharacters) {
  JsonWriter json;

  json.String("say \"hi\"\\\n\t\x01");

  EXPECT_EQ(json.str(), R"("say \"hi\"\\\n\t\u0001")");
}

}  // namespace
}  // namespace cmcl::pkgctl
