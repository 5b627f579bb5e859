#include "app/log_audit_sink.h"

namespace runbook {
namespace {

std::string Text(const nlohmann::json& detail, const char* key) {
  auto it = detail.find(key);
  return it != detail.end() && it->is_string() ? it->get<std::string>() : "";
}

long long Number(const nlohmann::json& detail, const char* key, long long fallback) {
  auto it = detail.find(key);
  return it != detail.end() && it->is_number() ? it->get<long long>() : fallback;
}

bool Flag(const nlohmann::json& detail, const char* key) {
  auto it = detail.find(key);
  return it != detail.end() && it->is_boolean() && it->get<bool>();
}

/// " (ERROR)" when the detail carries an error, else "".
std::string ErrorSuffix(const nlohmann::json& detail) {
  const std::string error = Text(detail, "error");
  return error.empty() ? "" : ": " + error;
}

std::string Took(const nlohmann::json& detail) {
  const long long ms = Number(detail, "duration_ms", -1);
  return ms < 0 ? "" : " in " + std::to_string(ms) + " ms";
}

}  // namespace

LogRecord EventLogRecord(const std::string& run_id, const AuditEvent& e) {
  LogRecord r;
  r.ts = e.ts;
  r.run_id = run_id;
  r.step = e.step;
  r.phase = e.phase;
  r.event = std::string(EventName(e.event));
  r.attempt = e.attempt;
  r.detail = e.detail;
  const nlohmann::json& d = e.detail;
  const std::string what = e.phase == "rollback" ? "rollback " + e.step : "step " + e.step;
  switch (e.event) {
    case EventKind::kRunStarted:
      r.message = "run of " + Text(d, "runbook") + " started by " + Text(d, "operator") + " on " +
                  Text(d, "host") + (Flag(d, "dry_run") ? " (dry run)" : "");
      break;
    case EventKind::kStateChanged:
      r.message = "state " + e.from + " -> " + e.to;
      if (const std::string t = Text(d, "trigger"); !t.empty()) r.message += " (" + t + ")";
      break;
    case EventKind::kStepStarted:
    case EventKind::kRollbackStarted:
      r.message = what + " started: " + Text(d, "description");
      break;
    case EventKind::kAttemptStarted:
      r.level = LogLevel::kDebug;
      r.message = what + " attempt " + std::to_string(e.attempt) + ": " + Text(d, "description");
      break;
    case EventKind::kAttemptFinished: {
      const std::string outcome = Text(d, "outcome");
      r.level = outcome == "succeeded" ? LogLevel::kDebug : LogLevel::kWarn;
      r.message = what + " attempt " + std::to_string(e.attempt) + " " + outcome +
                  Took(d) + ErrorSuffix(d);
      break;
    }
    case EventKind::kStepSucceeded:
    case EventKind::kRollbackSucceeded:
      r.message = what + " succeeded" + Took(d);
      break;
    case EventKind::kStepFailed:
    case EventKind::kRollbackFailed:
      r.level = LogLevel::kError;
      r.message = what + " failed" + Took(d) + ErrorSuffix(d);
      break;
    case EventKind::kStepSkipped:
      r.message = what + " skipped: " + Text(d, "reason");
      break;
    case EventKind::kRunFinished: {
      const std::string state = Text(d, "state");
      r.level = state == "succeeded"   ? LogLevel::kInfo
                : state == "rolled_back" ? LogLevel::kWarn
                                         : LogLevel::kError;
      r.message = "run finished: " + state + " (exit " +
                  std::to_string(Number(d, "exit_code", 0)) + ")" + Took(d) + ErrorSuffix(d);
      break;
    }
    case EventKind::kRunRecovered:
      r.level = LogLevel::kWarn;
      r.message = "run recovered by " + Text(d, "operator") + " on " + Text(d, "host") +
                  " (its executor, pid " + std::to_string(Number(d, "dead_pid", 0)) +
                  ", died in state " + Text(d, "state") + ")";
      break;
    case EventKind::kProcessStarted:
      r.level = LogLevel::kDebug;
      r.message = what + " started process " + std::to_string(Number(d, "pid", 0));
      break;
    case EventKind::kHostFinished: {
      r.host = Text(d, "host");
      const bool ok = d.contains("ok") ? Flag(d, "ok")
                                       : Number(d, "exit_status", -1) == 0 &&
                                             Text(d, "error").empty();
      r.level = ok ? LogLevel::kInfo : LogLevel::kWarn;
      r.message = what + " on " + r.host + (ok ? " succeeded" : " failed") + " (exit " +
                  std::to_string(Number(d, "exit_status", -1)) + ")" + Took(d) +
                  ErrorSuffix(d);
      break;
    }
    case EventKind::kHostFailed:
      r.host = Text(d, "host");
      r.level = LogLevel::kWarn;
      r.message = what + ": host " + r.host + " failed within max_fail" + ErrorSuffix(d);
      break;
    case EventKind::kHostSkipped:
      r.host = Text(d, "host");
      r.message = what + ": host " + r.host + " left out: " + Text(d, "reason");
      break;
    case EventKind::kKubectlTarget:
      r.level = LogLevel::kDebug;
      r.message = what + ": kubectl talks to " + d.dump(-1, ' ', false,
                                                      nlohmann::json::error_handler_t::replace);
      break;
    case EventKind::kKubectlRevisions:
      r.level = LogLevel::kDebug;
      r.message = what + ": workload revisions recorded before the apply";
      break;
    case EventKind::kKubectlUndo:
      r.message = what + ": a workload was undone to its recorded revision";
      break;
    case EventKind::kPlansPruned:
      r.message = "pending plans pruned";
      break;
    case EventKind::kNotificationSent:
      r.level = LogLevel::kDebug;
      r.message = "notification sent: " + Text(d, "event");
      break;
    case EventKind::kNotificationFailed:
      r.level = LogLevel::kWarn;
      r.message = "notification failed: " + Text(d, "event") + ErrorSuffix(d);
      break;
    case EventKind::kWebAction:
      r.message = "runbook serve: " + Text(d, "action") + " " + Text(d, "outcome") + " (" +
                  Text(d, "user") + ")";
      break;
  }
  return r;
}

Status LoggingAuditSink::BeginRun(const RunRecord& run) {
  Status s = inner_.BeginRun(run);
  if (!s.ok()) Refused(run.run_id, "the run's row", s);
  return s;
}

Status LoggingAuditSink::Append(const std::string& run_id, const AuditEvent& event) {
  Status s = inner_.Append(run_id, event);
  if (log_ == nullptr) return s;
  log_->Write(EventLogRecord(run_id, event));
  if (!s.ok()) Refused(run_id, "event " + std::string(EventName(event.event)), s);
  return s;
}

Status LoggingAuditSink::Queue(const std::string& run_id, const AuditEvent& event) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    run_id_ = run_id;
  }
  Status s = inner_.Queue(run_id, event);
  if (log_ == nullptr) return s;
  log_->Write(EventLogRecord(run_id, event));
  if (!s.ok()) Refused(run_id, "event " + std::string(EventName(event.event)), s);
  return s;
}

Status LoggingAuditSink::Sync(int* not_durable) {
  Status s = inner_.Sync(not_durable);
  if (log_ == nullptr || s.ok()) return s;
  std::string run_id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    run_id = run_id_;
  }
  Refused(run_id, "queued events", s);
  return s;
}

Status LoggingAuditSink::EndRun(const std::string& run_id, const std::string& state,
                                int exit_code, std::chrono::system_clock::time_point finished_at) {
  Status s = inner_.EndRun(run_id, state, exit_code, finished_at);
  if (!s.ok()) Refused(run_id, "the run's end", s);
  return s;
}

void LoggingAuditSink::Refused(const std::string& run_id, const std::string& what,
                               const Status& s) {
  if (log_ == nullptr) return;
  LogRecord r;
  r.ts = std::chrono::system_clock::now();
  r.level = LogLevel::kError;
  r.run_id = run_id;
  r.phase = "run";
  r.event = "audit_write_failed";
  r.message = "the audit store did not take " + what + ": " + s.message();
  log_->Write(r);
}

}  // namespace runbook
