#include "app/recover.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <thread>

#include "app/crash_hook.h"
#include "app/lock_heartbeat.h"
#include "app/maintenance_record.h"
#include "app/plan_history.h"
#include "app/run_notifications.h"
#include "engine/exit_code.h"
#include "engine/loader.h"
#include "engine/run_history.h"
#include "engine/state_machine.h"
#include "steps/process.h"
#include "steps/step_runners.h"
#include "steps/webhook_sender.h"

namespace runbook {

int RecoverReport::recovered() const {
  return static_cast<int>(
      std::count_if(runs.begin(), runs.end(), [](const RecoveredRun& r) { return r.recovered; }));
}

RecoverService::RecoverService(AuditStore& db, const Environment& env, NoteSink notes)
    : db_(db), env_(env), notes_(std::move(notes)) {}

RecoverReport RecoverService::RecoverAll(Reporter& reporter, const std::string& operator_name) {
  RecoverReport report;
  auto runs = db_.events().LastRunningRuns();
  if (!runs.ok()) {
    RecoveredRun failed;
    failed.status = runs.status();
    report.runs.push_back(failed);
    report.exit_code = ExitCodeFor(runs.status());
    return report;
  }
  // Records that wait in the journal (a full disk) may be the end of one of these runs, or
  // what it did last: recover needs the whole record to know what to undo, and must not roll
  // back a run twice.
  Result<int> waiting = runs->empty() ? Result<int>(0) : db_.JournalRecords();
  if (waiting.ok() && *waiting > 0) {
    const Status& why = db_.journal_replay().status;
    RecoveredRun refused;
    refused.status = Status::Refused(
        std::to_string(*waiting) + " audit record" + (*waiting == 1 ? "" : "s") +
        " wait in the journal " + db_.journal_path() +
        " because the audit database cannot be written" +
        (why.ok() ? std::string() : " (" + why.message() + ")") +
        "; recover needs them to know what to undo: free space on its disk and run recover "
        "again");
    report.runs.push_back(refused);
    report.exit_code = ExitCodeFor(refused.status);
    return report;
  }
  const std::string host = LocalHostName();
  for (const StoredRun& listed : *runs) {
    // A store that tells a dead holder on another machine by its heartbeats (PostgreSQL)
    // lets ClaimForRecovery decide; otherwise only this machine's runs can be judged here.
    const bool remote = listed.host != host;
    if (remote && db_.locks().heartbeat_interval().count() == 0) {
      notes_("recover: run " + listed.run_id + " ran on " + listed.host + "; recover it there");
      continue;
    }
    if (!remote && ProcessAlive(listed.pid, "")) {
      notes_("recover: run " + listed.run_id + " is still running (pid " +
             std::to_string(listed.pid) + "); leaving it alone");
      continue;
    }
    if (IsMaintenanceRecord(listed.runbook)) {
      // A `plans prune` or a web action record cut short: there is nothing to roll back, only
      // the record to end.
      const std::string what =
          "`" + listed.runbook.substr(1, listed.runbook.size() - 2) + "` record " + listed.run_id;
      if (remote) {
        notes_("recover: the " + what + " of " + listed.host + " is unfinished; run recover there");
        continue;
      }
      Status s = listed.runbook == kPlansPruneRecord
                     ? EndInterruptedPrune(db_, env_, listed.run_id)
                     : EndMaintenanceRecord(db_, env_, listed.run_id, "aborted",
                                            "the server stopped while recording this action");
      if (!s.ok()) {
        notes_("recover: " + s.message());
      } else {
        notes_("recover: ended the interrupted " + what + " (aborted)");
      }
      continue;
    }
    RecoveredRun r = RecoverOne(listed, reporter, operator_name);
    report.exit_code = std::max(
        report.exit_code, r.recovered ? r.summary.exit_code : static_cast<int>(ExitCodeFor(r.status)));
    report.runs.push_back(std::move(r));
  }
  return report;
}

RecoveredRun RecoverService::RecoverOne(const StoredRun& listed, Reporter& reporter,
                                        const std::string& operator_name) {
  RecoveredRun out;
  out.run_id = listed.run_id;
  auto run = db_.events().GetRun(listed.run_id);
  auto events = db_.events().Events(listed.run_id);
  if (!run.ok() || !events.ok()) {
    out.status = Status::Invalid(run.ok() ? events.message() : run.message());
    return out;
  }
  const std::string host = LocalHostName();
  const int pid = static_cast<int>(getpid());
  // One recover at a time: claim the run's lock (a dry run has none: a key of its own) in one
  // transaction that also checks the run is still unfinished.
  const std::string claim_key = run->lock_key.empty() ? "recover/" + run->run_id : run->lock_key;
  auto claim = db_.locks().ClaimForRecovery(claim_key, run->run_id, pid, host);
  if (!claim.ok()) {
    out.status = claim.status().WithContext("run " + run->run_id);
    return out;
  }
  switch (claim->outcome) {
    case RecoveryClaim::Outcome::kClaimed:
      // Room for the rollback's records should the disk fill up (docs/audit.md).
      if (Status s = db_.ReserveJournal(); !s.ok()) notes_("recover: note: " + s.message());
      break;
    case RecoveryClaim::Outcome::kFinished:
      notes_("recover: run " + run->run_id + " has already been finished by another recover");
      return out;
    case RecoveryClaim::Outcome::kBeingRecovered:
      // The live holder may be the run's own executor on another machine, alive by its
      // heartbeat: that run is not being recovered, it is running.
      if (claim->holder.pid == run->pid && claim->holder.host == run->host) {
        notes_("recover: run " + run->run_id + " is still running (pid " +
               std::to_string(run->pid) + " on " + run->host + "); leaving it alone");
        return out;
      }
      notes_("recover: run " + run->run_id + " is being recovered by pid " +
             std::to_string(claim->holder.pid) + " on " + claim->holder.host +
             "; leaving it to that one");
      return out;
    case RecoveryClaim::Outcome::kHeldByOtherRun:
      out.status = Status::Refused("run " + run->run_id + ": lock '" + claim_key +
                                   "' is held by run " + claim->holder.run_id +
                                   "; not recovering it now");
      return out;
  }
  const std::string dir = std::filesystem::path(run->runbook_path).parent_path().string();
  LoadResult loaded =
      LoadRunbookText(run->runbook_text, run->runbook_path, dir.empty() ? "." : dir);
  if (!loaded.ok()) {
    std::string why;
    for (const auto& d : loaded.diagnostics) why += d.ToString() + "\n";
    out.status = Status::Invalid(why + "run " + run->run_id +
                                 ": its recorded runbook no longer loads");
    return out;
  }
  Runbook& rb = *loaded.runbook;
  std::map<std::string, std::string> params;
  for (const auto& [k, v] : run->params.items())
    if (v.is_string()) params[k] = v.get<std::string>();
  if (Status bound = BindTargets(&rb, params); !bound.ok()) {
    out.status = Status::Invalid("run " + run->run_id + ": " + bound.message());
    return out;
  }
  auto secrets = ResolveSecrets(rb);
  if (!secrets.ok()) {
    out.status = Status::Invalid("run " + run->run_id +
                                 ": the rollback needs its secrets: " + secrets.message());
    return out;
  }
  const ResumePoint point = ReadRunHistory(ViewsOf(*events), run->pid).resume;
  const StateMachine machine = StateMachine::Compile(rb);
  const int state = machine.Find(point.state);
  Duration grace{5000};
  if (state >= 0 && machine.state(state).step) grace = machine.state(state).step->kill_grace;
  if (run->host == host) {
    StopInterruptedProcesses(point.processes, grace);
  } else if (!point.processes.empty()) {
    // A pid names a process only on its own machine: here it could be a stranger's.
    notes_("recover: the interrupted step ran on " + run->host +
           "; its processes there cannot be stopped from " + host +
           ": check that machine (if it is up) before trusting the rollback");
  }

  RunOptions options;
  options.run_id = run->run_id;
  options.params = params;
  options.secrets = *secrets;
  options.operator_name = operator_name;
  options.host = host;
  options.pid = pid;
  options.plan_id = run->plan_id;
  options.lock_key = run->lock_key;
  std::unique_ptr<StepRunner> runner = MakeStepRunner({.restore_dir = db_.restore_dir()});
  CancelFlag interrupt, hard_stop;  // recover itself is not interruptible mid-rollback
  CrashHookSink audit(db_.events(), env_);
  // The runbook's webhooks hear how the run ended, as they would have from its own executor.
  std::unique_ptr<WebhookSender> sender = MakeWebhookSender();
  RunOptions notified = options;
  notified.dry_run = run->dry_run;
  std::unique_ptr<Notifier> notifier = MakeRunNotifier(*sender, rb, notified, env_);
  NotifyingSink notifying(audit, *notifier, env_, rb.environment);
  notifying.Resuming(run->run_id, run->runbook, run->operator_name, run->plan_id);
  AuditSink& sink = notifier->empty() ? static_cast<AuditSink&>(audit) : notifying;
  Executor executor(rb, machine, *runner, sink, env_, reporter, {&interrupt, &hard_stop});
  {
    LockHeartbeat heartbeat(db_.locks(), claim_key, run->run_id, pid, host, true);
    out.summary = executor.Resume(options, point);
  }
  out.kept_for_rollback = ForgetKeptObjects(db_.restore_dir(), out.summary);
  (void)db_.locks().Unlock(claim_key, run->run_id);
  out.recovered = true;
  return out;
}

void RecoverService::StopInterruptedProcesses(const std::vector<ProcessStartedDetail>& processes,
                                              Duration grace) {
  for (const ProcessStartedDetail& p : processes) {
    const std::string group = "process group " + std::to_string(p.pgid);
    // Only a group whose leader is provably the recorded process is signalled: the same pid
    // in the same boot with the same start time. Anything else may be a stranger that got
    // the id after the step's processes were gone.
    if (p.pid != p.pgid) {  // not written by RunProcess, whose children lead their groups
      notes_("recover: " + group + " was recorded with another leader (pid " +
             std::to_string(p.pid) + "); not signalling it");
      continue;
    }
    if (p.boot_id.empty() || p.start_time <= 0) {
      notes_("recover: " + group + " was recorded without what identifies it (boot id, " +
             "start time), by an older runbook: it cannot be told apart from a process that " +
             "reused its id, so it is not signalled and counts as gone; if it still runs, " +
             "end it by hand");
      continue;
    }
    if (p.boot_id != CurrentBootId()) {
      notes_("recover: " + group + " ran before this machine rebooted: nothing of it runs " +
             "now; not signalling it");
      continue;
    }
    const ProcessIdentity leader{.pid = p.pid, .boot_id = p.boot_id, .start_time = p.start_time};
    if (!SameProcess(leader)) {
      if (IdentifyProcess(p.pid).start_time != 0) {
        notes_("recover: " + group + " has ended; pid " + std::to_string(p.pid) +
               " now belongs to another process, which is left alone");
      }
      continue;
    }
    ProcessTree tree(leader, /*adopt_orphans=*/false);
    if (tree.Ended()) continue;  // a zombie leader and nothing else left
    notes_("recover: stopping " + group + " of the interrupted step");
    tree.Terminate();
    const auto deadline = env_.Monotonic() + grace;
    const CancelFlag never;
    while (!tree.Ended() && env_.Monotonic() < deadline) env_.Sleep(Duration(50), never);
    if (!tree.Ended()) tree.Kill();
  }
}

}  // namespace runbook
