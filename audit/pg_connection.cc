#include "audit/pg_connection.h"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "audit/pg_append_only.h"
#include "audit/pq_api.h"

namespace runbook {

namespace {

// libpq's functions: PgConnection::Connect has loaded them before a connection or a result
// exists, and everything else here works on one of those.
const PqApi& LibPq() { return **Pq(); }

// After the server could not be reached, how long statements fail at once before the next
// attempt to connect.
constexpr std::chrono::milliseconds kConnectPause{1000};
// How long a transaction waits for a server that has just gone out of reach (a restart)
// before it fails.
constexpr std::chrono::milliseconds kReachGrace{2000};

// SQLSTATEs that mean "PostgreSQL rolled the transaction back; running it again may work".
bool Retryable(const std::string& sqlstate) {
  return sqlstate == "40001"      // serialization_failure
         || sqlstate == "40P01";  // deadlock_detected
}

// The kind of error that SQLSTATE `state` names (PostgreSQL manual, appendix A).
StatusKind KindOf(const std::string& state) {
  if (state.empty()) return StatusKind::kFailed;
  if (Retryable(state)) return StatusKind::kBusy;
  if (state == "55P03"        // lock_not_available: lock_timeout passed
      || state == "57014"     // query_canceled (statement_timeout)
      || state == "53300"     // too_many_connections
      || state == "57P03") {  // cannot_connect_now: starting up, shutting down
    return StatusKind::kBusy;
  }
  if (state == "XX001" || state == "XX002") return StatusKind::kCorruption;  // data, index
  const std::string cls = state.substr(0, 2);
  if (cls == "08"                              // connection exception
      || cls == "53"                           // insufficient resources: disk full, out of memory
      || cls == "58"                           // system error: I/O error
      || state == "57P01" || state == "57P02"  // the server is shutting down, crashed
      || state == "25006") {                   // read_only_sql_transaction: a standby
    return StatusKind::kIOError;
  }
  if (cls == "22") return StatusKind::kInvalid;  // data exception: a value it refuses
  // A rule said no: the role lacks a grant, or the append-only triggers refuse a change
  // (pg_append_only.h).
  if (state == "42501" || state == kAppendOnlySqlstate) return StatusKind::kRefused;
  return StatusKind::kFailed;
}

// Why connecting failed, as libpq says it (no SQLSTATE then): a server that is there but
// cannot take us now is busy; one that cannot be reached is an I/O error; anything else
// (authentication, an unknown database or role) is a failure of its own.
StatusKind ConnectFailureKind(const std::string& message) {
  for (const char* busy : {"too many clients", "remaining connection slots", "starting up",
                           "shutting down", "in recovery mode"}) {
    if (message.find(busy) != std::string::npos) return StatusKind::kBusy;
  }
  for (const char* failed : {"authentication failed", "no password supplied", "does not exist",
                             "not permitted", "permission denied", "pg_hba.conf"}) {
    if (message.find(failed) != std::string::npos) return StatusKind::kFailed;
  }
  return StatusKind::kIOError;
}

// libpq's messages on one line: "connection to server ... failed: Connection refused\n\tIs
// the server running ...?\n" becomes "... failed: Connection refused; Is the server ...?".
std::string OneLine(std::string_view text) {
  std::string out;
  bool gap = false;
  for (char c : text) {
    if (c == '\n' || c == '\r' || c == '\t') {
      gap = true;
      continue;
    }
    if (gap && !out.empty()) out += out.back() == '.' || out.back() == ':' ? " " : "; ";
    gap = false;
    out += c;
  }
  return out;
}

// The statement a message names: its SQL on one line, cut where it grows long.
std::string Describe(std::string_view sql) {
  std::string text;
  for (char c : sql) {
    if (c == '\n' || c == '\t') c = ' ';
    if (c == ' ' && (text.empty() || text.back() == ' ')) continue;
    text += c;
  }
  while (!text.empty() && text.back() == ' ') text.pop_back();
  if (text.size() > 80) text = text.substr(0, 77) + "...";
  return text;
}

void IgnoreNotice(void*, const char*) {}

}  // namespace

bool IsPostgresUrl(std::string_view text) {
  return text.rfind("postgresql://", 0) == 0 || text.rfind("postgres://", 0) == 0;
}

std::string RedactPostgresUrl(std::string_view url) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::string(url);
  const size_t start = scheme_end + 3;
  std::string out(url.substr(0, start));
  // libpq reads user credentials up to the first '@' that comes before any '/'.
  size_t at = start;
  while (at < url.size() && url[at] != '@' && url[at] != '/') ++at;
  size_t rest = start;
  if (at < url.size() && url[at] == '@') {
    std::string_view userinfo = url.substr(start, at - start);
    out += userinfo.substr(0, userinfo.find(':'));
    out += '@';
    rest = at + 1;
  }
  std::string_view tail = url.substr(rest);
  const size_t query = tail.find('?');
  out += tail.substr(0, query);
  if (query == std::string_view::npos) return out;
  std::string kept;
  std::string_view params = tail.substr(query + 1);
  while (!params.empty()) {
    const size_t amp = params.find('&');
    std::string_view param = params.substr(0, amp);
    if (param.substr(0, param.find('=')) != "password" && !param.empty()) {
      kept += (kept.empty() ? "" : "&") + std::string(param);
    }
    if (amp == std::string_view::npos) break;
    params.remove_prefix(amp + 1);
  }
  if (!kept.empty()) out += "?" + kept;
  return out;
}

// ---- PgRows

void PgRows::Clear::operator()(pg_result* result) const { LibPq().clear(result); }

PgRows::PgRows(pg_result* result) : result_(result) {}

int PgRows::size() const { return LibPq().ntuples(result_.get()); }

std::string PgRows::Text(int row, int column) const { return std::string(TextView(row, column)); }

std::string_view PgRows::TextView(int row, int column) const {
  if (row >= size() || LibPq().getisnull(result_.get(), row, column)) return {};
  return std::string_view(LibPq().getvalue(result_.get(), row, column),
                          static_cast<size_t>(LibPq().getlength(result_.get(), row, column)));
}

int64_t PgRows::Int(int row, int column) const {
  const std::string_view text = TextView(row, column);
  int64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

bool PgRows::Bool(int row, int column) const { return Text(row, column) == "t"; }

bool PgRows::IsNull(int row, int column) const {
  return row >= size() || LibPq().getisnull(result_.get(), row, column);
}

std::string PgRows::Bytes(int row, int column) const {
  if (IsNull(row, column)) return "";
  size_t length = 0;
  unsigned char* bytes = LibPq().unescapeBytea(
      reinterpret_cast<const unsigned char*>(LibPq().getvalue(result_.get(), row, column)),
      &length);
  if (bytes == nullptr) return "";
  std::string out(reinterpret_cast<const char*>(bytes), length);
  LibPq().freemem(bytes);
  return out;
}

std::string PgRows::command() const {
  const char* status = LibPq().cmdStatus(result_.get());
  return status ? status : "";
}

int64_t PgRows::affected() const {
  const char* text = LibPq().cmdTuples(result_.get());
  int64_t value = 0;
  std::from_chars(text, text + std::char_traits<char>::length(text), value);
  return value;
}

// ---- PgConnection

Result<std::unique_ptr<PgConnection>> PgConnection::Connect(const std::string& url,
                                                            const PgConnectOptions& options) {
  const std::string shown = RedactPostgresUrl(url);
  if (!IsPostgresUrl(url)) {
    return Status::Invalid("'" + shown + "' is not a PostgreSQL URL (postgresql://...)");
  }
  // The URL comes last, so that what it says (its own connect_timeout, say) wins.
  const std::string timeout =
      std::to_string(std::max<long long>(1, options.connect_timeout.count()));
  const char* keywords[] = {"connect_timeout", "fallback_application_name", "dbname", nullptr};
  const char* values[] = {timeout.c_str(), "runbook", url.c_str(), nullptr};
  Result<const PqApi*> pq = Pq();
  if (!pq.ok()) return Status::IOError("cannot open audit database " + shown + ": " + pq.message());
  PGconn* conn = LibPq().connectdbParams(keywords, values, /*expand_dbname=*/1);
  if (conn == nullptr)
    return Status::IOError("cannot connect to audit database " + shown + ": out of memory");
  std::unique_ptr<PgConnection> c(new PgConnection(conn, shown, options));
  LibPq().setNoticeProcessor(conn, IgnoreNotice, nullptr);
  if (LibPq().status(conn) != CONNECTION_OK) {
    const std::string reason = OneLine(LibPq().errorMessage(conn));
    return Status::OfKind(ConnectFailureKind(reason),
                          "cannot connect to audit database " + shown + ": " + reason);
  }
  if (LibPq().serverVersion(conn) < 100000) {
    return Status::Error("audit database " + shown + ": PostgreSQL " +
                         std::to_string(LibPq().serverVersion(conn) / 10000) +
                         " is too old; runbook needs version 10 or newer");
  }
  if (Status s = c->SetUpSession(); !s.ok()) return s;
  return c;
}

PgConnection::~PgConnection() { LibPq().finish(conn_); }

Status PgConnection::SetUpSession() {
  const std::string sql =
      "SET synchronous_commit = on; SET TimeZone = 'UTC'; SET client_min_messages = warning; "
      "SET lock_timeout = '" +
      std::to_string(options_.busy_timeout.count()) + "ms'";
  return ExecScript(sql);
}

Status PgConnection::Reconnect() {
  const auto now = std::chrono::steady_clock::now();
  if (cannot_connect_ && now < next_connect_) {
    connection_lost_ = true;
    return Status::IOError("audit database " + url_ + ": the server cannot be reached (" +
                           last_connect_error_ + "; tried again in a moment)");
  }
  LibPq().reset(conn_);
  if (LibPq().status(conn_) != CONNECTION_OK) {
    connection_lost_ = true;
    cannot_connect_ = true;
    next_connect_ = std::chrono::steady_clock::now() + kConnectPause;
    const std::string reason = OneLine(LibPq().errorMessage(conn_));
    last_connect_error_ = reason;
    return Status::OfKind(ConnectFailureKind(reason), "audit database " + url_ +
                                                          ": the connection was lost and "
                                                          "cannot be made again: " +
                                                          reason);
  }
  LibPq().setNoticeProcessor(conn_, IgnoreNotice, nullptr);
  broken_ = false;
  cannot_connect_ = false;
  return SetUpSession();
}

Status PgConnection::Error(std::string_view what, pg_result* result) {
  const char* state = result ? LibPq().resultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  last_sqlstate_ = state ? state : "";
  std::string reason;
  if (const char* primary =
          result ? LibPq().resultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr) {
    reason = primary;
  } else {
    reason = OneLine(LibPq().errorMessage(conn_));
  }
  // The server ends a session it terminates with an error (57P01) before libpq notices
  // that the socket is closed.
  connection_lost_ = LibPq().status(conn_) != CONNECTION_OK || last_sqlstate_.rfind("08", 0) == 0 ||
                     last_sqlstate_ == "57P01" || last_sqlstate_ == "57P02";
  if (connection_lost_) {
    broken_ = true;
    last_sqlstate_.clear();
    return Status::IOError("audit database " + url_ + ": " + Describe(what) +
                           ": the connection to the server was lost (" + reason + ")");
  }
  if (KindOf(last_sqlstate_) == StatusKind::kBusy && !Retryable(last_sqlstate_)) {
    reason = "the database stayed locked by another session (" + reason + ")";
  }
  return Status::OfKind(KindOf(last_sqlstate_),
                        "audit database " + url_ + ": " + Describe(what) + ": " + reason);
}

Result<PgRows> PgConnection::Exec(std::string_view sql, const std::vector<PgValue>& params) {
  last_sqlstate_.clear();
  connection_lost_ = false;
  if (!in_transaction_ && (broken_ || LibPq().status(conn_) != CONNECTION_OK)) {
    if (Status s = Reconnect(); !s.ok()) return s;  // sets connection_lost_
  }
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats;
  for (const PgValue& p : params) {
    if (!p.binary() && p.data().find('\0') != std::string::npos) {
      return Status::Invalid("audit database " + url_ + ": " + Describe(sql) +
                             ": a value holds a NUL byte, which PostgreSQL text cannot store");
    }
    values.push_back(p.null() ? nullptr : p.data().c_str());
    lengths.push_back(static_cast<int>(p.data().size()));
    formats.push_back(p.binary() ? 1 : 0);
  }
  const std::string text(sql);
  PGresult* result =
      LibPq().execParams(conn_, text.c_str(), static_cast<int>(params.size()), nullptr,
                         values.data(), lengths.data(), formats.data(), /*text=*/0);
  PgRows rows(result);
  const ExecStatusType status = result ? LibPq().resultStatus(result) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) return Error(sql, result);
  return rows;
}

Status PgConnection::ExecScript(std::string_view sql) {
  last_sqlstate_.clear();
  connection_lost_ = false;
  const std::string text(sql);
  PGresult* result = LibPq().exec(conn_, text.c_str());
  PgRows rows(result);
  const ExecStatusType status = result ? LibPq().resultStatus(result) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) return Error(sql, result);
  return Status::Ok();
}

Status PgConnection::RunTransaction(PgIsolation isolation, const std::function<Status()>& body) {
  if (in_transaction_) {
    return Status::Error("audit database " + url_ + ": a transaction inside a transaction");
  }
  const char* begin = "BEGIN ISOLATION LEVEL READ COMMITTED";
  switch (isolation) {
    case PgIsolation::kReadCommitted:
      break;
    case PgIsolation::kSnapshot:
      begin = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
      break;
    case PgIsolation::kSerializable:
      begin = "BEGIN ISOLATION LEVEL SERIALIZABLE";
      break;
  }
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + options_.busy_timeout;
  // A server that cannot be reached is waited for a little (a restart), and not at all when
  // it could not be reached before this transaction either.
  const auto reach_deadline = cannot_connect_ ? start : start + kReachGrace;
  std::minstd_rand jitter(std::random_device{}());
  for (int attempt = 1;; ++attempt) {
    Status s = Exec(begin).status();
    bool committing = false;
    if (s.ok()) {
      // Until COMMIT has answered, a lost connection must not be made again behind the
      // body's back: a new session would run the rest outside the transaction.
      in_transaction_ = true;
      s = body();
      if (s.ok()) {
        committing = true;
        Result<PgRows> commit = Exec("COMMIT");
        s = commit.status();
        // COMMIT of a transaction that an error aborted (one the body ignored) answers
        // ROLLBACK, without an error. A read-only body loses nothing by it (Verify reports
        // damaged data it could not read as its outcome).
        if (s.ok() && commit->command() == "ROLLBACK" && isolation != PgIsolation::kSnapshot) {
          s = Status::Error("audit database " + url_ +
                            ": the transaction failed and was rolled back");
        }
      }
      in_transaction_ = false;
    }
    if (s.ok()) return s;
    const std::string sqlstate = last_sqlstate_;
    const bool lost = connection_lost_;
    if (!lost) (void)ExecScript("ROLLBACK");  // after COMMIT failed: a warning, no harm
    if (lost && committing) {
      return Status::IOError(s.message() + "; whether the transaction was committed is unknown");
    }
    const bool again = lost || Retryable(sqlstate);
    if (!again) return s;
    if (lost && cannot_connect_ && std::chrono::steady_clock::now() >= reach_deadline) return s;
    if (lost && cannot_connect_) {
      std::this_thread::sleep_until(std::min(next_connect_, reach_deadline));
      continue;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::OfKind(
          lost ? StatusKind::kIOError : StatusKind::kBusy,
          s.message() + " (gave up after " + std::to_string(attempt) + " attempts)");
    }
    // Concurrent writers that collided back off for a random while, so that they do not
    // collide again in step.
    const int cap = std::min(100, 2 << std::min(attempt, 6));
    std::this_thread::sleep_for(std::chrono::milliseconds(1 + jitter() % cap));
    // A lost connection is made again by the next BEGIN.
  }
}

}  // namespace runbook
