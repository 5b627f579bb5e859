#include "audit/audit_database.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include <sqlite3.h>

#include <charconv>
#include <filesystem>
#include <system_error>
#include <utility>

#include "audit/audit_time.h"
#include "audit/hash_chain.h"
#include "audit/sqlite_db.h"

namespace runbook {

namespace {

// Version 1. A new version gets a migration step in AuditDatabase::Initialize and a line in the
// version history of docs/audit.md.
constexpr const char* kSchema = R"sql(
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE runs (
  run_id         TEXT PRIMARY KEY,
  runbook        TEXT NOT NULL,
  runbook_path   TEXT NOT NULL,
  runbook_text   TEXT NOT NULL,
  runbook_sha256 TEXT NOT NULL,
  params         TEXT NOT NULL DEFAULT '{}',
  operator       TEXT NOT NULL,
  host           TEXT NOT NULL,
  pid            INTEGER NOT NULL,
  lock_key       TEXT NOT NULL,
  plan_id        TEXT,
  dry_run        INTEGER NOT NULL DEFAULT 0,
  started_at     TEXT NOT NULL,
  finished_at    TEXT,
  state          TEXT,
  exit_code      INTEGER
);
CREATE TABLE events (
  seq        INTEGER PRIMARY KEY,
  run_id     TEXT NOT NULL REFERENCES runs(run_id),
  ts         TEXT NOT NULL,
  event      TEXT NOT NULL,
  phase      TEXT NOT NULL,
  step       TEXT NOT NULL,
  from_state TEXT NOT NULL,
  to_state   TEXT NOT NULL,
  attempt    INTEGER NOT NULL,
  detail     TEXT NOT NULL,
  prev_hash  TEXT NOT NULL,
  hash       TEXT NOT NULL
);
CREATE INDEX events_by_run ON events(run_id, seq);
CREATE TABLE locks (
  lock_key    TEXT PRIMARY KEY,
  run_id      TEXT NOT NULL,
  pid         INTEGER NOT NULL,
  host        TEXT NOT NULL,
  pid_start   TEXT NOT NULL DEFAULT '',
  acquired_at TEXT NOT NULL
);
CREATE TABLE plans (
  plan_id      TEXT PRIMARY KEY,
  hash         TEXT NOT NULL,
  runbook      TEXT NOT NULL,
  runbook_path TEXT NOT NULL,
  runbook_text TEXT NOT NULL,
  params       TEXT NOT NULL DEFAULT '{}',
  requested_by TEXT NOT NULL,
  created_at   TEXT NOT NULL,
  status       TEXT NOT NULL,
  document     TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE approvals (
  id         INTEGER PRIMARY KEY,
  plan_id    TEXT NOT NULL REFERENCES plans(plan_id),
  approver   TEXT NOT NULL,
  decision   TEXT NOT NULL CHECK (decision IN ('approve', 'reject')),
  comment    TEXT NOT NULL DEFAULT '',
  signature  TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL
);
CREATE INDEX approvals_by_plan ON approvals(plan_id, id);
)sql";

// Indexes added to version 1 since (no table or column changes, so the same version; an
// older runbook keeps them up to date like any other): every open adds the missing ones.
// runs_by_start: a page of the newest runs (`runs --limit`, `runbook serve`) reads those
// rows only, not every run's row with its runbook text; runs_by_plan: a plan's runs.
constexpr const char* kLaterIndexes = R"sql(
CREATE INDEX IF NOT EXISTS runs_by_start ON runs(started_at);
CREATE INDEX IF NOT EXISTS runs_by_plan ON runs(plan_id);
)sql";

}  // namespace

AuditDatabase::AuditDatabase(std::unique_ptr<SqliteDb> db)
    : db_(std::move(db)),
      records_(*db_),
      writer_(records_, JournalPath(db_->path())),
      events_(*db_, mu_, writer_),
      locks_(*db_, mu_, writer_),
      plans_(*db_, mu_) {}

std::string AuditDatabase::JournalPath(const std::string& path) { return path + ".pending"; }

std::string AuditDatabase::restore_dir() const { return db_->path() + ".restore"; }

std::string AuditDatabase::location() const { return db_->path(); }

Status AuditDatabase::ReserveJournal() {
  std::lock_guard<std::mutex> lock(mu_);
  return writer_.Reserve();
}

ReplayReport AuditDatabase::ReplayJournal() {
  std::lock_guard<std::mutex> lock(mu_);
  return writer_.Replay();
}

Result<int> AuditDatabase::JournalRecords() {
  std::lock_guard<std::mutex> lock(mu_);
  return writer_.JournalRecords();
}

std::vector<std::string> AuditDatabase::FlushHeldRecords() {
  std::lock_guard<std::mutex> lock(mu_);
  return writer_.FlushHeld();
}

AuditDatabase::~AuditDatabase() = default;

Result<std::unique_ptr<AuditDatabase>> AuditDatabase::Open(const std::string& path,
                                                           const AuditDatabaseOptions& options) {
  if (path.empty()) return Status::Invalid("the audit database path is empty");
  std::error_code ec;
  std::filesystem::path file(path);
  if (file.has_parent_path()) {
    std::filesystem::create_directories(file.parent_path(), ec);
    if (ec) {
      return Status::IOError("cannot create folder " + file.parent_path().string() +
                             " for the audit database: " + ec.message());
    }
  }
  if (std::filesystem::is_directory(file, ec)) {
    return Status::Invalid("audit database " + path + " is a directory, not a file");
  }
  Result<std::unique_ptr<SqliteDb>> db = SqliteDb::Open(path);
  if (!db.ok()) return db.status();
  std::unique_ptr<AuditDatabase> opened(new AuditDatabase(std::move(db).value()));
  if (Status s = opened->Initialize(options); !s.ok()) return s;
  // Records that waited for the database (a full disk) go in first, before this command
  // reads or writes anything: at the latest the next command completes the record.
  opened->replay_ = opened->writer_.Replay();
  return opened;
}

Status AuditDatabase::Initialize(const AuditDatabaseOptions& options) {
  db_->SetBusyTimeout(options.busy_timeout);
  // journal_mode is persistent in the file; setting it also reads the header, so a file
  // that is not a database is reported here.
  // Switching a new file to WAL needs an exclusive lock, and SQLite does not call the busy
  // handler for it while another connection is creating the same file: retry here, within
  // the busy timeout, so that two commands started together on a new database both work.
  std::string mode;
  const auto deadline = std::chrono::steady_clock::now() + options.busy_timeout;
  for (int attempt = 0;; ++attempt) {
    Statement wal(*db_, "PRAGMA journal_mode=WAL");
    Result<bool> row = wal.Step();
    if (row.ok()) {
      mode = *row ? wal.Text(0) : "";
      break;
    }
    if (!row.status().IsBusy() || std::chrono::steady_clock::now() >= deadline)
      return row.status();
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(5 + attempt * 5, 50)));
  }
  Result<bool> row = true;
  if (mode != "wal") {
    return Status::Error("audit database " + db_->path() +
                         ": cannot switch to WAL mode (journal mode '" + mode + "')");
  }
  // A page cache of 512 KiB, not SQLite's 2 MiB: appends touch the last pages of the table
  // and its indexes, and scans read each page once, so a bigger cache only grows the
  // executor's memory (docs/performance.md). A checkpoint every 10,000 pages of WAL (40 MiB),
  // not 1,000: each one writes the pages back and syncs the database file, and a commit
  // writes some ten pages, so at SQLite's default a run spent a tenth of its local steps' wall
  // time in checkpoints, every hundred steps (docs/audit.md "Durability").
  if (Status s = db_->Exec("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; "
                           "PRAGMA cache_size=-512; PRAGMA wal_autocheckpoint=10000");
      !s.ok())
    return s;

  Transaction tx(*db_);
  if (!tx.status().ok()) return tx.status();
  Statement tables(*db_,
                   "SELECT count(*), sum(name = 'meta') FROM sqlite_master WHERE type = 'table'");
  row = tables.Step();
  if (!row.ok()) return row.status();
  const int64_t table_count = tables.Int(0);
  const bool has_meta = tables.Int(1) > 0;
  if (!has_meta) {
    if (table_count > 0) {
      return Status::Error("audit database " + db_->path() +
                           " is an SQLite database but not a runbook audit log (no meta table)");
    }
    if (Status s = db_->Exec(kSchema); !s.ok()) return s;
    if (Status s = db_->Exec(kLaterIndexes); !s.ok()) return s;
    // The chain starts empty: its head is event 0 with the genesis hash (event_log.cc).
    Statement meta(*db_, "INSERT INTO meta(key, value) VALUES(?, ?), (?, ?), (?, ?), (?, ?)");
    int column = 0;
    for (const auto& [key, value] :
         {std::pair<std::string, std::string>{"schema_version", std::to_string(kSchemaVersion)},
          {"chain_head_seq", "0"},
          {"chain_head_hash", std::string(kGenesisHash)},
          {"created_at", AuditTimeNow()}}) {
      meta.Bind(++column, key);
      meta.Bind(++column, value);
    }
    if (Status s = meta.Run(); !s.ok()) return s;
    return tx.Commit();
  }
  Statement version(*db_, "SELECT value FROM meta WHERE key = 'schema_version'");
  row = version.Step();
  if (!row.ok()) return row.status();
  std::string text = *row ? version.Text(0) : "";
  int found = 0;
  auto [end, err] = std::from_chars(text.data(), text.data() + text.size(), found);
  if (err != std::errc() || end != text.data() + text.size() || found < 1 ||
      found > kSchemaVersion) {
    return Status::Error("audit database " + db_->path() + " has schema version " +
                         (text.empty() ? "(none)" : text) + "; this runbook understands " +
                         std::to_string(kSchemaVersion));
  }
  // found < kSchemaVersion: migrations go here, in this transaction, one version at a time.
  if (Status s = db_->Exec(kLaterIndexes); !s.ok()) return s;
  return tx.Commit();
}

}  // namespace runbook
