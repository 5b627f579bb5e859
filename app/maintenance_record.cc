#include "app/maintenance_record.h"

#include <unistd.h>

#include "app/plan_history.h"
#include "app/run.h"
#include "app/web_record.h"
#include "audit/lock_table.h"
#include "engine/sha256.h"

namespace runbook {

bool IsMaintenanceRecord(std::string_view runbook) {
  return runbook == kPlansPruneRecord || runbook == kWebRecord;
}

Result<std::string> BeginMaintenanceRecord(AuditStore& db, const Environment& env,
                                           const std::string& name,
                                           const std::string& operator_name) {
  RunRecord record;
  record.run_id = NewRunId(env.Now());
  record.runbook = name;
  record.runbook_sha256 = Sha256Hex("");
  record.operator_name = operator_name;
  record.host = LocalHostName();
  record.pid = static_cast<int>(getpid());
  record.started_at = env.Now();
  if (Status s = db.events().BeginRun(record); !s.ok()) return s;
  RunStartedDetail started;
  started.runbook = record.runbook;
  started.operator_name = record.operator_name;
  started.host = record.host;
  started.pid = record.pid;
  started.runbook_sha256 = record.runbook_sha256;
  nlohmann::json started_json;
  to_json(started_json, started);
  if (Status s = AppendRecordEvent(db, env, record.run_id, EventKind::kRunStarted, started_json,
                                   "pending");
      !s.ok())
    return s;
  return record.run_id;
}

Status AppendRecordEvent(AuditStore& db, const Environment& env, const std::string& run_id,
                         EventKind kind, nlohmann::json detail, const std::string& to) {
  AuditEvent e;
  e.ts = env.Now();
  e.event = kind;
  e.phase = "run";
  e.to = to;
  e.detail = std::move(detail);
  return db.events().Append(run_id, e);
}

Status EndMaintenanceRecord(AuditStore& db, const Environment& env, const std::string& run_id,
                            const std::string& state, const std::string& error) {
  RunFinishedDetail finished;
  finished.state = state;
  finished.exit_code = state == "succeeded" ? 0 : 1;
  finished.error = error;
  nlohmann::json detail;
  to_json(detail, finished);
  Status s = AppendRecordEvent(db, env, run_id, EventKind::kRunFinished, detail, state);
  if (s.ok()) s = db.events().EndRun(run_id, state, finished.exit_code, env.Now());
  return s;
}

}  // namespace runbook
