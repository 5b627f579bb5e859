// Change-request plans (`runbook plan`) and their approvals, as stored in the audit database's
// `plans` and `approvals` tables (docs/audit.md). AuditStore reads and writes them; the
// approval rules (who may approve, expiry, signatures) live with the CLI, not here.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace runbook {

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

}  // namespace runbook
