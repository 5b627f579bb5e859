#include "app/html.h"

#include <gtest/gtest.h>

namespace runbook {
namespace {

TEST(HtmlEscapeTest, EscapesMarkupAndRepairsBadUtf8) {
  EXPECT_EQ(HtmlEscape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  EXPECT_EQ(HtmlEscape("caf\xc3\xa9 \xe2\x86\x92 ok"), "caf\xc3\xa9 \xe2\x86\x92 ok");
  EXPECT_EQ(HtmlEscape("bad \xff\xc3"), "bad \xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(HtmlEscape("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd") << "surrogate";
  EXPECT_EQ(HtmlEscape("a\tb\nc\x01"), "a\tb\nc\xe2\x90\x81");
}

TEST(ShortenTextTest, CutsAtCodePoints) {
  EXPECT_EQ(ShortenText("abc", 3), "abc");
  EXPECT_EQ(ShortenText("abcd", 3), "abc…");
  EXPECT_EQ(ShortenText("\xc3\xa9\xc3\xa9\xc3\xa9", 2), "\xc3\xa9\xc3\xa9…");
  EXPECT_EQ(SingleLine("a\nb\r\nc"), "a b  c");
}

}  // namespace
}  // namespace runbook
