#include "app/inputs.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "app/app_test_util.h"
#include "testing/temp_dir.h"

namespace runbook {
namespace {

TEST(ParseParamArgsTest, TakesNameEqualsValueAndRefusesTheRest) {
  auto ok = ParseParamArgs({"a=1", "b=x=y", "c="});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ((*ok)["a"], "1");
  EXPECT_EQ((*ok)["b"], "x=y");
  EXPECT_EQ((*ok)["c"], "");
  EXPECT_EQ(ParseParamArgs({"novalue"}).status().kind(), StatusKind::kInvalid);
  EXPECT_EQ(ParseParamArgs({"=v"}).status().kind(), StatusKind::kInvalid);
}

TEST(LoadRunbookTest, CountsErrorsAndBindsParams) {
  runbook::testing::TempDir dir("app-inputs");
  testing::WriteTextFile(dir / "bad.yaml", "runbook: x\nsteps:\n  - id: a\n    shel: true\n");
  LoadedRunbook bad = LoadRunbook(dir / "bad.yaml");
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.status.kind(), StatusKind::kInvalid);
  EXPECT_NE(bad.error_summary.find("; nothing was run"), std::string::npos);
  EXPECT_FALSE(bad.diagnostics.empty());

  testing::WriteTextFile(dir / "ok.yaml",
                         "runbook: x\nparams:\n  v: {required: true}\nsteps:\n"
                         "  - id: a\n    shell: \"true\"\n");
  LoadedRunbook missing = LoadRunbookWithParams(dir / "ok.yaml", {});
  EXPECT_FALSE(missing.ok());
  EXPECT_EQ(missing.status.kind(), StatusKind::kInvalid);
  EXPECT_TRUE(missing.error_summary.empty());
  LoadedRunbook bound = LoadRunbookWithParams(dir / "ok.yaml", {"v=1"});
  ASSERT_TRUE(bound.ok());
  EXPECT_EQ(bound.params.at("v"), "1");
}

TEST(AuditDbPathTest, FlagThenEnvironmentThenDefault) {
  testing::FakeEnvironment env;
  env.SetEnv("HOME", "/home/rel");
  EXPECT_EQ(AuditDbPath("", env), "/home/rel/.local/state/runbook/audit.db");
  env.SetEnv("XDG_STATE_HOME", "relative/ignored");
  EXPECT_EQ(AuditDbPath("", env), "/home/rel/.local/state/runbook/audit.db");
  env.SetEnv("XDG_STATE_HOME", "/var/state/rel");
  EXPECT_EQ(AuditDbPath("", env), "/var/state/rel/runbook/audit.db");
  env.SetEnv("RUNBOOK_AUDIT_DB", "/tmp/from-env.db");
  EXPECT_EQ(AuditDbPath("/tmp/flag.db", env), "/tmp/flag.db");
  EXPECT_EQ(AuditDbPath("", env), "/tmp/from-env.db");
}

TEST(OperatorNameTest, AsThenEnvironmentThenLogin) {
  testing::FakeEnvironment env;
  EXPECT_FALSE(OperatorName("", env).empty());
  env.SetEnv("RUNBOOK_OPERATOR", "olga");
  EXPECT_EQ(OperatorName("ivan", env), "ivan");
  EXPECT_EQ(OperatorName("", env), "olga");
}

}  // namespace
}  // namespace runbook
