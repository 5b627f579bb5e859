// A thin RAII layer over the SQLite C API for the audit database: one connection, prepared
// statements, immediate transactions, and errors that say what failed, why, and of which kind
// (busy, corruption, I/O: engine/status.h).
// Not thread-safe by itself: AuditDatabase serializes every use behind its mutex.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "engine/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace runbook {

/// One open SQLite connection. Owns the handle; closes it on destruction.
class SqliteDb {
 public:
  /// Opens (creating when missing) the database file at `path`. Reads nothing yet: a file that
  /// is not a database is only noticed by the first statement. kIOError when the file cannot
  /// be opened.
  static Result<std::unique_ptr<SqliteDb>> Open(const std::string& path);
  /// Opens the existing database file at `path` for reading only: a second connection beside
  /// the one that writes, for a check that runs in a thread of its own. kIOError when it
  /// cannot be opened (it is never created).
  static Result<std::unique_ptr<SqliteDb>> OpenForReading(const std::string& path);
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  sqlite3* handle() const { return db_; }
  const std::string& path() const { return path_; }

  /// How long a statement waits for another connection's lock before it fails as busy.
  void SetBusyTimeout(std::chrono::milliseconds timeout);
  std::chrono::milliseconds busy_timeout() const { return busy_timeout_; }

  /// Runs one or more statements that return no rows.
  Status Exec(std::string_view sql);
  /// The error for result code `rc` of the connection's last call: "audit database PATH:
  /// WHAT: reason", or, when the file itself is bad, "audit database PATH is not an SQLite
  /// database" / "audit database PATH is corrupt or truncated (reason)". Its kind follows
  /// `rc`: busy or locked kBusy; not a database or corrupt kCorruption; full, I/O error,
  /// cannot open or read-only kIOError; anything else kFailed.
  Status Error(std::string_view what, int rc) const;

  /// A prepared statement for `sql`: one the connection kept from an earlier use, else a new
  /// one (nullptr, with the result code in `*rc`, when it cannot be prepared). Statement
  /// does this; give it back with Release.
  sqlite3_stmt* Acquire(const std::string& sql, int* rc);
  /// Resets `stmt` and keeps it for the next Acquire of `sql` (up to kKeptStatements),
  /// else finalizes it.
  void Release(const std::string& sql, sqlite3_stmt* stmt);

 private:
  static constexpr size_t kKeptStatements = 64;

  SqliteDb(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  static Result<std::unique_ptr<SqliteDb>> OpenWithFlags(const std::string& path, int flags);

  sqlite3* db_;
  std::string path_;
  // Statements are prepared once per connection: an append runs the same few each time.
  std::map<std::string, sqlite3_stmt*, std::less<>> kept_;
  std::chrono::milliseconds busy_timeout_{0};
};

/// A prepared statement, from the connection's kept ones (SqliteDb::Acquire) and given back
/// when destroyed. Bind indexes count from 1, column indexes from 0.
class Statement {
 public:
  Statement(SqliteDb& db, std::string_view sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  /// Whether preparing succeeded; Step() reports the error otherwise.
  bool prepared() const { return stmt_ != nullptr; }

  void Bind(int index, std::string_view text);
  void Bind(int index, int64_t value);
  void BindNull(int index);
  /// Binds `text`, or NULL when it is empty.
  void BindOrNull(int index, std::string_view text);

  /// Advances: true when a row is ready, false when done, an error otherwise.
  Result<bool> Step();
  /// Back to before the first row, to run again; bindings stay until bound again.
  void Reset();
  /// Step() for statements that return no row.
  Status Run();

  std::string Text(int column) const;
  /// Text(column) without a copy: valid until the statement steps again or is reset.
  std::string_view TextView(int column) const;
  int64_t Int(int column) const;
  bool IsNull(int column) const;
  bool IsInteger(int column) const;

 private:
  SqliteDb& db_;
  std::string sql_;
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = 0;
};

/// A transaction, rolled back on destruction unless committed. kWrite is BEGIN IMMEDIATE: it
/// takes the database's write lock at once (waiting up to the busy timeout), so that a
/// read-then-write inside it cannot race another connection. kRead is a plain BEGIN: its
/// reads see one snapshot.
class Transaction {
 public:
  enum class Kind { kRead, kWrite };
  explicit Transaction(SqliteDb& db, Kind kind = Kind::kWrite);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  /// The outcome of BEGIN.
  const Status& status() const { return status_; }
  Status Commit();

 private:
  SqliteDb& db_;
  Status status_;
  bool open_ = false;
};

}  // namespace runbook
