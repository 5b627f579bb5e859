// Patterns run in linear time (SPEC §5): RE2 syntax and semantics for a param's `pattern` and an
// http check's `body_regex`; a long value or a pathological pattern is decided (std::regex
// overflowed its stack on the one and backtracked for minutes on the other); a pattern RE2
// cannot compile is a validation error at the pattern's YAML node. The tests assert outcomes,
// never timings.
#include "engine/pattern.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/loader.h"

namespace runbook {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::string kLongAs = std::string(50000, 'a');

std::vector<std::string> Diags(const std::string& text) {
  std::vector<std::string> out;
  for (const Diagnostic& d : LoadRunbookText(text, "f.yaml", "/srv/rb").diagnostics) {
    out.push_back(d.ToString());
  }
  return out;
}

std::unique_ptr<Runbook> MustLoad(const std::string& text) {
  LoadResult r = LoadRunbookText(text, "f.yaml", "/srv/rb");
  for (const Diagnostic& d : r.diagnostics) ADD_FAILURE() << d.ToString();
  return std::move(r.runbook);
}

TEST(Pattern, FullMatchIsTheWholeTextAndSearchIsAnywhere) {
  Result<Pattern> re = Pattern::Compile(R"([0-9]+\.[0-9]+)");
  ASSERT_TRUE(re.ok()) << re.message();
  EXPECT_TRUE(re->FullMatch("1.2"));
  EXPECT_FALSE(re->FullMatch("1.2.3"));
  EXPECT_FALSE(re->FullMatch("v1.2"));
  EXPECT_TRUE(re->Search("version: 1.2 (stable)"));
  EXPECT_FALSE(re->Search("version: one"));
}

TEST(Pattern, AnchorsAndDotStopAtTheEndsOfTheTextNotAtLines) {
  Result<Pattern> re = Pattern::Compile("^version: 2");
  ASSERT_TRUE(re.ok());
  EXPECT_FALSE(re->Search("status: ok\nversion: 2\n"));
  EXPECT_TRUE(re->Search("version: 2\nstatus: ok\n"));
  Result<Pattern> dot = Pattern::Compile("a.b");
  ASSERT_TRUE(dot.ok());
  EXPECT_FALSE(dot->Search("a\nb"));
}

TEST(Pattern, DecidesALongValueWithoutRecursingPerCharacter) {
  // std::regex recursed once per character: 50,000 characters overflowed its stack.
  Result<Pattern> re = Pattern::Compile("^(a|b)*$");
  ASSERT_TRUE(re.ok());
  EXPECT_TRUE(re->FullMatch(kLongAs));
  EXPECT_FALSE(re->FullMatch(kLongAs + "!"));
  EXPECT_TRUE(re->Search(kLongAs));
}

TEST(Pattern, DecidesAPathologicalPatternWithoutBacktracking) {
  // Exponential for a backtracking matcher; linear for RE2.
  Result<Pattern> re = Pattern::Compile("(a+)+$");
  ASSERT_TRUE(re.ok());
  EXPECT_FALSE(re->FullMatch(std::string(40, 'a') + "!"));
  EXPECT_FALSE(re->FullMatch(kLongAs + "!"));
  Result<Pattern> search = Pattern::Compile("(a|aa)*c");
  ASSERT_TRUE(search.ok());
  EXPECT_FALSE(search->Search(kLongAs));
}

TEST(Pattern, RefusesWhatRe2DoesNotOfferWithItsReason) {
  Result<Pattern> backref = Pattern::Compile(R"((a)\1)");
  ASSERT_FALSE(backref.ok());
  EXPECT_EQ(backref.status().kind(), StatusKind::kInvalid);
  EXPECT_THAT(backref.message(), HasSubstr("invalid escape sequence"));
  Result<Pattern> lookahead = Pattern::Compile("(?=a)");
  ASSERT_FALSE(lookahead.ok());
  EXPECT_THAT(lookahead.message(), HasSubstr("invalid perl operator"));
  EXPECT_FALSE(Pattern::Compile("[").ok());
}

// ------------------------------------------------------------------ through the loader

TEST(PatternValidation, AnRe2InvalidPatternIsLocatedAtItsNode) {
  EXPECT_THAT(Diags("runbook: demo\nparams:\n  v: {pattern: '(a)\\1'}\nsteps: []\n"),
              ElementsAre("f.yaml:3:16: error: pattern: '(a)\\1' is not a valid regular "
                          "expression (RE2: invalid escape sequence: \\1)"));
  EXPECT_THAT(Diags("runbook: demo\nparams:\n  v:\n    pattern: '(?=a)'\nsteps: []\n"),
              ElementsAre("f.yaml:4:14: error: pattern: '(?=a)' is not a valid regular "
                          "expression (RE2: invalid perl operator: (?=)"));
}

TEST(PatternValidation, AnRe2InvalidBodyRegexIsLocatedAtItsNode) {
  EXPECT_THAT(Diags("runbook: demo\nsteps:\n  - id: check\n    http:\n      url: http://x\n"
                    "      body_regex: 'v(?=1)'\n"),
              ElementsAre("f.yaml:6:19: error: body_regex: 'v(?=1)' is not a valid regular "
                          "expression (RE2: invalid perl operator: (?=)"));
}

TEST(PatternValidation, ADefaultIsCheckedAgainstTheWholePattern) {
  EXPECT_THAT(Diags("runbook: demo\nparams:\n  v: {pattern: 'a+', default: aab}\nsteps: []\n"),
              ElementsAre("f.yaml:3:31: error: param 'v': default 'aab' does not match its "
                          "pattern a+"));
  EXPECT_TRUE(MustLoad("runbook: demo\nparams:\n  v: {pattern: 'a+', default: aaa}\nsteps: []\n"));
}

// ------------------------------------------------------------------ binding -p values

TEST(PatternBinding, ALongValueIsDecided) {
  auto rb = MustLoad(
      "runbook: demo\nparams:\n  version: {required: true, pattern: '^[0-9]+\\.[0-9]+\\.[0-9]+$'}\n"
      "steps: []\n");
  ASSERT_TRUE(rb);
  std::string good = std::string(50000, '1') + ".2.3";
  auto ok = BindParams(*rb, {{"version", good}});
  ASSERT_TRUE(ok.ok()) << ok.message().substr(0, 200);
  EXPECT_EQ(ok->at("version"), good);
  EXPECT_FALSE(BindParams(*rb, {{"version", std::string(50000, '1') + ".2.x"}}).ok());
}

TEST(PatternBinding, APathologicalPatternIsDecided) {
  auto rb =
      MustLoad("runbook: demo\nparams:\n  word: {required: true, pattern: '^(a+)+$'}\nsteps: []\n");
  ASSERT_TRUE(rb);
  for (const std::string& value : {std::string(40, 'a') + "!", kLongAs + "!"}) {
    auto bad = BindParams(*rb, {{"word", value}});
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.message().rfind("param 'word' = 'aaaa", 0), 0u);
    EXPECT_THAT(bad.message(), HasSubstr("!' does not match ^(a+)+$"));
  }
  EXPECT_TRUE(BindParams(*rb, {{"word", kLongAs}}).ok());
}

}  // namespace
}  // namespace runbook
