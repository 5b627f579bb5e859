// The change-request flow of SPEC §4 (docs/approval.md): make a plan, list and show plans,
// approve and reject them under the runbook's approval policy, and the gate `run --plan`
// passes through. Decisions go to the audit database's plans and approvals tables
// (audit/plan_store.h); which of them count is approval_policy.h. Nothing here prints: each
// call returns what happened, and errors carry their kind (not found, refused, ...).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/approval_policy.h"
#include "audit/audit_database.h"
#include "engine/bound_file.h"
#include "engine/environment.h"
#include "engine/model.h"
#include "engine/status.h"

namespace runbook {

class Signer;

/// Everything about one plan: its row, the runbook it was made from, its decisions and
/// which of them count now.
struct PlanView {
  PlanRecord plan;
  std::shared_ptr<const Runbook> runbook;  // null when the stored text no longer loads
  std::string load_error;
  std::vector<ApprovalRecord> decisions;
  ApprovalTally tally;

  /// The runbook's approval policy; null when it has none (or does not load).
  const ApprovalSpec* policy() const {
    return runbook && runbook->approval ? &*runbook->approval : nullptr;
  }
  bool rejected() const { return tally.rejection.has_value() || plan.status == "rejected"; }
  /// The status as it stands now (approvals may have expired since the stored one was set):
  /// rejected, executed, pruned, pending, approved, "no approval needed", or "unknown (STORED)".
  std::string status() const;
};

/// `plan --json`'s and `plans --json`'s object for one plan.
nlohmann::ordered_json PlanViewJson(const PlanView& view);

// Words for the next step a person takes, shared by every face.
/// `value` quoted for a POSIX shell when it needs it.
std::string ShellWord(const std::string& value);
/// " -p k=v" for each planned param: what `run` must be given to match the plan.
std::string PlanParamArgs(const PlanRecord& plan);
/// `runbook run PATH -p ... --plan ID`.
std::string PlanRunCommand(const PlanRecord& plan);
/// "1 of 2 approvals".
std::string ApprovalCountText(const ApprovalTally& tally);
/// "1 more approval from bob or carol" / "... from anyone but alice".
std::string StillNeeded(const PlanRecord& plan, const ApprovalSpec* policy,
                        const ApprovalTally& tally);
/// `items` joined by `sep`.
/// The stored status of a plan whose run succeeded: it cannot run again (SPEC §5).
inline constexpr char kPlanExecuted[] = "executed";
/// The stored status of a pending plan `plans prune` removed (app/plan_history.h): it cannot
/// be approved or run.
inline constexpr char kPlanPruned[] = "pruned";

std::string JoinWords(const std::vector<std::string>& items, const std::string& sep = ", ");

class PlanService {
 public:
  /// Every reference must outlive the service.
  /// `runbooks`: where loaded plan runbooks are kept between services (a server's), or null.
  PlanService(AuditStore& db, Signer& signer, const Environment& env,
              PlanRunbookCache* runbooks = nullptr);

  struct MadePlan {
    nlohmann::json document;  // the plan as `plan --json` prints it, with plan_id and status
    PlanRecord record;        // as stored
    /// Webhooks told the plan waits for approval (approval_requested): the problems, to show.
    std::vector<std::string> notification_problems;
  };
  /// Builds the change request of `runbook` with bound `params`, requested by
  /// `requested_by`, and stores it as a pending plan.
  Result<MadePlan> Make(const Runbook& runbook, const std::map<std::string, std::string>& params,
                        const std::string& requested_by);

  /// Every plan, oldest first (signatures trusted as stored).
  Result<std::vector<PlanView>> List();

  struct PlanDetails {
    PlanView view;
    std::vector<std::string> runs;  // "RUN_ID (state)" of each run made from the plan
  };
  /// One plan, with its signatures checked again (this is where a reviewer looks).
  /// kNotFound for an unknown id.
  Result<PlanDetails> Show(const std::string& plan_id);

  struct ApproveRequest {
    std::string plan_id;
    std::string approver;
    std::string comment;
    std::string key;  // SSH private key to sign with, or ""
    /// A signature already made by the approver (`ssh-keygen -Y sign`, armoured), used
    /// instead of signing with `key`: what `runbook serve` receives. Verified the same way.
    std::string signature;
  };
  struct ApproveOutcome {
    PlanView view;               // after the decision
    bool already_approved = false;  // the approver had already approved: nothing recorded
    bool signed_approval = false;
    bool key_ignored = false;    // --key given, but the runbook asks for no signatures
    bool approved = false;       // the plan is approved now
    Status status_update;        // failure to mark the plan approved (the approval stands)
    /// Webhooks told the plan is approved (approved): the problems, to show.
    std::vector<std::string> notification_problems;
  };
  /// Records an approval. Refused (kRefused) for an unknown, rejected or unloadable plan,
  /// the requester, someone off the approvers list, or a missing or bad signature.
  Result<ApproveOutcome> Approve(const ApproveRequest& request);

  /// Records a rejection: the plan can no longer run. The requester may withdraw their own
  /// plan; otherwise the approvers list applies.
  Result<PlanRecord> Reject(const std::string& plan_id, const std::string& name,
                            const std::string& comment);

  /// The gate of `run --plan`: ok when `plan_id` is approved for exactly this runbook text,
  /// these params and these bound files (`files`: CollectBoundFiles of app/bound_files.h, or
  /// null to collect them now), and meets the runbook's approval policy, if it has one; the
  /// value is a line for the operator ("plan P approved by ..."). kRefused with the reason
  /// (each changed file named) and what to do next otherwise.
  Result<std::string> CheckApproved(const Runbook& runbook,
                                    const std::map<std::string, std::string>& params,
                                    const std::string& plan_id, const std::string& operator_name,
                                    const BoundInputs* files = nullptr);

 private:
  Result<PlanView> View(const PlanRecord& plan, bool verify_signatures);

  AuditStore& db_;
  Signer& signer_;
  const Environment& env_;
  PlanRunbookCache* runbooks_;
};

}  // namespace runbook
