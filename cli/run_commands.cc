// run and recover: the commands that execute a runbook. Signals are the command line's
// business: the first SIGINT/SIGTERM/SIGHUP interrupts the run (it rolls back), the third
// abandons the rollback too.
#include <CLI/CLI.hpp>

#include <signal.h>
#include <unistd.h>

#include <cstdio>

#include "app/recover.h"
#include "app/run.h"
#include "app/signer.h"
#include "cli/command_log.h"
#include "cli/commands.h"
#include "cli/console_reporter.h"

namespace runbook::cli {
namespace {

CancelFlag* g_interrupt = nullptr;
CancelFlag* g_hard_stop = nullptr;
volatile sig_atomic_t g_signals = 0;

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

/// Routes SIGINT, SIGTERM and SIGHUP to the run's cancel flags while in scope.
class SignalScope {
 public:
  SignalScope(CancelFlag* interrupt, CancelFlag* hard_stop) {
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
  ~SignalScope() {
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    g_interrupt = g_hard_stop = nullptr;
  }
  SignalScope(const SignalScope&) = delete;
  SignalScope& operator=(const SignalScope&) = delete;
};

/// On a terminal: asks for each checklist item not confirmed with --confirm.
void AskChecklist(const Runbook& rb, const std::string& who, std::vector<std::string>* confirmed) {
  for (const std::string& item : UnconfirmedItems(rb, *confirmed)) {
    std::fprintf(stderr, "checklist: is '%s' done? %s confirms [y/N] ", item.c_str(), who.c_str());
    std::fflush(stderr);
    char answer[16] = {};
    if (std::fgets(answer, sizeof answer, stdin) == nullptr) break;
    if (answer[0] == 'y' || answer[0] == 'Y') confirmed->push_back(item);
  }
}

}  // namespace

int Run(const GlobalOptions& global, const RunCommandOptions& options) {
  int code = kExitOk;
  LoadedRunbook loaded = LoadRunbookWithParams(options.file, options.params);
  if (!ReportLoad(loaded)) return kExitInvalid;
  std::unique_ptr<AuditStore> db = OpenDatabase(global, &code);
  if (!db) return code;
  std::unique_ptr<Signer> signer = MakeSshKeygenSigner();
  RunService service(*db, *signer, SystemEnv());

  RunRequest request;
  request.runbook = std::move(loaded.runbook);
  request.params = std::move(loaded.params);
  request.file = options.file;
  request.plan_id = options.plan_id;
  request.operator_name = OperatorName(options.as, SystemEnv());
  request.dry_run = options.dry_run;
  request.confirmed = options.confirm;
  if (!options.dry_run && ::isatty(STDIN_FILENO) && ::isatty(STDERR_FILENO))
    AskChecklist(*request.runbook, request.operator_name, &request.confirmed);
  RunStart start = service.Prepare(std::move(request));
  if (!start.status.ok()) return Fail(start.status);
  for (const std::string& note : start.notes) std::fprintf(stderr, "%s\n", note.c_str());
  CommandLog& log = CommandLog::Get();
  log.SetRunId(start.run->run_id());
  log.OpenDefault(RunLogPath(db->location(), start.run->run_id(), SystemEnv()));

  std::unique_ptr<Reporter> reporter = MakeConsoleReporter(options.json ? stderr : stdout);
  CancelFlag interrupt, hard_stop;
  RunResult result;
  {
    SignalScope signals(&interrupt, &hard_stop);
    result = service.Execute(*start.run, *reporter, Interruption{&interrupt, &hard_stop}, &log);
  }
  if (!result.unlock_status.ok()) PrintError(result.unlock_status.message());
  if (!result.plan_status.ok()) PrintError(result.plan_status.message());
  if (result.unlock_journaled)
    std::fprintf(stderr,
                 "runbook: note: the release of lock '%s' waits in the journal %s with the "
                 "run's other records; the next runbook command that opens the audit database "
                 "writes them and frees the lock\n",
                 start.run->runbook().lock.c_str(), db->journal_path().c_str());
  if (!result.heartbeat_problem.empty())
    std::fprintf(stderr,
                 "runbook: warning: the run's lock could not be kept alive in the shared store "
                 "(%s); check with `runbook runs` that no recover elsewhere took the run over\n",
                 result.heartbeat_problem.c_str());
  if (!result.kept_for_rollback.empty())
    std::fprintf(stderr,
                 "runbook: note: objects this run must not write to the audit log (Secrets) were "
                 "kept, as they were before the run, in %s; put back by hand what the rollback "
                 "could not, then delete the folder\n",
                 result.kept_for_rollback.c_str());
  PrintHeldRecords(*db);
  if (options.json) {
    const auto text = RunSummaryJson(result.summary)
                          .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    std::printf("%s\n", text.c_str());
  }
  return result.summary.exit_code;
}

int Recover(const GlobalOptions& global, bool json) {
  int code = kExitOk;
  std::unique_ptr<AuditStore> db = OpenDatabase(global, &code);
  if (!db) return code;
  RecoverService service(*db, SystemEnv(), [](std::string_view note) {
    std::fprintf(stderr, "%.*s\n", static_cast<int>(note.size()), note.data());
  });
  std::unique_ptr<Reporter> reporter = MakeConsoleReporter(json ? stderr : stdout);
  RecoverReport report = service.RecoverAll(*reporter, OperatorName("", SystemEnv()));
  PrintHeldRecords(*db);
  for (const RecoveredRun& r : report.runs) {
    if (!r.kept_for_rollback.empty())
      std::fprintf(stderr,
                   "runbook: note: run %s kept objects it must not write to the audit log "
                   "(Secrets), as they were before the run, in %s; put back by hand what the "
                   "rollback could not, then delete the folder\n",
                   r.run_id.c_str(), r.kept_for_rollback.c_str());
    if (!r.recovered) {
      if (!r.status.ok()) PrintError(r.status.message());
      continue;
    }
    if (json)
      std::printf("%s\n", nlohmann::json({{"run_id", r.summary.run_id},
                                          {"runbook", r.summary.runbook},
                                          {"state", r.summary.state},
                                          {"exit_code", r.summary.exit_code}})
                              .dump()
                              .c_str());
  }
  if (report.runs.empty()) std::printf("recover: no interrupted runs to recover\n");
  return report.exit_code;
}

void AddRunCommands(CLI::App& app, GlobalOptions& global, RunCommandArgs& args, int& code) {
  RunCommandOptions& run = args.run;
  CLI::App* run_cmd =
      Command(app, "run",
              "execute a runbook; exit 0 succeeded, 1 rolled back, 2 invalid, 3 rollback failed, "
              "4 refused, 5 precheck failed");
  run_cmd->add_option("FILE", run.file, "runbook file")->required();
  run_cmd->add_option("-p,--param", run.params, "a param as NAME=VALUE (repeatable)");
  run_cmd->add_option("--plan", run.plan_id, "the approved plan to run");
  run_cmd->add_option("--as", run.as, "operator name recorded in the audit log");
  run_cmd->add_option("--confirm", run.confirm,
                      "a checklist item that is done (repeatable); on a terminal, the "
                      "unconfirmed ones are asked for");
  run_cmd->add_flag("--dry-run", run.dry_run,
                    "run prechecks and server-side dry runs, render every command, change nothing");
  run_cmd->add_flag("--json", run.json, "print a JSON summary on stdout at the end");
  AddAuditDbOption(run_cmd, &global);
  run_cmd->callback([&global, &args, &code] { code = Run(global, args.run); });

  CLI::App* recover = Command(
      app, "recover",
      "finish runs whose executor died: stop the interrupted step, roll back, free the lock");
  recover->add_flag("--json", args.recover_json, "print a JSON summary per recovered run");
  AddAuditDbOption(recover, &global);
  recover->callback([&global, &args, &code] { code = Recover(global, args.recover_json); });
}

}  // namespace runbook::cli
