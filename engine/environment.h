// The seam between the program and the world it runs in: wall time, monotonic time, sleeping
// and environment variables. Everything that asks "what time is it", waits, or reads $USER goes
// through one of these, passed in, so that tests control time (no real sleeps in unit tests:
// testing/fake_environment.h) and replay can be reasoned about.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "engine/model.h"

namespace runbook {

class CancelFlag;

class Environment {
 public:
  virtual ~Environment() = default;
  /// Wall-clock time, for audit timestamps, run ids and approval expiry.
  virtual std::chrono::system_clock::time_point Now() const = 0;
  /// Monotonic time, for durations and deadlines.
  virtual std::chrono::steady_clock::time_point Monotonic() const = 0;
  /// Waits `d` (a retry delay, a poll interval). Returns false as soon as `cancel` is
  /// cancelled, without waiting out the rest; true when the whole delay passed.
  virtual bool Sleep(Duration d, const CancelFlag& cancel) const = 0;
  /// The environment variable `name`; nullopt when unset.
  virtual std::optional<std::string> GetEnv(const std::string& name) const = 0;
};

/// The real clocks, sleeps that wake on cancellation, and getenv(3).
std::unique_ptr<Environment> MakeSystemEnvironment();

}  // namespace runbook
