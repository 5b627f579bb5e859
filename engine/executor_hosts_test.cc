// Per-host failures of ssh steps (executor_hosts.cc): a host failing within max_fail is
// undone at once, there only, left out of later steps and listed; the run's rollback runs
// only where a step ran and was not undone yet; and `recover`, from any prefix of the
// records, decides the same.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "engine/engine_test_util.h"
#include "engine/executor.h"
#include "engine/run_history.h"
#include "testing/fake_environment.h"

namespace runbook {
namespace {

using testing::MemoryAudit;
using testing::SilentReporter;

const std::vector<std::string> kHosts = {"web1", "web2", "web3"};

StepSpec Ssh(const std::string& id, Phase phase = Phase::kStep, int max_fail = 0,
             std::vector<std::string> hosts = kHosts) {
  StepSpec s;
  s.id = id;
  s.name = id;
  s.phase = phase;
  SshAction a;
  a.target = "web";
  a.resolved.hosts = std::move(hosts);
  a.command = "do " + id;
  a.max_fail.value = max_fail;
  s.action = a;
  return s;
}

StepSpec WithSshUndo(StepSpec s) {
  s.rollback.kind = RollbackSpec::Kind::kActions;
  StepSpec undo =
      Ssh(s.id + "-rb", Phase::kRollback, 0, std::get<SshAction>(s.action).resolved.hosts);
  s.rollback.actions.push_back(undo);
  return s;
}

// Runs ssh actions on pretend hosts as the ssh runner does: every host of the target but
// those the request leaves out, a rollback of an ssh step only where that step reached; a
// host_finished record per host. Shell actions just succeed.
class FleetRunner : public StepRunner {
 public:
  StepResult Run(const StepRequest& r, StepContext& context) override {
    StepResult result;
    result.outcome = StepResult::Outcome::kSucceeded;
    const std::string& id = r.step->id;
    const auto* ssh = std::get_if<SshAction>(&r.step->action);
    if (ssh == nullptr) {
      calls.push_back(id);
      if (fails.count(id)) result.outcome = StepResult::Outcome::kFailed;
      return result;
    }
    std::set<std::string> reached;
    const bool undoing_ssh = r.undoing_result != nullptr && r.undoing != nullptr &&
                             KindOf(r.undoing->action) == ActionKind::kSsh;
    if (undoing_ssh)
      for (const HostResult& h : r.undoing_result->hosts)
        if (h.reached) reached.insert(h.host);
    int failed = 0;
    for (const std::string& host : ssh->resolved.hosts) {
      if (std::count(r.skip_hosts.begin(), r.skip_hosts.end(), host)) continue;
      if (undoing_ssh && !reached.count(host)) continue;
      calls.push_back(id + "@" + host);
      if (renders.count(id))
        rendered.push_back(id + "@" + host + "=" +
                           context.Render(renders[id], Quoting::kNone, host));
      HostResult h;
      h.host = host;
      h.reached = true;
      h.ok = !fails[id].count(host);
      h.exit_status = h.ok ? 0 : 1;
      h.error = h.ok ? "" : "exit status 1";
      h.stdout_text = "was-" + host;
      std::map<std::string, std::string> outputs;
      for (const OutputSpec& o : r.step->outputs) outputs[o.name] = h.stdout_text;
      (void)context.Record(EventKind::kHostFinished,
                           HostFinishedDetail{.host = host,
                                              .exit_status = h.exit_status,
                                              .error = h.error,
                                              .reached = true,
                                              .ok = h.ok,
                                              .outputs = outputs});
      if (!h.ok) ++failed;
      result.hosts.push_back(h);
    }
    result.stdout_text = "merged";
    if (failed > ssh->max_fail.Allowed(static_cast<int>(ssh->resolved.hosts.size()))) {
      result.outcome = StepResult::Outcome::kFailed;
      result.error = std::to_string(failed) + " hosts failed";
    }
    return result;
  }

  std::map<std::string, std::set<std::string>> fails;  // step id -> hosts that fail there
  std::map<std::string, std::string> renders;          // step id -> template, per host
  std::vector<std::string> calls;                      // "id@host", or "id" for shell
  std::vector<std::string> rendered;                   // "id@host=value"
};

std::vector<EventView> Views(const std::vector<AuditEvent>& events) {
  std::vector<EventView> views;
  int64_t seq = 0;
  for (const AuditEvent& e : events)
    views.push_back({++seq, e.event, e.phase, e.step, e.from, e.to, e.attempt, e.detail});
  return views;
}

bool Has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

class ExecutorHostsTest : public ::testing::Test {
 protected:
  RunSummary Run() {
    machine = StateMachine::Compile(rb);
    Executor ex(rb, machine, runner, audit, env, reporter, {});
    RunOptions o;
    o.run_id = "run-1";
    return ex.Run(o);
  }

  // flip (max_fail 1, web2 fails) with an ssh and a shell undo, then after (ssh, undone),
  // then `tail` (shell; fails when `fail_at_end`).
  void FlipThenAfter(bool fail_at_end) {
    rb.name = "fleet";
    StepSpec flip = WithSshUndo(Ssh("flip", Phase::kStep, 1));
    flip.outputs.push_back({"prev", "stdout"});
    flip.rollback.actions.push_back(testing::Shell("flip-local", "undo", Phase::kRollback));
    rb.steps.push_back(flip);
    rb.steps.push_back(WithSshUndo(Ssh("after")));
    rb.steps.push_back(testing::Shell("tail", "end"));
    runner.fails["flip"] = {"web2"};
    if (fail_at_end) runner.fails["tail"] = {};
    runner.renders["flip-rb"] = "{{ steps.flip.outputs.prev }}";
  }

  Runbook rb;
  StateMachine machine = StateMachine::Compile(rb);
  FleetRunner runner;
  MemoryAudit audit;
  SilentReporter reporter;
  runbook::testing::FakeEnvironment env;
};

TEST_F(ExecutorHostsTest, AHostFailingWithinMaxFailIsUndoneThereAndLeftOutOfLaterSteps) {
  FlipThenAfter(false);
  RunSummary s = Run();
  EXPECT_EQ(s.state, "succeeded");
  EXPECT_EQ(s.exit_code, 0);
  EXPECT_EQ(runner.calls,
            (std::vector<std::string>{"flip@web1", "flip@web2", "flip@web3", "flip-rb@web2",
                                      "after@web1", "after@web3", "tail"}))
      << "the shell undo of flip is not per host: it runs only if the whole run rolls back";
  EXPECT_EQ(runner.rendered, std::vector<std::string>{"flip-rb@web2=was-web2"})
      << "the failed host's rollback sees that host's own output";

  ASSERT_EQ(s.failed_hosts.size(), 1u);
  EXPECT_EQ(s.failed_hosts[0].host, "web2");
  EXPECT_EQ(s.failed_hosts[0].step, "flip");
  EXPECT_EQ(s.failed_hosts[0].error, "exit status 1");
  EXPECT_TRUE(s.failed_hosts[0].within_max_fail);
  EXPECT_TRUE(s.failed_hosts[0].rolled_back);
  ASSERT_EQ(s.hosts.size(), 3u);
  EXPECT_EQ(s.hosts[1].host, "web2");
  EXPECT_EQ(s.hosts[1].failed, 1);
  EXPECT_EQ(s.hosts[1].skipped, 1);
  EXPECT_EQ(s.hosts[1].rolled_back, 1);
  EXPECT_EQ(s.hosts[0].ok, 2);

  // The record: host_failed, then the undo limited to web2, all before flip ends; after's
  // start says it leaves web2 out.
  std::vector<std::string> flip;
  for (const AuditEvent& e : audit.events)
    if (e.step == "flip" || e.step == "flip-rb") flip.emplace_back(EventName(e.event));
  const auto at = [&](const std::string& name) {
    return std::find(flip.begin(), flip.end(), name) - flip.begin();
  };
  EXPECT_LT(at("attempt_finished"), at("host_failed"));
  EXPECT_LT(at("host_failed"), at("rollback_started"));
  EXPECT_LT(at("rollback_succeeded"), at("step_succeeded"));
  for (const AuditEvent& e : audit.events) {
    if (e.event == EventKind::kRollbackStarted && e.step == "flip-rb") {
      EXPECT_EQ(e.detail["only_hosts"], nlohmann::json({"web2"}));
      EXPECT_NE(e.detail["description"].get<std::string>().find("1 of 3 hosts: web2"),
                std::string::npos)
          << e.detail.dump();
    }
    if (e.event == EventKind::kHostSkipped) {
      EXPECT_EQ(e.step, "after");
      EXPECT_EQ(e.detail["host"], "web2");
      EXPECT_EQ(e.detail["failed_in"], "flip");
    }
  }
  EXPECT_EQ(audit.Names("after")[1], "host_skipped")
      << "recorded before the step starts: a started step's left-out hosts are known";
  EXPECT_EQ(audit.Names("after")[2], "step_started");
}

TEST_F(ExecutorHostsTest, TheRunsRollbackRunsOnlyWhereAStepRanAndWasNotUndoneYet) {
  FlipThenAfter(true);
  RunSummary s = Run();
  EXPECT_EQ(s.state, "rolled_back");
  EXPECT_EQ(runner.calls, (std::vector<std::string>{"flip@web1", "flip@web2", "flip@web3",
                                                    "flip-rb@web2", "after@web1", "after@web3",
                                                    "tail", "after-rb@web1", "after-rb@web3",
                                                    "flip-rb@web1", "flip-rb@web3", "flip-local"}));
  EXPECT_EQ(runner.rendered,
            (std::vector<std::string>{"flip-rb@web2=was-web2", "flip-rb@web1=was-web1",
                                      "flip-rb@web3=was-web3"}));
  ASSERT_EQ(s.failed_hosts.size(), 1u);
  EXPECT_TRUE(s.failed_hosts[0].rolled_back);
  // The chain's flip-rb names the host it leaves out and counts only the hosts it runs on.
  int chain_starts = 0;
  for (const AuditEvent& e : audit.events) {
    if (e.event == EventKind::kRollbackStarted && e.step == "flip-rb" && ++chain_starts == 2) {
      EXPECT_FALSE(e.detail.contains("only_hosts"));
      EXPECT_NE(e.detail["description"].get<std::string>().find("2 of 3 hosts"), std::string::npos)
          << e.detail.dump();
    }
    if (e.event == EventKind::kHostSkipped && e.step == "flip-rb") {
      EXPECT_EQ(e.detail["undone_by"], "flip-rb");
    }
  }
  EXPECT_EQ(chain_starts, 2);
}

// The undo on the failed host fails: the host is half-changed and could not be put back, so
// the step fails after all, the run rolls back (trying that host again) and ends
// rollback_failed: a human must look.
TEST_F(ExecutorHostsTest, AFailedUndoOnAFailedHostFailsTheStepAndTheRun) {
  FlipThenAfter(false);
  runner.fails["flip-rb"] = {"web2"};
  RunSummary s = Run();
  EXPECT_EQ(s.state, "rollback_failed");
  EXPECT_EQ(s.exit_code, 3);
  EXPECT_EQ(runner.calls, (std::vector<std::string>{"flip@web1", "flip@web2", "flip@web3",
                                                    "flip-rb@web2", "flip-rb@web1", "flip-rb@web2",
                                                    "flip-rb@web3", "flip-local"}));
  EXPECT_NE(s.error.find("flip: failed within max_fail on web2, and undoing it there failed"),
            std::string::npos)
      << s.error;
  ASSERT_EQ(s.failed_hosts.size(), 1u);
  EXPECT_FALSE(s.failed_hosts[0].rolled_back);
  EXPECT_NE(s.failed_hosts[0].rollback_error.find("flip-rb"), std::string::npos);
}

TEST_F(ExecutorHostsTest, AFailedPrecheckHostWithinMaxFailIsLeftOutOfEveryStep) {
  rb.name = "pre";
  rb.prechecks.push_back(Ssh("disk", Phase::kPrecheck, 1));
  rb.steps.push_back(WithSshUndo(Ssh("flip")));
  rb.verify.push_back(Ssh("health", Phase::kVerify));
  runner.fails["disk"] = {"web3"};
  RunSummary s = Run();
  EXPECT_EQ(s.state, "succeeded");
  EXPECT_EQ(runner.calls,
            (std::vector<std::string>{"disk@web1", "disk@web2", "disk@web3", "flip@web1",
                                      "flip@web2", "health@web1", "health@web2"}));
  ASSERT_EQ(s.failed_hosts.size(), 1u);
  EXPECT_EQ(s.failed_hosts[0].phase, "precheck");
  EXPECT_FALSE(s.failed_hosts[0].rolled_back) << "a precheck changes nothing";
}

TEST_F(ExecutorHostsTest, AHostIsMatchedAcrossTargetsByNameAndPort) {
  rb.name = "ports";
  rb.steps.push_back(Ssh("flip", Phase::kStep, 1, {"web1", "web2:2222"}));
  rb.steps.push_back(Ssh("other", Phase::kStep, 0, {"WEB1:22", "web2", "web2:2222"}));
  runner.fails["flip"] = {"web2:2222"};
  RunSummary s = Run();
  EXPECT_EQ(s.state, "succeeded");
  EXPECT_EQ(runner.calls, (std::vector<std::string>{"flip@web1", "flip@web2:2222", "other@WEB1:22",
                                                    "other@web2"}));
}

TEST_F(ExecutorHostsTest, AStepEveryHostOfWhichFailedEarlierRunsNowhere) {
  rb.name = "gone";
  rb.steps.push_back(Ssh("flip", Phase::kStep, 1, {"web1", "web2"}));
  rb.steps.push_back(Ssh("only2", Phase::kStep, 0, {"web2"}));
  runner.fails["flip"] = {"web2"};
  RunSummary s = Run();
  EXPECT_EQ(s.state, "succeeded");
  EXPECT_EQ(runner.calls, (std::vector<std::string>{"flip@web1", "flip@web2"}));
}

// `recover` after a crash at any record of such a run: every host flip ran on is undone at
// least once, web2's undo is not repeated once its success is recorded, `after` never runs
// on web2, and its rollback runs only where it ran.
TEST_F(ExecutorHostsTest, RecoverFromEveryPrefixOfTheRecordUndoesWhereTheStepsRan) {
  FlipThenAfter(true);
  (void)Run();
  const std::vector<AuditEvent> full = audit.events;
  for (size_t k = 1; k < full.size(); ++k) {
    SCOPED_TRACE("crashed after record " + std::to_string(k));
    const std::vector<AuditEvent> prefix(full.begin(), full.begin() + static_cast<long>(k));
    const RunHistory history = ReadRunHistory(Views(prefix), 4242);
    FleetRunner again;
    again.fails = runner.fails;
    again.renders = runner.renders;
    MemoryAudit resumed_audit;
    const StateMachine m = StateMachine::Compile(rb);
    Executor ex(rb, m, again, resumed_audit, env, reporter, {});
    RunOptions o;
    o.run_id = "run-1";
    const RunSummary s = ex.Resume(o, history.resume);

    // What the prefix records as done, per host, and what the resumed run did.
    std::set<std::string> at_once, in_chain, after_ran, flip_done;
    bool flip_started = false, undoing_at_once = false;
    for (const AuditEvent& e : prefix) {
      if (e.event == EventKind::kStepStarted && e.step == "flip") flip_started = true;
      if (e.event == EventKind::kRollbackStarted && e.step == "flip-rb")
        undoing_at_once = e.detail.contains("only_hosts");
      if (e.event == EventKind::kHostFinished && e.step == "flip-rb" && e.detail["ok"] == true)
        (undoing_at_once ? at_once : in_chain).insert(e.detail["host"].get<std::string>());
      if (e.event == EventKind::kHostFinished && e.step == "flip")
        flip_done.insert(e.detail["host"].get<std::string>());
      if (e.event == EventKind::kHostFinished && e.step == "after")
        after_ran.insert(e.detail["host"].get<std::string>());
    }
    EXPECT_FALSE(after_ran.count("web2"));
    if (!flip_started) {
      EXPECT_TRUE(again.calls.empty());
      continue;
    }
    EXPECT_EQ(s.state, "rolled_back") << s.error;
    for (const std::string& host : kHosts) {
      const bool undone_now = Has(again.calls, "flip-rb@" + host);
      EXPECT_TRUE(at_once.count(host) || in_chain.count(host) || undone_now)
          << host << " never undone";
      if (at_once.count(host)) {
        EXPECT_FALSE(undone_now) << host << " undone again";
      }
      // A host's output is durable once the host is done; before that, nobody knows it (a
      // rollback must then refuse to guess: runbooks/library/ssh-release.yaml).
      if (undone_now) {
        EXPECT_TRUE(Has(again.rendered,
                        "flip-rb@" + host + "=" + (flip_done.count(host) ? "was-" + host : "")))
            << "the undo on " << host << " did not see its own output";
      }
    }
    EXPECT_FALSE(Has(again.calls, "after-rb@web2"));
    EXPECT_FALSE(Has(again.calls, "after@web2"));
  }
}

}  // namespace
}  // namespace runbook
