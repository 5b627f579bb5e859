#include "audit/audit_format.h"

#include <gtest/gtest.h>

#include <sstream>

#include "audit/audit_database.h"
#include "audit/audit_test_util.h"
#include "audit/hash_chain.h"

namespace runbook {
namespace {

using audit_test::MakeEvent;
using audit_test::MakeRun;
using audit_test::TempDir;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// A failed run recorded through a real store: alpha succeeds, bravo fails, both roll back.
struct RecordedRun {
  StoredRun run;
  std::vector<StoredEvent> events;
};

RecordedRun RecordFailedRun(const std::string& path) {
  Result<std::unique_ptr<AuditDatabase>> opened = AuditDatabase::Open(path);
  EXPECT_TRUE(opened.ok()) << opened.message();
  EventLog& store = (*opened)->events();
  EXPECT_TRUE(store.BeginRun(MakeRun("r-1", "replayed")).ok());
  auto add = [&](AuditEvent e, const std::string& phase, const std::string& from,
                 const std::string& to, int attempt) {
    e.phase = phase;
    e.from = from;
    e.to = to;
    e.attempt = attempt;
    Status s = store.Append("r-1", e);
    EXPECT_TRUE(s.ok()) << s.message();
  };
  add(MakeEvent("run_started", 0), "run", "", "pending", 0);
  add(MakeEvent("step_started", 250, "alpha"), "step", "pending", "step:alpha", 0);
  add(MakeEvent("attempt_finished", 1750, "alpha", {{"exit_status", 0}, {"duration_ms", 1500}}),
      "step", "", "", 1);
  add(MakeEvent("step_succeeded", 1760, "alpha"), "step", "step:alpha", "step:bravo", 0);
  add(MakeEvent("step_failed", 2000, "bravo",
                {{"exit_status", 2}, {"duration_ms", 240}, {"error", "exit status 2\nsee log"}}),
      "step", "step:bravo", "rolling_back", 1);
  add(MakeEvent("rollback_succeeded", 2100, "alpha"), "rollback", "", "", 0);
  add(MakeEvent("run_finished", 12345), "run", "rolling_back", "rolled_back", 0);
  EXPECT_TRUE(store.EndRun("r-1", "rolled_back", 1, std::chrono::system_clock::now()).ok());
  RecordedRun recorded{*store.GetRun("r-1"), *store.Events(std::string("r-1"))};
  // A fixed end, so that the duration below does not depend on this machine's clock.
  recorded.run.finished_at = "2026-11-23T15:04:17.345Z";
  return recorded;
}

TEST(AuditFormatTest, ExportHasTheSpecKeysInOrderOneObjectALine) {
  TempDir dir;
  RecordedRun r = RecordFailedRun(dir.File("audit.db"));
  std::string jsonl = ExportJsonl(r.events);
  std::vector<std::string> lines = Lines(jsonl);
  ASSERT_EQ(lines.size(), r.events.size());
  EXPECT_EQ(jsonl.back(), '\n');
  for (size_t i = 0; i < lines.size(); ++i) {
    nlohmann::ordered_json j = nlohmann::ordered_json::parse(lines[i]);
    std::vector<std::string> keys;
    for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
    EXPECT_EQ(keys,
              (std::vector<std::string>{"seq", "run_id", "ts", "event", "phase", "step", "from",
                                        "to", "attempt", "detail", "prev_hash", "hash"}));
    EXPECT_EQ(j["seq"], r.events[i].seq);
    EXPECT_EQ(j["hash"], r.events[i].hash);
  }
  nlohmann::json failed = nlohmann::json::parse(lines[4]);
  EXPECT_EQ(failed["event"], "step_failed");
  EXPECT_EQ(failed["from"], "step:bravo");
  EXPECT_EQ(failed["to"], "rolling_back");
  EXPECT_EQ(failed["attempt"], 1);
  EXPECT_EQ(failed["detail"]["exit_status"], 2);
  EXPECT_EQ(failed["ts"], "2026-11-23T15:04:07.000Z");
  EXPECT_EQ(nlohmann::json::parse(lines[1])["prev_hash"], nlohmann::json::parse(lines[0])["hash"]);
  EXPECT_EQ(ExportJsonl({}), "");
}

// `audit export` writes each row as it is read (AppendEventJsonLine): the same bytes as
// EventJsonLine of the parsed event, whether the detail is stored canonically (written as
// stored) or not (parsed and written again), and whatever the other columns hold.
TEST(AuditFormatTest, AnExportLineFromTheStoredRowIsTheLineOfTheParsedEvent) {
  const std::vector<std::string> details = {
      R"({"duration_ms":1500,"exit_status":0,"stdout":"caf\u00e9 ok\n\t\"q\" \\ \u0001"})",
      CanonicalJson({{"stdout", "caf\xc3\xa9 \xe2\x9c\x93\n"}, {"hosts", {"a", "b"}}, {"n", -5}}),
      "{}",
      "[1,2]",
      "{\"b\": 1, \"a\": [true, null]}",  // not canonical: parsed, then written
      R"({"ratio":0.25,"big":123456789012345678901})",
      R"({"a":1,"a":2})",
      "not json",
      std::string("{\"raw\":\"bad \xff byte\"}"),
  };
  struct Columns {
    std::string run_id, ts, event, phase, step, from, to, prev_hash, hash;
  };
  const std::vector<Columns> columns = {
      {"r-1", "2026-11-23T15:04:05.123Z", "attempt_finished", "step", "alpha", "step:alpha",
       "step:bravo", std::string(64, '0'), std::string(64, 'a')},
      {"run \"7\"", "ts\n", "ev\\ent", "", "d\xc3\xa9ploy \xff", std::string("nul\0", 4), "\x7f",
       "", "x"},
  };
  for (const Columns& c : columns) {
    for (const std::string& detail : details) {
      EventRow row;
      row.seq = 9007199254740993LL;
      row.run_id = c.run_id;
      row.ts = c.ts;
      row.event = c.event;
      row.phase = c.phase;
      row.step = c.step;
      row.from = c.from;
      row.to = c.to;
      row.attempt = -2;
      row.detail = detail;
      row.prev_hash = c.prev_hash;
      row.hash = c.hash;
      std::string line = "kept|";
      AppendEventJsonLine(row, &line);
      bool detail_ok = true;
      EXPECT_EQ(line, "kept|" + EventJsonLine(ToStoredEvent(row, &detail_ok))) << detail;
    }
  }
}

TEST(AuditFormatTest, ReplayTextShowsHeaderStepsTimingAndTheEnd) {
  TempDir dir;
  RecordedRun r = RecordFailedRun(dir.File("audit.db"));
  std::string text = ReplayText(r.run, r.events);
  for (const char* want :
       {"r-1", "replayed", "/srv/runbooks/replayed.yaml", "alice", "build-1", "pid 4242",
        "2026-11-23T15:04:05.000Z", "exit code", "alpha", "bravo", "+0.250s", "+12.345s",
        "pending→step:alpha", "1.500s", "240ms", "exit status 2 see log", "rollback_succeeded",
        "attempt_finished #1", "\"version\":\"1.2.3\""}) {
    EXPECT_NE(text.find(want), std::string::npos) << "missing " << want << " in\n" << text;
  }
  std::vector<std::string> lines = Lines(text);
  EXPECT_EQ(lines.back(), "run ended rolled_back after 12.345s, exit code 1");
  // The rows line up: every event row has its EVENT column where the header has it.
  size_t header = 0;
  while (header < lines.size() && lines[header].find("OFFSET") == std::string::npos) ++header;
  ASSERT_LT(header, lines.size());
  const size_t event_column = lines[header].find("EVENT");
  EXPECT_EQ(lines[header + 1].find("run_started"), event_column);
  EXPECT_EQ(lines[header + 5].find("step_failed"), event_column);
  // The exit status column shows the step's exit status.
  const size_t exit_column = lines[header].find("EXIT");
  EXPECT_EQ(lines[header + 5].substr(exit_column, 1), "2");
}

TEST(AuditFormatTest, ReplayTextOfAnUnfinishedRunSaysSo) {
  TempDir dir;
  RecordedRun r = RecordFailedRun(dir.File("audit.db"));
  r.run.state.clear();
  r.run.finished_at.clear();
  r.run.exit_code.reset();
  r.events.pop_back();
  std::string text = ReplayText(r.run, r.events);
  EXPECT_NE(text.find("unfinished"), std::string::npos) << text;
  EXPECT_NE(Lines(text).back().find("runbook recover"), std::string::npos) << text;
}

TEST(AuditFormatTest, ReplayJsonHasTheRunAndItsEvents) {
  TempDir dir;
  RecordedRun r = RecordFailedRun(dir.File("audit.db"));
  nlohmann::json j = nlohmann::json::parse(ReplayJson(r.run, r.events).dump());
  EXPECT_EQ(j["run"]["run_id"], "r-1");
  EXPECT_EQ(j["run"]["state"], "rolled_back");
  EXPECT_EQ(j["run"]["exit_code"], 1);
  EXPECT_EQ(j["run"]["duration_ms"], 12345);
  EXPECT_EQ(j["run"]["runbook_text"], r.run.runbook_text);
  EXPECT_EQ(j["run"]["params"]["version"], "1.2.3");
  EXPECT_TRUE(j["run"]["plan_id"].is_null());
  ASSERT_EQ(j["events"].size(), r.events.size());
  EXPECT_EQ(j["events"][1]["offset_ms"], 250);
  EXPECT_EQ(j["events"][1]["step"], "alpha");
  EXPECT_EQ(j["events"][6]["to"], "rolled_back");
}

TEST(AuditFormatTest, RunsTableIsAlignedAndJsonHasNullsForUnfinished) {
  StoredRun done;
  done.run_id = "20261123-150405-aaaa";
  done.runbook = "web-release";
  done.operator_name = "alice";
  done.started_at = "2026-11-23T15:04:05.000Z";
  done.finished_at = "2026-11-23T15:06:10.500Z";
  done.state = "succeeded";
  done.exit_code = 0;
  StoredRun open;
  open.run_id = "r2";
  open.runbook = "db";
  open.operator_name = "bob";
  open.started_at = "2026-11-23T16:00:00.000Z";
  open.dry_run = true;

  std::vector<std::string> lines = Lines(RunsText({done, open}));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].rfind("RUN ID", 0), 0u);
  const size_t state = lines[0].find("STATE");
  EXPECT_EQ(lines[1].find("succeeded"), state);
  EXPECT_EQ(lines[2].find("unfinished (dry run)"), state);
  EXPECT_NE(lines[1].find("2m05s"), std::string::npos) << lines[1];
  EXPECT_EQ(lines[1].find("alice"), lines[0].find("OPERATOR"));
  EXPECT_EQ(RunsText({}), "no runs recorded\n");

  nlohmann::json j = nlohmann::json::parse(RunsJson({done, open}).dump());
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["duration_ms"], 125500);
  EXPECT_EQ(j[0]["exit_code"], 0);
  EXPECT_EQ(j[0]["operator"], "alice");
  EXPECT_FALSE(j[0].contains("runbook_text"));
  EXPECT_TRUE(j[1]["state"].is_null());
  EXPECT_TRUE(j[1]["finished_at"].is_null());
  EXPECT_TRUE(j[1]["duration_ms"].is_null());
  EXPECT_TRUE(j[1]["exit_code"].is_null());
  EXPECT_EQ(j[1]["dry_run"], true);
}

// A run over ssh where web2 failed within max_fail and was undone at once, as stored rows.
std::vector<StoredEvent> HostEvents(const std::string& run_id) {
  std::vector<StoredEvent> events;
  auto add = [&](const std::string& name, const std::string& phase, const std::string& step,
                 nlohmann::json detail) {
    StoredEvent e;
    e.seq = static_cast<int64_t>(events.size()) + 1;
    e.run_id = run_id;
    e.ts = "2026-11-23T15:04:05.000Z";
    e.event = name;
    e.phase = phase;
    e.step = step;
    e.detail = std::move(detail);
    events.push_back(std::move(e));
  };
  add("run_started", "run", "", nlohmann::json::object());
  add("step_started", "step", "flip", nlohmann::json::object());
  add("attempt_started", "step", "flip", nlohmann::json::object());
  add("host_finished", "step", "flip", {{"host", "web1"}, {"exit_status", 0}, {"ok", true}});
  add("host_finished", "step", "flip",
      {{"host", "web2"},
       {"exit_status", 3},
       {"error", "exit status 3"},
       {"ok", false},
       {"reached", true}});
  add("host_failed", "step", "flip",
      {{"host", "web2"}, {"exit_status", 3}, {"error", "exit status 3"}, {"reached", true}});
  add("rollback_started", "rollback", "flip-rb", {{"undoes", "flip"}, {"only_hosts", {"web2"}}});
  add("attempt_started", "rollback", "flip-rb", nlohmann::json::object());
  add("host_finished", "rollback", "flip-rb", {{"host", "web2"}, {"exit_status", 0}, {"ok", true}});
  add("rollback_succeeded", "rollback", "flip-rb", nlohmann::json::object());
  add("step_succeeded", "step", "flip", nlohmann::json::object());
  add("host_skipped", "step", "after",
      {{"host", "web2"}, {"reason", "left out: it failed in step flip"}, {"failed_in", "flip"}});
  return events;
}

TEST(AuditFormatTest, ReplayNamesTheHostOfHostEventsAndListsTheFailedHosts) {
  StoredRun run;
  run.run_id = "r-1";
  run.started_at = "2026-11-23T15:04:05.000Z";
  run.state = "succeeded";
  const std::vector<StoredEvent> events = HostEvents("r-1");
  const std::string text = ReplayText(run, events);
  const std::vector<std::string> lines = Lines(text);
  size_t header = 0;
  while (header < lines.size() && lines[header].find("OFFSET") == std::string::npos) ++header;
  ASSERT_LT(header, lines.size());
  const size_t host_column = lines[header].find("HOST");
  ASSERT_NE(host_column, std::string::npos);
  EXPECT_EQ(lines[header + 5].substr(host_column, 4), "web2") << lines[header + 5];  // failed
  EXPECT_EQ(lines[header + 6].substr(host_column, 4), "web2") << "the hosts a rollback runs on";
  EXPECT_EQ(lines[header + 2].find("web"), std::string::npos) << "not a host event";
  EXPECT_NE(text.find("failed hosts:\n  web2 in flip: exit status 3 (within max_fail, left out "
                      "of later steps; rolled back there)\n"),
            std::string::npos)
      << text;

  nlohmann::json j = nlohmann::json::parse(ReplayJson(run, events).dump());
  ASSERT_EQ(j["failed_hosts"].size(), 1u);
  EXPECT_EQ(j["failed_hosts"][0]["host"], "web2");
  EXPECT_EQ(j["failed_hosts"][0]["step"], "flip");
  EXPECT_EQ(j["failed_hosts"][0]["rolled_back"], true);
}

TEST(AuditFormatTest, RunsCountTheFailedHostsOfEachRun) {
  StoredRun a, b;
  a.run_id = "r-1";
  a.started_at = b.started_at = "2026-11-23T15:04:05.000Z";
  b.run_id = "r-2";
  std::vector<StoredEvent> events = HostEvents("r-1");
  const auto failed = FailedHostsByRun(events);
  ASSERT_EQ(failed.size(), 1u) << "r-2 had none";
  const std::vector<std::string> lines = Lines(RunsText({a, b}, failed));
  const size_t column = lines[0].find("FAILED HOSTS");
  ASSERT_NE(column, std::string::npos);
  EXPECT_EQ(lines[1].substr(column), "1");
  EXPECT_EQ(lines[2].substr(column), "-");

  nlohmann::json j = nlohmann::json::parse(RunsJson({a, b}, failed).dump());
  ASSERT_EQ(j[0]["failed_hosts"].size(), 1u);
  EXPECT_EQ(j[0]["failed_hosts"][0]["host"], "web2");
  EXPECT_EQ(j[0]["failed_hosts"][0]["error"], "exit status 3");
  EXPECT_EQ(j[0]["failed_hosts"][0]["within_max_fail"], true);
  EXPECT_TRUE(j[1]["failed_hosts"].empty());
}

TEST(AuditFormatTest, VerifyTextNamesTheProblemOrTheHead) {
  VerifyReport ok;
  ok.events_checked = 12;
  ok.head_seq = 12;
  ok.head_hash = std::string(64, 'e');
  EXPECT_EQ(VerifyText(ok, "a.db"),
            "audit log a.db: 12 events, hash chain intact (head: event 12, hash " +
                std::string(64, 'e') + ")\n");
  VerifyReport bad;
  bad.ok = false;
  bad.bad_seq = 17;
  bad.problem = "event 17: hash does not match its contents (edited?)";
  EXPECT_EQ(VerifyText(bad, "a.db"),
            "audit log a.db: event 17: hash does not match its contents (edited?)\n");
  EXPECT_EQ(VerifyText(VerifyReport{}, "a.db"),
            "audit log a.db: no events yet; nothing to verify\n");
}

TEST(AuditFormatTest, OffsetsAndDurationsComeFromTheStoredTimestamps) {
  StoredRun run;
  run.started_at = "2026-11-23T15:04:05.000Z";
  StoredEvent e;
  e.ts = "2026-11-23T15:04:04.990Z";
  EXPECT_EQ(EventOffsetMs(run, e), -10);
  e.ts = "garbage";
  EXPECT_FALSE(EventOffsetMs(run, e).has_value());
  EXPECT_FALSE(RunDurationMs(run).has_value());
  run.finished_at = "2026-11-23T15:04:06.000Z";
  EXPECT_EQ(RunDurationMs(run), 1000);
}

}  // namespace
}  // namespace runbook
