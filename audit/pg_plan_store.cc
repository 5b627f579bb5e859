#include "audit/pg_plan_store.h"

#include <mutex>

#include "audit/audit_time.h"
#include "audit/hash_chain.h"
#include "audit/pg_connection.h"

namespace runbook {

namespace {

constexpr const char* kPgPlanColumns =
    "plan_id, hash, runbook, runbook_path, runbook_text, params, requested_by, created_at, "
    "status, document";

PlanRecord ReadPlan(const PgRows& rows, int r) {
  PlanRecord p;
  p.plan_id = rows.Text(r, 0);
  p.hash = rows.Text(r, 1);
  p.runbook = rows.Text(r, 2);
  p.runbook_path = rows.Text(r, 3);
  p.runbook_text = rows.Bytes(r, 4);
  p.params = ParseStoredJson(rows.Text(r, 5)).value_or(nlohmann::json(rows.Text(r, 5)));
  p.requested_by = rows.Text(r, 6);
  p.created_at = rows.Text(r, 7);
  p.status = rows.Text(r, 8);
  p.document = ParseStoredJson(rows.Text(r, 9)).value_or(nlohmann::json(rows.Text(r, 9)));
  return p;
}

}  // namespace

Status PgPlanStore::SavePlan(const PlanRecord& plan) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string context = "cannot store plan " + plan.plan_id;
  if (plan.plan_id.empty()) return Status::Error("cannot store a plan without an id");
  return conn_.Transact(PgIsolation::kReadCommitted, [&]() -> Status {
    Result<PgRows> insert = conn_.Exec(
        std::string("INSERT INTO plans(") + kPgPlanColumns +
            ") VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (plan_id) DO NOTHING",
        {plan.plan_id, plan.hash, plan.runbook, plan.runbook_path,
         PgValue::Bytes(plan.runbook_text), CanonicalJson(plan.params), plan.requested_by,
         plan.created_at.empty() ? AuditTimeNow() : plan.created_at,
         plan.status.empty() ? std::string("pending") : plan.status, CanonicalJson(plan.document)});
    if (!insert.ok()) return insert.status();
    if (insert->affected() == 0)
      return Status::Error(context + ": a plan with this id already exists");
    return Status::Ok();
  });
}

Result<PlanRecord> PgPlanStore::GetPlan(const std::string& plan_id) {
  std::lock_guard<std::mutex> lock(mu_);
  return conn_.Transact(PgIsolation::kReadCommitted, [&]() -> Result<PlanRecord> {
    Result<PgRows> rows = conn_.Exec(
        std::string("SELECT ") + kPgPlanColumns + " FROM plans WHERE plan_id = $1", {plan_id});
    if (!rows.ok()) return rows.status();
    if (rows->empty()) return Status::NotFound("unknown plan '" + plan_id + "'");
    return ReadPlan(*rows, 0);
  });
}

Result<std::vector<PlanRecord>> PgPlanStore::ListPlans() {
  std::lock_guard<std::mutex> lock(mu_);
  return conn_.Transact(PgIsolation::kReadCommitted, [&]() -> Result<std::vector<PlanRecord>> {
    Result<PgRows> rows = conn_.Exec(std::string("SELECT ") + kPgPlanColumns +
                                     " FROM plans ORDER BY created_at, row_order");
    if (!rows.ok()) return rows.status();
    std::vector<PlanRecord> plans;
    for (int i = 0; i < rows->size(); ++i) plans.push_back(ReadPlan(*rows, i));
    return plans;
  });
}

Status PgPlanStore::SetPlanStatus(const std::string& plan_id, const std::string& status) {
  std::lock_guard<std::mutex> lock(mu_);
  return conn_.Transact(PgIsolation::kReadCommitted, [&]() -> Status {
    Result<PgRows> update =
        conn_.Exec("UPDATE plans SET status = $1 WHERE plan_id = $2", {status, plan_id});
    if (!update.ok()) return update.status();
    if (update->affected() == 0) return Status::NotFound("unknown plan '" + plan_id + "'");
    return Status::Ok();
  });
}

Status PgPlanStore::AddApproval(const ApprovalRecord& approval) {
  std::lock_guard<std::mutex> lock(mu_);
  if (approval.decision != "approve" && approval.decision != "reject") {
    return Status::Invalid("invalid decision '" + approval.decision + "': want approve or reject");
  }
  return conn_.Transact(PgIsolation::kReadCommitted, [&]() -> Status {
    // FOR SHARE: the plan cannot be deleted between this check and the insert.
    Result<PgRows> plan =
        conn_.Exec("SELECT 1 FROM plans WHERE plan_id = $1 FOR SHARE", {approval.plan_id});
    if (!plan.ok()) return plan.status();
    if (plan->empty()) return Status::NotFound("unknown plan '" + approval.plan_id + "'");
    return conn_
        .Exec(
            "INSERT INTO approvals(plan_id, approver, decision, comment, signature, "
            "created_at) VALUES($1, $2, $3, $4, $5, $6)",
            {approval.plan_id, approval.approver, approval.decision, approval.comment,
             approval.signature,
             approval.created_at.empty() ? AuditTimeNow() : approval.created_at})
        .status();
  });
}

Result<std::vector<ApprovalRecord>> PgPlanStore::Approvals(const std::string& plan_id) {
  std::lock_guard<std::mutex> lock(mu_);
  return conn_.Transact(PgIsolation::kReadCommitted, [&]() -> Result<std::vector<ApprovalRecord>> {
    Result<PgRows> rows = conn_.Exec(
        "SELECT plan_id, approver, decision, comment, signature, created_at FROM approvals "
        "WHERE plan_id = $1 ORDER BY id",
        {plan_id});
    if (!rows.ok()) return rows.status();
    std::vector<ApprovalRecord> approvals;
    for (int i = 0; i < rows->size(); ++i) {
      ApprovalRecord a;
      a.plan_id = rows->Text(i, 0);
      a.approver = rows->Text(i, 1);
      a.decision = rows->Text(i, 2);
      a.comment = rows->Text(i, 3);
      a.signature = rows->Text(i, 4);
      a.created_at = rows->Text(i, 5);
      approvals.push_back(std::move(a));
    }
    return approvals;
  });
}

}  // namespace runbook
