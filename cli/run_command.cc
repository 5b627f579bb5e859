// `runbook run`: bind params and secrets, take the lock, run the compiled machine, release.
#include <openssl/rand.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>

#include "cli/commands.h"
#include "cli/console_reporter.h"
#include "engine/executor.h"
#include "engine/plan.h"
#include "engine/state_machine.h"
#include "steps/step_runners.h"

namespace runbook::cli {
namespace {

CancelFlag* g_interrupt = nullptr;
CancelFlag* g_hard_stop = nullptr;
volatile sig_atomic_t g_signals = 0;

// First SIGINT/SIGTERM: stop the forward steps and roll back. Third: give up on the rollback
// too (a person decided to take over).
void OnSignal(int sig) {
  g_signals = g_signals + 1;
  if (g_interrupt) {
    g_interrupt->set_signal(sig);
    g_interrupt->Cancel();
  }
  if (g_signals >= 3 && g_hard_stop) g_hard_stop->Cancel();
  if (g_signals == 1 || g_signals == 2) {
    static const char kMsg[] =
        "\nrunbook: interrupted: stopping the running step and rolling back "
        "(interrupt 3 times to abandon the rollback)\n";
    [[maybe_unused]] ssize_t n = write(STDERR_FILENO, kMsg, sizeof kMsg - 1);
  }
}

void InstallSignalHandlers(CancelFlag* interrupt, CancelFlag* hard_stop) {
  g_interrupt = interrupt;
  g_hard_stop = hard_stop;
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

void RestoreSignalHandlers() {
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  signal(SIGHUP, SIG_DFL);
  g_interrupt = g_hard_stop = nullptr;
}

std::string NewRunId() {
  char stamp[32];
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  unsigned char r[3];
  if (RAND_bytes(r, sizeof r) != 1) r[0] = r[1] = r[2] = 0;
  char suffix[8];
  std::snprintf(suffix, sizeof suffix, "%02x%02x%02x", r[0], r[1], r[2]);
  return std::string(stamp) + "-" + suffix;
}

nlohmann::json SummaryJson(const RunSummary& s) {
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
  nlohmann::json out = {{"run_id", s.run_id},          {"runbook", s.runbook},
                        {"state", s.state},            {"exit_code", s.exit_code},
                        {"dry_run", s.dry_run},        {"duration_ms", s.duration.count()},
                        {"steps", steps}};
  if (!s.error.empty()) out["error"] = s.error;
  return out;
}

// Prints the refusal for a lock held by someone else.
void ReportLockHeld(const std::string& key, const LockHolder& h) {
  if (h.alive) {
    PrintError("lock '" + key + "' is held by run " + h.run_id + " (pid " +
               std::to_string(h.pid) + " on " + h.host + ", since " + h.acquired_at +
               "); wait for it to finish, or see `runbook runs`");
  } else {
    PrintError("lock '" + key + "' is held by run " + h.run_id + ", whose executor (pid " +
               std::to_string(h.pid) + " on " + h.host +
               ") is gone; run `runbook recover` to roll that run back and free the lock");
  }
}

}  // namespace

int Run(const GlobalOptions& global, const RunCommandOptions& options) {
  std::map<std::string, std::string> params;
  std::unique_ptr<Runbook> rb = LoadWithParams(options.file, options.params, &params);
  if (!rb) return kExitInvalid;
  auto secrets = ResolveSecrets(*rb);
  if (!secrets.ok()) {
    PrintError(secrets.message());
    return kExitInvalid;
  }
  std::unique_ptr<AuditStore> store = OpenAudit(global);
  if (!store) return kExitInvalid;

  if (rb->approval && !options.dry_run && options.plan_id.empty()) {
    PrintError("runbook '" + rb->name + "' needs an approved plan: run `runbook plan " +
               options.file + " -p ...`, have it approved, then `runbook run " + options.file +
               " --plan PLAN_ID`");
    return kExitRefused;
  }
  if (!options.plan_id.empty()) {
    const int verdict =
        CheckApprovedPlan(*store, *rb, params, options.plan_id, OperatorName(options.as));
    if (verdict != kExitOk) return verdict;
  }

  const std::string run_id = NewRunId();
  const std::string host = LocalHostName();
  const int pid = static_cast<int>(getpid());
  bool locked = false;
  if (!options.dry_run) {
    auto lock = store->TryLock(rb->lock, run_id, pid, host);
    if (!lock.ok()) {
      PrintError("cannot take lock '" + rb->lock + "': " + lock.message());
      return kExitRefused;
    }
    if (!lock->acquired) {
      ReportLockHeld(rb->lock, lock->holder);
      return kExitRefused;
    }
    locked = true;
  }

  StateMachine machine = StateMachine::Compile(*rb);
  std::unique_ptr<StepRunner> runner = MakeStepRunner();
  std::unique_ptr<Clock> clock = MakeSystemClock();
  std::unique_ptr<Reporter> reporter = MakeConsoleReporter(options.json ? stderr : stdout);
  CancelFlag interrupt, hard_stop;
  InstallSignalHandlers(&interrupt, &hard_stop);

  RunOptions run;
  run.run_id = run_id;
  run.params = params;
  run.secrets = *secrets;
  run.dry_run = options.dry_run;
  run.operator_name = OperatorName(options.as);
  run.host = host;
  run.pid = pid;
  run.plan_id = options.plan_id;
  run.lock_key = rb->lock;
  Executor executor(*rb, machine, *runner, *store, *clock, *reporter,
                    Interruption{&interrupt, &hard_stop});
  RunSummary summary = executor.Run(run);
  RestoreSignalHandlers();

  if (locked) {
    if (Status s = store->Unlock(rb->lock, run_id); !s.ok())
      PrintError("could not release lock '" + rb->lock + "': " + s.message());
  }
  if (options.json) {
    const auto text =
        SummaryJson(summary).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    std::printf("%s\n", text.c_str());
  }
  return summary.exit_code;
}

}  // namespace runbook::cli
