// The crash-matrix test's hook (tests/crash_matrix_test.cc, docs/recovery.md): an AuditSink
// that passes every write on to the real one and, when RUNBOOK_TEST_CRASH_AFTER_EVENT=K is set
// in the environment, kills its own process with SIGKILL right after the K-th record it wrote
// (durable, or queued for the next commit: then it is lost with the others queued since the
// last one), so that the test can crash `run` and `recover` at every event they write.
//
// The hook exists only in builds configured with -DRUNBOOK_TEST_HOOKS=ON (this repository's
// default, so that CI runs the test); a packaging build turns it off, and then the sink only
// passes writes on and the variable means nothing.
#pragma once

#include <atomic>
#include <string>

#include "engine/audit_sink.h"

namespace runbook {

class Environment;

/// Decorates the sink the executor writes to. Counts the run row (BeginRun), each event
/// (Append) and the run's end (EndRun), each once it succeeded. `inner` must outlive it.
/// Thread-safe as far as `inner` is (the count is atomic).
class CrashHookSink : public AuditSink {
 public:
  CrashHookSink(AuditSink& inner, const Environment& env);
  CrashHookSink(const CrashHookSink&) = delete;
  CrashHookSink& operator=(const CrashHookSink&) = delete;

  Status BeginRun(const RunRecord& run) override;
  Status Append(const std::string& run_id, const AuditEvent& event) override;
  /// A queued event counts too: a crash after it loses it with whatever else was queued since
  /// the last commit, as a real crash would.
  Status Queue(const std::string& run_id, const AuditEvent& event) override;
  Status Sync(int* not_durable) override { return inner_.Sync(not_durable); }
  Status EndRun(const std::string& run_id, const std::string& state, int exit_code,
                std::chrono::system_clock::time_point finished_at) override;
  AuditBacklog Backlog(const std::string& run_id) const override {
    return inner_.Backlog(run_id);
  }

 private:
  /// Counts one durable record and dies if it is the K-th.
  Status Written(Status s);

  AuditSink& inner_;
  long crash_after_ = 0;  // K; 0: never
  std::atomic<long> written_{0};
};

}  // namespace runbook
