#include "audit/hash_chain.h"

#include <gtest/gtest.h>

namespace runbook {
namespace {

StoredEvent SampleEvent() {
  StoredEvent e;
  e.seq = 7;
  e.run_id = "r1";
  e.ts = "2026-11-23T15:04:05.123Z";
  e.event = "attempt_finished";
  e.phase = "step";
  e.step = "migrate";
  e.attempt = 2;
  e.detail = nlohmann::json::parse(R"({"b": "x", "a": [1, 2]})");
  return e;
}

TEST(HashChainTest, Sha256HexMatchesTheStandardVector) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex("").size(), 64u);
}

TEST(HashChainTest, CanonicalEventIsCompactWithSortedKeys) {
  EXPECT_EQ(CanonicalEvent(SampleEvent()),
            R"({"attempt":2,"detail":{"a":[1,2],"b":"x"},"event":"attempt_finished","from":"",)"
            R"("phase":"step","run_id":"r1","seq":7,"step":"migrate","to":"",)"
            R"("ts":"2026-11-23T15:04:05.123Z"})");
}

TEST(HashChainTest, ChainHashIsSha256OfPrevHashThenCanonicalEvent) {
  // Computed independently with `printf '000…0{...}' | sha256sum`.
  EXPECT_EQ(ChainHash(kGenesisHash, SampleEvent()),
            "37f932c12ab0e658d61f993f650c025a1b8a2bf764170b08f97552129dec602b");
  StoredEvent e = SampleEvent();
  EXPECT_EQ(ChainHash("ab", e), Sha256Hex("ab" + CanonicalEvent(e)));
  e.prev_hash = "ignored";
  e.hash = "ignored";
  EXPECT_EQ(ChainHash(kGenesisHash, e), ChainHash(kGenesisHash, SampleEvent()));
}

TEST(HashChainTest, EveryHashedFieldChangesTheHash) {
  const std::string base = ChainHash(kGenesisHash, SampleEvent());
  auto changed = [&](auto edit) {
    StoredEvent e = SampleEvent();
    edit(e);
    return ChainHash(kGenesisHash, e) != base;
  };
  EXPECT_TRUE(changed([](StoredEvent& e) { e.seq = 8; }));
  EXPECT_TRUE(changed([](StoredEvent& e) { e.run_id = "r2"; }));
  EXPECT_TRUE(changed([](StoredEvent& e) { e.ts = "2026-11-23T15:04:05.124Z"; }));
  EXPECT_TRUE(changed([](StoredEvent& e) { e.event = "step_failed"; }));
  EXPECT_TRUE(changed([](StoredEvent& e) { e.phase = "verify"; }));
  EXPECT_TRUE(changed([](StoredEvent& e) { e.step = "other"; }));
  EXPECT_TRUE(changed([](StoredEvent& e) { e.from = "x"; }));
  EXPECT_TRUE(changed([](StoredEvent& e) { e.to = "x"; }));
  EXPECT_TRUE(changed([](StoredEvent& e) { e.attempt = 3; }));
  EXPECT_TRUE(changed([](StoredEvent& e) { e.detail["tampered"] = 1; }));
  EXPECT_FALSE(changed([](StoredEvent&) {}));
  EXPECT_NE(ChainHash(std::string(64, '1'), SampleEvent()), base);
}

TEST(HashChainTest, ReserializedDetailHashesTheSame) {
  const std::string canonical = CanonicalJson(SampleEvent().detail);
  for (const char* text : {R"({"a":[1,2],"b":"x"})", "{ \"b\" : \"x\",\n  \"a\" : [ 1 , 2 ] }",
                           R"({"a":[1.0e0,2],"b":"\u0078"})"}) {
    std::optional<nlohmann::json> parsed = ParseStoredJson(text);
    ASSERT_TRUE(parsed) << text;
    // 1.0e0 parses as a float, which is a different JSON value than the integer 1.
    if (std::string(text).find("1.0e0") != std::string::npos) {
      EXPECT_NE(CanonicalJson(*parsed), canonical);
    } else {
      EXPECT_EQ(CanonicalJson(*parsed), canonical) << text;
    }
  }
}

TEST(HashChainTest, FloatsAndUnicodeRoundTripThroughStoredText) {
  nlohmann::json detail = {{"ratio", 0.1}, {"big", 1e300}, {"name", "naïve → ok"}, {"n", -5}};
  std::string stored = CanonicalJson(detail);
  std::optional<nlohmann::json> back = ParseStoredJson(stored);
  ASSERT_TRUE(back);
  EXPECT_EQ(CanonicalJson(*back), stored);
}

TEST(HashChainTest, InvalidUtf8DoesNotThrowAndIsStable) {
  StoredEvent e = SampleEvent();
  e.detail = {{"output_tail", std::string("bad \xff\xfe bytes")}};
  std::string canonical;
  EXPECT_NO_THROW(canonical = CanonicalEvent(e));
  std::optional<nlohmann::json> back = ParseStoredJson(CanonicalJson(e.detail));
  ASSERT_TRUE(back);
  StoredEvent again = e;
  again.detail = *back;
  EXPECT_EQ(CanonicalEvent(again), canonical);
}

// `e` as a store reads it, its detail stored as `detail_text`; views into `e` and the text.
EventRow RowOf(const StoredEvent& e, const std::string& detail_text) {
  EventRow row;
  row.seq = e.seq;
  row.run_id = e.run_id;
  row.ts = e.ts;
  row.event = e.event;
  row.phase = e.phase;
  row.step = e.step;
  row.from = e.from;
  row.to = e.to;
  row.attempt = e.attempt;
  row.detail = detail_text;
  row.prev_hash = e.prev_hash;
  row.hash = e.hash;
  return row;
}

TEST(HashChainTest, TheCanonicalEventOfAStoredRowIsBuiltFromItsTextAsItIs) {
  StoredEvent odd = SampleEvent();  // strings that need escapes, or replacing
  odd.seq = 9007199254740993LL;
  odd.attempt = -3;
  odd.run_id = "run \"7\"";
  odd.step = "d\xc3\xa9ploy \xff";  // invalid UTF-8: U+FFFD in both
  odd.from = "step:a\nb\\c";
  odd.to = std::string("nul\0", 4);
  StoredEvent plain = SampleEvent();  // strings written as they are
  plain.seq = -9223372036854775807LL - 1;
  plain.attempt = 2147483647;
  plain.from = "step:migrate \x7f~";
  for (const StoredEvent& e : {plain, odd}) {
    for (const std::string& detail :
         {CanonicalJson(SampleEvent().detail), std::string("{}"),
          CanonicalJson({{"stdout", "caf\xc3\xa9 \xe2\x9c\x93\n\t\"q\""}, {"exit_status", 0}})}) {
      const EventRow row = RowOf(e, detail);
      std::string text = "kept|";
      ASSERT_TRUE(AppendCanonicalEvent(row, &text)) << detail;
      bool detail_ok = false;
      EXPECT_EQ(text, "kept|" + CanonicalEvent(ToStoredEvent(row, &detail_ok)));
      EXPECT_TRUE(detail_ok);
    }
  }
  const StoredEvent& e = odd;
  // A detail not stored canonically: only the exact path can say what its canonical form is.
  for (const std::string detail : {"{\"b\": \"x\", \"a\": [1, 2]}", R"({"ratio":0.1})", "oops"}) {
    std::string text;
    EXPECT_FALSE(AppendCanonicalEvent(RowOf(e, detail), &text)) << detail;
  }
}

TEST(HashChainTest, ParseStoredJsonRejectsGarbage) {
  EXPECT_FALSE(ParseStoredJson("{not json"));
  EXPECT_FALSE(ParseStoredJson(""));
}

}  // namespace
}  // namespace runbook
