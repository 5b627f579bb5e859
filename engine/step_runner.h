// The interface between the executor and whatever carries out an action (ninja's
// CommandRunner). The engine never knows how a shell, SSH, kubectl or HTTP action runs; the
// implementations live in steps/ and are handed to the executor by the cli.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/events.h"
#include "engine/model.h"
#include "engine/status.h"
#include "engine/template.h"

namespace runbook {

/// What one host of an SSH step did.
struct HostResult {
  std::string host;            // as written in the target ("web1" or "web2:2222")
  bool ok = false;
  bool reached = false;        // a session was established (so a rollback must run there)
  int exit_status = -1;        // -1: no exit status (never ran, killed, timed out)
  std::string error;           // "auth refused", "host key mismatch", "exit status 7", ...
  Duration duration{0};
  std::string stdout_text;     // tail, unredacted
  std::string stderr_text;
  std::map<std::string, std::string> outputs;  // per-host outputs
};

/// What one attempt of a step did. Runners fill what applies to their action.
struct StepResult {
  enum class Outcome { kSucceeded, kFailed, kTimedOut, kCancelled };
  Outcome outcome = Outcome::kFailed;
  int exit_status = -1;        // -1: no exit status
  std::string error;           // one line for humans when not kSucceeded: "exit status 3"
  std::string stdout_text;     // the last 64 KiB, unredacted (the engine redacts)
  std::string stderr_text;
  /// Outputs computed by the runner for sources only it understands ("body", "$.json.path").
  /// "stdout" and "stderr" sources are filled by the engine when absent here.
  std::map<std::string, std::string> outputs;
  std::vector<HostResult> hosts;   // ssh: one per host that was attempted
  nlohmann::json detail = nlohmann::json::object();  // extra facts for the audit record
  /// What `rollback: auto` needs later (kubectl: recorded revisions). Stored in the audit log.
  nlohmann::json undo_state;
  Duration duration{0};

  bool ok() const { return outcome == Outcome::kSucceeded; }
};

/// One attempt of one step, as the executor asks for it.
struct StepRequest {
  const StepSpec* step = nullptr;  // the action, timeout, kill_grace, outputs
  Phase phase = Phase::kStep;
  int attempt = 1;                 // counted from 1
  bool dry_run = false;            // render and check only; change nothing
  /// A dry run with the prechecks, before any step has run (precheck:dry-run:<step>): a
  /// runner whose action uses earlier steps' outputs, or needs what an earlier step creates,
  /// skips it (the step's own dry run checks it then).
  bool early_dry_run = false;
  /// For rollbacks: the forward step being undone and its last result (for ssh, the hosts it
  /// reached; for kubectl, undo_state). `auto_rollback` asks the runner to undo `undoing`
  /// itself (`rollback: auto`); then `step` is the forward step too.
  const StepSpec* undoing = nullptr;
  const StepResult* undoing_result = nullptr;
  bool auto_rollback = false;
  /// ssh: hosts of the target to leave out, as the target writes them (they failed in an
  /// earlier step, or this rollback action already ran there). The executor has recorded
  /// each (host_skipped) before the attempt.
  std::vector<std::string> skip_hosts;
};

/// What the executor offers a runner during one attempt. Thread-safe: an SSH runner may call
/// it from several threads.
class StepContext {
 public:
  virtual ~StepContext() = default;

  /// Renders a template field of the action with real values (secrets included). With
  /// Quoting::kShell every value is shell-quoted. `host` picks per-host step outputs.
  virtual std::string Render(std::string_view tmpl, Quoting quoting,
                             std::string_view host = {}) const = 0;
  /// A shell or ssh command: its text with each value as a variable reference, and the
  /// values beside it (see ShellCommand in engine/template.h).
  virtual ShellCommand RenderShell(std::string_view tmpl, std::string_view host = {}) const = 0;
  /// The same as Render, with every secret shown as `***`: for printing and the audit log.
  virtual std::string RenderForDisplay(std::string_view tmpl, Quoting quoting,
                                       std::string_view host = {}) const = 0;
  /// Replaces every secret value in `text` with `***`.
  virtual std::string Redact(std::string_view text) const = 0;
  /// Redact() for the kept tail of a longer output, which may begin inside a secret.
  virtual std::string RedactTail(std::string_view text) const = 0;

  /// One line of live output (without its newline); redacted and printed with the step's name.
  /// `continues`: a piece of a longer line that goes on in the next call (a secret cut
  /// between the pieces is still masked).
  virtual void OutputLine(std::string_view host, bool is_stderr, std::string_view line,
                          bool continues) = 0;
  /// A progress message for a long step ("rollout 2/3 replicas ready").
  virtual void Progress(std::string_view message) = 0;
  /// For a step on several hosts: `done` of its `total` hosts have finished, `failed` of them
  /// with a failure. Called with done 0 before the first host starts, then as hosts finish;
  /// the console shows it on a long step's status line (not in the audit log).
  virtual void HostsDone(int done, int total, int failed) = 0;
  /// Appends an audit event to the current attempt (a host's result, a process group id;
  /// the kinds and their details are in engine/events.h). Redacted, and durable when this
  /// returns.
  virtual Status Record(EventKind event, const nlohmann::json& detail) = 0;

  /// Becomes readable when the run is interrupted: include it in poll().
  virtual int cancel_fd() const = 0;
  virtual bool cancelled() const = 0;

  /// Environment added to every process the step starts (RUNBOOK_PARAM_<NAME>, ...).
  virtual const std::map<std::string, std::string>& extra_env() const = 0;
  virtual const Runbook& runbook() const = 0;
  virtual const std::string& run_id() const = 0;
};

/// Carries out one attempt of a step. Must honour the step's timeout and return promptly
/// (within kill_grace) once cancel_fd() is readable. Must not throw.
class StepRunner {
 public:
  virtual ~StepRunner() = default;
  virtual StepResult Run(const StepRequest& request, StepContext& context) = 0;
  /// True when every attempt of `step` Records an event (StepContext::Record, durable on
  /// return) before its first act, and acts not at all when that Record fails: a local
  /// process, whose identity is recorded while it waits at its gate. The executor then
  /// leaves the step's start queued for that commit, so that such a step costs one commit
  /// instead of two (docs/audit.md "Commits"). False (the default) is always safe.
  virtual bool CommitsBeforeActing(const StepSpec& step) const {
    (void)step;
    return false;
  }
};

}  // namespace runbook
