// Sections of the post-mortem report (postmortem_report.h) folded from one run's events:
// what the kubectl steps changed (objects with their images before and after) and the time
// to restore against the runbook's rollback target. Each adds its keys to the template's
// context (docs/templates.md); each is a pure function of the stored events.
#pragma once

#include <vector>

#include <nlohmann/json.hpp>

#include "audit/audit_records.h"

namespace runbook {

/// A detail's field as the report shows it: a string as it is, any other value as JSON
/// (invalid UTF-8 replaced), and "" when the field is absent or null or `detail` is no object.
std::string DetailText(const nlohmann::json& detail, const char* key);

/// `kubectl_steps`, `has_kubectl_steps`: per kubectl apply step, from its kubectl_revisions,
/// kubectl_undo and attempt_finished events: each object with its images before the apply,
/// after it, and after the run (as before when its rollback succeeded), and the sha256 of
/// each rendered manifest applied.
void AddKubectlObjects(const std::vector<StoredEvent>& events, nlohmann::json* context);

/// `restore`: null when nothing was rolled back; else `first_failure` (offset and what),
/// `rollback_started`, `rollback_finished`, `time_to_restore` (first failure to the end of
/// the rollback), `rollback_duration`, `target` and `within_target` / `over_target`, with
/// `restored` false when a rollback action failed. `rollback_target_ms` must already be in
/// `context` (AddChangeRequest).
void AddTimeToRestore(const StoredRun& run, const std::vector<StoredEvent>& events,
                      nlohmann::json* context);

}  // namespace runbook
