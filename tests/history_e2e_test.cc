// End-to-end tests of the history commands on the built binary: `runs` newest first with its
// filters, `stats` on real runs, and `plans` with its filters and `plans prune`.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/e2e_util.h"

namespace {

namespace fs = std::filesystem;

class HistoryE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("runbook-history-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  // `runbook ARGS` with stdout alone (stderr to a file), so that --json stays parsable.
  runbook::testing::Output Runbook(const std::string& args) {
    return runbook::testing::RunRunbook(dir_, dir_ / "audit.db", args, dir_ / "stderr");
  }

  nlohmann::json Json(const std::string& args) {
    runbook::testing::Output o = Runbook(args);
    EXPECT_EQ(o.code, 0) << args << ": " << o.text;
    return nlohmann::json::parse(o.text, nullptr, /*allow_exceptions=*/false);
  }

  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }

  fs::path dir_;
};

TEST_F(HistoryE2eTest, RunsAndStatsOnRealRuns) {
  Write("ok.yaml", "runbook: web\nenvironment: staging\nsteps:\n  - id: a\n    shell: \"true\"\n"
                   "    rollback: {shell: \"true\"}\n");
  Write("bad.yaml", "runbook: web\nenvironment: staging\nsteps:\n  - id: a\n    shell: \"false\"\n"
                    "    rollback: {shell: \"true\"}\n");
  Write("db.yaml", "runbook: db\nsteps:\n  - id: m\n    shell: \"true\"\n");
  ASSERT_EQ(Runbook("run ok.yaml --as ann").code, 0);
  ASSERT_EQ(Runbook("run bad.yaml --as bo").code, 1);
  ASSERT_EQ(Runbook("run db.yaml --as ann").code, 0);
  ASSERT_EQ(Runbook("run ok.yaml --as ann --dry-run").code, 0);

  nlohmann::json all = Json("runs --json");
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0]["dry_run"], true);  // newest first
  EXPECT_EQ(all[3]["state"], "succeeded");
  EXPECT_EQ(all[3]["runbook"], "web");
  EXPECT_EQ(all[3]["started"], all[3]["started_at"]);
  EXPECT_EQ(Json("runs --json --limit 2").size(), 2u);
  EXPECT_EQ(Json("runs --json --runbook db").size(), 1u);
  EXPECT_EQ(Json("runs --json --operator bo")[0]["state"], "rolled_back");
  EXPECT_EQ(Json("runs --json --state rolled_back,rollback_failed").size(), 1u);
  EXPECT_EQ(Json("runs --json --state succeeded --state rolled_back").size(), 4u);
  EXPECT_EQ(Json("runs --json --since 1h").size(), 4u);
  EXPECT_EQ(Json("runs --json --since 2200-01-01").size(), 0u);
  EXPECT_EQ(Runbook("runs --since 2200-01-01").text, "no runs match\n");
  runbook::testing::Output bad_state = Runbook("runs --state failed");
  EXPECT_EQ(bad_state.code, 2);
  runbook::testing::Output bad_since = Runbook("runs --since yesterday");
  EXPECT_EQ(bad_since.code, 2);

  nlohmann::json stats = Json("stats --json");
  EXPECT_EQ(stats["runs"], 3);
  EXPECT_EQ(stats["dry_runs"], 1);
  EXPECT_EQ(stats["changed"], 3);
  EXPECT_EQ(stats["failed"], 1);
  EXPECT_EQ(stats["change_failure_rate"], 0.3333);
  EXPECT_EQ(stats["deployments_per_day"], 3);
  EXPECT_EQ(stats["time_to_restore_ms"]["count"], 1);
  EXPECT_TRUE(stats["time_to_restore_ms"]["median"].is_number());
  EXPECT_EQ(stats["rollback_ms"]["over_target"], 0);
  EXPECT_EQ(stats["rollback_ms"]["within_target"], 1);
  ASSERT_EQ(stats["by_runbook"].size(), 2u);
  EXPECT_EQ(stats["by_runbook"][0]["runbook"], "db");
  EXPECT_EQ(stats["by_runbook"][1]["environment"], "staging");
  EXPECT_EQ(Json("stats --json --runbook db")["changed"], 1);
  EXPECT_EQ(Json("stats --json --since 2200-01-01")["runs"], 0);

  runbook::testing::Output text = Runbook("stats");
  EXPECT_EQ(text.code, 0);
  EXPECT_NE(text.text.find("change failure rate: 33.3% (1 of 3"), std::string::npos) << text.text;
  EXPECT_NE(text.text.find("staging"), std::string::npos) << text.text;
}

TEST_F(HistoryE2eTest, PlansFiltersAndPrune) {
  Write("rb.yaml", "runbook: web\nsteps:\n  - id: a\n    shell: \"true\"\n");
  ASSERT_EQ(Runbook("plan rb.yaml --as ann").code, 0);
  ASSERT_EQ(Runbook("plan rb.yaml --as bo").code, 0);
  nlohmann::json plans = Json("plans --json");
  ASSERT_EQ(plans.size(), 2u);
  EXPECT_EQ(plans[0]["requested_by"], "bo");  // newest first
  EXPECT_EQ(Json("plans --json --requester ann").size(), 1u);
  EXPECT_EQ(Json("plans --json --limit 1").size(), 1u);
  EXPECT_EQ(Json("plans --json --status pending").size(), 2u);
  EXPECT_EQ(Json("plans --json --runbook other").size(), 0u);

  // Nothing is old enough yet.
  nlohmann::json none = Json("plans prune --older-than 1d --json");
  EXPECT_TRUE(none["pruned"].empty());
  // Anything older than a millisecond is: a dry run first, then the real one.
  usleep(20 * 1000);
  nlohmann::json dry = Json("plans prune --older-than 1ms --dry-run --json");
  EXPECT_EQ(dry["pruned"].size(), 2u);
  EXPECT_TRUE(dry["record_run_id"].is_null());
  EXPECT_EQ(Json("plans --json --status pending").size(), 2u);
  nlohmann::json done = Json("plans prune --older-than 1ms --as ops --json");
  EXPECT_EQ(done["pruned"].size(), 2u);
  ASSERT_TRUE(done["record_run_id"].is_string());
  EXPECT_EQ(Json("plans --json --status pruned").size(), 2u);

  // The record is in the chain, which still verifies; it is no deployment.
  EXPECT_EQ(Runbook("audit verify").code, 0);
  runbook::testing::Output events =
      Runbook("audit export --run " + done["record_run_id"].get<std::string>());
  EXPECT_NE(events.text.find("\"plans_pruned\""), std::string::npos) << events.text;
  EXPECT_EQ(Runbook("replay --verify " + done["record_run_id"].get<std::string>()).code, 0);
  EXPECT_EQ(Json("stats --json")["runs"], 0);
  EXPECT_EQ(Json("runs --json")[0]["runbook"], "(plans prune)");
}

}  // namespace
