// The structured log through the binary (docs/logging.md): `run` writes logs/RUN_ID.log beside
// the audit database by default; --log-file, --log-format json and --log-level write JSON lines
// with the run id and each step's events; the settings file's `log:` applies to every command;
// a secret param's value never reaches the log.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <vector>

#include "tests/e2e_util.h"
#include "testing/temp_dir.h"

namespace runbook::testing {
namespace {

namespace fs = std::filesystem;

std::vector<nlohmann::json> JsonLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<nlohmann::json> out;
  for (std::string line; std::getline(in, line);) {
    try {
      out.push_back(nlohmann::json::parse(line));
    } catch (const std::exception&) {
      ADD_FAILURE() << path << ": not a JSON line: " << line;
    }
  }
  return out;
}

constexpr const char* kSecret = "hunter2-Sup3r-secret";

class LoggingE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.Write("ok.yaml", "runbook: ok\nsteps:\n  - id: a\n    shell: \"true\"\n");
    dir_.Write("secret.yaml",
               "runbook: secret\nparams:\n  pw: {required: true, secret: true, pattern: "
               "\"[a-zA-Z0-9-]+\"}\nsteps:\n"
               "  - id: show\n    shell: \"echo {{ params.pw }}\"\n"
               "    rollback: {shell: \"echo undo {{ params.pw }}\"}\n"
               "  - id: fail\n    shell: \"echo {{ params.pw }} >&2; exit 4\"\n");
  }
  Output Runbook(const std::string& args) {
    return RunRunbook(dir_.path(), dir_.File("audit.db"), args);
  }
  TempDir dir_{"runbook-logging"};
};

TEST_F(LoggingE2eTest, ARunWritesItsOwnLogBesideTheAuditDatabase) {
  Output run = Runbook("run ok.yaml --json");
  ASSERT_EQ(run.code, 0) << run.text;
  const size_t brace = run.text.rfind("\n{");
  const nlohmann::json summary =
      nlohmann::json::parse(run.text.substr(brace == std::string::npos ? 0 : brace + 1));
  const std::string run_id = summary["run_id"];
  const std::string log = dir_.File("logs/" + run_id + ".log");
  ASSERT_TRUE(fs::exists(log)) << run.text;
  // JSON lines by default (SPEC section 7), each one about this run.
  std::vector<std::string> events;
  for (const nlohmann::json& j : JsonLines(log)) {
    EXPECT_EQ(j["run_id"], run_id) << j.dump();
    events.push_back(j["event"].get<std::string>() + " " + j["step"].get<std::string>());
  }
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.front(), "command_started ");
  EXPECT_EQ(events.back(), "command_finished ");
  EXPECT_NE(std::find(events.begin(), events.end(), "step_succeeded a"), events.end());
  // A format given on the command line holds for the run's own log too.
  Output text_run = Runbook("run ok.yaml --json --log-format text");
  ASSERT_EQ(text_run.code, 0) << text_run.text;
  const std::string text_id = nlohmann::json::parse(
      text_run.text.substr(text_run.text.rfind("\n{") == std::string::npos
                               ? 0
                               : text_run.text.rfind("\n{") + 1))["run_id"];
  const std::string text = Slurp(dir_.File("logs/" + text_id + ".log"));
  EXPECT_NE(text.find("run=" + text_id + " step=a phase=step attempt=1 step_succeeded"),
            std::string::npos)
      << text;
  // Another command writes no log unless one is asked for.
  ASSERT_EQ(Runbook("runs").code, 0);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_.File("logs")), fs::directory_iterator()), 2);
}

TEST_F(LoggingE2eTest, JsonLinesHoldTheRunsEventsAndNeverTheSecret) {
  Output run = Runbook(std::string("run secret.yaml -p pw=") + kSecret +
                       " --log-format json --log-file out/run.jsonl --log-level debug");
  ASSERT_EQ(run.code, 1) << run.text;  // rolled back
  const std::string log = dir_.File("out/run.jsonl");
  const std::string text = Slurp(log);
  EXPECT_EQ(text.find(kSecret), std::string::npos) << text;
  EXPECT_FALSE(fs::exists(dir_.File("logs"))) << "--log-file replaces the run's default log";
  std::vector<nlohmann::json> lines = JsonLines(log);
  ASSERT_GT(lines.size(), 5u) << text;
  std::string run_id;
  std::set<std::string> seen;  // "step/event"
  for (const nlohmann::json& j : lines) {
    for (const char* key : {"ts", "level", "run_id", "step", "phase", "host", "event", "msg"})
      EXPECT_TRUE(j.contains(key)) << key << " in " << j.dump();
    if (j["event"] == "run_started") run_id = j["run_id"];
    seen.insert(j["step"].get<std::string>() + "/" + j["event"].get<std::string>());
  }
  ASSERT_FALSE(run_id.empty()) << text;
  // Every line but the first (command_started, written before the run had an id) is the run's.
  for (size_t i = 1; i < lines.size(); ++i) EXPECT_EQ(lines[i]["run_id"], run_id) << lines[i].dump();
  for (const char* want : {"/command_started", "/run_started", "show/step_started",
                           "show/attempt_started", "show/attempt_finished", "show/step_succeeded",
                           "fail/step_started", "fail/step_failed", "show-rollback-1/rollback_started",
                           "show-rollback-1/rollback_succeeded", "/run_finished", "/command_finished"})
    EXPECT_TRUE(seen.count(want)) << want << " missing from\n" << text;
  EXPECT_NE(text.find("echo '***'"), std::string::npos) << text;
}

TEST_F(LoggingE2eTest, TheSettingsFileChoosesTheLogOfEveryCommandAndFlagsWin) {
  dir_.Write("settings.yaml", "log:\n  file: all.log\n  format: json\n  level: info\n");
  ASSERT_EQ(Runbook("--config settings.yaml runs").code, 0);
  std::vector<nlohmann::json> lines = JsonLines(dir_.File("all.log"));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["event"], "command_started");
  EXPECT_EQ(lines[1]["event"], "command_finished");
  EXPECT_EQ(lines[1]["detail"]["command"], "runs");
  // The command line wins over the settings file.
  ASSERT_EQ(Runbook("--config settings.yaml audit verify --log-format text --log-level warn "
                    "--log-file quiet.log").code,
            0);
  EXPECT_EQ(Slurp(dir_.File("quiet.log")), "");
  // A bad value is a usage error, in either place.
  EXPECT_EQ(Runbook("runs --log-level verbose").code, 2);
  dir_.Write("bad.yaml", "log:\n  format: xml\n");
  Output bad = Runbook("--config bad.yaml runs");
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.text.find("log.format: 'xml' is not text or json"), std::string::npos)
      << bad.text;
}

TEST_F(LoggingE2eTest, ACommandsErrorIsLoggedWithTheParamValuesMasked) {
  Output run = Runbook(std::string("run secret.yaml -p 'pw=") + kSecret +
                       "!' --log-format json --log-file err.log");
  ASSERT_EQ(run.code, 2) << run.text;
  const std::string text = Slurp(dir_.File("err.log"));
  EXPECT_EQ(text.find(kSecret), std::string::npos) << text;
  bool error = false;
  for (const nlohmann::json& j : JsonLines(dir_.File("err.log")))
    error = error || (j["event"] == "command_error" && j["level"] == "error");
  EXPECT_TRUE(error) << text;
}

}  // namespace
}  // namespace runbook::testing
