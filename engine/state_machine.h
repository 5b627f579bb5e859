// The compiled form of a runbook (SPEC §2): plain data that can be printed, graphed, tested and
// replayed. The executor walks it and never derives control flow on its own (ninja's Plan vs
// Builder).
//
//   pending → precheck:* → precheck:dry-run:* → step:* → verify:* → succeeded
//   precheck failure or interruption                → aborted
//   step/verify failure or interruption             → the rollback chain, entered at the
//                                                      failed step's own rollback
//   rollback chain: rollback:<step N>… → rollback:<step 1>… → global_rollback:* → rollback_done
//   rollback_done: every rollback action succeeded → rolled_back, else → rollback_failed
//
// precheck:dry-run:<step> is the server-side dry run of a kubectl `apply` step, run with the
// prechecks so that it fails before anything has changed (SPEC §5); compiled for every apply
// step whose path does not name an earlier step's output (the runner skips one whose
// manifests do).
//
// A rollback action that fails does not stop the chain (both of its edges lead on); the
// executor remembers that one failed and fires kFailure from rollback_done. A completed step
// whose interruption is noticed before the next step starts fires kInterrupt from its own
// state, so steps that never started are never rolled back.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "engine/model.h"

namespace runbook {

enum class StateKind {
  kPending,
  kPrecheck,
  kStep,
  kVerify,
  kStepRollback,    // one rollback action (or `rollback: auto`) of a step
  kGlobalRollback,  // one action of the runbook's global rollback list
  kRollbackDone,    // decides rolled_back vs rollback_failed
  kSucceeded,
  kAborted,
  kRolledBack,
  kRollbackFailed,
};

enum class Trigger { kStart, kSuccess, kFailure, kInterrupt };

const char* TriggerName(Trigger trigger);  // "start", "success", "failure", "interrupt"

struct State {
  int id = 0;
  StateKind kind = StateKind::kPending;
  std::string name;                  // "step:migrate", "rollback:migrate:1", "succeeded"
  const StepSpec* step = nullptr;    // the step run in this state (the rollback action for
                                     // kStepRollback unless auto_rollback)
  const StepSpec* undoes = nullptr;  // kStepRollback: the forward step
  bool auto_rollback = false;        // kStepRollback: `rollback: auto`
  bool early_dry_run = false;        // kPrecheck: the dry run of the step `step`, run early

  bool terminal() const;
  /// The SPEC's coarse state: pending, prechecks, steps, verify, rolling_back or a terminal.
  const char* coarse() const;
  /// The audit phase of the step run here: precheck, step, verify or rollback; "run" otherwise.
  const char* phase() const;
};

struct Transition {
  int from = 0;
  Trigger on = Trigger::kStart;
  int to = 0;
};

/// Whether `step` gets a precheck:dry-run state: a kubectl apply whose path names no step's
/// output.
bool HasEarlyDryRun(const StepSpec& step);

class StateMachine {
 public:
  /// Compiles a validated runbook. `runbook` must outlive the machine (states point into it).
  static StateMachine Compile(const Runbook& runbook);

  const std::vector<State>& states() const { return states_; }
  const std::vector<Transition>& transitions() const { return transitions_; }
  const State& state(int id) const { return states_[id]; }
  int pending() const { return 0; }
  /// The state reached from `from` on `trigger`, or -1 when there is no such edge.
  int Next(int from, Trigger trigger) const;
  /// The id of the state named `name`, or -1.
  int Find(const std::string& name) const;

 private:
  int Add(StateKind kind, std::string name, const StepSpec* step = nullptr);
  void Edge(int from, Trigger on, int to);

  std::vector<State> states_;
  std::vector<Transition> transitions_;
  /// Per state, per Trigger: the state its first edge on that trigger leads to, or -1. Flat,
  /// because a runbook can compile to 100,000 states.
  std::vector<std::array<int, 4>> next_;
};

/// The machine in Graphviz dot.
std::string ToDot(const StateMachine& machine, const std::string& title);
/// The machine as a Mermaid state diagram.
std::string ToMermaid(const StateMachine& machine);

}  // namespace runbook
