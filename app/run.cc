#include "app/run.h"

#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "app/bound_files.h"
#include "app/crash_hook.h"
#include "app/lock_heartbeat.h"
#include "app/log_audit_sink.h"
#include "app/plans.h"
#include "app/run_notifications.h"
#include "engine/loader.h"
#include "engine/state_machine.h"
#include "steps/step_runners.h"
#include "steps/webhook_sender.h"

namespace runbook {
namespace {

// The refusal for a lock held by someone else. `waiting` records in the journal may hold
// a dead holder's release.
Status LockHeld(const std::string& key, const LockHolder& h, int waiting,
                const std::string& journal) {
  if (!h.alive && waiting > 0)
    return Status::Refused("lock '" + key + "' is held by run " + h.run_id +
                           ", whose executor (pid " + std::to_string(h.pid) + " on " + h.host +
                           ") is gone; " + std::to_string(waiting) + " audit record" +
                           (waiting == 1 ? "" : "s") +
                           " (its release among them, perhaps) wait in the journal " + journal +
                           " because the audit database cannot be written: free space on its "
                           "disk and try again");
  if (h.alive)
    return Status::Refused("lock '" + key + "' is held by run " + h.run_id + " (pid " +
                           std::to_string(h.pid) + " on " + h.host + ", since " +
                           h.acquired_at + "); wait for it to finish, or see `runbook runs`");
  return Status::Refused("lock '" + key + "' is held by run " + h.run_id + ", whose executor (pid " +
                         std::to_string(h.pid) + " on " + h.host +
                         ") is gone; run `runbook recover` to roll that run back and free the "
                         "lock");
}

}  // namespace

std::string NewRunId(std::chrono::system_clock::time_point now) {
  char stamp[32];
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  unsigned char r[3];
  if (getrandom(r, sizeof r, 0) != static_cast<ssize_t>(sizeof r)) r[0] = r[1] = r[2] = 0;
  char suffix[8];
  std::snprintf(suffix, sizeof suffix, "%02x%02x%02x", r[0], r[1], r[2]);
  return std::string(stamp) + "-" + suffix;
}

nlohmann::json RunSummaryJson(const RunSummary& s) {
  nlohmann::json steps = nlohmann::json::array();
  for (const StepSummary& st : s.steps) {
    nlohmann::json j = {{"id", st.id},
                        {"name", st.name},
                        {"phase", PhaseName(st.phase)},
                        {"state", st.state},
                        {"attempts", st.attempts},
                        {"duration_ms", st.duration.count()}};
    if (!st.error.empty()) j["error"] = st.error;
    if (!st.undoes.empty()) j["undoes"] = st.undoes;
    steps.push_back(j);
  }
  nlohmann::json out = {{"run_id", s.run_id},   {"runbook", s.runbook},
                        {"state", s.state},     {"exit_code", s.exit_code},
                        {"dry_run", s.dry_run}, {"duration_ms", s.duration.count()},
                        {"steps", steps},       {"failed_hosts", s.failed_hosts}};
  if (!s.hosts.empty()) out["hosts"] = s.hosts;
  if (!s.error.empty()) out["error"] = s.error;
  if (s.audit_write_failures > 0) out["audit_write_failures"] = s.audit_write_failures;
  if (!s.audit_journal.empty()) out["audit_journal"] = s.audit_journal;
  return out;
}

PreparedRun::PreparedRun(LockStore& locks, std::unique_ptr<Runbook> runbook, RunOptions options,
                         bool locked)
    : locks_(locks), runbook_(std::move(runbook)), options_(std::move(options)), locked_(locked) {}

PreparedRun::~PreparedRun() { (void)Unlock(); }

Status PreparedRun::Unlock(bool* journaled) {
  if (!locked_) return Status::Ok();
  locked_ = false;
  Status s = locks_.Unlock(runbook_->lock, options_.run_id, journaled);
  return s.WithContext("could not release lock '" + runbook_->lock + "'");
}

std::vector<std::string> UnconfirmedItems(const Runbook& runbook,
                                          const std::vector<std::string>& confirmed) {
  std::vector<std::string> missing;
  for (const std::string& item : runbook.checklist)
    if (std::find(confirmed.begin(), confirmed.end(), item) == confirmed.end())
      missing.push_back(item);
  return missing;
}

namespace {

/// Every checklist item must be confirmed before anything runs (SPEC §5, "The change request
/// is the runbook template"); a dry run changes nothing and needs none.
Status CheckChecklist(const Runbook& rb, const std::vector<std::string>& confirmed,
                      bool dry_run) {
  for (const std::string& item : confirmed) {
    if (std::find(rb.checklist.begin(), rb.checklist.end(), item) == rb.checklist.end())
      return Status::Invalid("--confirm " + item + ": runbook '" + rb.name +
                             "' has no such checklist item" +
                             (rb.checklist.empty() ? " (it has no checklist)" : ""));
  }
  const std::vector<std::string> missing = UnconfirmedItems(rb, confirmed);
  if (missing.empty() || dry_run) return Status::Ok();
  std::string list, flags;
  for (const std::string& item : missing) {
    list += (list.empty() ? "" : ", ") + item;
    flags += " --confirm " + item;
  }
  return Status::Refused("the checklist of runbook '" + rb.name + "' is not confirmed: " + list +
                         "; do each item, then run again with" + flags +
                         " (or on a terminal, to be asked)");
}

}  // namespace

RunService::RunService(AuditStore& db, Signer& signer, const Environment& env)
    : db_(db), signer_(signer), env_(env) {}

RunStart RunService::Prepare(RunRequest request) {
  RunStart start;
  const Runbook& rb = *request.runbook;
  auto secrets = ResolveSecrets(rb);
  if (!secrets.ok()) {
    start.status = Status::Invalid(secrets.message());
    return start;
  }
  if (rb.approval && !request.dry_run && request.plan_id.empty()) {
    start.status = Status::Refused(
        "runbook '" + rb.name + "' needs an approved plan: run `runbook plan " + request.file +
        " -p ...`, have it approved, then `runbook run " + request.file + " --plan PLAN_ID`");
    return start;
  }
  if (Status s = CheckChecklist(rb, request.confirmed, request.dry_run); !s.ok()) {
    start.status = s;
    return start;
  }
  // Read once: what the plan is checked against is what run_started records.
  BoundInputs files = CollectBoundFiles(rb, request.params);
  if (!request.plan_id.empty()) {
    PlanService plans(db_, signer_, env_);
    auto verdict =
        plans.CheckApproved(rb, request.params, request.plan_id, request.operator_name, &files);
    if (!verdict.ok()) {
      start.status = verdict.status();
      return start;
    }
    start.notes.push_back(*verdict);
  }
  if (!files.errors.empty()) {
    start.status = Status::Invalid("the run cannot start: " + JoinWords(files.errors, "; "));
    return start;
  }

  RunOptions options;
  options.run_id = NewRunId(env_.Now());
  options.params = request.params;
  options.secrets = std::move(*secrets);
  options.dry_run = request.dry_run;
  options.operator_name = request.operator_name;
  options.host = LocalHostName();
  options.pid = static_cast<int>(getpid());
  options.plan_id = request.plan_id;
  options.lock_key = rb.lock;
  options.confirmed = request.confirmed;
  options.files = std::move(files.files);
  bool locked = false;
  if (!request.dry_run) {
    auto lock = db_.locks().TryLock(rb.lock, options.run_id, options.pid, options.host);
    if (!lock.ok()) {
      start.status = Status::Refused("cannot take lock '" + rb.lock + "': " + lock.message());
      return start;
    }
    if (!lock->acquired) {
      Result<int> journaled = lock->holder.alive ? Result<int>(0) : db_.JournalRecords();
      const int waiting = journaled.ok() ? *journaled : 0;
      start.status = LockHeld(rb.lock, lock->holder, waiting, db_.journal_path());
      return start;
    }
    locked = true;
  }
  // Room for this run's records should the disk fill up while it runs (docs/audit.md).
  if (Status s = db_.ReserveJournal(); !s.ok())
    start.notes.push_back("note: no room set aside for audit records: " + s.message());
  start.run.reset(new PreparedRun(db_.locks(), std::move(request.runbook), std::move(options), locked));
  return start;
}

RunResult RunService::Execute(PreparedRun& run, Reporter& reporter, Interruption interruption,
                              LogSink* log) {
  const StateMachine machine = StateMachine::Compile(*run.runbook_);
  std::unique_ptr<StepRunner> runner = MakeStepRunner({.restore_dir = db_.restore_dir()});
  LoggingAuditSink logged(db_.events(), log);  // inside the crash hook: logged before a kill
  CrashHookSink hooked(logged, env_);
  // On a store several machines share, the run stops when its lock or its records are in
  // doubt (app/lock_heartbeat.h): it starts nothing more and rolls back what it did.
  const bool shared = db_.locks().heartbeat_interval().count() > 0;
  OutOfReachGuard audit(hooked, interruption.interrupt, shared);
  // Webhooks of `notify:` hear of the run's start and end; their outcome goes in its chain.
  std::unique_ptr<WebhookSender> sender = MakeWebhookSender();
  std::unique_ptr<Notifier> notifier =
      MakeRunNotifier(*sender, *run.runbook_, run.options_, env_);
  NotifyingSink notifying(audit, *notifier, env_, run.runbook_->environment);
  AuditSink& sink = notifier->empty() ? static_cast<AuditSink&>(audit) : notifying;
  Executor executor(*run.runbook_, machine, *runner, sink, env_, reporter, interruption);
  RunResult result;
  {
    LockHeartbeat heartbeat(db_.locks(), run.runbook_->lock, run.options_.run_id, run.options_.pid,
                            run.options_.host, run.locked_, interruption.interrupt);
    result.summary = executor.Run(run.options_);
    result.heartbeat_problem = heartbeat.problem();
  }
  result.kept_for_rollback = ForgetKeptObjects(db_.restore_dir(), result.summary);
  // Used up before the lock is released, so that no second run can slip in between.
  if (!run.options_.plan_id.empty() && !run.options_.dry_run &&
      result.summary.state == "succeeded") {
    result.plan_status = db_.plans().SetPlanStatus(run.options_.plan_id, kPlanExecuted);
    if (!result.plan_status.ok())
      result.plan_status = result.plan_status.WithContext(
          "could not mark plan " + run.options_.plan_id + " used up");
  }
  result.unlock_status = run.Unlock(&result.unlock_journaled);
  return result;
}

}  // namespace runbook
