// The one reader of a run's recorded events (engine/events.h): it folds them, in seq order,
// into where the run stopped (what `runbook recover` resumes from) and what each step did
// (what `runbook replay --verify` re-derives the transitions from).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/events.h"
#include "engine/host_ledger.h"
#include "engine/step_runner.h"
#include "engine/template.h"

namespace runbook {

/// Where a run whose executor died stands, as `runbook recover` reads it from the audit log.
struct ResumePoint {
  std::string state;             // the `to` of the last recorded state_changed, else pending
  bool step_started = false;     // that state's step recorded its start: it may have acted
  bool step_finished = false;    // that state's step recorded its end (succeeded or failed)
  bool step_ok = false;          // ... and it succeeded
  bool rollback_failed = false;  // a rollback action had already failed
  /// The recorded run_finished, if any: then only the run row's end was lost.
  std::optional<RunFinishedDetail> finished;
  int dead_pid = 0;
  std::string cause;  // the recorded failure that started the rollback, if any
  /// Recorded stdout and outputs, per host too (an ssh step's attempt records each host's).
  std::map<std::string, TemplateScope::StepValues> values;
  std::map<std::string, StepResult> results;  // recorded hosts and undo_state per step
  /// What became of each ssh host: where it failed, where a rollback already ran.
  HostLedger hosts;
  /// The processes the step of `state` started in their own process groups (process_started
  /// with a pgid, since that state was entered), with what identifies each group's leader:
  /// they may outlive the dead executor.
  std::vector<ProcessStartedDetail> processes;
};

/// What one step (or rollback action) did in one phase.
struct StepHistory {
  std::optional<StepStartedDetail> started;  // step_started / rollback_started
  int attempts = 0;                          // attempt_started events
  std::optional<AttemptFinishedDetail> last_attempt;
  std::optional<EventKind> end;  // the last step end (IsStepEnd); nullopt: it never ended
  StepEndDetail end_detail;

  bool ended() const { return end.has_value(); }
  bool ok() const { return end && IsStepSuccess(*end); }
};

/// One recorded state_changed.
struct TransitionRecord {
  int64_t seq = 0;
  std::string from;
  std::string to;
  std::string trigger;  // StateChangedDetail::trigger
};

/// A recorded run_finished.
struct FinishRecord {
  int64_t seq = 0;
  std::string state;  // the event's `to`
  RunFinishedDetail detail;
};

/// One run's recorded history.
struct RunHistory {
  ResumePoint resume;
  std::vector<TransitionRecord> transitions;  // in seq order
  std::optional<FinishRecord> finished;       // the last run_finished
  /// Per (phase, step id); rollback actions are in phase "rollback".
  std::map<std::pair<std::string, std::string>, StepHistory> steps;

  const StepHistory* Step(const std::string& phase, const std::string& step) const;
};

/// Folds one run's events (in seq order) into its history. `executor_pid` is the pid the
/// run row records (ResumePoint::dead_pid). Events of kinds this version does not know are
/// skipped; mistyped details read as their defaults (engine/events.h).
RunHistory ReadRunHistory(const std::vector<EventView>& events, int executor_pid);

}  // namespace runbook
