// Change-request plans (`runbook plan`) and their approvals, as stored in the audit database's
// `plans` and `approvals` tables (docs/audit.md). The approval rules (who may approve, expiry,
// signatures) live in app/, not here: this stores and reads decisions, it does not weigh them.
#pragma once

#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/status.h"

namespace runbook {

class SqliteDb;

/// One row of the `plans` table.
struct PlanRecord {
  std::string plan_id;
  std::string hash;     // sha256 hex of the plan's canonical document
  std::string runbook;  // the runbook's name
  std::string runbook_path;
  std::string runbook_text;                          // exact file contents
  nlohmann::json params = nlohmann::json::object();  // secrets redacted
  std::string requested_by;
  std::string created_at;  // RFC 3339 UTC, ms; SavePlan fills in now when empty
  std::string status;      // e.g. pending, approved, rejected; SavePlan uses "pending" when empty
  nlohmann::json document = nlohmann::json::object();  // the plan as `plan --json` prints it
};

/// One row of the `approvals` table: a decision by one person on one plan.
struct ApprovalRecord {
  std::string plan_id;
  std::string approver;
  std::string decision;  // "approve" or "reject"
  std::string comment;
  std::string signature;   // SSH signature over the plan hash, or ""
  std::string created_at;  // RFC 3339 UTC, ms; AddApproval fills in now when empty
};

/// The `plans` and `approvals` tables. Made by AuditDatabase, which owns the connection and the
/// mutex this shares with the event log and the lock table; it lives as long as its
/// AuditDatabase.
///
/// Thread-safety: every method takes the database's mutex. Errors carry their kind: kNotFound
/// for an unknown plan ("unknown plan 'ID'"), kBusy when another process kept the database
/// locked past the busy timeout, kIOError, ...
class PlanStore {
 public:
  PlanStore(SqliteDb& db, std::mutex& mu) : db_(db), mu_(mu) {}
  PlanStore(const PlanStore&) = delete;
  PlanStore& operator=(const PlanStore&) = delete;

  /// Inserts a plan. An existing plan_id is an error.
  Status SavePlan(const PlanRecord& plan);
  /// kNotFound for an unknown id.
  Result<PlanRecord> GetPlan(const std::string& plan_id);
  /// Every plan, oldest first.
  Result<std::vector<PlanRecord>> ListPlans();
  /// Sets a plan's status. kNotFound for an unknown id.
  Status SetPlanStatus(const std::string& plan_id, const std::string& status);
  /// Records a decision on an existing plan (kNotFound when there is none).
  Status AddApproval(const ApprovalRecord& approval);
  /// A plan's decisions, oldest first.
  Result<std::vector<ApprovalRecord>> Approvals(const std::string& plan_id);

 private:
  SqliteDb& db_;
  std::mutex& mu_;
};

}  // namespace runbook
