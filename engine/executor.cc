#include "engine/executor.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <string>
#include <vector>

#include "engine/describe.h"
#include "engine/plan.h"
#include "engine/utf8.h"

namespace runbook {

namespace {

constexpr size_t kAuditTail = 64 * 1024;

std::string Tail(const std::string& s, size_t n) {
  return s.size() <= n ? s : s.substr(s.size() - n);
}

const char* OutcomeName(StepResult::Outcome o) {
  switch (o) {
    case StepResult::Outcome::kSucceeded: return "succeeded";
    case StepResult::Outcome::kFailed: return "failed";
    case StepResult::Outcome::kTimedOut: return "timed_out";
    case StepResult::Outcome::kCancelled: return "cancelled";
  }
  return "failed";
}

long long Ms(Duration d) { return static_cast<long long>(d.count()); }

// The value of each of the step's outputs: what the runner computed, else the stream named.
std::map<std::string, std::string> OutputValues(const StepSpec& step,
                                                const std::map<std::string, std::string>& computed,
                                                const std::string& out, const std::string& err) {
  std::map<std::string, std::string> values;
  for (const OutputSpec& o : step.outputs) {
    auto it = computed.find(o.name);
    values[o.name] = it != computed.end()   ? it->second
                     : o.source == "stdout" ? out
                     : o.source == "stderr" ? err
                                            : std::string();
  }
  return values;
}

std::map<std::string, std::string> HostOutputValues(const StepSpec& step, const HostResult& h) {
  return OutputValues(step, h.outputs, TrimTrailingNewlines(h.stdout_text),
                      TrimTrailingNewlines(h.stderr_text));
}

std::string EnvName(const std::string& name) {
  std::string out = "RUNBOOK_PARAM_";
  for (char c : name) out += std::isalnum(static_cast<unsigned char>(c)) ? std::toupper(c) : '_';
  return out;
}

}  // namespace

// What a runner sees during one attempt.
class Executor::AttemptContext : public StepContext {
 public:
  /// `start_in_commit`: the step's start waits in the queue for this attempt's first commit.
  AttemptContext(Executor& ex, const StepSpec& step, Phase phase, int attempt,
                 const CancelFlag& cancel, bool start_in_commit)
      : ex_(ex),
        step_(step),
        phase_(phase),
        attempt_(attempt),
        cancel_(cancel),
        start_in_commit_(start_in_commit) {}

  std::string Render(std::string_view tmpl, Quoting q, std::string_view host) const override {
    return RenderTemplateText(tmpl, ex_.scope_, q, host, /*mask_secrets=*/false);
  }
  ShellCommand RenderShell(std::string_view tmpl, std::string_view host) const override {
    return RenderShellCommandText(tmpl, ex_.scope_, host);
  }
  std::string RenderForDisplay(std::string_view tmpl, Quoting q,
                               std::string_view host) const override {
    return ex_.redactor_.Redact(RenderTemplateText(tmpl, ex_.scope_, q, host, true));
  }
  std::string Redact(std::string_view text) const override { return ex_.redactor_.Redact(text); }
  std::string RedactTail(std::string_view text) const override {
    return ex_.redactor_.RedactCutStart(text);
  }

  void OutputLine(std::string_view host, bool is_stderr, std::string_view line,
                  bool continues) override {
    std::lock_guard<std::mutex> lock(ex_.mu_);
    auto stream = streams_.try_emplace({std::string(host), is_stderr}, ex_.redactor_).first;
    std::string clean = stream->second.Feed(line, continues);
    if (!clean.empty() || !continues) ex_.reporter_.StepOutput(step_, host, is_stderr, clean);
  }
  void Progress(std::string_view message) override {
    std::string clean = ex_.redactor_.Redact(message);
    std::lock_guard<std::mutex> lock(ex_.mu_);
    ex_.reporter_.StepProgress(step_, clean);
  }
  void HostsDone(int done, int total, int failed) override {
    std::lock_guard<std::mutex> lock(ex_.mu_);
    ex_.reporter_.StepHosts(step_, done, total, failed);
  }
  Status Record(EventKind event, const nlohmann::json& detail) override {
    AuditEvent e;
    e.event = event;
    e.phase = PhaseName(phase_);
    e.step = step_.id;
    e.attempt = attempt_;
    e.detail = detail.is_object() ? detail : nlohmann::json{{"value", detail}};
    Status s = ex_.Emit(std::move(e));
    // What a runner records before it acts (a process about to start, the revisions an apply
    // will change) is durable before it returns; a host's result waits for the next commit.
    if (s.ok() && event != EventKind::kHostFinished && event != EventKind::kKubectlUndo) {
      s = ex_.SyncAudit();
      std::lock_guard<std::mutex> lock(ex_.mu_);
      if (!committed_) {
        first_commit_ = s;
        // The step's start was in this commit (RunStep): interrupted while it was being
        // recorded, a forward step does not act at all, as when the executor commits it.
        if (start_in_commit_ && s.ok() && phase_ != Phase::kRollback && cancel_.cancelled()) {
          start_cancelled_ = true;
          s = Status::Error("not started: interrupted");
        }
      }
      committed_ = true;
    }
    // Rollback actions always run: undoing is safer than stopping half-way. A record of
    // theirs that cannot be made durable (a process group id, say) is counted, and the
    // runner is not told to give up.
    if (!s.ok() && phase_ == Phase::kRollback) return Status::Ok();
    return s;
  }
  int cancel_fd() const override { return cancel_.fd(); }
  bool cancelled() const override { return cancel_.cancelled(); }
  const std::map<std::string, std::string>& extra_env() const override { return ex_.extra_env_; }
  const Runbook& runbook() const override { return ex_.runbook_; }
  const std::string& run_id() const override { return ex_.options_.run_id; }

  /// Whether the runner's first commit of this attempt (a Record made durable) failed: then
  /// a runner that CommitsBeforeActing has not acted.
  bool first_commit_failed() const {
    std::lock_guard<std::mutex> lock(ex_.mu_);
    return committed_ && !first_commit_.ok();
  }
  /// Whether the run was interrupted by the time the step's start was durable, so that Record
  /// told the runner not to act.
  bool start_cancelled() const {
    std::lock_guard<std::mutex> lock(ex_.mu_);
    return start_cancelled_;
  }
  Status first_commit() const {
    std::lock_guard<std::mutex> lock(ex_.mu_);
    return first_commit_;
  }

 private:
  Executor& ex_;
  const StepSpec& step_;
  Phase phase_;
  int attempt_;
  const CancelFlag& cancel_;
  // One per (host, stream), guarded by ex_.mu_: a long line arrives in pieces.
  std::map<std::pair<std::string, bool>, RedactingStream> streams_;
  const bool start_in_commit_;
  bool committed_ = false;  // guarded by ex_.mu_, as are the two below
  Status first_commit_;
  bool start_cancelled_ = false;
};

Executor::Executor(const Runbook& runbook, const StateMachine& machine, StepRunner& runner,
                   AuditSink& audit, const Environment& env, Reporter& reporter,
                   Interruption interruption)
    : runbook_(runbook),
      machine_(machine),
      runner_(runner),
      audit_(audit),
      env_(env),
      reporter_(reporter),
      interruption_(interruption) {
  if (!interruption_.interrupt) interruption_.interrupt = &never_;
  if (!interruption_.hard_stop) interruption_.hard_stop = &never_;
  for (const State& state : machine_.states())
    if (state.undoes) undone_.insert(state.undoes->id);
}

Executor::~Executor() = default;

bool Executor::Interrupted() {
  if (!interruption_.interrupt->cancelled()) return false;
  // A cancellation with a reason (the run's lock was lost) is the run's cause when nothing
  // failed before it.
  const std::string reason = interruption_.interrupt->reason();
  if (!reason.empty() && first_error_.empty()) first_error_ = "interrupted: " + reason;
  return true;
}

nlohmann::json Executor::RedactJson(const nlohmann::json& value) const {
  // Also makes every string valid UTF-8: captured output is bytes, the audit log is JSON.
  switch (value.type()) {
    case nlohmann::json::value_t::string:
      return ValidUtf8(redactor_.Redact(value.get_ref<const std::string&>()));
    case nlohmann::json::value_t::object: {
      nlohmann::json out = nlohmann::json::object();
      for (auto it = value.begin(); it != value.end(); ++it)
        out[ValidUtf8(redactor_.Redact(it.key()))] = RedactJson(it.value());
      return out;
    }
    case nlohmann::json::value_t::array: {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& v : value) out.push_back(RedactJson(v));
      return out;
    }
    default:
      return value;
  }
}

/// The last kAuditTail bytes of an output, redacted. A runner keeps only that much, so an
/// output of that size may have been cut and may begin inside a secret.
std::string Executor::CutTail(const std::string& text) const {
  if (text.size() < kAuditTail) return redactor_.Redact(text);
  return redactor_.RedactCutStart(Tail(text, kAuditTail));
}

Status Executor::Emit(AuditEvent event) {
  event.ts = env_.Now();
  event.detail = RedactJson(event.detail);
  std::lock_guard<std::mutex> lock(mu_);
  // What the run did, whether or not the store took the record.
  ledger_.Add(
      {0, event.event, event.phase, event.step, event.from, event.to, event.attempt, event.detail});
  Status s = audit_.Queue(options_.run_id, event);
  if (!s.ok()) CountFailedLocked(s, 1);
  return s;
}

Status Executor::SyncAudit() {
  std::lock_guard<std::mutex> lock(mu_);
  int not_durable = 0;
  Status s = audit_.Sync(&not_durable);
  if (!s.ok()) CountFailedLocked(s, std::max(not_durable, 1));
  if (s.ok()) NoteJournalLocked();
  return s;
}

void Executor::CountFailedLocked(const Status& s, int records) {
  if (audit_write_failures_ == 0) {
    reporter_.Note("audit log write failed: " + s.message() +
                   " (the run goes on to its end so that nothing is left half-done)");
  }
  audit_write_failures_ += records;
}

void Executor::NoteJournalLocked() {
  if (!journal_noted_) {
    const AuditBacklog backlog = audit_.Backlog(options_.run_id);
    if (backlog.journaled > 0) {
      journal_noted_ = true;
      // A store that stops the run then (a shared one) has cancelled it by now.
      const bool stopping = interruption_.interrupt->cancelled();
      reporter_.Note("the audit database cannot be written (" + backlog.store_error +
                     "): audit records wait in the journal " + backlog.journal + " until it can" +
                     (stopping ? "; the run stops and rolls back what it did"
                               : " (the run goes on to its end)"));
    }
  }
}

StepSummary* Executor::Summary(const std::string& id, Phase phase) {
  auto it = summary_at_.find({id, phase});
  return it == summary_at_.end() ? nullptr : &summaries_[it->second];
}

StepSummary* Executor::AddSummary(StepSummary summary) {
  const auto key = std::make_pair(summary.id, summary.phase);
  summaries_.push_back(std::move(summary));
  summary_at_.emplace(key, summaries_.size() - 1);  // the first of an id and phase is found
  return &summaries_.back();
}

void Executor::Setup(const RunOptions& options) {
  options_ = options;
  start_ = env_.Monotonic();
  for (const auto& [name, value] : options_.secrets) {
    redactor_.Add(value);
    scope_.secrets[name] = value;
  }
  for (const ParamSpec& p : runbook_.params) {
    auto value = options_.params.find(p.name);
    if (p.secret && value != options_.params.end()) redactor_.Add(value->second);
  }
  scope_.params = options_.params;
  scope_.run_id = options_.run_id;
  scope_.env = [this](const std::string& name) { return env_.GetEnv(name).value_or(""); };
  for (const auto& [name, value] : options_.params) extra_env_[EnvName(name)] = value;
  extra_env_["RUNBOOK_RUN_ID"] = options_.run_id;
  extra_env_["RUNBOOK_NAME"] = runbook_.name;

  summaries_.reserve(runbook_.prechecks.size() + runbook_.steps.size() + runbook_.verify.size());
  for (const auto* list : {&runbook_.prechecks, &runbook_.steps, &runbook_.verify})
    for (const StepSpec& s : *list) AddSummary({s.id, s.name, s.phase});
}

RunSummary Executor::Run(const RunOptions& options) {
  Setup(options);
  RunRecord record;
  record.run_id = options_.run_id;
  record.runbook = runbook_.name;
  record.runbook_path = AbsolutePath(runbook_);
  record.runbook_text = runbook_.text;
  record.runbook_sha256 = Sha256Hex(runbook_.text);
  record.params = RedactJson(nlohmann::json(options_.params));
  record.operator_name = options_.operator_name;
  record.host = options_.host;
  record.pid = options_.pid;
  record.lock_key = options_.lock_key;
  record.plan_id = options_.plan_id;
  record.dry_run = options_.dry_run;
  record.started_at = env_.Now();
  if (Status s = audit_.BeginRun(record); !s.ok()) {
    RunSummary summary;
    summary.run_id = options_.run_id;
    summary.runbook = runbook_.name;
    summary.state = "aborted";
    summary.exit_code = 2;
    summary.error = "cannot record the run in the audit log: " + s.message();
    return summary;
  }
  reporter_.RunStarted(runbook_, options_.run_id, options_.dry_run);
  RunStartedDetail started_detail{.runbook = runbook_.name,
                                        .operator_name = options_.operator_name,
                                        .host = options_.host,
                                        .pid = options_.pid,
                                        .dry_run = options_.dry_run,
                                        .params = record.params,
                                        .plan_id = options_.plan_id,
                                        .lock = options_.lock_key,
                                        .runbook_sha256 = record.runbook_sha256,
                                        .checklist = {},
                                        .files = options_.files};
  for (const std::string& item : options_.confirmed)
    started_detail.checklist.emplace_back(item, options_.operator_name);
  Status started = Emit({{}, EventKind::kRunStarted, "run", "", "", "pending", 0, started_detail});
  if (started.ok()) started = SyncAudit();

  // Write-ahead: without a durable run_started nothing may run.
  Trigger trigger = !started.ok() || Interrupted() ? Trigger::kInterrupt : Trigger::kStart;
  if (!started.ok()) first_error_ = "cannot write to the audit log: " + started.message();
  return Walk(machine_.pending(), trigger);
}

RunSummary Executor::Walk(int current, Trigger trigger) {
  for (;;) {
    int next = machine_.Next(current, trigger);
    if (next < 0) next = machine_.Find("aborted");  // unreachable for a compiled machine
    const State& from = machine_.state(current);
    const State& to = machine_.state(next);
    (void)Emit({{}, EventKind::kStateChanged, to.phase(), to.step ? to.step->id : "", from.name,
                to.name, 0, StateChangedDetail{TriggerName(trigger)}});
    if (std::string_view(from.coarse()) != to.coarse()) {
      std::lock_guard<std::mutex> lock(mu_);
      reporter_.PhaseChanged(from.coarse(), to.coarse());
    }
    current = next;
    if (to.terminal()) break;
    trigger = RunState(to);
  }

  RunSummary summary;
  summary.run_id = options_.run_id;
  summary.runbook = runbook_.name;
  summary.dry_run = options_.dry_run;
  const State& end = machine_.state(current);
  summary.state = end.name;
  summary.exit_code = ExitCodeFor(end.kind);
  summary.steps = summaries_;
  summary.duration = std::chrono::duration_cast<Duration>(env_.Monotonic() - start_);
  summary.error = redactor_.Redact(first_error_);
  // What is still queued decides whether records are missing, and so the exit code that
  // run_finished records.
  (void)SyncAudit();
  CountMissingRecords(&summary);
  AddHosts(&summary);
  (void)Emit({{}, EventKind::kRunFinished, "run", "", "", end.name, 0,
              RunFinishedDetail{.state = end.name,
                                .exit_code = summary.exit_code,
                                .duration_ms = Ms(summary.duration),
                                .error = summary.error}});
  EndRun(&summary);
  return summary;
}

void Executor::CountMissingRecords(RunSummary* summary) {
  if (!cause_taken_) {
    cause_ = summary->error;  // before any count was added
    cause_taken_ = true;
  }
  const AuditBacklog backlog = audit_.Backlog(options_.run_id);
  // Refused records were either made durable later (rescued), are still held in memory, or
  // are lost.
  const int lost = std::max(0, audit_write_failures_ - backlog.rescued - backlog.held);
  summary->audit_write_failures = backlog.journaled + backlog.held + lost;
  summary->audit_journal = backlog.journaled > 0 ? backlog.journal : "";
  summary->error = cause_;
  if (summary->audit_write_failures == 0) return;
  // A run whose record is incomplete did not end cleanly, whatever its steps did: a human
  // must look (SPEC §5, "Full disks and busy databases").
  summary->exit_code = kExitRollbackFailed;
  auto records = [](int n) { return std::to_string(n) + " audit record" + (n == 1 ? "" : "s"); };
  std::vector<std::string> parts;
  if (lost > 0) parts.push_back(records(lost) + " could not be written");
  if (backlog.journaled > 0) {
    parts.push_back(records(backlog.journaled) + (backlog.journaled == 1 ? " was" : " were") +
                    " deferred to the journal " + backlog.journal +
                    " because the audit database could not be written (" + backlog.store_error +
                    "); " + (backlog.journaled == 1 ? "it is" : "they are") +
                    " written into it when it can be written again, at the latest by the next "
                    "runbook command that opens it");
  }
  if (backlog.held > 0) {
    parts.push_back(records(backlog.held) +
                    " could be written neither to the audit database nor to the journal " +
                    backlog.journal + " (" + backlog.journal_error + ") and " +
                    (backlog.held == 1 ? "is" : "are") + " held in memory");
  }
  for (const std::string& part : parts)
    summary->error = summary->error.empty() ? part : summary->error + "; " + part;
}

void Executor::EndRun(RunSummary* summary) {
  (void)SyncAudit();  // run_finished
  if (Status s = audit_.EndRun(options_.run_id, summary->state, summary->exit_code, env_.Now());
      !s.ok())
    ++audit_write_failures_;
  // run_finished or the run row itself may have gone to the journal or failed: count again.
  CountMissingRecords(summary);
  reporter_.RunFinished(*summary);
}

RunSummary Executor::Resume(const RunOptions& options, const ResumePoint& point) {
  Setup(options);
  for (const auto& [id, values] : point.values) scope_.steps[id] = values;
  results_ = point.results;
  ledger_ = point.hosts;
  rollback_failed_ = point.rollback_failed;
  first_error_ = point.cause;
  int current = machine_.Find(point.state);
  if (current < 0) {
    RunSummary summary;
    summary.run_id = options_.run_id;
    summary.runbook = runbook_.name;
    summary.state = "";
    summary.exit_code = 2;
    summary.error = "the recorded state '" + point.state + "' is not in the runbook's state machine";
    return summary;
  }
  const State& state = machine_.state(current);
  (void)Emit({{}, EventKind::kRunRecovered, "run", state.step ? state.step->id : "", state.name,
              state.name, 0,
              RunRecoveredDetail{.operator_name = options_.operator_name,
                                 .host = options_.host,
                                 .pid = options_.pid,
                                 .dead_pid = point.dead_pid,
                                 .state = state.name,
                                 .step_finished = point.step_finished}});
  (void)SyncAudit();
  {
    std::lock_guard<std::mutex> lock(mu_);
    reporter_.Note("recovering run " + options_.run_id + " from " + state.name);
  }
  Trigger trigger = Trigger::kInterrupt;
  switch (state.kind) {
    case StateKind::kPending:
    case StateKind::kPrecheck:
    case StateKind::kStep:
    case StateKind::kVerify:
      // The executor died in (or right after) this state: an interruption.
      if (!point.step_finished && state.step) {
        const Phase phase = state.kind == StateKind::kPrecheck ? Phase::kPrecheck
                            : state.kind == StateKind::kVerify ? Phase::kVerify
                                                               : Phase::kStep;
        if (!point.step_started) not_started_.insert(state.step->id);
        const std::string why = "interrupted: the executor (pid " +
                                std::to_string(point.dead_pid) + ") died " +
                                (point.step_started ? "during" : "before") + " this step";
        StepEndDetail interrupted;
        interrupted.error = why;
        interrupted.interrupted = true;
        (void)Emit({{}, EventKind::kStepFailed, PhaseName(phase), state.step->id, "", "", 0,
                    interrupted});
        if (StepSummary* s = Summary(state.step->id, phase)) {
          s->state = "interrupted";
          s->error = why;
        }
        if (first_error_.empty()) first_error_ = state.step->id + ": " + why;
      }
      trigger = Trigger::kInterrupt;
      break;
    case StateKind::kStepRollback:
    case StateKind::kGlobalRollback:
      if (point.step_finished) {
        trigger = point.step_ok ? Trigger::kSuccess : Trigger::kFailure;
      } else {
        // The rollback action itself was cut off: run it again, then go on down the chain.
        trigger = RunState(state);
      }
      break;
    case StateKind::kRollbackDone:
      trigger = rollback_failed_ ? Trigger::kFailure : Trigger::kSuccess;
      break;
    case StateKind::kSucceeded:
    case StateKind::kAborted:
    case StateKind::kRolledBack:
    case StateKind::kRollbackFailed:
      break;
  }
  if (state.terminal()) {
    // Only run_finished, or only the run row's end, was lost: write what is missing (a run
    // has exactly one run_finished).
    RunSummary summary;
    summary.run_id = options_.run_id;
    summary.runbook = runbook_.name;
    summary.state = state.name;
    summary.exit_code = point.finished ? point.finished->exit_code : ExitCodeFor(state.kind);
    summary.error = point.finished ? point.finished->error.value_or("") : "";
    summary.steps = summaries_;
    CountMissingRecords(&summary);
    AddHosts(&summary);
    if (!point.finished)
      (void)Emit({{}, EventKind::kRunFinished, "run", "", "", state.name, 0,
                  RunFinishedDetail{.state = state.name, .exit_code = summary.exit_code}});
    EndRun(&summary);
    return summary;
  }
  return Walk(current, trigger);
}

std::string Executor::AbsolutePath(const Runbook& runbook) {
  const size_t slash = runbook.path.find_last_of('/');
  const std::string file = slash == std::string::npos ? runbook.path : runbook.path.substr(slash + 1);
  if (!runbook.path.empty() && runbook.path[0] == '/') return runbook.path;
  return runbook.dir.empty() ? runbook.path : runbook.dir + "/" + file;
}

Trigger Executor::RunState(const State& state) {
  switch (state.kind) {
    case StateKind::kPrecheck:
      if (state.early_dry_run && options_.dry_run) {
        // A dry run checks each apply at its step anyway.
        (void)Emit({{}, EventKind::kStepSkipped, "precheck", state.step->id, "", "", 0,
                    StepSkippedDetail{"dry run: the server-side dry run runs at the step"}});
        return Trigger::kSuccess;
      }
      [[fallthrough]];
    case StateKind::kStep: {
      Outcome o = RunStep(state, *state.step, state.kind == StateKind::kStep ? Phase::kStep
                                                                              : Phase::kPrecheck);
      if (o.interrupted) return Trigger::kInterrupt;
      if (!o.ok) return Trigger::kFailure;
      return Interrupted() ? Trigger::kInterrupt : Trigger::kSuccess;
    }
    case StateKind::kVerify: {
      if (options_.dry_run) {
        (void)Emit({{}, EventKind::kStepSkipped, "verify", state.step->id, "", "", 0,
                    StepSkippedDetail{"dry run: verification is not run"}});
        if (StepSummary* s = Summary(state.step->id, Phase::kVerify)) s->state = "skipped";
        return Trigger::kSuccess;
      }
      Outcome o = RunStep(state, *state.step, Phase::kVerify);
      if (o.interrupted) return Trigger::kInterrupt;
      if (!o.ok) return Trigger::kFailure;
      return Interrupted() ? Trigger::kInterrupt : Trigger::kSuccess;
    }
    case StateKind::kStepRollback:
    case StateKind::kGlobalRollback: {
      if (options_.dry_run) {
        (void)Emit({{}, EventKind::kStepSkipped, "rollback", state.step->id, "", "", 0,
                    StepSkippedDetail{"dry run: rollback is not run"}});
        return Trigger::kSuccess;
      }
      if (state.undoes && not_started_.count(state.undoes->id)) {
        (void)Emit({{}, EventKind::kStepSkipped, "rollback", state.step->id, "", "", 0,
                    StepSkippedDetail{state.undoes->id + " never started: nothing to undo"}});
        return Trigger::kSuccess;
      }
      Outcome o = RunStep(state, *state.step, Phase::kRollback);
      if (!o.ok) rollback_failed_ = true;
      return o.ok ? Trigger::kSuccess : Trigger::kFailure;
    }
    case StateKind::kRollbackDone:
      return rollback_failed_ ? Trigger::kFailure : Trigger::kSuccess;
    case StateKind::kPending:
    case StateKind::kSucceeded:
    case StateKind::kAborted:
    case StateKind::kRolledBack:
    case StateKind::kRollbackFailed:
      return Trigger::kSuccess;
  }
  return Trigger::kFailure;
}

Executor::Outcome Executor::RunStep(const State& state, const StepSpec& step, Phase phase,
                                    const HostPlan* hosts) {
  const bool rollback = phase == Phase::kRollback;
  const bool forward_dry_run =
      (options_.dry_run && phase == Phase::kStep) || state.early_dry_run;
  const CancelFlag& cancel = rollback ? *interruption_.hard_stop : *interruption_.interrupt;
  const int max_attempts = 1 + std::max(0, step.retries);
  const std::string undoes = state.undoes ? state.undoes->id : "";

  StepSummary* summary = Summary(step.id, phase);
  if (!summary) {
    StepSummary added{step.id, step.name, phase};
    added.undoes = undoes;
    summary = AddSummary(std::move(added));
  }
  const size_t summary_index = static_cast<size_t>(summary - summaries_.data());

  const HostPlan plan = hosts ? *hosts : PlanHosts(state, step, phase);
  // An action on one host shows that host's values (a step's per-host outputs).
  const std::string shown_host = plan.narrowed && plan.run_on.size() == 1 ? plan.run_on[0] : "";
  auto display = [&](std::string_view tmpl, Quoting q) {
    return redactor_.Redact(RenderTemplateText(tmpl, scope_, q, shown_host, true));
  };
  const std::vector<std::string>* run_on = plan.narrowed ? &plan.run_on : nullptr;
  const std::string description = state.auto_rollback
                                      ? "undo " + DescribeAction(step.action, display, run_on)
                                      : DescribeAction(step.action, display, run_on);
  const StepStartedDetail started_detail{.name = step.name,
                                         .action = ActionKindName(KindOf(step.action)),
                                         .description = description,
                                         .max_attempts = max_attempts,
                                         .timeout_ms = Ms(step.timeout),
                                         .undoes = undoes,
                                         .auto_rollback = state.auto_rollback,
                                         .dry_run = forward_dry_run,
                                         .only_hosts = plan.only};
  RecordSkippedHosts(step, phase, plan);  // before the start: a started step's are known
  Status ahead = Emit({{}, rollback ? EventKind::kRollbackStarted : EventKind::kStepStarted,
                       PhaseName(phase), step.id, "", "", 0, started_detail});
  // Write-ahead: the step's start, with what came before it (the previous step's result, the
  // transition here), is durable before the step acts. One commit: here, or, for a runner
  // that commits before it acts (a local process, recorded while it waits at its gate), in
  // that runner's first Record, with the attempt's start and the process's identity.
  const bool start_in_runner = runner_.CommitsBeforeActing(step);
  if (ahead.ok() && !start_in_runner) ahead = SyncAudit();

  Outcome outcome;
  StepResult last;
  const auto t0 = env_.Monotonic();
  int attempt = 0;
  if (!ahead.ok() && !rollback) {
    // Write-ahead: a forward step whose start cannot be recorded does not run. Rollbacks
    // run regardless: undoing is safer than leaving a half-done change.
    last.error = "not started: the audit log cannot be written (" + ahead.message() + ")";
    not_started_.insert(step.id);
  } else if (!rollback && cancel.cancelled()) {
    // Interrupted while its start was being recorded: it does not start at all.
    last.outcome = StepResult::Outcome::kCancelled;
    last.error = "not started";
    outcome.interrupted = true;
    not_started_.insert(step.id);
  } else {
    StepRequest request;
    request.step = &step;
    request.phase = phase;
    request.dry_run = forward_dry_run;
    request.early_dry_run = state.early_dry_run;
    for (const HostSkippedDetail& skipped : plan.skipped)
      request.skip_hosts.push_back(skipped.host);
    if (state.undoes) {
      request.undoing = state.undoes;
      auto it = results_.find(state.undoes->id);
      if (it != results_.end()) request.undoing_result = &it->second;
      if (plan.undoing) request.undoing_result = &*plan.undoing;
      request.auto_rollback = state.auto_rollback;
    }
    // What `rollback: auto` must restore is what the FIRST attempt recorded: a later attempt
    // of a failed apply would record the half-changed state.
    nlohmann::json first_undo_state;
    for (attempt = 1; attempt <= max_attempts; ++attempt) {
      request.attempt = attempt;
      (void)Emit({{}, EventKind::kAttemptStarted, PhaseName(phase), step.id, "", "", attempt,
                  AttemptStartedDetail{description}});
      // A retry: the attempts before it are durable before it acts again.
      if (attempt > 1 && !start_in_runner) (void)SyncAudit();
      {
        std::lock_guard<std::mutex> lock(mu_);
        reporter_.StepStarted(step, phase, attempt, max_attempts, description, forward_dry_run);
        if (attempt == 1)
          for (const HostSkippedDetail& skipped : plan.skipped)
            reporter_.StepProgress(step, skipped.host + " skipped (" + skipped.reason + ")");
      }
      const bool start_in_commit = start_in_runner && attempt == 1 && !rollback;
      AttemptContext context(*this, step, phase, attempt, cancel, start_in_commit);
      last = runner_.Run(request, context);
      // As above, when the runner's commit carried the step's start and the runner did not
      // act: a forward step that cannot be recorded does not run and is not undone, and one
      // interrupted while its start was recorded does not start at all.
      const bool start_refused = start_in_commit && context.first_commit_failed();
      if (start_refused) {
        last.outcome = StepResult::Outcome::kFailed;
        last.error = "not started: the audit log cannot be written (" +
                     context.first_commit().message() + ")";
        not_started_.insert(step.id);
      } else if (start_in_commit && context.start_cancelled()) {
        last.outcome = StepResult::Outcome::kCancelled;
        last.error = "not started";
        not_started_.insert(step.id);
      }
      if (first_undo_state.is_null() && !last.undo_state.is_null())
        first_undo_state = last.undo_state;
      if (last.ok()) last.error.clear();
      else if (last.error.empty()) last.error = OutcomeName(last.outcome);

      AttemptFinishedDetail detail;
      if (last.detail.is_object()) detail.extra = last.detail;
      detail.outcome = OutcomeName(last.outcome);
      detail.exit_status = last.exit_status;
      detail.duration_ms = Ms(last.duration);
      detail.error = last.error;
      detail.stdout_tail = CutTail(last.stdout_text);
      detail.stderr_tail = CutTail(last.stderr_text);
      for (const HostResult& h : last.hosts)
        detail.hosts.push_back({.host = h.host,
                                .ok = h.ok,
                                .reached = h.reached,
                                .exit_status = h.exit_status,
                                .duration_ms = Ms(h.duration),
                                .error = h.error,
                                .outputs = HostOutputValues(step, h)});
      detail.undo_state = last.undo_state;
      (void)Emit({{}, EventKind::kAttemptFinished, PhaseName(phase), step.id, "", "", attempt,
                  detail});

      const bool cancelled =
          last.outcome == StepResult::Outcome::kCancelled || cancel.cancelled();
      const bool retry = !last.ok() && !cancelled && !start_refused && attempt < max_attempts;
      {
        std::lock_guard<std::mutex> lock(mu_);
        reporter_.StepFinished(step, phase, last.ok(), redactor_.Redact(last.error),
                               last.duration, retry);
      }
      if (last.ok()) break;
      if (cancelled) {
        outcome.interrupted = true;
        break;
      }
      if (!retry) break;
      if (!env_.Sleep(step.retry_delay, cancel)) {
        outcome.interrupted = true;
        break;
      }
    }
    attempt = std::min(attempt, max_attempts);
    if (!first_undo_state.is_null()) last.undo_state = first_undo_state;
    StoreValues(step, last);
    // Kept only for the steps that have a rollback to hand it to: at 10,000 steps the others'
    // results would be most of the executor's memory (docs/performance.md).
    StepResult* kept = undone_.count(step.id) ? &(results_[step.id] = last) : nullptr;
    if (!rollback && last.ok() && !outcome.interrupted) {
      // Hosts that failed within max_fail are undone where they failed, at once.
      const std::string undo_error = UndoFailedHosts(step, phase, last);
      if (!undo_error.empty()) {
        last.outcome = StepResult::Outcome::kFailed;
        last.error = undo_error;
        if (kept) {
          kept->outcome = last.outcome;
          kept->error = last.error;
        }
      }
    }
  }
  outcome.ok = last.ok();
  const Duration took = std::chrono::duration_cast<Duration>(env_.Monotonic() - t0);

  std::string error = last.error;
  if (!outcome.ok && attempt > 1)
    error += " after " + std::to_string(attempt) + " attempts over " +
             std::to_string(Ms(took) / 1000) + "." + std::to_string((Ms(took) % 1000) / 100) + "s";
  if (outcome.interrupted && !rollback) {
    const std::string reason = cancel.reason();
    error = (reason.empty() ? "interrupted (" : "interrupted: " + reason + " (") + error + ")";
  }
  error = redactor_.Redact(error);

  StepSummary& s = summaries_[summary_index];
  s.attempts = attempt;
  s.duration = took;
  s.error = outcome.ok ? "" : error;
  s.state = outcome.ok ? "succeeded" : outcome.interrupted ? "interrupted" : "failed";
  if (!outcome.ok && first_error_.empty() && !rollback)
    first_error_ = step.id + ": " + error;

  StepEndDetail done;
  done.attempts = attempt;
  done.duration_ms = Ms(took);
  done.exit_status = last.exit_status;
  if (!outcome.ok) done.error = error;
  done.interrupted = outcome.interrupted;
  if (!step.outputs.empty() && outcome.ok) {
    auto it = scope_.steps.find(step.id);
    if (it != scope_.steps.end()) done.outputs = it->second.outputs;
  }
  const EventKind end =
      rollback ? (outcome.ok ? EventKind::kRollbackSucceeded : EventKind::kRollbackFailed)
               : (outcome.ok ? EventKind::kStepSucceeded : EventKind::kStepFailed);
  (void)Emit({{}, end, PhaseName(phase), step.id, "", "", attempt, done});
  return outcome;
}

void Executor::StoreValues(const StepSpec& step, const StepResult& result) {
  TemplateScope::StepValues v;
  v.stdout_text = TrimTrailingNewlines(result.stdout_text);
  v.stderr_text = TrimTrailingNewlines(result.stderr_text);
  v.outputs = OutputValues(step, result.outputs, v.stdout_text, v.stderr_text);
  for (const HostResult& h : result.hosts) v.host_outputs[h.host] = HostOutputValues(step, h);
  // A step that printed nothing and has no outputs renders exactly as one that has not run
  // (""), so nothing is kept for it: most steps of a long runbook, some 250 bytes each.
  if (v.stdout_text.empty() && v.stderr_text.empty() && v.outputs.empty() &&
      v.host_outputs.empty()) {
    scope_.steps.erase(step.id);
    return;
  }
  scope_.steps[step.id] = std::move(v);
}

}  // namespace runbook
