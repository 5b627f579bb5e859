#include "engine/environment.h"

#include <cstdlib>

#include "engine/cancel.h"

namespace runbook {
namespace {

class SystemEnvironment : public Environment {
 public:
  std::chrono::system_clock::time_point Now() const override {
    return std::chrono::system_clock::now();
  }
  std::chrono::steady_clock::time_point Monotonic() const override {
    return std::chrono::steady_clock::now();
  }
  bool Sleep(Duration d, const CancelFlag& cancel) const override {
    return cancel.SleepFor(static_cast<long>(d.count()));
  }
  std::optional<std::string> GetEnv(const std::string& name) const override {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  }
};

}  // namespace

std::unique_ptr<Environment> MakeSystemEnvironment() {
  return std::make_unique<SystemEnvironment>();
}

}  // namespace runbook
