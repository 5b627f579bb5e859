// The audit store on PostgreSQL (SPEC §6 "A team shares one store"; docs/audit.md
// "PostgreSQL"): the same runs, events and hash chain, run locks, plans and approvals as the
// SQLite audit database (audit_database.h), in one PostgreSQL database that executors on
// several machines share.
//
// PgAuditDatabase connects, creates the schema on first use (or checks its version), and owns
// the one connection and the mutex its three parts share: PgEventLog (pg_event_log.h),
// PgLockTable (pg_lock_table.h) and PgPlanStore (pg_plan_store.h), each with the methods of
// its SQLite counterpart. Events hash exactly as in SQLite (hash_chain.h), so a log copied from
// one store to the other verifies on both.
//
// The schema (version 1; docs/audit.md has it with the reasons) is the SQLite one with
// PostgreSQL types, plus: `row_order` identity columns for SQLite's rowid order, runbook texts
// as bytea (byte for byte, as their sha256 covers them), a unique events.prev_hash, and the
// lock rows' `pid_scope` and `heartbeat_at`; and triggers that keep the log append-only
// (pg_append_only.h).
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "audit/pg_event_log.h"
#include "audit/pg_lock_table.h"
#include "audit/audit_writer.h"  // ReplayReport
#include "audit/pg_plan_store.h"
#include "audit/store.h"
#include "engine/status.h"

namespace runbook {

class PgConnection;

/// How PgAuditDatabase::Open sets up its store.
struct PgStoreOptions {
  /// How long a statement waits for a lock another session holds, and how long transactions
  /// are tried again after serialization failures, before failing with kBusy (SQLite's busy
  /// timeout).
  std::chrono::milliseconds busy_timeout{10000};
  /// How old a lock's heartbeat may grow before a holder that cannot be checked from here is
  /// taken for dead (pg_lock_table.h).
  std::chrono::milliseconds lock_expiry{30000};
  /// How long connecting may take.
  std::chrono::seconds connect_timeout{10};
  /// This machine's folder for what a run keeps locally (restore_dir()) and for the journal
  /// of records the server could not take (journal_path()): the per-user state folder,
  /// ~/.local/state/runbook, when empty.
  std::string state_dir;
};

/// The audit store in the PostgreSQL database at a URL, and the three views of it: events(),
/// locks(), plans(). Each part is usable as long as the PgAuditDatabase lives.
///
/// Thread-safety: the parts share one mutex (and one connection), so threads may use any of
/// them at once. Processes on any machine share the database through PostgreSQL's own locks.
class PgAuditDatabase : public AuditStore {
 public:
  /// The schema version this code writes and reads. Older versions are migrated on Open;
  /// newer ones are refused.
  static constexpr int kSchemaVersion = 1;

  /// Connects to `url` (postgresql://...), creating the schema when the database has none of
  /// its tables; several processes opening a new database at once create it once. Errors:
  /// those of PgConnection::Connect; a database that has some of these tables but no `meta`
  /// ("... is a PostgreSQL database but not a runbook audit log"); a schema version this code
  /// does not know. Messages name the URL without its password.
  static Result<std::unique_ptr<PgAuditDatabase>> Open(const std::string& url,
                                                       const PgStoreOptions& options = {});
  ~PgAuditDatabase() override;
  PgAuditDatabase(const PgAuditDatabase&) = delete;
  PgAuditDatabase& operator=(const PgAuditDatabase&) = delete;

  /// The runs and the hash chain of their events; the engine's AuditSink.
  PgEventLog& events() override { return events_; }
  /// The run locks.
  PgLockTable& locks() override { return locks_; }
  /// The plans and their approvals.
  PgPlanStore& plans() override { return plans_; }

  /// The URL without its password: what messages and logs show.
  const std::string& url() const;
  std::string location() const override { return url(); }
  /// STATE_DIR/restore: kept objects stay on the machine that ran the step.
  std::string restore_dir() const override { return state_dir_ + "/restore"; }

  /// Records the server could not take (it could not be reached, its disk was full) wait,
  /// durable, in a journal on this machine: STATE_DIR/journal/ID.pending, where ID is made
  /// from the URL (without its password), so that each store has its own. Open writes what
  /// it holds into the store, as for SQLite (audit_writer.h).
  const std::string& journal_path() const override { return writer_.journal_path(); }
  const ReplayReport& journal_replay() const override { return replay_; }
  Status ReserveJournal() override;
  ReplayReport ReplayJournal() override;
  Result<int> JournalRecords() override;
  std::vector<std::string> FlushHeldRecords() override;

  /// The journal's path for the store at `url` (shown without its password) under
  /// `state_dir`.
  static std::string JournalPath(const std::string& state_dir, const std::string& url);

 private:
  PgAuditDatabase(std::unique_ptr<PgConnection> conn, const PgStoreOptions& options);
  Status Initialize();

  std::mutex mu_;
  std::unique_ptr<PgConnection> conn_;
  std::string state_dir_;
  PgRecords records_;
  AuditWriter writer_;
  ReplayReport replay_;
  PgEventLog events_;
  PgLockTable locks_;
  PgPlanStore plans_;
};

}  // namespace runbook
