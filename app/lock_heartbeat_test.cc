#include "app/lock_heartbeat.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace runbook {
namespace {

using std::chrono::milliseconds;

// A lock store whose heartbeats answer what the test says.
class ScriptedLocks : public LockStore {
 public:
  Result<LockAttempt> TryLock(const std::string&, const std::string&, int,
                              const std::string&) override {
    return LockAttempt{};
  }
  Result<RecoveryClaim> ClaimForRecovery(const std::string&, const std::string&, int,
                                         const std::string&) override {
    return RecoveryClaim{};
  }
  Status Unlock(const std::string&, const std::string&, bool*) override { return Status::Ok(); }
  Status Heartbeat(const std::string&, const std::string&, int, const std::string&) override {
    ++beats;
    switch (answer.load()) {
      case 0:
        return Status::Ok();
      case 1:
        return Status::IOError("the server cannot be reached");
      default:
        return Status::Refused("lock 'k' is no longer held by run r: run r2 holds it");
    }
  }
  milliseconds heartbeat_interval() const override { return milliseconds(30); }

  std::atomic<int> answer{0};  // 0 ok, 1 out of reach, 2 refused
  std::atomic<int> beats{0};
};

// Waits up to two seconds for `flag` to be cancelled.
bool CancelledSoon(const CancelFlag& flag) {
  return !flag.SleepFor(2000);
}

TEST(LockHeartbeatTest, BeatsWhileTheRunHoldsTheLockAndLeavesAHealthyRunAlone) {
  ScriptedLocks locks;
  CancelFlag run;
  {
    LockHeartbeat heartbeat(locks, "k", "r", 1, "h", /*locked=*/true, &run);
    while (locks.beats < 5) std::this_thread::sleep_for(milliseconds(5));
    EXPECT_TRUE(heartbeat.problem().empty());
  }
  EXPECT_FALSE(run.cancelled());
  const int beats = locks.beats;
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_EQ(locks.beats, beats) << "beats after the heartbeat ended";
}

TEST(LockHeartbeatTest, ARefusedHeartbeatStopsTheRunAtOnce) {
  ScriptedLocks locks;
  locks.answer = 2;
  CancelFlag run;
  LockHeartbeat heartbeat(locks, "k", "r", 1, "h", true, &run);
  ASSERT_TRUE(CancelledSoon(run));
  EXPECT_EQ(locks.beats, 1);
  EXPECT_NE(run.reason().find("the run's lock was taken over"), std::string::npos) << run.reason();
  EXPECT_NE(run.reason().find("run r2 holds it"), std::string::npos) << run.reason();
  EXPECT_NE(heartbeat.problem().find("run r2 holds it"), std::string::npos);
}

TEST(LockHeartbeatTest, AStoreOutOfReachStopsTheRunBeforeOthersTakeItForDead) {
  ScriptedLocks locks;
  CancelFlag run;
  LockHeartbeat heartbeat(locks, "k", "r", 1, "h", true, &run);
  while (locks.beats < 2) std::this_thread::sleep_for(milliseconds(5));
  const auto cut = std::chrono::steady_clock::now();
  locks.answer = 1;
  ASSERT_TRUE(CancelledSoon(run));
  // Half the expiry (1.5 intervals of 30 ms) without a heartbeat, not at the first failure.
  EXPECT_GE(std::chrono::steady_clock::now() - cut, milliseconds(30));
  EXPECT_NE(run.reason().find("has not taken the run's heartbeat"), std::string::npos)
      << run.reason();
  EXPECT_NE(run.reason().find("cannot be reached"), std::string::npos) << run.reason();
}

TEST(LockHeartbeatTest, AStoreThatNeedsNoHeartbeatOrALockNotTakenGetsNone) {
  ScriptedLocks locks;
  CancelFlag run;
  { LockHeartbeat heartbeat(locks, "k", "r", 1, "h", /*locked=*/false, &run); }
  EXPECT_EQ(locks.beats, 0);
}

// A sink that journals every record once `out_of_reach` is set.
class JournalingSink : public AuditSink {
 public:
  Status BeginRun(const RunRecord&) override { return Status::Ok(); }
  Status Append(const std::string&, const AuditEvent&) override {
    if (out_of_reach) ++journaled;
    return Status::Ok();
  }
  Status EndRun(const std::string&, const std::string&, int,
                std::chrono::system_clock::time_point) override {
    return Status::Ok();
  }
  AuditBacklog Backlog(const std::string&) const override {
    AuditBacklog b;
    b.journaled = journaled;
    b.journal = "/state/journal/x.pending";
    return b;
  }
  bool out_of_reach = false;
  int journaled = 0;
};

TEST(OutOfReachGuardTest, ARecordThatMissesASharedStoreStopsTheRun) {
  JournalingSink sink;
  CancelFlag run;
  OutOfReachGuard guard(sink, &run, /*shared=*/true);
  ASSERT_TRUE(guard.Append("r", AuditEvent{}).ok());
  EXPECT_FALSE(run.cancelled());
  sink.out_of_reach = true;
  ASSERT_TRUE(guard.Append("r", AuditEvent{}).ok());  // durable in the journal: still ok
  EXPECT_TRUE(run.cancelled());
  EXPECT_NE(run.reason().find("shared audit store could not be written"), std::string::npos);
}

TEST(OutOfReachGuardTest, OnAStoreOfThisMachineTheJournalIsEnough) {
  JournalingSink sink;
  sink.out_of_reach = true;
  CancelFlag run;
  OutOfReachGuard guard(sink, &run, /*shared=*/false);
  ASSERT_TRUE(guard.Append("r", AuditEvent{}).ok());
  EXPECT_FALSE(run.cancelled());
}

}  // namespace
}  // namespace runbook
