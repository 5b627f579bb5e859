#include "audit/replay_check.h"

#include <filesystem>

#include "engine/loader.h"
#include "engine/run_history.h"
#include "engine/state_machine.h"

namespace runbook {
namespace {

// The trigger that leaves `state`, from the outcome recorded for its step.
Trigger Derive(const State& state, const RunHistory& history, const std::string& recorded_trigger) {
  switch (state.kind) {
    case StateKind::kRollbackDone:
      return history.resume.rollback_failed ? Trigger::kFailure : Trigger::kSuccess;
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
  // The last end recorded for this state's step in its phase.
  const StepHistory* step = history.Step(state.phase(), state.step->id);
  if (!step || !step->ended()) return Trigger::kFailure;
  if (!step->ok()) return step->end_detail.interrupted ? Trigger::kInterrupt : Trigger::kFailure;
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

  const RunHistory history = ReadRunHistory(ViewsOf(events), run.pid);
  const std::vector<TransitionRecord>& transitions = history.transitions;
  const std::optional<FinishRecord>& finished = history.finished;

  int current = machine.pending();
  size_t i = 0;
  for (; !machine.state(current).terminal(); ++i) {
    const State& state = machine.state(current);
    const std::string recorded_trigger = i < transitions.size() ? transitions[i].trigger : "";
    const int next = machine.Next(current, Derive(state, history, recorded_trigger));
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
    const TransitionRecord& t = transitions[i];
    if (t.from != state.name || t.to != derived) {
      problems.push_back("event " + std::to_string(t.seq) + ": recorded " + t.from + " -> " + t.to +
                         ", but the recorded step results lead " + state.name + " -> " + derived);
      return problems;
    }
    current = next;
  }
  if (i < transitions.size())
    problems.push_back("event " + std::to_string(transitions[i].seq) +
                       ": a transition after the terminal state " + machine.state(current).name);
  if (!finished) {
    problems.push_back("the run reached " + machine.state(current).name +
                       " but has no run_finished event");
  } else if (finished->state != machine.state(current).name) {
    problems.push_back("event " + std::to_string(finished->seq) + ": run_finished records " +
                       finished->state + ", but the transitions lead to " +
                       machine.state(current).name);
  }
  if (!run.state.empty() && run.state != machine.state(current).name)
    problems.push_back("the run row records " + run.state + ", but the transitions lead to " +
                       machine.state(current).name);
  return problems;
}

}  // namespace runbook
