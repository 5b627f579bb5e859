// `runbook replay --verify`: re-derives a run's transitions from the runbook it recorded and
// the step results it recorded, by walking the same compiled state machine the executor
// walked, and reports every place where the recorded history says otherwise.
#pragma once

#include <string>
#include <vector>

#include "audit/audit_records.h"

namespace runbook {

/// The divergences between what `events` (one run's, in seq order) record and what the
/// state machine of `run.runbook_text` derives from the recorded step outcomes; empty when
/// they agree. A runbook text that no longer validates is itself a divergence.
std::vector<std::string> CheckReplay(const StoredRun& run, const std::vector<StoredEvent>& events);

}  // namespace runbook
