// The audit store as the use cases see it (SPEC §3, §6): the runs and the hash chain of their
// events, the run locks, and the plans with their approvals. Two stores implement it: SQLite
// (audit_database.h), one file per user or machine and the default, and PostgreSQL, which a
// team shares. Every command behaves the same on both; OpenAuditStore picks one by location.
//
// The records (StoredRun, PlanRecord, LockHolder, ...) are plain data shared by both stores;
// how each store keeps them, and its concurrency, is documented with it.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "audit/audit_records.h"
#include "audit/event_row.h"
#include "engine/audit_sink.h"
#include "engine/status.h"

namespace runbook {

struct ReplayReport;

/// The runs and their events: the engine's AuditSink, the queries the post-mortem commands
/// and `recover` read with, and the verification of the hash chain. Thread-safe.
///
/// Errors carry their kind: kBusy when the store stayed locked past its timeout, kCorruption
/// for a damaged store, kIOError when it cannot be read or reached, kNotFound for an unknown
/// run.
class EventStore : public AuditSink {
 public:
  /// Every run, oldest first, without runbook_text.
  virtual Result<std::vector<StoredRun>> ListRuns() = 0;
  /// The newest `limit` runs (by start; limit > 0) whose runbook is not `exclude_runbook` (""
  /// leaves none out), oldest first as ListRuns gives them, without runbook_text: a page of a
  /// long log, without reading the rest of it.
  virtual Result<std::vector<StoredRun>> NewestRuns(int limit,
                                                    const std::string& exclude_runbook) = 0;
  /// The runs made from plan `plan_id` (`run --plan`), oldest first, without runbook_text.
  virtual Result<std::vector<StoredRun>> RunsOfPlan(const std::string& plan_id) = 0;
  /// The full run row. kNotFound for an unknown id ("unknown run 'ID'").
  virtual Result<StoredRun> GetRun(const std::string& run_id) = 0;
  /// Events in seq order: all of them, or those of one run (none for an unknown run).
  virtual Result<std::vector<StoredEvent>> Events(
      const std::optional<std::string>& run_id = std::nullopt) = 0;
  /// The same events as rows, before anything in them is parsed (event_row.h), to `visit` one
  /// at a time as they are read, so that memory stays flat however long the log (`audit
  /// export`). A row is valid only during its visit. Stops at the first error `visit` returns
  /// and returns it. `visit` must not call this store.
  virtual Status ForEachEventRow(const std::optional<std::string>& run_id,
                                 const std::function<Status(const EventRow&)>& visit) = 0;
  /// The events of the given kinds, in seq order, of every run or (`run_ids`) of those runs
  /// only: what a reader that needs only those (the failed hosts of the runs `runs` lists)
  /// folds without reading the rest.
  virtual Result<std::vector<StoredEvent>> EventsOfKinds(
      const std::vector<EventKind>& kinds,
      const std::optional<std::vector<std::string>>& run_ids = std::nullopt) = 0;
  /// Runs without a terminal state (no EndRun yet), oldest first: what `recover` must finish.
  virtual Result<std::vector<StoredRun>> LastRunningRuns() = 0;
  /// Checks the whole chain in seq order (docs/audit.md): each hash against its row, each
  /// prev_hash against the previous row's hash, seq without gaps from 1, and the last event
  /// against the chain head. Names the first bad event. An error only when the store cannot be
  /// read for another reason (never a "tampered" report).
  virtual Result<VerifyReport> Verify() = 0;
};

/// Who holds a lock, as the store records it.
struct LockHolder {
  std::string lock_key;
  std::string run_id;
  int pid = 0;
  std::string host;
  std::string acquired_at;  // RFC 3339 UTC, ms
  /// Whether the holder's host is this host: only then can its process be checked.
  bool same_host = false;
  /// Whether the holder still runs. On this host: its pid exists (kill(pid, 0) succeeds or
  /// fails with EPERM), is not a zombie, and started when the lock was taken (Linux /proc start
  /// time, when recorded). On another host the store decides (SQLite: it counts as alive, so
  /// that a live run elsewhere is never rolled back from here; PostgreSQL: by its heartbeat).
  bool alive = false;
};

/// The outcome of LockStore::TryLock.
struct LockAttempt {
  bool acquired = false;
  /// Whether the lock was taken over from a dead holder with nothing left to recover.
  bool took_over = false;
  /// The current holder when !acquired; the previous, dead holder when took_over.
  LockHolder holder;
};

/// The outcome of LockStore::ClaimForRecovery.
struct RecoveryClaim {
  enum class Outcome {
    kClaimed,          // this recover now holds the run's lock and must finish the run
    kFinished,         // the run has ended meanwhile (another recover finished it)
    kBeingRecovered,   // another live process (a second `recover`) holds it for this run
    kHeldByOtherRun,   // the lock belongs to another run
  };
  Outcome outcome = Outcome::kClaimed;
  LockHolder holder;  // who holds the lock when not claimed
};

/// Run locks (SPEC §2): a run holds its lock key from start to end, so that every process
/// using the store sees it. A lock whose holder is gone stays held until `runbook recover`
/// rolls the run back and frees it. Thread-safe.
class LockStore {
 public:
  virtual ~LockStore() = default;
  /// Takes `lock_key` for `run_id` unless another run holds it. Taking a lock that the same
  /// run already holds updates its pid and host (recover continues a run). A lock whose holder
  /// is dead is taken over only when nothing is left to recover: its run ended, or never got a
  /// run row; otherwise the dead holder is reported and the lock stays held.
  virtual Result<LockAttempt> TryLock(const std::string& lock_key, const std::string& run_id,
                                      int pid, const std::string& host) = 0;
  /// Claims unfinished run `run_id`'s lock `lock_key` for a recover running as `pid` on
  /// `host`, atomically, so that of two concurrent recovers exactly one rolls the run back.
  virtual Result<RecoveryClaim> ClaimForRecovery(const std::string& lock_key,
                                                 const std::string& run_id, int pid,
                                                 const std::string& host) = 0;
  /// Frees `lock_key` if `run_id` holds it; ok when no one does; an error when another run
  /// does. When the store cannot be written the release may wait in a journal: ok, and
  /// `*journaled` (when given) is set.
  virtual Status Unlock(const std::string& lock_key, const std::string& run_id,
                        bool* journaled = nullptr) = 0;
  /// Says that `run_id`, as `pid` on `host`, still holds `lock_key`: a store that cannot
  /// check a holder's process (another machine's) takes a holder whose heartbeats stopped
  /// for dead. kRefused when the lock is no longer that holder's (a recover elsewhere took
  /// it): the run must start nothing more. The default does nothing: SQLite checks the
  /// process itself.
  virtual Status Heartbeat(const std::string& /*lock_key*/, const std::string& /*run_id*/,
                           int /*pid*/, const std::string& /*host*/) {
    return Status::Ok();
  }
  /// How often a holder must call Heartbeat; zero when it need not.
  virtual std::chrono::milliseconds heartbeat_interval() const {
    return std::chrono::milliseconds(0);
  }
};

/// One change-request plan (`runbook plan`).
struct PlanRecord {
  std::string plan_id;
  std::string hash;     // sha256 hex of the plan's canonical document
  std::string runbook;  // the runbook's name
  std::string runbook_path;
  std::string runbook_text;                          // exact file contents
  nlohmann::json params = nlohmann::json::object();  // secrets redacted
  std::string requested_by;
  std::string created_at;  // RFC 3339 UTC, ms; SavePlan fills in now when empty
  std::string status;      // e.g. pending, approved, rejected; SavePlan uses "pending" when empty
  nlohmann::json document = nlohmann::json::object();  // the plan as `plan --json` prints it
};

/// A decision by one person on one plan.
struct ApprovalRecord {
  std::string plan_id;
  std::string approver;
  std::string decision;  // "approve" or "reject"
  std::string comment;
  std::string signature;   // SSH signature over the plan hash, or ""
  std::string created_at;  // RFC 3339 UTC, ms; AddApproval fills in now when empty
};

/// Plans and their approvals. The approval rules (who may approve, expiry, signatures) live
/// in app/: this stores and reads decisions, it does not weigh them. Thread-safe; kNotFound
/// for an unknown plan ("unknown plan 'ID'").
class PlanStore {
 public:
  virtual ~PlanStore() = default;
  /// Inserts a plan. An existing plan_id is an error.
  virtual Status SavePlan(const PlanRecord& plan) = 0;
  virtual Result<PlanRecord> GetPlan(const std::string& plan_id) = 0;
  /// Every plan, oldest first.
  virtual Result<std::vector<PlanRecord>> ListPlans() = 0;
  virtual Status SetPlanStatus(const std::string& plan_id, const std::string& status) = 0;
  /// Records a decision on an existing plan (kNotFound when there is none).
  virtual Status AddApproval(const ApprovalRecord& approval) = 0;
  /// A plan's decisions, oldest first.
  virtual Result<std::vector<ApprovalRecord>> Approvals(const std::string& plan_id) = 0;
};

/// One opened store and its three parts, each valid as long as the store lives.
class AuditStore {
 public:
  virtual ~AuditStore() = default;
  virtual EventStore& events() = 0;
  virtual LockStore& locks() = 0;
  virtual PlanStore& plans() = 0;

  /// Where the store is, for messages (a path, or a URL without its password).
  virtual std::string location() const = 0;
  /// Where runs keep what must not enter the log but a rollback needs (a Secret's earlier
  /// form, steps/kubectl_history.h): a local folder, one subfolder per run.
  virtual std::string restore_dir() const = 0;

  // Records that could not be written when they happened (a full disk, an unreachable
  // server) wait, durable, in a journal on this machine (audit_writer.h).
  /// The journal file.
  virtual const std::string& journal_path() const = 0;
  /// What opening the store did with the journal.
  virtual const ReplayReport& journal_replay() const = 0;
  /// Makes sure the journal has room set aside for a run's records.
  virtual Status ReserveJournal() = 0;
  /// Writes what waits in the journal into the store now.
  virtual ReplayReport ReplayJournal() = 0;
  /// How many records wait in the journal.
  virtual Result<int> JournalRecords() = 0;
  /// Records held in memory that could be written nowhere, as JSON lines, for a command to
  /// print before it exits.
  virtual std::vector<std::string> FlushHeldRecords() = 0;
};

}  // namespace runbook
