// The tree built from yaml-cpp's events must read exactly as yaml-cpp's own node tree: the
// loader's messages and positions depend on it. Each text here is parsed both ways and the
// two trees compared node by node (kind, text, tag, position, pair order, which nodes are one
// node through an alias); a text yaml-cpp refuses must be refused with the same message at the
// same place.
#include "engine/yaml_tree.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <random>
#include <string>
#include <utility>
#include <vector>

namespace runbook {
namespace {

YamlKind KindOf(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
      return YamlKind::kUndefined;
    case YAML::NodeType::Null:
      return YamlKind::kNull;
    case YAML::NodeType::Scalar:
      return YamlKind::kScalar;
    case YAML::NodeType::Sequence:
      return YamlKind::kSequence;
    case YAML::NodeType::Map:
      return YamlKind::kMap;
  }
  return YamlKind::kUndefined;
}

/// Walks both trees together, recording every pair of nodes met, down to `depth` (an alias
/// can make a cycle).
class Comparer {
 public:
  void Compare(const YAML::Node& expected, const YamlNode& actual, const std::string& path,
               int depth) {
    ASSERT_EQ(KindOf(expected), actual.Type()) << path;
    if (depth == 0) return;
    const YAML::Mark mark = expected.Mark();
    EXPECT_EQ(mark.line + 1, actual.Loc().line) << path;
    EXPECT_EQ(mark.column + 1, actual.Loc().col) << path;
    EXPECT_EQ(expected.Tag(), actual.Tag()) << path;
    EXPECT_EQ(expected.Scalar(), actual.Scalar()) << path;
    EXPECT_EQ(expected.size(), actual.size()) << path;
    for (const auto& [seen_expected, seen_actual] : seen_) {
      EXPECT_EQ(expected.is(seen_expected), actual == seen_actual) << path << ": identity";
    }
    seen_.emplace_back(expected, actual);
    if (expected.IsSequence()) {
      size_t i = 0;
      for (const YamlNode& item : actual.items()) {
        Compare(expected[i], item, path + "[" + std::to_string(i) + "]", depth - 1);
        ++i;
      }
    } else if (expected.IsMap()) {
      auto it = expected.begin();
      for (const YamlPair& pair : actual.pairs()) {
        ASSERT_NE(it, expected.end()) << path;
        Compare(it->first, pair.first, path + ".key", depth - 1);
        Compare(it->second, pair.second, path + "." + std::string(pair.first.Scalar()), depth - 1);
        ++it;
      }
      EXPECT_EQ(it, expected.end()) << path;
    }
  }

 private:
  std::vector<std::pair<YAML::Node, YamlNode>> seen_;
};

/// Parses `text` both ways and compares; returns whether yaml-cpp accepted it.
bool ParsesAsYamlCppDoes(const std::string& text) {
  std::vector<YAML::Node> expected;
  std::string expected_error;
  SourceLoc expected_loc;
  try {
    expected = YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    expected_error = e.msg;
    if (!e.mark.is_null()) expected_loc = {e.mark.line + 1, e.mark.column + 1};
  }
  YamlTree tree;
  YamlTree::Error error;
  const bool ok = YamlTree::Parse(text, &tree, &error);
  EXPECT_EQ(expected_error.empty(), ok) << text;
  if (!ok) {
    EXPECT_EQ(expected_error, error.message) << text;
    EXPECT_EQ(expected_loc.line, error.loc.line) << text;
    EXPECT_EQ(expected_loc.col, error.loc.col) << text;
    return false;
  }
  EXPECT_EQ(expected.size(), tree.documents()) << text;
  for (size_t i = 0; i < expected.size() && i < tree.documents(); ++i) {
    Comparer().Compare(expected[i], tree.document(i), "doc" + std::to_string(i), 12);
  }
  return true;
}

const char* const kTexts[] = {
    "runbook: a\nsteps:\n  - id: one\n    shell: echo hi\n",
    "runbook: a\nsteps: [{id: a, shell: x}, {id: b, http: {url: 'http://x'}}]\n",
    // Anchors, aliases, merge keys, cycles.
    "x-base: &b {shell: echo, timeout: 5s}\nsteps:\n  - <<: *b\n    id: one\n"
    "  - <<: [*b, {retries: 2}]\n    id: two\n",
    "steps: &s [*s]\n",
    "steps:\n  - &x {id: a, shell: *x}\n",
    "a: &v 1\nb: *v\nc: *v\n",
    "&root {runbook: a, x-self: *root}\n",
    "a: &a1 x\na: &a1 y\nb: *a1\n",
    // Tags, quoting, null forms, empty values.
    "a: !!str <<\nb: '<<'\nc: \"q\"\nd: !foo bar\ne: ! x\nf: !!int 5\ng: !!binary aGk=\n",
    "a:\nb: ~\nc: null\nd: Null\ne: ''\nf: !!null ''\n- x\n",
    "a:\nb: ~\nc: null\nd: NULL\ne: ''\n",
    "- \n-\n- ~\n",
    "{a, b: , : c}\n",
    "[a: b, c]\n",
    // Keys of every kind, duplicates, order.
    "? [a, b]\n: c\n? {d: e}\n: f\ng: h\ng: i\n",
    // Scalars: folded, literal, escapes, multi-line plain.
    "a: >\n  folded\n  text\nb: |\n  line1\n  line2\nc: \"\\x41\\u00e9\\L\\0z\"\nd: plain\n  "
    "more\n",
    // Documents.
    "a: 1\n---\nb: 2\n---\n",
    "---\n",
    "--- ~\n...\n",
    "# only comments\n",
    "",
    "%YAML 1.2\n---\na: 1\n",
    "\xef\xbb\xbf"
    "a: 1\n",
    "a: 1\r\nb: 2\r\n",
    // Refused.
    "a: *nowhere\n",
    "a: [1, 2\n",
    "a: {b: 1\n",
    "a: 1\n\tb: 2\n",
    "a: &x &y 1\n",
    "a: !t !u 1\n",
    "a: 'unterminated\n",
    "- a\nb: c\n",
};

TEST(YamlTreeTest, ReadsAsYamlCppsNodeTree) {
  for (const char* text : kTexts) ParsesAsYamlCppDoes(text);
}

TEST(YamlTreeTest, DeepNestingIsRefusedAsYamlCppRefusesIt) {
  EXPECT_FALSE(ParsesAsYamlCppDoes("a: " + std::string(5000, '[')));
}

TEST(YamlTreeTest, AParserLoopIsStoppedBeforeItExhaustsMemory) {
  // yaml-cpp 0.7 reads this as endless empty documents; its own Load runs out of memory.
  YamlTree tree;
  YamlTree::Error error;
  EXPECT_FALSE(YamlTree::Parse(", steps: []f", &tree, &error));
  EXPECT_EQ(error.message, "yaml-cpp stopped making progress through the text (endless documents)");
  EXPECT_EQ(error.loc.line, 1);
}

TEST(YamlTreeTest, AnAliasIsItsAnchorsNode) {
  YamlTree tree;
  YamlTree::Error error;
  ASSERT_TRUE(YamlTree::Parse("a: &v {x: 1}\nb: *v\n", &tree, &error));
  std::vector<YamlPair> pairs;
  for (const YamlPair& p : tree.document(0).pairs()) pairs.push_back(p);
  ASSERT_EQ(pairs.size(), 2u);
  EXPECT_TRUE(pairs[0].second == pairs[1].second);
  // Where the anchored node begins (its anchor), as in yaml-cpp; not where the alias is.
  EXPECT_EQ(pairs[1].second.Loc().line, 1);
  EXPECT_EQ(pairs[1].second.Loc().col, 4);
}

TEST(YamlTreeTest, AnUndefinedNodeIsNothing) {
  YamlNode none;
  EXPECT_FALSE(none.IsDefined());
  EXPECT_FALSE(none.IsNull());
  EXPECT_EQ(none.Scalar(), "");
  EXPECT_EQ(none.size(), 0u);
  EXPECT_EQ(none.Loc().line, 0);
  EXPECT_EQ(none.items().begin(), none.items().end());
}

TEST(YamlTreeTest, MutatedRunbooksReadAsYamlCppReadsThem) {
  const std::string valid =
      "runbook: robust\n"
      "x-slow: &slow {timeout: 5m, retries: 3}\n"
      "params:\n  version: {required: true, pattern: '^[0-9.]+$'}\n"
      "targets:\n  web: {hosts: [a, \"b:2222\"], user: deploy}\n"
      "steps:\n"
      "  - <<: *slow\n    id: one\n    shell: \"echo {{ params.version }}\"\n"
      "    outputs: {v: stdout}\n"
      "  - {<<: [*slow], id: two, ssh: {target: web, command: uptime}}\n"
      "  - id: three\n    http: {url: 'http://x/', expect_status: [200, 2xx]}\n"
      "    rollback: |\n      literal\n      text\n";
  const char* fragments[] = {"{",  "}",         "[",     "]",     ": ",     "- ",  "\n  ",
                             "\t", "&a ",       "*a",    "*slow", "!!str ", "! ",  "'",
                             "\"", "\\",        "---\n", "...",   "? ",     "|\n", ">-\n",
                             "~",  "<<: *slow", "#",     "\r\n"};
  std::mt19937 rng(14);
  int accepted = 0;
  for (int i = 0; i < 1500; ++i) {
    std::string text = valid;
    for (int e = 0, edits = 1 + static_cast<int>(rng() % 3); e < edits; ++e) {
      const size_t at = rng() % (text.size() + 1);
      switch (rng() % 3) {
        case 0:
          text.resize(at);
          break;
        case 1:
          text.insert(at, fragments[rng() % std::size(fragments)]);
          break;
        case 2:
          if (at < text.size()) text.erase(at, rng() % 12);
          break;
      }
    }
    accepted += ParsesAsYamlCppDoes(text) ? 1 : 0;
  }
  EXPECT_GT(accepted, 100);  // the comparison saw trees, not only errors
}

}  // namespace
}  // namespace runbook
