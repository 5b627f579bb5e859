// The journal of audit records that could not be written to the audit database (SPEC §5 "Full
// disks and busy databases"; docs/audit.md "When the database cannot be written"). It is one
// file beside the database, `audit.db.pending` for `audit.db`: a name of its own, which
// SQLite's `-journal`, `-wal` and `-shm` files never take.
//
// Format: text, one record a line, one after the other from offset 0:
//
//   <sha256 hex of PAYLOAD> ' ' <PAYLOAD> '\n'
//
// where PAYLOAD is one line of JSON (what it holds is audit_writer.h's business). The records
// end at the first NUL byte or at the end of the file; the rest of the file is zeros. Those
// zeros are space reserved in advance (Reserve()): overwriting blocks that a file already owns
// needs no free space, so records can still be written when the disk has filled up. (On a
// copy-on-write filesystem, btrfs or ZFS, even an overwrite needs free blocks; there the
// reserve is no guarantee and records that do not fit are held in memory.)
//
// A line without its newline, with a checksum that does not match, or with a payload that is
// not one JSON value ends the records: a crash while the last record was being written leaves
// such a tail. It is a crash, not corruption: the records before it are read, the tail is
// reported as a warning and overwritten by the next record.
//
// Every change is made under an exclusive flock(2) on the file and is on disk (fdatasync)
// before it returns. Records are never removed one by one: once all of them are in the
// database, Clear() zeroes the file (keeping its reserved size).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.h"

namespace runbook {

/// The journal file at one path. Owns its file descriptor (opened on demand, closed on
/// destruction). Not thread-safe: AuditWriter serializes its use behind the database's mutex.
/// Processes coordinate through the file lock (Lock()); two JournalFile objects in one process
/// exclude each other the same way (flock locks belong to the open file).
class JournalFile {
 public:
  /// The reserve Reserve() makes by default: room for some hundred ordinary records.
  static constexpr size_t kDefaultReserve = 64 * 1024;

  explicit JournalFile(std::string path);
  ~JournalFile();
  JournalFile(const JournalFile&) = delete;
  JournalFile& operator=(const JournalFile&) = delete;

  const std::string& path() const { return path_; }

  /// Opens the file if it exists: true when it is open afterwards. An error only when it
  /// exists and cannot be opened.
  Result<bool> OpenIfExists();
  /// Opens the file, creating it (and making the creation durable) when missing.
  Status OpenOrCreate();
  bool is_open() const { return fd_ >= 0; }

  /// Waits for the file's exclusive lock; Unlock() releases it. The file must be open.
  Status Lock();
  void Unlock();

  /// What Read() found.
  struct Contents {
    std::vector<std::string> records;  // the payloads, in the order they were written
    size_t end = 0;                    // offset just after the last good record
    size_t size = 0;                   // the file's size
    std::string warning;               // a bad tail that was ignored, and where
  };
  /// Reads every record. Call with the lock held.
  Result<Contents> Read() const;

  /// Writes `payload` (one line of JSON, no newline) as a record at `contents.end` and syncs
  /// it. A record that does not fit in the file is written past its end, which needs free
  /// space: kIOError ("no space left on device") when there is none, and the file is as
  /// before. Call with the lock held, with what Read() returned under that same lock.
  Status Append(std::string_view payload, const Contents& contents);

  /// Makes the file at least `bytes` long by writing zeros (not a sparse hole), and syncs it.
  /// Call with the lock held.
  Status Reserve(size_t bytes = kDefaultReserve);

  /// Removes every record: zeroes the file, shortens it to `keep` bytes when it is longer,
  /// and syncs it. Call with the lock held.
  Status Clear(size_t keep = kDefaultReserve);

  /// The line Append() writes for `payload`, for tests that write journals by hand.
  static std::string Line(std::string_view payload);

 private:
  Status Error(const std::string& what, int err) const;
  Status Sync() const;

  std::string path_;
  int fd_ = -1;
  bool locked_ = false;
};

/// Holds a JournalFile's lock for a scope.
class JournalLock {
 public:
  explicit JournalLock(JournalFile& file) : file_(file), status_(file.Lock()) {}
  ~JournalLock() {
    if (status_.ok()) file_.Unlock();
  }
  JournalLock(const JournalLock&) = delete;
  JournalLock& operator=(const JournalLock&) = delete;

  const Status& status() const { return status_; }

 private:
  JournalFile& file_;
  Status status_;
};

}  // namespace runbook
