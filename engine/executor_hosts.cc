// The executor's part in per-host failures of ssh steps (SPEC §5 "Partial failures are visible
// and undone where they happened"; docs/ssh.md "When a host fails"):
//   - a host that fails while its step succeeds (within max_fail) is recorded (host_failed)
//     and gets the step's ssh rollback actions at once, there only;
//   - every later ssh step leaves it out (host_skipped, before the step's first attempt);
//   - the run's rollback of a step runs only where the step ran, and not again where its
//     action already ran at once.
// Every decision is taken from the HostLedger, which folds the events as written, so that
// `recover` (which folds the recorded ones) decides the same.
#include <algorithm>
#include <set>

#include "engine/executor.h"

namespace runbook {
namespace {

std::string JoinHosts(const std::vector<std::string>& hosts) {
  std::string out;
  for (const std::string& h : hosts) out += (out.empty() ? "" : ", ") + h;
  return out;
}

// The target port of the step `id` when it is an ssh step, else 22.
int PortOfStep(const Runbook& rb, const std::string& id) {
  for (const auto* list : {&rb.prechecks, &rb.steps, &rb.verify})
    for (const StepSpec& s : *list)
      if (s.id == id)
        if (const auto* ssh = std::get_if<SshAction>(&s.action)) return ssh->resolved.port;
  return 22;
}

}  // namespace

Executor::HostPlan Executor::PlanHosts(const State& state, const StepSpec& step, Phase phase) {
  HostPlan plan;
  const auto* ssh = std::get_if<SshAction>(&step.action);
  if (ssh == nullptr || state.auto_rollback) return plan;
  const std::vector<std::string>& target = ssh->resolved.hosts;
  std::lock_guard<std::mutex> lock(mu_);

  if (phase != Phase::kRollback) {
    // Hosts that failed earlier within max_fail were undone there: nothing later runs there.
    for (const std::string& host : target) {
      for (const auto& [failed, in_step] : ledger_.LeftOut()) {
        if (!SameSshHost(host, ssh->resolved.port, failed, PortOfStep(runbook_, in_step))) continue;
        plan.skipped.push_back({.host = host,
                                .reason = "left out: it failed in step " + in_step,
                                .failed_in = in_step,
                                .undone_by = ""});
        break;
      }
    }
    for (const std::string& host : target) {
      const bool skipped = std::any_of(plan.skipped.begin(), plan.skipped.end(),
                                       [&](const HostSkippedDetail& s) { return s.host == host; });
      if (!skipped) plan.run_on.push_back(host);
    }
    plan.narrowed = !plan.skipped.empty();
    return plan;
  }

  // A rollback of an ssh step runs where that step reached (the runner filters on the
  // result's hosts), minus the hosts where this action already ran at once. Without a
  // recorded result (the executor died during the step) it runs on every host but those
  // the step left out.
  if (state.undoes == nullptr || KindOf(state.undoes->action) != ActionKind::kSsh) return plan;
  const std::set<std::string> left_out = ledger_.LeftOutBy(state.undoes->id);
  auto recorded = results_.find(state.undoes->id);
  if (recorded == results_.end()) {
    for (const std::string& host : target) {
      if (!left_out.count(host)) {
        plan.run_on.push_back(host);
        continue;
      }
      plan.skipped.push_back({.host = host,
                              .reason = "step " + state.undoes->id + " left it out",
                              .failed_in = "",
                              .undone_by = ""});
    }
    plan.narrowed = !plan.skipped.empty();
    return plan;
  }
  const std::set<std::string> undone = ledger_.UndoneAtOnce(step.id);
  StepResult narrowed = recorded->second;
  std::set<std::string> reached;
  for (HostResult& h : narrowed.hosts) {
    if (!h.reached) continue;
    if (undone.count(h.host)) {
      h.reached = false;
      plan.skipped.push_back({.host = h.host,
                              .reason = "already undone: " + step.id + " ran there when it failed",
                              .failed_in = "",
                              .undone_by = step.id});
      continue;
    }
    reached.insert(h.host);
  }
  for (const std::string& host : target)
    if (reached.count(host)) plan.run_on.push_back(host);
  plan.undoing = std::move(narrowed);
  plan.narrowed = plan.run_on.size() != target.size();
  return plan;
}

void Executor::RecordSkippedHosts(const StepSpec& step, Phase phase, const HostPlan& plan) {
  for (const HostSkippedDetail& skipped : plan.skipped) {
    (void)Emit({{}, EventKind::kHostSkipped, PhaseName(phase), step.id, "", "", 0, skipped});
  }
}

std::string Executor::UndoFailedHosts(const StepSpec& step, Phase phase, const StepResult& result) {
  std::vector<const HostResult*> failed;
  for (const HostResult& h : result.hosts)
    if (!h.ok) failed.push_back(&h);
  if (failed.empty()) return "";

  // The step's ssh rollback actions, each with the failed hosts of its target that the step
  // reached. Only ssh actions are per host: an action of another kind undoes what the step
  // did as a whole, which stands for the hosts that succeeded; it runs if the whole run rolls
  // back. Prechecks and checks change nothing and have no rollback.
  std::vector<std::pair<const State*, HostPlan>> undo;
  for (const State& state : machine_.states()) {
    if (phase != Phase::kStep || state.kind != StateKind::kStepRollback || state.undoes != &step ||
        state.auto_rollback)
      continue;
    const auto* ssh = std::get_if<SshAction>(&state.step->action);
    if (ssh == nullptr) continue;
    HostPlan plan;
    for (const std::string& host : ssh->resolved.hosts)
      for (const HostResult* h : failed)
        if (h->reached && h->host == host) plan.run_on.push_back(host);
    if (plan.run_on.empty()) continue;
    plan.narrowed = true;
    plan.only = plan.run_on;
    StepResult only_failed = result;
    std::erase_if(only_failed.hosts, [&](const HostResult& h) {
      return std::find(plan.only.begin(), plan.only.end(), h.host) == plan.only.end();
    });
    plan.undoing = std::move(only_failed);
    undo.emplace_back(&state, std::move(plan));
  }

  for (const HostResult* h : failed) {
    // Durable before the rollback runs there and before any later step leaves it out.
    (void)Emit({{},
                EventKind::kHostFailed,
                PhaseName(phase),
                step.id,
                "",
                "",
                0,
                HostFailedDetail{.host = h->host,
                                 .error = h->error,
                                 .exit_status = h->exit_status,
                                 .reached = h->reached}});
    const bool undone_here = std::any_of(undo.begin(), undo.end(), [&](const auto& u) {
      return std::find(u.second.only.begin(), u.second.only.end(), h->host) != u.second.only.end();
    });
    std::lock_guard<std::mutex> lock(mu_);
    reporter_.Note(step.id + ": " + h->host + " failed (" + redactor_.Redact(h->error) +
                   ") within max_fail: " +
                   (undone_here ? "the step's rollback runs there now, and it is left out of "
                                : "it is left out of ") +
                   "every later step");
  }

  std::vector<std::string> failures;
  std::vector<std::string> undone_hosts;
  for (const auto& [state, plan] : undo) {
    for (const std::string& host : plan.only)
      if (std::find(undone_hosts.begin(), undone_hosts.end(), host) == undone_hosts.end())
        undone_hosts.push_back(host);
    if (RunStep(*state, *state->step, Phase::kRollback, &plan).ok) continue;
    rollback_failed_ = true;
    const StepSummary* s = Summary(state->step->id, Phase::kRollback);
    failures.push_back(state->step->id + " on " + JoinHosts(plan.only) +
                       (s && !s->error.empty() ? ": " + s->error : ""));
  }
  if (failures.empty()) return "";
  std::string error =
      "failed within max_fail on " + JoinHosts(undone_hosts) + ", and undoing it there failed: ";
  for (size_t i = 0; i < failures.size(); ++i) error += (i ? "; " : "") + failures[i];
  std::lock_guard<std::mutex> lock(mu_);
  reporter_.Note(step.id + " counts as failed after all: " + redactor_.Redact(error));
  return error;
}

void Executor::AddHosts(RunSummary* summary) {
  std::lock_guard<std::mutex> lock(mu_);
  summary->failed_hosts = ledger_.FailedHosts();
  summary->hosts = ledger_.Tally();
}

}  // namespace runbook
