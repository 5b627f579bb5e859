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
#include "engine/run_history.h"
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
    const ResumePoint point = ReadRunHistory(ViewsOf(*events), run->pid).resume;
    const StateMachine machine = StateMachine::Compile(rb);
    const int state = machine.Find(point.state);
    Duration grace{5000};
    if (state >= 0 && machine.state(state).step) grace = machine.state(state).step->kill_grace;
    for (int pgid : point.pgids) EndGroup(pgid, grace);

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
