// `plans`' filters and `plans prune` over a real SQLite store: plans made by PlanService,
// a run made by RunService, the record checked through the hash chain.
#include "app/plan_history.h"

#include <gtest/gtest.h>

#include "app/app_test_util.h"
#include "app/inputs.h"
#include "app/run.h"
#include "engine/engine_test_util.h"
#include "testing/temp_dir.h"

namespace runbook {
namespace {

using testing::FakeEnvironment;
using testing::FakeSigner;
using testing::WriteTextFile;

constexpr Duration kDay = std::chrono::hours(24);

class PlanHistoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = AuditDatabase::Open(dir_ / "audit.db");
    ASSERT_TRUE(store.ok()) << store.message();
    store_ = std::move(store.value());
    plans_ = std::make_unique<PlanService>(*store_, signer_, env_);
  }

  // A plan of runbook `name` (no approval policy) requested by `requester`. Plans take their
  // creation time from the real clock, where the fake one starts: advancing the fake clock
  // ages them.
  PlanRecord Make(const std::string& name, const std::string& requester) {
    WriteTextFile(dir_ / (name + ".yaml"),
                  "runbook: " + name + "\nsteps:\n  - id: one\n    shell: \"true\"\n");
    loaded_ = LoadRunbookWithParams(dir_ / (name + ".yaml"), {});
    EXPECT_TRUE(loaded_.ok()) << loaded_.status.message();
    auto made = plans_->Make(*loaded_.runbook, loaded_.params, requester);
    EXPECT_TRUE(made.ok()) << made.message();
    return made->record;
  }

  // Runs the plan's runbook with --plan.
  void RunWith(const PlanRecord& plan) {
    LoadedRunbook loaded = LoadRunbookWithParams(dir_ / (plan.runbook + ".yaml"), {});
    RunRequest r;
    r.runbook = std::move(loaded.runbook);
    r.params = loaded.params;
    r.file = dir_ / (plan.runbook + ".yaml");
    r.operator_name = "tester";
    r.plan_id = plan.plan_id;
    RunService runs(*store_, signer_, env_);
    RunStart start = runs.Prepare(std::move(r));
    ASSERT_TRUE(start.status.ok()) << start.status.message();
    RunResult result = runs.Execute(*start.run, reporter_, {});
    EXPECT_EQ(result.summary.state, "succeeded");
  }

  std::vector<std::string> Ids(const PlanQuery& query) {
    auto all = plans_->List();
    EXPECT_TRUE(all.ok()) << all.message();
    std::vector<std::string> ids;
    for (const PlanView& v : FilterPlans(std::move(all.value()), query))
      ids.push_back(v.plan.plan_id);
    return ids;
  }

  runbook::testing::TempDir dir_{"app-plan-history"};
  FakeEnvironment env_;
  FakeSigner signer_;
  std::unique_ptr<AuditDatabase> store_;
  std::unique_ptr<PlanService> plans_;
  LoadedRunbook loaded_;
  runbook::testing::SilentReporter reporter_;
};

using Names = std::vector<std::string>;

TEST_F(PlanHistoryTest, FiltersListNewestFirst) {
  const PlanRecord a = Make("web", "ann");
  const PlanRecord b = Make("db", "bo");
  const PlanRecord c = Make("web", "bo");
  EXPECT_EQ(Ids({}), (Names{c.plan_id, b.plan_id, a.plan_id}));
  PlanQuery q;
  q.runbook = "web";
  EXPECT_EQ(Ids(q), (Names{c.plan_id, a.plan_id}));
  q.limit = 1;
  EXPECT_EQ(Ids(q), (Names{c.plan_id}));
  q = {};
  q.requested_by = "bo";
  EXPECT_EQ(Ids(q), (Names{c.plan_id, b.plan_id}));
  q = {};
  q.statuses = {"no approval needed"};
  EXPECT_EQ(Ids(q).size(), 3u);
  q.statuses = {"rejected"};
  EXPECT_TRUE(Ids(q).empty());
  q = {};
  q.since = std::chrono::system_clock::now() + kDay;
  EXPECT_TRUE(Ids(q).empty());
}

TEST_F(PlanHistoryTest, PruneMarksOldUnusedPendingPlansAndRecordsThem) {
  const PlanRecord old_unused = Make("web", "ann");
  const PlanRecord old_used = Make("db", "bo");
  RunWith(old_used);  // executed: used, and no longer pending
  const PlanRecord old_rejected = Make("web", "bo");
  ASSERT_TRUE(plans_->Reject(old_rejected.plan_id, "bo", "withdrawn").ok());
  env_.Advance(40 * kDay);

  PruneRequest request;
  request.older_than = 30 * kDay;
  request.operator_name = "ops";
  request.dry_run = true;
  auto dry = PrunePlans(*store_, env_, request);
  ASSERT_TRUE(dry.ok()) << dry.message();
  ASSERT_EQ(dry->pruned.size(), 1u);
  EXPECT_EQ(dry->pruned[0].plan_id, old_unused.plan_id);
  EXPECT_EQ(dry->record_run_id, "");
  EXPECT_EQ(store_->plans().GetPlan(old_unused.plan_id)->status, "pending");

  request.dry_run = false;
  auto done = PrunePlans(*store_, env_, request);
  ASSERT_TRUE(done.ok()) << done.message();
  ASSERT_EQ(done->pruned.size(), 1u);
  EXPECT_EQ(store_->plans().GetPlan(old_unused.plan_id)->status, kPlanPruned);
  EXPECT_EQ(store_->plans().GetPlan(old_used.plan_id)->status, kPlanExecuted);
  EXPECT_EQ(store_->plans().GetPlan(old_rejected.plan_id)->status, "rejected");

  // The record: a finished maintenance run whose plans_pruned event names the plan, in a
  // chain that still verifies.
  auto record = store_->events().GetRun(done->record_run_id);
  ASSERT_TRUE(record.ok()) << record.message();
  EXPECT_EQ(record->runbook, kPlansPruneRecord);
  EXPECT_EQ(record->operator_name, "ops");
  EXPECT_EQ(record->state, "succeeded");
  auto events = store_->events().Events(done->record_run_id);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 3u);
  EXPECT_TRUE((*events)[1].is(EventKind::kPlansPruned));
  EXPECT_EQ((*events)[1].detail["plans"][0]["plan_id"], old_unused.plan_id);
  EXPECT_EQ((*events)[1].detail["plans"][0]["hash"], old_unused.hash);
  auto verify = store_->events().Verify();
  ASSERT_TRUE(verify.ok());
  EXPECT_TRUE(verify->ok) << verify->problem;

  // A pruned plan can no longer be approved or run; listing shows it pruned.
  auto approve = plans_->Approve({old_unused.plan_id, "carol", "", ""});
  EXPECT_EQ(approve.status().kind(), StatusKind::kRefused);
  PlanQuery pruned;
  pruned.statuses = {kPlanPruned};
  EXPECT_EQ(Ids(pruned), (Names{old_unused.plan_id}));

  // Nothing left to prune: no second record.
  auto again = PrunePlans(*store_, env_, request);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->pruned.empty());
  EXPECT_EQ(again->record_run_id, "");
}

TEST_F(PlanHistoryTest, RecentPlansAreKept) {
  Make("web", "ann");
  env_.Advance(2 * kDay);
  PruneRequest request;
  request.older_than = 30 * kDay;
  auto done = PrunePlans(*store_, env_, request);
  ASSERT_TRUE(done.ok()) << done.message();
  EXPECT_TRUE(done->pruned.empty());
  request.older_than = Duration(0);
  EXPECT_EQ(PrunePlans(*store_, env_, request).status().kind(), StatusKind::kInvalid);
}

}  // namespace
}  // namespace runbook
