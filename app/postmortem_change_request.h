// The change request a run carried out, as the post-mortem report shows it (docs/postmortem.md):
// the plan it ran (`run --plan ID`) and its decisions from the PlanStore, with each
// signature checked again; the checklist confirmed at `run` (from run_started); and the
// runbook's declared purpose and impact, read from the runbook text the run recorded.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "audit/audit_records.h"
#include "audit/store.h"

namespace runbook {

class Signer;

/// One recorded decision on the run's plan, judged as the report shows it.
struct JudgedDecision {
  ApprovalRecord record;
  /// For a reader: "verified against /etc/runbook/allowed_signers", "not signed (the runbook
  /// asks for no signature)", "signature does NOT verify: ...", "not checked: ...".
  std::string signature;
  bool signature_ok = true;  // false: missing where required, or does not verify
  bool counted = false;      // counted towards the plan's approval when the run started
};

/// What the PlanStore holds about the plan a run ran.
struct RunChangeRequest {
  std::optional<PlanRecord> plan;         // none: run without a plan, or the plan could not be read
  std::string problem;                    // why the plan, or its runbook, could not be read; or ""
  std::vector<JudgedDecision> decisions;  // oldest first
  std::vector<std::string> not_counted;   // TallyApprovals' reasons, one line each
  int required = 0;                       // approvals the policy needed
  bool approved = false;                  // the plan was approved when the run started
};

/// Reads the plan of `run` and its decisions from `plans`, and judges them as at the run's
/// start: who counted, and whether each signature verifies (through `verifier`, when given;
/// without one, signatures are reported as not checked). Never fails: what cannot be read is
/// said in `problem`.
RunChangeRequest ReadRunChangeRequest(PlanStore& plans, const StoredRun& run, Signer* verifier);

/// Adds the "Change request" and "Impact" sections' keys to `context` (docs/templates.md):
/// `change_request` (from `cr`, null when the run had no plan or none was given), `checklist`
/// (from run_started), `purpose`, `impact` and `rollback_target_ms` (the runbook's declared
/// impact.rollback_time, else 5 minutes).
void AddChangeRequest(const StoredRun& run, const std::vector<StoredEvent>& events,
                      const RunChangeRequest* cr, nlohmann::json* context);

}  // namespace runbook
