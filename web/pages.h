// The HTML of `runbook serve`'s pages (docs/serve.md), as pure functions of what the server
// read: every value taken from the store is escaped (app/html.h), and no page carries inline
// script (the Content Security Policy forbids it; /static/live.js does the live updates).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/history.h"
#include "app/plans.h"
#include "app/report_timeline.h"
#include "app/stats.h"
#include "engine/host_ledger.h"

namespace runbook::web {

/// `prefix` followed by `id` percent-encoded (all but letters, digits and -_.): a path or a
/// query value that cannot break out of its place.
std::string Path(const std::string& prefix, const std::string& id);

/// Who is looking, for the header of every page.
struct Viewer {
  std::string user;    // "" on the login page
  std::string csrf;    // the session's token, for the logout form
  bool proxy = false;  // identified by a proxy header: no logout
};

/// A whole page: header with the navigation (`here`: which link is current), `title`, `body`.
std::string Page(const Viewer& viewer, const std::string& here, const std::string& title,
                 const std::string& body);

/// The login form. `error` is shown above it; `csrf` is the login form's token.
std::string LoginPage(const std::string& csrf, const std::string& next, const std::string& error);

/// `/plans`' table (and the overview's): the plans as given.
std::string PlansTable(const std::vector<const PlanView*>& plans);
/// `/runs`' table (and the overview's); `live_json`: the URL its rows refresh from, or "".
std::string RunsTable(const RunList& runs, const std::string& live_json);

/// What a plan page shows besides the plan.
struct PlanPageState {
  std::string flash;  // a line saying what just happened, or ""
  std::string error;  // why the last action was refused, or ""
  bool is_requester = false;
  std::string change_request;  // the rendered change request (templates/change-request.md)
};
std::string PlanBody(const PlanService::PlanDetails& details, const Viewer& viewer,
                     const PlanPageState& state);

/// The state a run page shows: its terminal state, or running / unfinished.
struct RunPageData {
  const RunHistoryView* view = nullptr;
  std::string state;
  std::vector<TimelineBar> bars;
  std::string timeline_svg;
  std::vector<HostTally> hosts;
  std::vector<FailedHost> failed_hosts;
  long long live_interval_ms = 1000;
};
std::string RunBody(const RunPageData& data);
/// The same, as the run page's JSON: `replay --json`'s, with state, finished, event_count,
/// steps, hosts and timeline_svg. Without `with_events`, no "events" array: what live.js polls
/// every second, which would otherwise carry every event of the run each time.
nlohmann::ordered_json RunJson(const RunPageData& data, bool with_events = true);

/// `updating`: newer figures are being computed (the page says it reloads by itself).
std::string StatsBody(const StatsReport& report, bool updating = false);

}  // namespace runbook::web
