// Run locks on PostgreSQL (SPEC §2, §6; docs/audit.md "PostgreSQL"): the same TryLock,
// ClaimForRecovery and Unlock as LockTable (lock_table.h), for executors on several machines
// that share one set of locks, plus the heartbeat by which a machine tells that a holder on
// another machine has died.
//
// A lock row records its holder (run, pid, host), where that pid means something (`pid_scope`:
// the machine's boot id and the pid namespace), and a heartbeat: the time, by the database
// server's clock, at which the holder last said it is alive. The holder's liveness decides
// whether a second run is refused and whether `recover` may claim the run:
//
//  * A holder this process can check, one with this host name and this pid_scope (or none
//    recorded), is alive exactly while its process runs (ProcessAlive: the pid exists, is not
//    a zombie and has the recorded start time). The heartbeat does not matter: a live executor
//    is never declared dead for a late heartbeat, and a dead one is seen at once.
//  * Any other holder (another machine; or this host name after a reboot, or in another pid
//    namespace, where the pid says nothing) is alive while its heartbeat is younger than the
//    expiry (PgStoreOptions::lock_expiry, 30 s by default), and dead after that.
//
// So an executor must call Heartbeat() well within the expiry (a third of it, say) for as long
// as it holds the lock, recover included. Heartbeat() fails with kRefused once the lock is no
// longer its own (a recover elsewhere decided it was dead and claimed the run): the executor
// must then start nothing more. The server's clock is the only clock used, so clock skew
// between the machines does not matter.
//
// Every method is one SERIALIZABLE transaction, run again on a serialization failure: of two
// sessions that both read a free (or dead) lock and both write it, PostgreSQL aborts one, and
// when it runs again it sees the other's row. So two runs never both take a lock, and two
// recovers never both claim a run.
#pragma once

#include <chrono>
#include <mutex>
#include <string>

#include "audit/audit_writer.h"
#include "audit/lock_table.h"  // LocalHostName, ProcessAlive, ProcessStartTime
#include "audit/store.h"
#include "engine/status.h"

namespace runbook {

class PgConnection;

/// Where the pids of this process's machine mean something: the boot id
/// (/proc/sys/kernel/random/boot_id) and the pid namespace (/proc/self/ns/pid), as
/// "BOOT_ID/pid:[INODE]"; "" when they cannot be read.
std::string LocalPidScope();

/// The `locks` table in PostgreSQL. Made by PgAuditDatabase (pg_store.h), which owns the
/// connection and the mutex this shares with the event log and the plan store; it lives as
/// long as its PgAuditDatabase.
///
/// Thread-safety: every method takes the mutex. Errors carry their kind (pg_connection.h).
class PgLockTable : public LockStore {
 public:
  PgLockTable(PgConnection& conn, std::mutex& mu, AuditWriter& writer,
              std::chrono::milliseconds expiry)
      : conn_(conn), mu_(mu), writer_(writer), expiry_(expiry) {}
  PgLockTable(const PgLockTable&) = delete;
  PgLockTable& operator=(const PgLockTable&) = delete;

  /// As LockTable::TryLock, with liveness as the file comment says: takes `lock_key` for
  /// `run_id` unless another run holds it and is alive; the same run taking it again updates
  /// pid and host. A dead holder's lock is taken over only when its run has ended or never got
  /// a run row. Taking a lock starts its heartbeat.
  Result<LockAttempt> TryLock(const std::string& lock_key, const std::string& run_id, int pid,
                              const std::string& host) override;
  /// As LockTable::ClaimForRecovery: claims unfinished run `run_id`'s lock for a recover
  /// running as `pid` on `host` when the lock is free or held for this run by a holder that is
  /// dead. Of several recovers, on any machines, exactly one claims it.
  Result<RecoveryClaim> ClaimForRecovery(const std::string& lock_key, const std::string& run_id,
                                         int pid, const std::string& host) override;
  /// Frees `lock_key` if `run_id` holds it; ok when no one does; kRefused when another run
  /// does. When the server cannot be reached the release waits in the journal behind the
  /// run's other records (audit_writer.h): ok, and `*journaled` (when given) is set.
  Status Unlock(const std::string& lock_key, const std::string& run_id,
                bool* journaled = nullptr) override;

  /// Says that `run_id`, as `pid` on `host`, still holds `lock_key` and is alive: sets the
  /// heartbeat to the server's now. kRefused when the lock is not (or no longer) held by
  /// exactly that holder, naming who holds it.
  Status Heartbeat(const std::string& lock_key, const std::string& run_id, int pid,
                   const std::string& host) override;
  std::chrono::milliseconds heartbeat_interval() const override { return expiry_ / 3; }

  std::chrono::milliseconds expiry() const { return expiry_; }

 private:
  PgConnection& conn_;
  std::mutex& mu_;
  AuditWriter& writer_;
  std::chrono::milliseconds expiry_;
};

}  // namespace runbook
