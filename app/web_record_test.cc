// The audit records of `runbook serve` (app/web_record.h) over a real SQLite store: one record
// a action, in a chain that verifies, left out of stats, and ended by `recover` when the server
// died while writing it.
#include "app/web_record.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "app/app_test_util.h"
#include "app/maintenance_record.h"
#include "app/recover.h"
#include "app/stats.h"
#include "audit/audit_database.h"
#include "engine/engine_test_util.h"
#include "testing/temp_dir.h"

namespace runbook {
namespace {

class WebRecordTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = AuditDatabase::Open(dir_ / "audit.db");
    ASSERT_TRUE(store.ok()) << store.message();
    store_ = std::move(store.value());
  }

  runbook::testing::TempDir dir_{"app-web-record"};
  testing::FakeEnvironment env_;
  std::unique_ptr<AuditDatabase> store_;
};

TEST_F(WebRecordTest, EachActionIsARecordOfItsOwnInTheChain) {
  WebAction refused{.action = "approve",
                    .outcome = "refused",
                    .user = "mallory",
                    .remote = "127.0.0.1",
                    .plan_id = "plan-1",
                    .reason = "mallory is not on the approvers list"};
  auto first = RecordWebAction(*store_, env_, refused);
  ASSERT_TRUE(first.ok()) << first.message();
  auto second = RecordWebAction(*store_, env_, {.action = "login", .outcome = "refused"});
  ASSERT_TRUE(second.ok()) << second.message();
  EXPECT_NE(*first, *second);

  auto run = store_->events().GetRun(*first);
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->runbook, kWebRecord);
  EXPECT_EQ(run->operator_name, "mallory");
  EXPECT_EQ(run->state, "succeeded");
  EXPECT_TRUE(IsMaintenanceRecord(run->runbook));
  auto events = store_->events().Events(*first);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 3u);
  EXPECT_TRUE((*events)[0].is(EventKind::kRunStarted));
  ASSERT_TRUE((*events)[1].is(EventKind::kWebAction));
  EXPECT_TRUE((*events)[2].is(EventKind::kRunFinished));
  const auto& d = (*events)[1].detail;
  EXPECT_EQ(d["action"], "approve");
  EXPECT_EQ(d["outcome"], "refused");
  EXPECT_EQ(d["user"], "mallory");
  EXPECT_EQ(d["remote"], "127.0.0.1");
  EXPECT_EQ(d["plan_id"], "plan-1");
  EXPECT_EQ(d["reason"], "mallory is not on the approvers list");
  // Without a user, the record's operator says so.
  EXPECT_EQ(store_->events().GetRun(*second)->operator_name, "(anonymous)");
  auto verify = store_->events().Verify();
  ASSERT_TRUE(verify.ok());
  EXPECT_TRUE(verify->ok) << verify->problem;
}

TEST_F(WebRecordTest, StatsLeaveTheRecordsOut) {
  ASSERT_TRUE(RecordWebAction(*store_, env_, {.action = "login", .outcome = "ok", .user = "a"}).ok());
  StatsQuery query;
  query.now = env_.Now();
  auto stats = ComputeStats(store_->events(), query);
  ASSERT_TRUE(stats.ok()) << stats.message();
  EXPECT_EQ(stats->all.runs, 0);
}

TEST_F(WebRecordTest, RecoverEndsARecordTheServerDiedWriting) {
  // The record begun by another process, which dies before its web_action.
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto store = AuditDatabase::Open(dir_ / "audit.db");
    testing::FakeEnvironment env;
    _exit(store.ok() && BeginMaintenanceRecord(**store, env, kWebRecord, "paula").ok() ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_EQ(WEXITSTATUS(status), 0);
  auto open = store_->events().LastRunningRuns();
  ASSERT_TRUE(open.ok());
  ASSERT_EQ(open->size(), 1u);
  const std::string run_id = (*open)[0].run_id;

  std::vector<std::string> notes;
  RecoverService recover(*store_, env_, [&](std::string_view n) { notes.emplace_back(n); });
  runbook::testing::SilentReporter reporter;
  RecoverReport report = recover.RecoverAll(reporter, "ops");
  EXPECT_TRUE(report.runs.empty());  // nothing to roll back
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("ended the interrupted `runbook serve` record " + run_id),
            std::string::npos)
      << notes[0];
  auto run = store_->events().GetRun(run_id);
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->state, "aborted");
  EXPECT_TRUE(store_->events().LastRunningRuns()->empty());
}

}  // namespace
}  // namespace runbook
