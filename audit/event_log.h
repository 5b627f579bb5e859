// The event log of the audit database (SPEC §3; tables `runs`, `events` and the chain head in
// `meta`; hash formula in docs/audit.md): the engine's AuditSink, the queries the post-mortem
// commands and `recover` read runs and events with, and the verification of the hash chain.
//
// Every event of every run is one link of one chain across the whole database. Every write is
// one BEGIN IMMEDIATE transaction: Append's event is on disk when it returns, and the events
// queued since the last commit (Queue) are written together by Sync, which the executor calls
// before each act (write-ahead). Several processes can share one database: their writes
// serialize on SQLite's write lock and the chain stays linear. Events and run ends go
// through the AuditWriter (audit_writer.h): when the database cannot be written they wait,
// durable, in its journal, and reach the chain later in the order they were written.
#pragma once

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "audit/audit_records.h"
#include "audit/store.h"
#include "engine/audit_sink.h"
#include "engine/status.h"

namespace runbook {

class AuditWriter;
class SqliteDb;

/// The runs and their events. Made by AuditDatabase, which owns the connection and the mutex
/// this shares with the lock table and the plan store; it lives as long as its AuditDatabase.
///
/// Thread-safety: every method takes the database's mutex, so threads may share it (an SSH
/// runner thread records through the executor while the main thread does too).
///
/// Errors carry their kind: kBusy when another process kept the database locked past the busy
/// timeout, kCorruption for a damaged file, kIOError when the disk failed, kNotFound for an
/// unknown run.
class EventLog : public EventStore {
 public:
  EventLog(SqliteDb& db, std::mutex& mu, AuditWriter& writer) : db_(db), mu_(mu), writer_(writer) {}
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  // AuditSink. Each is one durable transaction.
  /// Inserts the run row; runbook_sha256 is computed from runbook_text when empty. An
  /// existing run_id is an error.
  Status BeginRun(const RunRecord& run) override;
  /// Appends an event to the chain: assigns seq, prev_hash and hash. kNotFound when the run
  /// has no row. Ok too when the event went to the journal instead (Backlog counts it).
  Status Append(const std::string& run_id, const AuditEvent& event) override;
  /// Queues an event for the next Sync, Append or EndRun (AuditSink::Queue).
  Status Queue(const std::string& run_id, const AuditEvent& event) override;
  /// Writes the queued events in one transaction (or to the journal); not ok when some could
  /// be made durable nowhere.
  Status Sync(int* not_durable) override;
  /// Sets state, exit_code and finished_at (the executor's clock) on the run row.
  /// kNotFound for an unknown run. Ok too when the end went to the journal instead.
  Status EndRun(const std::string& run_id, const std::string& state, int exit_code,
                std::chrono::system_clock::time_point finished_at) override;
  /// The run's records that went to the journal or are held in memory (audit_writer.h).
  AuditBacklog Backlog(const std::string& run_id) const override;

  // Queries.
  /// Every run, oldest first, without runbook_text.
  Result<std::vector<StoredRun>> ListRuns() override;
  Result<std::vector<StoredRun>> NewestRuns(int limit, const std::string& exclude_runbook) override;
  Result<std::vector<StoredRun>> RunsOfPlan(const std::string& plan_id) override;
  /// The full run row. kNotFound for an unknown id ("unknown run 'ID'").
  Result<StoredRun> GetRun(const std::string& run_id) override;
  /// Events in seq order: all of them, or those of one run (none for an unknown run).
  Result<std::vector<StoredEvent>> Events(
      const std::optional<std::string>& run_id = std::nullopt) override;
  /// The same events as rows, to `visit` one at a time as one statement reads them (`audit
  /// export`): memory stays flat however long the log. Holds the mutex throughout: `visit`
  /// must not call this log.
  Status ForEachEventRow(const std::optional<std::string>& run_id,
                         const std::function<Status(const EventRow&)>& visit) override;
  /// The events of the given kinds, in seq order, of every run or of `run_ids` only.
  Result<std::vector<StoredEvent>> EventsOfKinds(
      const std::vector<EventKind>& kinds,
      const std::optional<std::vector<std::string>>& run_ids = std::nullopt) override;
  /// Runs without a terminal state (no EndRun yet), oldest first: what `recover` must finish.
  Result<std::vector<StoredRun>> LastRunningRuns() override;

  /// Checks the whole chain in seq order: each hash against its row's contents, each
  /// prev_hash against the previous row's hash, seq without gaps from 1, and the last event
  /// against the chain head kept in `meta`. Names the first bad event. A damaged file is a
  /// failed report too. Returns an error only when the database cannot be read for another
  /// reason: kBusy when it stayed locked (never a "tampered" report), kIOError, ...
  Result<VerifyReport> Verify() override;

 private:
  // The runs rows `where` selects (with `arg` bound to its ?), oldest first, to `visit` one at a
  // time; stops at the first error `visit` returns.
  Status VisitRuns(const std::string& where, const std::string& arg, bool with_text,
                   const std::function<Status(StoredRun&&)>& visit);
  Result<std::vector<StoredRun>> QueryRuns(const std::string& where, const std::string& arg,
                                           bool with_text);
  // Verify's checks of the chain, the head and the runs table, in the read transaction Verify
  // opened.
  Result<VerifyReport> VerifyChain();

  SqliteDb& db_;
  std::mutex& mu_;
  AuditWriter& writer_;
};

}  // namespace runbook
