// Notifications through the binary (docs/notifications.md): a runbook's webhook whose URL is a
// secret and a settings file's webhook that fails. The run succeeds with exit 0 whatever the
// webhooks do, each outcome is in the audit log, and the secret URL is nowhere in the output
// or the log.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "testing/http_test_server.h"
#include "testing/temp_dir.h"
#include "tests/e2e_util.h"

namespace runbook::testing {
namespace {

TEST(NotifyE2eTest, WebhooksAreToldAndTheirFailuresRecordedWithoutChangingTheRun) {
  HttpTestServer server;
  std::mutex mu;
  std::vector<std::string> bodies;
  server.server().Post("/services/T0/B0/secret-token",
                       [&](const httplib::Request& req, httplib::Response& res) {
                         std::lock_guard<std::mutex> lock(mu);
                         bodies.push_back(req.body);
                         res.set_content("ok", "text/plain");
                       });
  server.server().Post("/down", [](const httplib::Request&, httplib::Response& res) {
    res.status = 503;
  });
  ASSERT_TRUE(server.Start());
  const std::string secret_url = server.Url("/services/T0/B0/secret-token");
  ::setenv("RUNBOOK_E2E_SLACK_URL", secret_url.c_str(), 1);
  ::setenv("RUNBOOK_E2E_DOWN_URL", server.Url("/down").c_str(), 1);

  TempDir dir("runbook-notify-e2e");
  dir.Write("rb.yaml",
            "runbook: notified\nenvironment: staging\n"
            "secrets: {slack_url: {env: RUNBOOK_E2E_SLACK_URL}}\n"
            "notify:\n"
            "  - url: \"{{ secrets.slack_url }}\"\n"
            "    on: [run_started, succeeded, rolled_back, rollback_failed]\n"
            "    timeout: 5s\n"
            "steps:\n  - id: a\n    shell: \"echo deployed\"\n");
  dir.Write("settings.yaml",
            "notify:\n  - {url: \"{{ env.RUNBOOK_E2E_DOWN_URL }}\", on: [succeeded]}\n");
  const std::string db = dir.File("audit.db");
  Output run = RunRunbook(dir.path(), db, "--config settings.yaml run rb.yaml --json");
  EXPECT_EQ(run.code, 0) << run.text;
  EXPECT_NE(run.text.find("\"state\":\"succeeded\""), std::string::npos) << run.text;
  EXPECT_EQ(run.text.find("secret-token"), std::string::npos) << run.text;

  {
    std::lock_guard<std::mutex> lock(mu);
    ASSERT_EQ(bodies.size(), 2u);
    const nlohmann::json end = nlohmann::json::parse(bodies[1]);
    EXPECT_EQ(end["event"], "succeeded");
    EXPECT_EQ(end["runbook"], "notified");
    EXPECT_TRUE(end["text"].is_string());
  }

  Output exported = RunRunbook(dir.path(), db, "audit export");
  ASSERT_EQ(exported.code, 0) << exported.text;
  EXPECT_EQ(exported.text.find("secret-token"), std::string::npos) << exported.text;
  EXPECT_EQ(exported.text.find("/down"), std::string::npos) << exported.text;
  int sent = 0, failed = 0;
  std::string last;
  size_t start = 0;
  while (start < exported.text.size()) {
    size_t end = exported.text.find('\n', start);
    if (end == std::string::npos) end = exported.text.size();
    const std::string line = exported.text.substr(start, end - start);
    start = end + 1;
    if (line.empty()) continue;
    const nlohmann::json e = nlohmann::json::parse(line);
    last = e.value("event", "");
    if (last == "notify_sent") {
      ++sent;
      EXPECT_EQ(e["detail"]["target"], "***") << line;
    }
    if (last == "notify_failed") {
      ++failed;
      EXPECT_EQ(e["detail"]["event"], "succeeded") << line;
      EXPECT_EQ(e["detail"]["error"], "HTTP 503") << line;
      EXPECT_EQ(e["detail"]["target"], "***") << line;  // the URL came from the environment
    }
  }
  EXPECT_EQ(sent, 2);
  EXPECT_EQ(failed, 1);
  EXPECT_EQ(last, "run_finished");
  EXPECT_EQ(RunRunbook(dir.path(), db, "audit verify").code, 0);
  ::unsetenv("RUNBOOK_E2E_SLACK_URL");
  ::unsetenv("RUNBOOK_E2E_DOWN_URL");
}

// A run whose executor died is finished by `recover`: the runbook's webhooks hear how it ended
// (rolled back), with the run's own name, id and operator, and are not told it started again.
TEST(NotifyE2eTest, RecoverTellsTheWebhooksHowTheRunEnded) {
  HttpTestServer server;
  std::mutex mu;
  std::vector<nlohmann::json> bodies;
  server.server().Post("/hook", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mu);
    bodies.push_back(nlohmann::json::parse(req.body, nullptr, false));
    res.set_content("ok", "text/plain");
  });
  ASSERT_TRUE(server.Start());
  ::setenv("RUNBOOK_E2E_HOOK_URL", server.Url("/hook").c_str(), 1);

  TempDir dir("runbook-notify-recover");
  dir.Write("rb.yaml",
            "runbook: recovered\n"
            "notify:\n"
            "  - url: \"{{ env.RUNBOOK_E2E_HOOK_URL }}\"\n"
            "    on: [run_started, succeeded, rolled_back, rollback_failed]\n"
            "steps:\n"
            "  - id: a\n    shell: \"true\"\n    rollback: {shell: \"true\"}\n"
            "  - id: b\n    shell: \"true\"\n    rollback: {shell: \"true\"}\n");
  // The executor dies with SIGKILL right after its 9th audit record: as step b starts.
  ::setenv("RUNBOOK_TEST_CRASH_AFTER_EVENT", "9", 1);
  const std::string db = dir.File("audit.db");
  Output run = RunRunbook(dir.path(), db, "run rb.yaml");
  ::unsetenv("RUNBOOK_TEST_CRASH_AFTER_EVENT");
  ASSERT_NE(run.code, 0) << run.text;
  {
    std::lock_guard<std::mutex> lock(mu);
    ASSERT_EQ(bodies.size(), 1u);  // run_started, before it died
    EXPECT_EQ(bodies[0]["event"], "run_started");
  }

  Output recovered = RunRunbook(dir.path(), db, "recover");
  EXPECT_EQ(recovered.code, 1) << recovered.text;  // rolled back
  std::string run_id;
  {
    std::lock_guard<std::mutex> lock(mu);
    ASSERT_EQ(bodies.size(), 2u) << recovered.text;
    const nlohmann::json& end = bodies[1];
    EXPECT_EQ(end["event"], "rolled_back") << end.dump();
    EXPECT_EQ(end["runbook"], "recovered") << end.dump();
    EXPECT_EQ(end["run_id"], bodies[0]["run_id"]) << end.dump();
    EXPECT_EQ(end["operator"], bodies[0]["operator"]) << end.dump();
  }
  Output exported = RunRunbook(dir.path(), db, "audit export");
  ASSERT_EQ(exported.code, 0) << exported.text;
  EXPECT_NE(exported.text.find("\"notify_sent\""), std::string::npos) << exported.text;
  EXPECT_EQ(RunRunbook(dir.path(), db, "audit verify").code, 0);
  ::unsetenv("RUNBOOK_E2E_HOOK_URL");
}

}  // namespace
}  // namespace runbook::testing
