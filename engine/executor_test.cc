#include "engine/executor.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "engine/engine_test_util.h"
#include "testing/fake_environment.h"

namespace runbook {
namespace {

using testing::MemoryAudit;
using testing::ScriptedRunner;
using testing::Shell;
using testing::SilentReporter;
using testing::WithUndo;

class ExecutorTest : public ::testing::Test {
 protected:
  RunSummary Run(bool dry_run = false) {
    machine = StateMachine::Compile(rb);
    Executor ex(rb, machine, runner, audit, env, reporter, {&interrupt, &hard_stop});
    RunOptions o;
    o.run_id = "run-1";
    o.params = params;
    o.secrets = secrets;
    o.dry_run = dry_run;
    return ex.Run(o);
  }

  // Finishes run "crashed" from `point`, as `runbook recover` does.
  RunSummary Resume(const ResumePoint& point) {
    machine = StateMachine::Compile(rb);
    Executor ex(rb, machine, runner, audit, env, reporter, {&interrupt, &hard_stop});
    RunOptions o;
    o.run_id = "crashed";
    return ex.Resume(o, point);
  }

  // Four steps a..d, each with an undo, and a global rollback.
  void FourSteps() {
    rb.name = "four";
    for (std::string id : {"a", "b", "c", "d"}) rb.steps.push_back(WithUndo(Shell(id, "do"), "undo"));
    rb.rollback.push_back(Shell("rollback-1", "global", Phase::kRollback));
  }

  Runbook rb;
  StateMachine machine = StateMachine::Compile(rb);
  ScriptedRunner runner;
  MemoryAudit audit;
  SilentReporter reporter;
  runbook::testing::FakeEnvironment env;  // no real sleeps: retry delays move fake time
  CancelFlag interrupt, hard_stop;
  std::map<std::string, std::string> params, secrets;
};

TEST_F(ExecutorTest, SuccessRunsEveryStepOnceAndRecordsTheRun) {
  FourSteps();
  rb.verify.push_back(Shell("verify-1", "check", Phase::kVerify));
  RunSummary s = Run();
  EXPECT_EQ(s.state, "succeeded");
  EXPECT_EQ(s.exit_code, 0);
  EXPECT_EQ(runner.calls, (std::vector<std::string>{"a", "b", "c", "d", "verify-1"}));
  ASSERT_FALSE(audit.events.empty());
  EXPECT_EQ(EventName(audit.events.front().event), "run_started");
  EXPECT_EQ(EventName(audit.events.back().event), "run_finished");
  EXPECT_EQ(audit.events.back().to, "succeeded");
  EXPECT_EQ(audit.state, "succeeded");
  EXPECT_EQ(audit.Names("a"), (std::vector<std::string>{"state_changed", "step_started",
                                                        "attempt_started", "attempt_finished",
                                                        "step_succeeded"}));
}

TEST_F(ExecutorTest, AStepCostsTwoCommitsAndActsOnlyOnceItsStartIsDurable) {
  rb.name = "many";
  constexpr int kSteps = 20;
  audit.batching = true;
  for (int i = 0; i < kSteps; ++i) {
    const std::string id = "s" + std::to_string(i);
    rb.steps.push_back(Shell(id, "do"));
    runner.hooks[id] = [this, id](StepContext& c) {
      // Write-ahead (SPEC section 3): the step's start and the previous step's result are
      // durable before the step acts ...
      auto started = std::find_if(audit.events.rbegin(), audit.events.rend(), [](const auto& e) {
        return e.event == EventKind::kStepStarted;
      });
      ASSERT_NE(started, audit.events.rend());
      EXPECT_EQ(started->step, id);
      for (const AuditEvent& e : audit.pending) EXPECT_EQ(e.event, EventKind::kAttemptStarted);
      // ... and a process's identity is durable before it runs its command.
      EXPECT_TRUE(c.Record(EventKind::kProcessStarted, {{"pid", 7}, {"pgid", 7}}).ok());
      EXPECT_TRUE(audit.pending.empty());
    };
  }
  RunSummary s = Run();
  EXPECT_EQ(s.state, "succeeded");
  EXPECT_TRUE(audit.pending.empty());
  EXPECT_EQ(EventName(audit.events.back().event), "run_finished");
  // Two commits a step (its start; its process), three at the end, one for run_started.
  EXPECT_LE(audit.syncs, 2 * kSteps + 4);
  EXPECT_GE(audit.events.size(), static_cast<size_t>(6 * kSteps));
}

// A runner that commits before it acts (a local process, recorded at its gate) takes the
// step's start into that commit: one commit a step, and still nothing acts before it.
TEST_F(ExecutorTest, AStepWhoseRunnerCommitsBeforeActingCostsOneCommit) {
  rb.name = "many";
  constexpr int kSteps = 20;
  audit.batching = true;
  runner.commits_before_acting = true;
  for (int i = 0; i < kSteps; ++i) {
    const std::string id = "s" + std::to_string(i);
    rb.steps.push_back(Shell(id, "do"));
    runner.hooks[id] = [this, id](StepContext& c) {
      // Queued, not yet durable: the step's start and the attempt's ...
      ASSERT_GE(audit.pending.size(), 2u);
      EXPECT_EQ(audit.pending[audit.pending.size() - 2].event, EventKind::kStepStarted);
      EXPECT_EQ(audit.pending[audit.pending.size() - 2].step, id);
      EXPECT_EQ(audit.pending.back().event, EventKind::kAttemptStarted);
      // ... durable, with the previous step's result, once the runner records its process.
      const size_t durable = audit.events.size();
      EXPECT_TRUE(c.Record(EventKind::kProcessStarted, {{"pid", 7}, {"pgid", 7}}).ok());
      EXPECT_TRUE(audit.pending.empty());
      ASSERT_GT(audit.events.size(), durable + 2);
      EXPECT_EQ(audit.events.back().event, EventKind::kProcessStarted);
    };
  }
  RunSummary s = Run();
  EXPECT_EQ(s.state, "succeeded");
  EXPECT_TRUE(audit.pending.empty());
  // One commit a step, three at the end, one for run_started.
  EXPECT_LE(audit.syncs, kSteps + 4);
  EXPECT_GE(audit.events.size(), static_cast<size_t>(6 * kSteps));
}

// When that commit fails the step has not acted: it is not retried and not undone, as a step
// whose start the executor could not commit itself.
TEST_F(ExecutorTest, AStepWhoseStartFailsToCommitInItsRunnerIsNotUndoneOrRetried) {
  FourSteps();
  audit.batching = true;
  runner.commits_before_acting = true;
  rb.steps[1].retries = 2;
  for (std::string id : {"a", "b", "c", "d"}) {
    runner.hooks[id] = [this, id](StepContext& c) {
      if (id == "b") audit.fail_sync = true;
      Status s = c.Record(EventKind::kProcessStarted, {{"pid", 7}, {"pgid", 7}});
      EXPECT_EQ(s.ok(), id != "b") << id;
      audit.fail_sync = false;
    };
  }
  RunSummary s = Run();
  EXPECT_EQ(runner.calls, (std::vector<std::string>{"a", "b", "a-rollback-1", "rollback-1"}));
  EXPECT_EQ(s.exit_code, 3) << "a record is missing";
  EXPECT_NE(s.error.find("not started: the audit log cannot be written (disk full)"),
            std::string::npos)
      << s.error;
  EXPECT_EQ(audit.Names("b-rollback-1"),
            (std::vector<std::string>{"state_changed", "step_skipped"}));
}

// Interrupted while that commit was made (a shared store that stops the run when it cannot
// be written does so inside the commit): the runner is told not to act, and the step counts
// as never started.
TEST_F(ExecutorTest, AStepInterruptedWhileItsRunnerCommitsItsStartDoesNotStart) {
  FourSteps();
  audit.batching = true;
  runner.commits_before_acting = true;
  for (std::string id : {"a", "b", "c", "d"}) {
    runner.hooks[id] = [this, id](StepContext& c) {
      if (id == "b") interrupt.Cancel();
      Status s = c.Record(EventKind::kProcessStarted, {{"pid", 7}, {"pgid", 7}});
      EXPECT_EQ(s.ok(), id != "b") << id;
    };
  }
  RunSummary s = Run();
  EXPECT_EQ(s.state, "rolled_back");
  EXPECT_EQ(runner.calls, (std::vector<std::string>{"a", "b", "a-rollback-1", "rollback-1"}));
  EXPECT_EQ(audit.Names("b-rollback-1"),
            (std::vector<std::string>{"state_changed", "step_skipped"}));
  auto b = std::find_if(s.steps.begin(), s.steps.end(), [](auto& x) { return x.id == "b"; });
  ASSERT_NE(b, s.steps.end());
  EXPECT_EQ(b->state, "interrupted");
}

TEST_F(ExecutorTest, FailedStepRollsBackItselfThenEarlierStepsInReverseThenGlobal) {
  FourSteps();
  runner.script["c"] = {ScriptedRunner::Fail(3)};
  RunSummary s = Run();
  EXPECT_EQ(s.state, "rolled_back");
  EXPECT_EQ(s.exit_code, 1);
  EXPECT_EQ(runner.calls,
            (std::vector<std::string>{"a", "b", "c", "c-rollback-1", "b-rollback-1",
                                      "a-rollback-1", "rollback-1"}));
  auto d = std::find_if(s.steps.begin(), s.steps.end(), [](auto& x) { return x.id == "d"; });
  ASSERT_NE(d, s.steps.end());
  EXPECT_EQ(d->state, "not_run");
  auto c = std::find_if(s.steps.begin(), s.steps.end(), [](auto& x) { return x.id == "c"; });
  EXPECT_EQ(c->state, "failed");
  EXPECT_NE(s.error.find("exit status 3"), std::string::npos);
  bool recorded = false;
  for (const auto& e : audit.events)
    if (e.step == "c" && EventName(e.event) == "attempt_finished")
      recorded = e.detail["exit_status"] == 3;
  EXPECT_TRUE(recorded);
}

TEST_F(ExecutorTest, FailedVerificationRollsBackEveryStep) {
  FourSteps();
  rb.verify.push_back(Shell("verify-1", "check", Phase::kVerify));
  runner.script["verify-1"] = {ScriptedRunner::Fail(1)};
  RunSummary s = Run();
  EXPECT_EQ(s.state, "rolled_back");
  EXPECT_EQ(runner.calls,
            (std::vector<std::string>{"a", "b", "c", "d", "verify-1", "d-rollback-1",
                                      "c-rollback-1", "b-rollback-1", "a-rollback-1",
                                      "rollback-1"}));
}

TEST_F(ExecutorTest, FailedPrecheckAbortsWithoutRollback) {
  FourSteps();
  rb.prechecks.push_back(Shell("precheck-1", "test", Phase::kPrecheck));
  runner.script["precheck-1"] = {ScriptedRunner::Fail(1)};
  RunSummary s = Run();
  EXPECT_EQ(s.state, "aborted");
  EXPECT_EQ(s.exit_code, 5);
  EXPECT_EQ(runner.calls, (std::vector<std::string>{"precheck-1"}));
  for (const auto& e : audit.events)
    EXPECT_EQ(EventName(e.event).rfind("rollback", 0), std::string::npos);
}

TEST_F(ExecutorTest, FailingRollbackIsRecordedAndTheRestStillRuns) {
  FourSteps();
  runner.script["c"] = {ScriptedRunner::Fail(1)};
  runner.script["b-rollback-1"] = {ScriptedRunner::Fail(1)};
  RunSummary s = Run();
  EXPECT_EQ(s.state, "rollback_failed");
  EXPECT_EQ(s.exit_code, 3);
  EXPECT_EQ(runner.calls,
            (std::vector<std::string>{"a", "b", "c", "c-rollback-1", "b-rollback-1",
                                      "a-rollback-1", "rollback-1"}));
  EXPECT_EQ(audit.Names("b-rollback-1").back(), "rollback_failed");
}

TEST_F(ExecutorTest, RetriesCountAttempts) {
  rb.steps.push_back(Shell("flaky", "x"));
  rb.steps[0].retries = 2;
  rb.steps[0].retry_delay = Duration(30000);
  runner.script["flaky"] = {ScriptedRunner::Fail(1), ScriptedRunner::Fail(1), ScriptedRunner::Ok()};
  RunSummary s = Run();
  EXPECT_EQ(env.sleeps(), (std::vector<Duration>{Duration(30000), Duration(30000)}))
      << "each retry waits retry_delay on the environment's clock, never for real";
  EXPECT_EQ(s.state, "succeeded");
  EXPECT_EQ(runner.calls, (std::vector<std::string>{"flaky", "flaky#2", "flaky#3"}));
  EXPECT_EQ(s.steps[0].attempts, 3);
  int started = 0;
  for (const auto& e : audit.events) started += EventName(e.event) == "attempt_started";
  EXPECT_EQ(started, 3);
}

TEST_F(ExecutorTest, AutoRollbackGetsTheUndoStateOfTheFirstAttempt) {
  StepSpec apply;
  apply.id = "apply";
  apply.action = KubectlAction{};
  apply.retries = 1;
  apply.retry_delay = Duration(1);
  apply.rollback.kind = RollbackSpec::Kind::kAuto;
  rb.steps.push_back(apply);
  StepResult first = ScriptedRunner::Fail(1);
  first.undo_state = {{"revision", 3}};
  StepResult second = ScriptedRunner::Fail(1);
  second.undo_state = {{"revision", 4}};
  runner.script["apply"] = {first, second, ScriptedRunner::Ok()};
  nlohmann::json seen;
  struct Spy : StepRunner {
    ScriptedRunner* inner;
    nlohmann::json* seen;
    StepResult Run(const StepRequest& r, StepContext& c) override {
      if (r.auto_rollback && r.undoing_result) *seen = r.undoing_result->undo_state;
      return inner->Run(r, c);
    }
  } spy;
  spy.inner = &runner;
  spy.seen = &seen;
  machine = StateMachine::Compile(rb);
  Executor ex(rb, machine, spy, audit, env, reporter, {&interrupt, &hard_stop});
  RunOptions o;
  o.run_id = "auto";
  RunSummary s = ex.Run(o);
  EXPECT_EQ(s.state, "rolled_back");
  EXPECT_EQ(seen, nlohmann::json({{"revision", 3}}));
}

TEST_F(ExecutorTest, RetriesRunOutWithTheLastErrorAndTheirCount) {
  rb.steps.push_back(Shell("flaky", "x"));
  rb.steps[0].retries = 1;
  rb.steps[0].retry_delay = Duration(1);
  runner.script["flaky"] = {ScriptedRunner::Fail(1), ScriptedRunner::Fail(7)};
  RunSummary s = Run();
  EXPECT_EQ(s.steps[0].attempts, 2);
  EXPECT_NE(s.steps[0].error.find("exit status 7 after 2 attempts"), std::string::npos)
      << s.steps[0].error;
}

TEST_F(ExecutorTest, InterruptionDuringAStepRollsBackThatStepAndEarlierOnes) {
  FourSteps();
  runner.hooks["b"] = [this](StepContext&) { interrupt.Cancel(); };
  StepResult cancelled;
  cancelled.outcome = StepResult::Outcome::kCancelled;
  runner.script["b"] = {cancelled};
  RunSummary s = Run();
  EXPECT_EQ(s.state, "rolled_back");
  EXPECT_EQ(runner.calls, (std::vector<std::string>{"a", "b", "b-rollback-1", "a-rollback-1",
                                                    "rollback-1"}));
}

TEST_F(ExecutorTest, InterruptionBetweenStepsNeverStartsOrUndoesTheNextStep) {
  FourSteps();
  runner.hooks["b"] = [this](StepContext&) { interrupt.Cancel(); };  // b itself succeeds
  RunSummary s = Run();
  EXPECT_EQ(s.state, "rolled_back");
  EXPECT_EQ(runner.calls, (std::vector<std::string>{"a", "b", "b-rollback-1", "a-rollback-1",
                                                    "rollback-1"}));
}

TEST_F(ExecutorTest, RollbackActionsRunAfterAnInterruptButStopOnHardStop) {
  FourSteps();
  runner.hooks["b"] = [this](StepContext&) { interrupt.Cancel(); };
  runner.hooks["b-rollback-1"] = [](StepContext& c) { EXPECT_FALSE(c.cancelled()); };
  runner.hooks["a-rollback-1"] = [this](StepContext& c) {
    hard_stop.Cancel();
    EXPECT_TRUE(c.cancelled());
  };
  StepResult cancelled;
  cancelled.outcome = StepResult::Outcome::kCancelled;
  runner.script["a-rollback-1"] = {cancelled};
  RunSummary s = Run();
  EXPECT_EQ(s.state, "rollback_failed");
  EXPECT_EQ(s.exit_code, 3);
}

TEST_F(ExecutorTest, StepsWithoutRollbackOrIrreversibleAreSkippedInTheChain) {
  rb.steps.push_back(WithUndo(Shell("a", "do"), "undo"));
  rb.steps.push_back(Shell("b", "do"));
  rb.steps.push_back(Shell("c", "do"));
  rb.steps[2].rollback.kind = RollbackSpec::Kind::kNone;
  rb.steps.push_back(Shell("d", "fail"));
  runner.script["d"] = {ScriptedRunner::Fail(1)};
  RunSummary s = Run();
  EXPECT_EQ(s.state, "rolled_back");
  EXPECT_EQ(runner.calls, (std::vector<std::string>{"a", "b", "c", "d", "a-rollback-1"}));
}

TEST_F(ExecutorTest, AnUnwritableAuditLogStopsForwardStepsFromStarting) {
  FourSteps();
  audit.fail_from = 0;
  RunSummary s = Run();
  EXPECT_NE(s.exit_code, 0);
  for (const auto& call : runner.calls) EXPECT_EQ(call.find("-rollback"), call.npos) << call;
  EXPECT_TRUE(std::find(runner.calls.begin(), runner.calls.end(), "a") == runner.calls.end());
}

TEST_F(ExecutorTest, ARunWithMissingAuditRecordsNeverExitsZero) {
  FourSteps();
  audit.fail_kind = EventKind::kRunFinished;
  RunSummary s = Run();
  EXPECT_EQ(s.state, "succeeded");
  EXPECT_EQ(s.audit_write_failures, 1);
  EXPECT_EQ(s.exit_code, 3) << "every step succeeded, but the record is incomplete";
  EXPECT_NE(s.error.find("1 audit record could not be written"), std::string::npos) << s.error;
}

TEST_F(ExecutorTest, AnUnwritableRunEndIsCountedToo) {
  FourSteps();
  audit.fail_end_run = true;
  audit.fail_kind = EventKind::kRunFinished;
  RunSummary s = Run();
  EXPECT_EQ(s.audit_write_failures, 2);
  EXPECT_EQ(s.error, "2 audit records could not be written") << "counted once, not appended twice";
  EXPECT_EQ(s.exit_code, 3);
}

TEST_F(ExecutorTest, EveryFailedAppendIsCounted) {
  FourSteps();
  audit.fail_kind = EventKind::kAttemptFinished;
  RunSummary s = Run();
  EXPECT_EQ(s.audit_write_failures, 4) << "one attempt_finished per step";
  EXPECT_EQ(s.exit_code, 3);
  EXPECT_EQ(s.error, "4 audit records could not be written");
}

TEST_F(ExecutorTest, EveryRollbackActionRunsWhenNothingCanBeRecordedAnyMore) {
  FourSteps();
  runner.script["c"] = {ScriptedRunner::Fail(1)};
  // The disk fills up while c runs: from then on no record can be made durable anywhere.
  runner.hooks["c"] = [this](StepContext&) { audit.fail_from = 0; };
  for (std::string id : {"c-rollback-1", "b-rollback-1", "a-rollback-1", "rollback-1"}) {
    runner.hooks[id] = [](StepContext& c) {
      // A runner that cannot record its process group would stop the action; in a rollback
      // it is told to go on.
      EXPECT_TRUE(c.Record(EventKind::kProcessStarted, {{"pid", 1}, {"pgid", 1}}).ok());
    };
  }
  RunSummary s = Run();
  EXPECT_EQ(runner.calls, (std::vector<std::string>{"a", "b", "c", "c-rollback-1", "b-rollback-1",
                                                    "a-rollback-1", "rollback-1"}));
  EXPECT_EQ(s.state, "rolled_back");
  EXPECT_EQ(s.exit_code, 3);
  EXPECT_GT(s.audit_write_failures, 0);
}

TEST_F(ExecutorTest, RecordsDeferredToTheJournalAreCountedNamedAndExitThree) {
  FourSteps();
  audit.backlog.journaled = 5;
  audit.backlog.journal = "/var/lib/audit.db.pending";
  audit.backlog.store_error = "database or disk is full";
  RunSummary s = Run();
  EXPECT_EQ(s.state, "succeeded");
  EXPECT_EQ(s.exit_code, 3) << "the record is incomplete until the journal is written";
  EXPECT_EQ(s.audit_write_failures, 5);
  EXPECT_EQ(s.audit_journal, "/var/lib/audit.db.pending");
  EXPECT_EQ(s.error,
            "5 audit records were deferred to the journal /var/lib/audit.db.pending because the "
            "audit database could not be written (database or disk is full); they are written "
            "into it when it can be written again, at the latest by the next runbook command "
            "that opens it");
  EXPECT_EQ(audit.exit_code, 3) << "the run row says so too";
}

TEST_F(ExecutorTest, RecordsHeldInMemoryOrLaterRescuedAreNotCountedTwice) {
  FourSteps();
  audit.fail_kind = EventKind::kAttemptFinished;  // 4 refused appends ...
  audit.backlog.rescued = 1;                      // ... of which one reached the journal later
  audit.backlog.journaled = 1;
  audit.backlog.held = 2;  // two are still held in memory
  audit.backlog.journal = "J";
  audit.backlog.store_error = "full";
  audit.backlog.journal_error = "full too";
  RunSummary s = Run();
  EXPECT_EQ(s.audit_write_failures, 4) << "1 journaled + 2 held + 1 lost";
  EXPECT_EQ(s.error,
            "1 audit record could not be written; 1 audit record was deferred to the journal J "
            "because the audit database could not be written (full); it is written into it "
            "when it can be written again, at the latest by the next runbook command that opens "
            "it; 2 audit records could be written neither to the audit database nor to the "
            "journal J (full too) and are held in memory");
}

TEST_F(ExecutorTest, SecretsAreRedactedFromTheAuditLogAndTheOutput) {
  rb.steps.push_back(Shell("use", "x"));
  secrets["token"] = "hunter2-secret";
  StepResult r = ScriptedRunner::Ok("the token is hunter2-secret\n");
  r.error = "";
  r.detail = {{"note", "saw hunter2-secret"}};
  runner.script["use"] = {r};
  runner.hooks["use"] = [](StepContext& c) {
    c.OutputLine("", false, "line with hunter2-secret", false);
    (void)c.Record(EventKind::kHostFinished, {{"v", "hunter2-secret"}});
  };
  Run();
  for (const auto& e : audit.events) EXPECT_EQ(e.detail.dump().find("hunter2"), std::string::npos);
  ASSERT_EQ(reporter.output.size(), 1u);
  EXPECT_EQ(reporter.output[0], "line with ***");
}

TEST_F(ExecutorTest, DryRunCallsRunnersInDryModeAndSkipsVerification) {
  FourSteps();
  rb.prechecks.push_back(Shell("precheck-1", "test", Phase::kPrecheck));
  rb.verify.push_back(Shell("verify-1", "check", Phase::kVerify));
  std::vector<bool> dry;
  struct Spy : StepRunner {
    std::vector<std::pair<std::string, bool>> seen;
    StepResult Run(const StepRequest& r, StepContext&) override {
      seen.push_back({r.step->id, r.dry_run});
      StepResult ok;
      ok.outcome = StepResult::Outcome::kSucceeded;
      return ok;
    }
  } spy;
  machine = StateMachine::Compile(rb);
  Executor ex(rb, machine, spy, audit, env, reporter, {&interrupt, &hard_stop});
  RunOptions o;
  o.run_id = "dry";
  o.dry_run = true;
  RunSummary s = ex.Run(o);
  EXPECT_EQ(s.exit_code, 0);
  std::vector<std::pair<std::string, bool>> want = {
      {"precheck-1", false}, {"a", true}, {"b", true}, {"c", true}, {"d", true}};
  EXPECT_EQ(spy.seen, want);
}

TEST_F(ExecutorTest, ResumeTreatsTheDeadStepAsInterruptedAndRollsBack) {
  FourSteps();
  ResumePoint p;
  p.state = "step:b";
  p.step_started = true;
  p.dead_pid = 4242;
  p.values["a"].outputs["v"] = "from-a";
  RunSummary s = Resume(p);
  EXPECT_EQ(s.state, "rolled_back");
  EXPECT_EQ(s.exit_code, 1);
  EXPECT_EQ(runner.calls, (std::vector<std::string>{"b-rollback-1", "a-rollback-1", "rollback-1"}));
  ASSERT_FALSE(audit.events.empty());
  EXPECT_EQ(EventName(audit.events.front().event), "run_recovered");
  EXPECT_EQ(audit.Names("b")[1], "step_failed");  // [0] is run_recovered, which names b
  EXPECT_TRUE(audit.events[1].detail["interrupted"].get<bool>());
  EXPECT_EQ(EventName(audit.events.back().event), "run_finished");
  EXPECT_TRUE(audit.runs.empty()) << "resume must not write a second run row";
}

TEST_F(ExecutorTest, ResumeInsideTheChainRerunsACutOffRollbackAndKeepsEarlierFailures) {
  FourSteps();
  ResumePoint p;
  p.state = "rollback:b:1";
  p.rollback_failed = true;  // c's rollback had failed before the crash
  RunSummary s = Resume(p);
  EXPECT_EQ(runner.calls, (std::vector<std::string>{"b-rollback-1", "a-rollback-1", "rollback-1"}));
  EXPECT_EQ(s.state, "rollback_failed");
  EXPECT_EQ(s.exit_code, 3);
}

TEST_F(ExecutorTest, ResumeAfterAFinishedRollbackActionGoesOnWithoutRepeatingIt) {
  FourSteps();
  ResumePoint p;
  p.state = "rollback:b:1";
  p.step_finished = true;
  p.step_ok = true;
  RunSummary s = Resume(p);
  EXPECT_EQ(runner.calls, (std::vector<std::string>{"a-rollback-1", "rollback-1"}));
  EXPECT_EQ(s.state, "rolled_back");
}

// The executor died after entering step b but before b's step_started was durable: b never
// ran, so its rollback is skipped (recorded as such); a's and the global rollback run.
TEST_F(ExecutorTest, ResumeOfAStepThatNeverStartedDoesNotUndoIt) {
  FourSteps();
  ResumePoint p;
  p.state = "step:b";
  p.dead_pid = 4242;
  RunSummary s = Resume(p);
  EXPECT_EQ(s.state, "rolled_back");
  EXPECT_EQ(runner.calls, (std::vector<std::string>{"a-rollback-1", "rollback-1"}));
  EXPECT_EQ(audit.Names("b-rollback-1"),
            (std::vector<std::string>{"state_changed", "step_skipped"}));
  const auto b = audit.Names("b");
  EXPECT_EQ(b[1], "step_failed");
  EXPECT_NE(audit.events[1].detail["error"].get<std::string>().find("died before this step"),
            std::string::npos)
      << audit.events[1].detail.dump();
}

// Live, too: a forward step whose step_started cannot be written does not run, and is not
// undone; the steps before it are.
TEST_F(ExecutorTest, AStepWhoseStartCannotBeRecordedIsNotUndone) {
  FourSteps();
  runner.hooks["b"] = [this](StepContext&) { audit.fail_kind = EventKind::kStepStarted; };
  RunSummary s = Run();
  EXPECT_EQ(runner.calls,
            (std::vector<std::string>{"a", "b", "b-rollback-1", "a-rollback-1", "rollback-1"}));
  EXPECT_EQ(s.exit_code, 3) << "a record is missing";
  EXPECT_EQ(audit.Names("c-rollback-1"),
            (std::vector<std::string>{"state_changed", "step_skipped"}));
}

// The executor died after run_finished was durable but before the run row's end: recover
// writes the run row's end only, so that the run has exactly one run_finished.
TEST_F(ExecutorTest, ResumeOfAFinishedRunWritesNoSecondRunFinished) {
  FourSteps();
  ResumePoint p;
  p.state = "rolled_back";
  p.finished = RunFinishedDetail{.state = "rolled_back", .exit_code = 1, .error = "c: failed"};
  RunSummary s = Resume(p);
  EXPECT_EQ(s.state, "rolled_back");
  EXPECT_EQ(s.exit_code, 1);
  EXPECT_TRUE(runner.calls.empty());
  EXPECT_EQ(audit.Names(), (std::vector<std::string>{"run_recovered"}));
  EXPECT_EQ(audit.state, "rolled_back") << "the run row's end is written";
}

// Only run_finished was lost: recover writes it.
TEST_F(ExecutorTest, ResumeOfARunThatReachedItsEndWritesTheMissingRunFinished) {
  FourSteps();
  ResumePoint p;
  p.state = "rolled_back";
  RunSummary s = Resume(p);
  EXPECT_EQ(s.exit_code, 1);
  EXPECT_EQ(audit.Names(), (std::vector<std::string>{"run_recovered", "run_finished"}));
  EXPECT_EQ(audit.state, "rolled_back");
}

}  // namespace
}  // namespace runbook
