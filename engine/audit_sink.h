// Where the executor writes its record of a run. The executor writes each event before the
// action it announces (write-ahead); an implementation must make an event durable before
// Append returns. The SQLite implementation lives in audit/.
#pragma once

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/events.h"
#include "engine/status.h"

namespace runbook {

/// The run row: what was run, by whom, where. Secrets are already redacted.
struct RunRecord {
  std::string run_id;
  std::string runbook;         // the runbook's name
  std::string runbook_path;
  std::string runbook_text;    // exact file contents
  std::string runbook_sha256;  // of runbook_text
  nlohmann::json params = nlohmann::json::object();  // name -> value (secret params: "***")
  std::string operator_name;
  std::string host;
  int pid = 0;
  std::string lock_key;
  std::string plan_id;         // empty when run without a plan
  bool dry_run = false;
  std::chrono::system_clock::time_point started_at;
};

/// One state transition or step event (SPEC §3; kinds and details in engine/events.h).
/// `seq`, `prev_hash` and `hash` are assigned by the sink, which stores `event` by its name.
struct AuditEvent {
  std::chrono::system_clock::time_point ts;
  EventKind event = EventKind::kRunStarted;
  std::string phase;   // precheck | step | verify | rollback | run
  std::string step;    // step id, or "" for run-level events
  std::string from;    // state names, or ""
  std::string to;
  int attempt = 0;     // 0 for events outside an attempt
  nlohmann::json detail = nlohmann::json::object();
};

class AuditSink {
 public:
  virtual ~AuditSink() = default;
  /// Stores the run row. Called once, before the first event of the run.
  virtual Status BeginRun(const RunRecord& run) = 0;
  /// Appends one event to the hash chain; durable on return.
  virtual Status Append(const std::string& run_id, const AuditEvent& event) = 0;
  /// Stores the terminal state on the run row (the run_finished event carries it too).
  /// `finished_at` is the executor's Environment::Now().
  virtual Status EndRun(const std::string& run_id, const std::string& state, int exit_code,
                        std::chrono::system_clock::time_point finished_at) = 0;
};

}  // namespace runbook
