// Change-request plans and their approvals on PostgreSQL (SPEC §6; docs/audit.md
// "PostgreSQL"): the same methods as PlanStore (plan_store.h), over the `plans` and
// `approvals` tables of the shared store, so that a plan made on one machine is approved on
// another and run on a third.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "audit/store.h"
#include "engine/status.h"

namespace runbook {

class PgConnection;

/// The `plans` and `approvals` tables in PostgreSQL. Made by PgAuditDatabase (pg_store.h),
/// which owns the connection and the mutex this shares with the event log and the lock table;
/// it lives as long as its PgAuditDatabase.
///
/// Thread-safety: every method takes the mutex. Errors carry their kind as PlanStore's do
/// (kNotFound for an unknown plan, "unknown plan 'ID'"; kInvalid for a bad decision; and
/// those of pg_connection.h).
class PgPlanStore : public PlanStore {
 public:
  PgPlanStore(PgConnection& conn, std::mutex& mu) : conn_(conn), mu_(mu) {}
  PgPlanStore(const PgPlanStore&) = delete;
  PgPlanStore& operator=(const PgPlanStore&) = delete;

  /// Inserts a plan. An existing plan_id is an error.
  Status SavePlan(const PlanRecord& plan) override;
  /// kNotFound for an unknown id.
  Result<PlanRecord> GetPlan(const std::string& plan_id) override;
  /// Every plan, oldest first.
  Result<std::vector<PlanRecord>> ListPlans() override;
  /// Sets a plan's status. kNotFound for an unknown id.
  Status SetPlanStatus(const std::string& plan_id, const std::string& status) override;
  /// Records a decision on an existing plan (kNotFound when there is none).
  Status AddApproval(const ApprovalRecord& approval) override;
  /// A plan's decisions, oldest first.
  Result<std::vector<ApprovalRecord>> Approvals(const std::string& plan_id) override;

 private:
  PgConnection& conn_;
  std::mutex& mu_;
};

}  // namespace runbook
