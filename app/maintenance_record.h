// Maintenance records: actions that are not runs of a runbook but belong in the hash chain
// (SPEC §3): `plans prune` (app/plan_history.h) and what approvers do on `runbook serve`
// (app/web_record.h). Each is a run row under a name no runbook can have ("(plans prune)",
// "(runbook serve)"), whose events are run_started, the action's own events and run_finished.
// `runs` and `replay` show them; `stats` and `replay --verify`'s re-derivation leave them out;
// `recover` only ends one that was cut short (nothing to roll back).
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "audit/store.h"
#include "engine/environment.h"
#include "engine/events.h"
#include "engine/status.h"

namespace runbook {

/// Whether `runbook` (a run row's name) is a maintenance record's.
bool IsMaintenanceRecord(std::string_view runbook);

/// Begins the record `name` for `operator_name`: its run row and its run_started event.
/// Returns its id.
Result<std::string> BeginMaintenanceRecord(AuditStore& db, const Environment& env,
                                           const std::string& name,
                                           const std::string& operator_name);

/// Appends one event of the record, in phase `run`, moving to `to` when given.
Status AppendRecordEvent(AuditStore& db, const Environment& env, const std::string& run_id,
                         EventKind kind, nlohmann::json detail, const std::string& to = "");

/// Ends the record: run_finished in `state` (succeeded or aborted; `error` says why when
/// aborted), then the run row's end.
Status EndMaintenanceRecord(AuditStore& db, const Environment& env, const std::string& run_id,
                            const std::string& state, const std::string& error = "");

}  // namespace runbook
