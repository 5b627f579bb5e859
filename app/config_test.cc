#include "app/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "app/inputs.h"
#include "testing/fake_environment.h"
#include "testing/temp_dir.h"

namespace runbook {
namespace {

using ::testing::HasSubstr;

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_.SetEnv("HOME", dir_.path() + "/home");
    env_.SetEnv("XDG_CONFIG_HOME", dir_.path() + "/xdg");
  }
  runbook::testing::TempDir dir_;
  std::string system_ = dir_.path() + "/etc/config.yaml";
  runbook::testing::FakeEnvironment env_;
};

TEST_F(ConfigTest, NoFileIsNoSettings) {
  auto config = LoadConfig(env_, system_);
  ASSERT_TRUE(config.ok()) << config.message();
  EXPECT_EQ(config->path, "");
  EXPECT_EQ(config->audit_db, "");
}

TEST_F(ConfigTest, TheUsersFileWinsOverTheSystemsAndPathsAreResolved) {
  dir_.Write("etc/config.yaml", "audit_db: postgresql://deploy@db:5432/runbook\noperator: ops\n");
  auto system = LoadConfig(env_, system_);
  ASSERT_TRUE(system.ok()) << system.message();
  EXPECT_EQ(system->path, system_);
  EXPECT_EQ(system->audit_db, "postgresql://deploy@db:5432/runbook");
  EXPECT_EQ(system->operator_name, "ops");

  dir_.Write("xdg/runbook/config.yaml", "audit_db: logs/audit.db\noperator: alice\n");
  auto user = LoadConfig(env_, system_);
  ASSERT_TRUE(user.ok()) << user.message();
  EXPECT_EQ(user->audit_db, dir_.path() + "/xdg/runbook/logs/audit.db");
  EXPECT_EQ(user->operator_name, "alice");

  dir_.Write("xdg/runbook/config.yaml", "audit_db: ~/state/a.db\n");
  EXPECT_EQ(LoadConfig(env_, system_)->audit_db, dir_.path() + "/home/state/a.db");

  env_.SetEnv("XDG_CONFIG_HOME", "relative/ignored");  // the XDG spec: absolute only
  dir_.Write("home/.config/runbook/config.yaml", "operator: bob\n");
  EXPECT_EQ(LoadConfig(env_, system_)->operator_name, "bob");
}

TEST_F(ConfigTest, FlagsBeatTheEnvironmentWhichBeatsTheFile) {
  dir_.Write("xdg/runbook/config.yaml", "audit_db: /srv/from-file.db\noperator: from-file\n");
  EXPECT_EQ(AuditDbPath("", env_), "/srv/from-file.db");
  EXPECT_EQ(OperatorName("", env_), "from-file");
  env_.SetEnv("RUNBOOK_AUDIT_DB", "/srv/from-env.db");
  env_.SetEnv("RUNBOOK_OPERATOR", "from-env");
  EXPECT_EQ(AuditDbPath("", env_), "/srv/from-env.db");
  EXPECT_EQ(OperatorName("", env_), "from-env");
  EXPECT_EQ(AuditDbPath("/srv/from-flag.db", env_), "/srv/from-flag.db");
  EXPECT_EQ(OperatorName("from-flag", env_), "from-flag");
}

TEST_F(ConfigTest, BadFilesAreLocatedErrors) {
  dir_.Write("xdg/runbook/config.yaml", "audit_db: /a.db\nopertor: alice\n");
  auto unknown = LoadConfig(env_, system_);
  ASSERT_FALSE(unknown.ok());
  EXPECT_THAT(unknown.message(), HasSubstr(dir_.path() + "/xdg/runbook/config.yaml:2:1: error: "
                                           "unknown setting 'opertor'"));

  dir_.Write("xdg/runbook/config.yaml", "audit_db: [a, b]\n");
  EXPECT_THAT(LoadConfig(env_, system_).message(), HasSubstr("audit_db: expected text"));
  dir_.Write("xdg/runbook/config.yaml", "audit_db: {\n");
  EXPECT_THAT(LoadConfig(env_, system_).message(), HasSubstr("invalid YAML"));
  dir_.Write("xdg/runbook/config.yaml", "- a\n");
  EXPECT_THAT(LoadConfig(env_, system_).message(), HasSubstr("expected a mapping"));

  dir_.Write("xdg/runbook/config.yaml", "audit_db: postgresql://deploy:s3cret@db/runbook\n");
  auto password = LoadConfig(env_, system_);
  ASSERT_FALSE(password.ok());
  EXPECT_THAT(password.message(), HasSubstr("~/.pgpass"));
  EXPECT_THAT(password.message(), ::testing::Not(HasSubstr("s3cret")));

  // Every command that opens the log says so before doing anything.
  auto db = OpenAuditDatabase(dir_.path() + "/a.db", env_);
  ASSERT_FALSE(db.ok());
  EXPECT_THAT(db.message(), HasSubstr("~/.pgpass"));
}

TEST_F(ConfigTest, DefaultsAreReadByCommandWithTheirLines) {
  dir_.Write("xdg/runbook/config.yaml",
             "operator: alice\n"
             "defaults:\n"
             "  run:\n"
             "    json: true\n"
             "    --confirm: [backups checked, on call told]\n"
             "  audit verify: {json: false}\n");
  auto config = LoadConfig(env_, system_);
  ASSERT_TRUE(config.ok()) << config.message();
  ASSERT_EQ(config->defaults.size(), 2u);
  const std::vector<FlagDefault>& run = config->defaults.at("run");
  ASSERT_EQ(run.size(), 2u);
  EXPECT_EQ(run[0].name, "json");
  EXPECT_EQ(run[0].values, std::vector<std::string>{"true"});
  EXPECT_EQ(run[0].line, 4);
  EXPECT_EQ(run[1].name, "confirm");  // dashes are optional
  EXPECT_EQ(run[1].values, (std::vector<std::string>{"backups checked", "on call told"}));
  EXPECT_EQ(config->defaults.at("audit verify")[0].values, std::vector<std::string>{"false"});
}

TEST_F(ConfigTest, MalformedDefaultsAreRefusedWithTheirPlace) {
  const std::string file = dir_.path() + "/xdg/runbook/config.yaml";
  dir_.Write("xdg/runbook/config.yaml", "defaults: [run]\n");
  EXPECT_THAT(LoadConfig(env_, system_).message(),
              HasSubstr(file + ":1:11: error: defaults: expected a mapping of commands"));
  dir_.Write("xdg/runbook/config.yaml", "defaults:\n  run: true\n");
  EXPECT_THAT(LoadConfig(env_, system_).message(),
              HasSubstr(file + ":2:8: error: defaults.run: expected a mapping of flags"));
  dir_.Write("xdg/runbook/config.yaml", "defaults:\n  run: {json: {a: 1}}\n");
  EXPECT_THAT(LoadConfig(env_, system_).message(),
              HasSubstr("defaults.run.json: expected a value or a list of values"));
}

TEST_F(ConfigTest, RunbookConfigNamesTheFileAndMustExist) {
  dir_.Write("xdg/runbook/config.yaml", "operator: usual\n");
  dir_.Write("chosen.yaml", "operator: chosen\n");
  env_.SetEnv("RUNBOOK_CONFIG", dir_.path() + "/chosen.yaml");
  EXPECT_EQ(LoadConfig(env_, system_)->operator_name, "chosen");
  env_.SetEnv("RUNBOOK_CONFIG", dir_.path() + "/missing.yaml");
  EXPECT_THAT(LoadConfig(env_, system_).message(), HasSubstr("no such settings file"));
}

TEST_F(ConfigTest, NotifyWebhooks) {
  dir_.Write("xdg/runbook/config.yaml",
             "notify:\n"
             "  - url: \"{{ env.SLACK_WEBHOOK }}\"\n"
             "    on: [rollback_failed, approval_requested]\n"
             "    timeout: 2s\n"
             "  - {url: https://hooks.example/x, ca_file: ca.pem, insecure: false}\n");
  auto config = LoadConfig(env_, system_);
  ASSERT_TRUE(config.ok()) << config.message();
  ASSERT_EQ(config->notify.targets.size(), 2u);
  const NotifyTarget& a = config->notify.targets[0];
  EXPECT_EQ(a.webhook, "{{ env.SLACK_WEBHOOK }}");
  EXPECT_EQ(a.events, (std::vector<NotifyEvent>{NotifyEvent::kRollbackFailed,
                                                NotifyEvent::kApprovalRequested}));
  EXPECT_EQ(a.timeout, Duration{2000});
  EXPECT_EQ(config->notify.targets[1].ca_file, dir_.path() + "/xdg/runbook/ca.pem");
  EXPECT_TRUE(config->notify.targets[1].events.empty());

  const std::string file = dir_.path() + "/xdg/runbook/config.yaml";
  for (auto [text, error] : std::vector<std::pair<std::string, std::string>>{
           {"notify: {url: x}\n", ":1:9: error: notify: expected a list of webhooks"},
           {"notify:\n  - {on: [run_started]}\n", ":2:5: error: notify: missing 'url'"},
           {"notify:\n  - {url: \"http://h\", on: [boom]}\n",
            ":2:28: error: notify: unknown event 'boom'"},
           {"notify:\n  - {url: \"{{ secrets.x }}\"}\n",
            "error: notify: url: only {{ env.NAME }} can be used in the settings file"},
           {"notify:\n  - {url: \"http://h\", timeout: soon}\n",
            "error: notify: timeout: 'soon' is not a duration"},
           {"notify:\n  - {url: \"http://h\", retries: 3}\n",
            ":2:23: error: notify: unknown key 'retries'"},
       }) {
    dir_.Write("xdg/runbook/config.yaml", text);
    auto bad = LoadConfig(env_, system_);
    ASSERT_FALSE(bad.ok()) << text;
    EXPECT_THAT(bad.message(), HasSubstr(error)) << bad.message();
    EXPECT_EQ(bad.message().rfind(file, 0), 0u) << bad.message();
  }
}

}  // namespace
}  // namespace runbook
