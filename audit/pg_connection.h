// A thin RAII layer over libpq for the PostgreSQL audit store (pg_store.h): one connection,
// parameterised statements whose rows come back as text, transactions that run again when
// PostgreSQL aborts them for a serialization failure, a deadlock or a lost connection, and
// errors that say what failed, why, and of which kind (engine/status.h).
//
// Passwords. A URL may carry one (postgresql://user:secret@host/db, or ?password=secret);
// libpq uses it, but no message of this class contains it, and the URL it hands out is
// RedactPostgresUrl's. The way to give a password is libpq's own: PGPASSWORD, or a password
// file (~/.pgpass, PGPASSFILE).
//
// Not thread-safe by itself: the store serializes every use behind its mutex.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "engine/status.h"
#include "engine/utf8.h"

struct pg_conn;    // libpq's PGconn
struct pg_result;  // libpq's PGresult

namespace runbook {

/// Whether `text` is a PostgreSQL URL (`postgresql://...` or `postgres://...`) rather than
/// the path of an SQLite file.
bool IsPostgresUrl(std::string_view text);

/// `url` without its password: the `:password` of the user part and any `password=` query
/// parameter are dropped. What every message and log shows of a URL.
std::string RedactPostgresUrl(std::string_view url);

/// One parameter of a statement: text, an integer, a boolean, raw bytes (for a bytea column)
/// or NULL. Text is stored as ValidUtf8(text) (engine/utf8.h): PostgreSQL refuses invalid
/// UTF-8 in text, and the replacement is the one the hash chain's canonical JSON makes.
class PgValue {
 public:
  PgValue(std::nullptr_t) : null_(true) {}  // NOLINT: implicit by design, as all below
  PgValue(std::string_view text) : data_(ValidUtf8(text)) {}             // NOLINT
  PgValue(const std::string& text) : PgValue(std::string_view(text)) {}  // NOLINT
  PgValue(const char* text) : PgValue(std::string_view(text)) {}         // NOLINT
  PgValue(int64_t value) : data_(std::to_string(value)) {}               // NOLINT
  PgValue(int value) : data_(std::to_string(value)) {}                   // NOLINT
  PgValue(bool value) : data_(value ? "true" : "false") {}               // NOLINT
  /// `bytes` as they are, sent in binary (for a bytea column).
  static PgValue Bytes(std::string_view bytes) {
    PgValue v(nullptr);
    v.null_ = false;
    v.binary_ = true;
    v.data_ = std::string(bytes);
    return v;
  }
  /// `text`, or NULL when it is empty.
  static PgValue TextOrNull(std::string_view text) {
    return text.empty() ? PgValue(nullptr) : PgValue(text);
  }

  bool null() const { return null_; }
  bool binary() const { return binary_; }
  const std::string& data() const { return data_; }

 private:
  bool null_ = false;
  bool binary_ = false;
  std::string data_;
};

/// The rows a statement returned, as text. Row and column indexes count from 0.
class PgRows {
 public:
  explicit PgRows(pg_result* result);
  int size() const;
  bool empty() const { return size() == 0; }
  std::string Text(int row, int column) const;
  /// Text(row, column) without a copy: valid as long as these rows.
  std::string_view TextView(int row, int column) const;
  int64_t Int(int row, int column) const;
  bool Bool(int row, int column) const;
  bool IsNull(int row, int column) const;
  /// A bytea column's bytes.
  std::string Bytes(int row, int column) const;
  /// The command tag: "INSERT 0 1", "COMMIT", "ROLLBACK", ...
  std::string command() const;
  /// How many rows an INSERT, UPDATE or DELETE touched.
  int64_t affected() const;

 private:
  struct Clear {
    void operator()(pg_result* result) const;
  };
  std::unique_ptr<pg_result, Clear> result_;
};

/// How a transaction sees the data of others.
enum class PgIsolation {
  kReadCommitted,  // each statement sees what was committed before it; row locks wait
  kSnapshot,       // REPEATABLE READ READ ONLY: every statement sees one snapshot
  kSerializable,   // as if transactions ran one at a time; conflicts abort one of them
};

/// How PgConnection::Connect sets up its connection.
struct PgConnectOptions {
  /// How long a statement waits for a lock another session holds (lock_timeout), and how long
  /// a transaction is tried again after serialization failures, before it fails with kBusy.
  std::chrono::milliseconds busy_timeout{10000};
  /// How long connecting may take (libpq's connect_timeout; the URL's own setting wins).
  std::chrono::seconds connect_timeout{10};
};

/// One open libpq connection. Owns it; closes it on destruction.
///
/// Every session starts with synchronous_commit=on, whatever the server or role says, so that
/// a COMMIT has reached the server's disk (and its synchronous standbys) when it returns; with
/// TimeZone UTC; with lock_timeout set to the busy timeout; and with notices silenced (libpq
/// would print them on stderr).
///
/// Errors: kIOError when the server cannot be reached or the connection was lost, for a full
/// disk or an I/O error on the server; kBusy when a lock stayed held past the busy timeout,
/// serialization failures went on past it, or the server is starting up, shutting down or out
/// of connection slots; kCorruption for damaged data on the server; kInvalid for a value the
/// server refuses (a NUL byte in text); kRefused for a statement the role has no grant for or
/// the append-only triggers refuse (pg_append_only.h); kFailed otherwise (a unique key taken, say:
/// last_sqlstate() tells which).
class PgConnection {
 public:
  /// Connects to `url` (IsPostgresUrl; kInvalid otherwise). Messages name the URL without
  /// its password.
  static Result<std::unique_ptr<PgConnection>> Connect(const std::string& url,
                                                       const PgConnectOptions& options = {});
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  /// The URL without its password.
  const std::string& url() const { return url_; }

  /// Runs one statement with `$1, $2, ...` bound to `params`. Outside a transaction it first
  /// reconnects a connection that was lost.
  Result<PgRows> Exec(std::string_view sql, const std::vector<PgValue>& params = {});
  /// Runs several statements without parameters (the schema).
  Status ExecScript(std::string_view sql);

  /// Runs `body` (which returns Status or Result<T>) in one transaction and commits it when
  /// the body succeeds; rolls back when it fails. When PostgreSQL aborts the transaction for
  /// a serialization failure or a deadlock, or the connection is lost before COMMIT was sent,
  /// the body runs again (reconnected, after a short random pause) until the busy timeout has
  /// passed. So the body must start from scratch each time: read what it needs inside, keep
  /// no results of an earlier try. A connection lost during COMMIT is not retried: whether
  /// the transaction committed is unknown, and the error (kIOError) says so.
  template <typename F>
  auto Transact(PgIsolation isolation, F&& body) -> decltype(body());

  /// The SQLSTATE of the last statement's error ("" after success or for a lost connection),
  /// e.g. "23505" for a unique violation.
  const std::string& last_sqlstate() const { return last_sqlstate_; }

 private:
  PgConnection(pg_conn* conn, std::string url, const PgConnectOptions& options)
      : conn_(conn), url_(std::move(url)), options_(options) {}

  Status SetUpSession();
  Status Reconnect();
  Status RunTransaction(PgIsolation isolation, const std::function<Status()>& body);
  // The error of a failed statement `what` (its SQL) with libpq result `result` (may be null).
  Status Error(std::string_view what, pg_result* result);

  static Status StatusOf(const Status& s) { return s; }
  template <typename T>
  static Status StatusOf(const Result<T>& r) {
    return r.status();
  }

  pg_conn* conn_;
  std::string url_;
  PgConnectOptions options_;
  std::string last_sqlstate_;
  bool in_transaction_ = false;
  bool connection_lost_ = false;  // the last error was a lost connection
  bool broken_ = false;           // the session is gone: make it again before the next statement
  // The server could not be reached when the session was last made again: until
  // next_connect_, statements fail at once rather than each waiting to connect (a run whose
  // store is out of reach writes to its journal without a pause per record).
  bool cannot_connect_ = false;
  std::chrono::steady_clock::time_point next_connect_{};
  std::string last_connect_error_;
};

template <typename F>
auto PgConnection::Transact(PgIsolation isolation, F&& body) -> decltype(body()) {
  using R = decltype(body());
  std::optional<R> out;
  Status s = RunTransaction(isolation, [&]() -> Status {
    out.reset();
    out.emplace(body());
    return StatusOf(*out);
  });
  if (!s.ok()) return s;
  return std::move(*out);
}

}  // namespace runbook
