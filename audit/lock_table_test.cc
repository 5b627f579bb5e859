#include "audit/lock_table.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audit/audit_test_util.h"

namespace runbook {
namespace {

using audit_test::DatabaseHolder;
using audit_test::DeadPid;
using audit_test::MakeRun;
using audit_test::OpenOrDie;
using audit_test::ShortBusyTimeout;
using audit_test::Sql;
using audit_test::SqlValue;
using audit_test::TempDir;

// The pid of a child that has exited and been reaped.
TEST(LockTableTest, AcquireRefuseReleaseAndReacquire) {
  TempDir dir;
  const std::string path = dir.File("audit.db");
  std::unique_ptr<AuditDatabase> db = OpenOrDie(path);
  ASSERT_TRUE(db);
  const std::string host = LocalHostName();
  Result<LockAttempt> a = db->locks().TryLock("prod/web", "run-a", getpid(), host);
  ASSERT_TRUE(a.ok()) << a.message();
  EXPECT_TRUE(a->acquired);
  EXPECT_FALSE(a->took_over);

  Result<LockAttempt> b = db->locks().TryLock("prod/web", "run-b", getpid(), host);
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(b->acquired);
  EXPECT_EQ(b->holder.run_id, "run-a");
  EXPECT_EQ(b->holder.pid, getpid());
  EXPECT_EQ(b->holder.host, host);
  EXPECT_TRUE(b->holder.same_host);
  EXPECT_TRUE(b->holder.alive);
  EXPECT_EQ(b->holder.acquired_at.size(), 24u);

  // Another key is independent.
  EXPECT_TRUE(db->locks().TryLock("prod/api", "run-b", getpid(), host)->acquired);

  Status wrong = db->locks().Unlock("prod/web", "run-b");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.kind(), StatusKind::kRefused);
  EXPECT_NE(wrong.message().find("held by run run-a"), std::string::npos) << wrong.message();
  ASSERT_TRUE(db->locks().Unlock("prod/web", "run-a").ok());
  ASSERT_TRUE(db->locks().Unlock("prod/web", "run-a").ok());  // releasing twice is harmless
  EXPECT_TRUE(db->locks().TryLock("prod/web", "run-b", getpid(), host)->acquired);

  EXPECT_EQ(SqlValue(path,
                     "SELECT group_concat(lock_key || '=' || run_id, ' ') FROM "
                     "(SELECT * FROM locks ORDER BY lock_key)"),
            "prod/api=run-b prod/web=run-b");
}

TEST(LockTableTest, ALockIsSeenByEveryConnection) {
  TempDir dir;
  const std::string path = dir.File("audit.db");
  std::unique_ptr<AuditDatabase> one = OpenOrDie(path);
  std::unique_ptr<AuditDatabase> two = OpenOrDie(path);
  ASSERT_TRUE(one->locks().TryLock("k", "run-a", getpid(), LocalHostName())->acquired);
  EXPECT_FALSE(two->locks().TryLock("k", "run-b", getpid(), LocalHostName())->acquired);
}

TEST(LockTableTest, ADeadHolderWithAnUnfinishedRunIsReportedNotStolen) {
  TempDir dir;
  const std::string path = dir.File("audit.db");
  std::unique_ptr<AuditDatabase> db = OpenOrDie(path);
  ASSERT_TRUE(db);
  const int dead = DeadPid();
  ASSERT_TRUE(db->events().BeginRun(MakeRun("crashed")).ok());
  ASSERT_TRUE(db->locks().TryLock("k", "crashed", dead, LocalHostName())->acquired);
  Result<LockAttempt> next = db->locks().TryLock("k", "next", getpid(), LocalHostName());
  ASSERT_TRUE(next.ok());
  EXPECT_FALSE(next->acquired);
  EXPECT_EQ(next->holder.run_id, "crashed");
  EXPECT_EQ(next->holder.pid, dead);
  EXPECT_FALSE(next->holder.alive);
  // recover continues the run under the same lock, then frees it.
  Result<LockAttempt> recover = db->locks().TryLock("k", "crashed", getpid(), LocalHostName());
  ASSERT_TRUE(recover->acquired);
  EXPECT_EQ(SqlValue(path, "SELECT pid FROM locks WHERE lock_key = 'k'"), std::to_string(getpid()));
  ASSERT_TRUE(db->locks().Unlock("k", "crashed").ok());
  EXPECT_EQ(SqlValue(path, "SELECT count(*) FROM locks"), "0");
  EXPECT_TRUE(db->locks().TryLock("k", "next", getpid(), LocalHostName())->acquired);
}

TEST(LockTableTest, OnlyOneRecoverClaimsAnUnfinishedRun) {
  TempDir dir;
  const std::string path = dir.File("audit.db");
  std::unique_ptr<AuditDatabase> db = OpenOrDie(path);
  ASSERT_TRUE(db);
  const std::string host = LocalHostName();
  ASSERT_TRUE(db->events().BeginRun(MakeRun("crashed")).ok());
  ASSERT_TRUE(db->locks().TryLock("k", "crashed", DeadPid(), host)->acquired);

  // A live process stands in for a first recover that has claimed the run.
  const pid_t first = fork();
  if (first == 0) {
    pause();
    _exit(0);
  }
  Result<RecoveryClaim> a = db->locks().ClaimForRecovery("k", "crashed", first, host);
  ASSERT_TRUE(a.ok()) << a.message();
  EXPECT_EQ(a->outcome, RecoveryClaim::Outcome::kClaimed);
  Result<RecoveryClaim> b = db->locks().ClaimForRecovery("k", "crashed", getpid(), host);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->outcome, RecoveryClaim::Outcome::kBeingRecovered);
  EXPECT_EQ(b->holder.pid, first);

  // The first recover dies without finishing: the run can be claimed again.
  kill(first, SIGKILL);
  waitpid(first, nullptr, 0);
  Result<RecoveryClaim> c = db->locks().ClaimForRecovery("k", "crashed", getpid(), host);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->outcome, RecoveryClaim::Outcome::kClaimed);

  // Once the run has ended (and its lock is free), nobody claims it again.
  ASSERT_TRUE(db->events().EndRun("crashed", "rolled_back", 1, std::chrono::system_clock::now()).ok());
  ASSERT_TRUE(db->locks().Unlock("k", "crashed").ok());
  Result<RecoveryClaim> d = db->locks().ClaimForRecovery("k", "crashed", getpid(), host);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->outcome, RecoveryClaim::Outcome::kFinished);
  EXPECT_EQ(SqlValue(path, "SELECT count(*) FROM locks"), "0");

  // A lock another run holds is not taken.
  ASSERT_TRUE(db->events().BeginRun(MakeRun("other")).ok());
  ASSERT_TRUE(db->events().BeginRun(MakeRun("again")).ok());
  ASSERT_TRUE(db->locks().TryLock("k", "other", getpid(), host)->acquired);
  Result<RecoveryClaim> e = db->locks().ClaimForRecovery("k", "again", getpid(), host);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->outcome, RecoveryClaim::Outcome::kHeldByOtherRun);
  EXPECT_EQ(db->locks().ClaimForRecovery("k", "ghost", getpid(), host).status().kind(),
            StatusKind::kNotFound);
}

TEST(LockTableTest, ADeadHolderWithNothingToRecoverIsTakenOver) {
  TempDir dir;
  std::unique_ptr<AuditDatabase> db = OpenOrDie(dir.File("audit.db"));
  ASSERT_TRUE(db);
  const int dead = DeadPid();
  // Its run ended, but the process died before it released the lock.
  ASSERT_TRUE(db->events().BeginRun(MakeRun("ended")).ok());
  ASSERT_TRUE(db->events().EndRun("ended", "succeeded", 0, std::chrono::system_clock::now()).ok());
  ASSERT_TRUE(db->locks().TryLock("k1", "ended", dead, LocalHostName())->acquired);
  Result<LockAttempt> a = db->locks().TryLock("k1", "next", getpid(), LocalHostName());
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->acquired);
  EXPECT_TRUE(a->took_over);
  EXPECT_EQ(a->holder.run_id, "ended");
  // It died before its run row was written: nothing ran.
  ASSERT_TRUE(db->locks().TryLock("k2", "never-began", dead, LocalHostName())->acquired);
  EXPECT_TRUE(db->locks().TryLock("k2", "next", getpid(), LocalHostName())->acquired);
}

TEST(LockTableTest, AZombieOrAReusedPidIsNotAlive) {
  pid_t zombie = fork();
  if (zombie == 0) _exit(0);
  // Wait until the child has exited but leave it unreaped.
  siginfo_t info{};
  ASSERT_EQ(waitid(P_PID, static_cast<id_t>(zombie), &info, WEXITED | WNOWAIT), 0);
  EXPECT_FALSE(ProcessAlive(zombie, ""));
  waitpid(zombie, nullptr, 0);
  EXPECT_FALSE(ProcessAlive(zombie, ""));

  EXPECT_TRUE(ProcessAlive(getpid(), ""));
  EXPECT_TRUE(ProcessAlive(getpid(), ProcessStartTime(getpid())));
  EXPECT_FALSE(ProcessAlive(getpid(), "1"));  // our pid, but not the process that locked
  EXPECT_TRUE(ProcessAlive(1, ""));           // init: exists even if we may not signal it
  EXPECT_FALSE(ProcessAlive(0, ""));
  EXPECT_FALSE(ProcessStartTime(getpid()).empty());

  TempDir dir;
  const std::string path = dir.File("audit.db");
  std::unique_ptr<AuditDatabase> db = OpenOrDie(path);
  ASSERT_TRUE(db->events().BeginRun(MakeRun("old")).ok());
  ASSERT_TRUE(db->locks().TryLock("k", "old", getpid(), LocalHostName())->acquired);
  Sql(path, "UPDATE locks SET pid_start = '1'");
  Result<LockAttempt> next = db->locks().TryLock("k", "next", getpid(), LocalHostName());
  EXPECT_FALSE(next->acquired);
  EXPECT_FALSE(next->holder.alive);
}

TEST(LockTableTest, AHolderOnAnotherHostCountsAsAlive) {
  TempDir dir;
  std::unique_ptr<AuditDatabase> db = OpenOrDie(dir.File("audit.db"));
  ASSERT_TRUE(db->locks().TryLock("k", "remote", DeadPid(), "some-other-host.invalid")->acquired);
  Result<LockAttempt> next = db->locks().TryLock("k", "next", getpid(), LocalHostName());
  EXPECT_FALSE(next->acquired);
  EXPECT_FALSE(next->holder.same_host);
  EXPECT_TRUE(next->holder.alive);
}

TEST(LockTableTest, ALockedDatabaseIsBusyNotAHeldLock) {
  TempDir dir;
  const std::string path = dir.File("audit.db");
  std::unique_ptr<AuditDatabase> db = OpenOrDie(path, ShortBusyTimeout());
  ASSERT_TRUE(db);
  ASSERT_TRUE(db->locks().TryLock("k", "run-a", getpid(), LocalHostName())->acquired);
  {
    DatabaseHolder holder(path);
    Result<LockAttempt> attempt = db->locks().TryLock("other", "run-b", getpid(), LocalHostName());
    EXPECT_TRUE(attempt.status().IsBusy()) << attempt.message();
    EXPECT_TRUE(db->locks().Unlock("k", "run-a").IsBusy());
  }
  ASSERT_TRUE(db->locks().Unlock("k", "run-a").ok());
  EXPECT_EQ(SqlValue(path, "SELECT count(*) FROM locks"), "0");
}

}  // namespace
}  // namespace runbook
