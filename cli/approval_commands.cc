// plans, plans show, approve, reject, and the check `run --plan` makes: the change-request
// flow of SPEC §4 (docs/approval.md). Decisions go to the audit database's plans and
// approvals tables (audit/plan_store.h); the rules for which of them count are in
// approval_policy.h.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string_view>

#include "audit/audit_time.h"
#include "cli/approval_policy.h"
#include "cli/commands.h"
#include "cli/ssh_signature.h"
#include "engine/plan.h"

namespace runbook::cli {
namespace {

using Clock = std::chrono::system_clock;

// `value` quoted for a POSIX shell when it needs it, for the commands we suggest.
std::string ShellWord(const std::string& value) {
  const bool plain = !value.empty() && std::all_of(value.begin(), value.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("-_./=:,+@%").find(c) != std::string_view::npos;
  });
  if (plain) return value;
  std::string out = "'";
  for (char c : value) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// " -p k=v" for each planned param: what `run` must be given to match the plan.
std::string ParamArgs(const PlanRecord& plan) {
  std::string out;
  if (!plan.params.is_object()) return out;
  for (const auto& [k, v] : plan.params.items())
    out += " -p " + ShellWord(k + "=" + (v.is_string() ? v.get<std::string>() : v.dump()));
  return out;
}

std::string RunCommand(const PlanRecord& plan) {
  return "runbook run " + ShellWord(plan.runbook_path) + ParamArgs(plan) + " --plan " +
         plan.plan_id;
}

std::string Join(const std::vector<std::string>& items, const std::string& sep = ", ") {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

std::map<std::string, std::string> PlannedParams(const PlanRecord& plan) {
  std::map<std::string, std::string> out;
  if (!plan.params.is_object()) return out;
  for (const auto& [k, v] : plan.params.items())
    out[k] = v.is_string() ? v.get<std::string>() : v.dump();
  return out;
}

// Who could still approve: the approvers list minus the requester and those counted.
std::string StillNeeded(const PlanRecord& plan, const ApprovalSpec* policy,
                        const ApprovalTally& tally) {
  const int missing = tally.required - static_cast<int>(tally.counted.size());
  std::string out = std::to_string(missing) + " more approval" + (missing == 1 ? "" : "s");
  if (policy && !policy->approvers.empty()) {
    std::vector<std::string> candidates;
    for (const std::string& a : policy->approvers)
      if (a != plan.requested_by &&
          std::find(tally.counted.begin(), tally.counted.end(), a) == tally.counted.end())
        candidates.push_back(a);
    out += " from " + (candidates.empty() ? std::string("(no approver is left on the list)")
                                          : Join(candidates, " or "));
  } else {
    out += " from anyone but " + plan.requested_by;
  }
  return out;
}

std::string CountText(const ApprovalTally& tally) {
  return std::to_string(tally.counted.size()) + " of " + std::to_string(tally.required) +
         " approval" + (tally.required == 1 ? "" : "s");
}

// Everything about one plan the commands below need.
struct PlanView {
  PlanRecord plan;
  std::unique_ptr<Runbook> runbook;  // null when the stored text no longer loads
  std::string load_error;
  std::vector<ApprovalRecord> decisions;
  ApprovalTally tally;

  const ApprovalSpec* policy() const {
    return runbook && runbook->approval ? &*runbook->approval : nullptr;
  }
  bool rejected() const { return tally.rejection.has_value() || plan.status == "rejected"; }
  // The status as it stands now (approvals may have expired since the stored one was set).
  std::string status() const {
    if (rejected()) return "rejected";
    if (!runbook) return "unknown (" + plan.status + ")";
    if (!policy()) return "no approval needed";
    return tally.approved() ? "approved" : "pending";
  }
};

Result<PlanView> ViewPlan(AuditStore& store, const PlanRecord& plan, bool verify_signatures) {
  PlanView v;
  v.plan = plan;
  auto decisions = store.Approvals(plan.plan_id);
  if (!decisions.ok()) return decisions.status();
  v.decisions = std::move(*decisions);
  auto runbook = LoadPlanRunbook(plan);
  if (runbook.ok()) {
    v.runbook = std::move(runbook.value());
  } else {
    v.load_error = runbook.message();
  }
  v.tally = TallyApprovals(plan, v.decisions, v.policy(), Clock::now(), verify_signatures);
  return v;
}

nlohmann::ordered_json PlanJson(const PlanView& v) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  j["plan_id"] = v.plan.plan_id;
  j["hash"] = v.plan.hash;
  j["runbook"] = v.plan.runbook;
  j["runbook_path"] = v.plan.runbook_path;
  j["params"] = nlohmann::ordered_json(v.plan.params);
  j["requested_by"] = v.plan.requested_by;
  j["created_at"] = v.plan.created_at;
  j["status"] = v.status();
  j["stored_status"] = v.plan.status;
  j["required"] = v.tally.required;
  j["approvals"] = v.tally.counted.size();
  j["approved_by"] = v.tally.counted;
  j["not_counted"] = v.tally.not_counted;
  j["signed"] = v.policy() && !v.policy()->allowed_signers.empty();
  nlohmann::ordered_json decisions = nlohmann::ordered_json::array();
  for (const ApprovalRecord& d : v.decisions) {
    nlohmann::ordered_json dj = nlohmann::ordered_json::object();
    dj["approver"] = d.approver;
    dj["decision"] = d.decision;
    dj["comment"] = d.comment;
    dj["signed"] = !d.signature.empty();
    dj["created_at"] = d.created_at;
    decisions.push_back(std::move(dj));
  }
  j["decisions"] = std::move(decisions);
  if (!v.load_error.empty()) j["error"] = v.load_error;
  return j;
}

// Columns two spaces apart, the last one not padded.
std::string Table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line.append(widths[i] - row[i].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

std::string ApprovalsCell(const PlanView& v) {
  if (!v.policy()) return v.tally.counted.empty() ? "-" : Join(v.tally.counted);
  std::string cell =
      std::to_string(v.tally.counted.size()) + "/" + std::to_string(v.tally.required);
  if (!v.tally.counted.empty()) cell += " (" + Join(v.tally.counted) + ")";
  return cell;
}

// Prints why a plan cannot be decided on when its stored text does not load.
void ReportUnloadable(const PlanView& v) {
  PrintError(v.load_error);
  std::fprintf(stderr, "make a new plan with `runbook plan FILE` from a valid runbook\n");
}

}  // namespace

int Plans(const GlobalOptions& global, bool json) {
  std::unique_ptr<AuditStore> store = OpenAudit(global);
  if (!store) return kExitInvalid;
  auto plans = store->ListPlans();
  if (!plans.ok()) {
    PrintError(plans.message());
    return kExitInvalid;
  }
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  std::vector<std::vector<std::string>> rows = {
      {"PLAN ID", "RUNBOOK", "REQUESTED BY", "CREATED", "STATUS", "APPROVALS"}};
  for (const PlanRecord& p : *plans) {
    auto view = ViewPlan(*store, p, /*verify_signatures=*/false);
    if (!view.ok()) {
      PrintError(view.message());
      return kExitInvalid;
    }
    list.push_back(PlanJson(*view));
    rows.push_back(
        {p.plan_id, p.runbook, p.requested_by, p.created_at, view->status(), ApprovalsCell(*view)});
  }
  if (json) {
    std::printf("%s\n", list.dump(2).c_str());
  } else if (plans->empty()) {
    std::printf("no plans recorded; make one with `runbook plan FILE -p NAME=VALUE --as YOU`\n");
  } else {
    std::fputs(Table(rows).c_str(), stdout);
  }
  return kExitOk;
}

int PlansShow(const GlobalOptions& global, const std::string& plan_id, bool json) {
  std::unique_ptr<AuditStore> store = OpenAudit(global);
  if (!store) return kExitInvalid;
  auto plan = store->GetPlan(plan_id);
  if (!plan.ok()) {
    PrintError(plan.message() + " (see `runbook plans` for the recorded plans)");
    return kExitInvalid;
  }
  // Showing one plan re-checks signatures: this is where a reviewer looks before running.
  auto view = ViewPlan(*store, *plan, /*verify_signatures=*/true);
  if (!view.ok()) {
    PrintError(view.message());
    return kExitInvalid;
  }
  std::vector<std::string> runs;
  if (auto all = store->ListRuns(); all.ok()) {
    for (const StoredRun& r : *all)
      if (r.plan_id == plan_id)
        runs.push_back(r.run_id + " (" + (r.state.empty() ? "unfinished" : r.state) + ")");
  }
  if (json) {
    nlohmann::ordered_json j = PlanJson(*view);
    j["runs"] = runs;
    j["document"] = nlohmann::ordered_json(plan->document);
    std::printf("%s\n", j.dump(2).c_str());
    return kExitOk;
  }
  std::string text;
  try {
    if (plan->document.is_object() && plan->document.contains("steps"))
      text = RenderPlanText(plan->document);
  } catch (const nlohmann::json::exception& e) {
    text = "(the stored plan document cannot be shown: " + std::string(e.what()) + ")\n";
  }
  std::fputs(text.c_str(), stdout);
  std::printf("\nplan %s: %s\n", plan_id.c_str(), view->status().c_str());
  std::printf("  requested by %s at %s\n", plan->requested_by.c_str(), plan->created_at.c_str());
  if (view->policy()) {
    std::printf(
        "  approvals: %s%s\n", CountText(view->tally).c_str(),
        view->tally.counted.empty() ? "" : (" (" + Join(view->tally.counted) + ")").c_str());
  }
  for (const ApprovalRecord& d : view->decisions) {
    std::printf("  %s %s %s%s%s\n", d.created_at.c_str(), d.approver.c_str(),
                d.decision == "reject" ? "rejected" : "approved",
                d.signature.empty() ? "" : " (signed)",
                d.comment.empty() ? "" : (": " + d.comment).c_str());
  }
  for (const std::string& why : view->tally.not_counted)
    std::printf("  does not count: %s\n", why.c_str());
  if (!view->load_error.empty()) std::printf("  %s\n", view->load_error.c_str());
  for (const std::string& r : runs) std::printf("  run: %s\n", r.c_str());
  if (view->rejected()) {
    std::printf("next: this plan can no longer run; make a new one with `runbook plan %s%s`\n",
                ShellWord(plan->runbook_path).c_str(), ParamArgs(*plan).c_str());
  } else if (view->status() == "pending") {
    std::printf("next: %s; each runs `runbook approve %s --as NAME`\n",
                StillNeeded(*plan, view->policy(), view->tally).c_str(), plan_id.c_str());
  } else {
    std::printf("next: %s\n", RunCommand(*plan).c_str());
  }
  return kExitOk;
}

int Approve(const GlobalOptions& global, const std::string& plan_id, const std::string& as,
            const std::string& comment, const std::string& key) {
  if (as.empty()) {
    PrintError("--as needs the approver's name");
    return kExitInvalid;
  }
  std::unique_ptr<AuditStore> store = OpenAudit(global);
  if (!store) return kExitInvalid;
  auto plan = store->GetPlan(plan_id);
  if (!plan.ok()) {
    PrintError(plan.message() + " (see `runbook plans` for the recorded plans)");
    return kExitRefused;
  }
  auto view = ViewPlan(*store, *plan, /*verify_signatures=*/false);
  if (!view.ok()) {
    PrintError(view.message());
    return kExitInvalid;
  }
  if (!view->runbook) {
    ReportUnloadable(*view);
    return kExitRefused;
  }
  if (view->rejected()) {
    std::string by = view->tally.rejection ? " by " + view->tally.rejection->approver : "";
    std::string why = view->tally.rejection && !view->tally.rejection->comment.empty()
                          ? " (\"" + view->tally.rejection->comment + "\")"
                          : "";
    PrintError("plan " + plan_id + " was rejected" + by + why +
               " and can no longer be approved; fix what was wrong and make a new plan with "
               "`runbook plan " +
               ShellWord(plan->runbook_path) + ParamArgs(*plan) + "`");
    return kExitRefused;
  }
  const ApprovalSpec* policy = view->policy();
  if (std::string problem = ApproverProblem(*plan, policy, as); !problem.empty()) {
    PrintError(problem + (as == plan->requested_by ? "; another approver must"
                                                   : "; ask one of them to approve it"));
    return kExitRefused;
  }
  if (std::find(view->tally.counted.begin(), view->tally.counted.end(), as) !=
      view->tally.counted.end()) {
    std::printf("%s has already approved plan %s; an approver counts once (%s)\n", as.c_str(),
                plan_id.c_str(), policy ? CountText(view->tally).c_str() : "no approval needed");
    return kExitOk;
  }

  ApprovalRecord record;
  record.plan_id = plan_id;
  record.approver = as;
  record.decision = "approve";
  record.comment = comment;
  if (policy && !policy->allowed_signers.empty()) {
    if (key.empty()) {
      PrintError("runbook '" + plan->runbook +
                 "' requires signed approvals: add --key PATH, "
                 "the SSH private key that " +
                 policy->allowed_signers + " lists for " + as);
      return kExitRefused;
    }
    std::error_code ec;
    if (!std::filesystem::is_regular_file(policy->allowed_signers, ec)) {
      std::string hint;
      if (std::filesystem::path(plan->runbook_path).is_relative())
        hint = " (plan " + plan_id + " was made from the relative path " + plan->runbook_path +
               ": approve from the folder where `runbook plan` ran)";
      PrintError("allowed_signers file " + policy->allowed_signers + " does not exist" + hint);
      return kExitRefused;
    }
    auto signature = SshSign(key, plan->hash);
    if (!signature.ok()) {
      PrintError(signature.message());
      return kExitRefused;
    }
    if (Status s = SshVerify(policy->allowed_signers, as, plan->hash, *signature); !s.ok()) {
      PrintError("approval by " + as + " refused: " + s.message() +
                 "; sign with the key "
                 "listed for " +
                 as + ", or have that key added to " + policy->allowed_signers);
      return kExitRefused;
    }
    record.signature = *signature;
  } else if (!key.empty()) {
    std::fprintf(stderr,
                 "note: runbook '%s' does not ask for signed approvals "
                 "(no allowed_signers); --key is ignored\n",
                 plan->runbook.c_str());
  }
  if (Status s = store->AddApproval(record); !s.ok()) {
    PrintError("cannot record the approval: " + s.message());
    return kExitInvalid;
  }

  auto after = ViewPlan(*store, *plan, /*verify_signatures=*/false);
  if (!after.ok()) {
    PrintError(after.message());
    return kExitInvalid;
  }
  const bool approved = after->tally.approved();
  if (approved && plan->status != "approved") {
    if (Status s = store->SetPlanStatus(plan_id, "approved"); !s.ok())
      PrintError("could not mark plan " + plan_id + " approved: " + s.message());
  }
  std::printf("%s approved plan %s%s", as.c_str(), plan_id.c_str(),
              record.signature.empty() ? "" : " (signed)");
  if (!policy) {
    std::printf("; runbook '%s' needs no approval\n", plan->runbook.c_str());
  } else if (approved) {
    std::printf(": %s, the plan is approved\nnext: %s\n", CountText(after->tally).c_str(),
                RunCommand(*plan).c_str());
  } else {
    std::printf(": %s so far\nnext: %s (`runbook approve %s --as NAME`)\n",
                CountText(after->tally).c_str(), StillNeeded(*plan, policy, after->tally).c_str(),
                plan_id.c_str());
  }
  if (policy && policy->expires.count() > 0)
    std::printf("approvals count for %s after they are given\n",
                FormatDuration(policy->expires).c_str());
  return kExitOk;
}

int Reject(const GlobalOptions& global, const std::string& plan_id, const std::string& as,
           const std::string& comment) {
  if (as.empty() || comment.empty()) {
    PrintError("reject needs --as NAME and --comment saying why");
    return kExitInvalid;
  }
  std::unique_ptr<AuditStore> store = OpenAudit(global);
  if (!store) return kExitInvalid;
  auto plan = store->GetPlan(plan_id);
  if (!plan.ok()) {
    PrintError(plan.message() + " (see `runbook plans` for the recorded plans)");
    return kExitRefused;
  }
  // The requester may withdraw their plan; otherwise a rejection is a reviewer's decision,
  // so the approvers list applies as it does to approvals. When the stored text no longer
  // loads there is no list to apply, and blocking is always safe.
  auto runbook = LoadPlanRunbook(*plan);
  const ApprovalSpec* policy =
      runbook.ok() && (*runbook)->approval ? &*(*runbook)->approval : nullptr;
  if (as != plan->requested_by) {
    if (std::string problem = ApproverProblem(*plan, policy, as); !problem.empty()) {
      PrintError(problem + "; only an approver or the requester (" + plan->requested_by +
                 ") can reject it");
      return kExitRefused;
    }
  }
  ApprovalRecord record;
  record.plan_id = plan_id;
  record.approver = as;
  record.decision = "reject";
  record.comment = comment;
  if (Status s = store->AddApproval(record); !s.ok()) {
    PrintError("cannot record the rejection: " + s.message());
    return kExitInvalid;
  }
  if (Status s = store->SetPlanStatus(plan_id, "rejected"); !s.ok()) {
    PrintError("cannot mark plan " + plan_id + " rejected: " + s.message());
    return kExitInvalid;
  }
  std::printf(
      "%s rejected plan %s: %s\nthe plan can no longer run; once the problem is fixed, "
      "make a new plan with `runbook plan %s%s`\n",
      as.c_str(), plan_id.c_str(), comment.c_str(), ShellWord(plan->runbook_path).c_str(),
      ParamArgs(*plan).c_str());
  return kExitOk;
}

int CheckApprovedPlan(AuditStore& store, const Runbook& runbook,
                      const std::map<std::string, std::string>& params, const std::string& plan_id,
                      const std::string& operator_name) {
  auto plan = store.GetPlan(plan_id);
  if (!plan.ok()) {
    PrintError(plan.message() + ": make one with `runbook plan " + ShellWord(runbook.path) +
               " -p ...`, have it approved, then run with --plan (see `runbook plans`)");
    return kExitRefused;
  }
  if (plan->runbook != runbook.name) {
    PrintError("plan " + plan_id + " is for runbook '" + plan->runbook + "', not '" + runbook.name +
               "'");
    return kExitRefused;
  }
  if (PlanHash(runbook, params) != plan->hash) {
    const std::map<std::string, std::string> planned = PlannedParams(*plan);
    std::vector<std::string> diffs;
    for (const auto& [k, v] : params) {
      auto it = planned.find(k);
      if (it == planned.end()) {
        diffs.push_back(k + ": not in the plan, given '" + v + "'");
      } else if (it->second != v) {
        diffs.push_back(k + ": planned '" + it->second + "', given '" + v + "'");
      }
    }
    for (const auto& [k, v] : planned)
      if (!params.count(k)) diffs.push_back(k + ": planned '" + v + "', not given");
    if (PlanHash(runbook, planned) == plan->hash) {
      PrintError("plan " + plan_id + " was approved for other params (" + Join(diffs, "; ") +
                 "); run it as planned: `" + RunCommand(*plan) +
                 "`, or make and approve a new plan for these params");
    } else {
      PrintError("runbook " + runbook.path + " has changed since plan " + plan_id +
                 " was made (its text no longer matches the plan hash" +
                 (diffs.empty() ? "" : "; params differ too: " + Join(diffs, "; ")) +
                 "); make a new plan for the current text with `runbook plan " +
                 ShellWord(runbook.path) + " ...` and have it approved");
    }
    return kExitRefused;
  }
  auto view = ViewPlan(store, *plan, /*verify_signatures=*/false);
  if (!view.ok()) {
    PrintError(view.message());
    return kExitRefused;
  }
  if (view->rejected()) {
    const auto& r = view->tally.rejection;
    PrintError("plan " + plan_id + " was rejected" +
               (r ? " by " + r->approver + " at " + r->created_at +
                        (r->comment.empty() ? "" : " (\"" + r->comment + "\")")
                  : "") +
               "; it can no longer run: fix what was wrong and make a new plan");
    return kExitRefused;
  }
  // The policy comes from the runbook being run, whose text the hash just proved to be the
  // planned one; its paths are resolved from where it is now.
  const ApprovalSpec* policy = runbook.approval ? &*runbook.approval : nullptr;
  if (!policy) {
    std::fprintf(stderr,
                 "plan %s matches this runbook and these params; runbook '%s' needs no "
                 "approval\n",
                 plan_id.c_str(), runbook.name.c_str());
    return kExitOk;
  }
  const ApprovalTally tally =
      TallyApprovals(*plan, view->decisions, policy, Clock::now(), /*verify_signatures=*/true);
  if (tally.approved()) {
    std::fprintf(stderr, "plan %s approved by %s (%s); %s runs it\n", plan_id.c_str(),
                 Join(tally.counted).c_str(), CountText(tally).c_str(), operator_name.c_str());
    return kExitOk;
  }
  PrintError("plan " + plan_id + " has " + CountText(tally) + " that count; it needs " +
             StillNeeded(*plan, policy, tally));
  for (const std::string& why : tally.not_counted)
    std::fprintf(stderr, "  does not count: %s\n", why.c_str());
  std::fprintf(stderr, "next: each approver runs `runbook approve %s --as NAME%s`\n",
               plan_id.c_str(), policy->allowed_signers.empty() ? "" : " --key SSH_KEY");
  return kExitRefused;
}

}  // namespace runbook::cli
