// The post-mortem use cases: what the audit log says about past runs (SPEC §3, §4): the list
// of runs, one run's timeline (and whether its transitions re-derive from its runbook), the
// whole chain's verification, the export, and the post-mortem report.
#pragma once

#include <chrono>
#include <functional>
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

/// The runs as `runs` lists them: newest first (SPEC §7), and the failed ssh hosts of each
/// run that had any (engine/host_ledger.h).
struct RunList {
  std::vector<StoredRun> runs;
  std::map<std::string, std::vector<FailedHost>> failed_hosts;  // by run id
};

/// The state `runs --state` names a run that has not ended by.
inline constexpr char kUnfinishedState[] = "unfinished";

/// Which runs `runs` lists: every field left at its default matches every run; the fields
/// given must all match.
struct RunQuery {
  std::string runbook;              // the runbook's name, exactly
  std::vector<std::string> states;  // any of these terminal states, or kUnfinishedState
  std::optional<std::chrono::system_clock::time_point> since;  // started at or after
  std::string operator_name;        // exactly
  /// Runs of these runbook names are left out (the web pages leave out their own records).
  std::vector<std::string> exclude_runbooks;
  int limit = 0;                    // the newest `limit` that match; 0: all of them

  /// Whether `run` matches everything but `limit`.
  bool Matches(const StoredRun& run) const;
};

/// The states `--state` accepts: the terminal states (succeeded, aborted, rolled_back,
/// rollback_failed) and kUnfinishedState.
const std::vector<std::string>& RunStateNames();

/// Checks `query`'s states and limit: kInvalid naming a state that is not one of
/// RunStateNames(), or a negative limit.
Status CheckRunQuery(const RunQuery& query);

/// The runs `query` selects, newest first, with their failed hosts; reads only the events
/// the host fold needs: of each listed run when they are few (a page of a long log), else of
/// the whole log in one pass. kInvalid for a query CheckRunQuery refuses.
Result<RunList> ListRuns(EventStore& log, const RunQuery& query = {});

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

/// Calls `visit` with the events of one run (kNotFound for an unknown run, before any) or,
/// with no run, of the whole log, in seq order, one at a time as they are read
/// (EventStore::ForEachEventRow): `audit export` holds one event at a time, however long the
/// log.
Status ExportEvents(EventStore& log, const std::optional<std::string>& run_id,
                    const std::function<Status(const EventRow&)>& visit);

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
