#include "app/history.h"

#include "app/postmortem_report.h"
#include "audit/replay_check.h"

namespace runbook {
namespace {

Result<StoredRun> FindRun(AuditStore& store, const std::string& run_id) {
  auto run = store.GetRun(run_id);
  if (!run.ok())
    return Status::NotFound(run.message() + " (see `runbook runs` for the recorded runs)");
  return run;
}

}  // namespace

Result<RunHistoryView> ReplayRun(AuditStore& store, const std::string& run_id, bool verify) {
  auto run = FindRun(store, run_id);
  if (!run.ok()) return run.status();
  auto events = store.Events(run_id);
  if (!events.ok()) return events.status();
  RunHistoryView view;
  view.run = std::move(run.value());
  view.events = std::move(events.value());
  view.verified = verify;
  if (verify) {
    view.divergences = CheckReplay(view.run, view.events);
    auto chain = store.Verify();
    if (!chain.ok()) {
      view.divergences.push_back(chain.message());
    } else if (!chain->ok) {
      view.divergences.push_back("hash chain: " + chain->problem);
    }
  }
  return view;
}

Result<std::vector<StoredEvent>> ExportEvents(AuditStore& store,
                                              const std::optional<std::string>& run_id) {
  if (run_id) {
    auto run = FindRun(store, *run_id);
    if (!run.ok()) return run.status();
  }
  return store.Events(run_id);
}

Result<std::string> RenderRunReport(AuditStore& store, const std::string& run_id,
                                    const std::optional<DocumentTemplate>& custom,
                                    StoredRun* run_out) {
  auto run = FindRun(store, run_id);
  if (!run.ok()) return run.status();
  auto events = store.Events(run_id);
  if (!events.ok()) return events.status();
  auto html = RenderPostmortemHtml(*run, *events, custom);
  if (!html.ok()) return html.status();
  if (run_out) *run_out = std::move(run.value());
  return html;
}

}  // namespace runbook
