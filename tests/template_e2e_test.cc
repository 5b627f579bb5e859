// End-to-end tests of `--template F` on `runbook plan` and `runbook report`: the built binary
// renders the change request and the post-mortem through a template file the operator gives,
// and refuses (exit 2, nothing stored or written) one it cannot read or parse.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "tests/e2e_util.h"

namespace {

namespace fs = std::filesystem;

class TemplateE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("runbook-template-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    Write("web.yaml",
          "runbook: web\nsteps:\n"
          "  - id: deploy\n    shell: \"echo '<b>deployed</b>'; exit 1\"\n"
          "    rollback: {shell: \"true\"}\n"
          "  - id: announce\n    shell: \"echo hi\"\n    rollback: none\n");
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary) << text;
  }
  std::string Read(const std::string& name) {
    std::ifstream in(dir_ / name, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  // Runs `runbook ARGS`: the exit code, stdout in `*out`, stderr in the file "stderr".
  int Runbook(const std::string& args, std::string* out = nullptr) {
    auto o = runbook::testing::RunRunbook(dir_, dir_ / "audit.db", args, dir_ / "stderr");
    if (out) *out = o.text;
    return o.code;
  }
  size_t StoredPlans() {
    std::string out;
    EXPECT_EQ(Runbook("plans --json", &out), 0);
    auto list = nlohmann::json::parse(out, nullptr, false);
    return list.is_array() ? list.size() : 0;
  }

  fs::path dir_;
};

TEST_F(TemplateE2eTest, PlanRendersTheChangeRequestThroughTheGivenTemplate) {
  Write("cr.md",
        "# Change request: {{runbook}}\n\n"
        "{{#step_lists}}\n{{#is_steps}}\n{{#items}}\n"
        "{{number}}. `{{id}}`: {{description}}{{#undo.none}} (irreversible){{/undo.none}}\n"
        "{{/items}}\n{{/is_steps}}\n{{/step_lists}}\n"
        "\nhash {{hash}}\n");
  std::string out;
  ASSERT_EQ(Runbook("plan web.yaml --as dave --template cr.md --out plan.md", &out), 0)
      << Read("stderr");
  EXPECT_EQ(out.rfind("# Change request: web\n\n1. `deploy`: echo '<b>deployed</b>'; exit 1\n"
                      "2. `announce`: echo hi (irreversible)\n\nhash ",
                      0),
            0u)
      << out;
  EXPECT_EQ(out.find("CHANGE REQUEST"), std::string::npos) << "the built-in template was used";
  EXPECT_EQ(Read("plan.md").rfind("# Change request: web\n", 0), 0u) << "--out gets it too";

  // Without --template, the built-in change request.
  ASSERT_EQ(Runbook("plan web.yaml --as dave", &out), 0);
  EXPECT_EQ(out.rfind("CHANGE REQUEST: web  (plan plan-", 0), 0u) << out;
}

TEST_F(TemplateE2eTest, PlanRefusesATemplateItCannotUseBeforeStoringAPlan) {
  Write("broken.md", "CR {{runbook}}\n{{#step_lists}}\n");
  EXPECT_EQ(Runbook("plan web.yaml --template broken.md"), 2);
  EXPECT_NE(Read("stderr").find("broken.md:2:1: error: unclosed section \"step_lists\""),
            std::string::npos)
      << Read("stderr");
  EXPECT_EQ(Runbook("plan web.yaml --template missing.md"), 2);
  EXPECT_NE(Read("stderr").find("cannot read the template missing.md"), std::string::npos)
      << Read("stderr");
  EXPECT_EQ(StoredPlans(), 0u);
}

TEST_F(TemplateE2eTest, ReportRendersThroughTheGivenTemplateHtmlEscaped) {
  std::string out;
  ASSERT_EQ(Runbook("run web.yaml --json", &out), 1) << Read("stderr");
  const std::string run_id =
      nlohmann::json::parse(out.substr(out.rfind("\n{") + 1), nullptr, false)["run_id"];
  Write("mine.html",
        "<h1>{{runbook}}: {{state}}</h1>\n<ul>\n{{#failed}}\n<li>{{step}}: {{error}}"
        "{{#last_output}} <pre>{{text}}</pre>{{/last_output}}</li>\n{{/failed}}\n</ul>\n"
        "<div>{{{timeline_svg}}}</div>\n");
  ASSERT_EQ(Runbook("report " + run_id + " --out r.html --template mine.html", &out), 0)
      << Read("stderr");
  const std::string html = Read("r.html");
  EXPECT_EQ(html.rfind("<h1>web: rolled_back</h1>\n<ul>\n<li>deploy: exit status 1", 0), 0u)
      << html;
  EXPECT_NE(html.find("<pre>&lt;b&gt;deployed&lt;/b&gt;</pre>"), std::string::npos) << html;
  EXPECT_NE(html.find("<div><svg"), std::string::npos) << "triple braces insert the SVG as is";
}

TEST_F(TemplateE2eTest, ReportRefusesATemplateItCannotUseAndWritesNothing) {
  std::string out;
  ASSERT_EQ(Runbook("run web.yaml --json", &out), 1) << Read("stderr");
  const std::string run_id =
      nlohmann::json::parse(out.substr(out.rfind("\n{") + 1), nullptr, false)["run_id"];
  Write("broken.html", "<p>{{runbook</p>\n");
  EXPECT_EQ(Runbook("report " + run_id + " --out r.html --template broken.html"), 2);
  EXPECT_NE(Read("stderr").find("broken.html:1:4: error: unclosed tag"), std::string::npos)
      << Read("stderr");
  EXPECT_EQ(Runbook("report " + run_id + " --out r.html --template nowhere.html"), 2);
  EXPECT_NE(Read("stderr").find("cannot read the template nowhere.html"), std::string::npos)
      << Read("stderr");
  EXPECT_FALSE(fs::exists(dir_ / "r.html"));
}

}  // namespace
