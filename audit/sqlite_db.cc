#include "audit/sqlite_db.h"

#include <cstring>

#include <sqlite3.h>

#include <utility>

namespace runbook {

namespace {

// The kind of error that SQLite result code `rc` (not SQLITE_OK) names.
StatusKind KindOf(int rc) {
  switch (rc & 0xff) {
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      return StatusKind::kCorruption;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return StatusKind::kBusy;
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
      return StatusKind::kIOError;
    default:
      return StatusKind::kFailed;
  }
}

}  // namespace

Result<std::unique_ptr<SqliteDb>> SqliteDb::Open(const std::string& path) {
  return OpenWithFlags(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
}

Result<std::unique_ptr<SqliteDb>> SqliteDb::OpenForReading(const std::string& path) {
  return OpenWithFlags(path, SQLITE_OPEN_READONLY);
}

Result<std::unique_ptr<SqliteDb>> SqliteDb::OpenWithFlags(const std::string& path, int flags) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string reason = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return Status::OfKind(KindOf(rc), "cannot open audit database " + path + ": " + reason);
  }
  sqlite3_extended_result_codes(db, 1);
  return std::unique_ptr<SqliteDb>(new SqliteDb(db, path));
}

SqliteDb::~SqliteDb() {
  for (auto& [sql, stmt] : kept_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

sqlite3_stmt* SqliteDb::Acquire(const std::string& sql, int* rc) {
  if (auto it = kept_.find(sql); it != kept_.end()) {
    sqlite3_stmt* stmt = it->second;
    kept_.erase(it);  // in use: a second Statement of the same text prepares its own
    *rc = SQLITE_OK;
    return stmt;
  }
  sqlite3_stmt* stmt = nullptr;
  *rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                           SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (*rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return nullptr;
  }
  return stmt;
}

void SqliteDb::Release(const std::string& sql, sqlite3_stmt* stmt) {
  if (!stmt) return;
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  if (kept_.size() < kKeptStatements && kept_.emplace(sql, stmt).second) return;
  sqlite3_finalize(stmt);
}

void SqliteDb::SetBusyTimeout(std::chrono::milliseconds timeout) {
  busy_timeout_ = timeout;
  sqlite3_busy_timeout(db_, static_cast<int>(timeout.count()));
}

Status SqliteDb::Exec(std::string_view sql) {
  std::string text(sql);
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return Error(text, rc);
  return Status::Ok();
}

Status SqliteDb::Error(std::string_view what, int rc) const {
  std::string reason;
  switch (rc & 0xff) {
    case SQLITE_NOTADB:
      return Status::Corruption("audit database " + path_ + " is not an SQLite database");
    case SQLITE_CORRUPT:
      return Status::Corruption("audit database " + path_ + " is corrupt or truncated (" +
                                sqlite3_errmsg(db_) + ")");
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      reason = "the database stayed locked by another process (" +
               std::string(sqlite3_errmsg(db_)) + ")";
      break;
    default:
      reason = sqlite3_errmsg(db_);
      break;
  }
  // "disk I/O error" alone does not say that the disk is full: the system's reason does.
  if (const int sys = db_ ? sqlite3_system_errno(db_) : 0;
      sys != 0 && ((rc & 0xff) == SQLITE_IOERR || (rc & 0xff) == SQLITE_FULL ||
                   (rc & 0xff) == SQLITE_CANTOPEN)) {
    reason += " (" + std::string(std::strerror(sys)) + ")";
  }
  return Status::OfKind(KindOf(rc),
                        "audit database " + path_ + ": " + std::string(what) + ": " + reason);
}

Statement::Statement(SqliteDb& db, std::string_view sql) : db_(db), sql_(sql) {
  stmt_ = db_.Acquire(sql_, &rc_);
}

Statement::~Statement() { db_.Release(sql_, stmt_); }

void Statement::Bind(int index, std::string_view text) {
  if (stmt_) {
    sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  }
}

void Statement::Bind(int index, int64_t value) {
  if (stmt_) sqlite3_bind_int64(stmt_, index, value);
}

void Statement::BindNull(int index) {
  if (stmt_) sqlite3_bind_null(stmt_, index);
}

void Statement::BindOrNull(int index, std::string_view text) {
  if (text.empty()) {
    BindNull(index);
  } else {
    Bind(index, text);
  }
}

Result<bool> Statement::Step() {
  if (!stmt_) return db_.Error(sql_, rc_);
  rc_ = sqlite3_step(stmt_);
  if (rc_ == SQLITE_ROW) return true;
  if (rc_ == SQLITE_DONE) return false;
  return db_.Error(sql_, rc_);
}

void Statement::Reset() {
  if (stmt_) sqlite3_reset(stmt_);
}

Status Statement::Run() {
  Result<bool> row = Step();
  return row.status();
}

std::string Statement::Text(int column) const { return std::string(TextView(column)); }

std::string_view Statement::TextView(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  if (!text) return {};
  return std::string_view(reinterpret_cast<const char*>(text),
                          static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

int64_t Statement::Int(int column) const { return sqlite3_column_int64(stmt_, column); }

bool Statement::IsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

bool Statement::IsInteger(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_INTEGER;
}

Transaction::Transaction(SqliteDb& db, Kind kind) : db_(db) {
  switch (kind) {
    case Kind::kRead:
      status_ = db_.Exec("BEGIN");
      break;
    case Kind::kWrite:
      status_ = db_.Exec("BEGIN IMMEDIATE");
      break;
  }
  open_ = status_.ok();
}

namespace {

// A statement that stepped to a row and was not run to its end keeps a read open, and COMMIT
// refuses to run while one does. The statements of a transaction are finished when it ends,
// so reset them all (they stay prepared; their owners finalize them).
void ResetStatements(sqlite3* db) {
  for (sqlite3_stmt* st = sqlite3_next_stmt(db, nullptr); st; st = sqlite3_next_stmt(db, st)) {
    if (sqlite3_stmt_busy(st)) sqlite3_reset(st);
  }
}

}  // namespace

Transaction::~Transaction() {
  if (open_) {
    ResetStatements(db_.handle());
    (void)db_.Exec("ROLLBACK");
  }
}

Status Transaction::Commit() {
  if (!open_) return status_.ok() ? Status::Error("transaction already ended") : status_;
  ResetStatements(db_.handle());
  Status s = db_.Exec("COMMIT");
  if (s.ok()) {
    open_ = false;
  }
  return s;
}

}  // namespace runbook
