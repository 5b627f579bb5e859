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


TEST(Redactor, MultiLineSecretsAreMaskedLineByLine) {
  Redactor r;
  r.Add("-----BEGIN KEY-----\nAAAABBBBCCCC\r\nDD\nEEEEFFFF\n-----END KEY-----\n\n");
  // Output is printed and matched line by line: each line of 4 bytes or more is a secret.
  EXPECT_EQ(r.Redact("AAAABBBBCCCC"), "***");
  EXPECT_EQ(r.Redact("key: EEEEFFFF."), "key: ***.");
  EXPECT_EQ(r.Redact("DD"), "DD");  // too short to mask on its own
  EXPECT_EQ(r.Redact("-----END KEY-----\n\n"), "***\n\n");
}

TEST(Redactor, AFileSecretIsMaskedWithoutItsTrailingBlankLines) {
  Redactor r;
  r.Add("NLsecret\n\n");
  EXPECT_EQ(r.Redact("printed NLsecret"), "printed ***");
  EXPECT_EQ(r.Redact("NLsecret\n\nx"), "***x");
}

TEST(Redactor, ATailThatBeginsInsideASecretIsMasked) {
  Redactor r;
  r.Add("ABCDEFGHIJKL");
  EXPECT_EQ(r.RedactCutStart("GHIJKL and more ABCDEFGHIJKL"), "*** and more ***");
  EXPECT_EQ(r.RedactCutStart("L rest"), "*** rest");
  EXPECT_EQ(r.RedactCutStart("nothing"), "nothing");
  EXPECT_EQ(r.RedactCutStart(""), "");
}

TEST(Redactor, ASecretCutBetweenPiecesIsMaskedWhole) {
  const std::string secret = "tokSECRETVALUE42";
  Redactor r;
  r.Add(secret);
  r.Add("other");
  const std::string line = std::string(50, 'x') + secret + std::string(7, 'y') + secret + "z";
  for (size_t piece = 1; piece <= line.size(); ++piece) {
    RedactingStream stream(r);
    std::string shown;
    for (size_t at = 0; at < line.size(); at += piece) {
      const bool continues = at + piece < line.size();
      shown += stream.Feed(line.substr(at, piece), continues);
    }
    EXPECT_EQ(shown, std::string(50, 'x') + "***" + std::string(7, 'y') + "***z")
        << "pieces of " << piece;
  }
}

}  // namespace
}  // namespace runbook
