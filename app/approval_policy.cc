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

Result<std::shared_ptr<const Runbook>> SharedRunbook(Result<std::unique_ptr<Runbook>> loaded) {
  if (!loaded.ok()) return loaded.status();
  return std::shared_ptr<const Runbook>(std::move(loaded.value()));
}

Result<std::shared_ptr<const Runbook>> PlanRunbookCache::Load(const PlanRecord& plan) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = by_plan_.find(plan.plan_id);
    if (it != by_plan_.end()) {
      const Entry& e = *it->second;
      if (e.runbook_text == plan.runbook_text && e.runbook_path == plan.runbook_path) {
        entries_.splice(entries_.begin(), entries_, it->second);
        return e.loaded;
      }
      entries_.erase(it->second);
      by_plan_.erase(it);
    }
  }
  // Loaded outside the lock: two threads may both load a plan, and the second one's stays.
  Result<std::shared_ptr<const Runbook>> shared = SharedRunbook(LoadPlanRunbook(plan));
  if (capacity_ == 0) return shared;
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = by_plan_.find(plan.plan_id); it != by_plan_.end()) {
    entries_.erase(it->second);
    by_plan_.erase(it);
  }
  entries_.push_front(Entry{plan.plan_id, plan.runbook_text, plan.runbook_path, shared});
  by_plan_[plan.plan_id] = entries_.begin();
  while (entries_.size() > capacity_) {
    by_plan_.erase(entries_.back().plan_id);
    entries_.pop_back();
  }
  return shared;
}

size_t PlanRunbookCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

Result<std::string> PersonName(std::string_view typed) {
  std::string name = FoldName(typed);
  if (!ValidPersonName(name))
    return Status::Invalid("'" + std::string(typed) +
                           "' is not a name: use letters, digits, '.', '_' and '-', starting "
                           "with a letter or digit (names are compared in lower case)");
  return name;
}

std::string RuleTally::Describe() const {
  std::string out = rule.Describe() + ": " + std::to_string(met_by.size()) + " of " +
                    std::to_string(rule.required);
  if (!met_by.empty()) {
    out += " (";
    for (size_t i = 0; i < met_by.size(); ++i) out += (i ? ", " : "") + met_by[i];
    out += ")";
  }
  if (!applies) return out + ", does not apply";
  if (met()) return out + ", met";
  if (can_approve.empty()) return out + ", and no member of " + rule.role + " is left to approve";
  std::string who;
  for (size_t i = 0; i < can_approve.size(); ++i) who += (i ? " or " : "") + can_approve[i];
  return out + ", " + who + " can approve";
}

namespace {

bool RuleApplies(const ApprovalRule& rule, std::string_view environment, const PlanRecord& plan) {
  if (!rule.when_environment.empty() && rule.when_environment != environment) return false;
  if (!rule.when_param.empty()) {
    if (!plan.params.is_object() || !plan.params.contains(rule.when_param)) return false;
    const nlohmann::json& v = plan.params[rule.when_param];
    const std::string value = v.is_string() ? v.get<std::string>() : v.dump();
    if (value != rule.when_equals) return false;
  }
  return true;
}

RuleTally TallyRule(const ApprovalRule& rule, const ApprovalSpec& policy,
                    std::string_view environment, const PlanRecord& plan,
                    const std::vector<std::string>& counted) {
  RuleTally r;
  r.rule = rule;
  r.applies = RuleApplies(rule, environment, plan);
  auto members = policy.team.find(rule.role);
  if (members == policy.team.end()) return r;
  const std::string requester = FoldName(plan.requested_by);
  for (const std::string& m : members->second) {
    if (std::find(counted.begin(), counted.end(), m) != counted.end()) {
      r.met_by.push_back(m);
    } else if (m != requester) {
      r.can_approve.push_back(m);
    }
  }
  return r;
}

}  // namespace

std::string ApproverProblem(const PlanRecord& plan, const ApprovalSpec* policy,
                            const std::string& typed) {
  const std::string name = FoldName(typed);
  if (name == FoldName(plan.requested_by))
    return name + " requested plan " + plan.plan_id + " and cannot approve it";
  if (policy && !policy->approvers.empty() &&
      std::none_of(policy->approvers.begin(), policy->approvers.end(),
                   [&](const std::string& a) { return FoldName(a) == name; })) {
    std::string list;
    for (const std::string& a : policy->approvers) list += (list.empty() ? "" : ", ") + a;
    return name + " is not on the approvers list of runbook '" + plan.runbook + "' (" + list + ")";
  }
  return "";
}

ApprovalTally TallyApprovals(const PlanRecord& plan, const std::vector<ApprovalRecord>& decisions,
                             const ApprovalSpec* policy, std::string_view environment,
                             std::chrono::system_clock::time_point now, Signer* verifier) {
  ApprovalTally tally;
  tally.required = policy ? policy->required : 0;
  std::map<std::string, std::string> why_not;  // approver -> why their last approval fails
  for (const ApprovalRecord& d : decisions) {
    if (d.decision == "reject") {
      tally.rejection = d;
      continue;
    }
    if (d.decision != "approve") continue;
    const std::string who = FoldName(d.approver);
    if (std::find(tally.counted.begin(), tally.counted.end(), who) != tally.counted.end())
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
      tally.counted.push_back(who);
      why_not.erase(who);
    } else {
      why_not[who] = problem;
    }
  }
  for (const auto& [name, problem] : why_not) tally.not_counted.push_back(problem);
  if (policy) {
    for (const ApprovalRule& rule : policy->rules)
      tally.rules.push_back(TallyRule(rule, *policy, environment, plan, tally.counted));
  }
  return tally;
}

}  // namespace runbook
