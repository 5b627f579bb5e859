#include "audit/replay_check.h"

#include <filesystem>

#include "engine/loader.h"
#include "engine/state_machine.h"

namespace runbook {
namespace {

// The trigger that leaves `state`, from the outcome recorded for its step.
Trigger Derive(const State& state, const std::vector<StoredEvent>& events, bool any_rollback_failed,
               const std::string& recorded_trigger) {
  switch (state.kind) {
    case StateKind::kRollbackDone:
      return any_rollback_failed ? Trigger::kFailure : Trigger::kSuccess;
    case StateKind::kPending:
      return recorded_trigger == "interrupt" ? Trigger::kInterrupt : Trigger::kStart;
    case StateKind::kSucceeded:
    case StateKind::kAborted:
    case StateKind::kRolledBack:
    case StateKind::kRollbackFailed:
      return Trigger::kSuccess;
    case StateKind::kPrecheck:
    case StateKind::kStep:
    case StateKind::kVerify:
    case StateKind::kStepRollback:
    case StateKind::kGlobalRollback:
      break;
  }
  // The last terminal step event of this state's step in its phase.
  const std::string phase = state.phase();
  const StoredEvent* last = nullptr;
  for (const StoredEvent& e : events) {
    if (e.step != state.step->id || e.phase != phase) continue;
    if (e.event == "step_succeeded" || e.event == "step_failed" || e.event == "step_skipped" ||
        e.event == "rollback_succeeded" || e.event == "rollback_failed")
      last = &e;
  }
  if (!last) return Trigger::kFailure;
  const bool ok = last->event == "step_succeeded" || last->event == "rollback_succeeded" ||
                  last->event == "step_skipped";
  if (!ok) {
    const bool interrupted = last->detail.is_object() && last->detail.value("interrupted", false);
    return interrupted ? Trigger::kInterrupt : Trigger::kFailure;
  }
  // A completed step whose interruption was noticed right after it.
  if (recorded_trigger == "interrupt" &&
      (state.kind == StateKind::kPrecheck || state.kind == StateKind::kStep ||
       state.kind == StateKind::kVerify))
    return Trigger::kInterrupt;
  return Trigger::kSuccess;
}

}  // namespace

std::vector<std::string> CheckReplay(const StoredRun& run, const std::vector<StoredEvent>& events) {
  std::vector<std::string> problems;
  const std::string dir = std::filesystem::path(run.runbook_path).parent_path().string();
  LoadResult loaded = LoadRunbookText(run.runbook_text, run.runbook_path, dir.empty() ? "." : dir);
  if (!loaded.ok()) {
    problems.push_back("the recorded runbook text no longer validates");
    return problems;
  }
  const StateMachine machine = StateMachine::Compile(*loaded.runbook);

  std::vector<const StoredEvent*> transitions;
  const StoredEvent* finished = nullptr;
  bool any_rollback_failed = false;
  for (const StoredEvent& e : events) {
    if (e.event == "state_changed") transitions.push_back(&e);
    if (e.event == "run_finished") finished = &e;
    if (e.event == "rollback_failed") any_rollback_failed = true;
  }

  int current = machine.pending();
  size_t i = 0;
  for (; !machine.state(current).terminal(); ++i) {
    const State& state = machine.state(current);
    const std::string recorded_trigger =
        i < transitions.size() && transitions[i]->detail.is_object()
            ? transitions[i]->detail.value("trigger", "")
            : "";
    const int next =
        machine.Next(current, Derive(state, events, any_rollback_failed, recorded_trigger));
    if (next < 0) {
      problems.push_back("state " + state.name + " has no way on; the run cannot be re-derived");
      return problems;
    }
    const std::string& derived = machine.state(next).name;
    if (i >= transitions.size()) {
      if (finished) {
        problems.push_back("the log ends at " + state.name + " but the runbook leads on to " +
                           derived);
      }
      // A run that never finished (its executor died) stops here; `recover` finishes it.
      return problems;
    }
    const StoredEvent& t = *transitions[i];
    if (t.from != state.name || t.to != derived) {
      problems.push_back("event " + std::to_string(t.seq) + ": recorded " + t.from + " -> " + t.to +
                         ", but the recorded step results lead " + state.name + " -> " + derived);
      return problems;
    }
    current = next;
  }
  if (i < transitions.size())
    problems.push_back("event " + std::to_string(transitions[i]->seq) +
                       ": a transition after the terminal state " + machine.state(current).name);
  if (!finished) {
    problems.push_back("the run reached " + machine.state(current).name +
                       " but has no run_finished event");
  } else if (finished->to != machine.state(current).name) {
    problems.push_back("event " + std::to_string(finished->seq) + ": run_finished records " +
                       finished->to + ", but the transitions lead to " +
                       machine.state(current).name);
  }
  if (!run.state.empty() && run.state != machine.state(current).name)
    problems.push_back("the run row records " + run.state + ", but the transitions lead to " +
                       machine.state(current).name);
  return problems;
}

}  // namespace runbook
