// Which recorded decisions on a plan count under its runbook's approval policy (SPEC §4,
// docs/approval.md). The store keeps every decision as it was made; these rules are applied
// when the plan is read, so that an approval that has since expired, or whose signature no
// longer verifies, stops counting without anyone rewriting the log.
#pragma once

#include <chrono>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "audit/plan_store.h"
#include "engine/model.h"
#include "engine/status.h"

namespace runbook {

class Signer;

/// Loads the runbook text a plan was made from, resolving its relative paths (the
/// allowed_signers file) against the folder of the plan's runbook_path. Errors carry the
/// loader's diagnostics.
Result<std::unique_ptr<Runbook>> LoadPlanRunbook(const PlanRecord& plan);
/// The same, shared (what PlanView holds).
Result<std::shared_ptr<const Runbook>> SharedRunbook(Result<std::unique_ptr<Runbook>> loaded);

/// Runbooks loaded from plans' stored texts, kept for a server that lists the same plans
/// again and again (`runbook serve`): LoadPlanRunbook reads no file, so a plan whose stored
/// text and path are the same loads to the same runbook (what counts an approval is applied
/// afterwards, on every read: the team file's roles are read again each time). Holds at most
/// `capacity` runbooks, the least recently used dropped first. Thread-safe.
class PlanRunbookCache {
 public:
  explicit PlanRunbookCache(size_t capacity = 256) : capacity_(capacity) {}
  PlanRunbookCache(const PlanRunbookCache&) = delete;
  PlanRunbookCache& operator=(const PlanRunbookCache&) = delete;

  /// LoadPlanRunbook's result for `plan`, loaded once.
  Result<std::shared_ptr<const Runbook>> Load(const PlanRecord& plan);
  size_t size() const;

 private:
  struct Entry {
    std::string plan_id, runbook_text, runbook_path;
    Result<std::shared_ptr<const Runbook>> loaded;
  };
  const size_t capacity_;
  mutable std::mutex mu_;
  std::list<Entry> entries_;  // the most recently used first
  std::unordered_map<std::string, std::list<Entry>::iterator> by_plan_;
};

/// How one role rule stands on a plan.
struct RuleTally {
  ApprovalRule rule;
  bool applies = false;              // its `when` holds for this plan
  std::vector<std::string> met_by;   // counted approvers of the role
  std::vector<std::string> can_approve;  // members who have not approved (not the requester)

  bool met() const { return !applies || static_cast<int>(met_by.size()) >= rule.required; }
  /// "pm when environment is production: 0 of 1 (paula can approve)".
  std::string Describe() const;
};

/// The verdict on one plan.
struct ApprovalTally {
  /// Approvals needed: the policy's `required`; 0 when the runbook has no approval block.
  int required = 0;
  /// Every rule of the policy, applying or not, in the policy's order.
  std::vector<RuleTally> rules;
  /// Distinct approvers whose approval counts, in the order they first approved.
  std::vector<std::string> counted;
  /// Approvals that do not count, one line each: "mallory: not on the approvers list".
  std::vector<std::string> not_counted;
  /// The latest rejection, when there is one.
  std::optional<ApprovalRecord> rejection;

  bool approved() const {
    if (rejection || static_cast<int>(counted.size()) < required) return false;
    for (const RuleTally& r : rules)
      if (!r.met()) return false;
    return true;
  }
};

/// A name given with --as (requester, approver): folded (FoldName) and checked; an invalid
/// name is StatusKind::kInvalid saying what a name may be.
Result<std::string> PersonName(std::string_view typed);

/// Applies `policy` (null: the runbook has no approval block) to `decisions`, oldest first:
/// an approval counts when its approver is not the requester, is on `approvers` (when that
/// list is not empty), is younger than `expires` at `now` (when set), and carries a signature
/// that verifies against `allowed_signers` (when set; checked by `verifier` only when
/// `verifier` is given, otherwise any signature is trusted as verified when it was stored).
/// Each approver counts once.
/// Names are compared folded, so "Bob" and "bob " recorded by an older version count once.
/// Each rule of the policy whose `when` holds for `environment` and the plan's params must be
/// met by approvers of its role, besides `required` overall.
ApprovalTally TallyApprovals(const PlanRecord& plan, const std::vector<ApprovalRecord>& decisions,
                             const ApprovalSpec* policy, std::string_view environment,
                             std::chrono::system_clock::time_point now, Signer* verifier);

/// Why `name` may not approve `plan` under `policy` ("" when they may): the requester, or
/// not on the approvers list.
std::string ApproverProblem(const PlanRecord& plan, const ApprovalSpec* policy,
                            const std::string& name);

}  // namespace runbook
