#include "audit/pg_lock_table.h"

#include <unistd.h>

#include <fstream>
#include <mutex>

#include "audit/audit_time.h"
#include "audit/pg_connection.h"

namespace runbook {

std::string LocalPidScope() {
  std::string boot_id;
  std::ifstream("/proc/sys/kernel/random/boot_id") >> boot_id;
  char ns[64] = {};
  const ssize_t n = readlink("/proc/self/ns/pid", ns, sizeof ns - 1);
  if (boot_id.empty() || n <= 0) return "";
  return boot_id + "/" + std::string(ns, static_cast<size_t>(n));
}

namespace {

// The heartbeat's age by the server's clock, in milliseconds, as the last column.
constexpr const char* kSelectHolder =
    "SELECT lock_key, run_id, pid, host, pid_start, pid_scope, acquired_at, "
    "(extract(epoch FROM clock_timestamp() - heartbeat_at) * 1000)::bigint "
    "FROM locks WHERE lock_key = $1";

LockHolder ReadHolder(const PgRows& row, std::chrono::milliseconds expiry) {
  LockHolder h;
  h.lock_key = row.Text(0, 0);
  h.run_id = row.Text(0, 1);
  h.pid = static_cast<int>(row.Int(0, 2));
  h.host = row.Text(0, 3);
  h.acquired_at = row.Text(0, 6);
  const std::string scope = row.Text(0, 5);
  // Only where the pid means what it meant to the holder can its process be checked
  // (pg_lock_table.h); elsewhere the heartbeat decides.
  h.same_host = h.host == LocalHostName() && (scope.empty() || scope == LocalPidScope());
  h.alive = h.same_host ? ProcessAlive(h.pid, row.Text(0, 4)) : row.Int(0, 7) < expiry.count();
  return h;
}

// Writes the lock row for a new holder (insert, or replace a previous holder's row), with a
// fresh heartbeat.
Status WriteLock(PgConnection& conn, const std::string& lock_key, const std::string& run_id,
                 int pid, const std::string& host) {
  const bool local = host == LocalHostName();
  return conn
      .Exec(
          "INSERT INTO locks(lock_key, run_id, pid, host, pid_start, pid_scope, acquired_at, "
          "heartbeat_at) VALUES($1, $2, $3, $4, $5, $6, $7, clock_timestamp()) "
          "ON CONFLICT (lock_key) DO UPDATE SET run_id = excluded.run_id, pid = excluded.pid, "
          "host = excluded.host, pid_start = excluded.pid_start, "
          "pid_scope = excluded.pid_scope, acquired_at = excluded.acquired_at, "
          "heartbeat_at = excluded.heartbeat_at",
          {lock_key, run_id, pid, host, local ? ProcessStartTime(pid) : std::string(),
           local ? LocalPidScope() : std::string(), AuditTimeNow()})
      .status();
}

// Whether run `run_id` has a row (`*found`) and has ended.
Result<bool> RunFinished(PgConnection& conn, const std::string& run_id, bool* found) {
  Result<PgRows> run = conn.Exec(
      "SELECT state IS NOT NULL OR finished_at IS NOT NULL FROM runs WHERE run_id = $1", {run_id});
  if (!run.ok()) return run.status();
  *found = !run->empty();
  return *found && run->Bool(0, 0);
}

}  // namespace

Result<LockAttempt> PgLockTable::TryLock(const std::string& lock_key, const std::string& run_id,
                                         int pid, const std::string& host) {
  std::lock_guard<std::mutex> lock(mu_);
  return conn_.Transact(PgIsolation::kSerializable, [&]() -> Result<LockAttempt> {
    LockAttempt attempt;
    Result<PgRows> held = conn_.Exec(kSelectHolder, {lock_key});
    if (!held.ok()) return held.status();
    if (!held->empty()) {
      attempt.holder = ReadHolder(*held, expiry_);
      if (attempt.holder.run_id != run_id) {
        if (attempt.holder.alive) return attempt;
        // A dead holder: take over only if there is nothing for recover to do.
        bool found = false;
        Result<bool> finished = RunFinished(conn_, attempt.holder.run_id, &found);
        if (!finished.ok()) return finished.status();
        if (found && !*finished) return attempt;
        attempt.took_over = true;
      }
    }
    if (Status s = WriteLock(conn_, lock_key, run_id, pid, host); !s.ok()) return s;
    attempt.acquired = true;
    return attempt;
  });
}

Result<RecoveryClaim> PgLockTable::ClaimForRecovery(const std::string& lock_key,
                                                    const std::string& run_id, int pid,
                                                    const std::string& host) {
  std::lock_guard<std::mutex> lock(mu_);
  return conn_.Transact(PgIsolation::kSerializable, [&]() -> Result<RecoveryClaim> {
    RecoveryClaim claim;
    bool found = false;
    Result<bool> finished = RunFinished(conn_, run_id, &found);
    if (!finished.ok()) return finished.status();
    if (!found) return Status::NotFound("unknown run '" + run_id + "'");
    if (*finished) {
      claim.outcome = RecoveryClaim::Outcome::kFinished;
      return claim;
    }
    Result<PgRows> held = conn_.Exec(kSelectHolder, {lock_key});
    if (!held.ok()) return held.status();
    if (!held->empty()) {
      claim.holder = ReadHolder(*held, expiry_);
      if (claim.holder.run_id != run_id) {
        claim.outcome = RecoveryClaim::Outcome::kHeldByOtherRun;
        return claim;
      }
      if (claim.holder.alive && !(claim.holder.pid == pid && claim.holder.host == host)) {
        claim.outcome = RecoveryClaim::Outcome::kBeingRecovered;
        return claim;
      }
    }
    if (Status s = WriteLock(conn_, lock_key, run_id, pid, host); !s.ok()) return s;
    claim.outcome = RecoveryClaim::Outcome::kClaimed;
    return claim;
  });
}

Status PgLockTable::Unlock(const std::string& lock_key, const std::string& run_id,
                           bool* journaled) {
  std::lock_guard<std::mutex> lock(mu_);
  Result<AuditWriter::Outcome> written = writer_.Write(UnlockRecord(run_id, lock_key));
  if (journaled) *journaled = written.ok() && *written == AuditWriter::Outcome::kJournaled;
  return written.status();
}

Status PgLockTable::Heartbeat(const std::string& lock_key, const std::string& run_id, int pid,
                              const std::string& host) {
  std::lock_guard<std::mutex> lock(mu_);
  return conn_.Transact(PgIsolation::kSerializable, [&]() -> Status {
    Result<PgRows> beat = conn_.Exec(
        "UPDATE locks SET heartbeat_at = clock_timestamp() "
        "WHERE lock_key = $1 AND run_id = $2 AND pid = $3 AND host = $4",
        {lock_key, run_id, pid, host});
    if (!beat.ok()) return beat.status();
    if (beat->affected() == 1) return Status::Ok();
    Result<PgRows> held = conn_.Exec(kSelectHolder, {lock_key});
    if (!held.ok()) return held.status();
    const std::string what = "lock '" + lock_key + "' is no longer held by run " + run_id +
                             " (pid " + std::to_string(pid) + " on " + host + ")";
    if (held->empty()) return Status::Refused(what + ": it is free");
    const LockHolder h = ReadHolder(*held, expiry_);
    return Status::Refused(what + ": run " + h.run_id + " holds it, as pid " +
                           std::to_string(h.pid) + " on " + h.host);
  });
}

}  // namespace runbook
