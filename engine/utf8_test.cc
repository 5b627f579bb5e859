#include "engine/utf8.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace runbook {
namespace {

TEST(Utf8Test, KeepsValidTextAndReplacesInvalidBytes) {
  EXPECT_EQ(ValidUtf8("plain ascii"), "plain ascii");
  EXPECT_EQ(ValidUtf8("h\xC3\xA9llo \xE2\x9C\x93 \xF0\x9F\x9A\x80"), "h\xC3\xA9llo \xE2\x9C\x93 \xF0\x9F\x9A\x80");
  EXPECT_EQ(ValidUtf8("a\xFF" "b"), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(ValidUtf8("cut \xE2\x9C"), "cut \xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(ValidUtf8("overlong \xC0\xAF"), "overlong \xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(ValidUtf8("surrogate \xED\xA0\x80"), "surrogate \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(Utf8Test, EveryByteStringBecomesDumpableJson) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  nlohmann::json j = ValidUtf8(all + all.substr(128));
  EXPECT_NO_THROW(j.dump());
}

}  // namespace
}  // namespace runbook
