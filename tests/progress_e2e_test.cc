// A long step's progress through the binary (docs/operations.md, "Watching a run"): through a
// pipe the console writes a plain line every RUNBOOK_PROGRESS_INTERVAL (made short here) and
// no carriage return or escape sequence; the lines stay out of --json's output, the audit log
// and the run's own log.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "testing/temp_dir.h"
#include "tests/e2e_util.h"

namespace runbook::testing {
namespace {

namespace fs = std::filesystem;

bool HasControl(const std::string& s) {
  return s.find('\r') != std::string::npos || s.find('\033') != std::string::npos;
}

class ProgressE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The runbook process inherits it (RunRunbook runs it through popen).
    ::setenv("RUNBOOK_PROGRESS_INTERVAL", "500ms", 1);
    dir_.Write("slow.yaml", "runbook: slow\nsteps:\n  - id: slow\n    shell: \"sleep 1.6\"\n");
  }
  void TearDown() override { ::unsetenv("RUNBOOK_PROGRESS_INTERVAL"); }

  TempDir dir_{"runbook-progress"};
};

TEST_F(ProgressE2eTest, ThroughAPipeASlowStepGetsPlainLines) {
  Output run = RunRunbook(dir_.path(), dir_.File("audit.db"), "run slow.yaml");
  ASSERT_EQ(run.code, 0) << run.text;
  EXPECT_NE(run.text.find("▶ slow: sleep 1.6\n  slow … still running: 500ms\n"
                          "  slow … still running: 1s\n"),
            std::string::npos)
      << run.text;
  EXPECT_FALSE(HasControl(run.text)) << run.text;
}

TEST_F(ProgressE2eTest, JsonOutputAuditLogAndRunLogCarryNoProgress) {
  const std::string err = dir_.File("stderr.txt");
  Output run = RunRunbook(dir_.path(), dir_.File("audit.db"), "run slow.yaml --json", err);
  ASSERT_EQ(run.code, 0) << run.text;
  // With --json the console goes to stderr, the progress with it.
  const std::string console = Slurp(err);
  EXPECT_NE(console.find("  slow … still running: 500ms\n"), std::string::npos) << console;
  EXPECT_FALSE(HasControl(console)) << console;
  const nlohmann::json summary = nlohmann::json::parse(run.text);  // stdout: the summary only
  EXPECT_EQ(summary["state"], "succeeded");

  const std::string run_id = summary["run_id"];
  const std::string log = Slurp(dir_.File("logs/" + run_id + ".log"));
  EXPECT_FALSE(log.empty());
  EXPECT_EQ(log.find("still running"), std::string::npos) << log;
  Output replay = RunRunbook(dir_.path(), dir_.File("audit.db"), "replay " + run_id + " --json");
  ASSERT_EQ(replay.code, 0) << replay.text;
  EXPECT_EQ(replay.text.find("still running"), std::string::npos) << replay.text;
  for (const fs::directory_entry& f : fs::directory_iterator(dir_.path())) {
    if (f.path().filename().string().starts_with("audit.db")) {
      EXPECT_EQ(Slurp(f.path().string()).find("still running"), std::string::npos) << f.path();
    }
  }
}

}  // namespace
}  // namespace runbook::testing
