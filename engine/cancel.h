// Interruption of a run (SIGINT, SIGTERM). Cancel() is async-signal-safe, so a signal handler
// may call it; runners poll fd() next to their own descriptors.
#pragma once

#include <atomic>
#include <mutex>
#include <string>

namespace runbook {

class CancelFlag {
 public:
  CancelFlag();
  ~CancelFlag();
  CancelFlag(const CancelFlag&) = delete;
  CancelFlag& operator=(const CancelFlag&) = delete;

  /// Marks the flag and makes fd() readable. Async-signal-safe; idempotent.
  void Cancel();
  /// Cancel() saying why, for a cancellation that comes from the program rather than a signal
  /// (the run's lock was lost, the shared store is out of reach). The first reason given is
  /// kept. Not async-signal-safe.
  void Cancel(const std::string& reason);
  /// The reason given to Cancel(reason), or "".
  std::string reason() const;
  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }
  /// Readable once Cancel() was called (the byte is never consumed).
  int fd() const { return fds_[0]; }
  /// Waits up to `ms` milliseconds; returns false when cancelled before that.
  bool SleepFor(long ms) const;
  /// The signal number that cancelled the run, or 0.
  int signal() const { return signal_.load(); }
  void set_signal(int sig) { signal_.store(sig); }

 private:
  std::atomic<bool> cancelled_{false};
  std::atomic<int> signal_{0};
  mutable std::mutex mu_;
  std::string reason_;  // guarded by mu_
  int fds_[2] = {-1, -1};
};

}  // namespace runbook
