// plans, plans show, plans prune, approve, reject: the change-request flow (app/plans.h,
// app/plan_history.h, docs/approval.md, docs/history.md).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>

#include "app/change_request.h"
#include "app/inputs.h"
#include "app/plan_history.h"
#include "app/plans.h"
#include "app/signer.h"
#include "app/time_filter.h"
#include "cli/commands.h"
#include "engine/loader.h"

namespace runbook::cli {
namespace {

std::string ApprovalsCell(const PlanView& v) {
  if (!v.policy()) return v.tally.counted.empty() ? "-" : JoinWords(v.tally.counted);
  std::string cell =
      std::to_string(v.tally.counted.size()) + "/" + std::to_string(v.tally.required);
  if (!v.tally.counted.empty()) cell += " (" + JoinWords(v.tally.counted) + ")";
  return cell;
}

// The plan service over the audit database the options select; null (and `*code`) when it
// cannot be opened.
struct PlanContext {
  std::unique_ptr<AuditStore> db;
  std::unique_ptr<Signer> signer = MakeSshKeygenSigner();
  std::unique_ptr<PlanService> service;
};

bool OpenPlans(const GlobalOptions& global, PlanContext* plans, int* code) {
  plans->db = OpenDatabase(global, code);
  if (!plans->db) return false;
  plans->service = std::make_unique<PlanService>(*plans->db, *plans->signer, SystemEnv());
  return true;
}

// `plans`' filters (app/plan_history.h PlanQuery).
void AddPlansFilters(CLI::App* plans, PlansOptions& options) {
  plans->add_option("--limit", options.limit,
                    "list only the newest N plans that match (default: all)")
      ->check(CLI::NonNegativeNumber);
  plans->add_option("--runbook", options.runbook, "only plans of the runbook with this name");
  plans->add_option("--state,--status", options.statuses,
                    "only plans with this status: pending, approved, rejected, executed, pruned "
                    "or \"no approval needed\" (repeat it, or separate statuses by commas)")
      ->delimiter(',');
  plans->add_option("--since", options.since,
                    "only plans made since WHEN: an age (7d, 12h, 30m: that long ago), a UTC "
                    "date (2026-11-01) or time (2026-11-01T12:00:00Z)");
  plans->add_option("--requester", options.requester, "only plans requested by this person");
}

}  // namespace

int Plans(const GlobalOptions& global, const PlansOptions& options) {
  PlanQuery query;
  query.limit = options.limit;
  query.runbook = options.runbook;
  query.statuses = options.statuses;
  query.requested_by = options.requester;
  if (!options.since.empty()) {
    auto since = ParseSince(options.since, SystemEnv().Now());
    if (!since.ok()) return Fail(Status::Invalid("--since: " + since.message()));
    query.since = *since;
  }
  const bool json = options.json;
  int code = kExitOk;
  PlanContext p;
  if (!OpenPlans(global, &p, &code)) return code;
  auto all = p.service->List();
  if (!all.ok()) {
    PrintError(all.message());
    return kExitInvalid;
  }
  const bool recorded = !all->empty();
  const std::vector<PlanView> views = FilterPlans(std::move(all.value()), query);
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  std::vector<std::vector<std::string>> rows = {
      {"PLAN ID", "RUNBOOK", "REQUESTED BY", "CREATED", "STATUS", "APPROVALS"}};
  for (const PlanView& v : views) {
    list.push_back(PlanViewJson(v));
    rows.push_back({v.plan.plan_id, v.plan.runbook, v.plan.requested_by, v.plan.created_at,
                    v.status(), ApprovalsCell(v)});
  }
  if (json) {
    std::printf("%s\n", list.dump(2).c_str());
  } else if (!recorded) {
    std::printf("no plans recorded; make one with `runbook plan FILE -p NAME=VALUE --as YOU`\n");
  } else if (views.empty()) {
    std::printf("no plans match\n");
  } else {
    std::fputs(Columns(rows).c_str(), stdout);
  }
  return kExitOk;
}

int PlansPrune(const GlobalOptions& global, const PruneOptions& options) {
  auto age = ParseAge(options.older_than);
  if (!age.ok()) return Fail(Status::Invalid("--older-than: " + age.message()));
  int code = kExitOk;
  std::unique_ptr<AuditStore> db = OpenDatabase(global, &code);
  if (!db) return code;
  PruneRequest request;
  request.older_than = *age;
  request.dry_run = options.dry_run;
  request.operator_name = OperatorName(options.as, SystemEnv());
  auto outcome = PrunePlans(*db, SystemEnv(), request);
  if (!outcome.ok()) return Fail(outcome.status());
  if (options.json) {
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    j["dry_run"] = options.dry_run;
    j["cutoff"] = outcome->cutoff;
    j["record_run_id"] = outcome->record_run_id.empty()
                             ? nlohmann::ordered_json(nullptr)
                             : nlohmann::ordered_json(outcome->record_run_id);
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const PlanRecord& plan : outcome->pruned)
      list.push_back({{"plan_id", plan.plan_id},
                      {"runbook", plan.runbook},
                      {"requested_by", plan.requested_by},
                      {"created_at", plan.created_at}});
    j["pruned"] = std::move(list);
    std::printf("%s\n", j.dump(2).c_str());
    return kExitOk;
  }
  if (outcome->pruned.empty()) {
    std::printf("no unused pending plans created before %s\n", outcome->cutoff.c_str());
    return kExitOk;
  }
  for (const PlanRecord& plan : outcome->pruned)
    std::printf("%s %s  %s  requested by %s at %s\n",
                options.dry_run ? "would prune" : "pruned", plan.plan_id.c_str(),
                plan.runbook.c_str(), plan.requested_by.c_str(), plan.created_at.c_str());
  if (options.dry_run) {
    std::printf("dry run: %zu unused pending plans created before %s would be pruned; "
                "nothing changed\n",
                outcome->pruned.size(), outcome->cutoff.c_str());
  } else {
    std::printf("pruned %zu unused pending plans created before %s; recorded in the audit log "
                "as run %s\n",
                outcome->pruned.size(), outcome->cutoff.c_str(),
                outcome->record_run_id.c_str());
  }
  return kExitOk;
}

int PlansShow(const GlobalOptions& global, const std::string& plan_id, bool json) {
  int code = kExitOk;
  PlanContext p;
  if (!OpenPlans(global, &p, &code)) return code;
  auto details = p.service->Show(plan_id);
  if (!details.ok()) return Fail(details.status());
  const PlanView& view = details->view;
  const PlanRecord& plan = view.plan;
  if (json) {
    nlohmann::ordered_json j = PlanViewJson(view);
    j["runs"] = details->runs;
    j["document"] = nlohmann::ordered_json(plan.document);
    std::printf("%s\n", j.dump(2).c_str());
    return kExitOk;
  }
  std::string text;
  if (plan.document.is_object() && plan.document.contains("steps")) {
    auto rendered = RenderChangeRequest(plan.document);
    text = rendered.ok() ? rendered.value()
                         : "(the stored plan document cannot be shown: " + rendered.message() + ")\n";
  }
  std::fputs(text.c_str(), stdout);
  std::printf("\nplan %s: %s\n", plan_id.c_str(), view.status().c_str());
  std::printf("  requested by %s at %s\n", plan.requested_by.c_str(), plan.created_at.c_str());
  if (view.policy()) {
    std::printf("  approvals: %s%s\n", ApprovalCountText(view.tally).c_str(),
                view.tally.counted.empty()
                    ? ""
                    : (" (" + JoinWords(view.tally.counted) + ")").c_str());
  }
  for (const ApprovalRecord& d : view.decisions) {
    std::printf("  %s %s %s%s%s\n", d.created_at.c_str(), d.approver.c_str(),
                d.decision == "reject" ? "rejected" : "approved",
                d.signature.empty() ? "" : " (signed)",
                d.comment.empty() ? "" : (": " + d.comment).c_str());
  }
  for (const RuleTally& rule : view.tally.rules)
    std::printf("  rule %s\n", rule.Describe().c_str());
  for (const std::string& why : view.tally.not_counted)
    std::printf("  does not count: %s\n", why.c_str());
  if (!view.load_error.empty()) std::printf("  %s\n", view.load_error.c_str());
  for (const std::string& r : details->runs) std::printf("  run: %s\n", r.c_str());
  if (view.rejected()) {
    std::printf("next: this plan can no longer run; make a new one with `runbook plan %s%s`\n",
                ShellWord(plan.runbook_path).c_str(), PlanParamArgs(plan).c_str());
  } else if (view.status() == "pending") {
    std::printf("next: %s; each runs `runbook approve %s --as NAME`\n",
                StillNeeded(plan, view.policy(), view.tally).c_str(), plan_id.c_str());
  } else {
    std::printf("next: %s\n", PlanRunCommand(plan).c_str());
  }
  return kExitOk;
}

int Approve(const GlobalOptions& global, const std::string& plan_id, const std::string& as,
            const std::string& comment, const std::string& key) {
  if (as.empty()) return Fail(Status::Invalid("--as needs the approver's name"));
  int code = kExitOk;
  PlanContext p;
  if (!OpenPlans(global, &p, &code)) return code;
  auto outcome = p.service->Approve({plan_id, as, comment, key});
  if (!outcome.ok()) return Fail(outcome.status());
  const PlanView& view = outcome->view;
  const PlanRecord& plan = view.plan;
  const ApprovalSpec* policy = view.policy();
  if (outcome->already_approved) {
    std::printf("%s has already approved plan %s; an approver counts once (%s)\n", as.c_str(),
                plan_id.c_str(),
                policy ? ApprovalCountText(view.tally).c_str() : "no approval needed");
    return kExitOk;
  }
  if (outcome->key_ignored)
    std::fprintf(stderr,
                 "note: runbook '%s' does not ask for signed approvals "
                 "(no allowed_signers); --key is ignored\n",
                 plan.runbook.c_str());
  if (!outcome->status_update.ok()) PrintError(outcome->status_update.message());
  for (const std::string& problem : outcome->notification_problems)
    std::fprintf(stderr, "warning: %s\n", problem.c_str());
  std::printf("%s approved plan %s%s", as.c_str(), plan_id.c_str(),
              outcome->signed_approval ? " (signed)" : "");
  if (!policy) {
    std::printf("; runbook '%s' needs no approval\n", plan.runbook.c_str());
  } else if (outcome->approved) {
    std::printf(": %s, the plan is approved\nnext: %s\n", ApprovalCountText(view.tally).c_str(),
                PlanRunCommand(plan).c_str());
  } else {
    std::printf(": %s so far\nnext: %s (`runbook approve %s --as NAME`)\n",
                ApprovalCountText(view.tally).c_str(),
                StillNeeded(plan, policy, view.tally).c_str(), plan_id.c_str());
  }
  if (policy && policy->expires.count() > 0)
    std::printf("approvals count for %s after they are given\n",
                FormatDuration(policy->expires).c_str());
  return kExitOk;
}

int Reject(const GlobalOptions& global, const std::string& plan_id, const std::string& as,
           const std::string& comment) {
  if (as.empty() || comment.empty())
    return Fail(Status::Invalid("reject needs --as NAME and --comment saying why"));
  int code = kExitOk;
  PlanContext p;
  if (!OpenPlans(global, &p, &code)) return code;
  auto plan = p.service->Reject(plan_id, as, comment);
  if (!plan.ok()) return Fail(plan.status());
  std::printf(
      "%s rejected plan %s: %s\nthe plan can no longer run; once the problem is fixed, "
      "make a new plan with `runbook plan %s%s`\n",
      as.c_str(), plan_id.c_str(), comment.c_str(), ShellWord(plan->runbook_path).c_str(),
      PlanParamArgs(*plan).c_str());
  return kExitOk;
}

void AddPlanCommands(CLI::App& app, GlobalOptions& global, PlanCommandArgs& args, int& code) {
  CLI::App* plans =
      Command(app, "plans", "list plans, newest first, with their status and approvals");
  AddPlansFilters(plans, args.plans);
  plans->add_flag("--json", args.plans.json, "print JSON");
  AddAuditDbOption(plans, &global);
  CLI::App* show = plans->add_subcommand("show", "one plan with its approvals");
  show->add_option("PLAN_ID", args.show_id, "the plan")->required();
  show->add_flag("--json", args.show_json, "print JSON");
  AddAuditDbOption(show, &global);
  CLI::App* prune = plans->add_subcommand(
      "prune", "mark unused pending plans older than a given age `pruned`, recorded in the "
               "audit log (docs/history.md)");
  prune->add_option("--older-than", args.prune.older_than,
                    "prune pending plans created longer ago than this age (30d, 2w, 12h) that "
                    "no run used")
      ->required();
  prune->add_flag("--dry-run", args.prune.dry_run, "list what would be pruned; change nothing");
  prune->add_flag("--json", args.prune.json, "print JSON");
  prune->add_option("--as", args.prune.as, "who prunes, for the audit record (default: $USER)");
  AddAuditDbOption(prune, &global);
  plans->callback([&global, &args, &code, show, prune] {
    if (show->parsed()) {
      code = PlansShow(global, args.show_id, args.show_json || args.plans.json);
    } else if (prune->parsed()) {
      code = PlansPrune(global, args.prune);
    } else {
      code = Plans(global, args.plans);
    }
  });

  CLI::App* approve = Command(app, "approve", "approve a plan (bound to its plan hash)");
  approve->add_option("PLAN_ID", args.approve_id, "the plan")->required();
  approve->add_option("--as", args.approve_as, "who approves")->required();
  approve->add_option("--comment", args.approve_comment, "why");
  approve->add_option("--key", args.approve_key, "SSH private key to sign the approval with");
  AddAuditDbOption(approve, &global);
  approve->callback([&global, &args, &code] {
    code =
        Approve(global, args.approve_id, args.approve_as, args.approve_comment, args.approve_key);
  });

  CLI::App* reject = Command(app, "reject", "reject a plan: it can no longer run");
  reject->add_option("PLAN_ID", args.reject_id, "the plan")->required();
  reject->add_option("--as", args.reject_as, "who rejects")->required();
  reject->add_option("--comment", args.reject_comment, "why")->required();
  AddAuditDbOption(reject, &global);
  reject->callback([&global, &args, &code] {
    code = Reject(global, args.reject_id, args.reject_as, args.reject_comment);
  });
}

}  // namespace runbook::cli
