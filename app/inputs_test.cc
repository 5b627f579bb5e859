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
  ::setenv("RUNBOOK_AUDIT_DB", "/tmp/from-env.db", 1);
  EXPECT_EQ(AuditDbPath("/tmp/flag.db"), "/tmp/flag.db");
  EXPECT_EQ(AuditDbPath(""), "/tmp/from-env.db");
  ::unsetenv("RUNBOOK_AUDIT_DB");
  EXPECT_EQ(AuditDbPath(""), ".runbook/audit.db");
}

TEST(OperatorNameTest, AsThenEnvironment) {
  ::setenv("RUNBOOK_OPERATOR", "olga", 1);
  EXPECT_EQ(OperatorName("ivan"), "ivan");
  EXPECT_EQ(OperatorName(""), "olga");
  ::unsetenv("RUNBOOK_OPERATOR");
  EXPECT_FALSE(OperatorName("").empty());
}

}  // namespace
}  // namespace runbook
