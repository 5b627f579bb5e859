// `runbook recover`: finishes the runs whose executor died. For each unfinished run whose
// process is gone it ends any surviving process group of the interrupted step (its pgid is in
// the audit log from the moment it started), rebuilds what the run had learned (step outputs,
// hosts reached, recorded revisions) from the audit log, and lets the executor walk the rest
// of the state machine as an interruption: roll back, finish the run, free the lock.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "cli/commands.h"
#include "cli/console_reporter.h"
#include "engine/executor.h"
#include "engine/state_machine.h"
#include "steps/step_runners.h"

namespace runbook::cli {
namespace {

bool GroupExists(int pgid) { return pgid > 1 && (kill(-pgid, 0) == 0 || errno == EPERM); }

// SIGTERM to the group, then SIGKILL after `grace`.
void EndGroup(int pgid, Duration grace) {
  if (!GroupExists(pgid)) return;
  std::fprintf(stderr, "recover: stopping process group %d of the interrupted step\n", pgid);
  kill(-pgid, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (GroupExists(pgid) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  if (GroupExists(pgid)) kill(-pgid, SIGKILL);
}

bool IsStepEnd(const std::string& e) {
  return e == "step_succeeded" || e == "step_failed" || e == "step_skipped" ||
         e == "rollback_succeeded" || e == "rollback_failed";
}

std::string TrimNewlines(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

// What the audit log says about where the run stood and what it had learned.
ResumePoint ReadResumePoint(const StoredRun& run, const std::vector<StoredEvent>& events,
                            std::vector<int>* pgids) {
  ResumePoint p;
  p.dead_pid = run.pid;
  p.state = "pending";
  int64_t state_seq = 0;
  std::string state_step;
  for (const StoredEvent& e : events) {
    if (e.event == "state_changed") {
      p.state = e.to;
      state_seq = e.seq;
      state_step = e.step;
      p.step_finished = false;
      p.step_ok = false;
      pgids->clear();
    }
    if (e.seq > state_seq && e.step == state_step && !state_step.empty()) {
      if (IsStepEnd(e.event)) {
        p.step_finished = true;
        p.step_ok = e.event == "step_succeeded" || e.event == "rollback_succeeded" ||
                    e.event == "step_skipped";
      }
      if (e.event == "process_started" && e.detail.contains("pgid") &&
          e.detail["pgid"].is_number_integer())
        pgids->push_back(e.detail["pgid"].get<int>());
    }
    if (e.event == "rollback_failed") p.rollback_failed = true;
    if (e.event == "step_failed" && p.cause.empty())
      p.cause = e.step + ": " + (e.detail.is_object() ? e.detail.value("error", "") : "");
    if (e.event == "attempt_finished" && e.detail.is_object()) {
      auto& v = p.values[e.step];
      v.stdout_text = TrimNewlines(e.detail.value("stdout", ""));
      v.stderr_text = TrimNewlines(e.detail.value("stderr", ""));
      StepResult& r = p.results[e.step];
      r.exit_status = e.detail.value("exit_status", -1);
      r.outcome = e.detail.value("outcome", "") == "succeeded" ? StepResult::Outcome::kSucceeded
                                                               : StepResult::Outcome::kFailed;
      r.hosts.clear();
      if (e.detail.contains("hosts") && e.detail["hosts"].is_array()) {
        for (const auto& h : e.detail["hosts"]) {
          HostResult hr;
          hr.host = h.value("host", "");
          hr.ok = h.value("ok", false);
          hr.reached = h.value("reached", false);
          hr.exit_status = h.value("exit_status", -1);
          r.hosts.push_back(hr);
        }
      }
      if (e.detail.contains("undo_state")) r.undo_state = e.detail["undo_state"];
    }
    if (e.event == "step_succeeded" && e.detail.is_object() && e.detail.contains("outputs") &&
        e.detail["outputs"].is_object()) {
      for (const auto& [k, v] : e.detail["outputs"].items())
        if (v.is_string()) p.values[e.step].outputs[k] = v.get<std::string>();
    }
  }
  return p;
}

}  // namespace

int Recover(const GlobalOptions& global, bool json) {
  std::unique_ptr<AuditStore> store = OpenAudit(global);
  if (!store) return kExitInvalid;
  auto runs = store->LastRunningRuns();
  if (!runs.ok()) {
    PrintError(runs.message());
    return kExitInvalid;
  }
  const std::string host = LocalHostName();
  const int pid = static_cast<int>(getpid());
  int code = kExitOk;
  int recovered = 0;
  for (const StoredRun& listed : *runs) {
    if (listed.host != host) {
      std::fprintf(stderr, "recover: run %s ran on %s; recover it there\n", listed.run_id.c_str(),
                   listed.host.c_str());
      continue;
    }
    if (ProcessAlive(listed.pid, "")) {
      std::fprintf(stderr, "recover: run %s is still running (pid %d); leaving it alone\n",
                   listed.run_id.c_str(), listed.pid);
      continue;
    }
    auto run = store->GetRun(listed.run_id);
    auto events = store->Events(listed.run_id);
    if (!run.ok() || !events.ok()) {
      PrintError(run.ok() ? events.message() : run.message());
      code = kExitInvalid;
      continue;
    }
    if (!run->lock_key.empty()) {
      auto lock = store->TryLock(run->lock_key, run->run_id, pid, host);
      if (!lock.ok() || !lock->acquired) {
        PrintError("run " + run->run_id + ": lock '" + run->lock_key +
                   "' is held by another run; not recovering it now");
        code = kExitRefused;
        continue;
      }
    }
    const std::string dir = std::filesystem::path(run->runbook_path).parent_path().string();
    LoadResult loaded = LoadRunbookText(run->runbook_text, run->runbook_path, dir.empty() ? "." : dir);
    if (!loaded.ok()) {
      for (const auto& d : loaded.diagnostics) std::fprintf(stderr, "%s\n", d.ToString().c_str());
      PrintError("run " + run->run_id + ": its recorded runbook no longer loads");
      code = kExitInvalid;
      continue;
    }
    const Runbook& rb = *loaded.runbook;
    auto secrets = ResolveSecrets(rb);
    if (!secrets.ok()) {
      PrintError("run " + run->run_id + ": the rollback needs its secrets: " + secrets.message());
      code = kExitInvalid;
      continue;
    }
    std::vector<int> pgids;
    ResumePoint point = ReadResumePoint(*run, *events, &pgids);
    const StateMachine machine = StateMachine::Compile(rb);
    const int state = machine.Find(point.state);
    Duration grace{5000};
    if (state >= 0 && machine.state(state).step) grace = machine.state(state).step->kill_grace;
    for (int pgid : pgids) EndGroup(pgid, grace);

    RunOptions options;
    options.run_id = run->run_id;
    for (const auto& [k, v] : run->params.items())
      if (v.is_string()) options.params[k] = v.get<std::string>();
    options.secrets = *secrets;
    options.operator_name = OperatorName("");
    options.host = host;
    options.pid = pid;
    options.plan_id = run->plan_id;
    options.lock_key = run->lock_key;
    std::unique_ptr<StepRunner> runner = MakeStepRunner();
    std::unique_ptr<Clock> clock = MakeSystemClock();
    std::unique_ptr<Reporter> reporter = MakeConsoleReporter(json ? stderr : stdout);
    CancelFlag interrupt, hard_stop;  // recover itself is not interruptible mid-rollback
    Executor executor(rb, machine, *runner, *store, *clock, *reporter, {&interrupt, &hard_stop});
    RunSummary summary = executor.Resume(options, point);
    if (!run->lock_key.empty()) (void)store->Unlock(run->lock_key, run->run_id);
    if (json)
      std::printf("%s\n", nlohmann::json({{"run_id", summary.run_id},
                                          {"runbook", summary.runbook},
                                          {"state", summary.state},
                                          {"exit_code", summary.exit_code}})
                              .dump()
                              .c_str());
    ++recovered;
    code = std::max(code, summary.exit_code);
  }
  if (recovered == 0 && code == kExitOk) std::printf("recover: no interrupted runs to recover\n");
  return code;
}

}  // namespace runbook::cli
