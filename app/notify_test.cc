// Notifications: the payload, the webhook as records show it, and the run's and the approval
// service's notifications against a real HTTP server on loopback.
#include "app/notify.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <mutex>
#include <string>
#include <vector>

#include "app/app_test_util.h"
#include "app/inputs.h"
#include "app/plans.h"
#include "app/run.h"
#include "engine/engine_test_util.h"
#include "testing/http_test_server.h"
#include "testing/temp_dir.h"

namespace runbook {
namespace {

using testing::FakeEnvironment;
using testing::FakeSigner;
using testing::WriteTextFile;

TEST(NotifyPayload, IsSlackTextWithOurFields) {
  NotifyFacts f{.event = NotifyEvent::kRunRolledBack,
                .runbook = "deploy-web",
                .environment = "production",
                .run_id = "R1",
                .state = "rolled_back",
                .exit_code = 1,
                .operator_name = "alice",
                .cause = "step 'migrate' failed: exit status 1",
                .plan_id = "P1"};
  const nlohmann::json j = nlohmann::json::parse(NotifyPayload(f).dump());
  EXPECT_EQ(j["text"],
            "deploy-web (production): run R1 failed and was rolled back: step 'migrate' failed: "
            "exit status 1");
  EXPECT_EQ(j["event"], "rolled_back");
  EXPECT_EQ(j["run_id"], "R1");
  EXPECT_EQ(j["state"], "rolled_back");
  EXPECT_EQ(j["exit_code"], 1);
  EXPECT_EQ(j["operator"], "alice");
  EXPECT_EQ(j["plan_id"], "P1");
  EXPECT_FALSE(j.contains("approver"));  // empty fields are left out

  NotifyFacts started{.event = NotifyEvent::kRunStarted, .runbook = "db", .run_id = "R2"};
  const nlohmann::json s = NotifyPayload(started);
  EXPECT_EQ(s["text"], "db: run R2 started");
  EXPECT_FALSE(s.contains("exit_code"));
}

TEST(WebhookTargetText, LeavesOutThePathAndEverySecret) {
  Redactor none;
  EXPECT_EQ(WebhookTargetText("https://hooks.slack.com/services/T0/B0/XyZ", none),
            "https://hooks.slack.com/...");
  EXPECT_EQ(WebhookTargetText("http://127.0.0.1:8080", none), "http://127.0.0.1:8080");
  EXPECT_EQ(WebhookTargetText("https://user:pw@h.example/x", none), "https://***@h.example/...");
  Redactor whole;
  whole.Add("https://hooks.slack.com/services/T0/B0/XyZ");
  EXPECT_EQ(WebhookTargetText("https://hooks.slack.com/services/T0/B0/XyZ", whole), "***");
  Redactor host;
  host.Add("secret-host.example");
  EXPECT_EQ(WebhookTargetText("https://secret-host.example/x", host), "***");
  EXPECT_EQ(WebhookTargetText("not a url", none), "***");
}

/// A local webhook: /ok answers 200 and keeps each body, /fail answers 500.
class Webhook {
 public:
  Webhook() {
    server_.server().Post("/ok", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      bodies_.push_back(req.body);
      res.set_content("ok", "text/plain");
    });
    server_.server().Post("/fail", [](const httplib::Request&, httplib::Response& res) {
      res.status = 500;
    });
    started_ = server_.Start();
  }
  bool started() const { return started_; }
  std::string Url(const std::string& path) const { return server_.Url(path); }
  std::vector<nlohmann::json> Posts() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<nlohmann::json> out;
    for (const std::string& b : bodies_) out.push_back(nlohmann::json::parse(b));
    return out;
  }

 private:
  testing::HttpTestServer server_;
  std::mutex mu_;
  std::vector<std::string> bodies_;
  bool started_ = false;
};

class RunNotificationsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(hook_.started());
    ASSERT_TRUE(silent_.ok());
    auto store = AuditDatabase::Open(dir_ / "audit.db");
    ASSERT_TRUE(store.ok()) << store.message();
    store_ = std::move(store.value());
    ::setenv("RUNBOOK_NOTIFY_TEST_HOOK", hook_.Url("/ok").c_str(), 1);
  }
  void TearDown() override { ::unsetenv("RUNBOOK_NOTIFY_TEST_HOOK"); }

  // A runbook whose webhooks are: the secret /ok, /fail (500) and one that never answers.
  std::string Text(const std::string& command) {
    return "runbook: notified\nenvironment: staging\nlock: notified-lock\n"
           "secrets: {hook: {env: RUNBOOK_NOTIFY_TEST_HOOK}}\n"
           "notify:\n"
           "  - url: \"{{ secrets.hook }}\"\n"
           "  - url: \"" + hook_.Url("/fail") + "\"\n"
           "    on: [run_started, succeeded, rolled_back, aborted]\n"
           "  - {url: \"" + silent_.Url("/hang") + "\", timeout: 300ms}\n"
           "steps:\n  - id: one\n    shell: \"" + command + "\"\n";
  }

  RunResult Run(const std::string& command, bool dry_run = false) {
    WriteTextFile(dir_ / "rb.yaml", Text(command));
    LoadedRunbook loaded = LoadRunbookWithParams(dir_ / "rb.yaml", {});
    EXPECT_TRUE(loaded.ok()) << loaded.error_summary << loaded.status.message();
    RunRequest r;
    r.runbook = std::move(loaded.runbook);
    r.file = dir_ / "rb.yaml";
    r.operator_name = "tester";
    r.dry_run = dry_run;
    RunService service(*store_, signer_, env_);
    RunStart start = service.Prepare(std::move(r));
    EXPECT_TRUE(start.status.ok()) << start.status.message();
    CancelFlag interrupt, hard_stop;
    return service.Execute(*start.run, reporter_, {&interrupt, &hard_stop});
  }

  std::vector<StoredEvent> Events(const std::string& run_id) {
    auto events = store_->events().Events(run_id);
    EXPECT_TRUE(events.ok());
    return events.ok() ? *events : std::vector<StoredEvent>{};
  }

  Webhook hook_;
  testing::SilentListener silent_;
  runbook::testing::TempDir dir_{"app-notify"};
  FakeEnvironment env_;
  FakeSigner signer_;
  std::unique_ptr<AuditDatabase> store_;
  runbook::testing::SilentReporter reporter_;
};

TEST_F(RunNotificationsTest, FailingWebhooksAreRecordedAndTheRunSucceeds) {
  const RunResult result = Run("true");
  EXPECT_EQ(result.summary.state, "succeeded");
  EXPECT_EQ(result.summary.exit_code, 0);

  const std::vector<nlohmann::json> posts = hook_.Posts();
  ASSERT_EQ(posts.size(), 2u);
  EXPECT_EQ(posts[0]["event"], "run_started");
  EXPECT_EQ(posts[1]["event"], "succeeded");
  EXPECT_EQ(posts[1]["run_id"], result.summary.run_id);
  EXPECT_EQ(posts[1]["runbook"], "notified");
  EXPECT_EQ(posts[1]["environment"], "staging");
  EXPECT_EQ(posts[1]["operator"], "tester");
  EXPECT_EQ(posts[1]["exit_code"], 0);
  EXPECT_NE(posts[1]["text"].get<std::string>().find("succeeded"), std::string::npos);

  std::vector<std::string> sent, failed;
  const std::vector<StoredEvent> events = Events(result.summary.run_id);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().event, "run_finished");  // still the run's last event
  for (const StoredEvent& e : events) {
    EXPECT_EQ(e.detail.dump().find(hook_.Url("/ok")), std::string::npos) << e.detail.dump();
    const auto d = e.detail.get<NotificationDetail>();
    if (e.event == "notify_sent") sent.push_back(d.event + " " + d.target);
    if (e.event == "notify_failed")
      failed.push_back(d.event + " " + d.target + " " + d.error.substr(0, 13));
  }
  const std::string fail = WebhookTargetText(hook_.Url("/fail"), Redactor());
  const std::string hang = WebhookTargetText(silent_.Url("/hang"), Redactor());
  EXPECT_EQ(sent, (std::vector<std::string>{"run_started ***", "succeeded ***"}));
  EXPECT_EQ(failed, (std::vector<std::string>{"run_started " + fail + " HTTP 500",
                                              "run_started " + hang + " timed out aft",
                                              "succeeded " + fail + " HTTP 500",
                                              "succeeded " + hang + " timed out aft"}));
  auto verify = store_->events().Verify();
  ASSERT_TRUE(verify.ok());
}

TEST_F(RunNotificationsTest, AFailedRunSaysWhy) {
  const RunResult result = Run("exit 3");
  EXPECT_NE(result.summary.state, "succeeded");
  const std::vector<nlohmann::json> posts = hook_.Posts();
  ASSERT_EQ(posts.size(), 2u);
  EXPECT_EQ(posts[1]["state"], result.summary.state);
  EXPECT_EQ(posts[1]["exit_code"], result.summary.exit_code);
  EXPECT_NE(posts[1]["cause"].get<std::string>().find("step 'one' failed"), std::string::npos)
      << posts[1].dump();
}

TEST_F(RunNotificationsTest, ADryRunNotifiesNobody) {
  const RunResult result = Run("true", /*dry_run=*/true);
  EXPECT_EQ(result.summary.exit_code, 0);
  EXPECT_TRUE(hook_.Posts().empty());
}

TEST_F(RunNotificationsTest, ApprovalsAreNotified) {
  const std::string text =
      "runbook: approved\napproval: {required: 1}\n"
      "notify:\n"
      "  - {url: \"" + hook_.Url("/ok") + "\", on: [approval_requested, approved]}\n"
      "  - {url: \"" + hook_.Url("/fail") + "\", on: [approved]}\n"
      "steps:\n  - id: one\n    shell: \"true\"\n";
  WriteTextFile(dir_ / "ap.yaml", text);
  LoadedRunbook loaded = LoadRunbookWithParams(dir_ / "ap.yaml", {});
  ASSERT_TRUE(loaded.ok());
  PlanService plans(*store_, signer_, env_);
  auto made = plans.Make(*loaded.runbook, loaded.params, "alice");
  ASSERT_TRUE(made.ok()) << made.message();
  EXPECT_TRUE(made->notification_problems.empty());
  auto approved = plans.Approve({.plan_id = made->record.plan_id, .approver = "bob"});
  ASSERT_TRUE(approved.ok()) << approved.message();
  EXPECT_TRUE(approved->approved);
  ASSERT_EQ(approved->notification_problems.size(), 1u);
  EXPECT_EQ(approved->notification_problems[0],
            "notification approved to " +
                WebhookTargetText(hook_.Url("/fail"), Redactor()) + " failed: HTTP 500");
  const std::vector<nlohmann::json> posts = hook_.Posts();
  ASSERT_EQ(posts.size(), 2u);
  EXPECT_EQ(posts[0]["event"], "approval_requested");
  EXPECT_EQ(posts[0]["requested_by"], "alice");
  EXPECT_EQ(posts[1]["event"], "approved");
  EXPECT_EQ(posts[1]["approver"], "bob");
  EXPECT_EQ(posts[1]["plan_id"], made->record.plan_id);
}

}  // namespace
}  // namespace runbook
