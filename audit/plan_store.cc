#include "audit/plan_store.h"

#include <sqlite3.h>

#include <mutex>

#include "audit/audit_time.h"
#include "audit/hash_chain.h"
#include "audit/sqlite_db.h"

namespace runbook {

namespace {

constexpr const char* kPlanColumns =
    "plan_id, hash, runbook, runbook_path, runbook_text, params, requested_by, created_at, "
    "status, document";

PlanRecord ReadPlan(const Statement& row) {
  PlanRecord p;
  p.plan_id = row.Text(0);
  p.hash = row.Text(1);
  p.runbook = row.Text(2);
  p.runbook_path = row.Text(3);
  p.runbook_text = row.Text(4);
  p.params = ParseStoredJson(row.Text(5)).value_or(nlohmann::json(row.Text(5)));
  p.requested_by = row.Text(6);
  p.created_at = row.Text(7);
  p.status = row.Text(8);
  p.document = ParseStoredJson(row.Text(9)).value_or(nlohmann::json(row.Text(9)));
  return p;
}

}  // namespace

Status SqlitePlanStore::SavePlan(const PlanRecord& plan) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string context = "cannot store plan " + plan.plan_id;
  if (plan.plan_id.empty()) return Status::Error("cannot store a plan without an id");
  Transaction tx(db_);
  if (!tx.status().ok()) return tx.status();
  Statement exists(db_, "SELECT 1 FROM plans WHERE plan_id = ?");
  exists.Bind(1, plan.plan_id);
  Result<bool> row = exists.Step();
  if (!row.ok()) return row.status();
  if (*row) return Status::Error(context + ": a plan with this id already exists");
  Statement insert(db_, std::string("INSERT INTO plans(") + kPlanColumns +
                            ") VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  insert.Bind(1, plan.plan_id);
  insert.Bind(2, plan.hash);
  insert.Bind(3, plan.runbook);
  insert.Bind(4, plan.runbook_path);
  insert.Bind(5, plan.runbook_text);
  insert.Bind(6, CanonicalJson(plan.params));
  insert.Bind(7, plan.requested_by);
  insert.Bind(8, plan.created_at.empty() ? AuditTimeNow() : plan.created_at);
  insert.Bind(9, plan.status.empty() ? std::string("pending") : plan.status);
  insert.Bind(10, CanonicalJson(plan.document));
  if (Status s = insert.Run(); !s.ok()) return s;
  return tx.Commit();
}

Result<PlanRecord> SqlitePlanStore::GetPlan(const std::string& plan_id) {
  std::lock_guard<std::mutex> lock(mu_);
  Statement st(db_, std::string("SELECT ") + kPlanColumns + " FROM plans WHERE plan_id = ?");
  st.Bind(1, plan_id);
  Result<bool> row = st.Step();
  if (!row.ok()) return row.status();
  if (!*row) return Status::NotFound("unknown plan '" + plan_id + "'");
  return ReadPlan(st);
}

Result<std::vector<PlanRecord>> SqlitePlanStore::ListPlans() {
  std::lock_guard<std::mutex> lock(mu_);
  Statement st(db_,
               std::string("SELECT ") + kPlanColumns + " FROM plans ORDER BY created_at, rowid");
  std::vector<PlanRecord> plans;
  for (;;) {
    Result<bool> row = st.Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    plans.push_back(ReadPlan(st));
  }
  return plans;
}

Status SqlitePlanStore::SetPlanStatus(const std::string& plan_id, const std::string& status) {
  std::lock_guard<std::mutex> lock(mu_);
  Transaction tx(db_);
  if (!tx.status().ok()) return tx.status();
  Statement update(db_, "UPDATE plans SET status = ? WHERE plan_id = ?");
  update.Bind(1, status);
  update.Bind(2, plan_id);
  if (Status s = update.Run(); !s.ok()) return s;
  if (sqlite3_changes(db_.handle()) == 0) return Status::NotFound("unknown plan '" + plan_id + "'");
  return tx.Commit();
}

Status SqlitePlanStore::AddApproval(const ApprovalRecord& approval) {
  std::lock_guard<std::mutex> lock(mu_);
  if (approval.decision != "approve" && approval.decision != "reject") {
    return Status::Invalid("invalid decision '" + approval.decision + "': want approve or reject");
  }
  Transaction tx(db_);
  if (!tx.status().ok()) return tx.status();
  Statement exists(db_, "SELECT 1 FROM plans WHERE plan_id = ?");
  exists.Bind(1, approval.plan_id);
  Result<bool> row = exists.Step();
  if (!row.ok()) return row.status();
  if (!*row) return Status::NotFound("unknown plan '" + approval.plan_id + "'");
  Statement insert(db_,
                   "INSERT INTO approvals(plan_id, approver, decision, comment, signature, "
                   "created_at) VALUES(?, ?, ?, ?, ?, ?)");
  insert.Bind(1, approval.plan_id);
  insert.Bind(2, approval.approver);
  insert.Bind(3, approval.decision);
  insert.Bind(4, approval.comment);
  insert.Bind(5, approval.signature);
  insert.Bind(6, approval.created_at.empty() ? AuditTimeNow() : approval.created_at);
  if (Status s = insert.Run(); !s.ok()) return s;
  return tx.Commit();
}

Result<std::vector<ApprovalRecord>> SqlitePlanStore::Approvals(const std::string& plan_id) {
  std::lock_guard<std::mutex> lock(mu_);
  Statement st(db_,
               "SELECT plan_id, approver, decision, comment, signature, created_at FROM approvals "
               "WHERE plan_id = ? ORDER BY id");
  st.Bind(1, plan_id);
  std::vector<ApprovalRecord> approvals;
  for (;;) {
    Result<bool> row = st.Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    ApprovalRecord a;
    a.plan_id = st.Text(0);
    a.approver = st.Text(1);
    a.decision = st.Text(2);
    a.comment = st.Text(3);
    a.signature = st.Text(4);
    a.created_at = st.Text(5);
    approvals.push_back(std::move(a));
  }
  return approvals;
}

}  // namespace runbook
