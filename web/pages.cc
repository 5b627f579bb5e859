#include "web/pages.h"

#include <cctype>
#include <cstdio>

#include "app/html.h"
#include "app/signer.h"
#include "audit/audit_format.h"

namespace runbook::web {
namespace {

std::string E(const std::string& s) { return HtmlEscape(s); }

std::string Badge(const std::string& state) {
  std::string cls;
  for (char c : state) cls += (std::isalnum(static_cast<unsigned char>(c)) || c == '_') ? c : '_';
  return "<span class=\"state state-" + cls + "\">" + E(state) + "</span>";
}

std::string Link(const std::string& href, const std::string& text) {
  return "<a href=\"" + E(href) + "\">" + E(text) + "</a>";
}

std::string Percent(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", v * 100);
  return buf;
}

std::string Ms(const std::optional<long long>& ms) {
  if (!ms) return "-";
  char buf[32];
  if (*ms >= 60000) {
    std::snprintf(buf, sizeof buf, "%.1f min", *ms / 60000.0);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f s", *ms / 1000.0);
  }
  return buf;
}

}  // namespace

std::string Path(const std::string& prefix, const std::string& id) {
  std::string out = prefix;
  for (unsigned char c : id) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.') {
      out += static_cast<char>(c);
    } else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", c);
      out += hex;
    }
  }
  return out;
}

std::string Page(const Viewer& viewer, const std::string& here, const std::string& title,
                 const std::string& body) {
  std::string nav;
  for (const auto& [href, name] : std::vector<std::pair<std::string, std::string>>{
           {"/", "Overview"}, {"/plans", "Plans"}, {"/runs", "Runs"}, {"/stats", "Stats"}}) {
    nav +=
        "<a href=\"" + href + "\"" + (href == here ? " class=\"here\"" : "") + ">" + name + "</a>";
  }
  std::string who;
  if (!viewer.user.empty()) {
    who = "<span class=\"who\"><span id=\"user\">" + E(viewer.user) + "</span>";
    if (!viewer.proxy)
      who +=
          "<form method=\"post\" action=\"/logout\"><input type=\"hidden\" name=\"csrf\" "
          "value=\"" +
          E(viewer.csrf) + "\"><button type=\"submit\">Log out</button></form>";
    who += "</span>";
  }
  return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
         "<title>" +
         E(title) +
         " · runbook</title>"
         "<link rel=\"icon\" href=\"data:,\">"
         "<link rel=\"stylesheet\" href=\"/static/style.css\">"
         "<script src=\"/static/live.js\" defer></script></head><body><header>"
         "<strong>runbook</strong>" +
         (viewer.user.empty() ? "" : nav) + who + "</header><main>" + body +
         "</main></body></html>\n";
}

std::string LoginPage(const std::string& csrf, const std::string& next, const std::string& error) {
  std::string body = "<form class=\"login\" method=\"post\" action=\"/login\"><h1>Log in</h1>";
  if (!error.empty()) body += "<p class=\"flash error\" id=\"error\">" + E(error) + "</p>";
  body += "<input type=\"hidden\" name=\"csrf\" value=\"" + E(csrf) +
          "\">"
          "<input type=\"hidden\" name=\"next\" value=\"" +
          E(next) +
          "\">"
          "<label for=\"name\">Name</label><input id=\"name\" name=\"name\" "
          "autocomplete=\"username\" required autofocus>"
          "<label for=\"password\">Password</label><input id=\"password\" name=\"password\" "
          "type=\"password\" autocomplete=\"current-password\" required>"
          "<p><button type=\"submit\" id=\"login\">Log in</button></p>"
          "<p class=\"muted\">No account? An administrator adds one with "
          "<code>runbook serve passwd NAME</code>.</p></form>";
  return Page({}, "", "Log in", body);
}

std::string PlansTable(const std::vector<const PlanView*>& plans) {
  if (plans.empty()) return "<p class=\"muted\">No plans.</p>";
  std::string out =
      "<table id=\"plans\"><thead><tr><th>Plan</th><th>Runbook</th><th>Requested "
      "by</th><th>Created</th><th>Status</th><th>Approvals</th></tr></thead><tbody>";
  for (const PlanView* v : plans) {
    std::string approvals = v->policy() ? ApprovalCountText(v->tally) : "no approval needed";
    out += "<tr><td>" + Link(Path("/plans/", v->plan.plan_id), v->plan.plan_id) + "</td><td>" +
           E(v->plan.runbook) + "</td><td>" + E(v->plan.requested_by) + "</td><td>" +
           E(v->plan.created_at) + "</td><td>" + Badge(v->status()) + "</td><td>" + E(approvals) +
           "</td></tr>";
  }
  return out + "</tbody></table>";
}

std::string RunsTable(const RunList& list, const std::string& live_json) {
  if (list.runs.empty()) return "<p class=\"muted\">No runs.</p>";
  std::string out =
      "<table id=\"runs\"><thead><tr><th>Run</th><th>Runbook</th><th>State</th>"
      "<th>Started</th><th>Operator</th><th>Failed hosts</th></tr></thead><tbody";
  if (!live_json.empty()) out += " data-json=\"" + E(live_json) + "\"";
  out += ">";
  for (const StoredRun& r : list.runs) {
    auto failed = list.failed_hosts.find(r.run_id);
    out += "<tr><td>" + Link(Path("/runs/", r.run_id), r.run_id) + "</td><td>" + E(r.runbook) +
           "</td><td>" + Badge(r.finished() ? r.state : "running") + "</td><td>" + E(r.started_at) +
           "</td><td>" + E(r.operator_name) + "</td><td>" +
           std::to_string(failed == list.failed_hosts.end() ? 0 : failed->second.size()) +
           "</td></tr>";
  }
  return out + "</tbody></table>";
}

std::string PlanBody(const PlanService::PlanDetails& details, const Viewer& viewer,
                     const PlanPageState& state) {
  const PlanView& v = details.view;
  const PlanRecord& p = v.plan;
  std::string out = "<h1>Plan <span id=\"plan-id\">" + E(p.plan_id) + "</span> " +
                    "<span id=\"plan-status\">" + Badge(v.status()) + "</span></h1>";
  if (!state.flash.empty()) out += "<p class=\"flash ok\" id=\"flash\">" + E(state.flash) + "</p>";
  if (!state.error.empty())
    out += "<p class=\"flash error\" id=\"error\">" + E(state.error) + "</p>";
  out += "<table><tbody><tr><th>Runbook</th><td>" + E(p.runbook) + " (" + E(p.runbook_path) +
         ")</td></tr><tr><th>Requested by</th><td id=\"requested-by\">" + E(p.requested_by) +
         "</td></tr><tr><th>Created</th><td>" + E(p.created_at) +
         "</td></tr><tr><th>Plan hash</th><td><code>" + E(p.hash) +
         "</code></td></tr><tr><th>Approvals</th><td id=\"approvals\">" +
         E(v.policy() ? ApprovalCountText(v.tally) : "no approval needed") + "</td></tr>";
  if (!v.tally.counted.empty())
    out += "<tr><th>Counted</th><td>" + E(JoinWords(v.tally.counted)) + "</td></tr>";
  out += "</tbody></table>";
  if (!v.tally.rules.empty()) {
    out += "<h2>Rules</h2><ul id=\"rules\">";
    for (const RuleTally& r : v.tally.rules) {
      const std::string word = !r.applies ? "not applying" : r.met() ? "met" : "unmet";
      out += "<li class=\"rule\" data-met=\"" + std::string(r.met() ? "true" : "false") + "\">" +
             Badge(word) + " " + E(r.Describe()) + "</li>";
    }
    out += "</ul>";
  }
  if (!v.decisions.empty()) {
    out +=
        "<h2>Decisions</h2><table id=\"decisions\"><thead><tr><th>When</th><th>Who</th>"
        "<th>Decision</th><th>Comment</th></tr></thead><tbody>";
    for (const ApprovalRecord& d : v.decisions)
      out += "<tr><td>" + E(d.created_at) + "</td><td>" + E(d.approver) + "</td><td>" +
             Badge(d.decision == "reject" ? "rejected" : "approved") +
             (d.signature.empty() ? "" : " (signed)") + "</td><td>" + E(d.comment) + "</td></tr>";
    out += "</tbody></table>";
  }
  for (const std::string& why : v.tally.not_counted)
    out += "<p class=\"muted\">Does not count: " + E(why) + "</p>";
  if (!v.load_error.empty()) out += "<p class=\"flash error\">" + E(v.load_error) + "</p>";
  if (!details.runs.empty()) {
    out += "<h2>Runs of this plan</h2><ul>";
    for (const std::string& r : details.runs) {
      const std::string id = r.substr(0, r.find(' '));
      out += "<li>" + Link(Path("/runs/", id), r) + "</li>";
    }
    out += "</ul>";
  }
  const std::string status = v.status();
  const bool open = !v.rejected() && status != kPlanExecuted && status != kPlanPruned;
  if (open) {
    const std::string action = Path("/plans/", p.plan_id);
    const ApprovalSpec* policy = v.policy();
    if (state.is_requester) {
      out +=
          "<p class=\"muted\" id=\"requester-note\">You requested this plan: another approver "
          "must approve it. You may withdraw it by rejecting it.</p>";
    } else {
      out += "<form class=\"action\" method=\"post\" enctype=\"multipart/form-data\" action=\"" +
             E(action) +
             "/approve\" id=\"approve-form\"><h2>Approve</h2>"
             "<input type=\"hidden\" name=\"csrf\" value=\"" +
             E(viewer.csrf) +
             "\">"
             "<label for=\"approve-comment\">Comment (optional)</label>"
             "<textarea id=\"approve-comment\" name=\"comment\"></textarea>";
      if (policy && !policy->allowed_signers.empty()) {
        out +=
            "<p>This runbook requires signed approvals. Sign the plan hash with the SSH key "
            "that <code>" +
            E(policy->allowed_signers) +
            "</code> lists for you, and paste "
            "or upload the signature:</p><pre id=\"sign-command\">printf %s " +
            E(p.hash) + " | ssh-keygen -Y sign -f ~/.ssh/id_ed25519 -n " +
            kApprovalSignatureNamespace +
            "</pre><label for=\"signature\">Signature</label><textarea id=\"signature\" "
            "name=\"signature\" placeholder=\"-----BEGIN SSH SIGNATURE-----\"></textarea>"
            "<p><input type=\"file\" name=\"signature_file\" id=\"signature-file\"></p>";
      }
      out +=
          "<p><button class=\"approve\" type=\"submit\" id=\"approve\">Approve</button></p>"
          "</form>";
    }
    out += "<form class=\"action\" method=\"post\" action=\"" + E(action) +
           "/reject\" id=\"reject-form\"><h2>Reject</h2><input type=\"hidden\" name=\"csrf\" "
           "value=\"" +
           E(viewer.csrf) +
           "\"><label for=\"reject-comment\">Why (required)</label>"
           "<textarea id=\"reject-comment\" name=\"comment\" required></textarea>"
           "<p><button class=\"reject\" type=\"submit\" id=\"reject\">Reject</button></p></form>";
  }
  out += "<h2>Change request</h2><pre id=\"change-request\">" + E(state.change_request) + "</pre>";
  return out;
}

std::string RunBody(const RunPageData& d) {
  const StoredRun& r = d.view->run;
  const bool finished = r.finished();
  std::string out;
  if (!finished)
    out += "<div id=\"run-live\" data-json=\"" + E(Path("/runs/", r.run_id) + "?events=none") +
           "\" data-interval=\"" + std::to_string(d.live_interval_ms) + "\" hidden></div>";
  out += "<h1>Run <span id=\"run-id\">" + E(r.run_id) +
         "</span> <span id=\"run-state\" "
         "class=\"state state-" +
         E(d.state) + "\">" + E(d.state) + "</span></h1>";
  out += std::string("<p id=\"report-link\"") + (finished ? "" : " hidden") + ">" +
         Link(Path("/runs/", r.run_id) + "/report", "Post-mortem report") + "</p>";
  out += "<table><tbody><tr><th>Runbook</th><td>" + E(r.runbook) + " (" + E(r.runbook_path) +
         ")</td></tr><tr><th>Operator</th><td>" + E(r.operator_name) + " on " + E(r.host) +
         "</td></tr><tr><th>Started</th><td>" + E(r.started_at) +
         "</td></tr><tr><th>Finished</th><td id=\"finished-at\">" + E(r.finished_at) + "</td></tr>";
  if (!r.plan_id.empty())
    out += "<tr><th>Plan</th><td>" + Link(Path("/plans/", r.plan_id), r.plan_id) + "</td></tr>";
  out += "<tr><th>Events</th><td id=\"event-count\">" + std::to_string(d.view->events.size()) +
         "</td></tr></tbody></table>";
  out += "<h2>Timeline</h2><div class=\"timeline\" id=\"timeline\">" + d.timeline_svg + "</div>";
  out +=
      "<h2>Steps</h2><table><thead><tr><th>Phase</th><th>Step</th><th>Outcome</th>"
      "<th>Duration</th><th>Error</th></tr></thead><tbody id=\"steps-body\">";
  for (const TimelineBar& b : d.bars)
    out += "<tr><td>" + E(b.phase) + "</td><td>" + E(b.label) + "</td><td>" + Badge(b.outcome) +
           "</td><td>" + std::to_string(b.end_ms - b.start_ms) + " ms</td><td>" + E(b.error) +
           "</td></tr>";
  out += "</tbody></table>";
  out +=
      "<h2>Hosts</h2><table><thead><tr><th>Host</th><th>OK</th><th>Failed</th><th>Skipped"
      "</th><th>Rolled back</th><th>Rollback failed</th></tr></thead><tbody id=\"hosts-body\">";
  for (const HostTally& h : d.hosts)
    out += "<tr><td>" + E(h.host) + "</td><td>" + std::to_string(h.ok) + "</td><td>" +
           std::to_string(h.failed) + "</td><td>" + std::to_string(h.skipped) + "</td><td>" +
           std::to_string(h.rolled_back) + "</td><td>" + std::to_string(h.rollback_failed) +
           "</td></tr>";
  out += "</tbody></table>";
  if (!d.failed_hosts.empty()) {
    out += "<h2>Failed hosts</h2><ul>";
    for (const FailedHost& f : d.failed_hosts)
      out += "<li>" + E(f.host) + " in " + E(f.step) + ": " + E(f.error) + "</li>";
    out += "</ul>";
  }
  return out;
}

nlohmann::ordered_json RunJson(const RunPageData& d, bool with_events) {
  nlohmann::ordered_json j;
  if (with_events) {
    j = ReplayJson(d.view->run, d.view->events);
  } else {
    j["run"] = RunToJson(d.view->run, /*with_text=*/false);
    nlohmann::json failed = nlohmann::json::array();
    for (const FailedHost& f : d.failed_hosts) failed.push_back(f);
    j["failed_hosts"] = failed;
  }
  j["state"] = d.state;
  j["finished"] = d.view->run.finished();
  j["event_count"] = d.view->events.size();
  nlohmann::ordered_json steps = nlohmann::ordered_json::array();
  for (const TimelineBar& b : d.bars)
    steps.push_back({{"phase", b.phase},
                     {"step", b.step},
                     {"label", b.label},
                     {"attempt", b.attempt},
                     {"start_ms", b.start_ms},
                     {"end_ms", b.end_ms},
                     {"outcome", b.outcome},
                     {"error", b.error}});
  j["steps"] = std::move(steps);
  nlohmann::json hosts = nlohmann::json::array();
  for (const HostTally& h : d.hosts) hosts.push_back(h);
  j["hosts"] = hosts;
  j["timeline_svg"] = d.timeline_svg;
  return j;
}

std::string StatsBody(const StatsReport& report, bool updating) {
  auto row = [](const std::string& runbook, const std::string& env, const DeployStats& s) {
    auto cfr = s.change_failure_rate();
    char per_week[32];
    std::snprintf(per_week, sizeof per_week, "%.1f", s.deployments_per_week());
    return "<tr><td>" + E(runbook) + "</td><td>" + E(env) + "</td><td>" + std::to_string(s.runs) +
           "</td><td>" + std::to_string(s.changed) + "</td><td>" + std::to_string(s.failed) +
           "</td><td>" + (cfr ? Percent(*cfr) : "-") + "</td><td>" + per_week + "</td><td>" +
           Ms(s.time_to_restore.median_ms()) + "</td><td>" + Ms(s.rollback.p90_ms()) + "</td></tr>";
  };
  std::string out = "<h1>Stats</h1><p class=\"muted\">From " +
                    E(report.since.empty() ? "the first run" : report.since) + " to " +
                    E(report.until) +
                    " (docs/history.md defines each figure)."
                    "</p>";
  if (updating)
    out +=
        "<p class=\"muted\" id=\"stats-updating\">Newer figures are being computed; this "
        "page reloads by itself.</p>";
  out +=
      "<table id=\"stats\"><thead><tr><th>Runbook</th><th>Environment</th><th>Runs</th>"
      "<th>Deployments</th><th>Failed</th><th>Change failure rate</th><th>Per week</th>"
      "<th>Time to restore (median)</th><th>Rollback (p90)</th></tr></thead><tbody>";
  out += row("all", "", report.all);
  for (const RunbookStats& r : report.by_runbook) out += row(r.runbook, r.environment, r.stats);
  return out + "</tbody></table>";
}

}  // namespace runbook::web
