// Walks a compiled StateMachine: runs each state's step through the StepRunner, writes every
// transition to the AuditSink before acting on it, and follows the machine's edges on success,
// failure or interruption. All I/O goes through the interfaces handed to the constructor.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/audit_sink.h"
#include "engine/cancel.h"
#include "engine/environment.h"
#include "engine/exit_code.h"
#include "engine/host_ledger.h"
#include "engine/model.h"
#include "engine/redactor.h"
#include "engine/reporter.h"
#include "engine/run_history.h"
#include "engine/state_machine.h"
#include "engine/step_runner.h"
#include "engine/template.h"

namespace runbook {

/// How one step (of any phase) ended, for `run --json` and the console.
struct StepSummary {
  std::string id;
  std::string name;
  Phase phase = Phase::kStep;
  std::string state = "not_run";  // not_run | succeeded | failed | interrupted | skipped
  int attempts = 0;
  Duration duration{0};
  std::string error;   // redacted
  std::string undoes;  // rollback actions: the step they undo
};

struct RunSummary {
  std::string run_id;
  std::string runbook;
  std::string state;  // a terminal state name
  int exit_code = 0;
  bool dry_run = false;
  Duration duration{0};
  std::vector<StepSummary> steps;
  std::string error;  // why the run could not start, or the failing step's error
  /// Audit records (events, the run row's end) that could not be written to the store: lost,
  /// held in memory, or deferred to the store's journal (AuditSink::Backlog). When not zero
  /// the exit code is 3 whatever the steps did: the record is incomplete for now and a human
  /// must look.
  int audit_write_failures = 0;
  /// The journal file when some of those records wait in it, else "".
  std::string audit_journal;
  /// Hosts where an ssh precheck, step or check failed, whether the step went on without
  /// them (within max_fail) or not, and whether its rollback ran there (docs/ssh.md).
  std::vector<FailedHost> failed_hosts;
  /// Every ssh host of the run with its counts, for the recap; empty without ssh steps.
  std::vector<HostTally> hosts;
};


struct RunOptions {
  std::string run_id;
  std::map<std::string, std::string> params;   // bound (BindParams)
  std::map<std::string, std::string> secrets;  // resolved (ResolveSecrets)
  bool dry_run = false;
  std::string operator_name;
  std::string host;
  int pid = 0;
  std::string plan_id;
  std::string lock_key;
  /// Checklist items confirmed before the run (recorded in run_started with the operator).
  std::vector<std::string> confirmed;
  std::vector<BoundFile> files;  // the files the run uses (app/bound_files.h), for run_started
};

/// Signals from outside the run. `interrupt` (SIGINT/SIGTERM, or the program itself with a
/// reason: the run's lock was lost) stops the forward steps and starts the rollback;
/// `hard_stop` also cancels rollback actions (a human gave up on them). The executor only
/// reads them; whoever holds the run may cancel them.
struct Interruption {
  CancelFlag* interrupt = nullptr;
  CancelFlag* hard_stop = nullptr;
};

/// Runs one runbook once. Not reusable: construct one per run.
class Executor {
 public:
  /// Every reference must outlive the executor.
  Executor(const Runbook& runbook, const StateMachine& machine, StepRunner& runner,
           AuditSink& audit, const Environment& env, Reporter& reporter, Interruption interruption);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  RunSummary Run(const RunOptions& options);

  /// Finishes a run whose executor died, from `point`: the state it was in is treated as
  /// interrupted (its own rollback runs first), a cut-off rollback action runs again, and the
  /// rest of the machine is walked as usual. Writes `run_recovered`, never `run_started`.
  RunSummary Resume(const RunOptions& options, const ResumePoint& point);

  /// The runbook file's absolute path, as recorded in the run row.
  static std::string AbsolutePath(const Runbook& runbook);

 private:
  class AttemptContext;
  struct Outcome {
    bool ok = false;
    bool interrupted = false;
  };
  /// Which hosts an ssh action runs on in one state, when the executor narrows its target
  /// (executor_hosts.cc).
  struct HostPlan {
    bool narrowed = false;                   // run_on is fewer hosts than the target's
    std::vector<std::string> run_on;         // the target's hosts it runs on
    std::vector<HostSkippedDetail> skipped;  // the target's hosts it leaves out
    std::vector<std::string> only;           // a rollback run at once for failed hosts
    /// For a rollback: the step it undoes as this action sees it (the hosts to undo).
    std::optional<StepResult> undoing;
  };

  void Setup(const RunOptions& options);
  RunSummary Walk(int current, Trigger trigger);
  Trigger RunState(const State& state);
  /// Runs one step of any phase. `hosts` narrows an ssh action's hosts; by default
  /// PlanHosts decides.
  Outcome RunStep(const State& state, const StepSpec& step, Phase phase,
                  const HostPlan* hosts = nullptr);
  // Per-host failures of ssh steps (executor_hosts.cc, docs/ssh.md "When a host fails").
  /// The hosts of `step`'s ssh action in `state`: a forward step leaves out the hosts that
  /// failed within max_fail earlier; a rollback runs only where the step it undoes ran and
  /// its action has not already run at once.
  HostPlan PlanHosts(const State& state, const StepSpec& step, Phase phase);
  /// Records (host_skipped) each host `plan` leaves out, before the step's start is
  /// recorded; RunStep reports them with its first attempt.
  void RecordSkippedHosts(const StepSpec& step, Phase phase, const HostPlan& plan);
  /// After `step` succeeded although some hosts failed (within max_fail): records each
  /// (host_failed) and runs the step's ssh rollback actions on them at once. Returns why the
  /// step must count as failed after all (a rollback there failed), else "".
  std::string UndoFailedHosts(const StepSpec& step, Phase phase, const StepResult& result);
  /// Puts the failed hosts and the per-host recap on `summary`.
  void AddHosts(RunSummary* summary);
  void StoreValues(const StepSpec& step, const StepResult& result);
  /// Queues `event` for the audit log (redacted, timed, folded into the ledger). Durable
  /// only after the next SyncAudit.
  Status Emit(AuditEvent event);
  /// Makes every queued event durable: the write-ahead barrier before an action.
  Status SyncAudit();
  /// Counts `records` audit records not made durable, noting the first failure; mu_ held.
  void CountFailedLocked(const Status& s, int records);
  /// Tells the operator, once, that records wait in the store's journal; mu_ held.
  void NoteJournalLocked();
  /// Puts the count of audit records not in the store, and where they are, on `summary`
  /// (exit code 3 when any), after the run's own cause.
  void CountMissingRecords(RunSummary* summary);
  /// Records the run's end on the run row, then reports the summary.
  void EndRun(RunSummary* summary);
  nlohmann::json RedactJson(const nlohmann::json& value) const;
  std::string CutTail(const std::string& text) const;
  StepSummary* Summary(const std::string& id, Phase phase);
  /// Appends `summary` to summaries_ and indexes it; returns it.
  StepSummary* AddSummary(StepSummary summary);
  bool Interrupted();

  const Runbook& runbook_;
  const StateMachine& machine_;
  StepRunner& runner_;
  AuditSink& audit_;
  const Environment& env_;
  Reporter& reporter_;
  Interruption interruption_;
  CancelFlag never_;  // stands in for an absent flag

  RunOptions options_;
  std::chrono::steady_clock::time_point start_;
  Redactor redactor_;
  TemplateScope scope_;
  std::map<std::string, std::string> extra_env_;
  std::map<std::string, StepResult> results_;  // last attempt of each step in undone_ that ran
  std::set<std::string> undone_;               // steps some rollback state undoes
  HostLedger ledger_;  // every event written, folded per ssh host; guarded by mu_
  std::vector<StepSummary> summaries_;
  // Where each (step id, phase) is in summaries_: Summary() is called for every event, and a
  // search through 10,000 steps each time would make a long run quadratic.
  std::map<std::pair<std::string, Phase>, size_t> summary_at_;
  bool rollback_failed_ = false;
  /// Forward steps whose start was never recorded: they did not run (write-ahead), so their
  /// rollback is skipped (SPEC §5).
  std::set<std::string> not_started_;
  int audit_write_failures_ = 0;  // events and run row updates the sink refused
  bool journal_noted_ = false;    // the operator was told that records go to the journal
  std::string cause_;  // the run's error before the count of missing records was added
  bool cause_taken_ = false;
  std::string first_error_;
  std::mutex mu_;  // audit appends and reporter calls from runner threads
};

}  // namespace runbook
