#include "app/postmortem_change_request.h"

#include <algorithm>
#include <filesystem>

#include "app/approval_policy.h"
#include "app/signer.h"
#include "audit/audit_format.h"
#include "audit/audit_time.h"
#include "engine/events.h"
#include "engine/loader.h"

namespace runbook {

namespace {

// The rollback time a runbook that declares none is held to (docs/runbook-format.md).
constexpr long long kDefaultRollbackTargetMs = 5 * 60 * 1000;

std::string SignatureStatus(const ApprovalRecord& d, const PlanRecord& plan,
                            const ApprovalSpec* policy, Signer* verifier, bool* ok) {
  *ok = true;
  const bool required = policy && !policy->allowed_signers.empty();
  if (d.signature.empty()) {
    if (!required) return "not signed (the runbook asks for no signature)";
    *ok = false;
    return "NOT signed, and the runbook requires signed approvals";
  }
  if (!required) return "signed (not checked: the runbook names no allowed_signers)";
  if (!verifier) return "signed (not checked)";
  Status s = verifier->Verify(policy->allowed_signers, d.approver, plan.hash, d.signature);
  if (s.ok()) return "verified against " + policy->allowed_signers;
  *ok = false;
  return "signature does NOT verify: " + s.message();
}

// The runbook the run recorded, loaded from its text alone; null when it does not load.
std::unique_ptr<Runbook> RecordedRunbook(const StoredRun& run) {
  if (run.runbook_text.empty()) return nullptr;
  std::error_code ec;
  const std::filesystem::path absolute = std::filesystem::absolute(run.runbook_path, ec);
  const std::string dir = ec ? std::string(".") : absolute.parent_path().string();
  LoadResult loaded = LoadRunbookText(run.runbook_text, run.runbook_path, dir);
  return std::move(loaded.runbook);
}

std::string JsonString(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

RunChangeRequest ReadRunChangeRequest(PlanStore& plans, const StoredRun& run, Signer* verifier) {
  RunChangeRequest cr;
  if (run.plan_id.empty()) return cr;
  auto plan = plans.GetPlan(run.plan_id);
  if (!plan.ok()) {
    cr.problem = "cannot read plan " + run.plan_id + ": " + plan.message();
    return cr;
  }
  cr.plan = *plan;
  auto decisions = plans.Approvals(run.plan_id);
  if (!decisions.ok()) {
    cr.problem = "cannot read the decisions on plan " + run.plan_id + ": " + decisions.message();
    return cr;
  }
  std::unique_ptr<Runbook> runbook;
  if (auto loaded = LoadPlanRunbook(*plan); loaded.ok()) {
    runbook = std::move(loaded.value());
  } else {
    cr.problem = loaded.message();
  }
  const ApprovalSpec* policy = runbook && runbook->approval ? &*runbook->approval : nullptr;
  auto started = ParseAuditTime(run.started_at);
  const auto at = started.ok() ? *started : std::chrono::system_clock::now();
  const ApprovalTally tally =
      TallyApprovals(*plan, *decisions, policy, runbook ? runbook->environment : "", at, verifier);
  cr.required = tally.required;
  cr.approved = tally.approved();
  cr.not_counted = tally.not_counted;
  for (const ApprovalRecord& d : *decisions) {
    JudgedDecision j;
    j.record = d;
    j.signature = SignatureStatus(d, *plan, policy, verifier, &j.signature_ok);
    // An approval made after the run started did not count for it.
    const auto made = ParseAuditTime(d.created_at);
    j.counted = d.decision == "approve" && (!made.ok() || *made <= at) &&
                std::find(tally.counted.begin(), tally.counted.end(), FoldName(d.approver)) !=
                    tally.counted.end();
    cr.decisions.push_back(std::move(j));
  }
  return cr;
}

void AddChangeRequest(const StoredRun& run, const std::vector<StoredEvent>& events,
                      const RunChangeRequest* cr, nlohmann::json* context) {
  nlohmann::json& c = *context;

  // The checklist as confirmed at `run`, from run_started.
  nlohmann::json checklist = nlohmann::json::array();
  for (const StoredEvent& e : events) {
    if (!e.is(EventKind::kRunStarted)) continue;
    const auto items = e.detail.is_object() ? e.detail.find("checklist") : e.detail.end();
    if (!e.detail.is_object() || items == e.detail.end() || !items->is_array()) break;
    for (const auto& item : *items)
      checklist.push_back({{"item", JsonString(item, "item")},
                           {"confirmed_by", JsonString(item, "confirmed_by")},
                           {"at", e.ts}});
    break;
  }
  c["has_checklist"] = !checklist.empty();
  c["checklist"] = checklist;

  // The plan and its decisions.
  nlohmann::json request = nullptr;
  if (cr && (cr->plan || !cr->problem.empty())) {
    request = {{"plan_id", run.plan_id},
               {"problem", cr->problem},
               {"found", cr->plan.has_value()},
               {"requested_by", cr->plan ? cr->plan->requested_by : ""},
               {"created_at", cr->plan ? cr->plan->created_at : ""},
               {"status", cr->plan ? cr->plan->status : ""},
               {"hash", cr->plan ? cr->plan->hash : ""},
               {"required", cr->required},
               {"approved", cr->approved},
               {"not_approved", cr->plan && !cr->approved},
               {"not_counted", cr->not_counted}};
    nlohmann::json decisions = nlohmann::json::array();
    for (const JudgedDecision& d : cr->decisions) {
      decisions.push_back({{"approver", d.record.approver},
                           {"decision", d.record.decision},
                           {"at", d.record.created_at},
                           {"comment", d.record.comment},
                           {"signature", d.signature},
                           {"signature_ok", d.signature_ok},
                           {"counted", d.counted ? "yes" : "no"},
                           {"row_class", d.signature_ok ? "" : "bad"}});
    }
    request["decisions"] = decisions;
    request["has_decisions"] = !decisions.empty();
  }
  c["change_request"] = request;
  c["has_change_request"] = !request.is_null();

  // Purpose and impact: from the recorded runbook, else from the plan document.
  std::string purpose;
  nlohmann::json impact = nlohmann::json::array();
  std::string rollback_time;
  auto add_impact = [&impact](const char* what, const std::string& value) {
    if (!value.empty()) impact.push_back({{"what", what}, {"value", value}});
  };
  if (std::unique_ptr<Runbook> rb = RecordedRunbook(run)) {
    purpose = rb->purpose;
    add_impact("Downtime", rb->impact.downtime);
    add_impact("Rollback time", rb->impact.rollback_time);
    add_impact("Dependencies", rb->impact.dependencies);
    add_impact("Data migration", rb->impact.data_migration);
    rollback_time = rb->impact.rollback_time;
  } else if (cr && cr->plan) {
    const nlohmann::json& doc = cr->plan->document;
    purpose = JsonString(doc, "purpose");
    const nlohmann::json declared =
        doc.is_object() ? doc.value("impact", nlohmann::json()) : nullptr;
    add_impact("Downtime", JsonString(declared, "downtime"));
    add_impact("Rollback time", JsonString(declared, "rollback_time"));
    add_impact("Dependencies", JsonString(declared, "dependencies"));
    add_impact("Data migration", JsonString(declared, "data_migration"));
    rollback_time = JsonString(declared, "rollback_time");
  }
  Duration target{0};
  const bool declared = !rollback_time.empty() && ParseDuration(rollback_time, &target);
  c["purpose"] = purpose;
  c["impact"] = impact;
  c["has_impact"] = !impact.empty() || !purpose.empty();
  c["rollback_target_ms"] = declared ? target.count() : kDefaultRollbackTargetMs;
  c["rollback_target"] = declared
                             ? FormatDuration(target) + " (the runbook's impact.rollback_time)"
                             : FormatDuration(Duration(kDefaultRollbackTargetMs)) +
                                   " (the default: the runbook declares no impact.rollback_time)";
}

}  // namespace runbook
