#include "app/plans.h"

#include <sys/random.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <string_view>

#include "app/bound_files.h"
#include "app/notify.h"
#include "app/signer.h"
#include "engine/executor.h"
#include "engine/loader.h"
#include "engine/plan.h"
#include "engine/state_machine.h"
#include "engine/template.h"
#include "steps/kubectl_command.h"
#include "steps/kubectl_diff.h"
#include "steps/kubectl_manifests.h"
#include "steps/webhook_sender.h"

namespace runbook {
namespace {

std::map<std::string, std::string> PlannedParams(const PlanRecord& plan) {
  std::map<std::string, std::string> out;
  if (!plan.params.is_object()) return out;
  for (const auto& [k, v] : plan.params.items())
    out[k] = v.is_string() ? v.get<std::string>() : v.dump();
  return out;
}

/// Tells the webhooks about an approval event; what went wrong, for the command to show.
std::vector<std::string> ApprovalNotificationProblems(
    const Runbook& runbook, const std::map<std::string, std::string>& params,
    const NotifyFacts& facts, const Environment& env) {
  std::unique_ptr<WebhookSender> sender = MakeWebhookSender();
  std::vector<std::string> problems;
  for (const NotificationOutcome& o : NotifyApproval(*sender, runbook, params, facts, env))
    if (!o.sent) problems.push_back(NotificationProblem(o));
  return problems;
}

std::string NewPlanId(const std::string& hash) {
  unsigned char r[4];
  if (getrandom(r, sizeof r, 0) != static_cast<ssize_t>(sizeof r)) r[0] = r[1] = r[2] = r[3] = 0;
  char suffix[9];
  std::snprintf(suffix, sizeof suffix, "%02x%02x%02x%02x", r[0], r[1], r[2], r[3]);
  return "plan-" + hash.substr(0, 8) + "-" + suffix;
}

// Which cluster a kubectl step will talk to, read from the kubeconfig without contacting it.
std::string DescribeKubeTarget(const KubeTarget& target) {
  auto endpoint = ResolveKubeTarget(target);
  if (!endpoint.ok()) return "unresolved: " + endpoint.message();
  return endpoint->context + " (namespace " + endpoint->namespace_ + ", server " +
         endpoint->server + ")";
}

/// For each kubectl apply step: what it would change in the live cluster (`diff`, or
/// `diff_error` when the cluster cannot say), so that a reviewer never has to open the
/// manifests. Rendered with the params as the plan shows them (a `secret: true` param as ***).
void AddClusterDiffs(const Runbook& runbook, const std::map<std::string, std::string>& params,
                     nlohmann::json* document) {
  const std::map<std::string, std::string> shown = MaskSecretParams(runbook, params);
  auto render = [&shown](std::string_view text) { return RenderKnownParams(text, shown); };
  for (nlohmann::json& step : (*document)["steps"]) {
    const StepSpec* spec = runbook.FindStep(step.value("id", ""));
    const auto* kube = spec ? std::get_if<KubectlAction>(&spec->action) : nullptr;
    if (kube == nullptr || kube->apply.empty()) continue;
    auto manifests = ReadManifests(render(kube->apply), runbook.dir, KnownParamValues(shown));
    Result<ClusterDiff> diff =
        manifests.ok() ? DiffAgainstCluster(kube->resolved, *manifests)
                       : Result<ClusterDiff>(manifests.status());
    if (!diff.ok()) {
      step["diff_error"] = diff.message();
    } else {
      step["diff"] = diff->changes ? diff->text : "";
      step["diff_none"] = !diff->changes;
    }
  }
}

}  // namespace

std::string PlanView::status() const {
  if (rejected()) return "rejected";
  if (plan.status == kPlanExecuted) return kPlanExecuted;
  if (plan.status == kPlanPruned) return kPlanPruned;
  if (!runbook) return "unknown (" + plan.status + ")";
  if (!policy()) return "no approval needed";
  return tally.approved() ? "approved" : "pending";
}

nlohmann::ordered_json PlanViewJson(const PlanView& v) {
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
  nlohmann::ordered_json rules = nlohmann::ordered_json::array();
  for (const RuleTally& r : v.tally.rules) {
    nlohmann::ordered_json rj = nlohmann::ordered_json::object();
    rj["role"] = r.rule.role;
    rj["required"] = r.rule.required;
    rj["when"] = r.rule.Describe();
    rj["applies"] = r.applies;
    rj["met"] = r.met();
    rj["approved_by"] = r.met_by;
    rj["can_approve"] = r.can_approve;
    rj["summary"] = r.Describe();
    rules.push_back(std::move(rj));
  }
  j["rules"] = std::move(rules);
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

std::string ShellWord(const std::string& value) {
  const bool plain = !value.empty() && std::all_of(value.begin(), value.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("-_./=:,+@%").find(c) != std::string_view::npos;
  });
  return plain ? value : ShellQuote(value);
}

std::string PlanParamArgs(const PlanRecord& plan) {
  std::string out;
  if (!plan.params.is_object()) return out;
  for (const auto& [k, v] : plan.params.items())
    out += " -p " + ShellWord(k + "=" + (v.is_string() ? v.get<std::string>() : v.dump()));
  return out;
}

std::string PlanRunCommand(const PlanRecord& plan) {
  return "runbook run " + ShellWord(plan.runbook_path) + PlanParamArgs(plan) + " --plan " +
         plan.plan_id;
}

std::string JoinWords(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

std::string ApprovalCountText(const ApprovalTally& tally) {
  return std::to_string(tally.counted.size()) + " of " + std::to_string(tally.required) +
         " approval" + (tally.required == 1 ? "" : "s");
}

std::string StillNeeded(const PlanRecord& plan, const ApprovalSpec* policy,
                        const ApprovalTally& tally) {
  std::vector<std::string> rules;
  for (const RuleTally& r : tally.rules) {
    if (r.met()) continue;
    const int short_by = r.rule.required - static_cast<int>(r.met_by.size());
    rules.push_back(std::to_string(short_by) + " of role " + r.rule.role + " (" +
                    (r.can_approve.empty() ? std::string("nobody is left to approve")
                                           : JoinWords(r.can_approve, " or ")) +
                    ")");
  }
  const int missing = tally.required - static_cast<int>(tally.counted.size());
  if (missing <= 0) return JoinWords(rules, " and ");
  std::string out = std::to_string(missing) + " more approval" + (missing == 1 ? "" : "s");

  if (policy && !policy->approvers.empty()) {
    std::vector<std::string> candidates;
    for (const std::string& a : policy->approvers)
      if (FoldName(a) != FoldName(plan.requested_by) &&
          std::find(tally.counted.begin(), tally.counted.end(), FoldName(a)) ==
              tally.counted.end())
        candidates.push_back(a);
    out += " from " + (candidates.empty() ? std::string("(no approver is left on the list)")
                                          : JoinWords(candidates, " or "));
  } else {
    out += " from anyone but " + plan.requested_by;
  }
  if (!rules.empty()) out += "; among them " + JoinWords(rules, " and ");
  return out;
}

PlanService::PlanService(AuditStore& db, Signer& signer, const Environment& env,
                         PlanRunbookCache* runbooks)
    : db_(db), signer_(signer), env_(env), runbooks_(runbooks) {}

Result<PlanView> PlanService::View(const PlanRecord& plan, bool verify_signatures) {
  PlanView v;
  v.plan = plan;
  auto decisions = db_.plans().Approvals(plan.plan_id);
  if (!decisions.ok()) return decisions.status();
  v.decisions = std::move(*decisions);
  Result<std::shared_ptr<const Runbook>> runbook =
      runbooks_ ? runbooks_->Load(plan) : SharedRunbook(LoadPlanRunbook(plan));
  if (runbook.ok()) {
    v.runbook = std::move(runbook.value());
  } else {
    v.load_error = runbook.message();
  }
  v.tally = TallyApprovals(plan, v.decisions, v.policy(),
                           v.runbook ? std::string_view(v.runbook->environment) : "", env_.Now(),
                           verify_signatures ? &signer_ : nullptr);
  return v;
}

Result<PlanService::MadePlan> PlanService::Make(const Runbook& runbook,
                                                const std::map<std::string, std::string>& params,
                                                const std::string& typed_requester) {
  auto requester = PersonName(typed_requester);
  if (!requester.ok()) return requester.status().WithContext("the requester (--as)");
  const std::string& requested_by = *requester;
  const BoundInputs bound = CollectBoundFiles(runbook, params);
  if (!bound.errors.empty())
    return Status::Invalid("cannot make the plan: " + JoinWords(bound.errors, "; "));
  const StateMachine machine = StateMachine::Compile(runbook);
  MadePlan made;
  made.document = BuildPlan(runbook, machine, params, DescribeKubeTarget, bound);
  AddClusterDiffs(runbook, params, &made.document);
  const std::string hash = made.document["hash"];
  made.document["plan_id"] = NewPlanId(hash);
  made.document["requested_by"] = requested_by;
  PlanRecord& record = made.record;
  record.plan_id = made.document["plan_id"];
  record.hash = hash;
  record.runbook = runbook.name;
  record.runbook_path = Executor::AbsolutePath(runbook);
  record.runbook_text = runbook.text;
  record.params = nlohmann::json(MaskSecretParams(runbook, params));
  record.requested_by = requested_by;
  record.status = "pending";
  record.document = made.document;
  if (Status s = db_.plans().SavePlan(record); !s.ok())
    return s.WithContext("cannot store the plan");
  made.document["status"] = "pending";
  if (runbook.approval) {
    NotifyFacts facts{.event = NotifyEvent::kApprovalRequested,
                      .runbook = runbook.name,
                      .environment = runbook.environment,
                      .plan_id = record.plan_id,
                      .requested_by = requested_by};
    made.notification_problems = ApprovalNotificationProblems(runbook, params, facts, env_);
  }
  return made;
}

Result<std::vector<PlanView>> PlanService::List() {
  auto plans = db_.plans().ListPlans();
  if (!plans.ok()) return plans.status();
  std::vector<PlanView> out;
  for (const PlanRecord& p : *plans) {
    auto view = View(p, /*verify_signatures=*/false);
    if (!view.ok()) return view.status();
    out.push_back(std::move(view.value()));
  }
  return out;
}

Result<PlanService::PlanDetails> PlanService::Show(const std::string& plan_id) {
  auto plan = db_.plans().GetPlan(plan_id);
  if (plan.status().IsNotFound())
    return Status::NotFound(plan.message() + " (see `runbook plans` for the recorded plans)");
  if (!plan.ok()) return plan.status();
  auto view = View(*plan, /*verify_signatures=*/true);
  if (!view.ok()) return view.status();
  PlanDetails details;
  details.view = std::move(view.value());
  if (auto runs = db_.events().RunsOfPlan(plan_id); runs.ok()) {
    for (const StoredRun& r : *runs)
      details.runs.push_back(r.run_id + " (" + (r.state.empty() ? "unfinished" : r.state) + ")");
  }
  return details;
}

Result<PlanService::ApproveOutcome> PlanService::Approve(const ApproveRequest& request) {
  if (request.approver.empty()) return Status::Invalid("--as needs the approver's name");
  auto approver = PersonName(request.approver);
  if (!approver.ok()) return approver.status().WithContext("the approver (--as)");
  const std::string& as = *approver;
  auto plan = db_.plans().GetPlan(request.plan_id);
  if (plan.status().IsNotFound())
    return Status::Refused(plan.message() + " (see `runbook plans` for the recorded plans)");
  if (!plan.ok()) return plan.status();
  if (plan->status == kPlanExecuted)
    return Status::Refused("plan " + request.plan_id +
                           " is used up (a run of it succeeded); approvals are for a new plan");
  if (plan->status == kPlanPruned)
    return Status::Refused("plan " + request.plan_id +
                           " was pruned (`runbook plans prune`); approvals are for a new plan");
  auto view = View(*plan, /*verify_signatures=*/false);
  if (!view.ok()) return view.status();
  if (!view->runbook)
    return Status::Refused(view->load_error +
                           "\nmake a new plan with `runbook plan FILE` from a valid runbook");
  if (view->rejected()) {
    const auto& r = view->tally.rejection;
    std::string by = r ? " by " + r->approver : "";
    std::string why = r && !r->comment.empty() ? " (\"" + r->comment + "\")" : "";
    return Status::Refused("plan " + request.plan_id + " was rejected" + by + why +
                           " and can no longer be approved; fix what was wrong and make a new "
                           "plan with `runbook plan " +
                           ShellWord(plan->runbook_path) + PlanParamArgs(*plan) + "`");
  }
  const ApprovalSpec* policy = view->policy();
  if (std::string problem = ApproverProblem(*plan, policy, as); !problem.empty())
    return Status::Refused(problem + (as == FoldName(plan->requested_by)
                                          ? "; another approver must"
                                          : "; ask one of them to approve it"));
  ApproveOutcome outcome;
  if (std::find(view->tally.counted.begin(), view->tally.counted.end(), as) !=
      view->tally.counted.end()) {
    outcome.already_approved = true;
    outcome.approved = view->tally.approved();
    outcome.view = std::move(view.value());
    return outcome;
  }

  ApprovalRecord record;
  record.plan_id = request.plan_id;
  record.approver = as;
  record.decision = "approve";
  record.comment = request.comment;
  if (policy && !policy->allowed_signers.empty()) {
    if (request.key.empty() && request.signature.empty())
      return Status::Refused("runbook '" + plan->runbook +
                             "' requires signed approvals: add --key PATH, the SSH private key "
                             "that " +
                             policy->allowed_signers + " lists for " + as +
                             " (on runbook serve: paste the signature of the plan hash)");
    std::error_code ec;
    if (!std::filesystem::is_regular_file(policy->allowed_signers, ec)) {
      std::string hint;
      if (std::filesystem::path(plan->runbook_path).is_relative())
        hint = " (plan " + request.plan_id + " was made from the relative path " +
               plan->runbook_path + ": approve from the folder where `runbook plan` ran)";
      return Status::Refused("allowed_signers file " + policy->allowed_signers +
                             " does not exist" + hint);
    }
    Result<std::string> signature = request.signature;
    if (request.signature.empty()) signature = signer_.Sign(request.key, plan->hash);
    if (!signature.ok()) return Status::Refused(signature.message());
    if (Status s = signer_.Verify(policy->allowed_signers, as, plan->hash, *signature); !s.ok())
      return Status::Refused("approval by " + as + " refused: " + s.message() +
                             "; sign with the key listed for " + as +
                             ", or have that key added to " + policy->allowed_signers);
    record.signature = *signature;
    outcome.signed_approval = true;
  } else if (!request.key.empty() || !request.signature.empty()) {
    outcome.key_ignored = true;
  }
  if (Status s = db_.plans().AddApproval(record); !s.ok())
    return s.WithContext("cannot record the approval");

  auto after = View(*plan, /*verify_signatures=*/false);
  if (!after.ok()) return after.status();
  outcome.approved = after->tally.approved();
  if (outcome.approved && plan->status != "approved") {
    if (Status s = db_.plans().SetPlanStatus(request.plan_id, "approved"); !s.ok())
      outcome.status_update = s.WithContext("could not mark plan " + request.plan_id + " approved");
    NotifyFacts facts{.event = NotifyEvent::kApprovalApproved,
                      .runbook = plan->runbook,
                      .environment = after->runbook ? after->runbook->environment : "",
                      .plan_id = request.plan_id,
                      .requested_by = plan->requested_by,
                      .approver = as};
    if (after->runbook)
      outcome.notification_problems =
          ApprovalNotificationProblems(*after->runbook, PlannedParams(*plan), facts, env_);
  }
  outcome.view = std::move(after.value());
  return outcome;
}

Result<PlanRecord> PlanService::Reject(const std::string& plan_id, const std::string& typed_name,
                                       const std::string& comment) {
  if (typed_name.empty() || comment.empty())
    return Status::Invalid("reject needs --as NAME and --comment saying why");
  auto folded = PersonName(typed_name);
  if (!folded.ok()) return folded.status().WithContext("the name (--as)");
  const std::string& name = *folded;
  auto plan = db_.plans().GetPlan(plan_id);
  if (plan.status().IsNotFound())
    return Status::Refused(plan.message() + " (see `runbook plans` for the recorded plans)");
  if (!plan.ok()) return plan.status();
  // The requester may withdraw their plan; otherwise a rejection is a reviewer's decision,
  // so the approvers list applies as it does to approvals. When the stored text no longer
  // loads there is no list to apply, and blocking is always safe.
  auto runbook = LoadPlanRunbook(*plan);
  const ApprovalSpec* policy =
      runbook.ok() && (*runbook)->approval ? &*(*runbook)->approval : nullptr;
  if (name != FoldName(plan->requested_by)) {
    if (std::string problem = ApproverProblem(*plan, policy, name); !problem.empty())
      return Status::Refused(problem + "; only an approver or the requester (" +
                             plan->requested_by + ") can reject it");
  }
  ApprovalRecord record;
  record.plan_id = plan_id;
  record.approver = name;
  record.decision = "reject";
  record.comment = comment;
  if (Status s = db_.plans().AddApproval(record); !s.ok())
    return s.WithContext("cannot record the rejection");
  if (Status s = db_.plans().SetPlanStatus(plan_id, "rejected"); !s.ok())
    return s.WithContext("cannot mark plan " + plan_id + " rejected");
  return std::move(plan.value());
}

Result<std::string> PlanService::CheckApproved(const Runbook& runbook,
                                               const std::map<std::string, std::string>& params,
                                               const std::string& plan_id,
                                               const std::string& operator_name,
                                               const BoundInputs* files) {
  auto plan = db_.plans().GetPlan(plan_id);
  if (plan.status().IsNotFound())
    return Status::Refused(plan.message() + ": make one with `runbook plan " +
                           ShellWord(runbook.path) +
                           " -p ...`, have it approved, then run with --plan (see `runbook "
                           "plans`)");
  if (!plan.ok()) return plan.status();
  if (plan->runbook != runbook.name)
    return Status::Refused("plan " + plan_id + " is for runbook '" + plan->runbook +
                           "', not '" + runbook.name + "'");
  const BoundInputs collected = files ? BoundInputs{} : CollectBoundFiles(runbook, params);
  const std::vector<BoundFile>& now = files ? files->files : collected.files;
  // The stored list is trusted only as far as the hash vouches for it.
  const std::vector<BoundFile> planned_files = PlannedFiles(*plan);
  const std::string hash = PlanHash(runbook, params, now);
  if (hash != plan->hash && PlanHash(runbook, params, planned_files) == plan->hash)
    return Status::Refused(
        ChangedFilesRefusal(*plan, ShellWord(runbook.path), BoundFileChanges(planned_files, now)));
  if (hash != plan->hash) {
    // A `secret: true` param is stored as ***: it is compared through the hash only.
    std::map<std::string, std::string> planned = PlannedParams(*plan);
    for (const ParamSpec& p : runbook.params) {
      auto given = params.find(p.name);
      auto stored = planned.find(p.name);
      if (p.secret && given != params.end() && stored != planned.end()) stored->second = given->second;
    }
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
    if (PlanHash(runbook, planned, planned_files) == plan->hash)
      return Status::Refused("plan " + plan_id + " was approved for other params (" +
                             JoinWords(diffs, "; ") + "); run it as planned: `" +
                             PlanRunCommand(*plan) +
                             "`, or make and approve a new plan for these params");
    const bool has_secret_param =
        std::any_of(runbook.params.begin(), runbook.params.end(),
                    [](const ParamSpec& p) { return p.secret; });
    if (diffs.empty() && has_secret_param)
      return Status::Refused("plan " + plan_id + " does not match: the runbook " + runbook.path +
                             " or the value of a `secret: true` param has changed since it "
                             "was made; give the secret as planned, or make a new plan with "
                             "`runbook plan " + ShellWord(runbook.path) +
                             " ...` and have it approved");
    return Status::Refused("runbook " + runbook.path + " has changed since plan " + plan_id +
                           " was made (its text no longer matches the plan hash" +
                           (diffs.empty() ? "" : "; params differ too: " + JoinWords(diffs, "; ")) +
                           "); make a new plan for the current text with `runbook plan " +
                           ShellWord(runbook.path) + " ...` and have it approved");
  }
  if (plan->status == kPlanExecuted)
    return Status::Refused("plan " + plan_id + " is used up: a run of it succeeded (see `runbook "
                           "plans show " + plan_id + "`); an approval is for one change, so "
                           "make a new plan with `runbook plan " + ShellWord(runbook.path) +
                           " ...` and have it approved");
  if (plan->status == kPlanPruned)
    return Status::Refused("plan " + plan_id + " was pruned unused (`runbook plans prune`); make "
                           "a new plan with `runbook plan " + ShellWord(runbook.path) +
                           " ...` and have it approved");
  auto view = View(*plan, /*verify_signatures=*/false);
  if (!view.ok()) return Status::Refused(view.message());
  if (view->rejected()) {
    const auto& r = view->tally.rejection;
    return Status::Refused("plan " + plan_id + " was rejected" +
                           (r ? " by " + r->approver + " at " + r->created_at +
                                    (r->comment.empty() ? "" : " (\"" + r->comment + "\")")
                              : "") +
                           "; it can no longer run: fix what was wrong and make a new plan");
  }
  // The policy comes from the runbook being run, whose text the hash just proved to be the
  // planned one; its paths are resolved from where it is now.
  const ApprovalSpec* policy = runbook.approval ? &*runbook.approval : nullptr;
  if (!policy)
    return "plan " + plan_id + " matches this runbook and these params; runbook '" +
           runbook.name + "' needs no approval";
  const ApprovalTally tally =
      TallyApprovals(*plan, view->decisions, policy, runbook.environment, env_.Now(), &signer_);
  if (tally.approved())
    return "plan " + plan_id + " approved by " + JoinWords(tally.counted) + " (" +
           ApprovalCountText(tally) + "); " + operator_name + " runs it";
  std::string why = "plan " + plan_id + " has " + ApprovalCountText(tally) + " that count";
  if (static_cast<int>(tally.counted.size()) < tally.required)
    why += "; it needs " + StillNeeded(*plan, policy, tally);
  for (const RuleTally& rule : tally.rules)
    if (!rule.met()) why += "\n  rule not met: " + rule.Describe();
  for (const std::string& line : tally.not_counted) why += "\n  does not count: " + line;
  why += "\nnext: each approver runs `runbook approve " + plan_id + " --as NAME" +
         (policy->allowed_signers.empty() ? "" : " --key SSH_KEY") + "`";
  return Status::Refused(why);
}

}  // namespace runbook
