#include "steps/http_text.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace runbook::http {
namespace {

TEST(HttpTextTest, Utf8PrefixKeepsWholeCharactersAndReplacesInvalidBytes) {
  bool cut = false;
  EXPECT_EQ(Utf8Prefix("abc", 10, &cut), "abc");
  EXPECT_FALSE(cut);
  EXPECT_EQ(Utf8Prefix("\xC3\xA9t\xC3\xA9", 4, &cut), "\xC3\xA9t");  // never half an é
  EXPECT_TRUE(cut);
  EXPECT_EQ(Utf8Prefix("a\xFF"
                       "b",
                       10),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(Utf8Prefix("\xC0\xAF", 10), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // overlong
  EXPECT_EQ(Utf8Prefix("\xED\xA0\x80", 10), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(Utf8Prefix("\xF0\x9F\x98\x80!", 10), "\xF0\x9F\x98\x80!");
  EXPECT_EQ(Utf8Prefix("\xE2\x82", 10), "\xEF\xBF\xBD\xEF\xBF\xBD");  // truncated sequence
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  EXPECT_NO_THROW((void)nlohmann::json(Utf8Prefix(all, 1000)).dump());
}

TEST(HttpTextTest, QuotedExcerptIsOneShortLine) {
  EXPECT_EQ(QuotedExcerpt("status: ok\n"), "'status: ok\\n'");
  EXPECT_EQ(QuotedExcerpt("a\tb\rc\x01"), "'a\\tb\\rc '");
  EXPECT_EQ(QuotedExcerpt("abcdefgh", 4), "'abcd\xE2\x80\xA6'");
}

TEST(HttpTextTest, ShortDuration) {
  EXPECT_EQ(ShortDuration(Duration(300)), "300ms");
  EXPECT_EQ(ShortDuration(Duration(2000)), "2s");
  EXPECT_EQ(ShortDuration(Duration(30200)), "30.2s");
}

}  // namespace
}  // namespace runbook::http
