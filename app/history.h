// The post-mortem use cases: what the audit log says about past runs (SPEC §3, §4): the list
// of runs, one run's timeline (and whether its transitions re-derive from its runbook), the
// whole chain's verification, the export, and the post-mortem report.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "app/document_renderer.h"
#include "audit/event_log.h"
#include "engine/host_ledger.h"
#include "engine/status.h"

namespace runbook {

class PlanStore;
class Signer;

/// The runs as `runs` lists them: every run, oldest first, and the failed ssh hosts of
/// each run that had any (engine/host_ledger.h).
struct RunList {
  std::vector<StoredRun> runs;
  std::map<std::string, std::vector<FailedHost>> failed_hosts;  // by run id
};

/// Every run with its failed hosts; reads only the events the host fold needs.
Result<RunList> ListRuns(EventStore& log);

/// One run as `replay` shows it.
struct RunHistoryView {
  StoredRun run;
  std::vector<StoredEvent> events;  // in seq order
  bool verified = false;            // --verify was asked for
  std::vector<std::string> divergences;  // what --verify found; empty when it agrees
};

/// One run's row and events; with `verify`, also re-derives its transitions from the
/// recorded runbook and checks the hash chain. kNotFound for an unknown run; kBusy when the
/// chain could not be read because another process kept the database locked.
Result<RunHistoryView> ReplayRun(EventStore& log, const std::string& run_id, bool verify);

/// The events of one run (kNotFound for an unknown run) or, with no run, of the whole log.
Result<std::vector<StoredEvent>> ExportEvents(EventStore& log,
                                              const std::optional<std::string>& run_id);

/// The post-mortem report of one run as one self-contained HTML page, through `custom` when
/// given, else the built-in templates/postmortem.html. With `plans`, the report shows the
/// plan the run ran and its approvals, their signatures checked by `verifier` when given
/// (app/postmortem_change_request.h). kNotFound for an unknown run, kInvalid when `custom`
/// does not render.
Result<std::string> RenderRunReport(EventStore& log, const std::string& run_id,
                                    const std::optional<DocumentTemplate>& custom = {},
                                    StoredRun* run_out = nullptr, PlanStore* plans = nullptr,
                                    Signer* verifier = nullptr);

}  // namespace runbook
