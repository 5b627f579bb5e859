// The post-mortem report of one run (`runbook report RUN_ID --out F.html`): a self-contained
// HTML page with the run's header, a summary of what failed and what was rolled back, an SVG
// timeline of every step attempt and rollback action, the full event table and the recorded
// runbook text. A pure function of the stored rows, rendered into templates/postmortem.html
// (compiled in by app/CMakeLists.txt); the timeline picture is report_timeline.h.
// Everything taken from the log is HTML-escaped (html.h): a step's output is whatever the step
// printed, including markup.
#pragma once

#include <string>
#include <vector>

#include "audit/audit_records.h"

namespace runbook {

/// The whole report: kPostmortemTemplate with every placeholder filled.
std::string RenderPostmortemHtml(const StoredRun& run, const std::vector<StoredEvent>& events);

}  // namespace runbook
