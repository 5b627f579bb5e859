#include "engine/redactor.h"

#include <gtest/gtest.h>

namespace runbook {
namespace {

TEST(Redactor, MasksEverySecret) {
  Redactor r;
  EXPECT_TRUE(r.empty());
  EXPECT_EQ(r.Redact("nothing to hide"), "nothing to hide");
  r.Add("s3cr3t");
  r.Add("");  // ignored
  r.Add("tok");
  EXPECT_FALSE(r.empty());
  EXPECT_EQ(r.Redact("a s3cr3t b tok c s3cr3ts3cr3t"), "a *** b *** c ******");
  EXPECT_EQ(r.Redact(""), "");
  EXPECT_EQ(r.Redact("s3cr3"), "s3cr3");
}

TEST(Redactor, LongestFirst) {
  Redactor r;
  r.Add("abc");
  r.Add("abcdef");
  r.Add("cde");
  // The longer secret is hidden whole, not as "***def".
  EXPECT_EQ(r.Redact("xabcdefx"), "x***x");
  EXPECT_EQ(r.Redact("abc cde"), "*** ***");
  EXPECT_EQ(r.longest(), 6u);
  r.Add("abc");  // a duplicate changes nothing
  EXPECT_EQ(r.Redact("abc"), "***");
}

TEST(Redactor, MaskIsNotSearchedAgain) {
  Redactor r;
  r.Add("*");
  r.Add("x*");
  EXPECT_EQ(r.Redact("x* *"), "*** ***");
  Redactor multi;
  multi.Add("line1\nline2");
  EXPECT_EQ(multi.Redact("before line1\nline2 after"), "before *** after");
}

}  // namespace
}  // namespace runbook
