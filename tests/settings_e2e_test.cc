// The settings file through the binary (app/config.h, docs/team.md "The settings file"): its
// `defaults:` give a command the flags its command line leaves out, the command line wins, and
// a default for a command or flag that does not exist is refused before anything runs.
#include <gtest/gtest.h>

#include "tests/e2e_util.h"
#include "testing/temp_dir.h"

namespace runbook::testing {
namespace {

class SettingsE2eTest : public ::testing::Test {
 protected:
  Output Runbook(const std::string& args) {
    return RunRunbook(dir_.path(), dir_.File("audit.db"), "--config settings.yaml " + args);
  }
  TempDir dir_{"runbook-settings"};
};

TEST_F(SettingsE2eTest, DefaultsApplyAndTheCommandLineWins) {
  dir_.Write("ok.yaml", "runbook: ok\nsteps:\n  - id: a\n    shell: \"true\"\n");
  dir_.Write("settings.yaml",
             "defaults:\n  run: {json: true, as: from-settings}\n  audit verify: {json: true}\n");
  Output run = Runbook("run ok.yaml");
  ASSERT_EQ(run.code, 0) << run.text;
  EXPECT_NE(run.text.find("\"state\":\"succeeded\""), std::string::npos) << run.text;
  ASSERT_EQ(Runbook("run ok.yaml --as from-flag").code, 0);
  Output exported = Runbook("audit export");
  EXPECT_NE(exported.text.find("\"operator\":\"from-settings\""), std::string::npos)
      << exported.text;
  EXPECT_NE(exported.text.find("\"operator\":\"from-flag\""), std::string::npos);
  Output verify = Runbook("audit verify");
  EXPECT_EQ(verify.code, 0) << verify.text;
  EXPECT_NE(verify.text.find("\"ok\": true"), std::string::npos) << verify.text;
}

TEST_F(SettingsE2eTest, ADefaultForAnUnknownCommandOrFlagIsRefused) {
  dir_.Write("ok.yaml", "runbook: ok\nsteps:\n  - id: a\n    shell: \"touch ran\"\n");
  dir_.Write("settings.yaml", "defaults:\n  run:\n    jsn: true\n");
  Output typo = Runbook("run ok.yaml");
  EXPECT_EQ(typo.code, 2) << typo.text;
  EXPECT_NE(typo.text.find("settings.yaml:3: error: defaults: `runbook run` has no flag --jsn"),
            std::string::npos)
      << typo.text;
  dir_.Write("settings.yaml", "defaults:\n  rnu: {json: true}\n");
  Output command = Runbook("run ok.yaml");
  EXPECT_EQ(command.code, 2);
  EXPECT_NE(command.text.find("there is no command `runbook rnu`"), std::string::npos)
      << command.text;
  EXPECT_FALSE(std::filesystem::exists(dir_.File("ran")));
}

}  // namespace
}  // namespace runbook::testing
