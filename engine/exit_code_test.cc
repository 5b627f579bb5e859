#include "engine/exit_code.h"

#include <gtest/gtest.h>

namespace runbook {
namespace {

TEST(ExitCodeTest, TerminalStatesMapToSpecCodes) {
  EXPECT_EQ(ExitCodeFor(StateKind::kSucceeded), 0);
  EXPECT_EQ(ExitCodeFor(StateKind::kRolledBack), 1);
  EXPECT_EQ(ExitCodeFor(StateKind::kRollbackFailed), 3);
  EXPECT_EQ(ExitCodeFor(StateKind::kAborted), 5);
}

TEST(ExitCodeTest, StatusKindsMapToSpecCodes) {
  EXPECT_EQ(ExitCodeFor(Status::Ok()), 0);
  EXPECT_EQ(ExitCodeFor(Status::Invalid("x")), 2);
  EXPECT_EQ(ExitCodeFor(Status::NotFound("x")), 2);
  EXPECT_EQ(ExitCodeFor(Status::Refused("x")), 4);
  EXPECT_EQ(ExitCodeFor(Status::Corruption("x")), 6);
  EXPECT_EQ(ExitCodeFor(Status::IOError("x")), 2);
  EXPECT_EQ(ExitCodeFor(Status::Error("x")), 2);
}

TEST(ExitCodeTest, ABusyDatabaseIsNeverReportedAsTampered) {
  EXPECT_NE(ExitCodeFor(Status::Busy("database is locked")), kExitTampered);
  EXPECT_EQ(ExitCodeFor(Status::Busy("database is locked")), kExitRefused);
}

TEST(StatusTest, KindsAndContext) {
  Status s = Status::NotFound("unknown run 'x'").WithContext("replay");
  EXPECT_EQ(s.kind(), StatusKind::kNotFound);
  EXPECT_EQ(s.message(), "replay: unknown run 'x'");
  EXPECT_TRUE(Status::Ok().WithContext("x").ok());
  EXPECT_STREQ(StatusKindName(StatusKind::kIOError), "io_error");
  Result<int> r = Status::Busy("locked");
  EXPECT_TRUE(r.status().IsBusy());
}

}  // namespace
}  // namespace runbook
