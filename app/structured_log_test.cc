#include "app/structured_log.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "app/app_test_util.h"
#include "app/inputs.h"
#include "app/log_audit_sink.h"
#include "app/run.h"
#include "engine/engine_test_util.h"
#include "testing/temp_dir.h"

namespace runbook {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> Lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

LogRecord Sample(LogLevel level, const std::string& message) {
  LogRecord r;
  r.ts = std::chrono::system_clock::time_point(std::chrono::milliseconds(1764758400123));
  r.level = level;
  r.run_id = "20251203T104000Z-abcdef";
  r.step = "deploy";
  r.phase = "step";
  r.host = "web1";
  r.event = "host_finished";
  r.message = message;
  r.attempt = 2;
  r.detail = {{"exit_status", 0}};
  return r;
}

TEST(StructuredLogTest, AJsonLineHasEveryFieldInOrder) {
  const std::string line =
      FormatLogLine(Sample(LogLevel::kWarn, "a {brace} and a \"quote\""), LogFormat::kJson);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  nlohmann::json j = nlohmann::json::parse(line);
  EXPECT_EQ(j["ts"], "2025-12-03T10:40:00.123Z");
  EXPECT_EQ(j["level"], "warn");
  EXPECT_EQ(j["run_id"], "20251203T104000Z-abcdef");
  EXPECT_EQ(j["step"], "deploy");
  EXPECT_EQ(j["phase"], "step");
  EXPECT_EQ(j["host"], "web1");
  EXPECT_EQ(j["event"], "host_finished");
  EXPECT_EQ(j["msg"], "a {brace} and a \"quote\"");
  EXPECT_EQ(j["attempt"], 2);
  EXPECT_EQ(j["detail"]["exit_status"], 0);
  // ts first, so that a person reading the file sees the time first.
  EXPECT_EQ(line.rfind("{\"ts\":", 0), 0u) << line;
}

TEST(StructuredLogTest, EmptyFieldsAreStillWrittenInJsonAndLeftOutInText) {
  LogRecord r;
  r.event = "command_started";
  r.message = "runbook runs started";
  nlohmann::json j = nlohmann::json::parse(FormatLogLine(r, LogFormat::kJson));
  for (const char* key : {"ts", "level", "run_id", "step", "phase", "host", "event", "msg"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_FALSE(j.contains("attempt"));
  EXPECT_FALSE(j.contains("detail"));
  const std::string text = FormatLogLine(r, LogFormat::kText);
  EXPECT_EQ(text.find("step="), std::string::npos) << text;
  EXPECT_NE(text.find(" info command_started: runbook runs started"), std::string::npos) << text;
}

TEST(StructuredLogTest, ATextLineIsOneLineWithItsFields) {
  const std::string text =
      FormatLogLine(Sample(LogLevel::kError, "two\nlines"), LogFormat::kText);
  EXPECT_EQ(text,
            "2025-12-03T10:40:00.123Z error run=20251203T104000Z-abcdef step=deploy phase=step "
            "host=web1 attempt=2 host_finished: two lines");
}

TEST(StructuredLogTest, InvalidUtf8AndLongTextsStillMakeAValidBoundedLine) {
  LogRecord r = Sample(LogLevel::kInfo, std::string("bad \xff\xfe byte"));
  r.detail = {{"stdout", std::string(100000, 'x') + "end"}};
  const std::string line = FormatLogLine(r, LogFormat::kJson);
  nlohmann::json j = nlohmann::json::parse(line);
  EXPECT_LT(line.size(), 5000u);
  const std::string out = j["detail"]["stdout"];
  EXPECT_EQ(out.substr(out.size() - 3), "end");
  // Valid UTF-8: a strict dump would throw otherwise.
  EXPECT_NO_THROW((void)nlohmann::json(FormatLogLine(r, LogFormat::kText)).dump());
}

TEST(StructuredLogTest, NamesParseBack) {
  for (LogLevel l : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError})
    EXPECT_EQ(ParseLogLevel(LogLevelName(l)), l);
  EXPECT_EQ(ParseLogLevel("warning"), LogLevel::kWarn);
  EXPECT_FALSE(ParseLogLevel("verbose").has_value());
  EXPECT_EQ(ParseLogFormat("json"), LogFormat::kJson);
  EXPECT_FALSE(ParseLogFormat("xml").has_value());
}

TEST(StructuredLogTest, TheLevelFiltersWhatIsWritten) {
  runbook::testing::TempDir dir{"log-level"};
  LogFileOptions options;
  options.path = dir / "sub/run.log";  // the folder is made
  options.format = LogFormat::kJson;
  options.level = LogLevel::kWarn;
  {
    auto log = OpenLogFile(options);
    ASSERT_TRUE(log.ok()) << log.message();
    EXPECT_FALSE((*log)->Enabled(LogLevel::kInfo));
    EXPECT_TRUE((*log)->Enabled(LogLevel::kError));
    for (LogLevel l : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError})
      (*log)->Write(Sample(l, std::string(LogLevelName(l))));
  }
  std::vector<std::string> lines = Lines(options.path);
  ASSERT_EQ(lines.size(), 2u) << Slurp(options.path);
  EXPECT_EQ(nlohmann::json::parse(lines[0])["level"], "warn");
  EXPECT_EQ(nlohmann::json::parse(lines[1])["level"], "error");
}

TEST(StructuredLogTest, AFileIsRotatedBySizeAndOnlySoManyAreKept) {
  runbook::testing::TempDir dir{"log-rotate"};
  LogFileOptions options;
  options.path = dir / "run.log";
  options.format = LogFormat::kJson;
  options.max_bytes = 2048;
  options.max_files = 2;
  {
    auto log = OpenLogFile(options);
    ASSERT_TRUE(log.ok()) << log.message();
    for (int i = 0; i < 200; ++i) (*log)->Write(Sample(LogLevel::kInfo, "line " + std::to_string(i)));
  }
  ASSERT_TRUE(fs::exists(dir / "run.log"));
  ASSERT_TRUE(fs::exists(dir / "run.1.log"));
  ASSERT_TRUE(fs::exists(dir / "run.2.log"));
  EXPECT_FALSE(fs::exists(dir / "run.3.log"));
  for (const char* name : {"run.log", "run.1.log", "run.2.log"}) {
    EXPECT_LE(fs::file_size(dir / name), 2048u) << name;
    for (const std::string& line : Lines(dir / name))
      EXPECT_TRUE(nlohmann::json::accept(line)) << name << ": " << line;
  }
  // The newest lines are in the current file, the last one last.
  std::vector<std::string> current = Lines(dir / "run.log");
  ASSERT_FALSE(current.empty());
  EXPECT_EQ(nlohmann::json::parse(current.back())["msg"], "line 199");
}

TEST(StructuredLogTest, AFileThatCannotBeOpenedIsAnError) {
  runbook::testing::TempDir dir{"log-bad"};
  runbook::testing::WriteTextFile(dir / "file", "x");
  LogFileOptions options;
  options.path = dir / "file/run.log";  // under a file, not a folder
  auto log = OpenLogFile(options);
  EXPECT_FALSE(log.ok());
}

TEST(StructuredLogTest, ARunsLogGoesBesideTheAuditDatabase) {
  runbook::testing::FakeEnvironment env;
  EXPECT_EQ(RunLogPath("/var/lib/runbook/audit.db", "R1", env), "/var/lib/runbook/logs/R1.log");
  env.SetEnv("XDG_STATE_HOME", "/state");
  EXPECT_EQ(RunLogPath("postgresql://deploy@db/runbook", "R1", env),
            "/state/runbook/logs/R1.log");
}

TEST(StructuredLogTest, EventLevelsAndHosts) {
  AuditEvent e;
  e.event = EventKind::kStepFailed;
  e.phase = "step";
  e.step = "deploy";
  e.detail = {{"error", "exit 3"}};
  LogRecord r = EventLogRecord("R", e);
  EXPECT_EQ(r.level, LogLevel::kError);
  EXPECT_EQ(r.event, "step_failed");
  EXPECT_EQ(r.message, "step deploy failed: exit 3");
  e.event = EventKind::kHostFinished;
  e.detail = {{"host", "web2"}, {"exit_status", 1}, {"ok", false}};
  r = EventLogRecord("R", e);
  EXPECT_EQ(r.host, "web2");
  EXPECT_EQ(r.level, LogLevel::kWarn);
  e.event = EventKind::kAttemptStarted;
  EXPECT_EQ(EventLogRecord("R", e).level, LogLevel::kDebug);
  e.event = EventKind::kRunFinished;
  e.detail = {{"state", "rolled_back"}, {"exit_code", 1}};
  EXPECT_EQ(EventLogRecord("R", e).level, LogLevel::kWarn);
}

// A real run through RunService: the log holds each step's events with the run id, and the
// secret param's value never appears, since the log sees only the audit log's records.
TEST(StructuredLogTest, ARunsLogHasItsEventsAndNoSecret) {
  runbook::testing::TempDir dir{"log-run"};
  auto store = AuditDatabase::Open(dir / "audit.db");
  ASSERT_TRUE(store.ok()) << store.message();
  runbook::testing::FakeEnvironment env;
  runbook::testing::FakeSigner signer;
  RunService service(**store, signer, env);
  const std::string secret = "hunter2-s3cr3t-value";
  runbook::testing::WriteTextFile(
      dir / "rb.yaml",
      "runbook: logged\nparams:\n  pw: {required: true, secret: true}\nsteps:\n"
      "  - id: first\n    shell: \"echo {{ params.pw }}\"\n"
      "  - id: second\n    shell: \"echo {{ params.pw }} >&2; exit 3\"\n");
  LoadedRunbook loaded = LoadRunbookWithParams(dir / "rb.yaml", {"pw=" + secret});
  ASSERT_TRUE(loaded.ok()) << loaded.error_summary << loaded.status.message();
  RunRequest request;
  request.runbook = std::move(loaded.runbook);
  request.params = loaded.params;
  request.file = dir / "rb.yaml";
  request.operator_name = "tester";
  RunStart start = service.Prepare(std::move(request));
  ASSERT_TRUE(start.status.ok()) << start.status.message();
  LogFileOptions options;
  options.path = RunLogPath((*store)->location(), start.run->run_id(), env);
  options.format = LogFormat::kJson;
  options.level = LogLevel::kDebug;
  auto log = OpenLogFile(options);
  ASSERT_TRUE(log.ok()) << log.message();
  runbook::testing::SilentReporter reporter;
  CancelFlag interrupt, hard_stop;
  RunResult result = service.Execute(*start.run, reporter, {&interrupt, &hard_stop}, log->get());
  log->reset();
  EXPECT_EQ(result.summary.state, "rolled_back");
  EXPECT_EQ(options.path, dir / ("logs/" + result.summary.run_id + ".log"));

  const std::string text = Slurp(options.path);
  EXPECT_EQ(text.find(secret), std::string::npos) << text;
  EXPECT_NE(text.find("***"), std::string::npos) << text;
  std::map<std::string, std::vector<std::string>> events_by_step;
  for (const std::string& line : Lines(options.path)) {
    nlohmann::json j = nlohmann::json::parse(line);
    EXPECT_EQ(j["run_id"], result.summary.run_id);
    events_by_step[j["step"]].push_back(j["event"]);
  }
  auto has = [&](const std::string& step, const std::string& event) {
    const auto& v = events_by_step[step];
    return std::find(v.begin(), v.end(), event) != v.end();
  };
  EXPECT_TRUE(has("", "run_started"));
  EXPECT_TRUE(has("first", "step_started"));
  EXPECT_TRUE(has("first", "attempt_finished"));
  EXPECT_TRUE(has("first", "step_succeeded"));
  EXPECT_TRUE(has("second", "step_failed"));
  EXPECT_TRUE(has("", "run_finished"));
}

}  // namespace
}  // namespace runbook
