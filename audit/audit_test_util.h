// Helpers for the audit tests: a temporary folder per test, the database opened, raw SQL on a
// database file (as a tamperer with the sqlite3 shell would do it), a second process's lock on
// it, and sample runs and events.
#pragma once

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <memory>
#include <string>

#include "audit/audit_database.h"
#include "engine/audit_sink.h"

namespace runbook::audit_test {

/// A fresh folder under the test temp dir, removed with everything in it at destruction.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "audit_test_XXXXXX").string();
    char* made = mkdtemp(pattern.data());
    EXPECT_NE(made, nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

/// The audit database at `path`, opened (and created when missing); null, with a test failure,
/// when it cannot be.
inline std::unique_ptr<AuditDatabase> OpenOrDie(const std::string& path,
                                                const AuditDatabaseOptions& options = {}) {
  Result<std::unique_ptr<AuditDatabase>> db = AuditDatabase::Open(path, options);
  EXPECT_TRUE(db.ok()) << db.message();
  return db.ok() ? std::move(db).value() : nullptr;
}

/// Options for a database under test that another connection will hold: wait 50 ms, not 10 s.
inline AuditDatabaseOptions ShortBusyTimeout() {
  AuditDatabaseOptions options;
  options.busy_timeout = std::chrono::milliseconds(50);
  return options;
}

/// Another connection holding the database at `path` locked until destroyed, as a second
/// process would. BEGIN EXCLUSIVE takes the write lock, so writers wait and then fail busy. In
/// WAL mode readers still get through that; with `readers_too` the holder also switches to
/// exclusive locking mode, which keeps readers out as well.
class DatabaseHolder {
 public:
  explicit DatabaseHolder(const std::string& path, bool readers_too = false) {
    EXPECT_EQ(sqlite3_open(path.c_str(), &db_), SQLITE_OK);
    if (readers_too) Exec("PRAGMA locking_mode=EXCLUSIVE");
    Exec("BEGIN EXCLUSIVE");
    // The lock is taken when the transaction first touches the file.
    Exec("SELECT count(*) FROM sqlite_master");
  }
  ~DatabaseHolder() {
    Exec("COMMIT");
    sqlite3_close(db_);
  }
  DatabaseHolder(const DatabaseHolder&) = delete;
  DatabaseHolder& operator=(const DatabaseHolder&) = delete;

 private:
  void Exec(const std::string& sql) {
    char* error = nullptr;
    EXPECT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK)
        << sql << ": " << (error ? error : "");
    sqlite3_free(error);
  }
  sqlite3* db_ = nullptr;
};

/// Runs `sql` on the database at `path` through a separate plain connection.
inline void Sql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  std::string message = error ? error : "";
  sqlite3_free(error);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << sql << ": " << message;
}

/// The first column of the first row of `sql`, as text ("" when no row).
inline std::string SqlValue(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  std::string value;
  if (sqlite3_open(path.c_str(), &db) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) {
      value = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return value;
}

/// 2026-11-23T15:04:05.000Z plus `ms`.
inline std::chrono::system_clock::time_point At(long long ms) {
  return std::chrono::system_clock::time_point(std::chrono::seconds(1795446245)) +
         std::chrono::milliseconds(ms);
}

inline RunRecord MakeRun(const std::string& run_id, const std::string& runbook = "web-release") {
  RunRecord r;
  r.run_id = run_id;
  r.runbook = runbook;
  r.runbook_path = "/srv/runbooks/" + runbook + ".yaml";
  r.runbook_text = "runbook: " + runbook + "\nsteps: []\n";
  r.runbook_sha256 = std::string(64, 'a');
  r.params = {{"version", "1.2.3"}, {"token", "***"}};
  r.operator_name = "alice";
  r.host = "build-1";
  r.pid = 4242;
  r.lock_key = "production/" + runbook;
  r.started_at = At(0);
  return r;
}

inline AuditEvent MakeEvent(const std::string& name, long long ms, const std::string& step = "",
                            nlohmann::json detail = nlohmann::json::object()) {
  AuditEvent e;
  e.ts = At(ms);
  e.event = ParseEventKind(name).value();
  e.phase = step.empty() ? "run" : "step";
  e.step = step;
  e.detail = std::move(detail);
  return e;
}

/// The pid of a process that has exited and been reaped: free, for a while, to name no one.
inline int DeadPid() {
  pid_t child = fork();
  if (child == 0) _exit(0);
  waitpid(child, nullptr, 0);
  return child;
}

/// Fails the test unless `db`'s hash chain verifies.
inline void ExpectChainIntact(AuditDatabase& db) {
  Result<VerifyReport> report = db.events().Verify();
  ASSERT_TRUE(report.ok()) << report.message();
  EXPECT_TRUE(report->ok) << report->problem;
}

}  // namespace runbook::audit_test
