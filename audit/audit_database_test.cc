#include "audit/audit_database.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "audit/audit_test_util.h"
#include "engine/exit_code.h"

namespace runbook {
namespace {

using audit_test::DatabaseHolder;
using audit_test::MakeEvent;
using audit_test::MakeRun;
using audit_test::OpenOrDie;
using audit_test::ShortBusyTimeout;
using audit_test::Sql;
using audit_test::SqlValue;
using audit_test::TempDir;

TEST(AuditDatabaseOpenTest, CreatesTheFolderAndTheSchema) {
  TempDir dir;
  const std::string path = dir.File(".runbook/nested/audit.db");
  {
    std::unique_ptr<AuditDatabase> db = OpenOrDie(path);
    ASSERT_TRUE(db);
  }
  EXPECT_TRUE(std::filesystem::exists(path));
  EXPECT_EQ(SqlValue(path, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(SqlValue(path, "SELECT value FROM meta WHERE key = 'schema_version'"), "1");
  for (const char* table : {"meta", "runs", "events", "locks", "plans", "approvals"}) {
    EXPECT_EQ(SqlValue(path, std::string("SELECT count(*) FROM sqlite_master WHERE name = '") +
                                 table + "'"),
              "1")
        << table;
  }
  // Opening again keeps what is there.
  std::unique_ptr<AuditDatabase> again = OpenOrDie(path);
  ASSERT_TRUE(again);
  ASSERT_TRUE(again->events().BeginRun(MakeRun("r")).ok());
  ASSERT_TRUE(again->events().Append("r", MakeEvent("run_started", 0)).ok());
  again.reset();
  std::unique_ptr<AuditDatabase> third = OpenOrDie(path);
  ASSERT_TRUE(third);
  EXPECT_EQ(third->events().Events()->size(), 1u);
}

TEST(AuditDatabaseOpenTest, ProcessesCreatingTheSameNewFileAllSucceed) {
  // Several commands started together on a database that does not exist yet: each waits for
  // the others instead of failing with "database is locked" (SPEC §5).
  for (int round = 0; round < 20; ++round) {
    TempDir dir;
    const std::string path = dir.File("new/audit.db");
    std::vector<pid_t> children;
    for (int i = 0; i < 8; ++i) {
      const pid_t child = fork();
      if (child == 0) {
        auto db = AuditDatabase::Open(path);
        _exit(db.ok() && (*db)->events().BeginRun(MakeRun("run-" + std::to_string(i))).ok() ? 0
                                                                                            : 1);
      }
      children.push_back(child);
    }
    for (pid_t child : children) {
      int status = 0;
      ASSERT_EQ(waitpid(child, &status, 0), child);
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "round " << round;
    }
  }
}

TEST(AuditDatabaseOpenTest, RefusesANewerSchemaVersion) {
  TempDir dir;
  const std::string path = dir.File("audit.db");
  OpenOrDie(path);
  Sql(path, "UPDATE meta SET value = '7' WHERE key = 'schema_version'");
  Result<std::unique_ptr<AuditDatabase>> db = AuditDatabase::Open(path);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.message(),
            "audit database " + path + " has schema version 7; this runbook understands 1");
  EXPECT_EQ(db.status().kind(), StatusKind::kFailed);
}

TEST(AuditDatabaseOpenTest, RefusesAnUnknownSchemaVersion) {
  TempDir dir;
  const std::string path = dir.File("audit.db");
  OpenOrDie(path);
  Sql(path, "UPDATE meta SET value = 'banana' WHERE key = 'schema_version'");
  Result<std::unique_ptr<AuditDatabase>> db = AuditDatabase::Open(path);
  ASSERT_FALSE(db.ok());
  EXPECT_NE(db.message().find("has schema version banana; this runbook understands 1"),
            std::string::npos)
      << db.message();
  Sql(path, "DELETE FROM meta WHERE key = 'schema_version'");
  db = AuditDatabase::Open(path);
  ASSERT_FALSE(db.ok());
  EXPECT_NE(db.message().find("schema version (none)"), std::string::npos) << db.message();
}

TEST(AuditDatabaseOpenTest, RefusesAFileThatIsNotADatabase) {
  TempDir dir;
  const std::string path = dir.File("audit.db");
  {
    std::ofstream out(path);
    for (int i = 0; i < 200; ++i) out << "this is a text file, not an SQLite database\n";
  }
  Result<std::unique_ptr<AuditDatabase>> db = AuditDatabase::Open(path);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.message(), "audit database " + path + " is not an SQLite database");
  EXPECT_EQ(db.status().kind(), StatusKind::kCorruption);
  // The file was left as it was.
  std::ifstream in(path);
  std::string first;
  std::getline(in, first);
  EXPECT_EQ(first, "this is a text file, not an SQLite database");
}

TEST(AuditDatabaseOpenTest, RefusesAnotherProgramsDatabase) {
  TempDir dir;
  const std::string path = dir.File("other.db");
  Sql(path, "CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT)");
  Result<std::unique_ptr<AuditDatabase>> db = AuditDatabase::Open(path);
  ASSERT_FALSE(db.ok());
  EXPECT_NE(db.message().find("not a runbook audit log"), std::string::npos) << db.message();
}

TEST(AuditDatabaseOpenTest, RefusesADirectory) {
  TempDir dir;
  std::filesystem::create_directories(dir.File("db"));
  Result<std::unique_ptr<AuditDatabase>> db = AuditDatabase::Open(dir.File("db"));
  ASSERT_FALSE(db.ok());
  EXPECT_NE(db.message().find("is a directory"), std::string::npos) << db.message();
}

TEST(AuditDatabaseOpenTest, ATruncatedFileGivesAClearErrorNotACrash) {
  TempDir dir;
  const std::string path = dir.File("audit.db");
  {
    std::unique_ptr<AuditDatabase> db = OpenOrDie(path);
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->events().BeginRun(MakeRun("big")).ok());
    for (int i = 0; i < 150; ++i) {
      ASSERT_TRUE(db->events()
                      .Append("big", MakeEvent("step_started", i, "s",
                                               {{"output_tail", std::string(400, 'x')}}))
                      .ok());
    }
  }  // the last connection checkpoints the WAL into the file and removes it
  const auto full = std::filesystem::file_size(path);
  ASSERT_GT(full, 40000u);
  for (auto size : {full / 2, full / 8, decltype(full){50}}) {
    std::filesystem::resize_file(path, size);
    std::filesystem::remove(path + "-wal");
    std::filesystem::remove(path + "-shm");
    Result<std::unique_ptr<AuditDatabase>> db = AuditDatabase::Open(path);
    std::string problem;
    if (!db.ok()) {
      problem = db.message();
      EXPECT_EQ(db.status().kind(), StatusKind::kCorruption) << problem;
    } else {
      Result<VerifyReport> report = (*db)->events().Verify();
      if (!report.ok()) {
        problem = report.message();
      } else if (!report->ok) {
        problem = report->problem;
      }
      Result<std::vector<StoredEvent>> events = (*db)->events().Events();
      EXPECT_FALSE(events.ok()) << "size " << size;
      EXPECT_EQ(events.status().kind(), StatusKind::kCorruption) << events.message();
    }
    EXPECT_TRUE(problem.find("corrupt") != std::string::npos ||
                problem.find("not an SQLite database") != std::string::npos)
        << "size " << size << ": " << problem;
    EXPECT_NE(problem.find(path), std::string::npos) << problem;
  }
}

// What `audit verify` meets when another process holds the database: busy (exit 4), never
// corrupt or tampered (exit 6), whether the holder keeps out only writers or readers too.
TEST(AuditDatabaseOpenTest, ADatabaseHeldByAnotherProcessIsBusyNotCorrupt) {
  TempDir dir;
  const std::string path = dir.File("audit.db");
  {
    std::unique_ptr<AuditDatabase> db = OpenOrDie(path);
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->events().BeginRun(MakeRun("r")).ok());
    ASSERT_TRUE(db->events().Append("r", MakeEvent("run_started", 0)).ok());
  }
  for (bool readers_too : {false, true}) {
    DatabaseHolder holder(path, readers_too);
    Result<std::unique_ptr<AuditDatabase>> db = AuditDatabase::Open(path, ShortBusyTimeout());
    ASSERT_FALSE(db.ok()) << "readers_too " << readers_too;
    EXPECT_TRUE(db.status().IsBusy()) << db.message();
    EXPECT_EQ(ExitCodeFor(db.status()), kExitRefused);
    EXPECT_NE(db.message().find("locked by another process"), std::string::npos) << db.message();
  }
  std::unique_ptr<AuditDatabase> db = OpenOrDie(path);
  ASSERT_TRUE(db);
  Result<VerifyReport> report = db->events().Verify();
  ASSERT_TRUE(report.ok()) << report.message();
  EXPECT_TRUE(report->ok) << report->problem;
}

// With the default busy timeout a short hold is waited for, not reported.
TEST(AuditDatabaseOpenTest, WaitsForAShortLock) {
  TempDir dir;
  const std::string path = dir.File("audit.db");
  ASSERT_TRUE(OpenOrDie(path));
  auto holder = std::make_unique<DatabaseHolder>(path, /*readers_too=*/true);
  std::thread release([&holder] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    holder.reset();
  });
  Result<std::unique_ptr<AuditDatabase>> db = AuditDatabase::Open(path);
  release.join();
  ASSERT_TRUE(db.ok()) << db.message();
  Result<VerifyReport> report = (*db)->events().Verify();
  ASSERT_TRUE(report.ok()) << report.message();
  EXPECT_TRUE(report->ok) << report->problem;
}

TEST(AuditDatabaseOpenTest, ThePartsShareOneConnection) {
  TempDir dir;
  const std::string path = dir.File("audit.db");
  std::unique_ptr<AuditDatabase> db = OpenOrDie(path);
  ASSERT_TRUE(db);
  ASSERT_TRUE(db->events().BeginRun(MakeRun("r")).ok());
  ASSERT_TRUE(db->locks().TryLock("k", "r", getpid(), LocalHostName())->acquired);
  PlanRecord plan;
  plan.plan_id = "p";
  ASSERT_TRUE(db->plans().SavePlan(plan).ok());
  EXPECT_EQ(SqlValue(path,
                     "SELECT (SELECT count(*) FROM runs) || (SELECT count(*) FROM locks) || "
                     "(SELECT count(*) FROM plans)"),
            "111");
}

}  // namespace
}  // namespace runbook
