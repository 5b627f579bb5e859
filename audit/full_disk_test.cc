// The audit database on a disk that fills up (SPEC §5 "Full disks and busy databases"), on a
// real 512 KiB tmpfs: records go to the journal, or are held in memory when even that cannot
// be written, and reach the database in order, chain intact, once space is back; the lock of
// a run whose release had to wait stays held until then.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "audit/audit_database.h"
#include "audit/audit_test_util.h"
#include "audit/sqlite_db.h"
#include "testing/tmpfs_mount.h"

namespace runbook {
namespace {

using audit_test::ExpectChainIntact;
using audit_test::MakeEvent;
using audit_test::MakeRun;
using audit_test::OpenOrDie;
using audit_test::SqlValue;
using runbook::testing::TmpfsMount;

constexpr const char* kLock = "production/web-release";

std::vector<std::string> Steps(AuditDatabase& db, const std::string& run_id) {
  std::vector<std::string> steps;
  Result<std::vector<StoredEvent>> events = db.events().Events(run_id);
  EXPECT_TRUE(events.ok()) << events.message();
  if (!events.ok()) return steps;
  for (const StoredEvent& e : *events) steps.push_back(e.event + ":" + e.step);
  return steps;
}

// A run on the tmpfs, started while there was space: its row, its lock and run_started.
std::unique_ptr<AuditDatabase> StartRun(const TmpfsMount& disk, bool reserve) {
  std::unique_ptr<AuditDatabase> db = OpenOrDie(disk.File("audit.db"));
  EXPECT_TRUE(db->events().BeginRun(MakeRun("run-a")).ok());
  EXPECT_TRUE(db->locks().TryLock(kLock, "run-a", getpid(), LocalHostName())->acquired);
  if (reserve) {
    EXPECT_TRUE(db->ReserveJournal().ok());
  }
  EXPECT_TRUE(db->events().Append("run-a", MakeEvent("run_started", 0)).ok());
  return db;
}

TEST(FullDiskTest, RecordsWaitInTheJournalAndReachTheDatabaseInOrderOnceSpaceIsBack) {
  TmpfsMount disk("512k");
  SKIP_UNLESS_MOUNTED(disk);
  {
    std::unique_ptr<AuditDatabase> db = StartRun(disk, /*reserve=*/true);
    ASSERT_GT(disk.Fill(), 0u);
    for (int i = 1; i <= 20; ++i) {
      Status s =
          db->events().Append("run-a", MakeEvent("step_started", i, "s" + std::to_string(i)));
      ASSERT_TRUE(s.ok()) << "event " << i << " is durable in the journal: " << s.message();
    }
    ASSERT_TRUE(db->events().EndRun("run-a", "rolled_back", 3, audit_test::At(99)).ok());
    bool journaled = false;
    ASSERT_TRUE(db->locks().Unlock(kLock, "run-a", &journaled).ok());
    EXPECT_TRUE(journaled);

    const AuditBacklog backlog = db->events().Backlog("run-a");
    EXPECT_EQ(backlog.journaled, 22) << "20 events, the run's end and the lock's release";
    EXPECT_EQ(backlog.held, 0);
    EXPECT_EQ(backlog.journal, disk.File("audit.db.pending"));
    EXPECT_NE(backlog.store_error.find("full"), std::string::npos) << backlog.store_error;
    EXPECT_EQ(*db->JournalRecords(), 22);

    // Until the release reaches the database, the lock is held: no second run starts.
    Result<LockAttempt> other = db->locks().TryLock(kLock, "run-b", getpid(), LocalHostName());
    ASSERT_TRUE(other.ok()) << other.message();
    EXPECT_FALSE(other->acquired);
  }
  {
    // Still full: opening works, says why the journal waits, and changes nothing.
    std::unique_ptr<AuditDatabase> db = OpenOrDie(disk.File("audit.db"));
    EXPECT_FALSE(db->journal_replay().status.ok());
    EXPECT_EQ(db->journal_replay().left, 22);
    EXPECT_EQ(Steps(*db, "run-a").size(), 1u);
  }
  disk.Unfill();
  std::unique_ptr<AuditDatabase> db = OpenOrDie(disk.File("audit.db"));
  EXPECT_TRUE(db->journal_replay().status.ok()) << db->journal_replay().status.message();
  std::vector<std::string> want = {"run_started:"};
  for (int i = 1; i <= 20; ++i) want.push_back("step_started:s" + std::to_string(i));
  EXPECT_EQ(Steps(*db, "run-a"), want);
  ExpectChainIntact(*db);
  EXPECT_EQ(db->events().GetRun("run-a")->state, "rolled_back");
  EXPECT_EQ(SqlValue(disk.File("audit.db"), "SELECT count(*) FROM locks"), "0");
  EXPECT_TRUE(db->locks().TryLock(kLock, "run-b", getpid(), LocalHostName())->acquired);
}

TEST(FullDiskTest, WhenTheJournalCannotBeWrittenEitherRecordsAreHeldInMemoryInOrder) {
  TmpfsMount disk("512k");
  SKIP_UNLESS_MOUNTED(disk);
  std::unique_ptr<AuditDatabase> db = StartRun(disk, /*reserve=*/false);
  ASSERT_GT(disk.Fill(), 0u);
  for (const char* step : {"a", "b"}) {
    Status s = db->events().Append("run-a", MakeEvent("step_started", 1, step));
    EXPECT_EQ(s.kind(), StatusKind::kIOError);
    EXPECT_NE(s.message().find("held in memory"), std::string::npos) << s.message();
  }
  AuditBacklog backlog = db->events().Backlog("run-a");
  EXPECT_EQ(backlog.held, 2);
  EXPECT_EQ(backlog.journaled, 0);
  EXPECT_NE(backlog.journal_error.find("No space left"), std::string::npos)
      << backlog.journal_error;
  EXPECT_EQ(db->FlushHeldRecords().size(), 2u) << "what a command prints before it exits";

  // Space is back: the held records go first, then the new one.
  disk.Unfill();
  ASSERT_TRUE(db->events().Append("run-a", MakeEvent("step_started", 2, "c")).ok());
  EXPECT_EQ(Steps(*db, "run-a"), (std::vector<std::string>{"run_started:", "step_started:a",
                                                           "step_started:b", "step_started:c"}));
  backlog = db->events().Backlog("run-a");
  EXPECT_EQ(backlog.held, 0);
  EXPECT_EQ(backlog.rescued, 2);
  ExpectChainIntact(*db);
  EXPECT_TRUE(db->FlushHeldRecords().empty());
}

TEST(FullDiskTest, AnEventTooBigForTheReserveIsJournaledWithItsLongStringsCut) {
  TmpfsMount disk("512k");
  SKIP_UNLESS_MOUNTED(disk);
  {
    std::unique_ptr<AuditDatabase> db = StartRun(disk, /*reserve=*/true);
    ASSERT_GT(disk.Fill(), 0u);
    const std::string output = std::string(100 * 1024, 'x') + "the end of the output";
    ASSERT_TRUE(db->events()
                    .Append("run-a", MakeEvent("attempt_finished", 1, "big",
                                               {{"stdout_tail", output}, {"exit_status", 1}}))
                    .ok());
    EXPECT_EQ(db->events().Backlog("run-a").journaled, 1);
  }
  disk.Unfill();
  std::unique_ptr<AuditDatabase> db = OpenOrDie(disk.File("audit.db"));
  std::vector<StoredEvent> events = *db->events().Events("run-a");
  ASSERT_EQ(events.size(), 2u);
  const nlohmann::json& detail = events[1].detail;
  EXPECT_EQ(detail["exit_status"], 1);
  EXPECT_EQ(detail["cut_for_journal"], true);
  const std::string kept = detail["stdout_tail"].get<std::string>();
  EXPECT_EQ(kept.size(), 1024u);
  EXPECT_NE(kept.find("the end of the output"), std::string::npos);
  ExpectChainIntact(*db);
}

// Opening a log on a disk that is full already fails (SQLite needs room for the WAL's index),
// and says why. Once space is back, a log written by an older runbook, which lacks the indexes
// added since (runs_by_start, runs_by_plan), opens and gets them.
TEST(FullDiskTest, OpeningOnAFullDiskSaysSoAndAnOlderLogGetsItsNewIndexesOnceSpaceIsBack) {
  TmpfsMount disk("512k");
  SKIP_UNLESS_MOUNTED(disk);
  const std::string path = disk.File("audit.db");
  {
    std::unique_ptr<AuditDatabase> db = StartRun(disk, /*reserve=*/false);
    ASSERT_TRUE(db->events().EndRun("run-a", "succeeded", 0, audit_test::At(9)).ok());
  }
  {
    auto raw = SqliteDb::Open(path);
    ASSERT_TRUE(raw.ok()) << raw.message();
    ASSERT_TRUE((*raw)->Exec("DROP INDEX runs_by_start; DROP INDEX runs_by_plan").ok());
  }
  const std::string count_indexes =
      "SELECT count(*) FROM sqlite_master WHERE name IN ('runs_by_start', 'runs_by_plan')";
  ASSERT_EQ(SqlValue(path, count_indexes), "0");
  ASSERT_GT(disk.Fill(), 0u);
  Result<std::unique_ptr<AuditDatabase>> full = AuditDatabase::Open(path);
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.status().kind(), StatusKind::kIOError) << full.message();
  EXPECT_NE(full.message().find("No space left on device"), std::string::npos) << full.message();
  disk.Unfill();
  {
    std::unique_ptr<AuditDatabase> db = OpenOrDie(path);
    Result<std::vector<StoredRun>> runs = db->events().ListRuns();
    ASSERT_TRUE(runs.ok()) << runs.message();
    EXPECT_EQ(runs->size(), 1u);
  }
  EXPECT_EQ(SqlValue(path, count_indexes), "2");
}

}  // namespace
}  // namespace runbook
