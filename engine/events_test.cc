#include "engine/events.h"

#include <set>

#include <gtest/gtest.h>

namespace runbook {
namespace {

using nlohmann::json;

TEST(EventKindTest, EveryKindRoundTripsThroughItsName) {
  std::set<std::string_view> names;
  for (int i = 0; i < kEventKindCount; ++i) {
    const auto kind = static_cast<EventKind>(i);
    const std::string_view name = EventName(kind);
    EXPECT_NE(name, "unknown") << i;
    EXPECT_TRUE(names.insert(name).second) << "two kinds are named " << name;
    EXPECT_EQ(ParseEventKind(name), kind) << name;
  }
}

// The names are on disk: this list is the documented format (docs/audit.md) and must not
// change.
TEST(EventKindTest, NamesAreTheStoredOnes) {
  const std::vector<std::pair<EventKind, std::string>> stored = {
      {EventKind::kRunStarted, "run_started"},
      {EventKind::kStateChanged, "state_changed"},
      {EventKind::kStepStarted, "step_started"},
      {EventKind::kAttemptStarted, "attempt_started"},
      {EventKind::kAttemptFinished, "attempt_finished"},
      {EventKind::kStepSucceeded, "step_succeeded"},
      {EventKind::kStepFailed, "step_failed"},
      {EventKind::kStepSkipped, "step_skipped"},
      {EventKind::kRollbackStarted, "rollback_started"},
      {EventKind::kRollbackSucceeded, "rollback_succeeded"},
      {EventKind::kRollbackFailed, "rollback_failed"},
      {EventKind::kRunFinished, "run_finished"},
      {EventKind::kRunRecovered, "run_recovered"},
      {EventKind::kProcessStarted, "process_started"},
      {EventKind::kHostFinished, "host_finished"},
      {EventKind::kKubectlTarget, "kubectl_target"},
      {EventKind::kKubectlRevisions, "kubectl_revisions"},
      {EventKind::kKubectlUndo, "kubectl_undo"},
      {EventKind::kHostFailed, "host_failed"},
      {EventKind::kHostSkipped, "host_skipped"},
      {EventKind::kPlansPruned, "plans_pruned"},
      {EventKind::kNotificationSent, "notify_sent"},
      {EventKind::kNotificationFailed, "notify_failed"},
      {EventKind::kWebAction, "web_action"},
  };
  ASSERT_EQ(stored.size(), static_cast<size_t>(kEventKindCount));
  for (const auto& [kind, name] : stored) EXPECT_EQ(EventName(kind), name);
}

TEST(EventKindTest, UnknownNamesAreNotKinds) {
  EXPECT_EQ(ParseEventKind(""), std::nullopt);
  EXPECT_EQ(ParseEventKind("custom"), std::nullopt);
  EXPECT_EQ(ParseEventKind("Step_Failed"), std::nullopt);
  EXPECT_EQ(ParseEventKind("unknown"), std::nullopt);
}

TEST(EventKindTest, StepEndsAndSuccesses) {
  int ends = 0;
  for (int i = 0; i < kEventKindCount; ++i) {
    const auto kind = static_cast<EventKind>(i);
    ends += IsStepEnd(kind);
    if (IsStepSuccess(kind)) {
      EXPECT_TRUE(IsStepEnd(kind)) << EventName(kind);
    }
  }
  EXPECT_EQ(ends, 5);
  EXPECT_TRUE(IsStepSuccess(EventKind::kStepSkipped));
  EXPECT_FALSE(IsStepSuccess(EventKind::kRollbackFailed));
}

// ----------------------------------------------------------------------------- round trips

template <typename T>
void ExpectRoundTrip(const T& d) {
  const json j = d;
  EXPECT_EQ(j.get<T>(), d) << j.dump();
  // And the JSON itself survives a second trip unchanged.
  EXPECT_EQ(json(j.get<T>()), j);
}

TEST(EventDetailTest, RecordsRoundTrip) {
  ExpectRoundTrip(RunStartedDetail{.runbook = "deploy",
                                   .operator_name = "ana",
                                   .host = "box",
                                   .pid = 42,
                                   .dry_run = true,
                                   .params = {{"version", "1.2"}},
                                   .plan_id = "p-1",
                                   .lock = "prod/deploy"});
  ExpectRoundTrip(RunStartedDetail{.runbook = "deploy",
                                   .files = {{"scripts/go.sh", "command", std::string(64, 'a')},
                                             {"m/web.yaml", "manifest", std::string(64, 'b')}}});
  ExpectRoundTrip(StateChangedDetail{"failure"});
  ExpectRoundTrip(StepStartedDetail{.name = "Migrate",
                                    .action = "shell",
                                    .description = "./migrate",
                                    .max_attempts = 3,
                                    .timeout_ms = 60000,
                                    .undoes = "migrate",
                                    .auto_rollback = true,
                                    .dry_run = true});
  ExpectRoundTrip(AttemptStartedDetail{"./migrate"});
  AttemptFinishedDetail attempt;
  attempt.extra = {{"status", 503}, {"url", "https://x"}};
  attempt.outcome = "failed";
  attempt.exit_status = 7;
  attempt.duration_ms = 1500;
  attempt.error = "exit status 7";
  attempt.stdout_tail = "out\n";
  attempt.stderr_tail = "err\n";
  attempt.hosts = {{"web1", true, true, 0, 10, ""}, {"web2:2222", false, false, -1, 0, "auth"}};
  attempt.undo_state = {{"objects", json::array({1, 2})}};
  ExpectRoundTrip(attempt);
  ExpectRoundTrip(StepEndDetail{.attempts = 2,
                                .duration_ms = 300,
                                .exit_status = 0,
                                .outputs = std::map<std::string, std::string>{{"v", "1"}}});
  ExpectRoundTrip(StepEndDetail{.error = "interrupted", .interrupted = true});
  ExpectRoundTrip(StepSkippedDetail{"dry run: rollback is not run"});
  ExpectRoundTrip(RunFinishedDetail{
      .state = "rolled_back", .exit_code = 1, .duration_ms = 12, .error = "b: exit status 1"});
  ExpectRoundTrip(RunFinishedDetail{.state = "aborted", .exit_code = 5});
  ExpectRoundTrip(RunRecoveredDetail{.operator_name = "ana",
                                     .host = "box",
                                     .pid = 7,
                                     .dead_pid = 6,
                                     .state = "step:b",
                                     .step_finished = true});
  ExpectRoundTrip(ProcessStartedDetail{.pid = 10, .pgid = 10});
  ExpectRoundTrip(ProcessStartedDetail{.pid = 10, .pgid = 10, .command = "kubectl get"});
  ExpectRoundTrip(ProcessStartedDetail{.pid = 10,
                                       .pgid = 10,
                                       .boot_id = "6c0a6e5e-8f1b-4a53-9d55-2a8c3c2b3f11",
                                       .start_time = 123456789012,
                                       .command = "kubectl get"});
  ExpectRoundTrip(HostFinishedDetail{.host = "web1",
                                     .exit_status = 0,
                                     .duration_ms = 5,
                                     .stdout_tail = "ok",
                                     .stderr_tail = "",
                                     .error = "",
                                     .reached = true});
  ExpectRoundTrip(HostFinishedDetail{
      .host = "web2", .exit_status = 1, .ok = false, .outputs = {{"prev", "releases/0.9"}}});
  ExpectRoundTrip(HostFailedDetail{
      .host = "web2:2222", .error = "exit status 3", .exit_status = 3, .reached = true});
  ExpectRoundTrip(HostSkippedDetail{.host = "web2", .reason = "left out", .failed_in = "flip"});
  ExpectRoundTrip(HostSkippedDetail{.host = "web2", .reason = "undone", .undone_by = "flip-rb"});
  ExpectRoundTrip(NotificationDetail{.event = "run_started", .target = "https://h/...",
                                     .status = 200, .duration_ms = 12});
  ExpectRoundTrip(NotificationDetail{.event = "rolled_back", .target = "***",
                                     .duration_ms = 5000, .error = "timed out after 5s"});
  ExpectRoundTrip(StepStartedDetail{.name = "undo", .undoes = "flip", .only_hosts = {"w2", "w3"}});
  AttemptFinishedDetail per_host;
  per_host.outcome = "succeeded";
  per_host.hosts = {{.host = "web1", .ok = true, .outputs = {{"prev", "releases/1.0"}}},
                    {.host = "web2", .ok = false, .outputs = {{"prev", "releases/0.9"}}}};
  ExpectRoundTrip(per_host);
}

TEST(EventDetailTest, AHostRecordWithoutOkReadsItFromItsExitStatusAndError) {
  EXPECT_TRUE(HostFinishedOk(json{{"exit_status", 0}}.get<HostFinishedDetail>()));
  EXPECT_FALSE(HostFinishedOk(json{{"exit_status", 1}}.get<HostFinishedDetail>()));
  EXPECT_FALSE(
      HostFinishedOk(json{{"exit_status", 0}, {"error", "timeout"}}.get<HostFinishedDetail>()));
  EXPECT_FALSE(HostFinishedOk(json{{"exit_status", 0}, {"ok", false}}.get<HostFinishedDetail>()));
}

// ----------------------------------------------------------------------------- the format

// What the executor wrote before these records existed, key for key.
TEST(EventDetailTest, WritesTheDocumentedKeys) {
  EXPECT_EQ(json(RunStartedDetail{}).dump(),
            R"({"dry_run":false,"host":"","lock":"","operator":"","params":{},"pid":0,)"
            R"("plan_id":"","runbook":""})");
  EXPECT_EQ(json(StepStartedDetail{.name = "n", .action = "shell", .description = "d"}).dump(),
            R"({"action":"shell","description":"d","max_attempts":1,"name":"n","timeout_ms":0})");
  AttemptFinishedDetail attempt;
  attempt.outcome = "succeeded";
  attempt.exit_status = 0;
  EXPECT_EQ(json(attempt).dump(), R"({"duration_ms":0,"exit_status":0,"outcome":"succeeded"})");
  EXPECT_EQ(json(StepEndDetail{.error = "why", .interrupted = true}).dump(),
            R"({"error":"why","interrupted":true})");
  EXPECT_EQ(json(StepEndDetail{.attempts = 1, .duration_ms = 2, .exit_status = 0}).dump(),
            R"({"attempts":1,"duration_ms":2,"exit_status":0})");
  EXPECT_EQ(json(RunFinishedDetail{.state = "succeeded", .exit_code = 0}).dump(),
            R"({"exit_code":0,"state":"succeeded"})");
  EXPECT_EQ(
      json(RunFinishedDetail{.state = "s", .exit_code = 0, .duration_ms = 3, .error = ""}).dump(),
      R"({"duration_ms":3,"error":"","exit_code":0,"state":"s"})");
  EXPECT_EQ(json(ProcessStartedDetail{.pid = 3, .pgid = 3}).dump(), R"({"pgid":3,"pid":3})");
  EXPECT_EQ(json(ProcessStartedDetail{.pid = 3, .pgid = 3, .boot_id = "b", .start_time = 9}).dump(),
            R"({"boot_id":"b","pgid":3,"pid":3,"start_time":9})");
  EXPECT_EQ(
      json(HostDetail{.host = "h"}).dump(),
      R"({"duration_ms":0,"error":"","exit_status":-1,"host":"h","ok":false,"reached":false})");
}

TEST(EventDetailTest, TheExecutorsAttemptFactsWinOverTheRunners) {
  AttemptFinishedDetail d;
  d.extra = {{"exit_status", 99}, {"hosts", 3}, {"url", "https://x"}};
  d.outcome = "succeeded";
  d.exit_status = 0;
  const json j = d;
  EXPECT_EQ(j["exit_status"], 0);
  EXPECT_EQ(j["hosts"], 3) << "a runner's own hosts count stays when there are no host records";
  EXPECT_EQ(j["url"], "https://x");
  const auto back = j.get<AttemptFinishedDetail>();
  EXPECT_TRUE(back.hosts.empty());
  EXPECT_EQ(back.extra, (json{{"hosts", 3}, {"url", "https://x"}}));
}

// ----------------------------------------------------------------------------- tolerance

TEST(EventDetailTest, MissingFieldsReadAsDefaults) {
  const json empty = json::object();
  EXPECT_EQ(empty.get<RunStartedDetail>(), RunStartedDetail{});
  EXPECT_EQ(empty.get<StepStartedDetail>(), StepStartedDetail{});
  EXPECT_EQ(empty.get<AttemptFinishedDetail>(), AttemptFinishedDetail{});
  EXPECT_EQ(empty.get<StepEndDetail>(), StepEndDetail{});
  EXPECT_EQ(empty.get<RunFinishedDetail>(), RunFinishedDetail{});
  EXPECT_EQ(empty.get<RunRecoveredDetail>(), RunRecoveredDetail{});
  EXPECT_EQ(empty.get<ProcessStartedDetail>(), ProcessStartedDetail{});
  EXPECT_EQ(empty.get<HostFinishedDetail>(), HostFinishedDetail{});
  EXPECT_EQ(empty.get<HostFailedDetail>(), HostFailedDetail{});
  EXPECT_EQ(empty.get<HostSkippedDetail>(), HostSkippedDetail{});
  EXPECT_EQ(empty.get<NotificationDetail>(), NotificationDetail{});
  EXPECT_EQ(empty.get<HostDetail>().exit_status, -1);
  EXPECT_EQ(empty.get<AttemptFinishedDetail>().exit_status, -1);
}

TEST(EventDetailTest, MistypedFieldsReadAsDefaultsAndNeverThrow) {
  const json wrong = {{"pid", "12"},       {"pgid", 1.5},          {"exit_status", "0"},
                      {"attempts", "two"}, {"interrupted", "yes"}, {"error", 3},
                      {"outputs", "v=1"},  {"hosts", {1, "web1"}}, {"outcome", false},
                      {"duration_ms", {}}, {"state", 5},           {"trigger", nullptr},
                      {"params", "a=b"},   {"dry_run", 1},         {"command", 7}};
  EXPECT_NO_THROW({
    EXPECT_EQ(wrong.get<ProcessStartedDetail>(), ProcessStartedDetail{});
    EXPECT_EQ(wrong.get<StepEndDetail>(), StepEndDetail{});
    EXPECT_EQ(wrong.get<RunFinishedDetail>(), RunFinishedDetail{});
    EXPECT_EQ(wrong.get<StateChangedDetail>(), StateChangedDetail{});
    EXPECT_EQ(wrong.get<RunStartedDetail>().params, json::object());
    EXPECT_FALSE(wrong.get<RunStartedDetail>().dry_run);
    const auto attempt = wrong.get<AttemptFinishedDetail>();
    EXPECT_EQ(attempt.exit_status, -1);
    EXPECT_EQ(attempt.outcome, "");
    EXPECT_TRUE(attempt.hosts.empty());
    EXPECT_EQ(attempt.extra["hosts"], (json{1, "web1"})) << "kept as the runner's fact";
  });
  // Not objects at all.
  for (const json& odd : {json(nullptr), json::array({1}), json("text"), json(3)}) {
    EXPECT_NO_THROW({
      EXPECT_EQ(odd.get<StepEndDetail>(), StepEndDetail{}) << odd.dump();
      EXPECT_EQ(odd.get<AttemptFinishedDetail>(), AttemptFinishedDetail{}) << odd.dump();
      EXPECT_EQ(odd.get<RunFinishedDetail>(), RunFinishedDetail{}) << odd.dump();
      EXPECT_EQ(odd.get<HostDetail>(), HostDetail{}) << odd.dump();
    });
  }
}

TEST(EventDetailTest, OutputsKeepOnlyTheirStringValues) {
  const json j = {{"outputs", {{"a", "1"}, {"b", 2}}}};
  const auto d = j.get<StepEndDetail>();
  ASSERT_TRUE(d.outputs.has_value());
  EXPECT_EQ(*d.outputs, (std::map<std::string, std::string>{{"a", "1"}}));
}

}  // namespace
}  // namespace runbook
