#include "app/history.h"

#include <algorithm>

#include "app/maintenance_record.h"
#include "app/plan_history.h"
#include "app/postmortem_report.h"
#include "audit/audit_time.h"
#include "audit/audit_format.h"
#include "audit/replay_check.h"

namespace runbook {
namespace {

std::string JoinStates(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

Result<StoredRun> FindRun(EventStore& log, const std::string& run_id) {
  auto run = log.GetRun(run_id);
  if (run.status().IsNotFound())
    return Status::NotFound(run.message() + " (see `runbook runs` for the recorded runs)");
  return run;
}

}  // namespace

bool RunQuery::Matches(const StoredRun& run) const {
  if (!runbook.empty() && run.runbook != runbook) return false;
  if (!operator_name.empty() && run.operator_name != operator_name) return false;
  if (std::find(exclude_runbooks.begin(), exclude_runbooks.end(), run.runbook) !=
      exclude_runbooks.end())
    return false;
  if (!states.empty()) {
    const std::string state = run.state.empty() ? kUnfinishedState : run.state;
    if (std::find(states.begin(), states.end(), state) == states.end()) return false;
  }
  if (since) {
    // Stored times are fixed-width RFC 3339 UTC: text order is time order.
    if (run.started_at < FormatAuditTime(*since)) return false;
  }
  return true;
}

const std::vector<std::string>& RunStateNames() {
  static const std::vector<std::string> names = {"succeeded", "aborted", "rolled_back",
                                                 "rollback_failed", kUnfinishedState};
  return names;
}

Status CheckRunQuery(const RunQuery& query) {
  const std::vector<std::string>& known = RunStateNames();
  for (const std::string& state : query.states) {
    if (std::find(known.begin(), known.end(), state) == known.end())
      return Status::Invalid("--state " + state + " is not a run state; use one of " +
                             JoinStates(known));
  }
  if (query.limit < 0)
    return Status::Invalid("--limit " + std::to_string(query.limit) + " is negative");
  return Status::Ok();
}

Result<RunList> ListRuns(EventStore& log, const RunQuery& query) {
  if (Status s = CheckRunQuery(query); !s.ok()) return s;
  // A page of the newest runs (the web pages, `runs --limit N`): the store reads only those.
  const bool newest_only = query.limit > 0 && query.runbook.empty() && query.states.empty() &&
                           !query.since && query.operator_name.empty() &&
                           query.exclude_runbooks.size() <= 1;
  auto runs = newest_only ? log.NewestRuns(query.limit, query.exclude_runbooks.empty()
                                                            ? ""
                                                            : query.exclude_runbooks[0])
                          : log.ListRuns();
  if (!runs.ok()) return runs.status();
  RunList list;
  // The store lists oldest first; `runs` shows the newest first.
  for (auto it = runs->rbegin(); it != runs->rend(); ++it) {
    if (query.limit > 0 && static_cast<int>(list.runs.size()) >= query.limit) break;
    if (query.Matches(*it)) list.runs.push_back(std::move(*it));
  }
  // A few runs of a long log (a page, `runs --limit 20`): the host events of those runs;
  // otherwise those of every run, in one pass.
  constexpr size_t kListedRunsBelow = 500;
  std::optional<std::vector<std::string>> listed;
  if (list.runs.size() < kListedRunsBelow) {
    listed.emplace();
    for (const StoredRun& run : list.runs) listed->push_back(run.run_id);
  }
  auto host_events = log.EventsOfKinds(HostLedger::Kinds(), listed);
  if (!host_events.ok()) return host_events.status();
  std::map<std::string, std::vector<FailedHost>> failed = FailedHostsByRun(*host_events);
  for (const StoredRun& run : list.runs) {
    auto f = failed.find(run.run_id);
    if (f != failed.end()) list.failed_hosts[run.run_id] = std::move(f->second);
  }
  return list;
}

Result<RunHistoryView> ReplayRun(EventStore& log, const std::string& run_id, bool verify) {
  auto run = FindRun(log, run_id);
  if (!run.ok()) return run.status();
  auto events = log.Events(run_id);
  if (!events.ok()) return events.status();
  RunHistoryView view;
  view.run = std::move(run.value());
  view.events = std::move(events.value());
  view.verified = verify;
  if (verify) {
    // A `plans prune` record has no runbook to re-derive its transitions from.
    if (!IsMaintenanceRecord(view.run.runbook))
      view.divergences = CheckReplay(view.run, view.events);
    auto chain = log.Verify();
    // A chain that could not be read (busy, I/O) is an error, not a divergence.
    if (!chain.ok()) return chain.status();
    if (!chain->ok) {
      view.divergences.push_back("hash chain: " + chain->problem);
    }
  }
  return view;
}

Status ExportEvents(EventStore& log, const std::optional<std::string>& run_id,
                    const std::function<Status(const EventRow&)>& visit) {
  if (run_id) {
    auto run = FindRun(log, *run_id);
    if (!run.ok()) return run.status();
  }
  return log.ForEachEventRow(run_id, visit);
}

Result<std::string> RenderRunReport(EventStore& log, const std::string& run_id,
                                    const std::optional<DocumentTemplate>& custom,
                                    StoredRun* run_out, PlanStore* plans, Signer* verifier) {
  auto run = FindRun(log, run_id);
  if (!run.ok()) return run.status();
  auto events = log.Events(run_id);
  if (!events.ok()) return events.status();
  std::optional<RunChangeRequest> change_request;
  if (plans) change_request = ReadRunChangeRequest(*plans, *run, verifier);
  auto html = RenderPostmortemHtml(*run, *events, custom,
                                   change_request ? &*change_request : nullptr);
  if (!html.ok()) return html.status();
  if (run_out) *run_out = std::move(run.value());
  return html;
}

}  // namespace runbook
