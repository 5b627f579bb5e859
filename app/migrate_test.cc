#include "app/migrate.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "audit/audit_database.h"
#include "audit/audit_test_util.h"
#include "audit/pg_store.h"
#include "testing/postgres_fixture.h"
#include "testing/temp_dir.h"

namespace runbook {
namespace {

using ::testing::HasSubstr;
using namespace runbook::audit_test;

class MigrateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = &runbook::testing::PostgresServer::Shared();
    ASSERT_TRUE(server_->ok()) << "cannot start a PostgreSQL server: " << server_->error();
    url_ = server_->NewDatabase();
    ASSERT_FALSE(url_.empty()) << server_->error();
    sqlite_ = OpenOrDie(dir_.path() + "/audit.db");
    ASSERT_TRUE(sqlite_);
    for (const char* id : {"r1", "r2"}) {
      ASSERT_TRUE(sqlite_->events().BeginRun(MakeRun(id)).ok());
      ASSERT_TRUE(sqlite_->events().Append(id, MakeEvent("run_started", 1)).ok());
      ASSERT_TRUE(sqlite_->events().Append(id, MakeEvent("step_started", 2, "migrate")).ok());
    }
    PlanRecord plan;
    plan.plan_id = "p1";
    plan.hash = std::string(64, 'a');
    plan.runbook = "web-release";
    plan.runbook_text = "runbook: web-release\n";
    plan.requested_by = "alice";
    ASSERT_TRUE(sqlite_->plans().SavePlan(plan).ok());
    ASSERT_TRUE(sqlite_->plans().AddApproval({"p1", "bob", "approve", "ok", "", ""}).ok());
  }

  runbook::testing::PostgresServer* server_ = nullptr;
  std::string url_;
  runbook::testing::TempDir dir_;
  std::unique_ptr<AuditDatabase> sqlite_;
};

TEST_F(MigrateTest, CopiesTheChainIntactAndRefusesToMixTwoChains) {
  auto report = MigrateAuditLog(*sqlite_, url_);
  ASSERT_TRUE(report.ok()) << report.message();
  EXPECT_EQ(report->runs, 2);
  EXPECT_EQ(report->events, 4);
  EXPECT_EQ(report->plans, 1);
  EXPECT_EQ(report->approvals, 1);
  EXPECT_TRUE(report->verified.ok) << report->verified.problem;

  auto source = sqlite_->events().Verify();
  ASSERT_TRUE(source.ok());
  EXPECT_EQ(report->verified.head_hash, source->head_hash);
  auto copy = PgAuditDatabase::Open(url_);
  ASSERT_TRUE(copy.ok()) << copy.message();
  auto runs = (*copy)->events().GetRun("r2");
  ASSERT_TRUE(runs.ok()) << runs.message();
  EXPECT_EQ(runs->runbook_text, MakeRun("r2").runbook_text);
  auto approvals = (*copy)->plans().Approvals("p1");
  ASSERT_TRUE(approvals.ok());
  ASSERT_EQ(approvals->size(), 1u);
  EXPECT_EQ((*approvals)[0].approver, "bob");

  // A second copy into the same store would fork its chain: refused.
  auto again = MigrateAuditLog(*sqlite_, url_);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().kind(), StatusKind::kRefused);
  EXPECT_THAT(again.message(), HasSubstr("two chains are never mixed"));
}

TEST_F(MigrateTest, ABrokenSourceOrANonUrlIsRefused) {
  EXPECT_EQ(MigrateAuditLog(*sqlite_, dir_.path() + "/other.db").status().kind(),
            StatusKind::kInvalid);
  Sql(dir_.path() + "/audit.db", "UPDATE events SET step = 'tampered' WHERE seq = 2");
  auto broken = MigrateAuditLog(*sqlite_, url_);
  ASSERT_FALSE(broken.ok());
  EXPECT_THAT(broken.message(), HasSubstr("not copying a broken chain"));
}

}  // namespace
}  // namespace runbook
