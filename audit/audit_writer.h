// Writes to the audit database that must not be lost (SPEC §5 "Full disks and busy
// databases"; docs/audit.md "When the database cannot be written").
//
// Every event, run end and lock release goes through AuditWriter::Write. It goes into the
// database in one transaction when it can. When the database cannot be written (a full disk,
// an I/O error: kIOError), the record goes into the journal beside it
// (journal_file.h), synced, and Write still succeeds: the record is durable. When the journal
// cannot be written either, the record is held in memory and Write fails; the caller decides
// what that means (the executor starts no forward step whose start is not durable anywhere).
//
// Order. The records of one process reach the database in the order it wrote them: before a
// record goes to the database, the journal is written into the database; while the journal
// still holds records, a new one goes into the journal behind them; while records are held in
// memory, a new one is held behind them, and each Write first tries again to move the held
// ones on. So a run's events never overtake each other, and the chain is built in that order.
//
// Replay. Replay() writes the journal's records into the database in one transaction, in
// order (each event linked to the chain as it is inserted), and then clears the journal. It
// runs under the journal's file lock, so that two processes replaying at once write each
// record once. It is idempotent: an event already in the database (a replay cut off by a crash
// between its commit and the clearing of the journal, or a write whose failure was reported
// although it reached the disk) is recognized by its contents (run, time, kind, phase, step,
// states, attempt and detail) and skipped; a run end or lock release does the same thing
// twice. AuditDatabase::Open replays, so the next command that opens the database writes
// what the journal holds; every Write replays first, too.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "audit/audit_records.h"
#include "audit/chain_append.h"
#include "audit/journal_file.h"
#include "engine/audit_sink.h"
#include "engine/status.h"

namespace runbook {

class SqliteDb;

/// One write the journal can hold.
struct AuditRecord {
  enum class Kind {
    kEvent,   // an event of the chain: `event` (seq, prev_hash and hash are set on insert)
    kRunEnd,  // the end of a run on its row: state, exit_code, finished_at
    kUnlock,  // the release of the run's lock `lock_key`
  };
  Kind kind = Kind::kEvent;
  std::string run_id;
  StoredEvent event;
  std::string state;
  int exit_code = 0;
  std::string finished_at;  // RFC 3339 UTC, ms
  std::string lock_key;
};

/// The records the stores' event logs and lock tables write: an executor's event (its time
/// formatted, its kind named), a run's end, a lock's release.
AuditRecord EventRecord(const std::string& run_id, const AuditEvent& event);
AuditRecord RunEndRecord(const std::string& run_id, const std::string& state, int exit_code,
                         std::chrono::system_clock::time_point finished_at);
AuditRecord UnlockRecord(const std::string& run_id, const std::string& lock_key);

/// The record as one line of JSON (the journal's payload), and back. Decode refuses what it
/// does not understand (another format version, a missing field) with kCorruption.
std::string EncodeRecord(const AuditRecord& record);
Result<AuditRecord> DecodeRecord(std::string_view payload);

/// What a replay of the journal did.
struct ReplayReport {
  int written = 0;     // records written into the database
  int duplicates = 0;  // events that were in the database already
  int left = 0;        // records still waiting in the journal (the database could not be written)
  std::vector<std::string> warnings;  // a bad tail, records that could not be applied
  Status status;                      // why the journal could not be written into the database
};

/// Where an AuditWriter's records go: one store's write transactions and the way it applies
/// a record. SqliteRecords (below) and PgRecords (pg_event_log.h) are the two.
class RecordDatabase {
 public:
  virtual ~RecordDatabase() = default;
  /// Runs `body` in one write transaction and commits when it returns ok; rolls back when it
  /// does not. `body` may run more than once (a store that retries conflicts), so it must
  /// start from scratch each time.
  virtual Status InTransaction(const std::function<Status()>& body) = 0;
  /// Applies `record` inside the caller's transaction: true when written, false when it was
  /// an event already in the store (looked for only when `from_journal`). An event's run
  /// must have its row (kNotFound); the release of a lock another run holds is kRefused.
  /// Checks come before writes, so such a refusal leaves the transaction as it was.
  virtual Result<bool> Apply(const AuditRecord& record, bool from_journal) = 0;
  /// Called after a replay has committed (SQLite copies its WAL into the file).
  virtual void AfterReplay() {}
};

/// The SQLite audit database as a RecordDatabase: BEGIN IMMEDIATE transactions.
/// Events are linked to the chain through a ChainAppender (chain_append.h): the head stays
/// in memory between this connection's transactions while no other connection writes.
class SqliteRecords : public RecordDatabase {
 public:
  explicit SqliteRecords(SqliteDb& db) : db_(db), chain_(db) {}
  Status InTransaction(const std::function<Status()>& body) override;
  Result<bool> Apply(const AuditRecord& record, bool from_journal) override;
  void AfterReplay() override;

 private:
  SqliteDb& db_;
  ChainAppender chain_;
  std::string known_run_;  // a run whose row this transaction has seen
};

/// The writer over one store and its journal. Made by the store (AuditDatabase,
/// PgAuditDatabase); every method must be called with the store's mutex held (its event log
/// and lock table do).
class AuditWriter {
 public:
  enum class Outcome { kStored, kJournaled };

  AuditWriter(RecordDatabase& db, std::string journal_path);
  AuditWriter(const AuditWriter&) = delete;
  AuditWriter& operator=(const AuditWriter&) = delete;

  /// Writes `record` as the file comment says. kStored or kJournaled: durable. An error when
  /// it is not: held in memory (kIOError, "could be written neither to the audit database nor
  /// to the journal"), or refused by the database for another reason (the database's own
  /// error: busy past the timeout, an unknown run, a lock another run holds, a damaged file).
  Result<Outcome> Write(const AuditRecord& record);

  /// What became of the records a Sync wrote.
  struct Fate {
    Status status;  // ok when all are durable; else the first one's error
    Outcome outcome = Outcome::kStored;  // kJournaled when any went to the journal
    int not_durable = 0;                 // records refused for good or held in memory
  };
  /// Queues `record` behind the others; Sync (or Write) writes it. Not durable until then.
  void Queue(const AuditRecord& record);
  /// Writes every queued record as Write does, in order, all into the database in one
  /// transaction when it can be written (one commit, one fdatasync: docs/audit.md "Commits").
  Fate Sync();

  /// Writes what the journal holds into the database (see the file comment).
  ReplayReport Replay();

  /// Makes sure the journal file exists with its reserve (JournalFile::Reserve), so that
  /// records can be journaled once the disk is full. A run calls this before it starts.
  Status Reserve();

  /// How many records wait in the journal (0 when there is none); reads it under its lock.
  Result<int> JournalRecords();

  /// The records of `run_id` that did not go straight into the database (AuditSink).
  AuditBacklog Backlog(const std::string& run_id) const;

  /// Tries once more to move the records held in memory on; returns those still held, each
  /// as EncodeRecord's JSON, oldest first: what a command prints before it exits so that they
  /// are not lost.
  std::vector<std::string> FlushHeld();

  const std::string& journal_path() const { return journal_.path(); }

 private:
  struct Held {
    AuditRecord record;
    uint64_t serial = 0;
    bool refused = false;  // Write already reported it as not durable
  };
  struct Counts {
    int journaled = 0;
    int rescued = 0;
  };
  // Moves the held records on: journal into the database, then the held records into the
  // database (all in one transaction when it takes them) or the journal. The fate of the
  // records from serial `from` on is put in `*fate`.
  void Flush(uint64_t from, Fate* fate);
  // Writes `contents`' records into the database in one transaction, clears the journal and
  // reads it again into `contents`. Call with the journal locked.
  void ReplayLocked(JournalFile::Contents* contents, ReplayReport* report);
  // Writes `record` into the database in a transaction of its own.
  Status Store(const AuditRecord& record);
  // Writes every held record into the database in one transaction.
  Status StoreAll();
  // Appends `record` to the journal behind `*contents` and advances it.
  Status Journal(const AuditRecord& record, JournalFile::Contents* contents);

  RecordDatabase& db_;
  JournalFile journal_;
  std::deque<Held> held_;
  uint64_t next_serial_ = 1;
  uint64_t synced_ = 1;  // the first serial queued since the last Sync
  std::map<std::string, Counts> counts_;  // by run id
  std::string store_error_;
  std::string journal_error_;
};

}  // namespace runbook
