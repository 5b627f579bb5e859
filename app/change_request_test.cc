#include "app/change_request.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "app/templates.h"
#include "engine/loader.h"
#include "engine/plan.h"
#include "engine/state_machine.h"

namespace runbook {
namespace {

// A plan document as engine/plan.h BuildPlan makes it, with plan_id and requested_by.
nlohmann::json Plan() {
  auto step = [](const std::string& id, const std::string& name, const std::string& action,
                 const std::string& description) {
    return nlohmann::json{{"id", id},           {"name", name},  {"action", action},
                          {"description", description}, {"timeout_ms", 1000}, {"retries", 0}};
  };
  nlohmann::json migrate = step("migrate", "Migrate the database", "shell", "echo one\n\necho two");
  migrate["rollback"] = {{"kind", "actions"},
                         {"actions", {step("migrate-rollback-1", "migrate-rollback-1", "shell",
                                           "echo undo one\necho undo two")}}};
  nlohmann::json apply = step("apply", "apply", "kubectl", "kubectl apply -f m.yaml");
  apply["context"] = "prod (namespace web, server https://k8s)";
  apply["namespace"] = "web";
  apply["rollback"] = {{"kind", "auto"},
                       {"actions", {{{"id", "apply"}, {"description", "undo to the revisions"}}}}};
  nlohmann::json announce = step("announce", "announce", "shell", "echo hi");
  announce["rollback"] = {{"kind", "none"}, {"actions", nlohmann::json::array()}};
  nlohmann::json later = step("later", "later", "shell", "echo later");
  later["rollback"] = {{"kind", "unset"}, {"actions", nlohmann::json::array()}};
  return {
      {"hash", "abc123"},
      {"plan_id", "plan-abc-1"},
      {"requested_by", "dave"},
      {"runbook", "web"},
      {"path", "web.yaml"},
      {"description", "Release the web app."},
      {"risk", "high"},
      {"environment", "production"},
      {"owner", ""},
      {"estimated_duration", "5m"},
      {"lock", "web"},
      {"params", {{{"name", "version"}, {"value", "1.2.3"}, {"description", "what to release"}},
                  {{"name", "port"}, {"value", "80"}, {"description", ""}}}},
      {"secrets", {{{"name", "token"}, {"from", "env TOKEN"}}}},
      {"prechecks", {step("disk", "disk", "shell", "df -h")}},
      {"steps", {migrate, apply, announce, later}},
      {"verify", nlohmann::json::array()},
      {"rollback", {step("rollback-1", "rollback-1", "shell", "echo global")}},
      {"irreversible", {"announce", "later"}},
      {"known_issues", {"slow on Mondays"}},
      {"approval", {{"required", 2}, {"approvers", {"alice", "bob"}}, {"signed", true},
                    {"expires_ms", 0}}},
      {"warnings", {"step announce is irreversible (rollback: none)"}},
      {"states", 12},
      {"transitions", 20},
  };
}

// The layout the change request had when engine/plan.cc wrote it in code.
constexpr const char* kExpected = R"(CHANGE REQUEST: web  (plan plan-abc-1)
  Release the web app.

Overview
  risk:         high
  environment:  production
  estimated:    5m
  lock:         web
  requested by: dave
  approval:     2 approver(s) from alice bob, signed

Params
  version = 1.2.3    # what to release
  port = 80

Secrets (values never shown)
  token from env TOKEN

Prechecks (a failure aborts the run; nothing has changed yet)
  1. disk [shell]
       df -h

Steps (on failure: this step's rollback, then earlier steps' in reverse)
  1. migrate — Migrate the database [shell]
       echo one
       
       echo two
       rollback:
         echo undo one
         echo undo two
  2. apply [kubectl]
       kubectl apply -f m.yaml
       context: prod (namespace web, server https://k8s), namespace: web
       rollback: undo to the revisions
  3. announce [shell]
       echo hi
       rollback: NONE — IRREVERSIBLE
  4. later [shell]
       echo later
       rollback: not defined — irreversible unless handled by the global rollback

Global rollback (after the step rollbacks, whenever a rollback happens)
  1. rollback-1 [shell]
       echo global

Irreversible steps
  ! announce
  ! later

Warnings
  ! step announce is irreversible (rollback: none)

Known issues
  - slow on Mondays

State machine: 12 states, 20 transitions (runbook graph FILE to draw it)
Plan hash: abc123
)";

TEST(ChangeRequestTest, TheBuiltInTemplateKeepsTheReviewersLayout) {
  auto text = RenderChangeRequest(Plan());
  ASSERT_TRUE(text.ok()) << text.message();
  EXPECT_EQ(*text, kExpected);
}

TEST(ChangeRequestTest, AReviewerSeesHostsLimitsAndExpectations) {
  LoadResult loaded = LoadRunbookText(R"(runbook: p
targets:
  web: {hosts: [a, "b:2222"], user: deploy}
steps:
  - id: a
    ssh: {target: web, command: "true", batch: 1, max_fail: 25%}
    timeout: 30s
    retries: 2
    retry_delay: 5s
verify:
  - id: h
    http: {url: "http://x/health", expect_status: 200, body_contains: ok}
)", "p.yaml", "/srv");
  ASSERT_TRUE(loaded.ok());
  const StateMachine machine = StateMachine::Compile(*loaded.runbook);
  auto text = RenderChangeRequest(BuildPlan(*loaded.runbook, machine, {}));
  ASSERT_TRUE(text.ok()) << text.message();
  for (const char* line : {"hosts: a, b:2222", "batch: 1 at a time; max_fail: 25%",
                           "timeout: 30s; attempts: 3 (retry after 5s)",
                           "expects status 200, body containing \"ok\"",
                           "timeout: none; attempts: 1"})
    EXPECT_NE(text->find(line), std::string::npos) << line << " is not in:\n" << *text;
}

TEST(ChangeRequestTest, BoundFilesAreListedWithTheirSha256) {
  nlohmann::json plan = Plan();
  const std::string a(64, 'a'), b(64, 'b');
  plan["files"] = {{{"path", "config/app.conf"}, {"use", "input"}, {"sha256", a}},
                   {{"path", "m.yaml"}, {"use", "manifest"}, {"sha256", b}}};
  auto text = RenderChangeRequest(plan);
  ASSERT_TRUE(text.ok()) << text.message();
  EXPECT_NE(text->find("\nFiles the run uses (their content is bound by the plan hash: `run "
                       "--plan` refuses if one changes)\n"
                       "  config/app.conf  sha256 " + a + "  (listed under inputs:)\n"
                       "  m.yaml           sha256 " + b +
                       "  (kubectl manifest, rendered with the params)\n\nIrreversible steps\n"),
            std::string::npos)
      << *text;
}

TEST(ChangeRequestTest, ValuesAreNotHtmlEscaped) {
  nlohmann::json plan = Plan();
  plan["steps"][0]["description"] = "echo '<b>' && exit 1";
  auto text = RenderChangeRequest(plan);
  ASSERT_TRUE(text.ok()) << text.message();
  EXPECT_NE(text->find("       echo '<b>' && exit 1\n"), std::string::npos) << *text;
}

TEST(ChangeRequestTest, AStoredDocumentMissingKeysStillRenders) {
  auto text = RenderChangeRequest({{"runbook", "old"}, {"steps", {{{"id", "one"}}}}});
  ASSERT_TRUE(text.ok()) << text.message();
  EXPECT_NE(text->find("CHANGE REQUEST: old\n"), std::string::npos) << *text;
  EXPECT_NE(text->find("  1. one []\n"), std::string::npos) << *text;
}

TEST(ChangeRequestTest, ACustomTemplateGetsTheSameContext) {
  const DocumentTemplate custom{
      "cr.md",
      "# {{runbook}} ({{risk}})\n{{#step_lists}}{{#is_steps}}\n{{#items}}\n"
      "{{number}}. `{{id}}`{{#undo.none}} **irreversible**{{/undo.none}}\n{{/items}}\n"
      "{{/is_steps}}{{/step_lists}}"};
  auto text = RenderChangeRequest(Plan(), custom);
  ASSERT_TRUE(text.ok()) << text.message();
  EXPECT_EQ(*text,
            "# web (high)\n1. `migrate`\n2. `apply`\n3. `announce` **irreversible**\n4. `later`\n");
  auto broken = RenderChangeRequest(Plan(), DocumentTemplate{"cr.md", "{{#steps}}"});
  EXPECT_EQ(broken.status().kind(), StatusKind::kInvalid);
  EXPECT_EQ(broken.message(), "cr.md:1:1: error: unclosed section \"steps\"");
}

TEST(ChangeRequestTest, CompiledCopyMatchesTheTemplateFile) {
  std::ifstream in(std::string(RUNBOOK_SOURCE_DIR) + "/templates/change-request.md",
                   std::ios::binary);
  ASSERT_TRUE(in) << "templates/change-request.md is missing";
  std::stringstream file;
  file << in.rdbuf();
  EXPECT_TRUE(file.str() == kChangeRequestTemplate)
      << "the compiled template differs from templates/change-request.md: re-run cmake";
}

}  // namespace
}  // namespace runbook
