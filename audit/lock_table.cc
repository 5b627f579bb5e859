#include "audit/lock_table.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <mutex>
#include <sstream>

#include "audit/audit_time.h"
#include "audit/audit_writer.h"
#include "audit/sqlite_db.h"

namespace runbook {

namespace {

// The fields of /proc/PID/stat after the command name, which may itself contain spaces and
// parentheses; empty when the process does not exist or /proc is not mounted.
std::string StatFieldsAfterName(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  if (!in) return "";
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string stat = buffer.str();
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return "";
  return stat.substr(close + 1);
}

}  // namespace

std::string LocalHostName() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "localhost";
  return name;
}

std::string ProcessStartTime(int pid) {
  if (pid <= 0) return "";
  std::istringstream fields(StatFieldsAfterName(pid));
  // After the name: field 3 (state) is the first; starttime is field 22, the 20th after it.
  std::string field;
  for (int i = 3; i <= 22; ++i) {
    if (!(fields >> field)) return "";
  }
  return field;
}

bool ProcessAlive(int pid, const std::string& start_time) {
  if (pid <= 0) return false;
  if (kill(pid, 0) != 0 && errno != EPERM) return false;
  std::istringstream fields(StatFieldsAfterName(pid));
  std::string state;
  if (fields >> state) {
    if (state == "Z" || state == "X") return false;  // exited, not yet reaped
    if (!start_time.empty()) {
      std::string now = ProcessStartTime(pid);
      if (!now.empty() && now != start_time) return false;  // the pid was reused
    }
  }
  return true;
}

namespace {

constexpr const char* kLockColumns = "lock_key, run_id, pid, host, pid_start, acquired_at";

LockHolder ReadHolder(const Statement& row) {
  LockHolder h;
  h.lock_key = row.Text(0);
  h.run_id = row.Text(1);
  h.pid = static_cast<int>(row.Int(2));
  h.host = row.Text(3);
  h.acquired_at = row.Text(5);
  h.same_host = h.host == LocalHostName();
  h.alive = h.same_host ? ProcessAlive(h.pid, row.Text(4)) : true;
  return h;
}

// Writes the lock row for a new holder (insert, or replace the row of a previous holder).
Status WriteLock(SqliteDb& db, const std::string& lock_key, const std::string& run_id, int pid,
                 const std::string& host) {
  Statement st(db, std::string("INSERT OR REPLACE INTO locks(") + kLockColumns +
                       ") VALUES(?, ?, ?, ?, ?, ?)");
  st.Bind(1, lock_key);
  st.Bind(2, run_id);
  st.Bind(3, static_cast<int64_t>(pid));
  st.Bind(4, host);
  st.Bind(5, host == LocalHostName() ? ProcessStartTime(pid) : std::string());
  st.Bind(6, AuditTimeNow());
  return st.Run();
}

}  // namespace

Result<LockAttempt> LockTable::TryLock(const std::string& lock_key, const std::string& run_id,
                                       int pid, const std::string& host) {
  std::lock_guard<std::mutex> lock(mu_);
  Transaction tx(db_);
  if (!tx.status().ok()) return tx.status();
  LockAttempt attempt;
  Statement held(db_, std::string("SELECT ") + kLockColumns + " FROM locks WHERE lock_key = ?");
  held.Bind(1, lock_key);
  Result<bool> row = held.Step();
  if (!row.ok()) return row.status();
  if (*row) {
    attempt.holder = ReadHolder(held);
    if (attempt.holder.run_id != run_id) {
      if (attempt.holder.alive) return attempt;
      // A dead holder: take over only if there is nothing for recover to do.
      Statement run(db_,
                    "SELECT state IS NOT NULL OR finished_at IS NOT NULL FROM runs "
                    "WHERE run_id = ?");
      run.Bind(1, attempt.holder.run_id);
      Result<bool> found = run.Step();
      if (!found.ok()) return found.status();
      const bool unfinished = *found && run.Int(0) == 0;
      if (unfinished) return attempt;
      attempt.took_over = true;
    }
  }
  if (Status s = WriteLock(db_, lock_key, run_id, pid, host); !s.ok()) return s;
  if (Status s = tx.Commit(); !s.ok()) return s;
  attempt.acquired = true;
  return attempt;
}

Result<RecoveryClaim> LockTable::ClaimForRecovery(const std::string& lock_key,
                                                   const std::string& run_id, int pid,
                                                   const std::string& host) {
  std::lock_guard<std::mutex> lock(mu_);
  Transaction tx(db_);
  if (!tx.status().ok()) return tx.status();
  RecoveryClaim claim;
  Statement run(db_,
                "SELECT state IS NOT NULL OR finished_at IS NOT NULL FROM runs WHERE run_id = ?");
  run.Bind(1, run_id);
  Result<bool> found = run.Step();
  if (!found.ok()) return found.status();
  if (!*found) return Status::NotFound("unknown run '" + run_id + "'");
  if (run.Int(0) != 0) {
    claim.outcome = RecoveryClaim::Outcome::kFinished;
    return claim;
  }
  Statement held(db_, std::string("SELECT ") + kLockColumns + " FROM locks WHERE lock_key = ?");
  held.Bind(1, lock_key);
  Result<bool> row = held.Step();
  if (!row.ok()) return row.status();
  if (*row) {
    claim.holder = ReadHolder(held);
    if (claim.holder.run_id != run_id) {
      claim.outcome = RecoveryClaim::Outcome::kHeldByOtherRun;
      return claim;
    }
    if (claim.holder.alive && !(claim.holder.pid == pid && claim.holder.host == host)) {
      claim.outcome = RecoveryClaim::Outcome::kBeingRecovered;
      return claim;
    }
  }
  if (Status s = WriteLock(db_, lock_key, run_id, pid, host); !s.ok()) return s;
  if (Status s = tx.Commit(); !s.ok()) return s;
  claim.outcome = RecoveryClaim::Outcome::kClaimed;
  return claim;
}

Status LockTable::Unlock(const std::string& lock_key, const std::string& run_id, bool* journaled) {
  std::lock_guard<std::mutex> lock(mu_);
  Result<AuditWriter::Outcome> written = writer_.Write(UnlockRecord(run_id, lock_key));
  if (journaled) *journaled = written.ok() && *written == AuditWriter::Outcome::kJournaled;
  return written.status();
}

}  // namespace runbook
