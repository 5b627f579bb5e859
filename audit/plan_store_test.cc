#include "audit/plan_store.h"

#include <gtest/gtest.h>

#include "audit/audit_test_util.h"

namespace runbook {
namespace {

using audit_test::DatabaseHolder;
using audit_test::OpenOrDie;
using audit_test::ShortBusyTimeout;
using audit_test::TempDir;

TEST(PlanStoreTest, SaveGetListAndApprove) {
  TempDir dir;
  std::unique_ptr<AuditDatabase> db = OpenOrDie(dir.File("audit.db"));
  ASSERT_TRUE(db);
  PlanRecord p;
  p.plan_id = "p-1";
  p.hash = std::string(64, 'c');
  p.runbook = "guarded";
  p.runbook_path = "/x/guarded.yaml";
  p.runbook_text = "runbook: guarded\n";
  p.params = {{"v", "1"}};
  p.requested_by = "alice";
  p.document = {{"steps", {"go"}}, {"risk", "high"}};
  ASSERT_TRUE(db->plans().SavePlan(p).ok());
  PlanRecord q = p;
  q.plan_id = "p-2";
  q.created_at = "2030-01-01T00:00:00.000Z";
  q.status = "approved";
  ASSERT_TRUE(db->plans().SavePlan(q).ok());
  Status dup = db->plans().SavePlan(p);
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.message().find("already exists"), std::string::npos);

  Result<PlanRecord> got = db->plans().GetPlan("p-1");
  ASSERT_TRUE(got.ok()) << got.message();
  EXPECT_EQ(got->hash, p.hash);
  EXPECT_EQ(got->runbook, "guarded");
  EXPECT_EQ(got->runbook_path, "/x/guarded.yaml");
  EXPECT_EQ(got->runbook_text, p.runbook_text);
  EXPECT_EQ(got->params, p.params);
  EXPECT_EQ(got->requested_by, "alice");
  EXPECT_EQ(got->status, "pending");
  EXPECT_EQ(got->created_at.size(), 24u);
  EXPECT_EQ(got->document, p.document);
  Result<PlanRecord> unknown = db->plans().GetPlan("nope");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.message(), "unknown plan 'nope'");
  EXPECT_TRUE(unknown.status().IsNotFound());

  Result<std::vector<PlanRecord>> plans = db->plans().ListPlans();
  ASSERT_TRUE(plans.ok());
  ASSERT_EQ(plans->size(), 2u);
  EXPECT_EQ((*plans)[0].plan_id, "p-1");
  EXPECT_EQ((*plans)[1].status, "approved");

  ASSERT_TRUE(db->plans().SetPlanStatus("p-1", "rejected").ok());
  EXPECT_EQ(db->plans().GetPlan("p-1")->status, "rejected");
  EXPECT_TRUE(db->plans().SetPlanStatus("nope", "x").IsNotFound());

  ApprovalRecord a{"p-1", "bob", "approve", "lgtm", "", ""};
  ASSERT_TRUE(db->plans().AddApproval(a).ok());
  ASSERT_TRUE(db->plans().AddApproval({"p-1", "carol", "reject", "not today", "sig", ""}).ok());
  EXPECT_EQ(db->plans().AddApproval({"p-1", "dave", "maybe", "", "", ""}).kind(),
            StatusKind::kInvalid);
  EXPECT_TRUE(db->plans().AddApproval({"nope", "dave", "approve", "", "", ""}).IsNotFound());
  Result<std::vector<ApprovalRecord>> approvals = db->plans().Approvals("p-1");
  ASSERT_TRUE(approvals.ok());
  ASSERT_EQ(approvals->size(), 2u);
  EXPECT_EQ((*approvals)[0].approver, "bob");
  EXPECT_EQ((*approvals)[1].decision, "reject");
  EXPECT_EQ((*approvals)[1].signature, "sig");
  EXPECT_TRUE(db->plans().Approvals("p-2")->empty());
}

// Another process writing: a write waits, then fails as busy, not as an unknown plan; reads go
// on (WAL).
TEST(PlanStoreTest, ALockedDatabaseIsBusyNotAnUnknownPlan) {
  TempDir dir;
  const std::string path = dir.File("audit.db");
  std::unique_ptr<AuditDatabase> db = OpenOrDie(path, ShortBusyTimeout());
  ASSERT_TRUE(db);
  PlanRecord p;
  p.plan_id = "p-1";
  ASSERT_TRUE(db->plans().SavePlan(p).ok());
  {
    DatabaseHolder holder(path);
    EXPECT_TRUE(db->plans().SetPlanStatus("p-1", "approved").IsBusy());
    EXPECT_TRUE(db->plans().AddApproval({"p-1", "bob", "approve", "", "", ""}).IsBusy());
    p.plan_id = "p-2";
    EXPECT_TRUE(db->plans().SavePlan(p).IsBusy());
    EXPECT_EQ(db->plans().GetPlan("p-1")->status, "pending");
  }
  EXPECT_TRUE(db->plans().Approvals("p-1")->empty());
  EXPECT_TRUE(db->plans().GetPlan("p-2").status().IsNotFound());
}

}  // namespace
}  // namespace runbook
