// The SQLite audit database (SPEC §3; schema, event names and hash formula in docs/audit.md).
//
// One file holds the runs and their events as one hash chain across the whole database
// (event_log.h), the run locks (lock_table.h), and the plans with their approvals
// (plan_store.h). AuditDatabase opens the file, creates or checks its schema, and owns the one
// connection the three parts share. The database runs in WAL mode with synchronous=FULL, and
// every write is one BEGIN IMMEDIATE transaction, so several processes can share one file.
//
// Events, run ends and lock releases that cannot be written (a full disk) wait, durable, in a
// journal beside the file (audit_writer.h, journal_file.h); Open writes them into the
// database, so the next command that opens it completes the record.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "audit/audit_writer.h"
#include "audit/event_log.h"
#include "audit/lock_table.h"
#include "audit/plan_store.h"
#include "audit/store.h"
#include "engine/status.h"

namespace runbook {

class SqliteDb;

/// How AuditDatabase::Open sets up its connection.
struct AuditDatabaseOptions {
  /// How long a statement waits for another process's lock on the file before it fails with
  /// kBusy.
  std::chrono::milliseconds busy_timeout{10000};
};

/// The audit database: one SQLite connection to the file given to Open(), and the three views
/// of it: events(), locks(), plans(). Each part is usable as long as the AuditDatabase lives.
///
/// Thread-safety: the parts share one mutex, so threads may use any of them at once (an SSH
/// runner thread records through the executor while the main thread does too). Processes
/// share the database through SQLite's own locking, waiting up to the busy timeout.
class AuditDatabase : public AuditStore {
 public:
  /// The schema version this code writes and reads. Older versions are migrated on Open;
  /// newer ones are refused.
  static constexpr int kSchemaVersion = 1;

  /// Opens the database at `path`, creating the file and its parent folder when missing, and
  /// writes into it whatever waits in its journal (journal_replay() says what happened; the
  /// database opens even when the journal cannot be written yet). Errors: the file is not an SQLite
  /// database or is corrupt (kCorruption), another process kept it locked (kBusy), the folder or
  /// file cannot be made or opened (kIOError), or it has a schema version this code does not know
  /// ("audit database PATH has schema version N; this runbook understands M").
  static Result<std::unique_ptr<AuditDatabase>> Open(const std::string& path,
                                                     const AuditDatabaseOptions& options = {});
  ~AuditDatabase() override;
  AuditDatabase(const AuditDatabase&) = delete;
  AuditDatabase& operator=(const AuditDatabase&) = delete;

  /// The runs and the hash chain of their events; the engine's AuditSink.
  EventLog& events() override { return events_; }
  /// The run locks.
  LockTable& locks() override { return locks_; }
  /// The plans and their approvals.
  SqlitePlanStore& plans() override { return plans_; }

  /// The journal file of records that wait for the database: `PATH.pending`.
  static std::string JournalPath(const std::string& path);
  /// Where runs keep what must not enter the log but a rollback needs (a Secret's earlier
  /// form, steps/kubectl_history.h): `PATH.restore`, a folder per run.
  std::string restore_dir() const override;
  /// The file's path.
  std::string location() const override;
  const std::string& journal_path() const override { return writer_.journal_path(); }
  /// What Open did with the journal: records written, warnings, why some are still waiting.
  const ReplayReport& journal_replay() const override { return replay_; }
  /// Makes sure the journal has room set aside for a run's records once the disk is full
  /// (AuditWriter::Reserve). A run calls it after taking its lock.
  Status ReserveJournal() override;
  /// Writes what waits in the journal into the database now (as Open does).
  ReplayReport ReplayJournal() override;
  /// How many records wait in the journal.
  Result<int> JournalRecords() override;
  /// The records that could be written neither to the database nor to the journal and are
  /// still held in memory after one more try, as JSON lines: a command prints them before it
  /// exits, so that they are not lost.
  std::vector<std::string> FlushHeldRecords() override;

 private:
  explicit AuditDatabase(std::unique_ptr<SqliteDb> db);
  Status Initialize(const AuditDatabaseOptions& options);

  std::mutex mu_;
  std::unique_ptr<SqliteDb> db_;
  SqliteRecords records_;
  AuditWriter writer_;
  ReplayReport replay_;
  EventLog events_;
  LockTable locks_;
  SqlitePlanStore plans_;
};

}  // namespace runbook
