// The SQLite audit database (SPEC §3; schema, event names and hash formula in docs/audit.md).
//
// One file holds the runs, the events of every run as one hash chain across the whole
// database, the run locks, and the plans with their approvals. The database runs in WAL mode
// with synchronous=FULL, and every write is one BEGIN IMMEDIATE transaction, so an event is on
// disk when Append returns (the executor writes it before the act it announces) and several
// processes can share one database: their appends serialize on SQLite's write lock and the
// chain stays linear.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "audit/audit_records.h"
#include "audit/lock.h"
#include "audit/plan_store.h"
#include "engine/audit_sink.h"
#include "engine/status.h"

namespace runbook {

class SqliteDb;

/// The audit store. Owns one SQLite connection to the file given to Open().
///
/// Thread-safety: every method locks one internal mutex, so threads may share a store (an SSH
/// runner thread records through the executor while the main thread does too). Processes
/// share the database through SQLite's own locking (busy timeout 10s).
class AuditStore : public AuditSink {
 public:
  /// The schema version this code writes and reads. Older versions are migrated on Open;
  /// newer ones are refused.
  static constexpr int kSchemaVersion = 1;

  /// Opens the database at `path`, creating the file and its parent folder when missing.
  /// Errors: the file is not an SQLite database, is corrupt, or has a schema version this
  /// code does not know ("audit database PATH has schema version N; this runbook understands
  /// M").
  static Result<std::unique_ptr<AuditStore>> Open(const std::string& path);
  ~AuditStore() override;
  AuditStore(const AuditStore&) = delete;
  AuditStore& operator=(const AuditStore&) = delete;

  const std::string& path() const { return path_; }

  // AuditSink. Each is one durable transaction.
  /// Inserts the run row; runbook_sha256 is computed from runbook_text when empty. An
  /// existing run_id is an error.
  Status BeginRun(const RunRecord& run) override;
  /// Appends an event to the chain: assigns seq, prev_hash and hash. The run must exist.
  Status Append(const std::string& run_id, const AuditEvent& event) override;
  /// Sets state, exit_code and finished_at (this machine's clock, now) on the run row.
  Status EndRun(const std::string& run_id, const std::string& state, int exit_code) override;

  // Queries.
  /// Every run, oldest first, without runbook_text.
  Result<std::vector<StoredRun>> ListRuns();
  /// The full run row. An unknown id is an error ("unknown run 'ID'").
  Result<StoredRun> GetRun(const std::string& run_id);
  /// Events in seq order: all of them, or those of one run (none for an unknown run).
  Result<std::vector<StoredEvent>> Events(const std::optional<std::string>& run_id = std::nullopt);
  /// Runs without a terminal state (no EndRun yet), oldest first: what `recover` must finish.
  Result<std::vector<StoredRun>> LastRunningRuns();

  /// Checks the whole chain in seq order: each hash against its row's contents, each
  /// prev_hash against the previous row's hash, seq without gaps from 1, and the last event
  /// against the chain head kept in `meta`. Names the first bad event. Returns an error only
  /// when the database cannot be read for another reason than corruption (e.g. locked).
  Result<VerifyReport> Verify();

  // Run locks (lock.h).
  /// Takes `lock_key` for `run_id` unless another run holds it. Taking a lock that the same
  /// run already holds updates its pid and host (recover continues a run). A lock whose holder
  /// process is dead is taken over only when nothing is left to recover: its run ended, or never
  /// got a run row; otherwise the dead holder is reported and the lock stays held.
  Result<LockAttempt> TryLock(const std::string& lock_key, const std::string& run_id, int pid,
                              const std::string& host);
  /// Frees `lock_key` if `run_id` holds it; ok when no one does; an error when another run does.
  Status Unlock(const std::string& lock_key, const std::string& run_id);
  /// Frees `lock_key` whoever holds it (for recover, after it finished the holder's run).
  Status ForceUnlock(const std::string& lock_key);
  /// Every held lock, by key, with liveness as in TryLock.
  Result<std::vector<LockHolder>> ListLocks();

  // Plans and approvals (plan_store.h).
  /// Inserts a plan. An existing plan_id is an error.
  Status SavePlan(const PlanRecord& plan);
  /// An unknown id is an error ("unknown plan 'ID'").
  Result<PlanRecord> GetPlan(const std::string& plan_id);
  /// Every plan, oldest first.
  Result<std::vector<PlanRecord>> ListPlans();
  /// Sets a plan's status.
  Status SetPlanStatus(const std::string& plan_id, const std::string& status);
  /// Records a decision on an existing plan.
  Status AddApproval(const ApprovalRecord& approval);
  /// A plan's decisions, oldest first.
  Result<std::vector<ApprovalRecord>> Approvals(const std::string& plan_id);

 private:
  AuditStore(std::unique_ptr<SqliteDb> db, std::string path);
  Status Initialize();
  Result<std::vector<StoredRun>> QueryRuns(const std::string& where, const std::string& arg,
                                           bool with_text);

  std::mutex mu_;
  std::unique_ptr<SqliteDb> db_;
  std::string path_;
};

}  // namespace runbook
