// Fakes for the app/ tests: a clock that tests move by hand, and a signer whose signatures
// are plain text, so that approval rules can be tested without ssh-keygen.
#pragma once

#include <chrono>
#include <fstream>
#include <map>
#include <string>

#include "app/signer.h"
#include "engine/clock.h"

namespace runbook::testing {

/// Wall time starts at the real now (stored approvals carry real timestamps); Advance moves
/// both clocks.
class FakeClock : public Clock {
 public:
  std::chrono::system_clock::time_point Now() const override { return now_; }
  std::chrono::steady_clock::time_point Monotonic() const override { return mono_; }
  void Advance(std::chrono::milliseconds d) {
    now_ += d;
    mono_ += d;
  }

 private:
  std::chrono::system_clock::time_point now_ = std::chrono::system_clock::now();
  std::chrono::steady_clock::time_point mono_{};
};

/// Signs as "sig(KEY,MESSAGE)"; verifies against the key each identity is given with Trust.
class FakeSigner : public Signer {
 public:
  void Trust(const std::string& identity, const std::string& key) { keys_[identity] = key; }
  Result<std::string> Sign(const std::string& key, const std::string& message) override {
    ++signs;
    return "sig(" + key + "," + message + ")";
  }
  Status Verify(const std::string&, const std::string& identity, const std::string& message,
                const std::string& signature) override {
    ++verifies;
    auto it = keys_.find(identity);
    if (it == keys_.end() || signature != "sig(" + it->second + "," + message + ")")
      return Status::Refused("not signed by " + identity + "'s key");
    return Status::Ok();
  }
  int signs = 0;
  int verifies = 0;

 private:
  std::map<std::string, std::string> keys_;
};

inline void WriteTextFile(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

}  // namespace runbook::testing
