// What approvers do on `runbook serve` (docs/serve.md), in the audit log: each login, login
// failure, approval, rejection and refused action is one maintenance record
// (app/maintenance_record.h) named "(runbook serve)", with one web_action event between its
// run_started and run_finished. A record of its own per action, rather than one per server,
// so that a server killed at any moment leaves no record open for `recover` to find.
#pragma once

#include <string>

#include "audit/store.h"
#include "engine/environment.h"
#include "engine/status.h"

namespace runbook {

/// The runbook name of the run rows that record what happened on `runbook serve`.
inline constexpr char kWebRecord[] = "(runbook serve)";

/// One action on the web interface.
struct WebAction {
  std::string action;   // login | logout | approve | reject
  std::string outcome;  // ok | refused
  std::string user;     // who (the name typed at login when it failed); "" when unknown
  std::string remote;   // the client's address
  std::string plan_id;  // approve, reject: the plan
  std::string reason;   // refused: why (shown to the user as well)
  std::string comment;  // approve, reject: the comment given
};

/// Records `action` as a maintenance record (run_started, web_action, run_finished) under
/// the operator `action.user` (or "(anonymous)"). Returns the record's run id.
Result<std::string> RecordWebAction(AuditStore& db, const Environment& env,
                                    const WebAction& action);

}  // namespace runbook
