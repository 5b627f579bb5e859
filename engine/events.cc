#include "engine/events.h"

#include <algorithm>

namespace runbook {

std::string_view EventName(EventKind kind) {
  switch (kind) {
    case EventKind::kRunStarted: return "run_started";
    case EventKind::kStateChanged: return "state_changed";
    case EventKind::kStepStarted: return "step_started";
    case EventKind::kAttemptStarted: return "attempt_started";
    case EventKind::kAttemptFinished: return "attempt_finished";
    case EventKind::kStepSucceeded: return "step_succeeded";
    case EventKind::kStepFailed: return "step_failed";
    case EventKind::kStepSkipped: return "step_skipped";
    case EventKind::kRollbackStarted: return "rollback_started";
    case EventKind::kRollbackSucceeded: return "rollback_succeeded";
    case EventKind::kRollbackFailed: return "rollback_failed";
    case EventKind::kRunFinished: return "run_finished";
    case EventKind::kRunRecovered: return "run_recovered";
    case EventKind::kProcessStarted: return "process_started";
    case EventKind::kHostFinished: return "host_finished";
    case EventKind::kKubectlTarget: return "kubectl_target";
    case EventKind::kKubectlRevisions: return "kubectl_revisions";
    case EventKind::kKubectlUndo: return "kubectl_undo";
    case EventKind::kHostFailed:
      return "host_failed";
    case EventKind::kHostSkipped:
      return "host_skipped";
    case EventKind::kPlansPruned:
      return "plans_pruned";
    case EventKind::kNotificationSent:
      return "notify_sent";
    case EventKind::kNotificationFailed:
      return "notify_failed";
    case EventKind::kWebAction:
      return "web_action";
  }
  return "unknown";
}

std::optional<EventKind> ParseEventKind(std::string_view name) {
  for (int i = 0; i < kEventKindCount; ++i) {
    const auto kind = static_cast<EventKind>(i);
    if (EventName(kind) == name) return kind;
  }
  return std::nullopt;
}

bool IsStepEnd(EventKind kind) {
  switch (kind) {
    case EventKind::kStepSucceeded:
    case EventKind::kStepFailed:
    case EventKind::kStepSkipped:
    case EventKind::kRollbackSucceeded:
    case EventKind::kRollbackFailed:
      return true;
    case EventKind::kRunStarted:
    case EventKind::kStateChanged:
    case EventKind::kStepStarted:
    case EventKind::kAttemptStarted:
    case EventKind::kAttemptFinished:
    case EventKind::kRollbackStarted:
    case EventKind::kRunFinished:
    case EventKind::kRunRecovered:
    case EventKind::kProcessStarted:
    case EventKind::kHostFinished:
    case EventKind::kKubectlTarget:
    case EventKind::kKubectlRevisions:
    case EventKind::kKubectlUndo:
    case EventKind::kHostFailed:
    case EventKind::kHostSkipped:
    case EventKind::kPlansPruned:
    case EventKind::kNotificationSent:
    case EventKind::kNotificationFailed:
    case EventKind::kWebAction:
      return false;
  }
  return false;
}

bool IsStepSuccess(EventKind kind) {
  return kind == EventKind::kStepSucceeded || kind == EventKind::kRollbackSucceeded ||
         kind == EventKind::kStepSkipped;
}

using nlohmann::json;

namespace {

// Tolerant field readers: the value at `key` when `j` is an object holding one of the right
// type, else nothing.
const json* Field(const json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

std::optional<std::string> OptString(const json& j, const char* key) {
  const json* v = Field(j, key);
  if (!v || !v->is_string()) return std::nullopt;
  return v->get<std::string>();
}

std::optional<int64_t> OptInt(const json& j, const char* key) {
  const json* v = Field(j, key);
  if (!v || !v->is_number_integer()) return std::nullopt;
  return v->get<int64_t>();
}

std::optional<bool> OptBool(const json& j, const char* key) {
  const json* v = Field(j, key);
  if (!v || !v->is_boolean()) return std::nullopt;
  return v->get<bool>();
}

std::string String(const json& j, const char* key) { return OptString(j, key).value_or(""); }
int64_t Int(const json& j, const char* key, int64_t otherwise) {
  return OptInt(j, key).value_or(otherwise);
}
bool Bool(const json& j, const char* key) { return OptBool(j, key).value_or(false); }

std::optional<int> OptInt32(const json& j, const char* key) {
  if (auto v = OptInt(j, key)) return static_cast<int>(*v);
  return std::nullopt;
}

// The string values of an object of strings (other values are left out).
std::optional<std::map<std::string, std::string>> OptStringMap(const json& j, const char* key) {
  const json* v = Field(j, key);
  if (!v || !v->is_object()) return std::nullopt;
  std::map<std::string, std::string> out;
  for (auto it = v->begin(); it != v->end(); ++it)
    if (it->is_string()) out[it.key()] = it->get<std::string>();
  return out;
}

// The strings of an array of strings (other values are left out).
std::vector<std::string> Strings(const json& j, const char* key) {
  std::vector<std::string> out;
  const json* v = Field(j, key);
  if (!v || !v->is_array()) return out;
  for (const json& e : *v)
    if (e.is_string()) out.push_back(e.get<std::string>());
  return out;
}

}  // namespace

// ----------------------------------------------------------------------------- run_started

void to_json(json& j, const RunStartedDetail& d) {
  j = {{"runbook", d.runbook}, {"operator", d.operator_name},
       {"host", d.host},       {"pid", d.pid},
       {"dry_run", d.dry_run}, {"params", d.params},
       {"plan_id", d.plan_id}, {"lock", d.lock}};
  if (!d.runbook_sha256.empty()) j["runbook_sha256"] = d.runbook_sha256;
  if (!d.checklist.empty()) {
    json items = json::array();
    for (const auto& [item, by] : d.checklist) items.push_back({{"item", item}, {"confirmed_by", by}});
    j["checklist"] = std::move(items);
  }
  if (!d.files.empty()) j["files"] = d.files;
}

void from_json(const json& j, RunStartedDetail& d) {
  d = {};
  d.runbook = String(j, "runbook");
  d.operator_name = String(j, "operator");
  d.host = String(j, "host");
  d.pid = static_cast<int>(Int(j, "pid", 0));
  d.dry_run = Bool(j, "dry_run");
  if (const json* p = Field(j, "params"); p && p->is_object()) d.params = *p;
  d.plan_id = String(j, "plan_id");
  d.lock = String(j, "lock");
  d.runbook_sha256 = String(j, "runbook_sha256");
  if (const json* c = Field(j, "checklist"); c && c->is_array()) {
    for (const json& e : *c)
      if (e.is_object()) d.checklist.emplace_back(String(e, "item"), String(e, "confirmed_by"));
  }
  if (const json* f = Field(j, "files")) d.files = BoundFilesFromJson(*f);
}

// ----------------------------------------------------------------------------- state_changed

void to_json(json& j, const StateChangedDetail& d) { j = {{"trigger", d.trigger}}; }

void from_json(const json& j, StateChangedDetail& d) { d.trigger = String(j, "trigger"); }

// ----------------------------------------------------------------------------- step_started

void to_json(json& j, const StepStartedDetail& d) {
  j = {{"name", d.name},
       {"action", d.action},
       {"description", d.description},
       {"max_attempts", d.max_attempts},
       {"timeout_ms", d.timeout_ms}};
  if (!d.undoes.empty()) j["undoes"] = d.undoes;
  if (d.auto_rollback) j["auto"] = true;
  if (d.dry_run) j["dry_run"] = true;
  if (!d.only_hosts.empty()) j["only_hosts"] = d.only_hosts;
}

void from_json(const json& j, StepStartedDetail& d) {
  d = {};
  d.name = String(j, "name");
  d.action = String(j, "action");
  d.description = String(j, "description");
  d.max_attempts = static_cast<int>(Int(j, "max_attempts", 1));
  d.timeout_ms = Int(j, "timeout_ms", 0);
  d.undoes = String(j, "undoes");
  d.auto_rollback = Bool(j, "auto");
  d.dry_run = Bool(j, "dry_run");
  d.only_hosts = Strings(j, "only_hosts");
}

// ----------------------------------------------------------------------------- attempts

void to_json(json& j, const AttemptStartedDetail& d) { j = {{"description", d.description}}; }

void from_json(const json& j, AttemptStartedDetail& d) { d.description = String(j, "description"); }

void to_json(json& j, const HostDetail& d) {
  j = {{"host", d.host},
       {"ok", d.ok},
       {"reached", d.reached},
       {"exit_status", d.exit_status},
       {"duration_ms", d.duration_ms},
       {"error", d.error}};
  if (!d.outputs.empty()) j["outputs"] = d.outputs;
}

void from_json(const json& j, HostDetail& d) {
  d = {};
  d.host = String(j, "host");
  d.ok = Bool(j, "ok");
  d.reached = Bool(j, "reached");
  d.exit_status = static_cast<int>(Int(j, "exit_status", -1));
  d.duration_ms = Int(j, "duration_ms", 0);
  d.error = String(j, "error");
  d.outputs = OptStringMap(j, "outputs").value_or(std::map<std::string, std::string>{});
}

void to_json(json& j, const AttemptFinishedDetail& d) {
  j = d.extra.is_object() ? d.extra : json::object();
  j["outcome"] = d.outcome;
  j["exit_status"] = d.exit_status;
  j["duration_ms"] = d.duration_ms;
  if (!d.error.empty()) j["error"] = d.error;
  if (!d.stdout_tail.empty()) j["stdout"] = d.stdout_tail;
  if (!d.stderr_tail.empty()) j["stderr"] = d.stderr_tail;
  if (!d.hosts.empty()) {
    json hosts = json::array();
    for (const HostDetail& h : d.hosts) hosts.push_back(h);
    j["hosts"] = std::move(hosts);
  }
  if (!d.undo_state.is_null()) j["undo_state"] = d.undo_state;
}

void from_json(const json& j, AttemptFinishedDetail& d) {
  d = {};
  if (!j.is_object()) return;
  d.extra = j;
  // A key read into a field leaves `extra`; one of an unexpected type stays there untouched
  // (and an empty error or output, which to_json would not write, stays there too).
  if (auto v = OptString(j, "outcome")) d.outcome = *v, d.extra.erase("outcome");
  if (auto v = OptInt32(j, "exit_status")) d.exit_status = *v, d.extra.erase("exit_status");
  if (auto v = OptInt(j, "duration_ms")) d.duration_ms = *v, d.extra.erase("duration_ms");
  if (auto v = OptString(j, "error"); v && !v->empty()) d.error = *v, d.extra.erase("error");
  if (auto v = OptString(j, "stdout"); v && !v->empty())
    d.stdout_tail = *v, d.extra.erase("stdout");
  if (auto v = OptString(j, "stderr"); v && !v->empty())
    d.stderr_tail = *v, d.extra.erase("stderr");
  // Per-host records; a runner's own `hosts` fact (a count, a list of names) is not one.
  if (const json* v = Field(j, "hosts");
      v && v->is_array() && !v->empty() &&
      std::all_of(v->begin(), v->end(), [](const json& h) { return h.is_object(); })) {
    for (const json& h : *v) d.hosts.push_back(h.get<HostDetail>());
    d.extra.erase("hosts");
  }
  if (const json* v = Field(j, "undo_state"); v && !v->is_null())
    d.undo_state = *v, d.extra.erase("undo_state");
}

// ----------------------------------------------------------------------------- step ends

void to_json(json& j, const StepEndDetail& d) {
  j = json::object();
  if (d.attempts) j["attempts"] = *d.attempts;
  if (d.duration_ms) j["duration_ms"] = *d.duration_ms;
  if (d.exit_status) j["exit_status"] = *d.exit_status;
  if (d.error) j["error"] = *d.error;
  if (d.interrupted) j["interrupted"] = true;
  if (d.outputs) j["outputs"] = *d.outputs;
}

void from_json(const json& j, StepEndDetail& d) {
  d = {};
  d.attempts = OptInt32(j, "attempts");
  d.duration_ms = OptInt(j, "duration_ms");
  d.exit_status = OptInt32(j, "exit_status");
  d.error = OptString(j, "error");
  d.interrupted = Bool(j, "interrupted");
  d.outputs = OptStringMap(j, "outputs");
}

void to_json(json& j, const StepSkippedDetail& d) { j = {{"reason", d.reason}}; }

void from_json(const json& j, StepSkippedDetail& d) { d.reason = String(j, "reason"); }

// ----------------------------------------------------------------------------- run end

void to_json(json& j, const RunFinishedDetail& d) {
  j = {{"state", d.state}, {"exit_code", d.exit_code}};
  if (d.duration_ms) j["duration_ms"] = *d.duration_ms;
  if (d.error) j["error"] = *d.error;
}

void from_json(const json& j, RunFinishedDetail& d) {
  d = {};
  d.state = String(j, "state");
  d.exit_code = static_cast<int>(Int(j, "exit_code", 0));
  d.duration_ms = OptInt(j, "duration_ms");
  d.error = OptString(j, "error");
}

void to_json(json& j, const RunRecoveredDetail& d) {
  j = {{"operator", d.operator_name}, {"host", d.host},   {"pid", d.pid},
       {"dead_pid", d.dead_pid},      {"state", d.state}, {"step_finished", d.step_finished}};
}

void from_json(const json& j, RunRecoveredDetail& d) {
  d = {};
  d.operator_name = String(j, "operator");
  d.host = String(j, "host");
  d.pid = static_cast<int>(Int(j, "pid", 0));
  d.dead_pid = static_cast<int>(Int(j, "dead_pid", 0));
  d.state = String(j, "state");
  d.step_finished = Bool(j, "step_finished");
}

// ----------------------------------------------------------------------------- runner events

void to_json(json& j, const ProcessStartedDetail& d) {
  j = {{"pid", d.pid}, {"pgid", d.pgid}};
  if (!d.boot_id.empty()) j["boot_id"] = d.boot_id;
  if (d.start_time != 0) j["start_time"] = d.start_time;
  if (d.command) j["command"] = *d.command;
}

void from_json(const json& j, ProcessStartedDetail& d) {
  d = {};
  d.pid = static_cast<int>(Int(j, "pid", 0));
  d.pgid = static_cast<int>(Int(j, "pgid", 0));
  d.boot_id = String(j, "boot_id");
  d.start_time = Int(j, "start_time", 0);
  d.command = OptString(j, "command");
}

void to_json(json& j, const HostFinishedDetail& d) {
  j = {{"host", d.host},
       {"exit_status", d.exit_status},
       {"duration_ms", d.duration_ms},
       {"stdout_tail", d.stdout_tail},
       {"stderr_tail", d.stderr_tail},
       {"error", d.error},
       {"reached", d.reached}};
  if (d.ok) j["ok"] = *d.ok;
  if (!d.outputs.empty()) j["outputs"] = d.outputs;
}

void from_json(const json& j, HostFinishedDetail& d) {
  d = {};
  d.host = String(j, "host");
  d.exit_status = static_cast<int>(Int(j, "exit_status", -1));
  d.duration_ms = Int(j, "duration_ms", 0);
  d.stdout_tail = String(j, "stdout_tail");
  d.stderr_tail = String(j, "stderr_tail");
  d.error = String(j, "error");
  d.reached = Bool(j, "reached");
  d.ok = OptBool(j, "ok");
  d.outputs = OptStringMap(j, "outputs").value_or(std::map<std::string, std::string>{});
}

bool HostFinishedOk(const HostFinishedDetail& d) {
  return d.ok.value_or(d.exit_status == 0 && d.error.empty());
}

// ----------------------------------------------------------------------------- host events

void to_json(json& j, const HostFailedDetail& d) {
  j = {
      {"host", d.host}, {"error", d.error}, {"exit_status", d.exit_status}, {"reached", d.reached}};
}

void from_json(const json& j, HostFailedDetail& d) {
  d = {};
  d.host = String(j, "host");
  d.error = String(j, "error");
  d.exit_status = static_cast<int>(Int(j, "exit_status", -1));
  d.reached = Bool(j, "reached");
}

void to_json(json& j, const HostSkippedDetail& d) {
  j = {{"host", d.host}, {"reason", d.reason}};
  if (!d.failed_in.empty()) j["failed_in"] = d.failed_in;
  if (!d.undone_by.empty()) j["undone_by"] = d.undone_by;
}

void from_json(const json& j, HostSkippedDetail& d) {
  d = {};
  d.host = String(j, "host");
  d.reason = String(j, "reason");
  d.failed_in = String(j, "failed_in");
  d.undone_by = String(j, "undone_by");
}

void to_json(json& j, const NotificationDetail& d) {
  j = {{"event", d.event}, {"target", d.target}, {"duration_ms", d.duration_ms}};
  if (d.status != 0) j["status"] = d.status;
  if (!d.error.empty()) j["error"] = d.error;
}

void from_json(const json& j, NotificationDetail& d) {
  d = {};
  d.event = String(j, "event");
  d.target = String(j, "target");
  d.status = static_cast<int>(Int(j, "status", 0));
  d.duration_ms = Int(j, "duration_ms", 0);
  d.error = String(j, "error");
}

}  // namespace runbook
