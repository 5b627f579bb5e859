// The settings file's `log:` (app/config.h, docs/logging.md).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "app/config.h"
#include "testing/fake_environment.h"
#include "testing/temp_dir.h"

namespace runbook {
namespace {

using ::testing::HasSubstr;

class LogConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_.SetEnv("HOME", dir_.path() + "/home");
    env_.SetEnv("RUNBOOK_CONFIG", dir_.path() + "/etc/config.yaml");
  }
  Result<Config> Load(const std::string& text) {
    dir_.Write("etc/config.yaml", text);
    return LoadConfig(env_, dir_.path() + "/none.yaml");
  }
  runbook::testing::TempDir dir_;
  runbook::testing::FakeEnvironment env_;
};

TEST_F(LogConfigTest, LogSettingsAreReadAndTheFileResolved) {
  auto config = Load("log:\n  file: logs/runbook.log\n  format: json\n  level: debug\n");
  ASSERT_TRUE(config.ok()) << config.message();
  EXPECT_EQ(config->log.file, dir_.path() + "/etc/logs/runbook.log");
  EXPECT_EQ(config->log.format, "json");
  EXPECT_EQ(config->log.level, "debug");
  config = Load("log: {file: ~/r.log}\n");
  ASSERT_TRUE(config.ok()) << config.message();
  EXPECT_EQ(config->log.file, dir_.path() + "/home/r.log");
  EXPECT_EQ(config->log.format, "");
}

TEST_F(LogConfigTest, BadLogSettingsAreRefusedWithTheirLine) {
  auto bad = Load("operator: a\nlog:\n  format: xml\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.message(), HasSubstr("config.yaml:3:11: error: log.format: 'xml' is not text "
                                       "or json"));
  bad = Load("log:\n  level: loud\n");
  EXPECT_THAT(bad.message(), HasSubstr("log.level: 'loud' is not debug, info, warn or error"));
  bad = Load("log:\n  path: x\n");
  EXPECT_THAT(bad.message(), HasSubstr("log: unknown key 'path' (known: file, format, level)"));
  bad = Load("log: json\n");
  EXPECT_THAT(bad.message(), HasSubstr("log: expected a mapping"));
}

}  // namespace
}  // namespace runbook
