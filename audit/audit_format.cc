#include "audit/audit_format.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>

#include "audit/audit_time.h"
#include "audit/canonical_json.h"

namespace runbook {

namespace {

constexpr auto kReplace = nlohmann::json::error_handler_t::replace;

// Columns on a terminal: count code points, not bytes, so that "→" is one column wide.
size_t DisplayWidth(const std::string& s) {
  return static_cast<size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

// Lays out rows as columns two spaces apart; the last column is not padded.
std::string Table(const std::vector<std::vector<std::string>>& rows, const std::string& indent) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], DisplayWidth(row[i]));
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line = indent;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line.append(widths[i] - DisplayWidth(row[i]) + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string Offset(std::optional<long long> ms) {
  if (!ms) return "?";
  char buf[40];
  long long v = *ms < 0 ? -*ms : *ms;
  std::snprintf(buf, sizeof buf, "%c%lld.%03llds", *ms < 0 ? '-' : '+', v / 1000, v % 1000);
  return buf;
}

// A detail value on one line: strings as they are, anything else as compact JSON.
std::string OneLine(const nlohmann::json& value) {
  std::string text =
      value.is_string() ? value.get<std::string>() : value.dump(-1, ' ', false, kReplace);
  std::replace(text.begin(), text.end(), '\n', ' ');
  std::replace(text.begin(), text.end(), '\r', ' ');
  std::replace(text.begin(), text.end(), '\t', ' ');
  return text;
}

std::string DetailField(const nlohmann::json& detail, const char* key) {
  if (!detail.is_object()) return "";
  auto it = detail.find(key);
  if (it == detail.end() || it->is_null()) return "";
  return OneLine(*it);
}

std::string Duration(const nlohmann::json& detail) {
  if (!detail.is_object()) return "";
  auto it = detail.find("duration_ms");
  if (it == detail.end() || !it->is_number()) return DetailField(detail, "duration_ms");
  return FormatDurationMs(it->get<long long>());
}

std::string Transition(const StoredEvent& e) {
  if (e.from.empty() && e.to.empty()) return "";
  return e.from + "→" + e.to;
}

std::string ExitText(const StoredRun& run) {
  return run.exit_code ? std::to_string(*run.exit_code) : "-";
}

// The host an event is about: a host event's host, or the hosts a rollback action run at
// once for failed hosts is limited to.
std::string HostOf(const StoredEvent& e) {
  if (!e.detail.is_object()) return "";
  if (e.is(EventKind::kHostFinished) || e.is(EventKind::kHostFailed) ||
      e.is(EventKind::kHostSkipped))
    return DetailField(e.detail, "host");
  if (e.is(EventKind::kRollbackStarted)) {
    auto only = e.detail.find("only_hosts");
    if (only == e.detail.end() || !only->is_array()) return "";
    std::string hosts;
    for (const auto& h : *only)
      if (h.is_string()) hosts += (hosts.empty() ? "" : ",") + h.get<std::string>();
    return hosts;
  }
  return "";
}

// One failed host as a sentence: "web2 in flip: exit status 1 (within max_fail; rolled back)".
std::string FailedHostLine(const FailedHost& f) {
  std::string fate = f.within_max_fail ? "within max_fail, left out of later steps; " : "";
  fate += f.rolled_back               ? "rolled back there"
          : !f.rollback_error.empty() ? "rollback failed there: " + f.rollback_error
          : !f.reached                ? "never reached"
                                      : "not rolled back there";
  return f.host + " in " + f.step + ": " + OneLine(f.error) + " (" + fate + ")";
}

nlohmann::ordered_json FailedHostsJson(const std::vector<FailedHost>& failed) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const FailedHost& f : failed) list.push_back(nlohmann::ordered_json(nlohmann::json(f)));
  return list;
}

}  // namespace

nlohmann::ordered_json EventToJson(const StoredEvent& event) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  j["seq"] = event.seq;
  j["run_id"] = event.run_id;
  j["ts"] = event.ts;
  j["event"] = event.event;
  j["phase"] = event.phase;
  j["step"] = event.step;
  j["from"] = event.from;
  j["to"] = event.to;
  j["attempt"] = event.attempt;
  j["detail"] = nlohmann::ordered_json(event.detail);
  j["prev_hash"] = event.prev_hash;
  j["hash"] = event.hash;
  return j;
}

std::string EventJsonLine(const StoredEvent& event) {
  return EventToJson(event).dump(-1, ' ', false, kReplace) + '\n';
}

void AppendEventJsonLine(const EventRow& row, std::string* out) {
  using namespace std::string_view_literals;
  if (!IsCanonicalJson(row.detail)) {
    bool detail_ok = true;
    *out += EventJsonLine(ToStoredEvent(row, &detail_ok));
    return;
  }
  // EventToJson's keys in their order; the strings as the serializer writes them, and the
  // detail, canonical as stored, as the serializer writes the parsed detail.
  auto integer = [out](int64_t value) {
    char digits[24];
    const std::to_chars_result written = std::to_chars(digits, digits + sizeof digits, value);
    out->append(digits, written.ptr);
  };
  out->append(R"({"seq":)"sv);
  integer(row.seq);
  out->append(R"(,"run_id":)"sv);
  AppendCanonicalString(row.run_id, out);
  out->append(R"(,"ts":)"sv);
  AppendCanonicalString(row.ts, out);
  out->append(R"(,"event":)"sv);
  AppendCanonicalString(row.event, out);
  out->append(R"(,"phase":)"sv);
  AppendCanonicalString(row.phase, out);
  out->append(R"(,"step":)"sv);
  AppendCanonicalString(row.step, out);
  out->append(R"(,"from":)"sv);
  AppendCanonicalString(row.from, out);
  out->append(R"(,"to":)"sv);
  AppendCanonicalString(row.to, out);
  out->append(R"(,"attempt":)"sv);
  integer(row.attempt);
  out->append(R"(,"detail":)"sv);
  out->append(row.detail);
  out->append(R"(,"prev_hash":)"sv);
  AppendCanonicalString(row.prev_hash, out);
  out->append(R"(,"hash":)"sv);
  AppendCanonicalString(row.hash, out);
  out->append("}\n"sv);
}

std::string JsonOutput(const nlohmann::ordered_json& value) {
  return value.dump(2, ' ', false, kReplace);
}

std::string ExportJsonl(const std::vector<StoredEvent>& events) {
  std::string out;
  for (const StoredEvent& e : events) out += EventJsonLine(e);
  return out;
}

std::optional<long long> RunDurationMs(const StoredRun& run) {
  if (run.finished_at.empty()) return std::nullopt;
  auto start = ParseAuditTime(run.started_at);
  auto end = ParseAuditTime(run.finished_at);
  if (!start.ok() || !end.ok()) return std::nullopt;
  return std::chrono::duration_cast<std::chrono::milliseconds>(*end - *start).count();
}

std::optional<long long> EventOffsetMs(const StoredRun& run, const StoredEvent& event) {
  auto start = ParseAuditTime(run.started_at);
  auto at = ParseAuditTime(event.ts);
  if (!start.ok() || !at.ok()) return std::nullopt;
  return std::chrono::duration_cast<std::chrono::milliseconds>(*at - *start).count();
}

nlohmann::ordered_json RunToJson(const StoredRun& run, bool with_text) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  auto or_null = [](const std::string& s) {
    return s.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(s);
  };
  j["run_id"] = run.run_id;
  j["runbook"] = run.runbook;
  j["runbook_path"] = run.runbook_path;
  j["runbook_sha256"] = run.runbook_sha256;
  j["params"] = nlohmann::ordered_json(run.params);
  j["operator"] = run.operator_name;
  j["host"] = run.host;
  j["pid"] = run.pid;
  j["lock_key"] = run.lock_key;
  j["plan_id"] = or_null(run.plan_id);
  j["dry_run"] = run.dry_run;
  j["started_at"] = run.started_at;
  j["finished_at"] = or_null(run.finished_at);
  std::optional<long long> duration = RunDurationMs(run);
  j["duration_ms"] = duration ? nlohmann::ordered_json(*duration) : nlohmann::ordered_json(nullptr);
  j["state"] = or_null(run.state);
  j["exit_code"] =
      run.exit_code ? nlohmann::ordered_json(*run.exit_code) : nlohmann::ordered_json(nullptr);
  if (with_text) j["runbook_text"] = run.runbook_text;
  return j;
}

std::string ReplayText(const StoredRun& run, const std::vector<StoredEvent>& events) {
  std::vector<std::vector<std::string>> header = {
      {"run", run.run_id},
      {"runbook", run.runbook + (run.runbook_path.empty() ? "" : " (" + run.runbook_path + ")")},
      {"runbook sha256", run.runbook_sha256},
      {"operator", run.operator_name},
      {"host", run.host + " (pid " + std::to_string(run.pid) + ")"},
      {"started", run.started_at},
      {"state", run.state.empty() ? "unfinished" : run.state},
      {"exit code", ExitText(run)},
  };
  if (!run.plan_id.empty()) header.push_back({"plan", run.plan_id});
  if (run.dry_run) header.push_back({"dry run", "yes: nothing was changed"});
  if (run.params.is_object() && !run.params.empty()) {
    header.push_back({"params", OneLine(run.params)});
  }
  std::string out = Table(header, "");
  out += "\n";

  std::vector<std::vector<std::string>> rows = {
      {"OFFSET", "PHASE", "STEP", "HOST", "EVENT", "FROM→TO", "DURATION", "EXIT", "ERROR"}};
  for (const StoredEvent& e : events) {
    rows.push_back({Offset(EventOffsetMs(run, e)), e.phase, e.step, HostOf(e),
                    e.event + (e.attempt > 0 ? " #" + std::to_string(e.attempt) : ""),
                    Transition(e), Duration(e.detail), DetailField(e.detail, "exit_status"),
                    DetailField(e.detail, "error")});
  }
  out += Table(rows, "  ");
  out += "\n";
  const std::vector<FailedHost> failed = FailedHostsOf(events);
  if (!failed.empty()) {
    out += "failed hosts:\n";
    for (const FailedHost& f : failed) out += "  " + FailedHostLine(f) + "\n";
    out += "\n";
  }

  if (run.state.empty()) {
    // The run row has no end; the last run_finished event, if any, still says how it ended.
    auto fin = std::find_if(events.rbegin(), events.rend(),
                            [](const StoredEvent& e) { return e.is(EventKind::kRunFinished); });
    if (fin != events.rend()) {
      out += "run ended " + fin->to +
             " (recorded by its run_finished event; the run row has no end)\n";
    } else {
      out +=
          "run unfinished: no terminal state recorded (interrupted? `runbook recover` finishes "
          "it)\n";
    }
    return out;
  }
  std::optional<long long> duration = RunDurationMs(run);
  out += "run ended " + run.state + (duration ? " after " + FormatDurationMs(*duration) : "") +
         ", exit code " + ExitText(run) + "\n";
  return out;
}

nlohmann::ordered_json ReplayJson(const StoredRun& run, const std::vector<StoredEvent>& events) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  j["run"] = RunToJson(run, /*with_text=*/true);
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const StoredEvent& e : events) {
    nlohmann::ordered_json item = EventToJson(e);
    std::optional<long long> offset = EventOffsetMs(run, e);
    item["offset_ms"] = offset ? nlohmann::ordered_json(*offset) : nlohmann::ordered_json(nullptr);
    list.push_back(std::move(item));
  }
  j["events"] = std::move(list);
  j["failed_hosts"] = FailedHostsJson(FailedHostsOf(events));
  return j;
}

std::vector<FailedHost> FailedHostsOf(const std::vector<StoredEvent>& events) {
  HostLedger ledger;
  for (const StoredEvent& e : events) ledger.Add(e.view());
  return ledger.FailedHosts();
}

std::map<std::string, std::vector<FailedHost>> FailedHostsByRun(
    const std::vector<StoredEvent>& events) {
  std::map<std::string, HostLedger> ledgers;
  for (const StoredEvent& e : events) ledgers[e.run_id].Add(e.view());
  std::map<std::string, std::vector<FailedHost>> out;
  for (const auto& [run_id, ledger] : ledgers) {
    std::vector<FailedHost> failed = ledger.FailedHosts();
    if (!failed.empty()) out[run_id] = std::move(failed);
  }
  return out;
}

std::string RunsText(const std::vector<StoredRun>& runs,
                     const std::map<std::string, std::vector<FailedHost>>& failed_hosts) {
  if (runs.empty()) return "no runs recorded\n";
  std::vector<std::vector<std::string>> rows = {
      {"RUN ID", "RUNBOOK", "STATE", "STARTED", "DURATION", "OPERATOR", "EXIT", "FAILED HOSTS"}};
  for (const StoredRun& r : runs) {
    std::optional<long long> duration = RunDurationMs(r);
    std::string state = r.state.empty() ? "unfinished" : r.state;
    if (r.dry_run) state += " (dry run)";
    auto failed = failed_hosts.find(r.run_id);
    rows.push_back({r.run_id, r.runbook, state, r.started_at,
                    duration ? FormatDurationMs(*duration) : "-", r.operator_name, ExitText(r),
                    failed == failed_hosts.end() ? "-" : std::to_string(failed->second.size())});
  }
  return Table(rows, "");
}

nlohmann::ordered_json RunsJson(
    const std::vector<StoredRun>& runs,
    const std::map<std::string, std::vector<FailedHost>>& failed_hosts) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const StoredRun& r : runs) {
    nlohmann::ordered_json row = RunToJson(r, /*with_text=*/false);
    row["started"] = r.started_at;  // SPEC §7's name for started_at
    auto failed = failed_hosts.find(r.run_id);
    row["failed_hosts"] =
        FailedHostsJson(failed == failed_hosts.end() ? std::vector<FailedHost>{} : failed->second);
    list.push_back(std::move(row));
  }
  return list;
}

std::string VerifyText(const VerifyReport& report, const std::string& path) {
  if (!report.ok) return "audit log " + path + ": " + report.problem + "\n";
  if (report.events_checked == 0) {
    return "audit log " + path + ": no events yet; nothing to verify\n";
  }
  return "audit log " + path + ": " + std::to_string(report.events_checked) +
         " events, hash chain intact (head: event " + std::to_string(report.head_seq) + ", hash " +
         report.head_hash + ")\n";
}

}  // namespace runbook
