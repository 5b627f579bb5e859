// `stats` on an audit log built by real runs: real shell steps through RunService into a real
// SQLite store, with a fake clock so that a rollback's length is known.
#include "app/stats.h"

#include <gtest/gtest.h>

#include "app/app_test_util.h"
#include "app/inputs.h"
#include "app/run.h"
#include "audit/audit_database.h"
#include "engine/engine_test_util.h"
#include "testing/temp_dir.h"

namespace runbook {
namespace {

using testing::FakeEnvironment;
using testing::FakeSigner;
using testing::WriteTextFile;

class StatsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = AuditDatabase::Open(dir_ / "audit.db");
    ASSERT_TRUE(store.ok()) << store.message();
    store_ = std::move(store.value());
    service_ = std::make_unique<RunService>(*store_, signer_, env_);
  }

  // Runs `text` to its end; returns the terminal state.
  std::string Run(const std::string& text, bool dry_run = false) {
    WriteTextFile(dir_ / "rb.yaml", text);
    LoadedRunbook loaded = LoadRunbookWithParams(dir_ / "rb.yaml", {});
    EXPECT_TRUE(loaded.ok()) << loaded.error_summary << loaded.status.message();
    if (!loaded.ok()) return "";
    RunRequest r;
    r.runbook = std::move(loaded.runbook);
    r.params = loaded.params;
    r.file = dir_ / "rb.yaml";
    r.operator_name = "tester";
    r.dry_run = dry_run;
    RunStart start = service_->Prepare(std::move(r));
    EXPECT_TRUE(start.status.ok()) << start.status.message();
    if (!start.status.ok()) return "";
    RunResult result = service_->Execute(*start.run, reporter_, {});
    return result.summary.state;
  }

  StatsReport Stats(StatsQuery query = {}) {
    query.now = env_.Now();
    auto report = ComputeStats(store_->events(), query);
    EXPECT_TRUE(report.ok()) << report.message();
    return report.ok() ? std::move(report.value()) : StatsReport{};
  }

  // web, in production: a step that succeeds or fails; a quick rollback.
  static std::string Web(bool fail) {
    return std::string("runbook: web\nenvironment: production\nsteps:\n  - id: deploy\n    "
                       "shell: \"") +
           (fail ? "false" : "true") + "\"\n    rollback: {shell: \"true\"}\n";
  }

  runbook::testing::TempDir dir_{"app-stats"};
  FakeEnvironment env_;
  FakeSigner signer_;
  std::unique_ptr<AuditDatabase> store_;
  std::unique_ptr<RunService> service_;
  runbook::testing::SilentReporter reporter_;
};

TEST_F(StatsTest, CountsDeploymentsFailuresAndRestoreTimes) {
  EXPECT_EQ(Run(Web(false)), "succeeded");
  EXPECT_EQ(Run(Web(true)), "rolled_back");
  EXPECT_EQ(Run(Web(false), /*dry_run=*/true), "succeeded");
  // db, no environment: a precheck that fails changes nothing.
  EXPECT_EQ(Run("runbook: db\nlock: db-lock\nprechecks:\n  - shell: \"false\"\nsteps:\n"
                "  - id: migrate\n    shell: \"true\"\n"),
            "aborted");
  // db again: its global rollback fails once and is retried 10 minutes later (the fake clock
  // moves on each retry delay), so this rollback takes over the 5-minute target.
  const std::string flag = dir_ / "retried";
  EXPECT_EQ(Run("runbook: db\nlock: db-lock\nsteps:\n  - id: migrate\n    shell: \"false\"\n"
                "rollback:\n  - shell: \"test -f " + flag + " || { touch " + flag +
                "; false; }\"\n    retries: 1\n    retry_delay: 10m\n"),
            "rolled_back");

  StatsReport r = Stats();
  EXPECT_EQ(r.all.runs, 4);
  EXPECT_EQ(r.all.dry_runs, 1);
  EXPECT_EQ(r.all.changed, 3);  // the aborted run changed nothing
  EXPECT_EQ(r.all.failed, 2);
  EXPECT_EQ(r.all.rolled_back, 2);
  ASSERT_TRUE(r.all.change_failure_rate());
  EXPECT_DOUBLE_EQ(*r.all.change_failure_rate(), 2.0 / 3);
  EXPECT_DOUBLE_EQ(r.all.days, 1);  // all within the last day: one day
  EXPECT_DOUBLE_EQ(r.all.deployments_per_day(), 3);
  ASSERT_EQ(r.all.time_to_restore.values_ms.size(), 2u);
  ASSERT_EQ(r.all.rollback.values_ms.size(), 2u);
  EXPECT_GE(r.all.rollback.values_ms[1], 10 * 60 * 1000);
  EXPECT_LT(r.all.rollback.values_ms[0], 60 * 1000);
  EXPECT_EQ(r.all.rollbacks_over_target, 1);
  EXPECT_EQ(r.all.rollbacks_within_target(), 1);
  EXPECT_EQ(r.all.time_to_restore.p90_ms(), r.all.time_to_restore.values_ms[1]);
  EXPECT_EQ(r.all.time_to_restore.median_ms(), r.all.time_to_restore.values_ms[0]);

  ASSERT_EQ(r.by_runbook.size(), 2u);
  EXPECT_EQ(r.by_runbook[0].runbook, "db");
  EXPECT_EQ(r.by_runbook[0].environment, "db-lock");  // no environment: the lock key
  EXPECT_EQ(r.by_runbook[0].stats.runs, 2);
  EXPECT_EQ(r.by_runbook[0].stats.changed, 1);
  EXPECT_EQ(r.by_runbook[0].stats.rollbacks_over_target, 1);
  EXPECT_EQ(r.by_runbook[1].runbook, "web");
  EXPECT_EQ(r.by_runbook[1].environment, "production");
  EXPECT_EQ(r.by_runbook[1].stats.changed, 2);
  EXPECT_EQ(r.by_runbook[1].stats.failed, 1);
  EXPECT_EQ(r.by_runbook[1].stats.dry_runs, 1);

  nlohmann::json j = nlohmann::json::parse(StatsJson(r).dump());
  EXPECT_EQ(j["changed"], 3);
  EXPECT_EQ(j["change_failure_rate"], 0.6667);
  EXPECT_EQ(j["rollback_ms"]["over_target"], 1);
  EXPECT_EQ(j["by_runbook"][1]["environment"], "production");
}

TEST_F(StatsTest, FiltersByRunbookAndTime) {
  EXPECT_EQ(Run(Web(true)), "rolled_back");
  env_.Advance(std::chrono::hours(24 * 10));
  EXPECT_EQ(Run(Web(false)), "succeeded");
  EXPECT_EQ(Run("runbook: other\nsteps:\n  - id: a\n    shell: \"true\"\n"), "succeeded");

  StatsReport all = Stats();
  EXPECT_EQ(all.all.changed, 3);
  EXPECT_NEAR(all.all.days, 10, 0.01);  // from the first run to now

  StatsQuery recent;
  recent.since = env_.Now() - std::chrono::hours(24);
  StatsReport r = Stats(recent);
  EXPECT_EQ(r.all.changed, 2);
  EXPECT_EQ(r.all.failed, 0);
  EXPECT_EQ(*r.all.change_failure_rate(), 0);

  StatsQuery web;
  web.runbook = "web";
  r = Stats(web);
  EXPECT_EQ(r.all.changed, 2);
  EXPECT_EQ(r.all.failed, 1);
  ASSERT_EQ(r.by_runbook.size(), 1u);

  StatsQuery none;
  none.runbook = "nothing";
  r = Stats(none);
  EXPECT_EQ(r.all.runs, 0);
  EXPECT_FALSE(r.all.change_failure_rate());
  EXPECT_EQ(r.since, "");
}

TEST(DurationSummaryTest, PercentilesAreNearestRank) {
  DurationSummary s;
  EXPECT_FALSE(s.median_ms());
  s.values_ms = {10};
  EXPECT_EQ(s.median_ms(), 10);
  EXPECT_EQ(s.p90_ms(), 10);
  s.values_ms = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  EXPECT_EQ(s.median_ms(), 5);
  EXPECT_EQ(s.p90_ms(), 9);
  s.values_ms = {1, 2, 3};
  EXPECT_EQ(s.median_ms(), 2);
  EXPECT_EQ(s.p90_ms(), 3);
}

}  // namespace
}  // namespace runbook
