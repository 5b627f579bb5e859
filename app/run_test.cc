#include "app/run.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "app/app_test_util.h"
#include "app/inputs.h"
#include "engine/engine_test_util.h"
#include "testing/temp_dir.h"

namespace runbook {
namespace {

using testing::FakeEnvironment;
using testing::FakeSigner;
using testing::WriteTextFile;

class RunServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = AuditDatabase::Open(dir_ / "audit.db");
    ASSERT_TRUE(store.ok()) << store.message();
    store_ = std::move(store.value());
    service_ = std::make_unique<RunService>(*store_, signer_, env_);
  }

  RunRequest Request(const std::string& text, bool dry_run = false) {
    WriteTextFile(dir_ / "rb.yaml", text);
    LoadedRunbook loaded = LoadRunbookWithParams(dir_ / "rb.yaml", {});
    EXPECT_TRUE(loaded.ok()) << loaded.error_summary << loaded.status.message();
    RunRequest r;
    r.runbook = std::move(loaded.runbook);
    r.params = loaded.params;
    r.file = dir_ / "rb.yaml";
    r.operator_name = "tester";
    r.dry_run = dry_run;
    return r;
  }

  std::string Runbook(const std::string& command) {
    return "runbook: app-run\nlock: app-run-lock\nsteps:\n  - id: one\n    shell: \"" + command +
           "\"\n";
  }

  runbook::testing::TempDir dir_{"app-run"};
  FakeEnvironment env_;
  FakeSigner signer_;
  std::unique_ptr<AuditDatabase> store_;
  std::unique_ptr<RunService> service_;
  runbook::testing::SilentReporter reporter_;
};

TEST_F(RunServiceTest, RunsTheRunbookAndFreesTheLock) {
  const std::string marker = dir_ / "ran";
  RunStart start = service_->Prepare(Request(Runbook("touch " + marker)));
  ASSERT_TRUE(start.status.ok()) << start.status.message();
  CancelFlag interrupt, hard_stop;
  RunResult result = service_->Execute(*start.run, reporter_, {&interrupt, &hard_stop});
  EXPECT_EQ(result.summary.state, "succeeded");
  EXPECT_EQ(result.summary.exit_code, 0);
  EXPECT_TRUE(result.unlock_status.ok()) << result.unlock_status.message();
  EXPECT_TRUE(std::filesystem::exists(marker));
  auto run = store_->events().GetRun(result.summary.run_id);
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->operator_name, "tester");
  // The lock is free again: a second run may start.
  RunStart again = service_->Prepare(Request(Runbook("true")));
  EXPECT_TRUE(again.status.ok()) << again.status.message();
}

TEST_F(RunServiceTest, ALockHeldByALiveRunIsRefused) {
  auto held = store_->locks().TryLock("app-run-lock", "other-run", static_cast<int>(getpid()), LocalHostName());
  ASSERT_TRUE(held.ok() && held->acquired);
  RunStart start = service_->Prepare(Request(Runbook("true")));
  EXPECT_EQ(start.status.kind(), StatusKind::kRefused);
  EXPECT_NE(start.status.message().find("is held by run other-run"), std::string::npos)
      << start.status.message();
  EXPECT_EQ(start.run, nullptr);
  // A dry run takes no lock, so it is not refused.
  RunStart dry = service_->Prepare(Request(Runbook("true"), /*dry_run=*/true));
  EXPECT_TRUE(dry.status.ok()) << dry.status.message();
}

TEST_F(RunServiceTest, APreparedRunThatNeverRunsReleasesItsLock) {
  {
    RunStart start = service_->Prepare(Request(Runbook("true")));
    ASSERT_TRUE(start.status.ok());
  }
  RunStart again = service_->Prepare(Request(Runbook("true")));
  EXPECT_TRUE(again.status.ok()) << again.status.message();
}

TEST_F(RunServiceTest, ARunbookWithAnApprovalPolicyNeedsAPlan) {
  const std::string text = Runbook("true") + "approval: {required: 1}\n";
  RunStart start = service_->Prepare(Request(text));
  EXPECT_EQ(start.status.kind(), StatusKind::kRefused);
  EXPECT_NE(start.status.message().find("needs an approved plan"), std::string::npos);
  RunRequest with_plan = Request(text);
  with_plan.plan_id = "plan-unknown";
  EXPECT_EQ(service_->Prepare(std::move(with_plan)).status.kind(), StatusKind::kRefused);
}

TEST_F(RunServiceTest, AMissingSecretIsInvalidInput) {
  ::unsetenv("RUNBOOK_APP_TEST_SECRET_THAT_IS_NOT_SET");
  const std::string text =
      Runbook("true") + "secrets:\n  token: {env: RUNBOOK_APP_TEST_SECRET_THAT_IS_NOT_SET}\n";
  RunStart start = service_->Prepare(Request(text));
  EXPECT_EQ(start.status.kind(), StatusKind::kInvalid);
}

TEST_F(RunServiceTest, TheChecklistMustBeConfirmedAndIsRecorded) {
  const std::string text = Runbook("true") + "checklist: [backup-verified, oncall-paged]\n";
  RunRequest none = Request(text);
  RunStart start = service_->Prepare(std::move(none));
  EXPECT_EQ(start.status.kind(), StatusKind::kRefused);
  EXPECT_NE(start.status.message().find("backup-verified, oncall-paged"), std::string::npos)
      << start.status.message();

  RunRequest one = Request(text);
  one.confirmed = {"oncall-paged"};
  start = service_->Prepare(std::move(one));
  EXPECT_EQ(start.status.kind(), StatusKind::kRefused);
  EXPECT_NE(start.status.message().find("--confirm backup-verified"), std::string::npos);
  EXPECT_EQ(start.status.message().find("--confirm oncall-paged"), std::string::npos);

  RunRequest unknown = Request(text);
  unknown.confirmed = {"backup-verified", "oncall-paged", "coffee"};
  EXPECT_EQ(service_->Prepare(std::move(unknown)).status.kind(), StatusKind::kInvalid);

  EXPECT_TRUE(service_->Prepare(Request(text, /*dry_run=*/true)).status.ok());

  RunRequest both = Request(text);
  both.confirmed = {"backup-verified", "oncall-paged"};
  start = service_->Prepare(std::move(both));
  ASSERT_TRUE(start.status.ok()) << start.status.message();
  const std::string run_id = start.run->run_id();
  RunResult result = service_->Execute(*start.run, reporter_, {});
  EXPECT_EQ(result.summary.exit_code, 0);
  auto events = store_->events().Events(run_id);
  ASSERT_TRUE(events.ok());
  const nlohmann::json& detail = events->front().detail;
  ASSERT_TRUE(detail.contains("checklist")) << detail.dump();
  EXPECT_EQ(detail["checklist"][0]["item"], "backup-verified");
  EXPECT_EQ(detail["checklist"][1]["confirmed_by"], "tester");
}

TEST(RunIdTest, RunIdsAreTimeStampedAndDistinct) {
  const auto now = std::chrono::system_clock::from_time_t(1700000000);
  const std::string a = NewRunId(now), b = NewRunId(now);
  EXPECT_EQ(a.substr(0, 17), "20231114T221320Z-");
  EXPECT_EQ(a.size(), 23u);
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace runbook
