// Replaying the journal of records that waited for the database (audit_writer.h): in order,
// with the chain intact, once only (also after a crash between commit and clearing, and with
// two processes at it together), past a torn last record, and past records the database
// refuses for good. The full disk itself is in full_disk_test.cc.
#include "audit/audit_writer.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "audit/audit_test_util.h"
#include "audit/audit_time.h"

namespace runbook {
namespace {

using audit_test::At;
using audit_test::ExpectChainIntact;
using audit_test::MakeEvent;
using audit_test::MakeRun;
using audit_test::OpenOrDie;
using audit_test::Sql;
using audit_test::SqlValue;
using audit_test::TempDir;

AuditRecord EventRecord(const std::string& run_id, const std::string& name, long long ms,
                        const std::string& step = "", nlohmann::json detail = {{"n", 0}}) {
  AuditRecord r;
  r.kind = AuditRecord::Kind::kEvent;
  r.run_id = run_id;
  r.event.run_id = run_id;
  r.event.ts = FormatAuditTime(At(ms));
  r.event.event = name;
  r.event.phase = step.empty() ? "run" : "step";
  r.event.step = step;
  r.event.detail = std::move(detail);
  return r;
}

AuditRecord RunEndRecord(const std::string& run_id, const std::string& state, int code) {
  return runbook::RunEndRecord(run_id, state, code, At(9000));
}

// Writes `records` into the journal of the database at `db_path`, as a writer that could not
// reach the database would have.
void Journal(const std::string& db_path, const std::vector<AuditRecord>& records) {
  JournalFile journal(AuditDatabase::JournalPath(db_path));
  ASSERT_TRUE(journal.OpenOrCreate().ok());
  JournalLock lock(journal);
  ASSERT_TRUE(lock.status().ok());
  for (const AuditRecord& r : records) {
    Result<JournalFile::Contents> contents = journal.Read();
    ASSERT_TRUE(contents.ok()) << contents.message();
    ASSERT_TRUE(journal.Append(EncodeRecord(r), *contents).ok());
  }
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A database with run "run-a" started (holding lock production/web-release) and one event.
std::string StartedRun(const TempDir& dir) {
  const std::string path = dir.File("audit.db");
  std::unique_ptr<AuditDatabase> db = OpenOrDie(path);
  EXPECT_TRUE(db->events().BeginRun(MakeRun("run-a")).ok());
  EXPECT_TRUE(db->locks().TryLock("production/web-release", "run-a", 4242, "build-1").ok());
  EXPECT_TRUE(db->events().Append("run-a", MakeEvent("run_started", 0)).ok());
  return path;
}

std::vector<std::string> EventNames(AuditDatabase& db, const std::string& run_id) {
  std::vector<std::string> names;
  Result<std::vector<StoredEvent>> events = db.events().Events(run_id);
  EXPECT_TRUE(events.ok()) << events.message();
  if (!events.ok()) return names;
  for (const StoredEvent& e : *events) names.push_back(e.event);
  return names;
}

TEST(AuditRecordTest, EveryKindRoundTripsThroughItsJsonLine) {
  for (const AuditRecord& r :
       {EventRecord("run-a", "attempt_finished", 5, "migrate", {{"out", "a\nb"}, {"x", {1, 2}}}),
        RunEndRecord("run-a", "rolled_back", 3), UnlockRecord("run-a", "prod/web")}) {
    const std::string line = EncodeRecord(r);
    EXPECT_EQ(line.find('\n'), std::string::npos) << "one record, one line";
    Result<AuditRecord> back = DecodeRecord(line);
    ASSERT_TRUE(back.ok()) << back.message();
    EXPECT_EQ(EncodeRecord(*back), line);
  }
}

TEST(AuditRecordTest, DecodeRefusesWhatItDoesNotUnderstand) {
  EXPECT_TRUE(DecodeRecord("[1]").status().IsCorruption());
  EXPECT_NE(DecodeRecord(R"({"v":2,"kind":"event"})").message().find("format version 2"),
            std::string::npos);
  EXPECT_NE(DecodeRecord(R"({"v":1,"kind":"rename","run_id":"r"})").message().find("unknown kind"),
            std::string::npos);
  EXPECT_NE(DecodeRecord(R"({"v":1,"kind":"unlock","run_id":"r"})").message().find("'lock'"),
            std::string::npos);
}

TEST(JournalReplayTest, OpenWritesTheJournalIntoTheDatabaseInOrderWithTheChainIntact) {
  TempDir dir;
  const std::string path = StartedRun(dir);
  // Another run kept writing straight to the database meanwhile.
  {
    std::unique_ptr<AuditDatabase> db = OpenOrDie(path);
    ASSERT_TRUE(db->events().BeginRun(MakeRun("run-b", "other")).ok());
    ASSERT_TRUE(db->events().Append("run-b", MakeEvent("run_started", 1)).ok());
  }
  Journal(path, {EventRecord("run-a", "step_started", 10, "migrate"),
                 EventRecord("run-a", "step_failed", 20, "migrate"),
                 EventRecord("run-a", "rollback_started", 30, "migrate-rollback-1"),
                 EventRecord("run-a", "rollback_succeeded", 40, "migrate-rollback-1"),
                 EventRecord("run-a", "run_finished", 50), RunEndRecord("run-a", "rolled_back", 3),
                 UnlockRecord("run-a", "production/web-release")});

  std::unique_ptr<AuditDatabase> db = OpenOrDie(path);
  const ReplayReport& replay = db->journal_replay();
  EXPECT_TRUE(replay.status.ok()) << replay.status.message();
  EXPECT_EQ(replay.written, 7);
  EXPECT_EQ(replay.left, 0);
  EXPECT_TRUE(replay.warnings.empty());
  EXPECT_EQ(EventNames(*db, "run-a"),
            (std::vector<std::string>{"run_started", "step_started", "step_failed",
                                      "rollback_started", "rollback_succeeded", "run_finished"}));
  // The journaled events follow what was in the database already, whatever their time.
  std::vector<StoredEvent> all = *db->events().Events();
  ASSERT_EQ(all.size(), 7u);
  EXPECT_EQ(all[1].run_id, "run-b");
  EXPECT_EQ(all[2].event, "step_started");
  EXPECT_EQ(all[2].ts, "2026-11-23T15:04:05.010Z");
  ExpectChainIntact(*db);
  Result<StoredRun> run = db->events().GetRun("run-a");
  EXPECT_EQ(run->state, "rolled_back");
  EXPECT_EQ(run->exit_code, 3);
  EXPECT_EQ(SqlValue(path, "SELECT count(*) FROM locks"), "0") << "the release freed the lock";
  // The journal is empty, and stays beside the database.
  EXPECT_EQ(ReadAll(db->journal_path()).find_first_not_of('\0'), std::string::npos);
  EXPECT_EQ(*db->JournalRecords(), 0);
}

TEST(JournalReplayTest, ReplayingTheSameJournalAgainWritesNothingTwice) {
  TempDir dir;
  const std::string path = StartedRun(dir);
  Journal(path, {EventRecord("run-a", "step_started", 10, "a"),
                 EventRecord("run-a", "step_succeeded", 20, "a"),
                 EventRecord("run-a", "run_finished", 30), RunEndRecord("run-a", "succeeded", 0),
                 UnlockRecord("run-a", "production/web-release")});
  const std::string journal = ReadAll(AuditDatabase::JournalPath(path));
  {
    std::unique_ptr<AuditDatabase> db = OpenOrDie(path);
    EXPECT_EQ(db->journal_replay().written, 5);
  }
  // A crash after the replay's commit and before the journal was cleared: the same records
  // are still there, and the next open replays them again.
  std::ofstream(AuditDatabase::JournalPath(path), std::ios::binary | std::ios::trunc) << journal;
  std::unique_ptr<AuditDatabase> db = OpenOrDie(path);
  EXPECT_EQ(db->journal_replay().written, 2) << "the run end and the release, harmlessly";
  EXPECT_EQ(db->journal_replay().duplicates, 3);
  EXPECT_EQ(EventNames(*db, "run-a"), (std::vector<std::string>{"run_started", "step_started",
                                                                "step_succeeded", "run_finished"}));
  ExpectChainIntact(*db);
  EXPECT_EQ(db->ReplayJournal().written, 0) << "an empty journal";
}

TEST(JournalReplayTest, ATornLastRecordIsIgnoredWithAWarning) {
  TempDir dir;
  const std::string path = StartedRun(dir);
  Journal(path, {EventRecord("run-a", "step_started", 10, "a"),
                 EventRecord("run-a", "step_succeeded", 20, "a")});
  {
    // The writer crashed half-way through a third record.
    const std::string line =
        JournalFile::Line(EncodeRecord(EventRecord("run-a", "run_finished", 30)));
    std::ofstream(AuditDatabase::JournalPath(path), std::ios::binary | std::ios::app)
        << line.substr(0, line.size() - 10);
  }
  std::unique_ptr<AuditDatabase> db = OpenOrDie(path);
  EXPECT_EQ(db->journal_replay().written, 2);
  ASSERT_EQ(db->journal_replay().warnings.size(), 1u);
  EXPECT_NE(db->journal_replay().warnings[0].find("ignored a partial record"), std::string::npos)
      << db->journal_replay().warnings[0];
  EXPECT_EQ(EventNames(*db, "run-a"),
            (std::vector<std::string>{"run_started", "step_started", "step_succeeded"}));
  ExpectChainIntact(*db);
  EXPECT_TRUE(db->ReplayJournal().warnings.empty()) << "the torn tail is cleared with the rest";
}

TEST(JournalReplayTest, ARecordTheDatabaseRefusesForGoodIsSkippedWithAWarning) {
  TempDir dir;
  const std::string path = StartedRun(dir);
  Journal(path, {EventRecord("nobody", "step_started", 10, "a"),
                 EventRecord("run-a", "step_started", 20, "a"),
                 UnlockRecord("run-a", "someone-elses-lock")});
  Sql(path,
      "INSERT INTO locks(lock_key, run_id, pid, host, acquired_at) "
      "VALUES('someone-elses-lock', 'run-z', 1, 'h', 'now')");
  std::unique_ptr<AuditDatabase> db = OpenOrDie(path);
  const ReplayReport& replay = db->journal_replay();
  EXPECT_EQ(replay.written, 1);
  ASSERT_EQ(replay.warnings.size(), 2u);
  EXPECT_NE(replay.warnings[0].find("record 1 (event of run nobody) skipped: unknown run"),
            std::string::npos)
      << replay.warnings[0];
  EXPECT_NE(replay.warnings[1].find("held by run run-z"), std::string::npos) << replay.warnings[1];
  EXPECT_EQ(EventNames(*db, "run-a"), (std::vector<std::string>{"run_started", "step_started"}));
  EXPECT_EQ(SqlValue(path, "SELECT run_id FROM locks WHERE lock_key = 'someone-elses-lock'"),
            "run-z");
}

TEST(JournalReplayTest, ProcessesReplayingAtOnceWriteEachRecordOnce) {
  TempDir dir;
  const std::string path = StartedRun(dir);
  std::vector<AuditRecord> records;
  for (int i = 1; i <= 60; ++i)
    records.push_back(EventRecord("run-a", "attempt_finished", i, "s", {{"i", i}}));
  Journal(path, records);

  int go[2];
  ASSERT_EQ(pipe(go), 0);
  std::vector<pid_t> children;
  for (int c = 0; c < 4; ++c) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(go[1]);
      char byte;
      (void)!read(go[0], &byte, 1);  // all start together when the parent closes the pipe
      Result<std::unique_ptr<AuditDatabase>> db = AuditDatabase::Open(path);
      _exit(db.ok() && (*db)->journal_replay().status.ok() ? 0 : 1);
    }
    children.push_back(pid);
  }
  close(go[0]);
  close(go[1]);
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  }
  std::unique_ptr<AuditDatabase> db = OpenOrDie(path);
  std::vector<StoredEvent> events = *db->events().Events("run-a");
  ASSERT_EQ(events.size(), 61u) << "each journaled event exactly once";
  for (int i = 1; i <= 60; ++i) EXPECT_EQ(events[static_cast<size_t>(i)].detail["i"], i);
  ExpectChainIntact(*db);
}

TEST(JournalReplayTest, AWriteReplaysTheJournalFirstSoThatARunsEventsKeepTheirOrder) {
  TempDir dir;
  const std::string path = StartedRun(dir);
  std::unique_ptr<AuditDatabase> db = OpenOrDie(path);
  // Records this run could not write a moment ago (the disk was full) ...
  Journal(path, {EventRecord("run-a", "step_started", 10, "a"),
                 EventRecord("run-a", "step_succeeded", 20, "a")});
  // ... go in before its next event, now that the database can be written again.
  ASSERT_TRUE(db->events().Append("run-a", MakeEvent("run_finished", 30)).ok());
  EXPECT_EQ(EventNames(*db, "run-a"), (std::vector<std::string>{"run_started", "step_started",
                                                                "step_succeeded", "run_finished"}));
  ExpectChainIntact(*db);
  EXPECT_EQ(db->events().Backlog("run-a").journaled, 0) << "nothing of this process's was deferred";
}

TEST(JournalReplayTest, ARunReservesRoomInTheJournal) {
  TempDir dir;
  std::unique_ptr<AuditDatabase> db = OpenOrDie(dir.File("audit.db"));
  EXPECT_FALSE(std::filesystem::exists(db->journal_path())) << "only a run makes the journal";
  ASSERT_TRUE(db->ReserveJournal().ok());
  EXPECT_EQ(db->journal_path(), dir.File("audit.db.pending"));
  EXPECT_EQ(std::filesystem::file_size(db->journal_path()), JournalFile::kDefaultReserve);
  EXPECT_EQ(*db->JournalRecords(), 0);
}

}  // namespace
}  // namespace runbook
