// An Environment for tests: time moves only when a test (or a Sleep) moves it, sleeps return at
// once and are recorded, and environment variables come from a map. Unit tests that retry,
// wait or check expiry use this instead of sleeping for real.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/cancel.h"
#include "engine/environment.h"

namespace runbook::testing {

class FakeEnvironment : public Environment {
 public:
  /// Wall time starts at the real now (stored records carry real timestamps).
  FakeEnvironment() : now_(std::chrono::system_clock::now()) {}

  std::chrono::system_clock::time_point Now() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return now_;
  }
  std::chrono::steady_clock::time_point Monotonic() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return mono_;
  }
  /// Moves both clocks by `d` at once; false when `cancel` is already cancelled.
  bool Sleep(Duration d, const CancelFlag& cancel) const override {
    if (cancel.cancelled()) return false;
    std::lock_guard<std::mutex> lock(mu_);
    sleeps_.push_back(d);
    now_ += d;
    mono_ += d;
    return true;
  }
  std::optional<std::string> GetEnv(const std::string& name) const override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = env_.find(name);
    if (it == env_.end()) return std::nullopt;
    return it->second;
  }

  /// Moves both clocks by `d`.
  void Advance(Duration d) {
    std::lock_guard<std::mutex> lock(mu_);
    now_ += d;
    mono_ += d;
  }
  void SetEnv(const std::string& name, const std::string& value) {
    std::lock_guard<std::mutex> lock(mu_);
    env_[name] = value;
  }
  /// Every delay Sleep was asked for, in order.
  std::vector<Duration> sleeps() const {
    std::lock_guard<std::mutex> lock(mu_);
    return sleeps_;
  }

 private:
  mutable std::mutex mu_;
  mutable std::chrono::system_clock::time_point now_;
  mutable std::chrono::steady_clock::time_point mono_{};
  mutable std::vector<Duration> sleeps_;
  std::map<std::string, std::string> env_;
};

}  // namespace runbook::testing
