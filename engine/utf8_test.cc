#include "engine/utf8.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

namespace runbook {
namespace {

constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD

TEST(Utf8Test, KeepsValidTextAndReplacesEachMaximalInvalidSubsequence) {
  EXPECT_EQ(ValidUtf8("plain ascii"), "plain ascii");
  EXPECT_EQ(ValidUtf8("h\xC3\xA9llo \xE2\x9C\x93 \xF0\x9F\x9A\x80"), "h\xC3\xA9llo \xE2\x9C\x93 \xF0\x9F\x9A\x80");
  EXPECT_EQ(ValidUtf8("a\xFF"
                      "b"),
            std::string("a") + kReplacement + "b");
  // A sequence cut short is one maximal subpart: one U+FFFD, not one per byte.
  EXPECT_EQ(ValidUtf8("cut \xE2\x9C"), std::string("cut ") + kReplacement);
  EXPECT_EQ(ValidUtf8("cut \xF0\x9F\x9A"
                      "x"),
            std::string("cut ") + kReplacement + "x");
  // A byte that can start no sequence, and a continuation byte on its own, are one each.
  EXPECT_EQ(ValidUtf8("overlong \xC0\xAF"), std::string("overlong ") + kReplacement + kReplacement);
  EXPECT_EQ(ValidUtf8("surrogate \xED\xA0\x80"),
            std::string("surrogate ") + kReplacement + kReplacement + kReplacement);
  EXPECT_EQ(
      ValidUtf8("past U+10FFFF \xF4\x90\x80\x80"),
      std::string("past U+10FFFF ") + kReplacement + kReplacement + kReplacement + kReplacement);
}

TEST(Utf8Test, SaysWhetherTextIsWellFormed) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("h\xC3\xA9llo \xF4\x8F\xBF\xBF"));
  EXPECT_FALSE(IsValidUtf8("\xC3"));
  EXPECT_FALSE(IsValidUtf8("\xE0\x80\x80"));  // overlong
  EXPECT_FALSE(IsValidUtf8("\xED\xB0\x80"));  // surrogate
  EXPECT_FALSE(IsValidUtf8("\xF5\x80\x80\x80"));
}

// The audit log hashes details in canonical JSON, whose serializer replaces invalid UTF-8
// itself; text made valid here must come out of it unchanged, and text the serializer would
// have replaced must be replaced here in exactly the same way. (Two different rules once
// lived in engine/ and audit/ under one name, and the binary ran whichever it linked first.)
TEST(Utf8Test, ReplacesExactlyAsTheCanonicalJsonSerializerDoes) {
  const unsigned char pool[] = {'a',  0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2,
                                0xDF, 0xE0, 0xE1, 0xED, 0xEF, 0xF0, 0xF1, 0xF4, 0xF5, 0xFF};
  std::mt19937 rng(7);
  for (int n = 0; n < 50000; ++n) {
    std::string bytes;
    for (int len = static_cast<int>(rng() % 7) + 1; len > 0; --len)
      bytes += static_cast<char>(pool[rng() % sizeof pool]);
    const std::string serialized =
        nlohmann::json(bytes).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    const std::string made_valid = ValidUtf8(bytes);
    ASSERT_EQ(made_valid, nlohmann::json::parse(serialized).get<std::string>())
        << nlohmann::json(std::vector<unsigned char>(bytes.begin(), bytes.end())).dump();
    ASSERT_TRUE(IsValidUtf8(made_valid));
    ASSERT_EQ(IsValidUtf8(bytes), made_valid == bytes);
  }
}

TEST(Utf8Test, EveryByteStringBecomesDumpableJson) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  nlohmann::json j = ValidUtf8(all + all.substr(128));
  EXPECT_NO_THROW(j.dump());
}

}  // namespace
}  // namespace runbook
