// A lock kept alive while its holder works (audit/store.h, LockStore::Heartbeat).
#pragma once

#include <mutex>
#include <string>
#include <thread>

#include "audit/store.h"
#include "engine/cancel.h"

namespace runbook {

/// Keeps a run's lock alive on a store that recognises a dead holder by its heartbeats
/// (PostgreSQL, shared by several machines): calls Heartbeat every interval from its own
/// thread until destroyed. A refusal (a recover elsewhere took the lock after the heartbeats
/// stopped, e.g. a network partition longer than the expiry) is kept for the operator.
class LockHeartbeat {
 public:
  LockHeartbeat(LockStore& locks, const std::string& key, const std::string& run, int pid,
                const std::string& host, bool locked)
      : locks_(locks) {
    const auto every = locks.heartbeat_interval();
    if (!locked || every.count() <= 0) return;
    thread_ = std::thread([this, key, run, pid, host, every] {
      while (stop_.SleepFor(static_cast<long>(every.count()))) {
        Status s = locks_.Heartbeat(key, run, pid, host);
        if (!s.ok()) {
          std::lock_guard<std::mutex> lock(mu_);
          if (problem_.empty()) problem_ = s.message();
        }
      }
    });
  }
  ~LockHeartbeat() {
    stop_.Cancel();
    if (thread_.joinable()) thread_.join();
  }
  std::string problem() {
    std::lock_guard<std::mutex> lock(mu_);
    return problem_;
  }

 private:
  LockStore& locks_;
  CancelFlag stop_;
  std::thread thread_;
  std::mutex mu_;
  std::string problem_;
};

}  // namespace runbook
