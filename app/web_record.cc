#include "app/web_record.h"

#include <nlohmann/json.hpp>

#include "app/maintenance_record.h"

namespace runbook {

Result<std::string> RecordWebAction(AuditStore& db, const Environment& env,
                                    const WebAction& action) {
  const std::string who = action.user.empty() ? "(anonymous)" : action.user;
  auto run_id = BeginMaintenanceRecord(db, env, kWebRecord, who);
  if (!run_id.ok()) return run_id.status().WithContext("cannot record the web action");
  nlohmann::json detail = {{"action", action.action},
                           {"outcome", action.outcome},
                           {"user", action.user},
                           {"remote", action.remote}};
  if (!action.plan_id.empty()) detail["plan_id"] = action.plan_id;
  if (!action.reason.empty()) detail["reason"] = action.reason;
  if (!action.comment.empty()) detail["comment"] = action.comment;
  Status s = AppendRecordEvent(db, env, *run_id, EventKind::kWebAction, std::move(detail));
  Status end = EndMaintenanceRecord(db, env, *run_id, s.ok() ? "succeeded" : "aborted",
                                    s.ok() ? "" : s.message());
  if (!s.ok()) return s.WithContext("cannot record the web action");
  if (!end.ok()) return end.WithContext("cannot end the web action's record");
  return run_id;
}

}  // namespace runbook
