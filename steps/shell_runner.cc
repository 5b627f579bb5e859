// The `shell` action: one attempt of `/bin/sh -c COMMAND` through RunProcess (process.h).
// Retries, redaction of the returned tails and the outputs are the executor's job.
#include <signal.h>
#include <string.h>

#include <filesystem>
#include <string>
#include <variant>

#include "engine/step_runner.h"
#include "steps/process.h"
#include "steps/step_runners.h"

namespace runbook {
namespace {

/// "1s", "250ms", "1.5s", "2m", "2m30s".
std::string HumanDuration(Duration d) {
  long long ms = d.count();
  if (ms < 1000) return std::to_string(ms) + "ms";
  if (ms < 60 * 1000 || ms % 1000 != 0) {
    std::string s = std::to_string(ms / 1000);
    if (ms % 1000 != 0) {
      std::string frac = std::to_string(1000 + ms % 1000).substr(1);  // "050"
      while (frac.back() == '0') frac.pop_back();
      s += "." + frac;
    }
    return s + "s";
  }
  long long s = ms / 1000;
  std::string out;
  if (s >= 3600) out += std::to_string(s / 3600) + "h";
  if (s % 3600 >= 60) out += std::to_string(s % 3600 / 60) + "m";
  if (s % 60 != 0) out += std::to_string(s % 60) + "s";
  return out;
}

std::string SignalName(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

/// The step's working directory: its `cwd` rendered, relative to the runbook's folder.
std::string ResolveCwd(const ShellAction& action, const StepContext& context) {
  const std::string& base = context.runbook().dir;
  if (action.cwd.empty()) return base;
  std::filesystem::path cwd = context.Render(action.cwd, Quoting::kNone);
  if (cwd.is_relative() && !base.empty()) cwd = std::filesystem::path(base) / cwd;
  return cwd.lexically_normal().string();
}

class ShellRunner : public StepRunner {
 public:
  StepResult Run(const StepRequest& request, StepContext& context) override {
    StepResult result;
    const auto* action = std::get_if<ShellAction>(&request.step->action);
    if (action == nullptr) {
      result.error = "internal error: the shell runner was given a non-shell step";
      return result;
    }
    if (request.dry_run) {
      result.outcome = StepResult::Outcome::kSucceeded;
      result.detail = {{"dry_run", true},
                       {"command", context.RenderForDisplay(action->command, Quoting::kShell)}};
      return result;
    }
    if (context.cancelled()) {
      result.outcome = StepResult::Outcome::kCancelled;
      result.error = "interrupted";
      return result;
    }

    // The values travel in the environment, never in the command text (SPEC section 5): no
    // shell context can re-parse them and no secret is in the argument list.
    ShellCommand command = context.RenderShell(action->command);
    ProcessSpec spec;
    // The shell starts up while its process_started is being committed, and waits in front
    // of the script until it is (docs/processes.md).
    spec.argv = {"/bin/sh", "-c", GatedShellScript(command.text)};
    spec.waits_at_own_gate = true;
    spec.cwd = ResolveCwd(*action, context);
    spec.env_add = context.extra_env();
    for (const auto& [name, value] : action->env)
      spec.env_add[name] = context.Render(value, Quoting::kNone);
    spec.env_add.merge(command.values);
    spec.timeout = request.step->timeout;
    spec.kill_grace = request.step->kill_grace;

    ProcessResult p = RunProcess(
        spec, context.cancel_fd(),
        [&context](bool is_stderr, std::string_view line, bool continues) {
          context.OutputLine("", is_stderr, line, continues);
        },
        RecordProcessStarted(context, request.phase));

    result.duration = p.duration;
    result.exit_status = p.exit_status;
    result.stdout_text = std::move(p.stdout_tail);
    result.stderr_text = std::move(p.stderr_tail);
    result.detail = {{"exit_status", p.exit_status},
                     {"duration_ms", p.duration.count()}};
    if (p.pgid > 0) result.detail["pgid"] = p.pgid;
    if (p.term_signal != 0) result.detail["signal"] = p.term_signal;

    if (p.spawn_failed) {
      result.outcome = StepResult::Outcome::kFailed;
      result.error = p.error;
    } else if (p.timed_out) {
      result.outcome = StepResult::Outcome::kTimedOut;
      result.error = "timed out after " + HumanDuration(spec.timeout) +
                     " (SIGTERM sent to the process group" +
                     (p.sigkill_sent ? ", SIGKILL after " + HumanDuration(spec.kill_grace) : "") +
                     ")";
    } else if (p.cancelled) {
      result.outcome = StepResult::Outcome::kCancelled;
      result.error = "interrupted";
    } else if (p.exit_status == 0) {
      result.outcome = StepResult::Outcome::kSucceeded;
    } else {
      result.outcome = StepResult::Outcome::kFailed;
      if (p.exit_status < 0) {
        result.error = p.error.empty() ? "exit status unknown" : p.error;
      } else {
        result.error = "exit status " + std::to_string(p.exit_status);
        if (p.term_signal != 0) result.error += " (killed by " + SignalName(p.term_signal) + ")";
      }
    }
    return result;
  }

  // Nothing above acts before RunProcess records the process, which waits at its gate until
  // that record is durable and exits without running the command when it is not.
  bool CommitsBeforeActing(const StepSpec&) const override { return true; }
};

}  // namespace

std::unique_ptr<StepRunner> MakeShellRunner() { return std::make_unique<ShellRunner>(); }

}  // namespace runbook
