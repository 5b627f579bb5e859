// A run kept honest on a store that several machines share (audit/store.h, LockStore::Heartbeat;
// docs/team.md "When the database is out of reach"): its lock is kept alive, and the run stops
// as soon as it can no longer be sure the lock is its own or its records reach the store.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>

#include "audit/store.h"
#include "engine/audit_sink.h"
#include "engine/cancel.h"

namespace runbook {

/// Keeps a run's lock alive on a store that recognises a dead holder by its heartbeats
/// (PostgreSQL): calls Heartbeat every interval from its own thread until destroyed.
///
/// When `stop_run` is given, the run is stopped (cancelled with a reason, so that it starts
/// nothing more and rolls back what it did) when the lock is no longer safely its own:
///  * at once when a heartbeat is refused: a recover elsewhere took the lock for dead;
///  * when no heartbeat has got through for half the expiry (1.5 intervals): the store is
///    out of reach, and soon another machine would take this run for dead. After a failed
///    heartbeat the next is tried a second later rather than an interval later.
/// Either way the first problem is kept for the operator.
class LockHeartbeat {
 public:
  LockHeartbeat(LockStore& locks, const std::string& key, const std::string& run, int pid,
                const std::string& host, bool locked, CancelFlag* stop_run = nullptr)
      : locks_(locks) {
    const auto every = locks.heartbeat_interval();
    if (!locked || every.count() <= 0) return;
    thread_ = std::thread([this, key, run, pid, host, every, stop_run] {
      using Clock = std::chrono::steady_clock;
      const auto retry = std::min<std::chrono::milliseconds>(every, std::chrono::seconds(1));
      const auto give_up = every * 3 / 2;
      auto last_ok = Clock::now();
      auto wait = every;
      while (stop_.SleepFor(static_cast<long>(wait.count()))) {
        Status s = locks_.Heartbeat(key, run, pid, host);
        if (s.ok()) {
          last_ok = Clock::now();
          wait = every;
          continue;
        }
        Keep(s.message());
        wait = retry;
        if (!stop_run) continue;
        if (s.kind() == StatusKind::kRefused) {
          stop_run->Cancel("the run's lock was taken over (" + s.message() +
                           "); a recover elsewhere is rolling the run back");
        } else if (Clock::now() - last_ok >= give_up) {
          const auto silent =
              std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - last_ok).count();
          stop_run->Cancel("the shared audit store has not taken the run's heartbeat for " +
                           std::to_string(silent) + "s (" + s.message() +
                           "); the run stops before another machine takes it for dead");
        }
      }
    });
  }
  ~LockHeartbeat() {
    stop_.Cancel();
    if (thread_.joinable()) thread_.join();
  }
  LockHeartbeat(const LockHeartbeat&) = delete;
  LockHeartbeat& operator=(const LockHeartbeat&) = delete;

  std::string problem() {
    std::lock_guard<std::mutex> lock(mu_);
    return problem_;
  }

 private:
  void Keep(const std::string& message) {
    std::lock_guard<std::mutex> lock(mu_);
    if (problem_.empty()) problem_ = message;
  }

  LockStore& locks_;
  CancelFlag stop_;
  std::thread thread_;
  std::mutex mu_;
  std::string problem_;
};

/// Decorates the sink a run writes to on a store shared by several machines: once one of the
/// run's records could not go straight into the store (it waits in this machine's journal, or
/// in memory), the run is stopped with a reason, as a refused heartbeat stops it. A run whose
/// events no other machine can see must not go on changing things; it rolls back what it did,
/// recording into the journal. On a store of this machine alone (SQLite) the journal is as good
/// as the store and the run goes on (`shared` false: the sink only passes writes on).
class OutOfReachGuard : public AuditSink {
 public:
  OutOfReachGuard(AuditSink& inner, CancelFlag* stop_run, bool shared)
      : inner_(inner), stop_run_(stop_run), shared_(shared) {}
  OutOfReachGuard(const OutOfReachGuard&) = delete;
  OutOfReachGuard& operator=(const OutOfReachGuard&) = delete;

  Status BeginRun(const RunRecord& run) override { return inner_.BeginRun(run); }
  Status Append(const std::string& run_id, const AuditEvent& event) override {
    Status s = inner_.Append(run_id, event);
    Check(run_id);
    return s;
  }
  Status Queue(const std::string& run_id, const AuditEvent& event) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      run_id_ = run_id;
    }
    return inner_.Queue(run_id, event);
  }
  Status Sync(int* not_durable) override {
    Status s = inner_.Sync(not_durable);
    std::string run_id;
    {
      std::lock_guard<std::mutex> lock(mu_);
      run_id = run_id_;
    }
    if (!run_id.empty()) Check(run_id);
    return s;
  }
  Status EndRun(const std::string& run_id, const std::string& state, int exit_code,
                std::chrono::system_clock::time_point finished_at) override {
    return inner_.EndRun(run_id, state, exit_code, finished_at);
  }
  AuditBacklog Backlog(const std::string& run_id) const override {
    return inner_.Backlog(run_id);
  }

 private:
  void Check(const std::string& run_id) {
    if (!shared_ || !stop_run_ || stopped_.load()) return;
    const AuditBacklog backlog = inner_.Backlog(run_id);
    if (backlog.journaled + backlog.held == 0) return;
    stopped_.store(true);
    stop_run_->Cancel(
        "the shared audit store could not be written, and a run the other machines cannot "
        "see must not go on");
  }

  AuditSink& inner_;
  CancelFlag* stop_run_;
  const bool shared_;
  std::atomic<bool> stopped_{false};
  std::mutex mu_;
  std::string run_id_;  // of the events queued: what Sync checks
};

}  // namespace runbook
