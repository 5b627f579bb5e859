#include "audit/pg_lock_table.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "audit/pg_test_util.h"

namespace runbook {
namespace {

using audit_test::At;
using audit_test::DeadPid;
using audit_test::MakeRun;
using audit_test::OpenPgOrDie;
using audit_test::PgTest;

// The pid of a child that has exited and been reaped.
constexpr const char* kRemote = "build-7.other-site.invalid";

class PgLockTableTest : public PgTest {
 protected:
  // Makes the lock's heartbeat `seconds` old, as if its holder had stopped beating then.
  void AgeHeartbeat(const std::string& key, int seconds) {
    Sql("UPDATE locks SET heartbeat_at = clock_timestamp() - interval '" + std::to_string(seconds) +
        " seconds' WHERE lock_key = '" + key + "'");
  }
};

TEST_F(PgLockTableTest, AcquireRefuseReleaseAndReacquire) {
  const std::string host = LocalHostName();
  Result<LockAttempt> a = db_->locks().TryLock("prod/web", "run-a", getpid(), host);
  ASSERT_TRUE(a.ok()) << a.message();
  EXPECT_TRUE(a->acquired);
  EXPECT_FALSE(a->took_over);

  Result<LockAttempt> b = db_->locks().TryLock("prod/web", "run-b", getpid(), host);
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(b->acquired);
  EXPECT_EQ(b->holder.run_id, "run-a");
  EXPECT_EQ(b->holder.pid, getpid());
  EXPECT_EQ(b->holder.host, host);
  EXPECT_TRUE(b->holder.same_host);
  EXPECT_TRUE(b->holder.alive);
  EXPECT_EQ(b->holder.acquired_at.size(), 24u);
  EXPECT_TRUE(db_->locks().TryLock("prod/api", "run-b", getpid(), host)->acquired);

  bool journaled = true;
  Status wrong = db_->locks().Unlock("prod/web", "run-b", &journaled);
  EXPECT_EQ(wrong.kind(), StatusKind::kRefused);
  EXPECT_NE(wrong.message().find("held by run run-a"), std::string::npos) << wrong.message();
  EXPECT_FALSE(journaled);
  ASSERT_TRUE(db_->locks().Unlock("prod/web", "run-a").ok());
  ASSERT_TRUE(db_->locks().Unlock("prod/web", "run-a").ok());  // releasing twice is harmless
  EXPECT_TRUE(db_->locks().TryLock("prod/web", "run-b", getpid(), host)->acquired);
  EXPECT_EQ(SqlValue("SELECT string_agg(lock_key || '=' || run_id, ' ' ORDER BY lock_key) "
                     "FROM locks"),
            "prod/api=run-b prod/web=run-b");
}

// A lock held on another machine: refused while its heartbeat is fresh, dead once it is
// older than the expiry; then only `recover` may take it, and one recover at a time.
TEST_F(PgLockTableTest, ARemoteHolderIsAliveWhileItsHeartbeatIsFresh) {
  ASSERT_TRUE(db_->events().BeginRun(MakeRun("remote-run")).ok());
  ASSERT_TRUE(db_->locks().TryLock("k", "remote-run", 4242, kRemote)->acquired);
  Result<LockAttempt> next = db_->locks().TryLock("k", "next", getpid(), LocalHostName());
  ASSERT_TRUE(next.ok()) << next.message();
  EXPECT_FALSE(next->acquired);
  EXPECT_FALSE(next->holder.same_host);
  EXPECT_TRUE(next->holder.alive);
  Result<RecoveryClaim> early =
      db_->locks().ClaimForRecovery("k", "remote-run", getpid(), LocalHostName());
  ASSERT_TRUE(early.ok()) << early.message();
  EXPECT_EQ(early->outcome, RecoveryClaim::Outcome::kBeingRecovered);

  // It keeps beating: still alive long after it took the lock.
  AgeHeartbeat("k", 3600);
  ASSERT_TRUE(db_->locks().Heartbeat("k", "remote-run", 4242, kRemote).ok());
  EXPECT_TRUE(db_->locks().TryLock("k", "next", getpid(), LocalHostName())->holder.alive);

  // It stops: past the expiry it is dead, but its unfinished run keeps the lock for recover.
  AgeHeartbeat("k", 31);
  next = db_->locks().TryLock("k", "next", getpid(), LocalHostName());
  EXPECT_FALSE(next->acquired);
  EXPECT_FALSE(next->holder.alive);
  Result<RecoveryClaim> claim =
      db_->locks().ClaimForRecovery("k", "remote-run", getpid(), LocalHostName());
  ASSERT_TRUE(claim.ok()) << claim.message();
  EXPECT_EQ(claim->outcome, RecoveryClaim::Outcome::kClaimed);
  EXPECT_EQ(SqlValue("SELECT pid || '@' || host FROM locks"),
            std::to_string(getpid()) + "@" + LocalHostName());

  // The executor comes back from a network partition: its lock is gone, and it hears so.
  Status late = db_->locks().Heartbeat("k", "remote-run", 4242, kRemote);
  EXPECT_EQ(late.kind(), StatusKind::kRefused);
  EXPECT_NE(
      late.message().find("no longer held by run remote-run (pid 4242 on " + std::string(kRemote) +
                          "): run remote-run holds it, as pid " + std::to_string(getpid())),
      std::string::npos)
      << late.message();
  // A recover on a third machine leaves it to the live recover here.
  Result<RecoveryClaim> third = db_->locks().ClaimForRecovery("k", "remote-run", 99, "c.invalid");
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->outcome, RecoveryClaim::Outcome::kBeingRecovered);
  EXPECT_EQ(third->holder.pid, getpid());
}

TEST_F(PgLockTableTest, OnThisHostTheProcessDecidesNotTheHeartbeat) {
  const std::string host = LocalHostName();
  ASSERT_TRUE(db_->events().BeginRun(MakeRun("crashed")).ok());
  ASSERT_TRUE(db_->events().BeginRun(MakeRun("slow")).ok());
  // A dead executor here is dead at once, though its heartbeat is fresh.
  ASSERT_TRUE(db_->locks().TryLock("k1", "crashed", DeadPid(), host)->acquired);
  Result<LockAttempt> a = db_->locks().TryLock("k1", "next", getpid(), host);
  EXPECT_FALSE(a->acquired);
  EXPECT_TRUE(a->holder.same_host);
  EXPECT_FALSE(a->holder.alive);
  EXPECT_EQ(db_->locks().ClaimForRecovery("k1", "crashed", getpid(), host)->outcome,
            RecoveryClaim::Outcome::kClaimed);
  // A live one is alive, though it has not beaten for an hour.
  ASSERT_TRUE(db_->locks().TryLock("k2", "slow", getpid(), host)->acquired);
  AgeHeartbeat("k2", 3600);
  Result<LockAttempt> b = db_->locks().TryLock("k2", "next", getpid(), host);
  EXPECT_FALSE(b->acquired);
  EXPECT_TRUE(b->holder.alive);
  // Same host name, but another boot (or pid namespace): the pid says nothing there, so the
  // heartbeat decides.
  Sql("UPDATE locks SET pid_scope = 'another-boot/pid:[1]', pid = " + std::to_string(DeadPid()) +
      " WHERE lock_key = 'k2'");
  Sql("UPDATE locks SET heartbeat_at = clock_timestamp() WHERE lock_key = 'k2'");
  b = db_->locks().TryLock("k2", "next", getpid(), host);
  EXPECT_FALSE(b->holder.same_host);
  EXPECT_TRUE(b->holder.alive);
  AgeHeartbeat("k2", 60);
  EXPECT_FALSE(db_->locks().TryLock("k2", "next", getpid(), host)->holder.alive);
}

TEST_F(PgLockTableTest, ADeadHolderWithNothingToRecoverIsTakenOver) {
  ASSERT_TRUE(db_->events().BeginRun(MakeRun("ended")).ok());
  ASSERT_TRUE(db_->events().EndRun("ended", "succeeded", 0, At(5)).ok());
  ASSERT_TRUE(db_->locks().TryLock("k1", "ended", 1234, kRemote)->acquired);
  AgeHeartbeat("k1", 600);
  Result<LockAttempt> a = db_->locks().TryLock("k1", "next", getpid(), LocalHostName());
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->acquired);
  EXPECT_TRUE(a->took_over);
  EXPECT_EQ(a->holder.run_id, "ended");
  // It died before its run row was written: nothing ran.
  ASSERT_TRUE(db_->locks().TryLock("k2", "never-began", DeadPid(), LocalHostName())->acquired);
  EXPECT_TRUE(db_->locks().TryLock("k2", "next", getpid(), LocalHostName())->acquired);
  // Claims: a finished run is not claimed, an unknown one is an error, another run's lock
  // is not taken.
  EXPECT_EQ(db_->locks().ClaimForRecovery("k1", "ended", getpid(), LocalHostName())->outcome,
            RecoveryClaim::Outcome::kFinished);
  EXPECT_EQ(db_->locks().ClaimForRecovery("k1", "ghost", getpid(), LocalHostName()).status().kind(),
            StatusKind::kNotFound);
  ASSERT_TRUE(db_->events().BeginRun(MakeRun("again")).ok());
  EXPECT_EQ(db_->locks().ClaimForRecovery("k1", "again", getpid(), LocalHostName())->outcome,
            RecoveryClaim::Outcome::kHeldByOtherRun);
}

TEST_F(PgLockTableTest, HeartbeatIsRefusedToAnyoneButTheHolder) {
  ASSERT_TRUE(db_->locks().TryLock("k", "run-a", 10, kRemote)->acquired);
  EXPECT_TRUE(db_->locks().Heartbeat("k", "run-a", 10, kRemote).ok());
  EXPECT_EQ(db_->locks().Heartbeat("k", "run-a", 11, kRemote).kind(), StatusKind::kRefused);
  EXPECT_EQ(db_->locks().Heartbeat("k", "run-b", 10, kRemote).kind(), StatusKind::kRefused);
  ASSERT_TRUE(db_->locks().Unlock("k", "run-a").ok());
  Status free = db_->locks().Heartbeat("k", "run-a", 10, kRemote);
  EXPECT_EQ(free.kind(), StatusKind::kRefused);
  EXPECT_NE(free.message().find("it is free"), std::string::npos) << free.message();
}

// Recovers on several machines (each a session of its own here) find the same dead remote
// executor at the same moment: exactly one claims the run.
TEST_F(PgLockTableTest, OfConcurrentRecoversExactlyOneClaimsTheRun) {
  constexpr int kRecovers = 6;
  for (int round = 0; round < 3; ++round) {
    const std::string run = "crashed-" + std::to_string(round);
    const std::string key = "prod/" + run;
    ASSERT_TRUE(db_->events().BeginRun(MakeRun(run)).ok());
    ASSERT_TRUE(db_->locks().TryLock(key, run, 4242, kRemote)->acquired);
    AgeHeartbeat(key, 120);
    std::vector<std::unique_ptr<PgAuditDatabase>> machines;
    for (int i = 0; i < kRecovers; ++i) {
      machines.push_back(OpenPgOrDie(url_));
      ASSERT_TRUE(machines.back());
    }
    std::atomic<int> claimed{0}, left{0}, failed{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> recovers;
    for (int i = 0; i < kRecovers; ++i) {
      recovers.emplace_back([&, i] {
        while (!go) std::this_thread::yield();
        Result<RecoveryClaim> c = machines[i]->locks().ClaimForRecovery(
            key, run, 100 + i, "recover-" + std::to_string(i) + ".invalid");
        if (!c.ok()) {
          ADD_FAILURE() << c.message();
          ++failed;
        } else if (c->outcome == RecoveryClaim::Outcome::kClaimed) {
          ++claimed;
        } else if (c->outcome == RecoveryClaim::Outcome::kBeingRecovered) {
          ++left;
        }
      });
    }
    go = true;
    for (std::thread& t : recovers) t.join();
    EXPECT_EQ(claimed.load(), 1);
    EXPECT_EQ(left.load(), kRecovers - 1);
    EXPECT_EQ(failed.load(), 0);
    EXPECT_EQ(
        SqlValue("SELECT host FROM locks WHERE lock_key = '" + key + "'").rfind("recover-", 0), 0u);
  }
}

// Runs on several machines start on one lock at the same moment: exactly one gets it.
TEST_F(PgLockTableTest, OfConcurrentRunsExactlyOneTakesTheLock) {
  constexpr int kRuns = 6;
  std::vector<std::unique_ptr<PgAuditDatabase>> machines;
  for (int i = 0; i < kRuns; ++i) {
    machines.push_back(OpenPgOrDie(url_));
    ASSERT_TRUE(machines.back());
  }
  std::atomic<int> acquired{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> runs;
  for (int i = 0; i < kRuns; ++i) {
    runs.emplace_back([&, i] {
      while (!go) std::this_thread::yield();
      Result<LockAttempt> a = machines[i]->locks().TryLock(
          "prod/web", "run-" + std::to_string(i), 100 + i, "m" + std::to_string(i) + ".invalid");
      if (!a.ok()) ADD_FAILURE() << a.message();
      if (a.ok() && a->acquired) ++acquired;
    });
  }
  go = true;
  for (std::thread& t : runs) t.join();
  EXPECT_EQ(acquired.load(), 1);
  EXPECT_EQ(SqlValue("SELECT count(*) FROM locks"), "1");
}

TEST(PgLockScopeTest, NamesTheBootAndThePidNamespace) {
  const std::string scope = LocalPidScope();
  EXPECT_EQ(scope.find("/pid:["), 36u) << scope;  // a boot id is a UUID
  EXPECT_EQ(scope.back(), ']') << scope;
  EXPECT_EQ(scope, LocalPidScope());
}

}  // namespace
}  // namespace runbook
