// Run locks (SPEC §2): a run holds its lock key from start to end, recorded in the audit
// database's `locks` table so that every process using that database sees it. A lock whose
// holder process is gone stays held until `runbook recover` rolls the run back and frees it;
// the store reports whether the holder is alive so the refusal can say so.
#pragma once

#include <string>

namespace runbook {

/// Who holds a lock, as the `locks` row records it.
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
  /// time, when recorded). On another host it cannot be checked and counts as alive, so that a
  /// live run elsewhere is never rolled back from here.
  bool alive = false;
};

/// The outcome of AuditStore::TryLock.
struct LockAttempt {
  bool acquired = false;
  /// Whether the lock was taken over from a dead holder with nothing left to recover.
  bool took_over = false;
  /// The current holder when !acquired; the previous, dead holder when took_over.
  LockHolder holder;
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
