// The event log on PostgreSQL (SPEC §6; docs/audit.md "PostgreSQL"): the same runs, events
// and hash chain as EventLog (event_log.h) keeps in SQLite, with the same methods, hashes and
// verification, for executors on several machines that share one log.
//
// Several processes append to one chain. Each append is one READ COMMITTED transaction that
// first locks the chain head (the two `meta` rows chain_head_seq and chain_head_hash, SELECT
// ... FOR UPDATE), so appends from every session serialize on that row lock: the second waits
// until the first commits, then reads the head the first wrote. The events table backs this
// up with a unique prev_hash, so that even a writer that skipped the lock could not fork the
// chain. Write-ahead holds as in SQLite: Append returns after COMMIT, and the session runs
// with synchronous_commit=on (pg_connection.h).
//
// Events and run ends go through the AuditWriter (audit_writer.h), as in SQLite: when the
// server cannot be reached (or its disk is full), a record waits, durable, in a journal on
// this machine and reaches the chain later in the order it was written.
#pragma once

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "audit/audit_records.h"
#include "audit/audit_writer.h"
#include "audit/store.h"
#include "engine/audit_sink.h"
#include "engine/status.h"

namespace runbook {

class PgConnection;

/// The PostgreSQL store as the AuditWriter's RecordDatabase: each write one READ COMMITTED
/// transaction, run again after a lost connection before its COMMIT; each event appended with
/// the chain head locked, as PgEventLog::Append does.
class PgRecords : public RecordDatabase {
 public:
  explicit PgRecords(PgConnection& conn) : conn_(conn) {}
  Status InTransaction(const std::function<Status()>& body) override;
  Result<bool> Apply(const AuditRecord& record, bool from_journal) override;

 private:
  Result<bool> ApplyOne(const AuditRecord& record, bool from_journal);

  PgConnection& conn_;
};

/// The runs and their events in PostgreSQL. Made by PgAuditDatabase (pg_store.h), which owns
/// the connection and the mutex this shares with the lock table and the plan store; it lives
/// as long as its PgAuditDatabase.
///
/// Thread-safety: every method takes the mutex, so threads may share it. Errors carry their
/// kind as EventLog's do (kNotFound for an unknown run, kBusy, kIOError, ...; pg_connection.h).
class PgEventLog : public EventStore {
 public:
  PgEventLog(PgConnection& conn, std::mutex& mu, AuditWriter& writer)
      : conn_(conn), mu_(mu), writer_(writer) {}
  PgEventLog(const PgEventLog&) = delete;
  PgEventLog& operator=(const PgEventLog&) = delete;

  // AuditSink. Each is one committed transaction, as EventLog's.
  /// Inserts the run row; runbook_sha256 is computed from runbook_text when empty. An
  /// existing run_id is an error.
  Status BeginRun(const RunRecord& run) override;
  /// Appends an event to the chain: assigns seq, prev_hash and hash. kNotFound when the run
  /// has no row. Ok too when the event went to the journal instead (Backlog counts it).
  Status Append(const std::string& run_id, const AuditEvent& event) override;
  /// Queues an event for the next Sync, Append or EndRun (AuditSink::Queue).
  Status Queue(const std::string& run_id, const AuditEvent& event) override;
  /// Writes the queued events in one transaction (or to the journal), as EventLog's.
  Status Sync(int* not_durable) override;
  /// Sets state, exit_code and finished_at on the run row. kNotFound for an unknown run. Ok
  /// too when the end went to the journal instead.
  Status EndRun(const std::string& run_id, const std::string& state, int exit_code,
                std::chrono::system_clock::time_point finished_at) override;
  /// The run's records that went to the journal or are held in memory (audit_writer.h).
  AuditBacklog Backlog(const std::string& run_id) const override;

  // Queries, as EventLog's.
  /// Every run, oldest first, without runbook_text.
  Result<std::vector<StoredRun>> ListRuns() override;
  Result<std::vector<StoredRun>> NewestRuns(int limit, const std::string& exclude_runbook) override;
  Result<std::vector<StoredRun>> RunsOfPlan(const std::string& plan_id) override;
  /// The full run row. kNotFound for an unknown id ("unknown run 'ID'").
  Result<StoredRun> GetRun(const std::string& run_id) override;
  /// Events in seq order: all of them, or those of one run (none for an unknown run).
  Result<std::vector<StoredEvent>> Events(
      const std::optional<std::string>& run_id = std::nullopt) override;
  /// The same events as rows, to `visit` one at a time, read in batches of a few thousand by
  /// seq in one snapshot (`audit export`): memory stays flat however long the log. Holds the
  /// mutex throughout: `visit` must not call this log.
  Status ForEachEventRow(const std::optional<std::string>& run_id,
                         const std::function<Status(const EventRow&)>& visit) override;
  /// The events of the given kinds, in seq order, of every run or of `run_ids` only.
  Result<std::vector<StoredEvent>> EventsOfKinds(
      const std::vector<EventKind>& kinds,
      const std::optional<std::vector<std::string>>& run_ids = std::nullopt) override;
  /// Runs without a terminal state (no EndRun yet), oldest first: what `recover` must finish.
  Result<std::vector<StoredRun>> LastRunningRuns() override;

  /// Checks the whole chain in one snapshot, as EventLog::Verify does (chain_verify.h), and
  /// names the first bad event in the same words. Returns an error only when the database
  /// cannot be read (kBusy, kIOError, ...), never a "tampered" report for that.
  Result<VerifyReport> Verify() override;

  /// Appends `event` as it is: its seq, prev_hash and hash are kept, not computed. For
  /// copying a log from another store with its chain intact (`audit migrate`): the event must
  /// be the next one, its seq the head's plus one and its prev_hash the head's hash, or it is
  /// refused (kInvalid); its run must be there (kNotFound). The hash is not checked here:
  /// Verify checks it.
  Status CopyEvent(const StoredEvent& event);
  /// Inserts a run row as it is (with its finished_at, state and exit_code), for the same
  /// copy. An existing run_id is an error.
  Status CopyRun(const StoredRun& run);

 private:
  Result<std::vector<StoredRun>> QueryRuns(const std::string& where, const std::string& arg,
                                           bool with_text);

  PgConnection& conn_;
  std::mutex& mu_;
  AuditWriter& writer_;
};

}  // namespace runbook
