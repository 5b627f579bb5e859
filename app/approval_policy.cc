#include "app/approval_policy.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include "audit/audit_time.h"
#include "app/signer.h"
#include "engine/loader.h"

namespace runbook {

Result<std::unique_ptr<Runbook>> LoadPlanRunbook(const PlanRecord& plan) {
  std::error_code ec;
  std::filesystem::path absolute = std::filesystem::absolute(plan.runbook_path, ec);
  const std::string dir =
      ec ? std::string(".") : absolute.parent_path().lexically_normal().string();
  LoadResult loaded = LoadRunbookText(plan.runbook_text, plan.runbook_path, dir);
  if (!loaded.ok()) {
    std::string why = "the runbook text stored with plan " + plan.plan_id + " does not load:";
    for (const Diagnostic& d : loaded.diagnostics) why += "\n  " + d.ToString();
    return Result<std::unique_ptr<Runbook>>::Error(why);
  }
  return std::move(loaded.runbook);
}

std::string ApproverProblem(const PlanRecord& plan, const ApprovalSpec* policy,
                            const std::string& name) {
  if (name == plan.requested_by)
    return name + " requested plan " + plan.plan_id + " and cannot approve it";
  if (policy && !policy->approvers.empty() &&
      std::find(policy->approvers.begin(), policy->approvers.end(), name) ==
          policy->approvers.end()) {
    std::string list;
    for (const std::string& a : policy->approvers) list += (list.empty() ? "" : ", ") + a;
    return name + " is not on the approvers list of runbook '" + plan.runbook + "' (" + list + ")";
  }
  return "";
}

ApprovalTally TallyApprovals(const PlanRecord& plan, const std::vector<ApprovalRecord>& decisions,
                             const ApprovalSpec* policy, std::chrono::system_clock::time_point now,
                             Signer* verifier) {
  ApprovalTally tally;
  tally.required = policy ? policy->required : 0;
  std::map<std::string, std::string> why_not;  // approver -> why their last approval fails
  for (const ApprovalRecord& d : decisions) {
    if (d.decision == "reject") {
      tally.rejection = d;
      continue;
    }
    if (d.decision != "approve") continue;
    if (std::find(tally.counted.begin(), tally.counted.end(), d.approver) != tally.counted.end())
      continue;
    std::string problem = ApproverProblem(plan, policy, d.approver);
    if (problem.empty() && policy && policy->expires.count() > 0) {
      auto at = ParseAuditTime(d.created_at);
      if (!at.ok()) {
        problem = d.approver + ": approval time '" + d.created_at + "' is unreadable";
      } else if (now - *at >= policy->expires) {
        problem = d.approver + "'s approval of " + d.created_at + " has expired (approvals last " +
                  FormatDuration(policy->expires) + ")";
      }
    }
    if (problem.empty() && policy && !policy->allowed_signers.empty()) {
      if (d.signature.empty()) {
        problem = d.approver + "'s approval is not signed, and runbook '" + plan.runbook +
                  "' requires signed approvals";
      } else if (verifier) {
        Status s = verifier->Verify(policy->allowed_signers, d.approver, plan.hash, d.signature);
        if (!s.ok()) problem = d.approver + "'s signature does not verify: " + s.message();
      }
    }
    if (problem.empty()) {
      tally.counted.push_back(d.approver);
      why_not.erase(d.approver);
    } else {
      why_not[d.approver] = problem;
    }
  }
  for (const auto& [name, problem] : why_not) tally.not_counted.push_back(problem);
  return tally;
}

}  // namespace runbook
