#include "app/history.h"

#include "app/postmortem_report.h"
#include "audit/audit_format.h"
#include "audit/replay_check.h"

namespace runbook {
namespace {

Result<StoredRun> FindRun(EventStore& log, const std::string& run_id) {
  auto run = log.GetRun(run_id);
  if (run.status().IsNotFound())
    return Status::NotFound(run.message() + " (see `runbook runs` for the recorded runs)");
  return run;
}

}  // namespace

Result<RunList> ListRuns(EventStore& log) {
  auto runs = log.ListRuns();
  if (!runs.ok()) return runs.status();
  auto host_events = log.EventsOfKinds(HostLedger::Kinds());
  if (!host_events.ok()) return host_events.status();
  RunList list;
  list.runs = std::move(runs.value());
  list.failed_hosts = FailedHostsByRun(*host_events);
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

Result<std::vector<StoredEvent>> ExportEvents(EventStore& log,
                                              const std::optional<std::string>& run_id) {
  if (run_id) {
    auto run = FindRun(log, *run_id);
    if (!run.ok()) return run.status();
  }
  return log.Events(run_id);
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
