#include "app/postmortem_report.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>

#include "app/html.h"
#include "app/postmortem_sections.h"
#include "app/report_timeline.h"
#include "app/templates.h"
#include "audit/audit_format.h"
#include "audit/audit_time.h"
#include "engine/events.h"

namespace runbook {

namespace {

constexpr auto kReplace = nlohmann::json::error_handler_t::replace;

std::optional<long long> Num(const nlohmann::json& detail, const char* key) {
  if (!detail.is_object()) return std::nullopt;
  auto it = detail.find(key);
  if (it == detail.end() || !it->is_number()) return std::nullopt;
  return it->get<long long>();
}

// The last `lines` lines of `text`, "…" in front when some were cut.
std::string LastLines(const std::string& text, int lines) {
  std::string t = text;
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
  size_t pos = t.size();
  for (int i = 0; i < lines && pos != std::string::npos && pos > 0; ++i)
    pos = t.rfind('\n', pos - 1);
  if (pos == std::string::npos || pos == 0) return t;
  return "…" + t.substr(pos);
}

// What a step or host printed last, as template items: stderr first (that is where errors
// go), each stream's last `lines` lines.
nlohmann::json OutputTail(const std::string& out, const std::string& err, int lines) {
  nlohmann::json tail = nlohmann::json::array();
  for (const auto& [stream, text] : {std::pair{"stderr", &err}, std::pair{"stdout", &out}}) {
    if (text->empty()) continue;
    tail.push_back({{"stream", stream}, {"text", LastLines(*text, lines)}});
  }
  return tail;
}

std::string Offset(std::optional<long long> ms) {
  if (!ms) return "?";
  char buf[40];
  const long long v = *ms < 0 ? -*ms : *ms;
  std::snprintf(buf, sizeof buf, "%c%lld.%03llds", *ms < 0 ? '-' : '+', v / 1000, v % 1000);
  return buf;
}

// A terminal state usable in a class name (letters and '_' only).
std::string StateClass(const std::string& state) {
  if (state.empty()) return "unfinished";
  std::string out;
  for (char c : state) out += (c >= 'a' && c <= 'z') || c == '_' ? c : '_';
  return out;
}

long long TotalMs(const StoredRun& run, const std::vector<StoredEvent>& events) {
  long long total = RunDurationMs(run).value_or(0);
  for (const StoredEvent& e : events) total = std::max(total, EventOffsetMs(run, e).value_or(0));
  return total;
}

// ----------------------------------------------------------------------------- summary

std::string StepName(const StoredEvent& started) {
  const std::string name = DetailText(started.detail, "name");
  return name.empty() || name == started.step ? "" : name;
}

// What happened, as data for the template's "What happened" section: how the run ended, what
// failed and what was rolled back.
void AddSummary(const std::vector<StoredEvent>& events, const std::string& state,
                nlohmann::json* context) {
  nlohmann::json& c = *context;
  // What each step was called, and what each rollback action undid, from their start events.
  std::map<std::pair<std::string, std::string>, const StoredEvent*> started;
  std::map<std::pair<std::string, std::string>, const StoredEvent*> last_attempt;
  int succeeded_steps = 0, succeeded_checks = 0;
  std::string run_error;
  for (const StoredEvent& e : events) {
    const auto key = std::make_pair(e.phase, e.step);
    if (e.is(EventKind::kStepStarted) || e.is(EventKind::kRollbackStarted)) started[key] = &e;
    if (e.is(EventKind::kAttemptFinished)) last_attempt[key] = &e;
    if (e.is(EventKind::kStepSucceeded)) (e.phase == "step" ? succeeded_steps : succeeded_checks)++;
    if (e.is(EventKind::kRunFinished)) run_error = DetailText(e.detail, "error");
  }
  const bool known = state == "succeeded" || state == "aborted" || state == "rolled_back" ||
                     state == "rollback_failed" || state.empty();
  c["state_succeeded"] = state == "succeeded";
  c["state_aborted"] = state == "aborted";
  c["state_rolled_back"] = state == "rolled_back";
  c["state_rollback_failed"] = state == "rollback_failed";
  c["state_unfinished"] = state.empty();
  c["state_other"] = !known;
  c["steps_passed"] = succeeded_steps;
  c["checks_passed"] = succeeded_checks;
  c["first_error"] = run_error;

  // What failed.
  nlohmann::json failed = nlohmann::json::array();
  for (const StoredEvent& e : events) {
    if (!e.is(EventKind::kStepFailed)) continue;
    const auto key = std::make_pair(e.phase, e.step);
    nlohmann::json item = {{"phase", e.phase}, {"step", e.step}, {"name", ""}};
    if (auto it = started.find(key); it != started.end()) item["name"] = StepName(*it->second);
    // The executor's error usually says it all ("exit status 1 after 2 attempts over 0.3s").
    const std::string error = DetailText(e.detail, "error");
    item["error"] = error;
    item["attempts"] = "";
    if (auto attempts = Num(e.detail, "attempts");
        attempts && *attempts > 1 && error.find("attempts") == std::string::npos)
      item["attempts"] = *attempts;
    item["exit_status"] = "";
    if (auto exit_status = Num(e.detail, "exit_status");
        exit_status && *exit_status >= 0 && error.find("exit status") == std::string::npos)
      item["exit_status"] = *exit_status;
    item["last_output"] = nlohmann::json::array();
    if (auto it = last_attempt.find(key); it != last_attempt.end()) {
      for (const char* stream : {"stderr", "stdout"}) {
        const std::string text = DetailText(it->second->detail, stream);
        if (text.empty()) continue;
        item["last_output"].push_back({{"stream", stream}, {"text", LastLines(text, 20)}});
      }
    }
    failed.push_back(item);
  }
  c["has_failed"] = !failed.empty();
  c["failed"] = failed;

  // What was rolled back, each action with what it printed (its last attempt's, and each
  // host's for ssh), taken in order: an action run at once for failed hosts and again in the
  // run's rollback shows each time's own output.
  nlohmann::json undone = nlohmann::json::array();
  std::map<std::string, const StoredEvent*> rollback_attempt;
  std::map<std::string, nlohmann::json> rollback_hosts;
  for (const StoredEvent& e : events) {
    if (e.phase == "rollback" && e.is(EventKind::kRollbackStarted)) {
      rollback_attempt.erase(e.step);
      rollback_hosts[e.step] = nlohmann::json::array();
    }
    if (e.phase == "rollback" && e.is(EventKind::kAttemptStarted))
      rollback_hosts[e.step] = nlohmann::json::array();
    if (e.phase == "rollback" && e.is(EventKind::kAttemptFinished)) rollback_attempt[e.step] = &e;
    if (e.phase == "rollback" && e.is(EventKind::kHostFinished)) {
      const auto d = e.detail.get<HostFinishedDetail>();
      rollback_hosts[e.step].push_back({{"host", d.host},
                                        {"ok", HostFinishedOk(d)},
                                        {"output", OutputTail(d.stdout_tail, d.stderr_tail, 10)}});
    }
    if (!e.is(EventKind::kRollbackSucceeded) && !e.is(EventKind::kRollbackFailed)) continue;
    nlohmann::json output = nlohmann::json::array();
    if (auto a = rollback_attempt.find(e.step); a != rollback_attempt.end())
      output = OutputTail(DetailText(a->second->detail, "stdout"),
                          DetailText(a->second->detail, "stderr"), 20);
    std::string undoes, description;
    if (auto it = started.find({e.phase, e.step}); it != started.end()) {
      undoes = DetailText(it->second->detail, "undoes");
      description = DetailText(it->second->detail, "description");
    }
    const bool ok = e.is(EventKind::kRollbackSucceeded);
    const auto ms = Num(e.detail, "duration_ms");
    undone.push_back({{"step", e.step},
                      {"undoes", undoes},
                      {"description", ShortenText(description, 120)},
                      {"succeeded", ok},
                      {"duration", ms ? FormatDurationMs(*ms) : ""},
                      {"error", ok ? "" : DetailText(e.detail, "error")},
                      {"output", output},
                      {"no_output", output.empty() && rollback_hosts[e.step].empty()},
                      {"hosts", rollback_hosts[e.step]}});
  }
  c["has_rolled_back"] = !undone.empty();
  c["rolled_back"] = undone;
  c["nothing_rolled_back"] = undone.empty() && state != "succeeded";
}

// ----------------------------------------------------------------------------- ssh hosts

// One row per host of each ssh step or rollback action (its last attempt), and the failed
// hosts with what became of them: the "Hosts" section.
// One ssh step or rollback action run, with a row per host.
struct HostGroup {
  std::string phase, step, undoes, only;
  nlohmann::json hosts = nlohmann::json::array();
};

// Fills in each forward step's host rows whether the host was rolled back: by the rollback
// actions that undo that step, run after it (at once for failed hosts, or in the run's
// rollback). `run_failed`: the run did not succeed, so a host nothing undid says so.
void MarkRolledBackHosts(bool run_failed, std::vector<HostGroup>* groups) {
  for (size_t i = 0; i < groups->size(); ++i) {
    HostGroup& g = (*groups)[i];
    if (g.phase == "rollback") continue;
    bool undone_anywhere = false;
    for (auto& row : g.hosts) {
      if (row["result"] == "skipped") continue;
      std::string fate;
      for (size_t j = i + 1; j < groups->size(); ++j) {
        const HostGroup& rb = (*groups)[j];
        if (rb.phase != "rollback" || rb.undoes != g.step) continue;
        undone_anywhere = true;
        for (const auto& r : rb.hosts) {
          if (r["host"] != row["host"]) continue;
          if (r["result"] == "ok") fate = "rolled back";
          else if (fate != "rolled back")
            fate = r["result"] == "failed" ? "rollback FAILED"
                                           : "not rolled back: " + r["error"].get<std::string>();
        }
      }
      if (fate.empty() && (run_failed || undone_anywhere)) fate = "not rolled back";
      row["rollback"] = fate;
    }
  }
}

void AddHosts(const std::vector<StoredEvent>& events, nlohmann::json* context) {
  nlohmann::json& c = *context;
  using Group = HostGroup;
  std::vector<Group> groups;
  std::map<std::pair<std::string, std::string>, size_t> current;  // (phase, step) -> group
  // host_skipped comes just before its step's start: kept for the group that start opens.
  std::map<std::pair<std::string, std::string>, nlohmann::json> skipped;
  for (const StoredEvent& e : events) {
    const auto key = std::make_pair(e.phase, e.step);
    if (e.is(EventKind::kHostSkipped)) {
      const auto d = e.detail.get<HostSkippedDetail>();
      auto& rows = skipped[key];
      if (!rows.is_array()) rows = nlohmann::json::array();
      rows.push_back({{"host", d.host},
                      {"result", "skipped"},
                      {"row_class", "undo"},
                      {"exit_status", ""},
                      {"duration", ""},
                      {"error", d.reason},
                      {"output", nlohmann::json::array()},
                      {"rollback", ""}});
      continue;
    }
    if (e.is(EventKind::kStepStarted) || e.is(EventKind::kRollbackStarted)) {
      Group g{e.phase, e.step, DetailText(e.detail, "undoes"), "", nlohmann::json::array()};
      if (auto pending = skipped.find(key); pending != skipped.end()) {
        g.hosts = std::move(pending->second);
        skipped.erase(pending);
      }
      const auto only = e.detail.is_object() ? e.detail.find("only_hosts") : e.detail.end();
      if (e.detail.is_object() && only != e.detail.end() && only->is_array() && !only->empty())
        g.only = "run at once on the host(s) that failed";
      current[key] = groups.size();
      groups.push_back(std::move(g));
      continue;
    }
    auto group = current.find(key);
    if (group == current.end()) continue;
    nlohmann::json& rows = groups[group->second].hosts;
    if (e.is(EventKind::kAttemptStarted)) {
      // Only the last attempt's hosts; the skipped ones stay.
      nlohmann::json kept = nlohmann::json::array();
      for (const auto& row : rows)
        if (row["result"] == "skipped") kept.push_back(row);
      rows = std::move(kept);
    } else if (e.is(EventKind::kHostFinished)) {
      const auto d = e.detail.get<HostFinishedDetail>();
      const bool ok = HostFinishedOk(d);
      const auto ms = Num(e.detail, "duration_ms");
      rows.push_back({{"host", d.host},
                      {"result", ok ? "ok" : "failed"},
                      {"row_class", ok ? "" : "bad"},
                      {"exit_status", d.exit_status >= 0 ? std::to_string(d.exit_status) : ""},
                      {"duration", ms ? FormatDurationMs(*ms) : ""},
                      {"error", d.error},
                      {"output", OutputTail(d.stdout_tail, d.stderr_tail, 5)},
                      {"rollback", ""}});
    }
  }
  MarkRolledBackHosts(!c.value("state_succeeded", false), &groups);
  nlohmann::json steps = nlohmann::json::array();
  for (const Group& g : groups) {
    if (g.hosts.empty()) continue;
    steps.push_back({{"phase", g.phase},
                     {"step", g.step},
                     {"undoes", g.undoes},
                     {"note", g.only},
                     {"hosts", g.hosts}});
  }
  c["has_ssh_steps"] = !steps.empty();
  c["ssh_steps"] = steps;

  nlohmann::json failed = nlohmann::json::array();
  for (const FailedHost& f : FailedHostsOf(events)) {
    failed.push_back({{"host", f.host},
                      {"step", f.step},
                      {"phase", f.phase},
                      {"error", f.error},
                      {"within_max_fail", f.within_max_fail},
                      {"reached", f.reached},
                      {"rolled_back", f.rolled_back},
                      {"rollback_error", f.rollback_error}});
  }
  c["has_failed_hosts"] = !failed.empty();
  c["failed_hosts"] = failed;
}

// ----------------------------------------------------------------------------- events

// The host a host event is about; for a rollback run at once, the hosts it runs on.
std::string HostColumn(const StoredEvent& e) {
  if (e.is(EventKind::kHostFinished) || e.is(EventKind::kHostFailed) ||
      e.is(EventKind::kHostSkipped))
    return DetailText(e.detail, "host");
  if (e.is(EventKind::kRollbackStarted) && e.detail.is_object()) {
    const auto only = e.detail.find("only_hosts");
    if (only == e.detail.end() || !only->is_array()) return "";
    std::string hosts;
    for (const auto& h : *only)
      if (h.is_string()) hosts += (hosts.empty() ? "" : ", ") + h.get<std::string>();
    return hosts;
  }
  return "";
}

nlohmann::json EventRows(const StoredRun& run, const std::vector<StoredEvent>& events) {
  nlohmann::json rows = nlohmann::json::array();
  for (const StoredEvent& e : events) {
    const bool bad = e.is(EventKind::kStepFailed) || e.is(EventKind::kRollbackFailed) ||
                     (e.is(EventKind::kAttemptFinished) && !DetailText(e.detail, "error").empty());
    const bool undo = e.phase == "rollback";
    nlohmann::json facts = nlohmann::json::array();
    auto fact = [&](const std::string& text, bool code) {
      facts.push_back({{"text", text}, {"code", code}, {"sep", !facts.empty()}});
    };
    if (auto ms = Num(e.detail, "duration_ms")) fact(FormatDurationMs(*ms), false);
    if (auto status = Num(e.detail, "exit_status"); status && !e.is(EventKind::kStepStarted))
      fact("exit " + std::to_string(*status), false);
    if (const std::string error = DetailText(e.detail, "error"); !error.empty())
      fact(ShortenText(SingleLine(error), 200), true);
    if (e.is(EventKind::kStepStarted) || e.is(EventKind::kRollbackStarted)) {
      if (const std::string d = DetailText(e.detail, "description"); !d.empty())
        fact(ShortenText(SingleLine(d), 200), true);
    }
    rows.push_back({{"seq", e.seq},
                    {"offset", Offset(EventOffsetMs(run, e))},
                    {"phase", e.phase},
                    {"step", e.step},
                    {"host", HostColumn(e)},
                    {"event", e.event},
                    {"attempt", e.attempt > 0 ? std::to_string(e.attempt) : ""},
                    {"row_class", bad    ? "bad"
                                  : undo ? "undo"
                                         : ""},
                    {"transition", !(e.from.empty() && e.to.empty())},
                    {"from", e.from},
                    {"to", e.to},
                    {"facts", facts},
                    {"detail", e.detail.is_object() && !e.detail.empty()
                                   ? e.detail.dump(2, ' ', false, kReplace)
                                   : ""}});
  }
  return rows;
}

std::string EventRange(const std::vector<StoredEvent>& events) {
  if (events.empty()) return "The audit log holds no events of this run.";
  return "Events " + std::to_string(events.front().seq) + " to " +
         std::to_string(events.back().seq) + " of the audit log's hash chain (" +
         std::to_string(events.size()) + " of this run); the last one's hash is " +
         events.back().hash + ".";
}

}  // namespace

nlohmann::json PostmortemContext(const StoredRun& run, const std::vector<StoredEvent>& events,
                                 const RunChangeRequest* change_request) {
  std::string state = run.state;
  if (state.empty()) {
    auto fin = std::find_if(events.rbegin(), events.rend(),
                            [](const StoredEvent& e) { return e.is(EventKind::kRunFinished); });
    if (fin != events.rend()) state = fin->to;
  }
  const std::optional<long long> duration = RunDurationMs(run);
  const std::string shown_state = state.empty() ? "unfinished" : state;
  nlohmann::json c = {
      {"title", "Post-mortem: " + run.runbook + " " + run.run_id + " (" + shown_state + ")"},
      {"runbook", run.runbook},
      {"runbook_path", run.runbook_path},
      {"run_id", run.run_id},
      {"operator", run.operator_name},
      {"host", run.host},
      {"pid", run.pid},
      {"started_at", run.started_at},
      {"finished_at", run.finished_at.empty() ? "not finished" : run.finished_at},
      {"duration", duration ? FormatDurationMs(*duration) : "-"},
      {"state", shown_state},
      {"state_class", StateClass(state)},
      {"dry_run", run.dry_run},
      {"exit_code", run.exit_code ? std::to_string(*run.exit_code) : "-"},
      {"plan_id", run.plan_id.empty() ? "none" : run.plan_id},
      {"lock_key", run.lock_key},
      {"params", run.params.is_object() && !run.params.empty()
                     ? run.params.dump(-1, ' ', false, kReplace)
                     : "none"},
      {"timeline_svg", TimelineSvg(TimelineBars(run, events), TotalMs(run, events))},
      {"event_range", EventRange(events)},
      {"events", EventRows(run, events)},
      {"runbook_sha256", run.runbook_sha256},
      {"runbook_text", run.runbook_text},
  };
  AddSummary(events, state, &c);
  AddHosts(events, &c);
  AddChangeRequest(run, events, change_request, &c);
  AddKubectlObjects(events, &c);
  AddTimeToRestore(run, events, &c);
  return c;
}

Result<std::string> RenderPostmortemHtml(const StoredRun& run,
                                         const std::vector<StoredEvent>& events,
                                         const std::optional<DocumentTemplate>& custom,
                                         const RunChangeRequest* change_request) {
  const DocumentTemplate builtin{"built-in postmortem.html", std::string(kPostmortemTemplate)};
  return RenderDocument(custom ? *custom : builtin, PostmortemContext(run, events, change_request),
                        Escaping::kHtml);
}

}  // namespace runbook
