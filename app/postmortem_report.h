// The post-mortem report of one run (`runbook report RUN_ID --out F.html`): a self-contained
// HTML page with the run's header, the change request it ran, its impact, a summary of what
// failed and what was rolled back, the hosts of its ssh steps, the objects of its kubectl
// steps, the time to restore, an SVG timeline of every step attempt and rollback action, the
// full event table and the recorded runbook text (docs/postmortem.md). A pure function of the
// stored rows: their context (docs/templates.md) rendered through templates/postmortem.html
// (compiled in by app/CMakeLists.txt) or a replacement (`--template F`); the timeline picture
// is report_timeline.h.
// Everything taken from the log is HTML-escaped by the renderer (document_renderer.h): a
// step's output is whatever the step printed, including markup.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/document_renderer.h"
#include "app/postmortem_change_request.h"
#include "audit/audit_records.h"

namespace runbook {

/// What the report template is rendered with: the run's header, the change request it ran
/// (`change_request`, read by ReadRunChangeRequest; null: not shown), the checklist, purpose
/// and impact, the summary (how it ended, what failed, what was rolled back and what each
/// rollback action printed), the hosts of ssh steps, the objects of kubectl steps, the time
/// to restore, the timeline as an <svg> element, the event rows and the recorded runbook, as
/// plain (unescaped) values.
nlohmann::json PostmortemContext(const StoredRun& run, const std::vector<StoredEvent>& events,
                                 const RunChangeRequest* change_request = nullptr);

/// The whole report: `custom`, or the built-in templates/postmortem.html, rendered with
/// PostmortemContext. kInvalid when `custom` does not parse.
Result<std::string> RenderPostmortemHtml(const StoredRun& run,
                                         const std::vector<StoredEvent>& events,
                                         const std::optional<DocumentTemplate>& custom = {},
                                         const RunChangeRequest* change_request = nullptr);

}  // namespace runbook
