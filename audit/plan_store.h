// Change-request plans (`runbook plan`) and their approvals, as stored in the audit database's
// `plans` and `approvals` tables (docs/audit.md). The approval rules (who may approve, expiry,
// signatures) live in app/, not here: this stores and reads decisions, it does not weigh them.
#pragma once

#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "audit/store.h"
#include "engine/status.h"

namespace runbook {

class SqliteDb;

/// The `plans` and `approvals` tables. Made by AuditDatabase, which owns the connection and the
/// mutex this shares with the event log and the lock table; it lives as long as its
/// AuditDatabase.
///
/// Thread-safety: every method takes the database's mutex. Errors carry their kind: kNotFound
/// for an unknown plan ("unknown plan 'ID'"), kBusy when another process kept the database
/// locked past the busy timeout, kIOError, ...
class SqlitePlanStore : public PlanStore {
 public:
  SqlitePlanStore(SqliteDb& db, std::mutex& mu) : db_(db), mu_(mu) {}
  SqlitePlanStore(const SqlitePlanStore&) = delete;
  SqlitePlanStore& operator=(const SqlitePlanStore&) = delete;

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
  SqliteDb& db_;
  std::mutex& mu_;
};

}  // namespace runbook
