#include "engine/run_history.h"

#include <gtest/gtest.h>

namespace runbook {
namespace {

using nlohmann::json;

// Writes a run's events as the executor would, in seq order.
class History {
 public:
  History& Add(EventKind kind, std::string phase, std::string step, json detail = json::object(),
               int attempt = 0, std::string from = "", std::string to = "") {
    EventView e;
    e.seq = static_cast<int64_t>(events_.size()) + 1;
    e.kind = kind;
    e.phase = std::move(phase);
    e.step = std::move(step);
    e.from = std::move(from);
    e.to = std::move(to);
    e.attempt = attempt;
    e.detail = std::move(detail);
    events_.push_back(std::move(e));
    return *this;
  }
  History& Enter(const std::string& from, const std::string& to, const std::string& step,
                 const std::string& trigger = "success") {
    const std::string phase = step.empty() ? "run" : to.substr(0, to.find(':'));
    return Add(EventKind::kStateChanged, phase, step, StateChangedDetail{trigger}, 0, from, to);
  }
  // One attempt of a step that starts process group `pgid` and ends as `attempt` says.
  History& Attempt(const std::string& phase, const std::string& step, int n, int pgid,
                   const AttemptFinishedDetail& attempt) {
    Add(EventKind::kAttemptStarted, phase, step, AttemptStartedDetail{"run " + step}, n);
    Add(EventKind::kProcessStarted, phase, step, ProcessStartedDetail{.pid = pgid, .pgid = pgid},
        n);
    return Add(EventKind::kAttemptFinished, phase, step, attempt, n);
  }
  const std::vector<EventView>& events() const { return events_; }
  RunHistory Read() const { return ReadRunHistory(events_, 4242); }

 private:
  std::vector<EventView> events_;
};

// The process groups a resume point holds.
std::vector<int> Pgids(const ResumePoint& p) {
  std::vector<int> pgids;
  for (const ProcessStartedDetail& d : p.processes) pgids.push_back(d.pgid);
  return pgids;
}

AttemptFinishedDetail Succeeded(const std::string& out) {
  AttemptFinishedDetail d;
  d.outcome = "succeeded";
  d.exit_status = 0;
  d.stdout_tail = out;
  return d;
}

AttemptFinishedDetail Failed(int status) {
  AttemptFinishedDetail d;
  d.outcome = "failed";
  d.exit_status = status;
  d.error = "exit status " + std::to_string(status);
  return d;
}

StepEndDetail Ended(std::map<std::string, std::string> outputs = {}) {
  StepEndDetail d{.attempts = 1, .duration_ms = 10, .exit_status = 0};
  if (!outputs.empty()) d.outputs = std::move(outputs);
  return d;
}

// Step a succeeded with an output; the run then entered step b.
History StepAThenB() {
  History h;
  h.Add(EventKind::kRunStarted, "run", "", RunStartedDetail{.runbook = "deploy"}, 0, "", "pending")
      .Enter("pending", "step:a", "a", "start")
      .Add(EventKind::kStepStarted, "step", "a", StepStartedDetail{.name = "A"})
      .Attempt("step", "a", 1, 100, Succeeded("v1\n"))
      .Add(EventKind::kStepSucceeded, "step", "a", Ended({{"version", "v1"}}), 1)
      .Enter("step:a", "step:b", "b")
      .Add(EventKind::kStepStarted, "step", "b", StepStartedDetail{.name = "B"});
  return h;
}

TEST(RunHistoryTest, NoEventsIsAPendingRun) {
  const RunHistory h = History().Read();
  EXPECT_EQ(h.resume.state, "pending");
  EXPECT_FALSE(h.resume.step_finished);
  EXPECT_EQ(h.resume.dead_pid, 4242);
  EXPECT_TRUE(h.transitions.empty());
  EXPECT_FALSE(h.finished);
  EXPECT_FALSE(h.resume.finished);
}

TEST(RunHistoryTest, ARunStoppedMidStep) {
  History events = StepAThenB();
  events.Add(EventKind::kAttemptStarted, "step", "b", AttemptStartedDetail{"run b"}, 1)
      .Add(EventKind::kProcessStarted, "step", "b", ProcessStartedDetail{.pid = 200, .pgid = 200},
           1)
      .Add(EventKind::kProcessStarted, "step", "b",
           ProcessStartedDetail{.pid = 201,
                                .pgid = 201,
                                .boot_id = "b00t",
                                .start_time = 12345,
                                .command = "kubectl apply"},
           1);
  const RunHistory h = events.Read();
  EXPECT_EQ(h.resume.state, "step:b");
  EXPECT_TRUE(h.resume.step_started);
  EXPECT_FALSE(h.resume.step_finished);
  EXPECT_FALSE(h.resume.step_ok);
  EXPECT_EQ(Pgids(h.resume), (std::vector<int>{200, 201})) << "not step a's group 100";
  // What identifies each group's leader travels with it (an older record has none).
  EXPECT_EQ(h.resume.processes[0].boot_id, "");
  EXPECT_EQ(h.resume.processes[0].start_time, 0);
  EXPECT_EQ(h.resume.processes[1].pid, 201);
  EXPECT_EQ(h.resume.processes[1].boot_id, "b00t");
  EXPECT_EQ(h.resume.processes[1].start_time, 12345);
  EXPECT_EQ(h.resume.cause, "");
  // What the run had learned, for the rollback and the templates.
  EXPECT_EQ(h.resume.values.at("a").stdout_text, "v1");
  EXPECT_EQ(h.resume.values.at("a").outputs.at("version"), "v1");
  EXPECT_EQ(h.resume.results.at("a").outcome, StepResult::Outcome::kSucceeded);
  EXPECT_EQ(h.resume.results.count("b"), 0u);
  // What each step did.
  const StepHistory* b = h.Step("step", "b");
  ASSERT_NE(b, nullptr);
  EXPECT_FALSE(b->ended());
  EXPECT_EQ(b->attempts, 1);
  EXPECT_FALSE(b->last_attempt);
  ASSERT_TRUE(b->started);
  EXPECT_EQ(b->started->name, "B");
  ASSERT_EQ(h.transitions.size(), 2u);
  EXPECT_EQ(h.transitions[0].trigger, "start");
  EXPECT_EQ(h.transitions[1].to, "step:b");
}

// The executor died after entering step b but before b's step_started was durable: b never
// ran, and recover must not undo it.
TEST(RunHistoryTest, ARunStoppedBeforeTheStepItEnteredStarted) {
  History events;
  events
      .Add(EventKind::kRunStarted, "run", "", RunStartedDetail{.runbook = "deploy"}, 0, "",
           "pending")
      .Enter("pending", "step:a", "a", "start")
      .Add(EventKind::kStepStarted, "step", "a", StepStartedDetail{.name = "A"})
      .Attempt("step", "a", 1, 100, Succeeded("v1\n"))
      .Add(EventKind::kStepSucceeded, "step", "a", Ended(), 1)
      .Enter("step:a", "step:b", "b");
  const RunHistory h = events.Read();
  EXPECT_EQ(h.resume.state, "step:b");
  EXPECT_FALSE(h.resume.step_started) << "a's step_started is not b's";
  EXPECT_FALSE(h.resume.step_finished);
  EXPECT_TRUE(h.resume.processes.empty());
}

TEST(RunHistoryTest, ARunStoppedAfterAStepEnded) {
  History events = StepAThenB();
  events.Attempt("step", "b", 1, 200, Failed(3))
      .Add(EventKind::kStepFailed, "step", "b",
           StepEndDetail{
               .attempts = 1, .duration_ms = 5, .exit_status = 3, .error = "exit status 3"},
           1);
  const RunHistory h = events.Read();
  EXPECT_EQ(h.resume.state, "step:b");
  EXPECT_TRUE(h.resume.step_finished);
  EXPECT_FALSE(h.resume.step_ok);
  EXPECT_EQ(h.resume.cause, "b: exit status 3");
  EXPECT_EQ(Pgids(h.resume), std::vector<int>{200});
  const StepHistory* b = h.Step("step", "b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->end, EventKind::kStepFailed);
  EXPECT_FALSE(b->ok());
  EXPECT_EQ(b->end_detail.error, "exit status 3");
  ASSERT_TRUE(b->last_attempt);
  EXPECT_EQ(b->last_attempt->exit_status, 3);
  EXPECT_EQ(h.resume.results.at("b").exit_status, 3);
  EXPECT_EQ(h.resume.results.at("b").outcome, StepResult::Outcome::kFailed);

  const StepHistory* a = h.Step("step", "a");
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(a->ok());
  EXPECT_EQ(a->end_detail.outputs, (std::map<std::string, std::string>{{"version", "v1"}}));
}

// b failed; the rollback chain undoes b with its action b-undo.
History FailedBThenRollback() {
  History events = StepAThenB();
  events.Attempt("step", "b", 1, 200, Failed(1))
      .Add(EventKind::kStepFailed, "step", "b", StepEndDetail{.error = "exit status 1"}, 1)
      .Enter("step:b", "rollback:b:1", "b-undo", "failure")
      .Add(EventKind::kRollbackStarted, "rollback", "b-undo",
           StepStartedDetail{.name = "undo b", .undoes = "b"});
  return events;
}

TEST(RunHistoryTest, ARunStoppedInARollbackAction) {
  History events = FailedBThenRollback();
  events.Add(EventKind::kAttemptStarted, "rollback", "b-undo", AttemptStartedDetail{}, 1)
      .Add(EventKind::kProcessStarted, "rollback", "b-undo", ProcessStartedDetail{.pgid = 300}, 1);
  const RunHistory h = events.Read();
  EXPECT_EQ(h.resume.state, "rollback:b:1");
  EXPECT_FALSE(h.resume.step_finished);
  EXPECT_FALSE(h.resume.rollback_failed);
  EXPECT_EQ(h.resume.cause, "b: exit status 1");
  EXPECT_EQ(Pgids(h.resume), std::vector<int>{300});
  const StepHistory* undo = h.Step("rollback", "b-undo");
  ASSERT_NE(undo, nullptr);
  ASSERT_TRUE(undo->started);
  EXPECT_EQ(undo->started->undoes, "b");
  EXPECT_FALSE(undo->ended());
}

TEST(RunHistoryTest, AFailedRollbackIsRemembered) {
  History events = FailedBThenRollback();
  events.Attempt("rollback", "b-undo", 1, 300, Failed(2))
      .Add(EventKind::kRollbackFailed, "rollback", "b-undo", StepEndDetail{.error = "exit 2"}, 1)
      .Enter("rollback:b:1", "rollback:a:1", "a-undo", "failure")
      .Add(EventKind::kRollbackStarted, "rollback", "a-undo", StepStartedDetail{.undoes = "a"})
      .Attempt("rollback", "a-undo", 1, 400, Succeeded(""))
      .Add(EventKind::kRollbackSucceeded, "rollback", "a-undo", Ended(), 1);
  const RunHistory h = events.Read();
  EXPECT_EQ(h.resume.state, "rollback:a:1");
  EXPECT_TRUE(h.resume.rollback_failed);
  EXPECT_TRUE(h.resume.step_finished);
  EXPECT_TRUE(h.resume.step_ok);
  EXPECT_EQ(Pgids(h.resume), std::vector<int>{400});
  EXPECT_EQ(h.resume.cause, "b: exit status 1") << "the cause is the first step failure";
  EXPECT_EQ(h.Step("rollback", "b-undo")->end, EventKind::kRollbackFailed);
  EXPECT_TRUE(h.Step("rollback", "a-undo")->ok());
}

TEST(RunHistoryTest, HostsAndUndoStateAreRebuilt) {
  AttemptFinishedDetail ssh = Succeeded("");
  ssh.extra = {{"max_in_flight", 2}};
  ssh.hosts = {{.host = "web1", .ok = true, .reached = true, .exit_status = 0},
               {.host = "web2", .ok = false, .reached = false, .error = "auth refused"}};
  AttemptFinishedDetail apply = Succeeded("");
  apply.undo_state = {{"objects", json::array({{{"name", "api"}, {"revision", 4}}})}};
  History events;
  events.Enter("pending", "step:fleet", "fleet", "start")
      .Attempt("step", "fleet", 1, 0, ssh)
      .Add(EventKind::kStepSucceeded, "step", "fleet", Ended(), 1)
      .Enter("step:fleet", "step:apply", "apply")
      .Attempt("step", "apply", 1, 0, apply)
      .Add(EventKind::kStepFailed, "step", "apply", StepEndDetail{.error = "later check"}, 1)
      .Enter("step:apply", "rollback:apply:auto", "apply", "failure")
      // The automatic rollback runs as the same step id and records no undo_state of its own.
      .Attempt("rollback", "apply", 1, 0, Failed(1));
  const RunHistory h = events.Read();

  const StepResult& fleet = h.resume.results.at("fleet");
  ASSERT_EQ(fleet.hosts.size(), 2u);
  EXPECT_EQ(fleet.hosts[0].host, "web1");
  EXPECT_TRUE(fleet.hosts[0].reached);
  EXPECT_TRUE(fleet.hosts[0].ok);
  EXPECT_EQ(fleet.hosts[1].host, "web2");
  EXPECT_FALSE(fleet.hosts[1].reached);
  EXPECT_EQ(fleet.hosts[1].exit_status, -1);
  EXPECT_EQ(h.Step("step", "fleet")->last_attempt->hosts[1].error, "auth refused");
  EXPECT_EQ(h.Step("step", "fleet")->last_attempt->extra["max_in_flight"], 2);

  EXPECT_EQ(h.resume.results.at("apply").undo_state, apply.undo_state)
      << "what the forward attempt recorded stays for the rollback";
  EXPECT_EQ(h.Step("step", "apply")->last_attempt->undo_state, apply.undo_state);
  EXPECT_TRUE(h.Step("rollback", "apply")->last_attempt->undo_state.is_null());
  EXPECT_TRUE(h.resume.processes.empty()) << "no process group 0";
}

// Each host's outputs, also a failed host's: from its host_finished as soon as the host is
// done (the attempt may never end), then from the attempt's host records.
TEST(RunHistoryTest, EachHostsOutputsAreRebuiltAlsoBeforeTheAttemptEnds) {
  History h;
  h.Enter("pending", "step:flip", "flip")
      .Add(EventKind::kStepStarted, "step", "flip")
      .Add(EventKind::kAttemptStarted, "step", "flip", json::object(), 1)
      .Add(EventKind::kHostFinished, "step", "flip",
           HostFinishedDetail{
               .host = "web1", .exit_status = 0, .ok = true, .outputs = {{"prev", "releases/1.0"}}},
           1)
      .Add(EventKind::kHostFinished, "step", "flip",
           HostFinishedDetail{.host = "web2",
                              .exit_status = 1,
                              .error = "exit status 1",
                              .reached = true,
                              .ok = false,
                              .outputs = {{"prev", "releases/0.9"}}},
           1);
  RunHistory cut = h.Read();
  EXPECT_EQ(cut.resume.values["flip"].host_outputs["web1"]["prev"], "releases/1.0");
  EXPECT_EQ(cut.resume.values["flip"].host_outputs["web2"]["prev"], "releases/0.9");
  EXPECT_EQ(cut.resume.hosts.FailedHosts().size(), 0u) << "the step has not ended";

  AttemptFinishedDetail attempt = Succeeded("");
  attempt.hosts = {
      {.host = "web1", .ok = true, .reached = true, .outputs = {{"prev", "releases/1.0"}}},
      {.host = "web2",
       .ok = false,
       .reached = true,
       .error = "exit status 1",
       .outputs = {{"prev", "releases/0.9"}}}};
  h.Add(EventKind::kAttemptFinished, "step", "flip", attempt, 1)
      .Add(EventKind::kHostFailed, "step", "flip",
           HostFailedDetail{.host = "web2", .error = "exit status 1", .reached = true});
  RunHistory after = h.Read();
  EXPECT_EQ(after.resume.values["flip"].host_outputs["web2"]["prev"], "releases/0.9");
  ASSERT_EQ(after.resume.results["flip"].hosts.size(), 2u);
  EXPECT_EQ(after.resume.results["flip"].hosts[1].outputs.at("prev"), "releases/0.9");
  EXPECT_EQ(after.resume.hosts.LeftOut().size(), 1u);
}

TEST(RunHistoryTest, AFinishedRunAndItsTransitions) {
  History events = StepAThenB();
  events.Attempt("step", "b", 1, 200, Succeeded(""))
      .Add(EventKind::kStepSucceeded, "step", "b", Ended(), 1)
      .Enter("step:b", "succeeded", "")
      .Add(EventKind::kRunFinished, "run", "",
           RunFinishedDetail{.state = "succeeded", .exit_code = 0, .duration_ms = 9, .error = ""},
           0, "", "succeeded");
  const RunHistory h = events.Read();
  EXPECT_EQ(h.resume.state, "succeeded");
  ASSERT_TRUE(h.finished);
  EXPECT_EQ(h.finished->state, "succeeded");
  EXPECT_EQ(h.finished->seq, static_cast<int64_t>(events.events().size()));
  EXPECT_EQ(h.finished->detail.exit_code, 0);
  ASSERT_TRUE(h.resume.finished) << "recover must not write a second run_finished";
  EXPECT_EQ(h.resume.finished->state, "succeeded");
  ASSERT_EQ(h.transitions.size(), 3u);
  EXPECT_EQ(h.transitions[2].from, "step:b");
  EXPECT_EQ(h.transitions[2].to, "succeeded");
}

TEST(RunHistoryTest, UnknownEventsAndOddDetailsAreSkippedNotFatal) {
  History events = StepAThenB();
  std::vector<EventView> views = events.events();
  EventView unknown;
  unknown.seq = 100;
  unknown.step = "b";
  unknown.detail = {{"pgid", 999}};
  views.push_back(unknown);  // a newer version's event
  EventView odd;
  odd.seq = 101;
  odd.kind = EventKind::kAttemptFinished;
  odd.phase = "step";
  odd.step = "b";
  odd.detail = {{"exit_status", "three"}, {"hosts", {"web1"}}, {"stdout", 5}};
  views.push_back(odd);
  EventView not_object = odd;
  not_object.seq = 102;
  not_object.kind = EventKind::kStepFailed;
  not_object.detail = "not an object";
  views.push_back(not_object);
  RunHistory h;
  ASSERT_NO_THROW(h = ReadRunHistory(views, 1));
  EXPECT_TRUE(h.resume.processes.empty());
  EXPECT_EQ(h.resume.results.at("b").exit_status, -1);
  EXPECT_TRUE(h.resume.results.at("b").hosts.empty());
  EXPECT_EQ(h.resume.cause, "b: ");
  EXPECT_TRUE(h.resume.step_finished);
}

}  // namespace
}  // namespace runbook
