#include "engine/state_machine.h"

#include <gtest/gtest.h>

#include "engine/engine_test_util.h"

namespace runbook {
namespace {

using testing::Shell;
using testing::WithUndo;

// The name of the state reached from the state named `from` on `trigger`.
std::string Next(const StateMachine& m, const std::string& from, Trigger trigger) {
  int id = m.Find(from);
  EXPECT_GE(id, 0) << "no state " << from;
  int to = m.Next(id, trigger);
  return to < 0 ? "<none>" : m.state(to).name;
}

Runbook Sample() {
  Runbook rb;
  rb.name = "sample";
  rb.prechecks.push_back(Shell("pre", "true", Phase::kPrecheck));
  rb.steps.push_back(WithUndo(Shell("a", "do a"), "undo a"));
  StepSpec b = Shell("b", "do b");  // no rollback at all
  rb.steps.push_back(b);
  StepSpec c = WithUndo(Shell("c", "do c"), "undo c1");
  c.rollback.actions.push_back(Shell("c-rollback-2", "undo c2", Phase::kRollback));
  rb.steps.push_back(c);
  StepSpec d = Shell("d", "announce");
  d.rollback.kind = RollbackSpec::Kind::kNone;
  rb.steps.push_back(d);
  rb.verify.push_back(Shell("health", "check", Phase::kVerify));
  rb.rollback.push_back(Shell("rollback-1", "global", Phase::kRollback));
  return rb;
}

TEST(StateMachineTest, ForwardPathRunsEveryPhaseInOrder) {
  Runbook rb = Sample();
  StateMachine m = StateMachine::Compile(rb);
  EXPECT_EQ(m.state(m.Next(m.pending(), Trigger::kStart)).name, "precheck:pre");
  EXPECT_EQ(Next(m, "precheck:pre", Trigger::kSuccess), "step:a");
  EXPECT_EQ(Next(m, "step:a", Trigger::kSuccess), "step:b");
  EXPECT_EQ(Next(m, "step:b", Trigger::kSuccess), "step:c");
  EXPECT_EQ(Next(m, "step:c", Trigger::kSuccess), "step:d");
  EXPECT_EQ(Next(m, "step:d", Trigger::kSuccess), "verify:health");
  EXPECT_EQ(Next(m, "verify:health", Trigger::kSuccess), "succeeded");
}

TEST(StateMachineTest, PrecheckFailureAndInterruptionAbort) {
  Runbook rb = Sample();
  StateMachine m = StateMachine::Compile(rb);
  EXPECT_EQ(Next(m, "precheck:pre", Trigger::kFailure), "aborted");
  EXPECT_EQ(Next(m, "precheck:pre", Trigger::kInterrupt), "aborted");
  EXPECT_EQ(Next(m, "pending", Trigger::kInterrupt), "aborted");
}

TEST(StateMachineTest, StepFailureEntersTheChainAtItsOwnRollback) {
  Runbook rb = Sample();
  StateMachine m = StateMachine::Compile(rb);
  EXPECT_EQ(Next(m, "step:c", Trigger::kFailure), "rollback:c:1");
  EXPECT_EQ(Next(m, "step:c", Trigger::kInterrupt), "rollback:c:1");
  EXPECT_EQ(Next(m, "step:a", Trigger::kFailure), "rollback:a:1");
  // b has no rollback: the chain starts at the nearest earlier step that has one.
  EXPECT_EQ(Next(m, "step:b", Trigger::kFailure), "rollback:a:1");
  // d is irreversible: failing there undoes c first.
  EXPECT_EQ(Next(m, "step:d", Trigger::kFailure), "rollback:c:1");
  EXPECT_EQ(Next(m, "verify:health", Trigger::kFailure), "rollback:c:1");
  EXPECT_EQ(Next(m, "verify:health", Trigger::kInterrupt), "rollback:c:1");
}

TEST(StateMachineTest, ChainRunsInReverseThenGlobalThenDecides) {
  Runbook rb = Sample();
  StateMachine m = StateMachine::Compile(rb);
  for (Trigger t : {Trigger::kSuccess, Trigger::kFailure}) {
    EXPECT_EQ(Next(m, "rollback:c:1", t), "rollback:c:2");
    EXPECT_EQ(Next(m, "rollback:c:2", t), "rollback:a:1");
    EXPECT_EQ(Next(m, "rollback:a:1", t), "global_rollback:rollback-1");
    EXPECT_EQ(Next(m, "global_rollback:rollback-1", t), "rollback_done");
  }
  EXPECT_EQ(Next(m, "rollback_done", Trigger::kSuccess), "rolled_back");
  EXPECT_EQ(Next(m, "rollback_done", Trigger::kFailure), "rollback_failed");
}

TEST(StateMachineTest, EveryNonTerminalStateHasItsEdgesAndTerminalsHaveNone) {
  Runbook rb = Sample();
  StateMachine m = StateMachine::Compile(rb);
  for (const State& s : m.states()) {
    switch (s.kind) {
      case StateKind::kPending:
        EXPECT_GE(m.Next(s.id, Trigger::kStart), 0);
        EXPECT_GE(m.Next(s.id, Trigger::kInterrupt), 0);
        break;
      case StateKind::kPrecheck:
      case StateKind::kStep:
      case StateKind::kVerify:
        for (Trigger t : {Trigger::kSuccess, Trigger::kFailure, Trigger::kInterrupt})
          EXPECT_GE(m.Next(s.id, t), 0) << s.name << " " << TriggerName(t);
        break;
      case StateKind::kStepRollback:
      case StateKind::kGlobalRollback:
      case StateKind::kRollbackDone:
        EXPECT_GE(m.Next(s.id, Trigger::kSuccess), 0) << s.name;
        EXPECT_GE(m.Next(s.id, Trigger::kFailure), 0) << s.name;
        break;
      case StateKind::kSucceeded:
      case StateKind::kAborted:
      case StateKind::kRolledBack:
      case StateKind::kRollbackFailed:
        for (Trigger t : {Trigger::kStart, Trigger::kSuccess, Trigger::kFailure,
                          Trigger::kInterrupt})
          EXPECT_LT(m.Next(s.id, t), 0) << s.name;
        break;
    }
  }
}

TEST(StateMachineTest, NoStepsNoRollbacks) {
  Runbook rb;
  rb.name = "empty";
  StateMachine m = StateMachine::Compile(rb);
  EXPECT_EQ(m.state(m.Next(m.pending(), Trigger::kStart)).name, "succeeded");
  Runbook only_verify;
  only_verify.verify.push_back(Shell("v", "check", Phase::kVerify));
  StateMachine v = StateMachine::Compile(only_verify);
  EXPECT_EQ(Next(v, "verify:v", Trigger::kFailure), "rollback_done");
}

TEST(StateMachineTest, AutoRollbackIsOneStateThatUndoesTheStep) {
  Runbook rb;
  StepSpec k;
  k.id = "apply";
  k.action = KubectlAction{};
  k.rollback.kind = RollbackSpec::Kind::kAuto;
  rb.steps.push_back(k);
  StateMachine m = StateMachine::Compile(rb);
  int id = m.Find("rollback:apply:auto");
  ASSERT_GE(id, 0);
  EXPECT_TRUE(m.state(id).auto_rollback);
  EXPECT_EQ(m.state(id).undoes, &rb.steps[0]);
  EXPECT_EQ(Next(m, "step:apply", Trigger::kFailure), "rollback:apply:auto");
}

TEST(StateMachineTest, GraphsNameEveryState) {
  Runbook rb = Sample();
  StateMachine m = StateMachine::Compile(rb);
  std::string dot = ToDot(m, "sample");
  std::string mermaid = ToMermaid(m);
  EXPECT_NE(dot.find("digraph"), std::string::npos);
  EXPECT_NE(mermaid.find("stateDiagram-v2"), std::string::npos);
  for (const State& s : m.states()) {
    EXPECT_NE(dot.find("\"" + s.name + "\""), std::string::npos) << s.name;
    EXPECT_NE(mermaid.find("\"" + s.name + "\""), std::string::npos) << s.name;
  }
  EXPECT_NE(dot.find("failure|interrupt"), std::string::npos);
}

}  // namespace
}  // namespace runbook
