#include "steps/json_path.h"

#include <gtest/gtest.h>

namespace runbook {
namespace {

using nlohmann::json;

const json kDoc = json::parse(R"({
  "status": "UP",
  "checks": {"db": "ok", "cache": {"hits": 3}},
  "items": [{"state": "Running"}, {"state": "Pending"}],
  "app.kubernetes.io/name": "web",
  "it's": 1,
  "count": 2,
  "ratio": 0.5,
  "ready": true,
  "gone": null
})");

std::string Lookup(const std::string& path) {
  Result<JsonPath> p = JsonPath::Parse(path);
  if (!p.ok()) return "parse error: " + p.message();
  std::string why;
  const json* v = p->Find(kDoc, &why);
  return v ? v->dump() : "missing: " + why;
}

TEST(JsonPathTest, FindsMembersIndicesAndQuotedNames) {
  EXPECT_EQ(Lookup("$.status"), "\"UP\"");
  EXPECT_EQ(Lookup("$.checks.db"), "\"ok\"");
  EXPECT_EQ(Lookup("$.checks.cache.hits"), "3");
  EXPECT_EQ(Lookup("$.items[0].state"), "\"Running\"");
  EXPECT_EQ(Lookup("$.items[1]['state']"), "\"Pending\"");
  EXPECT_EQ(Lookup("$['app.kubernetes.io/name']"), "\"web\"");
  EXPECT_EQ(Lookup("$[\"app.kubernetes.io/name\"]"), "\"web\"");
  EXPECT_EQ(Lookup("$['it\\'s']"), "1");
  EXPECT_EQ(Lookup("$.gone"), "null");
  EXPECT_EQ(Lookup("$"), kDoc.dump());
}

TEST(JsonPathTest, MissingPathsSayWhereTheyStop) {
  EXPECT_EQ(Lookup("$.checks.queue"), "missing: $.checks has no member 'queue'");
  EXPECT_EQ(Lookup("$.items[2].state"), "missing: $.items has 2 elements");
  EXPECT_EQ(Lookup("$.status.code"), "missing: $.status is a string, not an object");
  EXPECT_EQ(Lookup("$.checks[0]"), "missing: $.checks is an object, not an array");
  EXPECT_EQ(Lookup("$['app.kubernetes.io/name'].x"),
            "missing: $['app.kubernetes.io/name'] is a string, not an object");
  EXPECT_EQ(Lookup("$.gone.x"), "missing: $.gone is null, not an object");
}

TEST(JsonPathTest, RejectsWhatItDoesNotSupport) {
  struct Case {
    const char* path;
    const char* words;
  };
  for (const Case& c :
       {Case{"", "starts with '$'"}, Case{"status", "starts with '$'"},
        Case{"$.", "expected a member name"}, Case{"$..a", "recursive"},
        Case{"$.a[", "expected a number or a quoted name"},
        Case{"$.a[1", "expected ']' after the index"}, Case{"$.a['x", "unterminated"},
        Case{"$.a['x'", "expected ']'"}, Case{"$.a[-1]", "negative"}, Case{"$.a[*]", "wildcards"},
        Case{"$.*", "wildcards"}, Case{"$a", "unexpected 'a'"}, Case{"$.a b", "unexpected ' '"},
        Case{"$[99999999999999999999999]", "too large"}}) {
    Result<JsonPath> p = JsonPath::Parse(c.path);
    ASSERT_FALSE(p.ok()) << c.path;
    EXPECT_NE(p.message().find(c.words), std::string::npos) << c.path << ": " << p.message();
    EXPECT_NE(p.message().find("bad JSON path '" + std::string(c.path) + "'"), std::string::npos)
        << p.message();
  }
}

TEST(JsonPathTest, ScalarEquality) {
  EXPECT_TRUE(JsonScalarMatches(json("UP"), json("UP")));
  EXPECT_FALSE(JsonScalarMatches(json("UP"), json("up")));
  EXPECT_TRUE(JsonScalarMatches(json(1), json(1.0)));
  EXPECT_TRUE(JsonScalarMatches(json(3u), json(3)));
  EXPECT_FALSE(JsonScalarMatches(json(0.5), json(0.25)));
  EXPECT_TRUE(JsonScalarMatches(json(true), json(true)));
  EXPECT_FALSE(JsonScalarMatches(json(false), json(true)));
  EXPECT_TRUE(JsonScalarMatches(json(nullptr), json(nullptr)));
  // A YAML scalar may arrive as a string: it matches the JSON text of a non-string.
  EXPECT_TRUE(JsonScalarMatches(json(3), json("3")));
  EXPECT_TRUE(JsonScalarMatches(json(3), json("3.0")));
  EXPECT_TRUE(JsonScalarMatches(json(true), json("true")));
  EXPECT_TRUE(JsonScalarMatches(json(nullptr), json("null")));
  EXPECT_FALSE(JsonScalarMatches(json(3), json("three")));
  EXPECT_FALSE(JsonScalarMatches(json(true), json("yes")));
  // ...but not the other way round, and a string is never parsed.
  EXPECT_FALSE(JsonScalarMatches(json("3"), json(3)));
  EXPECT_FALSE(JsonScalarMatches(json("\"x\""), json("x")));
  EXPECT_FALSE(JsonScalarMatches(json::object({{"a", 1}}), json("{\"a\":1}")));
  EXPECT_TRUE(JsonScalarMatches(json::array({1, 2}), json::array({1, 2})));
  EXPECT_FALSE(JsonScalarMatches(json::array({1, 2}), json(1)));
}

TEST(JsonPathTest, ValueText) {
  EXPECT_EQ(JsonValueText(json("1.2.3")), "1.2.3");
  EXPECT_EQ(JsonValueText(json(42)), "42");
  EXPECT_EQ(JsonValueText(json(true)), "true");
  EXPECT_EQ(JsonValueText(json(nullptr)), "null");
  EXPECT_EQ(JsonValueText(json::object({{"a", 1}})), "{\"a\":1}");
}

}  // namespace
}  // namespace runbook
