#include "audit/canonical_json.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "audit/hash_chain.h"

namespace runbook {
namespace {

// What the fast path relies on: a text it recognises is its own canonical form.
void ExpectItsOwnCanonicalForm(const std::string& text) {
  std::optional<nlohmann::json> parsed = ParseStoredJson(text);
  ASSERT_TRUE(parsed.has_value()) << text;
  EXPECT_EQ(CanonicalJson(*parsed), text);
  EXPECT_FALSE(HasDuplicateKeys(text)) << text;
}

TEST(CanonicalJsonTest, RecognisesWhatCanonicalJsonWrites) {
  const nlohmann::json values[] = {
      nlohmann::json::object(),
      nlohmann::json::array(),
      nullptr,
      true,
      "",
      0,
      -7,
      123456789012345678LL,
      -123456789012345678LL,
      {{"exit_status", 0}, {"stdout", "line 1\nline 2\t\"quoted\" \\ back\r"}},
      {{"b", {{"y", 1}, {"x", {1, "two", nullptr, false}}}}, {"a", nlohmann::json::object()}},
      {{"caf\xc3\xa9", "\xe2\x9c\x93 \xf0\x9f\x9a\x80 \x7f"}, {"cafe", 1}},
      // 13 bytes, the NUL and what follows it included.
      {{"ctl", std::string("\x01\x08\x09\x0a\x0b\x0c\x0d\x1f\x00 end", 13)}},
      {{"slash", "a/b"}, {"A", "upper sorts first"}},
  };
  for (const nlohmann::json& value : values) {
    const std::string text = CanonicalJson(value);
    EXPECT_TRUE(IsCanonicalJson(text)) << text;
    ExpectItsOwnCanonicalForm(text);
  }
}

TEST(CanonicalJsonTest, LeavesEverythingElseToTheExactPath) {
  for (const char* text : {
           "",
           " {}",
           "{} ",
           "{\"a\": 1}",                 // whitespace
           "{\n  \"a\":1\n}",            // pretty-printed
           "{\"b\":1,\"a\":2}",          // keys out of order
           "{\"a\":1,\"a\":1}",          // a key twice
           "{\"a\":{\"k\":1,\"k\":2}}",  // a key twice, deeper
           "{\"a\\u0062\":1}",           // an escape in a key
           "1.5",                        // a float
           "1e3",
           "-0",
           "007",
           "1234567890123456789",  // 19 digits: maybe not an integer
           "\"a\\/b\"",            // an escape CanonicalJson does not write
           "\"\\u0041\"",
           "\"\\u00e9\"",
           "\"\\u001F\"",  // upper-case hex
           "\"\\u000a\"",  // has a short form
           "\"\\ud83d\\ude80\"",
           "\"tab\there\"",         // a raw control character
           "\"\xc0\x80\"",          // overlong
           "\"\xed\xa0\x80\"",      // a surrogate
           "\"\xf4\x90\x80\x80\"",  // above U+10FFFF
           "\"\xe2\x9c\"",          // cut short
           "\"\xff\"",
           "[1,]",
           "[1 ]",
           "{\"a\":1,}",
           "{\"a\"}",
           "tru",
           "nul",
           "\"open",
           "{}{}",
           "[]]",
       }) {
    EXPECT_FALSE(IsCanonicalJson(text)) << text;
  }
  const std::string deep(64, '[');
  EXPECT_TRUE(IsCanonicalJson(deep + std::string(64, ']')));
  EXPECT_FALSE(IsCanonicalJson("[" + deep + std::string(65, ']')));
}

// Random canonical texts with random bytes changed: whatever the recogniser accepts must be its
// own canonical form, or the fast path could accept what the exact path refuses.
TEST(CanonicalJsonTest, NeverAcceptsATextThatIsNotItsOwnCanonicalForm) {
  std::mt19937 random(14);
  // JSON's punctuation, some letters, and bytes that are not allowed or not ASCII.
  const std::string alphabet =
      std::string("{}[]\",:\\-0123456789.eE+ abtrufnlsxyz/\n\t") +
      std::string("\x00\x01\x1f\x7f\x80\xbf\xc3\xa9\xe2\x9c\x93\xed\xf0\xff", 14);
  std::vector<std::string> seeds;
  for (const char* text :
       {R"({"a":1,"b":[true,false,null],"c":{"d":"x\ny","e":-12}})", R"(["\u0001","\"",""])",
        R"({"caf\u00e9":"ok","stdout":"line\tone\r\n","z":0})", R"({"k":"\\","l":123})"}) {
    seeds.push_back(CanonicalJson(*ParseStoredJson(text)));
  }
  int accepted = 0;
  for (int i = 0; i < 200000; ++i) {
    std::string text = seeds[random() % seeds.size()];
    for (int edits = 1 + random() % 3; edits > 0; --edits) {
      const size_t at = random() % (text.size() + 1);
      const char c = alphabet[random() % alphabet.size()];
      switch (random() % 3) {
        case 0:
          if (at < text.size()) text[at] = c;
          break;
        case 1:
          text.insert(at, 1, c);
          break;
        case 2:
          if (at < text.size()) text.erase(at, 1);
          break;
      }
    }
    if (!IsCanonicalJson(text)) continue;
    ++accepted;
    ExpectItsOwnCanonicalForm(text);
    if (HasFailure()) return;
  }
  EXPECT_GT(accepted, 1000);  // the mutations do reach accepted texts
}

TEST(CanonicalJsonTest, StringsAreWrittenAsCanonicalJsonWritesThem) {
  std::mt19937 random(7);
  for (int i = 0; i < 20000; ++i) {
    std::string text;
    for (int n = random() % 40; n > 0; --n) {
      // Mostly printable ASCII, sometimes any byte (invalid UTF-8 included).
      text += static_cast<char>(random() % 4 == 0 ? random() % 256 : 0x20 + random() % 95);
    }
    std::string written;
    AppendCanonicalString(text, &written);
    ASSERT_EQ(written, CanonicalJson(nlohmann::json(text))) << text;
  }
}

// The scan for plain bytes goes sixteen or eight bytes at a time: every byte value, at every
// position of texts longer than two of its blocks, must be judged as one at a time would.
TEST(CanonicalJsonTest, EveryByteAtEveryPositionIsJudgedAlone) {
  for (int byte = 0; byte < 256; ++byte) {
    const bool plain = byte >= 0x20 && byte < 0x80 && byte != '"' && byte != '\\';
    for (size_t length = 1; length <= 40; ++length) {
      for (size_t at = 0; at < length; ++at) {
        std::string text(length, 'a');
        text[at] = static_cast<char>(byte);
        ASSERT_EQ(IsPlainText(text), plain) << "byte " << byte << " at " << at << " of " << length;
        // As a JSON string: a lone quote ends it early, a lone backslash is no escape, a
        // control byte is not JSON, a lone byte >= 0x80 is not UTF-8.
        const std::string json = "\"" + text + "\"";
        ASSERT_EQ(IsCanonicalJson(json), plain) << json;
      }
    }
  }
  EXPECT_TRUE(IsPlainText(""));
}

}  // namespace
}  // namespace runbook
