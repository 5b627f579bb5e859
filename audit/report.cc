#include "audit/report.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>

#include "audit/audit_format.h"
#include "audit/audit_time.h"
#include "audit/html.h"
#include "audit/report_template.h"
#include "audit/report_timeline.h"

namespace runbook {

namespace {

constexpr auto kReplace = nlohmann::json::error_handler_t::replace;

std::string Str(const nlohmann::json& detail, const char* key) {
  if (!detail.is_object()) return "";
  auto it = detail.find(key);
  if (it == detail.end() || it->is_null()) return "";
  return it->is_string() ? it->get<std::string>() : it->dump(-1, ' ', false, kReplace);
}

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
  const std::string name = Str(started.detail, "name");
  return name.empty() || name == started.step ? "" : name;
}

std::string SummaryHtml(const StoredRun& run, const std::vector<StoredEvent>& events) {
  // What each step was called, and what each rollback action undid, from their start events.
  std::map<std::pair<std::string, std::string>, const StoredEvent*> started;
  std::map<std::pair<std::string, std::string>, const StoredEvent*> last_attempt;
  int succeeded_steps = 0, succeeded_checks = 0;
  std::string run_error;
  std::string state = run.state;
  for (const StoredEvent& e : events) {
    const auto key = std::make_pair(e.phase, e.step);
    if (e.is(EventKind::kStepStarted) || e.is(EventKind::kRollbackStarted)) started[key] = &e;
    if (e.is(EventKind::kAttemptFinished)) last_attempt[key] = &e;
    if (e.is(EventKind::kStepSucceeded))
      (e.phase == "step" ? succeeded_steps : succeeded_checks)++;
    if (e.is(EventKind::kRunFinished)) {
      run_error = Str(e.detail, "error");
      if (state.empty()) state = e.to;
    }
  }

  std::string out;
  auto para = [&](const std::string& html) { out += "<p>" + html + "</p>\n"; };
  if (run.dry_run) para("<strong>Dry run:</strong> nothing was changed.");
  if (state == "succeeded") {
    para("<strong>The run succeeded.</strong> " + std::to_string(succeeded_steps) +
         " step(s) and " + std::to_string(succeeded_checks) +
         " check(s) passed; nothing was rolled back.");
  } else if (state == "aborted") {
    para(
        "<strong>A precheck failed, so the run was aborted before any step ran.</strong> "
        "Nothing was changed and nothing needed undoing.");
  } else if (state == "rolled_back") {
    para(
        "<strong>The run failed and was rolled back.</strong> Every rollback action "
        "succeeded.");
  } else if (state == "rollback_failed") {
    para(
        "<strong>The run failed, and at least one rollback action failed too.</strong> The "
        "system may be half changed: a person must check it.");
  } else if (state.empty()) {
    para(
        "<strong>The run has no terminal state.</strong> Its executor is still running, or "
        "died; <code>runbook recover</code> rolls such a run back and finishes it.");
  } else {
    para("<strong>The run ended " + HtmlEscape(state) + ".</strong>");
  }
  if (!run_error.empty()) para("First error: <code>" + HtmlEscape(run_error) + "</code>");

  // What failed.
  std::string failed;
  for (const StoredEvent& e : events) {
    if (!e.is(EventKind::kStepFailed)) continue;
    const auto key = std::make_pair(e.phase, e.step);
    std::string item =
        "<li><strong>" + HtmlEscape(e.phase) + " <code>" + HtmlEscape(e.step) + "</code></strong>";
    if (auto it = started.find(key); it != started.end() && !StepName(*it->second).empty())
      item += " (" + HtmlEscape(StepName(*it->second)) + ")";
    item += " failed";
    // The executor's error usually says it all ("exit status 1 after 2 attempts over 0.3s").
    const std::string error = Str(e.detail, "error");
    if (auto attempts = Num(e.detail, "attempts");
        attempts && *attempts > 1 && error.find("attempts") == std::string::npos)
      item += " after " + std::to_string(*attempts) + " attempts";
    if (auto exit_status = Num(e.detail, "exit_status");
        exit_status && *exit_status >= 0 && error.find("exit status") == std::string::npos)
      item += ", exit status " + std::to_string(*exit_status);
    if (!error.empty()) item += ": <code>" + HtmlEscape(error) + "</code>";
    if (auto it = last_attempt.find(key); it != last_attempt.end()) {
      for (const char* stream : {"stderr", "stdout"}) {
        const std::string text = Str(it->second->detail, stream);
        if (text.empty()) continue;
        item += "<br><span class=\"muted\">last " + std::string(stream) + ":</span><pre>" +
                HtmlEscape(LastLines(text, 20)) + "</pre>";
      }
    }
    failed += item + "</li>\n";
  }
  if (!failed.empty()) out += "<p>What failed:</p>\n<ul>\n" + failed + "</ul>\n";

  // What was rolled back.
  std::string undone;
  for (const StoredEvent& e : events) {
    if (!e.is(EventKind::kRollbackSucceeded) && !e.is(EventKind::kRollbackFailed)) continue;
    std::string undoes, description;
    if (auto it = started.find({e.phase, e.step}); it != started.end()) {
      undoes = Str(it->second->detail, "undoes");
      description = Str(it->second->detail, "description");
    }
    const bool ok = e.is(EventKind::kRollbackSucceeded);
    std::string item = "<li>" + std::string(ok ? "" : "<strong>");
    item += undoes.empty() ? "global rollback <code>" + HtmlEscape(e.step) + "</code>"
                           : "undo <code>" + HtmlEscape(undoes) + "</code>";
    if (!description.empty())
      item += " (<code>" + HtmlEscape(ShortenText(description, 120)) + "</code>)";
    item += ok ? ": succeeded" : ": FAILED</strong>";
    if (auto ms = Num(e.detail, "duration_ms")) item += " in " + FormatDurationMs(*ms);
    if (const std::string error = Str(e.detail, "error"); !ok && !error.empty())
      item += ": <code>" + HtmlEscape(error) + "</code>";
    undone += item + "</li>\n";
  }
  if (!undone.empty()) {
    out += "<p>What was rolled back, in order:</p>\n<ul>\n" + undone + "</ul>\n";
  } else if (state != "succeeded") {
    para("Nothing was rolled back.");
  }
  return out;
}

// ----------------------------------------------------------------------------- events

std::string EventRows(const StoredRun& run, const std::vector<StoredEvent>& events) {
  std::string out;
  for (const StoredEvent& e : events) {
    const bool bad = e.is(EventKind::kStepFailed) || e.is(EventKind::kRollbackFailed) ||
                     (e.is(EventKind::kAttemptFinished) && !Str(e.detail, "error").empty());
    const bool undo = e.phase == "rollback";
    out += bad ? "<tr class=\"bad\">" : undo ? "<tr class=\"undo\">" : "<tr>";
    out += "<td class=\"num\">" + std::to_string(e.seq) + "</td>";
    out += "<td class=\"num mono\">" + Offset(EventOffsetMs(run, e)) + "</td>";
    out += "<td>" + HtmlEscape(e.phase) + "</td>";
    out += "<td class=\"mono\">" + HtmlEscape(e.step) + "</td>";
    out += "<td>" + HtmlEscape(e.event) + "</td>";
    out += "<td class=\"num\">" + (e.attempt > 0 ? std::to_string(e.attempt) : "") + "</td>";
    out +=
        "<td class=\"mono\">" +
        (e.from.empty() && e.to.empty() ? "" : HtmlEscape(e.from) + " &rarr; " + HtmlEscape(e.to)) +
        "</td>";
    std::vector<std::string> facts;
    if (auto ms = Num(e.detail, "duration_ms")) facts.push_back(FormatDurationMs(*ms));
    if (auto status = Num(e.detail, "exit_status"); status && !e.is(EventKind::kStepStarted))
      facts.push_back("exit " + std::to_string(*status));
    if (const std::string error = Str(e.detail, "error"); !error.empty())
      facts.push_back("<code>" + HtmlEscape(ShortenText(SingleLine(error), 200)) + "</code>");
    if (e.is(EventKind::kStepStarted) || e.is(EventKind::kRollbackStarted)) {
      if (const std::string d = Str(e.detail, "description"); !d.empty())
        facts.push_back("<code>" + HtmlEscape(ShortenText(SingleLine(d), 200)) + "</code>");
    }
    std::string cell;
    for (size_t i = 0; i < facts.size(); ++i) cell += (i ? "; " : "") + facts[i];
    if (e.detail.is_object() && !e.detail.empty()) {
      cell += "<details><summary>detail</summary><pre>" +
              HtmlEscape(e.detail.dump(2, ' ', false, kReplace)) + "</pre></details>";
    }
    out += "<td>" + cell + "</td></tr>\n";
  }
  if (out.empty()) out = "<tr><td colspan=\"8\" class=\"muted\">no events recorded</td></tr>\n";
  return out;
}

std::string EventRange(const std::vector<StoredEvent>& events) {
  if (events.empty()) return "The audit log holds no events of this run.";
  return "Events " + std::to_string(events.front().seq) + " to " +
         std::to_string(events.back().seq) + " of the audit log's hash chain (" +
         std::to_string(events.size()) + " of this run); the last one's hash is " +
         events.back().hash + ".";
}

}  // namespace

std::string RenderPostmortemHtml(const StoredRun& run, const std::vector<StoredEvent>& events) {
  std::string state = run.state;
  if (state.empty()) {
    auto fin = std::find_if(events.rbegin(), events.rend(),
                            [](const StoredEvent& e) { return e.is(EventKind::kRunFinished); });
    if (fin != events.rend()) state = fin->to;
  }
  const std::optional<long long> duration = RunDurationMs(run);
  const std::string params = run.params.is_object() && !run.params.empty()
                                 ? run.params.dump(-1, ' ', false, kReplace)
                                 : "none";
  const std::map<std::string, std::string> values = {
      {"title", HtmlEscape("Post-mortem: " + run.runbook + " " + run.run_id + " (" +
                           (state.empty() ? "unfinished" : state) + ")")},
      {"runbook", HtmlEscape(run.runbook)},
      {"runbook_path", HtmlEscape(run.runbook_path)},
      {"run_id", HtmlEscape(run.run_id)},
      {"operator", HtmlEscape(run.operator_name)},
      {"host", HtmlEscape(run.host)},
      {"pid", std::to_string(run.pid)},
      {"started_at", HtmlEscape(run.started_at)},
      {"finished_at", run.finished_at.empty() ? "not finished" : HtmlEscape(run.finished_at)},
      {"duration", duration ? FormatDurationMs(*duration) : "-"},
      {"state",
       HtmlEscape(state.empty() ? "unfinished" : state) + (run.dry_run ? " (dry run)" : "")},
      {"state_class", StateClass(state)},
      {"exit_code", run.exit_code ? std::to_string(*run.exit_code) : "-"},
      {"plan_id", run.plan_id.empty() ? "none" : HtmlEscape(run.plan_id)},
      {"lock_key", HtmlEscape(run.lock_key)},
      {"params", HtmlEscape(params)},
      {"summary", SummaryHtml(run, events)},
      {"timeline", TimelineSvg(TimelineBars(run, events), TotalMs(run, events))},
      {"event_range", HtmlEscape(EventRange(events))},
      {"event_rows", EventRows(run, events)},
      {"runbook_sha256", HtmlEscape(run.runbook_sha256)},
      {"runbook_text", HtmlEscape(run.runbook_text)},
  };
  return FillTemplate(kPostmortemTemplate, values);
}

}  // namespace runbook
