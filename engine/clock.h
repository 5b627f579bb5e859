// Time, passed in so that tests and replay can control it.
#pragma once

#include <chrono>
#include <memory>

namespace runbook {

class Clock {
 public:
  virtual ~Clock() = default;
  /// Wall-clock time for audit timestamps.
  virtual std::chrono::system_clock::time_point Now() const = 0;
  /// Monotonic time for durations and deadlines.
  virtual std::chrono::steady_clock::time_point Monotonic() const = 0;
};

/// The system clock.
std::unique_ptr<Clock> MakeSystemClock();

}  // namespace runbook
