// What the executor tells the person watching a run. The console implementation lives in the
// cli; tests use a recording one. Calls may come from several threads (an SSH step's hosts):
// the executor serialises them.
#pragma once

#include <string>
#include <string_view>

#include "engine/model.h"
#include "engine/step_runner.h"

namespace runbook {

struct RunSummary;

class Reporter {
 public:
  virtual ~Reporter() = default;
  virtual void RunStarted(const Runbook& runbook, const std::string& run_id, bool dry_run) = 0;
  /// The run moved between the SPEC's coarse states (prechecks, steps, rolling_back, ...).
  virtual void PhaseChanged(std::string_view from, std::string_view to) = 0;
  /// An attempt starts; `description` is the action with secrets masked ("echo hi").
  virtual void StepStarted(const StepSpec& step, Phase phase, int attempt, int max_attempts,
                           std::string_view description, bool dry_run) = 0;
  virtual void StepOutput(const StepSpec& step, std::string_view host, bool is_stderr,
                          std::string_view line) = 0;
  virtual void StepProgress(const StepSpec& step, std::string_view message) = 0;
  /// Of the `total` hosts the running attempt of a step on several hosts (ssh) has, `done`
  /// have finished, `failed` of them with a failure; first with done 0, then as hosts finish.
  virtual void StepHosts(const StepSpec& step, int done, int total, int failed) = 0;
  /// An attempt ended; `error` is already redacted. `will_retry` when another attempt follows.
  virtual void StepFinished(const StepSpec& step, Phase phase, bool ok, std::string_view error,
                            Duration duration, bool will_retry) = 0;
  virtual void Note(std::string_view message) = 0;
  virtual void RunFinished(const RunSummary& summary) = 0;
};

}  // namespace runbook
