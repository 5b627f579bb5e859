// Run locks (SPEC §2): a run holds its lock key from start to end, recorded in the audit
// database's `locks` table (docs/audit.md) so that every process using that database sees it.
// A lock whose holder process is gone stays held until `runbook recover` rolls the run back
// and frees it; the table reports whether the holder is alive so the refusal can say so.
// A release goes through the AuditWriter (audit_writer.h) with the run's events: when the
// database cannot be written, it waits in the journal behind them, and the next command that
// opens the database (replaying the journal) frees the lock.
#pragma once

#include <mutex>
#include <string>

#include "audit/store.h"
#include "engine/status.h"

namespace runbook {

class AuditWriter;
class SqliteDb;

/// The `locks` table. Made by AuditDatabase, which owns the connection and the mutex this
/// shares with the event log and the plan store; it lives as long as its AuditDatabase.
///
/// Thread-safety: every method takes the database's mutex. Processes serialize on SQLite's
/// write lock: each call is one BEGIN IMMEDIATE transaction. Errors carry their kind (kBusy
/// when another process kept the database locked past the busy timeout, kIOError, ...).
class LockTable : public LockStore {
 public:
  LockTable(SqliteDb& db, std::mutex& mu, AuditWriter& writer)
      : db_(db), mu_(mu), writer_(writer) {}
  LockTable(const LockTable&) = delete;
  LockTable& operator=(const LockTable&) = delete;

  /// Takes `lock_key` for `run_id` unless another run holds it. Taking a lock that the same
  /// run already holds updates its pid and host (recover continues a run). A lock whose holder
  /// process is dead is taken over only when nothing is left to recover: its run ended, or never
  /// got a run row; otherwise the dead holder is reported and the lock stays held.
  Result<LockAttempt> TryLock(const std::string& lock_key, const std::string& run_id, int pid,
                              const std::string& host) override;
  /// Claims unfinished run `run_id`'s lock `lock_key` for a recover running as `pid` on
  /// `host`, in one transaction, so that of two concurrent recovers exactly one rolls the
  /// run back: the run must still be unfinished, and the lock must be free or held for this
  /// run by a process that is gone (the dead executor, or a recover that died).
  Result<RecoveryClaim> ClaimForRecovery(const std::string& lock_key, const std::string& run_id,
                                         int pid, const std::string& host) override;
  /// Frees `lock_key` if `run_id` holds it; ok when no one does; an error when another run does.
  /// When the database cannot be written the release goes to the journal: ok, and
  /// `*journaled` (when given) is set.
  Status Unlock(const std::string& lock_key, const std::string& run_id,
                bool* journaled = nullptr) override;

 private:
  SqliteDb& db_;
  std::mutex& mu_;
  AuditWriter& writer_;
};

/// This machine's host name (gethostname), as recorded in runs and locks.
std::string LocalHostName();

/// The start time of process `pid` in clock ticks since boot (field 22 of /proc/PID/stat), as
/// text; "" when it cannot be read. Distinguishes a reused pid from the original process.
std::string ProcessStartTime(int pid);

/// Whether process `pid` on this host is running: it exists (EPERM counts), is not a zombie,
/// and, when `start_time` is not empty, has that start time.
bool ProcessAlive(int pid, const std::string& start_time);

}  // namespace runbook
