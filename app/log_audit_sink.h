// The run's structured log, fed from its audit records (docs/logging.md): an AuditSink that
// passes every write on to the real one and then writes a line for it to a LogSink. The log
// sees exactly what the audit log sees, after the executor's redaction, so a secret masked
// there is masked here; it adds nothing the audit log does not hold.
#pragma once

#include <mutex>
#include <string>

#include "app/structured_log.h"
#include "engine/audit_sink.h"

namespace runbook {

/// The log line for audit event `event` of run `run_id`: its level (debug for the details of
/// an attempt, warn for a failed attempt or host, error for a failed step, rollback or run),
/// the host it concerns (SSH events), and a message for people.
LogRecord EventLogRecord(const std::string& run_id, const AuditEvent& event);

/// Decorates the sink a run writes to. `log` may be null: then it only passes writes on. A
/// record the store refused is logged all the same, with a line saying so. `inner` and `log`
/// must outlive it; thread-safe as far as they are.
class LoggingAuditSink : public AuditSink {
 public:
  LoggingAuditSink(AuditSink& inner, LogSink* log) : inner_(inner), log_(log) {}
  LoggingAuditSink(const LoggingAuditSink&) = delete;
  LoggingAuditSink& operator=(const LoggingAuditSink&) = delete;

  Status BeginRun(const RunRecord& run) override;
  Status Append(const std::string& run_id, const AuditEvent& event) override;
  Status Queue(const std::string& run_id, const AuditEvent& event) override;
  Status Sync(int* not_durable) override;
  Status EndRun(const std::string& run_id, const std::string& state, int exit_code,
                std::chrono::system_clock::time_point finished_at) override;
  AuditBacklog Backlog(const std::string& run_id) const override {
    return inner_.Backlog(run_id);
  }

 private:
  void Refused(const std::string& run_id, const std::string& what, const Status& s);

  AuditSink& inner_;
  LogSink* log_;
  std::mutex mu_;
  std::string run_id_;  // of the events queued: what a failed Sync is about
};

}  // namespace runbook
