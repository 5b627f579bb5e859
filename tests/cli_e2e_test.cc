// The command line's own help for people (issue 15): --version says what was built from what,
// a mistyped command or flag gets the closest one suggested, `runbook help CMD` works, and
// `report --out -` writes to standard output.
#include <gtest/gtest.h>

#include <regex>

#include "tests/e2e_util.h"
#include "testing/temp_dir.h"

namespace runbook::testing {
namespace {

class CliE2eTest : public ::testing::Test {
 protected:
  Output Runbook(const std::string& args) {
    return RunRunbook(dir_.path(), dir_.File("audit.db"), args);
  }
  TempDir dir_{"runbook-cli"};
};

TEST_F(CliE2eTest, VersionNamesTheCommitTheBuildAndEachLibrary) {
  Output v = Runbook("--version");
  EXPECT_EQ(v.code, 0) << v.text;
  EXPECT_TRUE(std::regex_search(v.text, std::regex("^runbook \\d+\\.\\d+\\.\\d+\n"))) << v.text;
  EXPECT_TRUE(std::regex_search(v.text, std::regex("commit ([0-9a-f]{12}(-dirty)?|unknown), ")))
      << v.text;
  for (const char* lib : {"yaml-cpp 0.", "libssh2 1.", "libcurl 7.", "SQLite 3.", "RE2 2", "libpq "})
    EXPECT_NE(v.text.find(lib), std::string::npos) << lib << "\n" << v.text;
}

TEST_F(CliE2eTest, AMistypedCommandOrFlagGetsTheClosestOne) {
  Output command = Runbook("rnu x.yaml");
  EXPECT_EQ(command.code, 2);
  EXPECT_NE(command.text.find("unknown command 'rnu'; did you mean `runbook run`?"),
            std::string::npos)
      << command.text;
  Output nested = Runbook("audit vrify");
  EXPECT_EQ(nested.code, 2);
  EXPECT_NE(nested.text.find("did you mean `runbook audit verify`?"), std::string::npos)
      << nested.text;
  Output far = Runbook("frobnicate");
  EXPECT_EQ(far.code, 2);
  EXPECT_EQ(far.text.find("did you mean"), std::string::npos) << far.text;
  Output flag = Runbook("runs --jsno");
  EXPECT_EQ(flag.code, 2);
  EXPECT_NE(flag.text.find("--jsno: did you mean --json?"), std::string::npos) << flag.text;
}

TEST_F(CliE2eTest, HelpCommandIsTheCommandsHelp) {
  Output help = Runbook("help run");
  EXPECT_EQ(help.code, 0) << help.text;
  EXPECT_EQ(help.text, Runbook("run --help").text);
  EXPECT_EQ(Runbook("help").text, Runbook("--help").text);
  EXPECT_EQ(Runbook("help rnu").code, 2);
}

TEST_F(CliE2eTest, ReportToStandardOutput) {
  dir_.Write("ok.yaml", "runbook: ok\nsteps:\n  - id: a\n    shell: \"true\"\n");
  Output run = Runbook("run ok.yaml --json");
  ASSERT_EQ(run.code, 0) << run.text;
  std::smatch id;
  ASSERT_TRUE(std::regex_search(run.text, id, std::regex("\"run_id\":\"([^\"]+)\""))) << run.text;
  Output report = Runbook("report " + id[1].str() + " --out -");
  EXPECT_EQ(report.code, 0) << report.text;
  EXPECT_EQ(report.text.rfind("<!DOCTYPE html>", 0), 0u) << report.text.substr(0, 200);
  EXPECT_FALSE(std::filesystem::exists(dir_.File("-")));
}

// libcurl and libpq (and GnuTLS, OpenLDAP, ... behind them) are loaded when a run needs HTTP or
// a PostgreSQL store, not before: a shell step's parent, the executor, has not mapped them.
TEST_F(CliE2eTest, ARunWithoutHttpOrPostgresLoadsNeitherLibrary) {
  dir_.Write("local.yaml",
             "runbook: local\nsteps:\n"
             "  - id: maps\n"
             "    shell: \"grep -cE 'libcurl|libpq|libgnutls' /proc/$PPID/maps || true\"\n");
  Output run = Runbook("run local.yaml");
  ASSERT_EQ(run.code, 0) << run.text;
  EXPECT_NE(run.text.find("maps | 0"), std::string::npos) << run.text;
}

}  // namespace
}  // namespace runbook::testing
