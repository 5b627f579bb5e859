#include "app/document_renderer.h"

#include <gtest/gtest.h>

#include <fstream>

#include "audit/audit_test_util.h"

namespace runbook {
namespace {

std::string Render(const std::string& text, const nlohmann::json& context,
                   Escaping escaping = Escaping::kNone) {
  auto out = RenderDocument({"t.md", text}, context, escaping);
  EXPECT_TRUE(out.ok()) << out.message();
  return out.ok() ? *out : "";
}

TEST(DocumentRendererTest, LoopsOverListsAndNumbersNothingItself) {
  const nlohmann::json c = {{"steps", {{{"id", "a"}, {"n", 1}}, {{"id", "b"}, {"n", 2}}}}};
  EXPECT_EQ(Render("{{#steps}}\n{{n}}. {{id}}\n{{/steps}}\n", c), "1. a\n2. b\n");
  EXPECT_EQ(Render("{{#names}}[{{.}}]{{/names}}", {{"names", {"x", "y"}}}), "[x][y]");
  EXPECT_EQ(Render("{{#steps}}x{{/steps}}{{^steps}}none{{/steps}}", {{"steps", nlohmann::json::array()}}),
            "none");
}

TEST(DocumentRendererTest, SectionsShowWhatIsTrueAndSetAndHideTheRest) {
  const nlohmann::json c = {{"yes", true}, {"no", false},   {"empty", ""},
                            {"text", "t"}, {"zero", 0},     {"none", nullptr},
                            {"obj", {{"inner", "i"}}}};
  EXPECT_EQ(Render("{{#yes}}Y{{/yes}}{{#no}}N{{/no}}{{^no}}n{{/no}}", c), "Yn");
  EXPECT_EQ(Render("{{#empty}}E{{/empty}}{{^empty}}e{{/empty}}", c), "e") << "empty strings are false";
  EXPECT_EQ(Render("{{#none}}N{{/none}}{{#missing}}M{{/missing}}{{missing}}.", c), ".");
  EXPECT_EQ(Render("{{#text}}<{{text}}>{{/text}} {{zero}}", c), "<t> 0");
  EXPECT_EQ(Render("{{obj.inner}} {{#obj}}{{inner}}{{/obj}}", c), "i i");
}

TEST(DocumentRendererTest, AnItemsOwnFalseValueDoesNotFallBackToTheOuterOne) {
  const nlohmann::json c = {{"error", "outer"}, {"items", {{{"error", ""}}, {{"error", "inner"}}}}};
  EXPECT_EQ(Render("{{#items}}[{{#error}}{{error}}{{/error}}]{{/items}}", c), "[][inner]");
}

TEST(DocumentRendererTest, LinesHoldingOnlySectionTagsOrCommentsLeaveNoBlankLine) {
  const std::string t =
      "{{! a comment }}\n"
      "A\n"
      "{{#no}}\n"
      "hidden\n"
      "{{/no}}\n"
      "{{#yes}}\n"
      "shown\n"
      "{{/yes}}\n"
      "  {{^yes}}\n"
      "not shown\n"
      "  {{/yes}}\n"
      "\n"
      "B\n";
  EXPECT_EQ(Render(t, {{"yes", true}, {"no", false}}), "A\nshown\n\nB\n");
  // Blank lines inside a value or a loop's body stay.
  EXPECT_EQ(Render("{{#lines}}\n  {{.}}\n{{/lines}}\n", {{"lines", {"a", "", "b"}}}),
            "  a\n  \n  b\n");
}

TEST(DocumentRendererTest, HtmlEscapesValuesUnlessTripleBraced) {
  const nlohmann::json c = {{"x", "<b a=\"1\">'&'\x1b[31m</b>"}};
  EXPECT_EQ(Render("{{x}}", c, Escaping::kHtml),
            "&lt;b a=&quot;1&quot;&gt;&#39;&amp;&#39;\xe2\x90\x9b[31m&lt;/b&gt;");
  EXPECT_EQ(Render("{{{x}}}|{{&x}}", c, Escaping::kHtml),
            "<b a=\"1\">'&'\x1b[31m</b>|<b a=\"1\">'&'\x1b[31m</b>");
}

TEST(DocumentRendererTest, TextAndMarkdownAreNotHtmlEscaped) {
  const nlohmann::json c = {{"cmd", "echo '<a>' && curl \"$URL\""}};
  EXPECT_EQ(Render("`{{cmd}}`", c, Escaping::kNone), "`echo '<a>' && curl \"$URL\"`");
}

TEST(DocumentRendererTest, ABrokenTemplateIsAnInvalidErrorNamingTheTemplateAndThePlace) {
  for (const auto& [text, want] : std::vector<std::pair<std::string, std::string>>{
           {"x\n{{#steps}}\nyy\n", "t.md:2:1: error: unclosed section \"steps\""},
           {"ok\n  {{name\n", "t.md:2:3: error: unclosed tag"},
           {"{{/steps}}", "t.md:1:1: error: unopened section \"steps\""},
           {"{{#a}}{{/b}}", "t.md:1:1: error: unclosed section \"a\""},
           {"{{=<% %>=}}<%#a%>", "t.md:1:12: error: unclosed section \"a\""}}) {
    auto out = RenderDocument({"t.md", text}, nlohmann::json::object(), Escaping::kNone);
    ASSERT_FALSE(out.ok()) << text;
    EXPECT_EQ(out.status().kind(), StatusKind::kInvalid);
    EXPECT_EQ(out.message(), want) << text;
  }
}

TEST(ReadTemplateFileTest, ReadsAndChecksTheFile) {
  audit_test::TempDir dir;
  std::ofstream(dir.File("good.md")) << "{{#a}}{{b}}{{/a}}\n";
  std::ofstream(dir.File("bad.md")) << "{{#a}}\n";
  auto good = ReadTemplateFile(dir.File("good.md"));
  ASSERT_TRUE(good.ok()) << good.message();
  EXPECT_EQ(good->name, dir.File("good.md"));
  EXPECT_EQ(good->text, "{{#a}}{{b}}{{/a}}\n");

  auto bad = ReadTemplateFile(dir.File("bad.md"));
  EXPECT_EQ(bad.status().kind(), StatusKind::kInvalid);
  EXPECT_EQ(bad.message(), dir.File("bad.md") + ":1:1: error: unclosed section \"a\"");

  auto missing = ReadTemplateFile(dir.File("missing.md"));
  EXPECT_EQ(missing.status().kind(), StatusKind::kNotFound);
  EXPECT_NE(missing.message().find("cannot read the template"), std::string::npos);
}

}  // namespace
}  // namespace runbook
