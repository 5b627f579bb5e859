#include "audit/pg_plan_store.h"

#include <gtest/gtest.h>

#include "audit/pg_test_util.h"

namespace runbook {
namespace {

using audit_test::PgTest;

PlanRecord MakePlan(const std::string& id, const std::string& created_at = "") {
  PlanRecord p;
  p.plan_id = id;
  p.hash = std::string(64, 'b');
  p.runbook = "web-release";
  p.runbook_path = "/srv/runbooks/web-release.yaml";
  p.runbook_text = std::string("runbook: web\n\xff\0tail\n", 20);
  p.params = {{"version", "1.2.3"}, {"token", "***"}};
  p.requested_by = "alice";
  p.created_at = created_at;
  p.document = {{"plan_id", id}, {"steps", {"migrate", "deploy"}}};
  return p;
}

ApprovalRecord Decision(const std::string& plan, const std::string& who,
                        const std::string& decision) {
  ApprovalRecord a;
  a.plan_id = plan;
  a.approver = who;
  a.decision = decision;
  a.comment = "looks right to " + who;
  return a;
}

using PgPlanStoreTest = PgTest;

TEST_F(PgPlanStoreTest, PlansRoundTrip) {
  ASSERT_TRUE(db_->plans().SavePlan(MakePlan("p2", "2026-11-23T15:04:06.000Z")).ok());
  ASSERT_TRUE(db_->plans().SavePlan(MakePlan("p1", "2026-11-23T15:04:05.000Z")).ok());
  ASSERT_TRUE(db_->plans().SavePlan(MakePlan("p3")).ok());  // now
  Status again = db_->plans().SavePlan(MakePlan("p1"));
  EXPECT_FALSE(again.ok());
  EXPECT_EQ(again.message(), "cannot store plan p1: a plan with this id already exists");
  EXPECT_FALSE(db_->plans().SavePlan(MakePlan("")).ok());

  Result<PlanRecord> p = db_->plans().GetPlan("p1");
  ASSERT_TRUE(p.ok()) << p.message();
  const PlanRecord want = MakePlan("p1");
  EXPECT_EQ(p->hash, want.hash);
  EXPECT_EQ(p->runbook, want.runbook);
  EXPECT_EQ(p->runbook_path, want.runbook_path);
  EXPECT_EQ(p->runbook_text, want.runbook_text);  // every byte
  EXPECT_EQ(p->params, want.params);
  EXPECT_EQ(p->requested_by, "alice");
  EXPECT_EQ(p->created_at, "2026-11-23T15:04:05.000Z");
  EXPECT_EQ(p->status, "pending");
  EXPECT_EQ(p->document, want.document);
  EXPECT_EQ(db_->plans().GetPlan("nope").status().kind(), StatusKind::kNotFound);
  EXPECT_EQ(db_->plans().GetPlan("nope").message(), "unknown plan 'nope'");

  Result<std::vector<PlanRecord>> plans = db_->plans().ListPlans();
  ASSERT_TRUE(plans.ok());
  ASSERT_EQ(plans->size(), 3u);
  EXPECT_EQ(plans->at(0).plan_id, "p1");  // oldest first
  EXPECT_EQ(plans->at(1).plan_id, "p2");
  EXPECT_EQ(plans->at(2).plan_id, "p3");

  ASSERT_TRUE(db_->plans().SetPlanStatus("p1", "approved").ok());
  EXPECT_EQ(db_->plans().GetPlan("p1")->status, "approved");
  EXPECT_EQ(db_->plans().SetPlanStatus("nope", "approved").kind(), StatusKind::kNotFound);
}

TEST_F(PgPlanStoreTest, ApprovalsRoundTripInOrder) {
  ASSERT_TRUE(db_->plans().SavePlan(MakePlan("p1")).ok());
  ApprovalRecord signed_by_bo = Decision("p1", "bo", "approve");
  signed_by_bo.signature = "-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----\n";
  signed_by_bo.created_at = "2026-11-23T15:04:07.000Z";
  ASSERT_TRUE(db_->plans().AddApproval(signed_by_bo).ok());
  ASSERT_TRUE(db_->plans().AddApproval(Decision("p1", "bea", "reject")).ok());
  EXPECT_EQ(db_->plans().AddApproval(Decision("p1", "cy", "maybe")).kind(), StatusKind::kInvalid);
  EXPECT_EQ(db_->plans().AddApproval(Decision("ghost", "cy", "approve")).kind(),
            StatusKind::kNotFound);

  Result<std::vector<ApprovalRecord>> approvals = db_->plans().Approvals("p1");
  ASSERT_TRUE(approvals.ok()) << approvals.message();
  ASSERT_EQ(approvals->size(), 2u);
  EXPECT_EQ(approvals->at(0).approver, "bo");
  EXPECT_EQ(approvals->at(0).decision, "approve");
  EXPECT_EQ(approvals->at(0).comment, "looks right to bo");
  EXPECT_EQ(approvals->at(0).signature, signed_by_bo.signature);
  EXPECT_EQ(approvals->at(0).created_at, "2026-11-23T15:04:07.000Z");
  EXPECT_EQ(approvals->at(1).approver, "bea");
  EXPECT_EQ(approvals->at(1).decision, "reject");
  EXPECT_EQ(approvals->at(1).created_at.size(), 24u);
  EXPECT_TRUE(db_->plans().Approvals("ghost")->empty());
}

}  // namespace
}  // namespace runbook
